// SPDX-License-Identifier: Apache-2.0
//
// Tests of Session dispatch: unknown commands and subcommands (Redis 7.0 texts, including the
// 128-byte clipping of user text), and protocol errors (reply, then close after earlier
// replies).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/unit/gateway/gateway_fixture.h"

namespace gateway {
namespace {

using test_support::IsBulk;
using test_support::IsErr;
using test_support::IsSimple;
using test_support::RespType;
using test_support::RespValue;
using testing_support::GatewayTest;

std::string ErrorText(const RespValue& v) {
  EXPECT_EQ(v.type, RespType::kError) << v;
  return v.str;
}

// --- unknown commands (Redis 7.0 commandCheckExistence) ---

TEST_F(GatewayTest, UnknownCommandListsItsArgumentsWithTrailingSpace) {
  EXPECT_EQ(ErrorText(Run({"foo", "a", "b"})),
            "ERR unknown command 'foo', with args beginning with: 'a' 'b' ");
}

TEST_F(GatewayTest, UnknownCommandWithoutArgumentsEndsAfterTheColon) {
  EXPECT_EQ(ErrorText(Run({"foo"})), "ERR unknown command 'foo', with args beginning with: ");
}

TEST_F(GatewayTest, UnknownCommandKeepsTheNameAsSent) {
  EXPECT_EQ(ErrorText(Run({"FooBar", "x"})),
            "ERR unknown command 'FooBar', with args beginning with: 'x' ");
}

TEST_F(GatewayTest, UnknownCommandClipsItsNameTo128Bytes) {
  std::string name(200, 'n');
  EXPECT_EQ(ErrorText(Run({name})),
            "ERR unknown command '" + std::string(128, 'n') + "', with args beginning with: ");
}

// Redis: for (i=1; i<argc && sdslen(args)<128; i++)
//          args = sdscatprintf(args, "'%.*s' ", 128-(int)sdslen(args), argv[i]);
// The precision is computed before the opening quote is appended.
TEST_F(GatewayTest, UnknownCommandClipsTheFirstLongArgumentTo128Bytes) {
  std::string arg(200, 'a');
  EXPECT_EQ(ErrorText(Run({"foo", arg})),
            "ERR unknown command 'foo', with args beginning with: '" + std::string(128, 'a') +
                "' ");
}

TEST_F(GatewayTest, UnknownCommandClipsLaterArgumentsToWhatIsLeftOf128) {
  // After "'aaaaaaaaaa' " (13 bytes) the next argument may use 128 - 13 = 115 bytes.
  std::string first(10, 'a');
  std::string second(200, 'b');
  EXPECT_EQ(ErrorText(Run({"foo", first, second, "c"})),
            "ERR unknown command 'foo', with args beginning with: '" + first + "' '" +
                std::string(115, 'b') + "' ");
}

TEST_F(GatewayTest, UnknownCommandStopsListingOnce128BytesAreUsed) {
  std::string first(130, 'a');
  EXPECT_EQ(ErrorText(Run({"foo", first, "second"})),
            "ERR unknown command 'foo', with args beginning with: '" + std::string(128, 'a') +
                "' ");
}

TEST_F(GatewayTest, UnknownCommandReplacesNewlinesInUserText) {
  std::string reply = ErrorText(Run({"fo\r\no", "a\nb"}));
  EXPECT_EQ(reply.find_first_of("\r\n"), std::string::npos) << reply;
}

TEST_F(GatewayTest, UnknownCommandDoesNotReachTheBackend) {
  Run({"foo", "k"});
  EXPECT_EQ(backend_.get_calls() + backend_.write_calls(), 0u);
}

TEST_F(GatewayTest, UnknownSubcommandSuggestsHelpOfTheContainer) {
  EXPECT_EQ(ErrorText(Run({"client", "x"})), "ERR unknown subcommand 'x'. Try CLIENT HELP.");
}

TEST_F(GatewayTest, UnknownSubcommandOfLowerCaseContainerIsUpperCasedInTheHint) {
  EXPECT_EQ(ErrorText(Run({"config", "nope", "a"})),
            "ERR unknown subcommand 'nope'. Try CONFIG HELP.");
}

TEST_F(GatewayTest, UnknownSubcommandClipsItsNameTo128Bytes) {
  std::string sub(300, 's');
  EXPECT_EQ(ErrorText(Run({"client", sub})),
            "ERR unknown subcommand '" + std::string(128, 's') + "'. Try CLIENT HELP.");
}

TEST_F(GatewayTest, CommandNamesAreCaseInsensitive) {
  EXPECT_THAT(Run({"PiNg"}), IsSimple("PONG"));
}

// --- protocol errors (Redis 7.0 setProtocolError: reply, then close) ---

TEST_F(GatewayTest, ProtocolErrorRepliesAndThenClosesAfterSend) {
  Feed("*abc\r\n");
  Drain();
  EXPECT_THAT(transport_.TakeSent(), IsErr("ERR Protocol error: invalid multibulk length"));
  EXPECT_EQ(transport_.close_calls(), 1);
  ASSERT_FALSE(transport_.events().empty());
  EXPECT_EQ(transport_.events().back(), "close");
}

TEST_F(GatewayTest, ProtocolErrorStartsWithDashErr) {
  Feed("*1\r\n$abc\r\n");
  EXPECT_EQ(transport_.TakeSent(), "-ERR Protocol error: invalid bulk length\r\n");
}

TEST_F(GatewayTest, RequestsAfterAProtocolErrorAreIgnored) {
  Feed("*abc\r\n" + testing_support::EncodeRequest({"ping"}));
  Drain();
  std::vector<RespValue> replies = TakeReplies();
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_THAT(replies[0], IsErr("Protocol error"));
}

TEST_F(GatewayTest, ProtocolErrorWaitsForEarlierInFlightReplies) {
  WarmUp();
  backend_.Put(kBucket0, "k", "v");
  Feed(testing_support::EncodeRequest({"get", "k"}) + "*abc\r\n");
  Drain();
  EXPECT_EQ(transport_.sent(), "");
  EXPECT_EQ(transport_.close_calls(), 0);

  backend_.CompleteAll();
  Drain();
  std::vector<RespValue> replies = TakeReplies();
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_THAT(replies[0], IsBulk("v"));
  EXPECT_THAT(replies[1], IsErr("ERR Protocol error: invalid multibulk length"));
  EXPECT_EQ(transport_.close_calls(), 1);
  EXPECT_EQ(transport_.events().back(), "close");
}

TEST_F(GatewayTest, ProtocolErrorAfterLocalRepliesSendsThemFirst) {
  Feed(testing_support::EncodeRequest({"ping"}) + "*1\r\n$-5\r\n");
  std::vector<RespValue> replies = TakeReplies();
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_THAT(replies[0], IsSimple("PONG"));
  EXPECT_THAT(replies[1], IsErr("ERR Protocol error: invalid bulk length"));
}

}  // namespace
}  // namespace gateway
