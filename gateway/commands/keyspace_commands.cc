// SPDX-License-Identifier: Apache-2.0
//
// Commands answered from the bucket follower's live-key index (DESIGN.md decision 5): DBSIZE,
// KEYS, SCAN and RANDOMKEY. None of them loads a value. Each is a barrier in its connection and
// first waits until the follower has applied every write the gateway has had acknowledged for
// the bucket, so a client sees its own writes (DBSIZE right after SET counts the key).
//
// Keys past their deadline are left out, as Redis does; DBSIZE counts them until the sweeper's
// delete marker arrives, as Redis's DBSIZE counts keys not yet reclaimed.
#include <charconv>
#include <random>

#include "gateway/arg_parser.h"
#include "gateway/commands/commands.h"
#include "gateway/config.h"
#include "gateway/errors.h"
#include "gateway/server_context.h"
#include "gateway/session.h"
#include "kvmap/key_codec.h"
#include "kvmap/keyspace_index.h"
#include "kvmap/ttl.h"

namespace gateway {
namespace {

using kvmap::KvStatus;

bool IsExpired(const kvmap::KeyspaceIndex::KeyInfo& info, int64_t now_ms) {
  return info.expires_at_ms != 0 && now_ms > info.expires_at_ms;
}

// Runs fn with the index of the call's bucket once the follower caught up; replies with the
// backend error otherwise.
template <class F>
void WithSyncedIndex(Call& call, F fn) {
  call.backend().WhenSynced(call.bucket(), call.Bind<KvStatus>([fn](Call& c, KvStatus st) mutable {
    const kvmap::KeyspaceIndex* index = st == KvStatus::kOk ? c.backend().Keyspace(c.bucket())
                                                            : nullptr;
    if (index == nullptr) {
      c.ReplyKvError(KvStatus::kUnavailable, "keyspace follower not available");
      return;
    }
    fn(c, *index);
  }));
}

// The encoded form every key matching `pattern` starts with: the encoding of the pattern's
// literal prefix (up to its first glob character). The encoding is per byte, except that a
// trailing ':' ends in "=" for the empty token it opens; "user:" encodes as "user.=" while
// "user:1" is "user.1", so that final "=" is dropped. Empty: no prefix to check.
std::string EncodedLiteralPrefix(std::string_view pattern) {
  size_t n = pattern.find_first_of("*?[\\");
  std::string_view literal = pattern.substr(0, n);
  if (literal.empty()) return {};
  std::string enc = kvmap::EncodeKey(literal);
  if (enc.size() >= 2 && enc[enc.size() - 1] == '=' && enc[enc.size() - 2] == '.') enc.pop_back();
  return enc;
}

struct ScanOptions {
  uint64_t cursor = 0;
  size_t count = 10;
  std::string_view pattern;  // empty: no MATCH
  std::string_view type;     // empty: no TYPE
};

}  // namespace

void CmdDbSize(Call& call) {
  WithSyncedIndex(call, [](Call& c, const kvmap::KeyspaceIndex& index) {
    c.reply().Integer(static_cast<int64_t>(index.size()));
    c.Finish();
  });
}

void CmdKeys(Call& call) {
  WithSyncedIndex(call, [](Call& c, const kvmap::KeyspaceIndex& index) {
    std::string_view pattern = c.arg(1);
    // Only keys with the pattern's literal prefix are decoded and matched (KEYS user:1* does
    // not decode every key of the database).
    const std::string prefix = EncodedLiteralPrefix(pattern);
    int64_t now = kvmap::NowUnixMs();
    std::vector<std::string> keys;
    index.ForEach([&](const std::string& encoded, const kvmap::KeyspaceIndex::KeyInfo& info) {
      if (!prefix.empty() && encoded.compare(0, prefix.size(), prefix) != 0) return;
      if (IsExpired(info, now)) return;
      std::optional<std::string> key = kvmap::DecodeKey(encoded);
      // KEYS * lists every key, the empty one included (Redis's allkeys shortcut).
      if (key && (pattern == "*" || GlobMatch(pattern, *key, /*nocase=*/false))) {
        keys.push_back(std::move(*key));
      }
    });
    c.reply().ArrayHeader(keys.size());
    for (const std::string& k : keys) c.reply().Bulk(k);
    c.Finish();
  });
}

void CmdScan(Call& call) {
  auto opts = std::make_shared<ScanOptions>();
  // Redis 7.0 parseScanCursorOrReply uses strtoul: no leading space, an optional sign (a minus
  // wraps around, so "-1" is the largest cursor), decimal digits to the end, no overflow. An
  // empty string is cursor 0. Matched on purpose.
  std::string_view cur = call.arg(1);
  bool is_negative = false;
  std::string_view digits = cur;
  if (!digits.empty() && (digits[0] == '+' || digits[0] == '-')) {
    is_negative = digits[0] == '-';
    digits.remove_prefix(1);
  }
  bool is_valid = true;
  if (!digits.empty()) {
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), opts->cursor);
    is_valid = ec == std::errc() && end == digits.data() + digits.size();
  } else {
    is_valid = cur.empty();  // a lone sign is "no digits": strtoul leaves eptr at the start
  }
  if (!is_valid) {
    call.ReplyError("ERR invalid cursor");
    return;
  }
  if (is_negative) opts->cursor = 0 - opts->cursor;
  ArgParser p(call, 2);
  while (p.HasNext()) {
    if (p.remaining() >= 2 && p.Accept("COUNT")) {
      auto n = p.NextInt();
      if (!n) {
        call.ReplyError(errors::kNotInteger);
        return;
      }
      if (*n < 1) {
        call.ReplyError(errors::kSyntax);
        return;
      }
      opts->count = static_cast<size_t>(*n);
    } else if (p.remaining() >= 2 && p.Accept("MATCH")) {
      opts->pattern = p.Next();
    } else if (p.remaining() >= 2 && p.Accept("TYPE")) {
      opts->type = p.Next();
    } else {
      call.ReplyError(errors::kSyntax);
      return;
    }
  }
  WithSyncedIndex(call, [opts](Call& c, const kvmap::KeyspaceIndex& index) {
    int64_t now = kvmap::NowUnixMs();
    std::vector<std::string> keys;
    uint64_t next = index.Scan(
        opts->cursor, opts->count,
        [&](const std::string& encoded, const kvmap::KeyspaceIndex::KeyInfo& info) {
          if (IsExpired(info, now)) return;
          // Every key the gateway indexes today is a string (other types come later).
          if (!opts->type.empty() && !EqualsIgnoreCase(opts->type, "string")) return;
          std::optional<std::string> key = kvmap::DecodeKey(encoded);
          if (!key) return;
          // MATCH * is no filter at all in Redis (the empty key included).
          if (!opts->pattern.empty() && opts->pattern != "*" &&
              !GlobMatch(opts->pattern, *key, false)) {
            return;
          }
          keys.push_back(std::move(*key));
        });
    c.reply().ArrayHeader(2);
    c.reply().Bulk(std::to_string(next));
    c.reply().ArrayHeader(keys.size());
    for (const std::string& k : keys) c.reply().Bulk(k);
    c.Finish();
  });
}

void CmdRandomKey(Call& call) {
  WithSyncedIndex(call, [](Call& c, const kvmap::KeyspaceIndex& index) {
    static thread_local std::mt19937_64 gen(std::random_device{}());
    int64_t now = kvmap::NowUnixMs();
    // A few tries past expired or undecodable keys, as Redis's dbRandomKey retries.
    for (int attempt = 0; attempt < 100; ++attempt) {
      std::optional<std::string> encoded = index.RandomKey(gen());
      if (!encoded) break;
      const kvmap::KeyspaceIndex::KeyInfo* info = index.Find(*encoded);
      if (info == nullptr || IsExpired(*info, now)) continue;
      if (std::optional<std::string> key = kvmap::DecodeKey(*encoded)) {
        c.reply().Bulk(*key);
        c.Finish();
        return;
      }
    }
    c.reply().Null();
    c.Finish();
  });
}

}  // namespace gateway
