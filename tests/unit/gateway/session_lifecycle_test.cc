// SPDX-License-Identifier: Apache-2.0
//
// Tests of a session under backend trouble and client departure: a disconnect while
// operations are in flight, a backend that is down, a client that closes (or whose session is
// destroyed) while its operations are in flight, and backpressure (queued-call cap, output
// watermarks, hard output limit).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/unit/gateway/gateway_fixture.h"

namespace gateway {
namespace {

using test_support::IsBulk;
using test_support::IsErr;
using test_support::IsInt;
using test_support::IsNil;
using test_support::IsOk;
using test_support::IsSimple;
using test_support::RespValue;
using testing_support::EncodeRequest;
using testing_support::GatewayTest;

constexpr std::string_view kUnavailable = "ERR backend unavailable";
constexpr std::string_view kOutcomeUnknown = "ERR backend outcome unknown";

// --- backend disconnects ---

class BackendFailureTest : public GatewayTest {
 protected:
  void SetUp() override { WarmUp(kvmap::FakeKvBackend::Mode::kManual); }
};

TEST_F(BackendFailureTest, WriteInFlightAtDisconnectRepliesOutcomeUnknown) {
  Send({"set", "k", "v"});
  Drain();
  backend_.FailAll();
  Drain();
  EXPECT_THAT(transport_.TakeSent(),
              IsErr("ERR backend outcome unknown: the write may or may not have been applied"));
}

TEST_F(BackendFailureTest, ReadInFlightAtDisconnectRepliesUnavailable) {
  Send({"get", "k"});
  Drain();
  backend_.FailAll();
  Drain();
  EXPECT_THAT(transport_.TakeSent(), IsErr("ERR backend unavailable: not connected to NATS"));
}

TEST_F(BackendFailureTest, MixedPipelineAtDisconnectFailsEachInOrder) {
  Feed(EncodeRequest({"set", "a", "1"}) + EncodeRequest({"get", "b"}) + EncodeRequest({"ping"}));
  Drain();
  backend_.FailAll();
  Drain();
  std::vector<RespValue> replies = TakeReplies();
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_THAT(replies[0], IsErr(std::string(kOutcomeUnknown)));
  EXPECT_THAT(replies[1], IsErr(std::string(kUnavailable)));
  EXPECT_THAT(replies[2], IsSimple("PONG"));
}

TEST_F(BackendFailureTest, DelWhoseReadFailsRepliesUnavailable) {
  backend_.Put(kBucket0, "k", "v");
  Send({"del", "k"});
  Drain();
  backend_.FailAll();
  Drain();
  EXPECT_THAT(transport_.TakeSent(), IsErr(std::string(kUnavailable)));
}

TEST_F(BackendFailureTest, CommandWaitingOnAFailedWriteStillRuns) {
  Feed(EncodeRequest({"set", "k", "v"}) + EncodeRequest({"get", "k"}));
  Drain();
  backend_.FailAll();  // fails the SET; the GET has not been sent yet
  Drain();
  ASSERT_EQ(backend_.pending_count(), 1u);
  backend_.CompleteAll();
  Drain();
  std::vector<RespValue> replies = TakeReplies();
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_THAT(replies[0], IsErr(std::string(kOutcomeUnknown)));
  EXPECT_THAT(replies[1], IsNil());
}

TEST_F(BackendFailureTest, DisconnectedBackendFailsCommandsFast) {
  backend_.set_connected(false);
  Send({"get", "k"});
  Drain();
  EXPECT_EQ(backend_.pending_count(), 0u);
  EXPECT_THAT(transport_.TakeSent(), IsErr(std::string(kUnavailable)));
}

TEST_F(BackendFailureTest, DisconnectedBackendFailsWritesAsUnavailable) {
  backend_.set_connected(false);
  Send({"set", "k", "v"});
  Drain();
  EXPECT_THAT(transport_.TakeSent(), IsErr(std::string(kUnavailable)));
  EXPECT_EQ(Stored("k"), "<none>");
}

TEST_F(BackendFailureTest, CommandsWorkAgainAfterReconnect) {
  backend_.set_connected(false);
  Run({"set", "k", "v"});
  backend_.set_connected(true);
  backend_.set_mode(kvmap::FakeKvBackend::Mode::kImmediate);
  EXPECT_THAT(Run({"set", "k", "v"}), IsOk());
  EXPECT_THAT(Run({"get", "k"}), IsBulk("v"));
}

TEST_F(GatewayTest, BucketThatCannotBeEnsuredRepliesUnavailable) {
  backend_.set_connected(false);
  EXPECT_THAT(Run({"get", "k"}), IsErr(std::string(kUnavailable)));
}

TEST_F(GatewayTest, BucketIsEnsuredAgainAfterAFailedAttempt) {
  backend_.set_connected(false);
  Run({"get", "k"});
  backend_.set_connected(true);
  backend_.Put(kBucket0, "k", "v");
  EXPECT_THAT(Run({"get", "k"}), IsBulk("v"));
}

// --- client closes while operations are in flight (run under ASan) ---

class ClientGoneTest : public GatewayTest {
 protected:
  void SetUp() override {
    WarmUp(kvmap::FakeKvBackend::Mode::kManual);
    backend_.Put(kBucket0, "k", "v");
    Feed(EncodeRequest({"get", "k"}) + EncodeRequest({"set", "a", "1"}) +
         EncodeRequest({"del", "k", "b"}) + EncodeRequest({"set", "c", "2", "NX"}));
    Drain();
    ASSERT_GT(backend_.pending_count(), 0u);
    transport_.TakeSent();
  }
};

TEST_F(ClientGoneTest, CompletionsAfterCloseSendNothing) {
  session().Close();
  while (backend_.pending_count() > 0) {
    backend_.CompleteNewest();
    Drain();
  }
  EXPECT_EQ(transport_.sent(), "");
}

TEST_F(ClientGoneTest, FailuresAfterCloseSendNothing) {
  session().Close();
  backend_.FailAll();
  Drain();
  EXPECT_EQ(transport_.sent(), "");
}

TEST_F(ClientGoneTest, CompletionsAfterSessionDestroyedAreDropped) {
  session_.reset();
  backend_.CompleteAll();
  Drain();
  EXPECT_EQ(transport_.sent(), "");
  EXPECT_TRUE(server().sessions().empty());
}

TEST_F(ClientGoneTest, WritesCompletedAfterCloseAreStillApplied) {
  session().Close();
  backend_.CompleteAll();
  Drain();
  // The backend stores what it was sent; only the replies are dropped.
  EXPECT_EQ(Stored("a"), "1");
}

TEST_F(ClientGoneTest, InputAfterCloseIsIgnored) {
  session().Close();
  Feed(EncodeRequest({"ping"}));
  Drain();
  EXPECT_EQ(transport_.sent(), "");
}

TEST_F(ClientGoneTest, ClosedSessionSendsNoFurtherOperations) {
  size_t gets_before = backend_.get_calls();
  size_t writes_before = backend_.write_calls();
  session().Close();
  backend_.CompleteAll();
  Drain();
  // DEL would have written after its reads, and queued commands would have started.
  EXPECT_EQ(backend_.get_calls(), gets_before);
  EXPECT_EQ(backend_.write_calls(), writes_before);
}

// --- backpressure ---

class BackpressureTest : public GatewayTest {
 protected:
  void SetUp() override {
    limits_.max_queued_calls = 2;
    limits_.output_high_watermark = 1000;
    limits_.output_low_watermark = 100;
    limits_.output_hard_limit = 5000;
    WarmUp(kvmap::FakeKvBackend::Mode::kManual);
    for (int i = 0; i < 6; ++i) backend_.Put(kBucket0, "k" + std::to_string(i), std::to_string(i));
  }
  std::string Gets(int n) {
    std::string batch;
    for (int i = 0; i < n; ++i) batch += EncodeRequest({"get", "k" + std::to_string(i)});
    return batch;
  }
};

TEST_F(BackpressureTest, QueuedCallCapLimitsWhatIsParsed) {
  Feed(Gets(5));
  Drain();
  EXPECT_EQ(session().queued_calls(), 2u);
  EXPECT_EQ(backend_.pending_count(), 2u);
  EXPECT_GT(session().input_buffer_bytes(), 0u);
}

TEST_F(BackpressureTest, QueuedCallCapPausesReading) {
  Feed(Gets(5));
  EXPECT_EQ(transport_.pause_calls(), 1);
  EXPECT_TRUE(transport_.is_paused());
}

TEST_F(BackpressureTest, CompletionsInOrderLetTheRestBeProcessedAndResumeReading) {
  Feed(Gets(5));
  Drain();
  while (backend_.pending_count() > 0) {
    backend_.CompleteAt(0);
    Drain();
  }
  std::vector<RespValue> replies = TakeReplies();
  ASSERT_EQ(replies.size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_THAT(replies[i], IsBulk(std::to_string(i)));
  EXPECT_FALSE(transport_.is_paused());
  EXPECT_EQ(session().input_buffer_bytes(), 0u);
}

// When the queue drains completely in one flush (the front call finishes last), the requests
// still buffered must be parsed: the client sent them all and is waiting, so no further input
// will arrive to trigger a parse.
TEST_F(BackpressureTest, CompletionsOutOfOrderLetTheRestBeProcessed) {
  Feed(Gets(5));
  Drain();
  int rounds = 0;
  while (backend_.pending_count() > 0 && ++rounds < 100) {
    backend_.CompleteNewest();
    Drain();
  }
  std::vector<RespValue> replies = TakeReplies();
  ASSERT_EQ(replies.size(), 5u) << "requests left unparsed: " << session().input_buffer_bytes()
                                << " bytes";
  for (int i = 0; i < 5; ++i) EXPECT_THAT(replies[i], IsBulk(std::to_string(i)));
}

TEST_F(BackpressureTest, QueueCapOfOneStillProcessesEveryRequest) {
  session_.reset();  // the limits are copied when the session is made
  limits_.max_queued_calls = 1;
  Feed(Gets(3));
  Drain();
  int rounds = 0;
  while (backend_.pending_count() > 0 && ++rounds < 100) {
    backend_.CompleteAt(0);
    Drain();
  }
  EXPECT_EQ(TakeReplies().size(), 3u);
}

TEST_F(BackpressureTest, LocalCommandsBeyondTheCapAreAllAnswered) {
  std::string batch;
  for (int i = 0; i < 10; ++i) batch += EncodeRequest({"ping"});
  Feed(batch);
  EXPECT_EQ(TakeReplies().size(), 10u);
  EXPECT_FALSE(transport_.is_paused());
}

TEST_F(BackpressureTest, OutputAboveHighWatermarkPausesReading) {
  session();
  transport_.set_unsent_bytes(1500);
  Feed(EncodeRequest({"ping"}));
  EXPECT_TRUE(transport_.is_paused());
  EXPECT_EQ(transport_.sent(), "");  // not parsed while the output is backed up
}

TEST_F(BackpressureTest, OutputDrainedBelowLowWatermarkResumesAndProcesses) {
  session();
  transport_.set_unsent_bytes(1500);
  Feed(EncodeRequest({"ping"}));
  transport_.set_unsent_bytes(50);
  session().OnOutputDrained();
  EXPECT_FALSE(transport_.is_paused());
  EXPECT_THAT(transport_.TakeSent(), IsSimple("PONG"));
}

TEST_F(BackpressureTest, OutputBetweenWatermarksStaysPaused) {
  session();
  transport_.set_unsent_bytes(1500);
  Feed(EncodeRequest({"ping"}));
  transport_.set_unsent_bytes(500);
  session().OnOutputDrained();
  EXPECT_TRUE(transport_.is_paused());
  EXPECT_EQ(transport_.resume_calls(), 0);
}

TEST_F(BackpressureTest, OutputAboveHardLimitClosesTheClient) {
  session();
  transport_.set_unsent_bytes(6000);
  Feed(EncodeRequest({"ping"}));
  EXPECT_EQ(transport_.close_calls(), 1);
  EXPECT_TRUE(session().is_closing());
}

TEST_F(BackpressureTest, ClientClosedForOutputDropsItsInFlightReplies) {
  Feed(Gets(2));
  Drain();
  transport_.set_unsent_bytes(6000);
  session().OnOutputDrained();
  ASSERT_EQ(transport_.close_calls(), 1);
  backend_.CompleteAll();
  Drain();
  EXPECT_EQ(transport_.sent(), "");
}

}  // namespace
}  // namespace gateway
