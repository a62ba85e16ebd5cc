// SPDX-License-Identifier: Apache-2.0
//
// NatsWireBackend is the default KvBackend: it speaks the NATS client protocol itself, on the
// gateway's libuv loop, so an answer from NATS reaches the command that waits for it without
// crossing a thread. nats.c delivers every message on its own threads, and on this 2-core
// machine the three hand-offs per reply that this forces (nats.c reader, delivery thread, loop
// mailbox) cost more than the NATS round trip itself (docs/design.md, "Why a loop-native NATS
// client"). NatsKvBackend (kvmap/, over nats.c) stays available with --nats-client natsc.
//
// The operations are the same as NatsKvBackend's: direct gets and PubAck'd publishes whose
// replies arrive on one wildcard inbox subscription, matched to a pending table by token. A
// bucket whose stream has several replicas is read from its stream leader instead
// ($JS.API.STREAM.MSG.GET), because a follower may answer a direct get without a write the
// client has already seen acknowledged.
// Publishes made during one loop iteration leave in one write, when the loop has finished
// polling (a uv_check handle), so a pipeline costs one syscall, not one per command.
//
// Failure rules (DESIGN.md decision 2): there is exactly one socket at a time and no buffering
// across connections. When the socket fails, every pending operation fails at once (writes
// with kOutcomeUnknown, reads with kUnavailable), unsent output is dropped with the socket,
// and a new connection is made with backoff. While disconnected, operations fail immediately
// with kUnavailable and are never sent later.
//
// Thread: the loop thread only. Callbacks run on the loop thread: answers from the read
// callback, failures detected inside a call through the Executor (never inline).
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "gateway/bucket_follower.h"
#include "gateway/tls.h"
#include "kvmap/kv_backend.h"
#include "kvmap/nats_auth.h"
#include "kvmap/nats_kv_backend.h"  // NatsBackendStats
#include "kvmap/nats_protocol.h"

namespace gateway {

struct NatsWireOptions {
  std::vector<std::string> servers;  // nats://[user:pass@]host:port
  int64_t op_timeout_ms = 2000;
  int64_t connect_timeout_ms = 2000;
  int64_t ping_interval_ms = 5000;   // keepalive; two unanswered PINGs drop the connection
                                     // unless the server sent anything in the last interval
  int replicas = 1;
  int64_t marker_grace_ms = 60000;   // delete markers are purged after this
  std::string client_name = "redis-nats-gateway";
  // TLS (NATS upgrades after its plain-text INFO). Used for tls:// URLs, for every server when
  // a CA or client certificate is given here, and whenever the server requires it. An empty
  // CA means the system's trust store. The certificate must name the URL's host.
  TlsClientOptions tls;
  // --nats-nkey / --nats-creds: read again before every connection attempt, so a renewed
  // creds file is picked up on reconnect (user:password and tokens come from the URLs).
  kvmap::NatsAuthFiles auth_files;
};

class NatsWireBackend : public kvmap::KvBackend, public BucketFollower::Host {
 public:
  NatsWireBackend(uv_loop_t* loop, kvmap::Executor* executor, NatsWireOptions options);
  ~NatsWireBackend() override;
  NatsWireBackend(const NatsWireBackend&) = delete;
  NatsWireBackend& operator=(const NatsWireBackend&) = delete;

  // Starts connecting. Loop thread, once.
  void Start();
  // Closes the connection and the timers; pending operations fail. The loop can then exit.
  void Stop();
  // Runs after each batch of completions (the server flushes the sessions that got replies).
  void set_after_batch(std::function<void()> hook) { after_batch_ = std::move(hook); }

  void Get(std::string_view bucket, std::string_view key, kvmap::GetCallback cb) override;
  void Write(const kvmap::WriteRequest& request, kvmap::WriteCallback cb) override;
  void EnsureBucket(const std::string& bucket, kvmap::BucketCallback cb) override;
  bool IsBucketReady(const std::string& bucket) const override;
  void PurgeBucket(const std::string& bucket, kvmap::BucketCallback cb) override;
  const kvmap::KeyspaceIndex* Keyspace(const std::string& bucket) override;
  void WhenSynced(const std::string& bucket, std::function<void(kvmap::KvStatus)> cb) override;
  // Followers by bucket (for INFO).
  const std::map<std::string, std::unique_ptr<BucketFollower>, std::less<>>& followers() const {
    return followers_;
  }
  bool is_connected() const override { return state_ == State::kConnected; }
  size_t max_key_length() const override { return kvmap::NatsKvBackend::kMaxKeyLength; }

  bool IsFollowing(std::string_view bucket) const override {
    if (state_ != State::kConnected) return false;
    auto it = followers_.find(bucket);
    return it != followers_.end() && it->second->is_caught_up();
  }
  void SetChangeObserver(kvmap::ChangeObserver observer) override {
    change_observer_ = std::move(observer);
  }
  kvmap::MessageBus* bus() override { return &bus_; }
  kvmap::StreamClient* streams() override { return &streams_; }
  bool ForEachObjectRef(
      const std::string& bucket,
      const std::function<void(std::string_view key, std::string_view nuid)>& fn) override;

  kvmap::NatsBackendStats stats() const;
  std::string connected_url() const { return is_connected() ? current_url_ : std::string(); }
  // Why the last connection attempt was refused for its credentials (the server's -ERR, or a
  // credentials file that cannot be used), or empty. Cleared by a successful connection; main
  // uses it to fail start-up instead of retrying with credentials that cannot work.
  const std::string& auth_error() const { return auth_error_; }

 private:
  enum class State : uint8_t { kIdle, kConnecting, kHandshake, kConnected, kStopped };
  enum class OpKind : uint8_t { kGet, kWrite, kApi, kRaw };
  using ApiCallback = std::function<void(kvmap::KvStatus, int status, std::string_view payload)>;
  struct Pending {
    OpKind kind;
    kvmap::GetCallback get_cb;
    kvmap::WriteCallback write_cb;
    ApiCallback api_cb;
    std::string bucket;  // writes: to record the acknowledged sequence per bucket
    bool is_leader_get = false;  // a get sent as $JS.API.STREAM.MSG.GET (JSON answer)
    kvmap::StreamReplyCallback raw_cb = nullptr;  // kRaw: the whole answer
  };
  struct Socket;  // one TCP connection attempt (its handle is freed in its close callback)
  struct ServerUrl {
    std::string host;
    int port = 4222;
    std::string user, pass, token;
    std::string display;
    bool is_tls = false;   // tls:// URL
    std::string tls_name;  // the host as written: what the server certificate must name
  };

  // Connection life cycle.
  void Connect();
  void OnTcpConnected(int status);
  void OnReadable(const char* data, size_t n);
  void Disconnect(const std::string& reason, bool is_stopping = false);
  void ScheduleReconnect();
  void OnTimer();
  // Output.
  void FlushOutput();
  static void OnCheck(uv_check_t* handle);
  // TLS. On the server's INFO: starts the handshake when TLS is wanted or required and not
  // yet on (true: INFO handled, CONNECT waits for the handshake; or the attempt failed).
  bool StartTlsIfNeeded(std::string_view info);
  // Decrypts the ciphertext read into in_[base, end) in place of itself; continues the
  // handshake. False when the connection failed (disconnected).
  bool DecryptInput(size_t base);
  // Input.
  void HandleOp(const kvmap::NatsOp& op);
  void CompleteMessage(const kvmap::NatsOp& op);
  // Pending operations.
  uint64_t Register(Pending pending);
  void AppendReplySubject(uint64_t token);
  void FailAllPending(kvmap::KvStatus write_status, kvmap::KvStatus read_status,
                      const std::string& detail);
  void FailPending(Pending& p, kvmap::KvStatus write_status, kvmap::KvStatus read_status,
                   const std::string& detail);
  void PostFailure(Pending p, kvmap::KvStatus status, const std::string& detail);
  void ApiRequest(const std::string& subject, const std::string& body, ApiCallback cb);
  void RunEnsure(const std::string& bucket);
  void FinishEnsure(const std::string& bucket, kvmap::KvStatus status, const std::string& detail,
                    uint64_t stream_last_seq = 0);
  // BucketFollower::Host
  uint64_t Subscribe(const std::string& subject, BucketFollower* follower) override;
  void Unsubscribe(uint64_t sid) override;
  void PublishEmpty(std::string_view subject) override;
  void ApiCall(const std::string& subject, const std::string& body, ApiCallback cb) override {
    ApiRequest(subject, body, std::move(cb));
  }
  void WriteForFollower(const kvmap::WriteRequest& request, kvmap::WriteCallback cb) override {
    Write(request, std::move(cb));
  }
  int64_t NowMs() override { return static_cast<int64_t>(uv_now(loop_)); }
  void OnChange(const kvmap::ChangeEvent& change) override {
    if (change_observer_) change_observer_(change);
  }

  // Core pub/sub on this connection (MessageBus). Its subscriptions use sids from the same
  // counter as the followers'; a handle is its sid, kept across reconnects (each new
  // connection subscribes again with the same sid). A subscription is confirmed by a PING sent
  // right after its SUB: the server answers PINGs in order, after registering the SUB.
  class Bus : public kvmap::MessageBus {
   public:
    explicit Bus(NatsWireBackend* owner) : owner_(owner) {}
    uint64_t Subscribe(const std::string& subject, MessageFn on_message,
                       std::function<void(kvmap::KvStatus)> confirmed) override;
    void Unsubscribe(uint64_t handle) override;
    bool Publish(std::string_view subject, std::string_view payload) override;
    size_t publish_backlog() const override;
    size_t max_payload() const override { return static_cast<size_t>(owner_->max_payload_); }
    void WhenBacklogBelow(size_t bytes, std::function<void()> cb) override;

   private:
    NatsWireBackend* owner_;
  };
  // Raw JetStream access (the Object Store) on this connection.
  class Streams : public kvmap::StreamClient {
   public:
    explicit Streams(NatsWireBackend* owner) : owner_(owner) {}
    void PublishAcked(std::string_view subject, const kvmap::Headers& headers,
                      std::string_view payload, std::function<void(kvmap::WriteResult)> cb)
        override;
    void Request(std::string_view subject, std::string_view body,
                 kvmap::StreamReplyCallback cb) override;
    size_t max_payload() const override { return static_cast<size_t>(owner_->max_payload_); }
    bool is_connected() const override { return owner_->is_connected(); }

   private:
    NatsWireBackend* owner_;
  };
  struct BusSub {
    std::string subject;
    kvmap::MessageBus::MessageFn on_message;
  };
  // Sends a PING whose PONG runs `cb` (kOk), or fails it (kUnavailable) if the connection is
  // lost first. An empty cb is a keepalive PING.
  void SendPing(std::function<void(kvmap::KvStatus)> cb);
  void RunBacklogWaiters();
  void AfterBatch() {
    if (after_batch_) after_batch_();
  }

  uv_loop_t* loop_;
  kvmap::Executor* executor_;
  NatsWireOptions options_;
  std::vector<ServerUrl> urls_;
  size_t next_url_ = 0;
  State state_ = State::kIdle;
  Socket* socket_ = nullptr;
  std::string current_url_;
  int64_t max_payload_ = 1024 * 1024;
  kvmap::NatsUserAuth auth_;  // loaded from options_.auth_files by Connect()
  std::string auth_error_;

  uv_timer_t timer_;
  uv_check_t check_;
  int64_t last_read_ms_ = 0;  // loop time of the last bytes received (keepalive)
  bool are_handles_open_ = false;
  int64_t connect_deadline_ms_ = 0;
  int64_t next_connect_ms_ = 0;
  int64_t backoff_ms_ = 0;
  int64_t next_ping_ms_ = 0;
  int pings_outstanding_ = 0;
  bool is_connect_sent_ = false;

  std::string out_;                  // not yet handed to libuv (plaintext)
  // TLS of the current connection: the context (built on first use), the session, the INFO
  // that CONNECT answers once the handshake is done, and ciphertext not yet handed to libuv.
  std::unique_ptr<TlsContext> tls_context_;
  std::unique_ptr<TlsSession> tls_;
  std::string tls_info_;
  std::string tls_out_;
  bool is_write_in_flight_ = false;  // a uv_write is pending; new output waits in out_
  std::string in_;
  size_t in_pos_ = 0;
  // Size of in_ before the read buffer the alloc callback added, or npos when none was added
  // (libuv can report EOF or an error without asking for a buffer first).
  size_t read_base_ = std::string::npos;

  std::string inbox_prefix_;  // "_INBOX.<random>." ; replies arrive on <prefix><token>
  uint64_t next_token_ = 1;
  std::unordered_map<uint64_t, Pending> pending_;
  std::deque<std::pair<int64_t, uint64_t>> deadlines_;  // in issue order = deadline order

  std::set<std::string> ready_buckets_;
  // Buckets whose stream has more than one replica: their gets go to the stream leader
  // (kvmap::ParseStreamMsgGet explains why). Learnt from STREAM.INFO, or set when we create one.
  std::set<std::string, std::less<>> leader_read_buckets_;
  std::map<std::string, std::vector<kvmap::BucketCallback>> ensuring_;

  std::map<std::string, std::unique_ptr<BucketFollower>, std::less<>> followers_;
  std::unordered_map<uint64_t, BucketFollower*> follower_sids_;
  uint64_t next_sid_ = 2;  // sid 1 is the reply inbox
  std::map<std::string, uint64_t, std::less<>> last_acked_;  // bucket -> highest acked sequence

  kvmap::ChangeObserver change_observer_;
  Bus bus_{this};
  Streams streams_{this};
  std::map<uint64_t, BusSub> bus_subs_;  // by sid
  // One entry per PING sent on the current connection, in order (PONGs come back in order).
  std::deque<std::function<void(kvmap::KvStatus)>> pong_waiters_;
  size_t in_flight_bytes_ = 0;  // the uv_write in flight
  std::vector<std::pair<size_t, std::function<void()>>> backlog_waiters_;

  std::function<void()> after_batch_;
  uint64_t ops_sent_ = 0, ops_timed_out_ = 0, ops_failed_on_disconnect_ = 0, connects_ = 0,
           disconnects_ = 0;
};

}  // namespace gateway
