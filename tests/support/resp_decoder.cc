// SPDX-License-Identifier: Apache-2.0
#include "tests/support/resp_decoder.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <utility>

namespace test_support {
namespace {

// Recursive-descent parse of one value starting at `pos`. kNeedMore and kError leave `pos`
// unspecified; the caller restarts from its own saved position.
class Parser {
 public:
  explicit Parser(std::string_view bytes) : bytes_(bytes) {}

  DecodeStatus Parse(size_t* pos, RespValue* out) { return ParseValue(pos, out, 0); }
  const std::string& error() const { return error_; }

 private:
  static constexpr int kMaxDepth = 64;

  DecodeStatus Fail(size_t pos, const std::string& what) {
    error_ = what + " at offset " + std::to_string(pos);
    return DecodeStatus::kError;
  }

  // Reads up to CRLF. Returns kNeedMore when no CRLF is buffered yet.
  DecodeStatus ReadLine(size_t* pos, std::string_view* line) {
    const size_t end = bytes_.find("\r\n", *pos);
    if (end == std::string_view::npos) return DecodeStatus::kNeedMore;
    *line = bytes_.substr(*pos, end - *pos);
    if (line->find('\n') != std::string_view::npos || line->find('\r') != std::string_view::npos) {
      return Fail(*pos, "CR or LF inside a line");
    }
    *pos = end + 2;
    return DecodeStatus::kValue;
  }

  static std::optional<int64_t> ToInt(std::string_view s) {
    int64_t v = 0;
    const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size()) return std::nullopt;
    return v;
  }

  // Reads `len` bytes plus CRLF.
  DecodeStatus ReadBlob(size_t* pos, int64_t len, std::string* out) {
    if (len < 0) return Fail(*pos, "negative length");
    const size_t n = static_cast<size_t>(len);
    if (bytes_.size() - *pos < n + 2) return DecodeStatus::kNeedMore;
    if (bytes_.substr(*pos + n, 2) != "\r\n") return Fail(*pos + n, "blob not followed by CRLF");
    out->assign(bytes_.substr(*pos, n));
    *pos += n + 2;
    return DecodeStatus::kValue;
  }

  DecodeStatus ParseElements(size_t* pos, size_t count, std::vector<RespValue>* out, int depth) {
    out->reserve(std::min<size_t>(count, 1024));
    for (size_t i = 0; i < count; ++i) {
      RespValue element;
      const DecodeStatus s = ParseValue(pos, &element, depth + 1);
      if (s != DecodeStatus::kValue) return s;
      out->push_back(std::move(element));
    }
    return DecodeStatus::kValue;
  }

  DecodeStatus ParseValue(size_t* pos, RespValue* out, int depth) {
    if (depth > kMaxDepth) return Fail(*pos, "nesting too deep");
    if (*pos >= bytes_.size()) return DecodeStatus::kNeedMore;
    const size_t start = *pos;
    const char type = bytes_[*pos];
    ++*pos;
    std::string_view line;
    const DecodeStatus line_status = ReadLine(pos, &line);
    if (line_status != DecodeStatus::kValue) return line_status;
    switch (type) {
      case '+':
        out->type = RespType::kSimpleString;
        out->str.assign(line);
        return DecodeStatus::kValue;
      case '-':
        out->type = RespType::kError;
        out->str.assign(line);
        return DecodeStatus::kValue;
      case ':': {
        const std::optional<int64_t> n = ToInt(line);
        if (!n) return Fail(start, "bad integer");
        out->type = RespType::kInteger;
        out->integer = *n;
        return DecodeStatus::kValue;
      }
      case '$':
      case '!':
      case '=': {
        const std::optional<int64_t> n = ToInt(line);
        if (!n) return Fail(start, "bad length");
        if (type == '$' && *n == -1) {
          out->type = RespType::kNull;
          return DecodeStatus::kValue;
        }
        std::string blob;
        const DecodeStatus s = ReadBlob(pos, *n, &blob);
        if (s != DecodeStatus::kValue) return s;
        if (type == '$') {
          out->type = RespType::kBulk;
          out->str = std::move(blob);
        } else if (type == '!') {
          out->type = RespType::kBlobError;
          out->str = std::move(blob);
        } else {
          if (blob.size() < 4 || blob[3] != ':') return Fail(start, "bad verbatim string");
          out->type = RespType::kVerbatim;
          out->format = blob.substr(0, 3);
          out->str = blob.substr(4);
        }
        return DecodeStatus::kValue;
      }
      case '*':
      case '%':
      case '~':
      case '>': {
        const std::optional<int64_t> n = ToInt(line);
        if (!n || *n < -1) return Fail(start, "bad aggregate length");
        if (*n == -1) {
          if (type != '*') return Fail(start, "null aggregate other than *-1");
          out->type = RespType::kNullArray;
          return DecodeStatus::kValue;
        }
        out->type = type == '*'   ? RespType::kArray
                    : type == '%' ? RespType::kMap
                    : type == '~' ? RespType::kSet
                                  : RespType::kPush;
        const size_t count = static_cast<size_t>(*n) * (type == '%' ? 2 : 1);
        return ParseElements(pos, count, &out->elements, depth);
      }
      case '|': {
        const std::optional<int64_t> n = ToInt(line);
        if (!n || *n < 0) return Fail(start, "bad attribute length");
        std::vector<RespValue> attributes;
        DecodeStatus s = ParseElements(pos, static_cast<size_t>(*n) * 2, &attributes, depth);
        if (s != DecodeStatus::kValue) return s;
        s = ParseValue(pos, out, depth + 1);
        if (s != DecodeStatus::kValue) return s;
        out->attributes = std::move(attributes);
        return DecodeStatus::kValue;
      }
      case '_':
        if (!line.empty()) return Fail(start, "bad null");
        out->type = RespType::kNull;
        return DecodeStatus::kValue;
      case '#':
        if (line != "t" && line != "f") return Fail(start, "bad boolean");
        out->type = RespType::kBoolean;
        out->integer = line == "t" ? 1 : 0;
        return DecodeStatus::kValue;
      case ',': {
        out->type = RespType::kDouble;
        out->str.assign(line);
        if (line == "inf") {
          out->dbl = HUGE_VAL;
        } else if (line == "-inf") {
          out->dbl = -HUGE_VAL;
        } else if (line == "nan") {
          out->dbl = std::nan("");
        } else {
          const auto r = std::from_chars(line.data(), line.data() + line.size(), out->dbl);
          if (line.empty() || r.ec != std::errc() || r.ptr != line.data() + line.size()) {
            return Fail(start, "bad double");
          }
        }
        return DecodeStatus::kValue;
      }
      case '(':
        if (line.empty()) return Fail(start, "bad big number");
        out->type = RespType::kBigNumber;
        out->str.assign(line);
        return DecodeStatus::kValue;
      default:
        return Fail(start, std::string("unknown type byte '") + type + "'");
    }
  }

  std::string_view bytes_;
  std::string error_;
};

void AppendEscaped(std::string_view bytes, std::string* out) {
  for (const char c : bytes) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '\r':
        *out += "\\r";
        break;
      case '\n':
        *out += "\\n";
        break;
      case '\t':
        *out += "\\t";
        break;
      case '"':
        *out += "\\\"";
        break;
      case '\\':
        *out += "\\\\";
        break;
      default:
        if (u < 0x20 || u >= 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\x%02x", u);
          *out += buf;
        } else {
          out->push_back(c);
        }
    }
  }
}

void AppendDebug(const RespValue& v, std::string* out) {
  if (!v.attributes.empty()) {
    *out += "|{";
    for (size_t i = 0; i < v.attributes.size(); ++i) {
      if (i > 0) *out += i % 2 == 0 ? ", " : " => ";
      AppendDebug(v.attributes[i], out);
    }
    *out += "} ";
  }
  const auto list = [&](const char* open, const char* close, bool is_map) {
    *out += open;
    for (size_t i = 0; i < v.elements.size(); ++i) {
      if (i > 0) *out += is_map && i % 2 == 1 ? " => " : ", ";
      AppendDebug(v.elements[i], out);
    }
    *out += close;
  };
  switch (v.type) {
    case RespType::kSimpleString:
      *out += "+";
      AppendEscaped(v.str, out);
      break;
    case RespType::kError:
      *out += "-";
      AppendEscaped(v.str, out);
      break;
    case RespType::kBlobError:
      *out += "!";
      AppendEscaped(v.str, out);
      break;
    case RespType::kInteger:
      *out += ":" + std::to_string(v.integer);
      break;
    case RespType::kBulk:
      *out += "\"";
      AppendEscaped(v.str, out);
      *out += "\"";
      break;
    case RespType::kVerbatim:
      *out += "=" + v.format + ":\"";
      AppendEscaped(v.str, out);
      *out += "\"";
      break;
    case RespType::kNull:
      *out += "(nil)";
      break;
    case RespType::kNullArray:
      *out += "(nil array)";
      break;
    case RespType::kArray:
      list("[", "]", false);
      break;
    case RespType::kSet:
      list("~{", "}", false);
      break;
    case RespType::kPush:
      list(">[", "]", false);
      break;
    case RespType::kMap:
      list("{", "}", true);
      break;
    case RespType::kDouble:
      *out += "," + v.str;
      break;
    case RespType::kBoolean:
      *out += v.integer != 0 ? "#t" : "#f";
      break;
    case RespType::kBigNumber:
      *out += "(" + v.str;
      break;
  }
}

}  // namespace

std::string DebugString(const RespValue& value) {
  std::string out;
  AppendDebug(value, &out);
  return out;
}

std::ostream& operator<<(std::ostream& os, const RespValue& value) {
  return os << DebugString(value);
}

void PrintTo(const RespValue& value, std::ostream* os) { *os << DebugString(value); }

void RespDecoder::Feed(std::string_view bytes) {
  // Drop what Next() already took so the buffer does not grow without bound.
  if (pos_ > 0 && pos_ == buffer_.size()) {
    buffer_.clear();
    pos_ = 0;
  }
  buffer_.append(bytes);
}

DecodeResult RespDecoder::Next() {
  DecodeResult result;
  if (!error_.empty()) {
    result.status = DecodeStatus::kError;
    result.error = error_;
    return result;
  }
  const std::string_view unread = std::string_view(buffer_).substr(pos_);
  Parser parser(unread);
  size_t pos = 0;
  result.status = parser.Parse(&pos, &result.value);
  if (result.status == DecodeStatus::kValue) {
    pos_ += pos;
  } else if (result.status == DecodeStatus::kError) {
    error_ = parser.error();
    result.error = error_;
    result.value = RespValue();
  } else {
    result.value = RespValue();
  }
  return result;
}

std::optional<RespValue> DecodeOne(std::string_view bytes) {
  RespDecoder decoder;
  decoder.Feed(bytes);
  DecodeResult result = decoder.Next();
  if (result.status == DecodeStatus::kError) {
    ADD_FAILURE() << "malformed RESP (" << result.error << ")";
    return std::nullopt;
  }
  if (result.status == DecodeStatus::kNeedMore) {
    ADD_FAILURE() << "incomplete RESP reply: \"" << bytes << "\"";
    return std::nullopt;
  }
  if (decoder.buffered() != 0) {
    ADD_FAILURE() << "expected one reply but " << decoder.buffered()
                  << " bytes follow the first one: " << DebugString(result.value);
    return std::nullopt;
  }
  return std::move(result.value);
}

std::vector<RespValue> DecodeAll(std::string_view bytes) {
  RespDecoder decoder;
  decoder.Feed(bytes);
  std::vector<RespValue> values;
  while (true) {
    DecodeResult result = decoder.Next();
    if (result.status == DecodeStatus::kValue) {
      values.push_back(std::move(result.value));
      continue;
    }
    if (result.status == DecodeStatus::kError) {
      ADD_FAILURE() << "malformed RESP (" << result.error << ")";
    } else if (decoder.buffered() != 0) {
      ADD_FAILURE() << decoder.buffered() << " bytes of an incomplete reply are left over";
    }
    return values;
  }
}

}  // namespace test_support
