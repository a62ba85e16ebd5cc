// SPDX-License-Identifier: Apache-2.0
//
// The nats.c backend (--nats-client natsc) under concurrent load. Its answers arrive on nats.c
// threads, its manager thread connects, creates buckets and expires operations, and all of them
// hand their results to the libuv loop through LoopExecutor. These tests drive every one of
// those hand-overs at once, so that a ThreadSanitizer build of the gateway (scripts/tsan.sh)
// sees them race if they can; they also assert the replies, so they are ordinary integration
// tests in the other builds:
//   - many clients pipelining mixed commands on their own keys (read-your-writes, in order)
//     and INCRs on one shared counter (compare-and-set across connections), some of them in
//     other databases, whose buckets the manager thread creates while the load runs;
//   - local pub/sub pushes interleaved with completions that come back from nats.c threads;
//   - clients that close with commands in flight, so completions meet closed sessions;
//   - nats-server killed and stopped gracefully under pipelined load, then restarted;
//   - SIGTERM to the gateway while commands are in flight (TearDown wants exit 0).
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "tests/integration/gateway_fixture.h"

namespace integration {
namespace {

// A sanitizer build runs the gateway several times slower, so replies get generous timeouts;
// every wait still has one.
constexpr int kReplyTimeoutMs = 30000;

// Failures seen by worker threads, reported on the test thread (gtest assertions are only
// reliable there).
class Problems {
 public:
  void Add(std::string p) {
    std::lock_guard<std::mutex> lock(mu_);
    if (list_.size() < 20) list_.push_back(std::move(p));
    ++count_;
  }
  void Report() {
    std::lock_guard<std::mutex> lock(mu_);
    for (const std::string& p : list_) ADD_FAILURE() << p;
    if (count_ > list_.size()) ADD_FAILURE() << (count_ - list_.size()) << " more problems";
  }

 private:
  std::mutex mu_;
  std::vector<std::string> list_;
  size_t count_ = 0;
};

class NatscThreads : public GatewayFixture {
 protected:
  std::vector<std::string> GatewayArgs() const override {
    return {"--nats-client", "natsc", "--nats-timeout-ms", "1000"};
  }

  template <typename Pred>
  static bool WaitFor(Pred pred, int timeout_ms) {
    int64_t deadline = test_support::MonotonicMs() + timeout_ms;
    while (test_support::MonotonicMs() < deadline) {
      if (pred()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return pred();
  }
};

// One client: `batches` pipelines of `batch` commands on its own keys "c<id>:<n>" checked
// against a model, each batch also INCRing the shared counter once per kIncrEvery commands.
// Returns the number of INCRs that answered, so the test can check the counter.
int PipelinedClient(int port, int id, int db, int batches, int batch, Problems* problems) {
  constexpr int kKeys = 8;
  constexpr int kIncrEvery = 10;
  RedisPtr c = Connect(port, kReplyTimeoutMs);
  if (!c) {
    problems->Add("client " + std::to_string(id) + ": cannot connect");
    return 0;
  }
  if (db != 0) {
    std::string got = Show(Cmd(c.get(), {"SELECT", std::to_string(db)}).get(), c.get());
    if (got != "+OK") {
      problems->Add("client " + std::to_string(id) + ": SELECT " + std::to_string(db) + ": " +
                    got);
      return 0;
    }
  }
  std::mt19937 rng(static_cast<unsigned>(id) * 7919u + 1u);
  std::map<std::string, std::string> model;
  int incrs = 0;
  for (int b = 0; b < batches; ++b) {
    std::vector<std::string> expected;
    std::vector<std::string> sent;
    for (int i = 0; i < batch; ++i) {
      std::vector<std::string> argv;
      std::string want;
      if (i % kIncrEvery == kIncrEvery - 1) {
        argv = {"INCR", "shared:counter"};
        want = ":";  // any value; only the prefix is checked
      } else {
        std::string key = "c" + std::to_string(id) + ":" + std::to_string(rng() % kKeys);
        std::string value = "v" + std::to_string(b) + "." + std::to_string(i);
        auto it = model.find(key);
        switch (rng() % 6) {
          case 0:
          case 1:
            argv = {"SET", key, value};
            model[key] = value;
            want = "+OK";
            break;
          case 2:
            argv = {"GET", key};
            want = it == model.end() ? "(nil)" : "$" + it->second;
            break;
          case 3:
            argv = {"APPEND", key, "+"};
            model[key] += "+";
            want = ":" + std::to_string(model[key].size());
            break;
          case 4:
            argv = {"DEL", key};
            want = model.erase(key) > 0 ? ":1" : ":0";
            break;
          default:
            argv = {"SET", key, value, "NX"};
            want = it == model.end() ? "+OK" : "(nil)";
            if (it == model.end()) model[key] = value;
            break;
        }
      }
      sent.push_back(argv[0] + " " + argv[1]);
      expected.push_back(want);
      if (Append(c.get(), argv) != REDIS_OK) {
        problems->Add("client " + std::to_string(id) + ": append failed");
        return incrs;
      }
    }
    for (int i = 0; i < batch; ++i) {
      ReplyPtr r = NextReply(c.get());
      std::string got = Show(r.get(), c.get());
      if (!r) {
        problems->Add("client " + std::to_string(id) + ": " + sent[i] + ": " + got);
        return incrs;
      }
      bool is_incr = expected[i] == ":";
      if (is_incr && r->type == REDIS_REPLY_INTEGER) {
        ++incrs;
      } else if (got != expected[i]) {
        problems->Add("client " + std::to_string(id) + " batch " + std::to_string(b) + ": " +
                      sent[i] + ": expected " + expected[i] + ", got " + got);
      }
    }
  }
  return incrs;
}

TEST_F(NatscThreads, ConcurrentPipelinesKeepOrderReadYourWritesAndCounters) {
  constexpr int kClients = 6;
  constexpr int kBatches = 8;
  constexpr int kBatch = 100;
  Problems problems;
  std::atomic<int> incrs_db0{0};
  std::vector<std::thread> clients;
  for (int id = 0; id < kClients; ++id) {
    // Clients 4 and 5 use databases 1 and 2: their buckets are created by the manager thread
    // while the others run.
    int db = id < 4 ? 0 : id - 3;
    clients.emplace_back([&, id, db] {
      int n = PipelinedClient(gateway_.port(), id, db, kBatches, kBatch, &problems);
      if (db == 0) incrs_db0 += n;
    });
  }
  for (std::thread& t : clients) t.join();
  problems.Report();

  RedisPtr c = Connect(gateway_.port(), kReplyTimeoutMs);
  ASSERT_TRUE(c);
  // Every INCR in database 0 answered with an integer, so each was applied exactly once.
  EXPECT_EQ(Run(c.get(), {"GET", "shared:counter"}), "$" + std::to_string(incrs_db0.load()));
  EXPECT_EQ(incrs_db0.load(), 4 * kBatches * (kBatch / 10));
  EXPECT_NE(Run(c.get(), {"INFO"}).find("nats_client:natsc"), std::string::npos)
      << "not the nats.c backend";
}

TEST_F(NatscThreads, PubSubPushesInterleaveWithBackendCompletions) {
  constexpr int kMessages = 300;
  constexpr int kSubscribers = 2;
  Problems problems;
  // Subscribers first, so that every message has both receivers.
  std::vector<RedisPtr> subs;
  for (int s = 0; s < kSubscribers; ++s) {
    RedisPtr sub = Connect(gateway_.port(), kReplyTimeoutMs);
    ASSERT_TRUE(sub);
    ASSERT_EQ(Run(sub.get(), {"SUBSCRIBE", "news"}), "*3[$subscribe, $news, :1]");
    subs.push_back(std::move(sub));
  }
  std::atomic<bool> stop{false};
  // Backend load on other connections while the messages flow.
  std::vector<std::thread> load;
  for (int id = 0; id < 2; ++id) {
    load.emplace_back([&, id] {
      RedisPtr c = Connect(gateway_.port(), kReplyTimeoutMs);
      if (!c) return problems.Add("load: cannot connect");
      for (int i = 0; !stop.load(); ++i) {
        std::string key = "load" + std::to_string(id) + ":" + std::to_string(i % 5);
        std::string got = Run(c.get(), {"SET", key, std::to_string(i)});
        if (got != "+OK") return problems.Add("load: SET: " + got);
      }
    });
  }
  // The publisher mixes its PUBLISHes with its own SETs and GETs, so its replies alternate
  // between ones made on the loop at once and ones that come back from nats.c threads.
  std::thread publisher([&] {
    RedisPtr c = Connect(gateway_.port(), kReplyTimeoutMs);
    if (!c) return problems.Add("publisher: cannot connect");
    for (int i = 0; i < kMessages; i += 10) {
      std::vector<std::string> expected;
      for (int j = i; j < i + 10; ++j) {
        Append(c.get(), {"PUBLISH", "news", "m" + std::to_string(j)});
        expected.push_back(":" + std::to_string(kSubscribers));
        Append(c.get(), {"SET", "pub:last", std::to_string(j)});
        expected.push_back("+OK");
        Append(c.get(), {"GET", "pub:last"});
        expected.push_back("$" + std::to_string(j));
      }
      for (const std::string& want : expected) {
        std::string got = Show(NextReply(c.get()).get(), c.get());
        if (got != want) return problems.Add("publisher: expected " + want + ", got " + got);
      }
    }
  });
  std::vector<std::thread> readers;
  for (int s = 0; s < kSubscribers; ++s) {
    readers.emplace_back([&, s] {
      for (int i = 0; i < kMessages; ++i) {
        std::string got = Show(NextReply(subs[s].get()).get(), subs[s].get());
        std::string want = "*3[$message, $news, $m" + std::to_string(i) + "]";
        if (got != want) {
          return problems.Add("subscriber " + std::to_string(s) + ": expected " + want +
                              ", got " + got);
        }
      }
    });
  }
  publisher.join();
  for (std::thread& t : readers) t.join();
  stop = true;
  for (std::thread& t : load) t.join();
  problems.Report();
}

TEST_F(NatscThreads, ClientsClosingWithCommandsInFlightLeaveTheGatewayHealthy) {
  constexpr int kThreads = 4;
  constexpr int kRounds = 15;
  Problems problems;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < kRounds; ++round) {
        RedisPtr c = Connect(gateway_.port(), kReplyTimeoutMs);
        if (!c) return problems.Add("cannot connect");
        for (int i = 0; i < 100; ++i) {
          std::string key = "gone" + std::to_string(t) + ":" + std::to_string(i % 7);
          if (i % 3 == 0) {
            Append(c.get(), {"GET", key});
          } else {
            Append(c.get(), {"SET", key, "x"});
          }
        }
        // Send the pipeline, read at most one reply (sometimes none), then hang up.
        int done = 0;
        while (done == 0) {
          if (redisBufferWrite(c.get(), &done) != REDIS_OK) break;
        }
        if (round % 2 == 1) NextReply(c.get());
        c.reset();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  problems.Report();
  // The completions for the closed clients were dropped; the gateway still serves.
  RedisPtr c = Connect(gateway_.port(), kReplyTimeoutMs);
  ASSERT_TRUE(c);
  EXPECT_EQ(Run(c.get(), {"SET", "after", "ok"}), "+OK");
  EXPECT_EQ(Run(c.get(), {"GET", "after"}), "$ok");
}

TEST_F(NatscThreads, NatsKilledAndStoppedUnderPipelinedLoadThenRecovers) {
  constexpr int kClients = 3;
  Problems problems;
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, backend_errors{0};
  std::vector<std::thread> clients;
  for (int id = 0; id < kClients; ++id) {
    clients.emplace_back([&, id] {
      RedisPtr c = Connect(gateway_.port(), kReplyTimeoutMs);
      if (!c) return problems.Add("cannot connect");
      for (int i = 0; !stop.load(); i += 20) {
        for (int j = i; j < i + 20; ++j) {
          std::string key = "r" + std::to_string(id) + ":" + std::to_string(j % 10);
          Append(c.get(), j % 2 == 0 ? std::vector<std::string>{"SET", key, std::to_string(j)}
                                     : std::vector<std::string>{"GET", key});
        }
        bool any_error = false;
        for (int j = 0; j < 20; ++j) {
          ReplyPtr r = NextReply(c.get());
          std::string got = Show(r.get(), c.get());
          if (!r) return problems.Add("client " + std::to_string(id) + ": " + got);
          if (got.rfind("-ERR backend", 0) == 0) {
            ++backend_errors;
            any_error = true;
          } else if (got[0] == '-') {
            problems.Add("client " + std::to_string(id) + ": unexpected " + got);
          } else {
            ++ok;
          }
        }
        if (any_error) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    });
  }
  auto join = [&] {
    stop = true;
    for (std::thread& t : clients) {
      if (t.joinable()) t.join();
    }
  };
  RedisPtr probe = Connect(gateway_.port(), kReplyTimeoutMs);
  ASSERT_TRUE(probe);
  // SIGKILL: the connection just drops. SIGTERM: nats-server closes it itself.
  for (int sig : {SIGKILL, SIGTERM}) {
    int ok_before = ok.load();
    bool loaded = WaitFor([&] { return ok.load() >= ok_before + 200; }, 30000);
    if (!loaded) join();
    ASSERT_TRUE(loaded) << "load did not get going (ok " << ok.load() << ")";
    int errors_before = backend_errors.load();
    nats_.Kill(sig);
    bool failing = WaitFor([&] { return backend_errors.load() >= errors_before + 20; }, 15000);
    std::string err = nats_.Restart();
    if (!failing || !err.empty()) join();
    ASSERT_TRUE(failing) << "commands did not fail while NATS was down (signal " << sig << ")";
    ASSERT_EQ(err, "");
    bool recovered =
        WaitFor([&] { return Run(probe.get(), {"SET", "probe", "x"}) == "+OK"; }, 30000);
    if (!recovered) join();
    ASSERT_TRUE(recovered) << "no recovery within 30 s after signal " << sig;
  }
  int ok_after = ok.load();
  bool busy_again = WaitFor([&] { return ok.load() >= ok_after + 200; }, 30000);
  join();
  EXPECT_TRUE(busy_again) << "clients did not succeed again after the restarts";
  std::printf("replies: %d ok, %d ERR backend\n", ok.load(), backend_errors.load());
  problems.Report();
}

TEST_F(NatscThreads, SigtermWithCommandsInFlightExitsCleanly) {
  constexpr int kClients = 3;
  std::atomic<bool> stop{false};
  std::atomic<int> replies{0};
  std::vector<std::thread> clients;
  for (int id = 0; id < kClients; ++id) {
    clients.emplace_back([&, id] {
      RedisPtr c = Connect(gateway_.port(), kReplyTimeoutMs);
      if (!c) return;
      for (int i = 0; !stop.load(); i += 50) {
        for (int j = i; j < i + 50; ++j) {
          Append(c.get(), {"SET", "s" + std::to_string(id) + ":" + std::to_string(j % 10), "v"});
        }
        for (int j = 0; j < 50; ++j) {
          if (!NextReply(c.get())) return;  // the gateway went away: expected
          ++replies;
        }
      }
    });
  }
  bool loaded = WaitFor([&] { return replies.load() >= 300; }, 30000);
  // The shutdown meets answers on their way back from nats.c threads.
  std::string how = gateway_.Stop();
  stop = true;
  for (std::thread& t : clients) t.join();
  EXPECT_TRUE(loaded) << "load did not get going (" << replies.load() << " replies)";
  EXPECT_EQ(how, "exit 0") << "the gateway did not shut down cleanly with commands in flight";
}

}  // namespace
}  // namespace integration
