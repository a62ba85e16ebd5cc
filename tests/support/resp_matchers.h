// SPDX-License-Identifier: Apache-2.0
//
// GoogleTest matchers for RESP replies (see resp_decoder.h for the value tree).
//
// Every matcher accepts either a decoded test_support::RespValue (or std::optional of one), or
// the raw reply bytes (std::string, std::string_view, const char*), which must then hold
// exactly one complete reply:
//
//   EXPECT_THAT(conn.TakeOutput(), IsOk());                  // raw bytes "+OK\r\n"
//   EXPECT_THAT(reply, IsErr("ERR syntax error"));           // prefix or any substring
//   EXPECT_THAT(reply, IsErr("wrong number of arguments"));
//   EXPECT_THAT(reply, IsInt(1));
//   EXPECT_THAT(reply, IsBulk("value"));
//   EXPECT_THAT(reply, IsNil());                             // $-1, *-1 or RESP3 _
//   EXPECT_THAT(reply, IsArray(IsBulk("a"), IsNil(), IsInt(3)));   // in this order
//   EXPECT_THAT(reply, IsArray());                           // empty array
//   EXPECT_THAT(reply, IsBulkArray({"a", "b"}));             // array of exactly these bulks
//   EXPECT_THAT(reply, IsMap(IsBulk("k"), IsInt(1)));        // keys and values interleaved
//   EXPECT_THAT(reply, IsSet(IsBulk("b"), IsBulk("a")));     // any order
//
// For several pipelined replies, decode first: `auto replies = DecodeAll(bytes);` and match
// each element (or the vector with ElementsAre).
//
// Matchers for types: IsOk, IsSimple, IsErr, IsInt, IsBulk, IsNil, IsDouble, IsBool,
// IsBigNumber, IsVerbatim, IsArray, IsBulkArray, IsMap, IsSet, IsPush, HasType.
// Thread: test thread only. Header only; link rng_test_support (which brings gmock).
#pragma once

#include <gmock/gmock.h>

#include <cmath>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "tests/support/resp_decoder.h"

namespace test_support {
namespace matchers_internal {

// Returns the value a matcher should look at: `arg` itself, or `arg` decoded into *storage
// when it is raw bytes. Returns nullptr (and explains why to the listener) when raw bytes do
// not hold exactly one reply.
template <typename T>
const RespValue* AsValue(const T& arg, std::optional<RespValue>* storage,
                         ::testing::MatchResultListener* listener) {
  using Arg = std::decay_t<T>;
  if constexpr (std::is_same_v<Arg, RespValue>) {
    return &arg;
  } else if constexpr (std::is_same_v<Arg, std::optional<RespValue>>) {
    if (!arg.has_value()) *listener << "which holds no reply";
    return arg.has_value() ? &*arg : nullptr;
  } else {
    const std::string_view bytes(arg);
    RespDecoder decoder;
    decoder.Feed(bytes);
    DecodeResult result = decoder.Next();
    if (result.status != DecodeStatus::kValue) {
      *listener << "which is not a complete RESP reply"
                << (result.error.empty() ? "" : " (" + result.error + ")");
      return nullptr;
    }
    if (decoder.buffered() != 0) {
      *listener << "which holds more than one reply, the first being " << DebugString(result.value);
      return nullptr;
    }
    *storage = std::move(result.value);
    return &**storage;
  }
}

// Checks the type; on mismatch explains with the whole value.
inline bool TypeIs(const RespValue& v, RespType type, ::testing::MatchResultListener* listener) {
  if (v.type == type) return true;
  *listener << "which is " << DebugString(v);
  return false;
}

inline bool TypeIsAnyOf(const RespValue& v, std::initializer_list<RespType> types,
                        ::testing::MatchResultListener* listener) {
  for (const RespType t : types) {
    if (v.type == t) return true;
  }
  *listener << "which is " << DebugString(v);
  return false;
}

}  // namespace matchers_internal

// `+OK`.
MATCHER(IsOk, negation ? "isn't +OK" : "is +OK") {
  std::optional<RespValue> storage;
  const RespValue* v = matchers_internal::AsValue(arg, &storage, result_listener);
  if (v == nullptr) return false;
  if (!matchers_internal::TypeIs(*v, RespType::kSimpleString, result_listener)) return false;
  if (v->str == "OK") return true;
  *result_listener << "which is " << DebugString(*v);
  return false;
}

// A simple string equal to `text` (`+PONG`).
MATCHER_P(IsSimple, text,
          std::string(negation ? "isn't" : "is") + " simple string +" +
              std::string(std::string_view(text))) {
  std::optional<RespValue> storage;
  const RespValue* v = matchers_internal::AsValue(arg, &storage, result_listener);
  if (v == nullptr) return false;
  if (!matchers_internal::TypeIs(*v, RespType::kSimpleString, result_listener)) return false;
  if (v->str == std::string_view(text)) return true;
  *result_listener << "which is " << DebugString(*v);
  return false;
}

// An error (simple `-` or RESP3 blob `!`) whose text contains `text`; pass the start of the
// message ("ERR syntax", "WRONGTYPE") to check a prefix, or any part of it.
MATCHER_P(IsErr, text,
          std::string(negation ? "isn't" : "is") + " an error containing \"" +
              std::string(std::string_view(text)) + "\"") {
  std::optional<RespValue> storage;
  const RespValue* v = matchers_internal::AsValue(arg, &storage, result_listener);
  if (v == nullptr) return false;
  if (!matchers_internal::TypeIsAnyOf(*v, {RespType::kError, RespType::kBlobError},
                                      result_listener)) {
    return false;
  }
  if (v->str.find(std::string_view(text)) != std::string::npos) return true;
  *result_listener << "which is " << DebugString(*v);
  return false;
}

// An integer reply `:n`.
MATCHER_P(IsInt, n,
          std::string(negation ? "isn't" : "is") + " integer :" + ::testing::PrintToString(n)) {
  std::optional<RespValue> storage;
  const RespValue* v = matchers_internal::AsValue(arg, &storage, result_listener);
  if (v == nullptr) return false;
  if (!matchers_internal::TypeIs(*v, RespType::kInteger, result_listener)) return false;
  if (v->integer == static_cast<int64_t>(n)) return true;
  *result_listener << "which is " << DebugString(*v);
  return false;
}

// A bulk string with exactly these bytes.
MATCHER_P(IsBulk, bytes,
          std::string(negation ? "isn't" : "is") + " bulk string " +
              ::testing::PrintToString(std::string(std::string_view(bytes)))) {
  std::optional<RespValue> storage;
  const RespValue* v = matchers_internal::AsValue(arg, &storage, result_listener);
  if (v == nullptr) return false;
  if (!matchers_internal::TypeIs(*v, RespType::kBulk, result_listener)) return false;
  if (v->str == std::string_view(bytes)) return true;
  *result_listener << "which is " << DebugString(*v);
  return false;
}

// Any null: `$-1`, `*-1` or RESP3 `_`.
MATCHER(IsNil, negation ? "isn't nil" : "is nil") {
  std::optional<RespValue> storage;
  const RespValue* v = matchers_internal::AsValue(arg, &storage, result_listener);
  if (v == nullptr) return false;
  if (v->is_null()) return true;
  *result_listener << "which is " << DebugString(*v);
  return false;
}

// A RESP3 double `,d` equal to `d` (NaN matches NaN). In RESP2 a double is a bulk string; use
// IsBulk("1.5") there.
MATCHER_P(IsDouble, d,
          std::string(negation ? "isn't" : "is") + " double ," + ::testing::PrintToString(d)) {
  std::optional<RespValue> storage;
  const RespValue* v = matchers_internal::AsValue(arg, &storage, result_listener);
  if (v == nullptr) return false;
  if (!matchers_internal::TypeIs(*v, RespType::kDouble, result_listener)) return false;
  if (v->dbl == static_cast<double>(d) ||
      (std::isnan(v->dbl) && std::isnan(static_cast<double>(d)))) {
    return true;
  }
  *result_listener << "which is " << DebugString(*v);
  return false;
}

// A RESP3 boolean `#t`/`#f`.
MATCHER_P(IsBool, b, std::string(negation ? "isn't" : "is") + (b ? " #t" : " #f")) {
  std::optional<RespValue> storage;
  const RespValue* v = matchers_internal::AsValue(arg, &storage, result_listener);
  if (v == nullptr) return false;
  if (!matchers_internal::TypeIs(*v, RespType::kBoolean, result_listener)) return false;
  if ((v->integer != 0) == static_cast<bool>(b)) return true;
  *result_listener << "which is " << DebugString(*v);
  return false;
}

// A RESP3 big number `(digits`.
MATCHER_P(IsBigNumber, digits,
          std::string(negation ? "isn't" : "is") + " big number (" +
              std::string(std::string_view(digits))) {
  std::optional<RespValue> storage;
  const RespValue* v = matchers_internal::AsValue(arg, &storage, result_listener);
  if (v == nullptr) return false;
  if (!matchers_internal::TypeIs(*v, RespType::kBigNumber, result_listener)) return false;
  if (v->str == std::string_view(digits)) return true;
  *result_listener << "which is " << DebugString(*v);
  return false;
}

// A RESP3 verbatim string with this 3-byte format and text.
MATCHER_P2(IsVerbatim, format, text,
           std::string(negation ? "isn't" : "is") + " verbatim " +
               std::string(std::string_view(format)) + ":" + std::string(std::string_view(text))) {
  std::optional<RespValue> storage;
  const RespValue* v = matchers_internal::AsValue(arg, &storage, result_listener);
  if (v == nullptr) return false;
  if (!matchers_internal::TypeIs(*v, RespType::kVerbatim, result_listener)) return false;
  if (v->format == std::string_view(format) && v->str == std::string_view(text)) return true;
  *result_listener << "which is " << DebugString(*v);
  return false;
}

// The reply has this type (any contents).
MATCHER_P(HasType, type, negation ? "has another RESP type" : "has the expected RESP type") {
  std::optional<RespValue> storage;
  const RespValue* v = matchers_internal::AsValue(arg, &storage, result_listener);
  if (v == nullptr) return false;
  return matchers_internal::TypeIs(*v, type, result_listener);
}

namespace matchers_internal {

// An aggregate of `type` whose elements match `elements_matcher` (a matcher of
// std::vector<RespValue>).
MATCHER_P2(AggregateIs, type, elements_matcher,
           std::string(negation ? "isn't" : "is") + " an aggregate; elements: " +
               ::testing::DescribeMatcher<const std::vector<RespValue>&>(elements_matcher)) {
  std::optional<RespValue> storage;
  const RespValue* v = matchers_internal::AsValue(arg, &storage, result_listener);
  if (v == nullptr) return false;
  if (!TypeIs(*v, type, result_listener)) return false;
  ::testing::StringMatchResultListener inner;
  if (::testing::ExplainMatchResult(elements_matcher, v->elements, &inner)) return true;
  *result_listener << "which is " << DebugString(*v);
  if (!inner.str().empty()) *result_listener << ", " << inner.str();
  return false;
}

}  // namespace matchers_internal

// An array (`*n`) whose elements match, in order. IsArray() matches an empty array.
template <typename... M>
auto IsArray(M&&... elements) {
  return matchers_internal::AggregateIs(RespType::kArray,
                                        ::testing::ElementsAre(std::forward<M>(elements)...));
}

// An array of exactly these bulk strings, in order.
inline auto IsBulkArray(std::vector<std::string> bulks) {
  std::vector<::testing::Matcher<const RespValue&>> elements;
  elements.reserve(bulks.size());
  for (std::string& b : bulks) elements.push_back(IsBulk(std::move(b)));
  return matchers_internal::AggregateIs(RespType::kArray,
                                        ::testing::ElementsAreArray(std::move(elements)));
}

// A RESP3 map (`%n`); pass key and value matchers interleaved, in the order sent. In RESP2 a
// map is an array of 2n elements: use IsArray.
template <typename... M>
auto IsMap(M&&... keys_and_values) {
  return matchers_internal::AggregateIs(
      RespType::kMap, ::testing::ElementsAre(std::forward<M>(keys_and_values)...));
}

// A RESP3 set (`~n`) whose elements match in any order.
template <typename... M>
auto IsSet(M&&... elements) {
  return matchers_internal::AggregateIs(
      RespType::kSet, ::testing::UnorderedElementsAre(std::forward<M>(elements)...));
}

// A RESP3 push (`>n`) whose elements match, in order.
template <typename... M>
auto IsPush(M&&... elements) {
  return matchers_internal::AggregateIs(RespType::kPush,
                                        ::testing::ElementsAre(std::forward<M>(elements)...));
}

}  // namespace test_support
