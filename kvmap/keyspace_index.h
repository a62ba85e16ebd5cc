// SPDX-License-Identifier: Apache-2.0
//
// KeyspaceIndex is the live-key index of one bucket (DESIGN.md decision 5): for every key
// whose last stored message is a value, its revision and deadline. The bucket follower feeds it
// every stored message in stream order; DBSIZE, KEYS, SCAN, RANDOMKEY, INFO keyspace and the
// active-expiry sweeper read it. It never holds values.
//
// Order and cursors. Keys are kept in the order of a fixed 64-bit hash of their encoded form
// (FNV-1a, then MurmurHash3's fmix64 finalizer),
// so a SCAN cursor is simply "the next hash to visit". The hash is fixed (not std::hash), so any
// gateway can continue a cursor another gateway returned, and every key present for the whole
// scan is returned at least once, whatever is added or removed meanwhile. Keys whose hashes
// collide are visited together.
//
// Expiry. Keys with a deadline are also in a min-heap of (deadline, key, revision). Entries are
// not removed when a key changes; TakeExpired skips entries whose key no longer has that
// revision, so the heap stays valid without searching it.
//
// Thread: one thread (the loop); not synchronised.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <queue>
#include <string>
#include <string_view>
#include <vector>

namespace kvmap {

class KeyspaceIndex {
 public:
  struct KeyInfo {
    uint64_t revision = 0;
    int64_t expires_at_ms = 0;  // 0: no deadline
  };

  // A stored value (a put). Ignored when seq is not beyond applied_sequence().
  void ApplyPut(std::string_view key, uint64_t seq, std::optional<int64_t> expires_at_ms);
  // A delete or purge marker of one key.
  void ApplyDelete(std::string_view key, uint64_t seq);
  // A rollup of the whole bucket (FLUSHDB): every key is gone.
  void ApplyFlush(uint64_t seq);
  // Forgets everything, the applied sequence included (before a replay from the stream start).
  void Reset();

  // The stream sequence of the last message applied.
  uint64_t applied_sequence() const { return applied_; }
  // Keys in the index, expired ones not yet deleted included (as Redis's DBSIZE counts them).
  size_t size() const { return size_; }
  size_t expires_count() const { return expires_; }
  const KeyInfo* Find(std::string_view key) const;

  // Visits up to about `count` keys from `cursor` (0 starts a scan) in hash order, calling
  // fn(key, info) for each, and returns the cursor to continue from (0 when the scan is done).
  // A collision group is never split, so a call may visit a few more than `count`.
  uint64_t Scan(uint64_t cursor, size_t count,
                const std::function<void(const std::string& key, const KeyInfo& info)>& fn) const;
  // Every key, in hash order.
  void ForEach(const std::function<void(const std::string& key, const KeyInfo& info)>& fn) const;
  // A key chosen from `random` (any 64-bit value), or nullopt when empty.
  std::optional<std::string> RandomKey(uint64_t random) const;

  struct Expired {
    std::string key;
    uint64_t revision;
    int64_t deadline_ms;
  };
  // Up to `max` keys whose deadline is before now_ms (Redis: expired when now > deadline),
  // earliest first, each with the revision that carried the deadline (the sweeper deletes with
  // CAS on it). They stay in the index until their delete marker is applied.
  std::vector<Expired> TakeExpired(int64_t now_ms, size_t max);
  // Puts a taken key back (its delete could not be sent); it comes out of TakeExpired again.
  void Requeue(const Expired& expired);

  // The hash that orders keys and cursors: FNV-1a 64 followed by fmix64.
  static uint64_t Hash(std::string_view key);

 private:
  struct Slot {
    std::string key;
    KeyInfo info;
  };
  using Group = std::vector<Slot>;  // keys sharing one hash (almost always one)
  struct HeapItem {
    int64_t deadline;
    uint64_t revision;
    std::string key;
    bool operator>(const HeapItem& o) const { return deadline > o.deadline; }
  };

  Slot* FindSlot(std::string_view key, uint64_t hash);
  void Erase(std::string_view key, uint64_t hash);

  std::map<uint64_t, Group> groups_;
  std::priority_queue<HeapItem, std::vector<HeapItem>, std::greater<HeapItem>> heap_;
  uint64_t applied_ = 0;
  size_t size_ = 0;
  size_t expires_ = 0;
};

}  // namespace kvmap
