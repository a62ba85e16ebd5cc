// SPDX-License-Identifier: Apache-2.0
#include "kvmap/nats_kv_backend.h"

#include <nats/nats.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>

namespace kvmap {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Rate-limited log of nats.c errors: at most one line per second per call site.
void LogNatsError(const char* what, natsStatus s, int64_t* last_ms) {
  int64_t now = NowMs();
  if (now - *last_ms < 1000) return;
  *last_ms = now;
  const char* detail = nats_GetLastError(nullptr);
  std::fprintf(stderr, "nats: %s: %s%s%s\n", what, natsStatus_GetText(s), detail ? ": " : "",
               detail ? detail : "");
}

// TLS settings of NatsBackendOptions (manager thread). Logs and returns the failure.
natsStatus ApplyTlsOptions(const NatsBackendOptions& options, natsOptions* opts) {
  bool is_tls = !options.tls_ca_file.empty() || !options.tls_cert_file.empty();
  for (const std::string& u : options.servers) is_tls = is_tls || u.rfind("tls://", 0) == 0;
  if (!is_tls) return NATS_OK;
  natsStatus s = natsOptions_SetSecure(opts, true);
  if (s == NATS_OK && !options.tls_ca_file.empty()) {
    s = natsOptions_LoadCATrustedCertificates(opts, options.tls_ca_file.c_str());
  }
  if (s == NATS_OK && !options.tls_cert_file.empty()) {
    s = natsOptions_LoadCertificatesChain(opts, options.tls_cert_file.c_str(),
                                          options.tls_key_file.c_str());
  }
  // nats.c checks the certificate's name only when told which to expect, and takes one name
  // for every server: the host of a single URL (with several, the chain alone is verified).
  if (s == NATS_OK && options.servers.size() == 1) {
    std::string_view host = options.servers[0];
    if (size_t scheme = host.find("://"); scheme != std::string_view::npos) {
      host.remove_prefix(scheme + 3);
    }
    if (size_t at = host.rfind('@'); at != std::string_view::npos) host.remove_prefix(at + 1);
    host = host.substr(0, host.rfind(':'));
    if (!host.empty()) s = natsOptions_SetExpectedHostname(opts, std::string(host).c_str());
  }
  if (s != NATS_OK) {
    static int64_t last_log = 0;
    LogNatsError("TLS options", s, &last_log);
  }
  return s;
}

std::string Subject(std::string_view bucket, std::string_view key) {
  std::string s;
  s.reserve(5 + bucket.size() + 1 + key.size());
  s.append("$KV.").append(bucket).push_back('.');
  s.append(key);
  return s;
}

std::string DirectGetSubject(std::string_view bucket, std::string_view key) {
  std::string s;
  s.reserve(40 + 2 * bucket.size() + key.size());
  s.append("$JS.API.DIRECT.GET.KV_").append(bucket).append(".$KV.").append(bucket);
  s.push_back('.');
  s.append(key);
  return s;
}

std::string_view HeaderValue(natsMsg* msg, const char* name) {
  const char* v = nullptr;
  if (natsMsgHeader_Get(msg, name, &v) == NATS_OK && v != nullptr) return v;
  return {};
}

GetResult DecodeDirectGet(natsMsg* msg) {
  GetResult r;
  std::string_view status = HeaderValue(msg, "Status");
  if (!status.empty()) {
    r.status = status == "404" ? KvStatus::kNotFound : KvStatus::kInternal;
    r.detail = std::string(HeaderValue(msg, "Description"));
    return r;
  }
  if (natsMsg_IsNoResponders(msg)) {
    r.status = KvStatus::kInternal;
    r.detail = "bucket stream not available";
    return r;
  }
  std::string_view seq = HeaderValue(msg, "Nats-Sequence");
  if (seq.empty() ||
      std::from_chars(seq.data(), seq.data() + seq.size(), r.entry.revision).ec != std::errc()) {
    r.status = KvStatus::kInternal;
    r.detail = "direct get answer without Nats-Sequence";
    return r;
  }
  r.entry.timestamp_ns = ParseNatsTimestamp(HeaderValue(msg, "Nats-Time-Stamp")).value_or(0);
  std::string_view subject = HeaderValue(msg, "Nats-Subject");
  // $KV.<bucket>.<key>: the key starts after the second dot.
  size_t first = subject.find('.');
  size_t second = first == std::string_view::npos ? first : subject.find('.', first + 1);
  if (second != std::string_view::npos) r.entry.key = std::string(subject.substr(second + 1));
  std::string_view op = HeaderValue(msg, "KV-Operation");
  if (op == "DEL") {
    r.entry.op = EntryOp::kDelete;
  } else if (op == "PURGE") {
    r.entry.op = EntryOp::kPurge;
  }
  const char** keys = nullptr;
  int count = 0;
  if (natsMsgHeader_Keys(msg, &keys, &count) == NATS_OK) {
    for (int i = 0; i < count; ++i) {
      std::string_view name = keys[i];
      if (!IsWritableHeader(name) || name == kHdrKvOperation) continue;
      r.entry.headers.emplace_back(std::string(name), std::string(HeaderValue(msg, keys[i])));
    }
    std::free(keys);
  }
  const char* data = natsMsg_GetData(msg);
  int len = natsMsg_GetDataLength(msg);
  if (data != nullptr && len > 0) r.entry.value.assign(data, static_cast<size_t>(len));
  r.status = KvStatus::kOk;
  return r;
}

}  // namespace

// One connection generation: a nats.c connection and its inbox subscription.
struct NatsKvBackend::Connection {
  natsConnection* nc = nullptr;
  natsSubscription* sub = nullptr;
  std::string inbox;  // replies arrive on <inbox>.<token>
  uint64_t generation = 0;
  std::string url;

  ~Connection() {
    if (sub != nullptr) natsSubscription_Destroy(sub);
    if (nc != nullptr) {
      natsConnection_Close(nc);
      natsConnection_Destroy(nc);
    }
  }
};

namespace {
std::atomic<bool> g_is_library_used{false};
}  // namespace

NatsKvBackend::NatsKvBackend(Executor* executor, NatsBackendOptions options)
    : executor_(executor), options_(std::move(options)), guard_(new CallbackGuard) {
  guard_->self = this;
  g_is_library_used.store(true);
  // Guards outlive their backend on purpose (see the header); keeping them reachable tells
  // LeakSanitizer so, at a few bytes per backend ever created.
  static std::mutex guards_mu;
  static std::vector<CallbackGuard*>* guards = new std::vector<CallbackGuard*>();
  std::lock_guard<std::mutex> lock(guards_mu);
  guards->push_back(guard_);
}

NatsKvBackend::~NatsKvBackend() {
  {
    std::lock_guard<std::mutex> lock(guard_->mu);
    guard_->self = nullptr;
  }
  {
    std::lock_guard<std::mutex> lock(manager_mu_);
    is_stopping_ = true;
  }
  manager_cv_.notify_all();
  if (manager_.joinable()) manager_.join();
  std::shared_ptr<Connection> conn;
  {
    std::lock_guard<std::mutex> lock(conn_mu_);
    conn.swap(conn_);
    connected_.store(false, std::memory_order_release);
  }
  conn.reset();  // closes and destroys; no more answers after this
  std::lock_guard<std::mutex> lock(pending_mu_);
  pending_.clear();
}

void NatsKvBackend::Start() { manager_ = std::thread([this] { ManagerMain(); }); }

void NatsKvBackend::CloseLibrary(int64_t timeout_ms) {
  if (g_is_library_used.exchange(false)) nats_CloseAndWait(timeout_ms);
}

bool NatsKvBackend::WaitConnected(int64_t timeout_ms) {
  int64_t deadline = NowMs() + timeout_ms;
  while (!is_connected()) {
    if (NowMs() >= deadline || !auth_error().empty()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

void NatsKvBackend::EnsureBucket(const std::string& bucket, BucketCallback cb) {
  if (!IsValidBucketName(bucket) || bucket.size() > kMaxBucketNameLength) {
    executor_->Post([cb = std::move(cb), bucket] {
      cb(KvStatus::kInvalidKey, "invalid bucket name '" + bucket + "'");
    });
    return;
  }
  // Not connected (or still re-checking the buckets after a reconnect): fail at once, as every
  // other operation does, rather than wait behind the manager's connection attempts.
  if (!is_connected()) {
    executor_->Post([cb = std::move(cb)] { cb(KvStatus::kUnavailable, "not connected to NATS"); });
    return;
  }
  {
    std::lock_guard<std::mutex> lock(manager_mu_);
    if (ready_buckets_.count(bucket) == 0) {
      bucket_jobs_.push_back(BucketJob{bucket, std::move(cb)});
      manager_cv_.notify_all();
      return;
    }
  }
  executor_->Post([cb = std::move(cb)] { cb(KvStatus::kOk, {}); });
}

KvStatus NatsKvBackend::EnsureBucketNow(const std::string& bucket, std::string* detail) {
  KvStatus st = EnsureBucketBlocking(bucket, detail);
  if (st == KvStatus::kOk) {
    std::lock_guard<std::mutex> lock(manager_mu_);
    ready_buckets_.insert(bucket);
  }
  return st;
}

void NatsKvBackend::PurgeBucket(const std::string& bucket, BucketCallback cb) {
  std::lock_guard<std::mutex> lock(manager_mu_);
  bucket_jobs_.push_back(BucketJob{bucket, std::move(cb), /*is_purge=*/true});
  manager_cv_.notify_all();
}

KvStatus NatsKvBackend::PurgeBlocking(const std::string& bucket, std::string* detail) {
  std::shared_ptr<Connection> conn;
  {
    std::lock_guard<std::mutex> lock(conn_mu_);
    conn = conn_;
  }
  if (!conn) {
    *detail = "not connected to NATS";
    return KvStatus::kUnavailable;
  }
  natsMsg* reply = nullptr;
  std::string subject = "$JS.API.STREAM.PURGE.KV_" + bucket;
  natsStatus s = natsConnection_Request(&reply, conn->nc, subject.c_str(), "{}", 2,
                                        options_.op_timeout_ms);
  if (s != NATS_OK) {
    *detail = std::string("stream purge failed: ") + natsStatus_GetText(s);
    return s == NATS_TIMEOUT ? KvStatus::kOutcomeUnknown : KvStatus::kUnavailable;
  }
  const char* data = natsMsg_GetData(reply);
  std::string answer(data ? data : "", static_cast<size_t>(natsMsg_GetDataLength(reply)));
  natsMsg_Destroy(reply);
  if (auto err = ParseJsApiError(answer)) {
    *detail = err->description;
    return err->err_code == kJsErrStreamNotFound ? KvStatus::kNotFound : KvStatus::kInternal;
  }
  return KvStatus::kOk;
}

bool NatsKvBackend::IsBucketReady(const std::string& bucket) const {
  std::lock_guard<std::mutex> lock(manager_mu_);
  return ready_buckets_.count(bucket) != 0;
}

NatsBackendStats NatsKvBackend::stats() const {
  NatsBackendStats s;
  s.ops_sent = ops_sent_.load();
  s.ops_timed_out = ops_timed_out_.load();
  s.ops_failed_on_disconnect = ops_failed_on_disconnect_.load();
  s.connects = connects_.load();
  s.disconnects = disconnects_.load();
  std::lock_guard<std::mutex> lock(pending_mu_);
  s.pending = pending_.size();
  return s;
}

std::string NatsKvBackend::connected_url() const {
  std::lock_guard<std::mutex> lock(conn_mu_);
  return conn_ ? conn_->url : std::string();
}

std::string NatsKvBackend::auth_error() const {
  std::lock_guard<std::mutex> lock(conn_mu_);
  return auth_error_;
}

void NatsKvBackend::PostGet(GetCallback cb, GetResult result) {
  executor_->Post([cb = std::move(cb), result = std::move(result)]() mutable {
    cb(std::move(result));
  });
}

void NatsKvBackend::PostWrite(WriteCallback cb, WriteResult result) {
  executor_->Post([cb = std::move(cb), result = std::move(result)]() mutable {
    cb(std::move(result));
  });
}

std::shared_ptr<NatsKvBackend::Connection> NatsKvBackend::Register(PendingOp& op,
                                                                   uint64_t* token) {
  if (!conn_ || !connected_.load(std::memory_order_acquire)) return nullptr;
  op.generation = conn_->generation;
  op.deadline_ms = NowMs() + options_.op_timeout_ms;
  std::lock_guard<std::mutex> lock(pending_mu_);
  *token = next_token_++;
  pending_.emplace(*token, std::move(op));
  return conn_;
}

void NatsKvBackend::FailToken(uint64_t token, KvStatus status, const std::string& detail) {
  PendingOp op;
  {
    std::lock_guard<std::mutex> lock(pending_mu_);
    auto it = pending_.find(token);
    if (it == pending_.end()) return;  // already answered or failed
    op = std::move(it->second);
    pending_.erase(it);
  }
  if (op.is_write) {
    WriteResult r;
    r.status = status;
    r.detail = detail;
    PostWrite(std::move(op.write_cb), std::move(r));
  } else {
    GetResult r;
    r.status = status == KvStatus::kOutcomeUnknown ? KvStatus::kUnavailable : status;
    r.detail = detail;
    PostGet(std::move(op.get_cb), std::move(r));
  }
}

void NatsKvBackend::Get(std::string_view bucket, std::string_view key, GetCallback cb) {
  if (key.size() > kMaxKeyLength) {
    GetResult r;
    r.status = KvStatus::kInvalidKey;
    r.detail = "key too long";
    PostGet(std::move(cb), std::move(r));
    return;
  }
  PendingOp op;
  {
    std::lock_guard<std::mutex> lock(leader_reads_mu_);
    op.is_leader_get = leader_read_buckets_.count(bucket) != 0;
  }
  std::string subject = op.is_leader_get ? "$JS.API.STREAM.MSG.GET.KV_" + std::string(bucket)
                                         : DirectGetSubject(bucket, key);
  std::string body = op.is_leader_get ? BuildLastBySubjectRequest(Subject(bucket, key)) : "";
  std::lock_guard<std::mutex> lock(conn_mu_);
  uint64_t token = 0;
  op.get_cb = std::move(cb);
  auto conn = Register(op, &token);
  if (!conn) {
    GetResult r;
    r.status = KvStatus::kUnavailable;
    r.detail = "not connected to NATS";
    PostGet(std::move(op.get_cb), std::move(r));
    return;
  }
  char reply[128];
  std::snprintf(reply, sizeof(reply), "%s.%llu", conn->inbox.c_str(),
                static_cast<unsigned long long>(token));
  natsStatus s = natsConnection_PublishRequest(conn->nc, subject.c_str(), reply,
                                               body.empty() ? nullptr : body.data(),
                                               static_cast<int>(body.size()));
  if (s != NATS_OK) {
    static int64_t last_log = 0;
    LogNatsError("direct get", s, &last_log);
    FailToken(token, KvStatus::kUnavailable, natsStatus_GetText(s));
    return;
  }
  ops_sent_.fetch_add(1, std::memory_order_relaxed);
}

void NatsKvBackend::Write(const WriteRequest& request, WriteCallback cb) {
  if (request.key.size() > kMaxKeyLength) {
    WriteResult r;
    r.status = KvStatus::kInvalidKey;
    r.detail = "key too long";
    PostWrite(std::move(cb), std::move(r));
    return;
  }
  std::string subject = Subject(request.bucket, request.key);
  std::lock_guard<std::mutex> lock(conn_mu_);
  uint64_t token = 0;
  PendingOp op;
  op.is_write = true;
  op.write_cb = std::move(cb);
  auto conn = Register(op, &token);
  if (!conn) {
    WriteResult r;
    r.status = KvStatus::kUnavailable;
    r.detail = "not connected to NATS";
    PostWrite(std::move(op.write_cb), std::move(r));
    return;
  }
  char reply[128];
  std::snprintf(reply, sizeof(reply), "%s.%llu", conn->inbox.c_str(),
                static_cast<unsigned long long>(token));
  const bool is_marker = request.op != EntryOp::kPut;
  std::string_view payload = is_marker ? std::string_view() : request.value;
  natsMsg* msg = nullptr;
  natsStatus s = natsMsg_Create(&msg, subject.c_str(), reply, payload.data(),
                                static_cast<int>(payload.size()));
  std::string value;  // headers need NUL-terminated strings
  for (const Header& h : request.headers) {
    if (s != NATS_OK) break;
    if (!IsWritableHeader(h.first) || h.first == kHdrKvOperation) continue;
    s = natsMsgHeader_Add(msg, h.first.c_str(), h.second.c_str());
  }
  if (s == NATS_OK && request.op == EntryOp::kDelete) {
    s = natsMsgHeader_Set(msg, "KV-Operation", "DEL");
  } else if (s == NATS_OK && request.op == EntryOp::kPurge) {
    s = natsMsgHeader_Set(msg, "KV-Operation", "PURGE");
    if (s == NATS_OK) s = natsMsgHeader_Set(msg, "Nats-Rollup", "sub");
  } else if (s == NATS_OK && request.op == EntryOp::kFlush) {
    s = natsMsgHeader_Set(msg, "KV-Operation", "PURGE");
  }
  if (s == NATS_OK && request.expected_revision.has_value()) {
    char rev[32];
    std::snprintf(rev, sizeof(rev), "%llu",
                  static_cast<unsigned long long>(*request.expected_revision));
    s = natsMsgHeader_Set(msg, "Nats-Expected-Last-Subject-Sequence", rev);
  }
  if (s == NATS_OK && !request.msg_id.empty()) {
    value.assign(request.msg_id);
    s = natsMsgHeader_Set(msg, "Nats-Msg-Id", value.c_str());
  }
  if (s == NATS_OK) s = natsConnection_PublishMsg(conn->nc, msg);
  natsMsg_Destroy(msg);
  if (s != NATS_OK) {
    static int64_t last_log = 0;
    LogNatsError("publish", s, &last_log);
    KvStatus status = s == NATS_MAX_PAYLOAD ? KvStatus::kTooLarge : KvStatus::kUnavailable;
    // A publish that nats.c refused was never sent, so its outcome is known: not applied.
    FailToken(token, status, natsStatus_GetText(s));
    return;
  }
  ops_sent_.fetch_add(1, std::memory_order_relaxed);
}

void NatsKvBackend::OnReply(natsConnection* nc, natsSubscription* sub, natsMsg* msg,
                            void* closure) {
  auto* guard = static_cast<CallbackGuard*>(closure);
  std::lock_guard<std::mutex> guard_lock(guard->mu);
  NatsKvBackend* self = guard->self;
  if (self == nullptr) {
    natsMsg_Destroy(msg);
    return;
  }
  std::string_view subject = natsMsg_GetSubject(msg);
  size_t dot = subject.rfind('.');
  uint64_t token = 0;
  if (dot == std::string_view::npos ||
      std::from_chars(subject.data() + dot + 1, subject.data() + subject.size(), token).ec !=
          std::errc()) {
    natsMsg_Destroy(msg);
    return;
  }
  PendingOp op;
  {
    std::lock_guard<std::mutex> lock(self->pending_mu_);
    auto it = self->pending_.find(token);
    if (it == self->pending_.end()) {  // late answer of an op that already failed
      natsMsg_Destroy(msg);
      return;
    }
    op = std::move(it->second);
    self->pending_.erase(it);
  }
  if (op.is_write) {
    WriteResult r;
    if (natsMsg_IsNoResponders(msg)) {
      r.status = KvStatus::kNotFound;
      r.detail = "bucket stream not available";
    } else {
      const char* data = natsMsg_GetData(msg);
      r = ParsePubAck(std::string_view(data ? data : "",
                                       static_cast<size_t>(natsMsg_GetDataLength(msg))));
    }
    self->PostWrite(std::move(op.write_cb), std::move(r));
  } else if (op.is_leader_get && !natsMsg_IsNoResponders(msg)) {
    const char* data = natsMsg_GetData(msg);
    self->PostGet(std::move(op.get_cb),
                  ParseStreamMsgGet(std::string_view(
                      data ? data : "", static_cast<size_t>(natsMsg_GetDataLength(msg)))));
  } else {
    self->PostGet(std::move(op.get_cb), DecodeDirectGet(msg));
  }
  natsMsg_Destroy(msg);
}

void NatsKvBackend::OnDisconnected(natsConnection* nc, void* closure) {
  auto* guard = static_cast<CallbackGuard*>(closure);
  std::lock_guard<std::mutex> guard_lock(guard->mu);
  NatsKvBackend* self = guard->self;
  if (self == nullptr) return;
  uint64_t generation = 0;
  {
    std::lock_guard<std::mutex> lock(self->conn_mu_);
    // An old connection, or the closed callback after the disconnected one.
    if (!self->conn_ || self->conn_->nc != nc || !self->connected_.load()) return;
    generation = self->conn_->generation;
    self->connected_.store(false, std::memory_order_release);
  }
  self->disconnects_.fetch_add(1, std::memory_order_relaxed);
  std::fprintf(stderr, "nats: connection lost; failing pending operations and reconnecting\n");
  self->FailGeneration(generation, /*is_disconnect=*/true);
  {
    std::lock_guard<std::mutex> lock(self->manager_mu_);
    self->is_connection_lost_ = true;
  }
  self->manager_cv_.notify_all();
}

std::vector<NatsKvBackend::PendingOp> NatsKvBackend::TakePending(
    const std::function<bool(const PendingOp&)>& matches) {
  std::vector<PendingOp> taken;
  std::lock_guard<std::mutex> lock(pending_mu_);
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (matches(it->second)) {
      taken.push_back(std::move(it->second));
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
  return taken;
}

void NatsKvBackend::FailOps(std::vector<PendingOp>& ops, KvStatus read_status,
                            const char* write_detail, const char* read_detail) {
  // A write that was sent may have been applied: its outcome is unknown, never "failed".
  for (PendingOp& op : ops) {
    if (op.is_write) {
      WriteResult r;
      r.status = KvStatus::kOutcomeUnknown;
      r.detail = write_detail;
      PostWrite(std::move(op.write_cb), std::move(r));
    } else {
      GetResult r;
      r.status = read_status;
      r.detail = read_detail;
      PostGet(std::move(op.get_cb), std::move(r));
    }
  }
}

void NatsKvBackend::FailGeneration(uint64_t generation, bool is_disconnect) {
  auto failed = TakePending([generation](const PendingOp& op) {
    return op.generation == generation;
  });
  ops_failed_on_disconnect_.fetch_add(failed.size(), std::memory_order_relaxed);
  FailOps(failed, KvStatus::kUnavailable,
          "connection to NATS lost before the write was acknowledged", "connection to NATS lost");
}

void NatsKvBackend::SweepOverdue() {
  int64_t now = NowMs();
  auto overdue = TakePending([now](const PendingOp& op) { return op.deadline_ms <= now; });
  ops_timed_out_.fetch_add(overdue.size(), std::memory_order_relaxed);
  FailOps(overdue, KvStatus::kTimeout, "no acknowledgement from NATS in time",
          "no answer from NATS in time");
}

bool NatsKvBackend::Connect() {
  natsOptions* opts = nullptr;
  if (natsOptions_Create(&opts) != NATS_OK) return false;
  // nats.c 3.4 does not percent-decode a URL's user:password@ or token@, so the credentials
  // are taken out of the URLs here (decoded as the wire client does) and set as options; the
  // first URL that has any supplies them for every server, as nats.c applies them to the
  // servers it discovers too.
  std::vector<std::string> bare(options_.servers.size());
  std::optional<NatsUrlCredentials> url_creds;
  for (size_t i = 0; i < options_.servers.size(); ++i) {
    NatsUrlCredentials c = SplitUrlCredentials(options_.servers[i], &bare[i]);
    if (!url_creds && (!c.user.empty() || !c.token.empty())) url_creds = std::move(c);
  }
  std::vector<const char*> urls;
  for (const std::string& u : bare) urls.push_back(u.c_str());
  natsStatus s = natsOptions_SetServers(opts, urls.data(), static_cast<int>(urls.size()));
  if (s == NATS_OK && url_creds && !url_creds->token.empty()) {
    s = natsOptions_SetToken(opts, url_creds->token.c_str());
  } else if (s == NATS_OK && url_creds) {
    s = natsOptions_SetUserInfo(opts, url_creds->user.c_str(), url_creds->pass.c_str());
  }
  if (s == NATS_OK) s = natsOptions_SetSendAsap(opts, true);
  if (s == NATS_OK) s = natsOptions_SetAllowReconnect(opts, false);
  if (s == NATS_OK) s = natsOptions_SetTimeout(opts, options_.connect_timeout_ms);
  if (s == NATS_OK) s = natsOptions_SetName(opts, options_.client_name.c_str());
  if (s == NATS_OK) s = natsOptions_SetNoRandomize(opts, false);
  if (s == NATS_OK) s = natsOptions_SetDisconnectedCB(opts, &NatsKvBackend::OnDisconnected, guard_);
  if (s == NATS_OK) s = natsOptions_SetClosedCB(opts, &NatsKvBackend::OnDisconnected, guard_);
  if (s == NATS_OK && !options_.auth_files.creds_file.empty()) {
    s = natsOptions_SetUserCredentialsFromFiles(opts, options_.auth_files.creds_file.c_str(),
                                                nullptr);
  } else if (s == NATS_OK && !options_.auth_files.nkey_file.empty()) {
    // nats.c wants the public key beside the seed file: derive it from the seed.
    NatsUserAuth auth;
    std::string err = LoadNatsUserAuth(options_.auth_files, &auth);
    if (!err.empty()) {
      natsOptions_Destroy(opts);
      static int64_t last_log = 0;
      if (NowMs() - last_log >= 1000) {
        last_log = NowMs();
        std::fprintf(stderr, "nats: %s\n", err.c_str());
      }
      std::lock_guard<std::mutex> lock(conn_mu_);
      auth_error_ = err;
      return false;
    }
    s = natsOptions_SetNKeyFromSeed(opts, auth.key->public_key().c_str(),
                                    options_.auth_files.nkey_file.c_str());
  }
  if (s == NATS_OK) s = ApplyTlsOptions(options_, opts);
  auto conn = std::make_shared<Connection>();
  if (s == NATS_OK) s = natsConnection_Connect(&conn->nc, opts);
  natsOptions_Destroy(opts);
  if (s != NATS_OK) {
    const char* detail = nats_GetLastError(nullptr);
    if (s == NATS_NOT_PERMITTED || (detail != nullptr && IsNatsAuthError(detail))) {
      std::lock_guard<std::mutex> lock(conn_mu_);
      // nats.c prefixes its source location, "(conn.c:1905): ": keep the server's words.
      std::string_view text = detail != nullptr ? detail : natsStatus_GetText(s);
      if (!text.empty() && text.front() == '(' && text.find("): ") != std::string_view::npos) {
        text.remove_prefix(text.find("): ") + 3);
      }
      auth_error_ = "NATS server refused the credentials: " + std::string(text);
    }
    static int64_t last_log = 0;
    LogNatsError("connect", s, &last_log);
    return false;
  }
  natsInbox* inbox = nullptr;
  s = natsInbox_Create(&inbox);
  if (s == NATS_OK) {
    conn->inbox = inbox;
    natsInbox_Destroy(inbox);
    std::string wildcard = conn->inbox + ".*";
    s = natsConnection_Subscribe(&conn->sub, conn->nc, wildcard.c_str(), &NatsKvBackend::OnReply,
                                 guard_);
  }
  // Answers must never be dropped as a slow consumer: they are bounded by the pending table.
  if (s == NATS_OK) s = natsSubscription_SetPendingLimits(conn->sub, -1, -1);
  if (s == NATS_OK) s = natsConnection_FlushTimeout(conn->nc, options_.connect_timeout_ms);
  if (s != NATS_OK) {
    static int64_t last_log = 0;
    LogNatsError("subscribe", s, &last_log);
    return false;
  }
  char url[256] = {0};
  // nats.c's URL keeps the user:password@ or token@ of the --nats URL: INFO shows it redacted.
  if (natsConnection_GetConnectedUrl(conn->nc, url, sizeof(url)) == NATS_OK) {
    conn->url = RedactUrl(url);
  }
  conn->generation = generation_.fetch_add(1) + 1;

  // Buckets known before a reconnect are checked again: the server may have lost its store.
  std::set<std::string> known;
  {
    std::lock_guard<std::mutex> lock(manager_mu_);
    known.swap(ready_buckets_);
  }
  {
    std::lock_guard<std::mutex> lock(conn_mu_);
    conn_ = conn;
    auth_error_.clear();
  }
  for (const std::string& bucket : known) {
    std::string detail;
    if (EnsureBucketBlocking(bucket, &detail) != KvStatus::kOk) {
      std::fprintf(stderr, "nats: bucket %s: %s\n", bucket.c_str(), detail.c_str());
      std::lock_guard<std::mutex> lock(conn_mu_);
      conn_.reset();
      return false;
    }
    std::lock_guard<std::mutex> lock(manager_mu_);
    ready_buckets_.insert(bucket);
  }
  // The connection may have dropped while we were checking buckets.
  if (natsConnection_Status(conn->nc) != NATS_CONN_STATUS_CONNECTED) {
    std::lock_guard<std::mutex> lock(conn_mu_);
    conn_.reset();
    return false;
  }
  connected_.store(true, std::memory_order_release);
  connects_.fetch_add(1, std::memory_order_relaxed);
  std::fprintf(stderr, "nats: connected to %s\n", conn->url.c_str());
  return true;
}

KvStatus NatsKvBackend::EnsureBucketBlocking(const std::string& bucket, std::string* detail) {
  std::shared_ptr<Connection> conn;
  {
    std::lock_guard<std::mutex> lock(conn_mu_);
    conn = conn_;
  }
  if (!conn) {
    *detail = "not connected to NATS";
    return KvStatus::kUnavailable;
  }
  auto request = [&](const std::string& subject, const std::string& body,
                     std::string* answer) -> KvStatus {
    natsMsg* reply = nullptr;
    natsStatus s = natsConnection_Request(&reply, conn->nc, subject.c_str(), body.data(),
                                          static_cast<int>(body.size()), options_.op_timeout_ms);
    if (s == NATS_NO_RESPONDERS) {
      *detail = "JetStream is not enabled on the NATS server";
      return KvStatus::kUnavailable;
    }
    if (s != NATS_OK) {
      *detail = std::string("JetStream API request failed: ") + natsStatus_GetText(s);
      return s == NATS_TIMEOUT ? KvStatus::kTimeout : KvStatus::kUnavailable;
    }
    const char* data = natsMsg_GetData(reply);
    answer->assign(data ? data : "", static_cast<size_t>(natsMsg_GetDataLength(reply)));
    natsMsg_Destroy(reply);
    return KvStatus::kOk;
  };
  std::string answer;
  KvStatus st = request("$JS.API.STREAM.INFO.KV_" + bucket, "", &answer);
  if (st != KvStatus::kOk) return st;
  auto err = ParseJsApiError(answer);
  auto set_leader_reads = [&](bool is_replicated) {
    std::lock_guard<std::mutex> lock(leader_reads_mu_);
    if (is_replicated) {
      leader_read_buckets_.insert(bucket);
    } else {
      leader_read_buckets_.erase(bucket);
    }
  };
  if (!err) {  // exists
    set_leader_reads(FindJsonUint(answer, "num_replicas").value_or(1) > 1);
    return KvStatus::kOk;
  }
  if (err->err_code != kJsErrStreamNotFound) {
    *detail = "stream info: " + err->description;
    return KvStatus::kInternal;
  }
  BucketConfig config;
  config.name = bucket;
  config.replicas = options_.replicas;
  st = request("$JS.API.STREAM.CREATE.KV_" + bucket, BuildKvStreamConfig(config), &answer);
  if (st != KvStatus::kOk) return st;
  if (auto create_err = ParseJsApiError(answer)) {
    *detail = "create bucket: " + create_err->description;
    return KvStatus::kInternal;
  }
  set_leader_reads(options_.replicas > 1);
  std::fprintf(stderr, "nats: created bucket %s (stream KV_%s, replicas %d)\n", bucket.c_str(),
               bucket.c_str(), options_.replicas);
  return KvStatus::kOk;
}

void NatsKvBackend::DropConnection() {
  std::shared_ptr<Connection> old;
  {
    std::lock_guard<std::mutex> lock(conn_mu_);
    old.swap(conn_);
    connected_.store(false, std::memory_order_release);
  }
  if (old) FailGeneration(old->generation, /*is_disconnect=*/true);
  // Destroyed here, on the manager thread, with whatever it still had buffered: nothing it
  // held can be sent later.
  old.reset();
}

void NatsKvBackend::ManagerMain() {
  int64_t backoff_ms = 0;
  int64_t next_attempt_ms = 0;
  for (;;) {
    std::deque<BucketJob> jobs;
    bool lost = false;
    {
      std::unique_lock<std::mutex> lock(manager_mu_);
      manager_cv_.wait_for(lock, std::chrono::milliseconds(50), [&] {
        return is_stopping_ || is_connection_lost_ || (!bucket_jobs_.empty() && is_connected());
      });
      if (is_stopping_) return;
      lost = is_connection_lost_;
      is_connection_lost_ = false;
      if (is_connected()) jobs.swap(bucket_jobs_);
    }
    if (lost) DropConnection();
    if (!is_connected() && NowMs() >= next_attempt_ms) {
      if (Connect()) {
        backoff_ms = 0;
      } else {
        backoff_ms = backoff_ms == 0 ? 100 : std::min<int64_t>(backoff_ms * 2, 2000);
        next_attempt_ms = NowMs() + backoff_ms;
      }
    }
    for (BucketJob& job : jobs) {
      std::string detail;
      if (job.is_purge) {
        KvStatus st = PurgeBlocking(job.bucket, &detail);
        executor_->Post([cb = std::move(job.cb), st, detail] { cb(st, detail); });
        continue;
      }
      KvStatus st = EnsureBucketBlocking(job.bucket, &detail);
      if (st == KvStatus::kOk) {
        std::lock_guard<std::mutex> lock(manager_mu_);
        ready_buckets_.insert(job.bucket);
      }
      executor_->Post([cb = std::move(job.cb), st, detail] { cb(st, detail); });
    }
    SweepOverdue();
    // Bucket jobs that arrive while disconnected fail fast rather than wait.
    if (!is_connected()) {
      std::deque<BucketJob> stale;
      {
        std::lock_guard<std::mutex> lock(manager_mu_);
        stale.swap(bucket_jobs_);
      }
      for (BucketJob& job : stale) {
        executor_->Post([cb = std::move(job.cb)] {
          cb(KvStatus::kUnavailable, "not connected to NATS");
        });
      }
    }
  }
}

}  // namespace kvmap
