// SPDX-License-Identifier: Apache-2.0
//
// Tests of the server commands: CONFIG GET/SET, COMMAND COUNT/INFO/DOCS (generated from the
// command table), INFO.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "gateway/command_table.h"
#include "tests/unit/gateway/gateway_fixture.h"

namespace gateway {
namespace {

using test_support::IsArray;
using test_support::IsBulk;
using test_support::IsBulkArray;
using test_support::IsErr;
using test_support::IsInt;
using test_support::IsNil;
using test_support::IsOk;
using test_support::IsSimple;
using test_support::RespType;
using test_support::RespValue;
using testing_support::GatewayTest;

// Simple-string or bulk texts of an aggregate's elements.
std::vector<std::string> Texts(const RespValue& v) {
  std::vector<std::string> out;
  for (const RespValue& e : v.elements) out.push_back(e.str);
  return out;
}

// --- CONFIG ---

TEST_F(GatewayTest, ConfigGetPortReturnsNameAndValue) {
  config_.port = 6400;
  EXPECT_THAT(Run({"config", "get", "port"}), IsBulkArray({"port", "6400"}));
}

TEST_F(GatewayTest, ConfigGetMatchesGlobPatterns) {
  RespValue reply = Run({"config", "get", "maxmemory*"});
  EXPECT_THAT(reply, IsBulkArray({"maxmemory", "0", "maxmemory-policy", "noeviction"}));
}

TEST_F(GatewayTest, ConfigGetOfUnknownParameterIsEmpty) {
  EXPECT_THAT(Run({"config", "get", "no-such-thing"}), IsArray());
}

TEST_F(GatewayTest, ConfigGetInResp3IsAMap) {
  Run({"hello", "3"});
  RespValue reply = Run({"config", "get", "port"});
  EXPECT_EQ(reply.type, RespType::kMap);
}

TEST_F(GatewayTest, ConfigSetUnknownParameterIsRefused) {
  EXPECT_THAT(Run({"config", "set", "foo", "bar"}),
              IsErr("ERR Unknown option or number of arguments for CONFIG SET - 'foo'"));
}

TEST_F(GatewayTest, ConfigSetOfImmutableParameterIsRefused) {
  EXPECT_THAT(Run({"config", "set", "port", "1"}), IsErr("can't set immutable config"));
}

TEST_F(GatewayTest, ConfigSetChangesTheValue) {
  EXPECT_THAT(Run({"config", "set", "maxclients", "77"}), IsOk());
  EXPECT_THAT(Run({"config", "get", "maxclients"}), IsBulkArray({"maxclients", "77"}));
}

TEST_F(GatewayTest, ConfigSetAppliesNothingWhenOnePairFails) {
  EXPECT_THAT(Run({"config", "set", "maxclients", "77", "maxclients", "x"}), IsErr("ERR"));
  EXPECT_EQ(config_.maxclients, 10000);
}

// --- COMMAND ---

TEST_F(GatewayTest, CommandCountIsTheNumberOfTableRows) {
  EXPECT_THAT(Run({"command", "count"}), IsInt(static_cast<int64_t>(AllCommands().size())));
}

TEST_F(GatewayTest, CommandListsEveryTableRow) {
  RespValue reply = Run({"command"});
  ASSERT_EQ(reply.type, RespType::kArray);
  EXPECT_EQ(reply.elements.size(), AllCommands().size());
}

TEST_F(GatewayTest, CommandInfoGetDescribesGet) {
  RespValue reply = Run({"command", "info", "get"});
  ASSERT_EQ(reply.type, RespType::kArray);
  ASSERT_EQ(reply.elements.size(), 1u);
  const RespValue& get = reply.elements[0];
  ASSERT_EQ(get.type, RespType::kArray);
  ASSERT_EQ(get.elements.size(), 10u);
  EXPECT_THAT(get.elements[0], IsBulk("get"));
  EXPECT_THAT(get.elements[1], IsInt(2));
  EXPECT_THAT(Texts(get.elements[2]), testing::UnorderedElementsAre("readonly", "fast"));
  EXPECT_THAT(get.elements[3], IsInt(1));
  EXPECT_THAT(get.elements[4], IsInt(1));
  EXPECT_THAT(get.elements[5], IsInt(1));
  EXPECT_THAT(Texts(get.elements[6]), testing::Contains("@read"));
  EXPECT_EQ(get.elements[8].elements.size(), 1u);  // one key spec
}

TEST_F(GatewayTest, CommandInfoOfUnknownCommandIsNil) {
  RespValue reply = Run({"command", "info", "nope"});
  ASSERT_EQ(reply.elements.size(), 1u);
  EXPECT_THAT(reply.elements[0], IsNil());
}

TEST_F(GatewayTest, CommandInfoOfContainerListsItsSubcommands) {
  RespValue reply = Run({"command", "info", "client"});
  ASSERT_EQ(reply.elements.size(), 1u);
  ASSERT_EQ(reply.elements[0].elements.size(), 10u);
  EXPECT_EQ(reply.elements[0].elements[9].elements.size(),
            FindCommand("client")->subcommands.size());
}

TEST_F(GatewayTest, CommandDocsGetHasSummarySinceAndGroup) {
  RespValue reply = Run({"command", "docs", "get"});
  // RESP2: a map is a flat array of name, docs.
  ASSERT_EQ(reply.type, RespType::kArray);
  ASSERT_EQ(reply.elements.size(), 2u);
  EXPECT_THAT(reply.elements[0], IsBulk("get"));
  const RespValue& docs = reply.elements[1];
  ASSERT_EQ(docs.type, RespType::kArray);
  ASSERT_EQ(docs.elements.size(), 6u);
  EXPECT_THAT(docs.elements[0], IsBulk("summary"));
  EXPECT_THAT(docs.elements[1], IsBulk(std::string(FindCommand("get")->summary)));
  EXPECT_THAT(docs.elements[2], IsBulk("since"));
  EXPECT_THAT(docs.elements[3], IsBulk("1.0.0"));
  EXPECT_THAT(docs.elements[4], IsBulk("group"));
  EXPECT_THAT(docs.elements[5], IsBulk("string"));
}

TEST_F(GatewayTest, CommandDocsInResp3IsAMapKeyedByName) {
  Run({"hello", "3"});
  RespValue reply = Run({"command", "docs", "get"});
  ASSERT_EQ(reply.type, RespType::kMap);
  ASSERT_EQ(reply.elements.size(), 2u);
  EXPECT_THAT(reply.elements[0], IsBulk("get"));
  EXPECT_EQ(reply.elements[1].type, RespType::kMap);
}

TEST_F(GatewayTest, CommandListNamesEveryRow) {
  RespValue reply = Run({"command", "list"});
  ASSERT_EQ(reply.type, RespType::kArray);
  EXPECT_EQ(reply.elements.size(), AllCommands().size());
}

// --- INFO ---

TEST_F(GatewayTest, InfoReportsRedis70Version) {
  RespValue reply = Run({"info"});
  ASSERT_EQ(reply.type, RespType::kBulk);
  EXPECT_NE(reply.str.find("redis_version:7.0"), std::string::npos);
}

TEST_F(GatewayTest, InfoReportsNotLoading) {
  RespValue reply = Run({"info"});
  EXPECT_NE(reply.str.find("\r\nloading:0\r\n"), std::string::npos);
}

TEST_F(GatewayTest, InfoOfOneSectionHasOnlyThatSection) {
  RespValue reply = Run({"info", "persistence"});
  EXPECT_EQ(reply.str.rfind("# Persistence\r\n", 0), 0u) << reply.str;
  EXPECT_EQ(reply.str.find("redis_version"), std::string::npos);
}

TEST_F(GatewayTest, InfoInResp3IsVerbatimText) {
  Run({"hello", "3"});
  RespValue reply = Run({"info", "server"});
  EXPECT_EQ(reply.type, RespType::kVerbatim);
  EXPECT_EQ(reply.format, "txt");
}

TEST_F(GatewayTest, InfoCommandstatsCountsCalls) {
  Run({"ping"});
  Run({"ping"});
  RespValue reply = Run({"info", "commandstats"});
  EXPECT_NE(reply.str.find("cmdstat_ping:calls=2,"), std::string::npos) << reply.str;
}

TEST_F(GatewayTest, TimeRepliesWithSecondsAndMicroseconds) {
  RespValue reply = Run({"time"});
  ASSERT_EQ(reply.type, RespType::kArray);
  EXPECT_EQ(reply.elements.size(), 2u);
}

TEST_F(GatewayTest, ClusterIsDisabled) {
  EXPECT_THAT(Run({"cluster", "info"}), IsErr("ERR This instance has cluster support disabled"));
}

TEST_F(GatewayTest, PingWithArgumentEchoesIt) { EXPECT_THAT(Run({"ping", "hi"}), IsBulk("hi")); }

TEST_F(GatewayTest, PingRepliesPong) { EXPECT_THAT(Run({"ping"}), IsSimple("PONG")); }

}  // namespace
}  // namespace gateway
