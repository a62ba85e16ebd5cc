// SPDX-License-Identifier: Apache-2.0
//
// Keyspace notifications against the fake backend (which reports every applied write as a
// synced follower would):
//   * notify-keyspace-events parsing and formatting, as redis-server 7.0.15 answers CONFIG
//     SET/GET (checked by hand against it);
//   * the Redis-Event header every command writes, in Redis 7.0.15's event names and order
//     (checked against redis-server 7.0.15 with a __keyevent@*__ subscriber);
//   * the shared setting in the config bucket: stored by CONFIG SET and by the start-up flag,
//     adopted at start-up and when another gateway changes it;
//   * delivery through PubSub: keyspace before keyevent, "new", class filtering, native writes.
#include "gateway/keyspace_events.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "gateway/errors.h"
#include "tests/unit/gateway/gateway_fixture.h"

namespace gateway {
namespace {

using test_support::IsArray;
using test_support::IsBulk;
using test_support::IsErr;
using test_support::IsOk;
using testing_support::EncodeRequest;
using testing_support::FakeTransport;
using testing_support::GatewayTest;

// --- flags ---

TEST(KeyspaceEventFlags, ParseAndFormatAsRedis) {
  struct Case {
    const char* in;
    const char* shown;  // CONFIG GET after CONFIG SET in redis-server 7.0.15
  };
  const Case cases[] = {
      {"KEA", "AKE"}, {"KEAnm", "AKEm"}, {"Ag$lshzxetd", "A"}, {"g$lshzxetd", "A"}, {"", ""},
      {"gK", "gK"},   {"n", "n"},        {"$", "$"},           {"Kn", "nK"},        {"Ad", "A"},
      {"Km", "Km"},   {"KEg$", "g$KE"},  {"EK", "KE"},         {"xe", "xe"},        {"AA", "A"},
  };
  for (const Case& c : cases) {
    std::optional<int> flags = ParseKeyspaceEventFlags(c.in);
    ASSERT_TRUE(flags.has_value()) << c.in;
    EXPECT_EQ(FormatKeyspaceEventFlags(*flags), c.shown) << c.in;
  }
  // "A" hides "n" when shown, but the flag stays.
  EXPECT_TRUE(*ParseKeyspaceEventFlags("KEAn") & notify::kNew);
  EXPECT_FALSE(*ParseKeyspaceEventFlags("KEA") & notify::kNew);
  EXPECT_FALSE(*ParseKeyspaceEventFlags("A") & notify::kKeyMiss);
}

TEST(KeyspaceEventFlags, UnknownLettersAreRefused) {
  for (const char* bad : {"xyz", "k", "KEa", " ", "K E", "G"}) {
    EXPECT_FALSE(ParseKeyspaceEventFlags(bad).has_value()) << bad;
  }
}

TEST(KeyspaceEventFlags, EventClasses) {
  EXPECT_EQ(KeyspaceEventClass("new"), notify::kNew);
  EXPECT_EQ(KeyspaceEventClass("expired"), notify::kExpired);
  for (const char* e : {"set", "setrange", "incrby", "incrbyfloat", "append", "setbit"}) {
    EXPECT_EQ(KeyspaceEventClass(e), notify::kString) << e;
  }
  for (const char* e : {"del", "expire", "persist", "rename_from", "rename_to", "copy_to",
                        "move_from", "move_to", "whatever"}) {
    EXPECT_EQ(KeyspaceEventClass(e), notify::kGeneric) << e;
  }
}

// --- the Redis-Event header of each command ---

class EventHeaderTest : public GatewayTest {
 protected:
  void SetUp() override { WarmUp(kvmap::FakeKvBackend::Mode::kImmediate); }

  // Every Redis-Event value of the key's last entry, joined by '|' (so a header carried over
  // from an earlier write shows), or "<none>".
  std::string Events(std::string_view key, std::string_view bucket = kBucket0) const {
    const kvmap::Entry* e = backend_.Latest(bucket, key);
    if (e == nullptr) return "<none>";
    std::string out;
    for (const kvmap::Header& h : e->headers) {
      if (h.first != kvmap::kHdrEvent) continue;
      if (!out.empty()) out += '|';
      out += h.second;
    }
    return out;
  }
};

TEST_F(EventHeaderTest, EachWriteCarriesRedisEventNames) {
  using Args = std::vector<std::string>;
  struct Case {
    std::vector<Args> setup;
    Args command;
    std::string events;  // of key "k"
  };
  const std::vector<Case> cases = {
      {{}, {"set", "k", "v"}, "set"},
      {{}, {"set", "k", "v", "EX", "100"}, "set,expire"},
      {{}, {"set", "k", "v", "PX", "100000"}, "set,expire"},
      {{}, {"set", "k", "v", "EXAT", "99999999999"}, "set,expire"},
      {{}, {"set", "k", "v", "PXAT", "99999999999000"}, "set,expire"},
      {{{"set", "k", "v", "EX", "100"}}, {"set", "k", "v", "KEEPTTL"}, "set"},
      {{}, {"set", "k", "v", "NX"}, "set"},
      {{}, {"set", "k", "v", "NX", "EX", "100"}, "set,expire"},
      {{{"set", "k", "old"}}, {"set", "k", "v", "XX"}, "set"},
      {{{"set", "k", "old"}}, {"set", "k", "v", "GET"}, "set"},
      {{{"set", "k", "old"}}, {"set", "k", "v", "EX", "100", "GET"}, "set,expire"},
      {{}, {"setex", "k", "100", "v"}, "set,expire"},
      {{}, {"psetex", "k", "100000", "v"}, "set,expire"},
      {{}, {"setnx", "k", "v"}, "set"},
      {{}, {"mset", "k", "v", "other", "w"}, "set"},
      {{{"set", "k", "old", "EX", "100"}}, {"getset", "k", "v"}, "set"},
      {{{"set", "k", "v"}}, {"getdel", "k"}, "del"},
      {{{"set", "k", "v"}}, {"getex", "k", "EX", "100"}, "expire"},
      {{{"set", "k", "v", "EX", "100"}}, {"getex", "k", "PERSIST"}, "persist"},
      {{{"set", "k", "v"}}, {"getex", "k", "PXAT", "1"}, "del"},
      {{{"set", "k", "v"}}, {"append", "k", "x"}, "append"},
      {{}, {"incr", "k"}, "incrby"},
      {{}, {"decr", "k"}, "incrby"},
      {{}, {"incrby", "k", "5"}, "incrby"},
      {{}, {"decrby", "k", "5"}, "incrby"},
      {{}, {"incrbyfloat", "k", "1.5"}, "incrbyfloat"},
      {{}, {"setrange", "k", "2", "ab"}, "setrange"},
      {{}, {"setbit", "k", "3", "1"}, "setbit"},
      {{}, {"bitfield", "k", "SET", "u8", "0", "255"}, "setbit"},
      {{{"set", "s", "abc"}}, {"bitop", "NOT", "k", "s"}, "set"},
      {{{"set", "k", "v"}}, {"bitop", "AND", "k", "nokey"}, "del"},
      {{{"set", "k", "v"}}, {"del", "k"}, "del"},
      {{{"set", "k", "v"}}, {"unlink", "k"}, "del"},
      {{{"set", "k", "v"}}, {"expire", "k", "100"}, "expire"},
      {{{"set", "k", "v"}}, {"pexpire", "k", "100000"}, "expire"},
      {{{"set", "k", "v"}}, {"expireat", "k", "99999999999"}, "expire"},
      {{{"set", "k", "v"}}, {"pexpireat", "k", "99999999999000"}, "expire"},
      {{{"set", "k", "v"}}, {"expire", "k", "-1"}, "del"},
      {{{"set", "k", "v", "EX", "100"}}, {"persist", "k"}, "persist"},
      {{{"set", "src", "v", "EX", "100"}}, {"rename", "src", "k"}, "rename_to"},
      {{{"set", "src", "v"}}, {"renamenx", "src", "k"}, "rename_to"},
      {{{"set", "src", "v"}, {"set", "k", "old"}}, {"copy", "src", "k", "REPLACE"}, "copy_to"},
      {{{"set", "k", "v"}}, {"move", "k", "1"}, "move_from"},
  };
  int n = 0;
  for (const Case& c : cases) {
    Run({"flushall"});
    for (const Args& s : c.setup) Run(s);
    Run(c.command);
    EXPECT_EQ(Events("k"), c.events) << "case " << n << ": " << c.command[0];
    ++n;
  }
}

TEST_F(EventHeaderTest, MovesNameBothEnds) {
  Run({"set", "a", "v"});
  EXPECT_THAT(Run({"rename", "a", "b"}), IsOk());
  EXPECT_EQ(Events("a"), "rename_from");
  EXPECT_EQ(Events("b"), "rename_to");
  Run({"copy", "b", "c", "DB", "2"});
  EXPECT_EQ(Events("c", "redis-2"), "copy_to");
  EXPECT_EQ(Events("b"), "rename_to");  // the source is untouched
  Run({"move", "b", "1"});
  EXPECT_EQ(Events("b"), "move_from");
  EXPECT_EQ(Events("b", "redis-1"), "move_to");
  Run({"mset", "x", "1", "y", "2"});
  EXPECT_EQ(Events("y"), "set");
}

// --- the shared setting ---

// A second client on the same server.
struct Client {
  FakeTransport transport;
  std::unique_ptr<Session> session;

  explicit Client(ServerContext& ctx) {
    session = std::make_unique<Session>(&ctx, &transport, ctx.NextClientId(), "127.0.0.1:1",
                                        "127.0.0.1:6379");
  }
  void Send(const std::vector<std::string>& args) { session->Feed(EncodeRequest(args)); }
  // "<channel> <message>" of every pmessage received since the last call.
  std::vector<std::string> Messages() {
    std::vector<std::string> out;
    for (const test_support::RespValue& v : test_support::DecodeAll(transport.TakeSent())) {
      if (v.elements.size() == 4 && v.elements[0].str == "pmessage") {
        out.push_back(v.elements[2].str + " " + v.elements[3].str);
      }
    }
    return out;
  }
};

constexpr std::string_view kConfigBucket = "redis-config";
constexpr std::string_view kSettingKey = "notify-keyspace-events";

class KeyspaceNotifierTest : public GatewayTest {
 protected:
  void SetUp() override { WarmUp(kvmap::FakeKvBackend::Mode::kImmediate); }

  void Start() {
    server().keyspace_notifier().Start();
    Drain();
  }
  int Flags() { return server().keyspace_notifier().flags(); }
  // The setting as stored in the config bucket, or "<none>".
  std::string StoredSetting() { return Stored(kSettingKey, kConfigBucket); }
  // A write made by a native NATS client (or another gateway) on the raw KV key.
  void NativeWrite(std::string_view bucket, std::string_view key, std::string_view value,
                   kvmap::EntryOp op = kvmap::EntryOp::kPut, kvmap::Headers headers = {}) {
    kvmap::WriteRequest w;
    w.bucket = bucket;
    w.key = key;
    w.value = value;
    w.op = op;
    w.headers = std::move(headers);
    backend_.Write(w, [](kvmap::WriteResult) {});
    Drain();
  }
  // A client subscribed to every keyspace and keyevent channel.
  std::unique_ptr<Client> Subscriber() {
    auto c = std::make_unique<Client>(server());
    c->Send({"psubscribe", "__key*__:*"});
    Drain();
    c->Messages();
    return c;
  }
};

TEST_F(KeyspaceNotifierTest, ConfigSetStoresTheSettingForEveryGateway) {
  Start();
  EXPECT_EQ(Flags(), 0);
  EXPECT_THAT(Run({"config", "set", "notify-keyspace-events", "KEAn"}), IsOk());
  EXPECT_EQ(StoredSetting(), "KEAn");  // as given: the shown form would lose the n
  EXPECT_EQ(Flags(), *ParseKeyspaceEventFlags("KEAn"));
  EXPECT_THAT(Run({"config", "get", "notify-keyspace-events"}),
              IsArray(IsBulk("notify-keyspace-events"), IsBulk("AKE")));
  EXPECT_THAT(Run({"config", "set", "NOTIFY-KEYSPACE-EVENTS", ""}), IsOk());
  EXPECT_EQ(Flags(), 0);
  EXPECT_THAT(Run({"config", "get", "notify-keyspace-events"}),
              IsArray(IsBulk("notify-keyspace-events"), IsBulk("")));
}

TEST_F(KeyspaceNotifierTest, ConfigSetRefusesABadValueAndChangesNothing) {
  Start();
  const size_t w = backend_.write_calls();
  auto reply = Run({"config", "set", "maxclients", "7", "notify-keyspace-events", "xyz"});
  EXPECT_THAT(reply, IsErr(std::string(errors::kInvalidKeyspaceEvents)));
  EXPECT_EQ(reply.str, errors::kInvalidKeyspaceEvents);
  EXPECT_EQ(backend_.write_calls(), w);
  EXPECT_EQ(config_.maxclients, 10000);
  EXPECT_EQ(StoredSetting(), "<none>");
}

TEST_F(KeyspaceNotifierTest, ConfigSetAppliesOtherPairsOnceStored) {
  Start();
  EXPECT_THAT(Run({"config", "set", "notify-keyspace-events", "Kx", "maxclients", "7"}), IsOk());
  EXPECT_EQ(config_.maxclients, 7);
  EXPECT_EQ(Flags(), notify::kKeyspace | notify::kExpired);
  // Not stored (NATS unreachable): nothing changes.
  backend_.set_connected(false);
  EXPECT_THAT(Run({"config", "set", "maxclients", "9", "notify-keyspace-events", "E"}),
              IsErr("ERR backend unavailable"));
  EXPECT_EQ(config_.maxclients, 7);
  EXPECT_EQ(Flags(), notify::kKeyspace | notify::kExpired);
}

TEST_F(KeyspaceNotifierTest, ConfigSetRefusesADuplicateParameter) {
  Start();
  auto reply = Run({"config", "set", "notify-keyspace-events", "K", "Notify-Keyspace-Events", "E"});
  EXPECT_EQ(reply.str,
            "ERR CONFIG SET failed (possibly related to argument 'Notify-Keyspace-Events') - "
            "duplicate parameter");
  EXPECT_EQ(StoredSetting(), "<none>");
}

TEST_F(KeyspaceNotifierTest, StartAdoptsTheStoredSetting) {
  backend_.Put(kConfigBucket, kSettingKey, "El");
  Start();
  EXPECT_EQ(Flags(), notify::kKeyevent | notify::kList);
}

TEST_F(KeyspaceNotifierTest, StartStoresTheFlagValue) {
  backend_.Put(kConfigBucket, kSettingKey, "El");
  config_.notify_keyspace_events = "KEA";
  Start();
  EXPECT_EQ(StoredSetting(), "KEA");
  EXPECT_EQ(Flags(), *ParseKeyspaceEventFlags("KEA"));
}

TEST_F(KeyspaceNotifierTest, StartRetriesUntilNatsIsReachable) {
  config_.notify_keyspace_events = "KE$";
  backend_.set_connected(false);
  Start();
  EXPECT_EQ(StoredSetting(), "<none>");
  EXPECT_EQ(Flags(), 0);
  backend_.set_connected(true);
  server().RunTimers();
  Drain();
  EXPECT_EQ(StoredSetting(), "KE$");
  EXPECT_EQ(Flags(), notify::kKeyspace | notify::kKeyevent | notify::kString);
}

TEST_F(KeyspaceNotifierTest, ChangesByAnotherGatewayApplyHere) {
  Start();
  NativeWrite(kConfigBucket, kSettingKey, "Eg");
  EXPECT_EQ(Flags(), notify::kKeyevent | notify::kGeneric);
  // A value no Redis accepts is ignored.
  NativeWrite(kConfigBucket, kSettingKey, "bogus");
  EXPECT_EQ(Flags(), notify::kKeyevent | notify::kGeneric);
  // Deleted: off.
  NativeWrite(kConfigBucket, kSettingKey, "", kvmap::EntryOp::kDelete);
  EXPECT_EQ(Flags(), 0);
}

// --- delivery ---

TEST_F(KeyspaceNotifierTest, KeyspaceComesBeforeKeyeventForEachEvent) {
  Start();
  Run({"config", "set", "notify-keyspace-events", "KEAn"});
  auto sub = Subscriber();
  Run({"set", "user:1", "v", "EX", "100"});
  EXPECT_EQ(sub->Messages(), (std::vector<std::string>{
                                 "__keyspace@0__:user:1 new", "__keyevent@0__:new user:1",
                                 "__keyspace@0__:user:1 set", "__keyevent@0__:set user:1",
                                 "__keyspace@0__:user:1 expire", "__keyevent@0__:expire user:1"}));
  Run({"incr", "n"});
  Run({"incr", "n"});
  Run({"del", "n"});
  EXPECT_EQ(sub->Messages(),
            (std::vector<std::string>{"__keyspace@0__:n new", "__keyevent@0__:new n",
                                      "__keyspace@0__:n incrby", "__keyevent@0__:incrby n",
                                      "__keyspace@0__:n incrby", "__keyevent@0__:incrby n",
                                      "__keyspace@0__:n del", "__keyevent@0__:del n"}));
}

TEST_F(KeyspaceNotifierTest, OnlyTheChosenClassesAndChannelsAreDelivered) {
  Start();
  Run({"config", "set", "notify-keyspace-events", "K$"});
  auto sub = Subscriber();
  Run({"set", "k", "v", "EX", "100"});
  Run({"del", "k"});
  EXPECT_EQ(sub->Messages(), (std::vector<std::string>{"__keyspace@0__:k set"}));
  Run({"config", "set", "notify-keyspace-events", "Eg"});
  Run({"set", "k", "v", "EX", "100"});
  EXPECT_EQ(sub->Messages(), (std::vector<std::string>{"__keyevent@0__:expire k"}));
  Run({"config", "set", "notify-keyspace-events", "A"});  // neither K nor E: nothing
  Run({"set", "k", "v"});
  EXPECT_TRUE(sub->Messages().empty());
}

TEST_F(KeyspaceNotifierTest, EventsNameTheirDatabase) {
  Start();
  Run({"config", "set", "notify-keyspace-events", "E$"});
  auto sub = Subscriber();
  Run({"select", "3"});
  Run({"append", "k", "x"});
  EXPECT_EQ(sub->Messages(), (std::vector<std::string>{"__keyevent@3__:append k"}));
}

TEST_F(KeyspaceNotifierTest, RenameToIsAlwaysNewAsInRedis) {
  Start();
  Run({"config", "set", "notify-keyspace-events", "EAn"});
  Run({"set", "a", "1"});
  Run({"set", "b", "2"});
  auto sub = Subscriber();
  Run({"rename", "a", "b"});
  EXPECT_EQ(sub->Messages(),
            (std::vector<std::string>{"__keyevent@0__:new b", "__keyevent@0__:rename_to b",
                                      "__keyevent@0__:rename_from a"}));
}

TEST_F(KeyspaceNotifierTest, NativeWritesNotifyToo) {
  Start();
  Run({"config", "set", "notify-keyspace-events", "KEA"});
  auto sub = Subscriber();
  NativeWrite(kBucket0, "user.1", "v");
  NativeWrite(kBucket0, "user.1", "", kvmap::EntryOp::kDelete);
  NativeWrite(kBucket0, "missing", "", kvmap::EntryOp::kDelete);  // nothing was there
  NativeWrite(kBucket0, "=41", "v");                              // no Redis key encodes to this
  NativeWrite(kBucket0, "k", "", kvmap::EntryOp::kDelete,
              {{std::string(kvmap::kHdrEvent), "expired"}});
  EXPECT_EQ(sub->Messages(),
            (std::vector<std::string>{"__keyspace@0__:user:1 set", "__keyevent@0__:set user:1",
                                      "__keyspace@0__:user:1 del", "__keyevent@0__:del user:1",
                                      "__keyspace@0__:k expired", "__keyevent@0__:expired k"}));
}

TEST_F(KeyspaceNotifierTest, NothingIsDeliveredWhileOff) {
  Start();
  auto sub = Subscriber();
  Run({"set", "k", "v"});
  EXPECT_TRUE(sub->Messages().empty());
}

}  // namespace
}  // namespace gateway
