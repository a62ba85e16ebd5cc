// SPDX-License-Identifier: Apache-2.0
//
// Tests of the NATS authentication flags (--nats-nkey, --nats-creds): what ParseFlags accepts,
// and what CONFIG GET reports (paths, never contents).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "gateway/config.h"

namespace gateway {
namespace {

// ParseFlags over a list of arguments (argv[0] added).
std::string Parse(std::vector<std::string> args, Config* config) {
  args.insert(args.begin(), "redis-nats-gateway");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  bool wants_help = false;
  return ParseFlags(static_cast<int>(argv.size()), argv.data(), config, &wants_help);
}

TEST(NatsAuthFlags, KeepsTheFilePaths) {
  Config config;
  EXPECT_EQ(Parse({"--nats-nkey", "/etc/gw/user.nk", "--nats", "nats://n1:4222"}, &config), "");
  EXPECT_EQ(config.nats_nkey_file, "/etc/gw/user.nk");
  Config creds;
  EXPECT_EQ(Parse({"--nats", "nats://n1:4222", "--nats-creds=/etc/gw/gw.creds"}, &creds), "");
  EXPECT_EQ(creds.nats_creds_file, "/etc/gw/gw.creds");
  auto shown = ConfigGet(creds, "nats-creds");
  ASSERT_EQ(shown.size(), 1u);
  EXPECT_EQ(shown[0].second, "/etc/gw/gw.creds");
}

TEST(NatsAuthFlags, NkeyAndCredsExcludeEachOther) {
  Config config;
  std::string err = Parse({"--nats", "nats://n1:4222", "--nats-nkey", "a.nk", "--nats-creds",
                           "b.creds"},
                          &config);
  EXPECT_NE(err.find("exclude each other"), std::string::npos) << err;
}

TEST(NatsAuthFlags, NeedAnExternalServer) {
  // The embedded nats-server runs without authentication.
  Config config;
  std::string err = Parse({"--nats-creds", "b.creds"}, &config);
  EXPECT_NE(err.find("need --nats"), std::string::npos) << err;
}

TEST(NatsAuthFlags, ConfigGetNeverShowsRequirepass) {
  Config config;
  ASSERT_EQ(Parse({"--requirepass", "Sup3r-secret"}, &config), "");
  for (const auto& [name, value] : ConfigGet(config, "*")) {
    EXPECT_EQ(value.find("Sup3r-secret"), std::string::npos) << name;
  }
}

}  // namespace
}  // namespace gateway
