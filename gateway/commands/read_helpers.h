// SPDX-License-Identifier: Apache-2.0
//
// Helpers shared by the read paths of the command families.
//
// Thread: the loop thread.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace gateway {

class Call;

// Counts a key lookup in INFO's keyspace_hits / keyspace_misses, as Redis's lookupKeyRead does.
void CountLookup(Call& call, bool is_found);

// Reads `raw_key` for a read-only string command and calls fn(call, value) with the live value,
// or nullptr when the key is absent (missing, deleted or expired). Replies itself, and skips fn,
// on a backend failure or a key of another type (WRONGTYPE). Counts the lookup.
using ValueFn = std::function<void(Call& call, const std::string* value)>;
void ReadStringOrReply(Call& call, std::string_view raw_key, ValueFn fn);

}  // namespace gateway
