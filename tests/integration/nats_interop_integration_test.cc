// SPDX-License-Identifier: Apache-2.0
//
// A native NATS application (nats.c, blocking kvStore API) and a Redis client see the same data:
// values are stored as the bare payload and keys map to readable NATS keys (DESIGN.md
// decisions 3 and 4).
#include <gtest/gtest.h>
#include <nats/nats.h>

#include "tests/integration/gateway_fixture.h"

namespace integration {
namespace {

class NatsInterop : public GatewayFixture {
 protected:
  void SetUp() override {
    GatewayFixture::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_EQ(natsConnection_ConnectTo(&nc_, nats_.url().c_str()), NATS_OK)
        << nats_GetLastError(nullptr);
    ASSERT_EQ(natsConnection_JetStream(&js_, nc_, nullptr), NATS_OK);
    // The gateway creates its database-0 bucket at start-up.
    ASSERT_EQ(js_KeyValue(&kv_, js_, BucketName().c_str()), NATS_OK)
        << "bucket " << BucketName() << ": " << nats_GetLastError(nullptr);
    redis_ = Connect(gateway_.port());
    ASSERT_TRUE(redis_);
  }

  void TearDown() override {
    if (kv_ != nullptr) kvStore_Destroy(kv_);
    if (js_ != nullptr) jsCtx_Destroy(js_);
    if (nc_ != nullptr) natsConnection_Destroy(nc_);
    GatewayFixture::TearDown();
  }

  // The value of `nats_key` read natively; "<status text>" when the get fails.
  std::string NativeGet(const std::string& nats_key) {
    kvEntry* e = nullptr;
    natsStatus s = kvStore_Get(&e, kv_, nats_key.c_str());
    if (s != NATS_OK) return std::string("<") + natsStatus_GetText(s) + ">";
    std::string value(static_cast<const char*>(kvEntry_Value(e)),
                      static_cast<size_t>(kvEntry_ValueLen(e)));
    kvEntry_Destroy(e);
    return value;
  }

  natsConnection* nc_ = nullptr;
  jsCtx* js_ = nullptr;
  kvStore* kv_ = nullptr;
  RedisPtr redis_;
};

std::string AllByteValues() {
  std::string v;
  for (int b = 0; b < 256; ++b) v.push_back(static_cast<char>(b));
  return v;
}

TEST_F(NatsInterop, RedisSetIsReadableNatively) {
  ASSERT_EQ(Run(redis_.get(), {"SET", "user:1", "hello"}), "+OK");
  EXPECT_EQ(NativeGet("user.1"), "hello");
}

TEST_F(NatsInterop, NativePutIsReadableThroughRedis) {
  uint64_t rev = 0;
  ASSERT_EQ(kvStore_PutString(&rev, kv_, "user.2", "world"), NATS_OK);
  EXPECT_EQ(Run(redis_.get(), {"GET", "user:2"}), "$world");
  EXPECT_EQ(Run(redis_.get(), {"EXISTS", "user:2"}), ":1");
}

TEST_F(NatsInterop, NativeDeleteIsSeenThroughRedis) {
  ASSERT_EQ(Run(redis_.get(), {"SET", "user:3", "x"}), "+OK");
  ASSERT_EQ(kvStore_Delete(kv_, "user.3"), NATS_OK);
  EXPECT_EQ(Run(redis_.get(), {"GET", "user:3"}), "(nil)");
  EXPECT_EQ(Run(redis_.get(), {"EXISTS", "user:3"}), ":0");
}

TEST_F(NatsInterop, RedisDelIsSeenNatively) {
  ASSERT_EQ(Run(redis_.get(), {"SET", "user:4", "x"}), "+OK");
  ASSERT_EQ(Run(redis_.get(), {"DEL", "user:4"}), ":1");
  EXPECT_EQ(NativeGet("user.4"), "<" + std::string(natsStatus_GetText(NATS_NOT_FOUND)) + ">");
}

TEST_F(NatsInterop, AllByteValuesRoundTripFromRedisToNats) {
  std::string value = AllByteValues();
  ASSERT_EQ(Run(redis_.get(), {"SET", "bin:r", value}), "+OK");
  EXPECT_EQ(NativeGet("bin.r"), value);
}

TEST_F(NatsInterop, AllByteValuesRoundTripFromNatsToRedis) {
  std::string value = AllByteValues();
  uint64_t rev = 0;
  ASSERT_EQ(kvStore_Put(&rev, kv_, "bin.n", value.data(), static_cast<int>(value.size())), NATS_OK);
  EXPECT_EQ(Run(redis_.get(), {"GET", "bin:n"}), "$" + value);
}

TEST_F(NatsInterop, SpecialBytesInKeysAreEscaped) {
  ASSERT_EQ(Run(redis_.get(), {"SET", "a b\xff", "special"}), "+OK");
  EXPECT_EQ(NativeGet("a=20b=FF"), "special");
  uint64_t rev = 0;
  ASSERT_EQ(kvStore_PutString(&rev, kv_, "x=2Ay", "star"), NATS_OK);
  EXPECT_EQ(Run(redis_.get(), {"GET", "x*y"}), "$star");
}

TEST_F(NatsInterop, EmptyTokenKeysUseTheEqualsSign) {
  ASSERT_EQ(Run(redis_.get(), {"SET", "user:", "trailing"}), "+OK");
  EXPECT_EQ(NativeGet("user.="), "trailing");
}

// WATCH sees revisions, so a native NATS writer aborts a transaction like any Redis client.
TEST_F(NatsInterop, NativeWriteToAWatchedKeyAbortsExec) {
  ASSERT_EQ(Run(redis_.get(), {"SET", "acct:1", "100"}), "+OK");
  ASSERT_EQ(Run(redis_.get(), {"WATCH", "acct:1"}), "+OK");
  ASSERT_EQ(kvStore_PutString(nullptr, kv_, "acct.1", "90"), NATS_OK);
  ASSERT_EQ(Run(redis_.get(), {"MULTI"}), "+OK");
  ASSERT_EQ(Run(redis_.get(), {"SET", "acct:1", "50"}), "+QUEUED");
  EXPECT_EQ(Run(redis_.get(), {"EXEC"}), "(nil)");
  EXPECT_EQ(NativeGet("acct.1"), "90");
  // A native delete aborts too; an untouched key lets EXEC run.
  ASSERT_EQ(Run(redis_.get(), {"WATCH", "acct:1"}), "+OK");
  ASSERT_EQ(kvStore_Delete(kv_, "acct.1"), NATS_OK);
  ASSERT_EQ(Run(redis_.get(), {"MULTI"}), "+OK");
  ASSERT_EQ(Run(redis_.get(), {"SET", "acct:1", "50"}), "+QUEUED");
  EXPECT_EQ(Run(redis_.get(), {"EXEC"}), "(nil)");
  ASSERT_EQ(Run(redis_.get(), {"WATCH", "acct:1"}), "+OK");
  ASSERT_EQ(Run(redis_.get(), {"MULTI"}), "+OK");
  ASSERT_EQ(Run(redis_.get(), {"SET", "acct:1", "50"}), "+QUEUED");
  EXPECT_EQ(Run(redis_.get(), {"EXEC"}), "*1[+OK]");
  EXPECT_EQ(NativeGet("acct.1"), "50");
}

}  // namespace
}  // namespace integration
