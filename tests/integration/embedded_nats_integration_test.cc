// SPDX-License-Identifier: Apache-2.0
//
// The default, single-command mode: without --nats the gateway starts its own nats-server.
// Ctrl-C (SIGINT) must leave no process behind, and the data must survive a restart on the
// same --data-dir.
#include <dirent.h>
#include <signal.h>
#include <gtest/gtest.h>

#include <string>

#include "tests/integration/gateway_fixture.h"
#include "tests/support/process_harness.h"

#ifndef RNG_GATEWAY_BIN
#define RNG_GATEWAY_BIN ""
#endif

namespace {

using integration::Cmd;
using integration::Connect;
using integration::Show;

// The embedded nats-server's pid, from the ports file it writes: <dir>/run/nats-server_<pid>.ports
pid_t EmbeddedNatsPid(const std::string& data_dir) {
  pid_t pid = -1;
  DIR* d = opendir((data_dir + "/run").c_str());
  if (d == nullptr) return -1;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    size_t us = name.rfind('_');
    if (us != std::string::npos && name.size() > 6 && name.substr(name.size() - 6) == ".ports") {
      pid = static_cast<pid_t>(std::atoi(name.substr(us + 1).c_str()));
    }
  }
  closedir(d);
  return pid;
}

bool IsAlive(pid_t pid) { return pid > 0 && kill(pid, 0) == 0; }

class EmbeddedNatsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    nats_bin_ = test_support::FindBinary("NATS_SERVER_BIN", "nats-server");
    if (nats_bin_.empty()) {
      if (test_support::NatsRequired()) FAIL() << "nats-server not found";
      GTEST_SKIP() << "nats-server not found";
    }
    options_.binary = test_support::GatewayBinary(RNG_GATEWAY_BIN);
    ASSERT_FALSE(options_.binary.empty()) << "gateway binary not found";
    data_dir_ = dir_.path() + "/data";
    // No --nats: the gateway starts its own nats-server with its store in --data-dir.
    options_.extra_args = {"--data-dir", data_dir_, "--nats-server-bin", nats_bin_};
  }

  test_support::TempDir dir_;
  std::string nats_bin_;
  std::string data_dir_;
  test_support::GatewayOptions options_;
};

TEST_F(EmbeddedNatsTest, CtrlCStopsTheChildAndDataSurvivesARestart) {
  pid_t child = -1;
  {
    test_support::Gateway gw;
    ASSERT_EQ(gw.Start(options_, dir_.path()), "");
    child = EmbeddedNatsPid(data_dir_);
    ASSERT_TRUE(IsAlive(child)) << "no embedded nats-server found";
    auto c = Connect(gw.port());
    ASSERT_TRUE(c);
    EXPECT_EQ(Show(Cmd(c.get(), {"SET", "user:1", "hello"}).get()), "+OK");
    EXPECT_EQ(Show(Cmd(c.get(), {"GET", "user:1"}).get()), "$hello");

    gw.Kill(SIGINT);  // what Ctrl-C sends; Kill waits for the gateway to exit
    EXPECT_TRUE(gw.HasExited());
    int64_t deadline = test_support::MonotonicMs() + 10000;
    while (IsAlive(child) && test_support::MonotonicMs() < deadline) {
      // The child is reaped by the gateway before it exits; a zombie would still answer kill 0
      // only while its parent lives, so polling briefly is enough.
      usleep(10 * 1000);
    }
    EXPECT_FALSE(IsAlive(child)) << "embedded nats-server " << child << " outlived the gateway";
  }
  test_support::Gateway again;
  ASSERT_EQ(again.Start(options_, dir_.path()), "");
  EXPECT_NE(EmbeddedNatsPid(data_dir_), child);
  auto c = Connect(again.port());
  ASSERT_TRUE(c);
  EXPECT_EQ(Show(Cmd(c.get(), {"GET", "user:1"}).get()), "$hello");
  EXPECT_EQ(again.Stop(), "exit 0");
}

}  // namespace
