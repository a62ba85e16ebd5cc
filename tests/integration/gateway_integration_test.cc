// SPDX-License-Identifier: Apache-2.0
//
// End-to-end behaviour of the string and key commands against a real nats-server: a hiredis
// client talks to the gateway, which stores in JetStream KV.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "tests/integration/gateway_fixture.h"

namespace integration {
namespace {

class GatewayBasics : public GatewayFixture {};

TEST_F(GatewayBasics, SetThenGetReturnsTheValue) {
  RedisPtr c = Connect(gateway_.port());
  ASSERT_TRUE(c);
  EXPECT_EQ(Run(c.get(), {"SET", "user:1", "hello"}), "+OK");
  EXPECT_EQ(Run(c.get(), {"GET", "user:1"}), "$hello");
  EXPECT_EQ(Run(c.get(), {"GET", "user:missing"}), "(nil)");
}

TEST_F(GatewayBasics, SetOverwritesAndIsVisibleToAnotherConnection) {
  RedisPtr a = Connect(gateway_.port());
  RedisPtr b = Connect(gateway_.port());
  ASSERT_TRUE(a && b);
  EXPECT_EQ(Run(a.get(), {"SET", "k", "one"}), "+OK");
  EXPECT_EQ(Run(a.get(), {"SET", "k", "two"}), "+OK");
  EXPECT_EQ(Run(b.get(), {"GET", "k"}), "$two");
}

TEST_F(GatewayBasics, EmptyAndBinaryValuesRoundTrip) {
  RedisPtr c = Connect(gateway_.port());
  ASSERT_TRUE(c);
  std::string binary("a\0b\r\n\xff", 6);
  EXPECT_EQ(Run(c.get(), {"SET", "bin", binary}), "+OK");
  EXPECT_EQ(Run(c.get(), {"GET", "bin"}), "$" + binary);
  EXPECT_EQ(Run(c.get(), {"SET", "empty", ""}), "+OK");
  EXPECT_EQ(Run(c.get(), {"GET", "empty"}), "$");
  EXPECT_EQ(Run(c.get(), {"EXISTS", "empty"}), ":1");
}

TEST_F(GatewayBasics, DelCountsOnlyExistingKeys) {
  RedisPtr c = Connect(gateway_.port());
  ASSERT_TRUE(c);
  EXPECT_EQ(Run(c.get(), {"SET", "d1", "x"}), "+OK");
  EXPECT_EQ(Run(c.get(), {"SET", "d2", "y"}), "+OK");
  EXPECT_EQ(Run(c.get(), {"DEL", "d1", "d2", "d3"}), ":2");
  EXPECT_EQ(Run(c.get(), {"GET", "d1"}), "(nil)");
  EXPECT_EQ(Run(c.get(), {"DEL", "d1"}), ":0");
}

TEST_F(GatewayBasics, ExistsCountsRepeatedKeys) {
  RedisPtr c = Connect(gateway_.port());
  ASSERT_TRUE(c);
  EXPECT_EQ(Run(c.get(), {"SET", "e1", "x"}), "+OK");
  EXPECT_EQ(Run(c.get(), {"EXISTS", "e1", "e1", "nope"}), ":2");
  EXPECT_EQ(Run(c.get(), {"DEL", "e1"}), ":1");
  EXPECT_EQ(Run(c.get(), {"EXISTS", "e1"}), ":0");
}

TEST_F(GatewayBasics, SetAfterDelCreatesTheKeyAgain) {
  RedisPtr c = Connect(gateway_.port());
  ASSERT_TRUE(c);
  EXPECT_EQ(Run(c.get(), {"SET", "r", "1"}), "+OK");
  EXPECT_EQ(Run(c.get(), {"DEL", "r"}), ":1");
  EXPECT_EQ(Run(c.get(), {"SET", "r", "2", "NX"}), "+OK");
  EXPECT_EQ(Run(c.get(), {"GET", "r"}), "$2");
}

TEST_F(GatewayBasics, SetNxOnlyCreates) {
  RedisPtr c = Connect(gateway_.port());
  ASSERT_TRUE(c);
  EXPECT_EQ(Run(c.get(), {"SET", "nx", "first", "NX"}), "+OK");
  EXPECT_EQ(Run(c.get(), {"SET", "nx", "second", "nx"}), "(nil)");
  EXPECT_EQ(Run(c.get(), {"GET", "nx"}), "$first");
}

TEST_F(GatewayBasics, SetXxOnlyUpdates) {
  RedisPtr c = Connect(gateway_.port());
  ASSERT_TRUE(c);
  EXPECT_EQ(Run(c.get(), {"SET", "xx", "first", "XX"}), "(nil)");
  EXPECT_EQ(Run(c.get(), {"GET", "xx"}), "(nil)");
  EXPECT_EQ(Run(c.get(), {"SET", "xx", "base"}), "+OK");
  EXPECT_EQ(Run(c.get(), {"SET", "xx", "second", "XX"}), "+OK");
  EXPECT_EQ(Run(c.get(), {"GET", "xx"}), "$second");
}

TEST_F(GatewayBasics, SetGetReturnsTheOldValue) {
  RedisPtr c = Connect(gateway_.port());
  ASSERT_TRUE(c);
  EXPECT_EQ(Run(c.get(), {"SET", "g", "v1", "GET"}), "(nil)");
  EXPECT_EQ(Run(c.get(), {"SET", "g", "v2", "GET"}), "$v1");
  EXPECT_EQ(Run(c.get(), {"GET", "g"}), "$v2");
  // NX GET is allowed since Redis 7.0: it returns the old value and does not write.
  EXPECT_EQ(Run(c.get(), {"SET", "g", "v3", "NX", "GET"}), "$v2");
  EXPECT_EQ(Run(c.get(), {"GET", "g"}), "$v2");
  EXPECT_EQ(Run(c.get(), {"SET", "g2", "v", "XX", "GET"}), "(nil)");
  EXPECT_EQ(Run(c.get(), {"EXISTS", "g2"}), ":0");
}

TEST_F(GatewayBasics, SetOptionConflictsAreSyntaxErrors) {
  RedisPtr c = Connect(gateway_.port());
  ASSERT_TRUE(c);
  EXPECT_EQ(Run(c.get(), {"SET", "s", "v", "NX", "XX"}), "-ERR syntax error");
  EXPECT_EQ(Run(c.get(), {"SET", "s", "v", "EX", "10", "PX", "100"}), "-ERR syntax error");
  EXPECT_EQ(Run(c.get(), {"SET", "s", "v", "KEEPTTL", "EX", "10"}), "-ERR syntax error");
  EXPECT_EQ(Run(c.get(), {"SET", "s", "v", "EX", "0"}),
            "-ERR invalid expire time in 'set' command");
  EXPECT_EQ(Run(c.get(), {"SET", "s", "v", "EX", "abc"}),
            "-ERR value is not an integer or out of range");
  // None of the rejected commands wrote anything.
  EXPECT_EQ(Run(c.get(), {"EXISTS", "s"}), ":0");
}

TEST_F(GatewayBasics, SetExKeyExpires) {
  RedisPtr c = Connect(gateway_.port());
  ASSERT_TRUE(c);
  EXPECT_EQ(Run(c.get(), {"SET", "ttl", "v", "PX", "300"}), "+OK");
  EXPECT_EQ(Run(c.get(), {"GET", "ttl"}), "$v");
  // Poll (bounded) instead of sleeping a fixed time: the key must vanish soon after 300 ms.
  int64_t deadline = test_support::MonotonicMs() + 5000;
  std::string got;
  while (test_support::MonotonicMs() < deadline) {
    got = Run(c.get(), {"GET", "ttl"});
    if (got == "(nil)") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(got, "(nil)");
  EXPECT_EQ(Run(c.get(), {"EXISTS", "ttl"}), ":0");
  EXPECT_EQ(Run(c.get(), {"SET", "ttl", "w", "NX"}), "+OK") << "an expired key counts as absent";
}

TEST_F(GatewayBasics, SetExWithLongTtlKeepsTheKey) {
  RedisPtr c = Connect(gateway_.port());
  ASSERT_TRUE(c);
  EXPECT_EQ(Run(c.get(), {"SET", "long", "v", "EX", "1000"}), "+OK");
  EXPECT_EQ(Run(c.get(), {"GET", "long"}), "$v");
  EXPECT_EQ(Run(c.get(), {"SET", "long", "w", "XX", "KEEPTTL"}), "+OK");
  EXPECT_EQ(Run(c.get(), {"GET", "long"}), "$w");
}

TEST_F(GatewayBasics, PingAndEchoWork) {
  RedisPtr c = Connect(gateway_.port());
  ASSERT_TRUE(c);
  EXPECT_EQ(Run(c.get(), {"PING"}), "+PONG");
  EXPECT_EQ(Run(c.get(), {"ECHO", "hi there"}), "$hi there");
}

class GatewayAuth : public GatewayFixture {
 protected:
  std::vector<std::string> GatewayArgs() const override {
    return {"--nats-timeout-ms", "1000", "--requirepass", "s3cret"};
  }
};

TEST_F(GatewayAuth, CommandsNeedAuthFirst) {
  RedisPtr c = Connect(gateway_.port());
  ASSERT_TRUE(c);
  EXPECT_EQ(Run(c.get(), {"GET", "k"}), "-NOAUTH Authentication required.");
  EXPECT_EQ(Run(c.get(), {"SET", "k", "v"}), "-NOAUTH Authentication required.");
  EXPECT_EQ(Run(c.get(), {"AUTH", "wrong"}),
            "-WRONGPASS invalid username-password pair or user is disabled.");
  EXPECT_EQ(Run(c.get(), {"GET", "k"}), "-NOAUTH Authentication required.");
  EXPECT_EQ(Run(c.get(), {"AUTH", "s3cret"}), "+OK");
  EXPECT_EQ(Run(c.get(), {"SET", "k", "v"}), "+OK");
  EXPECT_EQ(Run(c.get(), {"GET", "k"}), "$v");
}

TEST_F(GatewayAuth, AuthIsPerConnection) {
  RedisPtr a = Connect(gateway_.port());
  RedisPtr b = Connect(gateway_.port());
  ASSERT_TRUE(a && b);
  EXPECT_EQ(Run(a.get(), {"AUTH", "default", "s3cret"}), "+OK");
  EXPECT_EQ(Run(a.get(), {"SET", "k", "v"}), "+OK");
  EXPECT_EQ(Run(b.get(), {"GET", "k"}), "-NOAUTH Authentication required.");
}

TEST_F(GatewayAuth, HelloWithAuthAuthenticates) {
  RedisPtr c = Connect(gateway_.port());
  ASSERT_TRUE(c);
  ReplyPtr r = Cmd(c.get(), {"HELLO", "2", "AUTH", "default", "s3cret"});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->type, REDIS_REPLY_ARRAY) << Show(r.get());
  EXPECT_EQ(Run(c.get(), {"GET", "k"}), "(nil)");
}

}  // namespace
}  // namespace integration
