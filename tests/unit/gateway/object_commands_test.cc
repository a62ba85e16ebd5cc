// SPDX-License-Identifier: Apache-2.0
//
// Tests of OBJECT ENCODING, FREQ, IDLETIME, REFCOUNT and HELP against the fake backend, with
// the replies redis-server 7.0.15 gives for the same values (checked by hand).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kvmap/ttl.h"
#include "tests/unit/gateway/gateway_fixture.h"

namespace gateway {
namespace {

using test_support::IsBulk;
using test_support::IsInt;
using test_support::IsNil;
using testing_support::GatewayTest;

class ObjectCommandsTest : public GatewayTest {
 protected:
  void SetUp() override { WarmUp(kvmap::FakeKvBackend::Mode::kImmediate); }

  std::string RunRaw(const std::vector<std::string>& args) {
    transport_.TakeSent();
    Send(args);
    Drain();
    return transport_.TakeSent();
  }
};

TEST_F(ObjectCommandsTest, MissingKeyIsNilForEverySubcommand) {
  for (const char* sub : {"encoding", "freq", "idletime", "refcount", "ENCODING"}) {
    EXPECT_EQ(RunRaw({"object", sub, "nokey"}), "$-1\r\n") << sub;
  }
  Run({"hello", "3"});
  EXPECT_EQ(RunRaw({"object", "encoding", "nokey"}), "_\r\n");
}

TEST_F(ObjectCommandsTest, StringEncodings) {
  struct Case {
    std::string value, encoding;
    int64_t refcount;
  };
  const std::vector<Case> cases = {
      {"123", "int", 2147483647},
      {"0", "int", 2147483647},
      {"9999", "int", 2147483647},
      {"10000", "int", 1},
      {"12345", "int", 1},
      {"-1", "int", 1},
      {"-9223372036854775808", "int", 1},
      {"0123", "embstr", 1},
      {"-0", "embstr", 1},
      {"123456789012345678901", "embstr", 1},
      {"", "embstr", 1},
      {std::string(44, 'x'), "embstr", 1},
      {std::string(45, 'x'), "raw", 1},
  };
  for (const Case& c : cases) {
    ASSERT_EQ(RunRaw({"set", "k", c.value}), "+OK\r\n");
    EXPECT_THAT(Run({"object", "encoding", "k"}), IsBulk(c.encoding)) << c.value;
    EXPECT_THAT(Run({"object", "refcount", "k"}), IsInt(c.refcount)) << c.value;
  }
}

TEST_F(ObjectCommandsTest, FreqIsTheNonLfuError) {
  backend_.Put(kBucket0, "k", "v");
  EXPECT_EQ(RunRaw({"object", "freq", "k"}),
            "-ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please "
            "note that when switching between policies at runtime LRU and LFU data will take "
            "some time to adjust.\r\n");
}

TEST_F(ObjectCommandsTest, IdleTimeIsSecondsSinceTheLastWrite) {
  const int64_t now_ns = kvmap::NowUnixMs() * 1000000;
  backend_.set_clock([now_ns] { return now_ns - int64_t{125} * 1000000000; });
  backend_.Put(kBucket0, "k", "v");
  EXPECT_THAT(Run({"object", "idletime", "k"}), IsInt(125));
  backend_.set_clock([now_ns] { return now_ns; });
  backend_.Put(kBucket0, "k", "v");
  EXPECT_THAT(Run({"object", "idletime", "k"}), IsInt(0));
}

TEST_F(ObjectCommandsTest, HelpAndErrors) {
  const std::string help = RunRaw({"object", "help"});
  const std::string head =
      "*15\r\n+OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n";
  EXPECT_EQ(help.substr(0, head.size()), head);
  EXPECT_NE(help.find("+HELP\r\n+    Prints this help.\r\n"), std::string::npos);
  EXPECT_EQ(RunRaw({"object", "help", "x"}),
            "-ERR wrong number of arguments for 'object|help' command\r\n");
  EXPECT_EQ(RunRaw({"object", "foo"}), "-ERR unknown subcommand 'foo'. Try OBJECT HELP.\r\n");
  EXPECT_EQ(RunRaw({"object", "encoding"}),
            "-ERR wrong number of arguments for 'object|encoding' command\r\n");
  EXPECT_EQ(RunRaw({"object"}), "-ERR wrong number of arguments for 'object' command\r\n");
  EXPECT_EQ(gets(), 0u);
}

}  // namespace
}  // namespace gateway
