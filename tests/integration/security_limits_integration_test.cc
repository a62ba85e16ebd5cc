// SPDX-License-Identifier: Apache-2.0
//
// Security and limits against a real gateway and nats-server: the ACL file (--aclfile, ACL
// LOAD, a bad file stops start-up), secrets kept out of INFO, CONFIG GET and the log, the
// idle-client timeout, maxclients, the unauthenticated protocol limits, and the graceful
// shutdown on SIGTERM (calls in flight are answered, none is lost).
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/gateway_fixture.h"

namespace integration {
namespace {

bool WaitUntil(const std::function<bool()>& done, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

// ---------------------------------------------------------------------------------------------
// ACL file

class AclFileTest : public GatewayFixture {
 protected:
  std::vector<std::string> GatewayArgs() const override {
    WriteAclFile("user default on >adminpw ~* &* +@all\n"
                 "user app on >apppw ~app:* &events.* +@read +@write -@dangerous +publish\n"
                 "user reader on >readpw %R~app:* +get +mget\n");
    return {"--nats-timeout-ms", "1000", "--aclfile", AclPath()};
  }
  std::string AclPath() const { return dir_.path() + "/users.acl"; }
  void WriteAclFile(const std::string& text) const {
    std::ofstream out(AclPath(), std::ios::trunc);
    out << text;
  }
};

TEST_F(AclFileTest, UsersFromTheFileAuthenticateAndAreConfined) {
  RedisPtr app = Connect(gateway_.port());
  ASSERT_TRUE(app);
  EXPECT_EQ(Run(app.get(), {"GET", "app:1"}), "-NOAUTH Authentication required.");
  EXPECT_EQ(Run(app.get(), {"AUTH", "app", "wrong"}),
            "-WRONGPASS invalid username-password pair or user is disabled.");
  EXPECT_EQ(Run(app.get(), {"AUTH", "app", "apppw"}), "+OK");
  EXPECT_EQ(Run(app.get(), {"SET", "app:1", "v1"}), "+OK");
  EXPECT_EQ(Run(app.get(), {"GET", "app:1"}), "$v1");
  EXPECT_EQ(Run(app.get(), {"SET", "other", "x"}),
            "-NOPERM this user has no permissions to access one of the keys used as arguments");
  EXPECT_EQ(Run(app.get(), {"FLUSHALL"}),
            "-NOPERM this user has no permissions to run the 'flushall' command");
  EXPECT_EQ(Run(app.get(), {"PUBLISH", "other", "x"}),
            "-NOPERM this user has no permissions to access one of the channels used as "
            "arguments");

  RedisPtr reader = Connect(gateway_.port());
  ASSERT_TRUE(reader);
  EXPECT_EQ(Run(reader.get(), {"AUTH", "reader", "readpw"}), "+OK");
  EXPECT_EQ(Run(reader.get(), {"GET", "app:1"}), "$v1");
  EXPECT_EQ(Run(reader.get(), {"SET", "app:1", "x"}),
            "-NOPERM this user has no permissions to run the 'set' command");

  RedisPtr admin = Connect(gateway_.port());
  ASSERT_TRUE(admin);
  EXPECT_EQ(Run(admin.get(), {"AUTH", "adminpw"}), "+OK");
  EXPECT_EQ(Run(admin.get(), {"ACL", "WHOAMI"}), "$default");
  ReplyPtr log = Cmd(admin.get(), {"ACL", "LOG"});
  ASSERT_TRUE(log);
  EXPECT_EQ(log->elements, 5u);  // the failed AUTH, key, command, channel, reader's SET
}

TEST_F(AclFileTest, AclLoadRereadsTheFileAndClosesRemovedUsers) {
  RedisPtr reader = Connect(gateway_.port());
  ASSERT_TRUE(reader);
  ASSERT_EQ(Run(reader.get(), {"AUTH", "reader", "readpw"}), "+OK");
  RedisPtr app = Connect(gateway_.port());
  ASSERT_TRUE(app);
  ASSERT_EQ(Run(app.get(), {"AUTH", "app", "apppw"}), "+OK");

  WriteAclFile("user default on >adminpw ~* &* +@all\n"
               "user app on >newpw ~app:* +get\n");
  RedisPtr admin = Connect(gateway_.port());
  ASSERT_TRUE(admin);
  ASSERT_EQ(Run(admin.get(), {"AUTH", "adminpw"}), "+OK");
  EXPECT_EQ(Run(admin.get(), {"ACL", "LOAD"}), "+OK");
  // app keeps its connection with the new rules; reader's connection is closed.
  EXPECT_EQ(Run(app.get(), {"SET", "app:1", "x"}),
            "-NOPERM this user has no permissions to run the 'set' command");
  EXPECT_EQ(Run(reader.get(), {"GET", "app:1"}).rfind("<no reply", 0), 0u);
  RedisPtr again = Connect(gateway_.port());
  ASSERT_TRUE(again);
  EXPECT_EQ(Run(again.get(), {"AUTH", "app", "apppw"}),
            "-WRONGPASS invalid username-password pair or user is disabled.");
  EXPECT_EQ(Run(again.get(), {"AUTH", "app", "newpw"}), "+OK");

  // A broken file changes nothing and says where it is broken.
  WriteAclFile("user app on >x bogus\n");
  std::string err = Run(admin.get(), {"ACL", "LOAD"});
  EXPECT_EQ(err.rfind("-ERR " + AclPath() + ":1: ", 0), 0u) << err;
  EXPECT_EQ(Run(app.get(), {"GET", "app:1"}), "(nil)");  // app still may GET
}

TEST_F(AclFileTest, ABadFileStopsStartUpWithTheLine) {
  test_support::TempDir dir;
  std::string path = dir.path() + "/bad.acl";
  {
    std::ofstream out(path);
    out << "user ok on nopass +@all ~*\nuser broken on ~* +@nosuch\n";
  }
  test_support::Gateway bad;
  test_support::GatewayOptions options;
  options.binary = test_support::GatewayBinary(RNG_GATEWAY_BIN);
  options.nats_url = nats_.url();
  options.bucket = BucketName();
  options.extra_args = {"--aclfile", path};
  options.timeout_ms = 5000;
  std::string started = bad.Start(options, dir.path());
  EXPECT_FALSE(started.empty());
  EXPECT_TRUE(WaitUntil([&] { return bad.HasExited(); }, 5000));
  EXPECT_NE(bad.LogTail().find(path + ":2: Error in applying operation '+@nosuch'"),
            std::string::npos)
      << bad.LogTail();
  // Nothing else goes wrong on the way out (a sanitizer report would follow the message).
  EXPECT_EQ(bad.LogTail().find("Sanitizer"), std::string::npos) << bad.LogTail();
}

// ---------------------------------------------------------------------------------------------
// Secrets and limits

class SecretsTest : public GatewayFixture {
 protected:
  std::vector<std::string> GatewayArgs() const override {
    return {"--nats-timeout-ms", "1000", "--requirepass", "s3cr3t-pass", "--timeout", "1",
            "--maxclients", "4"};
  }
};

TEST_F(SecretsTest, PasswordNeverAppearsInInfoConfigOrTheLog) {
  RedisPtr c = Connect(gateway_.port());
  ASSERT_TRUE(c);
  ASSERT_EQ(Run(c.get(), {"AUTH", "s3cr3t-pass"}), "+OK");
  std::string info = Run(c.get(), {"INFO", "everything"});
  EXPECT_EQ(info.find("s3cr3t"), std::string::npos);
  ReplyPtr all = Cmd(c.get(), {"CONFIG", "GET", "*"});
  ASSERT_TRUE(all);
  for (size_t i = 0; i < all->elements; ++i) {
    std::string v(all->element[i]->str, all->element[i]->len);
    EXPECT_EQ(v.find("s3cr3t"), std::string::npos) << v;
  }
  EXPECT_EQ(Run(c.get(), {"CONFIG", "GET", "requirepass"}), "*2[$requirepass, $<redacted>]");
  EXPECT_EQ(Run(c.get(), {"ACL", "LIST"}).find("s3cr3t"), std::string::npos);
  EXPECT_EQ(gateway_.LogTail(100000).find("s3cr3t"), std::string::npos);
  // It binds loopback unless told otherwise: CONFIG GET bind.
  EXPECT_EQ(Run(c.get(), {"CONFIG", "GET", "bind"}), "*2[$bind, $127.0.0.1]");
}

TEST_F(SecretsTest, UnauthenticatedClientsGetRedisProtocolLimits) {
  RedisPtr c = Connect(gateway_.port());
  ASSERT_TRUE(c);
  // Redis 7.0: before AUTH, at most 10 arguments and 16 KiB per bulk.
  std::vector<std::string> eleven(11, "x");
  eleven[0] = "AUTH";
  EXPECT_EQ(Run(c.get(), eleven), "-ERR Protocol error: unauthenticated multibulk length");
  RedisPtr d = Connect(gateway_.port());
  ASSERT_TRUE(d);
  EXPECT_EQ(Run(d.get(), {"AUTH", std::string(20000, 'p')}),
            "-ERR Protocol error: unauthenticated bulk length");
}

TEST_F(SecretsTest, IdleClientsAreClosedButSubscribersStay) {
  RedisPtr idle = Connect(gateway_.port());
  RedisPtr sub = Connect(gateway_.port());
  ASSERT_TRUE(idle && sub);
  ASSERT_EQ(Run(idle.get(), {"AUTH", "s3cr3t-pass"}), "+OK");
  ASSERT_EQ(Run(sub.get(), {"AUTH", "s3cr3t-pass"}), "+OK");
  ASSERT_EQ(Run(sub.get(), {"SUBSCRIBE", "ch"}).rfind("*3", 0), 0u);
  std::this_thread::sleep_for(std::chrono::milliseconds(2600));
  EXPECT_EQ(Run(idle.get(), {"PING"}).rfind("<no reply", 0), 0u);
  EXPECT_EQ(Run(sub.get(), {"PING"}), "*2[$pong, $]");
}

TEST_F(SecretsTest, MaxclientsRefusesTheNextClientWithRedisError) {
  std::vector<RedisPtr> clients;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(Connect(gateway_.port()));
    ASSERT_TRUE(clients.back());
    ASSERT_EQ(Run(clients.back().get(), {"AUTH", "s3cr3t-pass"}), "+OK");
  }
  RedisPtr extra = Connect(gateway_.port());
  ASSERT_TRUE(extra);
  EXPECT_EQ(Run(extra.get(), {"PING"}), "-ERR max number of clients reached");
}

// ---------------------------------------------------------------------------------------------
// Graceful shutdown

class GracefulShutdownTest : public GatewayFixture {};

TEST_F(GracefulShutdownTest, SigtermAnswersTheCallsInFlightAndLosesNone) {
  RedisPtr c = Connect(gateway_.port());
  ASSERT_TRUE(c);
  constexpr int kWrites = 2000;
  for (int i = 0; i < kWrites; ++i) {
    ASSERT_EQ(Append(c.get(), {"SET", "drain:" + std::to_string(i), std::to_string(i)}),
              REDIS_OK);
  }
  // Push the whole pipeline out, then stop the gateway while it is being answered.
  int done = 0;
  while (done == 0) ASSERT_EQ(redisBufferWrite(c.get(), &done), REDIS_OK);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_EQ(kill(gateway_.pid(), SIGTERM), 0);
  int ok = 0, errors = 0, missing = 0;
  for (int i = 0; i < kWrites; ++i) {
    ReplyPtr r = NextReply(c.get());
    if (!r) {
      missing = kWrites - i;
      break;
    }
    (r->type == REDIS_REPLY_STATUS ? ok : errors)++;
  }
  EXPECT_TRUE(WaitUntil([&] { return gateway_.HasExited(); }, 10000));
  EXPECT_NE(gateway_.LogTail().find("answering the calls in flight"), std::string::npos);
  EXPECT_FALSE(Connect(gateway_.port(), 500)) << "the listener outlived the gateway";
  std::printf("graceful shutdown: %d OK, %d errors, %d replies missing of %d pipelined SETs\n",
              ok, errors, missing, kWrites);
  // Every request the gateway had read when SIGTERM came was answered; requests it had not
  // read yet get no reply (the connection closes), and none of them is half-applied.
  EXPECT_EQ(errors, 0);
  EXPECT_GT(ok, 0);

  test_support::TempDir second_dir;
  test_support::Gateway second;
  ASSERT_EQ(StartAnotherGateway(&second, second_dir.path()), "");
  RedisPtr check = Connect(second.port());
  ASSERT_TRUE(check);
  int found = 0;
  for (int i = 0; i < kWrites; ++i) {
    std::string got = Run(check.get(), {"GET", "drain:" + std::to_string(i)});
    if (got == "$" + std::to_string(i)) {
      ++found;
    } else {
      EXPECT_EQ(got, "(nil)") << "key " << i;
    }
  }
  // Each acknowledged SET is there; what was not acknowledged was never read.
  EXPECT_GE(found, ok);
  EXPECT_EQ(found, ok) << "a SET without a reply was applied";
  second.Stop();
}

}  // namespace
}  // namespace integration
