// SPDX-License-Identifier: Apache-2.0
//
// Tests of SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD and BITFIELD_RO against the fake
// backend: Redis 7.0.15's replies and error texts (expected values taken from a real
// redis-server 7.0.15), the order of its checks (before or after the key lookup), the TTL kept
// by SETBIT/BITFIELD and dropped by BITOP, WRONGTYPE, and what reaches the backend.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "gateway/command_table.h"
#include "kvmap/ttl.h"
#include "resp/request_parser.h"
#include "tests/unit/gateway/gateway_fixture.h"

namespace gateway {
namespace {

using kvmap::FakeKvBackend;
using test_support::IsArray;
using test_support::IsBulk;
using test_support::IsErr;
using test_support::IsInt;
using test_support::IsNil;
using testing_support::GatewayTest;

constexpr std::string_view kNotInteger = "ERR value is not an integer or out of range";
constexpr std::string_view kSyntax = "ERR syntax error";
constexpr std::string_view kBitOffset = "ERR bit offset is not an integer or out of range";
constexpr std::string_view kBitValue = "ERR bit is not an integer or out of range";
constexpr std::string_view kBitfieldType =
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but "
    "i64 is.";
constexpr std::string_view kWrongType =
    "WRONGTYPE Operation against a key holding the wrong kind of value";

class BitsTest : public GatewayTest {
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
  std::optional<std::string> Type(std::string_view key) {
    const kvmap::Entry* e = backend_.Latest(kBucket0, key);
    if (e == nullptr) return std::nullopt;
    auto t = kvmap::FindHeader(e->headers, kvmap::kHdrType);
    if (!t) return std::nullopt;
    return std::string(*t);
  }
  KeyAccess BitfieldAccessOf(const std::vector<std::string>& args) {
    resp::Request request;
    for (const std::string& a : args) request.AddArg(a);
    return FindCommand("bitfield")->AccessFor(request);
  }
};

// ----- SETBIT / GETBIT -----

TEST_F(BitsTest, SetBitReturnsTheOldBitAndGrowsTheString) {
  EXPECT_THAT(Run({"setbit", "b", "7", "1"}), IsInt(0));
  EXPECT_EQ(Stored("b"), std::string("\x01", 1));
  EXPECT_THAT(Run({"setbit", "b", "7", "1"}), IsInt(1));
  EXPECT_THAT(Run({"setbit", "b", "7", "0"}), IsInt(1));
  EXPECT_EQ(Stored("b"), std::string("\x00", 1));
  EXPECT_THAT(Run({"setbit", "b", "100", "1"}), IsInt(0));
  EXPECT_EQ(Stored("b").size(), 13u);
  EXPECT_THAT(Run({"getbit", "b", "100"}), IsInt(1));
  EXPECT_THAT(Run({"getbit", "b", "7"}), IsInt(0));
  EXPECT_THAT(Run({"getbit", "b", "99999"}), IsInt(0));
  EXPECT_THAT(Run({"getbit", "nokey", "5"}), IsInt(0));
}

TEST_F(BitsTest, SetBitThatChangesNothingWritesNothing) {
  backend_.Put(kBucket0, "b", "\x80");
  WarmUp(FakeKvBackend::Mode::kImmediate);
  EXPECT_THAT(Run({"setbit", "b", "0", "1"}), IsInt(1));
  EXPECT_THAT(Run({"setbit", "b", "1", "0"}), IsInt(0));
  EXPECT_EQ(writes(), 0u);
}

TEST_F(BitsTest, SetBitAndGetBitArgumentErrorsBeforeAnyIo) {
  WarmUp(FakeKvBackend::Mode::kImmediate);
  PutHash("h");
  EXPECT_THAT(Run({"setbit", "b", "-1", "1"}), IsErr(kBitOffset));
  EXPECT_THAT(Run({"setbit", "b", "4294967296", "1"}), IsErr(kBitOffset));
  EXPECT_THAT(Run({"setbit", "b", "x", "1"}), IsErr(kBitOffset));
  EXPECT_THAT(Run({"setbit", "b", "x", "x"}), IsErr(kBitOffset));
  EXPECT_THAT(Run({"setbit", "b", "1", "2"}), IsErr(kBitValue));
  EXPECT_THAT(Run({"setbit", "b", "1", "-1"}), IsErr(kBitValue));
  EXPECT_THAT(Run({"setbit", "b", "1", "x"}), IsErr(kBitValue));
  EXPECT_THAT(Run({"setbit", "h", "x", "1"}), IsErr(kBitOffset));
  EXPECT_THAT(Run({"getbit", "b", "-1"}), IsErr(kBitOffset));
  EXPECT_THAT(Run({"getbit", "b", "4294967296"}), IsErr(kBitOffset));
  EXPECT_THAT(Run({"getbit", "h", "x"}), IsErr(kBitOffset));
  EXPECT_EQ(gets(), 0u);
  EXPECT_EQ(writes(), 0u);
}

TEST_F(BitsTest, SetBitAndGetBitWrongType) {
  PutHash("h");
  EXPECT_THAT(Run({"setbit", "h", "1", "1"}), IsErr(kWrongType));
  EXPECT_THAT(Run({"getbit", "h", "1"}), IsErr(kWrongType));
  EXPECT_EQ(Stored("h"), "x");
}

TEST_F(BitsTest, SetBitKeepsTheDeadline) {
  int64_t at = kvmap::NowUnixMs() + 100000;
  PutWithDeadline("t", "x", at);
  EXPECT_THAT(Run({"setbit", "t", "0", "1"}), IsInt(0));
  EXPECT_EQ(Stored("t"), "\xf8");
  EXPECT_EQ(Deadline("t"), std::to_string(at));
}

TEST_F(BitsTest, SetBitOnExpiredOrDeletedKeyStartsEmpty) {
  PutWithDeadline("t", "\xff", kvmap::NowUnixMs() - 1000);
  EXPECT_THAT(Run({"setbit", "t", "1", "1"}), IsInt(0));
  EXPECT_EQ(Stored("t"), "\x40");
  EXPECT_EQ(Deadline("t"), std::nullopt);
  ASSERT_THAT(Run({"del", "t"}), IsInt(1));
  EXPECT_THAT(Run({"getbit", "t", "1"}), IsInt(0));
  EXPECT_THAT(Run({"setbit", "t", "1", "1"}), IsInt(0));
  EXPECT_THAT(Run({"getbit", "t", "1"}), IsInt(1));
}

TEST_F(BitsTest, SetBitLostAcknowledgementIsAppliedOnce) {
  WarmUp(FakeKvBackend::Mode::kImmediate);
  backend_.LoseNextAcks(1);
  transport_.TakeSent();
  Send({"setbit", "b", "0", "1"});
  for (int i = 0; i < 10; ++i) executor_.RunAll(), server().RunTimers();
  auto replies = TakeReplies();
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_THAT(replies[0], IsInt(0));  // the old bit, although the key changed meanwhile
  EXPECT_EQ(Stored("b"), "\x80");
  EXPECT_EQ(writes(), 2u);
}

// ----- BITCOUNT -----

TEST_F(BitsTest, BitCount) {
  backend_.Put(kBucket0, "k", "foobar");
  EXPECT_THAT(Run({"bitcount", "k"}), IsInt(26));
  EXPECT_THAT(Run({"bitcount", "k", "0", "0"}), IsInt(4));
  EXPECT_THAT(Run({"bitcount", "k", "1", "1"}), IsInt(6));
  EXPECT_THAT(Run({"bitcount", "k", "1", "1", "BYTE"}), IsInt(6));
  EXPECT_THAT(Run({"bitcount", "k", "5", "30", "BIT"}), IsInt(17));
  EXPECT_THAT(Run({"bitcount", "k", "-2", "-1"}), IsInt(7));
  EXPECT_THAT(Run({"bitcount", "k", "-1", "-2"}), IsInt(0));
  EXPECT_THAT(Run({"bitcount", "k", "-1", "-2", "foo"}), IsInt(0));
  EXPECT_THAT(Run({"bitcount", "k", "0", "1", "foo"}), IsErr(kSyntax));
  EXPECT_THAT(Run({"bitcount", "k", "0"}), IsErr(kSyntax));
  EXPECT_THAT(Run({"bitcount", "k", "0", "1", "2", "3"}), IsErr(kSyntax));
  EXPECT_THAT(Run({"bitcount", "k", "a", "b"}), IsErr(kNotInteger));
}

TEST_F(BitsTest, BitCountLooksUpTheKeyBeforeTheArgumentsAsRedisDoes) {
  PutHash("h");
  EXPECT_THAT(Run({"bitcount", "nokey", "a", "b", "c", "d"}), IsInt(0));
  EXPECT_THAT(Run({"bitcount", "nokey", "0"}), IsInt(0));
  EXPECT_THAT(Run({"bitcount", "h"}), IsErr(kWrongType));
  EXPECT_THAT(Run({"bitcount", "h", "0"}), IsErr(kWrongType));
}

// ----- BITPOS -----

TEST_F(BitsTest, BitPos) {
  backend_.Put(kBucket0, "p", std::string("\xff\xf0\x00", 3));
  backend_.Put(kBucket0, "p2", std::string("\x00\xff\xf0", 3));
  backend_.Put(kBucket0, "ones", "\xff\xff\xff");
  EXPECT_THAT(Run({"bitpos", "p", "0"}), IsInt(12));
  EXPECT_THAT(Run({"bitpos", "p2", "1", "0"}), IsInt(8));
  EXPECT_THAT(Run({"bitpos", "p2", "1", "2"}), IsInt(16));
  EXPECT_THAT(Run({"bitpos", "p2", "1", "2", "-1", "BYTE"}), IsInt(16));
  EXPECT_THAT(Run({"bitpos", "p2", "1", "7", "15", "BIT"}), IsInt(8));
  EXPECT_THAT(Run({"bitpos", "ones", "0"}), IsInt(24));
  EXPECT_THAT(Run({"bitpos", "ones", "0", "0"}), IsInt(24));
  EXPECT_THAT(Run({"bitpos", "ones", "0", "0", "-1"}), IsInt(-1));
  EXPECT_THAT(Run({"bitpos", "nokey", "0"}), IsInt(0));
  EXPECT_THAT(Run({"bitpos", "nokey", "1"}), IsInt(-1));
}

TEST_F(BitsTest, BitPosChecksTheBitBeforeAnyIoAndTheRestAfterTheLookup) {
  WarmUp(FakeKvBackend::Mode::kImmediate);
  PutHash("h");
  backend_.Put(kBucket0, "k", "foobar");
  EXPECT_THAT(Run({"bitpos", "nokey", "2"}), IsErr("ERR The bit argument must be 1 or 0."));
  EXPECT_THAT(Run({"bitpos", "h", "2"}), IsErr("ERR The bit argument must be 1 or 0."));
  EXPECT_THAT(Run({"bitpos", "nokey", "x"}), IsErr(kNotInteger));
  EXPECT_EQ(gets(), 0u);
  EXPECT_THAT(Run({"bitpos", "nokey", "1", "a", "b", "c"}), IsInt(-1));
  EXPECT_THAT(Run({"bitpos", "h", "1"}), IsErr(kWrongType));
  EXPECT_THAT(Run({"bitpos", "h", "1", "x"}), IsErr(kWrongType));
  EXPECT_THAT(Run({"bitpos", "k", "1", "x"}), IsErr(kNotInteger));
  EXPECT_THAT(Run({"bitpos", "k", "1", "0", "x"}), IsErr(kNotInteger));
  EXPECT_THAT(Run({"bitpos", "k", "1", "0", "1", "foo"}), IsErr(kSyntax));
  EXPECT_THAT(Run({"bitpos", "k", "1", "0", "1", "bit", "extra"}), IsErr(kSyntax));
  EXPECT_THAT(Run({"bitpos", "k", "1", "0", "x", "foo"}), IsErr(kSyntax));
}

// ----- BITOP -----

TEST_F(BitsTest, BitOpOperations) {
  backend_.Put(kBucket0, "a", "\xff\x0f");
  backend_.Put(kBucket0, "b", "\x0f");
  EXPECT_THAT(Run({"bitop", "and", "d", "a", "b"}), IsInt(2));
  EXPECT_EQ(Stored("d"), std::string("\x0f\x00", 2));
  EXPECT_THAT(Run({"bitop", "OR", "d", "a", "b"}), IsInt(2));
  EXPECT_EQ(Stored("d"), "\xff\x0f");
  EXPECT_THAT(Run({"bitop", "Xor", "d", "a", "b"}), IsInt(2));
  EXPECT_EQ(Stored("d"), "\xf0\x0f");
  EXPECT_THAT(Run({"bitop", "not", "d", "a"}), IsInt(2));
  EXPECT_EQ(Stored("d"), std::string("\x00\xf0", 2));
  EXPECT_THAT(Run({"bitop", "and", "d", "a", "nokey"}), IsInt(2));
  EXPECT_EQ(Stored("d"), std::string("\x00\x00", 2));
}

TEST_F(BitsTest, BitOpArgumentErrorsBeforeAnyIo) {
  WarmUp(FakeKvBackend::Mode::kImmediate);
  EXPECT_THAT(Run({"bitop", "not", "d", "a", "b"}),
              IsErr("ERR BITOP NOT must be called with a single source key."));
  EXPECT_THAT(Run({"bitop", "foo", "d", "a", "b"}), IsErr(kSyntax));
  PutHash("h");
  EXPECT_THAT(Run({"bitop", "foo", "d", "h"}), IsErr(kSyntax));
  EXPECT_EQ(gets(), 0u);
  EXPECT_EQ(writes(), 0u);
}

TEST_F(BitsTest, BitOpWrongTypeSourceWritesNothing) {
  backend_.Put(kBucket0, "a", "\xff");
  PutHash("h");
  WarmUp(FakeKvBackend::Mode::kImmediate);
  EXPECT_THAT(Run({"bitop", "and", "d", "a", "h"}), IsErr(kWrongType));
  EXPECT_THAT(Run({"bitop", "not", "d", "h"}), IsErr(kWrongType));
  EXPECT_EQ(writes(), 0u);
  EXPECT_EQ(Stored("d"), "<none>");
}

TEST_F(BitsTest, BitOpReadsSourcesInParallel) {
  backend_.Put(kBucket0, "a", "\x01");
  backend_.Put(kBucket0, "b", "\x02");
  backend_.Put(kBucket0, "c", "\x04");
  WarmUp(FakeKvBackend::Mode::kManual);
  transport_.TakeSent();
  Send({"bitop", "or", "d", "a", "b", "c"});
  Drain();
  EXPECT_EQ(backend_.pending_count(), 3u);
  ASSERT_TRUE(backend_.CompleteAt(2));  // out of order
  ASSERT_TRUE(backend_.CompleteAt(0));
  ASSERT_TRUE(backend_.CompleteAt(0));
  Drain();
  EXPECT_EQ(backend_.pending_count(), 1u);  // the destination put
  backend_.CompleteAll();
  Drain();
  auto replies = TakeReplies();
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_THAT(replies[0], IsInt(1));
  EXPECT_EQ(Stored("d"), "\x07");
}

TEST_F(BitsTest, BitOpDropsTheDestinationTtlAndType) {
  backend_.Put(kBucket0, "a", "\xff\x0f");
  PutWithDeadline("d", "x", kvmap::NowUnixMs() + 100000);
  PutHash("hd");
  EXPECT_THAT(Run({"bitop", "or", "d", "a"}), IsInt(2));
  EXPECT_EQ(Deadline("d"), std::nullopt);
  EXPECT_THAT(Run({"bitop", "or", "hd", "a"}), IsInt(2));
  EXPECT_EQ(Type("hd"), std::nullopt);
  EXPECT_EQ(Stored("hd"), "\xff\x0f");
}

TEST_F(BitsTest, BitOpWithAnEmptyResultDeletesTheDestination) {
  PutWithDeadline("d", "x", kvmap::NowUnixMs() + 100000);
  EXPECT_THAT(Run({"bitop", "and", "d", "nokey1", "nokey2"}), IsInt(0));
  EXPECT_EQ(Stored("d"), "<marker>");
  PutHash("hd");
  EXPECT_THAT(Run({"bitop", "or", "hd", "nokey"}), IsInt(0));
  EXPECT_EQ(Stored("hd"), "<marker>");
}

TEST_F(BitsTest, BitOpWithAnEmptyResultAndNoDestinationWritesNothing) {
  backend_.Put(kBucket0, "empty", "");
  WarmUp(FakeKvBackend::Mode::kImmediate);
  EXPECT_THAT(Run({"bitop", "and", "d", "nokey1", "empty"}), IsInt(0));
  EXPECT_EQ(writes(), 0u);
  EXPECT_EQ(Stored("d"), "<none>");
}

// ----- BITFIELD / BITFIELD_RO -----

TEST_F(BitsTest, BitFieldSequence) {
  EXPECT_THAT(Run({"bitfield", "bf", "set", "i8", "0", "100", "get", "i8", "0"}),
              IsArray(IsInt(0), IsInt(100)));
  EXPECT_THAT(Run({"bitfield", "bf", "incrby", "i8", "0", "100"}), IsArray(IsInt(-56)));
  EXPECT_THAT(Run({"bitfield", "bf", "overflow", "sat", "incrby", "i8", "0", "100"}),
              IsArray(IsInt(44)));
  EXPECT_THAT(
      Run({"bitfield", "bf", "overflow", "fail", "incrby", "i8", "0", "100", "get", "i8", "0"}),
      IsArray(IsNil(), IsInt(44)));
  EXPECT_THAT(Run({"bitfield", "bf", "OVERFLOW", "WRAP", "INCRBY", "u8", "0", "300"}),
              IsArray(IsInt(88)));
  EXPECT_THAT(Run({"bitfield", "bf", "get", "u4", "0", "get", "i64", "0"}),
              IsArray(IsInt(5), IsInt(6341068275337658368)));
  EXPECT_THAT(
      Run({"bitfield", "bf", "get", "i8", "#1", "set", "u8", "#2", "200", "get", "u8", "16"}),
      IsArray(IsInt(0), IsInt(0), IsInt(200)));
  EXPECT_THAT(Run({"bitfield_ro", "bf", "get", "i8", "0"}), IsArray(IsInt(88)));
  EXPECT_EQ(Stored("bf"), std::string("\x58\x00\xc8", 3));
}

TEST_F(BitsTest, BitFieldArgumentErrorsBeforeAnyIo) {
  WarmUp(FakeKvBackend::Mode::kImmediate);
  PutHash("h");
  EXPECT_THAT(Run({"bitfield", "bf", "get", "u64", "0"}), IsErr(kBitfieldType));
  EXPECT_THAT(Run({"bitfield", "bf", "get", "i65", "0"}), IsErr(kBitfieldType));
  EXPECT_THAT(Run({"bitfield", "bf", "get", "x8", "0"}), IsErr(kBitfieldType));
  EXPECT_THAT(Run({"bitfield", "bf", "get", "i8", "-1"}), IsErr(kBitOffset));
  EXPECT_THAT(Run({"bitfield", "bf", "overflow", "foo", "get", "i8", "0"}),
              IsErr("ERR Invalid OVERFLOW type specified"));
  EXPECT_THAT(Run({"bitfield", "bf", "get", "i8"}), IsErr(kSyntax));
  EXPECT_THAT(Run({"bitfield", "bf", "foo"}), IsErr(kSyntax));
  EXPECT_THAT(Run({"bitfield", "bf", "set", "i8", "0", "x"}), IsErr(kNotInteger));
  EXPECT_THAT(Run({"bitfield", "bf", "set", "i8", "0"}), IsErr(kSyntax));
  EXPECT_THAT(Run({"bitfield", "h", "set", "i8", "x", "1"}), IsErr(kBitOffset));
  EXPECT_THAT(Run({"bitfield_ro", "bf", "set", "i8", "0", "1"}),
              IsErr("ERR BITFIELD_RO only supports the GET subcommand"));
  EXPECT_THAT(Run({"bitfield_ro", "h", "set", "i8", "0", "1"}),
              IsErr("ERR BITFIELD_RO only supports the GET subcommand"));
  EXPECT_THAT(Run({"bitfield_ro", "bf", "set", "i8", "x", "1"}), IsErr(kBitOffset));
  EXPECT_THAT(Run({"bitfield_ro", "bf", "overflow", "foo"}),
              IsErr("ERR Invalid OVERFLOW type specified"));
  EXPECT_EQ(gets(), 0u);
  EXPECT_EQ(writes(), 0u);
}

TEST_F(BitsTest, BitFieldGetOnlyIsOneReadAndWritesNothing) {
  WarmUp(FakeKvBackend::Mode::kImmediate);
  EXPECT_THAT(Run({"bitfield", "nokey", "get", "i8", "0"}), IsArray(IsInt(0)));
  EXPECT_THAT(Run({"bitfield_ro", "nokey", "get", "u8", "0"}), IsArray(IsInt(0)));
  EXPECT_THAT(Run({"bitfield", "nokey"}), IsArray());
  EXPECT_THAT(Run({"bitfield_ro", "nokey"}), IsArray());
  EXPECT_EQ(gets(), 4u);
  EXPECT_EQ(writes(), 0u);
  EXPECT_EQ(Stored("nokey"), "<none>");
}

TEST_F(BitsTest, BitFieldCreatesTheKeyEvenWhenEveryWriteFails) {
  EXPECT_THAT(Run({"bitfield", "nk", "overflow", "fail", "set", "i8", "0", "1000"}),
              IsArray(IsNil()));
  EXPECT_EQ(Stored("nk"), std::string("\x00", 1));
}

TEST_F(BitsTest, BitFieldWithNoChangeWritesNothing) {
  backend_.Put(kBucket0, "bf", "\x05");
  WarmUp(FakeKvBackend::Mode::kImmediate);
  EXPECT_THAT(Run({"bitfield", "bf", "set", "u8", "0", "5"}), IsArray(IsInt(5)));
  EXPECT_THAT(Run({"bitfield", "bf", "overflow", "fail", "incrby", "u8", "0", "255"}),
              IsArray(IsNil()));
  EXPECT_EQ(writes(), 0u);
}

TEST_F(BitsTest, BitFieldWrongType) {
  PutHash("h");
  EXPECT_THAT(Run({"bitfield", "h", "get", "i8", "0"}), IsErr(kWrongType));
  EXPECT_THAT(Run({"bitfield", "h", "set", "i8", "0", "1"}), IsErr(kWrongType));
  EXPECT_THAT(Run({"bitfield_ro", "h", "get", "i8", "0"}), IsErr(kWrongType));
  EXPECT_EQ(Stored("h"), "x");
}

TEST_F(BitsTest, BitFieldKeepsTheDeadline) {
  int64_t at = kvmap::NowUnixMs() + 100000;
  PutWithDeadline("t", "x", at);
  EXPECT_THAT(Run({"bitfield", "t", "set", "u8", "8", "255"}), IsArray(IsInt(0)));
  EXPECT_EQ(Stored("t"), "x\xff");
  EXPECT_EQ(Deadline("t"), std::to_string(at));
}

TEST_F(BitsTest, BitFieldAccessIsReadOnlyForGetOnly) {
  EXPECT_EQ(BitfieldAccessOf({"bitfield", "k", "get", "i8", "0"}), KeyAccess::kRead);
  EXPECT_EQ(BitfieldAccessOf({"bitfield", "k"}), KeyAccess::kRead);
  EXPECT_EQ(BitfieldAccessOf({"bitfield", "k", "overflow", "sat", "get", "u8", "0"}),
            KeyAccess::kRead);
  EXPECT_EQ(BitfieldAccessOf({"bitfield", "k", "get", "i8", "0", "set", "i8", "0", "1"}),
            KeyAccess::kWrite);
  EXPECT_EQ(BitfieldAccessOf({"bitfield", "k", "incrby", "i8", "0", "1"}), KeyAccess::kWrite);
}

TEST_F(BitsTest, BitFieldGetWaitsForAnEarlierSetBitOfTheSameConnection) {
  WarmUp(FakeKvBackend::Mode::kManual);
  transport_.TakeSent();
  Send({"setbit", "k", "0", "1"});
  Send({"bitfield", "k", "get", "u1", "0"});
  Drain();
  EXPECT_EQ(backend_.pending_count(), 1u);  // only SETBIT's read: the GET waits
  for (int i = 0; i < 10 && backend_.pending_count() > 0; ++i) {
    backend_.CompleteAll();
    Drain();
  }
  auto replies = TakeReplies();
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_THAT(replies[0], IsInt(0));
  EXPECT_THAT(replies[1], IsArray(IsInt(1)));
}

TEST_F(BitsTest, WrongArity) {
  EXPECT_THAT(Run({"setbit", "k", "1"}), IsErr("ERR wrong number of arguments for 'setbit'"));
  EXPECT_THAT(Run({"getbit", "k"}), IsErr("ERR wrong number of arguments for 'getbit'"));
  EXPECT_THAT(Run({"bitcount"}), IsErr("ERR wrong number of arguments for 'bitcount'"));
  EXPECT_THAT(Run({"bitpos", "k"}), IsErr("ERR wrong number of arguments for 'bitpos'"));
  EXPECT_THAT(Run({"bitop", "and", "d"}), IsErr("ERR wrong number of arguments for 'bitop'"));
  EXPECT_THAT(Run({"bitfield"}), IsErr("ERR wrong number of arguments for 'bitfield'"));
  EXPECT_THAT(Run({"bitfield_ro"}), IsErr("ERR wrong number of arguments for 'bitfield_ro'"));
}

TEST_F(BitsTest, BackendFailureIsReported) {
  WarmUp(FakeKvBackend::Mode::kImmediate);
  backend_.set_connected(false);
  EXPECT_THAT(Run({"setbit", "k", "0", "1"}), IsErr("ERR backend unavailable"));
  EXPECT_THAT(Run({"getbit", "k", "0"}), IsErr("ERR backend unavailable"));
  EXPECT_THAT(Run({"bitop", "or", "d", "a", "b"}), IsErr("ERR backend unavailable"));
  EXPECT_THAT(Run({"bitfield", "k", "get", "u1", "0"}), IsErr("ERR backend unavailable"));
}

}  // namespace
}  // namespace gateway
