// SPDX-License-Identifier: Apache-2.0
#include "kvmap/kv_backend.h"

namespace kvmap {
namespace {

constexpr std::string_view kWritablePrefix = "Redis-";

// A header name is written verbatim into the message's header block, so a name that is not a
// plain token (control bytes, CR/LF, ':' or space) could forge further header lines.
bool IsHeaderNameToken(std::string_view name) {
  for (char c : name) {
    auto b = static_cast<unsigned char>(c);
    if (b <= 0x20 || b >= 0x7F || c == ':') return false;
  }
  return true;
}

}  // namespace

bool IsWritableHeader(std::string_view name) {
  if (name == kHdrKvOperation) return true;
  // Matching is case-sensitive, as NATS header names are: "redis-type" and "NATS-Msg-Id" are
  // not ours to write.
  return name.size() > kWritablePrefix.size() && name.starts_with(kWritablePrefix) &&
         IsHeaderNameToken(name.substr(kWritablePrefix.size()));
}

std::optional<std::string_view> FindHeader(const Headers& headers, std::string_view name) {
  for (const Header& header : headers) {
    if (header.first == name) return std::string_view{header.second};
  }
  return std::nullopt;
}

}  // namespace kvmap
