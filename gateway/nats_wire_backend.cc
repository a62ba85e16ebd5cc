// SPDX-License-Identifier: Apache-2.0
#include "gateway/nats_wire_backend.h"

#include <charconv>
#include <cstdio>
#include <random>

#include "kvmap/js_api.h"

namespace gateway {
namespace {

using kvmap::KvStatus;

constexpr size_t kReadChunk = 64 * 1024;
// Output above this is written at once instead of waiting for the end of the loop iteration.
constexpr size_t kFlushThreshold = 256 * 1024;
constexpr int64_t kTickMs = 50;

// True when the INFO JSON has "field":true (at any level; INFO is flat).
bool InfoFlag(std::string_view json, std::string_view field) {
  std::string key = "\"" + std::string(field) + "\"";
  size_t at = json.find(key);
  if (at == std::string_view::npos) return false;
  size_t p = at + key.size();
  while (p < json.size() && (json[p] == ' ' || json[p] == ':')) ++p;
  return json.substr(p, 4) == "true";
}

std::string RandomToken(size_t n) {
  static const char kAlphabet[] =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::random_device rd;
  std::mt19937_64 gen((static_cast<uint64_t>(rd()) << 32) ^ rd());
  std::string out(n, '0');
  for (char& c : out) c = kAlphabet[gen() % 62];
  return out;
}

}  // namespace

// One TCP connection. The backend points at it while it is current; the close callback
// frees it, so a late libuv callback for an old socket finds `backend` cleared.
struct NatsWireBackend::Socket {
  uv_tcp_t tcp;
  uv_connect_t connect_req;
  NatsWireBackend* backend = nullptr;

  static void OnClosed(uv_handle_t* h) { delete static_cast<Socket*>(h->data); }
  void Close() {
    backend = nullptr;
    if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&tcp))) {
      uv_close(reinterpret_cast<uv_handle_t*>(&tcp), &Socket::OnClosed);
    }
  }
};

NatsWireBackend::NatsWireBackend(uv_loop_t* loop, kvmap::Executor* executor,
                                 NatsWireOptions options)
    : loop_(loop), executor_(executor), options_(std::move(options)) {
  for (const std::string& raw : options_.servers) {
    ServerUrl u;
    std::string without_credentials;
    kvmap::NatsUrlCredentials creds = kvmap::SplitUrlCredentials(raw, &without_credentials);
    u.user = std::move(creds.user);
    u.pass = std::move(creds.pass);
    u.token = std::move(creds.token);
    std::string_view s = without_credentials;
    if (s.substr(0, 7) == "nats://") {
      s.remove_prefix(7);
    } else if (s.substr(0, 6) == "tls://") {
      s.remove_prefix(6);
      u.is_tls = true;
    }
    size_t colon = s.rfind(':');
    if (colon != std::string_view::npos) {
      u.host = std::string(s.substr(0, colon));
      std::from_chars(s.data() + colon + 1, s.data() + s.size(), u.port);
    } else {
      u.host = std::string(s);
    }
    u.tls_name = u.host.empty() ? std::string("localhost") : u.host;
    if (u.host.empty() || u.host == "localhost") u.host = "127.0.0.1";
    u.display = (u.is_tls ? "tls://" : "nats://") + u.host + ":" + std::to_string(u.port);
    urls_.push_back(std::move(u));
  }
  inbox_prefix_ = "_INBOX." + RandomToken(22) + ".";
}

NatsWireBackend::~NatsWireBackend() { Stop(); }

void NatsWireBackend::Start() {
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
  uv_check_init(loop_, &check_);
  check_.data = this;
  uv_check_start(&check_, &NatsWireBackend::OnCheck);
  uv_timer_start(
      &timer_, [](uv_timer_t* t) { static_cast<NatsWireBackend*>(t->data)->OnTimer(); }, kTickMs,
      kTickMs);
  are_handles_open_ = true;
  Connect();
}

void NatsWireBackend::Stop() {
  if (state_ == State::kStopped) return;
  if (state_ != State::kIdle) Disconnect("gateway stopping", /*is_stopping=*/true);
  state_ = State::kStopped;
  if (are_handles_open_) {
    uv_timer_stop(&timer_);
    uv_check_stop(&check_);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&check_), nullptr);
    are_handles_open_ = false;
  }
}

kvmap::NatsBackendStats NatsWireBackend::stats() const {
  kvmap::NatsBackendStats s;
  s.ops_sent = ops_sent_;
  s.ops_timed_out = ops_timed_out_;
  s.ops_failed_on_disconnect = ops_failed_on_disconnect_;
  s.connects = connects_;
  s.disconnects = disconnects_;
  s.pending = pending_.size();
  return s;
}

// ---------------------------------------------------------------------------------------------
// Connection life cycle

void NatsWireBackend::Connect() {
  if (state_ == State::kStopped || urls_.empty()) return;
  const ServerUrl& url = urls_[next_url_ % urls_.size()];
  ++next_url_;
  if (!options_.auth_files.empty()) {
    // Read again on every attempt: a renewed creds file is used from the next connection on.
    std::string err = kvmap::LoadNatsUserAuth(options_.auth_files, &auth_);
    if (!err.empty()) {
      auth_error_ = err;
      std::fprintf(stderr, "nats: %s\n", err.c_str());
      ScheduleReconnect();
      return;
    }
  }
  sockaddr_storage addr{};
  if (uv_ip4_addr(url.host.c_str(), url.port, reinterpret_cast<sockaddr_in*>(&addr)) != 0 &&
      uv_ip6_addr(url.host.c_str(), url.port, reinterpret_cast<sockaddr_in6*>(&addr)) != 0) {
    std::fprintf(stderr, "nats: cannot use server address %s\n", url.display.c_str());
    ScheduleReconnect();
    return;
  }
  socket_ = new Socket;
  socket_->backend = this;
  uv_tcp_init(loop_, &socket_->tcp);
  socket_->tcp.data = socket_;
  socket_->connect_req.data = socket_;
  current_url_ = url.display;
  state_ = State::kConnecting;
  connect_deadline_ms_ = static_cast<int64_t>(uv_now(loop_)) + options_.connect_timeout_ms;
  int rc = uv_tcp_connect(&socket_->connect_req, &socket_->tcp,
                          reinterpret_cast<const sockaddr*>(&addr),
                          [](uv_connect_t* req, int status) {
                            auto* sock = static_cast<Socket*>(req->data);
                            if (sock->backend != nullptr) sock->backend->OnTcpConnected(status);
                          });
  if (rc != 0) Disconnect(std::string("connect: ") + uv_strerror(rc));
}

void NatsWireBackend::OnTcpConnected(int status) {
  if (status != 0) {
    Disconnect(std::string("connect to ") + current_url_ + ": " + uv_strerror(status));
    return;
  }
  uv_tcp_nodelay(&socket_->tcp, 1);
  state_ = State::kHandshake;
  is_connect_sent_ = false;
  in_.clear();
  in_pos_ = 0;
  read_base_ = std::string::npos;
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(&socket_->tcp),
      [](uv_handle_t* h, size_t, uv_buf_t* buf) {
        auto* sock = static_cast<Socket*>(h->data);
        NatsWireBackend* self = sock->backend;
        if (self == nullptr) {
          static char sink[4096];
          *buf = uv_buf_init(sink, sizeof(sink));
          return;
        }
        size_t used = self->in_.size();
        self->read_base_ = used;
        self->in_.resize(used + kReadChunk);
        *buf = uv_buf_init(self->in_.data() + used, kReadChunk);
      },
      [](uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
        auto* sock = static_cast<Socket*>(s->data);
        NatsWireBackend* self = sock->backend;
        if (self == nullptr) return;
        // alloc grew in_ by a whole chunk (when it was called); keep only what arrived.
        size_t base = self->read_base_;
        if (self->read_base_ != std::string::npos) {
          self->in_.resize(self->read_base_ + (nread > 0 ? static_cast<size_t>(nread) : 0));
          self->read_base_ = std::string::npos;
        }
        if (nread < 0) {
          self->Disconnect(nread == UV_EOF ? "server closed the connection"
                                           : std::string("read: ") + uv_strerror(nread));
          self->AfterBatch();
          return;
        }
        if (nread > 0) self->last_read_ms_ = static_cast<int64_t>(uv_now(self->loop_));
        // Under TLS what arrived is ciphertext: in_ gets its plaintext instead.
        if (nread > 0 && self->tls_ != nullptr && base != std::string::npos &&
            !self->DecryptInput(base)) {
          self->AfterBatch();
          return;
        }
        self->OnReadable(nullptr, static_cast<size_t>(nread));
      });
}

void NatsWireBackend::Disconnect(const std::string& reason, bool is_stopping) {
  if (state_ == State::kStopped || state_ == State::kIdle) return;
  bool was_connected = state_ == State::kConnected;
  if (socket_ != nullptr) {
    socket_->Close();
    socket_ = nullptr;
  }
  // Unsent output belongs to the dead socket; it is failed below, never sent later.
  out_.clear();
  tls_.reset();
  tls_out_.clear();
  tls_info_.clear();
  is_write_in_flight_ = false;
  in_.clear();
  in_pos_ = 0;
  pings_outstanding_ = 0;
  state_ = State::kIdle;
  if (was_connected && is_stopping) {
    std::fprintf(stderr, "nats: connection closed (%s)\n", reason.c_str());
  } else if (was_connected) {
    ++disconnects_;
    std::fprintf(stderr, "nats: connection lost (%s); failing pending operations\n",
                 reason.c_str());
  } else {
    static int64_t last_log = 0;
    int64_t now = static_cast<int64_t>(uv_now(loop_));
    if (now - last_log >= 2000) {
      last_log = now;
      std::fprintf(stderr, "nats: %s\n", reason.c_str());
    }
  }
  follower_sids_.clear();
  for (const auto& [bucket, follower] : followers_) follower->OnConnectionLost();
  // PINGs of the dead connection are never answered: their confirmations fail.
  auto pongs = std::move(pong_waiters_);
  pong_waiters_.clear();
  for (auto& cb : pongs) {
    if (cb) executor_->Post([cb = std::move(cb)] { cb(KvStatus::kUnavailable); });
  }
  in_flight_bytes_ = 0;
  RunBacklogWaiters();  // nothing is waiting to be written any more
  FailAllPending(KvStatus::kOutcomeUnknown, KvStatus::kUnavailable,
                 "connection to NATS lost: " + reason);
  // Bucket ensures waiting on this connection fail; they are retried on demand.
  auto waiting = std::move(ensuring_);
  ensuring_.clear();
  for (auto& [bucket, cbs] : waiting) {
    for (auto& cb : cbs) {
      executor_->Post([cb = std::move(cb)] {
        cb(KvStatus::kUnavailable, "not connected to NATS");
      });
    }
  }
  ScheduleReconnect();
}

void NatsWireBackend::ScheduleReconnect() {
  if (state_ == State::kStopped) return;
  state_ = State::kIdle;
  backoff_ms_ = backoff_ms_ == 0 ? 100 : std::min<int64_t>(backoff_ms_ * 2, 2000);
  next_connect_ms_ = static_cast<int64_t>(uv_now(loop_)) + backoff_ms_;
}

void NatsWireBackend::OnTimer() {
  int64_t now = static_cast<int64_t>(uv_now(loop_));
  if (state_ == State::kIdle && now >= next_connect_ms_) {
    Connect();
  } else if ((state_ == State::kConnecting || state_ == State::kHandshake) &&
             now >= connect_deadline_ms_) {
    Disconnect("connect to " + current_url_ + " timed out");
  } else if (state_ == State::kConnected && now >= next_ping_ms_) {
    if (pings_outstanding_ >= 2 && now - last_read_ms_ < options_.ping_interval_ms) {
      // The PONGs queue behind a large backlog of our own messages (80,000 puts in flight),
      // but the server is answering them: busy, not gone. Check again later.
      next_ping_ms_ = now + options_.ping_interval_ms;
    } else if (pings_outstanding_ >= 2) {
      Disconnect("server stopped answering PING");
    } else {
      SendPing(nullptr);
      ++pings_outstanding_;
      next_ping_ms_ = now + options_.ping_interval_ms;
      FlushOutput();
    }
  }
  // Expire overdue operations (deadlines_ is in deadline order; answered ones are skipped).
  bool expired_any = false;
  while (!deadlines_.empty() && deadlines_.front().first <= now) {
    uint64_t token = deadlines_.front().second;
    deadlines_.pop_front();
    auto it = pending_.find(token);
    if (it == pending_.end()) continue;
    Pending p = std::move(it->second);
    pending_.erase(it);
    ++ops_timed_out_;
    FailPending(p, KvStatus::kOutcomeUnknown, KvStatus::kTimeout, "no answer from NATS in time");
    expired_any = true;
  }
  if (pending_.empty()) deadlines_.clear();
  // Followers expire keys when connected, and time out their waiters either way.
  for (const auto& [bucket, follower] : followers_) follower->Tick(now);
  FlushOutput();
  if (expired_any || !followers_.empty()) AfterBatch();
}

// ---------------------------------------------------------------------------------------------
// Output

void NatsWireBackend::OnCheck(uv_check_t* handle) {
  static_cast<NatsWireBackend*>(handle->data)->FlushOutput();
}

void NatsWireBackend::FlushOutput() {
  if (is_write_in_flight_ || socket_ == nullptr ||
      (state_ != State::kConnected && state_ != State::kHandshake)) {
    return;
  }
  // What goes on the wire: out_ itself, or under TLS its ciphertext (plaintext waits in out_
  // until the handshake is done; handshake messages are in the session's output meanwhile).
  std::string& wire = tls_ != nullptr ? tls_out_ : out_;
  if (tls_ != nullptr) {
    if (!out_.empty() && tls_->is_established()) {
      if (!tls_->Write(out_)) {
        Disconnect("TLS: " + tls_->error());
        AfterBatch();
        return;
      }
      out_.clear();
    }
    tls_->TakeOutput(&tls_out_);
  }
  if (wire.empty()) return;
  auto* stream = reinterpret_cast<uv_stream_t*>(&socket_->tcp);
  uv_buf_t buf = uv_buf_init(wire.data(), static_cast<unsigned>(wire.size()));
  int n = uv_try_write(stream, &buf, 1);
  if (n < 0 && n != UV_EAGAIN) {
    Disconnect(std::string("write: ") + uv_strerror(n));
    AfterBatch();
    return;
  }
  size_t written = n > 0 ? static_cast<size_t>(n) : 0;
  if (written == wire.size()) {
    wire.clear();
    RunBacklogWaiters();
    return;
  }
  struct WriteReq {
    uv_write_t req;
    std::string data;
    Socket* socket;
  };
  auto* req = new WriteReq;
  req->data = wire.substr(written);
  req->socket = socket_;
  req->req.data = req;
  wire.clear();
  is_write_in_flight_ = true;
  in_flight_bytes_ = req->data.size();
  uv_buf_t rest = uv_buf_init(req->data.data(), static_cast<unsigned>(req->data.size()));
  int rc = uv_write(&req->req, stream, &rest, 1, [](uv_write_t* r, int status) {
    auto* w = static_cast<WriteReq*>(r->data);
    NatsWireBackend* self = w->socket->backend;
    delete w;
    if (self == nullptr) return;  // an old socket
    self->is_write_in_flight_ = false;
    self->in_flight_bytes_ = 0;
    if (status != 0) {
      self->Disconnect(std::string("write: ") + uv_strerror(status));
      self->AfterBatch();
      return;
    }
    self->FlushOutput();
    self->RunBacklogWaiters();
    self->AfterBatch();
  });
  if (rc != 0) {
    delete req;
    is_write_in_flight_ = false;
    Disconnect(std::string("write: ") + uv_strerror(rc));
  }
}

// ---------------------------------------------------------------------------------------------
// Input

bool NatsWireBackend::StartTlsIfNeeded(std::string_view info) {
  if (tls_ != nullptr) return false;  // already upgraded: CONNECT follows
  const ServerUrl& url = urls_[(next_url_ + urls_.size() - 1) % urls_.size()];
  bool is_required = InfoFlag(info, "tls_required");
  bool is_offered = is_required || InfoFlag(info, "tls_available");
  bool is_wanted =
      url.is_tls || !options_.tls.ca_file.empty() || !options_.tls.cert_file.empty();
  if (!is_wanted && !is_required) return false;
  if (!is_offered) {
    // Never fall back to plain text when TLS was asked for.
    Disconnect(url.display + " does not offer TLS, and TLS was asked for (tls:// or --nats-tls-*)");
    return true;
  }
  std::string error;
  if (tls_context_ == nullptr) {
    tls_context_ = TlsContext::CreateClient(options_.tls, &error);
    if (tls_context_ == nullptr) {
      Disconnect("TLS setup: " + error);
      return true;
    }
  }
  tls_ = TlsSession::Create(*tls_context_, url.tls_name, &error);
  if (tls_ == nullptr) {
    Disconnect("TLS: " + error);
    return true;
  }
  tls_info_ = std::string(info);
  if (tls_->StartHandshake() == TlsSession::Status::kError) {
    Disconnect("TLS handshake with " + current_url_ + " failed: " + tls_->error());
    return true;
  }
  FlushOutput();  // the ClientHello
  return true;
}

bool NatsWireBackend::DecryptInput(size_t base) {
  tls_->Feed(std::string_view(in_.data() + base, in_.size() - base));
  in_.resize(base);
  const bool was_established = tls_->is_established();
  TlsSession::Status status = tls_->ReadAll(&in_);
  if (status == TlsSession::Status::kError || status == TlsSession::Status::kClosed) {
    std::string reason =
        status == TlsSession::Status::kClosed ? std::string("server closed the TLS session")
        : was_established ? "TLS session with " + current_url_ + " failed: " + tls_->error()
                          : "TLS handshake with " + current_url_ + " failed: " + tls_->error();
    out_.clear();   // the connection is lost: only the alert, if any, goes out
    FlushOutput();  // it tells the server why
    Disconnect(reason);
    return false;
  }
  if (!was_established && tls_->is_established()) {
    // Once per connection, but not once per failing attempt while reconnecting.
    static int64_t last_log = -1;
    int64_t now = static_cast<int64_t>(uv_now(loop_));
    if (last_log < 0 || now - last_log >= 2000) {
      last_log = now;
      std::fprintf(stderr, "nats: TLS with %s (%s)\n", current_url_.c_str(),
                   tls_->Description().c_str());
    }
    // Now answer the INFO that came before the handshake (CONNECT, the inbox SUB, PING).
    kvmap::NatsOp info;
    info.type = kvmap::NatsOpType::kInfo;
    info.text = tls_info_;
    HandleOp(info);
  }
  FlushOutput();  // handshake messages, or what HandleOp queued
  return socket_ != nullptr;
}

void NatsWireBackend::OnReadable(const char*, size_t) {
  std::string error;
  while (socket_ != nullptr && in_pos_ < in_.size()) {
    kvmap::NatsOp op;
    size_t consumed = 0;
    std::string_view data(in_.data() + in_pos_, in_.size() - in_pos_);
    kvmap::NatsParseStatus st = kvmap::ParseNatsOp(data, &op, &consumed, &error);
    if (st == kvmap::NatsParseStatus::kNeedMore) break;
    if (st == kvmap::NatsParseStatus::kError) {
      Disconnect("protocol error from server: " + error);
      break;
    }
    HandleOp(op);
    in_pos_ += consumed;
  }
  if (socket_ != nullptr) {
    if (in_pos_ == in_.size()) {
      in_.clear();
      in_pos_ = 0;
    } else if (in_pos_ > 0) {
      in_.erase(0, in_pos_);
      in_pos_ = 0;
    }
  }
  AfterBatch();
}

void NatsWireBackend::HandleOp(const kvmap::NatsOp& op) {
  switch (op.type) {
    case kvmap::NatsOpType::kMsg:
      if (op.sid == 1) {
        CompleteMessage(op);
      } else if (auto it = follower_sids_.find(op.sid); it != follower_sids_.end()) {
        it->second->OnMessage(op);
      } else if (auto sub = bus_subs_.find(op.sid); sub != bus_subs_.end()) {
        // The handler delivers to sessions; it never unsubscribes, so `sub` stays valid.
        sub->second.on_message(op.subject, op.payload);
      }
      break;
    case kvmap::NatsOpType::kPing:
      out_.append("PONG\r\n");
      break;
    case kvmap::NatsOpType::kPong:
      if (state_ == State::kHandshake) {
        state_ = State::kConnected;
        backoff_ms_ = 0;
        auth_error_.clear();
        ++connects_;
        next_ping_ms_ = static_cast<int64_t>(uv_now(loop_)) + options_.ping_interval_ms;
        std::fprintf(stderr, "nats: connected to %s\n", current_url_.c_str());
        // Pub/sub subscriptions outlive connections: subscribe again, with the same sids.
        for (const auto& [sid, sub] : bus_subs_) kvmap::AppendSub(&out_, sub.subject, sid);
        // Buckets are checked again on their next use: the server may have lost its store.
        ready_buckets_.clear();
        // Followers resume after their last applied sequence once their bucket is checked.
        for (const auto& [bucket, follower] : followers_) {
          EnsureBucket(bucket, [](KvStatus, std::string) {});
        }
      } else if (!pong_waiters_.empty()) {
        auto cb = std::move(pong_waiters_.front());
        pong_waiters_.pop_front();
        if (cb) {
          cb(KvStatus::kOk);
        } else if (pings_outstanding_ > 0) {
          --pings_outstanding_;
        }
      }
      break;
    case kvmap::NatsOpType::kInfo:
      if (state_ == State::kHandshake && !is_connect_sent_) {
        if (StartTlsIfNeeded(op.text)) break;  // CONNECT goes once the handshake is done
        is_connect_sent_ = true;
        int64_t max_payload = kvmap::InfoMaxPayload(op.text);
        if (max_payload > 0) max_payload_ = max_payload;
        const ServerUrl& url = urls_[(next_url_ + urls_.size() - 1) % urls_.size()];
        kvmap::NatsConnectOptions connect;
        connect.name = options_.client_name;
        connect.user = url.user;
        connect.pass = url.pass;
        connect.token = url.token;
        kvmap::AddUserAuthToConnect(auth_, kvmap::InfoNonce(op.text), &connect);
        // PUBLISH delivers to this gateway's own subscribers itself (DESIGN.md decision 8).
        connect.echo = false;
        kvmap::AppendConnect(&out_, connect);
        kvmap::AppendSub(&out_, inbox_prefix_ + "*", 1);
        out_.append("PING\r\n");
        FlushOutput();
      }
      break;
    case kvmap::NatsOpType::kErr: {
      std::string text(op.text);
      std::fprintf(stderr, "nats: server error: %s\n", text.c_str());
      // Most -ERR are followed by the server closing the connection; authorization errors
      // during the handshake are final for this attempt.
      if (state_ == State::kHandshake) {
        if (kvmap::IsNatsAuthError(text)) {
          auth_error_ = "NATS server refused the credentials: " + text;
        }
        Disconnect("server refused the connection: " + text);
      }
      break;
    }
    case kvmap::NatsOpType::kOk:
      break;
  }
}

void NatsWireBackend::CompleteMessage(const kvmap::NatsOp& op) {
  std::string_view subject = op.subject;
  if (subject.size() <= inbox_prefix_.size() ||
      subject.substr(0, inbox_prefix_.size()) != inbox_prefix_) {
    return;
  }
  uint64_t token = 0;
  std::string_view tail = subject.substr(inbox_prefix_.size());
  if (std::from_chars(tail.data(), tail.data() + tail.size(), token).ec != std::errc()) return;
  auto it = pending_.find(token);
  if (it == pending_.end()) return;  // answered after it timed out
  Pending p = std::move(it->second);
  pending_.erase(it);

  std::string_view description;
  int status = op.headers.empty() ? 0 : kvmap::HeaderStatus(op.headers, &description);
  if (status == 503) {
    // No responders: the bucket's stream is missing. Check buckets again on their next use.
    ready_buckets_.clear();
  }
  switch (p.kind) {
    case OpKind::kApi:
      p.api_cb(status == 503 ? KvStatus::kUnavailable : KvStatus::kOk, status, op.payload);
      return;
    case OpKind::kRaw: {
      kvmap::StreamReply r;
      r.status = KvStatus::kOk;
      r.code = status;
      r.headers = op.headers;
      r.payload = op.payload;
      p.raw_cb(r);
      return;
    }
    case OpKind::kWrite: {
      kvmap::WriteResult r;
      if (status == 503) {
        r.status = KvStatus::kNotFound;
        r.detail = "bucket stream not available";
      } else {
        r = kvmap::ParsePubAck(op.payload);
      }
      if (r.status == KvStatus::kOk && !p.bucket.empty()) {
        uint64_t& acked = last_acked_[p.bucket];
        if (r.revision > acked) acked = r.revision;
      }
      p.write_cb(std::move(r));
      return;
    }
    case OpKind::kGet: {
      kvmap::GetResult r;
      if (p.is_leader_get && status == 0) {
        p.get_cb(kvmap::ParseStreamMsgGet(op.payload));
        return;
      }
      if (status != 0) {
        r.status = status == 404 ? KvStatus::kNotFound : KvStatus::kInternal;
        r.detail = status == 503 ? "bucket stream not available" : std::string(description);
        p.get_cb(std::move(r));
        return;
      }
      p.get_cb(kvmap::ParseDirectGetMessage(op.headers, op.payload));
      return;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Operations

uint64_t NatsWireBackend::Register(Pending pending) {
  uint64_t token = next_token_++;
  pending_.emplace(token, std::move(pending));
  deadlines_.emplace_back(static_cast<int64_t>(uv_now(loop_)) + options_.op_timeout_ms, token);
  ++ops_sent_;
  return token;
}

void NatsWireBackend::AppendReplySubject(uint64_t token) {
  out_.append(inbox_prefix_);
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), token);
  out_.append(buf, static_cast<size_t>(end - buf));
}

void NatsWireBackend::PostFailure(Pending p, KvStatus status, const std::string& detail) {
  executor_->Post([p = std::move(p), status, detail]() mutable {
    switch (p.kind) {
      case OpKind::kGet: {
        kvmap::GetResult r;
        r.status = status;
        r.detail = detail;
        p.get_cb(std::move(r));
        break;
      }
      case OpKind::kWrite: {
        kvmap::WriteResult r;
        r.status = status;
        r.detail = detail;
        p.write_cb(std::move(r));
        break;
      }
      case OpKind::kApi:
        p.api_cb(status, 0, {});
        break;
      case OpKind::kRaw: {
        kvmap::StreamReply r;
        r.status = status;
        r.detail = detail;
        p.raw_cb(r);
        break;
      }
    }
  });
}

void NatsWireBackend::FailPending(Pending& p, KvStatus write_status, KvStatus read_status,
                                  const std::string& detail) {
  switch (p.kind) {
    case OpKind::kGet: {
      kvmap::GetResult r;
      r.status = read_status;
      r.detail = detail;
      p.get_cb(std::move(r));
      break;
    }
    case OpKind::kWrite: {
      kvmap::WriteResult r;
      r.status = write_status;
      r.detail = detail;
      p.write_cb(std::move(r));
      break;
    }
    case OpKind::kApi:
      p.api_cb(read_status, 0, {});
      break;
    case OpKind::kRaw: {
      kvmap::StreamReply r;
      r.status = read_status;
      r.detail = detail;
      p.raw_cb(r);
      break;
    }
  }
}

void NatsWireBackend::FailAllPending(KvStatus write_status, KvStatus read_status,
                                     const std::string& detail) {
  // Callbacks may issue new operations (which fail fast while disconnected), so take the table.
  std::unordered_map<uint64_t, Pending> failed;
  failed.swap(pending_);
  deadlines_.clear();
  ops_failed_on_disconnect_ += failed.size();
  for (auto& [token, p] : failed) FailPending(p, write_status, read_status, detail);
}

void NatsWireBackend::Get(std::string_view bucket, std::string_view key,
                          kvmap::GetCallback cb) {
  Pending p{OpKind::kGet, std::move(cb), nullptr, nullptr, {}};
  if (key.size() > max_key_length()) {
    PostFailure(std::move(p), KvStatus::kInvalidKey, "key too long");
    return;
  }
  if (state_ != State::kConnected) {
    PostFailure(std::move(p), KvStatus::kUnavailable, "not connected to NATS");
    return;
  }
  if (auto leader = leader_read_buckets_.find(bucket); leader != leader_read_buckets_.end()) {
    p.is_leader_get = true;
    uint64_t token = Register(std::move(p));
    std::string subject = "$KV.";
    subject.append(bucket).push_back('.');
    subject.append(key);
    std::string reply = inbox_prefix_ + std::to_string(token);
    kvmap::AppendPub(&out_, "$JS.API.STREAM.MSG.GET.KV_" + *leader, reply,
                     kvmap::BuildLastBySubjectRequest(subject));
    if (out_.size() >= kFlushThreshold) FlushOutput();
    return;
  }
  uint64_t token = Register(std::move(p));
  // PUB $JS.API.DIRECT.GET.KV_<b>.$KV.<b>.<key> <inbox><token> 0
  out_.append("PUB $JS.API.DIRECT.GET.KV_").append(bucket).append(".$KV.").append(bucket);
  out_.push_back('.');
  out_.append(key).push_back(' ');
  AppendReplySubject(token);
  out_.append(" 0\r\n\r\n");
  if (out_.size() >= kFlushThreshold) FlushOutput();
}

void NatsWireBackend::Write(const kvmap::WriteRequest& request, kvmap::WriteCallback cb) {
  Pending p{OpKind::kWrite, nullptr, std::move(cb), nullptr, std::string(request.bucket)};
  if (request.key.size() > max_key_length()) {
    PostFailure(std::move(p), KvStatus::kInvalidKey, "key too long");
    return;
  }
  if (state_ != State::kConnected) {
    PostFailure(std::move(p), KvStatus::kUnavailable, "not connected to NATS");
    return;
  }
  kvmap::Headers headers;
  headers.reserve(request.headers.size() + 4);
  for (const kvmap::Header& h : request.headers) {
    if (kvmap::IsWritableHeader(h.first) && h.first != kvmap::kHdrKvOperation) {
      headers.push_back(h);
    }
  }
  const bool is_marker = request.op != kvmap::EntryOp::kPut;
  if (request.op == kvmap::EntryOp::kDelete) {
    headers.emplace_back("KV-Operation", "DEL");
  } else if (request.op == kvmap::EntryOp::kPurge) {
    headers.emplace_back("KV-Operation", "PURGE");
    headers.emplace_back("Nats-Rollup", "sub");
  } else if (request.op == kvmap::EntryOp::kFlush) {
    headers.emplace_back("KV-Operation", "PURGE");
  }
  if (request.expected_revision) {
    headers.emplace_back("Nats-Expected-Last-Subject-Sequence",
                         std::to_string(*request.expected_revision));
  }
  if (!request.msg_id.empty()) headers.emplace_back("Nats-Msg-Id", request.msg_id);
  std::string_view payload = is_marker ? std::string_view() : request.value;
  size_t size = payload.size() + (headers.empty() ? 0 : kvmap::HeaderBlockSize(headers));
  if (static_cast<int64_t>(size) > max_payload_) {
    PostFailure(std::move(p), KvStatus::kTooLarge, "message exceeds the server's max_payload");
    return;
  }
  uint64_t token = Register(std::move(p));
  std::string reply = inbox_prefix_;
  reply += std::to_string(token);
  std::string subject = "$KV.";
  subject.append(request.bucket).push_back('.');
  subject.append(request.key);
  if (headers.empty()) {
    kvmap::AppendPub(&out_, subject, reply, payload);
  } else {
    kvmap::AppendHpub(&out_, subject, reply, headers, payload);
  }
  if (out_.size() >= kFlushThreshold) FlushOutput();
}

void NatsWireBackend::ApiRequest(const std::string& subject, const std::string& body,
                                 ApiCallback cb) {
  Pending p{OpKind::kApi, nullptr, nullptr, std::move(cb), {}};
  if (state_ != State::kConnected) {
    PostFailure(std::move(p), KvStatus::kUnavailable, "not connected to NATS");
    return;
  }
  uint64_t token = Register(std::move(p));
  std::string reply = inbox_prefix_ + std::to_string(token);
  kvmap::AppendPub(&out_, subject, reply, body);
  FlushOutput();
}

bool NatsWireBackend::IsBucketReady(const std::string& bucket) const {
  return is_connected() && ready_buckets_.count(bucket) != 0;
}

void NatsWireBackend::EnsureBucket(const std::string& bucket, kvmap::BucketCallback cb) {
  if (!kvmap::IsValidBucketName(bucket) ||
      bucket.size() > kvmap::NatsKvBackend::kMaxBucketNameLength) {
    executor_->Post([cb = std::move(cb), bucket] {
      cb(KvStatus::kInvalidKey, "invalid bucket name '" + bucket + "'");
    });
    return;
  }
  if (IsBucketReady(bucket)) {
    executor_->Post([cb = std::move(cb)] { cb(KvStatus::kOk, {}); });
    return;
  }
  if (state_ != State::kConnected) {
    executor_->Post([cb = std::move(cb)] { cb(KvStatus::kUnavailable, "not connected to NATS"); });
    return;
  }
  auto& waiters = ensuring_[bucket];
  waiters.push_back(std::move(cb));
  if (waiters.size() == 1) RunEnsure(bucket);
}

void NatsWireBackend::RunEnsure(const std::string& bucket) {
  ApiRequest("$JS.API.STREAM.INFO.KV_" + bucket, "",
             [this, bucket](KvStatus st, int status, std::string_view payload) {
               if (st != KvStatus::kOk) {
                 FinishEnsure(bucket, st, status == 503 ? "JetStream is not enabled on the NATS "
                                                          "server"
                                                        : "stream info failed");
                 return;
               }
               auto err = kvmap::ParseJsApiError(payload);
               if (!err) {
                 if (kvmap::FindJsonUint(payload, "num_replicas").value_or(1) > 1) {
                   leader_read_buckets_.insert(bucket);
                 } else {
                   leader_read_buckets_.erase(bucket);
                 }
                 FinishEnsure(bucket, KvStatus::kOk, {},
                              kvmap::FindJsonUint(payload, "last_seq").value_or(0));
                 return;
               }
               if (err->err_code != kvmap::kJsErrStreamNotFound) {
                 FinishEnsure(bucket, KvStatus::kInternal, "stream info: " + err->description);
                 return;
               }
               kvmap::BucketConfig config;
               config.name = bucket;
               config.replicas = options_.replicas;
               ApiRequest("$JS.API.STREAM.CREATE.KV_" + bucket, kvmap::BuildKvStreamConfig(config),
                          [this, bucket](KvStatus st2, int, std::string_view answer) {
                            if (st2 != KvStatus::kOk) {
                              FinishEnsure(bucket, st2, "create bucket failed");
                              return;
                            }
                            if (auto e = kvmap::ParseJsApiError(answer)) {
                              FinishEnsure(bucket, KvStatus::kInternal,
                                           "create bucket: " + e->description);
                              return;
                            }
                            if (options_.replicas > 1) leader_read_buckets_.insert(bucket);
                            std::fprintf(stderr,
                                         "nats: created bucket %s (stream KV_%s, replicas %d)\n",
                                         bucket.c_str(), bucket.c_str(), options_.replicas);
                            FinishEnsure(bucket, KvStatus::kOk, {});
                          });
             });
}

void NatsWireBackend::FinishEnsure(const std::string& bucket, KvStatus status,
                                   const std::string& detail, uint64_t stream_last_seq) {
  if (status == KvStatus::kOk) {
    ready_buckets_.insert(bucket);
    // Every bucket in use gets its follower (DESIGN.md decision 5).
    auto& follower = followers_[bucket];
    if (!follower) {
      follower = std::make_unique<BucketFollower>(this, bucket, options_.marker_grace_ms);
    }
    if (!follower->is_running()) follower->Start(stream_last_seq);
  }
  auto it = ensuring_.find(bucket);
  if (it == ensuring_.end()) return;
  std::vector<kvmap::BucketCallback> cbs = std::move(it->second);
  ensuring_.erase(it);
  for (auto& cb : cbs) cb(status, detail);
}

uint64_t NatsWireBackend::Subscribe(const std::string& subject, BucketFollower* follower) {
  if (state_ != State::kConnected) return 0;
  uint64_t sid = next_sid_++;
  kvmap::AppendSub(&out_, subject, sid);
  follower_sids_[sid] = follower;
  return sid;
}

void NatsWireBackend::Unsubscribe(uint64_t sid) {
  if (follower_sids_.erase(sid) == 0 || state_ != State::kConnected) return;
  out_.append("UNSUB ").append(std::to_string(sid)).append("\r\n");
}

void NatsWireBackend::PublishEmpty(std::string_view subject) {
  if (state_ != State::kConnected) return;
  kvmap::AppendPub(&out_, subject, {}, {});
}

const kvmap::KeyspaceIndex* NatsWireBackend::Keyspace(const std::string& bucket) {
  auto it = followers_.find(bucket);
  return it == followers_.end() ? nullptr : &it->second->index();
}

void NatsWireBackend::WhenSynced(const std::string& bucket,
                                 std::function<void(KvStatus)> cb) {
  auto it = followers_.find(bucket);
  if (it == followers_.end() || !it->second->is_running()) {
    // Checking the bucket starts its follower; then wait for it.
    EnsureBucket(bucket, [this, bucket, cb = std::move(cb)](KvStatus st, std::string) mutable {
      auto f = followers_.find(bucket);
      if (st != KvStatus::kOk || f == followers_.end() || !f->second->is_running()) {
        cb(st == KvStatus::kOk ? KvStatus::kUnavailable : st);
        return;
      }
      WhenSynced(bucket, std::move(cb));
    });
    return;
  }
  auto acked = last_acked_.find(bucket);
  uint64_t target = acked == last_acked_.end() ? 0 : acked->second;
  // WhenApplied may answer at once; the contract says never inline, so post that case.
  auto shared_cb = std::make_shared<std::function<void(KvStatus)>>(std::move(cb));
  auto is_inline = std::make_shared<bool>(true);
  it->second->WhenApplied(target, [this, shared_cb, is_inline](bool ok) {
    KvStatus st = ok ? KvStatus::kOk : KvStatus::kUnavailable;
    if (*is_inline) {
      executor_->Post([shared_cb, st] { (*shared_cb)(st); });
    } else {
      (*shared_cb)(st);
    }
  });
  *is_inline = false;
}

void NatsWireBackend::PurgeBucket(const std::string& bucket, kvmap::BucketCallback cb) {
  ApiRequest("$JS.API.STREAM.PURGE.KV_" + bucket, "{}",
             [cb = std::move(cb)](KvStatus st, int, std::string_view answer) {
               if (st != KvStatus::kOk) {
                 cb(st, "stream purge failed");
                 return;
               }
               if (auto err = kvmap::ParseJsApiError(answer)) {
                 cb(err->err_code == kvmap::kJsErrStreamNotFound ? KvStatus::kNotFound
                                                                 : KvStatus::kInternal,
                    err->description);
                 return;
               }
               cb(KvStatus::kOk, {});
             });
}

// ---------------------------------------------------------------------------------------------
// Pub/sub

void NatsWireBackend::SendPing(std::function<void(KvStatus)> cb) {
  out_.append("PING\r\n");
  pong_waiters_.push_back(std::move(cb));
}

void NatsWireBackend::RunBacklogWaiters() {
  if (backlog_waiters_.empty()) return;
  size_t backlog = bus_.publish_backlog();
  std::vector<std::pair<size_t, std::function<void()>>> keep;
  std::vector<std::function<void()>> ready;
  for (auto& w : backlog_waiters_) {
    if (backlog < w.first) {
      ready.push_back(std::move(w.second));
    } else {
      keep.push_back(std::move(w));
    }
  }
  backlog_waiters_.swap(keep);
  // Posted: this can run inside FlushOutput, and what the callbacks publish must not wait for
  // the next loop iteration's check phase to be written.
  for (auto& cb : ready) executor_->Post(std::move(cb));
}

uint64_t NatsWireBackend::Bus::Subscribe(const std::string& subject, MessageFn on_message,
                                         std::function<void(KvStatus)> confirmed) {
  NatsWireBackend& b = *owner_;
  uint64_t sid = b.next_sid_++;
  b.bus_subs_[sid] = BusSub{subject, std::move(on_message)};
  if (b.state_ != State::kConnected) {
    b.executor_->Post([cb = std::move(confirmed)] { cb(KvStatus::kUnavailable); });
    return sid;
  }
  kvmap::AppendSub(&b.out_, subject, sid);
  b.SendPing(std::move(confirmed));
  return sid;
}

void NatsWireBackend::Bus::Unsubscribe(uint64_t handle) {
  NatsWireBackend& b = *owner_;
  if (b.bus_subs_.erase(handle) == 0 || b.state_ != State::kConnected) return;
  b.out_.append("UNSUB ").append(std::to_string(handle)).append("\r\n");
}

bool NatsWireBackend::Bus::Publish(std::string_view subject, std::string_view payload) {
  NatsWireBackend& b = *owner_;
  if (b.state_ != State::kConnected || payload.size() > max_payload()) return false;
  kvmap::AppendPub(&b.out_, subject, {}, payload);
  return true;
}

size_t NatsWireBackend::Bus::publish_backlog() const {
  return owner_->out_.size() + owner_->in_flight_bytes_;
}

void NatsWireBackend::Bus::WhenBacklogBelow(size_t bytes, std::function<void()> cb) {
  NatsWireBackend& b = *owner_;
  // Disconnected: out_ was dropped with the socket, so the backlog is 0 and this runs at once.
  if (publish_backlog() < bytes) {
    b.executor_->Post(std::move(cb));
    return;
  }
  b.backlog_waiters_.emplace_back(bytes, std::move(cb));
}

// ---------------------------------------------------------------------------------------------
// Raw JetStream access (the Object Store)

void NatsWireBackend::Streams::PublishAcked(std::string_view subject,
                                            const kvmap::Headers& headers,
                                            std::string_view payload,
                                            std::function<void(kvmap::WriteResult)> cb) {
  NatsWireBackend& b = *owner_;
  Pending p{OpKind::kWrite, nullptr, std::move(cb), nullptr, {}};
  if (b.state_ != State::kConnected) {
    b.PostFailure(std::move(p), KvStatus::kUnavailable, "not connected to NATS");
    return;
  }
  size_t size = payload.size() + (headers.empty() ? 0 : kvmap::HeaderBlockSize(headers));
  if (static_cast<int64_t>(size) > b.max_payload_) {
    b.PostFailure(std::move(p), KvStatus::kTooLarge, "message exceeds the server's max_payload");
    return;
  }
  uint64_t token = b.Register(std::move(p));
  std::string reply = b.inbox_prefix_ + std::to_string(token);
  if (headers.empty()) {
    kvmap::AppendPub(&b.out_, subject, reply, payload);
  } else {
    kvmap::AppendHpub(&b.out_, subject, reply, headers, payload);
  }
  if (b.out_.size() >= kFlushThreshold) b.FlushOutput();
}

void NatsWireBackend::Streams::Request(std::string_view subject, std::string_view body,
                                       kvmap::StreamReplyCallback cb) {
  NatsWireBackend& b = *owner_;
  Pending p{OpKind::kRaw, nullptr, nullptr, nullptr, {}};
  p.raw_cb = std::move(cb);
  if (b.state_ != State::kConnected) {
    b.PostFailure(std::move(p), KvStatus::kUnavailable, "not connected to NATS");
    return;
  }
  uint64_t token = b.Register(std::move(p));
  std::string reply = b.inbox_prefix_ + std::to_string(token);
  kvmap::AppendPub(&b.out_, subject, reply, body);
  if (b.out_.size() >= kFlushThreshold) b.FlushOutput();
}

bool NatsWireBackend::ForEachObjectRef(
    const std::string& bucket,
    const std::function<void(std::string_view key, std::string_view nuid)>& fn) {
  auto it = followers_.find(bucket);
  if (!IsFollowing(bucket) || it == followers_.end()) return false;
  for (const auto& [key, nuid] : it->second->objects()) fn(key, nuid);
  return true;
}

}  // namespace gateway
