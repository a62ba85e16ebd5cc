// SPDX-License-Identifier: Apache-2.0
#include "gateway/commands/rmw.h"

#include <algorithm>
#include <memory>
#include <map>
#include <random>
#include <tuple>

#include "gateway/server_context.h"
#include "gateway/session.h"
#include "kvmap/ttl.h"

namespace gateway {
namespace {

using kvmap::KvStatus;

// A random delay in [0, cap] ms, where cap doubles with each conflict past the immediate ones.
int64_t BackoffMs(int attempts) {
  if (attempts <= kImmediateRetries) return 0;
  int shift = std::min(attempts - kImmediateRetries, 5);
  int64_t cap = std::min<int64_t>(int64_t{1} << shift, kMaxBackoffMs);
  static thread_local std::mt19937 gen(std::random_device{}());
  return std::uniform_int_distribution<int64_t>(0, cap)(gen);
}

// --- Hot-key coalescing ---------------------------------------------------------------------
//
// Read-modify-writes of one key in this gateway form a group. A round reads the key once, asks
// every member's command in arrival order what to write given the value the previous members
// left, and stores the last state with ONE compare-and-set. On success each member replies with
// its own decision, so each gets exactly the result it would have had in sequence; on a
// conflict the whole round is decided again on fresh data. Members that arrive during a round
// wait for the next one. With one member a round is a plain read-then-CAS (or, for a create
// guessed up front, a CAS on "no message" first); with many writers on one hot key, one CAS per
// round replaces one CAS (and most of the conflicts) per command. With --rmw-coalescing no,
// every command is a group of its own that nobody joins.

}  // namespace

// Named, not anonymous: ServerContext holds the registry (RmwGroups) of these.
namespace rmw_internal {

struct Member {
  std::weak_ptr<Call> call;
  RmwDecide decide;
  RmwDone done;
  RmwDecision decision;  // of the current attempt
  bool is_active = false;  // alive and decided in the current attempt
  bool needs_value = true;  // false: a large value's pointer is enough (ReadModifyWriteMeta)
};

struct Group {
  ServerContext* server = nullptr;
  bool is_registered = false;  // in RmwGroups (coalescing on): others may join
  kvmap::KvBackend* backend = nullptr;
  std::string bucket, key;
  std::vector<Member> round, waiting;
  int attempts = 0;
  int64_t conflict_deadline_ms = 0;
  // The write of the current attempt, kept whole for an identical resend.
  kvmap::EntryOp op = kvmap::EntryOp::kPut;
  std::string value;
  kvmap::Headers headers;
  uint64_t expected_revision = 0;
  std::string msg_id;
  int resends = 0;
  int64_t resend_deadline_ms = 0;
};

using GroupKey = std::tuple<const kvmap::KvBackend*, std::string, std::string>;

}  // namespace rmw_internal

// Every group in flight, by (backend, bucket, key); owned by the ServerContext.
struct RmwGroups {
  std::map<rmw_internal::GroupKey, std::shared_ptr<rmw_internal::Group>> in_flight;
};

namespace {

using rmw_internal::Group;
using rmw_internal::GroupKey;
using rmw_internal::Member;

RmwGroups& GroupsOf(ServerContext& server) {
  if (!server.rmw_groups) server.rmw_groups = std::make_shared<RmwGroups>();
  return *server.rmw_groups;
}

void GroupRead(const std::shared_ptr<Group>& g);
void PrepareWrite(const std::shared_ptr<Group>& g, const RmwDecision& d, uint64_t expected);

void EndRound(const std::shared_ptr<Group>& g) {
  g->round.clear();
  if (g->waiting.empty()) {
    if (g->is_registered) GroupsOf(*g->server).in_flight.erase(GroupKey{g->backend, g->bucket, g->key});
    return;
  }
  g->round.swap(g->waiting);
  g->attempts = 0;
  GroupRead(g);
}

// Replies to every active member of the round from its decision, then ends the round.
void CompleteRound(const std::shared_ptr<Group>& g) {
  std::vector<Member> members = std::move(g->round);
  g->round.clear();
  for (Member& m : members) {
    std::shared_ptr<Call> c = m.call.lock();
    if (!m.is_active || !c || c->is_finished()) continue;
    if (m.decision.kind == RmwDecision::Kind::kError) {
      c->ReplyError(m.decision.error);
    } else {
      m.done(*c, m.decision);
    }
  }
  EndRound(g);
}

void FailRound(const std::shared_ptr<Group>& g, KvStatus status, const std::string& detail) {
  std::vector<Member> members = std::move(g->round);
  g->round.clear();
  for (Member& m : members) {
    std::shared_ptr<Call> c = m.call.lock();
    if (c && !c->is_finished()) c->ReplyKvError(status, detail);
  }
  EndRound(g);
}

// False when every member of the round has gone (their clients left): the round stops, and
// neither reads, retries nor resends on behalf of nobody (a transaction's backend may be gone
// with its client).
bool AnyMemberLeft(const std::shared_ptr<Group>& g) {
  for (const Member& m : g->round) {
    std::shared_ptr<Call> c = m.call.lock();
    if (c && !c->is_finished()) return true;
  }
  return false;
}

void GroupWrite(const std::shared_ptr<Group>& g) {
  if (!AnyMemberLeft(g)) {
    EndRound(g);
    return;
  }
  kvmap::WriteRequest w;
  w.bucket = g->bucket;
  w.key = g->key;
  w.op = g->op;
  w.value = g->value;
  w.headers = g->headers;
  w.expected_revision = g->expected_revision;
  w.msg_id = g->msg_id;
  g->backend->Write(w, [g](kvmap::WriteResult r) {
    if (r.status == KvStatus::kOk) {
      CompleteRound(g);
      return;
    }
    bool is_resending = g->resends > 0;
    if (r.status == KvStatus::kRevisionMismatch) {
      int64_t now = kvmap::NowUnixMs();
      if (g->attempts++ == 0) g->conflict_deadline_ms = now + kConflictBudgetMs;
      if (now >= g->conflict_deadline_ms) {
        FailRound(g, r.status, r.detail);
        return;
      }
      // Decide again on fresh data, with whoever arrived meanwhile.
      for (Member& m : g->waiting) g->round.push_back(std::move(m));
      g->waiting.clear();
      int64_t delay = BackoffMs(g->attempts);
      if (delay == 0) {
        GroupRead(g);
      } else {
        g->server->RunAfter(delay, [g] { GroupRead(g); });
      }
      return;
    }
    bool is_unknown = r.status == KvStatus::kOutcomeUnknown || r.status == KvStatus::kTimeout ||
                      (is_resending && r.status == KvStatus::kUnavailable);
    if (!is_unknown) {
      FailRound(g, is_resending ? KvStatus::kOutcomeUnknown : r.status, r.detail);
      return;
    }
    int64_t now = kvmap::NowUnixMs();
    if (!is_resending) g->resend_deadline_ms = now + kResendWindowMs;
    if (now >= g->resend_deadline_ms) {
      FailRound(g, KvStatus::kOutcomeUnknown, r.detail);
      return;
    }
    ++g->resends;
    int64_t delay = g->backend->is_connected() ? 0 : 100;
    g->server->RunAfter(delay, [g] { GroupWrite(g); });
  });
}

void GroupRead(const std::shared_ptr<Group>& g) {
  if (!AnyMemberLeft(g)) {
    EndRound(g);
    return;
  }
  // A large value is read whole only when a member looks at the value; commands that change
  // only its TTL, or delete it, get the pointer and keep it (gateway/object_store.h).
  bool needs_value = false;
  for (const Member& m : g->round) needs_value = needs_value || m.needs_value;
  auto on_read = [g](kvmap::GetResult r) {
    if (r.status != KvStatus::kOk && r.status != KvStatus::kNotFound) {
      FailRound(g, r.status, r.detail);
      return;
    }
    const bool found = r.status == KvStatus::kOk;
    const uint64_t read_revision = found ? r.entry.revision : 0;
    // The state each member sees: the stored entry, then what the members before it left.
    std::optional<kvmap::Entry> state;
    if (found && kvmap::IsLiveNow(r.entry)) state = std::move(r.entry);
    bool writes = false;
    std::string events;
    for (Member& m : g->round) {
      std::shared_ptr<Call> c = m.call.lock();
      m.is_active = c && !c->is_finished();
      if (!m.is_active) continue;  // the client left: it takes no part
      m.decision = m.decide(*c, state ? &*state : nullptr);
      std::string_view ev = m.decision.events;
      switch (m.decision.kind) {
        case RmwDecision::Kind::kError:
        case RmwDecision::Kind::kNoWrite:
          continue;
        case RmwDecision::Kind::kPut: {
          kvmap::Entry next;
          next.key = g->key;
          next.value = m.decision.value;
          next.headers = m.decision.headers;
          state = std::move(next);
          break;
        }
        case RmwDecision::Kind::kDelete:
          state.reset();
          if (ev.empty()) ev = "del";
          break;
      }
      writes = true;
      if (!ev.empty()) {
        if (!events.empty()) events += ',';
        events += ev;
      }
    }
    if (!writes) {
      CompleteRound(g);
      return;
    }
    RmwDecision last;
    last.kind = state ? RmwDecision::Kind::kPut : RmwDecision::Kind::kDelete;
    if (state) {
      last.value = std::move(state->value);
      last.headers = std::move(state->headers);
    }
    last.events = std::move(events);
    // A marker or an expired entry still holds the subject's last sequence: the CAS is on it.
    PrepareWrite(g, last, read_revision);
    GroupWrite(g);
  };
  if (needs_value) {
    g->backend->Get(g->bucket, g->key, std::move(on_read));
  } else {
    g->backend->GetPointer(g->bucket, g->key, std::move(on_read));
  }
}

// Sets the group's write from one decision (a create sent without reading first).
void PrepareWrite(const std::shared_ptr<Group>& g, const RmwDecision& d, uint64_t expected) {
  g->op = d.kind == RmwDecision::Kind::kDelete ? kvmap::EntryOp::kDelete : kvmap::EntryOp::kPut;
  g->value = d.value;
  g->headers = d.headers;
  std::string_view events = d.events;
  if (events.empty() && g->op == kvmap::EntryOp::kDelete) events = "del";
  if (!events.empty()) g->headers.push_back(EventHeader(events));
  g->expected_revision = expected;
  g->msg_id = g->server->NewMsgId();
  g->resends = 0;
}

void JoinGroup(Call& call, std::string key, RmwDecide decide, RmwDone done,
               std::optional<RmwDecision> create_first, bool needs_value) {
  const bool coalesce = call.server().config().rmw_coalescing;
  RmwGroups& groups = GroupsOf(call.server());
  GroupKey gk{&call.backend(), call.bucket(), key};
  Member m;
  m.call = call.weak_from_this();
  m.decide = std::move(decide);
  m.done = std::move(done);
  m.needs_value = needs_value;
  if (coalesce) {
    auto it = groups.in_flight.find(gk);
    if (it != groups.in_flight.end()) {
      // A round is in flight: decide in the next one, on what it leaves (a create_first
      // guess would only lose its CAS).
      it->second->waiting.push_back(std::move(m));
      return;
    }
  }
  auto g = std::make_shared<Group>();
  g->server = &call.server();
  g->backend = &call.backend();
  g->bucket = call.bucket();
  g->key = std::move(key);
  if (coalesce) {
    g->is_registered = true;
    groups.in_flight.emplace(std::move(gk), g);
  }
  if (create_first) {
    // One round trip for a create: write the decision with CAS on "no message"; a conflict
    // falls back to reading and deciding again.
    m.decision = std::move(*create_first);
    m.is_active = true;
    PrepareWrite(g, m.decision, 0);
    g->round.push_back(std::move(m));
    GroupWrite(g);
    return;
  }
  g->round.push_back(std::move(m));
  GroupRead(g);
}

}  // namespace

void ReadModifyWrite(Call& call, std::string encoded_key, RmwDecide decide, RmwDone done,
                     std::optional<RmwDecision> create_first) {
  JoinGroup(call, std::move(encoded_key), std::move(decide), std::move(done),
            std::move(create_first), /*needs_value=*/true);
}

void ReadModifyWriteMeta(Call& call, std::string encoded_key, RmwDecide decide, RmwDone done) {
  JoinGroup(call, std::move(encoded_key), std::move(decide), std::move(done), std::nullopt,
            /*needs_value=*/false);
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
