// SPDX-License-Identifier: Apache-2.0
#include "kvmap/keyspace_index.h"

namespace kvmap {

uint64_t KeyspaceIndex::Hash(std::string_view key) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : key) {
    h ^= c;
    h *= 1099511628211ull;
  }
  // FNV-1a alone barely changes the high bits between keys that differ in their last bytes
  // (user:1, user:2...); MurmurHash3's finalizer spreads them over the whole range.
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

KeyspaceIndex::Slot* KeyspaceIndex::FindSlot(std::string_view key, uint64_t hash) {
  auto it = groups_.find(hash);
  if (it == groups_.end()) return nullptr;
  for (Slot& s : it->second) {
    if (s.key == key) return &s;
  }
  return nullptr;
}

const KeyspaceIndex::KeyInfo* KeyspaceIndex::Find(std::string_view key) const {
  auto it = groups_.find(Hash(key));
  if (it == groups_.end()) return nullptr;
  for (const Slot& s : it->second) {
    if (s.key == key) return &s.info;
  }
  return nullptr;
}

void KeyspaceIndex::ApplyPut(std::string_view key, uint64_t seq,
                             std::optional<int64_t> expires_at_ms) {
  if (seq <= applied_) return;
  applied_ = seq;
  uint64_t hash = Hash(key);
  KeyInfo info{seq, expires_at_ms.value_or(0)};
  if (Slot* slot = FindSlot(key, hash)) {
    expires_ -= slot->info.expires_at_ms != 0;
    slot->info = info;
  } else {
    groups_[hash].push_back(Slot{std::string(key), info});
    ++size_;
  }
  if (info.expires_at_ms != 0) {
    ++expires_;
    heap_.push(HeapItem{info.expires_at_ms, seq, std::string(key)});
  }
}

void KeyspaceIndex::Erase(std::string_view key, uint64_t hash) {
  auto it = groups_.find(hash);
  if (it == groups_.end()) return;
  Group& g = it->second;
  for (size_t i = 0; i < g.size(); ++i) {
    if (g[i].key != key) continue;
    expires_ -= g[i].info.expires_at_ms != 0;
    g.erase(g.begin() + static_cast<std::ptrdiff_t>(i));
    --size_;
    break;
  }
  if (g.empty()) groups_.erase(it);
}

void KeyspaceIndex::ApplyDelete(std::string_view key, uint64_t seq) {
  if (seq <= applied_) return;
  applied_ = seq;
  Erase(key, Hash(key));
}

void KeyspaceIndex::ApplyFlush(uint64_t seq) {
  if (seq <= applied_) return;
  applied_ = seq;
  groups_.clear();
  heap_ = {};
  size_ = 0;
  expires_ = 0;
}

void KeyspaceIndex::Reset() {
  groups_.clear();
  heap_ = {};
  applied_ = 0;
  size_ = 0;
  expires_ = 0;
}

uint64_t KeyspaceIndex::Scan(
    uint64_t cursor, size_t count,
    const std::function<void(const std::string& key, const KeyInfo& info)>& fn) const {
  size_t visited = 0;
  auto it = groups_.lower_bound(cursor);
  for (; it != groups_.end() && visited < count; ++it) {
    for (const Slot& s : it->second) {
      fn(s.key, s.info);
      ++visited;
    }
  }
  // The next group's hash is where to continue; 0 means done. A group whose hash is 0 can only
  // be the first one, which a scan starting at 0 visits before any other.
  return it == groups_.end() ? 0 : it->first;
}

void KeyspaceIndex::ForEach(
    const std::function<void(const std::string& key, const KeyInfo& info)>& fn) const {
  for (const auto& [hash, group] : groups_) {
    for (const Slot& s : group) fn(s.key, s.info);
  }
}

std::optional<std::string> KeyspaceIndex::RandomKey(uint64_t random) const {
  if (groups_.empty()) return std::nullopt;
  auto it = groups_.lower_bound(random);
  if (it == groups_.end()) it = groups_.begin();
  const Group& g = it->second;
  return g[random % g.size()].key;
}

std::vector<KeyspaceIndex::Expired> KeyspaceIndex::TakeExpired(int64_t now_ms, size_t max) {
  std::vector<Expired> out;
  while (!heap_.empty() && out.size() < max && heap_.top().deadline < now_ms) {
    HeapItem item = heap_.top();
    heap_.pop();
    const KeyInfo* info = Find(item.key);
    // Stale heap entry: the key changed (new revision) or is gone.
    if (info == nullptr || info->revision != item.revision) continue;
    out.push_back(Expired{std::move(item.key), item.revision, item.deadline});
  }
  return out;
}

void KeyspaceIndex::Requeue(const Expired& expired) {
  heap_.push(HeapItem{expired.deadline_ms, expired.revision, expired.key});
}

}  // namespace kvmap
