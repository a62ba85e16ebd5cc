// SPDX-License-Identifier: Apache-2.0
//
// One connection sends a deep pipeline of mixed commands on a few overlapping keys. The
// gateway runs commands on different keys concurrently, so this checks that replies still come
// back in request order and that every command sees the effects of the ones sent before it on
// the same connection (read-your-writes), against a model map kept by the test.
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <random>

#include "tests/integration/gateway_fixture.h"

namespace integration {
namespace {

class GatewayPipeline : public GatewayFixture {};

TEST_F(GatewayPipeline, TenThousandMixedCommandsReplyInOrderWithReadYourWrites) {
  constexpr int kCommands = 10000;
  constexpr int kKeys = 50;
  RedisPtr c = Connect(gateway_.port(), 30000);
  ASSERT_TRUE(c);

  std::mt19937 rng(12345);
  std::map<std::string, std::string> model;
  std::vector<std::string> expected;
  std::vector<std::string> sent;
  expected.reserve(kCommands);
  for (int i = 0; i < kCommands; ++i) {
    std::string key = "p:" + std::to_string(rng() % kKeys);
    int op = static_cast<int>(rng() % 10);
    std::vector<std::string> argv;
    if (op < 5) {
      std::string value = "v" + std::to_string(i);
      argv = {"SET", key, value};
      model[key] = value;
      expected.push_back("+OK");
    } else if (op < 9) {
      argv = {"GET", key};
      auto it = model.find(key);
      expected.push_back(it == model.end() ? "(nil)" : "$" + it->second);
    } else {
      argv = {"DEL", key};
      expected.push_back(model.erase(key) > 0 ? ":1" : ":0");
    }
    sent.push_back(argv[0] + " " + key);
    ASSERT_EQ(Append(c.get(), argv), REDIS_OK);
  }

  int mismatches = 0;
  for (int i = 0; i < kCommands; ++i) {
    ReplyPtr r = NextReply(c.get());
    ASSERT_TRUE(r) << "no reply for command " << i << " (" << sent[i]
                   << "): " << Show(nullptr, c.get());
    std::string got = Show(r.get());
    if (got != expected[i] && ++mismatches <= 20) {
      ADD_FAILURE() << "command " << i << " (" << sent[i] << "): expected " << expected[i]
                    << ", got " << got;
    }
  }
  EXPECT_EQ(mismatches, 0);

  // The final state, read on a fresh connection, equals the model.
  RedisPtr check = Connect(gateway_.port());
  ASSERT_TRUE(check);
  for (int k = 0; k < kKeys; ++k) {
    std::string key = "p:" + std::to_string(k);
    auto it = model.find(key);
    EXPECT_EQ(Run(check.get(), {"GET", key}), it == model.end() ? "(nil)" : "$" + it->second)
        << key;
  }
}

}  // namespace
}  // namespace integration
