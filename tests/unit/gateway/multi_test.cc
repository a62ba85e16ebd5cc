// SPDX-License-Identifier: Apache-2.0
//
// MULTI/EXEC/DISCARD/WATCH/UNWATCH and MSETNX against the fake backend: Redis 7.0.15's reply
// shapes (multi.c) and the revision-based WATCH rules, including its expiry edge cases.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "kvmap/ttl.h"
#include "tests/unit/gateway/gateway_fixture.h"

namespace gateway {
namespace {

using testing_support::EncodeRequest;
using testing_support::FakeTransport;
using testing_support::GatewayTest;
using test_support::DebugString;
using test_support::RespValue;

class MultiTest : public GatewayTest {
 protected:
  void SetUp() override { WarmUp(kvmap::FakeKvBackend::Mode::kImmediate); }

  std::vector<std::string> RunAll(const std::vector<std::vector<std::string>>& commands) {
    for (const auto& c : commands) Send(c);
    Drain();
    std::vector<std::string> out;
    for (const RespValue& v : TakeReplies()) out.push_back(DebugString(v));
    return out;
  }
  std::string One(const std::vector<std::string>& command) {
    std::vector<std::string> r = RunAll({command});
    return r.size() == 1 ? r[0] : "<" + std::to_string(r.size()) + " replies>";
  }
  kvmap::Header ExpiresIn(int64_t ms) {
    return {std::string(kvmap::kHdrExpiresAt), std::to_string(kvmap::NowUnixMs() + ms)};
  }
};

TEST_F(MultiTest, QueuedCommandsRunAtExecWithTheirRepliesInAnArray) {
  EXPECT_EQ(RunAll({{"multi"}, {"set", "a", "1"}, {"incr", "a"}, {"get", "a"}, {"incr", "nokey"},
                    {"exec"}}),
            (std::vector<std::string>{"+OK", "+QUEUED", "+QUEUED", "+QUEUED", "+QUEUED",
                                      R"([+OK, :2, "2", :1])"}));
  EXPECT_EQ(Stored("a"), "2");
}

TEST_F(MultiTest, RunTimeErrorsStayInsideTheArray) {
  backend_.Put(kBucket0, "s", "text");
  EXPECT_EQ(RunAll({{"multi"}, {"incr", "s"}, {"set", "t", "1"}, {"exec"}}),
            (std::vector<std::string>{
                "+OK", "+QUEUED", "+QUEUED",
                "[-ERR value is not an integer or out of range, +OK]"}));
  EXPECT_EQ(Stored("t"), "1");
}

TEST_F(MultiTest, QueueTimeErrorsAbortWithExecAbort) {
  EXPECT_EQ(RunAll({{"multi"}, {"set", "a", "1"}, {"nosuch"}, {"get"}, {"exec"}}),
            (std::vector<std::string>{
                "+OK", "+QUEUED", "-ERR unknown command 'nosuch', with args beginning with: ",
                "-ERR wrong number of arguments for 'get' command",
                "-EXECABORT Transaction discarded because of previous errors."}));
  EXPECT_EQ(Stored("a"), "<none>");
  // The transaction is gone: EXEC again is an error, and commands run at once.
  EXPECT_EQ(One({"exec"}), "-ERR EXEC without MULTI");
  EXPECT_EQ(One({"set", "a", "2"}), "+OK");
}

TEST_F(MultiTest, ControlErrors) {
  EXPECT_EQ(One({"exec"}), "-ERR EXEC without MULTI");
  EXPECT_EQ(One({"discard"}), "-ERR DISCARD without MULTI");
  EXPECT_EQ(RunAll({{"multi"}, {"multi"}, {"watch", "x"}, {"set", "a", "1"}, {"exec"}}),
            (std::vector<std::string>{"+OK", "-ERR MULTI calls can not be nested",
                                      "-ERR WATCH inside MULTI is not allowed", "+QUEUED",
                                      "[+OK]"}));
  EXPECT_EQ(RunAll({{"multi"}, {"set", "b", "1"}, {"discard"}, {"get", "b"}}),
            (std::vector<std::string>{"+OK", "+QUEUED", "+OK", "(nil)"}));
  EXPECT_EQ(One({"unwatch"}), "+OK");
}

TEST_F(MultiTest, WatchedKeyChangedByAnotherWriterAbortsWithNil) {
  backend_.Put(kBucket0, "w", "1");
  EXPECT_EQ(One({"watch", "w"}), "+OK");
  backend_.Put(kBucket0, "w", "2");  // another client, gateway or native NATS writer
  EXPECT_EQ(RunAll({{"multi"}, {"set", "w", "3"}, {"exec"}}),
            (std::vector<std::string>{"+OK", "+QUEUED", "(nil array)"}));
  EXPECT_EQ(Stored("w"), "2");
  // WATCH ends with EXEC: the next transaction runs.
  EXPECT_EQ(RunAll({{"multi"}, {"set", "w", "4"}, {"exec"}}),
            (std::vector<std::string>{"+OK", "+QUEUED", "[+OK]"}));
}

TEST_F(MultiTest, AbortedExecIsTheNullArrayInResp3) {
  One({"hello", "3"});
  backend_.Put(kBucket0, "w", "1");
  One({"watch", "w"});
  backend_.Put(kBucket0, "w", "2");
  Send({"multi"});
  Send({"get", "w"});
  Send({"exec"});
  Drain();
  std::string bytes = transport_.TakeSent();
  EXPECT_EQ(bytes, "+OK\r\n+QUEUED\r\n_\r\n");
}

TEST_F(MultiTest, OwnWriteDeleteAndCreationAbort) {
  backend_.Put(kBucket0, "w", "1");
  One({"watch", "w"});
  One({"set", "w", "own"});  // the watching client itself
  EXPECT_EQ(RunAll({{"multi"}, {"get", "w"}, {"exec"}}).back(), "(nil array)");

  One({"watch", "w"});
  One({"del", "w"});
  EXPECT_EQ(RunAll({{"multi"}, {"get", "w"}, {"exec"}}).back(), "(nil array)");

  One({"watch", "fresh"});
  backend_.Put(kBucket0, "fresh", "x");
  EXPECT_EQ(RunAll({{"multi"}, {"get", "fresh"}, {"exec"}}).back(), "(nil array)");
}

TEST_F(MultiTest, UnchangedWatchedKeysLetExecRun) {
  backend_.Put(kBucket0, "w", "1");
  One({"watch", "w", "missing"});
  EXPECT_EQ(RunAll({{"multi"}, {"get", "w"}, {"get", "missing"}, {"exec"}}).back(),
            R"(["1", (nil)])");
  // UNWATCH forgets: a later change does not abort.
  One({"watch", "w"});
  One({"unwatch"});
  backend_.Put(kBucket0, "w", "2");
  EXPECT_EQ(RunAll({{"multi"}, {"get", "w"}, {"exec"}}).back(), R"(["2"])");
}

TEST_F(MultiTest, WatchedKeyThatExpiresBeforeExecAborts) {
  backend_.Put(kBucket0, "t", "v", {ExpiresIn(50)});
  One({"watch", "t"});
  std::this_thread::sleep_for(std::chrono::milliseconds(120));
  // Same revision, but it was live at WATCH and is expired now.
  EXPECT_EQ(RunAll({{"multi"}, {"get", "t"}, {"exec"}}).back(), "(nil array)");
}

TEST_F(MultiTest, KeyAlreadyExpiredWhenWatchedDoesNotAbortWhenSwept) {
  backend_.Put(kBucket0, "t", "v", {ExpiresIn(-1000)});
  One({"watch", "t"});
  // The sweeper deletes it (a delete marker); logically nothing changed.
  kvmap::WriteRequest del;
  del.bucket = kBucket0;
  del.key = "t";
  del.op = kvmap::EntryOp::kDelete;
  backend_.Write(del, [](kvmap::WriteResult) {});
  Drain();
  EXPECT_EQ(RunAll({{"multi"}, {"get", "t"}, {"exec"}}).back(), "[(nil)]");
}

TEST_F(MultiTest, FlushAbortsOnlyOverKeysThatExisted) {
  backend_.Put(kBucket0, "here", "1");
  One({"watch", "absent"});
  One({"flushall"});
  EXPECT_EQ(RunAll({{"multi"}, {"get", "absent"}, {"exec"}}).back(), "[(nil)]");
  backend_.Put(kBucket0, "here", "1");
  One({"watch", "here"});
  One({"flushall"});
  EXPECT_EQ(RunAll({{"multi"}, {"get", "here"}, {"exec"}}).back(), "(nil array)");
}

TEST_F(MultiTest, SelectInsideMultiAppliesToTheCommandsAfterIt) {
  EXPECT_EQ(RunAll({{"multi"}, {"select", "1"}, {"set", "k", "db1"}, {"exec"}}).back(),
            "[+OK, +OK]");
  EXPECT_EQ(Stored("k", "redis-1"), "db1");
  EXPECT_EQ(session().db(), 1);
}

TEST_F(MultiTest, ResetDiscardsTheTransaction) {
  EXPECT_EQ(RunAll({{"multi"}, {"set", "a", "1"}, {"reset"}, {"exec"}}),
            (std::vector<std::string>{"+OK", "+QUEUED", "+RESET", "-ERR EXEC without MULTI"}));
}

TEST_F(MultiTest, MSetNxCreatesAllOrNothing) {
  EXPECT_EQ(One({"msetnx", "a", "1", "b", "2", "a", "3"}), ":1");
  EXPECT_EQ(Stored("a"), "3");  // the last value given for a key wins, as in Redis
  EXPECT_EQ(Stored("b"), "2");
  EXPECT_EQ(One({"msetnx", "b", "x", "c", "y"}), ":0");
  EXPECT_EQ(Stored("c"), "<none>");
  EXPECT_EQ(One({"msetnx", "a"}), "-ERR wrong number of arguments for 'msetnx' command");
  // An expired key counts as absent.
  backend_.Put(kBucket0, "old", "v", {ExpiresIn(-1000)});
  EXPECT_EQ(One({"msetnx", "old", "new"}), ":1");
  EXPECT_EQ(Stored("old"), "new");
}

TEST_F(MultiTest, MSetNxUndoesItsCreatesWhenOneLosesItsRace) {
  backend_.set_mode(kvmap::FakeKvBackend::Mode::kManual);
  Send({"msetnx", "x", "1", "y", "2"});
  Drain();
  ASSERT_EQ(backend_.pending_count(), 2u);  // the two reads
  backend_.CompleteAll();
  Drain();
  ASSERT_EQ(backend_.pending_count(), 2u);  // the two creates
  backend_.Put(kBucket0, "y", "theirs");    // y appears before our create of y lands
  backend_.CompleteAll();
  Drain();
  ASSERT_EQ(backend_.pending_count(), 1u);  // the undo of x
  backend_.CompleteAll();
  Drain();
  EXPECT_EQ(DebugString(TakeReplies().at(0)), ":0");
  EXPECT_EQ(Stored("x"), "<marker>");
  EXPECT_EQ(Stored("y"), "theirs");
}

TEST_F(MultiTest, WriterBetweenTheCheckAndTheWriteAbortsWithNil) {
  backend_.Put(kBucket0, "w", "1");
  One({"watch", "w"});
  backend_.set_mode(kvmap::FakeKvBackend::Mode::kManual);
  Send({"multi"});
  Send({"set", "w", "mine"});
  Send({"exec"});
  Drain();
  backend_.CompleteAll();  // EXEC's check: w unchanged
  Drain();
  ASSERT_EQ(backend_.pending_count(), 1u);  // the SET, a CAS on the checked revision
  backend_.Put(kBucket0, "w", "theirs");    // lands first
  backend_.CompleteAll();
  Drain();
  std::vector<RespValue> r = TakeReplies();
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(DebugString(r[2]), "(nil array)");
  EXPECT_EQ(Stored("w"), "theirs");
}

TEST_F(MultiTest, ConflictAfterAnEarlierWriteLandedIsReportedAsPartial) {
  backend_.Put(kBucket0, "w", "1");
  One({"watch", "w"});
  backend_.set_mode(kvmap::FakeKvBackend::Mode::kManual);
  Send({"multi"});
  Send({"set", "other", "1"});
  Send({"incr", "w"});
  Send({"set", "never", "1"});
  Send({"exec"});
  Drain();
  backend_.CompleteAll();  // the check
  Drain();
  backend_.CompleteAll();  // SET other lands
  Drain();
  backend_.Put(kBucket0, "w", "5");  // a writer slips in before INCR reads w
  backend_.CompleteAll();            // INCR's read sees the new revision: conflict
  Drain();
  backend_.CompleteAll();
  Drain();
  std::vector<RespValue> r = TakeReplies();
  ASSERT_EQ(r.size(), 5u);
  EXPECT_EQ(DebugString(r[4]),
            "-ERR EXEC partially applied: a watched key changed while the transaction ran, "
            "after 1 of its writes had been stored");
  EXPECT_EQ(Stored("other"), "1");
  EXPECT_EQ(Stored("w"), "5");       // theirs, never overwritten
  EXPECT_EQ(Stored("never"), "<none>");  // the rest did not run
}

TEST_F(MultiTest, ClientLeavingDuringExecStopsTheChain) {
  backend_.set_mode(kvmap::FakeKvBackend::Mode::kManual);
  Send({"multi"});
  Send({"set", "a", "1"});
  Send({"mget", "a", "b", "c"});
  Send({"set", "z", "1"});
  Send({"exec"});
  Drain();
  backend_.CompleteAll();  // SET a
  Drain();
  session_.reset();        // the client disconnects while MGET's reads are in flight
  for (int i = 0; i < 10 && backend_.pending_count() > 0; ++i) {
    backend_.CompleteAll();
    Drain();
  }
  // The rest of the transaction did not run; nothing is left behind (ASan's leak check
  // covers the transaction's state).
  EXPECT_EQ(Stored("a"), "1");
  EXPECT_EQ(Stored("z"), "<none>");
  EXPECT_EQ(backend_.pending_count(), 0u);
}

}  // namespace
}  // namespace gateway
