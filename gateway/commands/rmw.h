// SPDX-License-Identifier: Apache-2.0
//
// ReadModifyWrite: the optimistic read-modify-write every RMW command uses (DESIGN.md
// decisions 2 and 7). It reads one key's last entry, asks the command what to write given the
// live value, writes that with CAS on the revision it read, and starts over from the read when
// another writer got in first.
//
// When a write's outcome is unknown (the acknowledgement was lost: the connection dropped or
// the answer timed out), it resends the identical message (same Nats-Msg-Id, same expected
// revision) once the backend is connected again. JetStream checks the msg id before the
// expected sequence, so the resend either gets the original acknowledgement back (marked
// duplicate: the first copy was applied) or is applied now (the first copy never landed), or
// fails its CAS (the first copy never landed and someone else wrote: start over from the read).
// A write is therefore applied at most once, and the command reports what really happened.
// Resends stop after kResendWindowMs, well inside the 30 s de-duplication window of the buckets
// the gateway creates; then the command answers "outcome unknown". Conflicts are retried with
// randomized backoff for up to kConflictBudgetMs; then the command answers "contention".
//
// Thread: the loop thread.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "kvmap/kv_backend.h"

namespace gateway {

class Call;

struct RmwDecision {
  enum class Kind : uint8_t {
    kNoWrite,  // nothing to change; `done` runs at once
    kPut,      // write `value` with `headers`
    kDelete,   // write a delete marker
    kError,    // reply `error` (WRONGTYPE, not an integer, ...) and stop
  };
  Kind kind = Kind::kNoWrite;
  std::string value;
  kvmap::Headers headers;  // never Redis-Event: that is `events`
  // The write's keyspace events, in Redis 7.0's order ("set,expire"), sent as Redis-Event
  // (DESIGN.md decision 4). A delete without any is "del", as every delete a command decides
  // on is in Redis (DEL, UNLINK, GETDEL, an expire time in the past).
  std::string events;
  std::string error;
};

// `live` is the key's entry when it exists now (not absent, not a delete marker, not expired),
// else nullptr. Called once per attempt; it must not reply.
using RmwDecide = std::function<RmwDecision(Call& call, const kvmap::Entry* live)>;
// Called once, after the decision took effect; writes the reply and finishes the call.
using RmwDone = std::function<void(Call& call, const RmwDecision& decision)>;

// Conflicts are retried at once the first kImmediateRetries times, then after a random delay
// that doubles up to kMaxBackoffMs (so writers racing on one hot key spread out instead of
// colliding in lock step), for at most kConflictBudgetMs in all.
inline constexpr int kImmediateRetries = 2;
inline constexpr int64_t kMaxBackoffMs = 16;
inline constexpr int64_t kConflictBudgetMs = 10000;
inline constexpr int64_t kResendWindowMs = 15000;

// Runs the read-modify-write of `encoded_key` in the call's bucket. Backend failures and kError
// decisions are replied here; `done` is not called then.
//
// With `create_first`, the first attempt skips the read and writes that decision with CAS on
// revision 0 (it succeeds when the key never had a message: one round trip for a create); a
// conflict falls back to the read path, and a lost acknowledgement is resent like any other.
void ReadModifyWrite(Call& call, std::string encoded_key, RmwDecide decide, RmwDone done,
                     std::optional<RmwDecision> create_first = std::nullopt);

// ReadModifyWrite for commands that never look at the value (DEL, UNLINK, EXPIRE and its
// kin, PERSIST): a large value is not read from the Object Store; `live` is its pointer (an
// empty value whose headers include Redis-Object), and a put that keeps those headers keeps
// the object. Backends that never spill: the same as ReadModifyWrite.
void ReadModifyWriteMeta(Call& call, std::string encoded_key, RmwDecide decide, RmwDone done);

// A decision that replies `text` as an error and writes nothing.
inline RmwDecision ErrorDecision(std::string_view text) {
  RmwDecision d;
  d.kind = RmwDecision::Kind::kError;
  d.error = std::string(text);
  return d;
}

// The Redis-Event header of a write that does not go through ReadModifyWrite (a blind put).
inline kvmap::Header EventHeader(std::string_view events) {
  return {std::string(kvmap::kHdrEvent), std::string(events)};
}

// The value of a live entry, or nullopt when the key does not exist.
inline std::optional<std::string_view> LiveValue(const kvmap::Entry* live) {
  if (live == nullptr) return std::nullopt;
  return std::string_view(live->value);
}

// Headers that carry the entry's deadline over to its next version (INCR, APPEND, SETRANGE and
// the like keep the TTL), or none when `live` has no deadline or is null.
kvmap::Headers KeepTtlHeaders(const kvmap::Entry* live);

}  // namespace gateway
