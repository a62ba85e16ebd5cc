// SPDX-License-Identifier: Apache-2.0
//
// test_support::RespDecoder: a small RESP2/RESP3 reply decoder for tests.
//
// Feed() it the bytes a server (the gateway, or a real redis-server) wrote, in pieces of any
// size, and call Next() to take out complete replies as RespValue trees. It is written for
// clarity, not speed: it re-parses the buffered bytes on every Next() call.
//
// Typical use in a test:
//   test_support::RespValue v = test_support::DecodeOne(bytes);   // exactly one reply
//   EXPECT_THAT(bytes, test_support::IsOk());                     // see resp_matchers.h
//
// Thread: one decoder per thread. Owns copies of everything it was fed.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace test_support {

enum class RespType {
  kSimpleString,  // +text
  kError,         // -text
  kInteger,       // :n
  kBulk,          // $len bytes
  kNull,          // $-1 (RESP2) or _ (RESP3)
  kNullArray,     // *-1 (RESP2)
  kArray,         // *n
  kMap,           // %n; elements hold key, value, key, value...
  kSet,           // ~n
  kPush,          // >n
  kDouble,        // ,text
  kBoolean,       // #t / #f
  kBigNumber,     // (digits
  kVerbatim,      // =len fmt:text
  kBlobError,     // !len text
};

// One decoded reply.
struct RespValue {
  RespType type = RespType::kNull;
  // kSimpleString, kError, kBulk, kBlobError, kBigNumber, kVerbatim (text without "fmt:"):
  // the bytes. kDouble: the text as sent ("1.5", "inf").
  std::string str;
  // kVerbatim only: the 3-byte format ("txt").
  std::string format;
  // kInteger: the value. kBoolean: 1 or 0.
  int64_t integer = 0;
  // kDouble: the parsed value.
  double dbl = 0;
  // kArray, kSet, kPush: the elements. kMap: keys and values interleaved.
  std::vector<RespValue> elements;
  // RESP3 attributes (`|n`) sent just before this value, keys and values interleaved.
  std::vector<RespValue> attributes;

  bool is_null() const { return type == RespType::kNull || type == RespType::kNullArray; }
};

// Renders a value for test failure messages, for example `+OK`, `-ERR syntax error`, `:1`,
// `"bytes"` (C escapes for non-printable bytes), `(nil)`, `[:1, "a"]`, `{"k" => :1}`.
std::string DebugString(const RespValue& value);
std::ostream& operator<<(std::ostream& os, const RespValue& value);
void PrintTo(const RespValue& value, std::ostream* os);  // used by GoogleTest

enum class DecodeStatus {
  kValue,     // a complete reply was decoded
  kNeedMore,  // the buffered bytes hold no complete reply yet
  kError,     // the bytes are not valid RESP; the decoder stays in this state
};

struct DecodeResult {
  DecodeStatus status = DecodeStatus::kNeedMore;
  RespValue value;    // kValue only
  std::string error;  // kError only: what was wrong and at which offset
};

class RespDecoder {
 public:
  // Appends bytes to the internal buffer. Never fails.
  void Feed(std::string_view bytes);

  // Decodes and removes the next complete reply from the buffer.
  DecodeResult Next();

  // Bytes fed but not yet taken out by Next().
  size_t buffered() const { return buffer_.size() - pos_; }

 private:
  std::string buffer_;
  size_t pos_ = 0;
  std::string error_;
};

// Decodes `bytes`, which must hold exactly one complete reply. Returns std::nullopt (and
// records a GoogleTest failure explaining why) if they hold none, more than one or bad RESP.
std::optional<RespValue> DecodeOne(std::string_view bytes);

// Decodes all complete replies in `bytes`. Records a GoogleTest failure if bytes are left over
// or malformed, and returns the replies decoded before that point.
std::vector<RespValue> DecodeAll(std::string_view bytes);

}  // namespace test_support
