// SPDX-License-Identifier: Apache-2.0
//
// The NATS client protocol, as the gateway's loop-native backend speaks it: an incremental
// parser of the operations a server sends (INFO, MSG, HMSG, PING, PONG, +OK, -ERR) and encoders
// for the ones a client sends (CONNECT, SUB, PUB, HPUB, PING, PONG). Facts from the NATS
// protocol documentation: control lines end in CRLF; MSG/HMSG carry a byte count (and a header
// byte count) followed by the payload and CRLF; a header block starts with "NATS/1.0", optionally
// followed by a status code and description, then "Name: Value" lines and an empty line.
//
// Nothing here does I/O or allocates per operation on the parse path: parsed operations are
// views into the caller's buffer, valid until the caller changes that buffer.
//
// Thread: any; one parser per connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "kvmap/kv_backend.h"

namespace kvmap {

enum class NatsOpType : uint8_t { kInfo, kMsg, kPing, kPong, kOk, kErr };

struct NatsOp {
  NatsOpType type = NatsOpType::kOk;
  std::string_view subject;  // MSG/HMSG
  std::string_view reply;    // MSG/HMSG, may be empty
  uint64_t sid = 0;
  std::string_view headers;  // HMSG: the whole header block, "NATS/1.0..." through CRLFCRLF
  std::string_view payload;  // MSG/HMSG payload
  std::string_view text;     // INFO: the JSON; -ERR: the message
};

enum class NatsParseStatus : uint8_t { kOp, kNeedMore, kError };

// Parses one operation at the start of `data`. On kOp, *consumed is its length; on kNeedMore
// nothing is consumed (call again when more bytes arrived); on kError *error says why (the
// connection must be closed).
NatsParseStatus ParseNatsOp(std::string_view data, NatsOp* op, size_t* consumed,
                            std::string* error);

// Longest control line accepted from the server (INFO of a large cluster is the long one).
inline constexpr size_t kMaxServerControlLine = 64 * 1024;

// The status of a header block: "NATS/1.0 404 Message Not Found" gives 404 and the
// description; a plain "NATS/1.0" gives 0.
int HeaderStatus(std::string_view header_block, std::string_view* description);

// Calls fn(name, value) for every "Name: Value" line of a header block (values trimmed).
template <class F>
void ForEachHeader(std::string_view block, F&& fn) {
  size_t pos = block.find("\r\n");
  while (pos != std::string_view::npos) {
    pos += 2;
    size_t end = block.find("\r\n", pos);
    if (end == std::string_view::npos || end == pos) break;
    std::string_view line = block.substr(pos, end - pos);
    size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      std::string_view name = line.substr(0, colon);
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
      fn(name, value);
    }
    pos = end;
  }
}

// Returns the value of the first header `name` (exact case), or empty.
std::string_view FindHeaderValue(std::string_view block, std::string_view name);

// --- encoders: append one operation to *out ---

struct NatsConnectOptions {
  std::string name;
  std::string user, pass, token;
  // Nkey/JWT authentication (kvmap/nats_auth.h): "nkey" (a bare user nkey) or "jwt" (a user
  // JWT), and "sig", the base64url signature of the server's nonce.
  std::string nkey, jwt, sig;
  // false: the server does not deliver this connection's own publishes back to it.
  bool echo = true;
};
void AppendConnect(std::string* out, const NatsConnectOptions& options);
void AppendSub(std::string* out, std::string_view subject, uint64_t sid);
// PUB without headers.
void AppendPub(std::string* out, std::string_view subject, std::string_view reply,
               std::string_view payload);
// HPUB. `headers` are written in order; each value must not contain CR or LF.
void AppendHpub(std::string* out, std::string_view subject, std::string_view reply,
                const Headers& headers, std::string_view payload);
// Size of the header block AppendHpub would write for `headers`.
size_t HeaderBlockSize(const Headers& headers);

// Parses "max_payload" from an INFO JSON (0 when absent).
int64_t InfoMaxPayload(std::string_view info_json);

}  // namespace kvmap
