// SPDX-License-Identifier: Apache-2.0
#include "gateway/server.h"

#include <arpa/inet.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <vector>

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

// Ciphertext of TLS clients is read here, then decrypted into the session's input; shared by
// the connections of this thread (it is consumed inside the read callback that filled it).
char* TlsReadBuffer() {
  thread_local std::vector<char> buffer(kReadChunk);
  return buffer.data();
}

// Logs a TLS failure of one client: at most 10 lines a second, then a count of the ones
// dropped, so a scanner hitting the TLS port cannot flood the log. Loop thread only.
void LogTlsFailure(const std::string& peer, const std::string& what) {
  constexpr int kLinesPerSecond = 10;
  static auto window_start = std::chrono::steady_clock::time_point{};
  static int lines = 0;
  static uint64_t suppressed = 0;
  auto now = std::chrono::steady_clock::now();
  if (now - window_start >= std::chrono::seconds(1)) {
    if (suppressed > 0) {
      std::fprintf(stderr, "tls: %llu more client TLS failures not logged\n",
                   static_cast<unsigned long long>(suppressed));
    }
    window_start = now;
    lines = 0;
    suppressed = 0;
  }
  if (++lines > kLinesPerSecond) {
    ++suppressed;
    return;
  }
  std::fprintf(stderr, "tls: client %s: %s\n", peer.c_str(), what.c_str());
}

}  // namespace

// One client socket. Deletes itself in its close callback. On the TLS listener it holds a
// TlsSession: Send/SendBytes encrypt, the read callback decrypts (see OnTlsRead).
class TcpConnection : public Transport {
 public:
  TcpConnection(Server* server, const TlsContext* tls_context = nullptr)
      : server_(server), tls_context_(tls_context) {
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
    if (tls_context_ != nullptr) {
      std::string error;
      tls_ = TlsSession::Create(*tls_context_, {}, &error);
      if (tls_ == nullptr) {
        LogTlsFailure(FormatAddr(peer), error);
        Close();
        return;
      }
    }
    session_ = std::make_unique<Session>(ctx, this, ctx->NextClientId(), FormatAddr(peer),
                                         FormatAddr(local));
    ResumeReading();
  }

  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&handle_); }
  uv_handle_t* handle() { return reinterpret_cast<uv_handle_t*>(&handle_); }

  void SendBytes(std::string_view bytes) override {
    if (tls_ != nullptr) {
      EncryptAndSend(bytes);
      return;
    }
    std::optional<size_t> written = WriteNow(bytes);
    if (written && *written < bytes.size()) SendRaw(std::string(bytes.substr(*written)));
  }

  void Send(std::string&& bytes) override {
    if (tls_ != nullptr) {
      EncryptAndSend(bytes);
      return;
    }
    SendRaw(std::move(bytes));
  }

  // Bytes exactly as they go on the wire (ciphertext for a TLS client).
  void SendRaw(std::string&& bytes) {
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
    if (!is_reading_ && !is_closing_ && !is_draining_) {
      uv_read_start(stream(), &TcpConnection::OnAlloc, &TcpConnection::OnRead);
      is_reading_ = true;
    }
  }

  void CloseAfterSend() override {
    if (tls_ != nullptr && !is_closing_ && !is_close_pending_) {
      // close_notify after the last reply, so the client sees a clean end of the stream.
      tls_->Shutdown();
      FlushTlsOutput();
    }
    is_close_pending_ = true;
    PauseReading();
    if (unsent_ == 0) Close();
  }

  size_t unsent_bytes() const override { return unsent_; }

  // Graceful shutdown: reads no more requests; DrainStep closes the connection once every
  // call already parsed is answered, and the close waits for the replies to be written.
  void BeginDrain() {
    is_draining_ = true;
    PauseReading();
  }
  void DrainStep() {
    if (is_closing_ || is_close_pending_) return;
    if (!session_ || session_->queued_calls() == 0) CloseAfterSend();
  }

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

  // Encrypts a reply and sends the ciphertext.
  void EncryptAndSend(std::string_view plaintext) {
    if (is_closing_) return;
    if (!tls_->Write(plaintext)) {
      LogTlsFailure(session_->peer_addr(), tls_->error());
      Close();
      return;
    }
    FlushTlsOutput();
  }

  void FlushTlsOutput() {
    if (!tls_->has_output()) return;
    std::string ciphertext;
    tls_->TakeOutput(&ciphertext);
    SendRaw(std::move(ciphertext));
  }

  // Ciphertext arrived: decrypt all of it into the session's input, then send what the TLS
  // layer produced (handshake messages, alerts). Everything decryptable is handed to the
  // session now even when it has paused reading (it keeps what it cannot parse yet), so no
  // plaintext is ever left inside OpenSSL waiting for a socket event that may not come.
  void OnTlsRead(const char* data, size_t n) {
    tls_->Feed(std::string_view(data, n));
    TlsSession::Status status = TlsSession::Status::kOk;
    while (!is_closing_ && status == TlsSession::Status::kOk) {
      auto [ptr, len] = session_->PrepareInput(kReadChunk);
      size_t filled = 0;
      while (filled < len) {
        TlsSession::ReadResult r = tls_->Read(ptr + filled, len - filled);
        filled += r.bytes;
        if (r.bytes == 0) {
          status = r.status;
          break;
        }
      }
      if (filled > 0) session_->CommitInput(filled);
    }
    if (is_closing_) return;
    FlushTlsOutput();  // before closing: a failed handshake's alert tells the client why
    if (status == TlsSession::Status::kError) {
      LogTlsFailure(session_->peer_addr(), (tls_->is_established() ? "" : "handshake failed: ") +
                                               tls_->error());
      Close();
    } else if (status == TlsSession::Status::kClosed) {
      Close();  // close_notify: the client is done, as EOF
    }
  }

  static void OnAlloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf) {
    auto* self = static_cast<TcpConnection*>(h->data);
    if (self->tls_ != nullptr) {
      *buf = uv_buf_init(TlsReadBuffer(), static_cast<unsigned>(kReadChunk));
      return;
    }
    auto [ptr, len] = self->session_->PrepareInput(kReadChunk);
    *buf = uv_buf_init(ptr, static_cast<unsigned>(std::min(len, size_t{1} << 30)));
  }

  static void OnRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
    auto* self = static_cast<TcpConnection*>(s->data);
    if (nread > 0) {
      if (self->tls_ != nullptr) {
        self->OnTlsRead(buf->base, static_cast<size_t>(nread));
      } else {
        self->session_->CommitInput(static_cast<size_t>(nread));
      }
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
  const TlsContext* tls_context_;  // the TLS listener's context, or null
  std::unique_ptr<TlsSession> tls_;  // set once Start() ran on the TLS listener
  uv_tcp_t handle_;
  std::unique_ptr<Session> session_;
  size_t unsent_ = 0;
  bool is_reading_ = false;
  bool is_closing_ = false;
  bool is_close_pending_ = false;
  bool is_draining_ = false;
};

Server::Server(uv_loop_t* loop, ServerContext* context) : loop_(loop), context_(context) {
  uv_tcp_init(loop_, &listener_);
  listener_.data = this;
  uv_tcp_init(loop_, &tls_listener_);
  tls_listener_.data = this;
}

Server::~Server() = default;

namespace {
// Write then rename, so a reader never sees a partial file.
void WritePortFile(const std::string& path, int port) {
  if (path.empty()) return;
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << port << "\n";
  }
  std::rename(tmp.c_str(), path.c_str());
}
}  // namespace

std::string Server::BindAndListen(uv_tcp_t* listener, int port, int* bound_port) {
  const Config& cfg = context_->config();
  sockaddr_storage addr{};
  if (uv_ip4_addr(cfg.bind.c_str(), port, reinterpret_cast<sockaddr_in*>(&addr)) != 0 &&
      uv_ip6_addr(cfg.bind.c_str(), port, reinterpret_cast<sockaddr_in6*>(&addr)) != 0) {
    return "invalid bind address '" + cfg.bind + "'";
  }
  int rc = uv_tcp_bind(listener, reinterpret_cast<const sockaddr*>(&addr), 0);
  if (rc == 0) {
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(listener), 511, &Server::OnConnection);
  }
  if (rc != 0) {
    return "cannot listen on " + cfg.bind + ":" + std::to_string(port) + ": " + uv_strerror(rc);
  }
  sockaddr_storage bound{};
  int len = sizeof(bound);
  uv_tcp_getsockname(listener, reinterpret_cast<sockaddr*>(&bound), &len);
  *bound_port = bound.ss_family == AF_INET6
                    ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                    : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  return {};
}

std::string Server::Listen() {
  Config& cfg = context_->config();
  if (cfg.tls_port >= 0) {
    // Certificates first: a bad file stops start-up before any port is taken.
    TlsServerOptions options;
    options.cert_file = cfg.tls_cert_file;
    options.key_file = cfg.tls_key_file;
    options.ca_cert_file = cfg.tls_ca_cert_file;
    options.ca_cert_dir = cfg.tls_ca_cert_dir;
    options.client_auth = cfg.tls_auth_clients == "no"         ? TlsClientAuth::kNone
                          : cfg.tls_auth_clients == "optional" ? TlsClientAuth::kOptional
                                                               : TlsClientAuth::kRequired;
    options.protocols = cfg.tls_protocols;
    options.ciphers = cfg.tls_ciphers;
    options.ciphersuites = cfg.tls_ciphersuites;
    std::string error;
    tls_context_ = TlsContext::CreateServer(options, &error);
    if (tls_context_ == nullptr) return "TLS: " + error;
  }
  if (cfg.port >= 0) {
    std::string err = BindAndListen(&listener_, cfg.port, &bound_port_);
    if (!err.empty()) return err;
    is_listening_ = true;
  }
  if (tls_context_ != nullptr) {
    std::string err = BindAndListen(&tls_listener_, cfg.tls_port, &bound_tls_port_);
    if (!err.empty()) return "TLS: " + err;
    is_tls_listening_ = true;
    cfg.tls_port = bound_tls_port_;
    std::fprintf(stderr, "TLS listening on %s:%d (client certificates: %s)\n", cfg.bind.c_str(),
                 bound_tls_port_, cfg.tls_auth_clients.c_str());
  }
  // Port files last: once one exists, every listener accepts.
  if (is_listening_) WritePortFile(cfg.port_file, bound_port_);
  if (is_tls_listening_) WritePortFile(cfg.tls_port_file, bound_tls_port_);
  return {};
}

void Server::OnConnection(uv_stream_t* listener, int status) {
  auto* self = static_cast<Server*>(listener->data);
  if (status != 0) return;
  bool is_tls = listener == reinterpret_cast<uv_stream_t*>(&self->tls_listener_);
  auto* conn = new TcpConnection(self, is_tls ? self->tls_context_.get() : nullptr);
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
    // A TLS client expects a handshake: it is closed without the (plain-text) reason.
    if (!is_tls) uv_try_write(conn->stream(), &buf, 1);
    conn->Close();
    return;
  }
  ++stats.total_connections_received;
  conn->Start();
}

void Server::BeginDrain() {
  for (uv_tcp_t* listener : {&listener_, &tls_listener_}) {
    auto* handle = reinterpret_cast<uv_handle_t*>(listener);
    if (!uv_is_closing(handle)) uv_close(handle, nullptr);
  }
  is_listening_ = false;
  is_tls_listening_ = false;
  for (TcpConnection* conn : connections_) conn->BeginDrain();
}

size_t Server::DrainStep() {
  for (TcpConnection* conn : connections_) conn->DrainStep();
  return connections_.size();
}

void Server::Stop() {
  // Both handles were initialized, listening or not (a listener that is off), so both close.
  for (uv_tcp_t* listener : {&listener_, &tls_listener_}) {
    auto* handle = reinterpret_cast<uv_handle_t*>(listener);
    if (!uv_is_closing(handle)) uv_close(handle, nullptr);
  }
  is_listening_ = false;
  is_tls_listening_ = false;
  // Close every client socket still open (Close() is idempotent; the set shrinks only in the
  // close callbacks, which run later).
  for (TcpConnection* conn : connections_) conn->Close();
}

}  // namespace gateway
