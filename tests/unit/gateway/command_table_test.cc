// SPDX-License-Identifier: Apache-2.0
//
// Tests of the command table's invariants, and of arity checking over every row: a wrong
// argument count is refused with Redis 7.0's exact text before any backend operation starts.
#include "gateway/command_table.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cctype>
#include <set>
#include <string>
#include <vector>

#include "tests/unit/gateway/gateway_fixture.h"

namespace gateway {
namespace {

using test_support::IsErr;
using testing_support::GatewayTest;

// Every row and subcommand row, flattened.
std::vector<const CommandSpec*> AllRows() {
  std::vector<const CommandSpec*> rows;
  for (const CommandSpec& spec : AllCommands()) {
    rows.push_back(&spec);
    for (const CommandSpec& sub : spec.subcommands) rows.push_back(&sub);
  }
  return rows;
}

TEST(CommandTable, ValidatesWithoutProblems) { EXPECT_EQ(ValidateCommandTable(), ""); }

TEST(CommandTable, EveryRowHasAHandler) {
  for (const CommandSpec* spec : AllRows()) {
    EXPECT_NE(spec->handler, nullptr) << spec->name;
  }
}

TEST(CommandTable, NamesAreUniqueAcrossRowsAndSubcommands) {
  std::set<std::string_view> names;
  for (const CommandSpec* spec : AllRows()) {
    EXPECT_TRUE(names.insert(spec->name).second) << "duplicate " << spec->name;
  }
}

TEST(CommandTable, NamesAreLowerCase) {
  for (const CommandSpec* spec : AllRows()) {
    for (char c : spec->name) {
      EXPECT_EQ(c, std::tolower(static_cast<unsigned char>(c))) << spec->name;
    }
  }
}

TEST(CommandTable, EveryRowHasExactlyOneOfWriteReadOnlyLocal) {
  for (const CommandSpec* spec : AllRows()) {
    int kinds = spec->flags.has(CommandFlag::kWrite) + spec->flags.has(CommandFlag::kReadOnly) +
                spec->flags.has(CommandFlag::kLocal);
    EXPECT_EQ(kinds, 1) << spec->name;
  }
}

TEST(CommandTable, SubcommandsAreNamedAfterTheirContainer) {
  for (const CommandSpec& spec : AllCommands()) {
    for (const CommandSpec& sub : spec.subcommands) {
      EXPECT_TRUE(sub.name.starts_with(std::string(spec.name) + "|")) << sub.name;
    }
  }
}

TEST(CommandTable, KeyPositionsFitTheArity) {
  for (const CommandSpec* spec : AllRows()) {
    if (!spec->has_keys()) continue;
    int min_args = spec->arity > 0 ? spec->arity : -spec->arity;
    EXPECT_LT(spec->first_key, min_args) << spec->name;
    EXPECT_GT(spec->key_step, 0) << spec->name;
    if (spec->last_key > 0) {
      EXPECT_LT(spec->last_key, min_args) << spec->name;
    }
  }
}

TEST(CommandTable, FindCommandIgnoresCase) {
  const CommandSpec* lower = FindCommand("get");
  ASSERT_NE(lower, nullptr);
  EXPECT_EQ(FindCommand("GET"), lower);
  EXPECT_EQ(FindCommand("gEt"), lower);
}

TEST(CommandTable, FindCommandDoesNotFindSubcommandsByFullName) {
  EXPECT_EQ(FindCommand("client|id"), nullptr);
}

TEST(CommandTable, FindSubcommandIgnoresCase) {
  const CommandSpec* client = FindCommand("client");
  ASSERT_NE(client, nullptr);
  const CommandSpec* sub = FindSubcommand(*client, "SetName");
  ASSERT_NE(sub, nullptr);
  EXPECT_EQ(sub->name, "client|setname");
}

TEST(CommandTable, ArityAcceptsFollowsTheRedisRule) {
  EXPECT_TRUE(ArityAccepts(2, 2));
  EXPECT_FALSE(ArityAccepts(2, 1));
  EXPECT_FALSE(ArityAccepts(2, 3));
  EXPECT_TRUE(ArityAccepts(-3, 3));
  EXPECT_TRUE(ArityAccepts(-3, 10));
  EXPECT_FALSE(ArityAccepts(-3, 2));
}

// ---------------------------------------------------------------------------------------------
// Wrong arity, parameterised over the whole table.

struct ArityCase {
  std::string name;  // as printed in the error: "get", "client|id"
  std::vector<std::string> argv;
};

void PrintTo(const ArityCase& c, std::ostream* os) {
  *os << c.name << " with " << c.argv.size() << " args";
}

// Argument counts that the arity refuses, at or above `min_argc`.
std::vector<size_t> WrongCounts(int arity, size_t min_argc) {
  std::vector<size_t> counts;
  if (arity > 0) {
    size_t n = static_cast<size_t>(arity);
    if (n - 1 >= min_argc) counts.push_back(n - 1);
    counts.push_back(n + 1);
    counts.push_back(n + 3);
  } else {
    size_t min = static_cast<size_t>(-arity);
    for (size_t n = min_argc; n < min; ++n) counts.push_back(n);
  }
  return counts;
}

std::vector<ArityCase> WrongArityCases() {
  std::vector<ArityCase> cases;
  for (const CommandSpec& spec : AllCommands()) {
    // A container with two or more arguments resolves its subcommand first.
    size_t max_top = spec.subcommands.empty() ? SIZE_MAX : 1;
    for (size_t argc : WrongCounts(spec.arity, 1)) {
      if (argc > max_top) continue;
      ArityCase c{std::string(spec.name), {std::string(spec.name)}};
      while (c.argv.size() < argc) c.argv.push_back("x" + std::to_string(c.argv.size()));
      cases.push_back(std::move(c));
    }
    for (const CommandSpec& sub : spec.subcommands) {
      std::string sub_name(sub.name.substr(sub.name.find('|') + 1));
      for (size_t argc : WrongCounts(sub.arity, 2)) {
        ArityCase c{std::string(sub.name), {std::string(spec.name), sub_name}};
        while (c.argv.size() < argc) c.argv.push_back("x" + std::to_string(c.argv.size()));
        cases.push_back(std::move(c));
      }
    }
  }
  return cases;
}

class WrongArityTest : public GatewayTest, public ::testing::WithParamInterface<ArityCase> {};

TEST_P(WrongArityTest, RepliesWithRedisArityErrorAndTouchesNoBackend) {
  const ArityCase& c = GetParam();
  test_support::RespValue reply = Run(c.argv);
  EXPECT_EQ(reply.type, test_support::RespType::kError) << reply;
  EXPECT_EQ(reply.str, "ERR wrong number of arguments for '" + c.name + "' command");
  EXPECT_EQ(backend_.get_calls(), 0u);
  EXPECT_EQ(backend_.write_calls(), 0u);
}

TEST_P(WrongArityTest, UpperCaseNameGivesTheSameLowerCaseError) {
  ArityCase c = GetParam();
  for (char& ch : c.argv[0]) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  test_support::RespValue reply = Run(c.argv);
  EXPECT_EQ(reply.str, "ERR wrong number of arguments for '" + c.name + "' command");
}

INSTANTIATE_TEST_SUITE_P(AllCommands, WrongArityTest, ::testing::ValuesIn(WrongArityCases()),
                         [](const ::testing::TestParamInfo<ArityCase>& info) {
                           std::string id;
                           for (char ch : info.param.name) {
                             id += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
                           }
                           return id + "_argc" + std::to_string(info.param.argv.size());
                         });

TEST(WrongArityCases, CoverEveryRowWhoseArityCanBeViolated) {
  std::set<std::string> covered;
  for (const ArityCase& c : WrongArityCases()) covered.insert(c.name);
  for (const CommandSpec* spec : AllRows()) {
    // Only "-1" rows (any count accepted) and containers' "-2" (argc 1 is the container's own
    // case) cannot be violated at their own level.
    bool can_violate = spec->arity != -1;
    if (spec->name.find('|') != std::string_view::npos && spec->arity == -2) can_violate = false;
    if (can_violate) {
      EXPECT_EQ(covered.count(std::string(spec->name)), 1u) << spec->name;
    }
  }
}

// Commands whose handler enforces a further arity limit, as Redis 7.0 does.
TEST_F(GatewayTest, PingWithTwoArgumentsIsAnArityError) {
  EXPECT_THAT(Run({"ping", "a", "b"}), IsErr("ERR wrong number of arguments for 'ping' command"));
}

TEST_F(GatewayTest, ConfigSetWithAnOddPairIsAnArityError) {
  EXPECT_THAT(Run({"config", "set", "maxclients", "10", "timeout"}),
              IsErr("ERR wrong number of arguments for 'config|set' command"));
}

}  // namespace
}  // namespace gateway
