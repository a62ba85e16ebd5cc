// SPDX-License-Identifier: Apache-2.0
//
// Counter commands: INCR, DECR, INCRBY, DECRBY and INCRBYFLOAT. Each one is a read-modify-write
// through ReadModifyWrite (rmw.h): read the value and its revision, compute the new value with
// kvmap/string_ops.h, write it with CAS on that revision, and start over on a conflict
// (DESIGN.md decision 7). A lost acknowledgement is resolved by resending the identical message
// (same Nats-Msg-Id), so a counter never moves twice for one command (decision 2). The key's
// deadline is carried over to the new value, as Redis keeps the TTL (decision 6).
//
// Argument checks follow Redis 7.0.15 (t_string.c). The INCRBY/DECRBY argument is checked
// before anything is sent. INCRBYFLOAT is the exception: Redis checks the key's type and the
// stored value before the increment, so a bad increment on a key of another type answers
// WRONGTYPE; keeping that order means its increment is checked after the read (the read-modify-
// write then stops without writing).
//
// Thread: the loop thread.
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/commands/commands.h"
#include "gateway/commands/rmw.h"
#include "gateway/errors.h"
#include "gateway/server_context.h"
#include "gateway/session.h"
#include "kvmap/key_codec.h"
#include "kvmap/string_ops.h"
#include "kvmap/ttl.h"

namespace gateway {
namespace {

// Adds `delta` to the integer stored at the call's key (created as 0 when missing) and replies
// with the new value. `delta` has already been validated.
void IncrementBy(Call& call, int64_t delta) {
  call.server().RunWithBucket(call, [delta](Call& c) {
    auto result = std::make_shared<int64_t>(0);
    ReadModifyWrite(
        c, kvmap::EncodeKey(c.arg(1)),
        [delta, result](Call&, const kvmap::Entry* live) {
          if (live != nullptr && !kvmap::IsString(*live)) return ErrorDecision(errors::kWrongType);
          kvmap::StrResult<kvmap::IncrByValue> sum = kvmap::IncrBy(LiveValue(live), delta);
          if (!sum.ok()) return ErrorDecision(sum.error_text());
          *result = sum->value;
          RmwDecision d;
          d.kind = RmwDecision::Kind::kPut;
          d.value = sum->text;
          d.headers = KeepTtlHeaders(live);
          d.events = "incrby";  // also for DECR and DECRBY, as in Redis 7.0
          return d;
        },
        [result](Call& done, const RmwDecision&) {
          done.reply().Integer(*result);
          done.Finish();
        });
  });
}

void IncrByFloatOnBucket(Call& call) {
  ReadModifyWrite(
      call, kvmap::EncodeKey(call.arg(1)),
      [](Call& c, const kvmap::Entry* live) {
        if (live != nullptr && !kvmap::IsString(*live)) return ErrorDecision(errors::kWrongType);
        kvmap::StrResult<std::string> sum = kvmap::IncrByFloat(LiveValue(live), c.arg(2));
        if (!sum.ok()) return ErrorDecision(sum.error_text());
        RmwDecision d;
        d.kind = RmwDecision::Kind::kPut;
        d.value = std::move(sum).value();
        d.headers = KeepTtlHeaders(live);
        d.events = "incrbyfloat";
        return d;
      },
      [](Call& done, const RmwDecision& decision) {
        done.reply().Bulk(decision.value);
        done.Finish();
      });
}

}  // namespace

void CmdIncr(Call& call) { IncrementBy(call, 1); }

void CmdDecr(Call& call) { IncrementBy(call, -1); }

void CmdIncrBy(Call& call) {
  kvmap::StrResult<int64_t> delta = kvmap::ParseIncrement(call.arg(2));
  if (!delta.ok()) {
    call.ReplyError(delta.error_text());
    return;
  }
  IncrementBy(call, *delta);
}

void CmdDecrBy(Call& call) {
  // Already negated; -2^63 is refused here ("decrement would overflow"), before the key is read.
  kvmap::StrResult<int64_t> delta = kvmap::ParseDecrement(call.arg(2));
  if (!delta.ok()) {
    call.ReplyError(delta.error_text());
    return;
  }
  IncrementBy(call, *delta);
}

void CmdIncrByFloat(Call& call) { call.server().RunWithBucket(call, IncrByFloatOnBucket); }

}  // namespace gateway
