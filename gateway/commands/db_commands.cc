// SPDX-License-Identifier: Apache-2.0
//
// Database-wide commands. FLUSHDB writes one flush marker (KV-Operation: PURGE with
// Nats-Rollup: all) into the database's bucket: the stream drops every earlier message and
// keeps the marker, so followers and native watchers see the flush in order (DESIGN.md, keyspace
// issue). FLUSHALL does the same for every database bucket; a bucket that does not exist has
// nothing to flush. Both are barriers: they run after the connection's earlier commands and
// before its later ones. ASYNC and SYNC behave alike (the rollup is one write).
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
  for (int db = first_db; db <= last_db; ++db) {
    kvmap::WriteRequest w;
    w.bucket = call.server().BucketFor(db);
    w.key = kvmap::kFlushKey;
    w.op = kvmap::EntryOp::kFlush;
    call.backend().Write(w, call.Bind<kvmap::WriteResult>([fan](Call& c, kvmap::WriteResult r) {
      // kNotFound: the bucket does not exist, so it is already empty.
      if (r.status != KvStatus::kOk && r.status != KvStatus::kNotFound &&
          fan->error == KvStatus::kOk) {
        fan->error = r.status;
        fan->detail = r.detail;
      }
      if (--fan->outstanding > 0) return;
      if (fan->error != KvStatus::kOk) {
        c.ReplyKvError(fan->error, fan->detail);
      } else {
        c.ReplyOk();
      }
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
