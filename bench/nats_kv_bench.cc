// SPDX-License-Identifier: Apache-2.0
//
// bench/nats_kv_bench.cc: the "raw NATS floor" of the performance matrix (bench/e2e/matrix.sh).
//
// Performs, over ONE nats.c connection, the JetStream KV operations the gateway performs for one
// Redis command, with as many requests in flight as `redis-benchmark -c C -P P`: C virtual
// clients, each sends P requests, waits for all P to complete, then sends the next P. A request's
// latency runs from its batch being sent to its own completion (redis-benchmark takes the time of
// the first reply of a batch for all of it, so with P > 1 ours is the stricter figure).
//
//   nats_kv_bench --url nats://127.0.0.1:PORT [--bucket rawbench] -t set|get|incr|mset
//                 [-c 50] [-P 1] [-n 100000] [-d 3] [-r 0] [--csv]
//                 [--mode loop|async] [--send-asap 0|1] [--global-delivery 0|1]
//
// Operations, as the gateway's loop-native client sends them (gateway/nats_wire_backend.cc,
// gateway/commands/string_commands.cc, gateway/commands/rmw.cc):
//   set   publish to $KV.<bucket>.<key> with a reply subject, header `Redis-Event: set`, a value
//         of -d bytes ('x', as redis-benchmark); done on the JetStream ack (an error ack fails).
//   get   publish, empty, to $JS.API.DIRECT.GET.KV_<bucket>.$KV.<bucket>.<key>; done on the reply
//         (a 404 for a missing key is a normal answer, any other status fails).
//   incr  a direct get, then a put of the incremented integer with
//         `Nats-Expected-Last-Subject-Sequence: <Nats-Sequence of the get, 0 if none>`,
//         `Redis-Event: incrby` and a unique `Nats-Msg-Id` (the gateway gives every
//         compare-and-set write one); a "wrong last sequence" ack retries from the get. Two
//         round trips. The value is stored as decimal text, like the gateway's.
//   mset  10 puts as for set, each to its own random key (like redis-benchmark's MSET with 10
//         keys); done when all 10 are acked.
// Keys: with -r R, `key.<12 digits, random below R>` (`counter.` for incr), which is what the
// gateway's key codec makes of redis-benchmark's `key:__rand_int__`; with -r 0, the fixed
// `key.__rand_int__` / `counter.__rand_int__`, as redis-benchmark without -r.
//
// The bucket (--bucket, default rawbench) is created when missing, through the JetStream API
// with the stream configuration the gateway uses (kvmap/js_api.cc BuildKvStreamConfig: history 1,
// file storage, allow_direct, deny_delete, rollups, 30 s duplicate window, 1 replica), on a
// separate set-up connection that is closed before the measurement. Nothing is populated.
//
// Replies: one subscription on `<inbox>.*`; every request is published with the reply subject
// `<inbox>.<slot>`, where a slot is one of the C * P requests in flight.
//
// nats.c arrangement (--mode). `loop` is the default because it was the fastest, or level within
// the noise, in every case measured, and uses the least CPU; it is an honest use of nats.c's
// public API (the same arrangement as the gateway's own loop-native NATS client):
//   loop   (default) nats.c's external event-loop hooks (natsOptions_SetEventLoop) served by a
//          small poll() loop on the main thread, with a synchronous subscription drained by
//          natsSubscription_NextMsg(0) on that same thread. nats.c's parser, our reply handling
//          and the publishes of the next batches all run on one thread, and everything published
//          during one loop pass leaves in one write() (natsConnection_ProcessWriteEvent). No
//          thread hand-off per message. SendAsap is set so that nats.c starts no flusher thread
//          (with an event loop it only asks the loop for a write event).
//   async  nats.c's default threads: its socket reader hands each reply to the subscription's
//          delivery thread (or, with --global-delivery 1, to the global delivery pool), whose
//          callback handles it and publishes the next batch. --send-asap 1 (default) writes
//          each publish at once (one write() per publish); --send-asap 0 leaves writing to
//          nats.c's flusher thread, which waits up to 1 ms to gather more.
//          natsConnection_Flush per batch was not tried as a default: it is a PING/PONG round
//          trip that blocks the delivery thread (and there is no public flush-the-buffer call).
// Medians of 3 runs, ops/s GET / SET, -d 100 -r 100000, 2-core machine with other work running
// (nats-server 2.9.10, nats.c 3.4.1); "async 0" is --send-asap 0, "global" adds
// --global-delivery 1 to async:
//   -c 1 -P 1     loop 8.1k / 8.8k   async 7.2k / 7.3k   global 7.1k / 8.0k   async 0 ~960 / 970
//   -c 50 -P 1    loop 52k / 29k     async 33k / 25k     global 33k / 25k     async 0 30k / 23k
//   -c 50 -P 16   loop 58k / 32k     async 48k / 33k     global 52k / 35k     async 0 55k / 35k
//   -c 500 -P 16  loop 65k / 34k     async 61k / 38k     global 71k / 36k     async 0 66k / 35k
// At -c 500 the runs spread by +-30%, more than the modes differ; in 5 alternating SET runs at
// -c 500 -P 1 loop had the best median (24.2k, against 22.9k for async 0 and 20.5k for async)
// with 0.9 s of CPU against 1.2 s and 1.6 s.
//
// Output: a human summary, or with --csv the CSV of redis-benchmark 7 (header line, then one
// line: "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms",
// "p99_latency_ms","max_latency_ms"; test names SET, GET, INCR, MSET (10 keys)), so one parser
// reads both. incr retries and other notes go to stderr.
//
// Exit status: 0 on success, 1 on any error reply, lost connection or stall (no reply for 10 s),
// 2 on bad usage. Links only nats.c and the threads library; no gateway code.
#include <nats/nats.h>
#include <poll.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <condition_variable>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kStallMs = 10000;  // no reply for this long: fail
constexpr int kMsetKeys = 10;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

[[noreturn]] void Fail(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void Fail(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::fputs("nats_kv_bench: error: ", stderr);
  std::vfprintf(stderr, fmt, ap);
  std::fputc('\n', stderr);
  va_end(ap);
  std::fflush(stdout);
  std::_Exit(1);  // other nats.c threads may still run; do not run destructors under them
}

[[noreturn]] void Usage(const std::string& why) {
  std::fprintf(stderr,
               "nats_kv_bench: %s\n"
               "usage: nats_kv_bench --url nats://127.0.0.1:PORT [--bucket NAME] -t set|get|incr|mset\n"
               "                     [-c CLIENTS] [-P PIPELINE] [-n REQUESTS] [-d BYTES] [-r KEYSPACE]\n"
               "                     [--csv] [--mode loop|async] [--send-asap 0|1]\n"
               "                     [--global-delivery 0|1]\n",
               why.c_str());
  std::exit(2);
}

void NatsCheck(natsStatus s, const char* what) {
  if (s != NATS_OK) Fail("%s: %s (%s)", what, natsStatus_GetText(s), nats_GetLastError(nullptr));
}

// --- options ------------------------------------------------------------------------------------

enum class Test { kSet, kGet, kIncr, kMset };
enum class Mode { kLoop, kAsync };

struct Options {
  std::string url;
  std::string bucket = "rawbench";
  Test test = Test::kSet;
  std::string test_name;
  long clients = 50;
  long pipeline = 1;
  long requests = 100000;
  long data_size = 3;  // redis-benchmark's default
  long keyspace = 0;
  bool csv = false;
  Mode mode = Mode::kLoop;
  bool send_asap = true;
  bool global_delivery = false;
};

long ParseLong(const std::string& flag, const char* text, long min, long max) {
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || v < min || v > max) {
    Usage("bad value for " + flag + ": " + text);
  }
  return v;
}

bool ValidBucket(const std::string& b) {
  if (b.empty() || b.size() > 64) return false;
  for (char c : b) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Options ParseArgs(int argc, char** argv) {
  Options o;
  bool have_test = false;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) Usage("missing value for " + a);
      return argv[++i];
    };
    if (a == "--url") {
      o.url = value();
    } else if (a == "--bucket") {
      o.bucket = value();
    } else if (a == "-t") {
      std::string t = value();
      have_test = true;
      if (t == "set") {
        o.test = Test::kSet;
        o.test_name = "SET";
      } else if (t == "get") {
        o.test = Test::kGet;
        o.test_name = "GET";
      } else if (t == "incr") {
        o.test = Test::kIncr;
        o.test_name = "INCR";
      } else if (t == "mset") {
        o.test = Test::kMset;
        o.test_name = "MSET (10 keys)";
      } else {
        Usage("unknown test " + t + " (set, get, incr or mset)");
      }
    } else if (a == "-c") {
      o.clients = ParseLong(a, value(), 1, 100000);
    } else if (a == "-P") {
      o.pipeline = ParseLong(a, value(), 1, 100000);
    } else if (a == "-n") {
      o.requests = ParseLong(a, value(), 1, 1000000000L);
    } else if (a == "-d") {
      o.data_size = ParseLong(a, value(), 0, 64L << 20);
    } else if (a == "-r") {
      o.keyspace = ParseLong(a, value(), 0, 1000000000000L - 1);
    } else if (a == "--csv") {
      o.csv = true;
    } else if (a == "--mode") {
      std::string m = value();
      if (m == "loop") {
        o.mode = Mode::kLoop;
      } else if (m == "async") {
        o.mode = Mode::kAsync;
      } else {
        Usage("unknown mode " + m + " (loop or async)");
      }
    } else if (a == "--send-asap") {
      o.send_asap = ParseLong(a, value(), 0, 1) != 0;
    } else if (a == "--global-delivery") {
      o.global_delivery = ParseLong(a, value(), 0, 1) != 0;
    } else if (a == "-h" || a == "--help") {
      Usage("help");
    } else {
      Usage("unexpected argument " + a);
    }
  }
  if (o.url.empty()) Usage("--url is required");
  if (!have_test) Usage("-t is required");
  if (!ValidBucket(o.bucket)) Usage("invalid bucket name " + o.bucket);
  if (o.clients * o.pipeline > 1000000) Usage("-c * -P is too large");
  return o;
}

// --- bucket set-up (its own short-lived connection) ---------------------------------------------

std::string Reply(natsMsg* m) {
  return std::string(natsMsg_GetData(m), static_cast<size_t>(natsMsg_GetDataLength(m)));
}

// The gateway's stream configuration for a KV bucket (kvmap/js_api.cc BuildKvStreamConfig), with
// history 1, one replica and the default 30 s duplicate window.
std::string KvStreamConfig(const std::string& bucket) {
  return "{\"name\":\"KV_" + bucket + "\",\"subjects\":[\"$KV." + bucket +
         ".>\"],\"retention\":\"limits\",\"max_consumers\":-1,\"max_msgs\":-1,\"max_bytes\":-1"
         ",\"max_age\":0,\"max_msgs_per_subject\":1,\"max_msg_size\":-1,\"discard\":\"new\""
         ",\"storage\":\"file\",\"num_replicas\":1,\"duplicate_window\":30000000000"
         ",\"allow_direct\":true,\"allow_rollup_hdrs\":true,\"deny_delete\":true"
         ",\"deny_purge\":false,\"mirror_direct\":false}";
}

void EnsureBucket(const Options& o) {
  natsOptions* opts = nullptr;
  natsConnection* nc = nullptr;
  NatsCheck(natsOptions_Create(&opts), "natsOptions_Create");
  NatsCheck(natsOptions_SetURL(opts, o.url.c_str()), "natsOptions_SetURL");
  NatsCheck(natsOptions_SetAllowReconnect(opts, false), "natsOptions_SetAllowReconnect");
  NatsCheck(natsConnection_Connect(&nc, opts), "connect (set-up)");
  natsMsg* reply = nullptr;
  const std::string info = "$JS.API.STREAM.INFO.KV_" + o.bucket;
  NatsCheck(natsConnection_Request(&reply, nc, info.c_str(), nullptr, 0, 5000),
            "JetStream STREAM.INFO (is JetStream enabled?)");
  std::string body = Reply(reply);
  natsMsg_Destroy(reply);
  if (body.find("\"error\"") != std::string::npos) {
    if (body.find("\"err_code\":10059") == std::string::npos) {
      Fail("STREAM.INFO KV_%s: %s", o.bucket.c_str(), body.c_str());
    }
    const std::string create = "$JS.API.STREAM.CREATE.KV_" + o.bucket;
    const std::string config = KvStreamConfig(o.bucket);
    NatsCheck(natsConnection_Request(&reply, nc, create.c_str(), config.data(),
                                     static_cast<int>(config.size()), 5000),
              "JetStream STREAM.CREATE");
    body = Reply(reply);
    natsMsg_Destroy(reply);
    // Another process may have created it meanwhile (10058: name in use): fine if so.
    if (body.find("\"error\"") != std::string::npos &&
        body.find("\"err_code\":10058") == std::string::npos) {
      Fail("STREAM.CREATE KV_%s: %s", o.bucket.c_str(), body.c_str());
    }
    std::fprintf(stderr, "nats_kv_bench: created bucket %s\n", o.bucket.c_str());
  } else if (body.find("\"allow_direct\":true") == std::string::npos) {
    Fail("bucket %s exists without allow_direct (direct gets would not be answered)",
         o.bucket.c_str());
  }
  natsConnection_Destroy(nc);
  natsOptions_Destroy(opts);
}

// --- the benchmark ------------------------------------------------------------------------------

// One of the C * P requests in flight.
struct Slot {
  uint32_t client = 0;
  uint8_t phase = 0;      // incr: 0 = get sent, 1 = put sent
  uint8_t acks_left = 0;  // mset
  uint64_t retries = 0;
  int64_t start_ns = 0;   // its batch was sent
  std::string key;        // incr: the counter's key
  std::string reply;      // <inbox>.<slot>
};

struct VirtualClient {
  long outstanding = 0;  // requests of the current batch not yet complete
  bool idle = false;     // budget exhausted, nothing outstanding
};

class Bench {
 public:
  explicit Bench(Options o) : o_(std::move(o)), rng_(std::random_device{}()) {
    value_.assign(static_cast<size_t>(o_.data_size), 'x');
    put_prefix_ = "$KV." + o_.bucket + ".";
    get_prefix_ = "$JS.API.DIRECT.GET.KV_" + o_.bucket + ".$KV." + o_.bucket + ".";
    char hex[40];
    std::snprintf(hex, sizeof(hex), "%016" PRIx64 "%016" PRIx64 "-",
                  static_cast<uint64_t>(rng_()), static_cast<uint64_t>(rng_()));
    msg_id_prefix_ = hex;
    latencies_.reserve(static_cast<size_t>(o_.requests + o_.clients * o_.pipeline));
  }

  int Run();

 private:
  void Connect();
  void Start();
  void SendBatch(uint32_t client);
  void StartSlot(uint32_t index);
  std::string RandomKey(const char* prefix);
  void PublishGet(Slot& s, const std::string& key);
  void PublishPut(Slot& s, const std::string& key, const char* data, size_t len,
                  const char* event, const char* expected_seq);
  void Handle(natsMsg* msg);  // takes ownership
  void Complete(Slot& s, int64_t now);
  bool Done() const { return idle_clients_ == static_cast<long>(clients_.size()); }
  void RunLoop();
  void RunAsync();
  void Report(int64_t elapsed_ns);

  static void OnAsyncMsg(natsConnection*, natsSubscription*, natsMsg* msg, void* closure);
  static natsStatus EvAttach(void** user, void* loop, natsConnection* nc, natsSock fd);
  static natsStatus EvRead(void* user, bool add);
  static natsStatus EvWrite(void* user, bool add);
  static natsStatus EvDetach(void* user);

  Options o_;
  std::mt19937_64 rng_;
  std::string value_, put_prefix_, get_prefix_, msg_id_prefix_, inbox_;
  uint64_t msg_id_counter_ = 0;
  natsOptions* opts_ = nullptr;
  natsConnection* nc_ = nullptr;
  natsSubscription* sub_ = nullptr;

  std::vector<Slot> slots_;
  std::vector<VirtualClient> clients_;
  long issued_ = 0;
  long idle_clients_ = 0;
  uint64_t incr_retries_ = 0;
  uint64_t gets_missing_ = 0;  // get: 404 answers
  std::vector<int64_t> latencies_;  // ns
  int64_t last_progress_ns_ = 0;

  // async mode: the delivery thread and main share the state above under mu_.
  std::mutex mu_;
  std::condition_variable done_cv_;

  // loop mode: the event-loop hooks.
  natsSock fd_ = -1;
  bool attached_ = false;
  std::atomic<bool> want_write_{false};
};

std::string Bench::RandomKey(const char* prefix) {
  std::string key = prefix;
  if (o_.keyspace <= 0) {
    key += "__rand_int__";
    return key;
  }
  char digits[24];
  std::snprintf(digits, sizeof(digits), "%012" PRIu64,
                static_cast<uint64_t>(rng_() % static_cast<uint64_t>(o_.keyspace)));
  key += digits;
  return key;
}

void Bench::PublishGet(Slot& s, const std::string& key) {
  std::string subject = get_prefix_ + key;
  NatsCheck(natsConnection_PublishRequest(nc_, subject.c_str(), s.reply.c_str(), nullptr, 0),
            "publish (direct get)");
}

void Bench::PublishPut(Slot& s, const std::string& key, const char* data, size_t len,
                       const char* event, const char* expected_seq) {
  std::string subject = put_prefix_ + key;
  natsMsg* m = nullptr;
  NatsCheck(natsMsg_Create(&m, subject.c_str(), s.reply.c_str(), data, static_cast<int>(len)),
            "natsMsg_Create");
  NatsCheck(natsMsgHeader_Set(m, "Redis-Event", event), "natsMsgHeader_Set");
  if (expected_seq != nullptr) {
    NatsCheck(natsMsgHeader_Set(m, "Nats-Expected-Last-Subject-Sequence", expected_seq),
              "natsMsgHeader_Set");
    char id[64];
    std::snprintf(id, sizeof(id), "%s%" PRIu64, msg_id_prefix_.c_str(), ++msg_id_counter_);
    NatsCheck(natsMsgHeader_Set(m, "Nats-Msg-Id", id), "natsMsgHeader_Set");
  }
  NatsCheck(natsConnection_PublishMsg(nc_, m), "publish (put)");
  natsMsg_Destroy(m);
}

void Bench::StartSlot(uint32_t index) {
  Slot& s = slots_[index];
  switch (o_.test) {
    case Test::kSet:
      PublishPut(s, RandomKey("key."), value_.data(), value_.size(), "set", nullptr);
      break;
    case Test::kGet:
      PublishGet(s, RandomKey("key."));
      break;
    case Test::kIncr:
      s.phase = 0;
      s.key = RandomKey("counter.");
      PublishGet(s, s.key);
      break;
    case Test::kMset:
      s.acks_left = kMsetKeys;
      for (int i = 0; i < kMsetKeys; i++) {
        PublishPut(s, RandomKey("key."), value_.data(), value_.size(), "set", nullptr);
      }
      break;
  }
}

void Bench::SendBatch(uint32_t client) {
  VirtualClient& c = clients_[client];
  if (issued_ >= o_.requests) {
    c.idle = true;
    ++idle_clients_;
    return;
  }
  // Like redis-benchmark: a batch is always P requests, so the total may pass -n by < P * C.
  issued_ += o_.pipeline;
  c.outstanding = o_.pipeline;
  const int64_t now = NowNs();
  const uint32_t first = client * static_cast<uint32_t>(o_.pipeline);
  for (uint32_t i = 0; i < static_cast<uint32_t>(o_.pipeline); i++) {
    slots_[first + i].start_ns = now;
    StartSlot(first + i);
  }
}

void Bench::Complete(Slot& s, int64_t now) {
  latencies_.push_back(now - s.start_ns);
  VirtualClient& c = clients_[s.client];
  if (--c.outstanding == 0) SendBatch(s.client);
}

// Parses the JetStream ack of a put; returns true on success, false on "wrong last sequence"
// (only expected for incr), fails on anything else.
bool CheckAck(natsMsg* msg) {
  if (natsMsg_IsNoResponders(msg)) Fail("put answered 503 no responders (no such bucket?)");
  std::string_view body(natsMsg_GetData(msg), static_cast<size_t>(natsMsg_GetDataLength(msg)));
  if (body.find("\"error\"") == std::string_view::npos) {
    if (body.find("\"seq\"") == std::string_view::npos) {
      Fail("unexpected publish acknowledgement: %.*s", static_cast<int>(body.size()), body.data());
    }
    return true;
  }
  if (body.find("\"err_code\":10071") != std::string_view::npos) return false;
  Fail("put answered an error: %.*s", static_cast<int>(body.size()), body.data());
}

void Bench::Handle(natsMsg* msg) {
  const int64_t now = NowNs();
  last_progress_ns_ = now;
  const char* subject = natsMsg_GetSubject(msg);
  const char* dot = std::strrchr(subject, '.');
  char* end = nullptr;
  unsigned long index = dot ? std::strtoul(dot + 1, &end, 10) : 0;
  if (!dot || end == dot + 1 || *end != '\0' || index >= slots_.size()) {
    natsMsg_Destroy(msg);
    Fail("reply on an unexpected subject %s", subject);
  }
  Slot& s = slots_[index];
  const char* status = nullptr;
  if (natsMsgHeader_Get(msg, "Status", &status) != NATS_OK) status = nullptr;

  switch (o_.test) {
    case Test::kSet:
      CheckAck(msg);
      Complete(s, now);
      break;
    case Test::kMset:
      CheckAck(msg);
      if (--s.acks_left == 0) Complete(s, now);
      break;
    case Test::kGet:
      if (status != nullptr) {
        if (std::strcmp(status, "404") != 0) Fail("direct get answered status %s", status);
        ++gets_missing_;
      }
      Complete(s, now);
      break;
    case Test::kIncr:
      if (s.phase == 0) {
        uint64_t rev = 0;
        long long value = 0;
        if (status != nullptr) {
          if (std::strcmp(status, "404") != 0) Fail("direct get answered status %s", status);
        } else {
          const char* seq = nullptr;
          if (natsMsgHeader_Get(msg, "Nats-Sequence", &seq) == NATS_OK && seq != nullptr) {
            rev = std::strtoull(seq, nullptr, 10);
          }
          std::string text(natsMsg_GetData(msg), static_cast<size_t>(natsMsg_GetDataLength(msg)));
          char* vend = nullptr;
          errno = 0;
          value = text.empty() ? 0 : std::strtoll(text.c_str(), &vend, 10);
          if (!text.empty() && (errno != 0 || *vend != '\0')) {
            Fail("counter %s holds a non-integer value", s.key.c_str());
          }
        }
        char next[24], expected[24];
        int len = std::snprintf(next, sizeof(next), "%lld", value + 1);
        std::snprintf(expected, sizeof(expected), "%" PRIu64, rev);
        s.phase = 1;
        PublishPut(s, s.key, next, static_cast<size_t>(len), "incrby", expected);
      } else if (CheckAck(msg)) {
        Complete(s, now);
      } else {
        // Lost the compare-and-set to another writer: read again.
        ++incr_retries_;
        ++s.retries;
        s.phase = 0;
        PublishGet(s, s.key);
      }
      break;
  }
  natsMsg_Destroy(msg);
}

void Bench::Connect() {
  NatsCheck(natsOptions_Create(&opts_), "natsOptions_Create");
  NatsCheck(natsOptions_SetURL(opts_, o_.url.c_str()), "natsOptions_SetURL");
  NatsCheck(natsOptions_SetAllowReconnect(opts_, false), "natsOptions_SetAllowReconnect");
  NatsCheck(natsOptions_SetIOBufSize(opts_, 256 * 1024), "natsOptions_SetIOBufSize");
  if (o_.mode == Mode::kLoop) {
    // With an event loop, SendAsap only means "ask the loop for a write event now" and spares
    // the flusher thread.
    NatsCheck(natsOptions_SetSendAsap(opts_, true), "natsOptions_SetSendAsap");
    NatsCheck(natsOptions_SetEventLoop(opts_, this, EvAttach, EvRead, EvWrite, EvDetach),
              "natsOptions_SetEventLoop");
  } else {
    NatsCheck(natsOptions_SetSendAsap(opts_, o_.send_asap), "natsOptions_SetSendAsap");
    NatsCheck(natsOptions_UseGlobalMessageDelivery(opts_, o_.global_delivery),
              "natsOptions_UseGlobalMessageDelivery");
  }
  NatsCheck(natsConnection_Connect(&nc_, opts_), "connect");
  natsInbox* inbox = nullptr;
  NatsCheck(natsInbox_Create(&inbox), "natsInbox_Create");
  inbox_ = inbox;
  natsInbox_Destroy(inbox);
  const std::string wildcard = inbox_ + ".*";
  if (o_.mode == Mode::kLoop) {
    NatsCheck(natsConnection_SubscribeSync(&sub_, nc_, wildcard.c_str()), "subscribe");
  } else {
    NatsCheck(natsConnection_Subscribe(&sub_, nc_, wildcard.c_str(), OnAsyncMsg, this),
              "subscribe");
  }
  // Room for every reply in flight (mset: 10 per request) without a slow-consumer drop.
  NatsCheck(natsSubscription_SetPendingLimits(sub_, 1 << 24, 1 << 30),
            "natsSubscription_SetPendingLimits");
}

void Bench::Start() {
  const size_t n = static_cast<size_t>(o_.clients * o_.pipeline);
  slots_.resize(n);
  clients_.resize(static_cast<size_t>(o_.clients));
  for (size_t i = 0; i < n; i++) {
    slots_[i].client = static_cast<uint32_t>(i / static_cast<size_t>(o_.pipeline));
    slots_[i].reply = inbox_ + "." + std::to_string(i);
  }
  last_progress_ns_ = NowNs();
  for (uint32_t c = 0; c < clients_.size(); c++) SendBatch(c);
}

// --- loop mode ------------------------------------------------------------------------------------

natsStatus Bench::EvAttach(void** user, void* loop, natsConnection*, natsSock fd) {
  auto* b = static_cast<Bench*>(loop);
  b->fd_ = fd;
  b->attached_ = true;
  *user = b;
  return NATS_OK;
}
natsStatus Bench::EvRead(void*, bool) { return NATS_OK; }  // we always poll for reads
natsStatus Bench::EvWrite(void* user, bool add) {
  // May be called from nats.c's timer thread (PINGs): atomic, and the poll timeout is short.
  static_cast<Bench*>(user)->want_write_.store(add, std::memory_order_relaxed);
  return NATS_OK;
}
natsStatus Bench::EvDetach(void* user) {
  static_cast<Bench*>(user)->attached_ = false;
  return NATS_OK;
}

void Bench::RunLoop() {
  if (!attached_) Fail("nats.c did not attach the connection to the event loop");
  // The SUB and everything Start() published are in nats.c's buffer; the loop writes them.
  while (true) {
    // Only what is queued: NextMsg on an empty queue would take its timeout (error) path.
    int queued = 0, queued_bytes = 0;
    NatsCheck(natsSubscription_GetPending(sub_, &queued, &queued_bytes), "GetPending");
    for (int i = 0; i < queued; i++) {
      natsMsg* msg = nullptr;
      NatsCheck(natsSubscription_NextMsg(&msg, sub_, 0), "NextMsg");
      Handle(msg);
    }
    if (!natsConnection_IsClosed(nc_) && want_write_.load(std::memory_order_relaxed)) {
      natsConnection_ProcessWriteEvent(nc_);
    }
    if (Done()) break;
    if (natsConnection_IsClosed(nc_) || !attached_) Fail("connection to NATS lost");
    pollfd p{};
    p.fd = fd_;
    p.events = static_cast<short>(POLLIN | (want_write_.load() ? POLLOUT : 0));
    int r = poll(&p, 1, 20);
    if (r < 0 && errno != EINTR) Fail("poll: %s", std::strerror(errno));
    if (r > 0) {
      if (p.revents & (POLLIN | POLLERR | POLLHUP)) natsConnection_ProcessReadEvent(nc_);
      if (p.revents & POLLOUT) natsConnection_ProcessWriteEvent(nc_);
    } else if (r == 0 && NowNs() - last_progress_ns_ > int64_t{kStallMs} * 1000000) {
      Fail("no reply for %d ms (%zu of %ld requests complete)", kStallMs, latencies_.size(),
           issued_);
    }
  }
}

// --- async mode -----------------------------------------------------------------------------------

void Bench::OnAsyncMsg(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  auto* b = static_cast<Bench*>(closure);
  std::lock_guard<std::mutex> lock(b->mu_);
  b->Handle(msg);
  if (b->Done()) b->done_cv_.notify_all();
}

void Bench::RunAsync() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!Done()) {
    done_cv_.wait_for(lock, std::chrono::milliseconds(100));
    if (natsConnection_IsClosed(nc_)) Fail("connection to NATS lost");
    if (!Done() && NowNs() - last_progress_ns_ > int64_t{kStallMs} * 1000000) {
      Fail("no reply for %d ms (%zu of %ld requests complete)", kStallMs, latencies_.size(),
           issued_);
    }
  }
}

// --- report ---------------------------------------------------------------------------------------

void Bench::Report(int64_t elapsed_ns) {
  std::vector<int64_t>& l = latencies_;
  std::sort(l.begin(), l.end());
  const size_t n = l.size();
  auto pct = [&](double p) -> double {
    size_t rank = static_cast<size_t>(p / 100.0 * static_cast<double>(n) + 0.999999);
    if (rank < 1) rank = 1;
    if (rank > n) rank = n;
    return static_cast<double>(l[rank - 1]) / 1e6;
  };
  double sum = 0;
  for (int64_t v : l) sum += static_cast<double>(v);
  const double rps = static_cast<double>(n) / (static_cast<double>(elapsed_ns) / 1e9);
  const double avg = sum / static_cast<double>(n) / 1e6;
  const double mn = static_cast<double>(l.front()) / 1e6;
  const double mx = static_cast<double>(l.back()) / 1e6;
  if (o_.csv) {
    std::printf("\"test\",\"rps\",\"avg_latency_ms\",\"min_latency_ms\",\"p50_latency_ms\","
                "\"p95_latency_ms\",\"p99_latency_ms\",\"max_latency_ms\"\n");
    std::printf("\"%s\",\"%.2f\",\"%.3f\",\"%.3f\",\"%.3f\",\"%.3f\",\"%.3f\",\"%.3f\"\n",
                o_.test_name.c_str(), rps, avg, mn, pct(50), pct(95), pct(99), mx);
  } else {
    std::printf("%s: %.2f requests per second, %zu requests in %.3f s, -c %ld -P %ld -d %ld "
                "-r %ld, bucket %s, mode %s\n",
                o_.test_name.c_str(), rps, n, static_cast<double>(elapsed_ns) / 1e9, o_.clients,
                o_.pipeline, o_.data_size, o_.keyspace, o_.bucket.c_str(),
                o_.mode == Mode::kLoop ? "loop" : "async");
    std::printf("  latency ms: avg %.3f min %.3f p50 %.3f p95 %.3f p99 %.3f max %.3f\n", avg, mn,
                pct(50), pct(95), pct(99), mx);
  }
  if (o_.test == Test::kGet) {
    std::fprintf(stderr, "nats_kv_bench: get: %" PRIu64 " of %zu keys not found\n", gets_missing_,
                 n);
  }
  if (o_.test == Test::kIncr) {
    std::fprintf(stderr, "nats_kv_bench: incr compare-and-set retries: %" PRIu64 "\n",
                 incr_retries_);
  }
  std::fflush(stdout);
}

int Bench::Run() {
  EnsureBucket(o_);
  Connect();
  int64_t t0 = 0;
  if (o_.mode == Mode::kLoop) {
    t0 = NowNs();
    Start();
    RunLoop();
  } else {
    std::unique_lock<std::mutex> lock(mu_);
    t0 = NowNs();
    Start();
    lock.unlock();
    RunAsync();
  }
  const int64_t elapsed = NowNs() - t0;
  Report(elapsed);
  // Clean close: in loop mode nats.c flushes through the hooks, which no longer run; destroy
  // without waiting on it.
  natsSubscription_Destroy(sub_);
  if (o_.mode == Mode::kAsync) {
    natsConnection_Destroy(nc_);
    natsOptions_Destroy(opts_);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = ParseArgs(argc, argv);
  NatsCheck(nats_Open(-1), "nats_Open");
  Bench bench(std::move(o));
  int rc = bench.Run();
  std::fflush(stdout);
  // In loop mode the connection is attached to a loop that no longer runs; leave without
  // tearing nats.c down (the process exits, the server sees the socket close).
  std::_Exit(rc);
}
