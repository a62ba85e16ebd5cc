// SPDX-License-Identifier: Apache-2.0
//
// Server owns the listening socket and the client connections on one libuv loop. Each
// accepted socket becomes a TcpConnection, which implements Session's Transport: reads go
// straight into the session's input buffer, replies go out with uv_try_write first and a
// queued uv_write for what is left, whose buffer lives until its callback.
//
// With --tls-port a second listener accepts TLS clients. Their TcpConnection puts a TlsSession
// (gateway/tls.h) between the socket and the session: ciphertext read from the socket is
// decrypted into the session's input, and replies are encrypted before the same write path.
// A failed handshake (a plain-text client, an untrusted or missing client certificate) is
// logged and closes that connection only.
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
#include "gateway/tls.h"

namespace gateway {

class TcpConnection;

class Server {
 public:
  Server(uv_loop_t* loop, ServerContext* context);
  ~Server();

  // Binds and listens on config().bind:config().port (unless the port is -1, off), and on
  // config().tls_port with TLS when it is not -1 (loading the certificates first). Returns an
  // error message or empty. Writes the bound ports to config().port_file and tls_port_file
  // when set, and the bound TLS port back to config().tls_port (CONFIG GET tls-port).
  std::string Listen();
  int bound_port() const { return bound_port_; }       // 0 when the plain listener is off
  int bound_tls_port() const { return bound_tls_port_; }  // 0 when TLS is off
  // Stops accepting and closes every connection (in-flight calls are dropped).
  void Stop();
  // Graceful shutdown (SIGTERM): stops accepting and stops reading requests; the calls already
  // read keep running. DrainStep, called periodically, closes each connection once its calls
  // are answered (after their replies are written) and returns how many are still open.
  void BeginDrain();
  size_t DrainStep();

  size_t connection_count() const { return connections_.size(); }

 private:
  friend class TcpConnection;
  static void OnConnection(uv_stream_t* listener, int status);
  // Binds `listener` to config().bind:port and listens; *bound gets the port. Error or empty.
  std::string BindAndListen(uv_tcp_t* listener, int port, int* bound);

  uv_loop_t* loop_;
  ServerContext* context_;
  uv_tcp_t listener_;
  bool is_listening_ = false;
  int bound_port_ = 0;
  uv_tcp_t tls_listener_;
  bool is_tls_listening_ = false;
  int bound_tls_port_ = 0;
  std::unique_ptr<TlsContext> tls_context_;  // set while TLS is on; shared by its connections
  std::set<TcpConnection*> connections_;  // open client sockets (freed in their close callback)
};

}  // namespace gateway
