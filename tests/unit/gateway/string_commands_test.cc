// SPDX-License-Identifier: Apache-2.0
//
// Tests of GET, SET (NX, XX, GET, expiry options), DEL and EXISTS against the fake backend:
// the Redis 7.0 replies, what is stored, delete markers and expired entries (lazy expiry).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "kvmap/ttl.h"
#include "tests/unit/gateway/gateway_fixture.h"

namespace gateway {
namespace {

using test_support::IsBulk;
using test_support::IsErr;
using test_support::IsInt;
using test_support::IsNil;
using test_support::IsOk;
using testing_support::GatewayTest;

class StringCommandsTest : public GatewayTest {
 protected:
  void PutExpired(std::string_view key, std::string_view value) {
    backend_.Put(kBucket0, key, value,
                 {{std::string(kvmap::kHdrExpiresAt), std::to_string(kvmap::NowUnixMs() - 1000)}});
  }
  void PutMarker(std::string_view key) {
    backend_.Put(kBucket0, key, "v");
    ASSERT_THAT(Run({"del", std::string(key)}), IsInt(1));
    ASSERT_EQ(Stored(key), "<marker>");
  }
};

TEST_F(StringCommandsTest, GetOfMissingKeyIsNil) { EXPECT_THAT(Run({"get", "k"}), IsNil()); }

TEST_F(StringCommandsTest, SetThenGetReturnsTheValue) {
  EXPECT_THAT(Run({"set", "k", "v"}), IsOk());
  EXPECT_THAT(Run({"get", "k"}), IsBulk("v"));
}

TEST_F(StringCommandsTest, SetStoresTheBarePayload) {
  Run({"set", "k", "hello world"});
  const kvmap::Entry* e = backend_.Latest(kBucket0, "k");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->value, "hello world");
  // No type and no deadline: only the keyspace event.
  EXPECT_EQ(e->headers, (kvmap::Headers{{"Redis-Event", "set"}}));
}

TEST_F(StringCommandsTest, SetEncodesTheKey) {
  Run({"set", "user:1", "v"});
  EXPECT_EQ(Stored("user.1"), "v");
}

TEST_F(StringCommandsTest, BinaryValueRoundTrips) {
  std::string value("a\0b\r\nc", 6);
  Run({"set", "k", value});
  EXPECT_THAT(Run({"get", "k"}), IsBulk(value));
}

TEST_F(StringCommandsTest, GetOfNonStringEntryIsWrongType) {
  backend_.Put(kBucket0, "k", "x", {{std::string(kvmap::kHdrType), "hash/1"}});
  EXPECT_THAT(Run({"get", "k"}),
              IsErr("WRONGTYPE Operation against a key holding the wrong kind of value"));
}

TEST_F(StringCommandsTest, GetOfExpiredEntryIsNil) {
  PutExpired("k", "v");
  EXPECT_THAT(Run({"get", "k"}), IsNil());
}

TEST_F(StringCommandsTest, GetOfEntryWithFutureDeadlineReturnsIt) {
  backend_.Put(kBucket0, "k", "v",
               {{std::string(kvmap::kHdrExpiresAt), std::to_string(kvmap::NowUnixMs() + 60000)}});
  EXPECT_THAT(Run({"get", "k"}), IsBulk("v"));
}

TEST_F(StringCommandsTest, GetOfDeletedKeyIsNil) {
  PutMarker("k");
  EXPECT_THAT(Run({"get", "k"}), IsNil());
}

// --- SET NX / XX / GET ---

TEST_F(StringCommandsTest, SetNxOnMissingKeyStores) {
  EXPECT_THAT(Run({"set", "k", "v", "NX"}), IsOk());
  EXPECT_EQ(Stored("k"), "v");
}

TEST_F(StringCommandsTest, SetNxOnExistingKeyIsNilAndKeepsTheValue) {
  backend_.Put(kBucket0, "k", "old");
  EXPECT_THAT(Run({"set", "k", "new", "nx"}), IsNil());
  EXPECT_EQ(Stored("k"), "old");
}

TEST_F(StringCommandsTest, SetNxAfterDeleteCreatesOverTheMarker) {
  PutMarker("k");
  EXPECT_THAT(Run({"set", "k", "v", "NX"}), IsOk());
  EXPECT_EQ(Stored("k"), "v");
}

TEST_F(StringCommandsTest, SetNxOnExpiredEntryStores) {
  PutExpired("k", "old");
  EXPECT_THAT(Run({"set", "k", "new", "NX"}), IsOk());
  EXPECT_EQ(Stored("k"), "new");
}

TEST_F(StringCommandsTest, SetXxOnMissingKeyIsNilAndStoresNothing) {
  EXPECT_THAT(Run({"set", "k", "v", "XX"}), IsNil());
  EXPECT_EQ(Stored("k"), "<none>");
}

TEST_F(StringCommandsTest, SetXxOnExistingKeyStores) {
  backend_.Put(kBucket0, "k", "old");
  EXPECT_THAT(Run({"set", "k", "new", "XX"}), IsOk());
  EXPECT_EQ(Stored("k"), "new");
}

TEST_F(StringCommandsTest, SetXxOnDeletedKeyIsNil) {
  PutMarker("k");
  EXPECT_THAT(Run({"set", "k", "v", "XX"}), IsNil());
  EXPECT_EQ(Stored("k"), "<marker>");
}

TEST_F(StringCommandsTest, SetXxOnExpiredEntryIsNil) {
  PutExpired("k", "old");
  EXPECT_THAT(Run({"set", "k", "new", "XX"}), IsNil());
}

TEST_F(StringCommandsTest, SetGetReturnsTheOldValueAndStores) {
  backend_.Put(kBucket0, "k", "old");
  EXPECT_THAT(Run({"set", "k", "new", "GET"}), IsBulk("old"));
  EXPECT_EQ(Stored("k"), "new");
}

TEST_F(StringCommandsTest, SetGetOnMissingKeyIsNilAndStores) {
  EXPECT_THAT(Run({"set", "k", "new", "GET"}), IsNil());
  EXPECT_EQ(Stored("k"), "new");
}

TEST_F(StringCommandsTest, SetGetOnExpiredEntryIsNil) {
  PutExpired("k", "old");
  EXPECT_THAT(Run({"set", "k", "new", "GET"}), IsNil());
  EXPECT_EQ(Stored("k"), "new");
}

TEST_F(StringCommandsTest, SetGetOnNonStringIsWrongTypeAndStoresNothing) {
  backend_.Put(kBucket0, "k", "x", {{std::string(kvmap::kHdrType), "hash/1"}});
  EXPECT_THAT(Run({"set", "k", "new", "GET"}), IsErr("WRONGTYPE"));
  EXPECT_EQ(Stored("k"), "x");
}

TEST_F(StringCommandsTest, SetNxGetOnExistingKeyReturnsOldValueWithoutWriting) {
  backend_.Put(kBucket0, "k", "old");
  EXPECT_THAT(Run({"set", "k", "new", "NX", "GET"}), IsBulk("old"));
  EXPECT_EQ(Stored("k"), "old");
}

TEST_F(StringCommandsTest, SetXxGetOnMissingKeyIsNilWithoutWriting) {
  EXPECT_THAT(Run({"set", "k", "new", "XX", "GET"}), IsNil());
  EXPECT_EQ(Stored("k"), "<none>");
}

TEST_F(StringCommandsTest, SetNxWithXxIsASyntaxError) {
  EXPECT_THAT(Run({"set", "k", "v", "NX", "XX"}), IsErr("ERR syntax error"));
  EXPECT_EQ(backend_.write_calls(), 0u);
}

TEST_F(StringCommandsTest, SetUnknownOptionIsASyntaxError) {
  EXPECT_THAT(Run({"set", "k", "v", "FOO"}), IsErr("ERR syntax error"));
}

// --- expiry options ---

TEST_F(StringCommandsTest, SetPxStoresAnAbsoluteDeadline) {
  int64_t before = kvmap::NowUnixMs();
  Run({"set", "k", "v", "PX", "5000"});
  int64_t after = kvmap::NowUnixMs();
  const kvmap::Entry* e = backend_.Latest(kBucket0, "k");
  ASSERT_NE(e, nullptr);
  std::optional<int64_t> at = kvmap::ExpiresAt(*e);
  ASSERT_TRUE(at.has_value());
  EXPECT_GE(*at, before + 5000);
  EXPECT_LE(*at, after + 5000);
}

TEST_F(StringCommandsTest, SetExAtStoresSecondsAsMilliseconds) {
  Run({"set", "k", "v", "EXAT", "4000000000"});
  const kvmap::Entry* e = backend_.Latest(kBucket0, "k");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(kvmap::ExpiresAt(*e), std::optional<int64_t>(4000000000000));
}

TEST_F(StringCommandsTest, SetWithZeroExpireIsInvalidAndTouchesNoBackend) {
  EXPECT_THAT(Run({"set", "k", "v", "EX", "0"}),
              IsErr("ERR invalid expire time in 'set' command"));
  EXPECT_EQ(backend_.write_calls() + backend_.get_calls(), 0u);
}

TEST_F(StringCommandsTest, SetWithNonIntegerExpireIsNotAnInteger) {
  EXPECT_THAT(Run({"set", "k", "v", "PX", "1.5"}),
              IsErr("ERR value is not an integer or out of range"));
}

TEST_F(StringCommandsTest, SetWithTwoExpireUnitsIsASyntaxError) {
  EXPECT_THAT(Run({"set", "k", "v", "EX", "10", "PX", "10"}), IsErr("ERR syntax error"));
}

TEST_F(StringCommandsTest, SetWithKeepTtlAndExIsASyntaxError) {
  EXPECT_THAT(Run({"set", "k", "v", "KEEPTTL", "EX", "10"}), IsErr("ERR syntax error"));
}

TEST_F(StringCommandsTest, SetWithOverflowingExIsInvalid) {
  EXPECT_THAT(Run({"set", "k", "v", "EX", "9223372036854775807"}),
              IsErr("ERR invalid expire time in 'set' command"));
}

TEST_F(StringCommandsTest, SetKeepTtlKeepsTheDeadline) {
  std::string deadline = std::to_string(kvmap::NowUnixMs() + 60000);
  backend_.Put(kBucket0, "k", "old", {{std::string(kvmap::kHdrExpiresAt), deadline}});
  EXPECT_THAT(Run({"set", "k", "new", "KEEPTTL"}), IsOk());
  const kvmap::Entry* e = backend_.Latest(kBucket0, "k");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->value, "new");
  EXPECT_EQ(kvmap::FindHeader(e->headers, kvmap::kHdrExpiresAt),
            std::optional<std::string_view>(deadline));
}

TEST_F(StringCommandsTest, PlainSetClearsTheDeadline) {
  backend_.Put(kBucket0, "k", "old",
               {{std::string(kvmap::kHdrExpiresAt), std::to_string(kvmap::NowUnixMs() + 60000)}});
  Run({"set", "k", "new"});
  const kvmap::Entry* e = backend_.Latest(kBucket0, "k");
  ASSERT_NE(e, nullptr);
  EXPECT_FALSE(kvmap::ExpiresAt(*e).has_value());
}

// --- DEL / EXISTS ---

TEST_F(StringCommandsTest, DelCountsTheKeysItRemoved) {
  backend_.Put(kBucket0, "a", "1");
  backend_.Put(kBucket0, "b", "2");
  EXPECT_THAT(Run({"del", "a", "b", "c"}), IsInt(2));
  EXPECT_EQ(Stored("a"), "<marker>");
  EXPECT_EQ(Stored("b"), "<marker>");
}

TEST_F(StringCommandsTest, DelOfTheSameKeyTwiceCountsOne) {
  backend_.Put(kBucket0, "k", "1");
  EXPECT_THAT(Run({"del", "k", "k"}), IsInt(1));
}

TEST_F(StringCommandsTest, DelOfDeletedKeyCountsZero) {
  PutMarker("k");
  EXPECT_THAT(Run({"del", "k"}), IsInt(0));
}

TEST_F(StringCommandsTest, DelOfExpiredEntryCountsZero) {
  PutExpired("k", "v");
  EXPECT_THAT(Run({"del", "k"}), IsInt(0));
}

TEST_F(StringCommandsTest, DelOfMissingKeyWritesNothing) {
  Run({"del", "k"});
  EXPECT_EQ(backend_.write_calls(), 0u);
}

TEST_F(StringCommandsTest, ExistsCountsEachArgument) {
  backend_.Put(kBucket0, "k", "1");
  EXPECT_THAT(Run({"exists", "k", "k"}), IsInt(2));
}

TEST_F(StringCommandsTest, ExistsIgnoresMissingDeletedAndExpiredKeys) {
  backend_.Put(kBucket0, "live", "1");
  PutMarker("deleted");
  PutExpired("expired", "v");
  EXPECT_THAT(Run({"exists", "live", "deleted", "expired", "missing"}), IsInt(1));
}

TEST_F(StringCommandsTest, ExistsCountsNonStringKeys) {
  backend_.Put(kBucket0, "h", "x", {{std::string(kvmap::kHdrType), "hash/1"}});
  EXPECT_THAT(Run({"exists", "h"}), IsInt(1));
}

// --- backend errors ---

TEST_F(StringCommandsTest, KeyTooLongForTheBackendGetsTheKeyTooLongError) {
  backend_.set_max_key_length(8);
  EXPECT_THAT(Run({"set", std::string(20, 'k'), "v"}), IsErr("ERR backend key too long"));
}

TEST_F(StringCommandsTest, ValueTooLargeForTheBackendGetsTheTooLargeError) {
  backend_.set_max_payload(64);
  EXPECT_THAT(Run({"set", "k", std::string(100, 'v')}), IsErr("ERR backend value too large"));
}

}  // namespace
}  // namespace gateway
