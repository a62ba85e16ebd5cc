// SPDX-License-Identifier: Apache-2.0
//
// Tests for the header allow-list (DESIGN.md decision 4) and header lookup.
#include <gtest/gtest.h>

#include <string_view>

#include "kvmap/kv_backend.h"

namespace kvmap {
namespace {

TEST(Headers, RedisHeadersAreWritable) {
  EXPECT_TRUE(IsWritableHeader(kHdrType));
  EXPECT_TRUE(IsWritableHeader(kHdrExpiresAt));
  EXPECT_TRUE(IsWritableHeader(kHdrEvent));
  EXPECT_TRUE(IsWritableHeader(kHdrObject));
  EXPECT_TRUE(IsWritableHeader("Redis-Future-Field"));
}

TEST(Headers, KvOperationIsWritable) { EXPECT_TRUE(IsWritableHeader(kHdrKvOperation)); }

TEST(Headers, NatsHeadersAreNeverWritable) {
  for (std::string_view name :
       {"Nats-Msg-Id", "Nats-Expected-Last-Subject-Sequence", "Nats-Rollup", "Nats-Sequence",
        "Nats-Time-Stamp", "Nats-Subject", "Nats-TTL", "Nats-Expected-Stream"}) {
    EXPECT_FALSE(IsWritableHeader(name)) << name;
  }
}

TEST(Headers, OtherNamesAreNotWritable) {
  for (std::string_view name :
       {"", "Redis-", "Redis", "redis-type", "REDIS-TYPE", "X-Redis-Type", "KV-Operation2",
        "kv-operation", "KV-Op", "Status", "Content-Type", " Redis-Type"}) {
    EXPECT_FALSE(IsWritableHeader(name)) << '"' << name << '"';
  }
}

TEST(Headers, RedisNamesThatWouldBreakTheHeaderBlockAreNotWritable) {
  for (std::string_view name : {"Redis-Type\r\nNats-Msg-Id", "Redis-A:B", "Redis-A B", "Redis-\x01",
                                "Redis-Type\n", "Redis-\x7f"}) {
    EXPECT_FALSE(IsWritableHeader(name)) << testing::PrintToString(name);
  }
}

TEST(Headers, FindHeaderReturnsFirstMatch) {
  Headers headers = {{"Redis-Type", "hash:1"}, {"Redis-Event", "set"}, {"Redis-Type", "other"}};
  EXPECT_EQ(FindHeader(headers, "Redis-Type"), "hash:1");
  EXPECT_EQ(FindHeader(headers, "Redis-Event"), "set");
}

TEST(Headers, FindHeaderIsCaseSensitive) {
  Headers headers = {{"Redis-Type", "hash:1"}};
  EXPECT_FALSE(FindHeader(headers, "redis-type").has_value());
}

TEST(Headers, FindHeaderMissing) {
  EXPECT_FALSE(FindHeader({}, "Redis-Type").has_value());
  Headers headers = {{"Redis-Event", "set"}};
  EXPECT_FALSE(FindHeader(headers, kHdrExpiresAt).has_value());
}

TEST(Headers, FindHeaderDistinguishesEmptyValueFromMissing) {
  Headers headers = {{"Redis-Event", ""}};
  std::optional<std::string_view> value = FindHeader(headers, "Redis-Event");
  ASSERT_TRUE(value.has_value());
  EXPECT_TRUE(value->empty());
}

TEST(Headers, FindHeaderViewPointsIntoHeaders) {
  Headers headers = {{"Redis-Expires-At", "1700000000000"}};
  std::optional<std::string_view> value = FindHeader(headers, kHdrExpiresAt);
  ASSERT_TRUE(value.has_value());
  EXPECT_EQ(value->data(), headers[0].second.data());
}

}  // namespace
}  // namespace kvmap
