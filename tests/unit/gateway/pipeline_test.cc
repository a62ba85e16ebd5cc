// SPDX-License-Identifier: Apache-2.0
//
// Tests of pipelining: replies leave in arrival order whatever order the backend completes in,
// and within one connection a command waits for earlier commands on the same key
// (read-your-writes), while commands on other keys, and blind writes of one key, overlap.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "tests/unit/gateway/gateway_fixture.h"

namespace gateway {
namespace {

using test_support::IsBulk;
using test_support::IsInt;
using test_support::IsNil;
using test_support::IsOk;
using test_support::IsSimple;
using test_support::RespValue;
using testing_support::EncodeRequest;
using testing_support::GatewayTest;

class PipelineTest : public GatewayTest {
 protected:
  void SetUp() override { WarmUp(kvmap::FakeKvBackend::Mode::kManual); }

  // Completes the pending operation at `index` and runs what it posted.
  void CompleteAt(size_t index) {
    ASSERT_TRUE(backend_.CompleteAt(index));
    Drain();
  }
  void CompleteAll() {
    while (backend_.pending_count() > 0) {
      backend_.CompleteAll();
      Drain();
    }
  }
};

TEST_F(PipelineTest, ManyRequestsInOneFeedAreAllAnsweredInOrder) {
  std::string batch;
  for (int i = 0; i < 20; ++i) batch += EncodeRequest({"echo", "m" + std::to_string(i)});
  Feed(batch);
  std::vector<RespValue> replies = TakeReplies();
  ASSERT_EQ(replies.size(), 20u);
  for (int i = 0; i < 20; ++i) EXPECT_THAT(replies[i], IsBulk("m" + std::to_string(i)));
}

TEST_F(PipelineTest, ReadsOfDifferentKeysAreAllInFlightAtOnce) {
  Feed(EncodeRequest({"get", "a"}) + EncodeRequest({"get", "b"}) + EncodeRequest({"get", "c"}));
  Drain();
  EXPECT_EQ(backend_.pending_count(), 3u);
}

TEST_F(PipelineTest, LaterCompletionIsHeldUntilEarlierReplyIsReady) {
  backend_.Put(kBucket0, "a", "1");
  backend_.Put(kBucket0, "b", "2");
  Feed(EncodeRequest({"get", "a"}) + EncodeRequest({"get", "b"}));
  Drain();
  CompleteAt(1);  // b first
  EXPECT_EQ(transport_.sent(), "");
  CompleteAt(0);
  std::vector<RespValue> replies = TakeReplies();
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_THAT(replies[0], IsBulk("1"));
  EXPECT_THAT(replies[1], IsBulk("2"));
}

TEST_F(PipelineTest, NewestFirstCompletionStillRepliesInArrivalOrder) {
  for (int i = 0; i < 10; ++i) backend_.Put(kBucket0, "k" + std::to_string(i), std::to_string(i));
  std::string batch;
  for (int i = 0; i < 10; ++i) batch += EncodeRequest({"get", "k" + std::to_string(i)});
  Feed(batch);
  Drain();
  ASSERT_EQ(backend_.pending_count(), 10u);
  while (backend_.CompleteNewest()) Drain();
  std::vector<RespValue> replies = TakeReplies();
  ASSERT_EQ(replies.size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_THAT(replies[i], IsBulk(std::to_string(i)));
}

TEST_F(PipelineTest, RandomCompletionOrderStillRepliesInArrivalOrder) {
  std::mt19937 rng(12345);
  constexpr int kCount = 64;
  std::string batch;
  for (int i = 0; i < kCount; ++i) {
    std::string key = "k" + std::to_string(i);
    if (i % 3 != 0) backend_.Put(kBucket0, key, "v" + std::to_string(i));
    batch += EncodeRequest({"get", key});
  }
  Feed(batch);
  Drain();
  while (backend_.pending_count() > 0) {
    std::uniform_int_distribution<size_t> pick(0, backend_.pending_count() - 1);
    CompleteAt(pick(rng));
  }
  std::vector<RespValue> replies = TakeReplies();
  ASSERT_EQ(replies.size(), static_cast<size_t>(kCount));
  for (int i = 0; i < kCount; ++i) {
    if (i % 3 == 0) {
      EXPECT_THAT(replies[i], IsNil()) << i;
    } else {
      EXPECT_THAT(replies[i], IsBulk("v" + std::to_string(i))) << i;
    }
  }
}

TEST_F(PipelineTest, LocalReplyAfterPendingReadWaitsForIt) {
  backend_.Put(kBucket0, "a", "1");
  Feed(EncodeRequest({"get", "a"}) + EncodeRequest({"ping"}));
  EXPECT_EQ(transport_.sent(), "");
  CompleteAll();
  std::vector<RespValue> replies = TakeReplies();
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_THAT(replies[0], IsBulk("1"));
  EXPECT_THAT(replies[1], IsSimple("PONG"));
}

// --- read-your-writes ---

TEST_F(PipelineTest, GetAfterSetOfSameKeyIsNotSentUntilTheSetCompletes) {
  Feed(EncodeRequest({"set", "k", "v"}) + EncodeRequest({"get", "k"}));
  Drain();
  EXPECT_EQ(writes(), 1u);
  EXPECT_EQ(gets(), 0u);
  EXPECT_EQ(backend_.pending_count(), 1u);

  CompleteAt(0);  // the SET
  EXPECT_EQ(gets(), 1u);
  EXPECT_EQ(backend_.pending_count(), 1u);
}

TEST_F(PipelineTest, GetAfterSetOfSameKeyReturnsTheNewValue) {
  backend_.Put(kBucket0, "k", "old");
  Feed(EncodeRequest({"set", "k", "new"}) + EncodeRequest({"get", "k"}));
  CompleteAll();
  std::vector<RespValue> replies = TakeReplies();
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_THAT(replies[0], IsOk());
  EXPECT_THAT(replies[1], IsBulk("new"));
}

TEST_F(PipelineTest, SetAfterGetOfSameKeyWaitsForTheGet) {
  backend_.Put(kBucket0, "k", "old");
  Feed(EncodeRequest({"get", "k"}) + EncodeRequest({"set", "k", "new"}));
  Drain();
  EXPECT_EQ(gets(), 1u);
  EXPECT_EQ(writes(), 0u);

  CompleteAt(0);
  EXPECT_EQ(writes(), 1u);
  CompleteAll();
  std::vector<RespValue> replies = TakeReplies();
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_THAT(replies[0], IsBulk("old"));
  EXPECT_THAT(replies[1], IsOk());
}

TEST_F(PipelineTest, TwoBlindSetsOfOneKeyAreInFlightTogether) {
  Feed(EncodeRequest({"set", "k", "1"}) + EncodeRequest({"set", "k", "2"}));
  Drain();
  EXPECT_EQ(writes(), 2u);
  EXPECT_EQ(backend_.pending_count(), 2u);
  CompleteAll();
  EXPECT_EQ(Stored("k"), "2");
}

TEST_F(PipelineTest, ConditionalSetWaitsForAnEarlierBlindSetOfTheSameKey) {
  Feed(EncodeRequest({"set", "k", "1"}) + EncodeRequest({"set", "k", "2", "XX"}));
  Drain();
  EXPECT_EQ(writes(), 1u);
  EXPECT_EQ(gets(), 0u);
}

TEST_F(PipelineTest, ConditionalSetAfterBlindSetSeesItsValue) {
  Feed(EncodeRequest({"set", "k", "1"}) + EncodeRequest({"set", "k", "2", "GET"}));
  CompleteAll();
  std::vector<RespValue> replies = TakeReplies();
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_THAT(replies[1], IsBulk("1"));
  EXPECT_EQ(Stored("k"), "2");
}

TEST_F(PipelineTest, SetAndGetOfDifferentKeysRunConcurrently) {
  Feed(EncodeRequest({"set", "a", "1"}) + EncodeRequest({"get", "b"}));
  Drain();
  EXPECT_EQ(writes(), 1u);
  EXPECT_EQ(gets(), 1u);
  EXPECT_EQ(backend_.pending_count(), 2u);
}

TEST_F(PipelineTest, ReadsOfTheSameKeyRunConcurrently) {
  Feed(EncodeRequest({"get", "k"}) + EncodeRequest({"exists", "k"}));
  Drain();
  EXPECT_EQ(gets(), 2u);
}

TEST_F(PipelineTest, DelWaitsForEarlierSetOfAnyOfItsKeys) {
  Feed(EncodeRequest({"set", "b", "1"}) + EncodeRequest({"del", "a", "b"}));
  Drain();
  EXPECT_EQ(writes(), 1u);
  EXPECT_EQ(gets(), 0u);
  CompleteAll();
  std::vector<RespValue> replies = TakeReplies();
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_THAT(replies[1], IsInt(1));
}

TEST_F(PipelineTest, SameKeyInAnotherDatabaseDoesNotWait) {
  Feed(EncodeRequest({"set", "k", "1"}) + EncodeRequest({"select", "1"}) +
       EncodeRequest({"set", "k", "2", "GET"}));
  Drain();
  // db 1's bucket is being ensured or read, but not held back by db 0's SET.
  EXPECT_EQ(writes(), 1u);
  EXPECT_EQ(gets(), 1u);
}

// A pipeline of conflicting operations on a few keys, completed in random order, must give
// the replies of running them one by one.
TEST_F(PipelineTest, RandomConflictingPipelineMatchesSequentialExecution) {
  std::mt19937 rng(2024);
  const std::vector<std::string> keys = {"a", "b", "c"};
  std::map<std::string, std::string> model;
  std::vector<std::string> expected;  // DebugString of each expected reply
  std::string batch;
  for (int i = 0; i < 200; ++i) {
    const std::string& key = keys[rng() % keys.size()];
    int op = static_cast<int>(rng() % 4);
    std::string value = "v" + std::to_string(i);
    if (op == 0) {
      batch += EncodeRequest({"get", key});
      expected.push_back(model.count(key) ? "\"" + model[key] + "\"" : "(nil)");
    } else if (op == 1) {
      batch += EncodeRequest({"set", key, value, "GET"});
      expected.push_back(model.count(key) ? "\"" + model[key] + "\"" : "(nil)");
      model[key] = value;
    } else if (op == 2) {
      batch += EncodeRequest({"del", key, key});
      expected.push_back(":" + std::to_string(model.erase(key)));
    } else {
      const std::string& other = keys[rng() % keys.size()];
      batch += EncodeRequest({"exists", key, other});
      expected.push_back(":" + std::to_string(model.count(key) + model.count(other)));
    }
  }
  Feed(batch);
  Drain();
  while (backend_.pending_count() > 0) {
    std::uniform_int_distribution<size_t> pick(0, backend_.pending_count() - 1);
    CompleteAt(pick(rng));
  }
  std::vector<RespValue> replies = TakeReplies();
  ASSERT_EQ(replies.size(), expected.size());
  for (size_t i = 0; i < replies.size(); ++i) {
    EXPECT_EQ(test_support::DebugString(replies[i]), expected[i]) << "reply " << i;
  }
}

}  // namespace
}  // namespace gateway
