// SPDX-License-Identifier: Apache-2.0
//
// Database-wide commands. FLUSHDB purges the database's stream, then writes a flush marker
// (KV-Operation: PURGE on an internal key) that tells every follower to rebuild its index from
// the purged stream. DESIGN.md planned one Nats-Rollup: all message instead; on nats-server
// 2.9.10 that rollup breaks the file store's per-subject lookups when the stream spans several
// blocks (a later put on an old key is then invisible to direct gets, and a CAS on 0 wrongly
// succeeds), while a full purge does not (docs/design.md). FLUSHALL does the same for every
// database bucket; a bucket that does not exist has nothing to flush. Both are barriers: they
// run after the connection's earlier commands and before its later ones. ASYNC and SYNC behave
// alike.
#include <memory>

#include "gateway/arg_parser.h"
#include "gateway/commands/commands.h"
#include "gateway/errors.h"
#include "gateway/server_context.h"
#include "gateway/session.h"

namespace gateway {
namespace {

using kvmap::KvStatus;

// Redis 7.0: an optional ASYNC or SYNC, nothing else.
bool ParseFlushMode(Call& call) {
  if (call.argc() == 1) return true;
  return call.argc() == 2 &&
         (EqualsIgnoreCase(call.arg(1), "ASYNC") || EqualsIgnoreCase(call.arg(1), "SYNC"));
}

struct FlushFanOut {
  size_t outstanding = 0;
  KvStatus error = KvStatus::kOk;
  std::string detail;
};

void FlushBuckets(Call& call, int first_db, int last_db) {
  auto fan = std::make_shared<FlushFanOut>();
  fan->outstanding = static_cast<size_t>(last_db - first_db + 1);
  auto done = [fan](Call& c, KvStatus st, const std::string& detail) {
    // kNotFound: the bucket does not exist, so it is already empty.
    if (st != KvStatus::kOk && st != KvStatus::kNotFound && fan->error == KvStatus::kOk) {
      fan->error = st;
      fan->detail = detail;
    }
    if (--fan->outstanding > 0) return;
    if (fan->error != KvStatus::kOk) {
      c.ReplyKvError(fan->error, fan->detail);
    } else {
      c.ReplyOk();
    }
  };
  for (int db = first_db; db <= last_db; ++db) {
    const std::string& bucket = call.server().BucketFor(db);
    call.backend().PurgeBucket(
        bucket, call.Bind<KvStatus, std::string>([done, &bucket](Call& c, KvStatus st,
                                                                  std::string detail) {
          if (st != KvStatus::kOk) {
            done(c, st, detail);
            return;
          }
          kvmap::WriteRequest w;
          w.bucket = bucket;
          w.key = kvmap::kFlushKey;
          w.op = kvmap::EntryOp::kFlush;
          c.backend().Write(w, c.Bind<kvmap::WriteResult>([done](Call& c2, kvmap::WriteResult r) {
            done(c2, r.status, r.detail);
          }));
        }));
  }
}

}  // namespace

void CmdFlushDb(Call& call) {
  if (!ParseFlushMode(call)) {
    call.ReplyError(errors::kSyntax);
    return;
  }
  FlushBuckets(call, call.db(), call.db());
}

void CmdFlushAll(Call& call) {
  if (!ParseFlushMode(call)) {
    call.ReplyError(errors::kSyntax);
    return;
  }
  FlushBuckets(call, 0, call.server().config().databases - 1);
}

}  // namespace gateway
