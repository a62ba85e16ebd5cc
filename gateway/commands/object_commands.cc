// SPDX-License-Identifier: Apache-2.0
//
// OBJECT ENCODING, FREQ, IDLETIME, REFCOUNT and HELP, as Redis 7.0.15 answers them
// (src/object.c objectCommand). A missing key answers nil for every subcommand.
//
// The gateway keeps no Redis objects, so the answers are derived from the stored entry:
//   * ENCODING of a string is what Redis's tryObjectEncoding gives a value written by SET:
//     "int" for a canonical integer of at most 20 characters that fits a long, else "embstr"
//     up to 44 bytes, else "raw". (Redis keeps APPEND and SETRANGE results "raw" whatever
//     their length; the gateway cannot tell how a value was written.)
//   * REFCOUNT is 2147483647 for the shared integers 0..9999 (the gateway has no maxmemory,
//     so Redis would share them), else 1.
//   * FREQ answers Redis's error for a non-LFU policy (the gateway has no eviction policy).
//   * IDLETIME is the whole seconds since the entry's last write (its NATS timestamp), not
//     since its last access: reads are not recorded.
//
// Thread: the loop thread.
#include <cstdint>
#include <iterator>
#include <optional>
#include <string_view>

#include "gateway/arg_parser.h"
#include "gateway/commands/commands.h"
#include "gateway/errors.h"
#include "gateway/server_context.h"
#include "gateway/session.h"
#include "kvmap/key_codec.h"
#include "kvmap/ttl.h"

namespace gateway {
namespace {

using kvmap::KvStatus;

// Redis 7.0's OBJ_ENCODING_EMBSTR_SIZE_LIMIT and OBJ_SHARED_INTEGERS.
constexpr size_t kEmbstrSizeLimit = 44;
constexpr int64_t kSharedIntegers = 10000;
constexpr int64_t kSharedRefcount = 2147483647;  // OBJ_SHARED_REFCOUNT (INT_MAX)

// The value as an integer when tryObjectEncoding would store it as one.
std::optional<int64_t> IntEncoded(std::string_view value) {
  if (value.size() > 20) return std::nullopt;
  return ParseInt64(value);  // string2l: canonical form only
}

std::string_view StringEncoding(std::string_view value) {
  if (IntEncoded(value)) return "int";
  return value.size() <= kEmbstrSizeLimit ? "embstr" : "raw";
}

// Reads the key (argument 2) and calls fn(call, live entry); replies nil when the key does not
// exist and the backend error when the read fails. Counts a keyspace hit or miss, as Redis's
// lookupKeyReadWithFlags does.
template <class F>
void LookupObject(Call& call, F fn) {
  call.server().RunWithBucket(call, [fn](Call& c) {
    c.backend().GetPointer(c.bucket(), kvmap::EncodeKey(c.arg(2)),
                    c.Bind<kvmap::GetResult>([fn](Call& c2, kvmap::GetResult r) {
                      if (r.status != KvStatus::kOk && r.status != KvStatus::kNotFound) {
                        c2.ReplyKvError(r.status, r.detail);
                        return;
                      }
                      const bool is_live =
                          r.status == KvStatus::kOk && kvmap::IsLiveNow(r.entry);
                      ServerStats& stats = c2.server().stats();
                      ++(is_live ? stats.keyspace_hits : stats.keyspace_misses);
                      if (!is_live) {
                        c2.reply().Null();
                        c2.Finish();
                        return;
                      }
                      fn(c2, r.entry);
                    }));
  });
}

}  // namespace

void CmdObjectEncoding(Call& call) {
  LookupObject(call, [](Call& c, const kvmap::Entry& e) {
    // A large value (its pointer was read, not the value) is far beyond embstr's 44 bytes.
    const bool is_object = kvmap::FindHeader(e.headers, kvmap::kHdrObject).has_value();
    c.reply().Bulk(is_object ? std::string_view("raw") : StringEncoding(e.value));
    c.Finish();
  });
}

void CmdObjectRefCount(Call& call) {
  LookupObject(call, [](Call& c, const kvmap::Entry& e) {
    std::optional<int64_t> v = IntEncoded(e.value);
    const bool is_shared = v && *v >= 0 && *v < kSharedIntegers;
    c.reply().Integer(is_shared ? kSharedRefcount : 1);
    c.Finish();
  });
}

void CmdObjectIdleTime(Call& call) {
  LookupObject(call, [](Call& c, const kvmap::Entry& e) {
    int64_t idle_s = 0;
    if (e.timestamp_ns > 0) {
      const int64_t idle_ms = kvmap::NowUnixMs() - e.timestamp_ns / 1000000;
      if (idle_ms > 0) idle_s = idle_ms / 1000;
    }
    c.reply().Integer(idle_s);
    c.Finish();
  });
}

void CmdObjectFreq(Call& call) {
  LookupObject(call, [](Call& c, const kvmap::Entry&) { c.ReplyError(errors::kLfuNotSelected); });
}

void CmdObjectHelp(Call& call) {
  // Redis's addReplyHelp: a header line, the command's lines, then HELP.
  static constexpr std::string_view kLines[] = {
      "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "ENCODING <key>",
      "    Return the kind of internal representation used in order to store the value",
      "    associated with a <key>.",
      "FREQ <key>",
      "    Return the access frequency index of the <key>. The returned integer is",
      "    proportional to the logarithm of the recent access frequency of the key.",
      "IDLETIME <key>",
      "    Return the idle time of the <key>, that is the approximated number of",
      "    seconds elapsed since the last access to the key.",
      "REFCOUNT <key>",
      "    Return the number of references of the value associated with the specified",
      "    <key>.",
      "HELP",
      "    Prints this help.",
  };
  call.reply().ArrayHeader(std::size(kLines));
  for (std::string_view line : kLines) call.reply().SimpleString(line);
  call.Finish();
}

}  // namespace gateway
