// SPDX-License-Identifier: Apache-2.0
//
// The key codec maps any Redis key (arbitrary bytes, including the empty key) to exactly one
// NATS KV key token string, and back. The mapping is total, injective and reversible:
//
//   * bytes in [A-Za-z0-9_/-] stay as they are;
//   * ':' becomes '.', so `user:1000:name` is `user.1000.name` and NATS wildcards follow the
//     Redis naming habit (`user:*` narrows to `user.>`);
//   * an empty token (the empty key, a leading or trailing ':', or "::") is written as '=',
//     so `user:` is `user.=` and the empty key is `=`;
//   * every other byte becomes '=' followed by two upper-case hex digits (`a b` is `a=20b`).
//
// The output always satisfies NATS's KV key rules: only [-/_=.a-zA-Z0-9], no empty token, no
// leading or trailing '.'.
//
// Decode accepts only canonical encodings: exactly the strings Encode can produce. Anything else
// (`=41`, lower-case hex, an empty token, `==`) is not a Redis key and Decode reports failure.
// Internal gateway keys use the prefix `=_`, which Encode never produces (after '=' it only
// writes hex digits or ends the token), so they can never collide with user keys.
//
// Channel names for pub/sub use the same codec.
//
// Thread: any. Pure functions.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace kvmap {

// Prefix of internal keys (never produced by Encode).
inline constexpr std::string_view kInternalKeyPrefix = "=_";

// Appends the encoding of `key` to *out.
void EncodeKeyTo(std::string_view key, std::string* out);
std::string EncodeKey(std::string_view key);

// Length of EncodeKey(key) without building it.
size_t EncodedKeyLength(std::string_view key);

// Returns the Redis key, or nullopt when `token` is not a canonical encoding.
std::optional<std::string> DecodeKey(std::string_view token);

}  // namespace kvmap
