// SPDX-License-Identifier: Apache-2.0
#include "resp/request_parser.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <optional>
#include <utility>

namespace resp {
namespace {

constexpr std::string_view kErrTooBigInline = "ERR Protocol error: too big inline request";
constexpr std::string_view kErrUnbalancedQuotes =
    "ERR Protocol error: unbalanced quotes in request";
constexpr std::string_view kErrTooBigMbulkCount = "ERR Protocol error: too big mbulk count string";
constexpr std::string_view kErrTooBigBulkCount = "ERR Protocol error: too big bulk count string";
constexpr std::string_view kErrInvalidMultibulkLen = "ERR Protocol error: invalid multibulk length";
constexpr std::string_view kErrUnauthMultibulkLen =
    "ERR Protocol error: unauthenticated multibulk length";
constexpr std::string_view kErrInvalidBulkLen = "ERR Protocol error: invalid bulk length";
constexpr std::string_view kErrUnauthBulkLen = "ERR Protocol error: unauthenticated bulk length";

// Redis sizes argv for at most 1024 arguments up front, so a huge announced count costs
// nothing until the arguments arrive.
constexpr size_t kMaxReservedArgs = 1024;
// PROTO_MBULK_BIG_ARG. Storage for a bulk this big is reserved exactly, plus a little room so
// that the short options that usually follow a value (EX 10, NX, GET) do not move it again.
constexpr size_t kBigArgLen = size_t{32} * 1024;
constexpr size_t kBigArgTrailingRoom = 1024;
constexpr size_t kMinStorage = 64;

// Redis 7.0 string2ll (src/util.c).
std::optional<int64_t> ParseStrictInt64(std::string_view s) {
  // LONG_STR_SIZE is 21: anything that long is rejected before looking at it.
  if (s.empty() || s.size() >= 21) return std::nullopt;
  if (s == "0") return 0;
  bool is_negative = false;
  size_t i = 0;
  if (s[0] == '-') {
    is_negative = true;
    i = 1;
    if (s.size() == 1) return std::nullopt;
  }
  if (s[i] < '1' || s[i] > '9') return std::nullopt;
  uint64_t v = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
    const uint64_t digit = static_cast<uint64_t>(s[i] - '0');
    if (v > std::numeric_limits<uint64_t>::max() / 10) return std::nullopt;
    v *= 10;
    if (v > std::numeric_limits<uint64_t>::max() - digit) return std::nullopt;
    v += digit;
  }
  if (is_negative) {
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) + 1) return std::nullopt;
    return static_cast<int64_t>(0 - v);
  }
  if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
  return static_cast<int64_t>(v);
}

// isspace() in the C locale, which sdssplitargs uses to skip blanks.
bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

bool IsHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int HexDigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

// Splits an inline line into arguments with the rules of Redis 7.0 sdssplitargs (src/sds.c)
// and appends them to *request. Returns false for unbalanced quotes. The line holds no NUL
// byte (see ScanLine), so reading past its end as '\0' gives the C string's behaviour.
bool SplitInlineArgs(std::string_view line, Request* request) {
  const auto at = [line](size_t i) { return i < line.size() ? line[i] : '\0'; };
  size_t p = 0;
  while (true) {
    while (p < line.size() && IsSpace(line[p])) ++p;
    if (p >= line.size()) return true;
    request->BeginArg(0);
    bool in_double_quotes = false;
    bool in_single_quotes = false;
    bool is_done = false;
    while (!is_done) {
      const char c = at(p);
      if (in_double_quotes) {
        if (c == '\\' && at(p + 1) == 'x' && IsHexDigit(at(p + 2)) && IsHexDigit(at(p + 3))) {
          const char byte =
              static_cast<char>(HexDigitValue(at(p + 2)) * 16 + HexDigitValue(at(p + 3)));
          request->AppendToLastArg(std::string_view(&byte, 1));
          p += 3;
        } else if (c == '\\' && at(p + 1) != '\0') {
          ++p;
          char unescaped;
          switch (at(p)) {
            case 'n':
              unescaped = '\n';
              break;
            case 'r':
              unescaped = '\r';
              break;
            case 't':
              unescaped = '\t';
              break;
            case 'b':
              unescaped = '\b';
              break;
            case 'a':
              unescaped = '\a';
              break;
            default:
              unescaped = at(p);
              break;
          }
          request->AppendToLastArg(std::string_view(&unescaped, 1));
        } else if (c == '"') {
          if (at(p + 1) != '\0' && !IsSpace(at(p + 1))) return false;
          is_done = true;
        } else if (c == '\0') {
          return false;
        } else {
          request->AppendToLastArg(std::string_view(&line[p], 1));
        }
      } else if (in_single_quotes) {
        if (c == '\\' && at(p + 1) == '\'') {
          ++p;
          request->AppendToLastArg("'");
        } else if (c == '\'') {
          if (at(p + 1) != '\0' && !IsSpace(at(p + 1))) return false;
          is_done = true;
        } else if (c == '\0') {
          return false;
        } else {
          request->AppendToLastArg(std::string_view(&line[p], 1));
        }
      } else {
        switch (c) {
          // Only these end an unquoted token; '\v' and '\f' do not (they only count as blanks
          // between tokens).
          case ' ':
          case '\n':
          case '\r':
          case '\t':
          case '\0':
            is_done = true;
            break;
          case '"':
            in_double_quotes = true;
            break;
          case '\'':
            in_single_quotes = true;
            break;
          default: {
            size_t end = p + 1;
            while (end < line.size() && line[end] != ' ' && line[end] != '\r' &&
                   line[end] != '\t' && line[end] != '"' && line[end] != '\'') {
              ++end;
            }
            request->AppendToLastArg(line.substr(p, end - p));
            p = end - 1;
            break;
          }
        }
      }
      if (at(p) != '\0') ++p;
    }
  }
}

}  // namespace

std::vector<std::string_view> Request::args() const {
  std::vector<std::string_view> result;
  result.reserve(spans_.size());
  for (size_t i = 0; i < spans_.size(); ++i) result.push_back(arg(i));
  return result;
}

void Request::AddArg(std::string_view bytes) {
  BeginArg(bytes.size());
  AppendToLastArg(bytes);
}

size_t Request::BeginArg(size_t length) {
  const size_t needed = storage_.size() + length;
  if (needed > storage_.capacity()) {
    size_t target = needed;
    if (length >= kBigArgLen) {
      target += kBigArgTrailingRoom;
    } else {
      target = std::max({target, storage_.capacity() * 2, kMinStorage});
    }
    storage_.reserve(target);
  }
  spans_.push_back(Span{storage_.size(), 0});
  return spans_.size() - 1;
}

void Request::AppendToLastArg(std::string_view bytes) {
  storage_.insert(storage_.end(), bytes.begin(), bytes.end());
  spans_.back().length += bytes.size();
}

void Request::Clear() {
  storage_.clear();
  spans_.clear();
  is_inline_ = false;
}

ParseResult RequestParser::Feed(std::string_view input) {
  size_t pos = 0;
  while (true) {
    const std::string_view rest = input.substr(pos);
    switch (state_) {
      case State::kDone:
        return {ParseStatus::kRequest, pos};
      case State::kError:
        return {ParseStatus::kError, pos};
      case State::kStart:
        if (rest.empty()) return {ParseStatus::kNeedMore, pos};
        state_ = rest[0] == '*' ? State::kMultibulkCount : State::kInline;
        break;
      case State::kInline: {
        const LineScan scan = ScanLine(rest, '\n', false);
        pos += scan.consumed;
        if (scan.status == LineStatus::kNeedMore) return {ParseStatus::kNeedMore, pos};
        if (scan.status == LineStatus::kTooBig) return Fail(std::string(kErrTooBigInline), pos);
        const ParseResult result = CompleteInline(scan.line, pos);
        if (result.status != ParseStatus::kNeedMore) return result;
        break;  // a blank line: go on with the next request
      }
      case State::kMultibulkCount: {
        const LineScan scan = ScanLine(rest, '\r', true);
        pos += scan.consumed;
        if (scan.status == LineStatus::kNeedMore) return {ParseStatus::kNeedMore, pos};
        if (scan.status == LineStatus::kTooBig) {
          return Fail(std::string(kErrTooBigMbulkCount), pos);
        }
        const std::optional<int64_t> count = ParseStrictInt64(scan.line.substr(1));
        line_.clear();
        if (!count || *count > kMaxMultibulkLen) {
          return Fail(std::string(kErrInvalidMultibulkLen), pos);
        }
        if (*count > kUnauthMaxMultibulkLen && limits_.is_unauthenticated) {
          return Fail(std::string(kErrUnauthMultibulkLen), pos);
        }
        if (*count <= 0) {
          state_ = State::kStart;
          break;
        }
        args_expected_ = *count;
        request_.spans_.reserve(std::min(static_cast<size_t>(*count), kMaxReservedArgs));
        state_ = State::kBulkHeader;
        break;
      }
      case State::kBulkHeader: {
        const LineScan scan = ScanLine(rest, '\r', true);
        pos += scan.consumed;
        if (scan.status == LineStatus::kNeedMore) return {ParseStatus::kNeedMore, pos};
        if (scan.status == LineStatus::kTooBig) {
          return Fail(std::string(kErrTooBigBulkCount), pos);
        }
        const std::string_view line = scan.line;
        if (line.empty() || line[0] != '$') {
          // An empty line means Redis saw the '\r' itself; Redis 7.0 replaces CR and LF in
          // error texts with spaces.
          char got = line.empty() ? '\r' : line[0];
          if (got == '\r' || got == '\n') got = ' ';
          std::string message = "ERR Protocol error: expected '$', got '";
          message.push_back(got);
          message.push_back('\'');
          return Fail(std::move(message), pos);
        }
        const std::optional<int64_t> length = ParseStrictInt64(line.substr(1));
        line_.clear();
        if (!length || *length < 0 || static_cast<uint64_t>(*length) > limits_.max_bulk_len) {
          return Fail(std::string(kErrInvalidBulkLen), pos);
        }
        if (*length > kUnauthMaxBulkLen && limits_.is_unauthenticated) {
          return Fail(std::string(kErrUnauthBulkLen), pos);
        }
        bulk_remaining_ = static_cast<size_t>(*length);
        request_.BeginArg(bulk_remaining_);
        state_ = State::kBulkBody;
        break;
      }
      case State::kBulkBody: {
        const size_t n = std::min(bulk_remaining_, rest.size());
        request_.AppendToLastArg(rest.substr(0, n));
        pos += n;
        bulk_remaining_ -= n;
        if (bulk_remaining_ > 0) return {ParseStatus::kNeedMore, pos};
        crlf_remaining_ = 2;
        state_ = State::kBulkCrlf;
        break;
      }
      case State::kBulkCrlf: {
        // Redis 7.0 skips the 2 bytes after the data without checking that they are CRLF.
        const size_t n = std::min(crlf_remaining_, rest.size());
        pos += n;
        crlf_remaining_ -= n;
        if (crlf_remaining_ > 0) return {ParseStatus::kNeedMore, pos};
        if (--args_expected_ == 0) {
          state_ = State::kDone;
          return {ParseStatus::kRequest, pos};
        }
        state_ = State::kBulkHeader;
        break;
      }
    }
  }
}

RequestParser::LineScan RequestParser::ScanLine(std::string_view rest, char terminator,
                                                bool is_skip_one_after) {
  if (is_awaiting_skip_) {
    if (rest.empty()) return {LineStatus::kNeedMore, {}, 0};
    is_awaiting_skip_ = false;
    return {LineStatus::kComplete, line_, 1};
  }
  if (is_line_blocked_) {
    blocked_len_ += rest.size();
    if (blocked_len_ > kMaxInlineLen) return {LineStatus::kTooBig, {}, rest.size()};
    return {LineStatus::kNeedMore, {}, rest.size()};
  }
  const void* found = std::memchr(rest.data(), terminator, rest.size());
  const size_t end = found != nullptr
                         ? static_cast<size_t>(static_cast<const char*>(found) - rest.data())
                         : rest.size();
  if (std::memchr(rest.data(), '\0', end) != nullptr) {
    // Redis looks for the terminator with strchr(), which stops at the NUL: the line can only
    // end by growing past the size limit.
    is_line_blocked_ = true;
    blocked_len_ = line_.size() + rest.size();
    line_.clear();
    if (blocked_len_ > kMaxInlineLen) return {LineStatus::kTooBig, {}, rest.size()};
    return {LineStatus::kNeedMore, {}, rest.size()};
  }
  if (line_.size() + end > kMaxInlineLen) return {LineStatus::kTooBig, {}, end};
  if (found == nullptr) {
    line_.append(rest);
    return {LineStatus::kNeedMore, {}, rest.size()};
  }
  const size_t consumed = end + 1 + (is_skip_one_after ? 1 : 0);
  if (consumed > rest.size()) {
    line_.append(rest.substr(0, end));
    is_awaiting_skip_ = true;
    return {LineStatus::kNeedMore, {}, rest.size()};
  }
  if (line_.empty()) return {LineStatus::kComplete, rest.substr(0, end), consumed};
  line_.append(rest.substr(0, end));
  return {LineStatus::kComplete, line_, consumed};
}

ParseResult RequestParser::CompleteInline(std::string_view line, size_t consumed) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  const bool is_balanced = SplitInlineArgs(line, &request_);
  line_.clear();
  if (!is_balanced) return Fail(std::string(kErrUnbalancedQuotes), consumed);
  if (request_.argc() == 0) {
    state_ = State::kStart;
    return {ParseStatus::kNeedMore, consumed};
  }
  request_.set_inline(true);
  state_ = State::kDone;
  return {ParseStatus::kRequest, consumed};
}

Request RequestParser::TakeRequest() {
  Request request = std::move(request_);
  request_.Clear();
  state_ = State::kStart;
  return request;
}

bool RequestParser::is_mid_request() const {
  return state_ != State::kStart && state_ != State::kDone && state_ != State::kError;
}

ParseResult RequestParser::Fail(std::string message, size_t consumed) {
  state_ = State::kError;
  error_ = std::move(message);
  request_.Clear();
  line_.clear();
  return {ParseStatus::kError, consumed};
}

}  // namespace resp
