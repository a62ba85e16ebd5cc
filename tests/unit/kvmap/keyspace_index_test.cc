// SPDX-License-Identifier: Apache-2.0
#include "kvmap/keyspace_index.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <string>

namespace kvmap {
namespace {

TEST(KeyspaceIndex, PutsAndDeletesTrackLiveKeys) {
  KeyspaceIndex idx;
  idx.ApplyPut("a", 1, std::nullopt);
  idx.ApplyPut("b", 2, 5000);
  idx.ApplyPut("a", 3, std::nullopt);  // overwrite
  EXPECT_EQ(idx.size(), 2u);
  EXPECT_EQ(idx.expires_count(), 1u);
  ASSERT_NE(idx.Find("a"), nullptr);
  EXPECT_EQ(idx.Find("a")->revision, 3u);
  EXPECT_EQ(idx.Find("b")->expires_at_ms, 5000);
  idx.ApplyDelete("b", 4);
  EXPECT_EQ(idx.size(), 1u);
  EXPECT_EQ(idx.expires_count(), 0u);
  EXPECT_EQ(idx.Find("b"), nullptr);
  EXPECT_EQ(idx.applied_sequence(), 4u);
}

TEST(KeyspaceIndex, OldOrRepeatedMessagesAreIgnored) {
  KeyspaceIndex idx;
  idx.ApplyPut("a", 5, std::nullopt);
  idx.ApplyDelete("a", 5);  // replayed: not beyond what was applied
  idx.ApplyPut("b", 4, std::nullopt);
  EXPECT_EQ(idx.size(), 1u);
  EXPECT_NE(idx.Find("a"), nullptr);
  EXPECT_EQ(idx.Find("b"), nullptr);
}

TEST(KeyspaceIndex, FlushEmptiesEverything) {
  KeyspaceIndex idx;
  for (uint64_t i = 1; i <= 100; ++i) idx.ApplyPut("k" + std::to_string(i), i, 1000 + i);
  idx.ApplyFlush(101);
  EXPECT_EQ(idx.size(), 0u);
  EXPECT_EQ(idx.expires_count(), 0u);
  EXPECT_TRUE(idx.TakeExpired(1'000'000, 10).empty());
  idx.ApplyPut("k1", 102, std::nullopt);
  EXPECT_EQ(idx.size(), 1u);
}

TEST(KeyspaceIndex, ScanVisitsEveryKeyOnceWhenNothingChanges) {
  KeyspaceIndex idx;
  for (uint64_t i = 1; i <= 1000; ++i) idx.ApplyPut("key:" + std::to_string(i), i, std::nullopt);
  std::map<std::string, int> seen;
  uint64_t cursor = 0;
  int calls = 0;
  do {
    cursor = idx.Scan(cursor, 10, [&](const std::string& k, const auto&) { ++seen[k]; });
    ++calls;
  } while (cursor != 0);
  EXPECT_EQ(seen.size(), 1000u);
  for (const auto& [k, n] : seen) EXPECT_EQ(n, 1) << k;
  EXPECT_GE(calls, 100);
}

// Keys present for the whole scan are returned at least once, whatever else changes between
// calls (DESIGN.md decision 5): the cursor is a hash position, not an offset.
TEST(KeyspaceIndex, ScanReturnsStableKeysDespiteConcurrentChanges) {
  KeyspaceIndex idx;
  uint64_t seq = 0;
  std::set<std::string> stable;
  for (int i = 0; i < 500; ++i) {
    std::string k = "stable:" + std::to_string(i);
    idx.ApplyPut(k, ++seq, std::nullopt);
    stable.insert(k);
  }
  std::mt19937_64 gen(7);
  std::set<std::string> seen;
  uint64_t cursor = 0;
  int churn = 0;
  do {
    cursor = idx.Scan(cursor, 7, [&](const std::string& k, const auto&) { seen.insert(k); });
    for (int j = 0; j < 5; ++j) {  // keys come and go between calls
      std::string k = "churn:" + std::to_string(gen() % 300);
      if (gen() % 2) {
        idx.ApplyPut(k, ++seq, std::nullopt);
      } else {
        idx.ApplyDelete(k, ++seq);
      }
      ++churn;
    }
  } while (cursor != 0);
  for (const std::string& k : stable) EXPECT_TRUE(seen.count(k)) << k;
  EXPECT_GT(churn, 0);
}

TEST(KeyspaceIndex, ACursorFromAnotherIndexWithTheSameKeysContinuesTheScan) {
  KeyspaceIndex a, b;  // two gateways following the same bucket
  for (uint64_t i = 1; i <= 200; ++i) {
    a.ApplyPut("k" + std::to_string(i), i, std::nullopt);
    b.ApplyPut("k" + std::to_string(i), i, std::nullopt);
  }
  std::set<std::string> seen;
  uint64_t cursor = a.Scan(0, 50, [&](const std::string& k, const auto&) { seen.insert(k); });
  while (cursor != 0) {
    cursor = b.Scan(cursor, 50, [&](const std::string& k, const auto&) { seen.insert(k); });
  }
  EXPECT_EQ(seen.size(), 200u);
}

TEST(KeyspaceIndex, ExpiredKeysComeOutEarliestFirstWithTheirRevision) {
  KeyspaceIndex idx;
  idx.ApplyPut("late", 1, 3000);
  idx.ApplyPut("early", 2, 1000);
  idx.ApplyPut("none", 3, std::nullopt);
  EXPECT_TRUE(idx.TakeExpired(1000, 10).empty()) << "live during its deadline millisecond";
  auto out = idx.TakeExpired(5000, 10);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].key, "early");
  EXPECT_EQ(out[0].revision, 2u);
  EXPECT_EQ(out[1].key, "late");
  EXPECT_EQ(idx.size(), 3u) << "expired keys stay until their delete marker is applied";
}

TEST(KeyspaceIndex, AnOverwriteMakesTheOldDeadlineStale) {
  KeyspaceIndex idx;
  idx.ApplyPut("k", 1, 1000);
  idx.ApplyPut("k", 2, std::nullopt);  // SET without TTL
  EXPECT_TRUE(idx.TakeExpired(5000, 10).empty());
  idx.ApplyPut("k", 3, 2000);
  auto out = idx.TakeExpired(5000, 10);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].revision, 3u);
}

TEST(KeyspaceIndex, RequeuedKeysComeOutAgain) {
  KeyspaceIndex idx;
  idx.ApplyPut("k", 1, 1000);
  auto out = idx.TakeExpired(5000, 10);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(idx.TakeExpired(5000, 10).empty());
  idx.Requeue(out[0]);
  EXPECT_EQ(idx.TakeExpired(5000, 10).size(), 1u);
}

TEST(KeyspaceIndex, TakeExpiredRespectsItsLimit) {
  KeyspaceIndex idx;
  for (uint64_t i = 1; i <= 50; ++i) idx.ApplyPut("k" + std::to_string(i), i, 100);
  EXPECT_EQ(idx.TakeExpired(1000, 20).size(), 20u);
  EXPECT_EQ(idx.TakeExpired(1000, 100).size(), 30u);
}

TEST(KeyspaceIndex, RandomKeyReturnsAnExistingKey) {
  KeyspaceIndex idx;
  EXPECT_FALSE(idx.RandomKey(42).has_value());
  for (uint64_t i = 1; i <= 20; ++i) idx.ApplyPut("k" + std::to_string(i), i, std::nullopt);
  std::mt19937_64 gen(1);
  std::set<std::string> picked;
  for (int i = 0; i < 500; ++i) {
    auto k = idx.RandomKey(gen());
    ASSERT_TRUE(k.has_value());
    EXPECT_NE(idx.Find(*k), nullptr);
    picked.insert(*k);
  }
  EXPECT_GT(picked.size(), 10u) << "spread over the keys";
}

TEST(KeyspaceIndex, HashIsFixed) {
  // Fixed across builds and gateways: cursors travel between them.
  EXPECT_EQ(KeyspaceIndex::Hash(""), 0xefd01f60ba992926ull);
  EXPECT_EQ(KeyspaceIndex::Hash("user.1"), 0xe2840efa68306c34ull);
}

}  // namespace
}  // namespace kvmap
