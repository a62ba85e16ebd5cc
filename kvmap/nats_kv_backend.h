// SPDX-License-Identifier: Apache-2.0
//
// NatsKvBackend is the production KvBackend: JetStream KV over one nats.c connection, spoken
// on the raw protocol so that nothing blocks the loop thread.
//
// How an operation travels:
//   * The loop thread registers the operation in a pending table under a fresh token, then
//     publishes it (SendAsap, so it leaves at once) with the reply subject
//     `<inbox>.<token>`. Reads are direct gets on `$JS.API.DIRECT.GET.KV_<b>.$KV.<b>.<key>`,
//     or, for a bucket whose stream has several replicas, `$JS.API.STREAM.MSG.GET.KV_<b>`
//     requests that only the stream leader answers (a follower's direct get can miss a write
//     already acknowledged: kvmap::ParseStreamMsgGet); writes are publishes on
//     `$KV.<b>.<key>` answered by a PubAck.
//   * One wildcard subscription on `<inbox>.*` receives every answer on a nats.c thread, which
//     finds the pending operation by token, decodes the answer and posts the callback to the
//     loop through the Executor.
//
// Failure rules (DESIGN.md decision 2). nats.c resends publishes it buffered while
// disconnected, which could apply a write the gateway already reported as failed. So the
// connection runs with reconnects disabled: when it drops, every pending operation fails at
// once (writes with kOutcomeUnknown, reads with kUnavailable), the connection is destroyed with
// whatever it had buffered, and a manager thread builds a fresh connection (all server URLs, a
// new inbox subscription) with backoff. While no connection is up, operations fail immediately
// with kUnavailable: nothing is queued, so nothing can land later. An operation with no answer
// by its deadline fails with kTimeout (reads) or kOutcomeUnknown (writes).
//
// Buckets are created on demand (EnsureBucket) by the manager thread with blocking JetStream
// API requests, and re-checked after every reconnect.
//
// Threads: Get, Write, EnsureBucket, is_connected and the accessors are called on the loop
// thread. Callbacks run on the loop thread through the Executor. Internally, nats.c threads
// deliver answers and connection events, and the manager thread connects, reconnects, creates
// buckets and expires overdue operations. This is the only file pair that includes nats.h.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "kvmap/js_api.h"
#include "kvmap/kv_backend.h"
#include "kvmap/nats_auth.h"

// nats.c's opaque types, declared here so that only the .cc includes nats.h.
struct __natsConnection;
struct __natsSubscription;
struct __natsMsg;

namespace kvmap {

struct NatsBackendOptions {
  std::vector<std::string> servers;  // nats:// URLs
  int64_t op_timeout_ms = 2000;      // deadline of one operation
  int64_t connect_timeout_ms = 2000;
  int replicas = 1;                  // for buckets the backend creates
  std::string client_name = "redis-nats-gateway";
  // --nats-nkey / --nats-creds, handed to nats.c (read again on each connection attempt);
  // user:password@ and token@ in the URLs need nothing here.
  NatsAuthFiles auth_files;
  // TLS, as NatsWireOptions::tls: on for tls:// URLs or when any file is given (an empty CA
  // means the system's trust store); nats.c also upgrades when the server requires it.
  std::string tls_ca_file, tls_cert_file, tls_key_file;
};

struct NatsBackendStats {
  uint64_t ops_sent = 0;
  uint64_t ops_timed_out = 0;
  uint64_t ops_failed_on_disconnect = 0;
  uint64_t connects = 0;     // successful connections, the first one included
  uint64_t disconnects = 0;
  uint64_t pending = 0;
};

class NatsKvBackend : public KvBackend {
 public:
  NatsKvBackend(Executor* executor, NatsBackendOptions options);
  // Stops the manager thread and closes the connection. Pending operations are dropped without
  // callbacks (the loop is going away). Loop thread, after the loop stopped.
  ~NatsKvBackend() override;

  // Starts the manager thread, which connects in the background. Loop thread, once.
  void Start();
  // Closes the nats.c library (nats_CloseAndWait, up to timeout_ms) if a NatsKvBackend was
  // ever created; otherwise does nothing. nats.c's own threads (timers, connection callbacks,
  // garbage collection) outlive every connection, and exit() runs OpenSSL's atexit clean-up,
  // which frees locks those threads still use when the connection had TLS. So main calls this
  // after the last backend is destroyed and before it returns. Not on a nats.c thread.
  static void CloseLibrary(int64_t timeout_ms);
  // Blocks the calling thread until the first connection is up or timeout_ms passes. For
  // start-up only, before the loop runs. Returns true when connected.
  bool WaitConnected(int64_t timeout_ms);

  // Makes sure the stream of `bucket` exists (creating it when missing), then calls cb on the
  // loop thread. Answers at once (posted) when the bucket is already known to exist.
  void EnsureBucket(const std::string& bucket, BucketCallback cb) override;
  bool IsBucketReady(const std::string& bucket) const override;
  // Blocking JetStream request on the manager thread, like bucket creation.
  void PurgeBucket(const std::string& bucket, BucketCallback cb) override;
  // The nats.c backend runs no bucket follower: keyspace-wide commands need --nats-client wire.
  const KeyspaceIndex* Keyspace(const std::string& bucket) override { return nullptr; }
  void WhenSynced(const std::string& bucket, std::function<void(KvStatus)> cb) override {
    executor_->Post([cb = std::move(cb)] { cb(KvStatus::kUnavailable); });
  }
  // Blocking variant for start-up (never on the loop thread).
  KvStatus EnsureBucketNow(const std::string& bucket, std::string* detail);

  void Get(std::string_view bucket, std::string_view key, GetCallback cb) override;
  void Write(const WriteRequest& request, WriteCallback cb) override;
  bool is_connected() const override { return connected_.load(std::memory_order_acquire); }
  size_t max_key_length() const override { return kMaxKeyLength; }

  NatsBackendStats stats() const;
  // The URL of the server the current connection uses (credentials redacted), or empty.
  std::string connected_url() const;
  // Why the last connection attempt was refused for its credentials, or empty (cleared by a
  // successful connection). Any thread.
  std::string auth_error() const;

  // The longest encoded key every operation can carry. nats-server closes a connection whose
  // protocol line exceeds 4096 bytes; the longest line we send is a direct get, whose subject
  // names the bucket twice, plus an inbox and numbers. 3800 leaves room for bucket names up to
  // 64 bytes.
  static constexpr size_t kMaxKeyLength = 3800;
  static constexpr size_t kMaxBucketNameLength = 64;

 private:
  struct Connection;
  struct PendingOp {
    bool is_write = false;
    bool is_leader_get = false;  // a $JS.API.STREAM.MSG.GET (JSON answer)
    GetCallback get_cb;
    WriteCallback write_cb;
    int64_t deadline_ms = 0;
    uint64_t generation = 0;
  };
  struct BucketJob {
    std::string bucket;
    BucketCallback cb;
    bool is_purge = false;  // PurgeBucket instead of EnsureBucket
  };

  // nats.c callbacks (nats.c threads).
  static void OnReply(::__natsConnection* nc, ::__natsSubscription* sub, ::__natsMsg* msg,
                      void* closure);
  static void OnDisconnected(::__natsConnection* nc, void* closure);

  void ManagerMain();
  bool Connect();                        // manager thread
  void DropConnection();                 // manager thread
  KvStatus EnsureBucketBlocking(const std::string& bucket, std::string* detail);
  KvStatus PurgeBlocking(const std::string& bucket, std::string* detail);
  void SweepOverdue();                   // manager thread
  // Removes every pending op of `generation` and fails it. Any thread.
  void FailGeneration(uint64_t generation, bool is_disconnect);
  // Removes and returns the pending ops `matches` selects. Any thread.
  std::vector<PendingOp> TakePending(const std::function<bool(const PendingOp&)>& matches);
  // Posts the failure of each op: writes kOutcomeUnknown, reads `read_status`.
  void FailOps(std::vector<PendingOp>& ops, KvStatus read_status, const char* write_detail,
               const char* read_detail);
  // Registers an operation; returns its token and the connection to publish on (null when
  // disconnected, in which case the op was not registered).
  // `op` is moved from only on success. Caller holds conn_mu_.
  std::shared_ptr<Connection> Register(PendingOp& op, uint64_t* token);
  // Fails a registered op whose publish failed (if it is still pending).
  void FailToken(uint64_t token, KvStatus status, const std::string& detail);
  void PostGet(GetCallback cb, GetResult result);
  void PostWrite(WriteCallback cb, WriteResult result);

  // nats.c may run a queued connection callback after the connection is destroyed, so its
  // closure is this guard, which outlives the backend; `self` is cleared on destruction.
  struct CallbackGuard {
    std::mutex mu;
    NatsKvBackend* self = nullptr;
  };

  Executor* executor_;
  NatsBackendOptions options_;
  CallbackGuard* guard_;  // never freed: kept in a static list (a few bytes per backend)

  // conn_mu_ guards conn_. It is held across a publish so the manager never destroys a
  // connection in use.
  mutable std::mutex conn_mu_;
  std::shared_ptr<Connection> conn_;
  std::atomic<bool> connected_{false};
  std::string auth_error_;  // guarded by conn_mu_
  std::atomic<uint64_t> generation_{0};

  // pending_mu_ guards the pending table and the token counter.
  mutable std::mutex pending_mu_;
  std::unordered_map<uint64_t, PendingOp> pending_;
  uint64_t next_token_ = 1;

  // manager_mu_ guards the manager's inputs.
  mutable std::mutex manager_mu_;
  std::condition_variable manager_cv_;
  bool is_stopping_ = false;
  bool is_connection_lost_ = false;
  std::deque<BucketJob> bucket_jobs_;
  std::set<std::string> ready_buckets_;
  // Buckets with more than one replica, read from their stream leader (see the top comment).
  // Written by the manager thread, read by Get on the loop thread.
  mutable std::mutex leader_reads_mu_;
  std::set<std::string, std::less<>> leader_read_buckets_;
  std::thread manager_;

  std::atomic<uint64_t> ops_sent_{0}, ops_timed_out_{0}, ops_failed_on_disconnect_{0},
      connects_{0}, disconnects_{0};
};

}  // namespace kvmap
