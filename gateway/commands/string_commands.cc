// SPDX-License-Identifier: Apache-2.0
//
// String commands. Values are stored as the bare message payload; the deadline travels in
// Redis-Expires-At (DESIGN.md decisions 4 and 6). Read-modify-write forms read the entry and
// its revision, then write with CAS on that revision, retrying on a conflict (decision 7).
#include <climits>
#include <memory>
#include <optional>

#include "gateway/arg_parser.h"
#include "gateway/commands/commands.h"
#include "gateway/errors.h"
#include "gateway/server_context.h"
#include "gateway/session.h"
#include "kvmap/key_codec.h"
#include "kvmap/ttl.h"
#include "resp/request_parser.h"

namespace gateway {
namespace {

using kvmap::KvStatus;

// A read-modify-write gives up after this many CAS conflicts in a row.
constexpr int kMaxCasAttempts = 64;

struct SetOptions {
  bool nx = false;
  bool xx = false;
  bool get = false;
  bool keepttl = false;
  std::optional<int64_t> expire_at_ms;  // absolute Unix ms
};

enum class ExpireUnit { kNone, kEx, kPx, kExAt, kPxAt };

// Parses SET's options as Redis 7.0 does (parseExtendedStringArgumentsOrReply, then
// getExpireMillisecondsOrReply). Returns an error text, or empty.
std::string ParseSetOptions(Call& call, SetOptions* out) {
  ArgParser p(call, 3);
  ExpireUnit unit = ExpireUnit::kNone;
  std::string_view expire_arg;
  while (p.HasNext()) {
    bool has_value = p.remaining() >= 2;
    if (!out->xx && p.Accept("NX")) {
      out->nx = true;
    } else if (!out->nx && p.Accept("XX")) {
      out->xx = true;
    } else if (p.Accept("GET")) {
      out->get = true;
    } else if (unit == ExpireUnit::kNone && p.Accept("KEEPTTL")) {
      out->keepttl = true;
    } else if (!out->keepttl && has_value && (unit == ExpireUnit::kNone || unit == ExpireUnit::kEx) &&
               p.Accept("EX")) {
      unit = ExpireUnit::kEx;
      expire_arg = p.Next();
    } else if (!out->keepttl && has_value && (unit == ExpireUnit::kNone || unit == ExpireUnit::kPx) &&
               p.Accept("PX")) {
      unit = ExpireUnit::kPx;
      expire_arg = p.Next();
    } else if (!out->keepttl && has_value &&
               (unit == ExpireUnit::kNone || unit == ExpireUnit::kExAt) && p.Accept("EXAT")) {
      unit = ExpireUnit::kExAt;
      expire_arg = p.Next();
    } else if (!out->keepttl && has_value &&
               (unit == ExpireUnit::kNone || unit == ExpireUnit::kPxAt) && p.Accept("PXAT")) {
      unit = ExpireUnit::kPxAt;
      expire_arg = p.Next();
    } else {
      return std::string(errors::kSyntax);
    }
  }
  if (unit == ExpireUnit::kNone) return {};
  auto value = ParseInt64(expire_arg);
  if (!value) return std::string(errors::kNotInteger);
  int64_t ms = *value;
  bool is_seconds = unit == ExpireUnit::kEx || unit == ExpireUnit::kExAt;
  if (ms <= 0 || (is_seconds && ms > LLONG_MAX / 1000)) {
    return "ERR invalid expire time in 'set' command";
  }
  if (is_seconds) ms *= 1000;
  if (unit == ExpireUnit::kEx || unit == ExpireUnit::kPx) {
    int64_t now = kvmap::NowUnixMs();
    if (ms > LLONG_MAX - now) return "ERR invalid expire time in 'set' command";
    ms += now;
  }
  out->expire_at_ms = ms;
  return {};
}

void AddExpiry(kvmap::Headers* headers, std::optional<int64_t> at_ms) {
  if (at_ms) headers->emplace_back(std::string(kvmap::kHdrExpiresAt), std::to_string(*at_ms));
}

// State of one SET across its asynchronous steps. The value is a view into the call's
// arguments, valid while the call lives (completions run only while it does).
struct SetState {
  SetOptions options;
  std::string key;  // encoded
  int attempts = 0;
};

void SetFinishOk(Call& call, SetState& st, std::optional<std::string> old_value) {
  if (st.options.get) {
    if (old_value) {
      call.reply().Bulk(*old_value);
    } else {
      call.reply().Null();
    }
  } else {
    call.reply().Ok();
  }
  call.Finish();
}

void SetRead(Call& call, std::shared_ptr<SetState> st);

// Writes the new value with CAS on `expected`. `old` is the live old value for GET.
void SetCasWrite(Call& call, std::shared_ptr<SetState> st, uint64_t expected,
                 std::optional<int64_t> expire_at, std::optional<std::string> old) {
  kvmap::WriteRequest w;
  w.bucket = call.bucket();
  w.key = st->key;
  w.value = call.arg(2);
  w.expected_revision = expected;
  w.msg_id = call.server().NewMsgId();
  AddExpiry(&w.headers, expire_at);
  call.backend().Write(
      w, call.Bind<kvmap::WriteResult>(
             [st, old = std::move(old)](Call& c, kvmap::WriteResult r) mutable {
               if (r.status == KvStatus::kOk) {
                 SetFinishOk(c, *st, std::move(old));
               } else if (r.status == KvStatus::kRevisionMismatch &&
                          ++st->attempts < kMaxCasAttempts) {
                 SetRead(c, st);  // someone wrote in between: decide again on fresh data
               } else {
                 c.ReplyKvError(r.status, r.detail);
               }
             }));
}

void SetRead(Call& call, std::shared_ptr<SetState> st) {
  call.backend().Get(
      call.bucket(), st->key,
      call.Bind<kvmap::GetResult>([st](Call& c, kvmap::GetResult r) {
        if (r.status != KvStatus::kOk && r.status != KvStatus::kNotFound) {
          c.ReplyKvError(r.status, r.detail);
          return;
        }
        const bool found = r.status == KvStatus::kOk;
        const bool live = found && kvmap::IsLive(r.entry, kvmap::NowUnixMs());
        if (live && st->options.get && !kvmap::IsString(r.entry)) {
          c.ReplyError(errors::kWrongType);
          return;
        }
        std::optional<std::string> old;
        if (live) old = std::move(r.entry.value);
        if ((st->options.nx && live) || (st->options.xx && !live)) {
          // Condition not met: nothing is written. GET still returns the old value.
          if (st->options.get) {
            if (old) {
              c.reply().Bulk(*old);
            } else {
              c.reply().Null();
            }
          } else {
            c.reply().Null();
          }
          c.Finish();
          return;
        }
        std::optional<int64_t> expire_at = st->options.expire_at_ms;
        if (st->options.keepttl && live) expire_at = kvmap::ExpiresAt(r.entry);
        // A marker or an expired entry still occupies the subject: CAS on its revision.
        uint64_t expected = found ? r.entry.revision : 0;
        SetCasWrite(c, st, expected, expire_at, std::move(old));
      }));
}

void SetStart(Call& call, std::shared_ptr<SetState> st) {
  const SetOptions& o = st->options;
  if (!o.nx && !o.xx && !o.get && !o.keepttl) {
    // Plain SET: one blind put, no read, no msg id (decision 2).
    kvmap::WriteRequest w;
    w.bucket = call.bucket();
    w.key = st->key;
    w.value = call.arg(2);
    AddExpiry(&w.headers, o.expire_at_ms);
    call.backend().Write(w, call.Bind<kvmap::WriteResult>([](Call& c, kvmap::WriteResult r) {
      if (r.status == KvStatus::kOk) {
        c.ReplyOk();
      } else {
        c.ReplyKvError(r.status, r.detail);
      }
    }));
    return;
  }
  if (o.nx && !o.get) {
    // Optimistic create: CAS 0 succeeds when the subject never had a message. Otherwise read
    // to tell a live value from a marker or an expired entry.
    kvmap::WriteRequest w;
    w.bucket = call.bucket();
    w.key = st->key;
    w.value = call.arg(2);
    w.expected_revision = 0;
    w.msg_id = call.server().NewMsgId();
    AddExpiry(&w.headers, o.expire_at_ms);
    call.backend().Write(w, call.Bind<kvmap::WriteResult>([st](Call& c, kvmap::WriteResult r) {
      if (r.status == KvStatus::kOk) {
        c.ReplyOk();
      } else if (r.status == KvStatus::kRevisionMismatch) {
        SetRead(c, st);
      } else {
        c.ReplyKvError(r.status, r.detail);
      }
    }));
    return;
  }
  SetRead(call, st);
}

void GetOnBucket(Call& call) {
  std::string key = kvmap::EncodeKey(call.arg(1));
  call.backend().Get(call.bucket(), key, call.Bind<kvmap::GetResult>([](Call& c,
                                                                        kvmap::GetResult r) {
    ServerStats& stats = c.server().stats();
    if (r.status == KvStatus::kNotFound ||
        (r.status == KvStatus::kOk && !kvmap::IsLive(r.entry, kvmap::NowUnixMs()))) {
      ++stats.keyspace_misses;
      c.reply().Null();
      c.Finish();
      return;
    }
    if (r.status != KvStatus::kOk) {
      c.ReplyKvError(r.status, r.detail);
      return;
    }
    if (!kvmap::IsString(r.entry)) {
      c.ReplyError(errors::kWrongType);
      return;
    }
    ++stats.keyspace_hits;
    c.reply().Bulk(r.entry.value);
    c.Finish();
  }));
}

}  // namespace

KeyAccess SetAccess(const resp::Request& request) {
  // Only NX, XX, GET and KEEPTTL read the old entry; anything else is a blind put.
  for (size_t i = 3; i < request.argc(); ++i) {
    std::string_view a = request.arg(i);
    if (EqualsIgnoreCase(a, "NX") || EqualsIgnoreCase(a, "XX") || EqualsIgnoreCase(a, "GET") ||
        EqualsIgnoreCase(a, "KEEPTTL")) {
      return KeyAccess::kWrite;
    }
  }
  return KeyAccess::kBlindWrite;
}

void CmdGet(Call& call) { call.server().RunWithBucket(call, GetOnBucket); }

void CmdSet(Call& call) {
  auto st = std::make_shared<SetState>();
  std::string err = ParseSetOptions(call, &st->options);
  if (!err.empty()) {
    call.ReplyError(err);
    return;
  }
  st->key = kvmap::EncodeKey(call.arg(1));
  call.server().RunWithBucket(call, [st](Call& c) { SetStart(c, st); });
}

}  // namespace gateway
