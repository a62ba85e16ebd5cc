// SPDX-License-Identifier: Apache-2.0
//
// String commands that work on parts of a value: APPEND, STRLEN, GETRANGE/SUBSTR, SETRANGE and
// LCS. The value maths (and its Redis 7.0 error texts) is kvmap/string_ops; this file reads,
// decides and writes. APPEND and SETRANGE are read-modify-writes through ReadModifyWrite
// (rmw.h) and keep the key's deadline (DESIGN.md decision 6).
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "gateway/commands/commands.h"
#include "gateway/commands/read_helpers.h"
#include "gateway/commands/rmw.h"
#include "gateway/errors.h"
#include "gateway/server_context.h"
#include "gateway/session.h"
#include "kvmap/key_codec.h"
#include "kvmap/string_ops.h"
#include "kvmap/ttl.h"

namespace gateway {
namespace {

using kvmap::KvStatus;

// The integer reply of a read-modify-write, kept across its attempts.
struct LengthReply {
  int64_t length = 0;
};

void AppendOnBucket(Call& call) {
  auto reply = std::make_shared<LengthReply>();
  ReadModifyWrite(
      call, kvmap::EncodeKey(call.arg(1)),
      [reply](Call& c, const kvmap::Entry* live) {
        if (live && !kvmap::IsString(*live)) return ErrorDecision(errors::kWrongType);
        std::optional<std::string_view> current;
        if (live) current = live->value;
        kvmap::StrResult<std::string> appended = kvmap::Append(current, c.arg(2));
        if (!appended.ok()) return ErrorDecision(appended.error_text());
        RmwDecision d;
        d.kind = RmwDecision::Kind::kPut;
        d.value = std::move(appended).value();
        d.headers = KeepTtlHeaders(live);
        d.events = "append";
        reply->length = static_cast<int64_t>(d.value.size());
        return d;
      },
      [reply](Call& c, const RmwDecision&) {
        c.reply().Integer(reply->length);
        c.Finish();
      });
}

void SetRangeOnBucket(Call& call, int64_t offset) {
  auto reply = std::make_shared<LengthReply>();
  ReadModifyWrite(
      call, kvmap::EncodeKey(call.arg(1)),
      [reply, offset](Call& c, const kvmap::Entry* live) {
        if (live && !kvmap::IsString(*live)) return ErrorDecision(errors::kWrongType);
        std::optional<std::string_view> current;
        if (live) current = live->value;
        kvmap::StrResult<kvmap::SetRangeOutcome> out = kvmap::SetRange(current, offset, c.arg(3));
        if (!out.ok()) return ErrorDecision(out.error_text());
        RmwDecision d;  // kNoWrite for an empty value: a missing key stays missing
        reply->length = out->length;
        if (out->new_value) {
          d.kind = RmwDecision::Kind::kPut;
          d.value = std::move(*out.value().new_value);
          d.headers = KeepTtlHeaders(live);
          d.events = "setrange";
        }
        return d;
      },
      [reply](Call& c, const RmwDecision&) {
        c.reply().Integer(reply->length);
        c.Finish();
      });
}

// --- LCS ---

struct LcsState {
  kvmap::StrResult<kvmap::LcsOptions> options = kvmap::LcsOptions{};
  std::string values[2];
  bool is_wrong_type = false;
  size_t outstanding = 2;
  KvStatus error = KvStatus::kOk;
  std::string error_detail;
};

void LcsReply(Call& call, const LcsState& st) {
  if (st.is_wrong_type) {
    call.ReplyError(kvmap::kErrLcsWrongType);
    return;
  }
  // Redis 7.0 checks the key types before it parses the options.
  if (!st.options.ok()) {
    call.ReplyError(st.options.error_text());
    return;
  }
  const kvmap::LcsOptions& o = *st.options;
  kvmap::StrResult<kvmap::LcsOutcome> r = kvmap::Lcs(st.values[0], st.values[1], o);
  if (!r.ok()) {
    call.ReplyError(r.error_text());
    return;
  }
  resp::ReplyWriter& w = call.reply();
  if (o.want_idx) {
    w.MapHeader(2);
    w.Bulk("matches");
    w.ArrayHeader(r->matches.size());
    for (const kvmap::LcsMatch& m : r->matches) {
      w.ArrayHeader(o.with_match_len ? 3 : 2);
      w.ArrayHeader(2);
      w.Integer(m.a_start);
      w.Integer(m.a_end);
      w.ArrayHeader(2);
      w.Integer(m.b_start);
      w.Integer(m.b_end);
      if (o.with_match_len) w.Integer(m.length);
    }
    w.Bulk("len");
    w.Integer(r->length);
  } else if (o.want_len) {
    w.Integer(r->length);
  } else {
    w.Bulk(r->lcs);
  }
  call.Finish();
}

void LcsOnBucket(Call& call, std::shared_ptr<LcsState> st) {
  for (size_t i = 0; i < 2; ++i) {
    call.backend().Get(call.bucket(), kvmap::EncodeKey(call.arg(i + 1)),
                       call.Bind<kvmap::GetResult>([st, i](Call& c, kvmap::GetResult r) {
                         if (r.status == KvStatus::kOk || r.status == KvStatus::kNotFound) {
                           const bool is_live = r.status == KvStatus::kOk &&
                                                kvmap::IsLiveNow(r.entry);
                           CountLookup(c, is_live);
                           if (is_live && !kvmap::IsString(r.entry)) st->is_wrong_type = true;
                           if (is_live) st->values[i] = std::move(r.entry.value);
                         } else if (st->error == KvStatus::kOk) {
                           st->error = r.status;
                           st->error_detail = std::move(r.detail);
                         }
                         if (--st->outstanding > 0) return;
                         if (st->error != KvStatus::kOk) {
                           c.ReplyKvError(st->error, st->error_detail);
                           return;
                         }
                         LcsReply(c, *st);
                       }));
  }
}

}  // namespace

void CmdAppend(Call& call) { call.server().RunWithBucket(call, AppendOnBucket); }

void CmdStrLen(Call& call) {
  call.server().RunWithBucket(call, [](Call& c) {
    ReadStringPointerOrReply(
        c, c.arg(1), [](Call& c2, const std::string* value, const kvmap::ObjectRef* object) {
          // A large value's length is in its pointer: nothing is read.
          uint64_t size = object ? object->size : value ? value->size() : 0;
          c2.reply().Integer(static_cast<int64_t>(size));
          c2.Finish();
        });
  });
}

void CmdGetRange(Call& call) {
  kvmap::StrResult<kvmap::IndexRange> range = kvmap::ParseGetRangeArgs(call.arg(2), call.arg(3));
  if (!range.ok()) {
    call.ReplyError(range.error_text());
    return;
  }
  const kvmap::IndexRange r = *range;
  call.server().RunWithBucket(call, [r](Call& c) {
    ReadStringPointerOrReply(
        c, c.arg(1), [r](Call& c2, const std::string* value, const kvmap::ObjectRef* object) {
          if (object) {
            // Only the chunks holding the range are read.
            auto [offset, length] = kvmap::GetRangeSpan(object->size, r.start, r.end);
            ReplyObjectRange(c2, *object, offset, length);
            return;
          }
          c2.reply().Bulk(value ? kvmap::GetRange(*value, r.start, r.end) : std::string_view());
          c2.Finish();
        });
  });
}

void CmdSetRange(Call& call) {
  kvmap::StrResult<int64_t> offset = kvmap::ParseSetRangeOffset(call.arg(2));
  if (!offset.ok()) {
    call.ReplyError(offset.error_text());
    return;
  }
  const int64_t off = *offset;
  call.server().RunWithBucket(call, [off](Call& c) { SetRangeOnBucket(c, off); });
}

void CmdLcs(Call& call) {
  auto st = std::make_shared<LcsState>();
  std::vector<std::string_view> args;
  for (size_t i = 3; i < call.argc(); ++i) args.push_back(call.arg(i));
  // Parsed now, reported after the reads: Redis 7.0 answers a key of another type first.
  st->options = kvmap::ParseLcsOptions(args);
  call.server().RunWithBucket(call, [st](Call& c) { LcsOnBucket(c, st); });
}

}  // namespace gateway
