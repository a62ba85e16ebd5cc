// SPDX-License-Identifier: Apache-2.0
#include "gateway/commands/rmw.h"

#include <algorithm>
#include <memory>
#include <random>

#include "gateway/server_context.h"
#include "gateway/session.h"
#include "kvmap/ttl.h"

namespace gateway {
namespace {

using kvmap::KvStatus;

// One read-modify-write in progress. Owned by the closures of its pending steps.
struct RmwOp {
  std::string key;
  RmwDecide decide;
  RmwDone done;
  int attempts = 0;
  int64_t conflict_deadline_ms = 0;
  // The write being sent, kept whole so that a resend is byte for byte the same message.
  RmwDecision decision;
  uint64_t expected_revision = 0;
  std::string msg_id;
  int resends = 0;
  int64_t resend_deadline_ms = 0;
};

void Read(Call& call, std::shared_ptr<RmwOp> op);

// A random delay in [0, cap] ms, where cap doubles with each conflict past the immediate ones.
int64_t BackoffMs(int attempts) {
  if (attempts <= kImmediateRetries) return 0;
  int shift = std::min(attempts - kImmediateRetries, 5);
  int64_t cap = std::min<int64_t>(int64_t{1} << shift, kMaxBackoffMs);
  static thread_local std::mt19937 gen(std::random_device{}());
  return std::uniform_int_distribution<int64_t>(0, cap)(gen);
}

void SendWrite(Call& call, std::shared_ptr<RmwOp> op) {
  kvmap::WriteRequest w;
  w.bucket = call.bucket();
  w.key = op->key;
  w.op = op->decision.kind == RmwDecision::Kind::kDelete ? kvmap::EntryOp::kDelete
                                                          : kvmap::EntryOp::kPut;
  w.value = op->decision.value;
  w.headers = op->decision.headers;
  if (!op->decision.events.empty()) {
    w.headers.push_back(EventHeader(op->decision.events));
  } else if (w.op == kvmap::EntryOp::kDelete) {
    w.headers.push_back(EventHeader("del"));
  }
  w.expected_revision = op->expected_revision;
  w.msg_id = op->msg_id;
  call.backend().Write(w, call.Bind<kvmap::WriteResult>([op](Call& c, kvmap::WriteResult r) {
    if (r.status == KvStatus::kOk) {
      // A duplicate means an earlier copy of this very message was applied: also success.
      op->done(c, op->decision);
      return;
    }
    bool is_resending = op->resends > 0;
    if (r.status == KvStatus::kRevisionMismatch) {
      // Also after a resend: the msg id was unknown to the server, so the first copy never
      // landed and another writer changed the key. Decide again on fresh data.
      int64_t now = kvmap::NowUnixMs();
      if (op->attempts++ == 0) op->conflict_deadline_ms = now + kConflictBudgetMs;
      if (now >= op->conflict_deadline_ms) {
        c.ReplyKvError(r.status, r.detail);
        return;
      }
      int64_t delay = BackoffMs(op->attempts);
      if (delay == 0) {
        Read(c, op);
      } else {
        c.server().RunAfter(delay, c.Bind<>([op](Call& c2) { Read(c2, op); }));
      }
      return;
    }
    bool is_unknown = r.status == KvStatus::kOutcomeUnknown || r.status == KvStatus::kTimeout ||
                      (is_resending && r.status == KvStatus::kUnavailable);
    if (!is_unknown) {
      // Refused before it was sent (not connected, too large): nothing was applied, unless an
      // earlier copy was, in which case the outcome stays unknown.
      c.ReplyKvError(is_resending ? KvStatus::kOutcomeUnknown : r.status, r.detail);
      return;
    }
    int64_t now = kvmap::NowUnixMs();
    if (!is_resending) op->resend_deadline_ms = now + kResendWindowMs;
    if (now >= op->resend_deadline_ms) {
      c.ReplyKvError(KvStatus::kOutcomeUnknown, r.detail);
      return;
    }
    ++op->resends;
    // Resend at once when connected; otherwise give the backend time to reconnect.
    int64_t delay = c.backend().is_connected() ? 0 : 100;
    c.server().RunAfter(delay, c.Bind<>([op](Call& c2) { SendWrite(c2, op); }));
  }));
}

void Read(Call& call, std::shared_ptr<RmwOp> op) {
  call.backend().Get(call.bucket(), op->key,
                     call.Bind<kvmap::GetResult>([op](Call& c, kvmap::GetResult r) {
                       if (r.status != KvStatus::kOk && r.status != KvStatus::kNotFound) {
                         c.ReplyKvError(r.status, r.detail);
                         return;
                       }
                       const bool found = r.status == KvStatus::kOk;
                       const kvmap::Entry* live =
                           found && kvmap::IsLive(r.entry, kvmap::NowUnixMs()) ? &r.entry
                                                                                : nullptr;
                       op->decision = op->decide(c, live);
                       switch (op->decision.kind) {
                         case RmwDecision::Kind::kError:
                           c.ReplyError(op->decision.error);
                           return;
                         case RmwDecision::Kind::kNoWrite:
                           op->done(c, op->decision);
                           return;
                         case RmwDecision::Kind::kPut:
                         case RmwDecision::Kind::kDelete:
                           break;
                       }
                       // A marker or an expired entry still holds the subject's last
                       // sequence: the CAS is on it (creates after deletes, decision 7).
                       op->expected_revision = found ? r.entry.revision : 0;
                       op->msg_id = c.server().NewMsgId();
                       op->resends = 0;
                       SendWrite(c, op);
                     }));
}

}  // namespace

void ReadModifyWrite(Call& call, std::string encoded_key, RmwDecide decide, RmwDone done,
                     std::optional<RmwDecision> create_first) {
  auto op = std::make_shared<RmwOp>();
  op->key = std::move(encoded_key);
  op->decide = std::move(decide);
  op->done = std::move(done);
  if (create_first) {
    op->decision = std::move(*create_first);
    op->expected_revision = 0;
    op->msg_id = call.server().NewMsgId();
    SendWrite(call, std::move(op));
    return;
  }
  Read(call, std::move(op));
}

kvmap::Headers KeepTtlHeaders(const kvmap::Entry* live) {
  kvmap::Headers headers;
  if (live == nullptr) return headers;
  if (auto at = kvmap::FindHeader(live->headers, kvmap::kHdrExpiresAt)) {
    headers.emplace_back(std::string(kvmap::kHdrExpiresAt), std::string(*at));
  }
  return headers;
}

}  // namespace gateway
