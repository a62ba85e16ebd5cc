// SPDX-License-Identifier: Apache-2.0
//
// nats-server is killed with SIGKILL and restarted (same port, same store) while clients keep
// writing. Checks DESIGN.md decision 2, "failure is explicit":
//   - while NATS is down, commands fail fast with "ERR backend ...";
//   - the gateway reconnects by itself once NATS is back;
//   - every acknowledged (+OK) write survives, and what GET returns is the last acknowledged
//     value unless a later write to that key was reported "outcome unknown";
//   - a write reported as failed in any other way is never applied later.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include "tests/integration/gateway_fixture.h"

namespace integration {
namespace {

enum class Outcome { kOk, kUnknown, kFailed };

struct Attempt {
  std::string key;
  std::string value;
  Outcome outcome;
  std::string reply;
};

// Everything the writers saw, in the order each writer saw it.
class Ledger {
 public:
  void Record(Attempt a) {
    std::lock_guard<std::mutex> lock(mu_);
    attempts_.push_back(std::move(a));
  }
  std::vector<Attempt> Snapshot() const {
    std::lock_guard<std::mutex> lock(mu_);
    return attempts_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<Attempt> attempts_;
};

Outcome Classify(const std::string& reply, std::string* problem) {
  if (reply == "+OK") return Outcome::kOk;
  if (reply.rfind("-ERR backend outcome unknown", 0) == 0) return Outcome::kUnknown;
  if (reply.rfind("-ERR backend", 0) != 0) *problem = "unexpected reply: " + reply;
  return Outcome::kFailed;
}

struct WriterStats {
  std::atomic<int> ok{0};
  std::atomic<int> failed{0};
  std::atomic<int> unknown{0};
  std::atomic<int64_t> worst_latency_ms{0};
  std::mutex mu;
  std::vector<std::string> problems;

  void Count(Outcome o) {
    (o == Outcome::kOk ? ok : o == Outcome::kUnknown ? unknown : failed).fetch_add(1);
  }
  void Latency(int64_t ms) {
    int64_t prev = worst_latency_ms.load();
    while (ms > prev && !worst_latency_ms.compare_exchange_weak(prev, ms)) {
    }
  }
  void Problem(std::string p) {
    std::lock_guard<std::mutex> lock(mu);
    if (problems.size() < 20) problems.push_back(std::move(p));
  }
};

// Runs against both NATS clients: the loop-native default and nats.c (--nats-client natsc).
class NatsRestart : public GatewayFixture, public ::testing::WithParamInterface<std::string> {
 protected:
  std::vector<std::string> GatewayArgs() const override {
    std::vector<std::string> args = GatewayFixture::GatewayArgs();
    args.push_back("--nats-client");
    args.push_back(GetParam());
    return args;
  }

  // One SET at a time on keys "a:<n>"; every reply must come within kMaxReplyMs.
  void SyncWriter(Ledger* ledger, WriterStats* stats) {
    RedisPtr c = Connect(gateway_.port(), 10000);
    if (!c) {
      stats->Problem("sync writer: cannot connect");
      return;
    }
    for (int i = 0; !stop_.load(); ++i) {
      std::string key = "a:" + std::to_string(i % 10);
      std::string value = "sync-" + std::to_string(i);
      int64_t t0 = test_support::MonotonicMs();
      ReplyPtr r = Cmd(c.get(), {"SET", key, value});
      int64_t dt = test_support::MonotonicMs() - t0;
      stats->Latency(dt);
      std::string reply = Show(r.get(), c.get());
      if (!r) {
        stats->Problem("sync writer: " + reply);
        return;
      }
      if (dt > kMaxReplyMs) stats->Problem("slow reply (" + std::to_string(dt) + " ms): " + reply);
      std::string problem;
      Outcome o = Classify(reply, &problem);
      if (!problem.empty()) stats->Problem(problem);
      stats->Count(o);
      ledger->Record({key, value, o, reply});
      if (o != Outcome::kOk) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

  // Pipelines batches of 20 SETs on keys "b:<n>", so writes are in flight when NATS dies.
  void PipelinedWriter(Ledger* ledger, WriterStats* stats) {
    RedisPtr c = Connect(gateway_.port(), 10000);
    if (!c) {
      stats->Problem("pipelined writer: cannot connect");
      return;
    }
    int i = 0;
    while (!stop_.load()) {
      std::vector<std::pair<std::string, std::string>> batch;
      for (int j = 0; j < 20; ++j, ++i) {
        batch.emplace_back("b:" + std::to_string(i % 20), "pipe-" + std::to_string(i));
        Append(c.get(), {"SET", batch.back().first, batch.back().second});
      }
      int64_t t0 = test_support::MonotonicMs();
      bool any_error = false;
      for (auto& [key, value] : batch) {
        ReplyPtr r = NextReply(c.get());
        std::string reply = Show(r.get(), c.get());
        if (!r) {
          stats->Problem("pipelined writer: " + reply);
          return;
        }
        std::string problem;
        Outcome o = Classify(reply, &problem);
        if (!problem.empty()) stats->Problem(problem);
        any_error |= o != Outcome::kOk;
        stats->Count(o);
        ledger->Record({key, value, o, reply});
      }
      int64_t dt = test_support::MonotonicMs() - t0;
      stats->Latency(dt);
      if (dt > kMaxReplyMs) stats->Problem("slow batch: " + std::to_string(dt) + " ms");
      if (any_error) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

  // Waits (bounded) until `pred` holds.
  template <typename Pred>
  bool WaitFor(Pred pred, int timeout_ms) {
    int64_t deadline = test_support::MonotonicMs() + timeout_ms;
    while (test_support::MonotonicMs() < deadline) {
      if (pred()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return pred();
  }

  static constexpr int64_t kMaxReplyMs = 3000;
  std::atomic<bool> stop_{false};
};

TEST_P(NatsRestart, KillAndRestartUnderLoadLosesNoAcknowledgedWrite) {
  Ledger ledger;
  WriterStats sync_stats, pipe_stats;
  std::thread sync_writer([&] { SyncWriter(&ledger, &sync_stats); });
  std::thread pipe_writer([&] { PipelinedWriter(&ledger, &pipe_stats); });
  auto join = [&] {
    stop_ = true;
    if (sync_writer.joinable()) sync_writer.join();
    if (pipe_writer.joinable()) pipe_writer.join();
  };

  // 1. Load is running and succeeding.
  bool warmed = WaitFor([&] { return sync_stats.ok >= 50 && pipe_stats.ok >= 200; }, 15000);
  if (!warmed) join();
  ASSERT_TRUE(warmed) << "writers did not get going: sync ok " << sync_stats.ok << ", pipe ok "
                      << pipe_stats.ok;

  // 2. NATS dies. Writes must fail fast with ERR backend ... while it is down.
  nats_.Kill(SIGKILL);
  int failed_before = sync_stats.failed + sync_stats.unknown;
  bool failing =
      WaitFor([&] { return sync_stats.failed + sync_stats.unknown >= failed_before + 20; }, 10000);
  // Keep it down a little longer, so the gateway's reconnect attempts meet a dead port.
  int failed_mid = sync_stats.failed;
  WaitFor([&] { return sync_stats.failed >= failed_mid + 50; }, 1500);

  // 3. NATS comes back on the same port and store. The gateway must recover by itself.
  std::string err = nats_.Restart();
  if (!err.empty()) join();
  ASSERT_EQ(err, "");
  int ok_at_restart_sync = sync_stats.ok, ok_at_restart_pipe = pipe_stats.ok;
  RedisPtr probe = Connect(gateway_.port());
  ASSERT_TRUE(probe);
  int64_t t_restart = test_support::MonotonicMs();
  bool recovered = WaitFor([&] { return Run(probe.get(), {"SET", "probe", "x"}) == "+OK"; }, 30000);
  int64_t recovery_ms = test_support::MonotonicMs() - t_restart;
  bool writers_recovered = recovered && WaitFor(
                                            [&] {
                                              return sync_stats.ok >= ok_at_restart_sync + 50 &&
                                                     pipe_stats.ok >= ok_at_restart_pipe + 200;
                                            },
                                            15000);
  join();

  EXPECT_TRUE(failing) << "writes did not fail while NATS was down";
  ASSERT_TRUE(recovered) << "gateway did not recover within 30 s of the restart";
  EXPECT_TRUE(writers_recovered) << "writers did not succeed again after the restart";
  std::printf(
      "recovery after restart: %lld ms; sync ok/failed/unknown %d/%d/%d, pipelined "
      "%d/%d/%d, worst latency %lld/%lld ms\n",
      static_cast<long long>(recovery_ms), sync_stats.ok.load(), sync_stats.failed.load(),
      sync_stats.unknown.load(), pipe_stats.ok.load(), pipe_stats.failed.load(),
      pipe_stats.unknown.load(), static_cast<long long>(sync_stats.worst_latency_ms),
      static_cast<long long>(pipe_stats.worst_latency_ms));
  for (const std::string& p : sync_stats.problems) ADD_FAILURE() << "sync writer: " << p;
  for (const std::string& p : pipe_stats.problems) ADD_FAILURE() << "pipelined writer: " << p;
  EXPECT_LE(sync_stats.worst_latency_ms.load(), kMaxReplyMs);

  // 4. Per key: the last acknowledged value, plus any later "outcome unknown" values, are the
  // only values GET may return. Values whose write failed must never appear.
  std::map<std::string, std::vector<Attempt>> by_key;
  for (Attempt& a : ledger.Snapshot()) by_key[a.key].push_back(std::move(a));
  auto check = [&](const char* when) {
    RedisPtr c = Connect(gateway_.port());
    ASSERT_TRUE(c);
    for (const auto& [key, attempts] : by_key) {
      std::map<std::string, const Attempt*> allowed;  // "$value" or "(nil)" -> why allowed
      static const Attempt kNeverWritten{"", "", Outcome::kOk, "never acknowledged"};
      allowed["(nil)"] = &kNeverWritten;
      std::map<std::string, const Attempt*> forbidden;
      for (const Attempt& a : attempts) {
        if (a.outcome == Outcome::kOk) {
          for (auto& [v, why] : allowed) forbidden.emplace(v, why);
          allowed.clear();
          allowed["$" + a.value] = &a;
        } else if (a.outcome == Outcome::kUnknown) {
          allowed["$" + a.value] = &a;
        } else {
          forbidden["$" + a.value] = &a;
        }
      }
      std::string got = Run(c.get(), {"GET", key});
      if (allowed.count(got) == 0) {
        std::string why = forbidden.count(got) ? forbidden[got]->reply : "never written";
        std::string want;
        for (auto& [v, a] : allowed) want += v + " ";
        ADD_FAILURE() << when << ": GET " << key << " returned " << got << " (that write: " << why
                      << "); allowed: " << want;
      }
    }
  };
  check("right after recovery");
  // Watch for a while for a failed write that lands late (nats.c resending on reconnect).
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  check("1.5 s later");
}

TEST_P(NatsRestart, CommandsFailFastWhileNatsIsDown) {
  RedisPtr c = Connect(gateway_.port());
  ASSERT_TRUE(c);
  ASSERT_EQ(Run(c.get(), {"SET", "k", "before"}), "+OK");
  nats_.Kill(SIGKILL);
  for (const std::vector<std::string>& argv : {std::vector<std::string>{"GET", "k"},
                                               {"SET", "k", "during"},
                                               {"DEL", "k"},
                                               {"EXISTS", "k"},
                                               {"SET", "n", "v", "NX"}}) {
    int64_t t0 = test_support::MonotonicMs();
    std::string got = Run(c.get(), argv);
    int64_t dt = test_support::MonotonicMs() - t0;
    EXPECT_EQ(got.rfind("-ERR backend", 0), 0u) << argv[0] << ": " << got;
    EXPECT_LE(dt, 3000) << argv[0] << " took " << dt << " ms";
  }
  EXPECT_EQ(Run(c.get(), {"PING"}), "+PONG") << "local commands do not need NATS";
  ASSERT_EQ(nats_.Restart(), "");
  int64_t deadline = test_support::MonotonicMs() + 30000;
  std::string got;
  while (test_support::MonotonicMs() < deadline) {
    got = Run(c.get(), {"GET", "k"});
    if (got.rfind("-ERR backend", 0) != 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(got, "$before") << "the failed SET during the outage must not have been applied";
}

}  // namespace
INSTANTIATE_TEST_SUITE_P(Clients, NatsRestart, ::testing::Values("wire", "natsc"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace integration
