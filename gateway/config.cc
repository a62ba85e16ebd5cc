// SPDX-License-Identifier: Apache-2.0
#include "gateway/config.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <functional>

#include <unistd.h>

#include "gateway/errors.h"
#include "gateway/keyspace_events.h"
#include "gateway/tls.h"

namespace gateway {
namespace {

std::vector<std::string> SplitComma(std::string_view s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string_view::npos) comma = s.size();
    if (comma > start) out.emplace_back(s.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

// Redis memory units: 1k = 1000, 1kb = 1024, and so on (memtoull).
std::optional<int64_t> ParseMemory(std::string_view s) {
  size_t digits = 0;
  while (digits < s.size() && (std::isdigit(static_cast<unsigned char>(s[digits])) != 0)) {
    ++digits;
  }
  if (digits == 0) return std::nullopt;
  auto base = ParseInt64(s.substr(0, digits));
  if (!base) return std::nullopt;
  std::string unit;
  for (char c : s.substr(digits)) unit += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  int64_t mul = 1;
  if (unit.empty() || unit == "b") {
    mul = 1;
  } else if (unit == "k") {
    mul = 1000;
  } else if (unit == "kb") {
    mul = 1024;
  } else if (unit == "m") {
    mul = 1000 * 1000;
  } else if (unit == "mb") {
    mul = 1024 * 1024;
  } else if (unit == "g") {
    mul = 1000ll * 1000 * 1000;
  } else if (unit == "gb") {
    mul = 1024ll * 1024 * 1024;
  } else {
    return std::nullopt;
  }
  if (*base > LLONG_MAX / mul) return std::nullopt;
  return *base * mul;
}

std::string FormatOutputLimits(const Config& c) {
  auto one = [](const char* name, const OutputBufferLimit& l) {
    return std::string(name) + " " + std::to_string(l.hard_bytes) + " " +
           std::to_string(l.soft_bytes) + " " + std::to_string(l.soft_seconds);
  };
  return one("normal", c.normal_output_limit) + " " + one("slave", c.replica_output_limit) + " " +
         one("pubsub", c.pubsub_output_limit);
}

// Redis's "class hard soft seconds [class hard soft seconds ...]"; all or nothing.
std::string SetOutputLimits(Config* c, std::string_view v) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < v.size()) {
    while (i < v.size() && v[i] == ' ') ++i;
    size_t start = i;
    while (i < v.size() && v[i] != ' ') ++i;
    if (i > start) words.emplace_back(v.substr(start, i - start));
  }
  const std::string err =
      "ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - ";
  if (words.empty() || words.size() % 4 != 0) {
    return err + "Wrong number of arguments in buffer limit configuration.";
  }
  Config next = *c;
  for (size_t w = 0; w < words.size(); w += 4) {
    std::string cls;
    for (char ch : words[w]) cls += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    OutputBufferLimit* target = nullptr;
    if (cls == "normal") {
      target = &next.normal_output_limit;
    } else if (cls == "slave" || cls == "replica") {
      target = &next.replica_output_limit;
    } else if (cls == "pubsub") {
      target = &next.pubsub_output_limit;
    } else {
      return err + "Invalid client class specified in buffer limit configuration.";
    }
    auto hard = ParseMemory(words[w + 1]);
    auto soft = ParseMemory(words[w + 2]);
    auto secs = ParseInt64(words[w + 3]);
    if (!hard || !soft || !secs || *secs < 0) {
      return err + "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
    }
    *target = OutputBufferLimit{*hard, *soft, *secs};
  }
  c->normal_output_limit = next.normal_output_limit;
  c->replica_output_limit = next.replica_output_limit;
  c->pubsub_output_limit = next.pubsub_output_limit;
  return {};
}

// One CONFIG parameter: its name, how to read it, and (when settable at run time) how to set
// it. Setters return an error text or empty.
struct Param {
  std::string_view name;
  std::function<std::string(const Config&)> get;
  std::function<std::string(Config*, std::string_view)> set;  // empty = read-only
};

std::string Invalid(std::string_view name, std::string_view value, std::string_view why) {
  return "ERR Invalid argument '" + std::string(value) + "' for CONFIG SET '" +
         std::string(name) + "' - " + std::string(why);
}

// What CONFIG GET shows of a secret: nothing but whether it is set.
std::string RedactedSecret(const std::string& secret) {
  return secret.empty() ? std::string() : std::string("<redacted>");
}

const std::vector<Param>& Params() {
  static const std::vector<Param>* params = new std::vector<Param>{
      {"bind", [](const Config& c) { return c.bind; }, nullptr},
      // A disabled listener reads 0, as in Redis.
      {"port", [](const Config& c) { return std::to_string(std::max(c.port, 0)); }, nullptr},
      // TLS (fixed at start-up: CONFIG SET cannot reload certificates here). Paths only, never
      // file contents.
      {"tls-port", [](const Config& c) { return std::to_string(std::max(c.tls_port, 0)); },
       nullptr},
      {"tls-cert-file", [](const Config& c) { return c.tls_cert_file; }, nullptr},
      {"tls-key-file", [](const Config& c) { return c.tls_key_file; }, nullptr},
      {"tls-ca-cert-file", [](const Config& c) { return c.tls_ca_cert_file; }, nullptr},
      {"tls-ca-cert-dir", [](const Config& c) { return c.tls_ca_cert_dir; }, nullptr},
      {"tls-auth-clients", [](const Config& c) { return c.tls_auth_clients; }, nullptr},
      {"tls-protocols", [](const Config& c) { return c.tls_protocols; }, nullptr},
      {"tls-ciphers", [](const Config& c) { return c.tls_ciphers; }, nullptr},
      {"tls-ciphersuites", [](const Config& c) { return c.tls_ciphersuites; }, nullptr},
      {"databases", [](const Config& c) { return std::to_string(c.databases); }, nullptr},
      // A secret: CONFIG GET never shows it, only whether one is set.
      {"requirepass", [](const Config& c) { return RedactedSecret(c.requirepass); },
       [](Config* c, std::string_view v) {
         c->requirepass = std::string(v);
         return std::string();
       }},
      {"proto-max-bulk-len", [](const Config& c) { return std::to_string(c.proto_max_bulk_len); },
       [](Config* c, std::string_view v) {
         auto n = ParseMemory(v);
         if (!n || *n < 1024 * 1024) {
           return Invalid("proto-max-bulk-len", v, "argument must be a memory value");
         }
         c->proto_max_bulk_len = *n;
         return std::string();
       }},
      {"maxclients", [](const Config& c) { return std::to_string(c.maxclients); },
       [](Config* c, std::string_view v) {
         auto n = ParseInt64(v);
         if (!n || *n < 1) return Invalid("maxclients", v, "argument must be a number");
         c->maxclients = *n;
         return std::string();
       }},
      {"client-output-buffer-limit", FormatOutputLimits, SetOutputLimits},
      {"client-query-buffer-limit",
       [](const Config& c) { return std::to_string(c.query_buffer_limit); },
       [](Config* c, std::string_view v) {
         auto n = ParseMemory(v);
         if (!n || *n < 1024 * 1024) {
           return Invalid("client-query-buffer-limit", v, "argument must be a memory value");
         }
         c->query_buffer_limit = *n;
         return std::string();
       }},
      {"timeout", [](const Config& c) { return std::to_string(c.timeout_seconds); },
       [](Config* c, std::string_view v) {
         auto n = ParseInt64(v);
         if (!n || *n < 0 || *n > 2147483647) {
           return Invalid("timeout", v, "argument must be a number");
         }
         c->timeout_seconds = *n;
         return std::string();
       }},
      {"aclfile", [](const Config& c) { return c.aclfile; }, nullptr},
      // Fixed at start-up (--read-cache): the cache wraps the backend before any client.
      {"read-cache", [](const Config& c) { return std::to_string(c.read_cache_bytes); }, nullptr},
      {"object-threshold", [](const Config& c) { return std::to_string(c.object_threshold); },
       nullptr},
      {"object-grace-ms", [](const Config& c) { return std::to_string(c.object_grace_ms); },
       nullptr},
      {"object-sweep-ms", [](const Config& c) { return std::to_string(c.object_sweep_ms); },
       nullptr},
      // Shared by every gateway: CONFIG SET validates it here, on its copy of the
      // configuration, then stores it in the config bucket (KeyspaceNotifier::Set).
      {"notify-keyspace-events",
       [](const Config& c) { return FormatKeyspaceEventFlags(c.notify_keyspace_flags); },
       [](Config* c, std::string_view v) {
         std::optional<int> flags = ParseKeyspaceEventFlags(v);
         if (!flags) return std::string(errors::kInvalidKeyspaceEvents);
         c->notify_keyspace_flags = *flags;
         return std::string();
       }},
      // Fixed facts clients and test suites ask for.
      {"save", [](const Config&) { return std::string(); }, nullptr},
      {"appendonly", [](const Config&) { return std::string("no"); }, nullptr},
      {"maxmemory", [](const Config&) { return std::string("0"); }, nullptr},
      {"maxmemory-policy", [](const Config&) { return std::string("noeviction"); }, nullptr},
      {"cluster-enabled", [](const Config&) { return std::string("no"); }, nullptr},
      // Gateway parameters.
      {"nats-bucket", [](const Config& c) { return c.bucket; }, nullptr},
      {"nats-replicas", [](const Config& c) { return std::to_string(c.replicas); }, nullptr},
      {"nats-timeout-ms", [](const Config& c) { return std::to_string(c.nats_timeout_ms); },
       nullptr},
      {"nats-client", [](const Config& c) { return c.nats_client; }, nullptr},
      {"pubsub-prefix", [](const Config& c) { return c.pubsub_prefix; }, nullptr},
      {"nats-tls-ca", [](const Config& c) { return c.nats_tls_ca; }, nullptr},
      {"nats-tls-cert", [](const Config& c) { return c.nats_tls_cert; }, nullptr},
      {"nats-tls-key", [](const Config& c) { return c.nats_tls_key; }, nullptr},
      // Paths of NATS credential files (their contents are secrets and never shown).
      {"nats-nkey", [](const Config& c) { return c.nats_nkey_file; }, nullptr},
      {"nats-creds", [](const Config& c) { return c.nats_creds_file; }, nullptr},
  };
  return *params;
}

// Redis's stringmatchlen, including its fix for CVE-2022-36021: when the rest of the pattern
// after a '*' matches at no position of the rest of the string, no earlier '*' can make it match
// by consuming more, so *skip_longer stops every pending '*' at once. Without it, a pattern like
// "a*a*a*...*b" backtracks exponentially and a single KEYS would stall the event loop.
bool GlobMatchImpl(const char* p, const char* pend, const char* s, const char* send,
                   bool nocase, int depth, bool* skip_longer) {
  if (depth > 1000) return false;  // bounds recursion on hostile patterns
  auto fold = [nocase](char c) {
    return nocase ? static_cast<char>(std::tolower(static_cast<unsigned char>(c))) : c;
  };
  while (p < pend) {
    switch (*p) {
      case '*':
        while (p + 1 < pend && p[1] == '*') ++p;
        if (p + 1 == pend) return true;
        for (const char* t = s; t <= send; ++t) {
          if (GlobMatchImpl(p + 1, pend, t, send, nocase, depth + 1, skip_longer)) return true;
          if (*skip_longer) return false;
        }
        *skip_longer = true;
        return false;
      case '?':
        if (s == send) return false;
        ++s;
        break;
      case '[': {
        if (s == send) return false;
        ++p;
        bool negate = p < pend && *p == '^';
        if (negate) ++p;
        bool match = false;
        while (p < pend && *p != ']') {
          if (*p == '\\' && p + 1 < pend) {
            ++p;
            if (fold(*p) == fold(*s)) match = true;
          } else if (p + 2 < pend && p[1] == '-' && p[2] != ']') {
            char lo = fold(p[0]), hi = fold(p[2]);
            if (lo > hi) std::swap(lo, hi);
            char c = fold(*s);
            if (c >= lo && c <= hi) match = true;
            p += 2;
          } else if (fold(*p) == fold(*s)) {
            match = true;
          }
          ++p;
        }
        if (p == pend) --p;  // unterminated class: Redis treats the end as ']'
        if (negate) match = !match;
        if (!match) return false;
        ++s;
        break;
      }
      case '\\':
        if (p + 1 < pend) ++p;
        [[fallthrough]];
      default:
        if (s == send || fold(*p) != fold(*s)) return false;
        ++s;
        break;
    }
    ++p;
  }
  return s == send;
}

// The TLS flags that only make sense together, and files that must be readable (their
// contents are checked when the TLS contexts are built, at start-up).
std::string CheckTlsFlags(const Config& c) {
  if (c.port < 0 && c.tls_port < 0) {
    return "--port off needs --tls-port: the gateway would not listen at all";
  }
  auto readable = [](const char* flag, const std::string& path) -> std::string {
    if (path.empty() || access(path.c_str(), R_OK) == 0) return {};
    return std::string("cannot read ") + flag + " " + path + ": " + std::strerror(errno);
  };
  std::string err;
  if (c.tls_port >= 0) {
    if (c.tls_cert_file.empty() || c.tls_key_file.empty()) {
      return "--tls-port needs --tls-cert-file and --tls-key-file";
    }
    if (c.tls_auth_clients != "no" && c.tls_ca_cert_file.empty() && c.tls_ca_cert_dir.empty()) {
      return "--tls-auth-clients " + c.tls_auth_clients +
             " needs --tls-ca-cert-file or --tls-ca-cert-dir to verify client certificates";
    }
    for (auto [flag, path] : {std::pair{"--tls-cert-file", &c.tls_cert_file},
                              std::pair{"--tls-key-file", &c.tls_key_file},
                              std::pair{"--tls-ca-cert-file", &c.tls_ca_cert_file},
                              std::pair{"--tls-ca-cert-dir", &c.tls_ca_cert_dir}}) {
      if (err.empty()) err = readable(flag, *path);
    }
  }
  if (c.nats_tls_cert.empty() != c.nats_tls_key.empty()) {
    return "--nats-tls-cert and --nats-tls-key go together";
  }
  for (auto [flag, path] : {std::pair{"--nats-tls-ca", &c.nats_tls_ca},
                            std::pair{"--nats-tls-cert", &c.nats_tls_cert},
                            std::pair{"--nats-tls-key", &c.nats_tls_key}}) {
    if (err.empty()) err = readable(flag, *path);
  }
  return err;
}

}  // namespace

std::optional<int64_t> ParseInt64(std::string_view text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  if (text == "0") return 0;
  size_t i = 0;
  if (text[0] == '-') i = 1;
  if (i >= text.size() || text[i] < '1' || text[i] > '9') return std::nullopt;
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

bool GlobMatch(std::string_view pattern, std::string_view text, bool nocase) {
  // stringmatchlen's loop runs only while both are non-empty: an empty string matches only the
  // empty pattern, even "*" (KEYS and SCAN special-case a lone "*", as Redis does).
  if (text.empty()) return pattern.empty();
  bool skip_longer = false;
  return GlobMatchImpl(pattern.data(), pattern.data() + pattern.size(), text.data(),
                       text.data() + text.size(), nocase, 0, &skip_longer);
}

std::vector<std::pair<std::string, std::string>> ConfigGet(const Config& config,
                                                           std::string_view pattern) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const Param& p : Params()) {
    if (GlobMatch(pattern, p.name, /*nocase=*/true)) {
      out.emplace_back(std::string(p.name), p.get(config));
    }
  }
  return out;
}

std::string ConfigSet(Config* config, std::string_view name, std::string_view value) {
  for (const Param& p : Params()) {
    if (p.name.size() != name.size()) continue;
    bool same = true;
    for (size_t i = 0; i < name.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(name[i])) != p.name[i]) same = false;
    }
    if (!same) continue;
    if (!p.set) {
      return "ERR CONFIG SET failed (possibly related to argument '" + std::string(name) +
             "') - can't set immutable config";
    }
    return p.set(config, value);
  }
  return "ERR Unknown option or number of arguments for CONFIG SET - '" + std::string(name) +
         "'";
}

std::string FlagsUsage() {
  return "Usage: redis-nats-gateway [options]\n"
         "  --bind ADDR               listen address (default 127.0.0.1)\n"
         "  --port N|any|off          listen port (default 6379; 0 or any = a free port;\n"
         "                            off = no plain-text listener, TLS only)\n"
         "  --port-file PATH          write the bound port here once listening\n"
         "  --tls-port N|any|off      TLS listener, besides --port (default off; 0 = off as\n"
         "                            in Redis; any = a free port)\n"
         "  --tls-port-file PATH      write the bound TLS port here once listening\n"
         "  --tls-cert-file PATH      server certificate chain (PEM)\n"
         "  --tls-key-file PATH       its private key (PEM)\n"
         "  --tls-ca-cert-file PATH   CA certificates that sign client certificates\n"
         "  --tls-ca-cert-dir DIR     or a hashed directory of them\n"
         "  --tls-auth-clients yes|optional|no\n"
         "                            require (default), accept or ignore client certificates\n"
         "  --tls-protocols 'TLSv1.2 TLSv1.3'  allowed versions (default TLSv1.2 and later)\n"
         "  --tls-ciphers LIST, --tls-ciphersuites LIST  TLSv1.2 ciphers, TLSv1.3 suites\n"
         "  --nats URL[,URL...]       use these NATS servers instead of an embedded one\n"
         "  --nats-client wire|natsc  NATS client: loop-native (default) or nats.c\n"
         "  --nats-tls-ca PATH        TLS to NATS, trusting these CAs (a tls:// URL also\n"
         "                            turns TLS on, with the system's CAs)\n"
         "  --nats-tls-cert PATH, --nats-tls-key PATH  client certificate for NATS\n"
         "  --nats-nkey FILE          authenticate to NATS with this user nkey seed (SU...)\n"
         "  --nats-creds FILE         authenticate to NATS with this .creds file (user JWT and\n"
         "                            seed); user:password@ or token@ go in the --nats URL\n"
         "  --nats-server-bin PATH    nats-server binary for the embedded mode (default: PATH)\n"
         "  --data-dir DIR            embedded nats-server store (default ./data)\n"
         "  --bucket NAME             KV bucket of database 0 (default redis; db N: NAME-N)\n"
         "  --requirepass PASS        require AUTH with this password (user 'default')\n"
         "  --aclfile PATH            users, passwords and permissions, in Redis's ACL file\n"
         "                            format (ACL LOAD rereads it, ACL SAVE writes it)\n"
         "  --timeout SECONDS         close clients idle this long (default 0 = never)\n"
         "  --client-query-buffer-limit SIZE\n"
         "                            close a client whose unparsed input exceeds this\n"
         "                            (default 1gb)\n"
         "  --replicas N              replicas of buckets the gateway creates (default 1)\n"
         "  --databases N             number of databases (default 16)\n"
         "  --proto-max-bulk-len N    largest bulk argument (default 512mb)\n"
         "  --nats-timeout-ms N       deadline of one NATS operation (default 2000)\n"
         "  --maxclients N            (default 10000)\n"
         "  --marker-grace-ms N       purge delete markers after N ms (default 60000)\n"
         "  --object-threshold SIZE   values larger than this go to the NATS Object Store\n"
         "                            (default: the server's max_payload minus 4 KiB)\n"
         "  --object-grace-ms N       keep unreferenced object chunks N ms (default 60000)\n"
         "  --object-sweep-ms N       look for orphaned objects every N ms (default 30000;\n"
         "                            0 never)\n"
         "  --rmw-coalescing yes|no   one CAS per round for concurrent read-modify-writes\n"
         "                            of one key (default yes)\n"
         "  --pubsub-prefix SUBJECT   NATS subject prefix of Redis channels (default\n"
         "                            redis.pubsub: channel a:b is redis.pubsub.a.b)\n"
         "  --client-output-buffer-limit 'CLASS HARD SOFT SECONDS ...'\n"
         "                            as in Redis (default pubsub 32mb 8mb 60)\n"
         "  --read-cache SIZE         keep hot values in the gateway, kept coherent by the\n"
         "                            bucket followers (e.g. 256mb; default 0 = off)\n"
         "  --notify-keyspace-events CLASSES\n"
         "                            as in Redis; stored for every gateway sharing the\n"
         "                            buckets (default: keep the stored value, else off)\n"
         "  --fallback redis://[:PASS@]HOST:PORT[/DB]\n"
         "                            migration: a key NATS has never held is read from this\n"
         "                            old Redis and copied (docs/migration.md)\n"
         "  --mirror-writes redis://[:PASS@]HOST:PORT[/DB]\n"
         "                            migration: forward every change to this old Redis, so\n"
         "                            a rollback stays possible (one gateway, by lease)\n"
         "  --log-level LEVEL         info or debug (default info)\n"
         "\n"
         "Subcommand: redis-nats-gateway migrate --from redis://HOST:PORT ...  (migrate --help)\n";
}

std::string ParseFlags(int argc, char** argv, Config* config, bool* wants_help) {
  *wants_help = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view flag = argv[i];
    std::string_view value;
    size_t eq = flag.find('=');
    bool has_inline_value = flag.substr(0, 2) == "--" && eq != std::string_view::npos;
    if (has_inline_value) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
    }
    if (flag == "--help" || flag == "-h") {
      *wants_help = true;
      return {};
    }
    if (!has_inline_value) {
      if (i + 1 >= argc) return "missing value for " + std::string(flag);
      value = argv[++i];
    }
    auto integer = [&](int64_t lo, int64_t hi) -> std::optional<int64_t> {
      auto v = ParseInt64(value);
      if (!v || *v < lo || *v > hi) return std::nullopt;
      return v;
    };
    auto bad = [&] { return "invalid value '" + std::string(value) + "' for " + std::string(flag); };
    if (flag == "--bind") {
      config->bind = std::string(value);
    } else if (flag == "--port") {
      // 0 keeps its meaning here (a free port); "off" is Redis's `port 0`.
      auto v = value == "off" ? std::optional<int64_t>(-1)
                              : value == "any" ? std::optional<int64_t>(0) : integer(0, 65535);
      if (!v) return bad();
      config->port = static_cast<int>(*v);
    } else if (flag == "--tls-port") {
      // 0 is off, as Redis's tls-port 0; "any" asks for a free port.
      std::optional<int64_t> v;
      if (value == "off") {
        v = -1;
      } else if (value == "any") {
        v = 0;
      } else if ((v = integer(0, 65535)) && *v == 0) {
        v = -1;
      }
      if (!v) return bad();
      config->tls_port = static_cast<int>(*v);
    } else if (flag == "--tls-port-file") {
      config->tls_port_file = std::string(value);
    } else if (flag == "--tls-cert-file") {
      config->tls_cert_file = std::string(value);
    } else if (flag == "--tls-key-file") {
      config->tls_key_file = std::string(value);
    } else if (flag == "--tls-ca-cert-file") {
      config->tls_ca_cert_file = std::string(value);
    } else if (flag == "--tls-ca-cert-dir") {
      config->tls_ca_cert_dir = std::string(value);
    } else if (flag == "--tls-auth-clients") {
      if (value != "yes" && value != "optional" && value != "no") return bad();
      config->tls_auth_clients = std::string(value);
    } else if (flag == "--tls-protocols") {
      std::string why = ValidateTlsProtocols(value);
      if (!why.empty()) return bad() + ": " + why;
      config->tls_protocols = std::string(value);
    } else if (flag == "--tls-ciphers") {
      config->tls_ciphers = std::string(value);
    } else if (flag == "--tls-ciphersuites") {
      config->tls_ciphersuites = std::string(value);
    } else if (flag == "--nats-tls-ca") {
      config->nats_tls_ca = std::string(value);
    } else if (flag == "--nats-tls-cert") {
      config->nats_tls_cert = std::string(value);
    } else if (flag == "--nats-tls-key") {
      config->nats_tls_key = std::string(value);
    } else if (flag == "--port-file") {
      config->port_file = std::string(value);
    } else if (flag == "--nats-nkey") {
      config->nats_nkey_file = std::string(value);
    } else if (flag == "--nats-creds") {
      config->nats_creds_file = std::string(value);
    } else if (flag == "--nats") {
      config->nats_urls = SplitComma(value);
      if (config->nats_urls.empty()) return bad();
    } else if (flag == "--nats-client") {
      if (value != "wire" && value != "natsc") return bad();
      config->nats_client = std::string(value);
    } else if (flag == "--nats-server-bin") {
      config->nats_server_bin = std::string(value);
    } else if (flag == "--data-dir") {
      config->data_dir = std::string(value);
    } else if (flag == "--bucket") {
      config->bucket = std::string(value);
      if (config->bucket.empty() || config->bucket.size() > 48) return bad();
      for (char c : config->bucket) {
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) return bad();
      }
    } else if (flag == "--requirepass") {
      config->requirepass = std::string(value);
    } else if (flag == "--aclfile") {
      config->aclfile = std::string(value);
    } else if (flag == "--timeout") {
      auto v = integer(0, 2147483647);
      if (!v) return bad();
      config->timeout_seconds = *v;
    } else if (flag == "--client-query-buffer-limit") {
      auto v = ParseMemory(value);
      if (!v || *v < 1024 * 1024) return bad();
      config->query_buffer_limit = *v;
    } else if (flag == "--replicas") {
      auto v = integer(1, 5);
      if (!v) return bad();
      config->replicas = static_cast<int>(*v);
    } else if (flag == "--databases") {
      auto v = integer(1, 1000);
      if (!v) return bad();
      config->databases = static_cast<int>(*v);
    } else if (flag == "--proto-max-bulk-len") {
      auto v = ParseMemory(value);
      if (!v || *v < 1024 * 1024) return bad();
      config->proto_max_bulk_len = *v;
    } else if (flag == "--nats-timeout-ms") {
      auto v = integer(10, 600000);
      if (!v) return bad();
      config->nats_timeout_ms = *v;
    } else if (flag == "--marker-grace-ms") {
      auto v = integer(0, 86'400'000);
      if (!v) return bad();
      config->marker_grace_ms = *v;
    } else if (flag == "--object-threshold") {
      auto v = ParseMemory(value);
      if (!v || *v < 0) return bad();
      config->object_threshold = *v;
    } else if (flag == "--object-grace-ms") {
      auto v = integer(0, 86'400'000);
      if (!v) return bad();
      config->object_grace_ms = *v;
    } else if (flag == "--object-sweep-ms") {
      auto v = integer(0, 86'400'000);
      if (!v) return bad();
      config->object_sweep_ms = *v;
    } else if (flag == "--maxclients") {
      auto v = integer(1, 1000000);
      if (!v) return bad();
      config->maxclients = *v;
    } else if (flag == "--fallback") {
      config->fallback_url = std::string(value);
    } else if (flag == "--mirror-writes") {
      config->mirror_url = std::string(value);
    } else if (flag == "--read-cache") {
      auto v = ParseMemory(value);
      if (!v || *v < 0) return bad();
      config->read_cache_bytes = *v;
    } else if (flag == "--rmw-coalescing") {
      if (value != "yes" && value != "no") return bad();
      config->rmw_coalescing = value == "yes";
    } else if (flag == "--pubsub-prefix") {
      // Tokens of letters, digits, '_' and '-', separated by single dots.
      if (value.empty() || value.front() == '.' || value.back() == '.' ||
          value.find("..") != std::string_view::npos) {
        return bad();
      }
      for (char c : value) {
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) {
          return bad();
        }
      }
      config->pubsub_prefix = std::string(value);
    } else if (flag == "--client-output-buffer-limit") {
      if (!SetOutputLimits(config, value).empty()) return bad();
    } else if (flag == "--notify-keyspace-events") {
      if (!ParseKeyspaceEventFlags(value)) return bad();
      config->notify_keyspace_events = std::string(value);
    } else if (flag == "--log-level") {
      config->log_level = std::string(value);
    } else {
      return "unknown option " + std::string(flag);
    }
  }
  if (!config->nats_nkey_file.empty() && !config->nats_creds_file.empty()) {
    return "--nats-nkey and --nats-creds exclude each other";
  }
  if ((!config->nats_nkey_file.empty() || !config->nats_creds_file.empty()) &&
      config->nats_urls.empty()) {
    return "--nats-nkey and --nats-creds need --nats (the embedded nats-server has no "
           "authentication)";
  }
  return CheckTlsFlags(*config);
}

}  // namespace gateway
