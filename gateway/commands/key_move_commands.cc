// SPDX-License-Identifier: Apache-2.0
//
// Commands that move or copy a whole key: RENAME, RENAMENX, COPY and MOVE, plus SWAPDB (which
// the gateway validates and then refuses), as Redis 7.0.15 answers them (src/db.c).
//
// Each is a short sequence of single-key KV operations, not one atomic step (NATS KV has no
// multi-key transaction):
//
//   1. read the source (a marker or an expired entry is absent);
//   2. read the destination, for its revision (and, without REPLACE, whether it exists);
//   3. write the destination: the source's value and headers (so its type and its deadline go
//      along), with CAS on the destination revision read (0 when it never had a message). A
//      conflict goes back to step 2; a lost acknowledgement resends the identical message
//      (same Nats-Msg-Id, same expected revision), as rmw.h does;
//   4. RENAME, RENAMENX and MOVE then write a delete marker on the source with CAS on the
//      revision read in step 1. When that CAS fails, another client changed the source after
//      step 1: the copy already happened and the newer source value is kept, so the command
//      still answers as Redis does (OK or 1). A client that watches both keys can therefore see
//      the destination written before the source disappears, or (in that race) both.
//
// The destination of COPY ... DB n and MOVE is in another database, that is another bucket; it
// is ensured before its first use, like the call's own bucket.
//
// Keyspace events (Redis-Event): the destination write carries rename_to, copy_to or move_to,
// the source delete rename_from or move_from. Redis 7.0 notifies the source first; here the
// stream order, destination first, is the order subscribers see.
//
// Thread: the loop thread.
#include <algorithm>
#include <climits>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "gateway/arg_parser.h"
#include "gateway/commands/commands.h"
#include "gateway/commands/rmw.h"
#include "gateway/errors.h"
#include "gateway/server_context.h"
#include "gateway/session.h"
#include "kvmap/key_codec.h"
#include "kvmap/ttl.h"

namespace gateway {
namespace {

using kvmap::KvStatus;

// Redis 7.0's getIntFromObjectOrReply(c, arg, &id, NULL) followed by selectDb's range check.
// Returns the database index, or sets *error to the reply text.
std::optional<int> ParseDbIndex(Call& call, std::string_view arg, std::string_view* error) {
  std::optional<int64_t> v = ParseInt64(arg);
  if (!v) {
    *error = errors::kNotInteger;
    return std::nullopt;
  }
  if (*v < INT_MIN || *v > INT_MAX) {
    *error = errors::kIntOutOfRange;
    return std::nullopt;
  }
  if (*v < 0 || *v >= call.server().config().databases) {
    *error = errors::kDbIndexOutOfRange;
    return std::nullopt;
  }
  return static_cast<int>(*v);
}

// One RENAME/RENAMENX/COPY/MOVE in progress. Owned by the closures of its pending steps.
struct MoveOp {
  std::string src_bucket, dst_bucket;
  std::string src_key, dst_key;  // encoded
  bool is_replace = false;       // overwrite a live destination (RENAME, COPY REPLACE)
  bool is_delete_source = false; // RENAME, RENAMENX, MOVE
  bool is_same_key = false;      // RENAME k k: answered after the source lookup
  bool count_lookup = false;     // COPY reads the source with lookupKeyRead (keyspace stats)
  // Keyspace events (Redis-Event) of the destination write and of the source delete.
  std::string_view dst_event, src_event;
  // Replies. `on_missing` runs when the source does not exist; `on_done(moved)` at the end.
  std::function<void(Call&)> on_missing;
  std::function<void(Call&, bool moved)> on_done;

  kvmap::Entry source;  // the live source as read in step 1
  kvmap::Headers headers;  // the source's headers that are written again, and dst_event
  // The destination write being sent, kept whole for a byte-identical resend.
  uint64_t dst_expected = 0;
  std::string msg_id;
  int conflicts = 0;
  int64_t conflict_deadline_ms = 0;
  int64_t resend_deadline_ms = 0;
  int resends = 0;
};

void ReadDestination(Call& call, std::shared_ptr<MoveOp> op);
void DeleteSource(Call& call, std::shared_ptr<MoveOp> op);

// True when `status` means the write's outcome is unknown and an identical resend settles it.
bool IsUnknownOutcome(KvStatus status, bool is_resending) {
  return status == KvStatus::kOutcomeUnknown || status == KvStatus::kTimeout ||
         (is_resending && status == KvStatus::kUnavailable);
}

// Schedules `step` again after a lost acknowledgement, or replies "outcome unknown" once the
// resend window is over. Returns after scheduling or replying.
void ResendOrGiveUp(Call& call, std::shared_ptr<MoveOp> op, std::string_view detail,
                    std::function<void(Call&, std::shared_ptr<MoveOp>)> step) {
  const int64_t now = kvmap::NowUnixMs();
  if (op->resends == 0) op->resend_deadline_ms = now + kResendWindowMs;
  if (now >= op->resend_deadline_ms) {
    call.ReplyKvError(KvStatus::kOutcomeUnknown, detail);
    return;
  }
  ++op->resends;
  const int64_t delay = call.backend().is_connected() ? 0 : 100;
  call.server().RunAfter(delay, call.Bind<>([op, step](Call& c) { step(c, op); }));
}

void WriteDestination(Call& call, std::shared_ptr<MoveOp> op) {
  kvmap::WriteRequest w;
  w.bucket = op->dst_bucket;
  w.key = op->dst_key;
  w.value = op->source.value;
  w.headers = op->headers;
  w.expected_revision = op->dst_expected;
  w.msg_id = op->msg_id;
  call.backend().Write(w, call.Bind<kvmap::WriteResult>([op](Call& c, kvmap::WriteResult r) {
    const bool is_resending = op->resends > 0;
    if (r.status == KvStatus::kOk) {
      op->resends = 0;
      if (op->is_delete_source) {
        op->msg_id = c.server().NewMsgId();
        DeleteSource(c, op);
      } else {
        op->on_done(c, true);
      }
      return;
    }
    if (r.status == KvStatus::kRevisionMismatch) {
      // The destination changed after step 2 (or, after a resend, the first copy never landed
      // and someone else wrote): decide again on a fresh read of the destination.
      const int64_t now = kvmap::NowUnixMs();
      if (op->conflicts++ == 0) op->conflict_deadline_ms = now + kConflictBudgetMs;
      if (now >= op->conflict_deadline_ms) {
        c.ReplyKvError(r.status, r.detail);
        return;
      }
      op->resends = 0;
      const int64_t delay = op->conflicts <= kImmediateRetries
                                ? 0
                                : std::min<int64_t>(op->conflicts - kImmediateRetries,
                                                    kMaxBackoffMs);
      if (delay == 0) {
        ReadDestination(c, op);
      } else {
        c.server().RunAfter(delay, c.Bind<>([op](Call& c2) { ReadDestination(c2, op); }));
      }
      return;
    }
    if (!IsUnknownOutcome(r.status, is_resending)) {
      c.ReplyKvError(is_resending ? KvStatus::kOutcomeUnknown : r.status, r.detail);
      return;
    }
    ResendOrGiveUp(c, op, r.detail, WriteDestination);
  }));
}

void ReadDestination(Call& call, std::shared_ptr<MoveOp> op) {
  call.backend().Get(
      op->dst_bucket, op->dst_key,
      call.Bind<kvmap::GetResult>([op](Call& c, kvmap::GetResult r) {
        if (r.status != KvStatus::kOk && r.status != KvStatus::kNotFound) {
          c.ReplyKvError(r.status, r.detail);
          return;
        }
        const bool found = r.status == KvStatus::kOk;
        const bool is_live = found && kvmap::IsLiveNow(r.entry);
        if (is_live && !op->is_replace) {
          op->on_done(c, false);
          return;
        }
        // A marker or an expired entry still holds the subject's last sequence.
        op->dst_expected = found ? r.entry.revision : 0;
        op->msg_id = c.server().NewMsgId();
        op->resends = 0;
        WriteDestination(c, op);
      }));
}

void DeleteSource(Call& call, std::shared_ptr<MoveOp> op) {
  kvmap::WriteRequest w;
  w.bucket = op->src_bucket;
  w.key = op->src_key;
  w.op = kvmap::EntryOp::kDelete;
  w.headers.push_back(EventHeader(op->src_event));
  w.expected_revision = op->source.revision;
  w.msg_id = op->msg_id;
  call.backend().Write(w, call.Bind<kvmap::WriteResult>([op](Call& c, kvmap::WriteResult r) {
    const bool is_resending = op->resends > 0;
    // A CAS failure: the source was written after step 1. The copy stands and the newer
    // source value is kept (see the file comment); the command still succeeded.
    if (r.status == KvStatus::kOk || r.status == KvStatus::kRevisionMismatch) {
      op->on_done(c, true);
      return;
    }
    if (!IsUnknownOutcome(r.status, is_resending)) {
      c.ReplyKvError(is_resending ? KvStatus::kOutcomeUnknown : r.status, r.detail);
      return;
    }
    ResendOrGiveUp(c, op, r.detail, DeleteSource);
  }));
}

// Step 1 and the same-key shortcut; then step 2 once the destination bucket exists.
void ReadSource(Call& call, std::shared_ptr<MoveOp> op) {
  call.backend().Get(
      op->src_bucket, op->src_key,
      call.Bind<kvmap::GetResult>([op](Call& c, kvmap::GetResult r) {
        if (r.status != KvStatus::kOk && r.status != KvStatus::kNotFound) {
          c.ReplyKvError(r.status, r.detail);
          return;
        }
        const bool is_live =
            r.status == KvStatus::kOk && kvmap::IsLiveNow(r.entry);
        if (op->count_lookup) {
          ServerStats& stats = c.server().stats();
          ++(is_live ? stats.keyspace_hits : stats.keyspace_misses);
        }
        if (!is_live) {
          op->on_missing(c);
          return;
        }
        if (op->is_same_key) {
          op->on_done(c, false);
          return;
        }
        op->source = std::move(r.entry);
        // The source's events were its last write's; the destination gets its own.
        for (const kvmap::Header& h : op->source.headers) {
          if (kvmap::IsWritableHeader(h.first) && h.first != kvmap::kHdrEvent) {
            op->headers.push_back(h);
          }
        }
        op->headers.push_back(EventHeader(op->dst_event));
        if (c.backend().IsBucketReady(op->dst_bucket)) {
          ReadDestination(c, op);
          return;
        }
        c.backend().EnsureBucket(op->dst_bucket,
                                 c.Bind<KvStatus, std::string>(
                                     [op](Call& c2, KvStatus st, std::string detail) {
                                       if (st != KvStatus::kOk) {
                                         c2.ReplyKvError(st, detail);
                                         return;
                                       }
                                       ReadDestination(c2, op);
                                     }));
      }));
}

// Runs `op` from the call's bucket, once that bucket exists.
void Start(Call& call, std::shared_ptr<MoveOp> op) {
  call.server().RunWithBucket(call, [op](Call& c) { ReadSource(c, op); });
}

std::shared_ptr<MoveOp> NewOp(Call& call, int dst_db, std::string_view src, std::string_view dst) {
  auto op = std::make_shared<MoveOp>();
  op->src_bucket = call.server().BucketFor(call.db());
  op->dst_bucket = call.server().BucketFor(dst_db);
  op->src_key = kvmap::EncodeKey(src);
  op->dst_key = kvmap::EncodeKey(dst);
  return op;
}

void RenameGeneric(Call& call, bool nx) {
  auto op = NewOp(call, call.db(), call.arg(1), call.arg(2));
  op->is_replace = !nx;
  op->is_delete_source = true;
  op->is_same_key = call.arg(1) == call.arg(2);
  op->dst_event = "rename_to";
  op->src_event = "rename_from";
  op->on_missing = [](Call& c) { c.ReplyError(errors::kNoSuchKey); };
  op->on_done = [nx](Call& c, bool moved) {
    if (nx) {
      c.reply().Integer(moved ? 1 : 0);
      c.Finish();
    } else {
      c.ReplyOk();  // RENAME k k with k present; or the rename happened
    }
  };
  Start(call, op);
}

// Replies 1 when moved, 0 otherwise (COPY and MOVE).
void ReplyMoved(Call& call, bool moved) {
  call.reply().Integer(moved ? 1 : 0);
  call.Finish();
}

}  // namespace

void CmdRename(Call& call) { RenameGeneric(call, /*nx=*/false); }

void CmdRenameNx(Call& call) { RenameGeneric(call, /*nx=*/true); }

void CmdCopy(Call& call) {
  // Redis 7.0 copyCommand: options left to right; DB needs a following argument (else syntax
  // error) and is range-checked at once.
  bool is_replace = false;
  int dst_db = call.db();
  ArgParser p(call, 3);
  while (p.HasNext()) {
    if (p.Accept("REPLACE")) {
      is_replace = true;
    } else if (p.remaining() >= 2 && p.Accept("DB")) {
      std::string_view error;
      std::optional<int> db = ParseDbIndex(call, p.Next(), &error);
      if (!db) {
        call.ReplyError(error);
        return;
      }
      dst_db = *db;
    } else {
      call.ReplyError(errors::kSyntax);
      return;
    }
  }
  if (dst_db == call.db() && call.arg(1) == call.arg(2)) {
    call.ReplyError(errors::kSameObject);
    return;
  }
  auto op = NewOp(call, dst_db, call.arg(1), call.arg(2));
  op->is_replace = is_replace;
  op->count_lookup = true;
  op->dst_event = "copy_to";
  op->on_missing = [](Call& c) { ReplyMoved(c, false); };
  op->on_done = ReplyMoved;
  Start(call, op);
}

void CmdMove(Call& call) {
  std::string_view error;
  std::optional<int> db = ParseDbIndex(call, call.arg(2), &error);
  if (!db) {
    call.ReplyError(error);
    return;
  }
  if (*db == call.db()) {
    call.ReplyError(errors::kSameObject);
    return;
  }
  auto op = NewOp(call, *db, call.arg(1), call.arg(1));
  op->is_delete_source = true;
  op->dst_event = "move_to";
  op->src_event = "move_from";
  op->on_missing = [](Call& c) { ReplyMoved(c, false); };
  op->on_done = ReplyMoved;
  Start(call, op);
}

void CmdSwapDb(Call& call) {
  // Redis 7.0 swapdbCommand: each index must be an int (its own message), then both in range.
  auto parse = [](std::string_view arg) -> std::optional<int64_t> {
    std::optional<int64_t> v = ParseInt64(arg);
    if (!v || *v < INT_MIN || *v > INT_MAX) return std::nullopt;
    return v;
  };
  std::optional<int64_t> id1 = parse(call.arg(1));
  if (!id1) {
    call.ReplyError(errors::kInvalidFirstDb);
    return;
  }
  std::optional<int64_t> id2 = parse(call.arg(2));
  if (!id2) {
    call.ReplyError(errors::kInvalidSecondDb);
    return;
  }
  const int n = call.server().config().databases;
  if (*id1 < 0 || *id1 >= n || *id2 < 0 || *id2 >= n) {
    call.ReplyError(errors::kDbIndexOutOfRange);
    return;
  }
  if (*id1 == *id2) {
    call.ReplyOk();  // a no-op in Redis too
    return;
  }
  call.ReplyError(errors::kSwapDbUnsupported);
}

}  // namespace gateway
