// SPDX-License-Identifier: Apache-2.0
//
// RedisClient: the gateway's own asynchronous client for an old Redis (issue 10: the source of
// `migrate`, the read-through of --fallback, the target of --mirror-writes). It runs on the
// gateway's libuv loop: one TCP connection, commands pipelined, replies matched in order.
//
// Connection: Start() connects and re-connects by itself (backoff from 100 ms up to 2 s). Each
// new connection first sends AUTH (when the URL has a password) and SELECT (when the URL names
// a database other than 0), pipelined ahead of everything else; a failed AUTH or SELECT is
// reported by last_error() and the connection is dropped and retried.
//
// Failure rules, as for NATS (DESIGN.md): a command is never queued while disconnected; it
// fails at once with kUnavailable. A command in flight when the connection drops fails with
// kOutcomeUnknown (it may or may not have run). A command unanswered after reply_timeout_ms
// fails with kTimeout, and the connection is dropped (replies after it could not be matched).
// A protocol error from the server drops the connection the same way.
//
// Every callback runs exactly once, on the loop thread, never inside the call that issued it
// (a fail-fast result is delivered from a zero-delay timer), and in the order the commands
// were sent. Destroying the client (loop thread) closes its socket and drops the pending
// callbacks without running them; it is safe at any time, including inside a callback. Its
// state is freed by libuv close callbacks, so the loop has to run once more after that.
//
// Thread: the loop thread only.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kvmap/kv_status.h"
#include "resp/reply_parser.h"

namespace gateway {

// redis://[[user]:password@]host[:port][/db], as redis-cli -u and the clients take it. Also
// accepts host:port without the scheme. rediss:// (TLS) is refused with a clear message.
struct RedisUrl {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;
  std::string user;      // empty: AUTH password only
  std::string password;  // empty: no AUTH
  // For logs and INFO: the URL without the password (redis://user:***@host:port/db).
  std::string Redacted() const;
};
// Returns an error message, or empty on success.
std::string ParseRedisUrl(std::string_view text, RedisUrl* out);

struct RedisClientOptions {
  RedisUrl url;
  int64_t connect_timeout_ms = 2000;
  int64_t reply_timeout_ms = 5000;
  resp::ReplyLimits limits;
  // Runs after each batch of callbacks (the replies of one socket read, or the posted
  // failures): the gateway flushes the sessions whose replies those callbacks made ready, as
  // it does after a batch of NATS completions.
  std::function<void()> after_batch;
};

class RedisClient {
 public:
  // status kOk: a reply arrived (it may be an error reply: check reply.is_error()). Otherwise
  // kUnavailable, kTimeout or kOutcomeUnknown as above, with an empty reply. The reply may be
  // moved from.
  using ReplyCallback = std::function<void(kvmap::KvStatus status, resp::Reply& reply)>;

  RedisClient(uv_loop_t* loop, RedisClientOptions options);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Starts connecting (and re-connecting after every loss) until destruction.
  void Start();
  // Sends one command. The argument views need to stay valid only during the call.
  void Command(const std::vector<std::string_view>& args, ReplyCallback cb);

  // Connected, and AUTH/SELECT went through.
  bool is_connected() const;
  // Commands sent and not yet answered.
  size_t in_flight() const;
  // Bytes queued for the socket and not yet written (callers pipelining a bulk load keep this
  // bounded).
  size_t write_backlog() const;
  // Calls cb (posted, never inline) once the connection is ready, or with false after
  // timeout_ms.
  void WhenConnected(int64_t timeout_ms, std::function<void(bool)> cb);
  // Why the last connection attempt or connection failed ("connection refused", "AUTH:
  // WRONGPASS ...", "protocol error: ..."). Never contains the password.
  const std::string& last_error() const;
  uint64_t connects() const;
  uint64_t disconnects() const;
  const RedisUrl& url() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace gateway
