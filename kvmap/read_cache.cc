// SPDX-License-Identifier: Apache-2.0
#include "kvmap/read_cache.h"

#include <algorithm>
#include <iterator>
#include <utility>

#include "kvmap/ttl.h"

namespace kvmap {

namespace {
// Bookkeeping per entry beyond its bytes: the list node, the hash node, Entry's strings.
constexpr size_t kEntryOverhead = 192;
// A value larger than this share of the capacity is not cached: it would evict many hot ones.
constexpr size_t kLargestShare = 8;
}  // namespace

ReadCache::ReadCache(KvBackend* inner, Executor* executor, size_t capacity_bytes)
    : ForwardingBackend(inner), executor_(executor), capacity_(capacity_bytes) {
  inner_->SetChangeObserver([this](const ChangeEvent& change) { OnChange(change); });
}

ReadCache::~ReadCache() { inner_->SetChangeObserver(nullptr); }

size_t ReadCache::EntrySize(const Entry& entry) {
  size_t n = kEntryOverhead + entry.key.size() + entry.value.size();
  for (const Header& h : entry.headers) n += h.first.size() + h.second.size() + 64;
  return n;
}

ReadCache::Bucket* ReadCache::FindBucket(std::string_view name) {
  for (const auto& b : buckets_) {
    if (b->name == name) return b.get();
  }
  return nullptr;
}

ReadCache::Bucket& ReadCache::BucketFor(std::string_view name) {
  if (Bucket* b = FindBucket(name)) return *b;
  buckets_.push_back(std::make_unique<Bucket>());
  buckets_.back()->name = std::string(name);
  return *buckets_.back();
}

ReadCache::Ticket ReadCache::Begin(Bucket& bucket, std::string_view key) {
  Ticket t{&bucket, std::string(key), bucket.epoch};
  ++bucket.in_flight[t.key].count;
  return t;
}

bool ReadCache::End(const Ticket& ticket, uint64_t revision) {
  auto it = ticket.bucket->in_flight.find(ticket.key);
  uint64_t newest = 0;
  if (it != ticket.bucket->in_flight.end()) {
    newest = it->second.newest_change;
    if (--it->second.count == 0) ticket.bucket->in_flight.erase(it);
  }
  // An equal revision is this operation's own write, reported before its acknowledgement.
  return ticket.epoch == ticket.bucket->epoch && revision >= newest &&
         inner_->IsFollowing(ticket.bucket->name);
}

void ReadCache::Store(Bucket& bucket, Entry entry, bool is_missing) {
  const size_t bytes = EntrySize(entry);
  Erase(bucket, entry.key, /*is_invalidation=*/false);
  if (bytes > capacity_ / kLargestShare) return;
  lru_.push_front(Node{&bucket, std::move(entry), is_missing, /*is_referenced=*/false, bytes});
  auto node = lru_.begin();
  bucket.entries.emplace(std::string_view(node->entry.key), node);
  stats_.bytes += bytes;
  ++stats_.entries;
  while (stats_.bytes > capacity_ && !lru_.empty()) {
    Node& last = lru_.back();
    if (last.is_referenced && &last != &lru_.front()) {
      // Read since it was last considered: keep it, as the newest (CLOCK).
      last.is_referenced = false;
      lru_.splice(lru_.begin(), lru_, std::prev(lru_.end()));
      continue;
    }
    ++stats_.evictions;
    Erase(*last.bucket, last.entry.key, /*is_invalidation=*/false);
  }
}

void ReadCache::Erase(Bucket& bucket, std::string_view key, bool is_invalidation) {
  auto it = bucket.entries.find(key);
  if (it == bucket.entries.end()) return;
  Lru::iterator node = it->second;
  bucket.entries.erase(it);  // before the node: the map's key views the node's bytes
  stats_.bytes -= node->bytes;
  --stats_.entries;
  if (is_invalidation) ++stats_.invalidations;
  lru_.erase(node);
}

void ReadCache::ClearBucket(Bucket& bucket) {
  ++bucket.epoch;
  ++stats_.flushes;
  bucket.entries.clear();
  for (auto it = lru_.begin(); it != lru_.end();) {
    if (it->bucket == &bucket) {
      stats_.bytes -= it->bytes;
      --stats_.entries;
      it = lru_.erase(it);
    } else {
      ++it;
    }
  }
}

void ReadCache::Get(std::string_view bucket_name, std::string_view key, GetCallback cb) {
  if (!inner_->IsFollowing(bucket_name)) {  // false while disconnected too
    ++stats_.bypassed;
    inner_->Get(bucket_name, key, std::move(cb));
    return;
  }
  Bucket& bucket = BucketFor(bucket_name);
  auto it = bucket.entries.find(key);
  if (it != bucket.entries.end()) {
    ++stats_.hits;
    Lru::iterator node = it->second;
    node->is_referenced = true;  // second chance at eviction (no list move on the hit path)
    GetResult result;
    if (node->is_missing) {
      result.status = KvStatus::kNotFound;
    } else {
      result.status = KvStatus::kOk;
      result.entry = node->entry;
    }
    executor_->Post([cb = std::move(cb), result = std::move(result)]() mutable {
      cb(std::move(result));
    });
    return;
  }
  ++stats_.misses;
  inner_->Get(bucket_name, key,
              [this, life = std::weak_ptr<char>(life_), ticket = Begin(bucket, key),
               cb = std::move(cb)](GetResult result) {
                if (life.expired()) {  // the cache is gone (shutdown): just answer
                  cb(std::move(result));
                  return;
                }
                const bool is_missing = result.status == KvStatus::kNotFound;
                if (result.status == KvStatus::kOk || is_missing) {
                  if (End(ticket, is_missing ? 0 : result.entry.revision)) {
                    Entry copy = is_missing ? Entry{} : result.entry;
                    if (is_missing) copy.key = ticket.key;
                    Store(*ticket.bucket, std::move(copy), is_missing);
                  }
                } else {
                  End(ticket, 0);
                }
                cb(std::move(result));
              });
}

void ReadCache::Write(const WriteRequest& request, WriteCallback cb) {
  Bucket& bucket = BucketFor(request.bucket);
  // What the entry will be once acknowledged (the request's views die with this call).
  Entry entry;
  entry.key = std::string(request.key);
  entry.op = request.op;
  if (request.op == EntryOp::kPut) entry.value = std::string(request.value);
  for (const Header& h : request.headers) {
    if (IsWritableHeader(h.first) && h.first != kHdrKvOperation) entry.headers.push_back(h);
  }
  inner_->Write(request, [this, life = std::weak_ptr<char>(life_),
                          ticket = Begin(bucket, request.key), entry = std::move(entry),
                          cb = std::move(cb)](WriteResult result) mutable {
    if (life.expired()) {
      cb(std::move(result));
      return;
    }
    if (entry.op == EntryOp::kFlush) {
      End(ticket, 0);
      ClearBucket(*ticket.bucket);
    } else if (result.status == KvStatus::kOk) {
      if (End(ticket, result.revision)) {
        entry.revision = result.revision;
        entry.timestamp_ns = static_cast<int64_t>(NowUnixMs()) * 1'000'000;
        Store(*ticket.bucket, std::move(entry), /*is_missing=*/false);
      } else {
        Erase(*ticket.bucket, ticket.key, /*is_invalidation=*/true);
      }
    } else {
      // A CAS that lost, or a write whose outcome is unknown: the entry may be stale.
      End(ticket, 0);
      Erase(*ticket.bucket, ticket.key, /*is_invalidation=*/true);
    }
    cb(std::move(result));
  });
}

void ReadCache::PurgeBucket(const std::string& bucket_name, BucketCallback cb) {
  Bucket& bucket = BucketFor(bucket_name);
  ClearBucket(bucket);
  inner_->PurgeBucket(bucket_name,
                      [this, life = std::weak_ptr<char>(life_), &bucket,
                       cb = std::move(cb)](KvStatus st, std::string detail) {
                        if (life.expired()) {
                          cb(st, std::move(detail));
                          return;
                        }
                        // Reads answered between the purge and now may have stored entries
                        // that the purge removed.
                        ClearBucket(bucket);
                        cb(st, std::move(detail));
                      });
}

void ReadCache::OnChange(const ChangeEvent& change) {
  if (Bucket* bucket = FindBucket(change.bucket)) {
    if (change.op == EntryOp::kFlush) {
      ClearBucket(*bucket);
    } else {
      auto it = bucket->entries.find(change.key);
      if (it != bucket->entries.end() && it->second->entry.revision < change.revision) {
        Erase(*bucket, change.key, /*is_invalidation=*/true);
      }
      if (!bucket->in_flight.empty()) {
        auto pending = bucket->in_flight.find(std::string(change.key));
        if (pending != bucket->in_flight.end()) {
          pending->second.newest_change =
              std::max(pending->second.newest_change, change.revision);
        }
      }
    }
  }
  if (observer_) observer_(change);
}

}  // namespace kvmap
