// SPDX-License-Identifier: Apache-2.0
//
// ReplyParser: every RESP2 and RESP3 reply type, the same stream split at every byte (and at
// every pair of bytes), nested aggregates, nil forms, limit and garbage errors, binary bulks,
// and that a 10 MB bulk costs linear time and a fixed number of allocations whatever the size
// of the pieces it arrives in. AppendCommand is checked against golden bytes and against
// RequestParser. The allocation counter is defined in request_parser_test.cc (same binary).
#include "resp/reply_parser.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "resp/request_parser.h"
#include "tests/unit/resp/alloc_counter.h"

namespace resp {
namespace {

using namespace std::string_literals;

// A reply as one line: "+OK", "-ERR x", ":5", "$abc", "nil", "*[a,b]", "%{k:v}", ",1.5",
// "#1", "(123". Bulk bytes are shown as they are.
std::string Show(const Reply& r) {
  switch (r.type) {
    case ReplyType::kStatus:
      return "+" + r.str;
    case ReplyType::kError:
      return "-" + r.str;
    case ReplyType::kInteger:
      return ":" + std::to_string(r.integer);
    case ReplyType::kBulk:
      return "$" + r.str;
    case ReplyType::kNil:
      return "nil";
    case ReplyType::kDouble:
      return "," + r.str;
    case ReplyType::kBool:
      return "#" + std::to_string(r.integer);
    case ReplyType::kBigNumber:
      return "(" + r.str;
    case ReplyType::kArray:
    case ReplyType::kMap: {
      const bool is_map = r.type == ReplyType::kMap;
      std::string out = is_map ? "%{" : "*[";
      for (size_t i = 0; i < r.elements.size(); ++i) {
        if (i > 0) out += (is_map && i % 2 == 1) ? ":" : ",";
        out += Show(r.elements[i]);
      }
      return out + (is_map ? "}" : "]");
    }
  }
  return "?";
}

// Everything a parser produced: the replies shown, then "ERROR" if it failed.
struct Outcome {
  std::vector<std::string> replies;
  bool is_error = false;
  std::string error;
};

// Takes out every complete reply.
void Drain(ReplyParser* parser, Outcome* outcome) {
  while (!outcome->is_error) {
    Reply r;
    const ReplyParser::Status st = parser->Next(&r);
    if (st == ReplyParser::Status::kNeedMore) return;
    if (st == ReplyParser::Status::kProtocolError) {
      outcome->is_error = true;
      outcome->error = parser->error();
      return;
    }
    outcome->replies.push_back(Show(r));
  }
}

Outcome ParseWhole(std::string_view stream, ReplyLimits limits = {}) {
  ReplyParser parser(limits);
  Outcome outcome;
  parser.Feed(stream);
  Drain(&parser, &outcome);
  return outcome;
}

Outcome ParseInPieces(std::string_view stream, const std::vector<size_t>& cuts,
                      ReplyLimits limits = {}) {
  ReplyParser parser(limits);
  Outcome outcome;
  size_t from = 0;
  for (size_t cut : cuts) {
    parser.Feed(stream.substr(from, cut - from));
    Drain(&parser, &outcome);
    from = cut;
  }
  parser.Feed(stream.substr(from));
  Drain(&parser, &outcome);
  return outcome;
}

Outcome ParseByteByByte(std::string_view stream) {
  ReplyParser parser;
  Outcome outcome;
  for (char c : stream) {
    parser.Feed(std::string_view(&c, 1));
    Drain(&parser, &outcome);
  }
  return outcome;
}

// One reply of each type, in one stream.
const std::string kMixedStream =
    "+OK\r\n"
    "-ERR unknown command 'FOO'\r\n"
    ":0\r\n"
    ":-9223372036854775808\r\n"
    ":9223372036854775807\r\n"
    "$5\r\nhello\r\n"
    "$0\r\n\r\n"
    "$-1\r\n"
    "*-1\r\n"
    "*0\r\n"
    "*3\r\n$1\r\na\r\n:2\r\n*2\r\n+x\r\n$-1\r\n"
    "_\r\n"
    ",3.14\r\n"
    ",-inf\r\n"
    "#t\r\n"
    "#f\r\n"
    "(3492890328409238509324850943850943825024385\r\n"
    "!21\r\nSYNTAX invalid syntax\r\n"
    "=15\r\ntxt:Some string\r\n"
    "%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n"
    "~3\r\n:1\r\n:2\r\n:3\r\n"
    ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$4\r\nbody\r\n"
    "|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n$5\r\nafter\r\n"
    "*2\r\n|1\r\n+ttl\r\n:3600\r\n:1\r\n:2\r\n"
    "$6\r\na\r\nb\rc\r\n";

const std::vector<std::string> kMixedExpected = {
    "+OK",
    "-ERR unknown command 'FOO'",
    ":0",
    ":-9223372036854775808",
    ":9223372036854775807",
    "$hello",
    "$",
    "nil",
    "nil",
    "*[]",
    "*[$a,:2,*[+x,nil]]",
    "nil",
    ",3.14",
    ",-inf",
    "#1",
    "#0",
    "(3492890328409238509324850943850943825024385",
    "-SYNTAX invalid syntax",
    "$Some string",
    "%{+first::1,+second::2}",
    "*[:1,:2,:3]",
    "*[$message,$ch,$body]",
    "$after",
    "*[:1,:2]",
    "$a\r\nb\rc",
};

TEST(ReplyParser, ParsesEveryType) {
  const Outcome outcome = ParseWhole(kMixedStream);
  EXPECT_FALSE(outcome.is_error) << outcome.error;
  EXPECT_EQ(outcome.replies, kMixedExpected);
}

TEST(ReplyParser, TypesAndFieldsOfEachReply) {
  ReplyParser parser;
  parser.Feed(
      "+OK\r\n-ERR x\r\n:42\r\n$3\r\nabc\r\n$-1\r\n#t\r\n,1.5\r\n(12\r\n%1\r\n:1\r\n:2\r\n");
  Reply r;
  ASSERT_EQ(parser.Next(&r), ReplyParser::Status::kReply);
  EXPECT_EQ(r.type, ReplyType::kStatus);
  EXPECT_EQ(r.str, "OK");
  ASSERT_EQ(parser.Next(&r), ReplyParser::Status::kReply);
  EXPECT_TRUE(r.is_error());
  EXPECT_EQ(r.str, "ERR x");
  ASSERT_EQ(parser.Next(&r), ReplyParser::Status::kReply);
  EXPECT_EQ(r.type, ReplyType::kInteger);
  EXPECT_EQ(r.integer, 42);
  ASSERT_EQ(parser.Next(&r), ReplyParser::Status::kReply);
  EXPECT_EQ(r.type, ReplyType::kBulk);
  EXPECT_EQ(r.str, "abc");
  ASSERT_EQ(parser.Next(&r), ReplyParser::Status::kReply);
  EXPECT_TRUE(r.is_nil());
  EXPECT_TRUE(r.str.empty());
  ASSERT_EQ(parser.Next(&r), ReplyParser::Status::kReply);
  EXPECT_EQ(r.type, ReplyType::kBool);
  EXPECT_EQ(r.integer, 1);
  ASSERT_EQ(parser.Next(&r), ReplyParser::Status::kReply);
  EXPECT_EQ(r.type, ReplyType::kDouble);
  EXPECT_EQ(r.str, "1.5");
  ASSERT_EQ(parser.Next(&r), ReplyParser::Status::kReply);
  EXPECT_EQ(r.type, ReplyType::kBigNumber);
  EXPECT_EQ(r.str, "12");
  ASSERT_EQ(parser.Next(&r), ReplyParser::Status::kReply);
  EXPECT_EQ(r.type, ReplyType::kMap);
  ASSERT_EQ(r.elements.size(), 2u);
  EXPECT_EQ(r.elements[0].integer, 1);
  EXPECT_EQ(r.elements[1].integer, 2);
  EXPECT_EQ(parser.Next(&r), ReplyParser::Status::kNeedMore);
  EXPECT_EQ(parser.buffered(), 0u);
}

TEST(ReplyParser, SameRepliesWhenSplitAtEveryByte) {
  for (size_t cut = 0; cut <= kMixedStream.size(); ++cut) {
    const Outcome outcome = ParseInPieces(kMixedStream, {cut});
    ASSERT_FALSE(outcome.is_error) << "cut " << cut << ": " << outcome.error;
    ASSERT_EQ(outcome.replies, kMixedExpected) << "cut " << cut;
  }
}

TEST(ReplyParser, SameRepliesWhenSplitAtEveryPairOfBytes) {
  for (size_t a = 0; a <= kMixedStream.size(); ++a) {
    for (size_t b = a; b <= kMixedStream.size(); ++b) {
      const Outcome outcome = ParseInPieces(kMixedStream, {a, b});
      ASSERT_FALSE(outcome.is_error) << "cuts " << a << "," << b << ": " << outcome.error;
      ASSERT_EQ(outcome.replies, kMixedExpected) << "cuts " << a << "," << b;
    }
  }
}

TEST(ReplyParser, SameRepliesFedOneByteAtATime) {
  const Outcome outcome = ParseByteByByte(kMixedStream);
  EXPECT_FALSE(outcome.is_error) << outcome.error;
  EXPECT_EQ(outcome.replies, kMixedExpected);
}

TEST(ReplyParser, NeedMoreUntilTheLastByteOfEachReply) {
  // Every proper prefix of a single reply is incomplete, and nothing is taken out early.
  const std::vector<std::string> replies = {"+OK\r\n",
                                            ":12\r\n",
                                            "$3\r\nabc\r\n",
                                            "*2\r\n*1\r\n:1\r\n$0\r\n\r\n",
                                            "%1\r\n+a\r\n_\r\n",
                                            "=8\r\ntxt:abcd\r\n",
                                            "|1\r\n+a\r\n+b\r\n+OK\r\n"};
  for (const std::string& reply : replies) {
    for (size_t len = 0; len < reply.size(); ++len) {
      ReplyParser parser;
      parser.Feed(std::string_view(reply).substr(0, len));
      Reply r;
      EXPECT_EQ(parser.Next(&r), ReplyParser::Status::kNeedMore) << reply << " len " << len;
      EXPECT_EQ(parser.buffered(), len);
    }
  }
}

TEST(ReplyParser, BufferedCountsThePartialReply) {
  ReplyParser parser;
  parser.Feed("+OK\r\n$10\r\nabc");
  Reply r;
  ASSERT_EQ(parser.Next(&r), ReplyParser::Status::kReply);
  EXPECT_EQ(parser.buffered(), 8u);
  EXPECT_EQ(parser.Next(&r), ReplyParser::Status::kNeedMore);
  EXPECT_EQ(parser.buffered(), 8u);
  parser.Feed("defghij\r\n:1");
  EXPECT_EQ(parser.buffered(), 19u);
  ASSERT_EQ(parser.Next(&r), ReplyParser::Status::kReply);
  EXPECT_EQ(r.str, "abcdefghij");
  EXPECT_EQ(parser.buffered(), 2u);
}

TEST(ReplyParser, NestedArrays) {
  const Outcome outcome =
      ParseWhole("*3\r\n*2\r\n*1\r\n:1\r\n*0\r\n*-1\r\n*2\r\n%1\r\n+k\r\n*1\r\n$1\r\nv\r\n_\r\n");
  EXPECT_FALSE(outcome.is_error) << outcome.error;
  EXPECT_EQ(outcome.replies, (std::vector<std::string>{"*[*[*[:1],*[]],nil,*[%{+k:*[$v]},nil]]"}));
}

TEST(ReplyParser, NilForms) {
  const Outcome outcome = ParseWhole("$-1\r\n*-1\r\n_\r\n*1\r\n$-1\r\n");
  EXPECT_FALSE(outcome.is_error) << outcome.error;
  EXPECT_EQ(outcome.replies, (std::vector<std::string>{"nil", "nil", "nil", "*[nil]"}));
}

TEST(ReplyParser, VerbatimStringDropsItsFormat) {
  EXPECT_EQ(ParseWhole("=4\r\nmkd:\r\n").replies, (std::vector<std::string>{"$"}));
  EXPECT_EQ(ParseWhole("=8\r\ntxt:a\r\nb\r\n").replies, (std::vector<std::string>{"$a\r\nb"}));
  EXPECT_TRUE(ParseWhole("=3\r\ntxt\r\n").is_error);
  EXPECT_TRUE(ParseWhole("=5\r\ntxt-a\r\n").is_error);
}

TEST(ReplyParser, AttributesAreDropped) {
  const Outcome outcome =
      ParseWhole("|0\r\n:1\r\n|1\r\n+a\r\n*1\r\n|1\r\n+b\r\n+c\r\n:2\r\n:3\r\n");
  EXPECT_FALSE(outcome.is_error) << outcome.error;
  EXPECT_EQ(outcome.replies, (std::vector<std::string>{":1", ":3"}));
}

TEST(ReplyParser, BinaryBulkWithEveryByteValue) {
  std::string value;
  for (int i = 0; i < 256; ++i) value.push_back(static_cast<char>(i));
  value += "\r\n$3\r\n*1\r\n\r\r\n\n";
  std::string stream = "$" + std::to_string(value.size()) + "\r\n" + value + "\r\n:7\r\n";
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    ReplyParser parser;
    parser.Feed(std::string_view(stream).substr(0, cut));
    Reply r;
    std::vector<Reply> got;
    while (parser.Next(&r) == ReplyParser::Status::kReply) got.push_back(r);
    parser.Feed(std::string_view(stream).substr(cut));
    while (parser.Next(&r) == ReplyParser::Status::kReply) got.push_back(r);
    ASSERT_EQ(got.size(), 2u) << "cut " << cut << ": " << parser.error();
    EXPECT_EQ(got[0].type, ReplyType::kBulk);
    EXPECT_EQ(got[0].str, value);
    EXPECT_EQ(got[1].integer, 7);
  }
}

TEST(ReplyParser, DepthUpToTheLimitIsAccepted) {
  ReplyLimits limits;
  limits.max_depth = 4;
  EXPECT_EQ(ParseWhole("*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", limits).replies,
            (std::vector<std::string>{"*[*[*[*[:1]]]]"}));
  // Empty aggregates are complete at once and add no depth.
  EXPECT_EQ(ParseWhole("*1\r\n*1\r\n*1\r\n*1\r\n*0\r\n", limits).replies,
            (std::vector<std::string>{"*[*[*[*[*[]]]]]"}));
  const Outcome deep = ParseWhole("*1\r\n*1\r\n%1\r\n~1\r\n>1\r\n:1\r\n", limits);
  EXPECT_TRUE(deep.is_error);
  EXPECT_NE(deep.error.find("nested deeper than 4"), std::string::npos) << deep.error;
}

TEST(ReplyParser, DefaultDepthLimitStopsADeepStream) {
  std::string stream;
  for (int i = 0; i < 100000; ++i) stream += "*1\r\n";
  const Outcome outcome = ParseWhole(stream);
  EXPECT_TRUE(outcome.is_error);
  EXPECT_NE(outcome.error.find("nested deeper than 32"), std::string::npos) << outcome.error;
  // The error names where: the 33rd header starts at byte 32 * 4.
  EXPECT_NE(outcome.error.find("offset 128"), std::string::npos) << outcome.error;
}

TEST(ReplyParser, HugeBulkLengthIsRefusedBeforeAllocating) {
  ReplyParser parser;
  resp_test::AllocationStats stats;
  Reply r;
  ReplyParser::Status st;
  {
    resp_test::ScopedAllocationCounter counter;
    parser.Feed("$9223372036854775807\r\n");
    st = parser.Next(&r);
    stats = counter.stats();
  }
  EXPECT_EQ(st, ReplyParser::Status::kProtocolError);
  EXPECT_NE(parser.error().find("above the limit"), std::string::npos) << parser.error();
  EXPECT_LT(stats.largest, 4096u);
}

TEST(ReplyParser, BulkLengthLimitIsConfigurable) {
  ReplyLimits limits;
  limits.max_bulk_len = 10;
  EXPECT_EQ(ParseWhole("$10\r\n0123456789\r\n", limits).replies,
            (std::vector<std::string>{"$0123456789"}));
  EXPECT_TRUE(ParseWhole("$11\r\n01234567890\r\n", limits).is_error);
  EXPECT_TRUE(ParseWhole("!11\r\n01234567890\r\n", limits).is_error);
  // A simple string is bounded by the same limit, even before its CRLF arrives.
  EXPECT_TRUE(ParseWhole("+" + std::string(11, 'x'), limits).is_error);
  EXPECT_FALSE(ParseWhole("+" + std::string(10, 'x'), limits).is_error);
}

TEST(ReplyParser, HugeElementCountIsRefusedBeforeAllocating) {
  ReplyParser parser;
  resp_test::AllocationStats stats;
  Reply r;
  ReplyParser::Status st;
  {
    resp_test::ScopedAllocationCounter counter;
    parser.Feed("*2147483648\r\n");
    st = parser.Next(&r);
    stats = counter.stats();
  }
  EXPECT_EQ(st, ReplyParser::Status::kProtocolError);
  EXPECT_LT(stats.largest, 4096u);
  for (const char* stream :
       {"%16777217\r\n", "~9223372036854775807\r\n", ">16777217\r\n", "|9223372036854775807\r\n"}) {
    const Outcome outcome = ParseWhole(stream);
    EXPECT_TRUE(outcome.is_error) << stream;
    EXPECT_NE(outcome.error.find("above the limit"), std::string::npos) << outcome.error;
  }
}

TEST(ReplyParser, LargeAllowedCountReservesLittle) {
  ReplyParser parser;
  Reply r;
  resp_test::ScopedAllocationCounter counter;
  parser.Feed("*16777216\r\n:1\r\n");
  EXPECT_EQ(parser.Next(&r), ReplyParser::Status::kNeedMore);
  EXPECT_LT(counter.stats().largest, 256u * 1024);
}

TEST(ReplyParser, GarbageIsAProtocolError) {
  for (const std::string& stream : {"hello\r\n"s,
                                    "\r\n"s,
                                    "\0"s,
                                    "?"s,
                                    " +OK\r\n"s,
                                    "+OK\r\nGARBAGE"s,
                                    "+OK\rX"s,
                                    "$3\r\nabcX\r\n"s,
                                    "$3\r\nabc\rX"s,
                                    "$abc\r\n"s,
                                    "$\r\n"s,
                                    "$ 3\r\n"s,
                                    "*x\r\n"s,
                                    ":\r\n"s,
                                    ":abc\r\n"s,
                                    ":12a\r\n"s,
                                    ":99999999999999999999\r\n"s,
                                    "#x\r\n"s,
                                    "#\r\n"s,
                                    "_x\r\n"s,
                                    ",\r\n"s,
                                    "(12a\r\n"s,
                                    "(\r\n"s,
                                    "$" + std::string(100, '1')}) {
    const Outcome outcome = ParseWhole(stream);
    EXPECT_TRUE(outcome.is_error) << ::testing::PrintToString(stream);
    EXPECT_NE(outcome.error.find("offset"), std::string::npos) << outcome.error;
  }
}

TEST(ReplyParser, GarbageAfterGoodRepliesKeepsTheGoodOnes) {
  const Outcome outcome = ParseWhole("+OK\r\n:1\r\n@oops\r\n+never\r\n");
  EXPECT_EQ(outcome.replies, (std::vector<std::string>{"+OK", ":1"}));
  ASSERT_TRUE(outcome.is_error);
  EXPECT_NE(outcome.error.find("'@'"), std::string::npos) << outcome.error;
  EXPECT_NE(outcome.error.find("offset 9"), std::string::npos) << outcome.error;
}

TEST(ReplyParser, NegativeLengthsOtherThanMinusOneAreErrors) {
  for (const char* stream : {"$-2\r\n", "*-2\r\n", "$-100\r\n", "*-9223372036854775808\r\n",
                             "!-1\r\n", "=-1\r\n", "%-1\r\n", "~-1\r\n", ">-1\r\n", "|-1\r\n"}) {
    const Outcome outcome = ParseWhole(stream);
    EXPECT_TRUE(outcome.is_error) << stream;
    EXPECT_TRUE(outcome.replies.empty()) << stream;
  }
}

TEST(ReplyParser, ErrorIsFinal) {
  ReplyParser parser;
  parser.Feed("!x\r\n");
  Reply r;
  EXPECT_EQ(parser.Next(&r), ReplyParser::Status::kProtocolError);
  const std::string error = parser.error();
  parser.Feed("+OK\r\n");
  EXPECT_EQ(parser.Next(&r), ReplyParser::Status::kProtocolError);
  EXPECT_EQ(parser.error(), error);
}

TEST(ReplyParser, LongHeaderFailsBeforeItsEnd) {
  ReplyParser parser;
  Reply r;
  parser.Feed("*");
  for (int i = 0; i < 64; ++i) {
    parser.Feed("1");
    ASSERT_EQ(parser.Next(&r), ReplyParser::Status::kNeedMore) << i;
  }
  parser.Feed("1");
  EXPECT_EQ(parser.Next(&r), ReplyParser::Status::kProtocolError);
}

// Feeds one bulk of `len` bytes in pieces of `piece` bytes, taking replies out after each
// piece, and returns the seconds it took; *allocations gets the heap allocations made.
double FeedBulkInPieces(const std::string& stream, size_t piece, const std::string& value,
                        size_t* allocations) {
  ReplyParser parser;
  Reply r;
  size_t replies = 0;
  const auto start = std::chrono::steady_clock::now();
  {
    resp_test::ScopedAllocationCounter counter;
    for (size_t at = 0; at < stream.size(); at += piece) {
      parser.Feed(std::string_view(stream).substr(at, piece));
      while (parser.Next(&r) == ReplyParser::Status::kReply) {
        ++replies;
        EXPECT_EQ(r.str.size(), value.size());
        EXPECT_TRUE(r.str == value);
      }
    }
    *allocations = counter.stats().count;
  }
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(replies, 2u);
  EXPECT_EQ(parser.buffered(), 0u);
  return took.count();
}

TEST(ReplyParser, TenMegabyteBulkInAnyPieceSizeIsLinear) {
  constexpr size_t kLen = 10 * 1024 * 1024;
  std::string value(kLen, 'v');
  for (size_t i = 0; i < kLen; i += 4093) value[i] = (i % 2) ? '\r' : '\n';
  const std::string one = "$" + std::to_string(kLen) + "\r\n" + value + "\r\n";
  const std::string stream = one + one;
  for (size_t piece : {size_t{1}, size_t{7}, size_t{4096}, size_t{65536}}) {
    size_t allocations = 0;
    const double seconds = FeedBulkInPieces(stream, piece, value, &allocations);
    // Each bulk is reserved once; the small buffer for headers grows a few times. A parser
    // that copied or rescanned the partial bulk on every piece would allocate (or take)
    // orders of magnitude more.
    EXPECT_LE(allocations, 12u) << "piece " << piece;
    // 20 MB one byte at a time is 40 million calls: seconds even under ASan. Quadratic work
    // would be ~10^13 byte copies.
    EXPECT_LT(seconds, 30.0) << "piece " << piece;
  }
}

TEST(ReplyParser, BulkFedWholeBeforeNextIsOneCopyIntoTheReply) {
  constexpr size_t kLen = 10 * 1024 * 1024;
  const std::string value(kLen, 'x');
  ReplyParser parser;
  parser.Feed("$" + std::to_string(kLen) + "\r\n");
  Reply r;
  ASSERT_EQ(parser.Next(&r), ReplyParser::Status::kNeedMore);
  resp_test::ScopedAllocationCounter counter;
  parser.Feed(value);
  parser.Feed("\r\n");
  ASSERT_EQ(parser.Next(&r), ReplyParser::Status::kReply);
  EXPECT_EQ(r.str.size(), kLen);
  EXPECT_EQ(counter.stats().count, 0u);  // straight into the storage reserved at the header
}

TEST(ReplyParser, ManySmallRepliesInOneBufferAreLinear) {
  // 1,000,000 replies fed in 64 KiB chunks without taking them out in between, then drained:
  // the consumed front of the buffer is dropped in halves, not once per reply.
  std::string stream;
  for (int i = 0; i < 1000000; ++i) stream += ":" + std::to_string(i) + "\r\n";
  ReplyParser parser;
  for (size_t at = 0; at < stream.size(); at += 65536) {
    parser.Feed(std::string_view(stream).substr(at, 65536));
  }
  const auto start = std::chrono::steady_clock::now();
  Reply r;
  int64_t expected = 0;
  while (parser.Next(&r) == ReplyParser::Status::kReply) {
    ASSERT_EQ(r.integer, expected);
    ++expected;
  }
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(expected, 1000000);
  EXPECT_LT(took.count(), 20.0);
}

TEST(ReplyParser, LongStatusLineInPiecesIsScannedOnce) {
  // A 4 MB status line in 1 KiB pieces: rescanning from its start each time would be 8 GB of
  // scanning; resuming is 4 MB.
  const std::string text(4 * 1024 * 1024, 's');
  const std::string stream = "+" + text + "\r\n";
  ReplyParser parser;
  Reply r;
  const auto start = std::chrono::steady_clock::now();
  for (size_t at = 0; at < stream.size(); at += 1024) {
    parser.Feed(std::string_view(stream).substr(at, 1024));
    if (at + 1024 < stream.size()) {
      ASSERT_EQ(parser.Next(&r), ReplyParser::Status::kNeedMore);
    }
  }
  ASSERT_EQ(parser.Next(&r), ReplyParser::Status::kReply);
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.str, text);
  EXPECT_LT(took.count(), 5.0);
}

TEST(AppendCommand, GoldenBytes) {
  std::string out;
  AppendCommand({"SET", "k", "v"}, &out);
  EXPECT_EQ(out, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n");
  AppendCommand({"PING"}, &out);
  EXPECT_EQ(out, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*1\r\n$4\r\nPING\r\n");
  out.clear();
  AppendCommand({"ECHO", ""}, &out);
  EXPECT_EQ(out, "*2\r\n$4\r\nECHO\r\n$0\r\n\r\n");
  out.clear();
  AppendCommand({}, &out);
  EXPECT_EQ(out, "*0\r\n");
}

TEST(AppendCommand, BinaryArgumentsRoundTripThroughRequestParser) {
  std::string binary;
  for (int i = 0; i < 256; ++i) binary.push_back(static_cast<char>(i));
  binary += "\r\n*1\r\n$3\r\n";
  const std::string big(100000, 'b');
  std::string out;
  AppendCommand({"SET", binary, big}, &out);
  AppendCommand({"GET", std::string_view("\0k", 2)}, &out);
  RequestParser parser;
  std::string_view rest = out;
  std::vector<std::vector<std::string>> got;
  while (!rest.empty()) {
    const ParseResult result = parser.Feed(rest);
    ASSERT_NE(result.status, ParseStatus::kError) << parser.error_message();
    rest.remove_prefix(result.consumed);
    if (result.status == ParseStatus::kRequest) {
      const Request request = parser.TakeRequest();
      std::vector<std::string> argv;
      for (size_t i = 0; i < request.argc(); ++i) argv.emplace_back(request.arg(i));
      got.push_back(argv);
    }
  }
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], (std::vector<std::string>{"SET", binary, big}));
  EXPECT_EQ(got[1], (std::vector<std::string>{"GET", std::string("\0k", 2)}));
}

}  // namespace
}  // namespace resp
