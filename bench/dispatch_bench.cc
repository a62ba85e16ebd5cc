// SPDX-License-Identifier: Apache-2.0
//
// Micro benchmarks of a dispatch round trip through the fake backend: the in-process path a
// client connection takes, minus the socket.
//
//   bytes of pipelined RESP requests
//     -> Session::Feed (copied into the session's input buffer, as a socket read would land)
//     -> resp::RequestParser -> Session::Dispatch (command table, arity, key ordering, Call)
//     -> the command's handler -> kvmap::FakeKvBackend (completion posted to the executor)
//     -> the completion -> resp::ReplyWriter -> Session::Flush -> Transport::SendBytes
//
// The harness wires ServerContext the way gateway/main.cc does: flushes are deferred
// (set_defer_flushes(true)) and ServerContext::FlushScheduled() runs after the read and after
// each drained batch of completions, as TcpConnection::OnRead and LoopExecutor's after-batch
// hook do. So a batch of N pipelined requests costs one SendBytes, as in production. The
// executor is the tests' ManualExecutor (a std::deque of std::function), standing in for
// LoopExecutor's mailbox.
//
// Every case checks its replies once before the timed loop (exact bytes), and counts the
// bytes sent during the loop afterwards, so a case that stopped producing replies fails
// instead of reporting a speed. items_per_second counts commands.
//
// Cases (Arg = requests per batch; 1 = one request per "read", 16 = a pipeline of 16):
//   BM_DispatchParseOnly/16  resp::RequestParser alone over 16 pipelined GETs (no session)
//   BM_DispatchGet/N         GET of an existing 100-byte value: parse plus dispatch of a GET
//   BM_DispatchGetNoStore/16 the same, with a backend that answers every Get with one
//                            prepared entry (no std::map lookup, no key check): the
//                            gateway's own share of the GET path
//   BM_DispatchSet/N         SET of a 100-byte value (a blind write)
//   BM_DispatchIncr/N        INCR (a read, then a compare-and-set write with a Nats-Msg-Id)
//
// Thread: the benchmark thread only (like the loop thread in production).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gateway/config.h"
#include "gateway/server_context.h"
#include "gateway/session.h"
#include "kvmap/fake_kv_backend.h"
#include "kvmap/key_codec.h"
#include "resp/request_parser.h"

namespace {

std::string Multibulk(const std::vector<std::string>& argv) {
  std::string out;
  out.append("*").append(std::to_string(argv.size())).append("\r\n");
  for (const std::string& a : argv) {
    out.append("$").append(std::to_string(a.size())).append("\r\n").append(a).append("\r\n");
  }
  return out;
}

std::string Key(std::string_view prefix, int i) {
  std::string n = std::to_string(i);
  return std::string(prefix) + std::string(6 - n.size(), '0') + n;  // "key:000007"
}

std::string Value100() {
  std::string v(100, 'v');
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<char>('a' + i % 26);
  return v;
}

// A Transport that keeps what the session sends (the copy stands in for the kernel's copy of a
// write) and counts it.
class BenchTransport : public gateway::Transport {
 public:
  void Send(std::string&& bytes) override { Record(bytes); }
  void SendBytes(std::string_view bytes) override { Record(bytes); }
  void PauseReading() override { ++pauses_; }
  void ResumeReading() override {}
  void CloseAfterSend() override { ++closes_; }
  size_t unsent_bytes() const override { return 0; }

  // Everything sent since the last call.
  std::string Take() {
    std::string out;
    out.swap(last_);
    return out;
  }
  void Clear() { last_.clear(); }
  uint64_t sent_bytes() const { return sent_bytes_; }
  int pauses() const { return pauses_; }
  int closes() const { return closes_; }

 private:
  void Record(std::string_view bytes) {
    last_.append(bytes);
    sent_bytes_ += bytes.size();
  }
  std::string last_;
  uint64_t sent_bytes_ = 0;
  int pauses_ = 0;
  int closes_ = 0;
};

// A FakeKvBackend whose Get always answers with one prepared entry, posted to the executor like
// every backend completion. Writes and everything else are the fake's.
class NoStoreBackend : public kvmap::FakeKvBackend {
 public:
  NoStoreBackend(kvmap::Executor* executor, kvmap::Entry entry)
      : FakeKvBackend(executor), executor_(executor), entry_(std::move(entry)) {}
  void Get(std::string_view bucket, std::string_view key, kvmap::GetCallback cb) override {
    kvmap::GetResult result;
    result.status = kvmap::KvStatus::kOk;
    result.entry = entry_;
    executor_->Post(
        [cb = std::move(cb), result = std::move(result)]() mutable { cb(std::move(result)); });
  }

 private:
  kvmap::Executor* executor_;
  kvmap::Entry entry_;
};

// One session on a ServerContext around a fake backend, wired as gateway/main.cc wires the real
// one (deferred flushes).
struct Harness {
  explicit Harness(std::unique_ptr<kvmap::FakeKvBackend> (*make_backend)(kvmap::Executor*) =
                       nullptr) {
    backend = make_backend ? make_backend(&executor)
                           : std::make_unique<kvmap::FakeKvBackend>(&executor);
    context = std::make_unique<gateway::ServerContext>(&config, backend.get());
    context->set_executor(&executor);
    context->set_defer_flushes(true);
    session = std::make_unique<gateway::Session>(context.get(), &transport,
                                                 context->NextClientId(), "127.0.0.1:50000",
                                                 "127.0.0.1:6379");
  }
  ~Harness() {
    session.reset();  // before the context it registered with
    context.reset();
  }

  // One read's worth of bytes, then everything that follows until the session is idle.
  void RoundTrip(std::string_view bytes) {
    session->Feed(bytes);        // TcpConnection::OnRead: CommitInput ...
    context->FlushScheduled();   // ... then FlushScheduled
    while (executor.RunAll() > 0) context->FlushScheduled();  // LoopExecutor batches
  }

  gateway::Config config;
  kvmap::ManualExecutor executor;
  std::unique_ptr<kvmap::FakeKvBackend> backend;
  std::unique_ptr<gateway::ServerContext> context;
  BenchTransport transport;
  std::unique_ptr<gateway::Session> session;
};

std::string Repeat(std::string_view s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

// Runs `input` once and compares the output with `expected`; on a mismatch the case is marked
// failed (and prints both).
bool CheckOnce(benchmark::State& state, Harness& h, std::string_view input,
               std::string_view expected) {
  h.transport.Clear();
  h.RoundTrip(input);
  std::string got = h.transport.Take();
  if (got == expected && h.executor.queued() == 0 && h.session->queued_calls() == 0) return true;
  std::fprintf(stderr, "unexpected reply: got %zu bytes [%.200s], want %zu bytes [%.200s]\n",
               got.size(), got.c_str(), expected.size(), std::string(expected).c_str());
  state.SkipWithError("unexpected reply");
  return false;
}

// After the timed loop: every iteration must have sent exactly `per_batch` bytes.
void CheckSent(benchmark::State& state, const Harness& h, uint64_t before, size_t per_batch) {
  uint64_t want = static_cast<uint64_t>(state.iterations()) * per_batch;
  uint64_t got = h.transport.sent_bytes() - before;
  if (got != want) {
    std::fprintf(stderr, "sent %llu bytes during the loop, want %llu\n",
                 static_cast<unsigned long long>(got), static_cast<unsigned long long>(want));
    state.SkipWithError("replies missing during the timed loop");
  }
}

std::string GetBatch(int batch) {
  std::string input;
  for (int i = 0; i < batch; ++i) input += Multibulk({"GET", Key("key:", i)});
  return input;
}

// ---------------------------------------------------------------------------------------------

void BM_DispatchParseOnly(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  const std::string input = GetBatch(batch);
  resp::RequestParser parser;
  int64_t requests = 0;
  for (auto _ : state) {
    std::string_view rest = input;
    while (!rest.empty()) {
      resp::ParseResult r = parser.Feed(rest);
      rest.remove_prefix(r.consumed);
      if (r.status != resp::ParseStatus::kRequest) break;
      resp::Request request = parser.TakeRequest();
      benchmark::DoNotOptimize(request.arg(1).data());
      ++requests;
    }
  }
  if (requests != static_cast<int64_t>(state.iterations()) * batch) {
    state.SkipWithError("parser lost requests");
  }
  state.SetItemsProcessed(requests);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(input.size()));
}
BENCHMARK(BM_DispatchParseOnly)->Arg(16);

void RunGet(benchmark::State& state, Harness& h) {
  const int batch = static_cast<int>(state.range(0));
  const std::string value = Value100();
  for (int i = 0; i < batch; ++i) h.backend->Put("redis", kvmap::EncodeKey(Key("key:", i)), value);
  const std::string input = GetBatch(batch);
  const std::string one_reply = "$100\r\n" + value + "\r\n";
  const std::string expected = Repeat(one_reply, batch);
  if (!CheckOnce(state, h, input, expected)) return;
  const uint64_t before = h.transport.sent_bytes();
  for (auto _ : state) {
    h.RoundTrip(input);
    h.transport.Clear();
  }
  CheckSent(state, h, before, expected.size());
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * batch);
}

void BM_DispatchGet(benchmark::State& state) {
  Harness h;
  RunGet(state, h);
}
BENCHMARK(BM_DispatchGet)->Arg(1)->Arg(16);

std::unique_ptr<kvmap::FakeKvBackend> MakeNoStoreBackend(kvmap::Executor* executor) {
  kvmap::Entry entry;
  entry.key = "key.000000";
  entry.value = Value100();
  entry.revision = 1;
  entry.op = kvmap::EntryOp::kPut;
  return std::make_unique<NoStoreBackend>(executor, std::move(entry));
}

void BM_DispatchGetNoStore(benchmark::State& state) {
  Harness h(&MakeNoStoreBackend);
  RunGet(state, h);
}
BENCHMARK(BM_DispatchGetNoStore)->Arg(16);

void BM_DispatchSet(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  Harness h;
  const std::string value = Value100();
  std::string input;
  for (int i = 0; i < batch; ++i) input += Multibulk({"SET", Key("key:", i), value});
  const std::string expected = Repeat("+OK\r\n", batch);
  if (!CheckOnce(state, h, input, expected)) return;
  const kvmap::Entry* stored = h.backend->Latest("redis", kvmap::EncodeKey(Key("key:", 0)));
  if (stored == nullptr || stored->value != value) {
    state.SkipWithError("SET did not store the value");
    return;
  }
  const uint64_t before = h.transport.sent_bytes();
  for (auto _ : state) {
    h.RoundTrip(input);
    h.transport.Clear();
  }
  CheckSent(state, h, before, expected.size());
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * batch);
}
BENCHMARK(BM_DispatchSet)->Arg(1)->Arg(16);

void BM_DispatchIncr(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  Harness h;
  std::string input;  // distinct keys: INCRs of one key within a connection run one by one
  for (int i = 0; i < batch; ++i) input += Multibulk({"INCR", Key("counter:", i)});
  if (!CheckOnce(state, h, input, Repeat(":1\r\n", batch))) return;
  int64_t iterations = 0;
  for (auto _ : state) {
    h.RoundTrip(input);
    h.transport.Clear();
    // The fake remembers every Nats-Msg-Id forever (a std::map); JetStream forgets them after
    // the duplicate window. Forget them now and then so the map stays small.
    if ((++iterations & 1023) == 0) h.backend->ForgetMsgIds();
  }
  // Every INCR of every iteration must have landed: each counter is now iterations + 1.
  for (int i = 0; i < batch; ++i) {
    const kvmap::Entry* e = h.backend->Latest("redis", kvmap::EncodeKey(Key("counter:", i)));
    if (e == nullptr || e->value != std::to_string(state.iterations() + 1)) {
      state.SkipWithError("INCR lost updates");
      return;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * batch);
}
BENCHMARK(BM_DispatchIncr)->Arg(1)->Arg(16);

}  // namespace
