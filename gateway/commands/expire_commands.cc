// SPDX-License-Identifier: Apache-2.0
//
// Expiry and key-introspection commands: EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT, TTL, PTTL,
// EXPIRETIME, PEXPIRETIME, PERSIST and TYPE, as Redis 7.0.15 answers them (src/expire.c,
// src/db.c). They work on a key of any type: WRONGTYPE never applies.
//
// A deadline is the Redis-Expires-At header (absolute Unix ms, DESIGN.md decision 6), so
// changing it rewrites the whole entry: EXPIRE and PERSIST are read-modify-writes (rmw.h) that
// put the live value again with its headers, the deadline replaced or removed, with CAS on the
// revision read. A deadline already past deletes the key (a delete marker), as Redis does.
// TTL and the like are one read each.
#include <climits>
#include <memory>
#include <optional>
#include <string>

#include "gateway/arg_parser.h"
#include "gateway/commands/commands.h"
#include "gateway/commands/read_helpers.h"
#include "gateway/commands/rmw.h"
#include "gateway/errors.h"
#include "gateway/server_context.h"
#include "gateway/session.h"
#include "kvmap/key_codec.h"
#include "kvmap/ttl.h"

namespace gateway {
namespace {

using kvmap::KvStatus;

// How the time argument of an EXPIRE-family command reads.
struct ExpireForm {
  std::string_view name;  // as Redis prints it in "invalid expire time in '<name>' command"
  bool is_seconds;        // EXPIRE, EXPIREAT
  bool is_absolute;       // EXPIREAT, PEXPIREAT (else relative to now)
};

// The parsed arguments of an EXPIRE-family call, and its outcome across RMW attempts.
struct ExpireState {
  bool nx = false, xx = false, gt = false, lt = false;
  int64_t when_ms = 0;  // absolute deadline, Unix ms; may be negative (already past)
  int64_t reply = 0;    // 1 when the deadline was set (or the key deleted), else 0
};

// Redis 7.0's parseExtendedExpireArgumentsOrReply followed by the conversion of
// expireGenericCommand: options first (an unknown one is reported before a bad number), then
// the integer, then the overflow checks. Returns an error text, or empty on success.
std::string ParseExpire(const Call& call, const ExpireForm& form, ExpireState* st) {
  ArgParser p(call, 3);
  while (p.HasNext()) {
    if (p.Accept("NX")) {
      st->nx = true;
    } else if (p.Accept("XX")) {
      st->xx = true;
    } else if (p.Accept("GT")) {
      st->gt = true;
    } else if (p.Accept("LT")) {
      st->lt = true;
    } else {
      return errors::UnsupportedOption(p.Peek());
    }
  }
  if (st->nx && (st->xx || st->gt || st->lt)) return std::string(errors::kExpireNxConflict);
  if (st->gt && st->lt) return std::string(errors::kExpireGtLtConflict);

  std::optional<int64_t> when = ParseInt64(call.arg(2));
  if (!when) return std::string(errors::kNotInteger);
  int64_t ms = *when;
  // Negative times are allowed (the key is deleted); only overflow is an error.
  if (form.is_seconds) {
    if (ms > LLONG_MAX / 1000 || ms < LLONG_MIN / 1000) {
      return errors::InvalidExpireTime(form.name);
    }
    ms *= 1000;
  }
  const int64_t base = form.is_absolute ? 0 : kvmap::NowUnixMs();
  if (ms > LLONG_MAX - base) return errors::InvalidExpireTime(form.name);
  st->when_ms = ms + base;
  return {};
}

// The headers of `live` that may be written again, without its deadline or its events (those
// were the previous write's).
kvmap::Headers HeadersWithoutDeadline(const kvmap::Entry& live) {
  kvmap::Headers out;
  for (const kvmap::Header& h : live.headers) {
    if (h.first == kvmap::kHdrExpiresAt || h.first == kvmap::kHdrEvent ||
        !kvmap::IsWritableHeader(h.first)) {
      continue;
    }
    out.push_back(h);
  }
  return out;
}

// True when the NX/XX/GT/LT conditions let `when` replace `current` (nullopt: no deadline,
// which GT and LT treat as infinite).
bool ExpireConditionsHold(const ExpireState& st, std::optional<int64_t> current) {
  if (st.nx && current) return false;
  if (st.xx && !current) return false;
  if (st.gt && (!current || st.when_ms <= *current)) return false;
  if (st.lt && current && st.when_ms >= *current) return false;
  return true;
}

void ExpireOnBucket(Call& call, std::shared_ptr<ExpireState> st) {
  ReadModifyWriteMeta(
      call, kvmap::EncodeKey(call.arg(1)),
      [st](Call&, const kvmap::Entry* live) {
        RmwDecision d;
        st->reply = 0;
        if (live == nullptr) return d;  // no key: 0
        if (!ExpireConditionsHold(*st, kvmap::ExpiresAt(*live))) return d;
        st->reply = 1;
        if (st->when_ms <= kvmap::NowUnixMs()) {
          d.kind = RmwDecision::Kind::kDelete;  // checkAlreadyExpired: the key goes at once
          return d;
        }
        d.kind = RmwDecision::Kind::kPut;
        d.value = live->value;
        d.headers = HeadersWithoutDeadline(*live);
        d.headers.emplace_back(std::string(kvmap::kHdrExpiresAt), std::to_string(st->when_ms));
        d.events = "expire";
        return d;
      },
      [st](Call& c, const RmwDecision&) {
        c.reply().Integer(st->reply);
        c.Finish();
      });
}

void ExpireGeneric(Call& call, const ExpireForm& form) {
  auto st = std::make_shared<ExpireState>();
  std::string error = ParseExpire(call, form, st.get());
  if (!error.empty()) {
    call.ReplyError(error);
    return;
  }
  call.server().RunWithBucket(call, [st](Call& c) { ExpireOnBucket(c, st); });
}

// Reads the key of a one-key read command and calls fn(call, live entry or nullptr). Replies
// itself, and skips fn, on a backend failure.
template <class F>
void ReadLive(Call& call, F fn) {
  call.server().RunWithBucket(call, [fn](Call& c) {
    c.backend().GetPointer(c.bucket(), kvmap::EncodeKey(c.arg(1)),
                    c.Bind<kvmap::GetResult>([fn](Call& c2, kvmap::GetResult r) {
                      if (r.status != KvStatus::kOk && r.status != KvStatus::kNotFound) {
                        c2.ReplyKvError(r.status, r.detail);
                        return;
                      }
                      const bool is_live =
                          r.status == KvStatus::kOk && kvmap::IsLiveNow(r.entry);
                      CountLookup(c2, is_live);
                      fn(c2, is_live ? &r.entry : nullptr);
                    }));
  });
}

// Redis 7.0's ttlGenericCommand: -2 without a key, -1 without a deadline, else the remaining
// time (or the deadline itself) in ms or in seconds rounded to nearest.
void TtlGeneric(Call& call, bool output_ms, bool output_absolute) {
  ReadLive(call, [output_ms, output_absolute](Call& c, const kvmap::Entry* live) {
    int64_t ttl = -1;
    if (live == nullptr) {
      ttl = -2;
    } else if (std::optional<int64_t> at = kvmap::ExpiresAt(*live)) {
      ttl = output_absolute ? *at : *at - kvmap::NowUnixMs();
      if (ttl < 0) ttl = 0;
      if (!output_ms) ttl = (ttl + 500) / 1000;
    }
    c.reply().Integer(ttl);
    c.Finish();
  });
}

void PersistOnBucket(Call& call) {
  auto reply = std::make_shared<int64_t>(0);
  ReadModifyWriteMeta(
      call, kvmap::EncodeKey(call.arg(1)),
      [reply](Call&, const kvmap::Entry* live) {
        RmwDecision d;
        *reply = 0;
        if (live == nullptr || !kvmap::ExpiresAt(*live)) return d;  // 0, nothing written
        *reply = 1;
        d.kind = RmwDecision::Kind::kPut;
        d.value = live->value;
        d.headers = HeadersWithoutDeadline(*live);
        d.events = "persist";
        return d;
      },
      [reply](Call& c, const RmwDecision&) {
        c.reply().Integer(*reply);
        c.Finish();
      });
}

}  // namespace

void CmdExpire(Call& call) { ExpireGeneric(call, {"expire", true, false}); }

void CmdPExpire(Call& call) { ExpireGeneric(call, {"pexpire", false, false}); }

void CmdExpireAt(Call& call) { ExpireGeneric(call, {"expireat", true, true}); }

void CmdPExpireAt(Call& call) { ExpireGeneric(call, {"pexpireat", false, true}); }

void CmdTtl(Call& call) { TtlGeneric(call, /*output_ms=*/false, /*output_absolute=*/false); }

void CmdPTtl(Call& call) { TtlGeneric(call, /*output_ms=*/true, /*output_absolute=*/false); }

void CmdExpireTime(Call& call) { TtlGeneric(call, /*output_ms=*/false, /*output_absolute=*/true); }

void CmdPExpireTime(Call& call) { TtlGeneric(call, /*output_ms=*/true, /*output_absolute=*/true); }

void CmdPersist(Call& call) { call.server().RunWithBucket(call, PersistOnBucket); }

void CmdType(Call& call) {
  ReadLive(call, [](Call& c, const kvmap::Entry* live) {
    c.reply().SimpleString(live == nullptr ? std::string_view("none") : kvmap::EntryType(*live));
    c.Finish();
  });
}

}  // namespace gateway
