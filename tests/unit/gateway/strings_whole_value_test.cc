// SPDX-License-Identifier: Apache-2.0
//
// Tests of the string commands that read or replace whole values (SETNX, SETEX, PSETEX, GETSET,
// GETDEL, GETEX, MGET, MSET, and SET's read-modify-write forms) against the fake backend: the
// Redis 7.0.15 replies and error texts, what is stored, TTL kept or dropped, WRONGTYPE, delete
// markers and expired entries. Expected replies were checked against redis-server 7.0.15.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "kvmap/ttl.h"
#include "tests/unit/gateway/gateway_fixture.h"

namespace gateway {
namespace {

using test_support::IsArray;
using test_support::IsBulk;
using test_support::IsErr;
using test_support::IsInt;
using test_support::IsNil;
using test_support::IsOk;
using testing_support::GatewayTest;

constexpr std::string_view kWrongType =
    "WRONGTYPE Operation against a key holding the wrong kind of value";

class StringsWholeValueTest : public GatewayTest {
 protected:
  kvmap::Header ExpiresIn(int64_t ms) {
    return {std::string(kvmap::kHdrExpiresAt), std::to_string(kvmap::NowUnixMs() + ms)};
  }
  void PutExpired(std::string_view key, std::string_view value) {
    backend_.Put(kBucket0, key, value, {ExpiresIn(-1000)});
  }
  void PutHash(std::string_view key) {
    backend_.Put(kBucket0, key, "x", {{std::string(kvmap::kHdrType), "hash/1"}});
  }
  void PutMarker(std::string_view key) {
    backend_.Put(kBucket0, key, "v");
    ASSERT_THAT(Run({"del", std::string(key)}), IsInt(1));
    ASSERT_EQ(Stored(key), "<marker>");
  }
  std::optional<int64_t> Deadline(std::string_view key) {
    const kvmap::Entry* e = backend_.Latest(kBucket0, key);
    if (e == nullptr) return std::nullopt;
    return kvmap::ExpiresAt(*e);
  }
  bool HasHeader(std::string_view key, std::string_view name) {
    const kvmap::Entry* e = backend_.Latest(kBucket0, key);
    return e != nullptr && kvmap::FindHeader(e->headers, name).has_value();
  }
  // Runs one request, then every waiting timer and completion (resends wait in a timer).
  test_support::RespValue RunSettled(const std::vector<std::string>& args) {
    transport_.TakeSent();
    Send(args);
    for (int i = 0; i < 100; ++i) {
      if (executor_.RunAll() + server().RunTimers() == 0) break;
    }
    return test_support::DecodeOne(transport_.TakeSent()).value_or(test_support::RespValue{});
  }
};

// --- SETNX ---

TEST_F(StringsWholeValueTest, SetNxOnMissingKeyReturnsOneAndStores) {
  EXPECT_THAT(Run({"setnx", "k", "v"}), IsInt(1));
  EXPECT_EQ(Stored("k"), "v");
}

TEST_F(StringsWholeValueTest, SetNxOnExistingKeyReturnsZeroAndKeepsTheValue) {
  backend_.Put(kBucket0, "k", "old");
  EXPECT_THAT(Run({"setnx", "k", "new"}), IsInt(0));
  EXPECT_EQ(Stored("k"), "old");
}

TEST_F(StringsWholeValueTest, SetNxOnNonStringKeyReturnsZero) {
  PutHash("k");
  EXPECT_THAT(Run({"setnx", "k", "new"}), IsInt(0));
  EXPECT_EQ(Stored("k"), "x");
}

TEST_F(StringsWholeValueTest, SetNxAfterDeleteMarkerCreates) {
  PutMarker("k");
  EXPECT_THAT(Run({"setnx", "k", "v"}), IsInt(1));
  EXPECT_EQ(Stored("k"), "v");
}

TEST_F(StringsWholeValueTest, SetNxOnExpiredEntryCreatesWithoutTheOldDeadline) {
  PutExpired("k", "old");
  EXPECT_THAT(Run({"setnx", "k", "new"}), IsInt(1));
  EXPECT_EQ(Stored("k"), "new");
  EXPECT_FALSE(Deadline("k").has_value());
}

// --- SETEX / PSETEX ---

TEST_F(StringsWholeValueTest, SetExStoresTheValueWithASecondsDeadline) {
  int64_t before = kvmap::NowUnixMs();
  EXPECT_THAT(Run({"setex", "k", "100", "v"}), IsOk());
  EXPECT_EQ(Stored("k"), "v");
  ASSERT_TRUE(Deadline("k").has_value());
  EXPECT_GE(*Deadline("k"), before + 100000);
  EXPECT_LE(*Deadline("k"), kvmap::NowUnixMs() + 100000);
}

TEST_F(StringsWholeValueTest, PSetExStoresAMillisecondsDeadline) {
  int64_t before = kvmap::NowUnixMs();
  EXPECT_THAT(Run({"psetex", "k", "1500", "v"}), IsOk());
  ASSERT_TRUE(Deadline("k").has_value());
  EXPECT_GE(*Deadline("k"), before + 1500);
  EXPECT_LE(*Deadline("k"), kvmap::NowUnixMs() + 1500);
}

TEST_F(StringsWholeValueTest, SetExWithZeroOrNegativeTtlIsInvalidAndSendsNothing) {
  EXPECT_THAT(Run({"setex", "k", "0", "v"}), IsErr("ERR invalid expire time in 'setex' command"));
  EXPECT_THAT(Run({"setex", "k", "-1", "v"}), IsErr("ERR invalid expire time in 'setex' command"));
  EXPECT_THAT(Run({"psetex", "k", "0", "v"}), IsErr("ERR invalid expire time in 'psetex' command"));
  EXPECT_EQ(backend_.get_calls() + backend_.write_calls(), 0u);
}

TEST_F(StringsWholeValueTest, SetExWithNonIntegerTtlIsNotAnInteger) {
  EXPECT_THAT(Run({"setex", "k", "abc", "v"}),
              IsErr("ERR value is not an integer or out of range"));
  EXPECT_THAT(Run({"psetex", "k", "1.5", "v"}),
              IsErr("ERR value is not an integer or out of range"));
  EXPECT_EQ(backend_.write_calls(), 0u);
}

TEST_F(StringsWholeValueTest, SetExWithOverflowingTtlIsInvalid) {
  EXPECT_THAT(Run({"setex", "k", "9223372036854775807", "v"}),
              IsErr("ERR invalid expire time in 'setex' command"));
  EXPECT_THAT(Run({"psetex", "k", "9223372036854775807", "v"}),
              IsErr("ERR invalid expire time in 'psetex' command"));
}

TEST_F(StringsWholeValueTest, SetExOverwritesAKeyOfAnotherType) {
  PutHash("k");
  EXPECT_THAT(Run({"setex", "k", "100", "v"}), IsOk());
  EXPECT_EQ(Stored("k"), "v");
  EXPECT_FALSE(HasHeader("k", kvmap::kHdrType));
}

// --- GETSET ---

TEST_F(StringsWholeValueTest, GetSetReturnsTheOldValueStoresTheNewAndDropsTheTtl) {
  backend_.Put(kBucket0, "k", "old", {ExpiresIn(60000)});
  EXPECT_THAT(Run({"getset", "k", "new"}), IsBulk("old"));
  EXPECT_EQ(Stored("k"), "new");
  EXPECT_FALSE(Deadline("k").has_value());
}

TEST_F(StringsWholeValueTest, GetSetOnMissingKeyIsNilAndStores) {
  EXPECT_THAT(Run({"getset", "k", "new"}), IsNil());
  EXPECT_EQ(Stored("k"), "new");
}

TEST_F(StringsWholeValueTest, GetSetOnExpiredEntryIsNilAndStores) {
  PutExpired("k", "old");
  EXPECT_THAT(Run({"getset", "k", "new"}), IsNil());
  EXPECT_EQ(Stored("k"), "new");
  EXPECT_FALSE(Deadline("k").has_value());
}

TEST_F(StringsWholeValueTest, GetSetOnNonStringIsWrongTypeAndWritesNothing) {
  PutHash("k");
  EXPECT_THAT(Run({"getset", "k", "new"}), IsErr(kWrongType));
  EXPECT_EQ(Stored("k"), "x");
}

TEST_F(StringsWholeValueTest, GetSetAfterDeleteMarkerCreates) {
  PutMarker("k");
  EXPECT_THAT(Run({"getset", "k", "new"}), IsNil());
  EXPECT_EQ(Stored("k"), "new");
}

// --- GETDEL ---

TEST_F(StringsWholeValueTest, GetDelReturnsTheValueAndDeletesTheKey) {
  backend_.Put(kBucket0, "k", "v");
  EXPECT_THAT(Run({"getdel", "k"}), IsBulk("v"));
  EXPECT_EQ(Stored("k"), "<marker>");
  EXPECT_THAT(Run({"get", "k"}), IsNil());
}

TEST_F(StringsWholeValueTest, GetDelOfMissingOrExpiredKeyIsNilAndWritesNothing) {
  PutExpired("e", "v");
  WarmUp(kvmap::FakeKvBackend::Mode::kImmediate);
  EXPECT_THAT(Run({"getdel", "missing"}), IsNil());
  EXPECT_THAT(Run({"getdel", "e"}), IsNil());
  EXPECT_EQ(writes(), 0u);
}

TEST_F(StringsWholeValueTest, GetDelOfNonStringIsWrongTypeAndKeepsIt) {
  PutHash("k");
  EXPECT_THAT(Run({"getdel", "k"}), IsErr(kWrongType));
  EXPECT_EQ(Stored("k"), "x");
}

// --- GETEX ---

TEST_F(StringsWholeValueTest, GetExWithoutOptionsIsAPlainReadThatKeepsTheTtl) {
  backend_.Put(kBucket0, "k", "v", {ExpiresIn(60000)});
  std::optional<int64_t> deadline = Deadline("k");
  WarmUp(kvmap::FakeKvBackend::Mode::kImmediate);
  EXPECT_THAT(Run({"getex", "k"}), IsBulk("v"));
  EXPECT_EQ(writes(), 0u);
  EXPECT_EQ(Deadline("k"), deadline);
}

TEST_F(StringsWholeValueTest, GetExExSetsADeadlineAndReturnsTheValue) {
  backend_.Put(kBucket0, "k", "v");
  int64_t before = kvmap::NowUnixMs();
  EXPECT_THAT(Run({"getex", "k", "EX", "100"}), IsBulk("v"));
  EXPECT_EQ(Stored("k"), "v");
  ASSERT_TRUE(Deadline("k").has_value());
  EXPECT_GE(*Deadline("k"), before + 100000);
}

TEST_F(StringsWholeValueTest, GetExPxAtSetsTheGivenDeadline) {
  backend_.Put(kBucket0, "k", "v");
  EXPECT_THAT(Run({"getex", "k", "pxat", "9999999999999"}), IsBulk("v"));
  EXPECT_EQ(Deadline("k"), std::optional<int64_t>(9999999999999));
  EXPECT_THAT(Run({"getex", "k", "exat", "4000000000"}), IsBulk("v"));
  EXPECT_EQ(Deadline("k"), std::optional<int64_t>(4000000000000));
}

TEST_F(StringsWholeValueTest, GetExPersistRemovesTheDeadline) {
  backend_.Put(kBucket0, "k", "v", {ExpiresIn(60000)});
  EXPECT_THAT(Run({"getex", "k", "PERSIST"}), IsBulk("v"));
  EXPECT_EQ(Stored("k"), "v");
  EXPECT_FALSE(HasHeader("k", kvmap::kHdrExpiresAt));
}

TEST_F(StringsWholeValueTest, GetExPersistWithoutDeadlineWritesNothing) {
  backend_.Put(kBucket0, "k", "v");
  WarmUp(kvmap::FakeKvBackend::Mode::kImmediate);
  EXPECT_THAT(Run({"getex", "k", "persist"}), IsBulk("v"));
  EXPECT_EQ(writes(), 0u);
}

TEST_F(StringsWholeValueTest, GetExWithAPastAbsoluteDeadlineDeletesTheKey) {
  backend_.Put(kBucket0, "a", "1");
  backend_.Put(kBucket0, "b", "2");
  EXPECT_THAT(Run({"getex", "a", "EXAT", "1"}), IsBulk("1"));
  EXPECT_THAT(Run({"getex", "b", "PXAT", "1"}), IsBulk("2"));
  EXPECT_EQ(Stored("a"), "<marker>");
  EXPECT_EQ(Stored("b"), "<marker>");
}

TEST_F(StringsWholeValueTest, GetExOfMissingOrExpiredKeyIsNil) {
  PutExpired("e", "v");
  EXPECT_THAT(Run({"getex", "missing", "EX", "10"}), IsNil());
  EXPECT_THAT(Run({"getex", "e", "PERSIST"}), IsNil());
  EXPECT_THAT(Run({"getex", "e"}), IsNil());
}

TEST_F(StringsWholeValueTest, GetExOfNonStringIsWrongType) {
  PutHash("k");
  EXPECT_THAT(Run({"getex", "k"}), IsErr(kWrongType));
  EXPECT_THAT(Run({"getex", "k", "EX", "10"}), IsErr(kWrongType));
}

// Redis 7.0 checks the expire value only after the lookup and the type check.
TEST_F(StringsWholeValueTest, GetExChecksTheExpireValueAfterTheKey) {
  PutHash("h");
  backend_.Put(kBucket0, "s", "v");
  EXPECT_THAT(Run({"getex", "missing", "EX", "0"}), IsNil());
  EXPECT_THAT(Run({"getex", "missing", "EX", "abc"}), IsNil());
  EXPECT_THAT(Run({"getex", "h", "EX", "abc"}), IsErr(kWrongType));
  EXPECT_THAT(Run({"getex", "s", "EX", "0"}), IsErr("ERR invalid expire time in 'getex' command"));
  EXPECT_THAT(Run({"getex", "s", "PX", "9223372036854775807"}),
              IsErr("ERR invalid expire time in 'getex' command"));
  EXPECT_THAT(Run({"getex", "s", "EX", "abc"}),
              IsErr("ERR value is not an integer or out of range"));
  EXPECT_EQ(Stored("s"), "v");
  EXPECT_FALSE(Deadline("s").has_value());
}

TEST_F(StringsWholeValueTest, GetExSyntaxErrorsSendNothing) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"getex", "k", "foo"},
           {"getex", "k", "EX"},
           {"getex", "k", "EX", "10", "PX", "10"},
           {"getex", "k", "PERSIST", "EX", "10"},
           {"getex", "k", "EX", "10", "PERSIST"},
           {"getex", "k", "KEEPTTL"},
           {"getex", "k", "NX"},
           {"getex", "k", "GET"},
       }) {
    EXPECT_THAT(Run(args), IsErr("ERR syntax error")) << args[2];
  }
  EXPECT_EQ(backend_.get_calls() + backend_.write_calls(), 0u);
}

TEST_F(StringsWholeValueTest, GetExAcceptsARepeatedExpireOption) {
  backend_.Put(kBucket0, "k", "v");
  EXPECT_THAT(Run({"getex", "k", "ex", "10", "ex", "4000000000"}), IsBulk("v"));
  ASSERT_TRUE(Deadline("k").has_value());
  EXPECT_GT(*Deadline("k"), kvmap::NowUnixMs() + 1000000000);
}

// --- MGET ---

TEST_F(StringsWholeValueTest, MGetReturnsNilForMissingNonStringExpiredAndDeletedKeys) {
  backend_.Put(kBucket0, "s", "v");
  PutHash("h");
  PutExpired("e", "old");
  PutMarker("d");
  EXPECT_THAT(Run({"mget", "s", "missing", "h", "e", "d", "s"}),
              IsArray(IsBulk("v"), IsNil(), IsNil(), IsNil(), IsNil(), IsBulk("v")));
}

TEST_F(StringsWholeValueTest, MGetCountsKeyspaceHitsAndMisses) {
  backend_.Put(kBucket0, "s", "v");
  PutHash("h");
  Run({"mget", "s", "h", "missing"});
  EXPECT_EQ(server().stats().keyspace_hits, 2u);
  EXPECT_EQ(server().stats().keyspace_misses, 1u);
}

// --- MSET ---

TEST_F(StringsWholeValueTest, MSetStoresEveryPairAndDropsTheTtl) {
  backend_.Put(kBucket0, "a", "old", {ExpiresIn(60000)});
  WarmUp(kvmap::FakeKvBackend::Mode::kImmediate);
  EXPECT_THAT(Run({"mset", "a", "1", "b", "2"}), IsOk());
  EXPECT_EQ(Stored("a"), "1");
  EXPECT_EQ(Stored("b"), "2");
  EXPECT_FALSE(Deadline("a").has_value());
  EXPECT_EQ(gets(), 0u) << "blind puts";
  EXPECT_EQ(writes(), 2u);
}

TEST_F(StringsWholeValueTest, MSetOfTheSameKeyTwiceKeepsTheLast) {
  EXPECT_THAT(Run({"mset", "k", "1", "k", "2"}), IsOk());
  EXPECT_EQ(Stored("k"), "2");
}

TEST_F(StringsWholeValueTest, MSetRepliesOnlyAfterEveryWriteIsAcknowledged) {
  WarmUp(kvmap::FakeKvBackend::Mode::kManual);
  Send({"mset", "a", "1", "b", "2"});
  Drain();
  ASSERT_EQ(backend_.pending_count(), 2u);
  backend_.CompleteAt(0);
  Drain();
  EXPECT_TRUE(TakeReplies().empty());
  backend_.CompleteAll();
  Drain();
  EXPECT_THAT(TakeReplies(), ::testing::ElementsAre(IsOk()));
}

TEST_F(StringsWholeValueTest, MSetWithAnOddArgumentCountIsTheArityErrorAndSendsNothing) {
  EXPECT_THAT(Run({"mset", "a", "1", "b"}),
              IsErr("ERR wrong number of arguments for 'mset' command"));
  EXPECT_EQ(backend_.write_calls(), 0u);
}

TEST_F(StringsWholeValueTest, MSetOverwritesAKeyOfAnotherType) {
  PutHash("h");
  EXPECT_THAT(Run({"mset", "h", "v"}), IsOk());
  EXPECT_THAT(Run({"get", "h"}), IsBulk("v"));
}

// --- SET's read-modify-write forms (through ReadModifyWrite) ---

TEST_F(StringsWholeValueTest, SetNxOnNonStringKeyIsNil) {
  PutHash("k");
  EXPECT_THAT(Run({"set", "k", "v", "NX"}), IsNil());
  EXPECT_EQ(Stored("k"), "x");
}

TEST_F(StringsWholeValueTest, SetXxOverwritesAKeyOfAnotherTypeAsAString) {
  PutHash("k");
  EXPECT_THAT(Run({"set", "k", "v", "XX"}), IsOk());
  EXPECT_THAT(Run({"get", "k"}), IsBulk("v"));
}

TEST_F(StringsWholeValueTest, SetKeepTtlOnExpiredEntryStoresNoDeadline) {
  PutExpired("k", "old");
  EXPECT_THAT(Run({"set", "k", "new", "KEEPTTL"}), IsOk());
  EXPECT_EQ(Stored("k"), "new");
  EXPECT_FALSE(Deadline("k").has_value());
}

TEST_F(StringsWholeValueTest, SetGetWithExpirySetsTheDeadlineAndReturnsTheOldValue) {
  backend_.Put(kBucket0, "k", "old");
  EXPECT_THAT(Run({"set", "k", "new", "GET", "EX", "100"}), IsBulk("old"));
  EXPECT_EQ(Stored("k"), "new");
  EXPECT_TRUE(Deadline("k").has_value());
}

TEST_F(StringsWholeValueTest, SetXxWithLostAckIsResentAndAppliedOnce) {
  backend_.Put(kBucket0, "k", "old");
  WarmUp(kvmap::FakeKvBackend::Mode::kImmediate);
  uint64_t before = backend_.last_sequence();
  backend_.LoseNextAcks(1);
  EXPECT_THAT(RunSettled({"set", "k", "new", "XX", "GET"}), IsBulk("old"));
  EXPECT_EQ(Stored("k"), "new");
  EXPECT_EQ(backend_.last_sequence(), before + 1) << "the resend must be de-duplicated";
  EXPECT_EQ(writes(), 2u);
}

TEST_F(StringsWholeValueTest, SetGetCountsTheLookup) {
  backend_.Put(kBucket0, "k", "old");
  Run({"set", "k", "new", "GET"});
  EXPECT_EQ(server().stats().keyspace_hits, 1u);
}

}  // namespace
}  // namespace gateway
