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
// Thread: single-threaded; tests drive it from one thread.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <unordered_map>
#include <variant>

#include "kvmap/kv_backend.h"

namespace kvmap {

class FakeKvBackend : public KvBackend {
 public:
  enum class Mode { kImmediate, kManual };

  FakeKvBackend(Executor* executor, Mode mode = Mode::kImmediate);

  void Get(std::string_view bucket, std::string_view key, GetCallback cb) override;
  void Write(const WriteRequest& request, WriteCallback cb) override;
  bool is_connected() const override { return is_connected_; }
  size_t max_key_length() const override { return max_key_length_; }

  // --- test controls ---
  void set_mode(Mode mode) { mode_ = mode; }
  void set_connected(bool connected) { is_connected_ = connected; }
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
  // Number of Get and Write calls received (for asserting that a parse error sent nothing).
  size_t get_calls() const { return get_calls_; }
  size_t write_calls() const { return write_calls_; }

 private:
  struct PendingGet {
    std::string bucket, key;
    GetCallback cb;
  };
  struct PendingWrite {
    std::string bucket, key, value;
    WriteRequest request;  // string_views re-pointed at the owned copies above
    WriteCallback cb;
  };
  using Pending = std::variant<PendingGet, PendingWrite>;

  GetResult ApplyGet(const std::string& bucket, const std::string& key) const;
  WriteResult ApplyWrite(const PendingWrite& w);

  Executor* executor_;
  Mode mode_;
  bool is_connected_ = true;
  size_t max_key_length_ = 4000;
  uint64_t sequence_ = 0;
  size_t get_calls_ = 0;
  size_t write_calls_ = 0;
  std::deque<Pending> pending_;
  // bucket -> key -> latest entry
  std::map<std::string, std::map<std::string, Entry>> store_;
  std::unordered_map<std::string, WriteResult> msg_ids_;
};

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
