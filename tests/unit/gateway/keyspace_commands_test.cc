// SPDX-License-Identifier: Apache-2.0
//
// DBSIZE, KEYS, SCAN, RANDOMKEY and INFO keyspace, answered from the live-key index that the
// fake backend keeps from every applied write (as the bucket follower does on NATS).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "kvmap/ttl.h"
#include "tests/support/resp_matchers.h"
#include "tests/unit/gateway/gateway_fixture.h"

namespace gateway {
namespace {

using test_support::IsBulk;
using test_support::IsErr;
using test_support::IsInt;
using test_support::IsNil;
using test_support::IsOk;
using test_support::RespType;
using testing_support::GatewayTest;
using Mode = kvmap::FakeKvBackend::Mode;

std::set<std::string> Strings(const test_support::RespValue& v) {
  std::set<std::string> out;
  for (const auto& e : v.elements) out.insert(e.str);
  return out;
}

TEST_F(GatewayTest, DbSizeCountsKeysAfterWritesAndDeletes) {
  WarmUp(Mode::kImmediate);
  EXPECT_THAT(Run({"dbsize"}), IsInt(0));
  EXPECT_THAT(Run({"set", "a", "1"}), IsOk());
  EXPECT_THAT(Run({"set", "b", "2"}), IsOk());
  EXPECT_THAT(Run({"set", "a", "3"}), IsOk());
  EXPECT_THAT(Run({"dbsize"}), IsInt(2));
  EXPECT_THAT(Run({"del", "a"}), IsInt(1));
  EXPECT_THAT(Run({"dbsize"}), IsInt(1));
  EXPECT_THAT(Run({"flushdb"}), IsOk());
  EXPECT_THAT(Run({"dbsize"}), IsInt(0));
}

TEST_F(GatewayTest, DbSizeIsPerDatabase) {
  WarmUp(Mode::kImmediate);
  EXPECT_THAT(Run({"set", "a", "1"}), IsOk());
  EXPECT_THAT(Run({"select", "2"}), IsOk());
  EXPECT_THAT(Run({"dbsize"}), IsInt(0));
}

TEST_F(GatewayTest, DbSizeWaitsForTheConnectionsEarlierWrites) {
  WarmUp(Mode::kManual);
  Send({"set", "a", "1"});
  Send({"dbsize"});
  EXPECT_EQ(backend_.pending_count(), 1u) << "DBSIZE is a barrier behind the SET";
  backend_.set_mode(Mode::kImmediate);
  backend_.CompleteAll();
  Drain();
  auto replies = TakeReplies();
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_THAT(replies[1], IsInt(1));
}

TEST_F(GatewayTest, KeysMatchesGlobsOnDecodedKeysAndSkipsExpiredOnes) {
  WarmUp(Mode::kImmediate);
  for (const char* k : {"user:1", "user:2", "user:10", "other", "a b"}) Run({"set", k, "v"});
  backend_.Put("redis", "user.old", "v",
               {{"Redis-Expires-At", std::to_string(kvmap::NowUnixMs() - 1000)}});
  EXPECT_EQ(Strings(Run({"keys", "user:?"})), (std::set<std::string>{"user:1", "user:2"}));
  EXPECT_EQ(Strings(Run({"keys", "user:*"})),
            (std::set<std::string>{"user:1", "user:2", "user:10"}));
  EXPECT_EQ(Strings(Run({"keys", "a\\ b"})), (std::set<std::string>{"a b"}));
  EXPECT_EQ(Strings(Run({"keys", "*"})).size(), 5u);
}

// KEYS checks the pattern's encoded literal prefix before decoding; keys with empty tokens (a
// trailing, leading or doubled ':') must still match exactly as Redis matches them.
TEST_F(GatewayTest, KeysLiteralPrefixHandlesEmptyTokens) {
  WarmUp(Mode::kImmediate);
  for (const char* k : {"user:", "user:1", "users", ":x", ":", "a::b", "a::", "a:b"}) {
    Run({"set", k, "v"});
  }
  EXPECT_EQ(Strings(Run({"keys", "user:*"})), (std::set<std::string>{"user:", "user:1"}));
  EXPECT_EQ(Strings(Run({"keys", ":*"})), (std::set<std::string>{":x", ":"}));
  EXPECT_EQ(Strings(Run({"keys", "a::*"})), (std::set<std::string>{"a::b", "a::"}));
  EXPECT_EQ(Strings(Run({"keys", "a:*"})), (std::set<std::string>{"a::b", "a::", "a:b"}));
  EXPECT_EQ(Strings(Run({"keys", "use*"})), (std::set<std::string>{"user:", "user:1", "users"}));
}

TEST_F(GatewayTest, ScanWalksEveryKeyAndEndsWithCursorZero) {
  WarmUp(Mode::kImmediate);
  for (int i = 0; i < 50; ++i) Run({"set", "k:" + std::to_string(i), "v"});
  std::set<std::string> seen;
  std::string cursor = "0";
  int calls = 0;
  do {
    auto r = Run({"scan", cursor, "count", "7", "match", "k:*"});
    ASSERT_EQ(r.type, RespType::kArray);
    ASSERT_EQ(r.elements.size(), 2u);
    cursor = r.elements[0].str;
    for (const auto& e : r.elements[1].elements) seen.insert(e.str);
    ASSERT_LT(++calls, 100);
  } while (cursor != "0");
  EXPECT_EQ(seen.size(), 50u);
}

TEST_F(GatewayTest, ScanArgumentErrorsAsRedis) {
  WarmUp(Mode::kImmediate);
  EXPECT_THAT(Run({"scan", "abc"}), IsErr("ERR invalid cursor"));
  EXPECT_THAT(Run({"scan", "0", "count", "0"}), IsErr("ERR syntax error"));
  EXPECT_THAT(Run({"scan", "0", "count", "x"}), IsErr("ERR value is not an integer"));
  EXPECT_THAT(Run({"scan", "0", "bogus"}), IsErr("ERR syntax error"));
  EXPECT_EQ(writes(), 0u);
}

TEST_F(GatewayTest, ScanTypeFilterKnowsStrings) {
  WarmUp(Mode::kImmediate);
  Run({"set", "a", "1"});
  auto strings = Run({"scan", "0", "count", "100", "type", "string"});
  auto hashes = Run({"scan", "0", "count", "100", "type", "hash"});
  EXPECT_EQ(strings.elements[1].elements.size(), 1u);
  EXPECT_EQ(hashes.elements[1].elements.size(), 0u);
}

TEST_F(GatewayTest, RandomKeyReturnsAKeyOrNil) {
  WarmUp(Mode::kImmediate);
  EXPECT_THAT(Run({"randomkey"}), IsNil());
  Run({"set", "only:key", "v"});
  EXPECT_THAT(Run({"randomkey"}), IsBulk("only:key"));
}

TEST_F(GatewayTest, InfoKeyspaceListsDatabasesWithKeys) {
  WarmUp(Mode::kImmediate);
  Run({"set", "a", "1"});
  Run({"set", "b", "2", "ex", "100"});
  auto info = Run({"info", "keyspace"});
  EXPECT_NE(info.str.find("db0:keys=2,expires=1,avg_ttl=0"), std::string::npos) << info.str;
}

}  // namespace
}  // namespace gateway
