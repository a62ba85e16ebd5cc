// SPDX-License-Identifier: Apache-2.0
#include "gateway/commands/read_helpers.h"

#include "gateway/errors.h"
#include "gateway/server_context.h"
#include "gateway/session.h"
#include "kvmap/key_codec.h"
#include "kvmap/ttl.h"

namespace gateway {

void CountLookup(Call& call, bool is_found) {
  ServerStats& stats = call.server().stats();
  if (is_found) {
    ++stats.keyspace_hits;
  } else {
    ++stats.keyspace_misses;
  }
}

void ReadStringOrReply(Call& call, std::string_view raw_key, ValueFn fn) {
  call.backend().Get(
      call.bucket(), kvmap::EncodeKey(raw_key),
      call.Bind<kvmap::GetResult>([fn = std::move(fn)](Call& c, kvmap::GetResult r) {
        if (r.status != kvmap::KvStatus::kOk && r.status != kvmap::KvStatus::kNotFound) {
          c.ReplyKvError(r.status, r.detail);
          return;
        }
        const bool is_live =
            r.status == kvmap::KvStatus::kOk && kvmap::IsLiveNow(r.entry);
        CountLookup(c, is_live);
        if (!is_live) {
          fn(c, nullptr);
        } else if (!kvmap::IsString(r.entry)) {
          c.ReplyError(errors::kWrongType);
        } else {
          fn(c, &r.entry.value);
        }
      }));
}

}  // namespace gateway
