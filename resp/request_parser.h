// SPDX-License-Identifier: Apache-2.0
//
// resp::RequestParser turns the bytes a client sends into complete requests (argv).
//
// It accepts both request forms Redis 7.0 accepts: multibulk (`*N\r\n$L\r\n...`) and inline
// (`SET k v\n`, split with the same quoting rules as Redis's sdssplitargs). It is incremental:
// Feed() may be called with any slice of the stream, split at any byte, and resumes where it
// stopped. Bytes handed to Feed() are consumed (copied once into the request being built), so
// the caller may drop them from its input buffer as soon as Feed() returns.
//
// A bulk argument is copied exactly once, into the request's own storage, which is reserved to
// its announced length up front (so a 100 MB value is one allocation and one copy; a bulk of
// 32 KiB or more also gets 1 KiB of room after it, so that short trailing options such as
// `EX 10` do not move it again). A header announcing more than the limits is rejected before
// anything is allocated. Handlers read arguments as string_views into that storage; the views
// stay valid as long as the Request object lives (moving a Request keeps them valid).
//
// Limits and error texts follow Redis 7.0 (src/networking.c, processInlineBuffer and
// processMultibulkBuffer). A protocol error is final: the caller sends the error reply and
// then closes the connection, as Redis does. Redis 7.0 quirks matched on purpose:
//  - integers are parsed like string2ll: no '+', no leading zeros, no spaces, "-0" is invalid;
//  - a header line ends at the first '\r' and the byte after it is skipped whatever it is; the
//    2 bytes after a bulk's data are skipped without checking that they are CRLF;
//  - an inline line ends at '\n' with one trailing '\r' stripped;
//  - Redis finds line ends with strchr(), so a NUL byte before the terminator means the line
//    never ends: the connection waits until the 64 KiB limit fails it.
// Redis checks the 64 KiB line limits only after each socket read, so its answer to an
// over-long line that does end depends on TCP segmentation. This parser is deterministic: a
// line with more than 64 KiB before its terminator is always a "too big" error.
//
// Thread: any, but one parser belongs to one connection. Standard library only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace resp {

// Redis 7.0 defaults.
inline constexpr size_t kDefaultMaxBulkLen = 512ull * 1024 * 1024;  // proto-max-bulk-len
inline constexpr size_t kMaxInlineLen = 64 * 1024;                  // PROTO_INLINE_MAX_SIZE
inline constexpr int64_t kMaxMultibulkLen = 2147483647;             // INT_MAX
// Limits that apply while the connection is not authenticated (Redis 7.0).
inline constexpr int64_t kUnauthMaxMultibulkLen = 10;
inline constexpr int64_t kUnauthMaxBulkLen = 16384;

struct ParserLimits {
  size_t max_bulk_len = kDefaultMaxBulkLen;
  // When true, the stricter limits for unauthenticated clients apply.
  bool is_unauthenticated = false;
};

// One complete request. Owns the bytes of its arguments.
class Request {
 public:
  Request() = default;
  Request(Request&&) noexcept = default;
  Request& operator=(Request&&) noexcept = default;
  Request(const Request&) = delete;
  Request& operator=(const Request&) = delete;

  size_t argc() const { return spans_.size(); }
  // Valid while this Request lives. i < argc().
  std::string_view arg(size_t i) const {
    return std::string_view(storage_.data() + spans_[i].offset, spans_[i].length);
  }
  // All arguments as views (allocates the vector; fine outside the hot path).
  std::vector<std::string_view> args() const;
  bool is_inline() const { return is_inline_; }
  // Total bytes of argument data.
  size_t byte_size() const { return storage_.size(); }

  // Builders, used by the parser and by tests.
  void AddArg(std::string_view bytes);
  // Reserves `length` bytes for the next argument and returns its index; AppendToLastArg()
  // fills it. Arguments added later may move the storage (before the Request is handed out).
  size_t BeginArg(size_t length);
  void AppendToLastArg(std::string_view bytes);
  void set_inline(bool v) { is_inline_ = v; }
  void Clear();

 private:
  friend class RequestParser;

  struct Span {
    size_t offset;
    size_t length;
  };
  // std::vector<char> (not std::string) so that moving never relocates the bytes.
  std::vector<char> storage_;
  std::vector<Span> spans_;
  bool is_inline_ = false;
};

enum class ParseStatus {
  kNeedMore,  // all input consumed, no complete request yet
  kRequest,   // a request is complete: call TakeRequest()
  kError,     // protocol error: error_message() holds the reply text; stop feeding
};

struct ParseResult {
  ParseStatus status;
  size_t consumed;  // bytes of the input that were used (always all of it for kNeedMore)
};

class RequestParser {
 public:
  explicit RequestParser(ParserLimits limits = {}) : limits_(limits) {}

  // Consumes bytes from `input` until a request completes, more input is needed, or the input
  // is malformed. After kRequest, call TakeRequest() and Feed() the rest
  // (input.substr(consumed)). Empty requests (`*0`, `*-1`, a blank inline line) are skipped
  // silently, as in Redis.
  ParseResult Feed(std::string_view input);

  // Moves out the completed request. Only after Feed() returned kRequest.
  Request TakeRequest();

  // The exact Redis error text without the leading '-' or trailing CRLF, for example
  // "ERR Protocol error: invalid bulk length". Only after kError.
  const std::string& error_message() const { return error_; }

  void set_limits(ParserLimits limits) { limits_ = limits; }
  const ParserLimits& limits() const { return limits_; }

  // True while a request has been started but not completed (used to tell a clean EOF from a
  // truncated frame).
  bool is_mid_request() const;
  // Bytes held for the request being parsed (arguments so far and a partial header line):
  // with the session's unparsed input, what client-query-buffer-limit bounds.
  size_t buffered_bytes() const { return request_.byte_size() + line_.size(); }

 private:
  enum class State {
    kStart,           // between requests
    kInline,          // reading an inline line up to '\n'
    kMultibulkCount,  // reading `*N` up to '\r' and the byte after it
    kBulkHeader,      // reading `$L` up to '\r' and the byte after it
    kBulkBody,        // copying the L bytes of a bulk
    kBulkCrlf,        // skipping the 2 bytes after a bulk
    kDone,            // a request is complete and waits for TakeRequest()
    kError,           // a protocol error happened; final
  };
  enum class LineStatus { kNeedMore, kComplete, kTooBig };
  struct LineScan {
    LineStatus status;
    std::string_view line;  // kComplete only: the line without its terminator
    size_t consumed;        // bytes of the input used
  };

  // Consumes the current line from `rest`. The line ends at `terminator`; when
  // `is_skip_one_after` one more byte (of any value) is consumed after it. The returned view points
  // into `rest` or into line_ and is valid until line_ changes.
  LineScan ScanLine(std::string_view rest, char terminator, bool is_skip_one_after);
  ParseResult CompleteInline(std::string_view line, size_t consumed);
  ParseResult Fail(std::string message, size_t consumed);

  ParserLimits limits_;
  State state_ = State::kStart;
  Request request_;
  std::string line_;               // partial header or inline line carried between Feed() calls
  size_t blocked_len_ = 0;         // bytes seen since the line start once it holds a NUL byte
  bool is_line_blocked_ = false;   // the current line holds a NUL byte (see ScanLine)
  bool is_awaiting_skip_ = false;  // a header's '\r' was seen; one more byte to skip
  int64_t args_expected_ = 0;      // multibulk arguments still to read
  size_t bulk_remaining_ = 0;      // bytes of the current bulk still to copy
  size_t crlf_remaining_ = 0;      // bytes after a bulk still to skip
  std::string error_;
};

}  // namespace resp
