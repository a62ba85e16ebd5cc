// SPDX-License-Identifier: Apache-2.0
//
// Tests of the JetStream API helpers: PubAck and API error parsing, the KV stream
// configuration the gateway creates, bucket names and Nats-Time-Stamp parsing.
#include "kvmap/js_api.h"

#include <gtest/gtest.h>

#include <string>

namespace kvmap {
namespace {

// --- ParsePubAck ---

TEST(ParsePubAck, AckGivesOkWithTheSequenceAsRevision) {
  WriteResult r = ParsePubAck(R"({"stream":"KV_redis","seq":42})");
  EXPECT_EQ(r.status, KvStatus::kOk);
  EXPECT_EQ(r.revision, 42u);
  EXPECT_FALSE(r.is_duplicate);
}

TEST(ParsePubAck, AckWithDomainStillGivesTheSequence) {
  WriteResult r = ParsePubAck(R"({"stream":"KV_redis","domain":"hub","seq":7})");
  EXPECT_EQ(r.status, KvStatus::kOk);
  EXPECT_EQ(r.revision, 7u);
}

TEST(ParsePubAck, LargeSequenceIsKeptAs64Bits) {
  WriteResult r = ParsePubAck(R"({"stream":"KV_redis","seq":18446744073709551615})");
  EXPECT_EQ(r.status, KvStatus::kOk);
  EXPECT_EQ(r.revision, 18446744073709551615u);
}

TEST(ParsePubAck, DuplicateAckIsOkAndFlaggedDuplicate) {
  WriteResult r = ParsePubAck(R"({"stream":"KV_redis","seq":42,"duplicate":true})");
  EXPECT_EQ(r.status, KvStatus::kOk);
  EXPECT_EQ(r.revision, 42u);
  EXPECT_TRUE(r.is_duplicate);
}

TEST(ParsePubAck, DuplicateWithSpacesIsFlaggedDuplicate) {
  WriteResult r = ParsePubAck(R"({"stream": "KV_redis", "seq": 42, "duplicate": true})");
  EXPECT_EQ(r.revision, 42u);
  EXPECT_TRUE(r.is_duplicate);
}

TEST(ParsePubAck, DuplicateFalseIsNotDuplicate) {
  WriteResult r = ParsePubAck(R"({"stream":"KV_redis","seq":42,"duplicate":false})");
  EXPECT_FALSE(r.is_duplicate);
}

TEST(ParsePubAck, WrongLastSequenceIsRevisionMismatchWithCurrentRevision) {
  WriteResult r = ParsePubAck(
      R"({"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 17"}})");
  EXPECT_EQ(r.status, KvStatus::kRevisionMismatch);
  ASSERT_TRUE(r.current_revision.has_value());
  EXPECT_EQ(*r.current_revision, 17u);
}

TEST(ParsePubAck, WrongLastSequenceZeroReportsZero) {
  WriteResult r = ParsePubAck(
      R"({"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 0"}})");
  EXPECT_EQ(r.current_revision, std::optional<uint64_t>(0));
}

TEST(ParsePubAck, WrongLastSequenceWithoutNumberHasNoCurrentRevision) {
  WriteResult r = ParsePubAck(
      R"({"error":{"code":400,"err_code":10071,"description":"wrong last sequence"}})");
  EXPECT_EQ(r.status, KvStatus::kRevisionMismatch);
  EXPECT_FALSE(r.current_revision.has_value());
}

TEST(ParsePubAck, OtherApiErrorIsInternalWithTheDescription) {
  WriteResult r = ParsePubAck(
      R"({"error":{"code":503,"err_code":10039,"description":"jetstream not enabled"}})");
  EXPECT_EQ(r.status, KvStatus::kInternal);
  EXPECT_EQ(r.detail, "jetstream not enabled");
}

TEST(ParsePubAck, StreamNotFoundIsInternal) {
  WriteResult r = ParsePubAck(
      R"({"error":{"code":404,"err_code":10059,"description":"stream not found"}})");
  EXPECT_EQ(r.status, KvStatus::kInternal);
}

TEST(ParsePubAck, MessageSizeErrorIsTooLarge) {
  WriteResult r = ParsePubAck(
      R"({"error":{"code":400,"err_code":10054,"description":"message size exceeds maximum allowed"}})");
  EXPECT_EQ(r.status, KvStatus::kTooLarge);
}

TEST(ParsePubAck, AckWithoutSequenceIsInternal) {
  WriteResult r = ParsePubAck(R"({"stream":"KV_redis"})");
  EXPECT_EQ(r.status, KvStatus::kInternal);
  EXPECT_FALSE(r.detail.empty());
}

TEST(ParsePubAck, GarbageIsInternal) {
  EXPECT_EQ(ParsePubAck("not json").status, KvStatus::kInternal);
  EXPECT_EQ(ParsePubAck("").status, KvStatus::kInternal);
}

// --- ParseJsApiError ---

TEST(ParseJsApiError, ReplyWithoutErrorHasNone) {
  EXPECT_FALSE(ParseJsApiError(R"({"stream":"KV_redis","seq":1})").has_value());
}

TEST(ParseJsApiError, ReadsCodeErrCodeAndDescription) {
  auto err = ParseJsApiError(
      R"({"type":"io.nats.jetstream.api.v1.stream_create_response","error":{"code":400,"err_code":10058,"description":"stream name already in use"}})");
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->code, 400);
  EXPECT_EQ(err->err_code, 10058);
  EXPECT_EQ(err->description, "stream name already in use");
}

TEST(ParseJsApiError, FieldOrderDoesNotMatter) {
  auto err = ParseJsApiError(
      R"({"error":{"description":"stream not found","err_code":10059,"code":404}})");
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->code, 404);
  EXPECT_EQ(err->err_code, 10059);
  EXPECT_EQ(err->description, "stream not found");
}

TEST(ParseJsApiError, ToleratesSpacesAroundColons) {
  auto err = ParseJsApiError(R"({"error" : {"code" : 503, "description" : "no responders"}})");
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->code, 503);
  EXPECT_EQ(err->err_code, 0);
  EXPECT_EQ(err->description, "no responders");
}

TEST(ParseJsApiError, UnescapesQuotesInTheDescription) {
  auto err = ParseJsApiError(R"({"error":{"code":400,"description":"bad \"x\" value"}})");
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->description, "bad \"x\" value");
}

TEST(ParseJsApiError, ErrorThatIsNotAnObjectIsIgnored) {
  EXPECT_FALSE(ParseJsApiError(R"({"error":"text"})").has_value());
}

// --- FindJsonUint ---

TEST(FindJsonUint, FindsNestedField) {
  EXPECT_EQ(FindJsonUint(R"({"state":{"messages":5,"last_seq":9}})", "last_seq"),
            std::optional<uint64_t>(9));
}

TEST(FindJsonUint, MissingFieldIsNullopt) {
  EXPECT_FALSE(FindJsonUint(R"({"a":1})", "b").has_value());
}

TEST(FindJsonUint, NameInsideAStringValueIsNotAField) {
  EXPECT_EQ(FindJsonUint(R"({"stream":"seq","seq":3})", "seq"), std::optional<uint64_t>(3));
}

TEST(FindJsonUint, NegativeValueIsNullopt) {
  EXPECT_FALSE(FindJsonUint(R"({"seq":-1})", "seq").has_value());
}

// --- BuildKvStreamConfig ---

class BuildKvStreamConfigTest : public testing::Test {
 protected:
  BuildKvStreamConfigTest() {
    BucketConfig config;
    config.name = "redis-3";
    config.replicas = 3;
    config.history = 1;
    config.duplicate_window_ns = 120'000'000'000;
    json_ = BuildKvStreamConfig(config);
  }
  bool Has(std::string_view fragment) const {
    return json_.find(fragment) != std::string::npos;
  }
  std::string json_;
};

TEST_F(BuildKvStreamConfigTest, NamesTheStreamAfterTheBucket) {
  EXPECT_TRUE(Has(R"("name":"KV_redis-3")")) << json_;
}

TEST_F(BuildKvStreamConfigTest, SubjectsCoverTheBucket) {
  EXPECT_TRUE(Has(R"("subjects":["$KV.redis-3.>"])")) << json_;
}

TEST_F(BuildKvStreamConfigTest, KeepsTheConfiguredHistoryPerSubject) {
  EXPECT_TRUE(Has(R"("max_msgs_per_subject":1)")) << json_;
}

TEST_F(BuildKvStreamConfigTest, UsesTheConfiguredReplicas) {
  EXPECT_TRUE(Has(R"("num_replicas":3)")) << json_;
}

TEST_F(BuildKvStreamConfigTest, UsesTheConfiguredDuplicateWindow) {
  EXPECT_TRUE(Has(R"("duplicate_window":120000000000)")) << json_;
}

TEST_F(BuildKvStreamConfigTest, AllowsDirectGetAndRollups) {
  EXPECT_TRUE(Has(R"("allow_direct":true)")) << json_;
  EXPECT_TRUE(Has(R"("allow_rollup_hdrs":true)")) << json_;
}

TEST_F(BuildKvStreamConfigTest, HasTheKvLayoutOfAdr8) {
  EXPECT_TRUE(Has(R"("deny_delete":true)")) << json_;
  EXPECT_TRUE(Has(R"("discard":"new")")) << json_;
  EXPECT_TRUE(Has(R"("retention":"limits")")) << json_;
  EXPECT_TRUE(Has(R"("max_age":0)")) << json_;
}

TEST_F(BuildKvStreamConfigTest, IsOneJsonObject) {
  ASSERT_FALSE(json_.empty());
  EXPECT_EQ(json_.front(), '{');
  EXPECT_EQ(json_.back(), '}');
}

TEST(BuildKvStreamConfig, HistoryAboveOneIsWritten) {
  BucketConfig config;
  config.name = "b";
  config.history = 5;
  EXPECT_NE(BuildKvStreamConfig(config).find(R"("max_msgs_per_subject":5)"), std::string::npos);
}

// --- IsValidBucketName ---

TEST(IsValidBucketName, AcceptsLettersDigitsDashAndUnderscore) {
  EXPECT_TRUE(IsValidBucketName("redis"));
  EXPECT_TRUE(IsValidBucketName("redis-15"));
  EXPECT_TRUE(IsValidBucketName("A_b-9"));
}

TEST(IsValidBucketName, RefusesEmptyDotsSpacesAndWildcards) {
  EXPECT_FALSE(IsValidBucketName(""));
  EXPECT_FALSE(IsValidBucketName("a.b"));
  EXPECT_FALSE(IsValidBucketName("a b"));
  EXPECT_FALSE(IsValidBucketName("a*"));
  EXPECT_FALSE(IsValidBucketName("a>"));
}

// --- ParseNatsTimestamp ---

TEST(ParseNatsTimestamp, EpochIsZero) {
  EXPECT_EQ(ParseNatsTimestamp("1970-01-01T00:00:00Z"), std::optional<int64_t>(0));
}

TEST(ParseNatsTimestamp, WholeSeconds) {
  EXPECT_EQ(ParseNatsTimestamp("2023-01-02T03:04:05Z"),
            std::optional<int64_t>(1672628645LL * 1'000'000'000));
}

TEST(ParseNatsTimestamp, NanosecondFraction) {
  EXPECT_EQ(ParseNatsTimestamp("2023-01-02T03:04:05.123456789Z"),
            std::optional<int64_t>(1672628645LL * 1'000'000'000 + 123456789));
}

TEST(ParseNatsTimestamp, ShortFractionIsScaled) {
  EXPECT_EQ(ParseNatsTimestamp("2023-01-02T03:04:05.5Z"),
            std::optional<int64_t>(1672628645LL * 1'000'000'000 + 500'000'000));
}

TEST(ParseNatsTimestamp, LeapDay) {
  EXPECT_EQ(ParseNatsTimestamp("2024-02-29T23:59:59Z"),
            std::optional<int64_t>(1709251199LL * 1'000'000'000));
}

TEST(ParseNatsTimestamp, MissingZoneIsRejected) {
  EXPECT_FALSE(ParseNatsTimestamp("2023-01-02T03:04:05").has_value());
  EXPECT_FALSE(ParseNatsTimestamp("2023-01-02T03:04:05.123").has_value());
}

TEST(ParseNatsTimestamp, GarbageIsRejected) {
  EXPECT_FALSE(ParseNatsTimestamp("").has_value());
  EXPECT_FALSE(ParseNatsTimestamp("yesterday at noon, UTC").has_value());
  EXPECT_FALSE(ParseNatsTimestamp("2023/01/02 03:04:05Z").has_value());
}

TEST(ParseNatsTimestamp, NonDigitFieldsAreRejected) {
  EXPECT_FALSE(ParseNatsTimestamp("2023-0x-02T03:04:05Z").has_value());
}

// --- leader reads ($JS.API.STREAM.MSG.GET), answers as nats-server 2.9.10 sends them ---

TEST(BuildLastBySubjectRequest, AsksForTheLastMessageOnTheSubject) {
  EXPECT_EQ(BuildLastBySubjectRequest("$KV.redis.user.1"),
            R"({"last_by_subj":"$KV.redis.user.1"})");
}

TEST(ParseStreamMsgGet, MessageGivesEntryLikeADirectGet) {
  // hdrs: "NATS/1.0\r\nRedis-Event: set\r\n\r\n", data: "1"
  GetResult r = ParseStreamMsgGet(
      R"({"type":"io.nats.jetstream.api.v1.stream_msg_get_response","message":{"subject":)"
      R"("$KV.cx.user.1","seq":7,"hdrs":"TkFUUy8xLjANClJlZGlzLUV2ZW50OiBzZXQNCg0K","data":"MQ==",)"
      R"("time":"2023-01-02T03:04:05.5Z"}})");
  ASSERT_EQ(r.status, KvStatus::kOk) << r.detail;
  EXPECT_EQ(r.entry.key, "user.1");
  EXPECT_EQ(r.entry.value, "1");
  EXPECT_EQ(r.entry.revision, 7u);
  EXPECT_EQ(r.entry.timestamp_ns, 1672628645LL * 1'000'000'000 + 500'000'000);
  EXPECT_EQ(r.entry.op, EntryOp::kPut);
  ASSERT_EQ(r.entry.headers.size(), 1u);
  EXPECT_EQ(r.entry.headers[0], Header("Redis-Event", "set"));
}

TEST(ParseStreamMsgGet, DeleteMarkerWithoutDataKeepsOnlyWritableHeaders) {
  // hdrs: Redis-Event: del, KV-Operation: DEL, Nats-Expected-Last-Subject-Sequence: 4953,
  // Nats-Msg-Id: b637a4ed0cdb12bd-1; no "data" field at all.
  GetResult r = ParseStreamMsgGet(
      R"({"type":"io.nats.jetstream.api.v1.stream_msg_get_response","message":{"subject":)"
      R"("$KV.cx.k1","seq":5002,"hdrs":"TkFUUy8xLjANClJlZGlzLUV2ZW50OiBkZWwNCktWLU9wZXJhdGlvbjog)"
      R"(REVMDQpOYXRzLUV4cGVjdGVkLUxhc3QtU3ViamVjdC1TZXF1ZW5jZTogNDk1Mw0KTmF0cy1Nc2ctSWQ6IGI2Mzdh)"
      R"(NGVkMGNkYjEyYmQtMQ0KDQo=","time":"2026-12-06T15:33:40.523233063Z"}})");
  ASSERT_EQ(r.status, KvStatus::kOk) << r.detail;
  EXPECT_TRUE(r.entry.is_marker());
  EXPECT_EQ(r.entry.op, EntryOp::kDelete);
  EXPECT_EQ(r.entry.value, "");
  EXPECT_EQ(r.entry.revision, 5002u);
  ASSERT_EQ(r.entry.headers.size(), 1u);
  EXPECT_EQ(r.entry.headers[0].first, "Redis-Event");
}

TEST(ParseStreamMsgGet, BinaryPayloadRoundTrips) {
  // data: bytes 00 ff 0d 0a 22 5c (base64 "AP8NCiJc")
  GetResult r = ParseStreamMsgGet(
      R"({"message":{"subject":"$KV.b.k","seq":1,"data":"AP8NCiJc",)"
      R"("time":"2023-01-02T03:04:05Z"}})");
  ASSERT_EQ(r.status, KvStatus::kOk) << r.detail;
  EXPECT_EQ(r.entry.value, std::string("\x00\xff\r\n\"\\", 6));
  EXPECT_TRUE(r.entry.headers.empty());
}

TEST(ParseStreamMsgGet, NoMessageIsNotFound) {
  GetResult r = ParseStreamMsgGet(
      R"({"type":"io.nats.jetstream.api.v1.stream_msg_get_response","error":{"code":404,)"
      R"("err_code":10037,"description":"no message found"}})");
  EXPECT_EQ(r.status, KvStatus::kNotFound);
}

TEST(ParseStreamMsgGet, OtherErrorsAndGarbageAreInternal) {
  EXPECT_EQ(ParseStreamMsgGet(R"({"error":{"code":503,"err_code":10039,"description":"x"}})")
                .status,
            KvStatus::kInternal);
  EXPECT_EQ(ParseStreamMsgGet("").status, KvStatus::kInternal);
  EXPECT_EQ(ParseStreamMsgGet(R"({"message":{"subject":"$KV.b.k","data":"MQ=="}})").status,
            KvStatus::kInternal);  // no seq
  EXPECT_EQ(ParseStreamMsgGet(R"({"message":{"subject":"$KV.b.k","seq":1,"data":"M!=="}})")
                .status,
            KvStatus::kInternal);  // not base64
}

}  // namespace
}  // namespace kvmap
