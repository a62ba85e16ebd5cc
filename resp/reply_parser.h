// SPDX-License-Identifier: Apache-2.0
//
// resp::ReplyParser turns the bytes a Redis server sends back into replies, for the gateway's
// own Redis client (gateway/redis_client.h: the migration source, --fallback and
// --mirror-writes talk to an old Redis). It is the client-side counterpart of RequestParser.
//
// It reads RESP2 (+ - : $ *, with $-1 and *-1 as nil) and the RESP3 types a server may send
// (_ , # ( = ! % ~ > |), so a server with a RESP3 default does not break it. It is incremental:
// Feed() any slice of the stream, split at any byte; Next() takes out one complete reply at a
// time and resumes where the last partial one stopped, so a large bulk is scanned once, not on
// every Feed. Bytes are copied once, into the reply being built.
//
// Limits (ReplyLimits) are checked on each header before anything is allocated; a server that
// breaks them, or sends bytes that are not RESP, gets a final kProtocolError: the caller drops
// the connection.
//
// Thread: any, but one parser belongs to one connection. Standard library only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace resp {

enum class ReplyType : uint8_t {
  kStatus,   // +OK
  kError,    // -ERR ... (and RESP3 blob errors !len)
  kInteger,  // :n
  kBulk,     // $len (and RESP3 verbatim =len: the text without its "txt:" prefix)
  kNil,      // $-1, *-1, RESP3 _
  kArray,    // *n (and RESP3 sets ~n and pushes >n)
  kMap,      // RESP3 %n: elements hold key, value, key, value ...
  kDouble,   // RESP3 ,text (str holds the text)
  kBool,     // RESP3 #t / #f (integer 1 or 0)
  kBigNumber,  // RESP3 (digits (str holds the digits)
};

struct Reply {
  ReplyType type = ReplyType::kNil;
  std::string str;       // kStatus, kError, kBulk, kDouble, kBigNumber
  int64_t integer = 0;   // kInteger, kBool
  std::vector<Reply> elements;  // kArray, kMap

  bool is_error() const { return type == ReplyType::kError; }
  bool is_nil() const { return type == ReplyType::kNil; }
};

struct ReplyLimits {
  size_t max_bulk_len = 512ull * 1024 * 1024 + 1024;  // one bulk string
  int64_t max_elements = 1ll << 24;                   // one aggregate's length
  int max_depth = 32;                                 // nesting of aggregates
};

class ReplyParser {
 public:
  enum class Status { kReply, kNeedMore, kProtocolError };

  explicit ReplyParser(ReplyLimits limits = {}) : limits_(limits) {}

  // Appends bytes. Never fails; the bytes are parsed by Next().
  void Feed(std::string_view bytes);
  // Takes out the next complete reply into *out. kNeedMore: no complete reply yet (the
  // partial one is kept). kProtocolError is final; error() says what and where.
  Status Next(Reply* out);
  const std::string& error() const { return error_; }
  // Bytes fed and not yet consumed into a reply.
  size_t buffered() const;

 private:
  // Implementation state (see reply_parser.cc).
  struct Frame {
    Reply reply;
    int64_t remaining = 0;      // elements still to read into reply.elements
    bool is_attribute = false;  // RESP3 |n: read, then dropped
  };
  Status Fail(std::string what, uint64_t offset);
  Status NeedMore();
  void Compact();

  std::string buffer_;  // fed bytes; buffer_[pos_..] not parsed yet
  size_t pos_ = 0;
  size_t line_scanned_ = 0;  // bytes after the type byte at pos_ known to hold no CR
  // The bulk being read ($ ! =): its reply, body bytes still to come, CRLF bytes seen.
  bool is_in_bulk_ = false;
  bool is_verbatim_ = false;
  Reply bulk_;
  size_t bulk_missing_ = 0;
  int bulk_crlf_seen_ = 0;
  std::vector<Frame> stack_;  // aggregates being filled, outermost first
  // Stream offsets: bytes fed in all, of buffer_[0], after the last reply taken out.
  uint64_t fed_ = 0;
  uint64_t buffer_start_ = 0;
  uint64_t reply_end_ = 0;
  std::string error_;
  ReplyLimits limits_;
  bool is_failed_ = false;
};

// Appends a command as a RESP multibulk request (`*N\r\n$L\r\narg\r\n...`) to *out.
void AppendCommand(const std::vector<std::string_view>& args, std::string* out);

}  // namespace resp
