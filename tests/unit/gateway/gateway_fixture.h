// SPDX-License-Identifier: Apache-2.0
//
// Test fixture for gateway unit tests, in the manner of Dragonfly's BaseFamilyTest: a Session
// driven through a FakeTransport, with a ServerContext built around a FakeKvBackend and a
// ManualExecutor. No sockets, no libuv, no nats-server.
//
//   Run({"set", "k", "v"})   feeds one RESP request, runs the executor until idle and returns
//                            the one reply it produced (a test failure if there is not exactly
//                            one).
//   Send({...}) / Feed(raw)  feed without running the executor; Drain() runs it;
//                            TakeReplies() decodes everything sent since the last take.
//
// The session is created lazily on first use, so a test may change config_ or limits_ first.
//
// Thread: the test thread only.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/config.h"
#include "gateway/server_context.h"
#include "gateway/session.h"
#include "kvmap/fake_kv_backend.h"
#include "tests/support/resp_decoder.h"
#include "tests/support/resp_matchers.h"

namespace gateway::testing_support {

// A Transport that records everything the session asks of it.
class FakeTransport : public Transport {
 public:
  void Send(std::string&& bytes) override {
    sent_ += bytes;
    events_.push_back("send");
  }
  void PauseReading() override {
    ++pause_calls_;
    is_paused_ = true;
    events_.push_back("pause");
  }
  void ResumeReading() override {
    ++resume_calls_;
    is_paused_ = false;
    events_.push_back("resume");
  }
  void CloseAfterSend() override {
    ++close_calls_;
    events_.push_back("close");
  }
  void CloseNow() override {
    ++close_calls_;
    events_.push_back("close-now");
  }
  size_t unsent_bytes() const override { return unsent_bytes_; }

  void set_unsent_bytes(size_t n) { unsent_bytes_ = n; }
  // Everything sent since the last call.
  std::string TakeSent() {
    std::string out;
    out.swap(sent_);
    return out;
  }
  const std::string& sent() const { return sent_; }
  int pause_calls() const { return pause_calls_; }
  int resume_calls() const { return resume_calls_; }
  int close_calls() const { return close_calls_; }
  bool is_paused() const { return is_paused_; }
  // "send", "pause", "resume", "close" in call order.
  const std::vector<std::string>& events() const { return events_; }

 private:
  std::string sent_;
  size_t unsent_bytes_ = 0;
  int pause_calls_ = 0;
  int resume_calls_ = 0;
  int close_calls_ = 0;
  bool is_paused_ = false;
  std::vector<std::string> events_;
};

// RESP multibulk encoding of one request.
inline std::string EncodeRequest(const std::vector<std::string>& args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (const std::string& a : args) {
    out += "$" + std::to_string(a.size()) + "\r\n";
    out += a;
    out += "\r\n";
  }
  return out;
}

class GatewayTest : public ::testing::Test {
 protected:
  static constexpr std::string_view kBucket0 = "redis";

  GatewayTest() : backend_(&executor_) {}

  ~GatewayTest() override {
    // The session must go before the server context it registered with.
    session_.reset();
    server_.reset();
  }

  ServerContext& server() {
    if (!server_) {
      server_ = std::make_unique<ServerContext>(&config_, &backend_);
      server_->set_executor(&executor_);
    }
    return *server_;
  }

  Session& session() {
    if (!session_) {
      ServerContext& ctx = server();
      session_ = std::make_unique<Session>(&ctx, &transport_, ctx.NextClientId(),
                                           "127.0.0.1:50000", "127.0.0.1:6379", limits_);
    }
    return *session_;
  }

  // Feeds raw bytes without running the executor.
  void Feed(std::string_view bytes) { session().Feed(bytes); }
  // Feeds one request without running the executor.
  void Send(const std::vector<std::string>& args) { Feed(EncodeRequest(args)); }
  // Runs posted completions until none are left.
  void Drain() { executor_.RunAll(); }

  // Feeds one request, runs the executor until idle, and returns the single reply.
  test_support::RespValue Run(const std::vector<std::string>& args) {
    transport_.TakeSent();
    Send(args);
    Drain();
    std::string bytes = transport_.TakeSent();
    std::optional<test_support::RespValue> v = test_support::DecodeOne(bytes);
    return v.value_or(test_support::RespValue{});
  }

  // Decodes every reply sent since the last take.
  std::vector<test_support::RespValue> TakeReplies() {
    return test_support::DecodeAll(transport_.TakeSent());
  }

  // Makes database 0's bucket known to exist (EnsureBucket done), so that later commands go
  // straight to Get/Write. Leaves the backend in `mode` and nothing sent.
  void WarmUp(kvmap::FakeKvBackend::Mode mode = kvmap::FakeKvBackend::Mode::kManual) {
    backend_.set_mode(kvmap::FakeKvBackend::Mode::kImmediate);
    Run({"exists", "warm-up"});
    backend_.set_mode(mode);
    base_gets_ = backend_.get_calls();
    base_writes_ = backend_.write_calls();
  }
  // Get/Write calls since WarmUp().
  size_t gets() const { return backend_.get_calls() - base_gets_; }
  size_t writes() const { return backend_.write_calls() - base_writes_; }

  // Value stored for a (raw, unencoded simple) key in a bucket, or "<none>" / "<marker>".
  std::string Stored(std::string_view key, std::string_view bucket = kBucket0) const {
    const kvmap::Entry* e = backend_.Latest(bucket, key);
    if (e == nullptr) return "<none>";
    if (e->is_marker()) return "<marker>";
    return e->value;
  }

  Config config_;
  SessionLimits limits_;
  kvmap::ManualExecutor executor_;
  kvmap::FakeKvBackend backend_;
  FakeTransport transport_;
  std::unique_ptr<ServerContext> server_;
  std::unique_ptr<Session> session_;
  size_t base_gets_ = 0;
  size_t base_writes_ = 0;
};

}  // namespace gateway::testing_support
