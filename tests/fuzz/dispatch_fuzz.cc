// SPDX-License-Identifier: Apache-2.0
//
// libFuzzer target: the whole in-process request path (docs/fuzzing.md).
//
//   input bytes -> gateway::Session::Feed (in pieces) -> resp::RequestParser -> dispatch
//   (command table, arity, key ordering) -> command handlers -> kvmap::FakeKvBackend
//   -> completions -> resp::ReplyWriter -> Transport
//
// wired as bench/dispatch_bench.cc and gateway/main.cc wire it (deferred flushes, flushed after
// each read and after each completion), with a fresh ServerContext, backend and Session per
// input. Choices that must not change what the input means come from the input's Rng: the
// read sizes, how many completions run between reads, whether the backend completes
// operations at once or holds them and completes them in a random order (out-of-order
// completions, as the unit tests do), and, for one input in eight, a disconnect with
// operations still in flight (late completions must be dropped safely).
//
// Checks:
//   * no crash, no sanitizer report, no leak (libFuzzer's leak check);
//   * the output is well-formed RESP (tests/fuzz/reply_reader.h), RESP2 only unless the input
//     sends HELLO; every error reply starts with an upper-case code ("ERR ...", "WRONGTYPE ...");
//   * one reply per request (plus one for a protocol error), unless the input uses a command
//     whose reply count is not one per request (IsIrregular), or the client was dropped over
//     its output limit;
//   * the work ends: at most kMaxSteps executor callbacks, completions and timers after the
//     last read, else the input is reported as a livelock; and once nothing is pending, no
//     call is left unfinished in the session's queue (a handler that forgot to reply).
//
// Bounds on the work per input (documented in docs/fuzzing.md):
//   * at most kMaxCommands requests are fed; the rest of the input is cut off;
//   * proto-max-bulk-len is 64 KiB and the fake backend's max payload 64 KiB, so a value (and
//     SETRANGE/SETBIT offsets, LCS's table) stays small; the input is cut before a CONFIG SET
//     of proto-max-bulk-len, which would let values (and LCS's table) grow to 512 MB: slow
//     and memory-hungry, but what Redis does too, so not a finding;
//   * timers (retry back-off) run at once, without waiting for their delay.
//
// FUZZ_VERBOSE=1 in the environment prints the requests fed and the output (to read a
// reproducer: FUZZ_VERBOSE=1 build/fuzz/tests/fuzz/dispatch_fuzz crash-file).
//
// Thread: the fuzzing thread (the loop thread of the harness).
#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gateway/config.h"
#include "gateway/server_context.h"
#include "gateway/session.h"
#include "kvmap/fake_kv_backend.h"
#include "kvmap/string_ops.h"
#include "resp/request_parser.h"
#include "tests/fuzz/fuzz_support.h"
#include "tests/fuzz/reply_reader.h"

namespace {

constexpr size_t kMaxCommands = 64;
constexpr int64_t kFuzzMaxBulkLen = 64 * 1024;
constexpr size_t kFuzzMaxPayload = 64 * 1024;
constexpr size_t kMaxSteps = 200000;

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// An executor the harness steps one callback at a time (kvmap::ManualExecutor::RunAll would
// loop for ever on a callback that keeps re-posting itself).
class StepExecutor : public kvmap::Executor {
 public:
  void Post(std::function<void()> fn) override { queue_.push_back(std::move(fn)); }
  bool RunOne() {
    if (queue_.empty()) return false;
    std::function<void()> fn = std::move(queue_.front());
    queue_.pop_front();
    fn();
    return true;
  }
  size_t queued() const { return queue_.size(); }

 private:
  std::deque<std::function<void()>> queue_;
};

class FuzzTransport : public gateway::Transport {
 public:
  void Send(std::string&& bytes) override { sent_ += bytes; }
  void SendBytes(std::string_view bytes) override { sent_.append(bytes); }
  void PauseReading() override { is_paused_ = true; }
  void ResumeReading() override { is_paused_ = false; }
  void CloseAfterSend() override { is_closed_ = true; }
  void CloseNow() override {
    is_closed_ = true;
    is_dropped_ = true;
  }
  size_t unsent_bytes() const override { return 0; }

  const std::string& sent() const { return sent_; }
  bool is_paused() const { return is_paused_; }
  bool is_closed() const { return is_closed_; }
  bool is_dropped() const { return is_dropped_; }

 private:
  std::string sent_;
  bool is_paused_ = false;
  bool is_closed_ = false;
  bool is_dropped_ = false;
};

// What the harness's own parse of the input found.
struct Plan {
  size_t cut = 0;       // bytes of the input to feed
  size_t requests = 0;  // complete requests within them
  bool has_protocol_error = false;
  bool is_count_exact = true;  // every request answers exactly once
  bool may_use_resp3 = false;  // HELLO appears
};

// Requests the input is cut before (see the header comment).
bool IsExcluded(const resp::Request& r) {
  if (!EqualsIgnoreCase(r.arg(0), "config") || r.argc() < 2 || !EqualsIgnoreCase(r.arg(1), "set")) {
    return false;
  }
  for (size_t i = 2; i < r.argc(); ++i) {
    if (EqualsIgnoreCase(r.arg(i), "proto-max-bulk-len")) return true;
  }
  return false;
}

// Requests after which the number of replies need not be one per request: the subscribe
// family (one reply per channel, and pushes), QUIT (later requests go unanswered), CLIENT
// REPLY (silences replies), and whatever can change who the client is (AUTH, HELLO ... AUTH,
// RESET, ACL): an unauthenticated session parses with stricter limits than the harness's own
// parse, and ACL changes may close the client.
bool IsIrregular(const resp::Request& r) {
  static const std::string_view kNames[] = {
      "subscribe",    "psubscribe", "unsubscribe", "punsubscribe", "ssubscribe",
      "sunsubscribe", "quit",       "auth",        "reset",        "acl"};
  const std::string_view name = r.arg(0);
  for (std::string_view n : kNames) {
    if (EqualsIgnoreCase(name, n)) return true;
  }
  if (EqualsIgnoreCase(name, "client")) {
    return r.argc() >= 2 && EqualsIgnoreCase(r.arg(1), "reply");
  }
  if (EqualsIgnoreCase(name, "hello")) {
    for (size_t i = 1; i < r.argc(); ++i) {
      if (EqualsIgnoreCase(r.arg(i), "auth")) return true;
    }
  }
  return false;
}

Plan MakePlan(std::string_view input) {
  resp::ParserLimits limits;
  limits.max_bulk_len = static_cast<size_t>(kFuzzMaxBulkLen);
  resp::RequestParser parser(limits);
  Plan plan;
  size_t pos = 0;
  while (plan.requests < kMaxCommands) {
    const resp::ParseResult r = parser.Feed(input.substr(pos));
    if (r.status == resp::ParseStatus::kNeedMore) {
      plan.cut = input.size();  // a partial request at the end is fed too
      return plan;
    }
    if (r.status == resp::ParseStatus::kError) {
      plan.has_protocol_error = true;
      plan.cut = input.size();
      return plan;
    }
    const resp::Request req = parser.TakeRequest();
    if (IsExcluded(req)) {
      plan.cut = pos;
      return plan;
    }
    pos += r.consumed;
    plan.cut = pos;
    ++plan.requests;
    if (IsIrregular(req)) plan.is_count_exact = false;
    if (EqualsIgnoreCase(req.arg(0), "hello")) plan.may_use_resp3 = true;
  }
  return plan;
}

struct Harness {
  explicit Harness(kvmap::FakeKvBackend::Mode mode) : backend(&executor, mode) {
    config.proto_max_bulk_len = kFuzzMaxBulkLen;
    kvmap::SetMaxBulkLen(kFuzzMaxBulkLen);
    backend.set_max_payload(kFuzzMaxPayload);
    context = std::make_unique<gateway::ServerContext>(&config, &backend);
    context->set_executor(&executor);
    context->set_defer_flushes(true);
    context->set_timer(
        [this](int64_t, std::function<void()> fn) { timers.push_back(std::move(fn)); });
    session = std::make_unique<gateway::Session>(context.get(), &transport, context->NextClientId(),
                                                 "127.0.0.1:50000", "127.0.0.1:6379");
  }
  ~Harness() {
    session.reset();  // before the context it registered with
    // Whatever is still pending completes after the client left (late completions).
    for (size_t i = 0; i < kMaxSteps && Step(nullptr); ++i) {
    }
    context.reset();
  }

  // Runs one pending thing: an executor callback, else (held backend) a completion, else a
  // timer. False when nothing is pending.
  bool Step(fuzz::Rng* rng) {
    bool ran = executor.RunOne();
    if (!ran && backend.pending_count() > 0) {
      backend.CompleteAt(rng ? rng->Below(backend.pending_count()) : 0);
      ran = true;
    }
    if (!ran && !timers.empty()) {
      std::function<void()> fn = std::move(timers.front());
      timers.pop_front();
      fn();
      ran = true;
    }
    if (ran && context) context->FlushScheduled();
    return ran;
  }

  gateway::Config config;
  StepExecutor executor;
  kvmap::FakeKvBackend backend;
  std::unique_ptr<gateway::ServerContext> context;
  FuzzTransport transport;
  std::unique_ptr<gateway::Session> session;
  std::deque<std::function<void()>> timers;
};

void PrintVerbose(std::string_view input, const Plan& plan, bool is_held, bool is_early_disconnect,
                  const FuzzTransport& transport) {
  std::fprintf(stderr, "fed %zu of %zu bytes: %zu requests%s; backend %s%s\n", plan.cut,
               input.size(), plan.requests, plan.has_protocol_error ? " + protocol error" : "",
               is_held ? "held, completed out of order" : "immediate",
               is_early_disconnect ? "; client leaves early" : "");
  resp::RequestParser parser;
  std::string_view rest = input.substr(0, plan.cut);
  while (true) {
    const resp::ParseResult r = parser.Feed(rest);
    rest.remove_prefix(r.consumed);
    if (r.status != resp::ParseStatus::kRequest) break;
    const resp::Request req = parser.TakeRequest();
    std::string line = ">";
    for (size_t i = 0; i < req.argc(); ++i) line += " \"" + fuzz::Printable(req.arg(i), 80) + "\"";
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  std::vector<fuzz::Reply> replies;
  std::string error;
  fuzz::ReadAllReplies(transport.sent(), true, &replies, &error);
  for (const fuzz::Reply& r : replies) std::fprintf(stderr, "< %s\n", fuzz::Describe(r).c_str());
  if (!error.empty()) std::fprintf(stderr, "< (malformed) %s\n", error.c_str());
}

void CheckReplies(const Plan& plan, const FuzzTransport& transport) {
  std::vector<fuzz::Reply> replies;
  std::string error;
  const int64_t n = fuzz::ReadAllReplies(transport.sent(), plan.may_use_resp3, &replies, &error);
  FUZZ_CHECK(n >= 0, "malformed output: %s\noutput: [%s]", error.c_str(),
             fuzz::Printable(transport.sent(), 2000).c_str());
  for (const fuzz::Reply& r : replies) {
    if (r.type != '-') continue;
    size_t code = 0;
    while (code < r.str.size() && r.str[code] >= 'A' && r.str[code] <= 'Z') ++code;
    FUZZ_CHECK(code > 0 && (code == r.str.size() || r.str[code] == ' '),
               "error reply without an upper-case code: [%s]", fuzz::Printable(r.str).c_str());
  }
  if (!plan.is_count_exact || transport.is_dropped()) return;
  const size_t want = plan.requests + (plan.has_protocol_error ? 1 : 0);
  FUZZ_CHECK(replies.size() == want, "%zu requests%s, %zu replies\noutput: [%s]", plan.requests,
             plan.has_protocol_error ? " and a protocol error" : "", replies.size(),
             fuzz::Printable(transport.sent(), 2000).c_str());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const Plan plan = MakePlan(input);
  fuzz::Rng rng(fuzz::HashBytes(input));
  const bool is_held = rng.Below(2) == 0;
  const bool is_early_disconnect = rng.Below(8) == 0;

  Harness h(is_held ? kvmap::FakeKvBackend::Mode::kManual : kvmap::FakeKvBackend::Mode::kImmediate);
  for (const fuzz::Chunk& chunk : fuzz::Chunks(input.substr(0, plan.cut), rng)) {
    if (h.transport.is_closed()) break;  // the connection stops reading once it closes
    // A paused connection is not read until its work drains.
    for (size_t i = 0; i < kMaxSteps && h.transport.is_paused() && h.Step(&rng); ++i) {
    }
    h.session->Feed(chunk.view());
    h.context->FlushScheduled();
    const size_t steps = rng.Below(4);  // some work between reads, as the loop interleaves
    for (size_t i = 0; i < steps && h.Step(&rng); ++i) {
    }
  }
  if (!is_early_disconnect) {
    size_t steps = 0;
    while (h.Step(&rng)) {
      FUZZ_CHECK(++steps < kMaxSteps, "no end to the work after %zu steps", steps);
    }
    // Nothing is pending any more, so every call must have finished and left the queue.
    FUZZ_CHECK(h.transport.is_closed() || h.session->queued_calls() == 0,
               "%zu calls never finished", h.session->queued_calls());
  }
  static const bool is_verbose = std::getenv("FUZZ_VERBOSE") != nullptr;
  if (is_verbose) PrintVerbose(input, plan, is_held, is_early_disconnect, h.transport);
  // Else ~Harness: the client leaves with work in flight.
  if (!is_early_disconnect) CheckReplies(plan, h.transport);
  return 0;
}
