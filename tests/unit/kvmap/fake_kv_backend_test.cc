// SPDX-License-Identifier: Apache-2.0
//
// Tests for FakeKvBackend: the JetStream KV behaviour it models (global sequence, markers, CAS,
// msg-id de-duplication), its completion modes and its failure modes. Gateway tests rely on
// every one of these.
#include "kvmap/fake_kv_backend.h"

#include <gtest/gtest.h>

#include <optional>
#include <set>
#include <string>
#include <vector>

namespace kvmap {
namespace {

constexpr std::string_view kBucket = "b";

class FakeKvBackendTest : public testing::Test {
 protected:
  // Runs one write to completion in immediate mode and returns its result.
  WriteResult WriteNow(const WriteRequest& request) {
    std::optional<WriteResult> result;
    backend_.Write(request, [&](WriteResult r) { result = std::move(r); });
    executor_.RunAll();
    EXPECT_TRUE(result.has_value());
    return result.value_or(WriteResult{});
  }

  GetResult GetNow(std::string_view key, std::string_view bucket = kBucket) {
    std::optional<GetResult> result;
    backend_.Get(bucket, key, [&](GetResult r) { result = std::move(r); });
    executor_.RunAll();
    EXPECT_TRUE(result.has_value());
    return result.value_or(GetResult{});
  }

  static WriteRequest PutRequest(std::string_view key, std::string_view value) {
    WriteRequest request;
    request.bucket = kBucket;
    request.key = key;
    request.value = value;
    return request;
  }

  static WriteRequest MarkerRequest(std::string_view key, EntryOp op) {
    WriteRequest request;
    request.bucket = kBucket;
    request.key = key;
    request.op = op;
    return request;
  }

  ManualExecutor executor_;
  FakeKvBackend backend_{&executor_};
};

// --- ManualExecutor ---

TEST(ManualExecutor, RunAllRunsClosuresPostedWhileRunning) {
  ManualExecutor executor;
  std::vector<int> order;
  executor.Post([&] {
    order.push_back(1);
    executor.Post([&] { order.push_back(3); });
  });
  executor.Post([&] { order.push_back(2); });
  EXPECT_EQ(executor.queued(), 2u);
  EXPECT_EQ(executor.RunAll(), 3u);
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(executor.queued(), 0u);
  EXPECT_EQ(executor.RunAll(), 0u);
}

// --- KvStatusName ---

TEST(KvStatus, EveryStatusHasADistinctName) {
  std::set<std::string_view> names;
  for (int i = 0; i <= static_cast<int>(KvStatus::kInternal); ++i) {
    std::string_view name = KvStatusName(static_cast<KvStatus>(i));
    EXPECT_FALSE(name.empty());
    EXPECT_NE(name, "unknown");
    names.insert(name);
  }
  EXPECT_EQ(names.size(), static_cast<size_t>(KvStatus::kInternal) + 1);
  EXPECT_EQ(KvStatusName(KvStatus::kRevisionMismatch), "revision_mismatch");
  EXPECT_EQ(KvStatusName(static_cast<KvStatus>(200)), "unknown");
}

// --- Callbacks are posted ---

TEST_F(FakeKvBackendTest, CallbacksAreNeverRunInline) {
  bool is_get_done = false;
  bool is_write_done = false;
  backend_.Write(PutRequest("k", "v"), [&](const WriteResult&) { is_write_done = true; });
  backend_.Get(kBucket, "k", [&](const GetResult&) { is_get_done = true; });
  EXPECT_FALSE(is_write_done);
  EXPECT_FALSE(is_get_done);
  EXPECT_EQ(executor_.queued(), 2u);
  executor_.RunAll();
  EXPECT_TRUE(is_write_done);
  EXPECT_TRUE(is_get_done);
}

TEST_F(FakeKvBackendTest, FailureCallbacksAreNeverRunInline) {
  backend_.set_connected(false);
  bool is_done = false;
  backend_.Get(kBucket, "k", [&](const GetResult&) { is_done = true; });
  backend_.Write(PutRequest("", "v"), [&](const WriteResult&) { is_done = true; });
  EXPECT_FALSE(is_done);
  EXPECT_EQ(executor_.queued(), 2u);
}

TEST_F(FakeKvBackendTest, ManualCompletionPostsInsteadOfRunning) {
  backend_.set_mode(FakeKvBackend::Mode::kManual);
  bool is_done = false;
  backend_.Get(kBucket, "k", [&](const GetResult&) { is_done = true; });
  EXPECT_EQ(executor_.queued(), 0u);
  ASSERT_TRUE(backend_.CompleteAt(0));
  EXPECT_FALSE(is_done);
  executor_.RunAll();
  EXPECT_TRUE(is_done);
}

// --- Store semantics ---

TEST_F(FakeKvBackendTest, GetMissingKeyIsNotFound) {
  EXPECT_EQ(GetNow("missing").status, KvStatus::kNotFound);
}

TEST_F(FakeKvBackendTest, PutThenGetReturnsValueRevisionAndHeaders) {
  WriteRequest request = PutRequest("user.1", "hello");
  request.headers = {{"Redis-Expires-At", "1700000000000"}, {"Redis-Event", "set"}};
  WriteResult write = WriteNow(request);
  ASSERT_EQ(write.status, KvStatus::kOk);
  EXPECT_EQ(write.revision, 1u);
  EXPECT_FALSE(write.is_duplicate);

  GetResult get = GetNow("user.1");
  ASSERT_EQ(get.status, KvStatus::kOk);
  EXPECT_EQ(get.entry.key, "user.1");
  EXPECT_EQ(get.entry.value, "hello");
  EXPECT_EQ(get.entry.revision, 1u);
  EXPECT_EQ(get.entry.op, EntryOp::kPut);
  EXPECT_FALSE(get.entry.is_marker());
  EXPECT_EQ(get.entry.headers, request.headers);
  EXPECT_GT(get.entry.timestamp_ns, 0);
}

TEST_F(FakeKvBackendTest, SequenceIsSharedAcrossKeysAndBuckets) {
  EXPECT_EQ(WriteNow(PutRequest("a", "1")).revision, 1u);
  EXPECT_EQ(WriteNow(PutRequest("b", "2")).revision, 2u);
  WriteRequest other = PutRequest("a", "3");
  other.bucket = "other";
  EXPECT_EQ(WriteNow(other).revision, 3u);
  EXPECT_EQ(backend_.Put(kBucket, "c", "4"), 4u);
  EXPECT_EQ(WriteNow(PutRequest("a", "5")).revision, 5u);
  EXPECT_EQ(backend_.last_sequence(), 5u);
  EXPECT_EQ(GetNow("a").entry.value, "5");
  EXPECT_EQ(GetNow("a", "other").entry.value, "3");
}

TEST_F(FakeKvBackendTest, BucketsAreSeparate) {
  backend_.Put("x", "k", "in-x");
  EXPECT_EQ(GetNow("k", "y").status, KvStatus::kNotFound);
  EXPECT_EQ(GetNow("k", "x").entry.value, "in-x");
}

TEST_F(FakeKvBackendTest, DirectPutAndLatest) {
  EXPECT_EQ(backend_.Latest(kBucket, "k"), nullptr);
  uint64_t revision = backend_.Put(kBucket, "k", "v", {{"Redis-Type", "hash:1"}});
  const Entry* entry = backend_.Latest(kBucket, "k");
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->revision, revision);
  EXPECT_EQ(entry->value, "v");
  EXPECT_EQ(FindHeader(entry->headers, kHdrType), "hash:1");
  EXPECT_EQ(executor_.queued(), 0u);
  EXPECT_EQ(backend_.write_calls(), 0u);
}

TEST_F(FakeKvBackendTest, DeleteStoresAMarkerThatGetReturns) {
  WriteNow(PutRequest("k", "v"));
  WriteRequest del = MarkerRequest("k", EntryOp::kDelete);
  del.value = "ignored";
  del.headers = {{"Redis-Event", "del"}};
  WriteResult result = WriteNow(del);
  ASSERT_EQ(result.status, KvStatus::kOk);
  EXPECT_EQ(result.revision, 2u);

  GetResult get = GetNow("k");
  ASSERT_EQ(get.status, KvStatus::kOk);
  EXPECT_TRUE(get.entry.is_marker());
  EXPECT_EQ(get.entry.op, EntryOp::kDelete);
  EXPECT_EQ(get.entry.value, "");
  EXPECT_EQ(get.entry.revision, 2u);
  EXPECT_EQ(get.entry.headers, (Headers{{"Redis-Event", "del"}}));
}

TEST_F(FakeKvBackendTest, PurgeStoresAMarker) {
  WriteNow(PutRequest("k", "v"));
  ASSERT_EQ(WriteNow(MarkerRequest("k", EntryOp::kPurge)).status, KvStatus::kOk);
  GetResult get = GetNow("k");
  ASSERT_EQ(get.status, KvStatus::kOk);
  EXPECT_EQ(get.entry.op, EntryOp::kPurge);
  EXPECT_TRUE(get.entry.is_marker());
}

TEST_F(FakeKvBackendTest, StoredHeadersExcludeKvOperation) {
  WriteRequest del = MarkerRequest("k", EntryOp::kDelete);
  del.headers = {{"KV-Operation", "DEL"}, {"Redis-Event", "del"}};
  ASSERT_EQ(WriteNow(del).status, KvStatus::kOk);
  EXPECT_EQ(GetNow("k").entry.headers, (Headers{{"Redis-Event", "del"}}));
}

TEST_F(FakeKvBackendTest, UsesTheInjectedClock) {
  backend_.set_clock([] { return int64_t{1234567}; });
  WriteNow(PutRequest("k", "v"));
  EXPECT_EQ(GetNow("k").entry.timestamp_ns, 1234567);
}

// --- CAS ---

TEST_F(FakeKvBackendTest, CreateWithZeroSucceedsOnMissingKey) {
  WriteRequest create = PutRequest("k", "v");
  create.expected_revision = 0;
  WriteResult result = WriteNow(create);
  EXPECT_EQ(result.status, KvStatus::kOk);
  EXPECT_EQ(result.revision, 1u);
}

TEST_F(FakeKvBackendTest, CreateWithZeroFailsOnExistingKey) {
  uint64_t revision = backend_.Put(kBucket, "k", "old");
  WriteRequest create = PutRequest("k", "new");
  create.expected_revision = 0;
  WriteResult result = WriteNow(create);
  EXPECT_EQ(result.status, KvStatus::kRevisionMismatch);
  EXPECT_EQ(result.current_revision, revision);
  EXPECT_EQ(GetNow("k").entry.value, "old");
  EXPECT_EQ(backend_.last_sequence(), revision);  // nothing stored
}

TEST_F(FakeKvBackendTest, UpdateWithMatchingRevisionSucceeds) {
  backend_.Put(kBucket, "other", "x");
  uint64_t revision = backend_.Put(kBucket, "k", "1");
  backend_.Put(kBucket, "other", "y");  // later sequence on another key does not matter
  WriteRequest update = PutRequest("k", "2");
  update.expected_revision = revision;
  WriteResult result = WriteNow(update);
  ASSERT_EQ(result.status, KvStatus::kOk);
  EXPECT_EQ(result.revision, 4u);
  EXPECT_EQ(GetNow("k").entry.value, "2");
}

TEST_F(FakeKvBackendTest, UpdateWithStaleRevisionReportsCurrent) {
  uint64_t first = backend_.Put(kBucket, "k", "1");
  uint64_t second = backend_.Put(kBucket, "k", "2");
  WriteRequest update = PutRequest("k", "3");
  update.expected_revision = first;
  WriteResult result = WriteNow(update);
  EXPECT_EQ(result.status, KvStatus::kRevisionMismatch);
  EXPECT_EQ(result.current_revision, second);
  EXPECT_EQ(result.detail, "wrong last sequence: " + std::to_string(second));
  EXPECT_EQ(GetNow("k").entry.value, "2");
}

TEST_F(FakeKvBackendTest, UpdateOfMissingKeyReportsZero) {
  WriteRequest update = PutRequest("k", "v");
  update.expected_revision = 7;
  WriteResult result = WriteNow(update);
  EXPECT_EQ(result.status, KvStatus::kRevisionMismatch);
  EXPECT_EQ(result.current_revision, 0u);
}

TEST_F(FakeKvBackendTest, CreateAfterDeleteNeedsTheMarkerRevision) {
  backend_.Put(kBucket, "k", "v");
  WriteResult marker = WriteNow(MarkerRequest("k", EntryOp::kDelete));
  ASSERT_EQ(marker.status, KvStatus::kOk);

  WriteRequest create = PutRequest("k", "again");
  create.expected_revision = 0;
  WriteResult with_zero = WriteNow(create);
  EXPECT_EQ(with_zero.status, KvStatus::kRevisionMismatch);
  EXPECT_EQ(with_zero.current_revision, marker.revision);

  create.expected_revision = marker.revision;
  WriteResult with_marker = WriteNow(create);
  ASSERT_EQ(with_marker.status, KvStatus::kOk);
  EXPECT_EQ(GetNow("k").entry.value, "again");
}

TEST_F(FakeKvBackendTest, CasDeleteChecksRevision) {
  uint64_t revision = backend_.Put(kBucket, "k", "v");
  WriteRequest del = MarkerRequest("k", EntryOp::kDelete);
  del.expected_revision = revision + 100;
  EXPECT_EQ(WriteNow(del).status, KvStatus::kRevisionMismatch);
  EXPECT_FALSE(GetNow("k").entry.is_marker());
  del.expected_revision = revision;
  EXPECT_EQ(WriteNow(del).status, KvStatus::kOk);
  EXPECT_TRUE(GetNow("k").entry.is_marker());
}

// --- Msg-id de-duplication ---

TEST_F(FakeKvBackendTest, RepeatedMsgIdReturnsOriginalResultWithoutStoring) {
  WriteRequest request = PutRequest("k", "v1");
  request.msg_id = "id-1";
  WriteResult first = WriteNow(request);
  ASSERT_EQ(first.status, KvStatus::kOk);
  EXPECT_FALSE(first.is_duplicate);

  request.value = "v2";  // even a different body is dropped as a duplicate
  WriteResult second = WriteNow(request);
  EXPECT_EQ(second.status, KvStatus::kOk);
  EXPECT_TRUE(second.is_duplicate);
  EXPECT_EQ(second.revision, first.revision);
  EXPECT_EQ(backend_.last_sequence(), first.revision);
  EXPECT_EQ(GetNow("k").entry.value, "v1");
}

TEST_F(FakeKvBackendTest, DedupRunsBeforeCas) {
  WriteRequest create = PutRequest("k", "v");
  create.expected_revision = 0;
  create.msg_id = "create-1";
  WriteResult first = WriteNow(create);
  ASSERT_EQ(first.status, KvStatus::kOk);
  // The retry's CAS would now fail; the id match answers first, as JetStream does.
  WriteResult retry = WriteNow(create);
  EXPECT_EQ(retry.status, KvStatus::kOk);
  EXPECT_TRUE(retry.is_duplicate);
  EXPECT_EQ(retry.revision, first.revision);
}

TEST_F(FakeKvBackendTest, FailedWriteDoesNotRememberItsMsgId) {
  backend_.Put(kBucket, "k", "v");
  WriteRequest create = PutRequest("k", "new");
  create.expected_revision = 0;
  create.msg_id = "id";
  EXPECT_EQ(WriteNow(create).status, KvStatus::kRevisionMismatch);
  create.expected_revision = backend_.Latest(kBucket, "k")->revision;
  WriteResult retry = WriteNow(create);
  EXPECT_EQ(retry.status, KvStatus::kOk);
  EXPECT_FALSE(retry.is_duplicate);
}

TEST_F(FakeKvBackendTest, MsgIdsAreScopedPerBucket) {
  WriteRequest request = PutRequest("k", "v");
  request.msg_id = "same";
  EXPECT_FALSE(WriteNow(request).is_duplicate);
  request.bucket = "other";
  EXPECT_FALSE(WriteNow(request).is_duplicate);
}

TEST_F(FakeKvBackendTest, ForgetMsgIdsEndsTheWindow) {
  WriteRequest request = PutRequest("k", "v");
  request.msg_id = "id";
  WriteNow(request);
  backend_.ForgetMsgIds();
  WriteResult again = WriteNow(request);
  EXPECT_FALSE(again.is_duplicate);
  EXPECT_EQ(again.revision, 2u);
}

// --- Manual mode ---

TEST_F(FakeKvBackendTest, ManualWriteIsNotAppliedUntilCompleted) {
  backend_.set_mode(FakeKvBackend::Mode::kManual);
  std::optional<WriteResult> result;
  backend_.Write(PutRequest("k", "v"), [&](WriteResult r) { result = std::move(r); });
  executor_.RunAll();
  EXPECT_FALSE(result.has_value());
  EXPECT_EQ(backend_.pending_count(), 1u);
  EXPECT_EQ(backend_.Latest(kBucket, "k"), nullptr);

  ASSERT_TRUE(backend_.CompleteAt(0));
  EXPECT_NE(backend_.Latest(kBucket, "k"), nullptr);
  executor_.RunAll();
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->status, KvStatus::kOk);
  EXPECT_EQ(backend_.pending_count(), 0u);
}

TEST_F(FakeKvBackendTest, ManualOwnsCopiesOfTheRequest) {
  backend_.set_mode(FakeKvBackend::Mode::kManual);
  {
    std::string key = "short";
    std::string value(100, 'x');
    WriteRequest request = PutRequest(key, value);
    request.headers = {{"Redis-Event", "set"}};
    backend_.Write(request, [](const WriteResult&) {});
    backend_.Get(kBucket, key, [](const GetResult&) {});
    key.assign("XXXXX");
    value.assign(100, 'y');
  }
  // Force the deque to move its elements around.
  for (int i = 0; i < 50; ++i) backend_.Get(kBucket, "pad", [](const GetResult&) {});
  backend_.CompleteAll();
  executor_.RunAll();
  const Entry* entry = backend_.Latest(kBucket, "short");
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->value, std::string(100, 'x'));
  EXPECT_EQ(FindHeader(entry->headers, kHdrEvent), "set");
}

TEST_F(FakeKvBackendTest, OutOfOrderCompletion) {
  backend_.set_mode(FakeKvBackend::Mode::kManual);
  std::vector<std::string> order;
  backend_.Write(PutRequest("a", "1"),
                 [&](const WriteResult& r) { order.push_back("a@" + std::to_string(r.revision)); });
  backend_.Write(PutRequest("b", "2"),
                 [&](const WriteResult& r) { order.push_back("b@" + std::to_string(r.revision)); });
  backend_.Get(kBucket, "b",
               [&](const GetResult& r) { order.push_back("get-b:" + r.entry.value); });
  ASSERT_EQ(backend_.pending_count(), 3u);

  ASSERT_TRUE(backend_.CompleteNewest());  // the get runs before either write landed
  ASSERT_TRUE(backend_.CompleteAt(1));     // the write of "b"
  ASSERT_TRUE(backend_.CompleteAt(0));     // the write of "a"
  EXPECT_FALSE(backend_.CompleteAt(0));
  executor_.RunAll();
  EXPECT_EQ(order, (std::vector<std::string>{"get-b:", "b@1", "a@2"}));
}

TEST_F(FakeKvBackendTest, ManualCasIsDecidedAtCompletion) {
  backend_.set_mode(FakeKvBackend::Mode::kManual);
  WriteRequest first = PutRequest("k", "first");
  first.expected_revision = 0;
  WriteRequest second = PutRequest("k", "second");
  second.expected_revision = 0;
  std::vector<KvStatus> statuses(2, KvStatus::kInternal);
  backend_.Write(first, [&](const WriteResult& r) { statuses[0] = r.status; });
  backend_.Write(second, [&](const WriteResult& r) { statuses[1] = r.status; });
  backend_.CompleteAt(1);  // the second create lands first and wins
  backend_.CompleteAt(0);
  executor_.RunAll();
  EXPECT_EQ(statuses[1], KvStatus::kOk);
  EXPECT_EQ(statuses[0], KvStatus::kRevisionMismatch);
  EXPECT_EQ(backend_.Latest(kBucket, "k")->value, "second");
}

TEST_F(FakeKvBackendTest, CompleteAllRunsOldestFirst) {
  backend_.set_mode(FakeKvBackend::Mode::kManual);
  std::vector<uint64_t> revisions;
  for (int i = 0; i < 3; ++i) {
    backend_.Write(PutRequest("k", std::to_string(i)),
                   [&](const WriteResult& r) { revisions.push_back(r.revision); });
  }
  backend_.CompleteAll();
  executor_.RunAll();
  EXPECT_EQ(revisions, (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(backend_.Latest(kBucket, "k")->value, "2");
}

TEST_F(FakeKvBackendTest, CompleteOutOfRangeReturnsFalse) {
  backend_.set_mode(FakeKvBackend::Mode::kManual);
  EXPECT_FALSE(backend_.CompleteAt(0));
  EXPECT_FALSE(backend_.CompleteNewest());
  backend_.Get(kBucket, "k", [](const GetResult&) {});
  EXPECT_FALSE(backend_.CompleteAt(1));
  EXPECT_EQ(backend_.pending_count(), 1u);
}

TEST_F(FakeKvBackendTest, FailAllDoesNotApplyWrites) {
  backend_.set_mode(FakeKvBackend::Mode::kManual);
  std::optional<WriteResult> write;
  std::optional<GetResult> get;
  backend_.Write(PutRequest("k", "v"), [&](WriteResult r) { write = std::move(r); });
  backend_.Get(kBucket, "k", [&](GetResult r) { get = std::move(r); });
  backend_.FailAll();
  EXPECT_EQ(backend_.pending_count(), 0u);
  EXPECT_FALSE(write.has_value());  // posted, not inline
  executor_.RunAll();
  ASSERT_TRUE(write.has_value());
  ASSERT_TRUE(get.has_value());
  EXPECT_EQ(write->status, KvStatus::kOutcomeUnknown);
  EXPECT_EQ(get->status, KvStatus::kUnavailable);
  EXPECT_EQ(backend_.Latest(kBucket, "k"), nullptr);
  EXPECT_EQ(backend_.last_sequence(), 0u);
}

TEST_F(FakeKvBackendTest, FailAllReportsOldestFirst) {
  backend_.set_mode(FakeKvBackend::Mode::kManual);
  std::vector<int> order;
  for (int i = 0; i < 3; ++i) {
    backend_.Write(PutRequest("k", "v"), [&order, i](const WriteResult&) { order.push_back(i); });
  }
  backend_.FailAll();
  executor_.RunAll();
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2}));
}

// --- Connection and pre-send checks ---

TEST_F(FakeKvBackendTest, DisconnectedCallsFailUnavailable) {
  backend_.set_connected(false);
  EXPECT_FALSE(backend_.is_connected());
  EXPECT_EQ(GetNow("k").status, KvStatus::kUnavailable);
  EXPECT_EQ(WriteNow(PutRequest("k", "v")).status, KvStatus::kUnavailable);
  EXPECT_EQ(backend_.last_sequence(), 0u);
  EXPECT_EQ(backend_.get_calls(), 1u);
  EXPECT_EQ(backend_.write_calls(), 1u);

  backend_.set_connected(true);
  EXPECT_EQ(WriteNow(PutRequest("k", "v")).status, KvStatus::kOk);
}

TEST_F(FakeKvBackendTest, DisconnectedCallsAreNotQueuedInManualMode) {
  backend_.set_mode(FakeKvBackend::Mode::kManual);
  backend_.set_connected(false);
  std::optional<WriteResult> result;
  backend_.Write(PutRequest("k", "v"), [&](WriteResult r) { result = std::move(r); });
  EXPECT_EQ(backend_.pending_count(), 0u);
  executor_.RunAll();
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->status, KvStatus::kUnavailable);
}

TEST_F(FakeKvBackendTest, CountsCalls) {
  EXPECT_EQ(backend_.get_calls(), 0u);
  EXPECT_EQ(backend_.write_calls(), 0u);
  GetNow("a");
  GetNow("b");
  WriteNow(PutRequest("a", "1"));
  EXPECT_EQ(backend_.get_calls(), 2u);
  EXPECT_EQ(backend_.write_calls(), 1u);
}

TEST_F(FakeKvBackendTest, RejectsInvalidKeys) {
  for (std::string_view key : {"", ".a", "a.", "a..b", "a b", "a:b", "a*", "a>", "a\\b"}) {
    EXPECT_EQ(WriteNow(PutRequest(key, "v")).status, KvStatus::kInvalidKey) << key;
    EXPECT_EQ(GetNow(key).status, KvStatus::kInvalidKey) << key;
  }
  EXPECT_EQ(backend_.last_sequence(), 0u);
}

TEST_F(FakeKvBackendTest, RejectsKeysOverMaxKeyLength) {
  backend_.set_max_key_length(8);
  EXPECT_EQ(backend_.max_key_length(), 8u);
  EXPECT_EQ(WriteNow(PutRequest("12345678", "v")).status, KvStatus::kOk);
  EXPECT_EQ(WriteNow(PutRequest("123456789", "v")).status, KvStatus::kInvalidKey);
  EXPECT_EQ(GetNow("123456789").status, KvStatus::kInvalidKey);
}

TEST_F(FakeKvBackendTest, RejectsNonWritableHeaders) {
  WriteRequest request = PutRequest("k", "v");
  request.headers = {{"Redis-Event", "set"}, {"Nats-Msg-Id", "stale"}};
  WriteResult result = WriteNow(request);
  EXPECT_EQ(result.status, KvStatus::kInternal);
  EXPECT_NE(result.detail.find("Nats-Msg-Id"), std::string::npos);
  EXPECT_EQ(backend_.Latest(kBucket, "k"), nullptr);
}

TEST_F(FakeKvBackendTest, RejectsMessagesOverMaxPayload) {
  backend_.set_max_payload(1000);
  EXPECT_EQ(WriteNow(PutRequest("k", std::string(900, 'x'))).status, KvStatus::kOk);
  EXPECT_EQ(WriteNow(PutRequest("k", std::string(1000, 'x'))).status, KvStatus::kTooLarge);
  WriteRequest with_headers = PutRequest("k", std::string(900, 'x'));
  with_headers.headers = {{"Redis-Object", std::string(200, 'o')}};
  EXPECT_EQ(WriteNow(with_headers).status, KvStatus::kTooLarge);
  EXPECT_EQ(backend_.last_sequence(), 1u);
}

TEST_F(FakeKvBackendTest, PreSendFailuresAreNotQueuedInManualMode) {
  backend_.set_mode(FakeKvBackend::Mode::kManual);
  std::optional<WriteResult> result;
  backend_.Write(PutRequest("bad key", "v"), [&](WriteResult r) { result = std::move(r); });
  EXPECT_EQ(backend_.pending_count(), 0u);
  executor_.RunAll();
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->status, KvStatus::kInvalidKey);
}

}  // namespace
}  // namespace kvmap
