// SPDX-License-Identifier: Apache-2.0
//
// ParseRedisUrl and RedisUrl::Redacted: the forms redis-cli -u takes (user info, port, db,
// IPv6 in brackets, percent-escapes), host:port without a scheme, and the refusals (rediss://,
// other schemes, bad ports and databases), whose messages never repeat the password.
#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <string_view>

#include "gateway/redis_client.h"

namespace gateway {
namespace {

struct UrlCase {
  const char* text;
  const char* host;
  int port;
  int db;
  const char* user;
  const char* password;
};

// Test names show the URL, not the bytes of the struct (which hold pointers).
void PrintTo(const UrlCase& c, std::ostream* os) { *os << '"' << c.text << '"'; }

class RedisUrlAccepts : public ::testing::TestWithParam<UrlCase> {};

TEST_P(RedisUrlAccepts, Parses) {
  const UrlCase& c = GetParam();
  RedisUrl url;
  url.host = "garbage";  // replaced on success
  ASSERT_EQ(ParseRedisUrl(c.text, &url), "") << c.text;
  EXPECT_EQ(url.host, c.host);
  EXPECT_EQ(url.port, c.port);
  EXPECT_EQ(url.db, c.db);
  EXPECT_EQ(url.user, c.user);
  EXPECT_EQ(url.password, c.password);
}

INSTANTIATE_TEST_SUITE_P(
    Forms, RedisUrlAccepts,
    ::testing::Values(
        UrlCase{"redis://10.0.0.5", "10.0.0.5", 6379, 0, "", ""},
        UrlCase{"redis://10.0.0.5:6380", "10.0.0.5", 6380, 0, "", ""},
        UrlCase{"redis://10.0.0.5:6380/3", "10.0.0.5", 6380, 3, "", ""},
        UrlCase{"redis://old-redis.internal/15", "old-redis.internal", 6379, 15, "", ""},
        UrlCase{"redis://host:6379/", "host", 6379, 0, "", ""},
        UrlCase{"REDIS://Host:1", "Host", 1, 0, "", ""},
        UrlCase{"redis://:secret@host:7000/2", "host", 7000, 2, "", "secret"},
        UrlCase{"redis://alice:secret@host", "host", 6379, 0, "alice", "secret"},
        // As redis-cli -u: user info without ':' is the password.
        UrlCase{"redis://secret@host", "host", 6379, 0, "", "secret"},
        UrlCase{"redis://alice:@host", "host", 6379, 0, "alice", ""},
        UrlCase{"redis://al%69ce:p%40ss%3Aw%2Fd%25@host", "host", 6379, 0, "alice", "p@ss:w/d%"},
        // The last '@' ends the user info: '@', ':' and '/' may appear in the password as is.
        UrlCase{"redis://u:p@ss:w/rd@host:1234/9", "host", 1234, 9, "u", "p@ss:w/rd"},
        UrlCase{"redis://[::1]:6379", "::1", 6379, 0, "", ""},
        UrlCase{"redis://[::1]", "::1", 6379, 0, "", ""},
        UrlCase{"redis://:pw@[fe80::1]:7/1", "fe80::1", 7, 1, "", "pw"},
        UrlCase{"redis://h:65535/2147483647", "h", 65535, 2147483647, "", ""},
        UrlCase{"localhost:6390", "localhost", 6390, 0, "", ""},
        UrlCase{"127.0.0.1", "127.0.0.1", 6379, 0, "", ""},
        UrlCase{"[::1]:6000", "::1", 6000, 0, "", ""},
        UrlCase{":pw@host:6000/4", "host", 6000, 4, "", "pw"}));

struct RefusedCase {
  const char* text;
  const char* message_part;
};

void PrintTo(const RefusedCase& c, std::ostream* os) { *os << '"' << c.text << '"'; }

class RedisUrlRefuses : public ::testing::TestWithParam<RefusedCase> {};

TEST_P(RedisUrlRefuses, WithAMessage) {
  const RefusedCase& c = GetParam();
  RedisUrl url;
  url.host = "unchanged";
  const std::string error = ParseRedisUrl(c.text, &url);
  EXPECT_NE(error.find(c.message_part), std::string::npos) << c.text << " -> " << error;
  EXPECT_EQ(url.host, "unchanged") << c.text;
  // The password in these URLs is "hunter2": no message repeats it.
  EXPECT_EQ(error.find("hunter2"), std::string::npos) << error;
}

INSTANTIATE_TEST_SUITE_P(
    Errors, RedisUrlRefuses,
    ::testing::Values(RefusedCase{"rediss://:hunter2@host:6380", "TLS"},
                      RefusedCase{"REDISS://host", "not supported yet"},
                      RefusedCase{"unix:///tmp/redis.sock", "unsupported URL scheme"},
                      RefusedCase{"http://host", "unsupported URL scheme"},
                      RefusedCase{"", "missing host"}, RefusedCase{"redis://", "missing host"},
                      RefusedCase{"redis://:hunter2@", "missing host"},
                      RefusedCase{"redis://:hunter2@:6379", "missing host"},
                      RefusedCase{"redis://host:0", "invalid port"},
                      RefusedCase{"redis://host:65536", "invalid port"},
                      RefusedCase{"redis://host:", "invalid port"},
                      RefusedCase{"redis://host:-1", "invalid port"},
                      RefusedCase{"redis://host:63x", "invalid port"},
                      RefusedCase{"redis://host:hunter2", "invalid port"},
                      RefusedCase{"redis://host:000006379", "invalid port"},
                      RefusedCase{"redis://host/2147483648", "invalid database"},
                      RefusedCase{"redis://host/-1", "invalid database"},
                      RefusedCase{"redis://host/1x", "invalid database"},
                      RefusedCase{"redis://host/0?timeout=1", "invalid database"},
                      RefusedCase{"redis://host/99999999999", "invalid database"},
                      RefusedCase{"redis://::1:6379", "brackets"},
                      RefusedCase{"redis://[::1:6379", "missing ']'"},
                      RefusedCase{"redis://[::1]6379", "after the IPv6 address"},
                      RefusedCase{"redis://:hunter2%zz@host", "%-escape in the password"},
                      RefusedCase{"redis://:hunter2%4@host", "%-escape in the password"},
                      RefusedCase{"redis://us%er:hunter2@host", "%-escape in the user name"}));

TEST(RedisUrl, DefaultsAreLocalhost6379Db0) {
  RedisUrl url;
  EXPECT_EQ(url.host, "127.0.0.1");
  EXPECT_EQ(url.port, 6379);
  EXPECT_EQ(url.db, 0);
  EXPECT_EQ(url.Redacted(), "redis://127.0.0.1:6379/0");
}

TEST(RedisUrl, RedactedHidesThePassword) {
  RedisUrl url;
  ASSERT_EQ(ParseRedisUrl("redis://alice:hunter2@old:6380/3", &url), "");
  EXPECT_EQ(url.Redacted(), "redis://alice:***@old:6380/3");
  ASSERT_EQ(ParseRedisUrl("redis://:hunter2@old", &url), "");
  EXPECT_EQ(url.Redacted(), "redis://:***@old:6379/0");
  // A user without a password sends no AUTH, so it is not shown either.
  ASSERT_EQ(ParseRedisUrl("redis://alice:@old", &url), "");
  EXPECT_EQ(url.Redacted(), "redis://old:6379/0");
  ASSERT_EQ(ParseRedisUrl("redis://[::1]:7000/1", &url), "");
  EXPECT_EQ(url.Redacted(), "redis://[::1]:7000/1");
}

TEST(RedisUrl, RedactedEscapesTheUserAndParsesBack) {
  RedisUrl url;
  ASSERT_EQ(ParseRedisUrl("redis://a%3Ab%40c:x@h:1/2", &url), "");
  EXPECT_EQ(url.user, "a:b@c");
  const std::string redacted = url.Redacted();
  EXPECT_EQ(redacted, "redis://a%3Ab%40c:***@h:1/2");
  RedisUrl again;
  ASSERT_EQ(ParseRedisUrl(redacted, &again), "");
  EXPECT_EQ(again.user, "a:b@c");
  EXPECT_EQ(again.password, "***");
  EXPECT_EQ(again.host, "h");
}

TEST(RedisUrl, BinaryPasswordByPercentEscapes) {
  RedisUrl url;
  ASSERT_EQ(ParseRedisUrl("redis://:%00%FF%0D%0A@h", &url), "");
  EXPECT_EQ(url.password, std::string("\0\xff\r\n", 4));
  EXPECT_EQ(url.Redacted(), "redis://:***@h:6379/0");
}

}  // namespace
}  // namespace gateway
