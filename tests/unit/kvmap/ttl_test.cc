// SPDX-License-Identifier: Apache-2.0
//
// Tests of the TTL module: the deadline header, liveness at the edges of the deadline (Redis
// 7.0 keeps a key live during its deadline millisecond), markers, and entry types.
#include "kvmap/ttl.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <string>

namespace kvmap {
namespace {

Entry WithDeadline(std::string deadline) {
  Entry e;
  e.key = "k";
  e.value = "v";
  e.headers.emplace_back(std::string(kHdrExpiresAt), std::move(deadline));
  return e;
}

Entry Marker(EntryOp op) {
  Entry e;
  e.key = "k";
  e.op = op;
  return e;
}

constexpr int64_t kDeadline = 1'700'000'000'000;

TEST(IsLive, EntryWithoutDeadlineIsLive) {
  Entry e;
  e.value = "v";
  EXPECT_TRUE(IsLive(e, kDeadline));
}

TEST(IsLive, EntryBeforeItsDeadlineIsLive) {
  EXPECT_TRUE(IsLive(WithDeadline(std::to_string(kDeadline)), kDeadline - 1));
}

TEST(IsLive, EntryAtItsDeadlineMillisecondIsLive) {
  EXPECT_TRUE(IsLive(WithDeadline(std::to_string(kDeadline)), kDeadline));
}

TEST(IsLive, EntryAfterItsDeadlineIsNotLive) {
  EXPECT_FALSE(IsLive(WithDeadline(std::to_string(kDeadline)), kDeadline + 1));
}

TEST(IsLive, DeleteMarkerIsNotLive) { EXPECT_FALSE(IsLive(Marker(EntryOp::kDelete), 0)); }

TEST(IsLive, PurgeMarkerIsNotLive) { EXPECT_FALSE(IsLive(Marker(EntryOp::kPurge), 0)); }

TEST(IsLive, MalformedDeadlineIsIgnored) {
  EXPECT_TRUE(IsLive(WithDeadline("soon"), kDeadline));
  EXPECT_TRUE(IsLive(WithDeadline("12x"), kDeadline));
  EXPECT_TRUE(IsLive(WithDeadline(""), kDeadline));
  EXPECT_TRUE(IsLive(WithDeadline(" 5"), kDeadline));
}

TEST(IsLive, DeadlineHeaderNameIsCaseSensitive) {
  Entry e;
  e.value = "v";
  e.headers.emplace_back("redis-expires-at", "1");
  EXPECT_TRUE(IsLive(e, kDeadline));
}

TEST(ExpiresAt, ReadsTheDeadline) {
  EXPECT_EQ(ExpiresAt(WithDeadline("1700000000000")), std::optional<int64_t>(kDeadline));
}

TEST(ExpiresAt, NoHeaderIsNullopt) { EXPECT_FALSE(ExpiresAt(Entry{}).has_value()); }

TEST(ExpiresAt, MalformedHeaderIsNullopt) {
  EXPECT_FALSE(ExpiresAt(WithDeadline("1.5")).has_value());
  EXPECT_FALSE(ExpiresAt(WithDeadline("99999999999999999999999")).has_value());
}

TEST(NowUnixMs, FollowsTheSystemClock) {
  int64_t system_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  EXPECT_LE(std::abs(NowUnixMs() - system_ms), 1000);
}

TEST(EntryType, EntryWithoutTypeHeaderIsString) {
  Entry e;
  EXPECT_EQ(EntryType(e), "string");
  EXPECT_TRUE(IsString(e));
}

TEST(EntryType, VersionSuffixIsDropped) {
  Entry e;
  e.headers.emplace_back(std::string(kHdrType), "hash/1");
  EXPECT_EQ(EntryType(e), "hash");
  EXPECT_FALSE(IsString(e));
}

TEST(EntryType, TypeWithoutVersionIsKept) {
  Entry e;
  e.headers.emplace_back(std::string(kHdrType), "list");
  EXPECT_EQ(EntryType(e), "list");
}

}  // namespace
}  // namespace kvmap
