// SPDX-License-Identifier: Apache-2.0
//
// ReadCache (--read-cache SIZE) keeps recently read and written entries in the gateway, so that
// a read of a hot key answers without a NATS round trip. It is a KvBackend that wraps the real
// one: every command path goes through it unchanged, and a hit returns exactly the GetResult the
// backend would have returned (value, revision, headers, markers and "no such key" alike).
//
// Coherence comes from the bucket follower (docs/design.md, "Read cache"):
//   * An entry of bucket B is only served while the backend reports IsFollowing(B): the
//     follower runs and has applied everything stored before it (re)started, so every later
//     change to B will reach the change observer. Otherwise reads go to NATS and nothing is
//     cached (not connected, follower starting, rebuilding after a flush).
//   * A change the follower reports with a revision above the cached one removes the entry:
//     writes by other gateways and by native NATS clients are seen within the follower's lag.
//     A flush of the bucket (FLUSHDB/FLUSHALL anywhere) empties its cache.
//   * A write through this gateway stores its own result when acknowledged (read your writes).
//   * A result (read or write) is only stored if no change newer than it was reported while
//     the operation was in flight, and no flush happened meanwhile; so a slow answer never
//     overwrites a newer change the follower already applied.
//   * A failed write (CAS mismatch, unknown outcome) removes the key's entry.
//
// Entries are evicted, roughly least recently used first (CLOCK: an entry read since it was last
// considered gets a second chance), when their estimated size exceeds the capacity. A hit never
// touches NATS.
//
// Thread: the loop thread, like every KvBackend.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "kvmap/forwarding_backend.h"
#include "kvmap/kv_backend.h"

namespace kvmap {

class ReadCache : public ForwardingBackend {
 public:
  struct Stats {
    uint64_t hits = 0;
    uint64_t misses = 0;          // reads sent to NATS while the cache could be used
    uint64_t bypassed = 0;        // reads sent to NATS because the bucket was not followed
    uint64_t invalidations = 0;   // entries removed by a reported change or a failed write
    uint64_t evictions = 0;       // entries removed to stay within the capacity
    uint64_t flushes = 0;         // whole-bucket clears
    uint64_t entries = 0;
    uint64_t bytes = 0;           // estimated memory of the entries
  };

  // `inner` must outlive the cache. `capacity_bytes` > 0.
  ReadCache(KvBackend* inner, Executor* executor, size_t capacity_bytes);
  ~ReadCache() override;

  void Get(std::string_view bucket, std::string_view key, GetCallback cb) override;
  void Write(const WriteRequest& request, WriteCallback cb) override;
  // A pointer read is a read of the entry as stored: served from the cache like Get.
  void GetPointer(std::string_view bucket, std::string_view key, GetCallback cb) override {
    Get(bucket, key, std::move(cb));
  }
  void PurgeBucket(const std::string& bucket, BucketCallback cb) override;
  void SetChangeObserver(ChangeObserver observer) override { observer_ = std::move(observer); }
  // Everything else passes through (ForwardingBackend).

  const Stats& stats() const { return stats_; }
  size_t capacity() const { return capacity_; }

  // Estimated memory of one cached entry: its bytes plus the bookkeeping around them.
  static size_t EntrySize(const Entry& entry);

 private:
  struct Bucket;
  struct Node {
    Bucket* bucket;
    Entry entry;        // for a key with no message: op kPut, revision 0, is_missing set
    bool is_missing = false;
    bool is_referenced = false;  // read since it was stored or last passed over for eviction
    size_t bytes = 0;
  };
  // Newest first. Eviction takes the oldest entry that was not read since it was last
  // considered (CLOCK, an approximation of least recently used that costs a hit no list move).
  using Lru = std::list<Node>;
  // In-flight operations on one key: changes reported meanwhile make their results too old.
  struct InFlight {
    uint32_t count = 0;
    uint64_t newest_change = 0;  // highest revision reported for the key while in flight
  };
  struct Bucket {
    std::string name;
    uint64_t epoch = 0;  // bumped by every flush
    // Keys are views of the nodes' entry.key (list nodes never move).
    std::unordered_map<std::string_view, Lru::iterator> entries;
    std::unordered_map<std::string, InFlight> in_flight;
  };
  // What an operation remembers to decide whether its result may be stored.
  struct Ticket {
    Bucket* bucket;
    std::string key;
    uint64_t epoch;
  };

  Bucket& BucketFor(std::string_view name);
  Bucket* FindBucket(std::string_view name);
  Ticket Begin(Bucket& bucket, std::string_view key);
  // Ends the ticket's in-flight record; true when a result with `revision` may be stored.
  bool End(const Ticket& ticket, uint64_t revision);
  void Store(Bucket& bucket, Entry entry, bool is_missing);
  void Erase(Bucket& bucket, std::string_view key, bool is_invalidation);
  void ClearBucket(Bucket& bucket);
  void OnChange(const ChangeEvent& change);

  Executor* executor_;
  size_t capacity_;
  std::vector<std::unique_ptr<Bucket>> buckets_;  // few: one per database in use
  Lru lru_;
  Stats stats_;
  ChangeObserver observer_;
  // Callbacks still pending in the inner backend when the cache is destroyed see it expired.
  std::shared_ptr<char> life_ = std::make_shared<char>(0);
};

}  // namespace kvmap
