// SPDX-License-Identifier: Apache-2.0
//
// BucketFollower keeps one bucket's KeyspaceIndex current (DESIGN.md decision 5). It runs one
// headers-only, ordered push consumer on the bucket's stream: the server delivers every stored
// message in stream order to a private subject, without payloads, and the follower applies each
// one to the index (a put, a delete or purge marker, or a whole-bucket flush).
//
// Ordered means the follower checks the consumer sequence of every delivery; on a gap (a lost
// message) it drops the consumer and creates a new one starting right after the last stream
// sequence it applied. It answers flow-control requests and stalled-consumer heartbeats, and
// restarts the consumer when heartbeats stop. The index survives reconnects: a new consumer
// resumes after the last applied sequence.
//
// It also drives active expiry: keys past their deadline are deleted with CAS on the revision
// that carried the deadline, so an overwrite made meanwhile always wins and several gateways
// expiring the same key do no harm.
//
// Every put and delete/purge marker of a Redis key stored after the follower first started is
// reported to Host::OnChange once, with its Redis-Event header and whether the key was live
// just before (keyspace notifications, DESIGN.md decision 8), and so is each flush marker (as
// kFlush; the read cache empties the bucket). History replayed at start-up or after a flush and
// internal keys are not reported.
//
// Thread: the loop thread. The host (NatsWireBackend) owns the connection.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "kvmap/keyspace_index.h"
#include "kvmap/kv_backend.h"
#include "kvmap/nats_protocol.h"

namespace gateway {

class BucketFollower {
 public:
  // What the follower needs from the connection.
  class Host {
   public:
    virtual ~Host() = default;
    // SUB on a fresh sid; messages on it are passed to OnMessage. 0 when not connected.
    virtual uint64_t Subscribe(const std::string& subject, BucketFollower* follower) = 0;
    virtual void Unsubscribe(uint64_t sid) = 0;
    virtual void PublishEmpty(std::string_view subject) = 0;
    using ApiCallback = std::function<void(kvmap::KvStatus, int status, std::string_view)>;
    virtual void ApiCall(const std::string& subject, const std::string& body, ApiCallback cb) = 0;
    virtual void WriteForFollower(const kvmap::WriteRequest& request, kvmap::WriteCallback cb) = 0;
    virtual int64_t NowMs() = 0;
    // One change, reported once, in stream order (see the file comment). Views are valid
    // during the call only.
    virtual void OnChange(const kvmap::ChangeEvent& change) { (void)change; }
  };

  static constexpr int64_t kWaitTimeoutMs = 5000;

  // `marker_grace_ms`: how long a delete marker stays before it is purged (DESIGN.md decision 6:
  // markers must not accumulate). Readers that arrive within the grace period still see the
  // marker's revision, which keeps CAS creates after a delete correct for them.
  BucketFollower(Host* host, std::string bucket, int64_t marker_grace_ms = 60000);
  ~BucketFollower();

  // (Re)creates the consumer after the last applied sequence. `stream_last_seq` is the stream's
  // last sequence when the bucket was checked: the follower counts as synced only once it has
  // applied at least that far. Connected state only.
  void Start(uint64_t stream_last_seq);
  // The connection is gone, and the consumer with it.
  void OnConnectionLost();
  void OnMessage(const kvmap::NatsOp& op);
  // Heartbeat watchdog (now_ms: the host's monotonic clock) and active expiry (wall clock);
  // call every tick.
  void Tick(int64_t now_ms);

  // Calls cb(true) once the index includes sequence `seq` and the history the follower started
  // with (at once when it already does), or cb(false) when the connection is lost first or
  // kWaitTimeoutMs pass.
  void WhenApplied(uint64_t seq, std::function<void(bool)> cb);

  const kvmap::KeyspaceIndex& index() const { return index_; }
  // Keys whose last entry is an Object Store pointer, with the object's nuid (the sweeper of
  // gateway/object_store.h keeps every object named here).
  // Looked up by string_view (transparent hash), so applying a put allocates nothing.
  struct KeyHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using ObjectMap = std::unordered_map<std::string, std::string, KeyHash, std::equal_to<>>;
  const ObjectMap& objects() const { return objects_; }
  const std::string& bucket() const { return bucket_; }
  bool is_running() const { return sid_ != 0; }
  // Running, and the history present at its last (re)start is applied: every change from now
  // on will be reported.
  bool is_caught_up() const { return sid_ != 0 && index_.applied_sequence() >= start_target_; }
  uint64_t restarts() const { return restarts_; }
  uint64_t markers_purged() const { return markers_purged_; }
  uint64_t expired_deleted() const { return expired_deleted_; }

 private:
  void Apply(const kvmap::NatsOp& op, uint64_t stream_seq);
  // True when `key` is in the index and not past its deadline (wall clock).
  bool IsLive(std::string_view key) const;
  // Tells the host about one applied put or marker (keyspace notifications).
  void Report(const kvmap::NatsOp& op, std::string_view key, kvmap::EntryOp entry_op, bool was_live,
              uint64_t stream_seq);
  void Restart(const char* why);
  void RunWaiters();
  void FailWaiters();

  Host* host_;
  std::string bucket_;
  kvmap::KeyspaceIndex index_;
  ObjectMap objects_;  // key -> nuid
  uint64_t sid_ = 0;
  std::string deliver_subject_;
  uint64_t expected_consumer_seq_ = 1;
  uint64_t start_target_ = 0;  // the stream's last sequence when the follower started
  uint64_t last_flush_seq_ = 0;  // the newest flush marker handled (replays skip it)
  bool has_started_ = false;
  // The highest stream sequence reported to Host::OnChange, or the stream's last sequence at
  // the first Start (history is not reported); replays never report a sequence twice.
  uint64_t reported_seq_ = 0;
  int64_t last_activity_ms_ = 0;
  uint64_t restarts_ = 0;
  uint64_t markers_purged_ = 0;
  int64_t marker_grace_ms_;
  struct Marker {
    int64_t seen_ms;  // wall clock
    std::string key;
    uint64_t seq;
  };
  std::deque<Marker> markers_;  // in stream order, so in seen order too
  uint64_t expired_deleted_ = 0;
  struct Waiter {
    uint64_t seq;
    int64_t deadline_ms;  // fails after this, so nothing waits forever
    std::function<void(bool)> cb;
  };
  std::vector<Waiter> waiters_;
};

}  // namespace gateway
