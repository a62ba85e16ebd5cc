// SPDX-License-Identifier: Apache-2.0
//
// The gateway's configuration: command-line flags, and the subset that CONFIG GET/SET can read
// and change at run time. One table (config.cc) lists every parameter CONFIG knows, so CONFIG
// GET patterns, CONFIG SET and the README's flag list agree.
//
// Thread: parsed on the main thread before the loop starts; read and changed (CONFIG SET) on
// the loop thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gateway {

// One class of client-output-buffer-limit: close a client whose pending output exceeds
// `hard_bytes`, or stays above `soft_bytes` for `soft_seconds` (0 disables a limit).
struct OutputBufferLimit {
  int64_t hard_bytes = 0;
  int64_t soft_bytes = 0;
  int64_t soft_seconds = 0;
};

struct Config {
  std::string bind = "127.0.0.1";
  int port = 6379;                 // 0 = ephemeral; see port_file; -1 = no plain listener
  std::string port_file;           // written with the bound port once listening
  // TLS listener for Redis clients (gateway/tls.h), with Redis's tls-* names. tls_port: -1 =
  // off (the default), 0 = a free port (written to tls_port_file).
  int tls_port = -1;
  std::string tls_port_file;
  std::string tls_cert_file, tls_key_file, tls_ca_cert_file, tls_ca_cert_dir;
  std::string tls_auth_clients = "yes";  // yes | optional | no
  std::string tls_protocols;             // empty = TLSv1.2 and later
  std::string tls_ciphers, tls_ciphersuites;
  // TLS towards NATS: implied by a tls:// URL or by any of these files; also used when the
  // server requires it. CA empty = the system's trust store.
  std::string nats_tls_ca, nats_tls_cert, nats_tls_key;
  // Identity towards NATS besides the URLs' user:password@ or token@ (kvmap/nats_auth.h): a
  // user nkey seed file, or a .creds file (user JWT + seed). Paths only: the files are read
  // at start-up and on each reconnect, and their contents are never logged or reported.
  std::string nats_nkey_file, nats_creds_file;
  std::vector<std::string> nats_urls;  // empty = start an embedded nats-server
  std::string nats_client = "wire";    // "wire" (loop-native, default) or "natsc" (nats.c)
  std::string nats_server_bin;     // embedded mode: binary (PATH lookup when empty)
  std::string data_dir = "./data";
  std::string bucket = "redis";    // database 0; database N is "<bucket>-N"
  std::string requirepass;
  std::string aclfile;             // --aclfile: users file in Redis's ACL format (empty = none)
  int64_t timeout_seconds = 0;     // close clients idle this long (0 = never), as Redis's timeout
  int64_t query_buffer_limit = 1ll << 30;  // client-query-buffer-limit
  int replicas = 1;
  int databases = 16;
  int64_t proto_max_bulk_len = 512ll * 1024 * 1024;
  int64_t nats_timeout_ms = 2000;
  std::string log_level = "info";
  int64_t maxclients = 10000;
  int64_t marker_grace_ms = 60000;  // delete markers are purged after this grace period
  // Large values (gateway/object_store.h): values above object_threshold bytes go to the Object
  // Store (0: the server's max_payload minus room for headers); unreferenced chunks are removed
  // after object_grace_ms by a sweeper that runs every object_sweep_ms (0: never).
  int64_t object_threshold = 0;
  int64_t object_grace_ms = 60000;
  int64_t object_sweep_ms = 30000;
  // Concurrent read-modify-writes of one key share one CAS per round (commands/rmw.cc); off
  // only to measure the difference (bench/e2e/hotkey.sh).
  bool rmw_coalescing = true;
  // --read-cache: bytes of hot entries kept in the gateway (kvmap/read_cache.h); 0 = off.
  int64_t read_cache_bytes = 0;
  // Migration from an old Redis (gateway/fallback.h, gateway/mirror.h; docs/migration.md):
  // redis:// URLs, empty = off. They may hold a password: never logged or reported whole
  // (RedisUrl::Redacted).
  std::string fallback_url;
  std::string mirror_url;
  // Redis channels are NATS subjects under this prefix (DESIGN.md decision 8).
  std::string pubsub_prefix = "redis.pubsub";
  // client-output-buffer-limit (Redis defaults; the replica class is only reported).
  OutputBufferLimit normal_output_limit{0, 0, 0};
  OutputBufferLimit replica_output_limit{256ll << 20, 64ll << 20, 60};
  OutputBufferLimit pubsub_output_limit{32ll << 20, 8ll << 20, 60};
  // notify-keyspace-events, shared by every gateway through the config bucket
  // (KeyspaceNotifier): the text --notify-keyspace-events gave, stored there at start-up
  // (nullopt: adopt the stored one), and the flags in force (notify::k* bits), kept current by
  // KeyspaceNotifier.
  std::optional<std::string> notify_keyspace_events;
  int notify_keyspace_flags = 0;

  // Name of the bucket that stores database `db`.
  std::string BucketFor(int db) const {
    return db == 0 ? bucket : bucket + "-" + std::to_string(db);
  }
  // Name of the bucket of shared settings (DESIGN.md decision 8); never a database's name.
  std::string ConfigBucket() const { return bucket + "-config"; }
};

// Parses argv into *config. Returns an error message, or empty on success. "--help" sets
// *wants_help.
std::string ParseFlags(int argc, char** argv, Config* config, bool* wants_help);
std::string FlagsUsage();

// CONFIG GET: every (name, value) whose name matches the glob pattern (case-insensitive).
std::vector<std::pair<std::string, std::string>> ConfigGet(const Config& config,
                                                           std::string_view pattern);
// CONFIG SET of one parameter. Returns an error reply text, or empty on success.
std::string ConfigSet(Config* config, std::string_view name, std::string_view value);

// Redis-style glob match (stringmatchlen): *, ?, [a-z], [^a], backslash escapes.
bool GlobMatch(std::string_view pattern, std::string_view text, bool nocase);

// Strict integer parse as Redis's string2ll: optional '-', no '+', no leading zeros, no spaces.
std::optional<int64_t> ParseInt64(std::string_view text);

}  // namespace gateway
