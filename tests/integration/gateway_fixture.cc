// SPDX-License-Identifier: Apache-2.0
#include "tests/integration/gateway_fixture.h"

#include <sys/time.h>

#include <cctype>
#include <cstdio>
#include <functional>

#ifndef RNG_GATEWAY_BIN
#define RNG_GATEWAY_BIN ""
#endif

namespace integration {

std::string Show(const redisReply* r, const redisContext* c) {
  if (r == nullptr) {
    std::string why = c != nullptr && c->err != 0 ? c->errstr : "null reply";
    return "<no reply: " + why + ">";
  }
  switch (r->type) {
    case REDIS_REPLY_STATUS:
      return "+" + std::string(r->str, r->len);
    case REDIS_REPLY_ERROR:
      return "-" + std::string(r->str, r->len);
    case REDIS_REPLY_INTEGER:
      return ":" + std::to_string(r->integer);
    case REDIS_REPLY_STRING:
      return "$" + std::string(r->str, r->len);
    case REDIS_REPLY_NIL:
      return "(nil)";
    case REDIS_REPLY_ARRAY: {
      std::string out = "*" + std::to_string(r->elements) + "[";
      for (size_t i = 0; i < r->elements; ++i) {
        if (i > 0) out += ", ";
        out += Show(r->element[i]);
      }
      return out + "]";
    }
    default:
      return "<type " + std::to_string(r->type) + ">";
  }
}

RedisPtr Connect(int port, int timeout_ms) {
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  RedisPtr c(redisConnectWithTimeout("127.0.0.1", port, tv));
  if (!c || c->err != 0) return nullptr;
  if (redisSetTimeout(c.get(), tv) != REDIS_OK) return nullptr;
  return c;
}

int Append(redisContext* c, const std::vector<std::string>& argv) {
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
  for (const std::string& a : argv) {
    ptrs.push_back(a.data());
    lens.push_back(a.size());
  }
  return redisAppendCommandArgv(c, static_cast<int>(argv.size()), ptrs.data(), lens.data());
}

ReplyPtr NextReply(redisContext* c) {
  void* reply = nullptr;
  if (redisGetReply(c, &reply) != REDIS_OK) return nullptr;
  return ReplyPtr(static_cast<redisReply*>(reply));
}

ReplyPtr Cmd(redisContext* c, const std::vector<std::string>& argv) {
  if (Append(c, argv) != REDIS_OK) return nullptr;
  return NextReply(c);
}

std::string GatewayFixture::BucketName() const {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string raw = std::string("it-") + info->test_suite_name() + "-" + info->name();
  std::string out;
  for (char ch : raw) {
    unsigned char u = static_cast<unsigned char>(ch);
    out += std::isalnum(u) ? static_cast<char>(std::tolower(u)) : '-';
  }
  // The gateway accepts bucket names up to 48 bytes (its database-N buckets add "-N").
  if (out.size() > 40) {
    char hash[16];
    std::snprintf(hash, sizeof(hash), "%08zx", std::hash<std::string>{}(out)&0xffffffffu);
    out = out.substr(0, 31) + "-" + hash;
  }
  return out;
}

void GatewayFixture::SetUp() {
  nats_bin_ = test_support::FindBinary("NATS_SERVER_BIN", "nats-server");
  if (nats_bin_.empty()) {
    if (test_support::NatsRequired()) {
      FAIL() << "nats-server not found (NATS_SERVER_BIN, PATH, /usr/sbin) and "
                "RNG_REQUIRE_NATS=1";
    }
    GTEST_SKIP() << "nats-server not found; set NATS_SERVER_BIN or install nats-server";
  }
  ASSERT_FALSE(dir_.path().empty()) << "cannot create a temporary directory";
  std::string err = nats_.Start(nats_bin_, dir_.path());
  ASSERT_EQ(err, "");
  test_support::GatewayOptions options;
  options.binary = test_support::GatewayBinary(RNG_GATEWAY_BIN);
  ASSERT_FALSE(options.binary.empty()) << "gateway binary not found; set GATEWAY_BIN";
  options.nats_url = nats_.url();
  options.bucket = BucketName();
  options.extra_args = GatewayArgs();
  err = gateway_.Start(options, dir_.path());
  ASSERT_EQ(err, "");
  gateway_started_ = true;
}

std::string GatewayFixture::StartAnotherGateway(test_support::Gateway* gateway,
                                               const std::string& dir) {
  test_support::GatewayOptions options;
  options.binary = test_support::GatewayBinary(RNG_GATEWAY_BIN);
  options.nats_url = nats_.url();
  options.bucket = BucketName();
  return gateway->Start(options, dir);
}

void GatewayFixture::TearDown() {
  if (gateway_started_) {
    // A clean SIGTERM shutdown exits 0; a sanitizer report at exit or a hang does not.
    std::string how = gateway_.Stop();
    EXPECT_EQ(how, "exit 0") << "the gateway did not shut down cleanly on SIGTERM";
  }
  if (HasFailure()) {
    std::fprintf(stderr, "---- gateway log (tail) ----\n%s\n---- nats-server log (tail) ----\n%s\n",
                 gateway_.LogTail(8000).c_str(), nats_.LogTail(2000).c_str());
  }
  gateway_.Stop();
  nats_.Stop();
}

}  // namespace integration
