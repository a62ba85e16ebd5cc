// SPDX-License-Identifier: Apache-2.0
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/resp_matchers.h"
#include "tests/unit/gateway/gateway_fixture.h"

namespace gateway {
namespace {

using test_support::IsBulk;
using test_support::IsErr;
using test_support::IsNil;
using test_support::IsOk;
using testing_support::GatewayTest;
using Mode = kvmap::FakeKvBackend::Mode;

TEST_F(GatewayTest, FlushDbEmptiesOnlyTheCurrentDatabase) {
  WarmUp(Mode::kImmediate);
  EXPECT_THAT(Run({"set", "a", "1"}), IsOk());
  EXPECT_THAT(Run({"select", "1"}), IsOk());
  EXPECT_THAT(Run({"set", "b", "2"}), IsOk());
  EXPECT_THAT(Run({"flushdb"}), IsOk());
  EXPECT_THAT(Run({"get", "b"}), IsNil());
  EXPECT_THAT(Run({"select", "0"}), IsOk());
  EXPECT_THAT(Run({"get", "a"}), IsBulk("1"));
  // The stream keeps only the flush marker, on an internal key.
  const kvmap::Entry* marker = backend_.Latest("redis-1", kvmap::kFlushKey);
  ASSERT_NE(marker, nullptr);
  EXPECT_EQ(marker->op, kvmap::EntryOp::kFlush);
}

TEST_F(GatewayTest, FlushAllEmptiesEveryDatabase) {
  WarmUp(Mode::kImmediate);
  EXPECT_THAT(Run({"set", "a", "1"}), IsOk());
  EXPECT_THAT(Run({"select", "15"}), IsOk());
  EXPECT_THAT(Run({"set", "b", "2"}), IsOk());
  EXPECT_THAT(Run({"flushall", "async"}), IsOk());
  EXPECT_THAT(Run({"get", "b"}), IsNil());
  EXPECT_THAT(Run({"select", "0"}), IsOk());
  EXPECT_THAT(Run({"get", "a"}), IsNil());
  EXPECT_THAT(Run({"set", "a", "3"}), IsOk()) << "keys can be created again after a flush";
  EXPECT_THAT(Run({"get", "a"}), IsBulk("3"));
}

TEST_F(GatewayTest, FlushOptionsOtherThanAsyncOrSyncAreSyntaxErrors) {
  WarmUp(Mode::kImmediate);
  EXPECT_THAT(Run({"flushdb", "now"}), IsErr("ERR syntax error"));
  EXPECT_THAT(Run({"flushall", "sync", "async"}), IsErr("ERR syntax error"));
  EXPECT_EQ(writes(), 0u);
}

TEST_F(GatewayTest, FlushIsABarrierBetweenPipelinedCommands) {
  WarmUp(Mode::kManual);
  Send({"set", "a", "1"});
  Send({"flushdb"});
  Send({"get", "a"});
  // Only the SET may be in flight: the flush waits for it, the GET waits for the flush.
  EXPECT_EQ(backend_.pending_count(), 1u);
  backend_.CompleteAt(0);
  Drain();
  EXPECT_EQ(backend_.pending_count(), 1u);  // the flush
  backend_.CompleteAt(0);
  Drain();
  EXPECT_EQ(backend_.pending_count(), 1u);  // the GET
  backend_.CompleteAt(0);
  Drain();
  auto replies = TakeReplies();
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_THAT(replies[0], IsOk());
  EXPECT_THAT(replies[1], IsOk());
  EXPECT_THAT(replies[2], IsNil());
}

}  // namespace
}  // namespace gateway
