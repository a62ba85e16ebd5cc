// SPDX-License-Identifier: Apache-2.0
//
// Tests of the expiry and key-introspection commands (EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT with
// NX/XX/GT/LT, TTL, PTTL, EXPIRETIME, PEXPIRETIME, PERSIST, TYPE) and of UNLINK and TOUCH,
// against the fake backend: the Redis 7.0.15 replies and error texts byte for byte, what is
// stored (the deadline header, the value and the type header kept, delete markers), and that
// a parse failure never reaches the backend. Expected replies were checked against
// redis-server 7.0.15.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "kvmap/ttl.h"
#include "tests/unit/gateway/gateway_fixture.h"

namespace gateway {
namespace {

using test_support::IsErr;
using test_support::IsInt;
using test_support::IsSimple;
using testing_support::GatewayTest;

constexpr int64_t kFarMs = 9999999999000;  // 2286-11-20

class ExpireCommandsTest : public GatewayTest {
 protected:
  void SetUp() override { WarmUp(kvmap::FakeKvBackend::Mode::kImmediate); }

  kvmap::Header DeadlineHeader(int64_t at_ms) {
    return {std::string(kvmap::kHdrExpiresAt), std::to_string(at_ms)};
  }
  kvmap::Header ExpiresIn(int64_t ms) { return DeadlineHeader(kvmap::NowUnixMs() + ms); }
  void PutWithDeadline(std::string_view key, int64_t at_ms, std::string_view value = "v") {
    backend_.Put(kBucket0, key, value, {DeadlineHeader(at_ms)});
  }
  void PutHash(std::string_view key, kvmap::Headers extra = {}) {
    kvmap::Headers h = {{std::string(kvmap::kHdrType), "hash/1"}};
    h.insert(h.end(), extra.begin(), extra.end());
    backend_.Put(kBucket0, key, "fields", h);
  }
  std::optional<int64_t> Deadline(std::string_view key) {
    const kvmap::Entry* e = backend_.Latest(kBucket0, key);
    if (e == nullptr) return std::nullopt;
    return kvmap::ExpiresAt(*e);
  }
  std::optional<std::string> Header(std::string_view key, std::string_view name) {
    const kvmap::Entry* e = backend_.Latest(kBucket0, key);
    if (e == nullptr) return std::nullopt;
    auto v = kvmap::FindHeader(e->headers, name);
    return v ? std::optional<std::string>(std::string(*v)) : std::nullopt;
  }
  // The raw reply bytes of one request (for byte-exact error texts).
  std::string RunRaw(const std::vector<std::string>& args) {
    transport_.TakeSent();
    Send(args);
    Drain();
    return transport_.TakeSent();
  }
  // Checks that `args` answers exactly `error` and touched no backend.
  void ExpectParseError(const std::vector<std::string>& args, std::string_view error) {
    const size_t g = gets(), w = writes();
    EXPECT_EQ(RunRaw(args), "-" + std::string(error) + "\r\n") << args[0];
    EXPECT_EQ(gets(), g) << args[0];
    EXPECT_EQ(writes(), w) << args[0];
  }
};

// --- EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT: setting a deadline ---

TEST_F(ExpireCommandsTest, ExpireOnMissingKeyReturnsZeroAndWritesNothing) {
  for (const char* cmd : {"expire", "pexpire", "expireat", "pexpireat"}) {
    EXPECT_THAT(Run({cmd, "nokey", "100"}), IsInt(0)) << cmd;
  }
  EXPECT_EQ(writes(), 0u);
  EXPECT_EQ(Stored("nokey"), "<none>");
}

TEST_F(ExpireCommandsTest, ExpireSetsARelativeDeadlineInSeconds) {
  backend_.Put(kBucket0, "k", "v");
  const int64_t before = kvmap::NowUnixMs();
  EXPECT_THAT(Run({"expire", "k", "100"}), IsInt(1));
  const int64_t after = kvmap::NowUnixMs();
  ASSERT_TRUE(Deadline("k"));
  EXPECT_GE(*Deadline("k"), before + 100000);
  EXPECT_LE(*Deadline("k"), after + 100000);
  EXPECT_EQ(Stored("k"), "v");
}

TEST_F(ExpireCommandsTest, PExpireSetsARelativeDeadlineInMilliseconds) {
  backend_.Put(kBucket0, "k", "v");
  const int64_t before = kvmap::NowUnixMs();
  EXPECT_THAT(Run({"pexpire", "k", "12345"}), IsInt(1));
  const int64_t after = kvmap::NowUnixMs();
  ASSERT_TRUE(Deadline("k"));
  EXPECT_GE(*Deadline("k"), before + 12345);
  EXPECT_LE(*Deadline("k"), after + 12345);
}

TEST_F(ExpireCommandsTest, ExpireAtAndPExpireAtSetAbsoluteDeadlines) {
  backend_.Put(kBucket0, "k", "v");
  EXPECT_THAT(Run({"expireat", "k", "9999999999"}), IsInt(1));
  EXPECT_EQ(Deadline("k"), kFarMs);
  EXPECT_THAT(Run({"pexpireat", "k", "9999999999123"}), IsInt(1));
  EXPECT_EQ(Deadline("k"), 9999999999123);
  EXPECT_EQ(Stored("k"), "v");
}

TEST_F(ExpireCommandsTest, ExpireReplacesAnEarlierDeadline) {
  PutWithDeadline("k", kFarMs);
  EXPECT_THAT(Run({"pexpireat", "k", "9999999998000"}), IsInt(1));
  EXPECT_EQ(Deadline("k"), 9999999998000);
  const kvmap::Entry* e = backend_.Latest(kBucket0, "k");
  ASSERT_NE(e, nullptr);
  int deadlines = 0;
  for (const kvmap::Header& h : e->headers) deadlines += h.first == kvmap::kHdrExpiresAt;
  EXPECT_EQ(deadlines, 1);
}

TEST_F(ExpireCommandsTest, ExpireKeepsTheValueAndTheTypeOfAnyKey) {
  PutHash("h");
  EXPECT_THAT(Run({"expire", "h", "100"}), IsInt(1));
  EXPECT_EQ(Stored("h"), "fields");
  EXPECT_EQ(Header("h", kvmap::kHdrType), "hash/1");
  EXPECT_TRUE(Deadline("h"));
  EXPECT_THAT(Run({"type", "h"}), IsSimple("hash"));
}

TEST_F(ExpireCommandsTest, ExpireWritesWithCasOnTheRevisionRead) {
  backend_.Put(kBucket0, "k", "v");
  EXPECT_THAT(Run({"expire", "k", "100"}), IsInt(1));
  EXPECT_EQ(gets(), 1u);
  EXPECT_EQ(writes(), 1u);
}

TEST_F(ExpireCommandsTest, ExpireOnAnExpiredKeyReturnsZero) {
  backend_.Put(kBucket0, "k", "v", {ExpiresIn(-1000)});
  EXPECT_THAT(Run({"expire", "k", "100"}), IsInt(0));
  EXPECT_EQ(writes(), 0u);
}

TEST_F(ExpireCommandsTest, ExpireOnADeletedKeyReturnsZero) {
  backend_.Put(kBucket0, "k", "v");
  ASSERT_THAT(Run({"del", "k"}), IsInt(1));
  EXPECT_THAT(Run({"expire", "k", "100"}), IsInt(0));
  EXPECT_EQ(Stored("k"), "<marker>");
}

// --- a deadline already past deletes the key ---

TEST_F(ExpireCommandsTest, ADeadlineInThePastDeletesTheKeyAndReturnsOne) {
  const std::vector<std::vector<std::string>> forms = {
      {"expire", "k", "0"},         {"expire", "k", "-1"},
      {"pexpire", "k", "0"},        {"pexpire", "k", "-100"},
      {"expireat", "k", "1"},       {"expireat", "k", "0"},
      {"pexpireat", "k", "1"},      {"pexpireat", "k", "-9223372036854775808"},
      {"expire", "k", "-9223372036854775"}};
  for (const auto& form : forms) {
    backend_.Put(kBucket0, "k", "v");
    EXPECT_THAT(Run(form), IsInt(1)) << form[0] << " " << form[2];
    EXPECT_EQ(Stored("k"), "<marker>") << form[0] << " " << form[2];
    EXPECT_THAT(Run({"exists", "k"}), IsInt(0));
  }
}

TEST_F(ExpireCommandsTest, ADeadlineInThePastOnAMissingKeyReturnsZero) {
  EXPECT_THAT(Run({"expire", "k", "-1"}), IsInt(0));
  EXPECT_EQ(Stored("k"), "<none>");
}

// --- NX, XX, GT, LT ---

TEST_F(ExpireCommandsTest, NxSetsOnlyWithoutADeadline) {
  backend_.Put(kBucket0, "k", "v");
  EXPECT_THAT(Run({"pexpireat", "k", "9999999998000", "NX"}), IsInt(1));
  EXPECT_EQ(Deadline("k"), 9999999998000);
  const size_t w = writes();
  EXPECT_THAT(Run({"pexpireat", "k", std::to_string(kFarMs), "nx"}), IsInt(0));
  EXPECT_EQ(Deadline("k"), 9999999998000);
  EXPECT_EQ(writes(), w);
}

TEST_F(ExpireCommandsTest, XxSetsOnlyWithADeadline) {
  backend_.Put(kBucket0, "k", "v");
  EXPECT_THAT(Run({"expire", "k", "100", "XX"}), IsInt(0));
  EXPECT_FALSE(Deadline("k"));
  PutWithDeadline("k", kFarMs);
  EXPECT_THAT(Run({"pexpireat", "k", "9999999998000", "Xx"}), IsInt(1));
  EXPECT_EQ(Deadline("k"), 9999999998000);
}

TEST_F(ExpireCommandsTest, GtSetsOnlyALaterDeadlineAndNeverWithoutOne) {
  backend_.Put(kBucket0, "k", "v");
  EXPECT_THAT(Run({"expire", "k", "100", "GT"}), IsInt(0));  // no deadline = infinite
  EXPECT_FALSE(Deadline("k"));
  PutWithDeadline("k", 9999999998000);
  EXPECT_THAT(Run({"pexpireat", "k", "9999999997000", "GT"}), IsInt(0));
  EXPECT_THAT(Run({"pexpireat", "k", "9999999998000", "gt"}), IsInt(0));  // equal
  EXPECT_EQ(Deadline("k"), 9999999998000);
  EXPECT_THAT(Run({"pexpireat", "k", "9999999998001", "GT"}), IsInt(1));
  EXPECT_EQ(Deadline("k"), 9999999998001);
}

TEST_F(ExpireCommandsTest, LtSetsOnlyAnEarlierDeadlineOrWhenThereIsNone) {
  backend_.Put(kBucket0, "k", "v");
  EXPECT_THAT(Run({"pexpireat", "k", std::to_string(kFarMs), "LT"}), IsInt(1));
  EXPECT_EQ(Deadline("k"), kFarMs);
  EXPECT_THAT(Run({"pexpireat", "k", std::to_string(kFarMs + 1), "LT"}), IsInt(0));
  EXPECT_THAT(Run({"pexpireat", "k", std::to_string(kFarMs), "lt"}), IsInt(0));  // equal
  EXPECT_THAT(Run({"pexpireat", "k", std::to_string(kFarMs - 1), "LT"}), IsInt(1));
  EXPECT_EQ(Deadline("k"), kFarMs - 1);
}

TEST_F(ExpireCommandsTest, LtWithAPastDeadlineDeletes) {
  PutWithDeadline("k", kFarMs);
  EXPECT_THAT(Run({"expire", "k", "-5", "LT"}), IsInt(1));
  EXPECT_EQ(Stored("k"), "<marker>");
}

TEST_F(ExpireCommandsTest, XxWithGtOrLtAndRepeatedOptionsCombine) {
  PutWithDeadline("k", 9999999998000);
  EXPECT_THAT(Run({"pexpireat", "k", "9999999997000", "XX", "GT"}), IsInt(0));
  EXPECT_THAT(Run({"pexpireat", "k", "9999999999000", "xx", "gt", "GT", "XX"}), IsInt(1));
  EXPECT_THAT(Run({"pexpireat", "k", "9999999998500", "LT", "XX"}), IsInt(1));
  EXPECT_EQ(Deadline("k"), 9999999998500);
  EXPECT_THAT(Run({"pexpireat", "k", "9999999998000", "NX", "NX"}), IsInt(0));
}

// --- EXPIRE-family errors, all answered before any I/O ---

TEST_F(ExpireCommandsTest, ConflictingOptionsAreRefused) {
  const std::string nx_conflict =
      "ERR NX and XX, GT or LT options at the same time are not compatible";
  const std::string gt_lt = "ERR GT and LT options at the same time are not compatible";
  for (const char* cmd : {"expire", "pexpire", "expireat", "pexpireat"}) {
    ExpectParseError({cmd, "k", "100", "NX", "XX"}, nx_conflict);
    ExpectParseError({cmd, "k", "100", "xx", "nx"}, nx_conflict);
    ExpectParseError({cmd, "k", "100", "NX", "GT"}, nx_conflict);
    ExpectParseError({cmd, "k", "100", "LT", "NX"}, nx_conflict);
    ExpectParseError({cmd, "k", "100", "NX", "GT", "LT"}, nx_conflict);
    ExpectParseError({cmd, "k", "100", "GT", "LT"}, gt_lt);
    ExpectParseError({cmd, "k", "100", "XX", "lt", "gt"}, gt_lt);
  }
}

TEST_F(ExpireCommandsTest, AnUnknownOptionIsReportedAsGiven) {
  ExpectParseError({"expire", "k", "100", "BOGUS"}, "ERR Unsupported option BOGUS");
  ExpectParseError({"pexpire", "k", "100", "NX", "keepttl"}, "ERR Unsupported option keepttl");
  ExpectParseError({"expireat", "k", "100", ""}, "ERR Unsupported option ");
  // The first unknown option wins, even over a conflict.
  ExpectParseError({"pexpireat", "k", "100", "NX", "XX", "x", "y"}, "ERR Unsupported option x");
  // Like Redis's "%s": cut at a NUL byte, trailing CR/LF trimmed, inner ones made spaces.
  ExpectParseError({"expire", "k", "1", std::string("a\0b", 3)}, "ERR Unsupported option a");
  ExpectParseError({"expire", "k", "1", "a\r\n"}, "ERR Unsupported option a");
  ExpectParseError({"expire", "k", "1", "a\nb"}, "ERR Unsupported option a b");
}

TEST_F(ExpireCommandsTest, OptionsAreCheckedBeforeTheNumber) {
  ExpectParseError({"expire", "k", "abc", "BOGUS"}, "ERR Unsupported option BOGUS");
  ExpectParseError({"expire", "k", "abc", "NX", "XX"},
                   "ERR NX and XX, GT or LT options at the same time are not compatible");
  ExpectParseError({"expire", "k", "abc", "NX"}, "ERR value is not an integer or out of range");
}

TEST_F(ExpireCommandsTest, ANonIntegerTimeIsRefused) {
  for (const char* cmd : {"expire", "pexpire", "expireat", "pexpireat"}) {
    for (const char* t : {"abc", "1.5", "", " 1", "1 ", "9223372036854775808",
                          "-9223372036854775809"}) {
      ExpectParseError({cmd, "k", t}, "ERR value is not an integer or out of range");
    }
  }
}

TEST_F(ExpireCommandsTest, AnOverflowingTimeIsAnInvalidExpireTimeNamingTheCommand) {
  ExpectParseError({"expire", "k", "9223372036854776"},
                   "ERR invalid expire time in 'expire' command");
  ExpectParseError({"expire", "k", "-9223372036854776"},
                   "ERR invalid expire time in 'expire' command");
  ExpectParseError({"expire", "k", "9223372036854775"},  // fits *1000, not + now
                   "ERR invalid expire time in 'expire' command");
  ExpectParseError({"EXPIRE", "k", "9223372036854775807"},
                   "ERR invalid expire time in 'expire' command");
  ExpectParseError({"pexpire", "k", "9223372036854775807"},
                   "ERR invalid expire time in 'pexpire' command");
  ExpectParseError({"expireat", "k", "9223372036854776"},
                   "ERR invalid expire time in 'expireat' command");
  ExpectParseError({"ExpireAt", "k", "-9223372036854776"},
                   "ERR invalid expire time in 'expireat' command");
}

TEST_F(ExpireCommandsTest, LargestAbsoluteTimesAreAccepted) {
  backend_.Put(kBucket0, "k", "v");
  EXPECT_THAT(Run({"pexpireat", "k", "9223372036854775807"}), IsInt(1));
  EXPECT_EQ(Deadline("k"), INT64_MAX);
  EXPECT_THAT(Run({"expireat", "k", "9223372036854775"}), IsInt(1));
  EXPECT_EQ(Deadline("k"), 9223372036854775000);
  EXPECT_THAT(Run({"ttl", "k"}), IsInt((9223372036854775000 - kvmap::NowUnixMs() + 500) / 1000));
}

TEST_F(ExpireCommandsTest, AParseErrorOnAMissingKeyIsStillAnError) {
  ExpectParseError({"expire", "nokey", "abc"}, "ERR value is not an integer or out of range");
}

// --- TTL, PTTL, EXPIRETIME, PEXPIRETIME ---

TEST_F(ExpireCommandsTest, TtlFamilyAnswersMinusTwoForAMissingKey) {
  for (const char* cmd : {"ttl", "pttl", "expiretime", "pexpiretime"}) {
    EXPECT_THAT(Run({cmd, "nokey"}), IsInt(-2)) << cmd;
  }
  backend_.Put(kBucket0, "gone", "v", {ExpiresIn(-1)});
  backend_.Put(kBucket0, "deleted", "v");
  ASSERT_THAT(Run({"del", "deleted"}), IsInt(1));
  for (const char* cmd : {"ttl", "pttl", "expiretime", "pexpiretime"}) {
    EXPECT_THAT(Run({cmd, "gone"}), IsInt(-2)) << cmd;
    EXPECT_THAT(Run({cmd, "deleted"}), IsInt(-2)) << cmd;
  }
  EXPECT_EQ(writes(), 1u);  // the DEL only
}

TEST_F(ExpireCommandsTest, TtlFamilyAnswersMinusOneWithoutADeadline) {
  backend_.Put(kBucket0, "k", "v");
  PutHash("h");
  for (const char* cmd : {"ttl", "pttl", "expiretime", "pexpiretime"}) {
    EXPECT_THAT(Run({cmd, "k"}), IsInt(-1)) << cmd;
    EXPECT_THAT(Run({cmd, "h"}), IsInt(-1)) << cmd;
  }
}

TEST_F(ExpireCommandsTest, TtlAndPttlAnswerTheRemainingTime) {
  backend_.Put(kBucket0, "k", "v", {ExpiresIn(100000)});
  EXPECT_THAT(Run({"ttl", "k"}), IsInt(100));
  test_support::RespValue pttl = Run({"pttl", "k"});
  ASSERT_EQ(pttl.type, test_support::RespType::kInteger);
  EXPECT_LE(pttl.integer, 100000);
  EXPECT_GE(pttl.integer, 90000);
}

TEST_F(ExpireCommandsTest, TtlRoundsToTheNearestSecond) {
  backend_.Put(kBucket0, "a", "v", {ExpiresIn(1300)});
  backend_.Put(kBucket0, "b", "v", {ExpiresIn(1800)});
  backend_.Put(kBucket0, "c", "v", {ExpiresIn(300)});
  EXPECT_THAT(Run({"ttl", "a"}), IsInt(1));
  EXPECT_THAT(Run({"ttl", "b"}), IsInt(2));
  EXPECT_THAT(Run({"ttl", "c"}), IsInt(0));
}

TEST_F(ExpireCommandsTest, ExpireTimeAndPExpireTimeAnswerTheDeadline) {
  PutWithDeadline("k", 9999999999123);
  EXPECT_THAT(Run({"pexpiretime", "k"}), IsInt(9999999999123));
  EXPECT_THAT(Run({"expiretime", "k"}), IsInt(9999999999));
  PutWithDeadline("k", 9999999999500);  // rounds like TTL: (ms + 500) / 1000
  EXPECT_THAT(Run({"expiretime", "k"}), IsInt(10000000000));
  PutWithDeadline("k", 9999999999499);
  EXPECT_THAT(Run({"expiretime", "k"}), IsInt(9999999999));
}

TEST_F(ExpireCommandsTest, TtlFamilyReadsOnceAndCountsHitsAndMisses) {
  backend_.Put(kBucket0, "k", "v");
  const uint64_t hits = server().stats().keyspace_hits;
  const uint64_t misses = server().stats().keyspace_misses;
  EXPECT_THAT(Run({"ttl", "k"}), IsInt(-1));
  EXPECT_THAT(Run({"pttl", "nokey"}), IsInt(-2));
  EXPECT_EQ(gets(), 2u);
  EXPECT_EQ(writes(), 0u);
  EXPECT_EQ(server().stats().keyspace_hits, hits + 1);
  EXPECT_EQ(server().stats().keyspace_misses, misses + 1);
}

TEST_F(ExpireCommandsTest, ExpireThenTtlRoundTrips) {
  backend_.Put(kBucket0, "k", "v");
  EXPECT_THAT(Run({"expireat", "k", "9999999999"}), IsInt(1));
  EXPECT_THAT(Run({"expiretime", "k"}), IsInt(9999999999));
  EXPECT_THAT(Run({"pexpiretime", "k"}), IsInt(kFarMs));
  EXPECT_THAT(Run({"expire", "k", "50"}), IsInt(1));
  EXPECT_THAT(Run({"ttl", "k"}), IsInt(50));
}

// --- PERSIST ---

TEST_F(ExpireCommandsTest, PersistOnMissingOrExpiredKeyReturnsZero) {
  EXPECT_THAT(Run({"persist", "nokey"}), IsInt(0));
  backend_.Put(kBucket0, "gone", "v", {ExpiresIn(-1)});
  EXPECT_THAT(Run({"persist", "gone"}), IsInt(0));
  EXPECT_EQ(writes(), 0u);
}

TEST_F(ExpireCommandsTest, PersistWithoutADeadlineReturnsZeroAndWritesNothing) {
  backend_.Put(kBucket0, "k", "v");
  EXPECT_THAT(Run({"persist", "k"}), IsInt(0));
  EXPECT_EQ(writes(), 0u);
}

TEST_F(ExpireCommandsTest, PersistRemovesTheDeadlineAndKeepsValueAndType) {
  PutWithDeadline("k", kFarMs, "value");
  EXPECT_THAT(Run({"persist", "k"}), IsInt(1));
  EXPECT_FALSE(Deadline("k"));
  EXPECT_EQ(Stored("k"), "value");
  EXPECT_THAT(Run({"ttl", "k"}), IsInt(-1));
  EXPECT_THAT(Run({"persist", "k"}), IsInt(0));

  PutHash("h", {DeadlineHeader(kFarMs)});
  EXPECT_THAT(Run({"PERSIST", "h"}), IsInt(1));
  EXPECT_FALSE(Deadline("h"));
  EXPECT_EQ(Header("h", kvmap::kHdrType), "hash/1");
}

// --- TYPE ---

TEST_F(ExpireCommandsTest, TypeNamesTheStoredType) {
  EXPECT_EQ(RunRaw({"type", "nokey"}), "+none\r\n");
  backend_.Put(kBucket0, "s", "v");
  EXPECT_EQ(RunRaw({"type", "s"}), "+string\r\n");
  PutHash("h");
  EXPECT_EQ(RunRaw({"TYPE", "h"}), "+hash\r\n");
  backend_.Put(kBucket0, "z", "x", {{std::string(kvmap::kHdrType), "zset"}});
  EXPECT_EQ(RunRaw({"type", "z"}), "+zset\r\n");
  backend_.Put(kBucket0, "gone", "v", {ExpiresIn(-1)});
  EXPECT_EQ(RunRaw({"type", "gone"}), "+none\r\n");
  ASSERT_THAT(Run({"del", "s"}), IsInt(1));
  EXPECT_EQ(RunRaw({"type", "s"}), "+none\r\n");
}

// --- UNLINK, TOUCH ---

TEST_F(ExpireCommandsTest, UnlinkDeletesLikeDel) {
  backend_.Put(kBucket0, "a", "1");
  backend_.Put(kBucket0, "b", "2");
  backend_.Put(kBucket0, "gone", "v", {ExpiresIn(-1)});
  EXPECT_THAT(Run({"unlink", "a", "nokey", "b", "gone"}), IsInt(2));
  EXPECT_EQ(Stored("a"), "<marker>");
  EXPECT_EQ(Stored("b"), "<marker>");
  EXPECT_THAT(Run({"UNLINK", "a"}), IsInt(0));
}

TEST_F(ExpireCommandsTest, TouchCountsExistingKeysAndOnlyReads) {
  backend_.Put(kBucket0, "a", "1");
  PutHash("h");
  backend_.Put(kBucket0, "gone", "v", {ExpiresIn(-1)});
  const uint64_t hits = server().stats().keyspace_hits;
  const uint64_t misses = server().stats().keyspace_misses;
  EXPECT_THAT(Run({"touch", "a", "h", "nokey", "gone", "a"}), IsInt(3));
  EXPECT_EQ(writes(), 0u);
  EXPECT_EQ(gets(), 5u);
  EXPECT_EQ(server().stats().keyspace_hits, hits + 3);
  EXPECT_EQ(server().stats().keyspace_misses, misses + 2);
  EXPECT_THAT(Run({"TOUCH", "nokey"}), IsInt(0));
}

// --- arity and backend failures ---

TEST_F(ExpireCommandsTest, WrongArityNamesTheCommand) {
  for (const char* cmd : {"expire", "pexpire", "expireat", "pexpireat"}) {
    ExpectParseError({cmd}, "ERR wrong number of arguments for '" + std::string(cmd) + "' command");
    ExpectParseError({cmd, "k"},
                     "ERR wrong number of arguments for '" + std::string(cmd) + "' command");
  }
  for (const char* cmd : {"ttl", "pttl", "expiretime", "pexpiretime", "persist", "type"}) {
    ExpectParseError({cmd}, "ERR wrong number of arguments for '" + std::string(cmd) + "' command");
    ExpectParseError({cmd, "a", "b"},
                     "ERR wrong number of arguments for '" + std::string(cmd) + "' command");
  }
  ExpectParseError({"unlink"}, "ERR wrong number of arguments for 'unlink' command");
  ExpectParseError({"touch"}, "ERR wrong number of arguments for 'touch' command");
}

TEST_F(ExpireCommandsTest, ABackendFailureIsReported) {
  backend_.Put(kBucket0, "k", "v");
  backend_.set_mode(kvmap::FakeKvBackend::Mode::kManual);
  for (const char* cmd : {"ttl", "type", "persist"}) {
    transport_.TakeSent();
    Send({cmd, "k"});
    Drain();
    backend_.FailAll();
    Drain();
    EXPECT_THAT(test_support::DecodeOne(transport_.TakeSent()).value_or(test_support::RespValue{}),
                IsErr("ERR backend")) << cmd;
  }
  transport_.TakeSent();
  Send({"expire", "k", "100"});
  Drain();
  backend_.FailAll();
  Drain();
  EXPECT_THAT(test_support::DecodeOne(transport_.TakeSent()).value_or(test_support::RespValue{}),
              IsErr("ERR backend"));
}

}  // namespace
}  // namespace gateway
