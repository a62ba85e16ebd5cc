// SPDX-License-Identifier: Apache-2.0
//
// `redis-nats-gateway migrate` (issue 10): copies a live Redis into the NATS KV bucket of one
// database, or with --verify compares the two. It is a one-shot command of the same binary,
// dispatched by main() before the server's own flags are parsed.
//
//   redis-nats-gateway migrate --from redis://[user:pass@]HOST:PORT[/DB] [--match PATTERN]
//       [--to-db N] [--resume] [--replace] [--json] [--no-progress] [--scan-count N]
//       [--window N] [--verify [--sample N] [--ttl-tolerance-ms MS]] [NATS flags...]
//
// The NATS flags are the gateway's own (--nats, --bucket, --replicas, --nats-creds, ...): they
// go through ParseFlags into a Config, so migrate reaches the same buckets the gateway serves.
// Without --nats it uses the nats-server a gateway started in --data-dir (its ports file under
// <data-dir>/run), or starts one itself for the duration.
//
// The copy (migrate.cc explains the pipeline, the checkpoint and the failure rules):
//   * SCAN walks the source; for each key PTTL and GET go out pipelined (a bounded window of
//     keys in flight); a WRONGTYPE answer asks TYPE and the key is skipped, counted by type;
//   * each string is written as a SET through the gateway would write it: the bytes as the
//     payload, Redis-Expires-At for a TTL, the Object Store above the object threshold; by
//     default with create-only CAS, so a key already written (or deleted) through the gateway
//     is kept; --replace overwrites;
//   * a checkpoint (next SCAN cursor and counters) is kept in the target bucket under an
//     internal key, so --resume continues after a kill.
//
// Thread: the main thread; RunMigrate runs its own libuv loop to completion.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/config.h"
#include "gateway/redis_client.h"
#include "kvmap/js_api.h"

namespace gateway {

struct MigrateOptions {
  std::string from;                  // --from, as given
  RedisUrl source;                   // parsed --from
  std::optional<std::string> match;  // --match PATTERN (SCAN MATCH)
  int to_db = 0;                     // target database: bucket Config::BucketFor(to_db)
  bool is_resume = false;            // --resume: continue from the checkpoint
  bool is_replace = false;           // --replace: plain puts (overwrite) instead of creates
  bool is_json = false;              // --json: one JSON object on stdout, no progress bar
  bool is_no_progress = false;       // --no-progress
  bool is_verify = false;            // --verify: compare instead of copying
  int64_t sample = 0;                // --sample N (verify): N keys instead of all; 0 = all
  int64_t ttl_tolerance_ms = 1000;   // --ttl-tolerance-ms (verify)
  int64_t scan_count = 1000;         // --scan-count: SCAN's COUNT hint
  int64_t window = 5000;             // --window: keys in flight (read or being written)
};

// Parses `argv` (argv[0] the program, argv[1] "migrate"): migrate's own flags into *options,
// the rest into *config through ParseFlags (--nats may be repeated: the URLs add up). Returns
// an error message (a usage error) or empty; --help/-h sets *wants_help.
std::string ParseMigrateFlags(int argc, char** argv, MigrateOptions* options, Config* config,
                              bool* wants_help);
std::string MigrateUsage();

// What a copy (or a verify) found, key by key. scanned = copied + present + skipped + too_long
// + vanished once a copy has finished (SCAN may return a key twice; the second time it counts
// as present).
struct MigrateCounts {
  uint64_t scanned = 0;
  uint64_t copied = 0;
  uint64_t present = 0;   // already in NATS (create-only kept it)
  uint64_t too_long = 0;  // encoded key longer than the backend's max_key_length()
  uint64_t vanished = 0;  // gone (deleted or expired) between SCAN and GET
  uint64_t bytes = 0;     // value bytes copied
  std::map<std::string, uint64_t> skipped_by_type;  // "hash" -> 12

  uint64_t skipped() const;
  void Add(const MigrateCounts& other);
};

// The resumable state, stored as JSON in the target bucket (EncodeCheckpoint).
struct MigrateCheckpoint {
  std::string cursor = "0";  // the SCAN cursor after the last fully acknowledged batch
  bool is_done = false;      // the walk finished (--resume then has nothing to do)
  MigrateCounts counts;      // the keys before `cursor`
  double seconds = 0;        // time spent by the runs so far
  int64_t updated_at_ms = 0;
};

// `source` and `match` are informational (the key already names the migration).
std::string EncodeCheckpoint(const MigrateCheckpoint& checkpoint, std::string_view source,
                             const std::optional<std::string>& match, int to_db);
std::optional<MigrateCheckpoint> DecodeCheckpoint(std::string_view json);

// The internal key (kvmap::kInternalKeyPrefix, never a Redis key) of the checkpoint of one
// migration: "=_migrate." + 16 hex digits of a hash of source host:port/db, match and to-db.
std::string CheckpointKey(const RedisUrl& source, const std::optional<std::string>& match,
                          int to_db);

// A key as redis-cli shows it between quotes: printable ASCII as is, \" \\ \n \r \t \a \b,
// every other byte as \xHH. Reversible, and plain ASCII (so it goes into JSON and terminals).
std::string PrintableKey(std::string_view key);

// Appends `s` as a JSON string: " and \ escaped, every byte outside printable ASCII as
// \u00XX (so PrintableKey's output goes through unchanged): kvmap's, ASCII only.
inline void AppendJsonString(std::string* out, std::string_view s) {
  kvmap::AppendJsonString(out, s, /*ascii_only=*/true);
}

// Entry point: argv[1] is "migrate". Exit status 0 on success, 1 on failure (and for --verify
// when any key differs), 2 on a usage error.
int RunMigrate(int argc, char** argv);

}  // namespace gateway
