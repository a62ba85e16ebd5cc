// SPDX-License-Identifier: Apache-2.0
//
// ACL: rules (AclUser::Apply), permission checks through the session (NOPERM texts checked
// against redis-server 7.0.15), AUTH as another user, ACL subcommands, the ACL file and
// requirepass's effect on the default user.
#include "gateway/acl.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "tests/support/process_harness.h"
#include "tests/unit/gateway/gateway_fixture.h"

namespace gateway {
namespace {

using test_support::IsBulk;
using test_support::IsErr;
using test_support::IsInt;
using test_support::IsOk;
using test_support::IsSimple;
using test_support::RespType;
using test_support::RespValue;
using testing_support::GatewayTest;

constexpr std::string_view kNoPermKey =
    "NOPERM this user has no permissions to access one of the keys used as arguments";
constexpr std::string_view kNoPermChannel =
    "NOPERM this user has no permissions to access one of the channels used as arguments";

std::shared_ptr<AclUser> MakeUser(std::initializer_list<std::string_view> ops) {
  auto u = std::make_shared<AclUser>("u");
  for (std::string_view op : ops) EXPECT_EQ(u->Apply(op), "") << op;
  return u;
}

TEST(AclUserTest, NewUserIsOffAndMayRunNothing) {
  AclUser u("x");
  EXPECT_FALSE(u.enabled());
  EXPECT_FALSE(u.CanRun(*FindCommand("get")));
  EXPECT_FALSE(u.Authenticates(""));
  EXPECT_EQ(u.DescribeRules(), "off resetchannels -@all");
}

TEST(AclUserTest, LastMatchingCommandRuleWins) {
  auto u = MakeUser({"+@all", "-@dangerous", "+keys"});
  EXPECT_TRUE(u->CanRun(*FindCommand("get")));
  EXPECT_FALSE(u->CanRun(*FindCommand("flushall")));
  EXPECT_TRUE(u->CanRun(*FindCommand("keys")));
  auto v = MakeUser({"+config|get", "-config"});
  EXPECT_FALSE(v->CanRun(*FindSubcommand(*FindCommand("config"), "get")));
  auto w = MakeUser({"-config", "+config|get"});
  EXPECT_TRUE(w->CanRun(*FindSubcommand(*FindCommand("config"), "get")));
  EXPECT_FALSE(w->CanRun(*FindSubcommand(*FindCommand("config"), "set")));
}

TEST(AclUserTest, CategoriesFollowTheCommandTable) {
  auto u = MakeUser({"+@read"});
  EXPECT_TRUE(u->CanRun(*FindCommand("get")));
  EXPECT_TRUE(u->CanRun(*FindCommand("mget")));
  EXPECT_FALSE(u->CanRun(*FindCommand("set")));
  auto s = MakeUser({"+@string", "-@write"});
  EXPECT_TRUE(s->CanRun(*FindCommand("strlen")));
  EXPECT_FALSE(s->CanRun(*FindCommand("append")));
  // @keyspace is the generic key commands, not every command with a key.
  auto k = MakeUser({"+@all", "-@keyspace"});
  EXPECT_TRUE(k->CanRun(*FindCommand("get")));
  EXPECT_FALSE(k->CanRun(*FindCommand("del")));
}

TEST(AclUserTest, UnknownCategoryAndSyntaxErrorsAreRefused) {
  AclUser u("x");
  EXPECT_EQ(u.Apply("+@nosuch"), "Unknown command or category name in ACL");
  EXPECT_EQ(u.Apply("+config|nosuch"), "Unknown command or category name in ACL");
  EXPECT_EQ(u.Apply("xyz"), "Syntax error");
  EXPECT_EQ(u.Apply("%X~a"), "Syntax error");
  EXPECT_NE(u.Apply("#abc"), "");
  EXPECT_NE(u.Apply("(~x +get)"), "");
}

TEST(AclUserTest, CommandsTheGatewayLacksAreKeptButMatchNothing) {
  auto u = MakeUser({"+hset", "+get"});
  EXPECT_TRUE(u->CanRun(*FindCommand("get")));
  EXPECT_EQ(u->DescribeCommands(), "-@all +hset +get");
}

TEST(AclUserTest, KeyPatternsWithReadAndWritePermissions) {
  auto u = MakeUser({"~cache:*", "%R~ro:*", "%W~wo:*"});
  EXPECT_TRUE(u->CanAccessKey("cache:1", true, true));
  EXPECT_TRUE(u->CanAccessKey("ro:1", true, false));
  EXPECT_FALSE(u->CanAccessKey("ro:1", false, true));
  EXPECT_TRUE(u->CanAccessKey("wo:1", false, true));
  EXPECT_FALSE(u->CanAccessKey("wo:1", true, true));
  EXPECT_FALSE(u->CanAccessKey("other", true, false));
  // R and W may come from two patterns.
  auto v = MakeUser({"%R~a*", "%W~ab*"});
  EXPECT_TRUE(v->CanAccessKey("abc", true, true));
  EXPECT_FALSE(v->CanAccessKey("axc", true, true));
  EXPECT_EQ(u->DescribeKeys(), "~cache:* %R~ro:* %W~wo:*");
}

TEST(AclUserTest, AllkeysMatchesTheEmptyKeyAndRefusesMorePatterns) {
  auto u = MakeUser({"allkeys"});
  EXPECT_TRUE(u->CanAccessKey("", true, true));
  EXPECT_NE(u->Apply("~foo"), "");
}

TEST(AclUserTest, ChannelPatternsAndLiteralPsubscribePatterns) {
  auto u = MakeUser({"&news.*"});
  EXPECT_TRUE(u->CanAccessChannel("news.a", false));
  EXPECT_FALSE(u->CanAccessChannel("other", false));
  EXPECT_TRUE(u->CanAccessChannel("news.*", true));
  EXPECT_FALSE(u->CanAccessChannel("news.*x", true));  // matches, but is not the same pattern
}

TEST(AclUserTest, PasswordsAreStoredHashedAndCanBeRemoved) {
  auto u = MakeUser({"on", ">secret", ">other"});
  EXPECT_TRUE(u->Authenticates("secret"));
  EXPECT_TRUE(u->Authenticates("other"));
  EXPECT_FALSE(u->Authenticates("nope"));
  // Redis stores SHA-256; this is the hash redis-server 7.0.15 shows for "secret".
  EXPECT_EQ(u->password_hashes()[0],
            "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b");
  EXPECT_EQ(u->DescribeRules().find("secret"), std::string::npos);
  EXPECT_EQ(u->Apply("<secret"), "");
  EXPECT_FALSE(u->Authenticates("secret"));
  EXPECT_EQ(u->Apply("off"), "");
  EXPECT_FALSE(u->Authenticates("other"));
}

class AclSessionTest : public GatewayTest {
 protected:
  void SetUp() override {
    ASSERT_EQ(server().acl().SetUser(
                  "alice", Ops({"on", ">pw", "~cache:*", "%R~ro:*", "&news.*", "+get", "+set",
                                "+publish", "+subscribe", "+psubscribe", "+config|get",
                                "+acl|whoami", "+multi", "+exec"})),
              "");
  }
  static std::vector<std::string_view> Ops(std::initializer_list<std::string_view> ops) {
    return std::vector<std::string_view>(ops);
  }
};

TEST_F(AclSessionTest, AuthAsAnotherUserAppliesItsRules) {
  EXPECT_THAT(Run({"auth", "alice", "pw"}), IsOk());
  EXPECT_THAT(Run({"acl", "whoami"}), IsBulk("alice"));
  EXPECT_THAT(Run({"set", "cache:1", "v"}), IsOk());
  EXPECT_THAT(Run({"get", "cache:1"}), IsBulk("v"));
  EXPECT_THAT(Run({"get", "other"}), IsErr(std::string(kNoPermKey)));
  EXPECT_THAT(Run({"del", "cache:1"}),
              IsErr("NOPERM this user has no permissions to run the 'del' command"));
  EXPECT_THAT(Run({"config", "set", "maxclients", "5"}),
              IsErr("NOPERM this user has no permissions to run the 'config|set' command"));
  EXPECT_EQ(Run({"config", "get", "maxclients"}).type, RespType::kArray);
}

TEST_F(AclSessionTest, RefusedCommandsNeverReachTheBackend) {
  Run({"auth", "alice", "pw"});
  size_t before = backend_.write_calls() + backend_.get_calls();
  Run({"get", "secret:1"});
  Run({"set", "ro:1", "x"});
  EXPECT_EQ(backend_.write_calls() + backend_.get_calls(), before);
}

TEST_F(AclSessionTest, ReadOnlyPatternAllowsReadsOnly) {
  Run({"auth", "alice", "pw"});
  EXPECT_EQ(Run({"get", "ro:1"}).type, RespType::kNull);
  EXPECT_THAT(Run({"set", "ro:1", "x"}), IsErr(std::string(kNoPermKey)));
}

TEST_F(AclSessionTest, ChannelsAreChecked) {
  Run({"auth", "alice", "pw"});
  EXPECT_THAT(Run({"publish", "other", "x"}), IsErr(std::string(kNoPermChannel)));
  EXPECT_THAT(Run({"publish", "news.a", "x"}), IsInt(0));
}

TEST_F(AclSessionTest, RefusalsGoToTheAclLog) {
  Run({"auth", "alice", "pw"});
  Run({"get", "other"});
  Run({"get", "other"});
  Run({"auth", "alice", "wrong"});
  Run({"auth", "default", ""});  // default is nopass: back to an unrestricted user
  RespValue log = Run({"acl", "log"});
  ASSERT_EQ(log.type, RespType::kArray);
  ASSERT_EQ(log.elements.size(), 2u);
  // Newest first: the failed AUTH, then the key refusal counted twice.
  EXPECT_EQ(log.elements[0].elements[3].str, "auth");
  EXPECT_EQ(log.elements[1].elements[1].integer, 2);
  EXPECT_EQ(log.elements[1].elements[3].str, "key");
  EXPECT_EQ(log.elements[1].elements[7].str, "other");
  EXPECT_THAT(Run({"acl", "log", "reset"}), IsOk());
  EXPECT_EQ(Run({"acl", "log"}).elements.size(), 0u);
}

TEST_F(AclSessionTest, RefusedCommandInMultiAbortsExec) {
  Run({"auth", "alice", "pw"});
  EXPECT_THAT(Run({"multi"}), IsOk());
  EXPECT_THAT(Run({"get", "other"}), IsErr(std::string(kNoPermKey)));
  EXPECT_THAT(Run({"exec"}), IsErr("EXECABORT"));
}

TEST_F(AclSessionTest, DisabledUserCannotAuthenticate) {
  ASSERT_EQ(server().acl().SetUser("alice", Ops({"off"})), "");
  EXPECT_THAT(Run({"auth", "alice", "pw"}),
              IsErr("WRONGPASS invalid username-password pair or user is disabled."));
}

TEST_F(AclSessionTest, SetUserChangesApplyToAuthenticatedConnections) {
  Run({"auth", "alice", "pw"});
  EXPECT_THAT(Run({"get", "cache:1"}).type, RespType::kNull);
  ASSERT_EQ(server().acl().SetUser("alice", Ops({"-get"})), "");
  EXPECT_THAT(Run({"get", "cache:1"}),
              IsErr("NOPERM this user has no permissions to run the 'get' command"));
}

TEST_F(AclSessionTest, AclCommands) {
  EXPECT_THAT(Run({"acl", "setuser", "bob", "on", ">x", "+@read", "~*"}), IsOk());
  EXPECT_THAT(Run({"acl", "setuser", "bob", "+nosuch|sub", "bad"}),
              IsErr("ERR Error in ACL SETUSER modifier 'bad': Syntax error"));
  RespValue users = Run({"acl", "users"});
  ASSERT_EQ(users.elements.size(), 3u);
  EXPECT_EQ(users.elements[1].str, "bob");
  RespValue list = Run({"acl", "list"});
  ASSERT_EQ(list.elements.size(), 3u);
  EXPECT_EQ(list.elements[2].str, "user default on nopass ~* &* +@all");
  EXPECT_THAT(Run({"acl", "dryrun", "bob", "get", "k"}), IsOk());
  EXPECT_THAT(Run({"acl", "dryrun", "bob", "set", "k", "v"}),
              IsBulk("This user has no permissions to run the 'set' command"));
  EXPECT_THAT(Run({"acl", "dryrun", "alice", "get", "k"}),
              IsBulk("This user has no permissions to access the 'k' key"));
  EXPECT_THAT(Run({"acl", "deluser", "bob", "nobody"}), IsInt(1));
  EXPECT_THAT(Run({"acl", "deluser", "default"}),
              IsErr("ERR The 'default' user cannot be removed"));
  EXPECT_EQ(Run({"acl", "genpass"}).str.size(), 64u);
  EXPECT_EQ(Run({"acl", "genpass", "5"}).str.size(), 2u);
  RespValue cat = Run({"acl", "cat", "dangerous"});
  bool has_flushall = false;
  for (const RespValue& v : cat.elements) has_flushall = has_flushall || v.str == "flushall";
  EXPECT_TRUE(has_flushall);
  EXPECT_THAT(Run({"acl", "load"}), IsErr("ERR This Redis instance is not configured"));
}

TEST_F(AclSessionTest, DeletedUserConnectionIsClosed) {
  Run({"auth", "alice", "pw"});
  EXPECT_EQ(server().acl().DeleteUser("alice"), 1);
  RespValue r = Run({"get", "cache:1"});
  EXPECT_EQ(r.type, RespType::kError);
  EXPECT_GT(transport_.close_calls(), 0);
}

TEST_F(AclSessionTest, ClientListShowsTheUser) {
  Run({"auth", "alice", "pw"});
  ASSERT_EQ(server().acl().SetUser("alice", Ops({"+client"})), "");
  EXPECT_NE(Run({"client", "info"}).str.find(" user=alice "), std::string::npos);
}

class AclRequirePassTest : public GatewayTest {
 protected:
  AclRequirePassTest() { config_.requirepass = "secret"; }
};

TEST_F(AclRequirePassTest, RequirePassIsTheDefaultUsersPasswordAndIsNotShown) {
  EXPECT_THAT(Run({"auth", "default", "secret"}), IsOk());
  RespValue got = Run({"config", "get", "requirepass"});
  ASSERT_EQ(got.elements.size(), 2u);
  EXPECT_EQ(got.elements[1].str, "<redacted>");
  // CONFIG SET requirepass changes the default user's password, not its permissions.
  EXPECT_THAT(Run({"config", "set", "requirepass", "new"}), IsOk());
  EXPECT_THAT(Run({"auth", "secret"}), IsErr("WRONGPASS"));
  EXPECT_THAT(Run({"auth", "new"}), IsOk());
  EXPECT_NE(Run({"acl", "list"}).elements[0].str.find("+@all"), std::string::npos);
}

TEST(AclStoreTest, LoadFileReplacesUsersAndReportsTheLineOfAnError) {
  test_support::TempDir dir;
  std::string path = dir.path() + "/users.acl";
  {
    std::ofstream out(path);
    out << "# comment\n\nuser alice on >pw ~a* +get\nuser default on nopass ~* &* +@all\n";
  }
  AclStore store;
  ASSERT_EQ(store.LoadFile(path), "");
  std::shared_ptr<AclUser> alice = store.Find("alice");
  ASSERT_TRUE(alice);
  EXPECT_TRUE(alice->Authenticates("pw"));
  {
    std::ofstream out(path);
    out << "user carol on nopass +@all\nuser dave on +nope@ bogus\n";
  }
  std::string err = store.LoadFile(path);
  EXPECT_EQ(err, path + ":2: Error in applying operation 'bogus': Syntax error");
  EXPECT_TRUE(store.Find("alice"));  // nothing changed
  EXPECT_FALSE(store.Find("carol"));
  {
    std::ofstream out(path);
    out << "user carol on nopass +@all\n";
  }
  ASSERT_EQ(store.LoadFile(path), "");
  EXPECT_TRUE(alice->removed());
  EXPECT_FALSE(store.Find("alice"));
  EXPECT_TRUE(store.Find("default"));
  // SAVE then LOAD round-trips the rules.
  ASSERT_EQ(store.SetUser("erin", std::vector<std::string_view>{"on", ">p", "%R~r*", "&c",
                                                                 "+@read", "-keys"}),
            "");
  ASSERT_EQ(store.SaveFile(path), "");
  AclStore other;
  ASSERT_EQ(other.LoadFile(path), "");
  ASSERT_TRUE(other.Find("erin"));
  EXPECT_EQ(other.Find("erin")->DescribeRules(), store.Find("erin")->DescribeRules());
  EXPECT_TRUE(other.Find("erin")->Authenticates("p"));
}

}  // namespace
}  // namespace gateway
