// SPDX-License-Identifier: Apache-2.0
//
// String commands that read or replace whole values: GET, SET, SETNX, SETEX, PSETEX, GETSET,
// GETDEL, GETEX, MGET, MSET. (APPEND, STRLEN, GETRANGE, SETRANGE and LCS are in
// string_commands_more.cc.) Values are stored as the bare message payload; the deadline travels
// in Redis-Expires-At (DESIGN.md decisions 4 and 6). Every form that reads before it writes goes
// through ReadModifyWrite (rmw.h): CAS on the revision read, retry on conflict, resend after a
// lost acknowledgement (decisions 2 and 7).
#include <climits>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gateway/arg_parser.h"
#include "gateway/commands/commands.h"
#include "gateway/commands/read_helpers.h"
#include "gateway/commands/rmw.h"
#include "gateway/errors.h"
#include "gateway/server_context.h"
#include "gateway/session.h"
#include "kvmap/key_codec.h"
#include "kvmap/ttl.h"
#include "resp/request_parser.h"

namespace gateway {
namespace {

using kvmap::KvStatus;

enum class ExpireUnit { kNone, kEx, kPx, kExAt, kPxAt };

// The options of SET (is_get_command false) and GETEX (true), as Redis 7.0's
// parseExtendedStringArgumentsOrReply accepts them: a repeated option is fine, a conflicting
// one is a syntax error, and an expire keyword needs a following argument.
struct StringOptions {
  bool nx = false;
  bool xx = false;
  bool get = false;
  bool keepttl = false;
  bool persist = false;
  ExpireUnit unit = ExpireUnit::kNone;
  std::string_view expire_arg;  // view into the call's arguments
};

// Returns false on a syntax error.
bool ParseStringOptions(const Call& call, size_t start, bool is_get_command, StringOptions* out) {
  const bool is_set = !is_get_command;
  ArgParser p(call, start);
  while (p.HasNext()) {
    const bool has_value = p.remaining() >= 2;
    const ExpireUnit unit = out->unit;
    auto unit_allows = [&](ExpireUnit u) {
      return !out->keepttl && !out->persist && (unit == ExpireUnit::kNone || unit == u) &&
             has_value;
    };
    if (is_set && !out->xx && p.Accept("NX")) {
      out->nx = true;
    } else if (is_set && !out->nx && p.Accept("XX")) {
      out->xx = true;
    } else if (is_set && p.Accept("GET")) {
      out->get = true;
    } else if (is_set && unit == ExpireUnit::kNone && p.Accept("KEEPTTL")) {
      out->keepttl = true;
    } else if (is_get_command && unit == ExpireUnit::kNone && p.Accept("PERSIST")) {
      out->persist = true;
    } else if (unit_allows(ExpireUnit::kEx) && p.Accept("EX")) {
      out->unit = ExpireUnit::kEx;
      out->expire_arg = p.Next();
    } else if (unit_allows(ExpireUnit::kPx) && p.Accept("PX")) {
      out->unit = ExpireUnit::kPx;
      out->expire_arg = p.Next();
    } else if (unit_allows(ExpireUnit::kExAt) && p.Accept("EXAT")) {
      out->unit = ExpireUnit::kExAt;
      out->expire_arg = p.Next();
    } else if (unit_allows(ExpireUnit::kPxAt) && p.Accept("PXAT")) {
      out->unit = ExpireUnit::kPxAt;
      out->expire_arg = p.Next();
    } else {
      return false;
    }
  }
  return true;
}

// Redis 7.0's getExpireMillisecondsOrReply: the absolute deadline in Unix ms for `arg` in
// `unit`, or an error text naming `command`.
struct ExpireTime {
  int64_t at_ms = 0;
  std::string error;  // empty on success
};

ExpireTime ComputeExpireAt(std::string_view arg, ExpireUnit unit, std::string_view command) {
  ExpireTime out;
  std::optional<int64_t> value = ParseInt64(arg);
  if (!value) {
    out.error = errors::kNotInteger;
    return out;
  }
  int64_t ms = *value;
  const bool is_seconds = unit == ExpireUnit::kEx || unit == ExpireUnit::kExAt;
  if (ms <= 0 || (is_seconds && ms > LLONG_MAX / 1000)) {
    out.error = errors::InvalidExpireTime(command);
    return out;
  }
  if (is_seconds) ms *= 1000;
  if (unit == ExpireUnit::kEx || unit == ExpireUnit::kPx) {
    const int64_t now = kvmap::NowUnixMs();
    if (ms > LLONG_MAX - now) {
      out.error = errors::InvalidExpireTime(command);
      return out;
    }
    ms += now;
  }
  out.at_ms = ms;
  return out;
}

kvmap::Headers ExpiryHeaders(std::optional<int64_t> at_ms) {
  kvmap::Headers headers;
  if (at_ms) headers.emplace_back(std::string(kvmap::kHdrExpiresAt), std::to_string(*at_ms));
  return headers;
}

// Redis 7.0's setGenericCommand notifies "set", then "expire" when it set a deadline.
std::string_view SetEvents(std::optional<int64_t> at_ms) { return at_ms ? "set,expire" : "set"; }

void ReplyBulkOrNull(Call& call, const std::optional<std::string>& value) {
  if (value) {
    call.reply().Bulk(*value);
  } else {
    call.reply().Null();
  }
}

// --- SET, SETNX, SETEX, PSETEX ---

// State of one SET or SETNX across its asynchronous steps.
struct SetState {
  StringOptions options;
  std::optional<int64_t> expire_at_ms;
  std::string key;                 // encoded
  bool is_setnx = false;           // replies :1/:0 instead of +OK/nil
  std::optional<std::string> old;  // the live old value, kept for GET
};

void SetReplyWritten(Call& call, const SetState& st) {
  if (st.options.get) {
    ReplyBulkOrNull(call, st.old);
  } else if (st.is_setnx) {
    call.reply().Integer(1);
  } else {
    call.reply().Ok();
  }
  call.Finish();
}

// NX found a value or XX found none: nothing is written. GET still returns the old value.
void SetReplyAborted(Call& call, const SetState& st) {
  if (st.options.get) {
    ReplyBulkOrNull(call, st.old);
  } else if (st.is_setnx) {
    call.reply().Integer(0);
  } else {
    call.reply().Null();
  }
  call.Finish();
}

// SET with NX, XX, GET or KEEPTTL: decides on the live entry and writes with CAS on it.
void SetReadModifyWrite(Call& call, std::shared_ptr<SetState> st,
                        std::optional<RmwDecision> create_first = std::nullopt) {
  ReadModifyWrite(
      call, st->key,
      [st](Call& c, const kvmap::Entry* live) {
        RmwDecision d;
        const StringOptions& o = st->options;
        st->old.reset();
        if (o.get) {
          CountLookup(c, live != nullptr);
          if (live && !kvmap::IsString(*live)) return ErrorDecision(errors::kWrongType);
          if (live) st->old = live->value;
        }
        if ((o.nx && live) || (o.xx && !live)) return d;  // kNoWrite
        d.kind = RmwDecision::Kind::kPut;
        d.value = std::string(c.arg(2));
        d.headers = o.keepttl ? KeepTtlHeaders(live) : ExpiryHeaders(st->expire_at_ms);
        d.events = SetEvents(st->expire_at_ms);
        return d;
      },
      [st](Call& c, const RmwDecision& d) {
        if (d.kind == RmwDecision::Kind::kNoWrite) {
          SetReplyAborted(c, *st);
        } else {
          SetReplyWritten(c, *st);
        }
      },
      std::move(create_first));
}

void SetStart(Call& call, std::shared_ptr<SetState> st) {
  const StringOptions& o = st->options;
  if (!o.nx && !o.xx && !o.get && !o.keepttl) {
    // Plain SET: one blind put, no read, no msg id (decision 2).
    kvmap::WriteRequest w;
    w.bucket = call.bucket();
    w.key = st->key;
    w.value = call.arg(2);
    // A large value (Session::Dispatch made the call a barrier) is read in place by the
    // Object Store upload, not copied: the call keeps it alive.
    if (call.is_barrier()) w.value_owner = call.shared_from_this();
    w.headers = ExpiryHeaders(st->expire_at_ms);
    w.headers.push_back(EventHeader(SetEvents(st->expire_at_ms)));
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
    // Optimistic create: CAS 0 succeeds when the subject never had a message. On a conflict the
    // engine reads, to tell a live value from a marker or an expired entry.
    RmwDecision create;
    create.kind = RmwDecision::Kind::kPut;
    create.value = std::string(call.arg(2));
    create.headers = ExpiryHeaders(st->expire_at_ms);
    create.events = SetEvents(st->expire_at_ms);
    SetReadModifyWrite(call, st, std::move(create));
    return;
  }
  SetReadModifyWrite(call, st);
}

// SETEX and PSETEX: SET key value EX|PX ttl, a blind put.
void SetWithTtl(Call& call, ExpireUnit unit, std::string_view command) {
  auto st = std::make_shared<SetState>();
  ExpireTime at = ComputeExpireAt(call.arg(2), unit, command);
  if (!at.error.empty()) {
    call.ReplyError(at.error);
    return;
  }
  st->expire_at_ms = at.at_ms;
  st->key = kvmap::EncodeKey(call.arg(1));
  call.server().RunWithBucket(call, [st](Call& c) {
    kvmap::WriteRequest w;
    w.bucket = c.bucket();
    w.key = st->key;
    w.value = c.arg(3);
    w.headers = ExpiryHeaders(st->expire_at_ms);
    w.headers.push_back(EventHeader(SetEvents(st->expire_at_ms)));
    c.backend().Write(w, c.Bind<kvmap::WriteResult>([](Call& c2, kvmap::WriteResult r) {
      if (r.status == KvStatus::kOk) {
        c2.ReplyOk();
      } else {
        c2.ReplyKvError(r.status, r.detail);
      }
    }));
  });
}

// --- GETSET, GETDEL, GETEX ---

// The value a GET-like read-modify-write replies with, kept across its attempts.
struct OldValue {
  std::optional<std::string> value;
};

void GetSetOnBucket(Call& call) {
  auto old = std::make_shared<OldValue>();
  ReadModifyWrite(
      call, kvmap::EncodeKey(call.arg(1)),
      [old](Call& c, const kvmap::Entry* live) {
        RmwDecision d;
        CountLookup(c, live != nullptr);
        if (live && !kvmap::IsString(*live)) return ErrorDecision(errors::kWrongType);
        old->value.reset();
        if (live) old->value = live->value;
        // Like SET, GETSET drops the deadline: no Redis-Expires-At on the new entry.
        d.kind = RmwDecision::Kind::kPut;
        d.value = std::string(c.arg(2));
        d.events = "set";
        return d;
      },
      [old](Call& c, const RmwDecision&) {
        ReplyBulkOrNull(c, old->value);
        c.Finish();
      });
}

void GetDelOnBucket(Call& call) {
  auto old = std::make_shared<OldValue>();
  ReadModifyWrite(
      call, kvmap::EncodeKey(call.arg(1)),
      [old](Call& c, const kvmap::Entry* live) {
        RmwDecision d;
        CountLookup(c, live != nullptr);
        old->value.reset();
        if (!live) return d;  // kNoWrite: nil
        if (!kvmap::IsString(*live)) return ErrorDecision(errors::kWrongType);
        old->value = live->value;
        d.kind = RmwDecision::Kind::kDelete;
        return d;
      },
      [old](Call& c, const RmwDecision&) {
        ReplyBulkOrNull(c, old->value);
        c.Finish();
      });
}

struct GetExState {
  StringOptions options;
  ExpireTime expire;  // when options.unit is set; its error is reported only for a live string
  std::optional<std::string> value;
};

void GetExOnBucket(Call& call, std::shared_ptr<GetExState> st) {
  ReadModifyWrite(
      call, kvmap::EncodeKey(call.arg(1)),
      [st](Call& c, const kvmap::Entry* live) {
        RmwDecision d;
        CountLookup(c, live != nullptr);
        st->value.reset();
        if (!live) return d;  // kNoWrite: nil
        if (!kvmap::IsString(*live)) return ErrorDecision(errors::kWrongType);
        // Redis 7.0 validates the expire time only after the lookup and the type check, so a
        // missing key answers nil even for GETEX k EX 0.
        if (!st->expire.error.empty()) {
          d.kind = RmwDecision::Kind::kError;
          d.error = st->expire.error;
          return d;
        }
        st->value = live->value;
        const ExpireUnit unit = st->options.unit;
        if ((unit == ExpireUnit::kExAt || unit == ExpireUnit::kPxAt) &&
            st->expire.at_ms <= kvmap::NowUnixMs()) {
          d.kind = RmwDecision::Kind::kDelete;  // a deadline already past deletes the key
        } else if (unit != ExpireUnit::kNone) {
          d.kind = RmwDecision::Kind::kPut;
          d.value = live->value;
          d.headers = ExpiryHeaders(st->expire.at_ms);
          d.events = "expire";
        } else if (st->options.persist && kvmap::FindHeader(live->headers, kvmap::kHdrExpiresAt)) {
          d.kind = RmwDecision::Kind::kPut;
          d.value = live->value;
          d.events = "persist";
        }
        return d;
      },
      [st](Call& c, const RmwDecision&) {
        ReplyBulkOrNull(c, st->value);
        c.Finish();
      });
}

// --- MGET, MSET ---

struct MGetState {
  std::vector<std::optional<std::string>> values;
  size_t outstanding = 0;
  KvStatus error = KvStatus::kOk;
  std::string error_detail;
};

void MGetOnBucket(Call& call) {
  auto st = std::make_shared<MGetState>();
  const size_t n = call.argc() - 1;
  st->values.resize(n);
  st->outstanding = n;
  for (size_t i = 0; i < n; ++i) {
    call.backend().Get(call.bucket(), kvmap::EncodeKey(call.arg(i + 1)),
                       call.Bind<kvmap::GetResult>([st, i](Call& c, kvmap::GetResult r) {
                         if (r.status == KvStatus::kOk || r.status == KvStatus::kNotFound) {
                           const bool is_live = r.status == KvStatus::kOk &&
                                                kvmap::IsLiveNow(r.entry);
                           CountLookup(c, is_live);
                           // A key of another type is nil in MGET, not WRONGTYPE.
                           if (is_live && kvmap::IsString(r.entry))
                             st->values[i] = std::move(r.entry.value);
                         } else if (st->error == KvStatus::kOk) {
                           st->error = r.status;
                           st->error_detail = std::move(r.detail);
                         }
                         if (--st->outstanding > 0) return;
                         if (st->error != KvStatus::kOk) {
                           c.ReplyKvError(st->error, st->error_detail);
                           return;
                         }
                         c.reply().ArrayHeader(st->values.size());
                         for (const std::optional<std::string>& v : st->values)
                           ReplyBulkOrNull(c, v);
                         c.Finish();
                       }));
  }
}

struct MSetState {
  size_t outstanding = 0;
  KvStatus error = KvStatus::kOk;
  std::string error_detail;
};

void MSetOnBucket(Call& call) {
  auto st = std::make_shared<MSetState>();
  st->outstanding = (call.argc() - 1) / 2;
  for (size_t i = 1; i + 1 < call.argc(); i += 2) {
    // One blind put per key, like SET: no read, no msg id, and the deadline is dropped.
    kvmap::WriteRequest w;
    w.bucket = call.bucket();
    const std::string key = kvmap::EncodeKey(call.arg(i));
    w.key = key;
    w.value = call.arg(i + 1);
    w.headers.push_back(EventHeader("set"));
    call.backend().Write(w, call.Bind<kvmap::WriteResult>([st](Call& c, kvmap::WriteResult r) {
      if (r.status != KvStatus::kOk && st->error == KvStatus::kOk) {
        st->error = r.status;
        st->error_detail = std::move(r.detail);
      }
      if (--st->outstanding > 0) return;
      if (st->error != KvStatus::kOk) {
        c.ReplyKvError(st->error, st->error_detail);
      } else {
        c.ReplyOk();
      }
    }));
  }
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

KeyAccess GetExAccess(const resp::Request& request) {
  // Without options GETEX is GET; any option may write the key.
  return request.argc() <= 2 ? KeyAccess::kRead : KeyAccess::kWrite;
}

void CmdGet(Call& call) {
  call.server().RunWithBucket(call, [](Call& c) {
    ReadStringPointerOrReply(
        c, c.arg(1), [](Call& c2, const std::string* value, const kvmap::ObjectRef* object) {
          if (object) {
            ReplyObjectRange(c2, *object, 0, object->size);  // streamed from the chunks
            return;
          }
          if (value) {
            c2.reply().Bulk(*value);
          } else {
            c2.reply().Null();
          }
          c2.Finish();
        });
  });
}

void CmdSet(Call& call) {
  auto st = std::make_shared<SetState>();
  if (!ParseStringOptions(call, 3, /*is_get_command=*/false, &st->options)) {
    call.ReplyError(errors::kSyntax);
    return;
  }
  if (st->options.unit != ExpireUnit::kNone) {
    ExpireTime at = ComputeExpireAt(st->options.expire_arg, st->options.unit, "set");
    if (!at.error.empty()) {
      call.ReplyError(at.error);
      return;
    }
    st->expire_at_ms = at.at_ms;
  }
  st->key = kvmap::EncodeKey(call.arg(1));
  call.server().RunWithBucket(call, [st](Call& c) { SetStart(c, st); });
}

void CmdSetNx(Call& call) {
  auto st = std::make_shared<SetState>();
  st->options.nx = true;
  st->is_setnx = true;
  st->key = kvmap::EncodeKey(call.arg(1));
  call.server().RunWithBucket(call, [st](Call& c) { SetStart(c, st); });
}

void CmdSetEx(Call& call) { SetWithTtl(call, ExpireUnit::kEx, "setex"); }

void CmdPSetEx(Call& call) { SetWithTtl(call, ExpireUnit::kPx, "psetex"); }

void CmdGetSet(Call& call) { call.server().RunWithBucket(call, GetSetOnBucket); }

void CmdGetDel(Call& call) { call.server().RunWithBucket(call, GetDelOnBucket); }

void CmdGetEx(Call& call) {
  auto st = std::make_shared<GetExState>();
  if (!ParseStringOptions(call, 2, /*is_get_command=*/true, &st->options)) {
    call.ReplyError(errors::kSyntax);
    return;
  }
  if (st->options.unit == ExpireUnit::kNone && !st->options.persist) {
    CmdGet(call);  // no options: a plain read
    return;
  }
  if (st->options.unit != ExpireUnit::kNone) {
    st->expire = ComputeExpireAt(st->options.expire_arg, st->options.unit, "getex");
  }
  call.server().RunWithBucket(call, [st](Call& c) { GetExOnBucket(c, st); });
}

void CmdMGet(Call& call) { call.server().RunWithBucket(call, MGetOnBucket); }

void CmdMSet(Call& call) {
  if (call.argc() % 2 == 0) {
    // Redis 7.0 answers an odd number of key/value arguments with the arity error.
    call.ReplyError(errors::WrongArity("mset"));
    return;
  }
  call.server().RunWithBucket(call, MSetOnBucket);
}

}  // namespace gateway
