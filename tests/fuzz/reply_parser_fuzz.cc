// SPDX-License-Identifier: Apache-2.0
//
// libFuzzer target: resp::ReplyParser and resp::AppendCommand (docs/fuzzing.md).
//
// The input is the raw byte stream a Redis server sends back (RESP2 and RESP3). It is parsed
// twice: with the default ReplyLimits and with small limits the input's Rng picks
// (max_bulk_len, max_elements, max_depth). Under each:
//   1. it is fed whole, then byte by byte, then in pieces whose sizes come from the input's Rng
//      (every piece in its own exactly sized heap block, so AddressSanitizer sees a read past
//      it; Next() is called after most pieces, not all, and into a Reply left full of junk);
//      the three must give the same replies (compared field by field), each ending at the same
//      stream offset (bytes fed minus buffered()), the same error text (which names the
//      stream offset) or none, and the same buffered() at the end. A protocol error is final:
//      Next() keeps returning it with the same text. Under the defaults it is also fed behind
//      a 4 KiB status reply, the input's first piece in the same Feed(), so the buffer is
//      compacted with unparsed bytes left: the same replies after that one, offsets shifted;
//   2. it is compared with the strict reference reader (tests/fuzz/reply_reader.h, RESP3
//      allowed): every reply the reference reads must come out of the parser, equivalent under
//      the type mapping below (attributes dropped) and ending at the same offset. Where the
//      reference finds the input malformed the parser may accept more (it is more lenient: a
//      '+' sign, leading zeros, LF inside a line, an empty error); where the reference reads
//      everything, or needs more bytes, the parser must not fail, except for an error that the
//      bytes prove: a limit (checked against the number in the text), a header line over 64
//      bytes still unfinished, or the byte after a complete bulk that is not CR (the reference
//      waits for 2 bytes before it looks);
//   3. no reply exceeds the limits: strings within max_bulk_len bytes, aggregates within
//      max_elements entries (pairs for a map), nothing nested below max_depth aggregates;
// and, with arguments the Rng cuts out of the input,
//   4. AppendCommand appends exactly `*N\r\n` and `$len\r\narg\r\n` per argument to what the
//      string held; resp::RequestParser reads the same arguments back (no request for N = 0),
//      and ReplyParser reads it as an array of N bulk strings.
//
// Reference type -> ReplyType: '+' kStatus; '-' and '!' kError; ':' kInteger; '$' and '='
// kBulk ('=' without its "fmt:"); null '$' and '*', and '_', kNil; '*' '~' '>' kArray; '%'
// kMap; ',' kDouble (str = the text); '#' kBool; '(' kBigNumber.
//
// Thread: the fuzzing thread.
#include <cinttypes>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "resp/reply_parser.h"
#include "resp/request_parser.h"
#include "tests/fuzz/fuzz_support.h"
#include "tests/fuzz/reply_reader.h"

namespace {

using resp::Reply;
using resp::ReplyLimits;
using resp::ReplyParser;
using resp::ReplyType;

// The longest header line the parser accepts (kMaxHeaderLine in reply_parser.cc).
constexpr size_t kMaxHeaderLine = 64;
// The padding reply of the compaction run: longer than the parser's kCompactMin (4096), so
// the buffer is compacted right after it while the input's first piece is still unparsed.
constexpr size_t kPaddingLen = 4200;

// What parsing a whole stream produced.
struct Outcome {
  std::vector<Reply> replies;
  std::vector<uint64_t> ends;        // stream offset just past each reply
  std::optional<std::string> error;  // the protocol error that ended the stream, if any
  size_t buffered = 0;               // buffered() at the end (no error)
};

const char* TypeName(ReplyType t) {
  switch (t) {
    case ReplyType::kStatus:
      return "+";
    case ReplyType::kError:
      return "-";
    case ReplyType::kInteger:
      return ":";
    case ReplyType::kBulk:
      return "$";
    case ReplyType::kNil:
      return "nil";
    case ReplyType::kArray:
      return "*";
    case ReplyType::kMap:
      return "%";
    case ReplyType::kDouble:
      return ",";
    case ReplyType::kBool:
      return "#";
    case ReplyType::kBigNumber:
      return "(";
  }
  return "?";
}

std::string Describe(const Reply& r) {
  std::string s = TypeName(r.type);
  switch (r.type) {
    case ReplyType::kInteger:
    case ReplyType::kBool:
      return s + std::to_string(r.integer);
    case ReplyType::kNil:
      return s;
    case ReplyType::kArray:
    case ReplyType::kMap:
      s += "[";
      for (size_t i = 0; i < r.elements.size() && i < 8; ++i) {
        if (i > 0) s += ", ";
        s += Describe(r.elements[i]);
      }
      if (r.elements.size() > 8) s += ", ... (" + std::to_string(r.elements.size()) + ")";
      return s + "]";
    default:
      return s + "\"" + fuzz::Printable(r.str, 40) + "\"" +
             (r.str.size() > 40 ? " (" + std::to_string(r.str.size()) + " bytes)" : "");
  }
}

std::string Describe(const Outcome& o) {
  std::string s;
  for (size_t i = 0; i < o.replies.size(); ++i) {
    s += "  " + Describe(o.replies[i]) + " end=" + std::to_string(o.ends[i]) + "\n";
  }
  if (o.error) {
    s += "  error: " + fuzz::Printable(*o.error) + "\n";
  } else {
    s += "  buffered at end: " + std::to_string(o.buffered) + "\n";
  }
  return s;
}

// Field by field, the fields a type does not use included.
bool SameReply(const Reply& a, const Reply& b) {
  if (a.type != b.type || a.str != b.str || a.integer != b.integer ||
      a.elements.size() != b.elements.size()) {
    return false;
  }
  for (size_t i = 0; i < a.elements.size(); ++i) {
    if (!SameReply(a.elements[i], b.elements[i])) return false;
  }
  return true;
}

bool SameOutcome(const Outcome& a, const Outcome& b) {
  if (a.replies.size() != b.replies.size() || a.ends != b.ends || a.error != b.error) {
    return false;
  }
  if (!a.error && a.buffered != b.buffered) return false;
  for (size_t i = 0; i < a.replies.size(); ++i) {
    if (!SameReply(a.replies[i], b.replies[i])) return false;
  }
  return true;
}

// The stream offset every error text ends with (" at stream offset N").
uint64_t ErrorOffset(const std::string& error) {
  static constexpr std::string_view kAt = " at stream offset ";
  const size_t at = error.rfind(kAt);
  FUZZ_CHECK(at != std::string::npos, "error without an offset [%s]",
             fuzz::Printable(error).c_str());
  const std::string_view digits = std::string_view(error).substr(at + kAt.size());
  FUZZ_CHECK(!digits.empty() && digits.size() <= 20 &&
                 digits.find_first_not_of("0123456789") == std::string_view::npos,
             "error offset not a number [%s]", fuzz::Printable(error).c_str());
  uint64_t n = 0;
  for (char c : digits) n = n * 10 + static_cast<uint64_t>(c - '0');
  return n;
}

std::string ShiftErrorOffset(const std::string& error, uint64_t by) {
  const size_t at = error.rfind(" at stream offset ");
  return error.substr(0, at) + " at stream offset " + std::to_string(ErrorOffset(error) + by);
}

// A Reply with every field set, for Next() to overwrite.
Reply Junk() {
  Reply r;
  r.type = ReplyType::kMap;
  r.str = "junk";
  r.integer = 7;
  r.elements.resize(2);
  r.elements[0].str = "old";
  return r;
}

// Takes out every complete reply. `fed`: bytes fed so far. False once the parser failed.
bool Drain(ReplyParser& parser, uint64_t fed, bool reuse_junk, Outcome* out) {
  while (true) {
    Reply reply = reuse_junk ? Junk() : Reply{};
    const ReplyParser::Status status = parser.Next(&reply);
    if (status == ReplyParser::Status::kNeedMore) return true;
    if (status == ReplyParser::Status::kProtocolError) {
      out->error = parser.error();
      FUZZ_CHECK(ErrorOffset(*out->error) <= fed,
                 "error offset past the %" PRIu64 " bytes fed [%s]", fed,
                 fuzz::Printable(*out->error).c_str());
      Reply again;
      FUZZ_CHECK(parser.Next(&again) == ReplyParser::Status::kProtocolError &&
                     parser.error() == *out->error,
                 "protocol error not final");
      return false;
    }
    FUZZ_CHECK(parser.buffered() <= fed, "buffered() %zu with %" PRIu64 " bytes fed",
               parser.buffered(), fed);
    const uint64_t end = fed - parser.buffered();
    FUZZ_CHECK(end > (out->ends.empty() ? 0 : out->ends.back()),
               "reply ends at %" PRIu64 ", not after the previous one", end);
    out->ends.push_back(end);
    out->replies.push_back(std::move(reply));
  }
}

// Feeds `pieces` in order. With `rng`, Next() is called after three pieces in four (and after
// the last) into a Reply full of junk; without, after every piece.
Outcome ParseInPieces(const std::vector<fuzz::Chunk>& pieces, const ReplyLimits& limits,
                      fuzz::Rng* rng) {
  ReplyParser parser(limits);
  Outcome out;
  uint64_t fed = 0;
  for (size_t i = 0; i < pieces.size(); ++i) {
    parser.Feed(pieces[i].view());
    fed += pieces[i].size;
    const bool is_last = i + 1 == pieces.size();
    if (rng != nullptr && !is_last && rng->Below(4) == 0) continue;
    if (!Drain(parser, fed, rng != nullptr, &out)) {
      parser.Feed("+OK\r\n");  // ignored after an error
      return out;
    }
  }
  if (pieces.empty() && !Drain(parser, 0, false, &out)) return out;
  out.buffered = parser.buffered();
  FUZZ_CHECK(out.buffered == fed - (out.ends.empty() ? 0 : out.ends.back()),
             "buffered() %zu is not the %" PRIu64 " bytes after the last reply", out.buffered,
             fed - (out.ends.empty() ? 0 : out.ends.back()));
  return out;
}

// Feeds one byte at a time (views into one block: the random pieces are the ones that get a
// heap block each, which would cost too much here).
Outcome ParseBytewise(std::string_view input, const ReplyLimits& limits) {
  ReplyParser parser(limits);
  Outcome out;
  for (size_t i = 0; i < input.size(); ++i) {
    parser.Feed(input.substr(i, 1));
    if (!Drain(parser, i + 1, false, &out)) return out;
  }
  if (input.empty() && !Drain(parser, 0, false, &out)) return out;
  out.buffered = parser.buffered();
  return out;
}

// ---------------------------------------------------------------------------------------------
// Limits.

// Every string within max_bulk_len, every aggregate within max_elements (pairs for a map), no
// value deeper than max_depth aggregates.
void CheckLimits(const Reply& r, const ReplyLimits& limits, int level) {
  FUZZ_CHECK(level <= std::max(limits.max_depth, 0), "a value %d aggregates deep, max_depth %d",
             level, limits.max_depth);
  FUZZ_CHECK(r.str.size() <= limits.max_bulk_len, "a string of %zu bytes, max_bulk_len %zu",
             r.str.size(), limits.max_bulk_len);
  const uint64_t entries = r.type == ReplyType::kMap ? r.elements.size() / 2 : r.elements.size();
  FUZZ_CHECK(r.type != ReplyType::kMap || r.elements.size() % 2 == 0, "a map with %zu elements",
             r.elements.size());
  FUZZ_CHECK(entries <= static_cast<uint64_t>(std::max<int64_t>(limits.max_elements, 0)),
             "an aggregate of %" PRIu64 " entries, max_elements %" PRId64, entries,
             limits.max_elements);
  for (const Reply& e : r.elements) CheckLimits(e, limits, level + 1);
}

// ---------------------------------------------------------------------------------------------
// The reference.

struct RefOutcome {
  enum class Tail { kClean, kNeedMore, kMalformed };
  std::vector<fuzz::Reply> replies;
  std::vector<uint64_t> ends;
  Tail tail = Tail::kClean;
  uint64_t tail_start = 0;  // where the reply that needs more or is malformed starts
  std::string error;
};

RefOutcome ReferenceRead(std::string_view input) {
  RefOutcome ref;
  size_t pos = 0;
  while (pos < input.size()) {
    fuzz::Reply r;
    const fuzz::ReadResult rr = fuzz::ReadReply(input.substr(pos), /*allow_resp3=*/true, &r);
    if (rr.status != fuzz::ReadStatus::kValue) {
      ref.tail = rr.status == fuzz::ReadStatus::kNeedMore ? RefOutcome::Tail::kNeedMore
                                                          : RefOutcome::Tail::kMalformed;
      ref.tail_start = pos;
      ref.error = rr.error;
      return ref;
    }
    pos += rr.consumed;
    ref.replies.push_back(std::move(r));
    ref.ends.push_back(pos);
  }
  ref.tail_start = pos;
  return ref;
}

bool IsString(const Reply& g, ReplyType type, const std::string& str) {
  return g.type == type && g.str == str && g.integer == 0 && g.elements.empty();
}

bool Equivalent(const fuzz::Reply& r, const Reply& g) {
  if (r.is_null)
    return g.type == ReplyType::kNil && g.str.empty() && g.integer == 0 && g.elements.empty();
  switch (r.type) {
    case '+':
      return IsString(g, ReplyType::kStatus, r.str);
    case '-':
    case '!':
      return IsString(g, ReplyType::kError, r.str);
    case '$':
    case '=':
      return IsString(g, ReplyType::kBulk, r.str);
    case ',':
      return IsString(g, ReplyType::kDouble, r.str);
    case '(':
      return IsString(g, ReplyType::kBigNumber, r.str);
    case ':':
    case '#':
      return g.type == (r.type == ':' ? ReplyType::kInteger : ReplyType::kBool) &&
             g.integer == r.integer && g.str.empty() && g.elements.empty();
    case '*':
    case '~':
    case '>':
    case '%': {
      const ReplyType type = r.type == '%' ? ReplyType::kMap : ReplyType::kArray;
      if (g.type != type || !g.str.empty() || g.integer != 0 ||
          g.elements.size() != r.elements.size()) {
        return false;
      }
      for (size_t i = 0; i < r.elements.size(); ++i) {
        if (!Equivalent(r.elements[i], g.elements[i])) return false;
      }
      return true;
    }
    default:  // '_' is always null
      return false;
  }
}

// An error the bytes prove whatever follows them: a broken limit (the number in the text
// checked), or, when `may_be_unfinished`, what the parser sees before the reference looks: a
// header line over 64 bytes (no CR yet, or a CR at the very end), and the byte after a bulk's
// body at the very end of the input that is not CR.
bool IsProvenError(const std::string& error, std::string_view input, const ReplyLimits& limits,
                   bool may_be_unfinished) {
  const uint64_t at = ErrorOffset(error);
  const char* e = error.c_str();
  int64_t n = 0;
  int64_t limit = 0;
  int consumed = -1;
  if (std::sscanf(e,
                  "bulk length %" SCNd64 " above the limit of %" SCNd64
                  " at stream offset %*" SCNu64 "%n",
                  &n, &limit, &consumed) == 2 &&
      consumed == static_cast<int>(error.size())) {
    return static_cast<uint64_t>(limit) == limits.max_bulk_len && n > limit;
  }
  consumed = -1;
  if (std::sscanf(e,
                  "aggregate length %" SCNd64 " above the limit of %" SCNd64
                  " at stream offset %*" SCNu64 "%n",
                  &n, &limit, &consumed) == 2 &&
      consumed == static_cast<int>(error.size())) {
    return limit == limits.max_elements &&
           (n > limit || n > std::numeric_limits<int64_t>::max() / 2);
  }
  consumed = -1;
  if (std::sscanf(e, "aggregates nested deeper than %" SCNd64 " at stream offset %*" SCNu64 "%n",
                  &n, &consumed) == 1 &&
      consumed == static_cast<int>(error.size())) {
    // At the reference's own depth limit the reference fails at the same header.
    return n == limits.max_depth && limits.max_depth < fuzz::kMaxDepth;
  }
  if (error.rfind("line too long at ", 0) == 0) {
    if (at >= input.size()) return false;
    const char type = input[at];
    const bool is_simple = type == '+' || type == '-' || type == ',' || type == '(';
    const size_t cr = input.find('\r', at + 1);
    const size_t len = (cr == std::string_view::npos ? input.size() : cr) - at - 1;
    if (is_simple) return len > limits.max_bulk_len;  // a limit
    return may_be_unfinished && len > kMaxHeaderLine;
  }
  if (error.rfind("bulk data not followed by CRLF", 0) == 0) {
    return may_be_unfinished && at + 1 == input.size() && input[at] != '\r';
  }
  return false;
}

void CheckAgainstReference(const Outcome& got, const RefOutcome& ref, std::string_view input,
                           const ReplyLimits& limits, const char* name) {
  const size_t k = ref.replies.size();
  const size_t m = got.replies.size();
  auto both = [&]() {
    std::string s = "parser:\n" + Describe(got) + "reference:\n";
    for (size_t i = 0; i < k; ++i) {
      s += "  " + fuzz::Describe(ref.replies[i]) + " end=" + std::to_string(ref.ends[i]) + "\n";
    }
    s += ref.tail == RefOutcome::Tail::kClean
             ? "  clean end\n"
             : (ref.tail == RefOutcome::Tail::kNeedMore ? "  needs more after "
                                                        : "  malformed at ") +
                   std::to_string(ref.tail_start) + " " + ref.error + "\n";
    return s;
  };
  for (size_t i = 0; i < k && i < m; ++i) {
    FUZZ_CHECK(Equivalent(ref.replies[i], got.replies[i]) && ref.ends[i] == got.ends[i],
               "[%s] reply %zu differs from the reference:\n%s", name, i, both().c_str());
  }
  if (m < k) {
    // Only a broken limit stops the parser inside a reply the reference reads, and only in it.
    const uint64_t start = m == 0 ? 0 : ref.ends[m - 1];
    FUZZ_CHECK(got.error && IsProvenError(*got.error, input, limits, false) &&
                   ErrorOffset(*got.error) >= start && ErrorOffset(*got.error) < ref.ends[m],
               "[%s] the parser stopped at reply %zu, the reference read %zu:\n%s", name, m, k,
               both().c_str());
    return;
  }
  if (m > k) {
    FUZZ_CHECK(ref.tail == RefOutcome::Tail::kMalformed,
               "[%s] the parser read %zu replies, the reference %zu and no error:\n%s", name, m, k,
               both().c_str());
    return;
  }
  switch (ref.tail) {
    case RefOutcome::Tail::kClean:
      FUZZ_CHECK(!got.error && got.buffered == 0,
                 "[%s] the reference reads the whole input, the parser does not:\n%s", name,
                 both().c_str());
      break;
    case RefOutcome::Tail::kNeedMore:
      if (got.error) {
        FUZZ_CHECK(IsProvenError(*got.error, input, limits, true) &&
                       ErrorOffset(*got.error) >= ref.tail_start,
                   "[%s] protocol error on bytes the reference accepts:\n%s", name, both().c_str());
      } else {
        FUZZ_CHECK(got.buffered == input.size() - ref.tail_start,
                   "[%s] buffered() %zu, the reference's unfinished reply has %" PRIu64
                   " bytes:\n%s",
                   name, got.buffered, input.size() - ref.tail_start, both().c_str());
      }
      break;
    case RefOutcome::Tail::kMalformed:
      break;  // the parser may be more lenient
  }
}

// ---------------------------------------------------------------------------------------------

// Properties 1 to 3 under one set of limits. Returns the outcome of the whole input.
Outcome CheckOne(std::string_view input, const ReplyLimits& limits, const RefOutcome& ref,
                 fuzz::Rng& rng, const char* name) {
  std::vector<fuzz::Chunk> whole;
  whole.push_back(fuzz::CopyChunk(input));
  const Outcome at_once = ParseInPieces(whole, limits, nullptr);

  const Outcome bytewise = ParseBytewise(whole.front().view(), limits);
  FUZZ_CHECK(SameOutcome(at_once, bytewise), "[%s] whole vs byte by byte:\n%s---\n%s", name,
             Describe(at_once).c_str(), Describe(bytewise).c_str());

  const Outcome chunked = ParseInPieces(fuzz::Chunks(input, rng), limits, &rng);
  FUZZ_CHECK(SameOutcome(at_once, chunked), "[%s] whole vs chunks:\n%s---\n%s", name,
             Describe(at_once).c_str(), Describe(chunked).c_str());

  for (const Reply& r : at_once.replies) CheckLimits(r, limits, 0);
  CheckAgainstReference(at_once, ref, input, limits, name);
  return at_once;
}

// The input behind a long status reply: the buffer is compacted after that reply while the
// input's first piece, fed with it, is still unparsed.
void CheckCompaction(std::string_view input, const Outcome& expected, fuzz::Rng& rng) {
  std::string padding = "+" + std::string(kPaddingLen, 'p') + "\r\n";
  const size_t first = rng.Below(input.size() + 1);
  std::vector<fuzz::Chunk> pieces;
  pieces.push_back(fuzz::CopyChunk(padding + std::string(input.substr(0, first))));
  for (fuzz::Chunk& c : fuzz::Chunks(input.substr(first), rng)) pieces.push_back(std::move(c));
  const Outcome padded = ParseInPieces(pieces, ReplyLimits{}, &rng);

  Outcome shifted;
  Reply status;
  status.type = ReplyType::kStatus;
  status.str = padding.substr(1, kPaddingLen);
  shifted.replies.push_back(std::move(status));
  shifted.ends.push_back(padding.size());
  for (size_t i = 0; i < expected.replies.size(); ++i) {
    shifted.replies.push_back(expected.replies[i]);
    shifted.ends.push_back(expected.ends[i] + padding.size());
  }
  if (expected.error) shifted.error = ShiftErrorOffset(*expected.error, padding.size());
  shifted.buffered = expected.buffered;
  FUZZ_CHECK(SameOutcome(shifted, padded), "behind a %zu-byte reply:\n%s---\n%s", padding.size(),
             Describe(shifted).c_str(), Describe(padded).c_str());
}

// Property 4: AppendCommand, read back by RequestParser and ReplyParser.
void CheckAppendCommand(std::string_view input, fuzz::Rng& rng) {
  std::vector<std::string_view> args;
  const size_t argc = rng.Below(8) == 0 ? rng.Below(41) : rng.Below(6);
  for (size_t i = 0; i < argc; ++i) {
    const size_t start = rng.Below(input.size() + 1);
    const size_t room = input.size() - start;
    const size_t len =
        rng.Below(4) == 0 ? rng.Below(room + 1) : rng.Below(std::min<size_t>(room, 16) + 1);
    args.push_back(input.substr(start, len));
  }
  const std::string before(rng.Below(8), '#');
  std::string out = before;
  resp::AppendCommand(args, &out);

  std::string expected = before + "*" + std::to_string(args.size()) + "\r\n";
  for (std::string_view a : args) {
    expected += "$" + std::to_string(a.size()) + "\r\n";
    expected.append(a.data(), a.size());
    expected += "\r\n";
  }
  FUZZ_CHECK(out == expected, "AppendCommand of %zu arguments wrote [%s], expected [%s]",
             args.size(), fuzz::Printable(out).c_str(), fuzz::Printable(expected).c_str());
  const fuzz::Chunk encoded = fuzz::CopyChunk(std::string_view(out).substr(before.size()));

  resp::RequestParser requests;
  const resp::ParseResult r = requests.Feed(encoded.view());
  FUZZ_CHECK(r.consumed == encoded.size, "RequestParser consumed %zu of %zu bytes", r.consumed,
             encoded.size);
  if (args.empty()) {
    FUZZ_CHECK(r.status == resp::ParseStatus::kNeedMore && !requests.is_mid_request(),
               "RequestParser on an empty command");
  } else {
    FUZZ_CHECK(r.status == resp::ParseStatus::kRequest, "RequestParser status %d on [%s]",
               static_cast<int>(r.status), fuzz::Printable(encoded.view()).c_str());
    const resp::Request req = requests.TakeRequest();
    FUZZ_CHECK(!req.is_inline() && req.argc() == args.size(), "RequestParser read %zu arguments",
               req.argc());
    for (size_t i = 0; i < args.size(); ++i) {
      FUZZ_CHECK(req.arg(i) == args[i], "argument %zu came back as [%s], sent [%s]", i,
                 fuzz::Printable(req.arg(i)).c_str(), fuzz::Printable(args[i]).c_str());
    }
  }

  ReplyParser replies;
  replies.Feed(encoded.view());
  Reply reply;
  FUZZ_CHECK(replies.Next(&reply) == ReplyParser::Status::kReply &&
                 reply.type == ReplyType::kArray && reply.elements.size() == args.size() &&
                 replies.buffered() == 0,
             "ReplyParser on a command: %s", Describe(reply).c_str());
  for (size_t i = 0; i < args.size(); ++i) {
    FUZZ_CHECK(IsString(reply.elements[i], ReplyType::kBulk, std::string(args[i])),
               "ReplyParser read argument %zu as %s", i, Describe(reply.elements[i]).c_str());
  }
  FUZZ_CHECK(replies.Next(&reply) == ReplyParser::Status::kNeedMore, "more after the command");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  fuzz::Rng rng(fuzz::HashBytes(input));

  ReplyLimits small;
  small.max_bulk_len = rng.Below(4) == 0 ? rng.Below(4097) : rng.Below(17);
  small.max_elements = static_cast<int64_t>(rng.Below(4) == 0 ? rng.Below(257) : rng.Below(9));
  small.max_depth = static_cast<int>(rng.Below(10)) - 1;  // -1 (treated as 0) to 8

  const RefOutcome ref = ReferenceRead(input);

  char name[128];
  std::snprintf(name, sizeof(name), "max_bulk_len %zu, max_elements %" PRId64 ", max_depth %d",
                small.max_bulk_len, small.max_elements, small.max_depth);
  const Outcome with_defaults = CheckOne(input, ReplyLimits{}, ref, rng, "defaults");
  CheckOne(input, small, ref, rng, name);
  CheckCompaction(input, with_defaults, rng);
  CheckAppendCommand(input, rng);
  return 0;
}
