// SPDX-License-Identifier: Apache-2.0
//
// Pub/sub and keyspace notifications against a real nats-server, with a native nats.c client on
// the other side (DESIGN.md decision 8): Redis channels are NATS subjects, and keyspace events
// come from the bucket follower, so native KV writes produce them too.
#include <gtest/gtest.h>
#include <nats/nats.h>

#include <chrono>
#include <string>
#include <thread>

#include "tests/integration/gateway_fixture.h"

namespace integration {
namespace {

class PubSubIntegration : public GatewayFixture {
 protected:
  void SetUp() override {
    GatewayFixture::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_EQ(natsConnection_ConnectTo(&nc_, nats_.url().c_str()), NATS_OK)
        << nats_GetLastError(nullptr);
    ASSERT_EQ(natsConnection_JetStream(&js_, nc_, nullptr), NATS_OK);
    ASSERT_EQ(js_KeyValue(&kv_, js_, BucketName().c_str()), NATS_OK);
    redis_ = Connect(gateway_.port());
    ASSERT_TRUE(redis_);
  }

  void TearDown() override {
    if (kv_ != nullptr) kvStore_Destroy(kv_);
    if (js_ != nullptr) jsCtx_Destroy(js_);
    if (nc_ != nullptr) natsConnection_Destroy(nc_);
    GatewayFixture::TearDown();
  }

  // A connection subscribed to `channels` (the confirmations read).
  RedisPtr Subscriber(int port, const std::vector<std::string>& channels,
                      const char* verb = "SUBSCRIBE") {
    RedisPtr c = Connect(port, 3000);
    if (!c) return c;
    std::vector<std::string> argv{verb};
    argv.insert(argv.end(), channels.begin(), channels.end());
    if (Append(c.get(), argv) != REDIS_OK) return nullptr;
    for (size_t i = 0; i < channels.size(); ++i) {
      ReplyPtr r = NextReply(c.get());
      if (!r) return nullptr;
    }
    return c;
  }

  // The next pushed message as a line, or "<no reply: ...>" after the connection's timeout.
  std::string NextMessage(redisContext* c) {
    ReplyPtr r = NextReply(c);
    return Show(r.get(), c);
  }

  natsConnection* nc_ = nullptr;
  jsCtx* js_ = nullptr;
  kvStore* kv_ = nullptr;
  RedisPtr redis_;
};

TEST_F(PubSubIntegration, NativeNatsPublisherReachesRedisSubscribers) {
  RedisPtr sub = Subscriber(gateway_.port(), {"news:tech"});
  ASSERT_TRUE(sub);
  ASSERT_EQ(natsConnection_PublishString(nc_, "redis.pubsub.news.tech", "hello"), NATS_OK);
  ASSERT_EQ(natsConnection_Flush(nc_), NATS_OK);
  EXPECT_EQ(NextMessage(sub.get()), "*3[$message, $news:tech, $hello]");
}

TEST_F(PubSubIntegration, RedisPublishReachesNativeNatsSubscribers) {
  natsSubscription* ns = nullptr;
  ASSERT_EQ(natsConnection_SubscribeSync(&ns, nc_, "redis.pubsub.>"), NATS_OK);
  ASSERT_EQ(natsConnection_Flush(nc_), NATS_OK);
  // No Redis subscriber here: PUBLISH counts this gateway's receivers only.
  EXPECT_EQ(Run(redis_.get(), {"PUBLISH", "orders:eu", "o-1"}), ":0");
  natsMsg* m = nullptr;
  ASSERT_EQ(natsSubscription_NextMsg(&m, ns, 3000), NATS_OK);
  EXPECT_STREQ(natsMsg_GetSubject(m), "redis.pubsub.orders.eu");
  EXPECT_EQ(std::string(natsMsg_GetData(m), natsMsg_GetDataLength(m)), "o-1");
  natsMsg_Destroy(m);
  natsSubscription_Destroy(ns);
}

TEST_F(PubSubIntegration, NativeKvPutGivesKeyspaceSetAndDeleteGivesDel) {
  ASSERT_EQ(Run(redis_.get(), {"CONFIG", "SET", "notify-keyspace-events", "KA"}), "+OK");
  RedisPtr sub = Subscriber(gateway_.port(), {"__keyspace@0__:cfg:flag"});
  ASSERT_TRUE(sub);
  ASSERT_EQ(kvStore_PutString(nullptr, kv_, "cfg.flag", "on"), NATS_OK);
  EXPECT_EQ(NextMessage(sub.get()), "*3[$message, $__keyspace@0__:cfg:flag, $set]");
  ASSERT_EQ(kvStore_Delete(kv_, "cfg.flag"), NATS_OK);
  EXPECT_EQ(NextMessage(sub.get()), "*3[$message, $__keyspace@0__:cfg:flag, $del]");
  ASSERT_EQ(kvStore_PutString(nullptr, kv_, "cfg.flag", "off"), NATS_OK);
  EXPECT_EQ(NextMessage(sub.get()), "*3[$message, $__keyspace@0__:cfg:flag, $set]");
  ASSERT_EQ(kvStore_Purge(kv_, "cfg.flag", nullptr), NATS_OK);
  EXPECT_EQ(NextMessage(sub.get()), "*3[$message, $__keyspace@0__:cfg:flag, $del]");
}

TEST_F(PubSubIntegration, SetWithExpiryGivesSetThenExpireAndNewWhenAsked) {
  ASSERT_EQ(Run(redis_.get(), {"CONFIG", "SET", "notify-keyspace-events", "KEA"}), "+OK");
  RedisPtr sub = Subscriber(gateway_.port(), {"__keyevent@0__:*"}, "PSUBSCRIBE");
  ASSERT_TRUE(sub);
  ASSERT_EQ(Run(redis_.get(), {"SET", "k1", "v", "EX", "100"}), "+OK");
  EXPECT_EQ(NextMessage(sub.get()), "*4[$pmessage, $__keyevent@0__:*, $__keyevent@0__:set, $k1]");
  EXPECT_EQ(NextMessage(sub.get()),
            "*4[$pmessage, $__keyevent@0__:*, $__keyevent@0__:expire, $k1]");
  ASSERT_EQ(Run(redis_.get(), {"CONFIG", "SET", "notify-keyspace-events", "KEAn"}), "+OK");
  ASSERT_EQ(Run(redis_.get(), {"SET", "k2", "v"}), "+OK");
  EXPECT_EQ(NextMessage(sub.get()), "*4[$pmessage, $__keyevent@0__:*, $__keyevent@0__:new, $k2]");
  EXPECT_EQ(NextMessage(sub.get()), "*4[$pmessage, $__keyevent@0__:*, $__keyevent@0__:set, $k2]");
}

TEST_F(PubSubIntegration, NotifySettingIsSharedAndHistoryIsNotReplayed) {
  // Keys written before the second gateway starts are history: its follower replays them at
  // start-up and must not announce them.
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(Run(redis_.get(), {"SET", "old:" + std::to_string(i), "v"}), "+OK");
  }
  ASSERT_EQ(Run(redis_.get(), {"CONFIG", "SET", "notify-keyspace-events", "E$"}), "+OK");
  test_support::Gateway second;
  test_support::TempDir dir;
  ASSERT_EQ(StartAnotherGateway(&second, dir.path()), "");
  RedisPtr other = Connect(second.port());
  ASSERT_TRUE(other);
  // The setting came from the config bucket, not from a flag (shown in Redis's order).
  std::string shown;
  for (int i = 0; i < 100; ++i) {
    shown = Run(other.get(), {"CONFIG", "GET", "notify-keyspace-events"});
    if (shown == "*2[$notify-keyspace-events, $$E]") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(shown, "*2[$notify-keyspace-events, $$E]");
  RedisPtr sub = Subscriber(second.port(), {"__keyevent@0__:set"});
  ASSERT_TRUE(sub);
  // A write through the FIRST gateway is announced by the second one's follower.
  ASSERT_EQ(Run(redis_.get(), {"SET", "fresh", "v"}), "+OK");
  EXPECT_EQ(NextMessage(sub.get()), "*3[$message, $__keyevent@0__:set, $fresh]");
  // Nothing else (no replayed old:* keys) is pending.
  redisSetTimeout(sub.get(), timeval{0, 300000});
  EXPECT_EQ(NextMessage(sub.get()).substr(0, 10), "<no reply:");
  EXPECT_EQ(second.Stop(), "exit 0");
}

TEST_F(PubSubIntegration, ActiveExpiryGivesExpired) {
  ASSERT_EQ(Run(redis_.get(), {"CONFIG", "SET", "notify-keyspace-events", "Ex"}), "+OK");
  RedisPtr sub = Subscriber(gateway_.port(), {"__keyevent@0__:expired"});
  ASSERT_TRUE(sub);
  ASSERT_EQ(Run(redis_.get(), {"SET", "short", "v", "PX", "100"}), "+OK");
  EXPECT_EQ(NextMessage(sub.get()), "*3[$message, $__keyevent@0__:expired, $short]");
}

TEST_F(PubSubIntegration, SubscriptionsSurviveANatsRestart) {
  ASSERT_EQ(Run(redis_.get(), {"CONFIG", "SET", "notify-keyspace-events", "E$"}), "+OK");
  RedisPtr sub = Subscriber(gateway_.port(), {"svc:ch", "__keyevent@0__:set"});
  ASSERT_TRUE(sub);
  natsConnection_Destroy(nc_);
  nc_ = nullptr;
  nats_.Kill(SIGKILL);
  ASSERT_EQ(nats_.Restart(), "");
  ASSERT_EQ(natsConnection_ConnectTo(&nc_, nats_.url().c_str()), NATS_OK);
  // Writes work again once the gateway has reconnected.
  std::string set;
  for (int i = 0; i < 100 && set != "+OK"; ++i) {
    set = Run(redis_.get(), {"SET", "after", "v"});
    if (set != "+OK") std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(set, "+OK");
  // The gateway subscribed again on the new connection: a native publish reaches the Redis
  // subscriber, and the follower's events resume (the SET above included).
  redisSetTimeout(sub.get(), timeval{0, 200000});
  bool heard_channel = false, heard_event = false;
  for (int i = 0; i < 50 && !(heard_channel && heard_event); ++i) {
    if (!heard_channel) {
      ASSERT_EQ(natsConnection_PublishString(nc_, "redis.pubsub.svc.ch", "back"), NATS_OK);
      natsConnection_Flush(nc_);
    }
    std::string m = NextMessage(sub.get());
    if (m == "*3[$message, $svc:ch, $back]") heard_channel = true;
    if (m == "*3[$message, $__keyevent@0__:set, $after]") heard_event = true;
    if (m.rfind("<no reply", 0) == 0) {
      // A timeout leaves hiredis's context unusable: reconnecting would lose the subscription,
      // so clear the error flag and go on reading.
      sub->err = 0;
      sub->errstr[0] = '\0';
    }
  }
  EXPECT_TRUE(heard_channel);
  EXPECT_TRUE(heard_event);
}

}  // namespace
}  // namespace integration
