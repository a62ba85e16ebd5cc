// SPDX-License-Identifier: Apache-2.0
#include "tests/fuzz/reply_reader.h"

#include <cerrno>
#include <cstdlib>
#include <limits>
#include <optional>

#include "tests/fuzz/fuzz_support.h"

namespace fuzz {
namespace {

// Canonical decimal int64: -?(0|[1-9][0-9]*), no "-0".
std::optional<int64_t> CanonicalInt(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  size_t i = 0;
  const bool is_negative = s[0] == '-';
  if (is_negative) i = 1;
  if (i == s.size()) return std::nullopt;
  if (s[i] == '0') {
    if (s.size() != i + 1 || is_negative) return std::nullopt;
    return 0;
  }
  uint64_t v = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
    const uint64_t d = static_cast<uint64_t>(s[i] - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  const uint64_t max_pos = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (is_negative) {
    if (v > max_pos + 1) return std::nullopt;
    return static_cast<int64_t>(0 - v);
  }
  if (v > max_pos) return std::nullopt;
  return static_cast<int64_t>(v);
}

class Reader {
 public:
  Reader(std::string_view in, bool allow_resp3) : in_(in), allow_resp3_(allow_resp3) {}

  ReadStatus Value(Reply* out, int depth) {
    if (depth > kMaxDepth) return Malformed("nesting deeper than kMaxDepth");
    if (pos_ >= in_.size()) return ReadStatus::kNeedMore;
    const char type = in_[pos_];
    if (type == '|') {
      if (!allow_resp3_) return Malformed("attribute in RESP2");
      ++pos_;
      int64_t n = 0;
      if (ReadStatus s = Count(&n, false); s != ReadStatus::kValue) return s;
      for (int64_t i = 0; i < 2 * n; ++i) {
        Reply r;
        if (ReadStatus s = Value(&r, depth + 1); s != ReadStatus::kValue) return s;
        out->attributes.push_back(std::move(r));
      }
      return Value(out, depth);  // the attributed value follows
    }
    const bool is_resp3_type = std::string_view("_,#(=!%~>").find(type) != std::string_view::npos;
    if (is_resp3_type && !allow_resp3_) return Malformed("RESP3 type in RESP2");
    out->type = type;
    ++pos_;
    std::string_view line;
    switch (type) {
      case '+':
      case '-':
        if (ReadStatus s = Line(&line); s != ReadStatus::kValue) return s;
        if (type == '-' && line.empty()) return Malformed("empty error");
        out->str = std::string(line);
        return ReadStatus::kValue;
      case ':': {
        if (ReadStatus s = Line(&line); s != ReadStatus::kValue) return s;
        std::optional<int64_t> v = CanonicalInt(line);
        if (!v) return Malformed("bad integer");
        out->integer = *v;
        return ReadStatus::kValue;
      }
      case '_':
        if (ReadStatus s = Line(&line); s != ReadStatus::kValue) return s;
        if (!line.empty()) return Malformed("text after '_'");
        out->is_null = true;
        return ReadStatus::kValue;
      case '#':
        if (ReadStatus s = Line(&line); s != ReadStatus::kValue) return s;
        if (line != "t" && line != "f") return Malformed("bad boolean");
        out->integer = line == "t" ? 1 : 0;
        return ReadStatus::kValue;
      case ',': {
        if (ReadStatus s = Line(&line); s != ReadStatus::kValue) return s;
        out->str = std::string(line);
        if (line == "inf" || line == "-inf" || line == "nan") return ReadStatus::kValue;
        if (line.empty()) return Malformed("empty double");
        char* end = nullptr;
        errno = 0;
        std::strtod(out->str.c_str(), &end);
        if (end != out->str.c_str() + out->str.size()) return Malformed("bad double");
        return ReadStatus::kValue;
      }
      case '(': {
        if (ReadStatus s = Line(&line); s != ReadStatus::kValue) return s;
        size_t i = !line.empty() && line[0] == '-' ? 1 : 0;
        if (i == line.size()) return Malformed("empty big number");
        for (; i < line.size(); ++i) {
          if (line[i] < '0' || line[i] > '9') return Malformed("bad big number");
        }
        out->str = std::string(line);
        return ReadStatus::kValue;
      }
      case '$':
      case '=':
      case '!': {
        int64_t len = 0;
        if (ReadStatus s = Count(&len, type == '$'); s != ReadStatus::kValue) return s;
        if (len < 0) {
          out->is_null = true;
          return ReadStatus::kValue;
        }
        if (in_.size() - pos_ < static_cast<uint64_t>(len) + 2) return ReadStatus::kNeedMore;
        std::string_view body = in_.substr(pos_, static_cast<size_t>(len));
        if (in_.substr(pos_ + body.size(), 2) != "\r\n")
          return Malformed("bulk not followed by CRLF");
        pos_ += body.size() + 2;
        if (type == '=') {
          if (body.size() < 4 || body[3] != ':') return Malformed("bad verbatim format");
          out->format = std::string(body.substr(0, 3));
          body.remove_prefix(4);
        }
        out->str = std::string(body);
        return ReadStatus::kValue;
      }
      case '*':
      case '%':
      case '~':
      case '>': {
        int64_t n = 0;
        if (ReadStatus s = Count(&n, type == '*'); s != ReadStatus::kValue) return s;
        if (n < 0) {
          out->is_null = true;
          return ReadStatus::kValue;
        }
        const int64_t elements = type == '%' ? 2 * n : n;
        for (int64_t i = 0; i < elements; ++i) {
          Reply r;
          if (ReadStatus s = Value(&r, depth + 1); s != ReadStatus::kValue) return s;
          out->elements.push_back(std::move(r));
        }
        return ReadStatus::kValue;
      }
      default:
        --pos_;
        return Malformed("unknown type byte");
    }
  }

  size_t pos() const { return pos_; }
  const std::string& error() const { return error_; }

 private:
  // A line up to CRLF; CR or LF inside it is malformed.
  ReadStatus Line(std::string_view* line) {
    const size_t start = pos_;
    for (size_t i = start; i < in_.size(); ++i) {
      if (in_[i] == '\r') {
        if (i + 1 >= in_.size()) return ReadStatus::kNeedMore;
        if (in_[i + 1] != '\n') return Malformed("CR not followed by LF");
        *line = in_.substr(start, i - start);
        pos_ = i + 2;
        return ReadStatus::kValue;
      }
      if (in_[i] == '\n') return Malformed("LF without CR");
    }
    return ReadStatus::kNeedMore;
  }

  // A length or count line: canonical, >= 0, or -1 when `may_be_null`. Counts are capped so a
  // corrupt header cannot make the reader loop for long.
  ReadStatus Count(int64_t* n, bool may_be_null) {
    std::string_view line;
    if (ReadStatus s = Line(&line); s != ReadStatus::kValue) return s;
    std::optional<int64_t> v = CanonicalInt(line);
    if (!v) return Malformed("bad length");
    if (*v < 0 && !(*v == -1 && may_be_null)) return Malformed("negative length");
    if (*v > (int64_t{1} << 40)) return Malformed("absurd length");
    *n = *v;
    return ReadStatus::kValue;
  }

  ReadStatus Malformed(const char* why) {
    error_ = std::string(why) + " at offset " + std::to_string(pos_) + ": [" +
             Printable(in_.substr(pos_ > 20 ? pos_ - 20 : 0, 60)) + "]";
    return ReadStatus::kMalformed;
  }

  std::string_view in_;
  bool allow_resp3_;
  size_t pos_ = 0;
  std::string error_;
};

}  // namespace

ReadResult ReadReply(std::string_view in, bool allow_resp3, Reply* out) {
  Reader reader(in, allow_resp3);
  *out = Reply{};
  ReadResult result;
  result.status = reader.Value(out, 0);
  if (result.status == ReadStatus::kValue) result.consumed = reader.pos();
  if (result.status == ReadStatus::kMalformed) result.error = reader.error();
  return result;
}

int64_t ReadAllReplies(std::string_view in, bool allow_resp3, std::vector<Reply>* out,
                       std::string* error) {
  size_t pos = 0;
  int64_t n = 0;
  while (pos < in.size()) {
    Reply r;
    ReadResult rr = ReadReply(in.substr(pos), allow_resp3, &r);
    if (rr.status == ReadStatus::kMalformed) {
      *error = "reply " + std::to_string(n) + " (at byte " + std::to_string(pos) + "): " + rr.error;
      return -1;
    }
    if (rr.status == ReadStatus::kNeedMore) {
      *error = "output ends inside reply " + std::to_string(n) + " (at byte " +
               std::to_string(pos) + "): [" + Printable(in.substr(pos)) + "]";
      return -1;
    }
    pos += rr.consumed;
    if (out != nullptr) out->push_back(std::move(r));
    ++n;
  }
  return n;
}

std::string Describe(const Reply& r) {
  std::string out;
  if (!r.attributes.empty()) out += "|attrs| ";
  out.push_back(r.type);
  if (r.is_null) return out + "null";
  switch (r.type) {
    case ':':
    case '#':
      return out + std::to_string(r.integer);
    case '*':
    case '%':
    case '~':
    case '>': {
      out += "[";
      for (size_t i = 0; i < r.elements.size(); ++i) {
        if (i > 0) out += ", ";
        out += Describe(r.elements[i]);
      }
      return out + "]";
    }
    case '=':
      return out + r.format + ":" + Printable(r.str, 60);
    default:
      return out + Printable(r.str, 60);
  }
}

}  // namespace fuzz
