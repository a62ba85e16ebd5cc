// SPDX-License-Identifier: Apache-2.0
#include "gateway/server.h"

#include <arpa/inet.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>

namespace gateway {
namespace {

std::string FormatAddr(const sockaddr_storage& ss) {
  char host[INET6_ADDRSTRLEN] = {0};
  int port = 0;
  if (ss.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    uv_ip4_name(a, host, sizeof(host));
    port = ntohs(a->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    uv_ip6_name(a, host, sizeof(host));
    port = ntohs(a->sin6_port);
  }
  return std::string(host) + ":" + std::to_string(port);
}

constexpr size_t kReadChunk = 64 * 1024;

}  // namespace

// One client socket. Deletes itself in its close callback.
class TcpConnection : public Transport {
 public:
  TcpConnection(Server* server) : server_(server) {
    uv_tcp_init(server->loop_, &handle_);
    handle_.data = this;
  }

  // After uv_accept succeeded.
  void Start() {
    uv_tcp_nodelay(&handle_, 1);
    sockaddr_storage peer{}, local{};
    int len = sizeof(peer);
    uv_tcp_getpeername(&handle_, reinterpret_cast<sockaddr*>(&peer), &len);
    len = sizeof(local);
    uv_tcp_getsockname(&handle_, reinterpret_cast<sockaddr*>(&local), &len);
    ServerContext* ctx = server_->context_;
    session_ = std::make_unique<Session>(ctx, this, ctx->NextClientId(), FormatAddr(peer),
                                         FormatAddr(local));
    ResumeReading();
  }

  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&handle_); }
  uv_handle_t* handle() { return reinterpret_cast<uv_handle_t*>(&handle_); }

  void SendBytes(std::string_view bytes) override {
    std::optional<size_t> written = WriteNow(bytes);
    if (written && *written < bytes.size()) Send(std::string(bytes.substr(*written)));
  }

  void Send(std::string&& bytes) override {
    std::optional<size_t> written = WriteNow(bytes);
    if (!written || *written == bytes.size()) return;
    size_t offset = *written;
    auto* req = new WriteReq;
    req->conn = this;
    req->data = std::move(bytes);
    req->offset = offset;
    req->req.data = req;
    size_t left = req->data.size() - offset;
    unsent_ += left;
    uv_buf_t buf = uv_buf_init(req->data.data() + offset, static_cast<unsigned>(left));
    int rc = uv_write(&req->req, stream(), &buf, 1, &TcpConnection::OnWrite);
    if (rc != 0) {
      unsent_ -= left;
      delete req;
      Close();
    }
  }

  void PauseReading() override {
    if (is_reading_ && !is_closing_) {
      uv_read_stop(stream());
      is_reading_ = false;
    }
  }

  void ResumeReading() override {
    if (!is_reading_ && !is_closing_) {
      uv_read_start(stream(), &TcpConnection::OnAlloc, &TcpConnection::OnRead);
      is_reading_ = true;
    }
  }

  void CloseAfterSend() override {
    is_close_pending_ = true;
    PauseReading();
    if (unsent_ == 0) Close();
  }

  size_t unsent_bytes() const override { return unsent_; }

  // uv_close cancels the queued writes; their callbacks free the buffers.
  void CloseNow() override { Close(); }

  void Close() {
    if (is_closing_) return;
    is_closing_ = true;
    if (is_reading_) uv_read_stop(stream());
    is_reading_ = false;
    if (session_) session_->Close();
    uv_close(handle(), &TcpConnection::OnClosed);
  }

 private:
  struct WriteReq {
    uv_write_t req;
    TcpConnection* conn;
    std::string data;
    size_t offset;
  };

  // Writes what the socket takes at once when nothing is queued before it. Returns how many
  // bytes went out (all of them for nothing to send), or nullopt when the connection is closed
  // or failed (then closed).
  std::optional<size_t> WriteNow(std::string_view bytes) {
    if (is_closing_) return std::nullopt;
    if (bytes.empty() || unsent_ > 0) return bytes.empty() ? bytes.size() : 0;
    uv_buf_t buf =
        uv_buf_init(const_cast<char*>(bytes.data()), static_cast<unsigned>(bytes.size()));
    int n = uv_try_write(stream(), &buf, 1);
    if (n < 0 && n != UV_EAGAIN) {
      Close();
      return std::nullopt;
    }
    return n > 0 ? static_cast<size_t>(n) : 0;
  }

  static void OnAlloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf) {
    auto* self = static_cast<TcpConnection*>(h->data);
    auto [ptr, len] = self->session_->PrepareInput(kReadChunk);
    *buf = uv_buf_init(ptr, static_cast<unsigned>(std::min(len, size_t{1} << 30)));
  }

  static void OnRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
    auto* self = static_cast<TcpConnection*>(s->data);
    if (nread > 0) {
      self->session_->CommitInput(static_cast<size_t>(nread));
      // Commands can give other clients output (PUBLISH to local subscribers): send it now,
      // in one write per client for the whole read.
      self->server_->context_->FlushScheduled();
    } else if (nread < 0) {
      // EOF or error: the client is gone; in-flight calls are dropped.
      self->Close();
    }
  }

  static void OnWrite(uv_write_t* req, int status) {
    auto* w = static_cast<WriteReq*>(req->data);
    TcpConnection* self = w->conn;
    self->unsent_ -= w->data.size() - w->offset;
    delete w;
    if (status != 0) {
      self->Close();
      return;
    }
    if (self->is_closing_) return;
    if (self->is_close_pending_) {
      if (self->unsent_ == 0) self->Close();
      return;
    }
    self->session_->OnOutputDrained();
  }

  static void OnClosed(uv_handle_t* h) {
    auto* self = static_cast<TcpConnection*>(h->data);
    self->server_->connections_.erase(self);
    delete self;
  }

  Server* server_;
  uv_tcp_t handle_;
  std::unique_ptr<Session> session_;
  size_t unsent_ = 0;
  bool is_reading_ = false;
  bool is_closing_ = false;
  bool is_close_pending_ = false;
};

Server::Server(uv_loop_t* loop, ServerContext* context) : loop_(loop), context_(context) {
  uv_tcp_init(loop_, &listener_);
  listener_.data = this;
}

Server::~Server() = default;

std::string Server::Listen() {
  const Config& cfg = context_->config();
  sockaddr_storage addr{};
  if (uv_ip4_addr(cfg.bind.c_str(), cfg.port, reinterpret_cast<sockaddr_in*>(&addr)) != 0 &&
      uv_ip6_addr(cfg.bind.c_str(), cfg.port, reinterpret_cast<sockaddr_in6*>(&addr)) != 0) {
    return "invalid bind address '" + cfg.bind + "'";
  }
  int rc = uv_tcp_bind(&listener_, reinterpret_cast<const sockaddr*>(&addr), 0);
  if (rc == 0) {
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 511, &Server::OnConnection);
  }
  if (rc != 0) {
    return "cannot listen on " + cfg.bind + ":" + std::to_string(cfg.port) + ": " +
           uv_strerror(rc);
  }
  is_listening_ = true;
  sockaddr_storage bound{};
  int len = sizeof(bound);
  uv_tcp_getsockname(&listener_, reinterpret_cast<sockaddr*>(&bound), &len);
  bound_port_ = bound.ss_family == AF_INET6
                    ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                    : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  if (!cfg.port_file.empty()) {
    // Write then rename, so a reader never sees a partial file.
    std::string tmp = cfg.port_file + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << bound_port_ << "\n";
    }
    std::rename(tmp.c_str(), cfg.port_file.c_str());
  }
  return {};
}

void Server::OnConnection(uv_stream_t* listener, int status) {
  auto* self = static_cast<Server*>(listener->data);
  if (status != 0) return;
  auto* conn = new TcpConnection(self);
  self->connections_.insert(conn);
  if (uv_accept(listener, conn->stream()) != 0) {
    conn->Close();
    return;
  }
  ServerStats& stats = self->context_->stats();
  if (static_cast<int64_t>(self->context_->sessions().size()) >=
      self->context_->config().maxclients) {
    ++stats.rejected_connections;
    static constexpr char kMsg[] = "-ERR max number of clients reached\r\n";
    uv_buf_t buf = uv_buf_init(const_cast<char*>(kMsg), sizeof(kMsg) - 1);
    uv_try_write(conn->stream(), &buf, 1);
    conn->Close();
    return;
  }
  ++stats.total_connections_received;
  conn->Start();
}

void Server::Stop() {
  if (is_listening_) {
    uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
    is_listening_ = false;
  }
  // Close every client socket still open (Close() is idempotent; the set shrinks only in the
  // close callbacks, which run later).
  for (TcpConnection* conn : connections_) conn->Close();
}

}  // namespace gateway
