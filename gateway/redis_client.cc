// SPDX-License-Identifier: Apache-2.0
//
// Design notes (the contract is in redis_client.h):
//  - Ordering. Every callback that is not a reply (fail-fast kUnavailable, the kOutcomeUnknown
//    and kTimeout of a dropped connection, WhenConnected results) goes through one queue,
//    posted_, which a zero-delay timer drains. A connection is dropped by moving its in-flight
//    callbacks, in order, to the back of that queue; a command issued while not ready goes to
//    the back too. Before replies are handed out, posted_ is drained first. Together this keeps
//    callbacks in the order the commands were issued, across reconnects.
//  - Writes. Command() only appends to out_; a uv_prepare handle (runs just before the loop
//    polls) writes out_ once per loop iteration, uv_try_write first and uv_write for the rest,
//    and one write at a time, so a pipeline of 100,000 commands is a handful of writes.
//  - Lifetime. The Impl owns its timers and prepare handle and keeps itself alive (self_) until
//    their close callbacks have run, so ~RedisClient may run anywhere, including inside one of
//    this client's callbacks: the code that called the callback finds state_ == kDestroyed
//    and returns. A socket is its own heap object, freed by its close callback; libuv callbacks
//    for an old socket find its owner cleared. An address lookup holds a shared_ptr to the Impl
//    until its callback (it cannot be closed, only cancelled).
#include "gateway/redis_client.h"

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <utility>

namespace gateway {
namespace {

using kvmap::KvStatus;

constexpr size_t kReadBufferSize = 64 * 1024;
constexpr uint64_t kTickMs = 100;
constexpr int64_t kFirstBackoffMs = 100;
constexpr int64_t kMaxBackoffMs = 2000;
// An output buffer this big is not kept for reuse after its write completed.
constexpr size_t kKeepOutputCapacity = 1024 * 1024;
constexpr int64_t kMaxDb = 2147483647;

bool IsDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX sequences become bytes; a '%' not followed by two hex digits is an error.
bool PercentDecode(std::string_view in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out->push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    const int hi = HexValue(in[i + 1]);
    const int lo = HexValue(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

// The user name as it may appear in a URL again.
std::string PercentEncodeUserInfo(std::string_view in) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : in) {
    const auto b = static_cast<unsigned char>(c);
    if (b <= 0x20 || b >= 0x7f || c == '%' || c == ':' || c == '@' || c == '/') {
      out.push_back('%');
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 15]);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string HostPort(const std::string& host, int port) {
  const bool is_ipv6 = host.find(':') != std::string::npos;
  return (is_ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// URL

std::string RedisUrl::Redacted() const {
  std::string s = "redis://";
  if (!password.empty()) s += PercentEncodeUserInfo(user) + ":***@";
  return s + HostPort(host, port) + "/" + std::to_string(db);
}

std::string ParseRedisUrl(std::string_view text, RedisUrl* out) {
  RedisUrl url;
  std::string_view rest = text;
  const size_t scheme_end = rest.find("://");
  if (scheme_end != std::string_view::npos) {
    std::string scheme(rest.substr(0, scheme_end));
    const bool is_scheme = !scheme.empty() && std::all_of(scheme.begin(), scheme.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
    });
    if (is_scheme) {
      std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      if (scheme == "rediss") {
        return "rediss:// (TLS to the old Redis) is not supported yet; use redis://";
      }
      if (scheme != "redis") {
        return "unsupported URL scheme \"" + scheme + "://\" (expected redis://host:port/db)";
      }
      rest.remove_prefix(scheme_end + 3);
    }
  }
  // The last '@' ends the user info, so a password may hold '@' and '/' unencoded.
  const size_t at = rest.rfind('@');
  if (at != std::string_view::npos) {
    const std::string_view userinfo = rest.substr(0, at);
    rest.remove_prefix(at + 1);
    const size_t colon = userinfo.find(':');
    // As redis-cli -u: user info without a ':' is the password alone.
    if (colon == std::string_view::npos) {
      if (!PercentDecode(userinfo, &url.password)) return "invalid %-escape in the password";
    } else {
      if (!PercentDecode(userinfo.substr(0, colon), &url.user)) {
        return "invalid %-escape in the user name";
      }
      if (!PercentDecode(userinfo.substr(colon + 1), &url.password)) {
        return "invalid %-escape in the password";
      }
    }
  }
  const size_t slash = rest.find('/');
  const std::string_view host_port = rest.substr(0, slash);
  const std::string_view path =
      slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  std::string_view host;
  std::string_view port;
  bool has_port = false;
  if (!host_port.empty() && host_port[0] == '[') {
    const size_t close = host_port.find(']');
    if (close == std::string_view::npos) return "missing ']' after the IPv6 address";
    host = host_port.substr(1, close - 1);
    const std::string_view after = host_port.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return "unexpected text after the IPv6 address";
      port = after.substr(1);
      has_port = true;
    }
  } else {
    const size_t colon = host_port.find(':');
    if (colon != std::string_view::npos &&
        host_port.find(':', colon + 1) != std::string_view::npos) {
      return "an IPv6 address needs brackets, e.g. redis://[::1]:6379";
    }
    host = host_port.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = host_port.substr(colon + 1);
      has_port = true;
    }
  }
  if (host.empty()) return "missing host";
  url.host = std::string(host);
  if (has_port) {
    if (!IsDigits(port) || port.size() > 5 || std::stoi(std::string(port)) < 1 ||
        std::stoi(std::string(port)) > 65535) {
      return "invalid port (expected a number from 1 to 65535)";
    }
    url.port = std::stoi(std::string(port));
  }
  if (!path.empty()) {
    if (!IsDigits(path) || path.size() > 10 || std::stoll(std::string(path)) > kMaxDb) {
      return "invalid database number (expected /0 to /2147483647)";
    }
    url.db = static_cast<int>(std::stoll(std::string(path)));
  }
  *out = std::move(url);
  return {};
}

// ---------------------------------------------------------------------------------------------
// Client

struct RedisClient::Impl {
  enum class State { kIdle, kResolving, kConnecting, kHandshake, kReady, kDestroyed };
  enum class Kind : uint8_t { kUser, kAuth, kSelect };

  struct InFlight {
    ReplyCallback cb;  // empty for AUTH and SELECT
    int64_t sent_ms;
    Kind kind;
  };
  struct Waiter {
    int64_t deadline_ms;
    std::function<void(bool)> cb;
  };

  // One TCP connection and its read buffer. Freed by the close callback; `owner` is cleared
  // when the Impl lets go of it, so late callbacks (ECANCELED) find nobody.
  struct Socket {
    uv_tcp_t tcp;
    uv_connect_t connect_req;
    Impl* owner = nullptr;
    char read_buf[kReadBufferSize];

    void Close() {
      owner = nullptr;
      uv_close(reinterpret_cast<uv_handle_t*>(&tcp),
               [](uv_handle_t* h) { delete static_cast<Socket*>(h->data); });
    }
  };
  struct WriteReq {
    uv_write_t req;
    std::string data;
    Socket* socket;
  };
  struct Resolve {
    uv_getaddrinfo_t req;
    std::shared_ptr<Impl> owner;
    uint64_t generation;
  };

  Impl(uv_loop_t* loop, RedisClientOptions options)
      : loop_(loop), options_(std::move(options)), parser_(options_.limits) {
    target_ = HostPort(options_.url.host, options_.url.port);
    for (uv_timer_t* t : {&tick_, &reconnect_timer_, &post_timer_}) {
      uv_timer_init(loop_, t);
      t->data = this;
    }
    uv_prepare_init(loop_, &flush_);
    flush_.data = this;
    open_handles_ = 4;
  }

  int64_t Now() const { return static_cast<int64_t>(uv_now(loop_)); }
  bool IsDestroyed() const { return state_ == State::kDestroyed; }

  void SetError(std::string reason) {
    const std::string& password = options_.url.password;
    if (!password.empty()) {
      for (size_t at = reason.find(password); at != std::string::npos;
           at = reason.find(password, at + 3)) {
        reason.replace(at, password.size(), "***");
      }
    }
    last_error_ = std::move(reason);
  }

  void StartTick() {
    if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&tick_))) {
      uv_timer_start(
          &tick_, [](uv_timer_t* t) { static_cast<Impl*>(t->data)->OnTick(); }, kTickMs, kTickMs);
    }
  }

  void Start() {
    if (is_started_ || IsDestroyed()) return;
    is_started_ = true;
    StartTick();
    Connect();
  }

  // --- posting ---------------------------------------------------------------------------

  void Post(std::function<void()> fn) {
    posted_.push_back(std::move(fn));
    if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&post_timer_))) {
      uv_timer_start(
          &post_timer_,
          [](uv_timer_t* t) {
            Impl* self = static_cast<Impl*>(t->data);
            self->RunPosted();
            if (self->options_.after_batch) self->options_.after_batch();
          },
          0, 0);
    }
  }

  // Runs posted callbacks until none is left or one of them destroyed the client.
  void RunPosted() {
    while (!posted_.empty() && !IsDestroyed()) {
      std::function<void()> fn = std::move(posted_.front());
      posted_.pop_front();
      fn();
    }
  }

  // --- connecting ------------------------------------------------------------------------

  void Connect() {
    if (state_ != State::kIdle) return;
    ++generation_;
    connect_deadline_ms_ = Now() + options_.connect_timeout_ms;
    const std::string host = options_.url.host == "localhost" ? "127.0.0.1" : options_.url.host;
    sockaddr_storage addr{};
    if (uv_ip4_addr(host.c_str(), options_.url.port, reinterpret_cast<sockaddr_in*>(&addr)) == 0 ||
        uv_ip6_addr(host.c_str(), options_.url.port, reinterpret_cast<sockaddr_in6*>(&addr)) == 0) {
      ConnectTo(reinterpret_cast<const sockaddr*>(&addr));
      return;
    }
    state_ = State::kResolving;
    auto* resolve = new Resolve;
    resolve->req.data = resolve;
    resolve->owner = self_;
    resolve->generation = generation_;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    resolve_ = resolve;
    const int rc =
        uv_getaddrinfo(loop_, &resolve->req, &Impl::OnResolved, host.c_str(), nullptr, &hints);
    if (rc != 0) {
      resolve_ = nullptr;
      delete resolve;
      Drop("resolve " + host + ": " + uv_strerror(rc));
    }
  }

  static void OnResolved(uv_getaddrinfo_t* req, int status, addrinfo* res) {
    auto* resolve = static_cast<Resolve*>(req->data);
    std::shared_ptr<Impl> self = std::move(resolve->owner);
    const uint64_t generation = resolve->generation;
    if (self->resolve_ == resolve) self->resolve_ = nullptr;
    delete resolve;
    if (self->IsDestroyed() || self->state_ != State::kResolving ||
        generation != self->generation_) {
      uv_freeaddrinfo(res);
      return;  // cancelled, timed out, or the client is gone
    }
    sockaddr_storage addr{};
    bool is_found = false;
    for (const addrinfo* ai = status == 0 ? res : nullptr; ai != nullptr; ai = ai->ai_next) {
      if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6) {
        std::memcpy(&addr, ai->ai_addr, ai->ai_addrlen);
        is_found = true;
        break;
      }
    }
    uv_freeaddrinfo(res);
    if (!is_found) {
      self->Drop("resolve " + self->options_.url.host + ": " +
                 (status != 0 ? uv_strerror(status) : "no IPv4 or IPv6 address"));
      return;
    }
    const auto port = htons(static_cast<uint16_t>(self->options_.url.port));
    if (addr.ss_family == AF_INET) {
      reinterpret_cast<sockaddr_in*>(&addr)->sin_port = port;
    } else {
      reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port = port;
    }
    self->ConnectTo(reinterpret_cast<const sockaddr*>(&addr));
  }

  void ConnectTo(const sockaddr* addr) {
    socket_ = new Socket;
    socket_->owner = this;
    uv_tcp_init(loop_, &socket_->tcp);
    socket_->tcp.data = socket_;
    socket_->connect_req.data = socket_;
    state_ = State::kConnecting;
    const int rc =
        uv_tcp_connect(&socket_->connect_req, &socket_->tcp, addr, [](uv_connect_t* req, int st) {
          Impl* self = static_cast<Socket*>(req->data)->owner;
          if (self == nullptr) return;  // an abandoned socket (ECANCELED)
          if (st != 0) {
            self->Drop("connect to " + self->target_ + ": " + uv_strerror(st));
          } else {
            self->OnTcpConnected();
          }
        });
    if (rc != 0) Drop("connect to " + target_ + ": " + uv_strerror(rc));
  }

  void OnTcpConnected() {
    uv_tcp_nodelay(&socket_->tcp, 1);
    parser_ = resp::ReplyParser(options_.limits);
    const int rc = uv_read_start(
        reinterpret_cast<uv_stream_t*>(&socket_->tcp),
        [](uv_handle_t* h, size_t, uv_buf_t* buf) {
          auto* socket = static_cast<Socket*>(h->data);
          *buf = uv_buf_init(socket->read_buf, sizeof(socket->read_buf));
        },
        [](uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
          Impl* self = static_cast<Socket*>(s->data)->owner;
          if (self == nullptr || nread == 0) return;
          if (nread < 0) {
            self->Drop(nread == UV_EOF ? "server closed the connection"
                                       : std::string("read: ") + uv_strerror(nread));
            return;
          }
          self->OnBytes(std::string_view(buf->base, static_cast<size_t>(nread)));
          if (self->options_.after_batch) self->options_.after_batch();
        });
    if (rc != 0) {
      Drop(std::string("read: ") + uv_strerror(rc));
      return;
    }
    // AUTH and SELECT go first; commands fail fast until both have answered.
    state_ = State::kHandshake;
    handshake_pending_ = 0;
    const RedisUrl& url = options_.url;
    if (!url.password.empty()) {
      if (url.user.empty()) {
        resp::AppendCommand({"AUTH", url.password}, &out_);
      } else {
        resp::AppendCommand({"AUTH", url.user, url.password}, &out_);
      }
      in_flight_.push_back(InFlight{nullptr, Now(), Kind::kAuth});
      ++handshake_pending_;
    }
    if (url.db != 0) {
      resp::AppendCommand({"SELECT", std::to_string(url.db)}, &out_);
      in_flight_.push_back(InFlight{nullptr, Now(), Kind::kSelect});
      ++handshake_pending_;
    }
    if (handshake_pending_ == 0) {
      BecomeReady();
    } else {
      StartFlush();
    }
  }

  void BecomeReady() {
    state_ = State::kReady;
    backoff_ms_ = 0;
    ++connects_;
    std::vector<Waiter> waiters = std::move(waiters_);
    waiters_.clear();
    for (Waiter& w : waiters) Post([cb = std::move(w.cb)] { cb(true); });
  }

  void OnHandshakeReply(Kind kind, const resp::Reply& reply) {
    if (reply.is_error() || reply.type == resp::ReplyType::kNil) {
      const std::string what =
          kind == Kind::kAuth ? "AUTH" : "SELECT " + std::to_string(options_.url.db);
      Drop(what + ": " + (reply.is_error() ? reply.str : std::string("nil reply")));
      return;
    }
    if (--handshake_pending_ == 0) BecomeReady();
  }

  // Ends the connection (or the attempt) and schedules the next one. In-flight callbacks are
  // posted in order: the first with kTimeout if it is the one that timed out, the rest
  // kOutcomeUnknown.
  void Drop(const std::string& reason, bool is_front_timed_out = false) {
    if (IsDestroyed() || state_ == State::kIdle) return;
    const bool was_ready = state_ == State::kReady;
    if (socket_ != nullptr) {
      socket_->Close();
      socket_ = nullptr;
    }
    if (resolve_ != nullptr) {
      uv_cancel(reinterpret_cast<uv_req_t*>(&resolve_->req));
      resolve_ = nullptr;  // it frees itself in its callback
    }
    ++generation_;
    out_.clear();
    writing_bytes_ = 0;
    is_write_in_flight_ = false;
    parser_ = resp::ReplyParser(options_.limits);
    handshake_pending_ = 0;
    SetError(reason);
    if (was_ready) ++disconnects_;
    std::deque<InFlight> failed = std::move(in_flight_);
    in_flight_.clear();
    user_in_flight_ = 0;
    state_ = State::kIdle;
    bool is_first = true;
    for (InFlight& f : failed) {
      const KvStatus status =
          is_first && is_front_timed_out ? KvStatus::kTimeout : KvStatus::kOutcomeUnknown;
      is_first = false;
      if (f.kind != Kind::kUser) continue;
      Post([cb = std::move(f.cb), status] {
        resp::Reply empty;
        cb(status, empty);
      });
    }
    backoff_ms_ = backoff_ms_ == 0 ? kFirstBackoffMs : std::min(backoff_ms_ * 2, kMaxBackoffMs);
    uv_timer_start(
        &reconnect_timer_, [](uv_timer_t* t) { static_cast<Impl*>(t->data)->Connect(); },
        static_cast<uint64_t>(backoff_ms_), 0);
  }

  void OnTick() {
    const int64_t now = Now();
    if ((state_ == State::kResolving || state_ == State::kConnecting ||
         state_ == State::kHandshake) &&
        now >= connect_deadline_ms_) {
      Drop("connect to " + target_ + ": timed out after " +
           std::to_string(options_.connect_timeout_ms) + " ms");
    } else if (!in_flight_.empty() &&
               now - in_flight_.front().sent_ms >= options_.reply_timeout_ms) {
      Drop("no reply from " + target_ + " within " + std::to_string(options_.reply_timeout_ms) +
               " ms; connection dropped",
           /*is_front_timed_out=*/true);
    }
    for (size_t i = 0; i < waiters_.size();) {
      if (waiters_[i].deadline_ms <= now) {
        Post([cb = std::move(waiters_[i].cb)] { cb(false); });
        waiters_.erase(waiters_.begin() + static_cast<std::ptrdiff_t>(i));
      } else {
        ++i;
      }
    }
  }

  // --- reading ---------------------------------------------------------------------------

  void OnBytes(std::string_view bytes) {
    parser_.Feed(bytes);
    RunPosted();  // failures of earlier commands come before these replies
    const uint64_t generation = generation_;
    while (!IsDestroyed() && generation == generation_) {
      resp::Reply reply;
      const resp::ReplyParser::Status st = parser_.Next(&reply);
      if (st == resp::ReplyParser::Status::kNeedMore) return;
      if (st == resp::ReplyParser::Status::kProtocolError) {
        Drop("protocol error: " + parser_.error());
        return;
      }
      if (in_flight_.empty()) {
        Drop("protocol error: a reply that no command asked for");
        return;
      }
      InFlight f = std::move(in_flight_.front());
      in_flight_.pop_front();
      if (f.kind != Kind::kUser) {
        OnHandshakeReply(f.kind, reply);
        continue;
      }
      --user_in_flight_;
      f.cb(KvStatus::kOk, reply);
    }
  }

  // --- writing ---------------------------------------------------------------------------

  void StartFlush() {
    if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&flush_))) {
      uv_prepare_start(&flush_, [](uv_prepare_t* p) { static_cast<Impl*>(p->data)->Flush(); });
    }
  }

  // Runs once per loop iteration, just before the loop polls, while output is pending.
  void Flush() {
    if (out_.empty() || socket_ == nullptr ||
        (state_ != State::kHandshake && state_ != State::kReady)) {
      uv_prepare_stop(&flush_);
      return;
    }
    if (is_write_in_flight_) return;  // one write at a time; the next iteration tries again
    auto* stream = reinterpret_cast<uv_stream_t*>(&socket_->tcp);
    uv_buf_t buf = uv_buf_init(out_.data(), static_cast<unsigned>(out_.size()));
    const int n = uv_try_write(stream, &buf, 1);
    if (n < 0 && n != UV_EAGAIN) {
      Drop(std::string("write: ") + uv_strerror(n));
      return;
    }
    const size_t written = n > 0 ? static_cast<size_t>(n) : 0;
    if (written == out_.size()) {
      out_.clear();
      uv_prepare_stop(&flush_);
      return;
    }
    auto* req = new WriteReq;
    req->socket = socket_;
    req->req.data = req;
    req->data.swap(out_);
    writing_bytes_ = req->data.size() - written;
    is_write_in_flight_ = true;
    uv_buf_t rest = uv_buf_init(req->data.data() + written, static_cast<unsigned>(writing_bytes_));
    const int rc = uv_write(&req->req, stream, &rest, 1, [](uv_write_t* r, int status) {
      auto* w = static_cast<WriteReq*>(r->data);
      Impl* self = w->socket->owner;
      if (self != nullptr && self->out_.empty() && w->data.capacity() <= kKeepOutputCapacity) {
        w->data.clear();
        self->out_.swap(w->data);  // keep the grown buffer for the next batch
      }
      delete w;
      if (self == nullptr) return;  // an old socket
      self->is_write_in_flight_ = false;
      self->writing_bytes_ = 0;
      if (status != 0) {
        self->Drop(std::string("write: ") + uv_strerror(status));
      } else if (!self->out_.empty()) {
        self->StartFlush();
      }
    });
    if (rc != 0) {
      delete req;
      is_write_in_flight_ = false;
      writing_bytes_ = 0;
      Drop(std::string("write: ") + uv_strerror(rc));
      return;
    }
    uv_prepare_stop(&flush_);
  }

  // --- commands --------------------------------------------------------------------------

  void Command(const std::vector<std::string_view>& args, ReplyCallback cb) {
    if (IsDestroyed()) return;
    if (!cb) cb = [](KvStatus, resp::Reply&) {};
    if (state_ != State::kReady) {
      Post([cb = std::move(cb)] {
        resp::Reply empty;
        cb(KvStatus::kUnavailable, empty);
      });
      return;
    }
    resp::AppendCommand(args, &out_);
    in_flight_.push_back(InFlight{std::move(cb), Now(), Kind::kUser});
    ++user_in_flight_;
    StartFlush();
  }

  void WhenConnected(int64_t timeout_ms, std::function<void(bool)> cb) {
    if (IsDestroyed()) return;
    if (state_ == State::kReady) {
      Post([cb = std::move(cb)] { cb(true); });
      return;
    }
    waiters_.push_back(Waiter{Now() + timeout_ms, std::move(cb)});
    StartTick();
  }

  // --- destruction -----------------------------------------------------------------------

  void Destroy() {
    if (IsDestroyed()) return;
    state_ = State::kDestroyed;
    if (socket_ != nullptr) {
      socket_->Close();
      socket_ = nullptr;
    }
    if (resolve_ != nullptr) {
      uv_cancel(reinterpret_cast<uv_req_t*>(&resolve_->req));
      resolve_ = nullptr;
    }
    // Dropped without running; moved out first so that destructors of captured state cannot
    // see half-cleared queues.
    std::deque<InFlight> in_flight = std::move(in_flight_);
    std::deque<std::function<void()>> posted = std::move(posted_);
    std::vector<Waiter> waiters = std::move(waiters_);
    in_flight_.clear();
    posted_.clear();
    waiters_.clear();
    out_.clear();
    user_in_flight_ = 0;
    for (uv_handle_t* h :
         {reinterpret_cast<uv_handle_t*>(&tick_), reinterpret_cast<uv_handle_t*>(&reconnect_timer_),
          reinterpret_cast<uv_handle_t*>(&post_timer_), reinterpret_cast<uv_handle_t*>(&flush_)}) {
      uv_close(h, [](uv_handle_t* closed) {
        Impl* self = static_cast<Impl*>(closed->data);
        if (--self->open_handles_ == 0) {
          std::shared_ptr<Impl> last = std::move(self->self_);  // may free the Impl
        }
      });
    }
  }

  uv_loop_t* loop_;
  RedisClientOptions options_;
  std::string target_;          // host:port, for messages
  std::shared_ptr<Impl> self_;  // set by RedisClient; dropped when the last handle closed
  uv_timer_t tick_;             // every kTickMs: connect and reply timeouts, waiters
  uv_timer_t reconnect_timer_;  // backoff
  uv_timer_t post_timer_;       // zero delay: runs posted_
  uv_prepare_t flush_;          // writes out_ before the loop polls
  int open_handles_ = 0;

  State state_ = State::kIdle;
  bool is_started_ = false;
  Socket* socket_ = nullptr;
  Resolve* resolve_ = nullptr;
  uint64_t generation_ = 0;  // bumped per attempt and per drop: stale callbacks are ignored
  int64_t connect_deadline_ms_ = 0;
  int64_t backoff_ms_ = 0;
  int handshake_pending_ = 0;

  resp::ReplyParser parser_;
  std::string out_;           // appended by Command(), written by Flush()
  size_t writing_bytes_ = 0;  // bytes of the uv_write in progress
  bool is_write_in_flight_ = false;
  std::deque<InFlight> in_flight_;  // sent, in order
  size_t user_in_flight_ = 0;
  std::deque<std::function<void()>> posted_;
  std::vector<Waiter> waiters_;

  std::string last_error_;
  uint64_t connects_ = 0;
  uint64_t disconnects_ = 0;
};

RedisClient::RedisClient(uv_loop_t* loop, RedisClientOptions options)
    : impl_(std::make_shared<Impl>(loop, std::move(options))) {
  impl_->self_ = impl_;
}

RedisClient::~RedisClient() {
  impl_->Destroy();
  impl_.reset();  // the Impl lives on until its handles have closed
}

void RedisClient::Start() { impl_->Start(); }

void RedisClient::Command(const std::vector<std::string_view>& args, ReplyCallback cb) {
  impl_->Command(args, std::move(cb));
}

bool RedisClient::is_connected() const { return impl_->state_ == Impl::State::kReady; }
size_t RedisClient::in_flight() const { return impl_->user_in_flight_; }
size_t RedisClient::write_backlog() const { return impl_->out_.size() + impl_->writing_bytes_; }

void RedisClient::WhenConnected(int64_t timeout_ms, std::function<void(bool)> cb) {
  impl_->WhenConnected(timeout_ms, std::move(cb));
}

const std::string& RedisClient::last_error() const { return impl_->last_error_; }
uint64_t RedisClient::connects() const { return impl_->connects_; }
uint64_t RedisClient::disconnects() const { return impl_->disconnects_; }
const RedisUrl& RedisClient::url() const { return impl_->options_.url; }

}  // namespace gateway
