// SPDX-License-Identifier: Apache-2.0
//
// How the parser keeps its place (so that no byte is looked at twice):
//  - buffer_[pos_..] holds bytes fed and not yet parsed. A line (a header or a simple string)
//    is searched for its CR from where the last search stopped (line_scanned_), so a long
//    status line arriving in pieces is scanned once.
//  - After a bulk header ($ ! =) the parser is "in a bulk": bulk_ is the reply being built, its
//    storage reserved to the announced length, and bulk_missing_ the bytes still to come. Next()
//    moves what has arrived into it; Feed() appends straight into it while nothing else is
//    buffered, so the body of a large bulk is copied once and never sits in buffer_.
//  - Aggregates being filled are the frames of stack_ (no recursion); a finished value goes
//    into the top frame, a finished frame into the one below, a finished bottom frame out.
//  - buffer_ is compacted when pos_ passes half of it, so the cost of moving the unparsed tail
//    is paid for by the bytes consumed before it.
#include "resp/reply_parser.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <limits>
#include <optional>
#include <utility>

namespace resp {
namespace {

// The longest header line accepted ($ * : and the RESP3 ones): a 64-bit integer is at most
// 20 characters, so anything this long without a CRLF is not RESP.
constexpr size_t kMaxHeaderLine = 64;
// buffer_ is compacted only once this much has been consumed (small moves are not worth it).
constexpr size_t kCompactMin = 4096;
// An idle buffer bigger than this gives its memory back.
constexpr size_t kKeepCapacity = 1024 * 1024;
// Element storage reserved up front for an aggregate, whatever count it announces.
constexpr int64_t kMaxReservedElements = 1024;

// [+-]digits, no spaces, within int64.
std::optional<int64_t> ParseInt64(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  bool is_negative = false;
  size_t i = 0;
  if (s[0] == '-' || s[0] == '+') {
    is_negative = s[0] == '-';
    i = 1;
    if (s.size() == 1) return std::nullopt;
  }
  uint64_t v = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
    const uint64_t digit = static_cast<uint64_t>(s[i] - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - digit) / 10) return std::nullopt;
    v = v * 10 + digit;
  }
  const uint64_t max_positive = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (is_negative) {
    if (v > max_positive + 1) return std::nullopt;
    return static_cast<int64_t>(0 - v);
  }
  if (v > max_positive) return std::nullopt;
  return static_cast<int64_t>(v);
}

bool IsBigNumber(std::string_view s) {
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Bytes shown in an error message: printable ASCII as is, the rest as \xNN, at most 40.
std::string Printable(std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < s.size() && i < 40; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  if (s.size() > 40) out += "...";
  return out;
}

bool IsKnownType(char c) { return std::strchr("+-:$*_,#(!=%~>|", c) != nullptr && c != '\0'; }

// Simple-string types may be as long as a bulk; headers are short.
bool IsSimpleStringType(char c) { return c == '+' || c == '-' || c == ',' || c == '('; }

void AppendDecimal(uint64_t v, std::string* out) {
  char digits[24];
  const auto result = std::to_chars(digits, digits + sizeof(digits), v);
  out->append(digits, static_cast<size_t>(result.ptr - digits));
}

}  // namespace

void ReplyParser::Feed(std::string_view bytes) {
  if (is_failed_ || bytes.empty()) return;
  // The body of a bulk in progress goes straight into the reply while nothing is queued in
  // front of it.
  if (is_in_bulk_ && bulk_missing_ > 0 && pos_ == buffer_.size()) {
    const size_t take = std::min(bulk_missing_, bytes.size());
    bulk_.str.append(bytes.data(), take);
    bulk_missing_ -= take;
    bytes.remove_prefix(take);
    fed_ += take;
    buffer_.clear();
    pos_ = 0;
    buffer_start_ = fed_;
    line_scanned_ = 0;
  }
  buffer_.append(bytes.data(), bytes.size());
  fed_ += bytes.size();
}

size_t ReplyParser::buffered() const { return static_cast<size_t>(fed_ - reply_end_); }

ReplyParser::Status ReplyParser::Fail(std::string what, uint64_t offset) {
  is_failed_ = true;
  error_ = std::move(what) + " at stream offset " + std::to_string(offset);
  stack_.clear();
  bulk_ = Reply{};
  return Status::kProtocolError;
}

void ReplyParser::Compact() {
  if (pos_ == buffer_.size()) {
    buffer_start_ += pos_;
    pos_ = 0;
    if (buffer_.capacity() > kKeepCapacity) {
      std::string().swap(buffer_);
    } else {
      buffer_.clear();
    }
  } else if (pos_ >= kCompactMin && pos_ * 2 >= buffer_.size()) {
    buffer_.erase(0, pos_);
    buffer_start_ += pos_;
    pos_ = 0;
  }
}

ReplyParser::Status ReplyParser::NeedMore() {
  Compact();
  return Status::kNeedMore;
}

ReplyParser::Status ReplyParser::Next(Reply* out) {
  if (is_failed_) return Status::kProtocolError;
  while (true) {
    Reply value;
    if (is_in_bulk_) {
      size_t avail = buffer_.size() - pos_;
      if (bulk_missing_ > 0) {
        const size_t take = std::min(avail, bulk_missing_);
        bulk_.str.append(buffer_, pos_, take);
        pos_ += take;
        avail -= take;
        bulk_missing_ -= take;
        if (bulk_missing_ > 0) return NeedMore();
      }
      while (bulk_crlf_seen_ < 2) {
        if (avail == 0) return NeedMore();
        const char expected = bulk_crlf_seen_ == 0 ? '\r' : '\n';
        if (buffer_[pos_] != expected) {
          return Fail("bulk data not followed by CRLF (got '" +
                          Printable(std::string_view(&buffer_[pos_], 1)) + "')",
                      buffer_start_ + pos_);
        }
        ++pos_;
        --avail;
        ++bulk_crlf_seen_;
      }
      is_in_bulk_ = false;
      value = std::move(bulk_);
      bulk_ = Reply{};
      if (is_verbatim_) {
        // "txt:" or "mkd:": the format is dropped, the text kept.
        if (value.str.size() < 4 || value.str[3] != ':') {
          return Fail("verbatim string without a format prefix", buffer_start_ + pos_);
        }
        value.str.erase(0, 4);
      }
    } else {
      // A line: the type byte, its text, CRLF.
      if (pos_ == buffer_.size()) return NeedMore();
      const char type = buffer_[pos_];
      const uint64_t line_offset = buffer_start_ + pos_;
      if (!IsKnownType(type)) {
        return Fail("unexpected byte '" + Printable(std::string_view(&buffer_[pos_], 1)) +
                        "' where a reply type was expected",
                    line_offset);
      }
      const size_t max_line = IsSimpleStringType(type) ? limits_.max_bulk_len : kMaxHeaderLine;
      const size_t scan_from = pos_ + 1 + line_scanned_;
      const void* found = scan_from < buffer_.size() ? std::memchr(buffer_.data() + scan_from, '\r',
                                                                   buffer_.size() - scan_from)
                                                     : nullptr;
      if (found == nullptr) {
        line_scanned_ = buffer_.size() - pos_ - 1;
        if (line_scanned_ > max_line) return Fail("line too long", line_offset);
        return NeedMore();
      }
      const size_t cr = static_cast<size_t>(static_cast<const char*>(found) - buffer_.data());
      const size_t line_len = cr - pos_ - 1;
      if (line_len > max_line) return Fail("line too long", line_offset);
      if (cr + 1 == buffer_.size()) {
        line_scanned_ = line_len;  // the CR is looked at again with the LF
        return NeedMore();
      }
      if (buffer_[cr + 1] != '\n') return Fail("CR not followed by LF", buffer_start_ + cr);
      const std::string_view line(buffer_.data() + pos_ + 1, line_len);
      pos_ = cr + 2;
      line_scanned_ = 0;
      switch (type) {
        case '+':
          value.type = ReplyType::kStatus;
          value.str.assign(line);
          break;
        case '-':
          value.type = ReplyType::kError;
          value.str.assign(line);
          break;
        case ',':
          if (line.empty()) return Fail("empty double", line_offset);
          value.type = ReplyType::kDouble;
          value.str.assign(line);
          break;
        case '(':
          if (!IsBigNumber(line)) {
            return Fail("invalid big number \"" + Printable(line) + "\"", line_offset);
          }
          value.type = ReplyType::kBigNumber;
          value.str.assign(line);
          break;
        case ':': {
          const std::optional<int64_t> n = ParseInt64(line);
          if (!n) return Fail("invalid integer \"" + Printable(line) + "\"", line_offset);
          value.type = ReplyType::kInteger;
          value.integer = *n;
          break;
        }
        case '#':
          if (line != "t" && line != "f") {
            return Fail("invalid boolean \"" + Printable(line) + "\"", line_offset);
          }
          value.type = ReplyType::kBool;
          value.integer = line == "t" ? 1 : 0;
          break;
        case '_':
          if (!line.empty()) return Fail("null with a payload", line_offset);
          value.type = ReplyType::kNil;
          break;
        case '$':
        case '!':
        case '=': {
          const std::optional<int64_t> len = ParseInt64(line);
          if (len && *len == -1 && type == '$') {
            value.type = ReplyType::kNil;
            break;
          }
          if (!len || *len < 0) {
            return Fail("invalid bulk length \"" + Printable(line) + "\"", line_offset);
          }
          if (static_cast<uint64_t>(*len) > limits_.max_bulk_len) {
            return Fail("bulk length " + std::to_string(*len) + " above the limit of " +
                            std::to_string(limits_.max_bulk_len),
                        line_offset);
          }
          is_in_bulk_ = true;
          is_verbatim_ = type == '=';
          bulk_missing_ = static_cast<size_t>(*len);
          bulk_crlf_seen_ = 0;
          bulk_.type = type == '!' ? ReplyType::kError : ReplyType::kBulk;
          bulk_.str.reserve(bulk_missing_);
          continue;  // the body
        }
        case '*':
        case '~':
        case '>':
        case '%':
        case '|': {
          const std::optional<int64_t> count = ParseInt64(line);
          if (count && *count == -1 && type == '*') {
            value.type = ReplyType::kNil;
            break;
          }
          if (!count || *count < 0) {
            return Fail("invalid aggregate length \"" + Printable(line) + "\"", line_offset);
          }
          if (*count > limits_.max_elements || *count > std::numeric_limits<int64_t>::max() / 2) {
            return Fail("aggregate length " + std::to_string(*count) + " above the limit of " +
                            std::to_string(limits_.max_elements),
                        line_offset);
          }
          const bool is_map = type == '%' || type == '|';
          const int64_t elements = is_map ? *count * 2 : *count;
          if (elements == 0) {
            if (type == '|') continue;  // an empty attribute annotates nothing
            value.type = is_map ? ReplyType::kMap : ReplyType::kArray;
            break;
          }
          if (stack_.size() >= static_cast<size_t>(std::max(limits_.max_depth, 0))) {
            return Fail("aggregates nested deeper than " + std::to_string(limits_.max_depth),
                        line_offset);
          }
          Frame frame;
          frame.reply.type = is_map ? ReplyType::kMap : ReplyType::kArray;
          frame.reply.elements.reserve(
              static_cast<size_t>(std::min(elements, kMaxReservedElements)));
          frame.remaining = elements;
          frame.is_attribute = type == '|';
          stack_.push_back(std::move(frame));
          continue;  // the elements
        }
        default:
          break;  // IsKnownType() covered every byte
      }
    }
    // `value` is complete: it fills its parent, which may complete in turn.
    while (true) {
      if (stack_.empty()) {
        *out = std::move(value);
        reply_end_ = buffer_start_ + pos_;
        Compact();
        return Status::kReply;
      }
      Frame& top = stack_.back();
      top.reply.elements.push_back(std::move(value));
      if (--top.remaining > 0) break;
      const bool was_attribute = top.is_attribute;
      value = std::move(top.reply);
      stack_.pop_back();
      // RESP3 attributes annotate the value that follows them; this client has no use for
      // them, so they are dropped and do not count as an element of their parent.
      if (was_attribute) break;
    }
  }
}

void AppendCommand(const std::vector<std::string_view>& args, std::string* out) {
  out->push_back('*');
  AppendDecimal(args.size(), out);
  out->append("\r\n");
  for (const std::string_view arg : args) {
    out->push_back('$');
    AppendDecimal(arg.size(), out);
    out->append("\r\n");
    out->append(arg.data(), arg.size());
    out->append("\r\n");
  }
}

}  // namespace resp
