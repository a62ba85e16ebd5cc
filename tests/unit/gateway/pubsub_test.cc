// SPDX-License-Identifier: Apache-2.0
//
// Pub/sub through the session and PubSub with the fake backend's message bus: reply shapes of
// Redis 7.0.15 (checked against redis-server by tests/integration/parity/parity_pubsub.py),
// subscribed mode, the NATS subject mapping, confirmation before the reply, and the pubsub
// output buffer limit.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <thread>
#include <string>
#include <vector>

#include "gateway/pubsub.h"
#include "tests/unit/gateway/gateway_fixture.h"

namespace gateway {
namespace {

using testing_support::EncodeRequest;
using testing_support::FakeTransport;
using testing_support::GatewayTest;
using test_support::DebugString;
using test_support::RespValue;

// A second client on the same server.
struct Client {
  FakeTransport transport;
  std::unique_ptr<Session> session;

  Client(ServerContext& ctx) {
    session = std::make_unique<Session>(&ctx, &transport, ctx.NextClientId(), "127.0.0.1:1",
                                        "127.0.0.1:6379");
  }
  void Send(const std::vector<std::string>& args) { session->Feed(EncodeRequest(args)); }
  std::vector<std::string> Take() {
    std::vector<std::string> out;
    for (const RespValue& v : test_support::DecodeAll(transport.TakeSent())) {
      out.push_back(DebugString(v));
    }
    return out;
  }
};

class PubSubTest : public GatewayTest {
 protected:
  std::vector<std::string> RunAll(const std::vector<std::string>& args) {
    Send(args);
    Drain();
    return Take();
  }
  std::vector<std::string> Take() {
    std::vector<std::string> out;
    for (const RespValue& v : TakeReplies()) out.push_back(DebugString(v));
    return out;
  }
  kvmap::FakeKvBackend::FakeBus& bus() { return backend_.fake_bus(); }
};

TEST_F(PubSubTest, SubscribeRepliesOneFramePerChannelCountingNewOnes) {
  EXPECT_EQ(RunAll({"subscribe", "a", "b", "a"}),
            (std::vector<std::string>{R"(["subscribe", "a", :1])", R"(["subscribe", "b", :2])",
                                      R"(["subscribe", "a", :2])"}));
  EXPECT_EQ(RunAll({"psubscribe", "x*"}),
            (std::vector<std::string>{R"(["psubscribe", "x*", :3])"}));
  EXPECT_EQ(RunAll({"unsubscribe", "b", "zz"}),
            (std::vector<std::string>{R"(["unsubscribe", "b", :2])",
                                      R"(["unsubscribe", "zz", :2])"}));
  EXPECT_EQ(RunAll({"unsubscribe"}),
            (std::vector<std::string>{R"(["unsubscribe", "a", :1])"}));
  EXPECT_EQ(RunAll({"punsubscribe"}),
            (std::vector<std::string>{R"(["punsubscribe", "x*", :0])"}));
  // With nothing left, one frame with a null name.
  EXPECT_EQ(RunAll({"unsubscribe"}),
            (std::vector<std::string>{R"(["unsubscribe", (nil), :0])"}));
}

TEST_F(PubSubTest, Resp2SubscribedModeAllowsOnlyPubSubCommands) {
  RunAll({"subscribe", "a"});
  EXPECT_EQ(RunAll({"get", "k"}),
            (std::vector<std::string>{
                "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / "
                "RESET are allowed in this context"}));
  EXPECT_EQ(RunAll({"ping"}), (std::vector<std::string>{R"(["pong", ""])"}));
  EXPECT_EQ(RunAll({"ping", "hi"}), (std::vector<std::string>{R"(["pong", "hi"])"}));
  RunAll({"unsubscribe"});
  EXPECT_EQ(RunAll({"ping"}), (std::vector<std::string>{"+PONG"}));
}

TEST_F(PubSubTest, Resp3AllowsAnyCommandAndUsesPushFrames) {
  RunAll({"hello", "3"});
  std::vector<std::string> r = RunAll({"subscribe", "a"});
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0], R"(>["subscribe", "a", :1])");
  EXPECT_EQ(RunAll({"ping"}), (std::vector<std::string>{"+PONG"}));
  EXPECT_EQ(RunAll({"echo", "x"}), (std::vector<std::string>{R"("x")"}));
  Client other(server());
  other.Send({"publish", "a", "m"});
  Drain();
  EXPECT_EQ(other.Take(), (std::vector<std::string>{":1"}));
  EXPECT_EQ(Take(), (std::vector<std::string>{R"(>["message", "a", "m"])"}));
}

TEST_F(PubSubTest, PublishDeliversToChannelsThenPatternsAndCountsReceivers) {
  RunAll({"subscribe", "news:tech"});
  RunAll({"psubscribe", "news:*", "other*"});
  Client pub(server());
  pub.Send({"publish", "news:tech", "hello"});
  Drain();
  EXPECT_EQ(pub.Take(), (std::vector<std::string>{":2"}));
  EXPECT_EQ(Take(), (std::vector<std::string>{R"(["message", "news:tech", "hello"])",
                                              R"(["pmessage", "news:*", "news:tech", "hello"])"}));
  // The message also goes to NATS, on the channel's subject.
  ASSERT_EQ(bus().published().size(), 1u);
  EXPECT_EQ(bus().published()[0].first, "redis.pubsub.news.tech");
  EXPECT_EQ(bus().published()[0].second, "hello");
  pub.Send({"publish", "nobody", "x"});
  Drain();
  EXPECT_EQ(pub.Take(), (std::vector<std::string>{":0"}));
}

TEST_F(PubSubTest, NatsMessagesReachChannelAndPatternSubscribers) {
  RunAll({"subscribe", "news:tech"});
  RunAll({"psubscribe", "news:t*"});
  std::vector<std::string> subjects = bus().subjects();
  EXPECT_EQ(subjects, (std::vector<std::string>{"redis.pubsub.news.tech", "redis.pubsub.news.>"}));
  // A native NATS publisher on the channel's subject.
  EXPECT_EQ(bus().Inject("redis.pubsub.news.tech", "n1"), 2u);
  Drain();
  EXPECT_EQ(Take(), (std::vector<std::string>{R"(["message", "news:tech", "n1"])",
                                              R"(["pmessage", "news:t*", "news:tech", "n1"])"}));
  // The wildcard subscription hears news.sport too, but the glob filters it out locally.
  EXPECT_EQ(bus().Inject("redis.pubsub.news.sport", "n2"), 1u);
  EXPECT_EQ(bus().Inject("redis.pubsub.news.tv", "n3"), 1u);
  Drain();
  EXPECT_EQ(Take(), (std::vector<std::string>{R"(["pmessage", "news:t*", "news:tv", "n3"])"}));
  // Channel names go through the key codec: a space is =20.
  RunAll({"subscribe", "a b"});
  EXPECT_EQ(bus().Inject("redis.pubsub.a=20b", "n4"), 1u);
  Drain();
  EXPECT_EQ(Take(), (std::vector<std::string>{R"(["message", "a b", "n4"])"}));
}

TEST_F(PubSubTest, SubscribeRepliesOnlyAfterNatsConfirmsAndKeepsEarlyMessages) {
  bus().set_hold_confirmations(true);
  Send({"subscribe", "c"});
  Drain();
  EXPECT_TRUE(Take().empty());  // not confirmed yet: no reply
  // A message that arrives between the SUB and its confirmation is kept, after the reply.
  bus().Inject("redis.pubsub.c", "early");
  Drain();
  EXPECT_TRUE(Take().empty());
  bus().ReleaseConfirmations();
  Drain();
  EXPECT_EQ(Take(), (std::vector<std::string>{R"(["subscribe", "c", :1])",
                                              R"(["message", "c", "early"])"}));
  // One NATS subscription serves every subscriber of a subject.
  Client other(server());
  other.Send({"subscribe", "c"});
  Drain();
  EXPECT_EQ(other.Take(), (std::vector<std::string>{R"(["subscribe", "c", :1])"}));
  EXPECT_EQ(bus().subjects().size(), 1u);
}

TEST_F(PubSubTest, UnconfirmedSubscribeFailsAndIsUndone) {
  backend_.set_connected(false);
  std::vector<std::string> r = RunAll({"subscribe", "c"});
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].substr(0, 1), "-");
  EXPECT_EQ(session().subscription_count(), 0u);
  EXPECT_TRUE(bus().subjects().empty());
  // Not in subscribed mode: other commands work.
  EXPECT_EQ(RunAll({"ping"}), (std::vector<std::string>{"+PONG"}));
}

TEST_F(PubSubTest, UnsubscribeReleasesTheNatsSubscriptionWithTheLastSubscriber) {
  RunAll({"subscribe", "c"});
  Client other(server());
  other.Send({"subscribe", "c"});
  Drain();
  RunAll({"unsubscribe", "c"});
  EXPECT_EQ(bus().subjects().size(), 1u);
  other.session.reset();  // a closed client is removed
  EXPECT_TRUE(bus().subjects().empty());
}

TEST_F(PubSubTest, KeyspaceChannelsDoNotSubscribeOnNats) {
  RunAll({"subscribe", "__keyspace@0__:k", "__keyevent@0__:set"});
  RunAll({"psubscribe", "__keyspace@*"});
  EXPECT_TRUE(bus().subjects().empty());
  EXPECT_TRUE(server().pubsub().WantsKeyspaceEvents(0));
  EXPECT_TRUE(server().pubsub().WantsKeyspaceEvents(5));  // the pattern matches every db
  EXPECT_EQ(server().pubsub().DeliverLocal("__keyspace@0__:k", "set"), 2);
}

TEST_F(PubSubTest, WantsKeyspaceEventsFollowsSubscriptions) {
  EXPECT_FALSE(server().pubsub().WantsKeyspaceEvents(0));
  RunAll({"subscribe", "__keyevent@1__:del"});
  EXPECT_FALSE(server().pubsub().WantsKeyspaceEvents(0));
  EXPECT_TRUE(server().pubsub().WantsKeyspaceEvents(1));
  RunAll({"psubscribe", "*"});
  EXPECT_TRUE(server().pubsub().WantsKeyspaceEvents(0));
}

TEST_F(PubSubTest, PatternSubjects) {
  PubSub& ps = server().pubsub();
  EXPECT_EQ(ps.SubjectForPattern("news:*").subject, "redis.pubsub.news.>");
  EXPECT_EQ(ps.SubjectForPattern("news:tech:*").subject, "redis.pubsub.news.tech.>");
  EXPECT_EQ(ps.SubjectForPattern("news:te*").subject, "redis.pubsub.news.>");
  EXPECT_EQ(ps.SubjectForPattern("news*").subject, "redis.pubsub.>");
  EXPECT_EQ(ps.SubjectForPattern("n\\*:x").subject, "redis.pubsub.>");
  PatternSubject exact = ps.SubjectForPattern("news:tech");
  EXPECT_TRUE(exact.is_exact);
  EXPECT_EQ(exact.subject, "redis.pubsub.news.tech");
  EXPECT_EQ(ps.SubjectFor(""), "redis.pubsub.=");
  EXPECT_EQ(ps.ChannelFor("redis.pubsub.a.=.b"), "a::b");
  EXPECT_EQ(ps.ChannelFor("redis.pubsub.=41"), std::nullopt);  // not canonical
  EXPECT_EQ(ps.ChannelFor("other.a"), std::nullopt);
  EXPECT_EQ(ps.KeyspaceDatabasesFor("__keyspace@1__:*"), (std::vector<int>{1}));
  EXPECT_EQ(ps.KeyspaceDatabasesFor("__keyevent@1?__:*"),
            (std::vector<int>{10, 11, 12, 13, 14, 15}));
  EXPECT_TRUE(ps.KeyspaceDatabasesFor("news:*").empty());
}

TEST_F(PubSubTest, PubsubIntrospection) {
  RunAll({"subscribe", "a", "b"});
  RunAll({"psubscribe", "p*"});
  Client other(server());
  other.Send({"subscribe", "a"});
  other.Send({"psubscribe", "p*", "q*"});
  Drain();
  Client admin(server());
  admin.Send({"pubsub", "channels"});
  admin.Send({"pubsub", "channels", "a*"});
  admin.Send({"pubsub", "numsub", "a", "b", "c"});
  admin.Send({"pubsub", "numpat"});
  Drain();
  EXPECT_EQ(admin.Take(), (std::vector<std::string>{R"(["a", "b"])", R"(["a"])",
                                                    R"(["a", :2, "b", :1, "c", :0])", ":2"}));
}

TEST_F(PubSubTest, ResetUnsubscribes) {
  RunAll({"subscribe", "a"});
  RunAll({"psubscribe", "b*"});
  EXPECT_EQ(RunAll({"reset"}), (std::vector<std::string>{"+RESET"}));
  EXPECT_EQ(session().subscription_count(), 0u);
  EXPECT_EQ(server().pubsub().NumPatterns(), 0);
  EXPECT_EQ(RunAll({"ping"}), (std::vector<std::string>{"+PONG"}));
}

TEST_F(PubSubTest, SubscriberOverTheHardLimitIsClosedAtOnce) {
  config_.pubsub_output_limit = OutputBufferLimit{1000, 0, 0};
  RunAll({"subscribe", "c"});
  transport_.set_unsent_bytes(990);  // the client stopped reading
  Client pub(server());
  pub.Send({"publish", "c", std::string(100, 'x')});
  Drain();
  EXPECT_EQ(transport_.events().back(), "close-now");
  EXPECT_TRUE(session().is_closing());
}

TEST_F(PubSubTest, SubscriberOverTheSoftLimitIsClosedOnlyAfterItsSeconds) {
  config_.pubsub_output_limit = OutputBufferLimit{0, 1000, 0};
  RunAll({"subscribe", "c"});
  transport_.set_unsent_bytes(2000);
  Client pub(server());
  pub.Send({"publish", "c", "m1"});  // first time over: the clock starts
  Drain();
  EXPECT_FALSE(session().is_closing());
  pub.Send({"publish", "c", "m2"});  // still over, but for less than a whole second
  Drain();
  EXPECT_FALSE(session().is_closing());
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  pub.Send({"publish", "c", "m3"});  // over for more than soft_seconds (0): closed
  Drain();
  EXPECT_TRUE(session().is_closing());
}

TEST_F(PubSubTest, SoftLimitClockResetsWhenTheClientCatchesUp) {
  config_.pubsub_output_limit = OutputBufferLimit{0, 1000, 0};
  RunAll({"subscribe", "c"});
  Client pub(server());
  transport_.set_unsent_bytes(2000);
  pub.Send({"publish", "c", "m1"});
  Drain();
  transport_.set_unsent_bytes(0);
  pub.Send({"publish", "c", "m2"});
  Drain();
  transport_.set_unsent_bytes(2000);
  pub.Send({"publish", "c", "m3"});
  Drain();
  EXPECT_FALSE(session().is_closing());
}

TEST_F(PubSubTest, PublishWaitsWhileTheNatsBacklogIsLarge) {
  RunAll({"subscribe", "c"});
  bus().set_backlog(PubSub::kBacklogHigh);
  Client pub(server());
  pub.Send({"publish", "c", "m1"});
  pub.Send({"publish", "c", "m2"});
  Drain();
  EXPECT_TRUE(pub.Take().empty());
  EXPECT_TRUE(Take().empty());  // nothing delivered out of order either
  bus().set_backlog(0);
  Drain();
  EXPECT_EQ(pub.Take(), (std::vector<std::string>{":1", ":1"}));
  EXPECT_EQ(Take(), (std::vector<std::string>{R"(["message", "c", "m1"])",
                                              R"(["message", "c", "m2"])"}));
}

TEST_F(PubSubTest, ClientListShowsSubscriptions) {
  RunAll({"subscribe", "a", "b"});
  RunAll({"psubscribe", "c*"});
  Client admin(server());
  admin.Send({"client", "list"});
  Drain();
  std::vector<std::string> r = admin.Take();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_NE(r[0].find("flags=P db=0 sub=2 psub=1"), std::string::npos) << r[0];
}

TEST_F(PubSubTest, WithoutABusChannelsStayLocal) {
  backend_.set_bus_enabled(false);
  RunAll({"subscribe", "c"});
  Client pub(server());
  pub.Send({"publish", "c", "m"});
  Drain();
  EXPECT_EQ(pub.Take(), (std::vector<std::string>{":1"}));
  EXPECT_EQ(Take(), (std::vector<std::string>{R"(["message", "c", "m"])"}));
}

TEST_F(PubSubTest, ClientReplyOffSilencesRepliesButNotPushes) {
  EXPECT_TRUE(RunAll({"client", "reply", "off"}).empty());
  EXPECT_TRUE(RunAll({"echo", "x"}).empty());
  EXPECT_TRUE(RunAll({"nosuchcommand"}).empty());
  EXPECT_EQ(RunAll({"subscribe", "c"}), (std::vector<std::string>{R"(["subscribe", "c", :1])"}));
  Client pub(server());
  pub.Send({"publish", "c", "m"});
  Drain();
  EXPECT_EQ(Take(), (std::vector<std::string>{R"(["message", "c", "m"])"}));
  EXPECT_EQ(RunAll({"unsubscribe", "c"}),
            (std::vector<std::string>{R"(["unsubscribe", "c", :0])"}));
  EXPECT_EQ(RunAll({"client", "reply", "on"}), (std::vector<std::string>{"+OK"}));
  EXPECT_EQ(RunAll({"echo", "y"}), (std::vector<std::string>{R"("y")"}));
}

TEST_F(PubSubTest, ClientReplySkipSilencesOnlyTheNextCommand) {
  Send({"client", "reply", "skip"});
  Send({"echo", "a"});
  Send({"echo", "b"});
  Drain();
  EXPECT_EQ(Take(), (std::vector<std::string>{R"("b")"}));
  EXPECT_EQ(RunAll({"client", "reply", "maybe"}), (std::vector<std::string>{"-ERR syntax error"}));
}

TEST_F(PubSubTest, Resp3PublishToOwnChannelPushesBeforeTheReply) {
  RunAll({"hello", "3"});
  RunAll({"subscribe", "self"});
  EXPECT_EQ(RunAll({"publish", "self", "me"}),
            (std::vector<std::string>{R"(>["message", "self", "me"])", ":1"}));
}

TEST_F(PubSubTest, PublishLargerThanNatsMaxPayloadIsRefused) {
  backend_.set_max_payload(1000);
  RunAll({"subscribe", "c"});
  Client pub(server());
  pub.Send({"publish", "c", std::string(1001, 'x')});
  pub.Send({"publish", "c", std::string(1000, 'y')});
  Drain();
  std::vector<std::string> r = pub.Take();
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0], "-ERR message too large for NATS (max_payload is 1000 bytes)");
  EXPECT_EQ(r[1], ":1");
  EXPECT_EQ(bus().published().size(), 1u);
}

TEST_F(PubSubTest, EmptyChannelMatchesNoPattern) {
  RunAll({"psubscribe", "*"});
  Client pub(server());
  pub.Send({"publish", "", "x"});
  Drain();
  EXPECT_EQ(pub.Take(), (std::vector<std::string>{":0"}));
  EXPECT_TRUE(Take().empty());
}

TEST_F(PubSubTest, InfoCountsChannelsPatternsAndSubscribers) {
  RunAll({"subscribe", "a", "b"});
  RunAll({"psubscribe", "p*"});
  Client admin(server());
  admin.Send({"info"});
  Drain();
  std::vector<RespValue> r = test_support::DecodeAll(admin.transport.TakeSent());
  ASSERT_EQ(r.size(), 1u);
  EXPECT_NE(r[0].str.find("pubsub_clients:1\r\n"), std::string::npos);
  EXPECT_NE(r[0].str.find("pubsub_channels:2\r\n"), std::string::npos);
  EXPECT_NE(r[0].str.find("pubsub_patterns:1\r\n"), std::string::npos);
}

}  // namespace
}  // namespace gateway
