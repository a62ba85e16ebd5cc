// SPDX-License-Identifier: Apache-2.0
//
// The read-modify-write engine on its own: an "append a token" operation driven through
// ReadModifyWrite against the fake backend, with conflicts, lost acknowledgements and writes
// that never landed.
#include "gateway/commands/rmw.h"

#include <gtest/gtest.h>

#include "tests/unit/gateway/gateway_fixture.h"

namespace gateway {
namespace {

using testing_support::GatewayTest;
using Mode = kvmap::FakeKvBackend::Mode;

// A command "rmwappend key token": appends token to the value, replies the new value.
void TestAppendHandler(Call& call) {
  std::string token(call.arg(2));
  ReadModifyWrite(
      call, std::string(call.arg(1)),
      [token](Call&, const kvmap::Entry* live) {
        RmwDecision d;
        if (token == "fail") {
          d.kind = RmwDecision::Kind::kError;
          d.error = "ERR refused";
          return d;
        }
        if (token == "noop") return d;  // kNoWrite
        d.kind = RmwDecision::Kind::kPut;
        d.value = (live != nullptr ? live->value : std::string()) + token;
        return d;
      },
      [](Call& c, const RmwDecision& d) {
        c.reply().Bulk(d.kind == RmwDecision::Kind::kPut ? d.value : std::string("noop"));
        c.Finish();
      });
}

const CommandSpec kTestSpec = {"rmwappend", 3, CommandFlag::kWrite, 1, 1, 1, TestAppendHandler,
                               "test", "test", "0"};

class RmwTest : public GatewayTest {
 protected:
  // Starts the command without waiting; returns the call (its reply is in reply_bytes()).
  std::shared_ptr<Call> Start(const std::string& key, const std::string& token) {
    resp::Request request;
    request.AddArg("rmwappend");
    request.AddArg(key);
    request.AddArg(token);
    auto call = std::make_shared<Call>(&session(), &kTestSpec, std::move(request), 0,
                                       resp::Protocol::kResp2);
    call->set_state(Call::State::kRunning);
    kTestSpec.handler(*call);
    return call;
  }
  // Runs completions and timers until nothing is left to do.
  void Settle() {
    for (int i = 0; i < 100; ++i) {
      size_t ran = executor_.RunAll() + server().RunTimers();
      if (ran == 0) return;
    }
  }
};

TEST_F(RmwTest, CreatesAMissingKeyWithCasOnZero) {
  WarmUp(Mode::kImmediate);
  auto call = Start("k", "a");
  Settle();
  EXPECT_EQ(call->reply_bytes(), "$1\r\na\r\n");
  EXPECT_EQ(Stored("k"), "a");
}

TEST_F(RmwTest, ConflictingWriteMakesItDecideAgainOnFreshData) {
  backend_.Put("redis", "k", "x");
  WarmUp(Mode::kManual);
  auto call = Start("k", "a");
  ASSERT_TRUE(backend_.CompleteAt(0));  // the read sees "x"
  executor_.RunAll();
  backend_.Put("redis", "k", "xy");     // another writer gets in first
  ASSERT_TRUE(backend_.CompleteAt(0));  // the CAS write fails
  executor_.RunAll();
  backend_.set_mode(Mode::kImmediate);
  backend_.CompleteAll();
  Settle();
  EXPECT_EQ(call->reply_bytes(), "$3\r\nxya\r\n");
  EXPECT_EQ(Stored("k"), "xya");
}

TEST_F(RmwTest, LostAcknowledgementIsResentAndAppliedOnce) {
  backend_.Put("redis", "k", "x");
  WarmUp(Mode::kImmediate);
  uint64_t before = backend_.last_sequence();
  backend_.LoseNextAcks(1);  // applied, but the gateway hears "outcome unknown"
  auto call = Start("k", "a");
  Settle();
  EXPECT_EQ(call->reply_bytes(), "$2\r\nxa\r\n");
  EXPECT_EQ(Stored("k"), "xa");
  EXPECT_EQ(backend_.last_sequence(), before + 1) << "the resend must be de-duplicated";
  EXPECT_EQ(writes(), 2u) << "one write and one identical resend";
}

TEST_F(RmwTest, WriteThatNeverLandedIsResentAndAppliedOnce) {
  backend_.Put("redis", "k", "x");
  WarmUp(Mode::kManual);
  auto call = Start("k", "a");
  ASSERT_TRUE(backend_.CompleteAt(0));  // read
  executor_.RunAll();
  backend_.FailAll();  // the write is lost with the connection: not applied, outcome unknown
  executor_.RunAll();
  backend_.set_mode(Mode::kImmediate);
  Settle();
  EXPECT_EQ(call->reply_bytes(), "$2\r\nxa\r\n");
  EXPECT_EQ(Stored("k"), "xa");
}

TEST_F(RmwTest, ResendThatLosesItsCasStartsOverFromTheRead) {
  backend_.Put("redis", "k", "x");
  WarmUp(Mode::kManual);
  auto call = Start("k", "a");
  ASSERT_TRUE(backend_.CompleteAt(0));  // read "x"
  executor_.RunAll();
  backend_.FailAll();                   // write lost, never applied
  executor_.RunAll();
  backend_.Put("redis", "k", "xz");     // someone writes before the resend
  backend_.set_mode(Mode::kImmediate);
  Settle();
  EXPECT_EQ(call->reply_bytes(), "$3\r\nxza\r\n");
  EXPECT_EQ(Stored("k"), "xza");
}

TEST_F(RmwTest, ReadFailsFastWhileDisconnectedAndWritesNothing) {
  backend_.Put("redis", "k", "x");
  WarmUp(Mode::kImmediate);
  backend_.LoseNextAcks(1);
  backend_.set_connected(false);
  auto call = Start("k", "a");
  // The read fails fast while disconnected: nothing was written.
  Settle();
  EXPECT_NE(call->reply_bytes().find("unavailable"), std::string::npos);
  EXPECT_EQ(Stored("k"), "x");
}

TEST_F(RmwTest, ErrorDecisionRepliesAndWritesNothing) {
  WarmUp(Mode::kImmediate);
  auto call = Start("k", "fail");
  Settle();
  EXPECT_EQ(call->reply_bytes(), "-ERR refused\r\n");
  EXPECT_EQ(writes(), 0u);
}

TEST_F(RmwTest, NoWriteDecisionFinishesWithoutWriting) {
  WarmUp(Mode::kImmediate);
  auto call = Start("k", "noop");
  Settle();
  EXPECT_EQ(call->reply_bytes(), "$4\r\nnoop\r\n");
  EXPECT_EQ(writes(), 0u);
}

TEST_F(RmwTest, CreateAfterDeleteCasesOnTheMarker) {
  backend_.Put("redis", "k", "x");
  {
    kvmap::WriteRequest del;
    del.bucket = "redis";
    del.key = "k";
    del.op = kvmap::EntryOp::kDelete;
    backend_.Write(del, [](kvmap::WriteResult) {});
    executor_.RunAll();
  }
  WarmUp(Mode::kImmediate);
  auto call = Start("k", "a");
  Settle();
  EXPECT_EQ(call->reply_bytes(), "$1\r\na\r\n");
  EXPECT_EQ(Stored("k"), "a");
}

// SETNX creates optimistically (CAS on 0, no read). A lost acknowledgement of that create is
// resent with the same msg id and de-duplicated: the reply is 1, not "outcome unknown", and not
// 0 (which a re-read would wrongly conclude, seeing the value the first copy wrote).
TEST_F(RmwTest, OptimisticCreateWithALostAckIsResentAndReportsTheCreate) {
  WarmUp(Mode::kImmediate);
  backend_.LoseNextAcks(1);
  Send({"setnx", "k", "v"});
  Settle();
  auto replies = TakeReplies();
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].type, test_support::RespType::kInteger);
  EXPECT_EQ(replies[0].integer, 1);
  EXPECT_EQ(Stored("k"), "v");
  EXPECT_EQ(gets(), 0u) << "the create and its resend need no read";
}

// Hot-key coalescing: commands on one key that arrive while a round is in flight are decided
// together in the next round, in arrival order, and stored with one CAS.
TEST_F(RmwTest, ConcurrentCommandsOnOneKeyShareOneReadAndOneWritePerRound) {
  WarmUp(Mode::kManual);
  auto a = Start("k", "a");
  auto b = Start("k", "b");
  auto c = Start("k", "c");
  ASSERT_EQ(backend_.pending_count(), 1u);  // one read for the first round (a)
  backend_.CompleteAll();
  executor_.RunAll();
  ASSERT_EQ(backend_.pending_count(), 1u);  // a's write
  backend_.CompleteAll();
  executor_.RunAll();
  EXPECT_EQ(a->reply_bytes(), "$1\r\na\r\n");
  ASSERT_EQ(backend_.pending_count(), 1u);  // the second round (b and c): one read
  backend_.CompleteAll();
  executor_.RunAll();
  ASSERT_EQ(backend_.pending_count(), 1u);  // and one write for both
  backend_.CompleteAll();
  Settle();
  // Each reply is what the command would have answered in sequence.
  EXPECT_EQ(b->reply_bytes(), "$2\r\nab\r\n");
  EXPECT_EQ(c->reply_bytes(), "$3\r\nabc\r\n");
  EXPECT_EQ(Stored("k"), "abc");
  EXPECT_EQ(writes(), 2u);
}

TEST_F(RmwTest, ARoundThatLosesItsCasIsDecidedAgainWholeOnFreshData) {
  WarmUp(Mode::kManual);
  auto a = Start("k", "a");
  backend_.CompleteAll();  // a's read
  executor_.RunAll();
  auto b = Start("k", "b");  // wait for the next round
  auto c = Start("k", "c");
  backend_.CompleteAll();  // a's write
  executor_.RunAll();
  backend_.CompleteAll();  // the round's read sees "a"
  executor_.RunAll();
  backend_.Put("redis", "k", "X");  // another writer gets in first
  backend_.CompleteAll();           // the round's CAS fails
  Settle();
  for (int i = 0; i < 10 && backend_.pending_count() > 0; ++i) {
    backend_.CompleteAll();
    Settle();
  }
  EXPECT_EQ(b->reply_bytes(), "$2\r\nXb\r\n");
  EXPECT_EQ(c->reply_bytes(), "$3\r\nXbc\r\n");
  EXPECT_EQ(Stored("k"), "Xbc");
}

TEST_F(RmwTest, AMemberWhoseClientLeftTakesNoPart) {
  WarmUp(Mode::kManual);
  auto a = Start("k", "a");
  auto b = Start("k", "b");
  auto c = Start("k", "c");
  b.reset();  // the client is gone before its round
  for (int i = 0; i < 10 && backend_.pending_count() > 0; ++i) {
    backend_.CompleteAll();
    Settle();
  }
  EXPECT_EQ(c->reply_bytes(), "$2\r\nac\r\n");
  EXPECT_EQ(Stored("k"), "ac");
}

}  // namespace
}  // namespace gateway
