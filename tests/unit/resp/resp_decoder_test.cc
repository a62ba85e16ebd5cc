// SPDX-License-Identifier: Apache-2.0
//
// Tests for the test-support RESP decoder and matchers (tests/support), using ReplyWriter
// output so the two sides check each other.
#include "tests/support/resp_decoder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "resp/reply_writer.h"
#include "tests/support/resp_matchers.h"

namespace test_support {
namespace {

using resp::Protocol;
using resp::ReplyWriter;
using testing::Not;

TEST(RespDecoder, DecodesEachReplyFedOneByteAtATime) {
  std::string bytes;
  ReplyWriter w(&bytes, Protocol::kResp3);
  w.Ok();
  w.MapHeader(1);
  w.Bulk("k");
  w.SetHeader(2);
  w.Integer(1);
  w.Double(2.5);
  w.AttributeHeader(1);
  w.Bulk("a");
  w.Boolean(false);
  w.Verbatim("txt", "hi");
  RespDecoder decoder;
  std::vector<RespValue> values;
  for (const char c : bytes) {
    decoder.Feed(std::string_view(&c, 1));
    DecodeResult r = decoder.Next();
    ASSERT_NE(r.status, DecodeStatus::kError) << r.error;
    if (r.status == DecodeStatus::kValue) values.push_back(std::move(r.value));
  }
  ASSERT_EQ(values.size(), 3u);
  EXPECT_THAT(values[0], IsOk());
  EXPECT_THAT(values[1], IsMap(IsBulk("k"), IsSet(IsDouble(2.5), IsInt(1))));
  EXPECT_THAT(values[2], IsVerbatim("txt", "hi"));
  ASSERT_EQ(values[2].attributes.size(), 2u);
  EXPECT_THAT(values[2].attributes[1], IsBool(false));
  EXPECT_EQ(decoder.buffered(), 0u);
}

TEST(RespDecoder, ReportsMalformedInput) {
  RespDecoder decoder;
  decoder.Feed("?what\r\n");
  EXPECT_EQ(decoder.Next().status, DecodeStatus::kError);
  decoder.Feed("+OK\r\n");
  EXPECT_EQ(decoder.Next().status, DecodeStatus::kError);  // errors are sticky
}

TEST(RespDecoder, WaitsForTheWholeBulk) {
  RespDecoder decoder;
  decoder.Feed("$5\r\nhel");
  EXPECT_EQ(decoder.Next().status, DecodeStatus::kNeedMore);
  decoder.Feed("lo\r\n");
  EXPECT_THAT(decoder.Next().value, IsBulk("hello"));
}

TEST(RespDecoder, DecodeAllSplitsPipelinedReplies) {
  const std::vector<RespValue> v = DecodeAll("+OK\r\n:1\r\n$-1\r\n*-1\r\n_\r\n");
  ASSERT_EQ(v.size(), 5u);
  EXPECT_THAT(v[0], IsOk());
  EXPECT_THAT(v[1], IsInt(1));
  EXPECT_THAT(v[2], IsNil());
  EXPECT_THAT(v[3], IsNil());
  EXPECT_THAT(v[4], IsNil());
}

TEST(RespMatchers, AcceptRawBytes) {
  EXPECT_THAT("+OK\r\n", IsOk());
  EXPECT_THAT(std::string("-ERR syntax error\r\n"), IsErr("ERR syntax"));
  EXPECT_THAT("-ERR wrong number of arguments for 'get' command\r\n",
              IsErr("wrong number of arguments"));
  EXPECT_THAT(":42\r\n", IsInt(42));
  EXPECT_THAT("$1\r\nx\r\n", IsBulk("x"));
  EXPECT_THAT("*2\r\n$1\r\na\r\n$1\r\nb\r\n", IsBulkArray({"a", "b"}));
  EXPECT_THAT("*2\r\n$1\r\na\r\n:1\r\n", IsArray(IsBulk("a"), IsInt(1)));
  EXPECT_THAT("*0\r\n", IsArray());
  EXPECT_THAT("+PONG\r\n", IsSimple("PONG"));
  EXPECT_THAT("(123\r\n", IsBigNumber("123"));
  EXPECT_THAT(">1\r\n$1\r\nm\r\n", IsPush(IsBulk("m")));
  EXPECT_THAT("!3\r\nERR\r\n", IsErr("ERR"));
  EXPECT_THAT("%0\r\n", HasType(RespType::kMap));
}

TEST(RespMatchers, RejectMismatches) {
  EXPECT_THAT("+OK\r\n+OK\r\n", Not(IsOk()));  // two replies
  EXPECT_THAT("+OK\r", Not(IsOk()));           // incomplete
  EXPECT_THAT("+QUEUED\r\n", Not(IsOk()));
  EXPECT_THAT("$2\r\nOK\r\n", Not(IsOk()));
  EXPECT_THAT(":1\r\n", Not(IsInt(2)));
  EXPECT_THAT("$1\r\n1\r\n", Not(IsInt(1)));
  EXPECT_THAT("-ERR x\r\n", Not(IsErr("WRONGTYPE")));
  EXPECT_THAT("*1\r\n$1\r\na\r\n", Not(IsArray(IsBulk("b"))));
  EXPECT_THAT("~1\r\n$1\r\na\r\n", Not(IsArray(IsBulk("a"))));
  EXPECT_THAT("$0\r\n\r\n", Not(IsNil()));
}

TEST(RespMatchers, ExplainFailuresWithTheDecodedValue) {
  testing::StringMatchResultListener listener;
  EXPECT_FALSE(testing::ExplainMatchResult(IsInt(1), std::string("$3\r\nabc\r\n"), &listener));
  EXPECT_THAT(listener.str(), testing::HasSubstr("\"abc\""));
}

TEST(RespMatchers, DebugStringIsReadable) {
  const std::optional<RespValue> v = DecodeOne("*3\r\n+OK\r\n$2\r\n\r\n\r\n%1\r\n:1\r\n_\r\n");
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(DebugString(*v), "[+OK, \"\\r\\n\", {:1 => (nil)}]");
}

}  // namespace
}  // namespace test_support
