// SPDX-License-Identifier: Apache-2.0
//
// Golden bytes for every reply type in RESP2 and RESP3. The double texts and the RESP2
// degradations were checked against a live redis-server 7.0.15 (ZSCORE, HELLO 3, CONFIG GET).
#include "resp/reply_writer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "tests/unit/resp/alloc_counter.h"

namespace resp {
namespace {

struct GoldenCase {
  std::string name;
  std::function<void(ReplyWriter&)> write;
  std::string resp2;
  std::string resp3;
};

void PrintTo(const GoldenCase& c, std::ostream* os) { *os << c.name; }

std::string Write(Protocol protocol, const std::function<void(ReplyWriter&)>& write) {
  std::string out;
  ReplyWriter writer(&out, protocol);
  write(writer);
  return out;
}

const std::vector<GoldenCase>& GoldenCases() {
  static const std::vector<GoldenCase> cases = {
      {"SimpleString", [](ReplyWriter& w) { w.SimpleString("PONG"); }, "+PONG\r\n", "+PONG\r\n"},
      {"Ok", [](ReplyWriter& w) { w.Ok(); }, "+OK\r\n", "+OK\r\n"},
      {"Error", [](ReplyWriter& w) { w.Error("ERR syntax error"); }, "-ERR syntax error\r\n",
       "-ERR syntax error\r\n"},
      {"ErrorWithCrLfBecomesSpaces", [](ReplyWriter& w) { w.Error("ERR a\r\nb\nc"); },
       "-ERR a  b c\r\n", "-ERR a  b c\r\n"},
      {"IntegerZero", [](ReplyWriter& w) { w.Integer(0); }, ":0\r\n", ":0\r\n"},
      {"IntegerNegative", [](ReplyWriter& w) { w.Integer(-42); }, ":-42\r\n", ":-42\r\n"},
      {"IntegerMax", [](ReplyWriter& w) { w.Integer(std::numeric_limits<int64_t>::max()); },
       ":9223372036854775807\r\n", ":9223372036854775807\r\n"},
      {"IntegerMin", [](ReplyWriter& w) { w.Integer(std::numeric_limits<int64_t>::min()); },
       ":-9223372036854775808\r\n", ":-9223372036854775808\r\n"},
      {"Bulk", [](ReplyWriter& w) { w.Bulk("hello"); }, "$5\r\nhello\r\n", "$5\r\nhello\r\n"},
      {"BulkEmpty", [](ReplyWriter& w) { w.Bulk(""); }, "$0\r\n\r\n", "$0\r\n\r\n"},
      {"BulkBinary", [](ReplyWriter& w) { w.Bulk(std::string("a\r\n\0", 4)); },
       std::string("$4\r\na\r\n\0\r\n", 10), std::string("$4\r\na\r\n\0\r\n", 10)},
      {"Null", [](ReplyWriter& w) { w.Null(); }, "$-1\r\n", "_\r\n"},
      {"NullArray", [](ReplyWriter& w) { w.NullArray(); }, "*-1\r\n", "_\r\n"},
      {"ArrayOfBulks",
       [](ReplyWriter& w) {
         w.ArrayHeader(2);
         w.Bulk("a");
         w.Null();
       },
       "*2\r\n$1\r\na\r\n$-1\r\n", "*2\r\n$1\r\na\r\n_\r\n"},
      {"EmptyArray", [](ReplyWriter& w) { w.ArrayHeader(0); }, "*0\r\n", "*0\r\n"},
      // CONFIG GET maxmemory in Redis 7.0: *2 in RESP2, %1 in RESP3.
      {"MapIsArrayOfPairsInResp2",
       [](ReplyWriter& w) {
         w.MapHeader(1);
         w.Bulk("maxmemory");
         w.Bulk("0");
       },
       "*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n", "%1\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n"},
      {"SetIsArrayInResp2",
       [](ReplyWriter& w) {
         w.SetHeader(1);
         w.Bulk("m");
       },
       "*1\r\n$1\r\nm\r\n", "~1\r\n$1\r\nm\r\n"},
      {"PushIsArrayInResp2",
       [](ReplyWriter& w) {
         w.PushHeader(2);
         w.Bulk("message");
         w.Bulk("x");
       },
       "*2\r\n$7\r\nmessage\r\n$1\r\nx\r\n", ">2\r\n$7\r\nmessage\r\n$1\r\nx\r\n"},
      {"AttributeIsDroppedInResp2",
       [](ReplyWriter& w) {
         w.AttributeHeader(1);
         if (w.has_attributes()) {
           w.Bulk("ttl");
           w.Integer(3);
         }
         w.Integer(7);
       },
       ":7\r\n", "|1\r\n$3\r\nttl\r\n:3\r\n:7\r\n"},
      {"Double", [](ReplyWriter& w) { w.Double(1.5); }, "$3\r\n1.5\r\n", ",1.5\r\n"},
      {"DoubleUses17Digits", [](ReplyWriter& w) { w.Double(0.1); },
       "$19\r\n0.10000000000000001\r\n", ",0.10000000000000001\r\n"},
      {"DoubleIntegral", [](ReplyWriter& w) { w.Double(3); }, "$1\r\n3\r\n", ",3\r\n"},
      {"DoubleExponent", [](ReplyWriter& w) { w.Double(1e20); }, "$5\r\n1e+20\r\n", ",1e+20\r\n"},
      {"DoubleTiny", [](ReplyWriter& w) { w.Double(1.5e-300); },
       "$23\r\n1.5000000000000001e-300\r\n", ",1.5000000000000001e-300\r\n"},
      {"DoubleInf", [](ReplyWriter& w) { w.Double(HUGE_VAL); }, "$3\r\ninf\r\n", ",inf\r\n"},
      {"DoubleMinusInf", [](ReplyWriter& w) { w.Double(-HUGE_VAL); }, "$4\r\n-inf\r\n",
       ",-inf\r\n"},
      {"DoubleNan", [](ReplyWriter& w) { w.Double(std::nan("")); }, "$3\r\nnan\r\n", ",nan\r\n"},
      {"DoubleNegativeNanHasNoSign", [](ReplyWriter& w) { w.Double(-std::nan("")); },
       "$3\r\nnan\r\n", ",nan\r\n"},
      {"BooleanTrue", [](ReplyWriter& w) { w.Boolean(true); }, ":1\r\n", "#t\r\n"},
      {"BooleanFalse", [](ReplyWriter& w) { w.Boolean(false); }, ":0\r\n", "#f\r\n"},
      {"BigNumber",
       [](ReplyWriter& w) { w.BigNumber("3492890328409238509324850943850943825024385"); },
       "$43\r\n3492890328409238509324850943850943825024385\r\n",
       "(3492890328409238509324850943850943825024385\r\n"},
      {"Verbatim", [](ReplyWriter& w) { w.Verbatim("txt", "Some string"); },
       "$11\r\nSome string\r\n", "=15\r\ntxt:Some string\r\n"},
      {"BlobError", [](ReplyWriter& w) { w.BlobError("SYNTAX invalid\r\nsyntax"); },
       "-SYNTAX invalid  syntax\r\n", "!22\r\nSYNTAX invalid\r\nsyntax\r\n"},
      {"Raw", [](ReplyWriter& w) { w.Raw("+QUEUED\r\n"); }, "+QUEUED\r\n", "+QUEUED\r\n"},
  };
  return cases;
}

class ReplyWriterGolden : public testing::TestWithParam<GoldenCase> {};

TEST_P(ReplyWriterGolden, Resp2Bytes) {
  EXPECT_EQ(Write(Protocol::kResp2, GetParam().write), GetParam().resp2);
}

TEST_P(ReplyWriterGolden, Resp3Bytes) {
  EXPECT_EQ(Write(Protocol::kResp3, GetParam().write), GetParam().resp3);
}

INSTANTIATE_TEST_SUITE_P(AllTypes, ReplyWriterGolden, testing::ValuesIn(GoldenCases()),
                         [](const testing::TestParamInfo<GoldenCase>& info) {
                           return info.param.name;
                         });

TEST(ReplyWriter, AppendsToExistingBuffer) {
  std::string out = "+OK\r\n";
  ReplyWriter writer(&out, Protocol::kResp2);
  writer.Integer(5);
  EXPECT_EQ(out, "+OK\r\n:5\r\n");
  EXPECT_EQ(writer.buffer(), &out);
  EXPECT_EQ(writer.protocol(), Protocol::kResp2);
}

TEST(ReplyWriter, ErrorSanitizingLeavesEarlierBytesAlone) {
  std::string out = "$2\r\n\r\n\r\n";
  ReplyWriter writer(&out, Protocol::kResp3);
  writer.Error("ERR x\ny");
  EXPECT_EQ(out, "$2\r\n\r\n\r\n-ERR x y\r\n");
}

TEST(ReplyWriter, HeadersAndNumbersDoNotAllocate) {
  std::string out;
  out.reserve(4096);
  ReplyWriter writer(&out, Protocol::kResp3);
  resp_test::ScopedAllocationCounter counter;
  writer.Integer(std::numeric_limits<int64_t>::min());
  writer.ArrayHeader(123456);
  writer.MapHeader(3);
  writer.Bulk("value");
  writer.Double(0.1);
  writer.Boolean(true);
  writer.Null();
  writer.Error("ERR x");
  EXPECT_EQ(counter.stats().count, 0u);
}

TEST(ReplyWriter, Resp2DoubleDoesNotAllocate) {
  std::string out;
  out.reserve(4096);
  ReplyWriter writer(&out, Protocol::kResp2);
  resp_test::ScopedAllocationCounter counter;
  writer.Double(-1234.5678e-9);
  EXPECT_EQ(counter.stats().count, 0u);
}

TEST(FormatDouble, MatchesPrintfPercent17g) {
  std::mt19937_64 rng(12345);
  std::vector<double> values = {0.0,
                                -0.0,
                                1.0,
                                -1.0,
                                0.5,
                                1e-320,
                                5e-324,
                                1.7976931348623157e308,
                                123456789012345678.0,
                                1e16,
                                1e17,
                                2.5e-5,
                                1e-5,
                                0.0001,
                                100.0,
                                1.0 / 3};
  std::uniform_real_distribution<double> uniform(-1e6, 1e6);
  for (int i = 0; i < 2000; ++i) values.push_back(uniform(rng));
  for (int i = 0; i < 2000; ++i) {
    // Random bit patterns cover every exponent; skip inf and NaN, tested separately.
    const uint64_t bits = rng();
    double d;
    static_assert(sizeof(d) == sizeof(bits));
    std::memcpy(&d, &bits, sizeof(d));
    if (std::isfinite(d)) values.push_back(d);
  }
  for (const double d : values) {
    char expected[128];
    const int n = std::snprintf(expected, sizeof(expected), "%.17g", d);
    char actual[128];
    const size_t len = FormatDouble(d, actual);
    EXPECT_EQ(std::string(actual, len), std::string(expected, static_cast<size_t>(n)));
  }
}

TEST(FormatDouble, SpellsOutInfinitiesAndNan) {
  char buf[128];
  EXPECT_EQ(std::string(buf, FormatDouble(HUGE_VAL, buf)), "inf");
  EXPECT_EQ(std::string(buf, FormatDouble(-HUGE_VAL, buf)), "-inf");
  EXPECT_EQ(std::string(buf, FormatDouble(std::nan(""), buf)), "nan");
}

}  // namespace
}  // namespace resp
