// SPDX-License-Identifier: Apache-2.0
//
// Malformed input on raw TCP connections: the gateway answers "-ERR Protocol error: ..." (as
// Redis 7.0 does) and closes that connection, never allocates what a hostile header asks for,
// and keeps serving every other connection.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "tests/integration/gateway_fixture.h"

namespace integration {
namespace {

// A raw client socket; reads everything until the peer closes or a deadline passes.
class RawConn {
 public:
  explicit RawConn(int port) : fd_(test_support::ConnectLoopback(port, 5000)) {}
  ~RawConn() {
    if (fd_ >= 0) close(fd_);
  }
  bool ok() const { return fd_ >= 0; }
  bool Send(const std::string& bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
      ssize_t n = send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }
  // Reads until EOF (sets *closed) or until timeout_ms passes without EOF.
  std::string ReadAll(int timeout_ms, bool* closed) {
    std::string out;
    *closed = false;
    int64_t deadline = test_support::MonotonicMs() + timeout_ms;
    while (true) {
      int64_t left = deadline - test_support::MonotonicMs();
      if (left <= 0) break;
      pollfd pfd{fd_, POLLIN, 0};
      int ready = poll(&pfd, 1, static_cast<int>(left));
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) break;
      char buf[4096];
      ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n == 0) {
        *closed = true;
        break;
      }
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
        *closed = true;  // ECONNRESET: closed with unread input, also a close
        break;
      }
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }
  void ShutdownWrite() { shutdown(fd_, SHUT_WR); }

 private:
  int fd_;
};

class GatewayProtocolErrors : public GatewayFixture {
 protected:
  void SetUp() override {
    GatewayFixture::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    healthy_ = Connect(gateway_.port());
    ASSERT_TRUE(healthy_);
    ASSERT_EQ(Run(healthy_.get(), {"SET", "healthy", "yes"}), "+OK");
  }

  // Sends `bytes` on a fresh connection and expects `reply` followed by a close.
  void ExpectErrorAndClose(const std::string& bytes, const std::string& reply) {
    RawConn raw(gateway_.port());
    ASSERT_TRUE(raw.ok());
    ASSERT_TRUE(raw.Send(bytes));
    bool closed = false;
    std::string got = raw.ReadAll(5000, &closed);
    EXPECT_EQ(got, reply);
    EXPECT_TRUE(closed) << "the gateway should close the connection after a protocol error";
    ExpectOtherConnectionWorks();
  }

  void ExpectOtherConnectionWorks() {
    EXPECT_EQ(Run(healthy_.get(), {"PING"}), "+PONG");
    EXPECT_EQ(Run(healthy_.get(), {"GET", "healthy"}), "$yes");
  }

  RedisPtr healthy_;
};

TEST_F(GatewayProtocolErrors, InvalidBulkLength) {
  ExpectErrorAndClose("*1\r\n$abc\r\n", "-ERR Protocol error: invalid bulk length\r\n");
}

TEST_F(GatewayProtocolErrors, BulkLongerThanTheLimitIsRejectedBeforeReading) {
  // 600 MB is above proto-max-bulk-len (512 MiB): rejected on the header alone.
  ExpectErrorAndClose("*1\r\n$600000000\r\n", "-ERR Protocol error: invalid bulk length\r\n");
}

TEST_F(GatewayProtocolErrors, InvalidMultibulkLength) {
  ExpectErrorAndClose("*abc\r\n", "-ERR Protocol error: invalid multibulk length\r\n");
}

TEST_F(GatewayProtocolErrors, ExpectedDollarGotPlus) {
  ExpectErrorAndClose("*1\r\n+foo\r\n", "-ERR Protocol error: expected '$', got '+'\r\n");
}

TEST_F(GatewayProtocolErrors, UnbalancedQuotesInline) {
  ExpectErrorAndClose("SET \"abc\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n");
}

TEST_F(GatewayProtocolErrors, RepliesBeforeTheErrorAreDelivered) {
  ExpectErrorAndClose("*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$7\r\nhealthy\r\n*1\r\n$x\r\n",
                      "+PONG\r\n$3\r\nyes\r\n-ERR Protocol error: invalid bulk length\r\n");
}

TEST_F(GatewayProtocolErrors, TruncatedFrameThenCloseIsHarmless) {
  {
    RawConn raw(gateway_.port());
    ASSERT_TRUE(raw.ok());
    ASSERT_TRUE(raw.Send("*3\r\n$3\r\nSET\r\n$9\r\ntruncated\r\n$10\r\nabc"));
    raw.ShutdownWrite();
    bool closed = false;
    EXPECT_EQ(raw.ReadAll(5000, &closed), "");
    EXPECT_TRUE(closed) << "half-closed client with an incomplete frame should be closed";
  }
  ExpectOtherConnectionWorks();
  EXPECT_EQ(Run(healthy_.get(), {"EXISTS", "truncated"}), ":0")
      << "an incomplete command must not run";
}

TEST_F(GatewayProtocolErrors, AbruptCloseWithPendingCommandsIsHarmless) {
  {
    RawConn raw(gateway_.port());
    ASSERT_TRUE(raw.ok());
    std::string many;
    for (int i = 0; i < 200; ++i) many += "*3\r\n$3\r\nSET\r\n$5\r\nburst\r\n$1\r\nx\r\n";
    ASSERT_TRUE(raw.Send(many));
  }  // closed without reading a single reply
  ExpectOtherConnectionWorks();
}

TEST_F(GatewayProtocolErrors, InlineCommandsWork) {
  RawConn raw(gateway_.port());
  ASSERT_TRUE(raw.ok());
  ASSERT_TRUE(raw.Send("PING\r\nGET healthy\r\nECHO \"a b\"\r\nQUIT\r\n"));
  bool closed = false;
  EXPECT_EQ(raw.ReadAll(5000, &closed), "+PONG\r\n$3\r\nyes\r\n$3\r\na b\r\n+OK\r\n");
  EXPECT_TRUE(closed);
}

// The same malformed inputs against a real redis-server 7.0: identical bytes, identical close.
class ProtocolErrorsMatchRedis : public GatewayProtocolErrors {
 protected:
  void SetUp() override {
    GatewayProtocolErrors::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    std::string bin = test_support::FindBinary("REDIS_SERVER_BIN", "redis-server");
    if (bin.empty()) {
      if (test_support::NatsRequired()) FAIL() << "redis-server not found and RNG_REQUIRE_NATS=1";
      GTEST_SKIP() << "redis-server not found; set REDIS_SERVER_BIN";
    }
    ASSERT_EQ(redis_.Start(bin, dir_.path()), "");
  }

  static std::string Exchange(int port, const std::string& bytes) {
    RawConn raw(port);
    if (!raw.ok()) return "<connect failed>";
    raw.Send(bytes);
    bool closed = false;
    std::string got = raw.ReadAll(700, &closed);
    return got + (closed ? "<closed>" : "<open>");
  }

  test_support::RedisServer redis_;
};

TEST_F(ProtocolErrorsMatchRedis, SameRepliesAndSameCloses) {
  const std::vector<std::string> inputs = {
      "*1\r\n$abc\r\n",
      "*1\r\n$-1\r\n",
      "*1\r\n$600000000\r\n",
      "*abc\r\n",
      "*1\r\n+foo\r\n",
      "*2\r\n$4\r\nECHO\r\n:5\r\n",
      "SET \"abc\r\n",
      "ECHO \"a\"b\r\n",
      "*1\r\n$4\r\nPING\r\n*1\r\n$x\r\n",
      std::string(70000, 'x'),
      "*0\r\n\r\nPING\r\n",
      "*1\r\n$4\r\nPING",
  };
  for (const std::string& input : inputs) {
    EXPECT_EQ(Exchange(gateway_.port(), input), Exchange(redis_.port(), input))
        << "input: " << input.substr(0, 40);
  }
  ExpectOtherConnectionWorks();
}

}  // namespace
}  // namespace integration
