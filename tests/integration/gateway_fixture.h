// SPDX-License-Identifier: Apache-2.0
//
// GatewayFixture: the shared set-up of the C++ integration tests. Each test gets its own
// temporary directory, its own nats-server (JetStream, store in that directory, free port) and
// its own gateway (port 0, a bucket named after the test). Clients are hiredis contexts with a
// read/write timeout, so a test that waits for a reply that never comes fails instead of
// hanging.
//
// A missing nats-server skips the test, or fails it when RNG_REQUIRE_NATS=1 (CI). TearDown
// stops the gateway with SIGTERM and fails the test unless it exits 0, so sanitizer reports at
// shutdown and shutdown hangs are caught.
//
// Thread: the gtest thread, except that Connect()/Cmd()/Show() may be used from any thread on
// contexts owned by that thread.
#pragma once

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/support/process_harness.h"

namespace integration {

struct RedisContextDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};
struct RedisReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using RedisPtr = std::unique_ptr<redisContext, RedisContextDeleter>;
using ReplyPtr = std::unique_ptr<redisReply, RedisReplyDeleter>;

// A reply as one readable line: "+OK", "-ERR ...", ":1", "$value" (bytes as they are),
// "(nil)", "*2[...]"; "<no reply: ...>" when `r` is null (I/O error or timeout on `c`).
std::string Show(const redisReply* r, const redisContext* c = nullptr);

// Connects to 127.0.0.1:port with a read/write timeout. Null on failure.
RedisPtr Connect(int port, int timeout_ms = 10000);

// Sends one command (binary-safe arguments) and waits for its reply.
ReplyPtr Cmd(redisContext* c, const std::vector<std::string>& argv);
// Queues one command without waiting (redisAppendCommandArgv); REDIS_OK or REDIS_ERR.
int Append(redisContext* c, const std::vector<std::string>& argv);
// The next reply of a pipeline, null on I/O error or timeout.
ReplyPtr NextReply(redisContext* c);

class GatewayFixture : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Extra gateway flags; override to add e.g. --requirepass.
  virtual std::vector<std::string> GatewayArgs() const { return {"--nats-timeout-ms", "1000"}; }

  // A bucket name unique to this test ("it-<suite>-<test>", lower case, [a-z0-9-], shortened
  // with a hash to at most 40 bytes).
  std::string BucketName() const;
  // `c` command reply shown as a line, e.g. Run(c, {"GET", "k"}) == "$v".
  std::string Run(redisContext* c, const std::vector<std::string>& argv) {
    ReplyPtr r = Cmd(c, argv);
    return Show(r.get(), c);
  }

  // Starts one more gateway on the same nats-server and bucket (default flags), its files in
  // `dir`. Returns an error message or empty.
  std::string StartAnotherGateway(test_support::Gateway* gateway, const std::string& dir);

  test_support::TempDir dir_;
  test_support::NatsServer nats_;
  test_support::Gateway gateway_;
  std::string nats_bin_;
  bool gateway_started_ = false;
};

}  // namespace integration
