// SPDX-License-Identifier: Apache-2.0
//
// `redis-nats-gateway migrate` (gateway/migrate.h has the command line). How it works:
//
// One libuv loop carries both sides: the source Redis through RedisClient (one connection,
// commands pipelined, callbacks in send order) and NATS through NatsWireBackend with an
// ObjectLayer on top, exactly the stack the gateway's SET uses, so a value above the object
// threshold goes to the Object Store the same way and native readers see the same thing.
// Writes carry `Redis-Event: restore` (kvmap::kEventRestore): keyspace notifications announce
// the copy as Redis announces RESTORE, and --mirror-writes does not send it back. The copy
// starts no bucket follower of its own (EnsureKvStream): one would receive every message the
// copy writes, for an index migrate does not need, and cost about a third of the speed.
//
// The copy pipeline. SCAN returns batches of keys; each batch keeps its cursor (the cursor that
// follows it) and its own counters. Keys go through three steps, many at a time:
//   1. read: PTTL and GET, sent back to back (one round trip for both). A WRONGTYPE answer
//      means another type: TYPE is asked and the key is counted as skipped by type. GET nil is
//      a key that vanished between SCAN and GET. A value with PTTL -2 (created between the two
//      commands) asks PTTL again. The deadline is now + PTTL, taken when PTTL is answered;
//   2. write: a create (expected revision 0: the subject has no message at all, so neither a
//      key written through the gateway nor its delete marker is ever overwritten) or, with
//      --replace, a plain put; Redis-Expires-At carries the deadline, as SET's does;
//   3. done: the key's outcome is added to its batch.
// Bounds: at most --window keys between step 1 and step 3, reads limited further by the
// average value size seen so far (about 256 MiB of values held), and no new reads while the
// source connection's unsent commands exceed 4 MiB. SCAN runs ahead while there is room.
//
// Races with writers on the source are those of any SCAN-based copy: SCAN returns every key
// that exists for the whole walk at least once; a key written during the copy may be copied
// with its old or its new value, and PTTL and GET are two commands, so a SET between them can
// pair a new value with the old TTL. Copy while the application still writes to the old Redis
// only together with --fallback/--mirror-writes, and check with --verify (docs/migration.md).
//
// Failures. A NATS write that fails with kUnavailable, kTimeout or kOutcomeUnknown is sent
// again after 100, 200, 400 ... 6400 ms; then the run fails. A resent create may find its
// own earlier write (the first attempt landed and only its acknowledgement was lost): the CAS
// then fails, and the key is read back: the same bytes (and a TTL exactly when we have one)
// count as copied, anything else as present. The same check runs for every CAS failure of a
// --resume run, whose first keys may have been copied by the killed run after its last
// checkpoint, so a resumed copy reports the counts an uninterrupted one would have (a key
// written through the gateway with the very same value also counts as copied then). Any source
// failure, and any other NATS failure, fails the run: the writes in flight are waited for, the
// checkpoint is brought up to date, and the exit status is 1 with a message naming --resume.
//
// Checkpoint. Batches complete in order for this purpose: once every key of the oldest
// batches is done, their counters are committed and the checkpoint (cursor after the last of
// them plus the committed counters, JSON) is written to the internal key CheckpointKey() in the
// target bucket, at most every 250 ms and never two at a time. A finished walk writes it with
// "done": true, and so does any checkpoint written once the last batch is committed. A SIGINT
// or SIGTERM ends the run the same way as a failure (a second one at once). --resume reads it and goes on from its cursor with its counters; without
// --resume the run starts from cursor 0 and overwrites it. SCAN cursors stay valid across
// connections (Redis keeps no scan state), so the next run's SCAN continues the same walk.
// Internal keys (kvmap::kInternalKeyPrefix) are no Redis keys: the bucket follower skips them,
// so KEYS, SCAN, DBSIZE and RANDOMKEY never show the checkpoint.
//
// --verify reads the source the same way and each key from NATS through the ObjectLayer (what a
// GET through the gateway would see; a marker or an expired entry is missing), and compares the
// bytes (a mismatch shows both lengths and SHA-256s) and the deadlines (both none, or within
// --ttl-tolerance-ms). --sample N verifies N keys: RANDOMKEY (distinct keys) without --match,
// a reservoir sample of the SCAN walk with it. Keys only in NATS are not looked for.
//
// Output: a progress line on stderr (a terminal, not --json or --no-progress), redrawn every
// 200 ms; at the end a summary on stdout, or one JSON object with --json. Notes and errors go
// to stderr.
//
// The flags, the counters and the checkpoint's JSON are in migrate_support.cc (no I/O there).
//
// Thread: the main thread only, which runs the loop.
#include "gateway/migrate.h"

#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <unordered_set>
#include <utility>
#include <vector>

#include "gateway/alive_guard.h"
#include "gateway/embedded_nats.h"
#include "gateway/loop_bridge.h"
#include "gateway/nats_wire_backend.h"
#include "gateway/object_store.h"
#include "kvmap/js_api.h"
#include "kvmap/key_codec.h"
#include "kvmap/nats_auth.h"
#include "kvmap/nats_kv_backend.h"
#include "kvmap/object_codec.h"
#include "kvmap/ttl.h"

namespace gateway {
namespace {

using kvmap::KvStatus;

constexpr int64_t kTickMs = 100;                // retries, checkpoint, progress (every 2nd tick)
constexpr int64_t kCheckpointMs = 250;          // at most one checkpoint per this period
constexpr size_t kMaxBytesHeld = 256u << 20;    // values read and not yet written
constexpr size_t kMaxSourceBacklog = 4u << 20;  // unsent commands to the source
constexpr int kMaxAttempts = 8;  // one write (or NATS read): the first try and 7 resends, the
                                 // last 12.7 s after the first (a NATS restart fits)
constexpr int64_t kSourceConnectMs = 5000;
constexpr int64_t kSourceReplyMs = 30000;  // large values take a while behind a pipeline

int64_t MonoMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// --- small formatting helpers ------------------------------------------------------------

std::string Thousands(uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::string HumanBytes(uint64_t n) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, kUnits[u]);
  return buf;
}

std::string Duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  uint64_t s = static_cast<uint64_t>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%" PRIu64 ":%02" PRIu64 ":%02" PRIu64, s / 3600, s / 60 % 60,
                  s % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%" PRIu64 ":%02" PRIu64, s / 60, s % 60);
  }
  return buf;
}

std::string Hex(std::string_view bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

std::string Sha256Hex(std::string_view bytes) {
  kvmap::Sha256 sha;
  sha.Update(bytes);
  return Hex(sha.Final());
}

// --- NATS: the server to use -----------------------------------------------------------------

// The client URL of a nats-server that a gateway (EmbeddedNats) started for `data_dir` and
// that still runs: its ports file <data_dir>/run/<binary>_<pid>.ports names a live process of
// that binary. Empty when there is none.
std::string FindRunningEmbeddedNats(const std::string& data_dir) {
  std::error_code ec;
  std::filesystem::path dir = std::filesystem::path(data_dir) / "run";
  for (auto it = std::filesystem::directory_iterator(dir, ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.size() < 7 || name.substr(name.size() - 6) != ".ports") continue;
    std::string stem = name.substr(0, name.size() - 6);
    size_t us = stem.rfind('_');
    if (us == std::string::npos) continue;
    int pid = 0;
    auto [p, perr] = std::from_chars(stem.data() + us + 1, stem.data() + stem.size(), pid);
    if (perr != std::errc() || p != stem.data() + stem.size() || pid <= 0) continue;
    if (kill(pid, 0) != 0 && errno != EPERM) continue;  // gone (a stale file)
    // The pid may have been reused: it must still be that binary.
    std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
    std::string process_name;
    std::getline(comm, process_name);
    std::string binary = stem.substr(0, us);
    if (!process_name.empty() && binary.compare(0, process_name.size(), process_name) != 0) {
      continue;
    }
    std::string url = ClientUrlFromPortsFile(it->path().string());
    if (!url.empty()) return url;
  }
  return {};
}

// --- the migration ---------------------------------------------------------------------------

struct Mismatch {
  std::string key;  // the raw Redis key
  bool is_missing = false;
  bool is_value = false;
  bool is_ttl = false;
  std::string read_error;  // NATS could not read the value (a missing object chunk, ...)
  uint64_t source_bytes = 0, nats_bytes = 0;
  std::string source_sha256, nats_sha256;
  int64_t source_pttl = -1, nats_pttl = -1;  // ms left; -1: no TTL
};

struct VerifyCounts {
  uint64_t checked = 0;  // string keys compared
  uint64_t matched = 0;
  uint64_t missing = 0;
  uint64_t value_mismatches = 0;
  uint64_t ttl_mismatches = 0;
};

class Migration {
 public:
  Migration(uv_loop_t* loop, const MigrateOptions& options, RedisClient* source,
            ObjectLayer* objects, kvmap::KvBackend* kv, std::string bucket, std::string nats_desc);
  ~Migration() = default;
  Migration(const Migration&) = delete;
  Migration& operator=(const Migration&) = delete;

  void Start();
  bool is_finished() const { return is_finished_; }
  int exit_code() const;
  // The summary (stdout) or the JSON object; call once finished.
  void PrintResult();
  // Closes the timer and signal handles; the loop must run once more before destruction.
  void Close();

 private:
  struct Batch;
  struct Task {
    Batch* batch = nullptr;
    std::string key;    // the Redis key
    std::string value;  // small values; large ones are in `large` (the Object Store upload
                        // reads them in place)
    std::shared_ptr<std::string> large;
    int64_t pttl = -2;
    int64_t expires_at_ms = -1;  // absolute deadline; -1: none
    int attempts = 0;            // NATS attempts that failed retryably
    int64_t retry_at_ms = 0;
    std::string_view Value() const { return large ? std::string_view(*large) : value; }
  };
  struct Batch {
    std::string next_cursor;  // the SCAN cursor after this batch
    std::vector<Task> tasks;
    size_t outstanding = 0;
    MigrateCounts counts;
  };
  enum class Outcome : uint8_t {
    kCopied,
    kPresent,
    kSkippedType,
    kTooLong,
    kVanished,
    kMatched,
    kMismatch
  };

  template <class F>
  auto Guard(F f) {
    return GuardedBy(alive_, std::move(f));
  }

  // Phases before the walk.
  void OnSourceConnected(bool ok);
  void ReadCheckpoint();
  void BeginCopy(const MigrateCheckpoint& from, bool is_resumed);
  void BeginVerify();
  void SampleRandomKeys();
  void StartKeyList(std::vector<std::string> keys);
  void StartRunning();

  // The walk.
  void Pump();
  void Scan();
  void OnScan(KvStatus st, resp::Reply& reply);
  void ReadKey(Task* t);
  void OnGet(Task* t, KvStatus st, resp::Reply& reply);
  void AskType(Task* t);
  void AfterRead(Task* t);
  void Write(Task* t);
  void OnWritten(Task* t, kvmap::WriteResult r);
  void ResolveMismatch(Task* t);
  void VerifyKey(Task* t);
  void OnVerifyRead(Task* t, kvmap::GetResult r);
  void Retry(Task* t, KvStatus st, const std::string& detail);
  void Done(Task* t, Outcome outcome, std::string_view type = {});
  void AdvanceCommitted();
  // Counts a batch's keys as scanned and queues them for reading.
  void Enqueue(std::unique_ptr<Batch> batch);
  void MaybeFinish();

  // Checkpoint.
  void MaybeCheckpoint(bool force);
  void WriteCheckpoint(bool is_done, std::function<void(bool ok)> cb);
  void WriteFinalCheckpoint(int attempt);

  // Ends.
  void SourceFailed(std::string_view what, KvStatus st, const resp::Reply* reply);
  void Fail(std::string message);
  void FinishAfterFailure();
  void Complete();
  void OnTick();
  void OnSignal(int signum);

  // Output.
  void Note(const std::string& text);
  void DrawProgress();
  void ClearProgress();
  double RunSeconds() const;
  MigrateCounts Totals() const;
  void PrintText();
  void PrintJson();

  uv_loop_t* loop_;
  MigrateOptions options_;
  RedisClient* source_;
  ObjectLayer* objects_;  // writes and verify reads (large values: the Object Store)
  kvmap::KvBackend* kv_;  // the checkpoint and read-backs of pointers
  std::string bucket_;
  std::string nats_desc_;
  std::string checkpoint_key_;
  std::string source_desc_;  // host:port/db, for the checkpoint
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);

  uv_timer_t tick_;
  uv_signal_t sigint_, sigterm_;
  bool are_handles_open_ = false;
  uint64_t ticks_ = 0;

  bool is_progress_ = false;  // a progress line on stderr
  bool is_line_drawn_ = false;
  bool is_running_ = false;  // the walk has started
  bool is_pumping_ = false;
  bool is_finished_ = false;
  bool is_failed_ = false;
  bool is_interrupted_ = false;
  bool is_resumed_ = false;
  bool is_already_done_ = false;  // --resume of a finished migration
  std::string error_;
  int64_t start_ms_ = 0;           // MonoMs() when the walk started
  double earlier_seconds_ = 0;     // from the checkpoint
  std::optional<uint64_t> total_;  // DBSIZE (or the sample size); nullopt with --match

  // Source walk.
  std::string cursor_ = "0";
  bool is_scan_in_flight_ = false;
  bool is_scan_done_ = false;
  bool is_sampling_scan_ = false;  // --verify --sample with --match: reservoir over SCAN
  std::vector<std::string> reservoir_;
  uint64_t reservoir_seen_ = 0;
  std::mt19937_64 rng_{std::random_device{}()};
  std::vector<std::string> random_keys_;
  std::unordered_set<std::string> random_seen_;
  size_t random_pending_ = 0;
  size_t random_new_ = 0;
  int random_rounds_ = 0;
  std::deque<std::unique_ptr<Batch>> batches_;
  std::deque<Task*> to_read_;
  std::vector<Task*> retry_;
  size_t keys_in_flight_ = 0;   // between ReadKey and Done
  size_t reads_in_flight_ = 0;  // of those, waiting for the source
  size_t nats_in_flight_ = 0;   // writes and reads sent to NATS, checkpoint excluded
  uint64_t bytes_held_ = 0;
  uint64_t values_seen_ = 0, value_bytes_seen_ = 0;

  // Counters: base_ from the checkpoint; live_ this run's finished keys; committed_ the
  // checkpoint's (base_ plus the fully acknowledged batches).
  MigrateCounts base_, live_, committed_;
  std::string committed_cursor_ = "0";
  // The last batch (the one SCAN ended with cursor 0) is committed: every key is done, so any
  // checkpoint from now on says "done" (a resume must not start the walk over with these
  // counts).
  bool is_walk_committed_ = false;
  bool is_checkpoint_dirty_ = false;
  bool is_checkpoint_in_flight_ = false;
  bool is_final_checkpoint_tried_ = false;
  int64_t last_checkpoint_ms_ = 0;

  VerifyCounts verify_;
  std::vector<Mismatch> mismatches_;
};

Migration::Migration(uv_loop_t* loop, const MigrateOptions& options, RedisClient* source,
                     ObjectLayer* objects, kvmap::KvBackend* kv, std::string bucket,
                     std::string nats_desc)
    : loop_(loop),
      options_(options),
      source_(source),
      objects_(objects),
      kv_(kv),
      bucket_(std::move(bucket)),
      nats_desc_(std::move(nats_desc)) {
  checkpoint_key_ = CheckpointKey(options_.source, options_.match, options_.to_db);
  source_desc_ = options_.source.host + ":" + std::to_string(options_.source.port) + "/" +
                 std::to_string(options_.source.db);
  is_progress_ = !options_.is_json && !options_.is_no_progress && isatty(STDERR_FILENO) == 1;
}

int Migration::exit_code() const {
  if (is_failed_) return 1;
  if (options_.is_verify && !mismatches_.empty()) return 1;
  return 0;
}

void Migration::Start() {
  uv_timer_init(loop_, &tick_);
  tick_.data = this;
  uv_signal_init(loop_, &sigint_);
  uv_signal_init(loop_, &sigterm_);
  sigint_.data = sigterm_.data = this;
  are_handles_open_ = true;
  uv_timer_start(
      &tick_, [](uv_timer_t* t) { static_cast<Migration*>(t->data)->OnTick(); }, kTickMs, kTickMs);
  auto on_signal = [](uv_signal_t* h, int signum) {
    static_cast<Migration*>(h->data)->OnSignal(signum);
  };
  uv_signal_start(&sigint_, on_signal, SIGINT);
  uv_signal_start(&sigterm_, on_signal, SIGTERM);
  source_->WhenConnected(kSourceConnectMs, Guard([this](bool ok) { OnSourceConnected(ok); }));
}

void Migration::Close() {
  if (!are_handles_open_) return;
  are_handles_open_ = false;
  uv_timer_stop(&tick_);
  uv_signal_stop(&sigint_);
  uv_signal_stop(&sigterm_);
  uv_close(reinterpret_cast<uv_handle_t*>(&tick_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&sigint_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&sigterm_), nullptr);
}

void Migration::OnSourceConnected(bool ok) {
  if (is_failed_) return;
  if (!ok) {
    std::string why = source_->last_error();
    Fail("cannot connect to the source Redis " + source_->url().Redacted() +
         (why.empty() ? std::string(": timed out") : ": " + why));
    return;
  }
  // The total for the progress bar and the ETA; unknown with --match.
  source_->Command(
      {"DBSIZE"}, Guard([this](KvStatus st, resp::Reply& r) {
        if (is_failed_) return;
        if (st != KvStatus::kOk || r.is_error()) {
          SourceFailed("DBSIZE", st, &r);
          return;
        }
        if (r.type == resp::ReplyType::kInteger && r.integer >= 0 && !options_.match) {
          total_ = static_cast<uint64_t>(r.integer);
        }
        if (options_.is_verify) {
          if (r.type == resp::ReplyType::kInteger && options_.sample > 0 && !options_.match &&
              static_cast<uint64_t>(r.integer) > static_cast<uint64_t>(options_.sample)) {
            SampleRandomKeys();
          } else {
            BeginVerify();
          }
        } else {
          ReadCheckpoint();
        }
      }));
}

void Migration::ReadCheckpoint() {
  kv_->Get(
      bucket_, checkpoint_key_, Guard([this](kvmap::GetResult r) {
        if (is_failed_) return;
        std::optional<MigrateCheckpoint> found;
        if (r.status == KvStatus::kOk && !r.entry.is_marker()) {
          found = DecodeCheckpoint(r.entry.value);
          if (!found) Note("the checkpoint " + checkpoint_key_ + " is not readable; ignoring it");
        } else if (r.status != KvStatus::kOk && r.status != KvStatus::kNotFound) {
          Fail("cannot read the checkpoint from NATS bucket " + bucket_ + ": " +
               std::string(kvmap::KvStatusName(r.status)) +
               (r.detail.empty() ? "" : " (" + r.detail + ")"));
          return;
        }
        if (options_.is_resume) {
          if (!found) {
            Note("no checkpoint of this migration in bucket " + bucket_ +
                 "; starting from the beginning");
            BeginCopy(MigrateCheckpoint{}, false);
          } else if (found->is_done) {
            Note("this migration already finished (checkpoint " + checkpoint_key_ +
                 "); nothing to do");
            base_ = committed_ = found->counts;
            earlier_seconds_ = found->seconds;
            is_resumed_ = true;
            is_already_done_ = true;
            Complete();
          } else {
            BeginCopy(*found, true);
          }
          return;
        }
        if (found && !found->is_done) {
          Note("an unfinished run of this migration left a checkpoint (" +
               Thousands(found->counts.scanned) +
               " keys scanned); starting again from the beginning (--resume continues it)");
        } else if (found) {
          Note(
              "this migration finished before; copying again from the beginning (keys already in "
              "NATS are kept)");
        }
        BeginCopy(MigrateCheckpoint{}, false);
      }));
}

void Migration::BeginCopy(const MigrateCheckpoint& from, bool is_resumed) {
  is_resumed_ = is_resumed;
  base_ = committed_ = from.counts;
  earlier_seconds_ = is_resumed ? from.seconds : 0;
  cursor_ = committed_cursor_ = is_resumed ? from.cursor : "0";
  // The checkpoint is written before the first key, so an older "done" one can never stand
  // for this run.
  WriteCheckpoint(false, [this](bool ok) {
    if (is_failed_) return;
    if (!ok) {
      Fail("cannot write the checkpoint to NATS bucket " + bucket_);
      return;
    }
    StartRunning();
  });
}

// Every key, or with --sample and --match a reservoir sample of the walk. (--sample without
// --match comes here only when DBSIZE is at most the sample: every key is checked then.)
void Migration::BeginVerify() {
  if (options_.sample > 0 && options_.match) is_sampling_scan_ = true;
  StartRunning();
}

// --sample N without --match: RANDOMKEY until N distinct keys (a few rounds at most; a
// round that finds nothing new ends it).
void Migration::SampleRandomKeys() {
  size_t want = static_cast<size_t>(options_.sample) - random_keys_.size();
  random_pending_ = want;
  random_new_ = 0;
  ++random_rounds_;
  for (size_t i = 0; i < want; ++i) {
    source_->Command({"RANDOMKEY"}, Guard([this](KvStatus st, resp::Reply& r) {
                       if (is_failed_) return;
                       if (st != KvStatus::kOk || r.is_error()) {
                         SourceFailed("RANDOMKEY", st, &r);
                         return;
                       }
                       if (r.type == resp::ReplyType::kBulk && random_seen_.insert(r.str).second) {
                         random_keys_.push_back(std::move(r.str));
                         ++random_new_;
                       }
                       if (--random_pending_ > 0) return;
                       if (random_keys_.size() < static_cast<size_t>(options_.sample) &&
                           random_new_ > 0 && random_rounds_ < 8) {
                         SampleRandomKeys();
                         return;
                       }
                       random_seen_.clear();
                       StartKeyList(std::move(random_keys_));
                     }));
  }
}

void Migration::StartKeyList(std::vector<std::string> keys) {
  std::unordered_set<std::string> seen;
  auto batch = std::make_unique<Batch>();
  batch->next_cursor = "0";
  batch->tasks.reserve(keys.size());
  for (std::string& k : keys) {
    if (!seen.insert(k).second) continue;
    Task t;
    t.key = std::move(k);
    batch->tasks.push_back(std::move(t));
  }
  total_ = batch->tasks.size();
  Enqueue(std::move(batch));
  is_sampling_scan_ = false;
  is_scan_done_ = true;
  AdvanceCommitted();  // an empty list completes at once
  if (!is_running_) {
    StartRunning();
  } else {
    Pump();
  }
}

void Migration::StartRunning() {
  is_running_ = true;
  start_ms_ = MonoMs();
  DrawProgress();
  Pump();
}

// --- the walk -----------------------------------------------------------------------------

void Migration::Pump() {
  // Done() calls Pump() and may run inside it (a key too long is done at once): the outer
  // call goes on.
  if (is_failed_ || is_finished_ || !is_running_ || is_pumping_) return;
  is_pumping_ = true;
  // Reads: within the window, and fewer when values are large (about kMaxBytesHeld of them).
  size_t read_limit = static_cast<size_t>(options_.window);
  if (values_seen_ > 0) {
    uint64_t average = std::max<uint64_t>(1, value_bytes_seen_ / values_seen_);
    read_limit = std::min<size_t>(read_limit, std::max<uint64_t>(16, kMaxBytesHeld / average));
  }
  while (!to_read_.empty() && keys_in_flight_ < static_cast<size_t>(options_.window) &&
         reads_in_flight_ < read_limit && bytes_held_ < kMaxBytesHeld &&
         source_->write_backlog() < kMaxSourceBacklog) {
    Task* t = to_read_.front();
    to_read_.pop_front();
    ReadKey(t);
  }
  if (!is_scan_in_flight_ && !is_scan_done_ &&
      (is_sampling_scan_ ||
       (to_read_.size() < static_cast<size_t>(options_.scan_count) &&
        keys_in_flight_ + to_read_.size() < static_cast<size_t>(options_.window)))) {
    Scan();
  }
  is_pumping_ = false;
  MaybeFinish();
}

void Migration::Scan() {
  is_scan_in_flight_ = true;
  std::string count = std::to_string(options_.scan_count);
  std::vector<std::string_view> args{"SCAN", cursor_};
  if (options_.match) {
    args.push_back("MATCH");
    args.push_back(*options_.match);
  }
  args.push_back("COUNT");
  args.push_back(count);
  source_->Command(args, Guard([this](KvStatus st, resp::Reply& r) { OnScan(st, r); }));
}

void Migration::OnScan(KvStatus st, resp::Reply& r) {
  is_scan_in_flight_ = false;
  if (is_failed_) return;
  if (st != KvStatus::kOk || r.is_error()) {
    SourceFailed("SCAN", st, &r);
    return;
  }
  if (r.type != resp::ReplyType::kArray || r.elements.size() != 2 ||
      r.elements[0].type != resp::ReplyType::kBulk ||
      r.elements[1].type != resp::ReplyType::kArray) {
    Fail("the source answered SCAN with an unexpected reply");
    return;
  }
  cursor_ = std::move(r.elements[0].str);
  std::vector<resp::Reply>& keys = r.elements[1].elements;
  if (is_sampling_scan_) {
    const size_t n = static_cast<size_t>(options_.sample);
    for (resp::Reply& k : keys) {
      if (k.type != resp::ReplyType::kBulk) continue;
      ++reservoir_seen_;
      if (reservoir_.size() < n) {
        reservoir_.push_back(std::move(k.str));
      } else if (uint64_t j = rng_() % reservoir_seen_; j < n) {
        reservoir_[j] = std::move(k.str);
      }
    }
    if (cursor_ == "0") {
      StartKeyList(std::move(reservoir_));
      return;
    }
    Pump();
    return;
  }
  auto batch = std::make_unique<Batch>();
  batch->next_cursor = cursor_;
  batch->tasks.reserve(keys.size());
  for (resp::Reply& k : keys) {
    if (k.type != resp::ReplyType::kBulk) continue;
    Task t;
    t.key = std::move(k.str);
    batch->tasks.push_back(std::move(t));
  }
  Enqueue(std::move(batch));
  if (cursor_ == "0") is_scan_done_ = true;
  AdvanceCommitted();  // an empty batch completes at once
  Pump();
}

void Migration::ReadKey(Task* t) {
  ++keys_in_flight_;
  if (kvmap::EncodedKeyLength(t->key) > objects_->max_key_length()) {
    Done(t, Outcome::kTooLong);
    return;
  }
  ++reads_in_flight_;
  source_->Command({"PTTL", t->key}, Guard([this, t](KvStatus st, resp::Reply& r) {
                     if (is_failed_) return;
                     if (st != KvStatus::kOk || r.type != resp::ReplyType::kInteger) {
                       SourceFailed("PTTL", st, &r);
                       return;
                     }
                     t->pttl = r.integer;
                     t->expires_at_ms = r.integer >= 0 ? kvmap::NowUnixMs() + r.integer : -1;
                   }));
  source_->Command({"GET", t->key},
                   Guard([this, t](KvStatus st, resp::Reply& r) { OnGet(t, st, r); }));
}

void Migration::OnGet(Task* t, KvStatus st, resp::Reply& r) {
  if (is_failed_) return;
  if (st != KvStatus::kOk) {
    SourceFailed("GET", st, &r);
    return;
  }
  if (r.is_error()) {
    if (r.str.rfind("WRONGTYPE", 0) == 0) {
      AskType(t);
      return;
    }
    SourceFailed("GET", st, &r);
    return;
  }
  if (r.is_nil()) {
    --reads_in_flight_;
    Done(t, Outcome::kVanished);
    return;
  }
  if (r.type != resp::ReplyType::kBulk) {
    Fail("the source answered GET with an unexpected reply");
    return;
  }
  ++values_seen_;
  value_bytes_seen_ += r.str.size();
  bytes_held_ += r.str.size();
  const size_t threshold = objects_->threshold();
  if (threshold > 0 && r.str.size() > threshold) {
    t->large = std::make_shared<std::string>(std::move(r.str));
  } else {
    t->value = std::move(r.str);
  }
  if (t->pttl != -2) {
    --reads_in_flight_;
    AfterRead(t);
    return;
  }
  // The key appeared between PTTL and GET: ask its TTL again.
  source_->Command({"PTTL", t->key}, Guard([this, t](KvStatus st2, resp::Reply& r2) {
                     if (is_failed_) return;
                     if (st2 != KvStatus::kOk || r2.type != resp::ReplyType::kInteger) {
                       SourceFailed("PTTL", st2, &r2);
                       return;
                     }
                     --reads_in_flight_;
                     if (r2.integer == -2) {
                       Done(t, Outcome::kVanished);
                       return;
                     }
                     t->pttl = r2.integer;
                     t->expires_at_ms = r2.integer >= 0 ? kvmap::NowUnixMs() + r2.integer : -1;
                     AfterRead(t);
                   }));
}

void Migration::AskType(Task* t) {
  source_->Command({"TYPE", t->key}, Guard([this, t](KvStatus st, resp::Reply& r) {
                     if (is_failed_) return;
                     if (st != KvStatus::kOk || r.is_error()) {
                       SourceFailed("TYPE", st, &r);
                       return;
                     }
                     --reads_in_flight_;
                     if (r.str == "none") {
                       Done(t, Outcome::kVanished);
                     } else if (r.str == "string") {
                       // It became a string after the GET: read it again.
                       --keys_in_flight_;
                       ReadKey(t);
                     } else {
                       Done(t, Outcome::kSkippedType,
                            r.str.empty() ? std::string_view("unknown") : r.str);
                     }
                   }));
}

void Migration::AfterRead(Task* t) {
  if (options_.is_verify) {
    VerifyKey(t);
  } else {
    Write(t);
  }
}

void Migration::Write(Task* t) {
  std::string key = kvmap::EncodeKey(t->key);
  kvmap::WriteRequest w;
  w.bucket = bucket_;
  w.key = key;
  w.value = t->Value();
  if (t->large) w.value_owner = t->large;
  if (t->expires_at_ms >= 0) {
    w.headers.emplace_back(std::string(kvmap::kHdrExpiresAt), std::to_string(t->expires_at_ms));
  }
  w.headers.emplace_back(std::string(kvmap::kHdrEvent), std::string(kvmap::kEventRestore));
  if (!options_.is_replace) w.expected_revision = 0;
  ++nats_in_flight_;
  objects_->Write(w, Guard([this, t](kvmap::WriteResult r) {
                    --nats_in_flight_;
                    OnWritten(t, std::move(r));
                  }));
}

void Migration::OnWritten(Task* t, kvmap::WriteResult r) {
  switch (r.status) {
    case KvStatus::kOk:
      Done(t, Outcome::kCopied);
      break;
    case KvStatus::kRevisionMismatch:
      if (is_resumed_ || t->attempts > 0) {
        ResolveMismatch(t);
      } else {
        Done(t, Outcome::kPresent);
      }
      break;
    case KvStatus::kInvalidKey:
      Done(t, Outcome::kTooLong);
      break;
    case KvStatus::kUnavailable:
    case KvStatus::kTimeout:
    case KvStatus::kOutcomeUnknown:
      Retry(t, r.status, r.detail);
      break;
    default:
      Fail("NATS refused the write of key \"" + PrintableKey(t->key) +
           "\": " + std::string(kvmap::KvStatusName(r.status)) +
           (r.detail.empty() ? "" : " (" + r.detail + ")"));
  }
  if (is_failed_) FinishAfterFailure();
}

// A create found a message on the key. Ours (an earlier attempt whose acknowledgement was lost,
// or the killed run before --resume) or someone else's: the stored entry tells.
void Migration::ResolveMismatch(Task* t) {
  ++nats_in_flight_;
  kv_->Get(bucket_, kvmap::EncodeKey(t->key), Guard([this, t](kvmap::GetResult r) {
             --nats_in_flight_;
             bool is_ours = false;
             if (r.status == KvStatus::kOk && !r.entry.is_marker() &&
                 kvmap::ExpiresAt(r.entry).has_value() == (t->expires_at_ms >= 0)) {
               std::string_view value = t->Value();
               if (auto object = kvmap::FindHeader(r.entry.headers, kvmap::kHdrObject)) {
                 std::optional<kvmap::ObjectRef> ref = kvmap::ParseObjectRef(*object);
                 if (ref && ref->size == value.size()) {
                   kvmap::Sha256 sha;
                   sha.Update(value);
                   is_ours = ref->digest == kvmap::DigestString(sha.Final());
                 }
               } else {
                 is_ours = r.entry.value == value;
               }
             }
             Done(t, is_ours ? Outcome::kCopied : Outcome::kPresent);
             if (is_failed_) FinishAfterFailure();
           }));
}

void Migration::VerifyKey(Task* t) {
  ++nats_in_flight_;
  objects_->Get(bucket_, kvmap::EncodeKey(t->key), Guard([this, t](kvmap::GetResult r) {
                  --nats_in_flight_;
                  OnVerifyRead(t, std::move(r));
                  if (is_failed_) FinishAfterFailure();
                }));
}

void Migration::OnVerifyRead(Task* t, kvmap::GetResult r) {
  if (r.status == KvStatus::kUnavailable || r.status == KvStatus::kTimeout ||
      r.status == KvStatus::kOutcomeUnknown) {
    Retry(t, r.status, r.detail);
    return;
  }
  ++verify_.checked;
  Mismatch m;
  m.key = t->key;
  m.source_bytes = t->Value().size();
  m.source_pttl = t->expires_at_ms >= 0 ? std::max<int64_t>(0, t->pttl) : -1;
  const bool is_absent =
      r.status == KvStatus::kNotFound ||
      (r.status == KvStatus::kOk && (r.entry.is_marker() || !kvmap::IsLiveNow(r.entry)));
  if (is_absent && t->expires_at_ms >= 0 && t->expires_at_ms < kvmap::NowUnixMs()) {
    // Expired since the source was read: gone on both sides.
    --verify_.checked;
    Done(t, Outcome::kVanished);
    return;
  }
  if (is_absent) {
    m.is_missing = true;
    ++verify_.missing;
  } else if (r.status != KvStatus::kOk) {
    // NATS answered, but the value cannot be read (a missing object chunk, a bad digest).
    m.read_error =
        std::string(kvmap::KvStatusName(r.status)) + (r.detail.empty() ? "" : ": " + r.detail);
    m.is_value = true;
    ++verify_.value_mismatches;
  } else {
    const kvmap::Entry& e = r.entry;
    if (e.value != t->Value()) {
      m.is_value = true;
      m.nats_bytes = e.value.size();
      m.source_sha256 = Sha256Hex(t->Value());
      m.nats_sha256 = Sha256Hex(e.value);
      ++verify_.value_mismatches;
    } else {
      m.nats_bytes = e.value.size();
    }
    std::optional<int64_t> at = kvmap::ExpiresAt(e);
    const int64_t now = kvmap::NowUnixMs();
    m.nats_pttl = at ? std::max<int64_t>(0, *at - now) : -1;
    const bool has_source_ttl = t->expires_at_ms >= 0;
    if (has_source_ttl != at.has_value() ||
        (at && std::llabs(*at - t->expires_at_ms) > options_.ttl_tolerance_ms)) {
      m.is_ttl = true;
      ++verify_.ttl_mismatches;
    }
  }
  if (m.is_missing || m.is_value || m.is_ttl) {
    mismatches_.push_back(std::move(m));
    Done(t, Outcome::kMismatch);
  } else {
    ++verify_.matched;
    Done(t, Outcome::kMatched);
  }
}

void Migration::Retry(Task* t, KvStatus st, const std::string& detail) {
  if (is_failed_) {
    // Abandoned: the run is ending; the key stays uncommitted (the checkpoint is before it).
    FinishAfterFailure();
    return;
  }
  if (++t->attempts >= kMaxAttempts) {
    Fail(std::string(options_.is_verify ? "reading" : "writing") + " key \"" +
         PrintableKey(t->key) + "\" in NATS failed " + std::to_string(t->attempts) + " times: " +
         std::string(kvmap::KvStatusName(st)) + (detail.empty() ? "" : " (" + detail + ")"));
    FinishAfterFailure();
    return;
  }
  t->retry_at_ms = MonoMs() + (int64_t{100} << (t->attempts - 1));
  retry_.push_back(t);
}

void Migration::Done(Task* t, Outcome outcome, std::string_view type) {
  MigrateCounts& c = t->batch->counts;
  switch (outcome) {
    case Outcome::kCopied:
      ++c.copied;
      ++live_.copied;
      c.bytes += t->Value().size();
      live_.bytes += t->Value().size();
      break;
    case Outcome::kPresent:
      ++c.present;
      ++live_.present;
      break;
    case Outcome::kSkippedType:
      ++c.skipped_by_type[std::string(type)];
      ++live_.skipped_by_type[std::string(type)];
      break;
    case Outcome::kTooLong:
      ++c.too_long;
      ++live_.too_long;
      break;
    case Outcome::kVanished:
      ++c.vanished;
      ++live_.vanished;
      break;
    case Outcome::kMatched:
    case Outcome::kMismatch:
      break;
  }
  bytes_held_ -= t->Value().size();
  // A done batch waits for the older ones before it is freed: keep only what it counts.
  std::string().swap(t->key);
  std::string().swap(t->value);
  t->large.reset();
  --keys_in_flight_;
  --t->batch->outstanding;
  AdvanceCommitted();
  Pump();
}

// Commits the oldest batches whose keys are all done (batches complete in SCAN order here,
// whatever order their keys finished in).
void Migration::Enqueue(std::unique_ptr<Batch> batch) {
  batch->counts.scanned = batch->tasks.size();
  live_.scanned += batch->tasks.size();
  batch->outstanding = batch->tasks.size();
  for (Task& t : batch->tasks) {
    t.batch = batch.get();
    to_read_.push_back(&t);
  }
  batches_.push_back(std::move(batch));
}

void Migration::AdvanceCommitted() {
  while (!batches_.empty() && batches_.front()->outstanding == 0) {
    committed_.Add(batches_.front()->counts);
    committed_cursor_ = batches_.front()->next_cursor;
    if (committed_cursor_ == "0") is_walk_committed_ = true;
    batches_.pop_front();
    is_checkpoint_dirty_ = true;
  }
  MaybeCheckpoint(false);
}

void Migration::MaybeFinish() {
  if (is_failed_ || is_finished_ || !is_running_ || !is_scan_done_ || !to_read_.empty() ||
      keys_in_flight_ != 0 || !batches_.empty()) {
    return;
  }
  if (options_.is_verify) {
    Complete();
    return;
  }
  if (is_final_checkpoint_tried_) return;
  is_final_checkpoint_tried_ = true;
  WriteFinalCheckpoint(1);
}

// --- checkpoint ---------------------------------------------------------------------------

void Migration::MaybeCheckpoint(bool force) {
  if (options_.is_verify || !is_running_ || is_checkpoint_in_flight_ || !is_checkpoint_dirty_ ||
      is_final_checkpoint_tried_) {
    return;
  }
  if (!force && MonoMs() - last_checkpoint_ms_ < kCheckpointMs) return;
  WriteCheckpoint(false, [this](bool) {
    if (is_failed_) FinishAfterFailure();
  });
}

void Migration::WriteCheckpoint(bool is_done, std::function<void(bool ok)> cb) {
  MigrateCheckpoint cp;
  cp.is_done = is_done || is_walk_committed_;
  cp.cursor = cp.is_done ? "0" : committed_cursor_;
  cp.counts = committed_;
  cp.seconds = earlier_seconds_ + RunSeconds();
  cp.updated_at_ms = kvmap::NowUnixMs();
  std::string json = EncodeCheckpoint(cp, source_desc_, options_.match, options_.to_db);
  kvmap::WriteRequest w;
  w.bucket = bucket_;
  w.key = checkpoint_key_;
  w.value = json;
  is_checkpoint_in_flight_ = true;
  is_checkpoint_dirty_ = false;
  kv_->Write(w, Guard([this, cb = std::move(cb)](kvmap::WriteResult r) {
               is_checkpoint_in_flight_ = false;
               last_checkpoint_ms_ = MonoMs();
               const bool ok = r.status == KvStatus::kOk;
               if (!ok) is_checkpoint_dirty_ = true;  // the next tick tries again
               cb(ok);
             }));
}

void Migration::WriteFinalCheckpoint(int attempt) {
  if (is_checkpoint_in_flight_) {
    // Let the periodic one land first (the final one must be the last write).
    RunAfterOnLoop(loop_, 10, Guard([this, attempt] { WriteFinalCheckpoint(attempt); }));
    return;
  }
  WriteCheckpoint(true, [this, attempt](bool ok) {
    if (ok || is_failed_) {
      Complete();
      return;
    }
    if (attempt >= kMaxAttempts) {
      Note(
          "warning: every key was copied, but the final checkpoint could not be written; a "
          "--resume would look at the last keys again");
      Complete();
      return;
    }
    RunAfterOnLoop(loop_, int64_t{100} << (attempt - 1),
                   Guard([this, attempt] { WriteFinalCheckpoint(attempt + 1); }));
  });
}

// --- ends ---------------------------------------------------------------------------------

void Migration::SourceFailed(std::string_view what, KvStatus st, const resp::Reply* reply) {
  std::string why;
  if (st == KvStatus::kOk && reply != nullptr && reply->is_error()) {
    why = "the source answered " + std::string(what) + " with: " + reply->str;
  } else if (st == KvStatus::kOk) {
    why = "the source answered " + std::string(what) + " with an unexpected reply";
  } else {
    std::string last = source_->last_error();
    std::string how = st == KvStatus::kOutcomeUnknown ? "the connection was lost"
                      : st == KvStatus::kUnavailable  ? "not connected"
                      : st == KvStatus::kTimeout      ? "no reply in time"
                                                      : std::string(kvmap::KvStatusName(st));
    why = "source Redis " + source_->url().Redacted() + ": " + how + " during " +
          std::string(what) + (last.empty() ? "" : " (" + last + ")");
  }
  Fail(why);
}

void Migration::Fail(std::string message) {
  if (is_failed_ || is_finished_) return;
  is_failed_ = true;
  error_ = std::move(message);
  FinishAfterFailure();
}

// After a failure: the NATS operations in flight end (each within its timeout), then the
// checkpoint is brought up to date (once), then the run ends.
void Migration::FinishAfterFailure() {
  if (!is_failed_ || is_finished_) return;
  if (nats_in_flight_ > 0 || is_checkpoint_in_flight_) return;
  if (!options_.is_verify && is_running_ && is_checkpoint_dirty_ && kv_->is_connected() &&
      !is_final_checkpoint_tried_) {
    is_final_checkpoint_tried_ = true;
    WriteCheckpoint(false, [this](bool) { FinishAfterFailure(); });
    return;
  }
  Complete();
}

void Migration::Complete() {
  if (is_finished_) return;
  ClearProgress();
  is_finished_ = true;
}

void Migration::OnTick() {
  ++ticks_;
  if (!retry_.empty() && !is_failed_) {
    const int64_t now = MonoMs();
    std::vector<Task*> due;
    std::erase_if(retry_, [&](Task* t) {
      if (t->retry_at_ms > now) return false;
      due.push_back(t);
      return true;
    });
    for (Task* t : due) {
      if (options_.is_verify) {
        VerifyKey(t);
      } else {
        Write(t);
      }
    }
  }
  if (is_failed_) {
    FinishAfterFailure();
    return;
  }
  MaybeCheckpoint(false);
  Pump();
  if (ticks_ % 2 == 0) DrawProgress();
}

void Migration::OnSignal(int signum) {
  if (is_interrupted_) {
    // A second signal: stop now (the checkpoint is at most a moment old).
    if (error_.empty()) error_ = "interrupted";
    is_failed_ = true;
    Complete();
    return;
  }
  is_interrupted_ = true;
  Fail("interrupted by signal " + std::to_string(signum));
}

// --- output -------------------------------------------------------------------------------

void Migration::Note(const std::string& text) {
  ClearProgress();
  std::fprintf(stderr, "migrate: %s\n", text.c_str());
}

double Migration::RunSeconds() const {
  if (start_ms_ == 0) return 0;
  return static_cast<double>(MonoMs() - start_ms_) / 1000.0;
}

MigrateCounts Migration::Totals() const {
  MigrateCounts t = base_;
  t.Add(live_);
  return t;
}

void Migration::ClearProgress() {
  if (!is_line_drawn_) return;
  std::fputs("\r\033[K", stderr);
  std::fflush(stderr);
  is_line_drawn_ = false;
}

void Migration::DrawProgress() {
  if (!is_progress_ || !is_running_ || is_finished_ || is_failed_) return;
  MigrateCounts c = Totals();
  uint64_t done = c.copied + c.present + c.skipped() + c.too_long + c.vanished;
  const uint64_t this_run =
      live_.copied + live_.present + live_.skipped() + live_.too_long + live_.vanished;
  if (options_.is_verify) {
    done = verify_.checked + c.skipped() + c.too_long + c.vanished;
  }
  const double seconds = RunSeconds();
  const double rate =
      seconds > 0.05 ? static_cast<double>(options_.is_verify ? done : this_run) / seconds : 0;
  std::string line = "\r";
  char buf[96];
  if (total_ && *total_ > 0) {
    double fraction = std::min(0.999, static_cast<double>(done) / static_cast<double>(*total_));
    constexpr int kWidth = 28;
    int filled = static_cast<int>(fraction * kWidth);
    line += "[";
    line.append(static_cast<size_t>(filled), '#');
    line.append(static_cast<size_t>(kWidth - filled), '.');
    std::snprintf(buf, sizeof buf, "] %5.1f%%  ", fraction * 100);
    line += buf;
    line += Thousands(done) + "/" + Thousands(*total_) + " keys";
  } else {
    line += Thousands(done) + " keys";
  }
  std::snprintf(buf, sizeof buf, "  %s keys/s", Thousands(static_cast<uint64_t>(rate)).c_str());
  line += buf;
  if (options_.is_verify) {
    line += "  " + Thousands(mismatches_.size()) + " mismatches";
  } else {
    line += "  " + HumanBytes(c.bytes);
  }
  if (total_ && *total_ > done && rate > 0) {
    line += "  ETA " + Duration(static_cast<double>(*total_ - done) / rate);
  }
  // Never wider than the terminal (a wrapped line would not be redrawn in place).
  struct winsize ws {};
  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10 &&
      line.size() > static_cast<size_t>(ws.ws_col)) {
    line.resize(ws.ws_col);  // the leading \r takes no column
  }
  line += "\033[K";
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
  is_line_drawn_ = true;
}

void Migration::PrintResult() {
  if (options_.is_json) {
    PrintJson();
  } else {
    PrintText();
  }
}

void Migration::PrintText() {
  if (is_failed_) {
    std::fprintf(stderr, "migrate: %s\n", error_.c_str());
    if (!options_.is_verify && is_running_) {
      std::fprintf(stderr,
                   "migrate: the checkpoint is in NATS bucket %s; run the same command with "
                   "--resume to continue\n",
                   bucket_.c_str());
    }
  }
  const MigrateCounts c = Totals();
  const double seconds = RunSeconds();
  const uint64_t this_run = live_.scanned;
  std::string types;
  for (const auto& [type, n] : c.skipped_by_type) {
    if (!types.empty()) types += ", ";
    types += type + ": " + Thousands(n);
  }
  std::string match = options_.match ? " matching \"" + PrintableKey(*options_.match) + "\"" : "";
  auto row = [](const char* label, const std::string& value, const std::string& extra = {}) {
    std::printf("  %-26s %14s%s\n", label, value.c_str(), extra.c_str());
  };
  char secs[32], rate[32];
  std::snprintf(secs, sizeof secs, "%.1f", seconds);
  std::snprintf(rate, sizeof rate, "%s",
                Thousands(seconds > 0 ? static_cast<uint64_t>(this_run / seconds) : 0).c_str());
  if (options_.is_verify) {
    std::printf("verify of %s%s against NATS bucket %s (%s): %s\n",
                source_->url().Redacted().c_str(), match.c_str(), bucket_.c_str(),
                nats_desc_.c_str(),
                is_failed_            ? "FAILED"
                : mismatches_.empty() ? "no mismatch"
                                      : "MISMATCHES");
    row("keys checked", Thousands(c.scanned),
        options_.sample > 0 ? "  (a sample of " + Thousands(options_.sample) + ")" : "");
    row("strings compared", Thousands(verify_.checked));
    row("equal", Thousands(verify_.matched));
    row("missing in NATS", Thousands(verify_.missing));
    row("value differs", Thousands(verify_.value_mismatches));
    row("TTL differs", Thousands(verify_.ttl_mismatches),
        "  (tolerance " + std::to_string(options_.ttl_tolerance_ms) + " ms)");
    row("skipped by type", Thousands(c.skipped()), types.empty() ? "" : "  (" + types + ")");
    row("skipped, key too long", Thousands(c.too_long));
    row("vanished from the source", Thousands(c.vanished));
    row("seconds", secs);
    row("keys/s", rate);
    std::vector<const Mismatch*> sorted;
    for (const Mismatch& m : mismatches_) sorted.push_back(&m);
    std::sort(sorted.begin(), sorted.end(),
              [](const Mismatch* a, const Mismatch* b) { return a->key < b->key; });
    auto ttl = [](int64_t ms) { return ms < 0 ? std::string("none") : std::to_string(ms) + " ms"; };
    for (const Mismatch* m : sorted) {
      std::string what;
      if (m->is_missing) {
        what = "missing in NATS";
      } else {
        if (!m->read_error.empty()) {
          what = "value unreadable in NATS (" + m->read_error + ")";
        } else if (m->is_value) {
          what = "value differs (source " + Thousands(m->source_bytes) + " bytes sha256 " +
                 m->source_sha256.substr(0, 16) + ", NATS " + Thousands(m->nats_bytes) +
                 " bytes sha256 " + m->nats_sha256.substr(0, 16) + ")";
        }
        if (m->is_ttl) {
          if (!what.empty()) what += "; ";
          what +=
              "TTL differs (source " + ttl(m->source_pttl) + ", NATS " + ttl(m->nats_pttl) + ")";
        }
      }
      std::printf("mismatch \"%s\": %s\n", PrintableKey(m->key).c_str(), what.c_str());
    }
    std::fflush(stdout);
    return;
  }
  const char* state = is_failed_         ? "FAILED (resumable)"
                      : is_already_done_ ? "already done"
                                         : "done";
  std::printf("migration of %s%s into NATS bucket %s (database %d, %s): %s\n",
              source_->url().Redacted().c_str(), match.c_str(), bucket_.c_str(), options_.to_db,
              nats_desc_.c_str(), state);
  if (is_resumed_) {
    std::printf("  (resumed from a checkpoint: the counts include the earlier runs)\n");
  }
  row("keys scanned", Thousands(c.scanned));
  row("copied", Thousands(c.copied));
  row("already present (kept)", Thousands(c.present), options_.is_replace ? "  (--replace)" : "");
  row("skipped by type", Thousands(c.skipped()), types.empty() ? "" : "  (" + types + ")");
  row("skipped, key too long", Thousands(c.too_long));
  row("vanished", Thousands(c.vanished));
  row("bytes copied", Thousands(c.bytes), "  (" + HumanBytes(c.bytes) + ")");
  row("seconds", secs);
  row("keys/s", rate);
  std::fflush(stdout);
}

void Migration::PrintJson() {
  if (is_failed_) std::fprintf(stderr, "migrate: %s\n", error_.c_str());
  const MigrateCounts c = Totals();
  const double seconds = RunSeconds();
  std::string o = "{";
  auto field = [&o](std::string_view name) {
    if (o.size() > 1) o += ",";
    AppendJsonString(&o, name);
    o += ":";
  };
  auto number = [&](std::string_view name, uint64_t v) {
    field(name);
    o += std::to_string(v);
  };
  auto boolean = [&](std::string_view name, bool v) {
    field(name);
    o += v ? "true" : "false";
  };
  auto text = [&](std::string_view name, std::string_view v) {
    field(name);
    AppendJsonString(&o, v);
  };
  text("mode", options_.is_verify ? "verify" : "copy");
  boolean("ok", !is_failed_ && (!options_.is_verify || mismatches_.empty()));
  if (is_failed_) text("error", error_);
  text("source", source_->url().Redacted());
  field("match");
  if (options_.match) {
    AppendJsonString(&o, PrintableKey(*options_.match));
  } else {
    o += "null";
  }
  text("bucket", bucket_);
  number("to_db", static_cast<uint64_t>(options_.to_db));
  boolean("resumed", is_resumed_);
  boolean("already_done", is_already_done_);
  number("scanned", c.scanned);
  if (!options_.is_verify) {
    number("copied", c.copied);
    number("already_present", c.present);
  }
  number("skipped", c.skipped());
  field("skipped_by_type");
  o += "{";
  bool first = true;
  for (const auto& [type, n] : c.skipped_by_type) {
    if (!first) o += ",";
    first = false;
    AppendJsonString(&o, type);
    o += ':';
    o += std::to_string(n);
  }
  o += "}";
  number("too_long", c.too_long);
  number("vanished", c.vanished);
  if (!options_.is_verify) number("bytes", c.bytes);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", seconds);
  field("seconds");
  o += buf;
  std::snprintf(buf, sizeof buf, "%.1f",
                seconds > 0 ? static_cast<double>(live_.scanned) / seconds : 0.0);
  field("keys_per_sec");
  o += buf;
  if (options_.is_verify) {
    field("verify");
    o += "{\"checked\":" + std::to_string(verify_.checked) +
         ",\"matched\":" + std::to_string(verify_.matched) +
         ",\"missing\":" + std::to_string(verify_.missing) +
         ",\"value_mismatches\":" + std::to_string(verify_.value_mismatches) +
         ",\"ttl_mismatches\":" + std::to_string(verify_.ttl_mismatches) +
         ",\"ttl_tolerance_ms\":" + std::to_string(options_.ttl_tolerance_ms) + ",\"sample\":" +
         (options_.sample > 0 ? std::to_string(options_.sample) : std::string("null")) +
         ",\"mismatches\":[";
    std::vector<const Mismatch*> sorted;
    for (const Mismatch& m : mismatches_) sorted.push_back(&m);
    std::sort(sorted.begin(), sorted.end(),
              [](const Mismatch* a, const Mismatch* b) { return a->key < b->key; });
    for (size_t i = 0; i < sorted.size(); ++i) {
      const Mismatch& m = *sorted[i];
      if (i > 0) o += ",";
      o += "{\"key\":";
      AppendJsonString(&o, PrintableKey(m.key));
      o += ",\"missing\":";
      o += m.is_missing ? "true" : "false";
      o += ",\"value_differs\":";
      o += m.is_value ? "true" : "false";
      o += ",\"ttl_differs\":";
      o += m.is_ttl ? "true" : "false";
      o += ",\"source_bytes\":" + std::to_string(m.source_bytes);
      if (!m.is_missing) o += ",\"nats_bytes\":" + std::to_string(m.nats_bytes);
      if (!m.source_sha256.empty()) {
        o += ",\"source_sha256\":\"" + m.source_sha256 + "\",\"nats_sha256\":\"" + m.nats_sha256 +
             "\"";
      }
      if (!m.read_error.empty()) {
        o += ",\"nats_error\":";
        AppendJsonString(&o, m.read_error);
      }
      o += ",\"source_pttl_ms\":" + std::to_string(m.source_pttl);
      if (!m.is_missing) o += ",\"nats_pttl_ms\":" + std::to_string(m.nats_pttl);
      o += "}";
    }
    o += "]}";
  }
  o += "}\n";
  std::fputs(o.c_str(), stdout);
  std::fflush(stdout);
}

// --- the NATS side's set-up ---------------------------------------------------------------

// Makes sure the KV stream of `bucket` exists (creating it as the gateway does), without
// NatsWireBackend::EnsureBucket's bucket follower: a follower would receive every message the
// copy writes, which costs the NATS server and this process a third of the copy's speed, and
// migrate needs no key index. cb(error or empty, the stream's replicas).
void EnsureKvStream(kvmap::StreamClient* streams, const std::string& bucket, int replicas,
                    std::function<void(std::string, int64_t)> cb) {
  if (!kvmap::IsValidBucketName(bucket)) {
    cb("invalid bucket name", 0);
    return;
  }
  streams->Request(
      "$JS.API.STREAM.INFO.KV_" + bucket, "",
      [streams, bucket, replicas, cb](const kvmap::StreamReply& r) {
        if (r.status != KvStatus::kOk || r.code == 503) {
          cb(r.code == 503 ? "JetStream is not enabled on the NATS server"
                           : "stream info: " + std::string(kvmap::KvStatusName(r.status)),
             0);
          return;
        }
        std::optional<kvmap::JsApiError> err = kvmap::ParseJsApiError(r.payload);
        if (!err) {
          cb({}, static_cast<int64_t>(kvmap::FindJsonUint(r.payload, "num_replicas").value_or(1)));
          return;
        }
        if (err->err_code != kvmap::kJsErrStreamNotFound) {
          cb("stream info: " + err->description, 0);
          return;
        }
        kvmap::BucketConfig config;
        config.name = bucket;
        config.replicas = replicas;
        streams->Request(
            "$JS.API.STREAM.CREATE.KV_" + bucket, kvmap::BuildKvStreamConfig(config),
            [bucket, replicas, cb](const kvmap::StreamReply& created) {
              if (created.status != KvStatus::kOk) {
                cb("create bucket: " + std::string(kvmap::KvStatusName(created.status)), 0);
                return;
              }
              if (auto e = kvmap::ParseJsApiError(created.payload)) {
                cb("create bucket: " + e->description, 0);
                return;
              }
              std::fprintf(stderr, "migrate: created bucket %s (replicas %d)\n", bucket.c_str(),
                           replicas);
              cb({}, replicas);
            });
      });
}

// Runs the loop until `done` or the deadline.
void RunUntil(uv_loop_t* loop, const bool& done, int64_t timeout_ms) {
  const int64_t deadline = MonoMs() + timeout_ms;
  while (!done && MonoMs() < deadline) uv_run(loop, UV_RUN_ONCE);
}

}  // namespace

// --- entry point ---------------------------------------------------------------------------

int RunMigrate(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  MigrateOptions options;
  Config config;
  bool wants_help = false;
  std::string err = ParseMigrateFlags(argc, argv, &options, &config, &wants_help);
  if (wants_help) {
    std::fputs(MigrateUsage().c_str(), stdout);
    return 0;
  }
  if (!err.empty()) {
    std::fprintf(stderr, "redis-nats-gateway migrate: %s\n%s", err.c_str(), MigrateUsage().c_str());
    return 2;
  }
  if (config.nats_client != "wire") {
    std::fprintf(stderr,
                 "redis-nats-gateway migrate: --nats-client natsc is not supported "
                 "(migrate writes large values to the Object Store, which needs the "
                 "wire client)\n");
    return 2;
  }
  const kvmap::NatsAuthFiles nats_auth_files{config.nats_nkey_file, config.nats_creds_file};
  {
    kvmap::NatsUserAuth probe;
    std::string auth_err = kvmap::LoadNatsUserAuth(nats_auth_files, &probe);
    if (!auth_err.empty()) {
      std::fprintf(stderr, "redis-nats-gateway migrate: %s\n", auth_err.c_str());
      return 1;
    }
  }

  // The NATS server: --nats, else the one a gateway runs for --data-dir, else our own.
  EmbeddedNats embedded;
  std::string nats_desc;
  if (config.nats_urls.empty()) {
    std::string running = FindRunningEmbeddedNats(config.data_dir);
    if (!running.empty()) {
      config.nats_urls.push_back(running);
      nats_desc = "the nats-server of " + config.data_dir + " at " + running;
    } else {
      std::string e = embedded.Start(config.nats_server_bin, config.data_dir, 15000);
      if (!e.empty()) {
        std::fprintf(stderr, "redis-nats-gateway migrate: %s\n", e.c_str());
        return 1;
      }
      std::fprintf(stderr, "migrate: started nats-server pid %d at %s, store in %s\n",
                   embedded.pid(), embedded.url().c_str(), config.data_dir.c_str());
      config.nats_urls.push_back(embedded.url());
      nats_desc = "nats-server of " + config.data_dir + " (started for the migration)";
    }
  } else {
    for (const std::string& u : config.nats_urls) {
      // Never print credentials that a URL may carry.
      std::string shown = u;
      if (size_t at = shown.find('@'); at != std::string::npos) {
        size_t scheme = shown.find("://");
        shown = shown.substr(0, scheme == std::string::npos ? 0 : scheme + 3) + "***" +
                shown.substr(at);
      }
      nats_desc += (nats_desc.empty() ? "" : ",") + shown;
    }
  }

  uv_loop_t* loop = uv_default_loop();
  LoopExecutor executor(loop);
  struct NatsLibraryCloser {
    ~NatsLibraryCloser() { kvmap::NatsKvBackend::CloseLibrary(2000); }
  } nats_library_closer;

  NatsWireOptions wire_options;
  wire_options.servers = config.nats_urls;
  wire_options.marker_grace_ms = config.marker_grace_ms;
  wire_options.op_timeout_ms = config.nats_timeout_ms;
  wire_options.replicas = config.replicas;
  wire_options.auth_files = nats_auth_files;
  wire_options.tls.ca_file = config.nats_tls_ca;
  wire_options.tls.cert_file = config.nats_tls_cert;
  wire_options.tls.key_file = config.nats_tls_key;
  wire_options.client_name = "redis-nats-gateway-migrate";
  auto wire = std::make_unique<NatsWireBackend>(loop, &executor, wire_options);
  auto teardown = [&] {
    wire->Stop();
    executor.Close();
    uv_run(loop, UV_RUN_NOWAIT);  // the close callbacks
    wire.reset();
  };
  wire->Start();
  {
    const int64_t wait_ms =
        embedded.pid() > 0 ? 10000 : std::max<int64_t>(config.nats_timeout_ms, 2000);
    const int64_t deadline = MonoMs() + wait_ms;
    while (!wire->is_connected() && wire->auth_error().empty() && MonoMs() < deadline) {
      uv_run(loop, UV_RUN_ONCE);
    }
  }
  if (!wire->is_connected()) {
    if (!wire->auth_error().empty()) {
      std::fprintf(stderr, "redis-nats-gateway migrate: cannot authenticate to NATS: %s\n",
                   wire->auth_error().c_str());
    } else {
      std::fprintf(stderr, "redis-nats-gateway migrate: cannot connect to NATS (%s)\n",
                   nats_desc.c_str());
    }
    teardown();
    return 1;
  }
  const std::string bucket = config.BucketFor(options.to_db);
  {
    // The copy ensures the stream itself (no bucket follower, see EnsureKvStream). A verify,
    // and any bucket with several replicas, goes through EnsureBucket: reads of a replicated
    // bucket then go to the stream leader (followers may be behind).
    bool is_done = false;
    std::string bucket_err;
    auto ensure = [&] {
      wire->EnsureBucket(bucket, [&](KvStatus st, std::string detail) {
        if (st != KvStatus::kOk) {
          bucket_err = std::string(kvmap::KvStatusName(st)) + (detail.empty() ? "" : ": " + detail);
        }
        is_done = true;
      });
    };
    if (options.is_verify) {
      ensure();
    } else {
      EnsureKvStream(wire->streams(), bucket, config.replicas,
                     [&](std::string e, int64_t replicas) {
                       if (!e.empty()) {
                         bucket_err = std::move(e);
                         is_done = true;
                       } else if (replicas > 1) {
                         ensure();
                       } else {
                         is_done = true;
                       }
                     });
    }
    RunUntil(loop, is_done, 2 * config.nats_timeout_ms + 1000);
    if (!is_done || !bucket_err.empty()) {
      std::fprintf(stderr, "redis-nats-gateway migrate: bucket %s: %s\n", bucket.c_str(),
                   is_done ? bucket_err.c_str() : "no answer from NATS");
      teardown();
      return 1;
    }
  }
  ObjectStoreOptions object_options;
  object_options.threshold = static_cast<size_t>(config.object_threshold);
  object_options.grace_ms = config.object_grace_ms;
  object_options.sweep_ms = 0;  // no sweeping here: the gateways do it
  object_options.replicas = config.replicas;
  auto objects = std::make_unique<ObjectLayer>(wire.get(), &executor, object_options);

  RedisClientOptions source_options;
  source_options.url = options.source;
  source_options.connect_timeout_ms = kSourceConnectMs;
  source_options.reply_timeout_ms = kSourceReplyMs;
  auto source = std::make_unique<RedisClient>(loop, source_options);
  source->Start();

  int code = 0;
  {
    Migration migration(loop, options, source.get(), objects.get(), wire.get(), bucket, nats_desc);
    migration.Start();
    while (!migration.is_finished()) uv_run(loop, UV_RUN_ONCE);
    migration.PrintResult();
    code = migration.exit_code();
    migration.Close();
    uv_run(loop, UV_RUN_NOWAIT);
  }
  source.reset();
  objects.reset();
  teardown();
  embedded.Stop();
  return code;
}

}  // namespace gateway
