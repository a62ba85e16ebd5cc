// SPDX-License-Identifier: Apache-2.0
//
// Tests of INCR, DECR, INCRBY, DECRBY and INCRBYFLOAT against the fake backend: Redis 7.0.15's
// replies and error texts (expected values taken from a real redis-server 7.0.15), the TTL kept
// across the update, WRONGTYPE, keys recreated after a delete marker or past their deadline,
// argument errors that never reach the backend, and a lost acknowledgement that must not count
// twice.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "kvmap/ttl.h"
#include "tests/unit/gateway/gateway_fixture.h"

namespace gateway {
namespace {

using kvmap::FakeKvBackend;
using test_support::IsBulk;
using test_support::IsErr;
using test_support::IsInt;
using testing_support::GatewayTest;

constexpr std::string_view kNotInteger = "ERR value is not an integer or out of range";
constexpr std::string_view kOverflow = "ERR increment or decrement would overflow";
constexpr std::string_view kNotFloat = "ERR value is not a valid float";
constexpr std::string_view kWrongType =
    "WRONGTYPE Operation against a key holding the wrong kind of value";

class CountersTest : public GatewayTest {
 protected:
  void PutHash(std::string_view key) {
    backend_.Put(kBucket0, key, "x", {{std::string(kvmap::kHdrType), "hash/1"}});
  }
  void PutWithDeadline(std::string_view key, std::string_view value, int64_t at_ms) {
    backend_.Put(kBucket0, key, value,
                 {{std::string(kvmap::kHdrExpiresAt), std::to_string(at_ms)}});
  }
  std::optional<std::string> Deadline(std::string_view key) {
    const kvmap::Entry* e = backend_.Latest(kBucket0, key);
    if (e == nullptr) return std::nullopt;
    auto at = kvmap::FindHeader(e->headers, kvmap::kHdrExpiresAt);
    if (!at) return std::nullopt;
    return std::string(*at);
  }
  // Runs completions and timers (RMW resends wait on a timer) until nothing is left.
  void Settle() {
    for (int i = 0; i < 100; ++i) {
      if (executor_.RunAll() + server().RunTimers() == 0) return;
    }
  }
};

TEST_F(CountersTest, IncrAndDecrCountFromZero) {
  EXPECT_THAT(Run({"incr", "c"}), IsInt(1));
  EXPECT_THAT(Run({"incr", "c"}), IsInt(2));
  EXPECT_THAT(Run({"decr", "c"}), IsInt(1));
  EXPECT_THAT(Run({"decr", "d"}), IsInt(-1));
  EXPECT_EQ(Stored("c"), "1");
  EXPECT_EQ(Stored("d"), "-1");
}

TEST_F(CountersTest, IncrByAndDecrBy) {
  EXPECT_THAT(Run({"incrby", "c", "10"}), IsInt(10));
  EXPECT_THAT(Run({"incrby", "c", "-3"}), IsInt(7));
  EXPECT_THAT(Run({"decrby", "c", "5"}), IsInt(2));
  EXPECT_THAT(Run({"decrby", "c", "-5"}), IsInt(7));
  EXPECT_EQ(Stored("c"), "7");
}

TEST_F(CountersTest, StoresTheDecimalTextAsTheBarePayload) {
  backend_.Put(kBucket0, "c", "41");
  EXPECT_THAT(Run({"incr", "c"}), IsInt(42));
  const kvmap::Entry* e = backend_.Latest(kBucket0, "c");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->value, "42");
  // No type and no deadline: only the keyspace event.
  EXPECT_EQ(e->headers, (kvmap::Headers{{"Redis-Event", "incrby"}}));
}

TEST_F(CountersTest, BadIncrementIsRefusedBeforeAnyIo) {
  WarmUp(FakeKvBackend::Mode::kImmediate);
  for (const char* bad : {"abc", "1.5", "", "01", "+1", " 1", "-0", "9223372036854775808"}) {
    EXPECT_THAT(Run({"incrby", "c", bad}), IsErr(kNotInteger)) << bad;
    EXPECT_THAT(Run({"decrby", "c", bad}), IsErr(kNotInteger)) << bad;
  }
  EXPECT_EQ(gets(), 0u);
  EXPECT_EQ(writes(), 0u);
}

TEST_F(CountersTest, DecrByOfInt64MinIsDecrementWouldOverflowBeforeAnyIo) {
  WarmUp(FakeKvBackend::Mode::kImmediate);
  EXPECT_THAT(Run({"decrby", "c", "-9223372036854775808"}), IsErr("ERR decrement would overflow"));
  EXPECT_EQ(gets(), 0u);
  // Redis checks the argument first, so even a key of another type gets this error.
  PutHash("h");
  EXPECT_THAT(Run({"decrby", "h", "-9223372036854775808"}), IsErr("ERR decrement would overflow"));
  EXPECT_THAT(Run({"incrby", "h", "x"}), IsErr(kNotInteger));
}

TEST_F(CountersTest, OverflowIsAnErrorAndWritesNothing) {
  backend_.Put(kBucket0, "big", "9223372036854775807");
  backend_.Put(kBucket0, "small", "-9223372036854775808");
  uint64_t seq = backend_.last_sequence();
  EXPECT_THAT(Run({"incr", "big"}), IsErr(kOverflow));
  EXPECT_THAT(Run({"incrby", "big", "1"}), IsErr(kOverflow));
  EXPECT_THAT(Run({"decr", "small"}), IsErr(kOverflow));
  EXPECT_THAT(Run({"decrby", "small", "1"}), IsErr(kOverflow));
  EXPECT_THAT(Run({"incrby", "small", "-1"}), IsErr(kOverflow));
  EXPECT_EQ(backend_.last_sequence(), seq);
  EXPECT_THAT(Run({"decrby", "big", "9223372036854775807"}), IsInt(0));
  EXPECT_THAT(Run({"incrby", "small", "9223372036854775807"}), IsInt(-1));
}

TEST_F(CountersTest, NonIntegerStoredValueIsAnError) {
  for (const char* stored : {"hello", "", " 1", "010", "-0", "1.0", "99999999999999999999"}) {
    backend_.Put(kBucket0, "s", stored);
    EXPECT_THAT(Run({"incr", "s"}), IsErr(kNotInteger)) << stored;
    EXPECT_THAT(Run({"decrby", "s", "1"}), IsErr(kNotInteger)) << stored;
    EXPECT_EQ(Stored("s"), stored);
  }
}

TEST_F(CountersTest, WrongTypeForEveryCounter) {
  PutHash("h");
  EXPECT_THAT(Run({"incr", "h"}), IsErr(kWrongType));
  EXPECT_THAT(Run({"decr", "h"}), IsErr(kWrongType));
  EXPECT_THAT(Run({"incrby", "h", "1"}), IsErr(kWrongType));
  EXPECT_THAT(Run({"decrby", "h", "1"}), IsErr(kWrongType));
  EXPECT_THAT(Run({"incrbyfloat", "h", "1"}), IsErr(kWrongType));
  EXPECT_EQ(Stored("h"), "x");
}

TEST_F(CountersTest, IncrByFloatChecksTheTypeBeforeTheIncrementAsRedisDoes) {
  PutHash("h");
  EXPECT_THAT(Run({"incrbyfloat", "h", "x"}), IsErr(kWrongType));
  EXPECT_THAT(Run({"incrbyfloat", "f", "x"}), IsErr(kNotFloat));
  EXPECT_EQ(Stored("f"), "<none>");
}

TEST_F(CountersTest, IncrKeepsTheDeadline) {
  int64_t at = kvmap::NowUnixMs() + 100000;
  PutWithDeadline("c", "5", at);
  EXPECT_THAT(Run({"incr", "c"}), IsInt(6));
  EXPECT_THAT(Run({"decrby", "c", "2"}), IsInt(4));
  EXPECT_EQ(Stored("c"), "4");
  EXPECT_EQ(Deadline("c"), std::to_string(at));
  EXPECT_THAT(Run({"incrbyfloat", "c", "0.5"}), IsBulk("4.5"));
  EXPECT_EQ(Deadline("c"), std::to_string(at));
}

TEST_F(CountersTest, ExpiredKeyStartsFromZeroWithoutDeadline) {
  PutWithDeadline("c", "100", kvmap::NowUnixMs() - 1000);
  EXPECT_THAT(Run({"incr", "c"}), IsInt(1));
  EXPECT_EQ(Deadline("c"), std::nullopt);
  PutWithDeadline("f", "100", kvmap::NowUnixMs() - 1000);
  EXPECT_THAT(Run({"incrbyfloat", "f", "1.5"}), IsBulk("1.5"));
  EXPECT_EQ(Deadline("f"), std::nullopt);
}

TEST_F(CountersTest, ExpiredValueOfAnotherTypeIsNotWrongType) {
  backend_.Put(kBucket0, "h", "x",
               {{std::string(kvmap::kHdrType), "hash/1"},
                {std::string(kvmap::kHdrExpiresAt), std::to_string(kvmap::NowUnixMs() - 1000)}});
  EXPECT_THAT(Run({"incr", "h"}), IsInt(1));
}

TEST_F(CountersTest, CountersOnAKeyRecreatedAfterADeleteMarker) {
  backend_.Put(kBucket0, "c", "41");
  ASSERT_THAT(Run({"del", "c"}), IsInt(1));
  ASSERT_EQ(Stored("c"), "<marker>");
  EXPECT_THAT(Run({"incr", "c"}), IsInt(1));
  EXPECT_EQ(Stored("c"), "1");
  ASSERT_THAT(Run({"del", "c"}), IsInt(1));
  EXPECT_THAT(Run({"decrby", "c", "7"}), IsInt(-7));
  ASSERT_THAT(Run({"del", "c"}), IsInt(1));
  EXPECT_THAT(Run({"incrbyfloat", "c", "2.5"}), IsBulk("2.5"));
  EXPECT_EQ(Stored("c"), "2.5");
}

TEST_F(CountersTest, LostAcknowledgementCountsOnce) {
  backend_.Put(kBucket0, "c", "5");
  WarmUp(FakeKvBackend::Mode::kImmediate);
  uint64_t before = backend_.last_sequence();
  backend_.LoseNextAcks(1);  // applied, but the gateway hears "outcome unknown"
  transport_.TakeSent();
  Send({"incr", "c"});
  Settle();
  auto replies = TakeReplies();
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_THAT(replies[0], IsInt(6));
  EXPECT_EQ(Stored("c"), "6");
  EXPECT_EQ(backend_.last_sequence(), before + 1) << "the resend must be de-duplicated";
  EXPECT_EQ(writes(), 2u) << "one write and one identical resend";
}

TEST_F(CountersTest, ConcurrentWriterMakesTheIncrementRetryOnFreshData) {
  backend_.Put(kBucket0, "c", "5");
  WarmUp(FakeKvBackend::Mode::kManual);
  transport_.TakeSent();
  Send({"incr", "c"});
  Drain();
  ASSERT_EQ(backend_.pending_count(), 1u);  // the read
  ASSERT_TRUE(backend_.CompleteAt(0));
  Drain();
  backend_.Put(kBucket0, "c", "100");  // another client writes between the read and the CAS
  backend_.CompleteAll();              // the CAS fails
  Drain();
  backend_.CompleteAll();  // the re-read
  Drain();
  backend_.CompleteAll();  // the new CAS
  Drain();
  auto replies = TakeReplies();
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_THAT(replies[0], IsInt(101));
  EXPECT_EQ(Stored("c"), "101");
}

TEST_F(CountersTest, IncrByFloatRepliesAsRedis) {
  EXPECT_THAT(Run({"incrbyfloat", "f", "10.5"}), IsBulk("10.5"));
  EXPECT_THAT(Run({"incrbyfloat", "f", "0.1"}), IsBulk("10.6"));
  EXPECT_THAT(Run({"incrbyfloat", "f", "-5.0e3"}), IsBulk("-4989.39999999999999991"));
  EXPECT_EQ(Stored("f"), "-4989.39999999999999991");
  EXPECT_THAT(Run({"incrbyfloat", "g", "5.0e3"}), IsBulk("5000"));
  EXPECT_THAT(Run({"incrbyfloat", "g2", "1.23456789012345678"}), IsBulk("1.23456789012345678"));
  EXPECT_THAT(Run({"incrbyfloat", "g3", "-0"}), IsBulk("0"));
  EXPECT_THAT(Run({"incrbyfloat", "g4", "0x10"}), IsBulk("16"));
  EXPECT_THAT(Run({"incrbyfloat", "g7", "+1"}), IsBulk("1"));
  EXPECT_THAT(Run({"incrbyfloat", "g8", ".5"}), IsBulk("0.5"));
  backend_.Put(kBucket0, "i", "3");
  EXPECT_THAT(Run({"incrbyfloat", "i", "1.5"}), IsBulk("4.5"));
  EXPECT_THAT(Run({"incrbyfloat", "i", "0"}), IsBulk("4.5"));
}

TEST_F(CountersTest, IncrByFloatErrors) {
  EXPECT_THAT(Run({"incrbyfloat", "f", "x"}), IsErr(kNotFloat));
  EXPECT_THAT(Run({"incrbyfloat", "f", " 1"}), IsErr(kNotFloat));
  EXPECT_THAT(Run({"incrbyfloat", "f", "1 "}), IsErr(kNotFloat));
  EXPECT_THAT(Run({"incrbyfloat", "f", ""}), IsErr(kNotFloat));
  EXPECT_THAT(Run({"incrbyfloat", "f", "inf"}),
              IsErr("ERR increment would produce NaN or Infinity"));
  EXPECT_EQ(Stored("f"), "<none>");
  backend_.Put(kBucket0, "s", "abc");
  EXPECT_THAT(Run({"incrbyfloat", "s", "1"}), IsErr(kNotFloat));
  EXPECT_EQ(Stored("s"), "abc");
}

TEST_F(CountersTest, IntegerCountersWorkOnIncrByFloatResults) {
  EXPECT_THAT(Run({"incrbyfloat", "f", "2.0"}), IsBulk("2"));
  EXPECT_THAT(Run({"incr", "f"}), IsInt(3));
  EXPECT_THAT(Run({"incrbyfloat", "f", "0.5"}), IsBulk("3.5"));
  EXPECT_THAT(Run({"incr", "f"}), IsErr(kNotInteger));
}

TEST_F(CountersTest, WrongArity) {
  EXPECT_THAT(Run({"incr"}), IsErr("ERR wrong number of arguments for 'incr' command"));
  EXPECT_THAT(Run({"incr", "a", "b"}), IsErr("ERR wrong number of arguments for 'incr' command"));
  EXPECT_THAT(Run({"incrby", "a"}), IsErr("ERR wrong number of arguments for 'incrby' command"));
  EXPECT_THAT(Run({"incrbyfloat", "a", "1", "2"}),
              IsErr("ERR wrong number of arguments for 'incrbyfloat' command"));
}

TEST_F(CountersTest, BackendFailureIsReported) {
  WarmUp(FakeKvBackend::Mode::kImmediate);
  backend_.set_connected(false);
  EXPECT_THAT(Run({"incr", "c"}), IsErr("ERR backend unavailable"));
  EXPECT_THAT(Run({"incrbyfloat", "c", "1"}), IsErr("ERR backend unavailable"));
}

TEST_F(CountersTest, RespectsTheResp3Protocol) {
  ASSERT_EQ(Run({"hello", "3"}).type, test_support::RespType::kMap);
  EXPECT_THAT(Run({"incr", "c"}), IsInt(1));
  EXPECT_THAT(Run({"incrbyfloat", "c", "1.5"}), IsBulk("2.5"));
}

}  // namespace
}  // namespace gateway
