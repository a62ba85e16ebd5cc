// SPDX-License-Identifier: Apache-2.0
//
// Client limits as in Redis 7.0: `timeout` closes idle clients (not subscribers, not clients
// waiting for a reply) and client-query-buffer-limit closes a client whose unparsed input and
// partial request grow past the limit. maxclients and the output buffer limits are covered by
// the integration and pipeline tests.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "tests/unit/gateway/gateway_fixture.h"

namespace gateway {
namespace {

using test_support::IsOk;
using test_support::IsSimple;
using testing_support::GatewayTest;

class IdleTimeoutTest : public GatewayTest {
 protected:
  IdleTimeoutTest() { config_.timeout_seconds = 5; }
  std::chrono::steady_clock::time_point Later(int seconds) {
    return std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  }
};

TEST_F(IdleTimeoutTest, ClosesAClientIdleForLongerThanTheTimeout) {
  EXPECT_THAT(Run({"ping"}), IsSimple("PONG"));
  EXPECT_EQ(server().CloseIdleClients(Later(3)), 0);
  EXPECT_EQ(transport_.close_calls(), 0);
  EXPECT_EQ(server().CloseIdleClients(Later(6)), 1);
  EXPECT_GT(transport_.close_calls(), 0);
}

TEST_F(IdleTimeoutTest, ZeroMeansNever) {
  Run({"ping"});
  config_.timeout_seconds = 0;
  EXPECT_EQ(server().CloseIdleClients(Later(100000)), 0);
}

TEST_F(IdleTimeoutTest, CanBeSetWithConfigSet) {
  EXPECT_THAT(Run({"config", "set", "timeout", "100"}), IsOk());
  EXPECT_EQ(server().CloseIdleClients(Later(60)), 0);
  EXPECT_EQ(server().CloseIdleClients(Later(101)), 1);
}

TEST_F(IdleTimeoutTest, SubscribersAreNotClosed) {
  Run({"subscribe", "ch"});
  EXPECT_EQ(server().CloseIdleClients(Later(60)), 0);
}

TEST_F(IdleTimeoutTest, ClientsWaitingForAReplyAreNotClosed) {
  WarmUp(kvmap::FakeKvBackend::Mode::kManual);
  Send({"get", "k"});  // the backend has not answered
  EXPECT_EQ(server().CloseIdleClients(Later(60)), 0);
  backend_.CompleteAll();
  Drain();
  EXPECT_EQ(server().CloseIdleClients(Later(60)), 1);
}

class QueryBufferLimitTest : public GatewayTest {
 protected:
  QueryBufferLimitTest() { config_.query_buffer_limit = 1 << 20; }
};

TEST_F(QueryBufferLimitTest, ARequestUnderTheLimitRuns) {
  EXPECT_THAT(Run({"set", "k", std::string(900 * 1024, 'x')}), IsOk());
  EXPECT_EQ(transport_.close_calls(), 0);
}

TEST_F(QueryBufferLimitTest, APartialRequestOverTheLimitClosesTheClient) {
  std::string head = "*3\r\n$3\r\nset\r\n$1\r\nk\r\n$2000000\r\n";
  Feed(head + std::string(600 * 1024, 'x'));
  EXPECT_EQ(transport_.close_calls(), 0);
  Feed(std::string(600 * 1024, 'x'));
  EXPECT_GT(transport_.close_calls(), 0);
  EXPECT_EQ(backend_.write_calls(), 0u);
}

TEST_F(QueryBufferLimitTest, ConfigSetChecksTheValue) {
  EXPECT_THAT(Run({"config", "set", "client-query-buffer-limit", "10"}),
              test_support::IsErr("ERR Invalid argument '10' for CONFIG SET"));
  EXPECT_THAT(Run({"config", "set", "client-query-buffer-limit", "2mb"}), IsOk());
  EXPECT_EQ(config_.query_buffer_limit, 2 << 20);
}

}  // namespace
}  // namespace gateway
