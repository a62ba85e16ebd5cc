// SPDX-License-Identifier: Apache-2.0
//
// Server owns the listening socket and the client connections on one libuv loop. Each
// accepted socket becomes a TcpConnection, which implements Session's Transport: reads go
// straight into the session's input buffer, replies go out with uv_try_write first and a
// queued uv_write for what is left, whose buffer lives until its callback.
//
// Thread: the loop thread only.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <set>
#include <string>

#include "gateway/server_context.h"
#include "gateway/session.h"

namespace gateway {

class TcpConnection;

class Server {
 public:
  Server(uv_loop_t* loop, ServerContext* context);
  ~Server();

  // Binds and listens on config().bind:config().port. Returns an error message or empty.
  // Writes the bound port to config().port_file when set.
  std::string Listen();
  int bound_port() const { return bound_port_; }
  // Stops accepting and closes every connection (in-flight calls are dropped).
  void Stop();

  size_t connection_count() const { return connections_.size(); }

 private:
  friend class TcpConnection;
  static void OnConnection(uv_stream_t* listener, int status);

  uv_loop_t* loop_;
  ServerContext* context_;
  uv_tcp_t listener_;
  bool is_listening_ = false;
  int bound_port_ = 0;
  std::set<TcpConnection*> connections_;  // open client sockets (freed in their close callback)
};

}  // namespace gateway
