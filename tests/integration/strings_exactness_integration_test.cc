// SPDX-License-Identifier: Apache-2.0
//
// Read-modify-write string commands stay exact under contention (issue 3). INCR, INCRBYFLOAT,
// APPEND and SETRANGE read the key, compute the new value and write it back with a
// compare-and-set on the key's revision; a lost race is retried. These tests race several
// Redis connections (and, for APPEND, a native NATS writer doing its own CAS with nats.c's
// kvStore_Update) on one key and check that no update is lost or applied twice.
//
// Every worker thread has its own hiredis context. Workers only record what they saw; all
// assertions run on the gtest thread after the workers are joined. A worker stops at its first
// error reply (e.g. "ERR backend contention: ..."), which fails the test with that reply.
#include <gtest/gtest.h>
#include <nats/nats.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/gateway_fixture.h"

namespace integration {
namespace {

// What one worker connection saw.
struct WorkerResult {
  std::vector<std::string> replies;  // one per command, in order (Show() form)
  std::string error;                 // first unexpected reply, empty if none
};

// Splits "a,b,c," into {"a","b","c"} (a trailing comma ends the last token).
std::vector<std::string> Tokens(const std::string& value) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < value.size()) {
    size_t comma = value.find(',', start);
    if (comma == std::string::npos) {
      out.push_back(value.substr(start));
      break;
    }
    out.push_back(value.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

// Checks that `tokens` holds every expected token exactly once and nothing else; returns a
// description of the differences (empty when exact).
std::string CompareTokens(const std::vector<std::string>& tokens,
                          const std::set<std::string>& expected) {
  std::map<std::string, int> count;
  for (const std::string& t : tokens) ++count[t];
  std::string out;
  int shown = 0;
  for (const auto& [t, n] : count) {
    if (n != 1 || expected.count(t) == 0) {
      if (shown++ < 20) out += " '" + t + "'x" + std::to_string(n);
    }
  }
  for (const std::string& t : expected) {
    if (count.count(t) == 0 && shown++ < 40) out += " missing '" + t + "'";
  }
  if (!out.empty()) {
    out = "tokens: " + std::to_string(tokens.size()) + " (expected " +
          std::to_string(expected.size()) + "), problems:" + out;
  }
  return out;
}

class StringsExactness : public GatewayFixture {
 protected:
  // Runs `threads` workers; worker w sends commands(w, n) for n in [0, per_thread) on its own
  // connection. A reply is accepted when ok(reply) is true.
  template <typename MakeCommand, typename Accept>
  std::vector<WorkerResult> RunWorkers(int threads, int per_thread, MakeCommand commands,
                                       Accept ok) {
    std::vector<WorkerResult> results(static_cast<size_t>(threads));
    std::vector<std::thread> workers;
    std::atomic<int> ready{0};
    for (int w = 0; w < threads; ++w) {
      workers.emplace_back([&, w] {
        WorkerResult& res = results[static_cast<size_t>(w)];
        int port = ports_.empty() ? gateway_.port() : ports_[static_cast<size_t>(w) % ports_.size()];
        RedisPtr c = Connect(port, 30000);
        ready.fetch_add(1);
        while (ready.load() < threads) std::this_thread::yield();  // start together
        if (!c) {
          res.error = "worker " + std::to_string(w) + ": cannot connect";
          return;
        }
        for (int n = 0; n < per_thread; ++n) {
          std::vector<std::string> argv = commands(w, n);
          ReplyPtr r = Cmd(c.get(), argv);
          std::string shown = Show(r.get(), c.get());
          if (!ok(shown)) {
            res.error = "worker " + std::to_string(w) + " command " + std::to_string(n) + " (" +
                        argv[0] + "): " + shown;
            return;
          }
          res.replies.push_back(std::move(shown));
        }
      });
    }
    for (std::thread& t : workers) t.join();
    return results;
  }

  // Gateways the workers connect to, round robin (empty: the fixture's one).
  std::vector<int> ports_;

  static bool IsInteger(const std::string& shown) {
    return shown.size() > 1 && shown[0] == ':';
  }
  static bool IsBulk(const std::string& shown) { return !shown.empty() && shown[0] == '$'; }
};

// (a) 8 connections x 1,000 INCR on one key: the final value is exactly 8,000, and the 8,000
// replies are exactly 1..8,000, each once (every increment saw a distinct predecessor).
TEST_F(StringsExactness, ConcurrentIncrIsExact) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 1000;
  const std::string key = "exact:incr";
  auto results = RunWorkers(
      kThreads, kPerThread, [&](int, int) { return std::vector<std::string>{"INCR", key}; },
      IsInteger);
  std::vector<long long> seen;
  for (const WorkerResult& r : results) {
    EXPECT_EQ(r.error, "");
    long long previous = 0;
    for (const std::string& s : r.replies) {
      long long v = std::stoll(s.substr(1));
      // One connection's INCRs are ordered, so its replies increase.
      EXPECT_GT(v, previous) << "replies of one connection must increase";
      previous = v;
      seen.push_back(v);
    }
  }
  RedisPtr c = Connect(gateway_.port());
  ASSERT_TRUE(c);
  EXPECT_EQ(Run(c.get(), {"GET", key}), "$" + std::to_string(kThreads * kPerThread));
  if (seen.size() == static_cast<size_t>(kThreads * kPerThread)) {
    std::sort(seen.begin(), seen.end());
    for (size_t i = 0; i < seen.size(); ++i) {
      if (seen[i] != static_cast<long long>(i + 1)) {
        ADD_FAILURE() << "INCR replies are not exactly 1.." << seen.size() << ": position " << i
                      << " holds " << seen[i];
        break;
      }
    }
  }
}

// (a2) The same over two gateways on one bucket (4 connections each): the two gateways' CAS
// rounds race on the key, and the result is still exactly 8,000, each reply once.
TEST_F(StringsExactness, ConcurrentIncrOverTwoGatewaysIsExact) {
  test_support::Gateway second;
  test_support::TempDir dir;
  ASSERT_EQ(StartAnotherGateway(&second, dir.path()), "");
  ports_ = {gateway_.port(), second.port()};
  constexpr int kThreads = 8;
  constexpr int kPerThread = 1000;
  const std::string key = "exact:incr2";
  auto results = RunWorkers(
      kThreads, kPerThread, [&](int, int) { return std::vector<std::string>{"INCR", key}; },
      IsInteger);
  std::vector<long long> seen;
  for (const WorkerResult& r : results) {
    EXPECT_EQ(r.error, "");
    for (const std::string& s : r.replies) seen.push_back(std::stoll(s.substr(1)));
  }
  RedisPtr c = Connect(second.port());
  ASSERT_TRUE(c);
  EXPECT_EQ(Run(c.get(), {"GET", key}), "$" + std::to_string(kThreads * kPerThread));
  std::sort(seen.begin(), seen.end());
  ASSERT_EQ(seen.size(), static_cast<size_t>(kThreads * kPerThread));
  for (size_t i = 0; i < seen.size(); ++i) {
    if (seen[i] != static_cast<long long>(i + 1)) {
      ADD_FAILURE() << "INCR replies are not exactly 1.." << seen.size() << ": position " << i
                    << " holds " << seen[i];
      break;
    }
  }
  EXPECT_EQ(second.Stop(), "exit 0");
}

// (b) 4 Redis connections APPEND "r<i>-<n>," 200 times each to one key while a native NATS
// client appends "n<j>," 200 times by read-modify-write with kvStore_Update (CAS on the
// revision, retried when the sequence moved). Every one of the 1,000 tokens is in the final
// value exactly once.
TEST_F(StringsExactness, AppendRacesNativeCasWriter) {
  constexpr int kRedisConns = 4;
  constexpr int kPerConn = 200;
  constexpr int kNative = 200;
  const std::string redis_key = "exact:append";
  const std::string nats_key = "exact.append";  // ':' maps to '.'

  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  kvStore* kv = nullptr;
  struct NatsCleanup {  // runs on every exit, early ASSERT returns included
    natsConnection*& nc;
    jsCtx*& js;
    kvStore*& kv;
    ~NatsCleanup() {
      if (kv != nullptr) kvStore_Destroy(kv);
      if (js != nullptr) jsCtx_Destroy(js);
      if (nc != nullptr) natsConnection_Destroy(nc);
    }
  } cleanup{nc, js, kv};
  ASSERT_EQ(natsConnection_ConnectTo(&nc, nats_.url().c_str()), NATS_OK)
      << nats_GetLastError(nullptr);
  ASSERT_EQ(natsConnection_JetStream(&js, nc, nullptr), NATS_OK);
  ASSERT_EQ(js_KeyValue(&kv, js, BucketName().c_str()), NATS_OK)
      << "bucket " << BucketName() << ": " << nats_GetLastError(nullptr);

  std::atomic<bool> go{false};
  std::string native_error;
  long long native_retries = 0;
  std::thread native([&] {
    while (!go.load()) std::this_thread::yield();
    for (int j = 0; j < kNative && native_error.empty(); ++j) {
      const std::string token = "n" + std::to_string(j) + ",";
      for (int attempt = 0;; ++attempt) {
        if (attempt >= 10000) {
          native_error = "native append " + std::to_string(j) + ": 10000 CAS attempts lost";
          break;
        }
        kvEntry* e = nullptr;
        natsStatus s = kvStore_Get(&e, kv, nats_key.c_str());
        uint64_t rev = 0;
        if (s == NATS_OK) {
          std::string value(static_cast<const char*>(kvEntry_Value(e)),
                            static_cast<size_t>(kvEntry_ValueLen(e)));
          uint64_t last = kvEntry_Revision(e);
          kvEntry_Destroy(e);
          value += token;
          s = kvStore_Update(&rev, kv, nats_key.c_str(), value.data(),
                             static_cast<int>(value.size()), last);
        } else if (s == NATS_NOT_FOUND) {
          s = kvStore_Create(&rev, kv, nats_key.c_str(), token.data(),
                             static_cast<int>(token.size()));
        } else {
          native_error = std::string("kvStore_Get: ") + natsStatus_GetText(s) + " " +
                         nats_GetLastError(nullptr);
          break;
        }
        if (s == NATS_OK) break;
        // A lost race: "wrong last sequence" (JetStream error 10071) from Update or Create.
        // Anything else (a timeout, say) may or may not have been applied: a failure.
        const char* last_error = nats_GetLastError(nullptr);
        std::string why = last_error != nullptr ? last_error : "";
        if (why.find("wrong last sequence") == std::string::npos &&
            why.find("key exists") == std::string::npos) {
          native_error = "native write: " + std::string(natsStatus_GetText(s)) + " " + why;
          break;
        }
        ++native_retries;
      }
    }
  });

  std::vector<WorkerResult> results;
  std::thread redis_side([&] {
    results = RunWorkers(
        kRedisConns, kPerConn,
        [&](int w, int n) {
          if (n == 0) go.store(true);
          return std::vector<std::string>{
              "APPEND", redis_key, "r" + std::to_string(w) + "-" + std::to_string(n) + ","};
        },
        IsInteger);
  });
  redis_side.join();
  go.store(true);
  native.join();

  for (const WorkerResult& r : results) EXPECT_EQ(r.error, "");
  EXPECT_EQ(native_error, "");
  std::printf("native CAS retries: %lld\n", native_retries);

  std::set<std::string> expected;
  for (int w = 0; w < kRedisConns; ++w) {
    for (int n = 0; n < kPerConn; ++n) {
      expected.insert("r" + std::to_string(w) + "-" + std::to_string(n));
    }
  }
  for (int j = 0; j < kNative; ++j) expected.insert("n" + std::to_string(j));

  RedisPtr c = Connect(gateway_.port());
  ASSERT_TRUE(c);
  std::string got = Run(c.get(), {"GET", redis_key});
  ASSERT_TRUE(IsBulk(got)) << got;
  std::string value = got.substr(1);
  EXPECT_EQ(CompareTokens(Tokens(value), expected), "");

  // Each writer's tokens appear in the order it sent them.
  std::map<std::string, int> last_seen;  // writer ("r0", ..., "n") -> last sequence number
  for (const std::string& t : Tokens(value)) {
    size_t dash = t.find('-');
    std::string writer = t[0] == 'n' ? "n" : t.substr(0, dash);
    int n = std::atoi(t.c_str() + (t[0] == 'n' ? 1 : dash + 1));
    auto it = last_seen.find(writer);
    EXPECT_TRUE(it == last_seen.end() || it->second < n) << "token " << t << " out of order";
    last_seen[writer] = n;
  }
  // The length reported by the last APPEND of each connection never exceeds the final length.
  for (const WorkerResult& r : results) {
    if (!r.replies.empty()) {
      EXPECT_LE(std::stoll(r.replies.back().substr(1)), static_cast<long long>(value.size()));
    }
  }
  // And the native client reads the same bytes.
  kvEntry* e = nullptr;
  ASSERT_EQ(kvStore_Get(&e, kv, nats_key.c_str()), NATS_OK);
  EXPECT_EQ(std::string(static_cast<const char*>(kvEntry_Value(e)),
                        static_cast<size_t>(kvEntry_ValueLen(e))),
            value);
  kvEntry_Destroy(e);
}

// (c) 4 connections x 250 INCRBYFLOAT 0.5: exactly 500 (0.5 is exact in binary, so any lost or
// doubled update shows).
TEST_F(StringsExactness, ConcurrentIncrByFloatIsExact) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 250;
  const std::string key = "exact:float";
  auto results = RunWorkers(
      kThreads, kPerThread,
      [&](int, int) { return std::vector<std::string>{"INCRBYFLOAT", key, "0.5"}; }, IsBulk);
  std::set<std::string> distinct;
  size_t total = 0;
  for (const WorkerResult& r : results) {
    EXPECT_EQ(r.error, "");
    for (const std::string& s : r.replies) {
      distinct.insert(s);
      ++total;
    }
  }
  EXPECT_EQ(distinct.size(), total) << "two INCRBYFLOAT calls returned the same value";
  RedisPtr c = Connect(gateway_.port());
  ASSERT_TRUE(c);
  EXPECT_EQ(Run(c.get(), {"GET", key}), "$500");
}

// (d) SETRANGE and APPEND on one key from 4 connections: two connections SETRANGE single bytes
// into a 400-byte prefix (connection c owns the offsets 2n+c), two APPEND tokens at the end.
// Every SETRANGE byte and every APPEND token survives.
TEST_F(StringsExactness, SetRangeAndAppendKeepEveryWrite) {
  constexpr int kPerConn = 200;
  constexpr int kPrefix = 2 * kPerConn;
  const std::string key = "exact:setrange";
  RedisPtr setup = Connect(gateway_.port());
  ASSERT_TRUE(setup);
  ASSERT_EQ(Run(setup.get(), {"SET", key, std::string(kPrefix, '.')}), "+OK");

  auto results = RunWorkers(
      4, kPerConn,
      [&](int w, int n) {
        if (w < 2) {
          return std::vector<std::string>{"SETRANGE", key, std::to_string(2 * n + w),
                                          std::string(1, static_cast<char>('a' + w))};
        }
        return std::vector<std::string>{
            "APPEND", key, "a" + std::to_string(w) + "-" + std::to_string(n) + ","};
      },
      IsInteger);
  for (const WorkerResult& r : results) EXPECT_EQ(r.error, "");
  // SETRANGE inside the prefix answers the current length, never less than the prefix.
  for (int w = 0; w < 2; ++w) {
    for (const std::string& s : results[static_cast<size_t>(w)].replies) {
      EXPECT_GE(std::stoll(s.substr(1)), kPrefix) << s;
    }
  }

  std::string got = Run(setup.get(), {"GET", key});
  ASSERT_TRUE(IsBulk(got)) << got;
  std::string value = got.substr(1);
  ASSERT_GE(value.size(), static_cast<size_t>(kPrefix));
  std::string want_prefix;
  for (int n = 0; n < kPerConn; ++n) want_prefix += "ab";
  EXPECT_EQ(value.substr(0, kPrefix), want_prefix);

  std::set<std::string> expected;
  for (int w = 2; w < 4; ++w) {
    for (int n = 0; n < kPerConn; ++n) {
      expected.insert("a" + std::to_string(w) + "-" + std::to_string(n));
    }
  }
  EXPECT_EQ(CompareTokens(Tokens(value.substr(kPrefix)), expected), "");
  EXPECT_EQ(Run(setup.get(), {"STRLEN", key}), ":" + std::to_string(value.size()));
}

}  // namespace
}  // namespace integration
