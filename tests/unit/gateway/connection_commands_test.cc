// SPDX-License-Identifier: Apache-2.0
//
// Tests of the connection commands: AUTH and HELLO (with and without requirepass), QUIT,
// SELECT, CLIENT SETNAME/GETNAME/SETINFO/ID. Texts follow Redis 7.0.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "gateway/version.h"
#include "tests/unit/gateway/gateway_fixture.h"

namespace gateway {
namespace {

using test_support::IsArray;
using test_support::IsBulk;
using test_support::IsErr;
using test_support::IsInt;
using test_support::IsMap;
using test_support::IsNil;
using test_support::IsOk;
using test_support::IsSimple;
using test_support::RespType;
using test_support::RespValue;
using testing_support::EncodeRequest;
using testing_support::GatewayTest;

constexpr std::string_view kWrongPass =
    "WRONGPASS invalid username-password pair or user is disabled.";

class AuthTest : public GatewayTest {
 protected:
  AuthTest() { config_.requirepass = "secret"; }
};

TEST_F(AuthTest, CommandBeforeAuthIsRefusedWithNoAuth) {
  RespValue reply = Run({"ping"});
  EXPECT_EQ(reply.type, RespType::kError);
  EXPECT_EQ(reply.str, "NOAUTH Authentication required.");
}

TEST_F(AuthTest, DataCommandBeforeAuthDoesNotReachTheBackend) {
  Run({"set", "k", "v"});
  EXPECT_EQ(backend_.write_calls() + backend_.get_calls(), 0u);
}

TEST_F(AuthTest, UnknownCommandBeforeAuthIsStillUnknown) {
  EXPECT_THAT(Run({"foo"}), IsErr("ERR unknown command 'foo'"));
}

// Redis 7.0 processCommand checks existence and arity before authentication.
TEST_F(AuthTest, WrongArityBeforeAuthIsAnArityError) {
  EXPECT_THAT(Run({"get"}), IsErr("ERR wrong number of arguments for 'get' command"));
}

TEST_F(AuthTest, UnknownSubcommandBeforeAuthIsUnknownSubcommand) {
  EXPECT_THAT(Run({"client", "nope"}), IsErr("ERR unknown subcommand 'nope'. Try CLIENT HELP."));
}

TEST_F(AuthTest, AuthWithWrongPasswordIsWrongPass) {
  RespValue reply = Run({"auth", "nope"});
  EXPECT_EQ(reply.type, RespType::kError);
  EXPECT_EQ(reply.str, kWrongPass);
}

TEST_F(AuthTest, AuthWithWrongPasswordStaysUnauthenticated) {
  Run({"auth", "nope"});
  EXPECT_THAT(Run({"ping"}), IsErr("NOAUTH"));
}

TEST_F(AuthTest, AuthWithThePasswordAllowsCommands) {
  EXPECT_THAT(Run({"auth", "secret"}), IsOk());
  EXPECT_THAT(Run({"ping"}), IsSimple("PONG"));
}

TEST_F(AuthTest, AuthWithDefaultUserAndPasswordWorks) {
  EXPECT_THAT(Run({"auth", "default", "secret"}), IsOk());
}

TEST_F(AuthTest, AuthWithAnotherUserIsWrongPass) {
  EXPECT_THAT(Run({"auth", "alice", "secret"}), IsErr(std::string(kWrongPass)));
}

TEST_F(AuthTest, AuthWithTooManyArgumentsIsASyntaxError) {
  EXPECT_THAT(Run({"auth", "a", "b", "c"}), IsErr("ERR syntax error"));
}

TEST_F(AuthTest, HelloWithoutAuthIsRefused) {
  EXPECT_THAT(Run({"hello", "3"}), IsErr("NOAUTH HELLO must be called with the client already"));
}

TEST_F(AuthTest, HelloWithAuthAuthenticates) {
  Run({"hello", "3", "AUTH", "default", "secret"});
  EXPECT_TRUE(session().is_authenticated());
  EXPECT_THAT(Run({"ping"}), IsSimple("PONG"));
}

TEST_F(AuthTest, HelloWithWrongAuthIsWrongPass) {
  EXPECT_THAT(Run({"hello", "3", "AUTH", "default", "nope"}), IsErr(std::string(kWrongPass)));
  EXPECT_EQ(session().protocol(), resp::Protocol::kResp2);
}

TEST_F(AuthTest, QuitIsAllowedBeforeAuth) { EXPECT_THAT(Run({"quit"}), IsOk()); }

TEST_F(AuthTest, ResetRequiresAuthAgain) {
  Run({"auth", "secret"});
  EXPECT_THAT(Run({"reset"}), IsSimple("RESET"));
  EXPECT_THAT(Run({"ping"}), IsErr("NOAUTH"));
}

// Redis 7.0 (processMultibulkBuffer) caps requests of unauthenticated clients.
TEST_F(AuthTest, UnauthenticatedMultibulkAboveTenIsAProtocolError) {
  Feed("*11\r\n");
  EXPECT_THAT(transport_.TakeSent(), IsErr("ERR Protocol error: unauthenticated multibulk length"));
  EXPECT_EQ(transport_.close_calls(), 1);
}

TEST_F(AuthTest, UnauthenticatedBulkAbove16KiBIsAProtocolError) {
  Feed("*2\r\n$4\r\nauth\r\n$16385\r\n");
  EXPECT_THAT(transport_.TakeSent(), IsErr("ERR Protocol error: unauthenticated bulk length"));
}

TEST_F(AuthTest, AuthenticatedClientIsNotHeldToTheUnauthenticatedLimits) {
  Run({"auth", "secret"});
  std::vector<std::string> args = {"exists"};
  for (int i = 0; i < 11; ++i) args.push_back("k" + std::to_string(i));
  EXPECT_THAT(Run(args), IsInt(0));
}

TEST_F(AuthTest, AuthPipelinedBeforeALargeRequestLiftsTheLimits) {
  std::vector<std::string> args = {"exists"};
  for (int i = 0; i < 11; ++i) args.push_back("k" + std::to_string(i));
  Feed(EncodeRequest({"auth", "secret"}) + EncodeRequest(args));
  Drain();
  std::vector<RespValue> replies = TakeReplies();
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_THAT(replies[0], IsOk());
  EXPECT_THAT(replies[1], IsInt(0));
}

TEST_F(GatewayTest, AuthWithPasswordButNoneConfiguredIsAnError) {
  RespValue reply = Run({"auth", "pass"});
  EXPECT_EQ(reply.type, RespType::kError);
  EXPECT_EQ(reply.str,
            "ERR AUTH <password> called without any password configured for the default user. "
            "Are you sure your configuration is correct?");
}

TEST_F(GatewayTest, AuthOfDefaultUserWithoutConfiguredPasswordSucceeds) {
  EXPECT_THAT(Run({"auth", "default", "anything"}), IsOk());
}

// --- HELLO ---

TEST_F(GatewayTest, Hello3RepliesWithAResp3MapOfServerFacts) {
  RespValue reply = Run({"hello", "3"});
  EXPECT_THAT(reply, IsMap(IsBulk("server"), IsBulk("redis"), IsBulk("version"),
                           IsBulk(std::string(kRedisVersion)), IsBulk("proto"), IsInt(3),
                           IsBulk("id"), IsInt(static_cast<int64_t>(session().id())),
                           IsBulk("mode"), IsBulk("standalone"), IsBulk("role"),
                           IsBulk("master"), IsBulk("modules"), IsArray()));
}

TEST_F(GatewayTest, Hello3SwitchesLaterRepliesToResp3) {
  Run({"hello", "3"});
  transport_.TakeSent();
  Send({"client", "getname"});
  EXPECT_EQ(transport_.TakeSent(), "_\r\n");
}

TEST_F(GatewayTest, HelloWithoutVersionKeepsResp2AndRepliesWithAFlatArray) {
  RespValue reply = Run({"hello"});
  EXPECT_EQ(reply.type, RespType::kArray);
  EXPECT_EQ(reply.elements.size(), 14u);
  EXPECT_EQ(session().protocol(), resp::Protocol::kResp2);
}

TEST_F(GatewayTest, Hello4IsNoProto) {
  RespValue reply = Run({"hello", "4"});
  EXPECT_EQ(reply.type, RespType::kError);
  EXPECT_EQ(reply.str, "NOPROTO unsupported protocol version");
}

TEST_F(GatewayTest, HelloWithNonIntegerVersionIsAnError) {
  EXPECT_THAT(Run({"hello", "three"}),
              IsErr("ERR Protocol version is not an integer or out of range"));
}

TEST_F(GatewayTest, HelloSetnameSetsTheClientName) {
  Run({"hello", "2", "SETNAME", "app"});
  EXPECT_EQ(session().name(), "app");
}

TEST_F(GatewayTest, HelloWithUnknownOptionIsASyntaxError) {
  EXPECT_THAT(Run({"hello", "3", "BOGUS"}), IsErr("ERR Syntax error in HELLO option 'BOGUS'"));
}

// --- QUIT ---

TEST_F(GatewayTest, QuitRepliesOkThenClosesAfterSend) {
  EXPECT_THAT(Run({"quit"}), IsOk());
  EXPECT_EQ(transport_.close_calls(), 1);
  EXPECT_EQ(transport_.events(), (std::vector<std::string>{"send", "close"}));
}

TEST_F(GatewayTest, RequestsPipelinedAfterQuitAreNotAnswered) {
  Feed(EncodeRequest({"quit"}) + EncodeRequest({"ping"}));
  Drain();
  std::vector<RespValue> replies = TakeReplies();
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_THAT(replies[0], IsOk());
}

// --- SELECT ---

TEST_F(GatewayTest, SelectOutOfRangeIsAnError) {
  EXPECT_THAT(Run({"select", "16"}), IsErr("ERR DB index is out of range"));
}

TEST_F(GatewayTest, SelectNegativeIsOutOfRange) {
  EXPECT_THAT(Run({"select", "-1"}), IsErr("ERR DB index is out of range"));
}

TEST_F(GatewayTest, SelectOfNonIntegerIsNotAnInteger) {
  EXPECT_THAT(Run({"select", "one"}), IsErr("ERR value is not an integer or out of range"));
}

TEST_F(GatewayTest, SelectChangesTheBucketWritesGoTo) {
  EXPECT_THAT(Run({"select", "1"}), IsOk());
  EXPECT_THAT(Run({"set", "k", "v"}), IsOk());
  EXPECT_EQ(Stored("k", "redis-1"), "v");
  EXPECT_EQ(Stored("k", "redis"), "<none>");
}

TEST_F(GatewayTest, SelectChangesTheBucketReadsComeFrom) {
  backend_.Put("redis-2", "k", "two");
  Run({"select", "2"});
  EXPECT_THAT(Run({"get", "k"}), IsBulk("two"));
}

// --- CLIENT ---

TEST_F(GatewayTest, ClientGetnameIsNilBeforeSetname) {
  EXPECT_THAT(Run({"client", "getname"}), IsNil());
}

TEST_F(GatewayTest, ClientSetnameThenGetnameReturnsTheName) {
  EXPECT_THAT(Run({"client", "setname", "worker-1"}), IsOk());
  EXPECT_THAT(Run({"client", "getname"}), IsBulk("worker-1"));
}

TEST_F(GatewayTest, ClientSetnameWithSpaceIsRefused) {
  EXPECT_THAT(Run({"client", "setname", "a b"}),
              IsErr("ERR Client names cannot contain spaces, newlines or special characters."));
}

TEST_F(GatewayTest, ClientSetinfoLibNameIsStored) {
  EXPECT_THAT(Run({"client", "setinfo", "LIB-NAME", "x"}), IsOk());
  EXPECT_EQ(session().lib_name, "x");
}

TEST_F(GatewayTest, ClientSetinfoLibVerIsStored) {
  EXPECT_THAT(Run({"CLIENT", "SETINFO", "lib-ver", "1.2.3"}), IsOk());
  EXPECT_EQ(session().lib_ver, "1.2.3");
}

TEST_F(GatewayTest, ClientSetinfoUnknownAttributeIsRefused) {
  EXPECT_THAT(Run({"client", "setinfo", "color", "x"}), IsErr("ERR Unrecognized option 'color'"));
}

TEST_F(GatewayTest, ClientIdIsTheSessionId) {
  EXPECT_THAT(Run({"client", "id"}), IsInt(static_cast<int64_t>(session().id())));
}

TEST_F(GatewayTest, ClientInfoNamesTheClient) {
  Run({"client", "setname", "me"});
  RespValue reply = Run({"client", "info"});
  EXPECT_EQ(reply.type, RespType::kBulk);
  EXPECT_NE(reply.str.find(" name=me "), std::string::npos) << reply.str;
}

}  // namespace
}  // namespace gateway
