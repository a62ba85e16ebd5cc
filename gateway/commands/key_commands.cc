// SPDX-License-Identifier: Apache-2.0
//
// Generic key commands: DEL (UNLINK shares its handler), EXISTS and TOUCH. DEL is a
// read-modify-write per key (rmw.h): it reads the key and writes a delete marker with CAS on
// the revision it saw, so it counts exactly the keys it removed, never deletes a value written
// after its read, and resends after a lost acknowledgement (DESIGN.md decisions 2 and 7).
#include <memory>

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

// Shared by the per-key branches of a fan-out command.
struct FanOut {
  size_t outstanding = 0;
  int64_t count = 0;
  KvStatus error = KvStatus::kOk;
  std::string error_detail;

  void Fail(KvStatus status, std::string detail) {
    if (error == KvStatus::kOk) {
      error = status;
      error_detail = std::move(detail);
    }
  }
  // Replies once the last branch is done.
  void Done(Call& call) {
    if (--outstanding > 0) return;
    if (error != KvStatus::kOk) {
      call.ReplyKvError(error, error_detail);
    } else {
      call.reply().Integer(count);
      call.Finish();
    }
  }
};

void DelOnBucket(Call& call) {
  auto fan = std::make_shared<FanOut>();
  fan->outstanding = call.argc() - 1;
  for (size_t i = 1; i < call.argc(); ++i) {
    // ReadModifyWrite replies a backend failure itself (finishing the call, so the other keys'
    // completions are dropped); `done` runs only for keys it settled.
    ReadModifyWriteMeta(
        call, kvmap::EncodeKey(call.arg(i)),
        [](Call&, const kvmap::Entry* live) {
          RmwDecision d;
          if (live) d.kind = RmwDecision::Kind::kDelete;
          return d;
        },
        [fan](Call& c, const RmwDecision& d) {
          if (d.kind == RmwDecision::Kind::kDelete) ++fan->count;
          fan->Done(c);
        });
  }
}

// EXISTS and TOUCH: counts the keys that exist (a key named twice counts twice). TOUCH also
// counts keyspace hits and misses, as Redis 7.0's lookupKeyRead does; there is no access time
// to update (no eviction).
void CountExisting(Call& call, bool count_stats) {
  auto fan = std::make_shared<FanOut>();
  fan->outstanding = call.argc() - 1;
  for (size_t i = 1; i < call.argc(); ++i) {
    call.backend().GetPointer(call.bucket(), kvmap::EncodeKey(call.arg(i)),
                       call.Bind<kvmap::GetResult>([fan, count_stats](Call& c,
                                                                      kvmap::GetResult r) {
                         if (r.status == KvStatus::kOk || r.status == KvStatus::kNotFound) {
                           const bool is_live = r.status == KvStatus::kOk &&
                                                kvmap::IsLiveNow(r.entry);
                           if (is_live) ++fan->count;
                           if (count_stats) {
                             ServerStats& stats = c.server().stats();
                             ++(is_live ? stats.keyspace_hits : stats.keyspace_misses);
                           }
                         } else {
                           fan->Fail(r.status, r.detail);
                         }
                         fan->Done(c);
                       }));
  }
}

}  // namespace

void CmdDel(Call& call) { call.server().RunWithBucket(call, DelOnBucket); }

void CmdExists(Call& call) {
  call.server().RunWithBucket(call, [](Call& c) { CountExisting(c, /*count_stats=*/false); });
}

void CmdTouch(Call& call) {
  call.server().RunWithBucket(call, [](Call& c) { CountExisting(c, /*count_stats=*/true); });
}

}  // namespace gateway
