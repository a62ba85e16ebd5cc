// SPDX-License-Identifier: Apache-2.0
//
// The I/O-free parts of `migrate` (gateway/migrate_support.cc): its flags, the checkpoint's
// JSON and key, the printable form of keys. The copy itself runs against real servers in
// tests/integration/clients/migrate_test.py.
#include "gateway/migrate.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace gateway {
namespace {

struct Parsed {
  std::string error;
  MigrateOptions options;
  Config config;
  bool wants_help = false;
};

Parsed Parse(std::vector<std::string> args) {
  args.insert(args.begin(), {"redis-nats-gateway", "migrate"});
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  Parsed p;
  p.error = ParseMigrateFlags(static_cast<int>(argv.size()), argv.data(), &p.options, &p.config,
                              &p.wants_help);
  return p;
}

TEST(MigrateFlags, OwnFlagsAndTheGatewaysNatsFlags) {
  Parsed p = Parse({"--from",
                    "redis://:pw@10.0.0.5:6380/3",
                    "--match",
                    "user:*",
                    "--to-db",
                    "2",
                    "--resume",
                    "--json",
                    "--no-progress",
                    "--scan-count=500",
                    "--window",
                    "64",
                    "--bucket",
                    "app",
                    "--replicas",
                    "3",
                    "--nats-timeout-ms",
                    "5000",
                    "--object-threshold",
                    "65536"});
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.options.source.host, "10.0.0.5");
  EXPECT_EQ(p.options.source.port, 6380);
  EXPECT_EQ(p.options.source.db, 3);
  EXPECT_EQ(p.options.source.password, "pw");
  EXPECT_EQ(p.options.match, "user:*");
  EXPECT_EQ(p.options.to_db, 2);
  EXPECT_TRUE(p.options.is_resume);
  EXPECT_TRUE(p.options.is_json);
  EXPECT_TRUE(p.options.is_no_progress);
  EXPECT_FALSE(p.options.is_replace);
  EXPECT_FALSE(p.options.is_verify);
  EXPECT_EQ(p.options.scan_count, 500);
  EXPECT_EQ(p.options.window, 64);
  EXPECT_EQ(p.config.bucket, "app");
  EXPECT_EQ(p.config.BucketFor(p.options.to_db), "app-2");
  EXPECT_EQ(p.config.replicas, 3);
  EXPECT_EQ(p.config.nats_timeout_ms, 5000);
  EXPECT_EQ(p.config.object_threshold, 65536);
}

TEST(MigrateFlags, RepeatedNatsUrlsAddUp) {
  Parsed p = Parse({"--from", "127.0.0.1:6379", "--nats", "nats://a:4222", "--nats",
                    "nats://b:4222,nats://c:4222"});
  ASSERT_EQ(p.error, "");
  EXPECT_EQ(p.config.nats_urls,
            (std::vector<std::string>{"nats://a:4222", "nats://b:4222", "nats://c:4222"}));
}

TEST(MigrateFlags, VerifyOptions) {
  Parsed p =
      Parse({"--from", "redis://h:1", "--verify", "--sample", "100", "--ttl-tolerance-ms", "50"});
  ASSERT_EQ(p.error, "");
  EXPECT_TRUE(p.options.is_verify);
  EXPECT_EQ(p.options.sample, 100);
  EXPECT_EQ(p.options.ttl_tolerance_ms, 50);
}

TEST(MigrateFlags, UsageErrors) {
  EXPECT_NE(Parse({}).error.find("--from"), std::string::npos);
  EXPECT_NE(Parse({"--from"}).error, "");
  EXPECT_NE(Parse({"--from", "redis://h:1", "--json=yes"}).error.find("takes no value"),
            std::string::npos);
  EXPECT_NE(Parse({"--from", "redis://h:1", "--verify", "--resume"}).error, "");
  EXPECT_NE(Parse({"--from", "redis://h:1", "--verify", "--replace"}).error, "");
  EXPECT_NE(Parse({"--from", "redis://h:1", "--sample", "5"}).error, "");
  EXPECT_NE(Parse({"--from", "redis://h:1", "--ttl-tolerance-ms", "5"}).error, "");
  EXPECT_NE(Parse({"--from", "redis://h:1", "--to-db", "16"}).error, "");  // --databases 16
  EXPECT_EQ(Parse({"--from", "redis://h:1", "--databases", "32", "--to-db", "16"}).error, "");
  EXPECT_NE(Parse({"--from", "redis://h:1", "--window", "0"}).error, "");
  EXPECT_NE(Parse({"--from", "redis://h:1", "--scan-count", "x"}).error, "");
  EXPECT_NE(Parse({"--from", "redis://h:1", "--replicas", "9"}).error, "");  // ParseFlags's
  EXPECT_NE(Parse({"--from", "redis://h:1", "--no-such-flag", "1"}).error, "");
  EXPECT_TRUE(Parse({"--help"}).wants_help);
}

TEST(MigrateCheckpoint, RoundTrips) {
  MigrateCheckpoint cp;
  cp.cursor = "18446744073709551615";  // SCAN cursors use all 64 bits
  cp.counts.scanned = 1000;
  cp.counts.copied = 900;
  cp.counts.present = 40;
  cp.counts.too_long = 1;
  cp.counts.vanished = 9;
  cp.counts.bytes = 123456789012ull;
  cp.counts.skipped_by_type = {{"hash", 30}, {"list", 20}, {"ReJSON-RL", 0}};
  cp.seconds = 12.5;
  cp.updated_at_ms = 1700000000123;
  std::string json = EncodeCheckpoint(cp, "127.0.0.1:6379/0", std::string("a\"b\\\x01"), 2);
  std::optional<MigrateCheckpoint> back = DecodeCheckpoint(json);
  ASSERT_TRUE(back) << json;
  EXPECT_EQ(back->cursor, cp.cursor);
  EXPECT_FALSE(back->is_done);
  EXPECT_EQ(back->counts.scanned, 1000u);
  EXPECT_EQ(back->counts.copied, 900u);
  EXPECT_EQ(back->counts.present, 40u);
  EXPECT_EQ(back->counts.too_long, 1u);
  EXPECT_EQ(back->counts.vanished, 9u);
  EXPECT_EQ(back->counts.bytes, 123456789012ull);
  EXPECT_EQ(back->counts.skipped_by_type, cp.counts.skipped_by_type);
  EXPECT_EQ(back->counts.skipped(), 50u);
  EXPECT_DOUBLE_EQ(back->seconds, 12.5);
  EXPECT_EQ(back->updated_at_ms, 1700000000123);

  cp.is_done = true;
  back = DecodeCheckpoint(EncodeCheckpoint(cp, "h:1/0", std::nullopt, 0));
  ASSERT_TRUE(back);
  EXPECT_TRUE(back->is_done);
}

TEST(MigrateCheckpoint, RejectsWhatItDidNotWrite) {
  EXPECT_FALSE(DecodeCheckpoint(""));
  EXPECT_FALSE(DecodeCheckpoint("not json"));
  EXPECT_FALSE(DecodeCheckpoint("[]"));
  EXPECT_FALSE(DecodeCheckpoint("{\"version\":2,\"cursor\":\"0\",\"done\":false}"));
  std::string good = EncodeCheckpoint(MigrateCheckpoint{}, "h:1/0", std::nullopt, 0);
  ASSERT_TRUE(DecodeCheckpoint(good));
  EXPECT_FALSE(DecodeCheckpoint(good.substr(0, good.size() - 1)));  // truncated
  std::string bad_cursor = good;
  bad_cursor.replace(bad_cursor.find("\"cursor\":\"0\""), 12, "\"cursor\":\"-1\"");
  EXPECT_FALSE(DecodeCheckpoint(bad_cursor));
  std::string no_counts = good;
  no_counts.replace(no_counts.find("\"copied\""), 8, "\"copies\"");
  EXPECT_FALSE(DecodeCheckpoint(no_counts));
}

TEST(MigrateCheckpoint, KeyIsInternalAndNamesTheMigration) {
  RedisUrl url;
  url.host = "127.0.0.1";
  url.port = 6379;
  url.db = 0;
  // The exact form is relied upon by tests/integration/clients/migrate_test.py.
  EXPECT_EQ(CheckpointKey(url, std::nullopt, 0), "=_migrate.53a5617b9108150b");
  EXPECT_EQ(CheckpointKey(url, std::string("user:*"), 3), "=_migrate.e8b355b0ea08f375");
  EXPECT_NE(CheckpointKey(url, std::string(""), 0), CheckpointKey(url, std::nullopt, 0));
  RedisUrl other = url;
  other.db = 1;
  EXPECT_NE(CheckpointKey(other, std::nullopt, 0), CheckpointKey(url, std::nullopt, 0));
  // The password is no part of it (a rotated password is the same migration).
  other = url;
  other.password = "secret";
  EXPECT_EQ(CheckpointKey(other, std::nullopt, 0), CheckpointKey(url, std::nullopt, 0));
}

TEST(MigratePrintableKey, EscapesLikeRedisCli) {
  EXPECT_EQ(PrintableKey("user:1"), "user:1");
  EXPECT_EQ(PrintableKey(std::string("a\0b\r\n\t\"\\\x7f\xff", 10)),
            "a\\x00b\\r\\n\\t\\\"\\\\\\x7f\\xff");
  std::string json;
  AppendJsonString(&json, PrintableKey(std::string("k\0\xe9", 3)));
  EXPECT_EQ(json, "\"k\\\\x00\\\\xe9\"");
  json.clear();
  AppendJsonString(&json, std::string("\x01\xe9\"", 3));
  EXPECT_EQ(json, "\"\\u0001\\u00e9\\\"\"");
}

TEST(MigrateCounts, AddsUp) {
  MigrateCounts a, b;
  a.scanned = 10;
  a.copied = 5;
  a.skipped_by_type["hash"] = 2;
  b.scanned = 3;
  b.present = 1;
  b.bytes = 7;
  b.skipped_by_type["hash"] = 1;
  b.skipped_by_type["set"] = 1;
  a.Add(b);
  EXPECT_EQ(a.scanned, 13u);
  EXPECT_EQ(a.copied, 5u);
  EXPECT_EQ(a.present, 1u);
  EXPECT_EQ(a.bytes, 7u);
  EXPECT_EQ(a.skipped(), 4u);
  EXPECT_EQ(a.skipped_by_type["hash"], 3u);
}

}  // namespace
}  // namespace gateway
