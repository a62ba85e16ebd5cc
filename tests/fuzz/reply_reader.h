// SPDX-License-Identifier: Apache-2.0
//
// fuzz::ReadReply: a strict reader of the replies the gateway writes, for the fuzz targets.
//
// It is deliberately independent of resp::ReplyWriter and stricter than a client: it accepts
// exactly the canonical framing a server must produce and reports anything else as malformed,
// with the offset and the reason. In particular:
//   * every line ends in CRLF, and simple strings and errors hold no CR or LF;
//   * integers, lengths and counts are canonical decimal (no '+', no leading zeros, no "-0"),
//     and fit in int64;
//   * a bulk is followed by exactly CRLF; -1 is the only negative length or count;
//   * RESP3-only types ('_', ',', '#', '(', '=', '!', '%', '~', '>', '|') are malformed unless
//     `allow_resp3`;
//   * a double is "inf", "-inf", "nan" or text that std::strtod consumes whole;
//   * a verbatim string is "fmt:" (3 bytes and a colon) and then the text;
//   * nesting deeper than kMaxDepth is malformed (no server reply is that deep).
//
// Thread: any. Pure functions over the bytes given.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fuzz {

struct Reply {
  // The RESP type byte: '+', '-', ':', '$', '*', '%', '~', '>', '_', ',', '#', '(', '=', '!'.
  // A RESP2 null bulk is '$' with is_null, a null array '*' with is_null.
  char type = '_';
  bool is_null = false;
  std::string str;                // '+', '-', '$', ',', '(', '!' text; '=' text after "fmt:"
  std::string format;             // '=' only
  int64_t integer = 0;            // ':' value; '#' 1 or 0
  std::vector<Reply> elements;    // aggregates; a map's keys and values interleaved
  std::vector<Reply> attributes;  // a preceding '|' attribute, keys and values interleaved

  bool operator==(const Reply& o) const = default;
};

enum class ReadStatus { kValue, kNeedMore, kMalformed };

struct ReadResult {
  ReadStatus status = ReadStatus::kNeedMore;
  size_t consumed = 0;  // kValue: bytes of the reply
  std::string error;    // kMalformed: what and where
};

inline constexpr int kMaxDepth = 32;

// Reads one reply from the start of `in` into *out.
ReadResult ReadReply(std::string_view in, bool allow_resp3, Reply* out);

// Reads every reply in `in`. Returns the number read, or -1 with *error set when the bytes are
// malformed or end inside a reply.
int64_t ReadAllReplies(std::string_view in, bool allow_resp3, std::vector<Reply>* out,
                       std::string* error);

// Short rendering for failure messages.
std::string Describe(const Reply& r);

}  // namespace fuzz
