// SPDX-License-Identifier: Apache-2.0
//
// Tests for ReadCache: hits never reach the backend, writes through the cache are read back
// (read your writes), changes reported by the follower invalidate, flushes empty the bucket,
// answers that raced with a newer change are not stored, and nothing is cached or served while
// the bucket is not followed.
#include "kvmap/read_cache.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "kvmap/fake_kv_backend.h"

namespace kvmap {
namespace {

constexpr std::string_view kBucket = "b";

class ReadCacheTest : public testing::Test {
 protected:
  GetResult GetNow(std::string_view key, std::string_view bucket = kBucket) {
    std::optional<GetResult> result;
    cache_.Get(bucket, key, [&](GetResult r) { result = std::move(r); });
    executor_.RunAll();
    EXPECT_TRUE(result.has_value());
    return result.value_or(GetResult{});
  }
  // The value a GET would see, or "(nil)" for no key or a marker.
  std::string ValueOf(std::string_view key) {
    GetResult r = GetNow(key);
    if (r.status == KvStatus::kNotFound || (r.status == KvStatus::kOk && r.entry.is_marker())) {
      return "(nil)";
    }
    EXPECT_EQ(r.status, KvStatus::kOk) << r.detail;
    return r.entry.value;
  }
  WriteResult WriteNow(std::string_view key, std::string_view value,
                       EntryOp op = EntryOp::kPut) {
    WriteRequest w;
    w.bucket = kBucket;
    w.key = key;
    w.value = value;
    w.op = op;
    w.headers.emplace_back(std::string(kHdrEvent), "set");
    std::optional<WriteResult> result;
    cache_.Write(w, [&](WriteResult r) { result = std::move(r); });
    executor_.RunAll();
    EXPECT_TRUE(result.has_value());
    return result.value_or(WriteResult{});
  }
  // A write made elsewhere (another gateway, a native NATS client): stored in the backend and
  // reported to the observer as the follower would.
  uint64_t ForeignPut(std::string_view key, std::string_view value,
                      std::string_view bucket = kBucket) {
    uint64_t rev = backend_.Put(bucket, key, value);
    ChangeEvent change;
    change.bucket = bucket;
    change.key = key;
    change.revision = rev;
    backend_.ReportChange(change);
    return rev;
  }

  ManualExecutor executor_;
  FakeKvBackend backend_{&executor_};
  ReadCache cache_{&backend_, &executor_, 1 << 20};
};

TEST_F(ReadCacheTest, SecondReadIsAHitThatNeverReachesTheBackend) {
  ForeignPut("k", "v1");
  EXPECT_EQ(ValueOf("k"), "v1");
  const size_t gets = backend_.get_calls();
  for (int i = 0; i < 5; ++i) EXPECT_EQ(ValueOf("k"), "v1");
  EXPECT_EQ(backend_.get_calls(), gets);
  EXPECT_EQ(cache_.stats().hits, 5u);
  EXPECT_EQ(cache_.stats().misses, 1u);
}

TEST_F(ReadCacheTest, HitReturnsTheSameEntryAsTheBackend) {
  backend_.Put(kBucket, "k", "v", {{std::string(kHdrExpiresAt), "4102444800000"}});
  GetResult first = GetNow("k");
  GetResult second = GetNow("k");
  ASSERT_EQ(second.status, KvStatus::kOk);
  EXPECT_EQ(second.entry.value, first.entry.value);
  EXPECT_EQ(second.entry.revision, first.entry.revision);
  EXPECT_EQ(second.entry.key, first.entry.key);
  EXPECT_EQ(second.entry.headers, first.entry.headers);
  EXPECT_EQ(cache_.stats().hits, 1u);
}

TEST_F(ReadCacheTest, MissingKeyIsCachedAndAForeignCreateInvalidatesIt) {
  EXPECT_EQ(ValueOf("k"), "(nil)");
  EXPECT_EQ(ValueOf("k"), "(nil)");
  EXPECT_EQ(cache_.stats().hits, 1u);
  ForeignPut("k", "new");
  EXPECT_EQ(ValueOf("k"), "new");
  EXPECT_EQ(cache_.stats().invalidations, 1u);
}

TEST_F(ReadCacheTest, ReadYourWritesWithoutARoundTrip) {
  ASSERT_EQ(WriteNow("k", "mine").status, KvStatus::kOk);
  const size_t gets = backend_.get_calls();
  EXPECT_EQ(ValueOf("k"), "mine");
  EXPECT_EQ(backend_.get_calls(), gets);
  GetResult r = GetNow("k");
  EXPECT_EQ(r.entry.revision, backend_.Latest(kBucket, "k")->revision);
  EXPECT_EQ(FindHeader(r.entry.headers, kHdrEvent), "set");
}

TEST_F(ReadCacheTest, DeleteThroughTheCacheIsReadBackAsAMarker) {
  WriteNow("k", "v");
  ASSERT_EQ(WriteNow("k", {}, EntryOp::kDelete).status, KvStatus::kOk);
  const size_t gets = backend_.get_calls();
  EXPECT_EQ(ValueOf("k"), "(nil)");
  EXPECT_EQ(backend_.get_calls(), gets);
}

TEST_F(ReadCacheTest, ForeignWriteInvalidates) {
  WriteNow("k", "mine");
  ForeignPut("k", "theirs");
  EXPECT_EQ(ValueOf("k"), "theirs");
  EXPECT_GE(cache_.stats().invalidations, 1u);
}

TEST_F(ReadCacheTest, OlderChangeReportedLateDoesNotInvalidate) {
  uint64_t old_rev = ForeignPut("k", "v1");
  WriteNow("k", "v2");
  // The follower reports, late, a change older than what the cache holds.
  ChangeEvent change;
  change.bucket = kBucket;
  change.key = "k";
  change.revision = old_rev;
  backend_.ReportChange(change);
  const size_t gets = backend_.get_calls();
  EXPECT_EQ(ValueOf("k"), "v2");
  EXPECT_EQ(backend_.get_calls(), gets);
}

TEST_F(ReadCacheTest, ForeignFlushEmptiesTheBucket) {
  WriteNow("a", "1");
  WriteNow("b", "2");
  // FLUSHDB elsewhere: the stream is purged, then the flush marker is reported.
  WriteRequest flush;
  flush.bucket = kBucket;
  flush.key = kFlushKey;
  flush.op = EntryOp::kFlush;
  std::optional<WriteResult> done;
  backend_.PurgeBucket(std::string(kBucket), [](KvStatus, std::string) {});
  backend_.Write(flush, [&](WriteResult r) { done = r; });
  executor_.RunAll();
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(cache_.stats().entries, 0u);
  EXPECT_EQ(ValueOf("a"), "(nil)");
  EXPECT_EQ(ValueOf("b"), "(nil)");
}

TEST_F(ReadCacheTest, LocalPurgeEmptiesTheBucket) {
  WriteNow("a", "1");
  std::optional<KvStatus> st;
  cache_.PurgeBucket(std::string(kBucket), [&](KvStatus s, std::string) { st = s; });
  executor_.RunAll();
  ASSERT_EQ(st, KvStatus::kOk);
  EXPECT_EQ(cache_.stats().entries, 0u);
  EXPECT_EQ(ValueOf("a"), "(nil)");
}

TEST_F(ReadCacheTest, ReadAnsweredBeforeANewerChangeIsNotStored) {
  ForeignPut("k", "old");
  backend_.set_mode(FakeKvBackend::Mode::kManual);
  std::optional<GetResult> first;
  cache_.Get(kBucket, "k", [&](GetResult r) { first = std::move(r); });
  // Meanwhile a newer write lands elsewhere and the follower reports it before the read's
  // answer (which saw the old value) arrives.
  ChangeEvent change;
  change.bucket = kBucket;
  change.key = "k";
  change.revision = backend_.last_sequence() + 1;
  backend_.ReportChange(change);
  backend_.CompleteAll();
  executor_.RunAll();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->entry.value, "old");
  EXPECT_EQ(cache_.stats().entries, 0u);  // not stored: it is older than the reported change
}

TEST_F(ReadCacheTest, WriteAcknowledgedAfterANewerForeignChangeIsNotStored) {
  backend_.set_mode(FakeKvBackend::Mode::kManual);
  WriteRequest w;
  w.bucket = kBucket;
  w.key = "k";
  w.value = "mine";
  std::optional<WriteResult> mine;
  cache_.Write(w, [&](WriteResult r) { mine = r; });
  backend_.CompleteAll();  // applied at revision N, not yet acknowledged
  ChangeEvent change;
  change.bucket = kBucket;
  change.key = "k";
  change.revision = backend_.last_sequence() + 5;  // a foreign write after ours
  backend_.ReportChange(change);
  executor_.RunAll();
  ASSERT_TRUE(mine.has_value());
  ASSERT_EQ(mine->status, KvStatus::kOk);
  EXPECT_EQ(cache_.stats().entries, 0u);
}

TEST_F(ReadCacheTest, FlushWhileAReadIsInFlightKeepsItsAnswerOut) {
  ForeignPut("k", "old");
  backend_.set_mode(FakeKvBackend::Mode::kManual);
  std::optional<GetResult> r;
  cache_.Get(kBucket, "k", [&](GetResult g) { r = std::move(g); });
  backend_.CompleteAll();  // answered with "old" ...
  backend_.set_mode(FakeKvBackend::Mode::kImmediate);
  ChangeEvent flush;
  flush.bucket = kBucket;
  flush.key = kFlushKey;
  flush.op = EntryOp::kFlush;
  flush.revision = backend_.last_sequence() + 1;
  backend_.ReportChange(flush);  // ... but a flush is reported before the answer is handled
  executor_.RunAll();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(cache_.stats().entries, 0u);
}

TEST_F(ReadCacheTest, FailedCasRemovesTheEntry) {
  WriteNow("k", "v");
  ASSERT_EQ(cache_.stats().entries, 1u);
  WriteRequest w;
  w.bucket = kBucket;
  w.key = "k";
  w.value = "cas";
  w.expected_revision = 12345;
  std::optional<WriteResult> r;
  cache_.Write(w, [&](WriteResult res) { r = res; });
  executor_.RunAll();
  ASSERT_EQ(r->status, KvStatus::kRevisionMismatch);
  EXPECT_EQ(cache_.stats().entries, 0u);
}

TEST_F(ReadCacheTest, NotFollowedBucketIsNeitherServedNorFilled) {
  WriteNow("k", "v");
  backend_.set_following(false);
  const size_t gets = backend_.get_calls();
  EXPECT_EQ(ValueOf("k"), "v");
  EXPECT_EQ(backend_.get_calls(), gets + 1);  // went to the backend
  EXPECT_EQ(cache_.stats().bypassed, 1u);
  backend_.set_following(true);
  // The entry written before is still there only if no change was missed; a write made while
  // the follower was away is reported when it catches up, so it is invalidated then.
  ForeignPut("k", "while-away");
  EXPECT_EQ(ValueOf("k"), "while-away");
}

TEST_F(ReadCacheTest, DisconnectedBackendIsNotServedFromTheCache) {
  WriteNow("k", "v");
  backend_.set_connected(false);
  GetResult r = GetNow("k");
  EXPECT_EQ(r.status, KvStatus::kUnavailable);
}

TEST_F(ReadCacheTest, EvictsLeastRecentlyUsedWithinCapacity) {
  ReadCache small(&backend_, &executor_, 8 * 1024);
  const std::string value(500, 'x');
  for (int i = 0; i < 40; ++i) {
    WriteRequest w;
    w.bucket = kBucket;
    std::string key = "k" + std::to_string(i);
    w.key = key;
    w.value = value;
    small.Write(w, [](WriteResult) {});
    executor_.RunAll();
  }
  EXPECT_LE(small.stats().bytes, 8u * 1024);
  EXPECT_GT(small.stats().evictions, 0u);
  EXPECT_GT(small.stats().entries, 0u);
  // The newest key is still cached, the oldest is not.
  const size_t gets = backend_.get_calls();
  small.Get(kBucket, "k39", [](GetResult) {});
  executor_.RunAll();
  EXPECT_EQ(backend_.get_calls(), gets);
  small.Get(kBucket, "k0", [](GetResult) {});
  executor_.RunAll();
  EXPECT_EQ(backend_.get_calls(), gets + 1);
}

TEST_F(ReadCacheTest, AnEntryReadSinceItWasStoredOutlivesOlderUnreadOnes) {
  ReadCache small(&backend_, &executor_, 8 * 1024);
  const std::string value(500, 'x');
  auto put = [&](const std::string& key) {
    WriteRequest w;
    w.bucket = kBucket;
    w.key = key;
    w.value = value;
    small.Write(w, [](WriteResult) {});
    executor_.RunAll();
  };
  put("hot");
  for (int i = 0; i < 40; ++i) {
    small.Get(kBucket, "hot", [](GetResult) {});  // read between every write
    executor_.RunAll();
    put("cold" + std::to_string(i));
  }
  const size_t gets = backend_.get_calls();
  small.Get(kBucket, "hot", [](GetResult) {});
  executor_.RunAll();
  EXPECT_EQ(backend_.get_calls(), gets);  // still cached
  small.Get(kBucket, "cold0", [](GetResult) {});
  executor_.RunAll();
  EXPECT_EQ(backend_.get_calls(), gets + 1);  // evicted
}

TEST_F(ReadCacheTest, ValueLargerThanAShareOfTheCapacityIsNotCached) {
  ReadCache small(&backend_, &executor_, 8 * 1024);
  WriteRequest w;
  w.bucket = kBucket;
  w.key = "big";
  const std::string value(4000, 'x');
  w.value = value;
  small.Write(w, [](WriteResult) {});
  executor_.RunAll();
  EXPECT_EQ(small.stats().entries, 0u);
}

TEST_F(ReadCacheTest, ChangesAreForwardedToTheObserver) {
  std::vector<std::string> seen;
  cache_.SetChangeObserver([&](const ChangeEvent& c) { seen.emplace_back(c.key); });
  ForeignPut("k", "v");
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], "k");
}

TEST_F(ReadCacheTest, BucketsAreSeparate) {
  backend_.Put("other", "k", "o");
  WriteNow("k", "b");
  EXPECT_EQ(ValueOf("k"), "b");
  GetResult r = GetNow("k", "other");
  EXPECT_EQ(r.entry.value, "o");
  ForeignPut("k", "o2", "other");
  EXPECT_EQ(GetNow("k", "other").entry.value, "o2");
  EXPECT_EQ(ValueOf("k"), "b");
}

}  // namespace
}  // namespace kvmap
