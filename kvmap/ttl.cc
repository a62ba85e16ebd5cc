// SPDX-License-Identifier: Apache-2.0
#include "kvmap/ttl.h"

#include <charconv>
#include <chrono>

namespace kvmap {

int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::optional<int64_t> ExpiresAt(const Entry& entry) {
  auto v = FindHeader(entry.headers, kHdrExpiresAt);
  if (!v) return std::nullopt;
  int64_t when = 0;
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), when);
  if (ec != std::errc() || end != v->data() + v->size()) return std::nullopt;
  return when;
}

bool IsLive(const Entry& entry, int64_t now_ms) {
  if (entry.is_marker()) return false;
  auto when = ExpiresAt(entry);
  return !when || now_ms <= *when;
}

bool IsLiveNow(const Entry& entry) {
  if (entry.is_marker()) return false;
  auto when = ExpiresAt(entry);
  return !when || NowUnixMs() <= *when;
}

std::string_view EntryType(const Entry& entry) {
  auto v = FindHeader(entry.headers, kHdrType);
  if (!v) return "string";
  return v->substr(0, v->find('/'));
}

}  // namespace kvmap
