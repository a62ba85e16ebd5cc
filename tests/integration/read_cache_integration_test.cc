// SPDX-License-Identifier: Apache-2.0
//
// --read-cache against a real nats-server (kvmap/read_cache.h): a client reads its own writes, a
// hit sends nothing to NATS, and writes made elsewhere (another gateway, a native NATS client,
// FLUSHALL anywhere) become visible within the follower's lag. The lag is polled with a
// generous deadline; the figures that matter are in docs/benchmarks.md.
#include <gtest/gtest.h>
#include <nats/nats.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/gateway_fixture.h"

namespace integration {
namespace {

constexpr auto kFollowerDeadline = std::chrono::seconds(5);

class ReadCache : public GatewayFixture {
 protected:
  std::vector<std::string> GatewayArgs() const override {
    return {"--nats-timeout-ms", "1000", "--read-cache", "16mb"};
  }

  void SetUp() override {
    GatewayFixture::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    redis_ = Connect(gateway_.port());
    ASSERT_TRUE(redis_);
  }

  void TearDown() override {
    if (kv_ != nullptr) kvStore_Destroy(kv_);
    if (js_ != nullptr) jsCtx_Destroy(js_);
    if (nc_ != nullptr) natsConnection_Destroy(nc_);
    if (other_started_) {
      EXPECT_EQ(other_.Stop(), "exit 0");
    }
    GatewayFixture::TearDown();
  }

  void ConnectNative() {
    ASSERT_EQ(natsConnection_ConnectTo(&nc_, nats_.url().c_str()), NATS_OK);
    ASSERT_EQ(natsConnection_JetStream(&js_, nc_, nullptr), NATS_OK);
    ASSERT_EQ(js_KeyValue(&kv_, js_, BucketName().c_str()), NATS_OK);
  }

  // Starts a second gateway without a cache on the same bucket and connects to it.
  void StartOther() {
    ASSERT_EQ(StartAnotherGateway(&other_, other_dir_.path()), "");
    other_started_ = true;
    other_redis_ = Connect(other_.port());
    ASSERT_TRUE(other_redis_);
  }

  // An INFO field of the cached gateway as a number (-1 when absent).
  long long Info(const std::string& field) {
    ReplyPtr r = Cmd(redis_.get(), {"INFO"});
    if (!r || r->type != REDIS_REPLY_STRING) return -1;
    std::string text(r->str, r->len);
    size_t at = text.find("\n" + field + ":");
    if (at == std::string::npos) return -1;
    return std::stoll(text.substr(at + field.size() + 2));
  }

  // Polls GET `key` on the cached gateway until it shows `want`; returns how long that took,
  // or a negative duration when the deadline passed.
  std::chrono::microseconds WaitForValue(const std::string& key, const std::string& want) {
    auto start = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - start < kFollowerDeadline) {
      if (Run(redis_.get(), {"GET", key}) == want) {
        return std::chrono::duration_cast<std::chrono::microseconds>(
            std::chrono::steady_clock::now() - start);
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return std::chrono::microseconds(-1);
  }

  RedisPtr redis_;
  test_support::TempDir other_dir_;
  test_support::Gateway other_;
  bool other_started_ = false;
  RedisPtr other_redis_;
  natsConnection* nc_ = nullptr;
  jsCtx* js_ = nullptr;
  kvStore* kv_ = nullptr;
};

TEST_F(ReadCache, IsReportedByConfigAndInfo) {
  EXPECT_EQ(Run(redis_.get(), {"CONFIG", "GET", "read-cache"}),
            "*2[$read-cache, $" + std::to_string(16 << 20) + "]");
  EXPECT_EQ(Info("read_cache_capacity"), 16 << 20);
}

TEST_F(ReadCache, ReadsItsOwnWritesAndHitsSendNothingToNats) {
  ASSERT_EQ(Run(redis_.get(), {"SET", "k", "v1"}), "+OK");
  EXPECT_EQ(Run(redis_.get(), {"GET", "k"}), "$v1");
  ASSERT_EQ(Run(redis_.get(), {"SET", "k", "v2"}), "+OK");
  EXPECT_EQ(Run(redis_.get(), {"GET", "k"}), "$v2");
  ASSERT_EQ(Run(redis_.get(), {"APPEND", "k", "+"}), ":3");
  EXPECT_EQ(Run(redis_.get(), {"GET", "k"}), "$v2+");

  const long long sent = Info("nats_ops_sent");
  const long long hits = Info("read_cache_hits");
  for (int i = 0; i < 200; ++i) ASSERT_EQ(Run(redis_.get(), {"GET", "k"}), "$v2+");
  EXPECT_EQ(Info("nats_ops_sent"), sent);
  EXPECT_EQ(Info("read_cache_hits"), hits + 200);
}

TEST_F(ReadCache, DelAndExpiryAreSeenAtOnce) {
  ASSERT_EQ(Run(redis_.get(), {"SET", "gone", "x"}), "+OK");
  ASSERT_EQ(Run(redis_.get(), {"GET", "gone"}), "$x");
  ASSERT_EQ(Run(redis_.get(), {"DEL", "gone"}), ":1");
  EXPECT_EQ(Run(redis_.get(), {"GET", "gone"}), "(nil)");

  ASSERT_EQ(Run(redis_.get(), {"SET", "short", "x", "PX", "150"}), "+OK");
  ASSERT_EQ(Run(redis_.get(), {"GET", "short"}), "$x");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(Run(redis_.get(), {"GET", "short"}), "(nil)");
}

TEST_F(ReadCache, WriteByAnotherGatewayInvalidates) {
  StartOther();
  ASSERT_EQ(Run(redis_.get(), {"SET", "shared", "from-a"}), "+OK");
  ASSERT_EQ(Run(redis_.get(), {"GET", "shared"}), "$from-a");
  ASSERT_EQ(Run(other_redis_.get(), {"SET", "shared", "from-b"}), "+OK");
  auto lag = WaitForValue("shared", "$from-b");
  ASSERT_GE(lag.count(), 0) << "the other gateway's write was never seen";
  std::fprintf(stderr, "visible after %lld us\n", static_cast<long long>(lag.count()));
  ASSERT_EQ(Run(other_redis_.get(), {"DEL", "shared"}), ":1");
  EXPECT_GE(WaitForValue("shared", "(nil)").count(), 0);
  EXPECT_GE(Info("read_cache_invalidations"), 2);
}

TEST_F(ReadCache, NativeNatsWriterInvalidates) {
  ConnectNative();
  ASSERT_EQ(Run(redis_.get(), {"SET", "cfg:flag", "off"}), "+OK");
  ASSERT_EQ(Run(redis_.get(), {"GET", "cfg:flag"}), "$off");
  ASSERT_EQ(kvStore_PutString(nullptr, kv_, "cfg.flag", "on"), NATS_OK);
  EXPECT_GE(WaitForValue("cfg:flag", "$on").count(), 0);
  ASSERT_EQ(kvStore_Delete(kv_, "cfg.flag"), NATS_OK);
  EXPECT_GE(WaitForValue("cfg:flag", "(nil)").count(), 0);
  // A key first read as missing, then created natively.
  ASSERT_EQ(Run(redis_.get(), {"GET", "cfg:new"}), "(nil)");
  ASSERT_EQ(kvStore_PutString(nullptr, kv_, "cfg.new", "made"), NATS_OK);
  EXPECT_GE(WaitForValue("cfg:new", "$made").count(), 0);
}

TEST_F(ReadCache, LocalFlushallEmptiesAtOnce) {
  ASSERT_EQ(Run(redis_.get(), {"SET", "a", "1"}), "+OK");
  ASSERT_EQ(Run(redis_.get(), {"GET", "a"}), "$1");
  ASSERT_EQ(Run(redis_.get(), {"FLUSHALL"}), "+OK");
  EXPECT_EQ(Run(redis_.get(), {"GET", "a"}), "(nil)");
  ASSERT_EQ(Run(redis_.get(), {"SET", "a", "2"}), "+OK");
  EXPECT_EQ(Run(redis_.get(), {"GET", "a"}), "$2");
}

TEST_F(ReadCache, FlushallByAnotherGatewayEmpties) {
  StartOther();
  ASSERT_EQ(Run(redis_.get(), {"SET", "a", "1"}), "+OK");
  ASSERT_EQ(Run(redis_.get(), {"SET", "b", "2"}), "+OK");
  ASSERT_EQ(Run(redis_.get(), {"GET", "a"}), "$1");
  ASSERT_EQ(Run(redis_.get(), {"GET", "b"}), "$2");
  ASSERT_EQ(Run(other_redis_.get(), {"FLUSHALL"}), "+OK");
  EXPECT_GE(WaitForValue("a", "(nil)").count(), 0);
  EXPECT_GE(WaitForValue("b", "(nil)").count(), 0);
  EXPECT_GE(Info("read_cache_flushes"), 1);
}

TEST_F(ReadCache, IncrFromTwoGatewaysStaysExact) {
  // A cached counter may be stale when another gateway just changed it: the CAS fails, the
  // entry is dropped and the increment retried, so every reply is exact.
  StartOther();
  for (int i = 1; i <= 100; ++i) {
    redisContext* c = (i % 2) != 0 ? redis_.get() : other_redis_.get();
    ASSERT_EQ(Run(c, {"INCR", "counter"}), ":" + std::to_string(i));
  }
  EXPECT_GE(WaitForValue("counter", "$100").count(), 0);
}

TEST_F(ReadCache, OtherDatabasesAreCachedSeparately) {
  ASSERT_EQ(Run(redis_.get(), {"SET", "k", "db0"}), "+OK");
  ASSERT_EQ(Run(redis_.get(), {"SELECT", "3"}), "+OK");
  EXPECT_EQ(Run(redis_.get(), {"GET", "k"}), "(nil)");
  ASSERT_EQ(Run(redis_.get(), {"SET", "k", "db3"}), "+OK");
  EXPECT_EQ(Run(redis_.get(), {"GET", "k"}), "$db3");
  ASSERT_EQ(Run(redis_.get(), {"SELECT", "0"}), "+OK");
  EXPECT_EQ(Run(redis_.get(), {"GET", "k"}), "$db0");
}

}  // namespace
}  // namespace integration
