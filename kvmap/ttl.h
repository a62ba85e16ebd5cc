// SPDX-License-Identifier: Apache-2.0
//
// TTL maths and the liveness of stored entries. Expiry is absolute Unix milliseconds, stored
// in the Redis-Expires-At header (DESIGN.md decision 6); a read treats an entry at or past its
// deadline as absent (lazy expiry), without any extra round trip.
//
// Thread: any. Pure functions, except NowUnixMs which reads the wall clock.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "kvmap/kv_backend.h"

namespace kvmap {

int64_t NowUnixMs();

// The entry's deadline from Redis-Expires-At, or nullopt when it has none (or it is
// malformed: a malformed deadline is treated as no deadline, so data is never hidden by it).
std::optional<int64_t> ExpiresAt(const Entry& entry);

// True when the entry is a value that exists at `now_ms`: not a delete/purge marker and not
// expired. Redis 7.0 (keyIsExpired) expires a key when now > deadline, so a key is still live
// during its deadline millisecond.
// IsLive at the current wall-clock time, read only when the entry has a deadline.
bool IsLiveNow(const Entry& entry);
bool IsLive(const Entry& entry, int64_t now_ms);

// The Redis type the entry holds: "string" when Redis-Type is absent, else the header value up
// to its version suffix ("hash/1" -> "hash").
std::string_view EntryType(const Entry& entry);
inline bool IsString(const Entry& entry) { return !FindHeader(entry.headers, kHdrType); }

}  // namespace kvmap
