// SPDX-License-Identifier: Apache-2.0
//
// Tests of what BucketFollower reports to Host::OnChange (keyspace notifications): only
// messages stored after it first started, each once (a replay after a flush reports nothing
// again), with the Redis-Event header and the key's liveness before the change; never flush
// markers or internal keys. The follower is fed deliveries by hand through a fake host.
#include "gateway/bucket_follower.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kvmap/ttl.h"

namespace gateway {
namespace {

// One reported change, copied out of the views the follower passed.
struct Reported {
  std::string bucket;
  std::string key;
  kvmap::EntryOp op;
  std::string events;
  bool was_live;
  uint64_t revision;
};

class FakeHost : public BucketFollower::Host {
 public:
  uint64_t Subscribe(const std::string&, BucketFollower*) override { return next_sid_++; }
  void Unsubscribe(uint64_t) override {}
  void PublishEmpty(std::string_view) override {}
  void ApiCall(const std::string&, const std::string&, ApiCallback) override { ++api_calls; }
  void WriteForFollower(const kvmap::WriteRequest&, kvmap::WriteCallback) override {}
  int64_t NowMs() override { return 0; }
  void OnChange(const kvmap::ChangeEvent& c) override {
    changes.push_back(Reported{std::string(c.bucket), std::string(c.key), c.op,
                               std::string(c.events), c.was_live, c.revision});
  }

  std::vector<Reported> changes;
  int api_calls = 0;

 private:
  uint64_t next_sid_ = 1;
};

class BucketFollowerTest : public ::testing::Test {
 protected:
  BucketFollowerTest() : follower_(&host_, "b") {}

  // Delivers stream message `stream_seq` (the next consumer sequence) on `key` with the header
  // lines `headers` ("Name: value\r\n" each).
  void Deliver(uint64_t stream_seq, const std::string& key, const std::string& headers = "") {
    subject_ = "$KV.b." + key;
    reply_ = "$JS.ACK.KV_b.c.1." + std::to_string(stream_seq) + "." +
             std::to_string(consumer_seq_++) + ".0.0";
    block_ = "NATS/1.0\r\n" + headers + "\r\n";
    kvmap::NatsOp op;
    op.type = kvmap::NatsOpType::kMsg;
    op.subject = subject_;
    op.reply = reply_;
    op.headers = block_;
    follower_.OnMessage(op);
  }
  // A new consumer starts its sequences at 1 again.
  void ResetConsumer() { consumer_seq_ = 1; }

  FakeHost host_;
  BucketFollower follower_;
  uint64_t consumer_seq_ = 1;
  std::string subject_, reply_, block_;
};

TEST_F(BucketFollowerTest, HistoryPresentAtStartIsNotReported) {
  follower_.Start(2);
  Deliver(1, "a", "Redis-Event: set\r\n");
  Deliver(2, "b", "Redis-Event: set\r\n");
  EXPECT_TRUE(host_.changes.empty());
  Deliver(3, "a", "Redis-Event: append\r\n");
  ASSERT_EQ(host_.changes.size(), 1u);
  const Reported& c = host_.changes[0];
  EXPECT_EQ(c.bucket, "b");
  EXPECT_EQ(c.key, "a");
  EXPECT_EQ(c.op, kvmap::EntryOp::kPut);
  EXPECT_EQ(c.events, "append");
  EXPECT_TRUE(c.was_live);  // applied from the history
  EXPECT_EQ(c.revision, 3u);
}

TEST_F(BucketFollowerTest, ReportsLivenessBeforeEachChange) {
  follower_.Start(0);
  Deliver(1, "k", "Redis-Event: set\r\n");
  Deliver(2, "k", "Redis-Event: set,expire\r\nRedis-Expires-At: 99999999999999\r\n");
  Deliver(3, "k", "KV-Operation: DEL\r\nRedis-Event: del\r\n");
  Deliver(4, "k", "KV-Operation: PURGE\r\n");
  ASSERT_EQ(host_.changes.size(), 4u);
  EXPECT_FALSE(host_.changes[0].was_live);
  EXPECT_EQ(host_.changes[1].events, "set,expire");
  EXPECT_TRUE(host_.changes[1].was_live);
  EXPECT_EQ(host_.changes[2].op, kvmap::EntryOp::kDelete);
  EXPECT_EQ(host_.changes[2].events, "del");
  EXPECT_TRUE(host_.changes[2].was_live);
  EXPECT_EQ(host_.changes[3].op, kvmap::EntryOp::kPurge);
  EXPECT_FALSE(host_.changes[3].was_live);
}

TEST_F(BucketFollowerTest, AKeyPastItsDeadlineWasNotLive) {
  follower_.Start(0);
  const int64_t past = kvmap::NowUnixMs() - 1000;
  Deliver(1, "k", "Redis-Expires-At: " + std::to_string(past) + "\r\n");
  Deliver(2, "k", "KV-Operation: DEL\r\nRedis-Event: expired\r\n");
  ASSERT_EQ(host_.changes.size(), 2u);
  EXPECT_EQ(host_.changes[1].events, "expired");
  EXPECT_FALSE(host_.changes[1].was_live);
}

TEST_F(BucketFollowerTest, NativeWritesHaveNoEvents) {
  follower_.Start(0);
  Deliver(1, "k");
  ASSERT_EQ(host_.changes.size(), 1u);
  EXPECT_EQ(host_.changes[0].events, "");
  EXPECT_EQ(host_.changes[0].op, kvmap::EntryOp::kPut);
}

TEST_F(BucketFollowerTest, InternalKeysAreNotReportedAndAFlushMarkerIsAFlush) {
  follower_.Start(0);
  Deliver(1, "=_other", "Redis-Event: set\r\n");
  EXPECT_TRUE(host_.changes.empty());
  Deliver(2, "=_flush", "KV-Operation: PURGE\r\n");
  ASSERT_EQ(host_.changes.size(), 1u);
  EXPECT_EQ(host_.changes[0].op, kvmap::EntryOp::kFlush);
}

TEST_F(BucketFollowerTest, ReplayAfterAFlushReportsOnlyNewMessages) {
  follower_.Start(0);
  Deliver(1, "a", "Redis-Event: set\r\n");
  Deliver(2, "b", "Redis-Event: set\r\n");
  ASSERT_EQ(host_.changes.size(), 2u);
  // FLUSHDB purged the stream (b was written after the purge), then wrote its marker: the
  // follower rebuilds from the start of what is left. The marker is reported once.
  Deliver(3, "=_flush", "KV-Operation: PURGE\r\n");
  ASSERT_EQ(host_.changes.size(), 3u);
  EXPECT_EQ(host_.changes[2].op, kvmap::EntryOp::kFlush);
  ResetConsumer();
  Deliver(2, "b", "Redis-Event: set\r\n");
  Deliver(3, "=_flush", "KV-Operation: PURGE\r\n");
  EXPECT_EQ(host_.changes.size(), 3u);
  Deliver(4, "b", "Redis-Event: incrby\r\n");
  Deliver(5, "a", "Redis-Event: set\r\n");
  ASSERT_EQ(host_.changes.size(), 5u);
  EXPECT_EQ(host_.changes[3].key, "b");
  EXPECT_TRUE(host_.changes[3].was_live);  // replayed into the rebuilt index
  EXPECT_EQ(host_.changes[4].key, "a");
  EXPECT_FALSE(host_.changes[4].was_live);  // purged by the flush
}

TEST_F(BucketFollowerTest, CaughtUpOnlyAfterItsStartHistoryAndAfterAFlushReplay) {
  // The read cache trusts a bucket only while this holds.
  EXPECT_FALSE(follower_.is_caught_up());
  follower_.Start(2);
  EXPECT_FALSE(follower_.is_caught_up());
  Deliver(1, "a", "Redis-Event: set\r\n");
  EXPECT_FALSE(follower_.is_caught_up());
  Deliver(2, "b", "Redis-Event: set\r\n");
  EXPECT_TRUE(follower_.is_caught_up());
  Deliver(3, "=_flush", "KV-Operation: PURGE\r\n");
  EXPECT_FALSE(follower_.is_caught_up());  // rebuilding from the start of the stream
  ResetConsumer();
  Deliver(3, "=_flush", "KV-Operation: PURGE\r\n");
  EXPECT_TRUE(follower_.is_caught_up());
  follower_.OnConnectionLost();
  EXPECT_FALSE(follower_.is_caught_up());
}

TEST_F(BucketFollowerTest, ChangesMadeWhileDisconnectedAreReportedAfterReconnect) {
  follower_.Start(0);
  Deliver(1, "a", "Redis-Event: set\r\n");
  follower_.OnConnectionLost();
  // Reconnected: the bucket check saw the stream at sequence 3; the new consumer resumes after
  // sequence 1, and what others wrote meanwhile is news.
  follower_.Start(3);
  ResetConsumer();
  Deliver(2, "b", "Redis-Event: set\r\n");
  Deliver(3, "a", "Redis-Event: append\r\n");
  ASSERT_EQ(host_.changes.size(), 3u);
  EXPECT_EQ(host_.changes[1].key, "b");
  EXPECT_EQ(host_.changes[2].events, "append");
}

TEST_F(BucketFollowerTest, RestartAfterAGapDoesNotReportTwice) {
  follower_.Start(0);
  Deliver(1, "a", "Redis-Event: set\r\n");
  // Deliveries out of order make the follower start a new consumer after sequence 1; a
  // server that re-delivers 1 as well must not produce a second report.
  consumer_seq_ = 5;
  Deliver(2, "a", "Redis-Event: set\r\n");
  EXPECT_EQ(host_.changes.size(), 1u);
  ResetConsumer();
  Deliver(1, "a", "Redis-Event: set\r\n");
  Deliver(2, "a", "Redis-Event: append\r\n");
  ASSERT_EQ(host_.changes.size(), 2u);
  EXPECT_EQ(host_.changes[1].events, "append");
}

}  // namespace
}  // namespace gateway
