// SPDX-License-Identifier: Apache-2.0
//
// MSETNX: all or nothing without a multi-subject batch (nats-server 2.9). Each key is read,
// then created with CAS on the revision read (so a key that appeared meanwhile is never
// overwritten). If any create loses its CAS, the creates that succeeded are undone, each with a
// delete that is itself a CAS on the revision the create got, so a newer write by someone else
// is never removed. Others can see the created keys for the moment between the creates and the
// undo (docs/compatibility.md).
#include <map>
#include <memory>
#include <string>
#include <vector>

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

struct MSetNxState {
  struct Item {
    std::string key;    // encoded
    std::string value;  // the last value given for the key (Redis sets in order)
    uint64_t read_revision = 0;
    uint64_t created_revision = 0;  // set once its create succeeded
  };
  std::vector<Item> items;
  size_t outstanding = 0;
  bool is_blocked = false;  // a key exists, or a create lost its CAS
  KvStatus error = KvStatus::kOk;
  std::string error_detail;
};

void Undo(Call& call, const std::shared_ptr<MSetNxState>& st) {
  std::vector<size_t> created;
  for (size_t i = 0; i < st->items.size(); ++i) {
    if (st->items[i].created_revision != 0) created.push_back(i);
  }
  auto reply = [st](Call& c) {
    if (st->error != KvStatus::kOk) {
      c.ReplyKvError(st->error, st->error_detail);
    } else {
      c.reply().Integer(0);
      c.Finish();
    }
  };
  if (created.empty()) {
    reply(call);
    return;
  }
  st->outstanding = created.size();
  for (size_t i : created) {
    kvmap::WriteRequest w;
    w.bucket = call.bucket();
    w.key = st->items[i].key;
    w.op = kvmap::EntryOp::kDelete;
    w.expected_revision = st->items[i].created_revision;
    w.headers.push_back(EventHeader("del"));
    call.backend().Write(w, call.Bind<kvmap::WriteResult>([st, reply](Call& c,
                                                                     kvmap::WriteResult r) {
      // A lost CAS here means someone wrote the key after our create: theirs stays.
      if (r.status != KvStatus::kOk && r.status != KvStatus::kRevisionMismatch &&
          st->error == KvStatus::kOk) {
        st->error = r.status;
        st->error_detail = std::move(r.detail);
      }
      if (--st->outstanding == 0) reply(c);
    }));
  }
}

void Create(Call& call, const std::shared_ptr<MSetNxState>& st) {
  st->outstanding = st->items.size();
  for (size_t i = 0; i < st->items.size(); ++i) {
    kvmap::WriteRequest w;
    w.bucket = call.bucket();
    w.key = st->items[i].key;
    w.value = st->items[i].value;
    w.expected_revision = st->items[i].read_revision;
    w.headers.push_back(EventHeader("set"));
    call.backend().Write(w, call.Bind<kvmap::WriteResult>([st, i](Call& c, kvmap::WriteResult r) {
      if (r.status == KvStatus::kOk) {
        st->items[i].created_revision = r.revision;
      } else if (r.status == KvStatus::kRevisionMismatch) {
        st->is_blocked = true;
      } else if (st->error == KvStatus::kOk) {
        st->error = r.status;
        st->error_detail = std::move(r.detail);
      }
      if (--st->outstanding > 0) return;
      if (!st->is_blocked && st->error == KvStatus::kOk) {
        c.reply().Integer(1);
        c.Finish();
        return;
      }
      Undo(c, st);
    }));
  }
}

void MSetNxOnBucket(Call& call) {
  auto st = std::make_shared<MSetNxState>();
  std::map<std::string, size_t> index;  // encoded key -> item
  for (size_t i = 1; i + 1 < call.argc(); i += 2) {
    std::string key = kvmap::EncodeKey(call.arg(i));
    auto [it, is_new] = index.emplace(key, st->items.size());
    if (is_new) {
      st->items.push_back({std::move(key), std::string(call.arg(i + 1))});
    } else {
      st->items[it->second].value = std::string(call.arg(i + 1));
    }
  }
  st->outstanding = st->items.size();
  for (size_t i = 0; i < st->items.size(); ++i) {
    call.backend().Get(
        call.bucket(), st->items[i].key,
        call.Bind<kvmap::GetResult>([st, i](Call& c, kvmap::GetResult r) {
          if (r.status == KvStatus::kOk) {
            st->items[i].read_revision = r.entry.revision;
            if (kvmap::IsLiveNow(r.entry)) st->is_blocked = true;
          } else if (r.status != KvStatus::kNotFound && st->error == KvStatus::kOk) {
            st->error = r.status;
            st->error_detail = std::move(r.detail);
          }
          if (--st->outstanding > 0) return;
          if (st->error != KvStatus::kOk) {
            c.ReplyKvError(st->error, st->error_detail);
          } else if (st->is_blocked) {
            c.reply().Integer(0);
            c.Finish();
          } else {
            Create(c, st);
          }
        }));
  }
}

}  // namespace

void CmdMSetNx(Call& call) {
  if (call.argc() % 2 == 0) {
    call.ReplyError(errors::WrongArity("msetnx"));
    return;
  }
  call.server().RunWithBucket(call, MSetNxOnBucket);
}

}  // namespace gateway
