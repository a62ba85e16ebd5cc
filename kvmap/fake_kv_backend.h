// SPDX-License-Identifier: Apache-2.0
//
// FakeKvBackend is an in-memory KvBackend for unit tests. It models a JetStream KV bucket
// closely enough for the gateway's logic: one global sequence shared by all keys of all
// buckets, delete/purge markers stored as entries, CAS on the last sequence (0 = no message),
// and Nats-Msg-Id de-duplication (a repeated id returns the original result with
// is_duplicate set).
//
// Completion modes:
//   * kImmediate: each operation is applied when called; its callback is posted to the
//     executor (never run inline).
//   * kManual: each operation is queued, unapplied. The test completes them one by one, in
//     any order (CompleteAt, CompleteNewest, CompleteAll), or fails them (FailAll, which
//     models a disconnect: writes report kOutcomeUnknown and are NOT applied, reads report
//     kUnavailable). A write is applied to the store only when it is completed.
//
// set_connected(false) makes new calls fail with kUnavailable (posted, not inline).
//
// Like the real backend, a call that could not be sent fails at once (posted, never queued):
// a key that breaks the NATS KV key rules or is longer than max_key_length() gets kInvalidKey,
// a write header outside the allow-list (IsWritableHeader) gets kInternal, and a message over
// the max payload (value plus header block) gets kTooLarge. In kManual mode de-duplication and
// CAS are decided when an operation is completed, in completion order, as the server would
// decide them on arrival.
//
// Thread: single-threaded; tests drive it from one thread.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "kvmap/keyspace_index.h"
#include "kvmap/kv_backend.h"

namespace kvmap {

class FakeKvBackend : public KvBackend {
 public:
  enum class Mode { kImmediate, kManual };

  FakeKvBackend(Executor* executor, Mode mode = Mode::kImmediate);

  void Get(std::string_view bucket, std::string_view key, GetCallback cb) override;
  void Write(const WriteRequest& request, WriteCallback cb) override;
  void EnsureBucket(const std::string& bucket, BucketCallback cb) override {
    KvStatus st = is_connected_ ? KvStatus::kOk : KvStatus::kUnavailable;
    executor_->Post([cb = std::move(cb), st] { cb(st, {}); });
  }
  bool IsBucketReady(const std::string& bucket) const override { return is_connected_; }
  void PurgeBucket(const std::string& bucket, BucketCallback cb) override {
    KvStatus st = is_connected_ ? KvStatus::kOk : KvStatus::kUnavailable;
    if (is_connected_) store_.erase(bucket);
    executor_->Post([cb = std::move(cb), st] { cb(st, {}); });
  }
  // An index kept from every applied write, as a follower would (in the same order).
  const KeyspaceIndex* Keyspace(const std::string& bucket) override { return &indexes_[bucket]; }
  void WhenSynced(const std::string& bucket, std::function<void(KvStatus)> cb) override {
    KvStatus st = is_connected_ ? KvStatus::kOk : KvStatus::kUnavailable;
    executor_->Post([cb = std::move(cb), st] { cb(st); });
  }
  bool is_connected() const override { return is_connected_; }
  size_t max_key_length() const override { return max_key_length_; }
  // Every applied write is reported at once, as an already-synced follower would report it
  // (flush markers as kFlush).
  bool IsFollowing(std::string_view bucket) const override {
    return is_connected_ && is_following_;
  }
  void SetChangeObserver(ChangeObserver observer) override { observer_ = std::move(observer); }
  MessageBus* bus() override { return bus_enabled_ ? &bus_ : nullptr; }

  // --- test controls ---
  void set_mode(Mode mode) { mode_ = mode; }
  void set_connected(bool connected) { is_connected_ = connected; }
  // IsFollowing() while connected (default true), as when a follower runs and is caught up.
  void set_following(bool following) { is_following_ = following; }
  // Reports a change as a follower would for a write made elsewhere (another gateway, a native
  // client) without touching the store.
  void ReportChange(const ChangeEvent& change) {
    if (observer_) observer_(change);
  }
  void set_max_key_length(size_t n) { max_key_length_ = n; }
  size_t pending_count() const { return pending_.size(); }
  // Completes the pending operation at `index` (0 = oldest). Returns false if out of range.
  bool CompleteAt(size_t index);
  bool CompleteNewest() { return pending_.empty() ? false : CompleteAt(pending_.size() - 1); }
  void CompleteAll();  // oldest first
  // Fails every pending operation as a disconnect would.
  void FailAll();

  // Direct store access (bypasses pending queues). Writes here get a fresh sequence.
  uint64_t Put(std::string_view bucket, std::string_view key, std::string_view value,
               Headers headers = {});
  // Latest entry of a key, or nullptr.
  const Entry* Latest(std::string_view bucket, std::string_view key) const;
  uint64_t last_sequence() const { return sequence_; }
  // Largest message (payload plus header block) a write may carry; larger writes get kTooLarge.
  void set_max_payload(size_t n) { max_payload_ = n; }
  // Clock for Entry::timestamp_ns (Unix nanoseconds). Defaults to the system clock.
  void set_clock(std::function<int64_t()> now_ns) { clock_ = std::move(now_ns); }
  // Forgets every remembered msg id, as if the duplicate window had passed.
  void ForgetMsgIds() { msg_ids_.clear(); }
  // The next `n` writes are applied (or de-duplicated) as usual, but report kOutcomeUnknown, as
  // when the acknowledgement is lost on the way back.
  void LoseNextAcks(int n) { acks_to_lose_ = n; }
  // The fake message bus (pub/sub). Disabled, bus() returns nullptr (a backend without one).
  class FakeBus;
  FakeBus& fake_bus() { return bus_; }
  void set_bus_enabled(bool v) { bus_enabled_ = v; }
  // Number of Get and Write calls received (for asserting that a parse error sent nothing).
  size_t get_calls() const { return get_calls_; }
  size_t write_calls() const { return write_calls_; }

 private:
  struct PendingGet {
    std::string bucket, key;
    GetCallback cb;
  };
  // Owns copies of everything a WriteRequest borrows; View() re-points a request at them. The
  // views are rebuilt on use because moving a std::string (SSO) can move its bytes.
  struct PendingWrite {
    std::string bucket, key, value;
    EntryOp op = EntryOp::kPut;
    Headers headers;
    std::optional<uint64_t> expected_revision;
    std::string msg_id;
    WriteCallback cb;

    WriteRequest View() const;
  };
  using Pending = std::variant<PendingGet, PendingWrite>;

  // Checks done before a real backend would send anything (key syntax and length, header
  // allow-list, payload size). Returns nullopt when the request may be sent.
  std::optional<WriteResult> CheckWrite(const WriteRequest& request) const;
  std::optional<GetResult> CheckGet(std::string_view key) const;
  GetResult ApplyGet(std::string_view bucket, std::string_view key) const;
  WriteResult ApplyWrite(const WriteRequest& request);
  void PostGet(GetCallback cb, GetResult result);
  void PostWrite(WriteCallback cb, WriteResult result);
  int64_t NowNs() const;

  Executor* executor_;
  Mode mode_;
  bool is_connected_ = true;
  bool is_following_ = true;
  size_t max_key_length_ = 4000;
  size_t max_payload_ = 1024 * 1024;
  int acks_to_lose_ = 0;
  // ApplyWrite, then turns the result into kOutcomeUnknown while acks are being lost.
  WriteResult ApplyWriteAndAck(const WriteRequest& request);
  std::function<int64_t()> clock_;  // Unix ns for Entry::timestamp_ns; system clock if empty
  uint64_t sequence_ = 0;
  size_t get_calls_ = 0;
  size_t write_calls_ = 0;
  std::deque<Pending> pending_;
  // bucket -> key -> latest entry
  std::map<std::string, std::map<std::string, Entry, std::less<>>, std::less<>> store_;
  // (bucket, msg id) -> result of the write that stored it. JetStream de-duplicates per stream
  // and only remembers ids of stored messages; the window never closes here unless
  // ForgetMsgIds() is called.
  std::map<std::pair<std::string, std::string>, WriteResult> msg_ids_;
  std::map<std::string, KeyspaceIndex> indexes_;
  ChangeObserver observer_;

 public:
  // In-memory pub/sub: subscriptions match NATS wildcards ('*' one token, '>' the rest);
  // confirmations are posted; Publish records the message and, like a connection with no echo,
  // does not deliver it to this bus's own subscribers. Inject() delivers as a message from
  // another client would.
  class FakeBus : public MessageBus {
   public:
    explicit FakeBus(FakeKvBackend* owner) : owner_(owner) {}
    uint64_t Subscribe(const std::string& subject, MessageFn on_message,
                       std::function<void(KvStatus)> confirmed) override;
    void Unsubscribe(uint64_t handle) override { subs_.erase(handle); }
    bool Publish(std::string_view subject, std::string_view payload) override;
    size_t publish_backlog() const override { return backlog_; }
    size_t max_payload() const override { return owner_->max_payload_; }
    void WhenBacklogBelow(size_t bytes, std::function<void()> cb) override;

    // --- test controls ---
    // Delivers to every matching subscription (synchronously); returns how many matched.
    size_t Inject(std::string_view subject, std::string_view payload);
    const std::vector<std::pair<std::string, std::string>>& published() const {
      return published_;
    }
    std::vector<std::string> subjects() const;
    // Confirmations are posted at once unless held; Release() posts the held ones.
    void set_hold_confirmations(bool v) { hold_ = v; }
    void ReleaseConfirmations();
    // Publish backlog as the test sets it; waiters run when it drops below their mark.
    void set_backlog(size_t bytes);

   private:
    struct Sub {
      std::string subject;
      MessageFn on_message;
    };
    FakeKvBackend* owner_;
    uint64_t next_ = 1;
    std::map<uint64_t, Sub> subs_;
    std::vector<std::pair<std::string, std::string>> published_;
    bool hold_ = false;
    std::vector<std::function<void(KvStatus)>> held_;
    size_t backlog_ = 0;
    std::vector<std::pair<size_t, std::function<void()>>> backlog_waiters_;
  };

 private:
  FakeBus bus_{this};
  bool bus_enabled_ = true;
};

// True when the NATS subject `subject` matches the subscription `filter` ('*' matches one
// token, a final '>' one or more).
bool SubjectMatches(std::string_view filter, std::string_view subject);

// An Executor for tests: Post() queues; RunAll() runs queued closures (including ones posted
// while running) until none are left.
class ManualExecutor : public Executor {
 public:
  void Post(std::function<void()> fn) override { queue_.push_back(std::move(fn)); }
  size_t RunAll();
  size_t queued() const { return queue_.size(); }

 private:
  std::deque<std::function<void()>> queue_;
};

}  // namespace kvmap
