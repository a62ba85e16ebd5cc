// SPDX-License-Identifier: Apache-2.0
//
// bench/pubsub_bench.cc: pub/sub and keyspace-notification benchmarks (issue 5), one subcommand
// per measurement, each printing one machine-readable line:
//
//   RESULT test=<subcommand> name=<label> key=value ...
//
// Subcommands (every connection goes to 127.0.0.1; there is no host option on purpose):
//
//   keyspace-latency --redis-port P [--events N] [--warmup W] [--keys K] [--size B]
//                    [--notify FLAGS] [--name LABEL]
//       Latency from a write to its keyspace event, one write at a time. CONFIG SET
//       notify-keyspace-events FLAGS (default KEA) on a writer connection; a second connection
//       SUBSCRIBEs to __keyevent@0__:set. Per event: t0, send SET psb:<i % K> <B bytes>, block
//       on the subscriber until the message naming that key arrives (t1), then read the SET's
//       +OK. Reports p50/p90/p99/max/mean of t1 - t0 over N events, after W warm-up events.
//
//   nats-latency --nats-url URL --bucket B [--mode watch|ordered] [--events N] [--warmup W]
//                [--keys K] [--size B] [--create] [--name LABEL]
//       The same measurement on a NATS KV bucket with nats.c: a JetStream publish to
//       $KV.<B>.natslat.<i % K> (the request goes out at once, its ack is read after the event),
//       received by
//         watch:   kvStore_Watch(kv, "natslat.>") and kvWatcher_Next (nats.c's KV watcher,
//                  itself an ordered push consumer, plus turning each message into a kvEntry),
//                  or
//         ordered: js_SubscribeSync with Ordered = true, DeliverPolicy new, on
//                  $KV.<B>.natslat.> and natsSubscription_NextMsg (the bare consumer).
//       The connection uses SendAsap (no flusher thread in the path). --create creates the bucket
//       (history 1) when it does not exist; otherwise it must exist.
//
//   publish --redis-port P [--subscribers S] [--messages N] [--size B] [--window W]
//           [--channel C] [--warmup M] [--name LABEL]
//       One publisher and S subscriber connections on one thread (poll; raw sockets and a
//       small allocation-free RESP parser, so the client stays cheap). Each subscriber
//       SUBSCRIBEs to C; then the publisher pipelines N `PUBLISH C <B bytes>` with at most W
//       replies outstanding. The clock runs from the first PUBLISH written until every
//       subscriber has received all N messages and every reply has been read. Reports
//       publishes/s (N / elapsed), deliveries/s (messages received by all subscribers / elapsed)
//       and the sum of PUBLISH's integer replies (S * N when every subscriber is counted). A
//       warm-up of M messages (default min(N / 10, 10000)) runs first, on the same connections.
//
// Exit status: 0 on success, 1 when the measurement failed (error reply, timeout, lost message),
// 2 on bad usage.
#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr const char* kHost = "127.0.0.1";
constexpr int kTimeoutMs = 5000;  // any single wait longer than this is a failure

using Clock = std::chrono::steady_clock;

double Micros(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::micro>(b - a).count();
}

[[noreturn]] void Fail(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void Fail(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::fputs("pubsub_bench: error: ", stderr);
  std::vfprintf(stderr, fmt, ap);
  std::fputc('\n', stderr);
  va_end(ap);
  std::exit(1);
}

// --- arguments ----------------------------------------------------------------------------------

class Args {
 public:
  Args(int argc, char** argv, int first) {
    for (int i = first; i < argc; i++) {
      std::string_view arg = argv[i];
      if (arg.substr(0, 2) != "--") Usage("unexpected argument " + std::string(arg));
      std::string a(arg.substr(2));
      if (a == "create") {
        values_[a] = "1";
      } else if (i + 1 < argc) {
        values_[a] = argv[++i];
      } else {
        Usage("missing value for --" + a);
      }
    }
  }
  std::string Str(const std::string& k, const std::string& def) {
    used_.push_back(k);
    auto it = values_.find(k);
    return it == values_.end() ? def : it->second;
  }
  std::string Required(const std::string& k) {
    used_.push_back(k);
    auto it = values_.find(k);
    if (it == values_.end()) Usage("--" + k + " is required");
    return it->second;
  }
  long Int(const std::string& k, long def, long min = 0) {
    std::string s = Str(k, std::to_string(def));
    char* end = nullptr;
    long v = std::strtol(s.c_str(), &end, 10);
    if (s.empty() || *end != '\0' || v < min) Usage("bad value for --" + k + ": " + s);
    return v;
  }
  bool Flag(const std::string& k) { return Str(k, "") == "1"; }
  void CheckAllUsed() {
    for (auto& [k, v] : values_) {
      if (std::find(used_.begin(), used_.end(), k) == used_.end()) Usage("unknown option --" + k);
    }
  }
  [[noreturn]] static void Usage(const std::string& why) {
    if (!why.empty()) std::fprintf(stderr, "pubsub_bench: %s\n", why.c_str());
    std::fputs(
        "usage:\n"
        "  pubsub_bench keyspace-latency --redis-port P [--events 10000] [--warmup 500]\n"
        "               [--keys 1000] [--size 16] [--notify KEA] [--name LABEL]\n"
        "  pubsub_bench nats-latency --nats-url nats://127.0.0.1:PORT --bucket B\n"
        "               [--mode watch|ordered] [--events 10000] [--warmup 500] [--keys 1000]\n"
        "               [--size 16] [--create] [--name LABEL]\n"
        "  pubsub_bench publish --redis-port P [--subscribers 10] [--messages 200000]\n"
        "               [--size 64] [--window 100] [--channel psb-chan] [--warmup M]\n"
        "               [--name LABEL]\n"
        "Every connection goes to 127.0.0.1. Prints one 'RESULT ...' line.\n",
        stderr);
    std::exit(2);
  }

 private:
  std::map<std::string, std::string> values_;
  std::vector<std::string> used_;
};

// --- statistics ---------------------------------------------------------------------------------

// Nearest-rank percentile of sorted values.
double Pct(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t rank = static_cast<size_t>(p / 100.0 * static_cast<double>(sorted.size()) + 0.999999);
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

void PrintLatency(const char* test, const std::string& name, std::vector<double> us,
                  const std::string& extra) {
  std::sort(us.begin(), us.end());
  double sum = 0;
  for (double v : us) sum += v;
  std::printf(
      "RESULT test=%s name=%s events=%zu p50_us=%.1f p90_us=%.1f p99_us=%.1f max_us=%.1f "
      "mean_us=%.1f min_us=%.1f%s\n",
      test, name.c_str(), us.size(), Pct(us, 50), Pct(us, 90), Pct(us, 99),
      us.empty() ? 0.0 : us.back(), us.empty() ? 0.0 : sum / static_cast<double>(us.size()),
      us.empty() ? 0.0 : us.front(), extra.c_str());
  std::fflush(stdout);
}

// A value of `size` bytes.
std::string Payload(size_t size) {
  std::string v(size, 'x');
  for (size_t i = 0; i < size; i++) v[i] = static_cast<char>('a' + i % 26);
  return v;
}

// --- hiredis helpers ----------------------------------------------------------------------------

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

struct CtxDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};
using Ctx = std::unique_ptr<redisContext, CtxDeleter>;

Ctx Connect(int port) {
  timeval tv{kTimeoutMs / 1000, 0};
  Ctx c(redisConnectWithTimeout(kHost, port, tv));
  if (!c || c->err) Fail("connect to %s:%d: %s", kHost, port, c ? c->errstr : "out of memory");
  // Blocking reads time out too (a hiredis context is unusable after that: a failure anyway).
  redisSetTimeout(c.get(), tv);
  return c;
}

// The next reply on `c` within timeout_ms, or null on a timeout. Never leaves the context
// broken on a timeout (polls before reading).
Reply WaitReply(redisContext* c, int timeout_ms) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    void* r = nullptr;
    if (redisGetReplyFromReader(c, &r) != REDIS_OK) Fail("protocol error: %s", c->errstr);
    if (r != nullptr) return Reply(static_cast<redisReply*>(r));
    int left = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
    if (left < 0) return nullptr;
    pollfd p{c->fd, POLLIN, 0};
    int n = poll(&p, 1, left);
    if (n < 0 && errno != EINTR) Fail("poll: %s", std::strerror(errno));
    if (n > 0 && redisBufferRead(c) != REDIS_OK) Fail("read: %s", c->errstr);
  }
}

Reply Command(redisContext* c, const std::vector<std::string>& argv) {
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
  for (auto& a : argv) {
    ptrs.push_back(a.data());
    lens.push_back(a.size());
  }
  Reply r(static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(argv.size()), ptrs.data(), lens.data())));
  if (!r) Fail("%s: %s", argv[0].c_str(), c->errstr);
  if (r->type == REDIS_REPLY_ERROR) Fail("%s answered %s", argv[0].c_str(), r->str);
  return r;
}

void Flush(redisContext* c) {
  int done = 0;
  while (!done) {
    if (redisBufferWrite(c, &done) != REDIS_OK) Fail("write: %s", c->errstr);
  }
}

bool IsMessage(const redisReply* r, std::string_view channel) {
  return r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
         r->element[0]->type == REDIS_REPLY_STRING &&
         std::string_view(r->element[0]->str, r->element[0]->len) == "message" &&
         std::string_view(r->element[1]->str, r->element[1]->len) == channel &&
         r->element[2]->type == REDIS_REPLY_STRING;
}

void ExpectSubscribed(redisContext* c, std::string_view channel) {
  Reply r = WaitReply(c, kTimeoutMs);
  if (!r) Fail("no answer to SUBSCRIBE %.*s", static_cast<int>(channel.size()), channel.data());
  if (r->type == REDIS_REPLY_ERROR) Fail("SUBSCRIBE answered %s", r->str);
  if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
      std::string_view(r->element[0]->str, r->element[0]->len) != "subscribe" ||
      std::string_view(r->element[1]->str, r->element[1]->len) != channel) {
    Fail("unexpected answer to SUBSCRIBE");
  }
}

// --- keyspace-latency ---------------------------------------------------------------------------

int KeyspaceLatency(Args& args) {
  int port = static_cast<int>(args.Int("redis-port", 0, 1));
  long events = args.Int("events", 10000, 1);
  long warmup = args.Int("warmup", 500);
  long keys = args.Int("keys", 1000, 1);
  size_t size = static_cast<size_t>(args.Int("size", 16));
  std::string flags = args.Str("notify", "KEA");
  std::string name = args.Str("name", "redis:" + std::to_string(port));
  args.CheckAllUsed();
  const std::string channel = "__keyevent@0__:set";
  const std::string value = Payload(size);

  Ctx w = Connect(port);
  Ctx s = Connect(port);
  Command(w.get(), {"CONFIG", "SET", "notify-keyspace-events", flags});
  redisAppendCommand(s.get(), "SUBSCRIBE %b", channel.data(), channel.size());
  Flush(s.get());
  ExpectSubscribed(s.get(), channel);

  long mismatches = 0;
  // One event: SET, wait for its message, then read the +OK. Returns the latency in us.
  auto one = [&](long i, int timeout_ms) -> double {
    std::string key = "psb:" + std::to_string(i % keys);
    auto t0 = Clock::now();
    redisAppendCommand(w.get(), "SET %b %b", key.data(), key.size(), value.data(), value.size());
    Flush(w.get());
    Clock::time_point t1;
    for (;;) {
      Reply m = WaitReply(s.get(), timeout_ms);
      if (!m) return -1;
      t1 = Clock::now();
      if (!IsMessage(m.get(), channel)) Fail("unexpected push on the subscriber");
      if (std::string_view(m->element[2]->str, m->element[2]->len) == key) break;
      mismatches++;  // an event of an earlier write (should not happen one write at a time)
    }
    Reply ok = WaitReply(w.get(), kTimeoutMs);
    if (!ok) Fail("no answer to SET");
    if (ok->type != REDIS_REPLY_STATUS) {
      Fail("SET answered %s", ok->type == REDIS_REPLY_ERROR ? ok->str : "a non-status reply");
    }
    return Micros(t0, t1);
  };

  // The first event may take a moment (a gateway applies the CONFIG SET through its config
  // bucket and starts following the database): retry until one arrives.
  bool first = false;
  for (int attempt = 0; attempt < 20 && !first; attempt++) first = one(-1, 500) >= 0;
  if (!first) Fail("no keyspace event within 10 s of CONFIG SET notify-keyspace-events %s",
                   flags.c_str());
  // Drain events of retried writes before measuring.
  while (WaitReply(s.get(), 200)) {
  }
  mismatches = 0;
  for (long i = 0; i < warmup; i++) {
    if (one(i, kTimeoutMs) < 0) Fail("warm-up event %ld timed out", i);
  }
  std::vector<double> us;
  us.reserve(static_cast<size_t>(events));
  for (long i = 0; i < events; i++) {
    double v = one(i, kTimeoutMs);
    if (v < 0) Fail("event %ld: no keyspace event within %d ms", i, kTimeoutMs);
    us.push_back(v);
  }
  PrintLatency("keyspace-latency", name, us,
               " mismatches=" + std::to_string(mismatches) + " notify=" + flags);
  return 0;
}

// --- nats-latency -------------------------------------------------------------------------------

void NatsCheck(natsStatus s, const char* what) {
  if (s != NATS_OK) {
    Fail("%s: %s (%s)", what, natsStatus_GetText(s), nats_GetLastError(nullptr));
  }
}

int NatsLatency(Args& args) {
  std::string url = args.Required("nats-url");
  std::string bucket = args.Required("bucket");
  std::string mode = args.Str("mode", "watch");
  long events = args.Int("events", 10000, 1);
  long warmup = args.Int("warmup", 500);
  long keys = args.Int("keys", 1000, 1);
  size_t size = static_cast<size_t>(args.Int("size", 16));
  bool create = args.Flag("create");
  std::string name = args.Str("name", "nats-" + mode);
  args.CheckAllUsed();
  if (mode != "watch" && mode != "ordered") Args::Usage("--mode must be watch or ordered");
  if (url.rfind("nats://127.0.0.1:", 0) != 0) Args::Usage("--nats-url must be nats://127.0.0.1:PORT");
  const std::string value = Payload(size);

  natsOptions* opts = nullptr;
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  kvStore* kv = nullptr;
  NatsCheck(natsOptions_Create(&opts), "natsOptions_Create");
  NatsCheck(natsOptions_SetURL(opts, url.c_str()), "natsOptions_SetURL");
  NatsCheck(natsOptions_SetSendAsap(opts, true), "natsOptions_SetSendAsap");
  NatsCheck(natsConnection_Connect(&nc, opts), "connect");
  NatsCheck(natsConnection_JetStream(&js, nc, nullptr), "JetStream context");
  natsStatus st = js_KeyValue(&kv, js, bucket.c_str());
  if (st == NATS_NOT_FOUND && create) {
    kvConfig cfg;
    kvConfig_Init(&cfg);
    cfg.Bucket = bucket.c_str();
    cfg.History = 1;
    st = js_CreateKeyValue(&kv, js, &cfg);
  }
  NatsCheck(st, ("bucket " + bucket).c_str());

  const std::string prefix = "natslat.";
  const std::string subject_prefix = "$KV." + bucket + ".";
  kvWatcher* watcher = nullptr;
  natsSubscription* sub = nullptr;
  if (mode == "watch") {
    NatsCheck(kvStore_Watch(&watcher, kv, (prefix + ">").c_str(), nullptr), "kvStore_Watch");
    // Initial values (keys left by an earlier run), then a null entry: drain them.
    for (;;) {
      kvEntry* e = nullptr;
      natsStatus s = kvWatcher_Next(&e, watcher, 1000);
      if (s == NATS_TIMEOUT || e == nullptr) break;
      NatsCheck(s, "kvWatcher_Next");
      kvEntry_Destroy(e);
    }
  } else {
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Ordered = true;
    so.Config.DeliverPolicy = js_DeliverNew;
    std::string stream = "KV_" + bucket;
    so.Stream = stream.c_str();
    jsErrCode code = static_cast<jsErrCode>(0);
    NatsCheck(js_SubscribeSync(&sub, js, (subject_prefix + prefix + ">").c_str(), nullptr, &so,
                               &code),
              "js_SubscribeSync (ordered)");
  }

  // Acks of the puts arrive on this inbox; they are read after the event.
  natsInbox* inbox = nullptr;
  natsSubscription* acks = nullptr;
  NatsCheck(natsInbox_Create(&inbox), "natsInbox_Create");
  NatsCheck(natsConnection_SubscribeSync(&acks, nc, inbox), "ack subscription");
  NatsCheck(natsConnection_Flush(nc), "flush");

  long mismatches = 0;
  auto one = [&](long i) -> double {
    std::string key = prefix + std::to_string(i % keys);
    std::string subject = subject_prefix + key;
    auto t0 = Clock::now();
    NatsCheck(natsConnection_PublishRequest(nc, subject.c_str(), inbox, value.data(),
                                            static_cast<int>(value.size())),
              "publish");
    Clock::time_point t1;
    for (;;) {
      bool match = false;
      if (watcher != nullptr) {
        kvEntry* e = nullptr;
        natsStatus s = kvWatcher_Next(&e, watcher, kTimeoutMs);
        t1 = Clock::now();
        if (s == NATS_TIMEOUT) return -1;
        NatsCheck(s, "kvWatcher_Next");
        if (e == nullptr) continue;
        match = key == kvEntry_Key(e);
        kvEntry_Destroy(e);
      } else {
        natsMsg* m = nullptr;
        natsStatus s = natsSubscription_NextMsg(&m, sub, kTimeoutMs);
        t1 = Clock::now();
        if (s == NATS_TIMEOUT) return -1;
        NatsCheck(s, "natsSubscription_NextMsg");
        match = subject == natsMsg_GetSubject(m);
        natsMsg_Destroy(m);
      }
      if (match) break;
      mismatches++;
    }
    natsMsg* ack = nullptr;
    NatsCheck(natsSubscription_NextMsg(&ack, acks, kTimeoutMs), "put ack");
    std::string_view body(natsMsg_GetData(ack), static_cast<size_t>(natsMsg_GetDataLength(ack)));
    if (body.find("\"error\"") != std::string_view::npos) {
      Fail("put answered %.*s", static_cast<int>(body.size()), body.data());
    }
    natsMsg_Destroy(ack);
    return Micros(t0, t1);
  };

  for (long i = 0; i < warmup; i++) {
    if (one(i) < 0) Fail("warm-up event %ld timed out", i);
  }
  std::vector<double> us;
  us.reserve(static_cast<size_t>(events));
  for (long i = 0; i < events; i++) {
    double v = one(i);
    if (v < 0) Fail("event %ld: nothing received within %d ms", i, kTimeoutMs);
    us.push_back(v);
  }
  PrintLatency("nats-latency", name, us,
               " mismatches=" + std::to_string(mismatches) + " mode=" + mode + " bucket=" + bucket);

  natsSubscription_Destroy(acks);
  natsInbox_Destroy(inbox);
  if (watcher != nullptr) {
    kvWatcher_Stop(watcher);
    kvWatcher_Destroy(watcher);
  }
  if (sub != nullptr) {
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
  }
  kvStore_Destroy(kv);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  natsOptions_Destroy(opts);
  nats_Close();
  return 0;
}

// --- publish ------------------------------------------------------------------------------------

// One RESP2 value, as much of it as the fan-out needs: its type ('+', '-', ':', '$', '*'), the
// integer of ':', the text of '+', '-' and '$', and for '*' the element count and the text of
// its first element (a bulk string).
struct Value {
  char type = 0;
  long long integer = 0;
  std::string_view text;
  long long elements = 0;
  std::string_view first;
};

constexpr size_t kIncomplete = static_cast<size_t>(-1);

// Parses the value at buf[pos]; returns the position after it, or kIncomplete when buf does not
// hold all of it yet. No allocation: the fan-out parses millions of messages on one thread.
// (hiredis 0.14's reader moves its whole buffer after every reply once 1 KiB of it has been
// consumed, which costs tens of µs a message on 64 KiB reads.)
size_t ParseValue(std::string_view buf, size_t pos, Value* v, int depth = 0) {
  if (depth > 8) Fail("RESP nesting too deep");
  if (pos >= buf.size()) return kIncomplete;
  size_t cr = buf.find('\r', pos);
  if (cr == std::string_view::npos || cr + 1 >= buf.size()) return kIncomplete;
  if (buf[cr + 1] != '\n') Fail("RESP protocol error: no LF after CR");
  char type = buf[pos];
  std::string_view line = buf.substr(pos + 1, cr - pos - 1);
  size_t next = cr + 2;
  auto number = [&]() {
    long long n = 0;
    bool neg = !line.empty() && line[0] == '-';
    for (size_t i = neg ? 1 : 0; i < line.size(); i++) {
      if (line[i] < '0' || line[i] > '9') Fail("RESP protocol error: bad number");
      n = n * 10 + (line[i] - '0');
    }
    return neg ? -n : n;
  };
  if (v != nullptr) v->type = type;
  switch (type) {
    case '+':
    case '-':
      if (v != nullptr) v->text = line;
      return next;
    case ':':
      if (v != nullptr) v->integer = number();
      return next;
    case '$': {
      long long n = number();
      if (n < 0) return next;  // null bulk
      if (next + static_cast<size_t>(n) + 2 > buf.size()) return kIncomplete;
      if (v != nullptr) v->text = buf.substr(next, static_cast<size_t>(n));
      return next + static_cast<size_t>(n) + 2;
    }
    case '*': {
      long long n = number();
      if (v != nullptr) v->elements = n;
      for (long long i = 0; i < n; i++) {
        Value first;
        next = ParseValue(buf, next, i == 0 && v != nullptr ? &first : nullptr, depth + 1);
        if (next == kIncomplete) return kIncomplete;
        if (i == 0 && v != nullptr) v->first = first.text;
      }
      return next;
    }
    default:
      Fail("RESP protocol error: type byte 0x%02x", static_cast<unsigned char>(type));
  }
}

// A raw, non-blocking connection, for the poll loop.
struct RawConn {
  int fd = -1;
  std::string in;  // bytes read and not parsed yet start at in_pos
  size_t in_pos = 0;
  std::string out;  // bytes not written yet start at out_pos
  size_t out_pos = 0;

  RawConn() = default;
  RawConn(const RawConn&) = delete;
  RawConn& operator=(const RawConn&) = delete;
  ~RawConn() {
    if (fd >= 0) close(fd);
  }

  void Open(int port) {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) Fail("socket: %s", std::strerror(errno));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, kHost, &a.sin_addr);
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      Fail("connect to %s:%d: %s", kHost, port, std::strerror(errno));
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  }
  // Writes what it can; true when everything queued is written.
  bool WriteSome() {
    while (out_pos < out.size()) {
      ssize_t n = write(fd, out.data() + out_pos, out.size() - out_pos);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return false;
        if (errno == EINTR) continue;
        Fail("write: %s", std::strerror(errno));
      }
      out_pos += static_cast<size_t>(n);
    }
    out.clear();
    out_pos = 0;
    return true;
  }
  // Appends what the socket has to `in` (after dropping what was parsed); false when nothing.
  bool ReadSome() {
    if (in_pos > 0) {
      in.erase(0, in_pos);
      in_pos = 0;
    }
    constexpr size_t kChunk = 65536;
    bool any = false;
    for (;;) {
      size_t old = in.size();
      in.resize(old + kChunk);
      ssize_t n = read(fd, in.data() + old, kChunk);
      in.resize(old + (n > 0 ? static_cast<size_t>(n) : 0));
      if (n > 0) {
        any = true;
        if (static_cast<size_t>(n) < kChunk) return true;
        continue;
      }
      if (n == 0) Fail("the server closed a connection");
      if (errno == EAGAIN || errno == EWOULDBLOCK) return any;
      if (errno != EINTR) Fail("read: %s", std::strerror(errno));
    }
  }
  // The next complete value in `in`, if any.
  bool Next(Value* v) {
    size_t end = ParseValue(in, in_pos, v);
    if (end == kIncomplete) return false;
    in_pos = end;
    return true;
  }
  // Waits (poll) for the next complete value.
  Value NextBlocking() {
    auto deadline = Clock::now() + std::chrono::milliseconds(kTimeoutMs);
    for (;;) {
      Value v;
      if (Next(&v)) return v;
      int left = static_cast<int>(
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
      if (left <= 0) Fail("timed out waiting for a reply");
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, left) > 0) ReadSome();
    }
  }
  void SendBlocking(const std::string& bytes) {
    out += bytes;
    while (!WriteSome()) {
      pollfd p{fd, POLLOUT, 0};
      poll(&p, 1, kTimeoutMs);
    }
  }
};

std::string Resp(const std::vector<std::string>& argv) {
  std::string s = "*";
  s.append(std::to_string(argv.size())).append("\r\n");
  for (auto& a : argv) {
    s.append("$").append(std::to_string(a.size())).append("\r\n").append(a).append("\r\n");
  }
  return s;
}

// A subscriber's message: ["message", channel, payload].
bool IsMessageValue(const Value& v) {
  return v.type == '*' && v.elements == 3 && v.first == "message";
}

struct PublishRun {
  double elapsed_s = 0;
  double publish_done_s = 0;  // when the last PUBLISH reply arrived
  long long delivered = 0;
  long long reply_sum = 0;
};

PublishRun RunPublish(RawConn& pub, std::vector<std::unique_ptr<RawConn>>& subs, long messages,
                      long window, const std::string& command) {
  const size_t nsubs = subs.size();
  std::vector<long long> got(nsubs, 0);
  long sent = 0, replied = 0;
  long long delivered = 0, reply_sum = 0;
  const long long want = static_cast<long long>(messages) * static_cast<long long>(nsubs);
  std::vector<pollfd> fds(nsubs + 1);
  fds[0].fd = pub.fd;
  for (size_t i = 0; i < nsubs; i++) fds[i + 1] = {subs[i]->fd, POLLIN, 0};

  auto t0 = Clock::now();
  Clock::time_point t_pub_done = t0;
  while (replied < messages || delivered < want) {
    // Keep the window full; one batch (one write) at a time.
    if (pub.out.empty() && sent < messages && sent - replied < window) {
      long k = std::min(window - (sent - replied), messages - sent);
      pub.out.reserve(command.size() * static_cast<size_t>(k));
      for (long j = 0; j < k; j++) pub.out += command;
      sent += k;
    }
    bool pending_write = !pub.out.empty() && !pub.WriteSome();
    fds[0].events = static_cast<short>(POLLIN | (pending_write ? POLLOUT : 0));
    int n = poll(fds.data(), fds.size(), kTimeoutMs);
    if (n < 0) {
      if (errno == EINTR) continue;
      Fail("poll: %s", std::strerror(errno));
    }
    if (n == 0) {
      Fail("stalled for %d ms: %ld of %ld PUBLISH sent, %ld answered, %lld of %lld deliveries",
           kTimeoutMs, sent, messages, replied, delivered, want);
    }
    if (fds[0].revents & (POLLIN | POLLERR | POLLHUP)) {
      pub.ReadSome();
      Value v;
      while (pub.Next(&v)) {
        if (v.type == '-') {
          Fail("PUBLISH answered -%.*s", static_cast<int>(v.text.size()), v.text.data());
        }
        if (v.type != ':') Fail("PUBLISH answered a non-integer (type %c)", v.type);
        reply_sum += v.integer;
        if (++replied == messages) t_pub_done = Clock::now();
      }
    }
    for (size_t i = 0; i < nsubs; i++) {
      if (!(fds[i + 1].revents & (POLLIN | POLLERR | POLLHUP))) continue;
      RawConn& s = *subs[i];
      s.ReadSome();
      Value v;
      while (s.Next(&v)) {
        if (!IsMessageValue(v)) Fail("a subscriber received something other than a message");
        got[i]++;
        delivered++;
      }
    }
  }
  auto t1 = Clock::now();
  PublishRun run;
  run.elapsed_s = Micros(t0, t1) / 1e6;
  run.publish_done_s = Micros(t0, t_pub_done) / 1e6;
  run.delivered = delivered;
  run.reply_sum = reply_sum;
  for (size_t i = 0; i < nsubs; i++) {
    if (got[i] != messages) Fail("subscriber %zu received %lld of %ld", i, got[i], messages);
  }
  return run;
}

int Publish(Args& args) {
  int port = static_cast<int>(args.Int("redis-port", 0, 1));
  long nsubs = args.Int("subscribers", 10, 1);
  long messages = args.Int("messages", 200000, 1);
  size_t size = static_cast<size_t>(args.Int("size", 64));
  long window = args.Int("window", 100, 1);
  std::string channel = args.Str("channel", "psb-chan");
  long warmup = args.Int("warmup", std::min(messages / 10, 10000L));
  std::string name = args.Str("name", "redis:" + std::to_string(port));
  args.CheckAllUsed();

  RawConn pub;
  pub.Open(port);
  std::vector<std::unique_ptr<RawConn>> subs;
  for (long i = 0; i < nsubs; i++) {
    auto s = std::make_unique<RawConn>();
    s->Open(port);
    s->SendBlocking(Resp({"SUBSCRIBE", channel}));
    Value r = s->NextBlocking();
    if (r.type == '-') {
      Fail("SUBSCRIBE answered -%.*s", static_cast<int>(r.text.size()), r.text.data());
    }
    if (r.type != '*' || r.elements != 3 || r.first != "subscribe") {
      Fail("unexpected answer to SUBSCRIBE");
    }
    subs.push_back(std::move(s));
  }
  // Every subscriber is confirmed: one probe message must reach each of them.
  pub.SendBlocking(Resp({"PUBLISH", channel, "probe"}));
  Value probe = pub.NextBlocking();
  if (probe.type != ':') Fail("PUBLISH did not answer an integer");
  for (auto& s : subs) {
    if (!IsMessageValue(s->NextBlocking())) Fail("a subscriber did not receive the probe");
  }

  const std::string command = Resp({"PUBLISH", channel, Payload(size)});
  if (warmup > 0) RunPublish(pub, subs, warmup, window, command);
  PublishRun run = RunPublish(pub, subs, messages, window, command);
  std::printf(
      "RESULT test=publish name=%s messages=%ld subscribers=%ld size=%zu window=%ld "
      "elapsed_s=%.3f publishes_per_s=%.0f deliveries_per_s=%.0f delivered=%lld "
      "publish_replies_sum=%lld probe_receivers=%lld publish_done_s=%.3f\n",
      name.c_str(), messages, nsubs, size, window, run.elapsed_s,
      static_cast<double>(messages) / run.elapsed_s,
      static_cast<double>(run.delivered) / run.elapsed_s, run.delivered, run.reply_sum,
      probe.integer, run.publish_done_s);
  std::fflush(stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) Args::Usage("");
  std::string cmd = argv[1];
  Args args(argc, argv, 2);
  if (cmd == "keyspace-latency") return KeyspaceLatency(args);
  if (cmd == "nats-latency") return NatsLatency(args);
  if (cmd == "publish") return Publish(args);
  if (cmd == "-h" || cmd == "--help" || cmd == "help") Args::Usage("");
  Args::Usage("unknown subcommand " + cmd);
}
