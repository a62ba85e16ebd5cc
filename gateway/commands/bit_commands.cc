// SPDX-License-Identifier: Apache-2.0
//
// Bitmap commands: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD and BITFIELD_RO. The bit
// maths is kvmap/string_ops.h; this file decides what to read and write.
//
//   * SETBIT, and BITFIELD with a SET or INCRBY, are read-modify-writes (rmw.h): CAS on the
//     revision read, retried on conflict, resent with the same Nats-Msg-Id when the
//     acknowledgement is lost. They keep the key's TTL, as Redis does, and write nothing when the
//     stored bytes would not change.
//   * GETBIT, BITCOUNT, BITPOS, BITFIELD_RO and GET-only BITFIELD are one read.
//   * BITOP reads every source in parallel, then writes the destination as a blind put without
//     a deadline (Redis's setKey drops the TTL). An empty result deletes the destination, as
//     Redis does, through a read-modify-write that writes a delete marker only when the key
//     exists.
//
// Arguments are checked in Redis 7.0.15's order (bitops.c). Where Redis checks them before the
// key lookup (SETBIT, GETBIT, the BITPOS bit, BITOP's operation, BITFIELD), they are checked
// here before anything is sent. BITCOUNT and the rest of BITPOS are checked after the read,
// because Redis answers a missing key (0, or -1/0) before looking at them, and WRONGTYPE before
// a bad argument.
//
// Thread: the loop thread.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/commands/commands.h"
#include "gateway/commands/rmw.h"
#include "gateway/errors.h"
#include "gateway/server_context.h"
#include "gateway/session.h"
#include "kvmap/key_codec.h"
#include "kvmap/string_ops.h"
#include "kvmap/ttl.h"
#include "resp/request_parser.h"

namespace gateway {
namespace {

using kvmap::KvStatus;

// The call's arguments from `first` on, as views valid while the call lives.
std::vector<std::string_view> ArgsFrom(const Call& call, size_t first) {
  std::vector<std::string_view> args;
  for (size_t i = first; i < call.argc(); ++i) args.push_back(call.arg(i));
  return args;
}

// Called with the key's live entry (nullptr when it does not exist now). Must reply.
using ReadFn = std::function<void(Call& call, const kvmap::Entry* live)>;

// Reads the key at argument `key_arg` once the bucket is known, counts a keyspace hit or miss
// (as Redis's lookupKeyRead does), and runs `fn`. Backend failures are replied here instead.
void ReadKeyThen(Call& call, size_t key_arg, ReadFn fn) {
  call.server().RunWithBucket(call, [key_arg, fn = std::move(fn)](Call& c) {
    c.backend().Get(c.bucket(), kvmap::EncodeKey(c.arg(key_arg)),
                    c.Bind<kvmap::GetResult>([fn](Call& c2, kvmap::GetResult r) {
                      if (r.status != KvStatus::kOk && r.status != KvStatus::kNotFound) {
                        c2.ReplyKvError(r.status, r.detail);
                        return;
                      }
                      const bool is_live =
                          r.status == KvStatus::kOk && kvmap::IsLiveNow(r.entry);
                      ServerStats& stats = c2.server().stats();
                      ++(is_live ? stats.keyspace_hits : stats.keyspace_misses);
                      fn(c2, is_live ? &r.entry : nullptr);
                    }));
  });
}

void ReplyBitfieldResults(Call& call, const kvmap::BitfieldOutcome& outcome) {
  call.reply().ArrayHeader(outcome.results.size());
  for (const std::optional<int64_t>& result : outcome.results) {
    if (result) {
      call.reply().Integer(*result);
    } else {
      call.reply().Null();  // an op skipped by OVERFLOW FAIL
    }
  }
  call.Finish();
}

// BITFIELD/BITFIELD_RO without SET or INCRBY: one read, nothing written (a missing key reads
// as zeros).
void BitfieldRead(Call& call, std::shared_ptr<const kvmap::BitfieldPlan> plan) {
  ReadKeyThen(call, 1, [plan](Call& c, const kvmap::Entry* live) {
    if (live != nullptr && !kvmap::IsString(*live)) {
      c.ReplyError(errors::kWrongType);
      return;
    }
    ReplyBitfieldResults(c, kvmap::ApplyBitfield(LiveValue(live), *plan));
  });
}

// BITFIELD with SET or INCRBY. Like Redis, a missing key is created (zero filled up to the
// farthest written bit) even when every write fails under OVERFLOW FAIL.
void BitfieldWrite(Call& call, std::shared_ptr<const kvmap::BitfieldPlan> plan) {
  call.server().RunWithBucket(call, [plan](Call& c) {
    auto outcome = std::make_shared<kvmap::BitfieldOutcome>();
    ReadModifyWrite(
        c, kvmap::EncodeKey(c.arg(1)),
        [plan, outcome](Call&, const kvmap::Entry* live) {
          if (live != nullptr && !kvmap::IsString(*live)) return ErrorDecision(errors::kWrongType);
          *outcome = kvmap::ApplyBitfield(LiveValue(live), *plan);
          RmwDecision d;
          if (!outcome->is_modified || !outcome->new_value) return d;  // kNoWrite
          d.kind = RmwDecision::Kind::kPut;
          d.value = std::move(*outcome->new_value);
          d.headers = KeepTtlHeaders(live);
          d.events = "setbit";  // Redis 7.0 names BITFIELD's writes so too
          return d;
        },
        [outcome](Call& done, const RmwDecision&) { ReplyBitfieldResults(done, *outcome); });
  });
}

// Parses BITFIELD's (or BITFIELD_RO's) subcommands, then reads or read-modify-writes.
void RunBitfield(Call& call, bool is_ro_command) {
  std::vector<std::string_view> args = ArgsFrom(call, 2);
  kvmap::StrResult<kvmap::BitfieldPlan> plan = kvmap::ParseBitfield(args, is_ro_command);
  if (!plan.ok()) {
    call.ReplyError(plan.error_text());
    return;
  }
  auto shared = std::make_shared<const kvmap::BitfieldPlan>(std::move(plan).value());
  if (shared->has_writes) {
    BitfieldWrite(call, std::move(shared));
  } else {
    BitfieldRead(call, std::move(shared));
  }
}

// BITOP's state across its parallel reads.
struct BitOpState {
  kvmap::BitOpKind kind = kvmap::BitOpKind::kAnd;
  std::vector<std::string> values;  // one per source; "" for a missing key
  size_t outstanding = 0;
  bool is_wrong_type = false;
  KvStatus error = KvStatus::kOk;
  std::string error_detail;
};

void BitOpReplyLength(Call& call, int64_t length) {
  call.reply().Integer(length);
  call.Finish();
}

// Stores the result in the destination (argument 2): a put without headers (no deadline), or a
// delete marker when the result is empty and the destination exists.
void BitOpStore(Call& call, std::shared_ptr<BitOpState> st) {
  std::vector<std::string_view> sources(st->values.begin(), st->values.end());
  auto result = std::make_shared<std::string>(kvmap::BitOp(st->kind, sources));
  st->values.clear();
  const int64_t length = static_cast<int64_t>(result->size());
  std::string dest = kvmap::EncodeKey(call.arg(2));
  if (result->empty()) {
    ReadModifyWrite(
        call, std::move(dest),
        [](Call&, const kvmap::Entry* live) {
          RmwDecision d;
          if (live != nullptr) d.kind = RmwDecision::Kind::kDelete;
          return d;
        },
        [](Call& done, const RmwDecision&) { BitOpReplyLength(done, 0); });
    return;
  }
  kvmap::WriteRequest w;
  w.bucket = call.bucket();
  w.key = dest;
  w.value = *result;
  w.headers.push_back(EventHeader("set"));
  call.backend().Write(w, call.Bind<kvmap::WriteResult>([length](Call& c, kvmap::WriteResult r) {
    if (r.status != KvStatus::kOk) {
      c.ReplyKvError(r.status, r.detail);
      return;
    }
    BitOpReplyLength(c, length);
  }));
}

void BitOpOnBucket(Call& call, std::shared_ptr<BitOpState> st) {
  const size_t num_sources = call.argc() - 3;
  st->values.resize(num_sources);
  st->outstanding = num_sources;
  for (size_t i = 0; i < num_sources; ++i) {
    call.backend().Get(
        call.bucket(), kvmap::EncodeKey(call.arg(3 + i)),
        call.Bind<kvmap::GetResult>([st, i](Call& c, kvmap::GetResult r) {
          if (r.status == KvStatus::kOk && kvmap::IsLiveNow(r.entry)) {
            ++c.server().stats().keyspace_hits;
            if (kvmap::IsString(r.entry)) {
              st->values[i] = std::move(r.entry.value);
            } else {
              st->is_wrong_type = true;
            }
          } else if (r.status == KvStatus::kOk || r.status == KvStatus::kNotFound) {
            ++c.server().stats().keyspace_misses;  // missing: an empty string
          } else if (st->error == KvStatus::kOk) {
            st->error = r.status;
            st->error_detail = std::move(r.detail);
          }
          if (--st->outstanding > 0) return;
          if (st->error != KvStatus::kOk) {
            c.ReplyKvError(st->error, st->error_detail);
          } else if (st->is_wrong_type) {
            c.ReplyError(errors::kWrongType);
          } else {
            BitOpStore(c, st);
          }
        }));
  }
}

}  // namespace

void CmdSetBit(Call& call) {
  kvmap::StrResult<uint64_t> offset = kvmap::ParseBitOffset(call.arg(2));
  if (!offset.ok()) {
    call.ReplyError(offset.error_text());
    return;
  }
  kvmap::StrResult<int> bit = kvmap::ParseBitValue(call.arg(3));
  if (!bit.ok()) {
    call.ReplyError(bit.error_text());
    return;
  }
  call.server().RunWithBucket(call, [offset = *offset, bit = *bit](Call& c) {
    auto old_bit = std::make_shared<int>(0);
    ReadModifyWrite(
        c, kvmap::EncodeKey(c.arg(1)),
        [offset, bit, old_bit](Call&, const kvmap::Entry* live) {
          if (live != nullptr && !kvmap::IsString(*live)) return ErrorDecision(errors::kWrongType);
          kvmap::SetBitOutcome outcome = kvmap::SetBit(LiveValue(live), offset, bit);
          *old_bit = outcome.old_bit;
          RmwDecision d;
          if (!outcome.is_modified) return d;  // kNoWrite: the bit already had that value
          d.kind = RmwDecision::Kind::kPut;
          d.value = std::move(outcome.new_value);
          d.headers = KeepTtlHeaders(live);
          d.events = "setbit";
          return d;
        },
        [old_bit](Call& done, const RmwDecision&) {
          done.reply().Integer(*old_bit);
          done.Finish();
        });
  });
}

void CmdGetBit(Call& call) {
  kvmap::StrResult<uint64_t> offset = kvmap::ParseBitOffset(call.arg(2));
  if (!offset.ok()) {
    call.ReplyError(offset.error_text());
    return;
  }
  ReadKeyThen(call, 1, [offset = *offset](Call& c, const kvmap::Entry* live) {
    if (live != nullptr && !kvmap::IsString(*live)) {
      c.ReplyError(errors::kWrongType);
      return;
    }
    c.reply().Integer(live == nullptr ? 0 : kvmap::GetBit(live->value, offset));
    c.Finish();
  });
}

void CmdBitCount(Call& call) {
  ReadKeyThen(call, 1, [](Call& c, const kvmap::Entry* live) {
    if (live != nullptr && !kvmap::IsString(*live)) {
      c.ReplyError(errors::kWrongType);
      return;
    }
    std::vector<std::string_view> args = ArgsFrom(c, 2);
    kvmap::StrResult<int64_t> count = kvmap::BitCount(LiveValue(live), args);
    if (!count.ok()) {
      c.ReplyError(count.error_text());
      return;
    }
    c.reply().Integer(*count);
    c.Finish();
  });
}

void CmdBitPos(Call& call) {
  // The bit is checked before the lookup: with no value, BitPos checks only the bit.
  std::vector<std::string_view> args = ArgsFrom(call, 2);
  kvmap::StrResult<int64_t> checked = kvmap::BitPos(std::nullopt, args);
  if (!checked.ok()) {
    call.ReplyError(checked.error_text());
    return;
  }
  ReadKeyThen(call, 1, [](Call& c, const kvmap::Entry* live) {
    if (live != nullptr && !kvmap::IsString(*live)) {
      c.ReplyError(errors::kWrongType);
      return;
    }
    std::vector<std::string_view> rest = ArgsFrom(c, 2);
    kvmap::StrResult<int64_t> pos = kvmap::BitPos(LiveValue(live), rest);
    if (!pos.ok()) {
      c.ReplyError(pos.error_text());
      return;
    }
    c.reply().Integer(*pos);
    c.Finish();
  });
}

void CmdBitOp(Call& call) {
  kvmap::StrResult<kvmap::BitOpKind> kind = kvmap::ParseBitOp(call.arg(1), call.argc() - 3);
  if (!kind.ok()) {
    call.ReplyError(kind.error_text());
    return;
  }
  auto st = std::make_shared<BitOpState>();
  st->kind = *kind;
  call.server().RunWithBucket(call, [st](Call& c) { BitOpOnBucket(c, st); });
}

void CmdBitField(Call& call) { RunBitfield(call, /*is_ro_command=*/false); }

void CmdBitFieldRo(Call& call) { RunBitfield(call, /*is_ro_command=*/true); }

KeyAccess BitFieldAccess(const resp::Request& request) {
  // GET-only BITFIELD is a plain read. Anything else, including arguments that fail to parse
  // (answered without touching the backend), is treated as a write.
  std::vector<std::string_view> args;
  for (size_t i = 2; i < request.argc(); ++i) args.push_back(request.arg(i));
  kvmap::StrResult<kvmap::BitfieldPlan> plan = kvmap::ParseBitfield(args, false);
  return plan.ok() && !plan->has_writes ? KeyAccess::kRead : KeyAccess::kWrite;
}

}  // namespace gateway
