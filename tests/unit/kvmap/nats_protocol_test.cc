// SPDX-License-Identifier: Apache-2.0
#include "kvmap/nats_protocol.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace kvmap {
namespace {

// Parses every operation in `wire`, feeding it in pieces of `step` bytes as a socket would.
std::vector<NatsOp> ParseAll(const std::string& wire, size_t step, std::vector<std::string>* keep) {
  std::vector<NatsOp> ops;
  std::string buf;
  size_t fed = 0;
  keep->clear();
  keep->reserve(64);
  while (fed < wire.size()) {
    size_t n = std::min(step, wire.size() - fed);
    buf.append(wire, fed, n);
    fed += n;
    for (;;) {
      NatsOp op;
      size_t consumed = 0;
      std::string err;
      NatsParseStatus st = ParseNatsOp(buf, &op, &consumed, &err);
      EXPECT_NE(st, NatsParseStatus::kError) << err;
      if (st != NatsParseStatus::kOp) break;
      // Views point into buf, which changes below: keep a copy of the op's bytes.
      keep->push_back(buf.substr(0, consumed));
      ParseNatsOp(keep->back(), &op, &consumed, &err);
      ops.push_back(op);
      buf.erase(0, consumed);
    }
  }
  EXPECT_TRUE(buf.empty());
  return ops;
}

// An HMSG with its sizes computed from its parts.
std::string Hmsg(const std::string& subject, const std::string& headers,
                 const std::string& payload) {
  return "HMSG " + subject + " 1 " + std::to_string(headers.size()) + " " +
         std::to_string(headers.size() + payload.size()) + "\r\n" + headers + payload + "\r\n";
}

const std::string kStream =
    "INFO {\"server_id\":\"x\",\"max_payload\":1048576}\r\n"
    "+OK\r\n"
    "PING\r\n"
    "MSG _INBOX.abc.7 1 5\r\nhello\r\n"
    "MSG a.b 2 reply.to 0\r\n\r\n" +
    Hmsg("_INBOX.abc.8", "NATS/1.0\r\nNats-Sequence: 12\r\nA: b\r\n\r\n", "world") +
    Hmsg("_INBOX.abc.9", "NATS/1.0 404 Message Not Found\r\n\r\n", "") +
    "PONG\r\n"
    "-ERR 'Authorization Violation'\r\n";

TEST(NatsProtocol, ParsesEveryServerOperationAtEverySplit) {
  for (size_t step : {size_t{1}, size_t{2}, size_t{3}, size_t{7}, size_t{64}, kStream.size()}) {
    std::vector<std::string> keep;
    auto ops = ParseAll(kStream, step, &keep);
    ASSERT_EQ(ops.size(), 9u) << "step " << step;
    EXPECT_EQ(ops[0].type, NatsOpType::kInfo);
    EXPECT_EQ(InfoMaxPayload(ops[0].text), 1048576);
    EXPECT_EQ(ops[1].type, NatsOpType::kOk);
    EXPECT_EQ(ops[2].type, NatsOpType::kPing);
    EXPECT_EQ(ops[3].type, NatsOpType::kMsg);
    EXPECT_EQ(ops[3].subject, "_INBOX.abc.7");
    EXPECT_EQ(ops[3].sid, 1u);
    EXPECT_EQ(ops[3].payload, "hello");
    EXPECT_EQ(ops[4].reply, "reply.to");
    EXPECT_EQ(ops[4].payload, "");
    EXPECT_EQ(ops[5].payload, "world");
    EXPECT_EQ(FindHeaderValue(ops[5].headers, "Nats-Sequence"), "12");
    EXPECT_EQ(FindHeaderValue(ops[5].headers, "A"), "b");
    std::string_view description;
    EXPECT_EQ(HeaderStatus(ops[6].headers, &description), 404);
    EXPECT_EQ(description, "Message Not Found");
    EXPECT_EQ(ops[7].type, NatsOpType::kPong);
    EXPECT_EQ(ops[8].type, NatsOpType::kErr);
    EXPECT_EQ(ops[8].text, "Authorization Violation");
  }
}

TEST(NatsProtocol, PayloadMayContainCrlf) {
  std::vector<std::string> keep;
  auto ops = ParseAll("MSG s 1 4\r\n\r\n\r\n\r\n", 1, &keep);
  ASSERT_EQ(ops.size(), 1u);
  EXPECT_EQ(ops[0].payload, "\r\n\r\n");
}

TEST(NatsProtocol, RejectsMalformedLines) {
  for (std::string bad : {"MSG s x 5\r\n", "MSG s 1\r\n", "HMSG s 1 10 5\r\n", "BOGUS\r\n"}) {
    NatsOp op;
    size_t consumed = 0;
    std::string err;
    EXPECT_EQ(ParseNatsOp(bad, &op, &consumed, &err), NatsParseStatus::kError) << bad;
  }
}

TEST(NatsProtocol, AnOverlongControlLineIsAnError) {
  std::string line(kMaxServerControlLine + 1, 'I');
  NatsOp op;
  size_t consumed = 0;
  std::string err;
  EXPECT_EQ(ParseNatsOp(line, &op, &consumed, &err), NatsParseStatus::kError);
}

TEST(NatsProtocol, PlainHeaderBlockHasNoStatus) {
  EXPECT_EQ(HeaderStatus("NATS/1.0\r\nA: b\r\n\r\n", nullptr), 0);
  EXPECT_EQ(HeaderStatus("NATS/1.0 503\r\n\r\n", nullptr), 503);
}

TEST(NatsProtocol, EncodesHpubWithExactSizes) {
  std::string out;
  AppendHpub(&out, "$KV.b.k", "_INBOX.x.1", {{"Redis-Expires-At", "5"}}, "val");
  const std::string hdr = "NATS/1.0\r\nRedis-Expires-At: 5\r\n\r\n";
  EXPECT_EQ(out, "HPUB $KV.b.k _INBOX.x.1 " + std::to_string(hdr.size()) + " " +
                     std::to_string(hdr.size() + 3) + "\r\n" + hdr + "val\r\n");
  EXPECT_EQ(HeaderBlockSize({{"Redis-Expires-At", "5"}}), hdr.size());
}

TEST(NatsProtocol, EncodesPubSubAndConnect) {
  std::string out;
  AppendPub(&out, "a.b", "r.1", "xyz");
  AppendSub(&out, "_INBOX.x.*", 1);
  EXPECT_EQ(out, "PUB a.b r.1 3\r\nxyz\r\nSUB _INBOX.x.* 1\r\n");
  out.clear();
  NatsConnectOptions options;
  options.name = "gw\"1";
  options.user = "u";
  options.pass = "p";
  AppendConnect(&out, options);
  EXPECT_NE(out.find("\"headers\":true"), std::string::npos);
  EXPECT_NE(out.find("\"no_responders\":true"), std::string::npos);
  EXPECT_NE(out.find("\"name\":\"gw\\\"1\""), std::string::npos);
  EXPECT_NE(out.find("\"user\":\"u\",\"pass\":\"p\""), std::string::npos);
  EXPECT_EQ(out.substr(out.size() - 3), "}\r\n");
}

// What the encoder writes, the parser (on the server's side of the same grammar) reads back.
TEST(NatsProtocol, HpubRoundTripsThroughTheMessageParser) {
  std::string pub;
  AppendHpub(&pub, "s", "r", {{"Redis-Type", "hash/1"}, {"KV-Operation", "DEL"}}, "pay\r\nload");
  std::string msg = "HMSG" + pub.substr(4);  // same layout, with a sid in place of nothing
  msg.replace(msg.find(" r "), 3, " 1 r ");
  std::vector<std::string> keep;
  auto ops = ParseAll(msg, 5, &keep);
  ASSERT_EQ(ops.size(), 1u);
  EXPECT_EQ(ops[0].payload, "pay\r\nload");
  EXPECT_EQ(FindHeaderValue(ops[0].headers, "Redis-Type"), "hash/1");
  EXPECT_EQ(FindHeaderValue(ops[0].headers, "KV-Operation"), "DEL");
}

}  // namespace
}  // namespace kvmap
