// SPDX-License-Identifier: Apache-2.0
//
// libFuzzer target: resp::RequestParser (docs/fuzzing.md).
//
// The input is the raw byte stream a client sends. It is parsed under one of three limit sets
// (defaults; unauthenticated; proto-max-bulk-len 100), chosen by the input's Rng, and:
//   1. fed whole, then byte by byte, then in pieces whose sizes come from the input's Rng
//      (every piece in its own exactly sized heap block, so AddressSanitizer sees a read past
//      it); the three must give the same requests, each ending at the same stream offset, the
//      same final error text, and the same "mid request" state at the end;
//   2. compared with ReferenceParse below, a plain whole-buffer reimplementation of the rules
//      the parser documents (Redis 7.0 processInlineBuffer / processMultibulkBuffer /
//      sdssplitargs), written from Redis's code rather than from ours;
//   3. every request respects the limits: a multibulk argument is at most max_bulk_len bytes
//      (16384 and at most 10 arguments when unauthenticated), an inline argument at most
//      64 KiB, and argc >= 1; the views of a request survive moving it;
//   4. every error text is one of Redis's protocol error texts.
//
// Thread: the fuzzing thread.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "resp/request_parser.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

// What a parse of a whole stream produced.
struct Outcome {
  struct Req {
    std::vector<std::string> args;
    bool is_inline = false;
    size_t end = 0;  // stream offset just past the request
  };
  std::vector<Req> requests;
  std::optional<std::string> error;  // the protocol error that ended the stream, if any
  bool is_mid_request = false;       // at the end of the input (no error)
};

std::string Describe(const Outcome& o) {
  std::string s;
  for (const Outcome::Req& r : o.requests) {
    s += r.is_inline ? "  inline [" : "  multibulk [";
    for (size_t i = 0; i < r.args.size(); ++i) {
      if (i > 0) s += ", ";
      s += "\"" + fuzz::Printable(r.args[i], 40) + "\"";
    }
    s += "] end=" + std::to_string(r.end) + "\n";
  }
  if (o.error) s += "  error: " + *o.error + "\n";
  s += o.is_mid_request ? "  mid-request at end\n" : "  idle at end\n";
  return s;
}

void CheckRequest(resp::Request& req, const resp::ParserLimits& limits) {
  FUZZ_CHECK(req.argc() >= 1, "empty request handed out");
  std::vector<std::string> before;
  for (size_t i = 0; i < req.argc(); ++i) {
    const std::string_view a = req.arg(i);
    before.emplace_back(a);
    if (req.is_inline()) {
      FUZZ_CHECK(a.size() <= resp::kMaxInlineLen, "inline argument of %zu bytes", a.size());
    } else {
      FUZZ_CHECK(a.size() <= limits.max_bulk_len, "bulk of %zu bytes over max_bulk_len %zu",
                 a.size(), limits.max_bulk_len);
      FUZZ_CHECK(
          !limits.is_unauthenticated || a.size() <= static_cast<size_t>(resp::kUnauthMaxBulkLen),
          "unauthenticated bulk of %zu bytes", a.size());
    }
  }
  if (!req.is_inline() && limits.is_unauthenticated) {
    FUZZ_CHECK(req.argc() <= static_cast<size_t>(resp::kUnauthMaxMultibulkLen),
               "unauthenticated request with %zu arguments", req.argc());
  }
  // The documented promise: views stay valid when the Request moves.
  std::vector<std::string_view> views = req.args();
  resp::Request moved = std::move(req);
  for (size_t i = 0; i < views.size(); ++i) {
    FUZZ_CHECK(views[i] == before[i] && moved.arg(i) == before[i],
               "argument %zu changed when the request moved", i);
  }
  req = std::move(moved);
}

bool IsKnownError(const std::string& e) {
  static const char* const kTexts[] = {
      "ERR Protocol error: too big inline request",
      "ERR Protocol error: unbalanced quotes in request",
      "ERR Protocol error: too big mbulk count string",
      "ERR Protocol error: too big bulk count string",
      "ERR Protocol error: invalid multibulk length",
      "ERR Protocol error: unauthenticated multibulk length",
      "ERR Protocol error: invalid bulk length",
      "ERR Protocol error: unauthenticated bulk length",
  };
  for (const char* t : kTexts) {
    if (e == t) return true;
  }
  // "expected '$', got 'X'" with X any byte but CR and LF (Redis turns those into spaces).
  const std::string_view prefix = "ERR Protocol error: expected '$', got '";
  return e.size() == prefix.size() + 2 && e.compare(0, prefix.size(), prefix) == 0 &&
         e.back() == '\'' && e[prefix.size()] != '\r' && e[prefix.size()] != '\n';
}

// Feeds `pieces` in order to one parser and records the outcome.
Outcome ParseInPieces(const std::vector<fuzz::Chunk>& pieces, const resp::ParserLimits& limits) {
  resp::RequestParser parser(limits);
  Outcome out;
  size_t base = 0;  // stream offset of the current piece
  for (const fuzz::Chunk& piece : pieces) {
    std::string_view rest = piece.view();
    size_t offset = base;
    while (true) {
      const resp::ParseResult r = parser.Feed(rest);
      FUZZ_CHECK(r.consumed <= rest.size(), "consumed %zu of %zu bytes", r.consumed, rest.size());
      offset += r.consumed;
      rest.remove_prefix(r.consumed);
      if (r.status == resp::ParseStatus::kNeedMore) {
        FUZZ_CHECK(rest.empty(), "kNeedMore left %zu bytes unconsumed", rest.size());
        break;
      }
      if (r.status == resp::ParseStatus::kError) {
        out.error = parser.error_message();
        FUZZ_CHECK(IsKnownError(*out.error), "unknown error text [%s]",
                   fuzz::Printable(*out.error).c_str());
        FUZZ_CHECK(!parser.is_mid_request(), "mid request after an error");
        return out;
      }
      FUZZ_CHECK(!parser.is_mid_request(), "mid request with a request ready");
      resp::Request req = parser.TakeRequest();
      CheckRequest(req, limits);
      Outcome::Req rec;
      for (size_t i = 0; i < req.argc(); ++i) rec.args.emplace_back(req.arg(i));
      rec.is_inline = req.is_inline();
      rec.end = offset;
      out.requests.push_back(std::move(rec));
    }
    base += piece.size;
  }
  out.is_mid_request = parser.is_mid_request();
  return out;
}

// Feeds one byte at a time (views into one block: the random pieces below are the ones that
// get a heap block each, which would cost too much here).
Outcome ParseBytewise(std::string_view input, const resp::ParserLimits& limits) {
  resp::RequestParser parser(limits);
  Outcome out;
  for (size_t i = 0; i < input.size(); ++i) {
    const resp::ParseResult r = parser.Feed(input.substr(i, 1));
    FUZZ_CHECK(r.consumed <= 1, "consumed %zu of 1 byte", r.consumed);
    if (r.status == resp::ParseStatus::kNeedMore) continue;
    if (r.status == resp::ParseStatus::kError) {
      out.error = parser.error_message();
      return out;
    }
    resp::Request req = parser.TakeRequest();
    Outcome::Req rec;
    for (size_t a = 0; a < req.argc(); ++a) rec.args.emplace_back(req.arg(a));
    rec.is_inline = req.is_inline();
    rec.end = i + r.consumed;
    out.requests.push_back(std::move(rec));
    // kRequest comes on the byte that completes the request, never one call later.
    FUZZ_CHECK(r.consumed == 1, "request completed without consuming its last byte");
  }
  out.is_mid_request = parser.is_mid_request();
  return out;
}

// ---------------------------------------------------------------------------------------------
// The reference: Redis 7.0's rules applied to the whole buffer at once.

// Redis string2ll.
std::optional<int64_t> String2ll(std::string_view s) {
  if (s.empty() || s.size() >= 21) return std::nullopt;
  if (s == "0") return 0;
  size_t i = 0;
  bool neg = false;
  if (s[0] == '-') {
    neg = true;
    i = 1;
    if (s.size() == 1) return std::nullopt;
  }
  if (s[i] < '1' || s[i] > '9') return std::nullopt;
  unsigned __int128 v = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
    v = v * 10 + static_cast<unsigned>(s[i] - '0');
    if (v > (static_cast<unsigned __int128>(1) << 64)) return std::nullopt;
  }
  if (neg) {
    if (v > static_cast<unsigned __int128>(std::numeric_limits<int64_t>::max()) + 1) {
      return std::nullopt;
    }
    return static_cast<int64_t>(-static_cast<__int128>(v));
  }
  if (v > static_cast<unsigned __int128>(std::numeric_limits<int64_t>::max())) {
    return std::nullopt;
  }
  return static_cast<int64_t>(v);
}

// Redis sdssplitargs, on a C string (the line holds no NUL, so reading past its end gives 0).
std::optional<std::vector<std::string>> SdsSplitArgs(std::string_view line) {
  auto at = [&](size_t i) -> char { return i < line.size() ? line[i] : '\0'; };
  auto is_space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
  };
  auto is_hex = [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  };
  auto hex = [](char c) { return c <= '9' ? c - '0' : (c >= 'a' ? c - 'a' + 10 : c - 'A' + 10); };
  std::vector<std::string> argv;
  size_t p = 0;
  while (true) {
    while (at(p) != '\0' && is_space(at(p))) ++p;
    if (at(p) == '\0') return argv;
    bool inq = false, insq = false, done = false;
    std::string current;
    while (!done) {
      const char c = at(p);
      if (inq) {
        if (c == '\\' && at(p + 1) == 'x' && is_hex(at(p + 2)) && is_hex(at(p + 3))) {
          current.push_back(static_cast<char>(hex(at(p + 2)) * 16 + hex(at(p + 3))));
          p += 3;
        } else if (c == '\\' && at(p + 1) != '\0') {
          ++p;
          char e;
          switch (at(p)) {
            case 'n':
              e = '\n';
              break;
            case 'r':
              e = '\r';
              break;
            case 't':
              e = '\t';
              break;
            case 'b':
              e = '\b';
              break;
            case 'a':
              e = '\a';
              break;
            default:
              e = at(p);
              break;
          }
          current.push_back(e);
        } else if (c == '"') {
          if (at(p + 1) != '\0' && !is_space(at(p + 1))) return std::nullopt;
          done = true;
        } else if (c == '\0') {
          return std::nullopt;
        } else {
          current.push_back(c);
        }
      } else if (insq) {
        if (c == '\\' && at(p + 1) == '\'') {
          ++p;
          current.push_back('\'');
        } else if (c == '\'') {
          if (at(p + 1) != '\0' && !is_space(at(p + 1))) return std::nullopt;
          done = true;
        } else if (c == '\0') {
          return std::nullopt;
        } else {
          current.push_back(c);
        }
      } else {
        switch (c) {
          case ' ':
          case '\n':
          case '\r':
          case '\t':
          case '\0':
            done = true;
            break;
          case '"':
            inq = true;
            break;
          case '\'':
            insq = true;
            break;
          default:
            current.push_back(c);
            break;
        }
      }
      if (at(p) != '\0') ++p;
    }
    argv.push_back(std::move(current));
  }
}

// One header or inline line starting at `p`: ends at the first `term`; a NUL before it means
// strchr never finds it. Returns kNeedMore, kTooBig or kLine (line_end = index of term).
enum class RefLine { kNeedMore, kTooBig, kLine };
RefLine ScanRefLine(std::string_view in, size_t p, char term, size_t* line_end) {
  size_t t = in.find(term, p);
  const size_t end = t == std::string_view::npos ? in.size() : t;
  if (in.substr(p, end - p).find('\0') != std::string_view::npos) {
    return in.size() - p > resp::kMaxInlineLen ? RefLine::kTooBig : RefLine::kNeedMore;
  }
  if (end - p > resp::kMaxInlineLen) return RefLine::kTooBig;
  if (t == std::string_view::npos) return RefLine::kNeedMore;
  *line_end = t;
  return RefLine::kLine;
}

Outcome ReferenceParse(std::string_view in, const resp::ParserLimits& limits) {
  Outcome out;
  size_t p = 0;
  auto need_more = [&]() {
    out.is_mid_request = true;
    return out;
  };
  auto fail = [&](std::string e) {
    out.error = std::move(e);
    return out;
  };
  while (p < in.size()) {
    size_t t = 0;
    if (in[p] != '*') {
      switch (ScanRefLine(in, p, '\n', &t)) {
        case RefLine::kNeedMore:
          return need_more();
        case RefLine::kTooBig:
          return fail("ERR Protocol error: too big inline request");
        case RefLine::kLine:
          break;
      }
      std::string_view line = in.substr(p, t - p);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      std::optional<std::vector<std::string>> argv = SdsSplitArgs(line);
      if (!argv) return fail("ERR Protocol error: unbalanced quotes in request");
      p = t + 1;
      if (argv->empty()) continue;
      out.requests.push_back({std::move(*argv), true, p});
      continue;
    }
    switch (ScanRefLine(in, p, '\r', &t)) {
      case RefLine::kNeedMore:
        return need_more();
      case RefLine::kTooBig:
        return fail("ERR Protocol error: too big mbulk count string");
      case RefLine::kLine:
        break;
    }
    if (t + 1 >= in.size()) return need_more();  // the byte after '\r' (any byte) is skipped
    std::optional<int64_t> count = String2ll(in.substr(p + 1, t - p - 1));
    if (!count || *count > 2147483647) return fail("ERR Protocol error: invalid multibulk length");
    if (*count > 10 && limits.is_unauthenticated) {
      return fail("ERR Protocol error: unauthenticated multibulk length");
    }
    p = t + 2;
    if (*count <= 0) continue;
    Outcome::Req req;
    for (int64_t i = 0; i < *count; ++i) {
      switch (ScanRefLine(in, p, '\r', &t)) {
        case RefLine::kNeedMore:
          return need_more();
        case RefLine::kTooBig:
          return fail("ERR Protocol error: too big bulk count string");
        case RefLine::kLine:
          break;
      }
      if (t + 1 >= in.size()) return need_more();
      if (in[p] != '$') {
        char got = in[p];  // '\r' itself when the line is empty
        if (got == '\r' || got == '\n') got = ' ';
        return fail(std::string("ERR Protocol error: expected '$', got '") + got + "'");
      }
      std::optional<int64_t> len = String2ll(in.substr(p + 1, t - p - 1));
      if (!len || *len < 0 || static_cast<uint64_t>(*len) > limits.max_bulk_len) {
        return fail("ERR Protocol error: invalid bulk length");
      }
      if (*len > 16384 && limits.is_unauthenticated) {
        return fail("ERR Protocol error: unauthenticated bulk length");
      }
      p = t + 2;
      if (in.size() - p < static_cast<uint64_t>(*len) + 2) return need_more();
      req.args.emplace_back(in.substr(p, static_cast<size_t>(*len)));
      p += static_cast<size_t>(*len) + 2;
    }
    req.end = p;
    out.requests.push_back(std::move(req));
  }
  return out;
}

bool SameOutcome(const Outcome& a, const Outcome& b) {
  if (a.requests.size() != b.requests.size() || a.error != b.error) return false;
  if (!a.error && a.is_mid_request != b.is_mid_request) return false;
  for (size_t i = 0; i < a.requests.size(); ++i) {
    const Outcome::Req& x = a.requests[i];
    const Outcome::Req& y = b.requests[i];
    if (x.args != y.args || x.is_inline != y.is_inline || x.end != y.end) return false;
  }
  return true;
}

void CheckOne(std::string_view input, const resp::ParserLimits& limits, fuzz::Rng& rng,
              const char* name) {
  std::vector<fuzz::Chunk> whole;
  whole.push_back(fuzz::CopyChunk(input));
  const Outcome at_once = ParseInPieces(whole, limits);

  const Outcome bytewise = ParseBytewise(whole.front().view(), limits);
  FUZZ_CHECK(SameOutcome(at_once, bytewise), "[%s] whole vs byte by byte:\n%s---\n%s", name,
             Describe(at_once).c_str(), Describe(bytewise).c_str());

  const Outcome chunked = ParseInPieces(fuzz::Chunks(input, rng), limits);
  FUZZ_CHECK(SameOutcome(at_once, chunked), "[%s] whole vs chunks:\n%s---\n%s", name,
             Describe(at_once).c_str(), Describe(chunked).c_str());

  const Outcome reference = ReferenceParse(input, limits);
  FUZZ_CHECK(SameOutcome(at_once, reference), "[%s] parser vs reference:\n%s---\n%s", name,
             Describe(at_once).c_str(), Describe(reference).c_str());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  fuzz::Rng rng(fuzz::HashBytes(input));

  // One limit set per input, picked by the Rng (a third of the inputs each): checking all
  // three on every input would triple the cost of each run for little more coverage.
  resp::ParserLimits limits;
  const char* name = "defaults";
  switch (rng.Below(3)) {
    case 0:
      break;
    case 1:
      limits.is_unauthenticated = true;
      name = "unauthenticated";
      break;
    default:
      limits.max_bulk_len = 100;
      name = "max_bulk_len=100";
      break;
  }
  CheckOne(input, limits, rng, name);
  return 0;
}
