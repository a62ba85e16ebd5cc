// SPDX-License-Identifier: Apache-2.0
//
// Tests of RENAME, RENAMENX, COPY, MOVE and SWAPDB against the fake backend: Redis 7.0.15's
// replies and error texts byte for byte (checked against redis-server 7.0.15), what is stored
// (value, type and deadline headers carried over, delete markers on the source, the other
// database's bucket), parse errors that never reach the backend, and the non-atomic step:
// a source changed between the copy and its CAS delete.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "kvmap/ttl.h"
#include "tests/unit/gateway/gateway_fixture.h"

namespace gateway {
namespace {

using test_support::IsErr;
using test_support::IsInt;
using test_support::IsOk;
using testing_support::GatewayTest;

constexpr int64_t kFarMs = 9999999999000;

class KeyMoveCommandsTest : public GatewayTest {
 protected:
  void SetUp() override { WarmUp(kvmap::FakeKvBackend::Mode::kImmediate); }

  std::string RunRaw(const std::vector<std::string>& args) {
    transport_.TakeSent();
    Send(args);
    Drain();
    return transport_.TakeSent();
  }
  void ExpectParseError(const std::vector<std::string>& args, std::string_view error) {
    const size_t g = gets(), w = writes();
    EXPECT_EQ(RunRaw(args), "-" + std::string(error) + "\r\n") << args[0];
    EXPECT_EQ(gets(), g) << args[0];
    EXPECT_EQ(writes(), w) << args[0];
  }
  std::optional<std::string> Header(std::string_view key, std::string_view name,
                                    std::string_view bucket = kBucket0) {
    const kvmap::Entry* e = backend_.Latest(bucket, key);
    if (e == nullptr) return std::nullopt;
    auto v = kvmap::FindHeader(e->headers, name);
    return v ? std::optional<std::string>(std::string(*v)) : std::nullopt;
  }
  kvmap::Header Deadline(int64_t at_ms) {
    return {std::string(kvmap::kHdrExpiresAt), std::to_string(at_ms)};
  }
};

// --- RENAME / RENAMENX ---

TEST_F(KeyMoveCommandsTest, RenameMissingSourceIsNoSuchKey) {
  EXPECT_EQ(RunRaw({"rename", "a", "b"}), "-ERR no such key\r\n");
  EXPECT_EQ(RunRaw({"renamenx", "a", "b"}), "-ERR no such key\r\n");
  EXPECT_EQ(RunRaw({"rename", "a", "a"}), "-ERR no such key\r\n");
  EXPECT_EQ(writes(), 0u);
}

TEST_F(KeyMoveCommandsTest, RenameMovesValueAndDeadline) {
  backend_.Put(kBucket0, "a", "1", {Deadline(kFarMs)});
  backend_.Put(kBucket0, "b", "old");
  EXPECT_THAT(Run({"rename", "a", "b"}), IsOk());
  EXPECT_EQ(Stored("a"), "<marker>");
  EXPECT_EQ(Stored("b"), "1");
  EXPECT_EQ(Header("b", kvmap::kHdrExpiresAt), std::to_string(kFarMs));
  EXPECT_THAT(Run({"pexpiretime", "b"}), IsInt(kFarMs));
  EXPECT_THAT(Run({"exists", "a"}), IsInt(0));
}

TEST_F(KeyMoveCommandsTest, RenameDropsTheDestinationsDeadline) {
  backend_.Put(kBucket0, "a", "1");
  backend_.Put(kBucket0, "b", "2", {Deadline(kFarMs)});
  EXPECT_THAT(Run({"rename", "a", "b"}), IsOk());
  EXPECT_THAT(Run({"ttl", "b"}), IsInt(-1));
}

TEST_F(KeyMoveCommandsTest, RenameKeepsTheTypeHeader) {
  backend_.Put(kBucket0, "h", "fields", {{std::string(kvmap::kHdrType), "hash/1"}});
  EXPECT_THAT(Run({"rename", "h", "h2"}), IsOk());
  EXPECT_EQ(Header("h2", kvmap::kHdrType), "hash/1");
}

TEST_F(KeyMoveCommandsTest, RenameOntoItself) {
  backend_.Put(kBucket0, "a", "1");
  EXPECT_EQ(RunRaw({"rename", "a", "a"}), "+OK\r\n");
  EXPECT_EQ(RunRaw({"renamenx", "a", "a"}), ":0\r\n");
  EXPECT_EQ(writes(), 0u);
  EXPECT_EQ(Stored("a"), "1");
}

TEST_F(KeyMoveCommandsTest, RenameNxOnlyWhenTheDestinationIsMissing) {
  backend_.Put(kBucket0, "a", "1");
  backend_.Put(kBucket0, "b", "2");
  EXPECT_THAT(Run({"renamenx", "a", "b"}), IsInt(0));
  EXPECT_EQ(Stored("a"), "1");
  EXPECT_EQ(Stored("b"), "2");
  EXPECT_THAT(Run({"renamenx", "a", "c"}), IsInt(1));
  EXPECT_EQ(Stored("a"), "<marker>");
  EXPECT_EQ(Stored("c"), "1");
}

TEST_F(KeyMoveCommandsTest, RenameNxOverAnExpiredOrDeletedDestination) {
  backend_.Put(kBucket0, "a", "1");
  backend_.Put(kBucket0, "b", "2", {Deadline(1)});
  EXPECT_THAT(Run({"renamenx", "a", "b"}), IsInt(1));
  EXPECT_EQ(Stored("b"), "1");
  EXPECT_THAT(Run({"ttl", "b"}), IsInt(-1));
  EXPECT_THAT(Run({"renamenx", "b", "a"}), IsInt(1));  // "a" holds a delete marker
  EXPECT_EQ(Stored("a"), "1");
}

TEST_F(KeyMoveCommandsTest, RenameOfAnExpiredSourceIsNoSuchKey) {
  backend_.Put(kBucket0, "a", "1", {Deadline(1)});
  EXPECT_EQ(RunRaw({"rename", "a", "b"}), "-ERR no such key\r\n");
  EXPECT_EQ(Stored("b"), "<none>");
}

// The source is overwritten by another client after RENAME copied it: the CAS delete fails,
// the rename still answers OK, and the newer source value is kept.
TEST_F(KeyMoveCommandsTest, RenameWhenTheSourceChangesMeanwhileStillAnswersOk) {
  backend_.Put(kBucket0, "a", "1");
  backend_.set_mode(kvmap::FakeKvBackend::Mode::kManual);
  Send({"rename", "a", "b"});
  Drain();
  ASSERT_TRUE(backend_.CompleteAt(0));  // read a
  Drain();
  ASSERT_TRUE(backend_.CompleteAt(0));  // read b
  Drain();
  ASSERT_TRUE(backend_.CompleteAt(0));  // write b
  Drain();
  backend_.Put(kBucket0, "a", "newer");  // another client
  backend_.CompleteAll();                // the CAS delete of a fails
  Drain();
  std::vector<test_support::RespValue> replies = TakeReplies();
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_THAT(replies[0], IsOk());
  EXPECT_EQ(Stored("a"), "newer");
  EXPECT_EQ(Stored("b"), "1");
}

// The destination is created by another client between RENAMENX's read and its CAS create:
// RENAMENX reads it again and answers 0, leaving both keys alone.
TEST_F(KeyMoveCommandsTest, RenameNxLosesARaceOnTheDestination) {
  backend_.Put(kBucket0, "a", "1");
  backend_.set_mode(kvmap::FakeKvBackend::Mode::kManual);
  Send({"renamenx", "a", "b"});
  Drain();
  ASSERT_TRUE(backend_.CompleteAt(0));  // read a
  Drain();
  ASSERT_TRUE(backend_.CompleteAt(0));  // read b: missing
  Drain();
  backend_.Put(kBucket0, "b", "other");
  for (int i = 0; i < 10 && backend_.pending_count() > 0; ++i) {
    backend_.CompleteAll();
    Drain();
  }
  std::vector<test_support::RespValue> replies = TakeReplies();
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_THAT(replies[0], IsInt(0));
  EXPECT_EQ(Stored("a"), "1");
  EXPECT_EQ(Stored("b"), "other");
}

TEST_F(KeyMoveCommandsTest, RenameResendsAfterALostAcknowledgement) {
  backend_.Put(kBucket0, "a", "1");
  backend_.LoseNextAcks(2);  // the destination write and the source delete
  Send({"rename", "a", "b"});
  Drain();
  server().RunTimers();
  Drain();
  server().RunTimers();
  Drain();
  std::vector<test_support::RespValue> replies = TakeReplies();
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_THAT(replies[0], IsOk());
  EXPECT_EQ(Stored("a"), "<marker>");
  EXPECT_EQ(Stored("b"), "1");
}

TEST_F(KeyMoveCommandsTest, RenameWhenDisconnected) {
  backend_.Put(kBucket0, "a", "1");
  backend_.set_connected(false);
  EXPECT_THAT(Run({"rename", "a", "b"}), IsErr("ERR backend unavailable"));
}

TEST_F(KeyMoveCommandsTest, RenameArity) {
  EXPECT_EQ(RunRaw({"rename", "a"}), "-ERR wrong number of arguments for 'rename' command\r\n");
  EXPECT_EQ(RunRaw({"renamenx", "a", "b", "c"}),
            "-ERR wrong number of arguments for 'renamenx' command\r\n");
}

// --- COPY ---

TEST_F(KeyMoveCommandsTest, CopyParseErrorsNeverReachTheBackend) {
  ExpectParseError({"copy", "b", "b"}, "ERR source and destination objects are the same");
  ExpectParseError({"copy", "b", "b", "db", "0"},
                   "ERR source and destination objects are the same");
  ExpectParseError({"copy", "b", "c", "db"}, "ERR syntax error");
  ExpectParseError({"copy", "b", "c", "foo"}, "ERR syntax error");
  ExpectParseError({"copy", "b", "c", "db", "x"}, "ERR value is not an integer or out of range");
  ExpectParseError({"copy", "b", "c", "db", "16"}, "ERR DB index is out of range");
  ExpectParseError({"copy", "b", "c", "db", "-1"}, "ERR DB index is out of range");
  ExpectParseError({"copy", "b", "c", "db", "3000000000"},
                   "ERR value is out of range, value must between -2147483648 and 2147483647");
  ExpectParseError({"copy", "b", "c", "replace", "db", "16"}, "ERR DB index is out of range");
  ExpectParseError({"copy", "b", "c", "db", "16", "foo"}, "ERR DB index is out of range");
  ExpectParseError({"copy", "b", "c", "db", "1", "foo"}, "ERR syntax error");
}

TEST_F(KeyMoveCommandsTest, CopyInTheSameDatabase) {
  EXPECT_THAT(Run({"copy", "a", "b"}), IsInt(0));
  backend_.Put(kBucket0, "a", "1", {Deadline(kFarMs)});
  EXPECT_THAT(Run({"copy", "a", "b"}), IsInt(1));
  EXPECT_EQ(Stored("a"), "1");
  EXPECT_EQ(Stored("b"), "1");
  EXPECT_EQ(Header("b", kvmap::kHdrExpiresAt), std::to_string(kFarMs));
  backend_.Put(kBucket0, "a", "2");
  EXPECT_THAT(Run({"copy", "a", "b"}), IsInt(0));
  EXPECT_EQ(Stored("b"), "1");
  EXPECT_THAT(Run({"copy", "a", "b", "REPLACE"}), IsInt(1));
  EXPECT_EQ(Stored("b"), "2");
  EXPECT_THAT(Run({"ttl", "b"}), IsInt(-1));
}

TEST_F(KeyMoveCommandsTest, CopyToAnotherDatabase) {
  backend_.Put(kBucket0, "a", "1");
  EXPECT_THAT(Run({"copy", "a", "a", "db", "1"}), IsInt(1));
  EXPECT_EQ(Stored("a", "redis-1"), "1");
  EXPECT_EQ(Stored("a"), "1");
  EXPECT_THAT(Run({"copy", "a", "a", "DB", "1"}), IsInt(0));
  EXPECT_THAT(Run({"copy", "a", "a", "replace", "db", "1", "REPLACE"}), IsInt(1));
  EXPECT_THAT(Run({"select", "1"}), IsOk());
  EXPECT_THAT(Run({"get", "a"}), test_support::IsBulk("1"));
  EXPECT_THAT(Run({"copy", "a", "z", "db", "0"}), IsInt(1));
  EXPECT_EQ(Stored("z"), "1");
}

// --- MOVE ---

TEST_F(KeyMoveCommandsTest, MoveParseErrorsNeverReachTheBackend) {
  ExpectParseError({"move", "b", "0"}, "ERR source and destination objects are the same");
  ExpectParseError({"move", "b", "16"}, "ERR DB index is out of range");
  ExpectParseError({"move", "b", "-1"}, "ERR DB index is out of range");
  ExpectParseError({"move", "b", "x"}, "ERR value is not an integer or out of range");
  ExpectParseError({"move", "b", "3000000000"},
                   "ERR value is out of range, value must between -2147483648 and 2147483647");
}

TEST_F(KeyMoveCommandsTest, MoveToAnotherDatabase) {
  EXPECT_THAT(Run({"move", "a", "1"}), IsInt(0));
  backend_.Put(kBucket0, "a", "1", {Deadline(kFarMs)});
  EXPECT_THAT(Run({"move", "a", "1"}), IsInt(1));
  EXPECT_EQ(Stored("a"), "<marker>");
  EXPECT_EQ(Stored("a", "redis-1"), "1");
  EXPECT_EQ(Header("a", kvmap::kHdrExpiresAt, "redis-1"), std::to_string(kFarMs));
  backend_.Put(kBucket0, "a", "2");
  EXPECT_THAT(Run({"move", "a", "1"}), IsInt(0));  // exists in the target
  EXPECT_EQ(Stored("a"), "2");
  EXPECT_EQ(Stored("a", "redis-1"), "1");
}

// MOVE and COPY ... DB write a key of another database: a later pipelined command on that
// database waits for them (they are barriers).
TEST_F(KeyMoveCommandsTest, PipelinedReadInTheTargetDatabaseSeesTheMove) {
  backend_.Put(kBucket0, "a", "1");
  backend_.Put(kBucket0, "c", "3");
  Feed(testing_support::EncodeRequest({"move", "a", "1"}) +
       testing_support::EncodeRequest({"copy", "c", "c", "db", "1"}) +
       testing_support::EncodeRequest({"select", "1"}) +
       testing_support::EncodeRequest({"get", "a"}) +
       testing_support::EncodeRequest({"del", "c"}));
  Drain();
  std::vector<test_support::RespValue> replies = TakeReplies();
  ASSERT_EQ(replies.size(), 5u);
  EXPECT_THAT(replies[0], IsInt(1));
  EXPECT_THAT(replies[1], IsInt(1));
  EXPECT_THAT(replies[3], test_support::IsBulk("1"));
  EXPECT_THAT(replies[4], IsInt(1));
}

// --- SWAPDB ---

TEST_F(KeyMoveCommandsTest, SwapDbValidatesThenRefuses) {
  ExpectParseError({"swapdb", "x", "1"}, "ERR invalid first DB index");
  ExpectParseError({"swapdb", "0", "x"}, "ERR invalid second DB index");
  ExpectParseError({"swapdb", "3000000000", "0"}, "ERR invalid first DB index");
  ExpectParseError({"swapdb", "0", "3000000000"}, "ERR invalid second DB index");
  ExpectParseError({"swapdb", "0", "16"}, "ERR DB index is out of range");
  ExpectParseError({"swapdb", "-1", "0"}, "ERR DB index is out of range");
  ExpectParseError({"swapdb", "0", "1"},
                   "ERR SWAPDB is not supported: each database is its own NATS bucket");
  EXPECT_EQ(RunRaw({"swapdb", "3", "3"}), "+OK\r\n");
}

}  // namespace
}  // namespace gateway
