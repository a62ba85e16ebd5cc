// SPDX-License-Identifier: Apache-2.0
//
// Generic key commands. DEL reads each key and writes a delete marker with CAS on the revision
// it saw, so it counts exactly the keys it removed and never deletes a value written after its
// read (DESIGN.md decision 7).
#include <memory>

#include "gateway/commands/commands.h"
#include "gateway/errors.h"
#include "gateway/server_context.h"
#include "gateway/session.h"
#include "kvmap/key_codec.h"
#include "kvmap/ttl.h"

namespace gateway {
namespace {

using kvmap::KvStatus;

constexpr int kMaxCasAttempts = 64;

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

void DeleteOne(Call& call, std::shared_ptr<FanOut> fan, std::shared_ptr<std::string> key,
               int attempt) {
  call.backend().Get(
      call.bucket(), *key,
      call.Bind<kvmap::GetResult>([fan, key, attempt](Call& c, kvmap::GetResult r) {
        if (r.status == KvStatus::kNotFound ||
            (r.status == KvStatus::kOk && !kvmap::IsLive(r.entry, kvmap::NowUnixMs()))) {
          fan->Done(c);
          return;
        }
        if (r.status != KvStatus::kOk) {
          fan->Fail(r.status, r.detail);
          fan->Done(c);
          return;
        }
        kvmap::WriteRequest w;
        w.bucket = c.bucket();
        w.key = *key;
        w.op = kvmap::EntryOp::kDelete;
        w.expected_revision = r.entry.revision;
        w.msg_id = c.server().NewMsgId();
        c.backend().Write(
            w, c.Bind<kvmap::WriteResult>([fan, key, attempt](Call& c2, kvmap::WriteResult wr) {
              if (wr.status == KvStatus::kOk) {
                ++fan->count;
                fan->Done(c2);
              } else if (wr.status == KvStatus::kRevisionMismatch &&
                         attempt + 1 < kMaxCasAttempts) {
                DeleteOne(c2, fan, key, attempt + 1);  // changed meanwhile: look again
              } else {
                fan->Fail(wr.status, wr.detail);
                fan->Done(c2);
              }
            }));
      }));
}

void DelOnBucket(Call& call) {
  auto fan = std::make_shared<FanOut>();
  fan->outstanding = call.argc() - 1;
  for (size_t i = 1; i < call.argc(); ++i) {
    DeleteOne(call, fan, std::make_shared<std::string>(kvmap::EncodeKey(call.arg(i))), 0);
  }
}

void ExistsOnBucket(Call& call) {
  auto fan = std::make_shared<FanOut>();
  fan->outstanding = call.argc() - 1;
  for (size_t i = 1; i < call.argc(); ++i) {
    call.backend().Get(call.bucket(), kvmap::EncodeKey(call.arg(i)),
                       call.Bind<kvmap::GetResult>([fan](Call& c, kvmap::GetResult r) {
                         if (r.status == KvStatus::kOk) {
                           if (kvmap::IsLive(r.entry, kvmap::NowUnixMs())) ++fan->count;
                         } else if (r.status != KvStatus::kNotFound) {
                           fan->Fail(r.status, r.detail);
                         }
                         fan->Done(c);
                       }));
  }
}

}  // namespace

void CmdDel(Call& call) { call.server().RunWithBucket(call, DelOnBucket); }

void CmdExists(Call& call) { call.server().RunWithBucket(call, ExistsOnBucket); }

}  // namespace gateway
