// SPDX-License-Identifier: Apache-2.0
//
// gateway::RedisClient against a real redis-server 7.0 (and, for protocol errors, a fake
// server on the test's own loop). Each test runs its own libuv loop on the test thread and
// starts its own redis-server on a random loopback port in its own temporary directory (the
// harness's RedisServer takes no extra arguments and cannot restart on the same port, so a
// small launcher lives here). Covered: a 100,000-command pipeline answered in order, binary
// values, AUTH with requirepass and ACL users (right and wrong; the password never in
// last_error), SELECT from the URL, fail-fast while the server is down (never inline),
// kOutcomeUnknown for commands in flight when the server dies and reconnection after it comes
// back on the same port, the reply timeout, protocol errors, host name resolution, and
// destroying the client inside its own callbacks (run under ASan to prove it).
//
// A missing redis-server skips the tests that need one, or fails them when RNG_REQUIRE_NATS=1.
#include <gtest/gtest.h>
#include <netdb.h>
#include <signal.h>
#include <unistd.h>
#include <uv.h>

#include <functional>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/redis_client.h"
#include "tests/support/process_harness.h"

namespace integration {
namespace {

using gateway::ParseRedisUrl;
using gateway::RedisClient;
using gateway::RedisClientOptions;
using kvmap::KvStatus;

// redis-server with extra arguments, on a random port that Restart() keeps.
class OwnRedis {
 public:
  ~OwnRedis() { process_.Stop(); }

  std::string Start(const std::string& binary, const std::string& dir,
                    std::vector<std::string> extra_args) {
    binary_ = binary;
    dir_ = dir;
    extra_args_ = std::move(extra_args);
    std::mt19937 rng(std::random_device{}());
    std::uniform_int_distribution<int> pick(20000, 32000);
    std::string last;
    for (int attempt = 0; attempt < 10; ++attempt) {
      bool is_port_taken = false;
      last = Launch(pick(rng), &is_port_taken);
      if (last.empty() || !is_port_taken) return last;
    }
    return "redis-server did not start on 10 random ports: " + last;
  }
  // Starts it again on the same port (after Kill).
  std::string Restart() {
    bool is_port_taken = false;
    return Launch(port_, &is_port_taken);
  }
  void Kill(int sig) { process_.Kill(sig); }
  int port() const { return port_; }
  std::string LogTail() const { return process_.LogTail(); }

 private:
  std::string Launch(int port, bool* is_port_taken) {
    const std::string log = dir_ + "/redis-" + std::to_string(++launches_) + ".log";
    std::vector<std::string> argv = {binary_,
                                     "--port",
                                     std::to_string(port),
                                     "--bind",
                                     "127.0.0.1",
                                     "--save",
                                     "",
                                     "--appendonly",
                                     "no",
                                     "--dir",
                                     dir_,
                                     "--daemonize",
                                     "no",
                                     "--logfile",
                                     "",
                                     "--enable-debug-command",
                                     "yes"};
    argv.insert(argv.end(), extra_args_.begin(), extra_args_.end());
    std::string err = process_.Spawn(argv, log);
    if (!err.empty()) return err;
    const int64_t deadline = test_support::MonotonicMs() + 20000;
    while (test_support::MonotonicMs() < deadline) {
      if (process_.HasExited()) {
        *is_port_taken = true;
        return "redis-server exited: " + process_.LogTail();
      }
      // The log line proves that this process, not another one, owns the port.
      if (process_.LogTail(100000).find("Ready to accept connections") != std::string::npos) {
        const int fd = test_support::ConnectLoopback(port, 1000);
        if (fd >= 0) {
          close(fd);
          port_ = port;
          return {};
        }
      }
      usleep(10000);
    }
    process_.Stop();
    return "redis-server did not start in time: " + process_.LogTail();
  }

  test_support::ChildProcess process_;
  std::string binary_;
  std::string dir_;
  std::vector<std::string> extra_args_;
  int port_ = 0;
  int launches_ = 0;
};

// A TCP server on the test's loop: sends `greeting` to each new connection and `answer` for
// every read. Handles are heap objects freed by their close callbacks, so the server may be
// destroyed while the loop is not running.
class FakeServer {
 public:
  FakeServer(uv_loop_t* loop, std::string greeting, std::string answer)
      : greeting_(std::move(greeting)), answer_(std::move(answer)) {
    listener_ = new uv_tcp_t;
    uv_tcp_init(loop, listener_);
    listener_->data = this;
    sockaddr_in addr{};
    uv_ip4_addr("127.0.0.1", 0, &addr);
    uv_tcp_bind(listener_, reinterpret_cast<const sockaddr*>(&addr), 0);
    uv_listen(reinterpret_cast<uv_stream_t*>(listener_), 16, [](uv_stream_t* s, int status) {
      if (status == 0) static_cast<FakeServer*>(s->data)->Accept();
    });
    sockaddr_storage bound{};
    int len = sizeof(bound);
    uv_tcp_getsockname(listener_, reinterpret_cast<sockaddr*>(&bound), &len);
    port_ = ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  }
  ~FakeServer() {
    for (uv_tcp_t* c : conns_) uv_close(reinterpret_cast<uv_handle_t*>(c), &FreeTcp);
    uv_close(reinterpret_cast<uv_handle_t*>(listener_), &FreeTcp);
  }
  int port() const { return port_; }
  int accepted() const { return static_cast<int>(accept_times_ms_.size()); }
  // When each connection was accepted (test_support::MonotonicMs).
  const std::vector<int64_t>& accept_times_ms() const { return accept_times_ms_; }

 private:
  static void FreeTcp(uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); }

  void Accept() {
    auto* conn = new uv_tcp_t;
    uv_tcp_init(listener_->loop, conn);
    conn->data = this;
    if (uv_accept(reinterpret_cast<uv_stream_t*>(listener_),
                  reinterpret_cast<uv_stream_t*>(conn)) != 0) {
      uv_close(reinterpret_cast<uv_handle_t*>(conn), &FreeTcp);
      return;
    }
    accept_times_ms_.push_back(test_support::MonotonicMs());
    conns_.insert(conn);
    Send(conn, greeting_);
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(conn),
        [](uv_handle_t*, size_t, uv_buf_t* buf) {
          static char scratch[65536];
          *buf = uv_buf_init(scratch, sizeof(scratch));
        },
        [](uv_stream_t* s, ssize_t nread, const uv_buf_t*) {
          auto* self = static_cast<FakeServer*>(s->data);
          auto* c = reinterpret_cast<uv_tcp_t*>(s);
          if (nread < 0) {
            self->conns_.erase(c);
            uv_close(reinterpret_cast<uv_handle_t*>(c), &FreeTcp);
          } else if (nread > 0) {
            self->Send(c, self->answer_);
          }
        });
  }
  static void Send(uv_tcp_t* conn, const std::string& bytes) {
    if (bytes.empty()) return;
    uv_buf_t buf =
        uv_buf_init(const_cast<char*>(bytes.data()), static_cast<unsigned>(bytes.size()));
    uv_try_write(reinterpret_cast<uv_stream_t*>(conn), &buf, 1);
  }

  std::string greeting_;
  std::string answer_;
  uv_tcp_t* listener_ = nullptr;
  std::set<uv_tcp_t*> conns_;
  int port_ = 0;
  std::vector<int64_t> accept_times_ms_;
};

struct Result {
  bool is_done = false;
  KvStatus status = KvStatus::kInternal;
  resp::Reply reply;
};

// A test's own libuv loop, run on the test thread.
class LoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(uv_loop_init(&loop_), 0);
    uv_timer_init(&loop_, &wake_);
    is_loop_open_ = true;
  }

  void TearDown() override {
    if (!is_loop_open_) return;
    uv_close(reinterpret_cast<uv_handle_t*>(&wake_), nullptr);
    // Clients were destroyed by the tests: their handles close now (and free their state).
    const int64_t deadline = test_support::MonotonicMs() + 10000;
    while (uv_loop_alive(&loop_) && test_support::MonotonicMs() < deadline) {
      uv_run(&loop_, UV_RUN_ONCE);
    }
    EXPECT_EQ(uv_loop_close(&loop_), 0) << "handles left open on the loop";
  }

  // Runs the loop until pred() holds or timeout_ms passed; returns pred().
  bool RunUntil(const std::function<bool()>& pred, int64_t timeout_ms) {
    uv_timer_start(
        &wake_, [](uv_timer_t*) {}, 5, 5);  // bounds each uv_run(ONCE)
    const int64_t deadline = test_support::MonotonicMs() + timeout_ms;
    while (!pred() && test_support::MonotonicMs() < deadline) uv_run(&loop_, UV_RUN_ONCE);
    uv_timer_stop(&wake_);
    return pred();
  }
  // Runs the loop for ms milliseconds.
  void RunFor(int64_t ms) {
    RunUntil([] { return false; }, ms);
  }

  std::unique_ptr<RedisClient> NewClient(const std::string& url, int64_t reply_timeout_ms = 5000,
                                         resp::ReplyLimits limits = {}) {
    RedisClientOptions options;
    const std::string err = ParseRedisUrl(url, &options.url);
    EXPECT_EQ(err, "") << url;
    options.reply_timeout_ms = reply_timeout_ms;
    options.limits = limits;
    return std::make_unique<RedisClient>(&loop_, options);
  }

  // Waits for the client's connection; false after timeout_ms.
  bool WaitConnected(RedisClient* client, int64_t timeout_ms = 10000) {
    auto state = std::make_shared<std::pair<bool, bool>>(false, false);  // done, connected
    client->WhenConnected(timeout_ms, [state](bool ok) { *state = {true, ok}; });
    RunUntil([&] { return state->first; }, timeout_ms + 2000);
    return state->second;
  }

  // Sends one command and runs the loop until its callback ran.
  std::shared_ptr<Result> Send(RedisClient* client, const std::vector<std::string>& argv) {
    auto result = std::make_shared<Result>();
    std::vector<std::string_view> views(argv.begin(), argv.end());
    client->Command(views, [result](KvStatus st, resp::Reply& r) {
      result->status = st;
      result->reply = std::move(r);
      result->is_done = true;
    });
    return result;
  }
  Result Call(RedisClient* client, const std::vector<std::string>& argv,
              int64_t timeout_ms = 10000) {
    std::shared_ptr<Result> result = Send(client, argv);
    RunUntil([&] { return result->is_done; }, timeout_ms);
    return *result;
  }

  uv_loop_t loop_{};
  uv_timer_t wake_{};
  bool is_loop_open_ = false;
};

// LoopTest with a redis-server of the test's own.
class RedisClientIT : public LoopTest {
 protected:
  void SetUp() override {
    binary_ = test_support::FindBinary("REDIS_SERVER_BIN", "redis-server");
    if (binary_.empty()) {
      if (test_support::NatsRequired()) FAIL() << "redis-server not found and RNG_REQUIRE_NATS=1";
      GTEST_SKIP() << "redis-server not found; set REDIS_SERVER_BIN";
    }
    ASSERT_FALSE(dir_.path().empty());
    LoopTest::SetUp();
  }
  void StartRedis(std::vector<std::string> extra_args = {}) {
    const std::string err = redis_.Start(binary_, dir_.path(), std::move(extra_args));
    ASSERT_EQ(err, "");
  }
  std::string Url(const std::string& userinfo = "", int db = 0) const {
    return "redis://" + userinfo + "127.0.0.1:" + std::to_string(redis_.port()) + "/" +
           std::to_string(db);
  }

  std::string binary_;
  test_support::TempDir dir_{"rng-redis-client-"};
  OwnRedis redis_;
};

std::string Text(const resp::Reply& r) { return r.is_error() ? "-" + r.str : r.str; }

// ---------------------------------------------------------------------------------------------

TEST_F(RedisClientIT, PipelinesOneHundredThousandSetsThenGetsInOrder) {
  StartRedis();
  auto client = NewClient(Url());
  client->Start();
  ASSERT_TRUE(WaitConnected(client.get())) << client->last_error();
  constexpr int kCount = 100000;

  int answered = 0;
  int out_of_order = 0;
  int bad = 0;
  std::string wire;
  for (int i = 0; i < kCount; ++i) {
    const std::string key = "key:" + std::to_string(i);
    const std::string value = "value-" + std::to_string(i);
    resp::AppendCommand({"SET", key, value}, &wire);
    client->Command({"SET", key, value}, [&, i](KvStatus st, resp::Reply& r) {
      if (answered++ != i) ++out_of_order;
      if (st != KvStatus::kOk || r.type != resp::ReplyType::kStatus || r.str != "OK") ++bad;
    });
  }
  // Command() only queues: every byte is still waiting for the loop's write.
  EXPECT_EQ(client->write_backlog(), wire.size());
  EXPECT_EQ(client->in_flight(), static_cast<size_t>(kCount));
  ASSERT_TRUE(RunUntil([&] { return answered == kCount; }, 60000)) << answered;
  EXPECT_EQ(out_of_order, 0);
  EXPECT_EQ(bad, 0);
  EXPECT_EQ(client->write_backlog(), 0u);
  EXPECT_EQ(client->in_flight(), 0u);

  answered = 0;
  for (int i = 0; i < kCount; ++i) {
    const std::string key = "key:" + std::to_string(i);
    client->Command({"GET", key}, [&, i](KvStatus st, resp::Reply& r) {
      if (answered++ != i) ++out_of_order;
      if (st != KvStatus::kOk || r.type != resp::ReplyType::kBulk ||
          r.str != "value-" + std::to_string(i)) {
        ++bad;
      }
    });
  }
  ASSERT_TRUE(RunUntil([&] { return answered == kCount; }, 60000)) << answered;
  EXPECT_EQ(out_of_order, 0);
  EXPECT_EQ(bad, 0);
  EXPECT_EQ(client->connects(), 1u);
  EXPECT_EQ(client->disconnects(), 0u);
}

TEST_F(RedisClientIT, BinaryValuesRoundTrip) {
  StartRedis();
  auto client = NewClient(Url());
  client->Start();
  ASSERT_TRUE(WaitConnected(client.get())) << client->last_error();
  // Already connected: still posted, not run inside the call.
  bool is_ready = false;
  client->WhenConnected(1000, [&](bool ok) { is_ready = ok; });
  EXPECT_FALSE(is_ready);
  ASSERT_TRUE(RunUntil([&] { return is_ready; }, 1000));
  std::string all_bytes;
  for (int i = 0; i < 256; ++i) all_bytes.push_back(static_cast<char>(i));
  std::mt19937 rng(7);
  std::string random_big(5 * 1024 * 1024, '\0');
  for (char& c : random_big) c = static_cast<char>(rng());
  const std::vector<std::string> values = {all_bytes,
                                           "",
                                           "\r\n",
                                           "$-1\r\n",
                                           "*1\r\n$3\r\nfoo\r\n",
                                           std::string("\0\0\0", 3),
                                           "line1\r\nline2\nline3\r",
                                           random_big};
  for (size_t i = 0; i < values.size(); ++i) {
    const std::string key = std::string("bin\r\n\0key", 9) + std::to_string(i);
    Result set = Call(client.get(), {"SET", key, values[i]});
    ASSERT_TRUE(set.is_done);
    EXPECT_EQ(set.status, KvStatus::kOk);
    EXPECT_EQ(Text(set.reply), "OK");
    Result get = Call(client.get(), {"GET", key});
    ASSERT_TRUE(get.is_done);
    EXPECT_EQ(get.reply.type, resp::ReplyType::kBulk);
    EXPECT_TRUE(get.reply.str == values[i]) << "value " << i << " size " << get.reply.str.size();
  }
  Result missing = Call(client.get(), {"GET", "no-such-key"});
  EXPECT_TRUE(missing.reply.is_nil());
  Result arr = Call(client.get(), {"MGET", std::string("bin\r\n\0key", 9) + "0", "nope"});
  ASSERT_EQ(arr.reply.type, resp::ReplyType::kArray);
  ASSERT_EQ(arr.reply.elements.size(), 2u);
  EXPECT_EQ(arr.reply.elements[0].str, all_bytes);
  EXPECT_TRUE(arr.reply.elements[1].is_nil());
  Result err = Call(client.get(), {"INCR", std::string("bin\r\n\0key", 9) + "0"});
  EXPECT_EQ(err.status, KvStatus::kOk);
  EXPECT_TRUE(err.reply.is_error());
  EXPECT_EQ(client->disconnects(), 0u);
}

TEST_F(RedisClientIT, AuthWithRequirepassAndAclUser) {
  StartRedis(
      {"--requirepass", "s3cret-pw", "--user", "alice", "on", ">alice-pw", "~*", "&*", "+@all"});
  {
    auto client = NewClient(Url(":s3cret-pw@"));
    client->Start();
    ASSERT_TRUE(WaitConnected(client.get())) << client->last_error();
    EXPECT_EQ(Text(Call(client.get(), {"PING"}).reply), "PONG");
    EXPECT_EQ(Text(Call(client.get(), {"ACL", "WHOAMI"}).reply), "default");
    EXPECT_EQ(client->connects(), 1u);
  }
  {
    auto client = NewClient(Url("alice:alice-pw@"));
    client->Start();
    ASSERT_TRUE(WaitConnected(client.get())) << client->last_error();
    EXPECT_EQ(Text(Call(client.get(), {"ACL", "WHOAMI"}).reply), "alice");
  }
  {
    // No password: the server's NOAUTH is an ordinary error reply.
    auto client = NewClient(Url());
    client->Start();
    ASSERT_TRUE(WaitConnected(client.get())) << client->last_error();
    Result r = Call(client.get(), {"GET", "k"});
    EXPECT_EQ(r.status, KvStatus::kOk);
    EXPECT_EQ(Text(r.reply).substr(0, 7), "-NOAUTH");
  }
}

TEST_F(RedisClientIT, WrongPasswordIsReportedWithoutThePassword) {
  StartRedis({"--requirepass", "s3cret-pw"});
  for (const std::string userinfo : {":wrong-pw-1234@", "alice:wrong-pw-1234@"}) {
    auto client = NewClient(Url(userinfo));
    client->Start();
    EXPECT_FALSE(WaitConnected(client.get(), 1000));
    EXPECT_FALSE(client->is_connected());
    EXPECT_EQ(client->connects(), 0u);
    const std::string& error = client->last_error();
    EXPECT_NE(error.find("AUTH"), std::string::npos) << error;
    EXPECT_NE(error.find("WRONGPASS"), std::string::npos) << error;
    EXPECT_EQ(error.find("wrong-pw-1234"), std::string::npos) << error;
    EXPECT_EQ(client->url().Redacted().find("wrong-pw-1234"), std::string::npos);
    Result r = Call(client.get(), {"PING"});
    EXPECT_EQ(r.status, KvStatus::kUnavailable);
  }
}

TEST_F(RedisClientIT, SelectsTheDatabaseFromTheUrl) {
  StartRedis();
  auto db5 = NewClient(Url("", 5));
  auto db0 = NewClient(Url("", 0));
  db5->Start();
  db0->Start();
  ASSERT_TRUE(WaitConnected(db5.get())) << db5->last_error();
  ASSERT_TRUE(WaitConnected(db0.get())) << db0->last_error();
  EXPECT_EQ(Text(Call(db5.get(), {"SET", "k", "in-5"}).reply), "OK");
  EXPECT_EQ(Text(Call(db0.get(), {"SET", "k", "in-0"}).reply), "OK");
  EXPECT_EQ(Text(Call(db5.get(), {"GET", "k"}).reply), "in-5");
  EXPECT_EQ(Text(Call(db0.get(), {"GET", "k"}).reply), "in-0");
  EXPECT_NE(Text(Call(db5.get(), {"CLIENT", "INFO"}).reply).find(" db=5 "), std::string::npos);

  // A database the server does not have: the SELECT error, and no connection.
  auto db99 = NewClient(Url("", 99));
  db99->Start();
  EXPECT_FALSE(WaitConnected(db99.get(), 1000));
  EXPECT_NE(db99->last_error().find("SELECT 99: ERR DB index is out of range"), std::string::npos)
      << db99->last_error();
}

TEST_F(RedisClientIT, FailsFastWhileTheServerIsDown) {
  StartRedis();
  const int port = redis_.port();
  redis_.Kill(SIGKILL);
  auto client = NewClient("redis://127.0.0.1:" + std::to_string(port));
  // Before Start() too: kUnavailable, posted.
  std::vector<int> order;
  std::vector<KvStatus> statuses;
  client->Command({"PING"}, [&](KvStatus st, resp::Reply&) {
    order.push_back(0);
    statuses.push_back(st);
  });
  EXPECT_TRUE(order.empty()) << "the callback ran inside Command()";
  client->Start();
  for (int i = 1; i <= 3; ++i) {
    client->Command({"SET", "k", "v"}, [&, i](KvStatus st, resp::Reply& r) {
      order.push_back(i);
      statuses.push_back(st);
      EXPECT_EQ(r.type, resp::ReplyType::kNil);
    });
    EXPECT_EQ(order.size(), 0u) << "the callback ran inside Command()";
  }
  EXPECT_EQ(client->in_flight(), 0u);
  EXPECT_EQ(client->write_backlog(), 0u);
  ASSERT_TRUE(RunUntil([&] { return order.size() == 4; }, 5000));
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3}));
  for (KvStatus st : statuses) EXPECT_EQ(st, KvStatus::kUnavailable);
  ASSERT_TRUE(RunUntil([&] { return !client->last_error().empty(); }, 5000));
  EXPECT_NE(client->last_error().find("connection refused"), std::string::npos)
      << client->last_error();
  EXPECT_FALSE(client->is_connected());
  // WhenConnected gives up after its timeout, posted as well.
  bool is_called = false;
  bool is_ok = true;
  client->WhenConnected(300, [&](bool ok) {
    is_called = true;
    is_ok = ok;
  });
  EXPECT_FALSE(is_called);
  ASSERT_TRUE(RunUntil([&] { return is_called; }, 3000));
  EXPECT_FALSE(is_ok);
}

TEST_F(RedisClientIT, InFlightCommandsAreOutcomeUnknownWhenTheServerDiesThenItReconnects) {
  StartRedis();
  auto client = NewClient(Url(), /*reply_timeout_ms=*/30000);
  client->Start();
  ASSERT_TRUE(WaitConnected(client.get())) << client->last_error();
  std::vector<int> order;
  std::vector<KvStatus> statuses;
  const std::vector<std::vector<std::string>> commands = {
      {"DEBUG", "SLEEP", "10"}, {"SET", "a", "1"}, {"GET", "a"}};
  for (size_t i = 0; i < commands.size(); ++i) {
    std::vector<std::string_view> views(commands[i].begin(), commands[i].end());
    client->Command(views, [&, i](KvStatus st, resp::Reply&) {
      order.push_back(static_cast<int>(i));
      statuses.push_back(st);
    });
  }
  ASSERT_TRUE(RunUntil([&] { return client->write_backlog() == 0; }, 5000));
  EXPECT_EQ(client->in_flight(), 3u);
  redis_.Kill(SIGKILL);
  ASSERT_TRUE(RunUntil([&] { return order.size() == 3; }, 10000));
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2}));
  for (KvStatus st : statuses) EXPECT_EQ(st, KvStatus::kOutcomeUnknown);
  EXPECT_FALSE(client->is_connected());
  EXPECT_EQ(client->disconnects(), 1u);
  EXPECT_EQ(client->in_flight(), 0u);
  EXPECT_EQ(Call(client.get(), {"PING"}).status, KvStatus::kUnavailable);

  ASSERT_EQ(redis_.Restart(), "");
  ASSERT_TRUE(WaitConnected(client.get(), 10000)) << client->last_error();
  EXPECT_EQ(client->connects(), 2u);
  EXPECT_EQ(Text(Call(client.get(), {"SET", "b", "2"}).reply), "OK");
  EXPECT_EQ(Text(Call(client.get(), {"GET", "b"}).reply), "2");
}

TEST_F(RedisClientIT, ReplyTimeoutDropsTheConnectionWhichRecovers) {
  StartRedis();
  auto client = NewClient(Url(), /*reply_timeout_ms=*/200);
  client->Start();
  ASSERT_TRUE(WaitConnected(client.get())) << client->last_error();
  const int64_t start = test_support::MonotonicMs();
  std::shared_ptr<Result> sleep = Send(client.get(), {"DEBUG", "SLEEP", "1"});
  std::shared_ptr<Result> ping = Send(client.get(), {"PING"});
  ASSERT_TRUE(RunUntil([&] { return sleep->is_done && ping->is_done; }, 5000));
  const int64_t took = test_support::MonotonicMs() - start;
  EXPECT_EQ(sleep->status, KvStatus::kTimeout);
  EXPECT_EQ(ping->status, KvStatus::kOutcomeUnknown);
  EXPECT_GE(took, 190);
  EXPECT_LT(took, 900);  // well before the server woke up
  EXPECT_NE(client->last_error().find("within 200 ms"), std::string::npos) << client->last_error();
  EXPECT_EQ(client->disconnects(), 1u);

  // The server answers again once its sleep is over; the client gets there by itself.
  bool is_pong = false;
  const int64_t deadline = test_support::MonotonicMs() + 15000;
  while (!is_pong && test_support::MonotonicMs() < deadline) {
    WaitConnected(client.get(), 2000);
    Result r = Call(client.get(), {"PING"}, 3000);
    is_pong = r.status == KvStatus::kOk && Text(r.reply) == "PONG";
    if (!is_pong) RunFor(50);
  }
  EXPECT_TRUE(is_pong) << client->last_error();
  EXPECT_GE(client->connects(), 2u);
}

TEST_F(RedisClientIT, DestroyingTheClientInsideAReplyCallbackDropsTheRest) {
  StartRedis();
  auto client = NewClient(Url());
  client->Start();
  ASSERT_TRUE(WaitConnected(client.get())) << client->last_error();
  int called = 0;
  for (int i = 0; i < 1000; ++i) {
    client->Command({"INCR", "counter"}, [&, i](KvStatus st, resp::Reply&) {
      ++called;
      EXPECT_EQ(st, KvStatus::kOk);
      if (i == 9) client.reset();
    });
  }
  ASSERT_TRUE(RunUntil([&] { return client == nullptr; }, 10000));
  RunFor(300);
  EXPECT_EQ(called, 10);
}

TEST_F(RedisClientIT, DestroyingTheClientInsideOtherCallbacks) {
  StartRedis();
  {
    // Inside a fail-fast callback, with more of them posted.
    auto client = NewClient(Url());
    int called = 0;
    for (int i = 0; i < 5; ++i) {
      client->Command({"PING"}, [&, i](KvStatus st, resp::Reply&) {
        ++called;
        EXPECT_EQ(st, KvStatus::kUnavailable);
        if (i == 1) client.reset();
      });
    }
    ASSERT_TRUE(RunUntil([&] { return client == nullptr; }, 5000));
    RunFor(50);
    EXPECT_EQ(called, 2);
  }
  {
    // Inside WhenConnected, with commands in flight.
    auto client = NewClient(Url());
    client->Start();
    ASSERT_TRUE(WaitConnected(client.get()));
    int called = 0;
    client->Command({"DEBUG", "SLEEP", "0.2"}, [&](KvStatus, resp::Reply&) { ++called; });
    client->Command({"PING"}, [&](KvStatus, resp::Reply&) { ++called; });
    client->WhenConnected(1000, [&](bool) { client.reset(); });
    ASSERT_TRUE(RunUntil([&] { return client == nullptr; }, 5000));
    RunFor(400);
    EXPECT_EQ(called, 0);
  }
  {
    // Inside the kOutcomeUnknown callbacks of a lost connection.
    auto client = NewClient(Url(), 30000);
    client->Start();
    ASSERT_TRUE(WaitConnected(client.get()));
    int called = 0;
    for (int i = 0; i < 3; ++i) {
      client->Command({"DEBUG", "SLEEP", "5"}, [&](KvStatus st, resp::Reply&) {
        ++called;
        EXPECT_EQ(st, KvStatus::kOutcomeUnknown);
        client.reset();
      });
    }
    ASSERT_TRUE(RunUntil([&] { return client->write_backlog() == 0; }, 5000));
    redis_.Kill(SIGKILL);
    ASSERT_TRUE(RunUntil([&] { return client == nullptr; }, 5000));
    RunFor(50);
    EXPECT_EQ(called, 1);
  }
  {
    // While connecting, and with a pending write, outside any callback.
    ASSERT_EQ(redis_.Restart(), "");
    auto client = NewClient(Url());
    client->Start();
    client.reset();
    RunFor(50);
    client = NewClient(Url());
    client->Start();
    ASSERT_TRUE(WaitConnected(client.get()));
    client->Command({"SET", "k", std::string(1 << 20, 'x')}, [](KvStatus, resp::Reply&) {
      ADD_FAILURE() << "dropped callbacks must not run";
    });
    client.reset();
    RunFor(50);
  }
}

TEST_F(RedisClientIT, ResolvesHostNames) {
  StartRedis();
  {
    auto client = NewClient("redis://localhost:" + std::to_string(redis_.port()));
    client->Start();
    ASSERT_TRUE(WaitConnected(client.get())) << client->last_error();
    EXPECT_EQ(Text(Call(client.get(), {"PING"}).reply), "PONG");
  }
  // A name that needs the resolver (uv_getaddrinfo): this machine's own, when it is an
  // IPv4 loopback address.
  char name[256] = {};
  ASSERT_EQ(gethostname(name, sizeof(name) - 1), 0);
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  bool is_loopback = false;
  if (getaddrinfo(name, nullptr, &hints, &res) == 0) {
    char ip[64] = {};
    uv_ip4_name(reinterpret_cast<sockaddr_in*>(res->ai_addr), ip, sizeof(ip));
    is_loopback = std::string(ip) == "127.0.0.1";
    freeaddrinfo(res);
  }
  if (!is_loopback) GTEST_SKIP() << "host name " << name << " is not 127.0.0.1 here";
  {
    auto client = NewClient("redis://" + std::string(name) + ":" + std::to_string(redis_.port()));
    client->Start();
    ASSERT_TRUE(WaitConnected(client.get())) << client->last_error();
    EXPECT_EQ(Text(Call(client.get(), {"PING"}).reply), "PONG");
  }
  {
    // Destroyed while its lookup may still be running.
    auto client = NewClient("redis://" + std::string(name) + ":" + std::to_string(redis_.port()));
    client->Start();
    client.reset();
  }
}

// ---------------------------------------------------------------------------------------------
// Against a fake server (no redis-server needed).

class RedisClientFakeServer : public LoopTest {};

TEST_F(RedisClientFakeServer, GarbageFromTheServerDropsTheConnection) {
  FakeServer server(&loop_, "", "@garbage\r\n");
  auto client = NewClient("redis://127.0.0.1:" + std::to_string(server.port()));
  client->Start();
  ASSERT_TRUE(WaitConnected(client.get())) << client->last_error();
  Result r = Call(client.get(), {"PING"});
  ASSERT_TRUE(r.is_done);
  EXPECT_EQ(r.status, KvStatus::kOutcomeUnknown);
  EXPECT_EQ(client->last_error().rfind("protocol error: ", 0), 0u) << client->last_error();
  EXPECT_EQ(client->disconnects(), 1u);
  // And it connects again by itself.
  ASSERT_TRUE(RunUntil([&] { return client->connects() == 2; }, 5000));
  EXPECT_GE(server.accepted(), 2);
}

TEST_F(RedisClientFakeServer, AReplyNobodyAskedForIsAProtocolError) {
  FakeServer server(&loop_, "+HELLO\r\n", "");
  auto client = NewClient("redis://127.0.0.1:" + std::to_string(server.port()));
  client->Start();
  ASSERT_TRUE(RunUntil([&] { return client->disconnects() == 1; }, 5000));
  EXPECT_NE(client->last_error().find("no command asked for"), std::string::npos)
      << client->last_error();
}

TEST_F(RedisClientFakeServer, RepliesAboveTheLimitsDropTheConnection) {
  FakeServer server(&loop_, "", "$100\r\n");
  resp::ReplyLimits limits;
  limits.max_bulk_len = 10;
  auto client = NewClient("redis://127.0.0.1:" + std::to_string(server.port()), 5000, limits);
  client->Start();
  ASSERT_TRUE(WaitConnected(client.get())) << client->last_error();
  Result r = Call(client.get(), {"GET", "k"});
  EXPECT_EQ(r.status, KvStatus::kOutcomeUnknown);
  EXPECT_NE(client->last_error().find("above the limit"), std::string::npos)
      << client->last_error();
}

TEST_F(RedisClientFakeServer, ReconnectBackoffDoublesFrom100MsUpTo2s) {
  // Every AUTH fails, so no connection becomes ready and the backoff is never reset.
  FakeServer server(&loop_, "", "-WRONGPASS invalid username-password pair\r\n");
  auto client = NewClient("redis://:pw@127.0.0.1:" + std::to_string(server.port()));
  client->Start();
  ASSERT_TRUE(RunUntil([&] { return server.accepted() >= 7; }, 15000)) << server.accepted();
  const std::vector<int64_t>& at = server.accept_times_ms();
  const int64_t expected_gaps[] = {100, 200, 400, 800, 1600, 2000};
  for (size_t i = 0; i < 6; ++i) {
    const int64_t gap = at[i + 1] - at[i];
    EXPECT_GE(gap, expected_gaps[i] - 10) << "gap " << i;
    EXPECT_LE(gap, expected_gaps[i] + 400) << "gap " << i;
  }
  EXPECT_EQ(client->last_error(), "AUTH: WRONGPASS invalid username-password pair");
  EXPECT_EQ(client->connects(), 0u);
  EXPECT_EQ(client->disconnects(), 0u);  // never connected, so never lost
}

TEST_F(RedisClientFakeServer, ServerThatNeverAnswersAuthTimesOutTheConnect) {
  FakeServer server(&loop_, "", "");
  RedisClientOptions options;
  ASSERT_EQ(ParseRedisUrl("redis://:pw-never-shown@127.0.0.1:" + std::to_string(server.port()),
                          &options.url),
            "");
  options.connect_timeout_ms = 300;
  auto client = std::make_unique<RedisClient>(&loop_, options);
  client->Start();
  ASSERT_TRUE(RunUntil([&] { return !client->last_error().empty(); }, 5000));
  EXPECT_NE(client->last_error().find("timed out"), std::string::npos) << client->last_error();
  EXPECT_EQ(client->last_error().find("pw-never-shown"), std::string::npos);
  EXPECT_FALSE(client->is_connected());
}

}  // namespace
}  // namespace integration
