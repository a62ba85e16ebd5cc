// SPDX-License-Identifier: Apache-2.0
//
// The parts of `migrate` that do no I/O (gateway/migrate.h): its flags, its counters, the
// checkpoint's JSON and the printable form of keys. Kept apart from the copy pipeline
// (migrate.cc) so that unit tests reach them without a Redis or a NATS server.
//
// The checkpoint is our own JSON, written by EncodeCheckpoint and read back by
// DecodeCheckpoint through the small reader below (objects, arrays, strings with the escapes
// AppendJsonString writes, numbers kept as text so a 64-bit SCAN cursor or counter loses
// nothing, true/false/null). It is not a general JSON parser.
//
// Thread: any. Pure functions.
#include <cctype>
#include <charconv>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gateway/migrate.h"
#include "kvmap/key_codec.h"

namespace gateway {
namespace {

// --- a small JSON reader, for the checkpoint (our own format) ----------------------------

struct Json {
  enum class Kind : uint8_t { kNull, kBool, kNumber, kString, kObject, kArray };
  Kind kind = Kind::kNull;
  bool boolean = false;
  std::string text;  // kString: the string; kNumber: the number as written
  // kObject: names[i] is the name of items[i]. kArray: items only. (Two vectors rather than
  // pairs: a std::pair member of the type being defined does not compile with clang.)
  std::vector<std::string> names;
  std::vector<Json> items;

  const Json* Get(std::string_view name) const {
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i] == name) return &items[i];
    }
    return nullptr;
  }
  std::optional<uint64_t> Uint() const {
    uint64_t v = 0;
    if (kind != Kind::kNumber) return std::nullopt;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || p != text.data() + text.size()) return std::nullopt;
    return v;
  }
  double Double() const { return kind == Kind::kNumber ? std::strtod(text.c_str(), nullptr) : 0; }
};

class JsonReader {
 public:
  explicit JsonReader(std::string_view s) : s_(s) {}
  std::optional<Json> ParseDocument() {
    Json v;
    if (!Parse(&v, 0)) return std::nullopt;
    Skip();
    if (pos_ != s_.size()) return std::nullopt;
    return v;
  }

 private:
  void Skip() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\r' || s_[pos_] == '\t')) {
      ++pos_;
    }
  }
  bool Literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }
  bool String(std::string* out) {
    if (pos_ >= s_.size() || s_[pos_] != '"') return false;
    ++pos_;
    while (pos_ < s_.size()) {
      char c = s_[pos_++];
      if (c == '"') return true;
      if (c != '\\') {
        out->push_back(c);
        continue;
      }
      if (pos_ >= s_.size()) return false;
      char e = s_[pos_++];
      switch (e) {
        case 'n':
          out->push_back('\n');
          break;
        case 'r':
          out->push_back('\r');
          break;
        case 't':
          out->push_back('\t');
          break;
        case 'b':
          out->push_back('\b');
          break;
        case 'f':
          out->push_back('\f');
          break;
        case 'u': {
          // Only what we write: \u00XX (one byte).
          if (pos_ + 4 > s_.size()) return false;
          unsigned v = 0;
          auto [p, ec] = std::from_chars(s_.data() + pos_, s_.data() + pos_ + 4, v, 16);
          if (ec != std::errc() || p != s_.data() + pos_ + 4 || v > 0xff) return false;
          out->push_back(static_cast<char>(v));
          pos_ += 4;
          break;
        }
        default:
          out->push_back(e);
      }
    }
    return false;
  }
  bool Parse(Json* v, int depth) {
    if (depth > 16) return false;
    Skip();
    if (pos_ >= s_.size()) return false;
    char c = s_[pos_];
    if (c == '{') {
      ++pos_;
      v->kind = Json::Kind::kObject;
      Skip();
      if (pos_ < s_.size() && s_[pos_] == '}') {
        ++pos_;
        return true;
      }
      while (true) {
        Skip();
        std::string name;
        if (!String(&name)) return false;
        Skip();
        if (pos_ >= s_.size() || s_[pos_++] != ':') return false;
        Json member;
        if (!Parse(&member, depth + 1)) return false;
        v->names.push_back(std::move(name));
        v->items.push_back(std::move(member));
        Skip();
        if (pos_ >= s_.size()) return false;
        if (s_[pos_] == ',') {
          ++pos_;
          continue;
        }
        if (s_[pos_++] != '}') return false;
        return true;
      }
    }
    if (c == '[') {
      ++pos_;
      v->kind = Json::Kind::kArray;
      Skip();
      if (pos_ < s_.size() && s_[pos_] == ']') {
        ++pos_;
        return true;
      }
      while (true) {
        Json item;
        if (!Parse(&item, depth + 1)) return false;
        v->items.push_back(std::move(item));
        Skip();
        if (pos_ >= s_.size()) return false;
        if (s_[pos_] == ',') {
          ++pos_;
          continue;
        }
        if (s_[pos_++] != ']') return false;
        return true;
      }
    }
    if (c == '"') {
      v->kind = Json::Kind::kString;
      return String(&v->text);
    }
    if (Literal("true")) {
      v->kind = Json::Kind::kBool;
      v->boolean = true;
      return true;
    }
    if (Literal("false")) {
      v->kind = Json::Kind::kBool;
      return true;
    }
    if (Literal("null")) return true;
    size_t start = pos_;
    while (pos_ < s_.size() &&
           (std::isdigit(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '-' ||
            s_[pos_] == '+' || s_[pos_] == '.' || s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
    }
    if (pos_ == start) return false;
    v->kind = Json::Kind::kNumber;
    v->text = std::string(s_.substr(start, pos_ - start));
    return true;
  }

  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace

// --- flags --------------------------------------------------------------------------------

std::string MigrateUsage() {
  return "Usage: redis-nats-gateway migrate --from redis://[user:pass@]HOST:PORT[/DB] "
         "[options] [NATS options]\n"
         "Copies the string keys of a live Redis into the NATS bucket of a database, keeping\n"
         "their TTLs; other types are skipped and reported. Resumable after a kill.\n"
         "  --from URL               the source Redis (redis://, a password in the URL is sent\n"
         "                           with AUTH; /DB selects its database)\n"
         "  --match PATTERN          only keys matching this glob (SCAN MATCH)\n"
         "  --to-db N                target database (default 0: bucket --bucket; N: bucket-N)\n"
         "  --resume                 continue the interrupted run of the same migration (same\n"
         "                           --from, --match and --to-db) from its checkpoint\n"
         "  --replace                overwrite keys that already exist in NATS (default: keep\n"
         "                           them; keys written or deleted through the gateway win)\n"
         "  --json                   print one JSON object with the results, no progress bar\n"
         "  --no-progress            no progress bar (it is shown only on a terminal anyway)\n"
         "  --scan-count N           SCAN COUNT hint (default 1000)\n"
         "  --window N               keys in flight at once (default 5000)\n"
         "  --verify                 compare instead of copying: each source key's value\n"
         "                           (SHA-256) and TTL against what the gateway reads from NATS;\n"
         "                           lists every mismatch, exit status 1 when there is any\n"
         "  --sample N               with --verify: check N random keys instead of all\n"
         "  --ttl-tolerance-ms MS    with --verify: TTLs may differ by this much (default 1000)\n"
         "NATS options are the gateway's: --nats URL (repeatable), --bucket, --replicas,\n"
         "--nats-creds, --nats-nkey, --nats-tls-ca/-cert/-key, --nats-timeout-ms,\n"
         "--object-threshold, --data-dir (without --nats: the nats-server a gateway runs for\n"
         "that directory, or one started for the duration).\n"
         "Exit status: 0 done, 1 failed (or --verify found mismatches), 2 usage error.\n";
}

std::string ParseMigrateFlags(int argc, char** argv, MigrateOptions* options, Config* config,
                              bool* wants_help) {
  *wants_help = false;
  std::vector<char*> rest{argc > 0 ? argv[0] : const_cast<char*>("redis-nats-gateway")};
  std::vector<std::string> nats_urls;
  std::vector<std::string> storage;  // the joined --nats value
  storage.reserve(1);
  bool has_sample = false, has_tolerance = false;
  for (int i = 2; i < argc; ++i) {
    std::string_view flag = argv[i];
    std::string_view inline_value;
    bool has_inline = false;
    if (flag.substr(0, 2) == "--") {
      if (size_t eq = flag.find('='); eq != std::string_view::npos) {
        inline_value = flag.substr(eq + 1);
        flag = flag.substr(0, eq);
        has_inline = true;
      }
    }
    if (flag == "--help" || flag == "-h") {
      *wants_help = true;
      return {};
    }
    auto boolean = [&](bool* out) -> std::string {
      if (has_inline) return std::string(flag) + " takes no value";
      *out = true;
      return {};
    };
    auto value = [&](std::string_view* out) -> bool {
      if (has_inline) {
        *out = inline_value;
        return true;
      }
      if (i + 1 >= argc) return false;
      *out = argv[++i];
      return true;
    };
    auto integer = [&](int64_t lo, int64_t hi, int64_t* out) -> std::string {
      std::string_view v;
      if (!value(&v)) return "missing value for " + std::string(flag);
      std::optional<int64_t> n = ParseInt64(v);
      if (!n || *n < lo || *n > hi) {
        return "invalid value '" + std::string(v) + "' for " + std::string(flag);
      }
      *out = *n;
      return {};
    };
    std::string err;
    if (flag == "--resume") {
      err = boolean(&options->is_resume);
    } else if (flag == "--replace") {
      err = boolean(&options->is_replace);
    } else if (flag == "--json") {
      err = boolean(&options->is_json);
    } else if (flag == "--no-progress") {
      err = boolean(&options->is_no_progress);
    } else if (flag == "--verify") {
      err = boolean(&options->is_verify);
    } else if (flag == "--from") {
      std::string_view v;
      if (!value(&v)) return "missing value for --from";
      options->from = std::string(v);
      std::string why = ParseRedisUrl(v, &options->source);
      if (!why.empty()) return "invalid --from '" + std::string(v) + "': " + why;
    } else if (flag == "--match") {
      std::string_view v;
      if (!value(&v)) return "missing value for --match";
      options->match = std::string(v);
    } else if (flag == "--to-db") {
      int64_t n = 0;
      err = integer(0, 1 << 20, &n);
      options->to_db = static_cast<int>(n);
    } else if (flag == "--sample") {
      err = integer(1, int64_t{1} << 32, &options->sample);
      has_sample = true;
    } else if (flag == "--ttl-tolerance-ms") {
      err = integer(0, int64_t{1} << 40, &options->ttl_tolerance_ms);
      has_tolerance = true;
    } else if (flag == "--scan-count") {
      err = integer(1, 1000000, &options->scan_count);
    } else if (flag == "--window") {
      err = integer(1, 10000000, &options->window);
    } else if (flag == "--nats") {
      std::string_view v;
      if (!value(&v)) return "missing value for --nats";
      nats_urls.emplace_back(v);
    } else {
      // The gateway's own flags: passed on with their value (ParseFlags checks them).
      rest.push_back(argv[i]);
      if (!has_inline && flag.substr(0, 2) == "--" && i + 1 < argc) rest.push_back(argv[++i]);
    }
    if (!err.empty()) return err;
  }
  if (!nats_urls.empty()) {
    std::string joined;
    for (const std::string& u : nats_urls) joined += (joined.empty() ? "" : ",") + u;
    storage.push_back("--nats=" + joined);
    rest.push_back(storage.back().data());
  }
  bool gateway_help = false;
  std::string err = ParseFlags(static_cast<int>(rest.size()), rest.data(), config, &gateway_help);
  if (gateway_help) {
    *wants_help = true;
    return {};
  }
  if (!err.empty()) return err;
  if (options->from.empty()) return "--from redis://HOST:PORT is required";
  if (options->to_db >= config->databases) {
    return "--to-db " + std::to_string(options->to_db) + " is not below --databases " +
           std::to_string(config->databases);
  }
  if (options->is_verify && options->is_resume) return "--verify and --resume do not go together";
  if (options->is_verify && options->is_replace) {
    return "--verify and --replace do not go together";
  }
  if (has_sample && !options->is_verify) return "--sample needs --verify";
  if (has_tolerance && !options->is_verify) return "--ttl-tolerance-ms needs --verify";
  return {};
}

// --- counters and checkpoint ---------------------------------------------------------------

uint64_t MigrateCounts::skipped() const {
  uint64_t n = 0;
  for (const auto& [type, count] : skipped_by_type) n += count;
  return n;
}

void MigrateCounts::Add(const MigrateCounts& o) {
  scanned += o.scanned;
  copied += o.copied;
  present += o.present;
  too_long += o.too_long;
  vanished += o.vanished;
  bytes += o.bytes;
  for (const auto& [type, count] : o.skipped_by_type) skipped_by_type[type] += count;
}

std::string EncodeCheckpoint(const MigrateCheckpoint& cp, std::string_view source,
                             const std::optional<std::string>& match, int to_db) {
  std::string o = "{\"version\":1,\"source\":";
  AppendJsonString(&o, source);
  o += ",\"match\":";
  if (match) {
    AppendJsonString(&o, PrintableKey(*match));
  } else {
    o += "null";
  }
  o += ",\"to_db\":" + std::to_string(to_db);
  o += ",\"cursor\":";
  AppendJsonString(&o, cp.cursor);
  o += std::string(",\"done\":") + (cp.is_done ? "true" : "false");
  o += ",\"scanned\":" + std::to_string(cp.counts.scanned);
  o += ",\"copied\":" + std::to_string(cp.counts.copied);
  o += ",\"already_present\":" + std::to_string(cp.counts.present);
  o += ",\"too_long\":" + std::to_string(cp.counts.too_long);
  o += ",\"vanished\":" + std::to_string(cp.counts.vanished);
  o += ",\"bytes\":" + std::to_string(cp.counts.bytes);
  o += ",\"skipped_by_type\":{";
  bool first = true;
  for (const auto& [type, n] : cp.counts.skipped_by_type) {
    if (!first) o += ",";
    first = false;
    AppendJsonString(&o, type);
    o += ':';
    o += std::to_string(n);
  }
  char secs[40];
  std::snprintf(secs, sizeof secs, "%.3f", cp.seconds);
  o += "},\"seconds\":";
  o += secs;
  o += ",\"updated_at_ms\":" + std::to_string(cp.updated_at_ms) + "}";
  return o;
}

std::optional<MigrateCheckpoint> DecodeCheckpoint(std::string_view json) {
  std::optional<Json> doc = JsonReader(json).ParseDocument();
  if (!doc || doc->kind != Json::Kind::kObject) return std::nullopt;
  const Json* version = doc->Get("version");
  if (version == nullptr || version->Uint() != 1u) return std::nullopt;
  MigrateCheckpoint cp;
  const Json* cursor = doc->Get("cursor");
  const Json* done = doc->Get("done");
  if (cursor == nullptr || cursor->kind != Json::Kind::kString || cursor->text.empty() ||
      done == nullptr || done->kind != Json::Kind::kBool) {
    return std::nullopt;
  }
  for (char c : cursor->text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
  }
  cp.cursor = cursor->text;
  cp.is_done = done->boolean;
  auto get = [&](std::string_view name, uint64_t* out) {
    const Json* v = doc->Get(name);
    if (v == nullptr) return false;
    std::optional<uint64_t> n = v->Uint();
    if (!n) return false;
    *out = *n;
    return true;
  };
  if (!get("scanned", &cp.counts.scanned) || !get("copied", &cp.counts.copied) ||
      !get("already_present", &cp.counts.present) || !get("too_long", &cp.counts.too_long) ||
      !get("vanished", &cp.counts.vanished) || !get("bytes", &cp.counts.bytes)) {
    return std::nullopt;
  }
  if (const Json* types = doc->Get("skipped_by_type");
      types != nullptr && types->kind == Json::Kind::kObject) {
    for (size_t i = 0; i < types->names.size(); ++i) {
      if (std::optional<uint64_t> v = types->items[i].Uint()) {
        cp.counts.skipped_by_type[types->names[i]] = *v;
      }
    }
  }
  if (const Json* s = doc->Get("seconds")) cp.seconds = s->Double();
  if (const Json* u = doc->Get("updated_at_ms")) {
    cp.updated_at_ms = static_cast<int64_t>(u->Uint().value_or(0));
  }
  return cp;
}

std::string CheckpointKey(const RedisUrl& source, const std::optional<std::string>& match,
                          int to_db) {
  // FNV-1a, 64 bits, over fields separated by a byte none of them can hold in that position.
  std::string id = source.host + ":" + std::to_string(source.port) + "/" +
                   std::to_string(source.db) + '\0' + (match ? "m" + *match : "-") + '\0' +
                   std::to_string(to_db);
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : id) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016" PRIx64, h);
  return std::string(kvmap::kInternalKeyPrefix) + "migrate." + hex;
}

std::string PrintableKey(std::string_view key) {
  std::string out;
  out.reserve(key.size());
  for (unsigned char c : key) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\a':
        out += "\\a";
        break;
      case '\b':
        out += "\\b";
        break;
      default:
        if (c >= 0x20 && c < 0x7f) {
          out.push_back(static_cast<char>(c));
        } else {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        }
    }
  }
  return out;
}

}  // namespace gateway
