// SPDX-License-Identifier: Apache-2.0
//
// Helpers shared by the read paths of the command families.
//
// Thread: the loop thread.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "kvmap/object_codec.h"

namespace gateway {

class Call;

// Counts a key lookup in INFO's keyspace_hits / keyspace_misses, as Redis's lookupKeyRead does.
void CountLookup(Call& call, bool is_found);

// Reads `raw_key` for a read-only string command and calls fn(call, value) with the live value,
// or nullptr when the key is absent (missing, deleted or expired). Replies itself, and skips fn,
// on a backend failure or a key of another type (WRONGTYPE). Counts the lookup.
using ValueFn = std::function<void(Call& call, const std::string* value)>;
void ReadStringOrReply(Call& call, std::string_view raw_key, ValueFn fn);

// Like ReadStringOrReply, but a value that lives in the Object Store is not read: fn gets its
// pointer (`object`, with `value` null) instead. For GET, GETRANGE and STRLEN, which stream,
// read a range of, or only measure a large value.
using PointerFn =
    std::function<void(Call& call, const std::string* value, const kvmap::ObjectRef* object)>;
void ReadStringPointerOrReply(Call& call, std::string_view raw_key, PointerFn fn);

// Replies the bytes [offset, offset + length) of `object` as one bulk string, read chunk by
// chunk. At the front of the connection's queue the reply is sent as it is read, and the reads
// pause while the client has not taken what was sent (so the gateway holds a few chunks, not
// the value). Finishes the call. A failure after bytes were sent closes the connection: the
// reply cannot be completed and must not look complete.
void ReplyObjectRange(Call& call, const kvmap::ObjectRef& object, uint64_t offset,
                      uint64_t length);

}  // namespace gateway
