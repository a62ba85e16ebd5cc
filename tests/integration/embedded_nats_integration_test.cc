// SPDX-License-Identifier: Apache-2.0
//
// The default, single-command mode: without --nats the gateway starts its own nats-server.
// Ctrl-C (SIGINT) must leave no process behind, and the data must survive a restart on the
// same --data-dir. If the child dies (fault test 4 of issue 8), the gateway must exit rather
// than stay half-alive.
#include <dirent.h>
#include <signal.h>
#include <unistd.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

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

// The gateway cannot serve without its store, so when the embedded nats-server dies it exits:
// within kExitBoundMs, with a non-zero status and a message saying why, and its port closed.
// Nothing acknowledged is lost: a gateway started again on the same --data-dir finds every
// write that got +OK, and none that got a definite "ERR backend ..." failure.
TEST_F(EmbeddedNatsTest, ChildCrashMakesTheGatewayExitAndLosesNoAcknowledgedWrite) {
  constexpr int64_t kExitBoundMs = 5000;
  test_support::Gateway gw;
  ASSERT_EQ(gw.Start(options_, dir_.path()), "");
  pid_t child = EmbeddedNatsPid(data_dir_);
  ASSERT_TRUE(IsAlive(child)) << "no embedded nats-server found";
  const int port = gw.port();

  // A client writing unique keys, one SET at a time, until its connection breaks.
  struct Write {
    std::string key, value, reply;
  };
  std::mutex mu;
  std::vector<Write> writes;
  std::atomic<int> acked{0};
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    auto c = Connect(port);
    if (!c) return;
    for (int n = 0; !stop; ++n) {
      Write w{"k:" + std::to_string(n), "v" + std::to_string(n), ""};
      auto r = Cmd(c.get(), {"SET", w.key, w.value});
      w.reply = Show(r.get(), c.get());
      if (w.reply == "+OK") ++acked;
      std::lock_guard<std::mutex> lock(mu);
      writes.push_back(std::move(w));
      if (!r) return;  // the gateway closed the connection (it is exiting)
    }
  });
  int64_t deadline = test_support::MonotonicMs() + 10000;
  while (acked < 200 && test_support::MonotonicMs() < deadline) usleep(5 * 1000);
  ASSERT_GE(acked.load(), 200) << "the writer did not get going";

  int64_t t_kill = test_support::MonotonicMs();
  ASSERT_EQ(kill(child, SIGKILL), 0);
  bool exited = false;
  while (!(exited = gw.HasExited()) && test_support::MonotonicMs() < t_kill + kExitBoundMs) {
    usleep(5 * 1000);
  }
  int64_t exit_ms = test_support::MonotonicMs() - t_kill;
  stop = true;
  writer.join();
  ASSERT_TRUE(exited) << "the gateway was still running " << kExitBoundMs
                      << " ms after its nats-server died:\n"
                      << gw.LogTail();
  std::string how = gw.Stop();  // already reaped: reports how it ended
  EXPECT_NE(how, "exit 0") << "a gateway that lost its store must not exit 0";
  EXPECT_EQ(how.rfind("exit ", 0), 0u) << "it should exit by itself, not crash: " << how;
  EXPECT_NE(gw.LogTail().find("embedded nats-server exited: it was killed by signal 9"),
            std::string::npos)
      << gw.LogTail();
  int fd = test_support::ConnectLoopback(port, 1000);
  EXPECT_LT(fd, 0) << "port " << port << " still accepts connections";
  if (fd >= 0) close(fd);

  // Nothing acknowledged was lost.
  test_support::Gateway again;
  ASSERT_EQ(again.Start(options_, dir_.path()), "");
  auto c = Connect(again.port());
  ASSERT_TRUE(c);
  int ok = 0, verified = 0, failed = 0, unknown = 0, unknown_applied = 0;
  std::map<std::string, int> errors;
  for (const Write& w : writes) {
    std::string got = Show(Cmd(c.get(), {"GET", w.key}).get());
    if (w.reply == "+OK") {
      ++ok;
      if (got == "$" + w.value) ++verified;
      EXPECT_EQ(got, "$" + w.value) << "acknowledged write to " << w.key << " lost";
      continue;
    }
    ++errors[w.reply.substr(0, 72)];
    if (w.reply.rfind("-ERR backend outcome unknown", 0) == 0 ||
        w.reply.rfind("<no reply", 0) == 0) {
      ++unknown;
      if (got == "$" + w.value) ++unknown_applied;
      EXPECT_TRUE(got == "$" + w.value || got == "(nil)") << w.key << ": " << got;
    } else {
      ++failed;
      EXPECT_EQ(got, "(nil)") << w.key << " was applied although its SET got " << w.reply;
    }
  }
  std::printf(
      "embedded nats-server killed: gateway exited after %lld ms (%s); acknowledged %d, "
      "verified %d, lost %d; failed %d (none applied); unknown %d (%d applied, %d not)\n",
      static_cast<long long>(exit_ms), how.c_str(), ok, verified, ok - verified, failed,
      unknown, unknown_applied, unknown - unknown_applied);
  for (const auto& [text, n] : errors) std::printf("  %d x %s\n", n, text.c_str());
  EXPECT_EQ(again.Stop(), "exit 0");
}

}  // namespace
