// SPDX-License-Identifier: Apache-2.0
//
// Tests of the string commands that work on parts of a value (APPEND, STRLEN, GETRANGE/SUBSTR,
// SETRANGE, LCS) and of DEL through ReadModifyWrite, against the fake backend: Redis 7.0.15
// replies and error texts, TTL kept, WRONGTYPE, delete markers, expired entries, and the
// resend of a write whose acknowledgement was lost. Expected replies were checked against
// redis-server 7.0.15.
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
using testing_support::GatewayTest;

constexpr std::string_view kWrongType =
    "WRONGTYPE Operation against a key holding the wrong kind of value";

class StringsPartialTest : public GatewayTest {
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
  std::optional<std::string> DeadlineText(std::string_view key) {
    const kvmap::Entry* e = backend_.Latest(kBucket0, key);
    if (e == nullptr) return std::nullopt;
    auto h = kvmap::FindHeader(e->headers, kvmap::kHdrExpiresAt);
    if (!h) return std::nullopt;
    return std::string(*h);
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

// --- APPEND ---

TEST_F(StringsPartialTest, AppendToMissingKeyCreatesItAndReturnsTheLength) {
  EXPECT_THAT(Run({"append", "k", "abc"}), IsInt(3));
  EXPECT_EQ(Stored("k"), "abc");
}

TEST_F(StringsPartialTest, AppendToExistingValueReturnsTheNewLength) {
  backend_.Put(kBucket0, "k", "hello");
  EXPECT_THAT(Run({"append", "k", " world"}), IsInt(11));
  EXPECT_EQ(Stored("k"), "hello world");
}

TEST_F(StringsPartialTest, AppendKeepsTheTtl) {
  kvmap::Header deadline = ExpiresIn(60000);
  backend_.Put(kBucket0, "k", "a", {deadline});
  EXPECT_THAT(Run({"append", "k", "b"}), IsInt(2));
  EXPECT_EQ(Stored("k"), "ab");
  EXPECT_EQ(DeadlineText("k"), std::optional<std::string>(deadline.second));
}

TEST_F(StringsPartialTest, AppendToNonStringIsWrongType) {
  PutHash("k");
  EXPECT_THAT(Run({"append", "k", "b"}), IsErr(kWrongType));
  EXPECT_EQ(Stored("k"), "x");
}

TEST_F(StringsPartialTest, AppendToExpiredEntryStartsAFreshValueWithoutTtl) {
  PutExpired("k", "old");
  EXPECT_THAT(Run({"append", "k", "new"}), IsInt(3));
  EXPECT_EQ(Stored("k"), "new");
  EXPECT_FALSE(DeadlineText("k").has_value());
}

TEST_F(StringsPartialTest, AppendAfterDeleteMarkerCreates) {
  PutMarker("k");
  EXPECT_THAT(Run({"append", "k", "ab"}), IsInt(2));
  EXPECT_EQ(Stored("k"), "ab");
}

// The acknowledgement of the first write is lost. The command resends the identical message
// (same Nats-Msg-Id, same expected revision); the backend recognises the msg id and answers
// with the original acknowledgement instead of storing it again. With a fresh msg id the resend
// would fail its CAS, re-read "xa" and append a second time.
TEST_F(StringsPartialTest, AppendWithLostAckIsResentWithTheSameMsgIdAndAppliedOnce) {
  backend_.Put(kBucket0, "k", "x");
  WarmUp(kvmap::FakeKvBackend::Mode::kImmediate);
  uint64_t before = backend_.last_sequence();
  backend_.LoseNextAcks(1);
  EXPECT_THAT(RunSettled({"append", "k", "a"}), IsInt(2));
  EXPECT_EQ(Stored("k"), "xa");
  EXPECT_EQ(backend_.last_sequence(), before + 1) << "the resend must be de-duplicated";
  EXPECT_EQ(writes(), 2u) << "one write and one identical resend";
  EXPECT_EQ(gets(), 1u) << "no re-read: the resend settled it";
}

// --- STRLEN ---

TEST_F(StringsPartialTest, StrLenReturnsTheLength) {
  backend_.Put(kBucket0, "k", "hello");
  EXPECT_THAT(Run({"strlen", "k"}), IsInt(5));
}

TEST_F(StringsPartialTest, StrLenOfMissingDeletedOrExpiredKeyIsZero) {
  PutExpired("e", "v");
  PutMarker("d");
  EXPECT_THAT(Run({"strlen", "missing"}), IsInt(0));
  EXPECT_THAT(Run({"strlen", "e"}), IsInt(0));
  EXPECT_THAT(Run({"strlen", "d"}), IsInt(0));
}

TEST_F(StringsPartialTest, StrLenOfNonStringIsWrongType) {
  PutHash("k");
  EXPECT_THAT(Run({"strlen", "k"}), IsErr(kWrongType));
}

// --- GETRANGE / SUBSTR ---

TEST_F(StringsPartialTest, GetRangeReturnsTheInclusiveRange) {
  backend_.Put(kBucket0, "k", "hello world");
  EXPECT_THAT(Run({"getrange", "k", "0", "-1"}), IsBulk("hello world"));
  EXPECT_THAT(Run({"getrange", "k", "0", "3"}), IsBulk("hell"));
  EXPECT_THAT(Run({"getrange", "k", "-5", "-1"}), IsBulk("world"));
  EXPECT_THAT(Run({"getrange", "k", "5", "1"}), IsBulk(""));
}

TEST_F(StringsPartialTest, GetRangeKeepsTheRedis70Quirks) {
  backend_.Put(kBucket0, "k", "hello world");
  EXPECT_THAT(Run({"getrange", "k", "-100", "-50"}), IsBulk("h"));
  EXPECT_THAT(Run({"getrange", "k", "-1", "-5"}), IsBulk(""));
}

TEST_F(StringsPartialTest, SubstrIsGetRange) {
  backend_.Put(kBucket0, "k", "hello");
  EXPECT_THAT(Run({"substr", "k", "1", "3"}), IsBulk("ell"));
}

TEST_F(StringsPartialTest, GetRangeOfMissingOrExpiredKeyIsEmpty) {
  PutExpired("e", "value");
  EXPECT_THAT(Run({"getrange", "missing", "0", "1"}), IsBulk(""));
  EXPECT_THAT(Run({"getrange", "e", "0", "1"}), IsBulk(""));
}

TEST_F(StringsPartialTest, GetRangeOfNonStringIsWrongType) {
  PutHash("k");
  EXPECT_THAT(Run({"getrange", "k", "0", "1"}), IsErr(kWrongType));
}

TEST_F(StringsPartialTest, GetRangeWithNonIntegerIndexFailsBeforeAnyRead) {
  PutHash("k");
  EXPECT_THAT(Run({"getrange", "k", "a", "1"}),
              IsErr("ERR value is not an integer or out of range"));
  EXPECT_THAT(Run({"substr", "k", "0", "1.5"}),
              IsErr("ERR value is not an integer or out of range"));
  EXPECT_EQ(backend_.get_calls(), 0u);
}

// --- SETRANGE ---

TEST_F(StringsPartialTest, SetRangeOverwritesInPlaceAndReturnsTheLength) {
  backend_.Put(kBucket0, "k", "Hello World");
  EXPECT_THAT(Run({"setrange", "k", "6", "Redis"}), IsInt(11));
  EXPECT_EQ(Stored("k"), "Hello Redis");
}

TEST_F(StringsPartialTest, SetRangePastTheEndPadsWithZeroBytes) {
  EXPECT_THAT(Run({"setrange", "k", "3", "ab"}), IsInt(5));
  EXPECT_EQ(Stored("k"), std::string("\0\0\0ab", 5));
}

TEST_F(StringsPartialTest, SetRangeKeepsTheTtl) {
  kvmap::Header deadline = ExpiresIn(60000);
  backend_.Put(kBucket0, "k", "abc", {deadline});
  EXPECT_THAT(Run({"setrange", "k", "1", "X"}), IsInt(3));
  EXPECT_EQ(Stored("k"), "aXc");
  EXPECT_EQ(DeadlineText("k"), std::optional<std::string>(deadline.second));
}

TEST_F(StringsPartialTest, SetRangeOnExpiredEntryStartsFromEmpty) {
  PutExpired("k", "old");
  EXPECT_THAT(Run({"setrange", "k", "1", "X"}), IsInt(2));
  EXPECT_EQ(Stored("k"), std::string("\0X", 2));
  EXPECT_FALSE(DeadlineText("k").has_value());
}

TEST_F(StringsPartialTest, SetRangeWithEmptyValueOnMissingKeyReturnsZeroAndWritesNothing) {
  WarmUp(kvmap::FakeKvBackend::Mode::kImmediate);
  EXPECT_THAT(Run({"setrange", "k", "0", ""}), IsInt(0));
  EXPECT_THAT(Run({"setrange", "k", "536870912", ""}), IsInt(0));
  EXPECT_EQ(writes(), 0u);
  EXPECT_EQ(Stored("k"), "<none>");
}

TEST_F(StringsPartialTest, SetRangeWithEmptyValueOnExistingKeyReturnsItsLength) {
  backend_.Put(kBucket0, "k", "hello");
  WarmUp(kvmap::FakeKvBackend::Mode::kImmediate);
  EXPECT_THAT(Run({"setrange", "k", "100", ""}), IsInt(5));
  EXPECT_EQ(writes(), 0u);
}

TEST_F(StringsPartialTest, SetRangeOnNonStringIsWrongTypeEvenWithEmptyValue) {
  PutHash("k");
  EXPECT_THAT(Run({"setrange", "k", "0", "v"}), IsErr(kWrongType));
  EXPECT_THAT(Run({"setrange", "k", "0", ""}), IsErr(kWrongType));
  EXPECT_EQ(Stored("k"), "x");
}

TEST_F(StringsPartialTest, SetRangeOffsetErrorsComeBeforeAnyRead) {
  PutHash("k");
  EXPECT_THAT(Run({"setrange", "k", "-1", "v"}), IsErr("ERR offset is out of range"));
  EXPECT_THAT(Run({"setrange", "k", "-1", ""}), IsErr("ERR offset is out of range"));
  EXPECT_THAT(Run({"setrange", "k", "abc", "v"}),
              IsErr("ERR value is not an integer or out of range"));
  EXPECT_EQ(backend_.get_calls() + backend_.write_calls(), 0u);
}

TEST_F(StringsPartialTest, SetRangeBeyondTheMaximumStringSizeFails) {
  backend_.Put(kBucket0, "k", "v");
  EXPECT_THAT(Run({"setrange", "k", "536870912", "x"}),
              IsErr("ERR string exceeds maximum allowed size (proto-max-bulk-len)"));
  EXPECT_THAT(Run({"setrange", "missing", "536870912", "x"}),
              IsErr("ERR string exceeds maximum allowed size (proto-max-bulk-len)"));
  EXPECT_EQ(Stored("k"), "v");
}

// --- LCS ---

class LcsTest : public StringsPartialTest {
 protected:
  void SetUp() override {
    backend_.Put(kBucket0, "a", "ohmytext");
    backend_.Put(kBucket0, "b", "mynewtext");
  }
};

TEST_F(LcsTest, ReturnsTheLongestCommonSubsequence) {
  EXPECT_THAT(Run({"lcs", "a", "b"}), IsBulk("mytext"));
}

TEST_F(LcsTest, LenReturnsItsLength) { EXPECT_THAT(Run({"lcs", "a", "b", "LEN"}), IsInt(6)); }

TEST_F(LcsTest, IdxReturnsTheMatchedRanges) {
  EXPECT_THAT(Run({"lcs", "a", "b", "IDX"}),
              IsArray(IsBulk("matches"),
                      IsArray(IsArray(IsArray(IsInt(4), IsInt(7)), IsArray(IsInt(5), IsInt(8))),
                              IsArray(IsArray(IsInt(2), IsInt(3)), IsArray(IsInt(0), IsInt(1)))),
                      IsBulk("len"), IsInt(6)));
}

TEST_F(LcsTest, IdxWithMinMatchLenAndWithMatchLen) {
  EXPECT_THAT(
      Run({"lcs", "a", "b", "idx", "minmatchlen", "4", "withmatchlen"}),
      IsArray(IsBulk("matches"),
              IsArray(IsArray(IsArray(IsInt(4), IsInt(7)), IsArray(IsInt(5), IsInt(8)), IsInt(4))),
              IsBulk("len"), IsInt(6)));
}

TEST_F(LcsTest, MissingKeysAreEmptyStrings) {
  EXPECT_THAT(Run({"lcs", "a", "missing"}), IsBulk(""));
  EXPECT_THAT(Run({"lcs", "missing", "nothing", "LEN"}), IsInt(0));
}

TEST_F(LcsTest, ExpiredKeyIsAnEmptyString) {
  PutExpired("e", "ohmytext");
  EXPECT_THAT(Run({"lcs", "a", "e"}), IsBulk(""));
}

TEST_F(LcsTest, OptionErrors) {
  EXPECT_THAT(Run({"lcs", "a", "b", "LEN", "IDX"}),
              IsErr("ERR If you want both the length and indexes, please just use IDX."));
  EXPECT_THAT(Run({"lcs", "a", "b", "foo"}), IsErr("ERR syntax error"));
  EXPECT_THAT(Run({"lcs", "a", "b", "MINMATCHLEN"}), IsErr("ERR syntax error"));
  EXPECT_THAT(Run({"lcs", "a", "b", "MINMATCHLEN", "x"}),
              IsErr("ERR value is not an integer or out of range"));
}

TEST_F(LcsTest, KeyOfAnotherTypeIsReportedBeforeOptionErrors) {
  PutHash("h");
  EXPECT_THAT(Run({"lcs", "a", "h"}), IsErr("ERR The specified keys must contain string values"));
  EXPECT_THAT(Run({"lcs", "h", "a", "foo"}),
              IsErr("ERR The specified keys must contain string values"));
}

// --- DEL through ReadModifyWrite ---

TEST_F(StringsPartialTest, DelWithLostAckIsResentAndCountedOnce) {
  backend_.Put(kBucket0, "k", "v");
  WarmUp(kvmap::FakeKvBackend::Mode::kImmediate);
  uint64_t before = backend_.last_sequence();
  backend_.LoseNextAcks(1);
  EXPECT_THAT(RunSettled({"del", "k", "missing"}), IsInt(1));
  EXPECT_EQ(Stored("k"), "<marker>");
  EXPECT_EQ(backend_.last_sequence(), before + 1);
}

TEST_F(StringsPartialTest, DelRetriesAfterAConcurrentWriteAndCountsOnce) {
  backend_.Put(kBucket0, "k", "v");
  WarmUp(kvmap::FakeKvBackend::Mode::kManual);
  Send({"del", "k"});
  Drain();
  ASSERT_TRUE(backend_.CompleteAt(0));  // the read sees "v"
  Drain();
  backend_.Put(kBucket0, "k", "newer");  // another writer, before DEL's CAS lands
  backend_.CompleteAll();                // CAS fails; DEL reads again and deletes "newer"
  Drain();
  backend_.CompleteAll();
  Drain();
  backend_.CompleteAll();
  Drain();
  EXPECT_THAT(TakeReplies(), ::testing::ElementsAre(IsInt(1)));
  EXPECT_EQ(Stored("k"), "<marker>");
}

}  // namespace
}  // namespace gateway
