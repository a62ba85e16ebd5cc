// SPDX-License-Identifier: Apache-2.0
//
// Large values in the NATS Object Store (issue 9, gateway/object_store.h) against a real
// nats-server and gateway: the ADR-20 layout a native reader sees (KV pointer, chunks, metadata
// and digest, checked here with nats.c and OpenSSL, not with the gateway's own codec), no
// orphaned chunks after overwrite, DEL, expiry and FLUSHDB, crash safety between the chunks and
// the pointer (RNG_DEBUG_CRASH_BEFORE_OBJECT_POINTER), chunks kept while a slow GET streams
// them, the commands that answer from the pointer or a range of chunks, pipelining order and
// MULTI.
//
// Most tests run with --object-threshold 65536 so values of a few hundred KB spill, and with a
// short sweeper (--object-sweep-ms 200 --object-grace-ms 500) so orphans go within a second.
// Large values are never compared with EXPECT_EQ: a failure would print megabytes.
#include <gtest/gtest.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/gateway_fixture.h"
#include "tests/support/process_harness.h"

#ifndef RNG_GATEWAY_BIN
#define RNG_GATEWAY_BIN ""
#endif

namespace integration {
namespace {

constexpr size_t kChunk = 128 * 1024;  // ADR-20 chunk size the gateway uses

using test_support::MonotonicMs;

std::string RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string out(n, '\0');
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v = rng();
    for (int b = 0; b < 8; ++b) out[i + b] = static_cast<char>(v >> (8 * b));
  }
  for (; i < n; ++i) out[i] = static_cast<char>(rng());
  return out;
}

uint64_t Chunks(size_t size) { return (size + kChunk - 1) / kChunk; }

// Base64 with the URL-safe alphabet and '=' padding (Go's base64.URLEncoding), written here
// independently of kvmap so the test checks the layout, not the codec against itself.
std::string B64UrlPadded(const std::string& in) {
  static const char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t v = (static_cast<uint8_t>(in[i]) << 16) | (static_cast<uint8_t>(in[i + 1]) << 8) |
                 static_cast<uint8_t>(in[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  size_t rest = in.size() - i;
  if (rest == 1) {
    uint32_t v = static_cast<uint8_t>(in[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (rest == 2) {
    uint32_t v = (static_cast<uint8_t>(in[i]) << 16) | (static_cast<uint8_t>(in[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

// "SHA-256=" + base64url padded of the SHA-256 of `value` (OpenSSL EVP).
std::string Adr20Digest(const std::string& value) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  EVP_DigestUpdate(ctx, value.data(), value.size());
  EVP_DigestFinal_ex(ctx, md, &len);
  EVP_MD_CTX_free(ctx);
  return "SHA-256=" + B64UrlPadded(std::string(reinterpret_cast<char*>(md), len));
}

// Redis GETRANGE semantics (Redis 7.0 getrangeCommand), computed locally.
std::string LocalGetrange(const std::string& s, long long start, long long end) {
  long long len = static_cast<long long>(s.size());
  if (start < 0 && end < 0 && start > end) return "";
  if (start < 0) start = len + start;
  if (end < 0) end = len + end;
  if (start < 0) start = 0;
  if (end < 0) end = 0;
  if (end >= len) end = len - 1;
  if (start > end || len == 0) return "";
  return s.substr(static_cast<size_t>(start), static_cast<size_t>(end - start + 1));
}

// Compares big strings without printing them.
::testing::AssertionResult SameBytes(const std::string& got, const std::string& want) {
  if (got == want) return ::testing::AssertionSuccess();
  size_t i = 0;
  while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
  auto show = [](const std::string& s) {
    return s.size() <= 80 ? "\"" + s + "\"" : "<" + std::to_string(s.size()) + " bytes>";
  };
  return ::testing::AssertionFailure() << "got " << show(got) << " (" << got.size()
                                       << " bytes), want " << show(want) << " (" << want.size()
                                       << " bytes), first difference at offset " << i;
}

::testing::AssertionResult IsBulk(const redisReply* r, const redisContext* c,
                                  const std::string& want) {
  if (r == nullptr || r->type != REDIS_REPLY_STRING) {
    std::string shown = Show(r, c);
    if (shown.size() > 200) shown = shown.substr(0, 200) + "...";
    return ::testing::AssertionFailure() << "not a bulk string: " << shown;
  }
  return SameBytes(std::string(r->str, r->len), want);
}

bool WaitUntil(const std::function<bool()>& done, int timeout_ms) {
  int64_t deadline = MonotonicMs() + timeout_ms;
  while (MonotonicMs() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return done();
}

// The fields of a Redis-Object header ("bucket=... nuid=... size=...").
std::map<std::string, std::string> PointerFields(const std::string& header) {
  std::map<std::string, std::string> out;
  size_t pos = 0;
  while (pos < header.size()) {
    size_t end = header.find(' ', pos);
    if (end == std::string::npos) end = header.size();
    std::string field = header.substr(pos, end - pos);
    size_t eq = field.find('=');
    if (eq != std::string::npos) out[field.substr(0, eq)] = field.substr(eq + 1);
    pos = end + 1;
  }
  return out;
}

// One stored message as a native reader gets it.
struct NativeMsg {
  bool found = false;
  std::string error;  // set on anything but found / not found
  std::string data;
  std::optional<std::string> object_header;  // Redis-Object
  std::optional<std::string> operation;      // KV-Operation
  uint64_t seq = 0;
};

class ObjectsBase : public GatewayFixture {
 protected:
  void SetUp() override {
    GatewayFixture::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_EQ(natsConnection_ConnectTo(&nc_, nats_.url().c_str()), NATS_OK)
        << nats_GetLastError(nullptr);
    jsOptions o;
    jsOptions_Init(&o);
    o.Wait = 5000;
    ASSERT_EQ(natsConnection_JetStream(&js_, nc_, &o), NATS_OK);
    redis_ = Connect(gateway_.port(), 30000);
    ASSERT_TRUE(redis_);
  }
  void TearDown() override {
    if (js_ != nullptr) jsCtx_Destroy(js_);
    if (nc_ != nullptr) natsConnection_Destroy(nc_);
    js_ = nullptr;
    nc_ = nullptr;
    GatewayFixture::TearDown();
  }

  std::vector<std::string> GatewayArgs() const override {
    return {"--nats-timeout-ms", "5000", "--object-threshold", "65536",
            "--object-sweep-ms", "200",  "--object-grace-ms",  "500"};
  }

  std::string Ob() const { return BucketName() + "-objects"; }
  std::string ObStream() const { return "OBJ_" + Ob(); }
  std::string KvSubject(const std::string& kv_key) const {
    return "$KV." + BucketName() + "." + kv_key;
  }
  std::string MetaSubject(const std::string& name) const {
    return "$O." + Ob() + ".M." + B64UrlPadded(name);
  }
  std::string ChunkSubject(const std::string& nuid) const { return "$O." + Ob() + ".C." + nuid; }

  static NativeMsg FromMsg(natsStatus s, natsMsg* m) {
    NativeMsg out;
    if (s == NATS_NOT_FOUND) return out;
    if (s != NATS_OK) {
      out.error = std::string(natsStatus_GetText(s)) + ": " + nats_GetLastError(nullptr);
      return out;
    }
    out.found = true;
    if (natsMsg_GetData(m) != nullptr) {
      out.data.assign(natsMsg_GetData(m), static_cast<size_t>(natsMsg_GetDataLength(m)));
    }
    const char* v = nullptr;
    if (natsMsgHeader_Get(m, "Redis-Object", &v) == NATS_OK && v != nullptr) out.object_header = v;
    v = nullptr;
    if (natsMsgHeader_Get(m, "KV-Operation", &v) == NATS_OK && v != nullptr) out.operation = v;
    v = nullptr;
    if (natsMsgHeader_Get(m, "Nats-Sequence", &v) == NATS_OK && v != nullptr) {
      out.seq = std::strtoull(v, nullptr, 10);
    }
    if (out.seq == 0) out.seq = natsMsg_GetSequence(m);
    natsMsg_Destroy(m);
    return out;
  }

  // The KV entry of `kv_key` read natively with a direct get (last by subject).
  NativeMsg KvEntry(const std::string& kv_key) {
    natsMsg* m = nullptr;
    jsDirectGetMsgOptions dg;
    jsDirectGetMsgOptions_Init(&dg);
    std::string subject = KvSubject(kv_key);
    dg.LastBySubject = subject.c_str();
    natsStatus s = js_DirectGetMsg(&m, js_, ("KV_" + BucketName()).c_str(), nullptr, &dg);
    return FromMsg(s, m);
  }

  NativeMsg LastOn(const std::string& stream, const std::string& subject) {
    natsMsg* m = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_GetLastMsg(&m, js_, stream.c_str(), subject.c_str(), nullptr, &jerr);
    return FromMsg(s, m);
  }

  NativeMsg ChunkAt(uint64_t seq) {
    natsMsg* m = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_GetMsg(&m, js_, ObStream().c_str(), seq, nullptr, &jerr);
    return FromMsg(s, m);
  }

  // The Redis-Object pointer fields of `kv_key`, empty when the entry is missing or inline.
  std::map<std::string, std::string> Pointer(const std::string& kv_key) {
    NativeMsg e = KvEntry(kv_key);
    if (!e.found || !e.object_header) return {};
    return PointerFields(*e.object_header);
  }

  // Chunk subjects in the object store stream: nuid -> message count. nullopt (and *err) when
  // the stream cannot be read.
  std::optional<std::map<std::string, uint64_t>> ChunkSubjects(std::string* err = nullptr) {
    jsOptions o;
    jsOptions_Init(&o);
    std::string filter = "$O." + Ob() + ".C.>";
    o.Stream.Info.SubjectsFilter = filter.c_str();
    jsStreamInfo* si = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_GetStreamInfo(&si, js_, ObStream().c_str(), &o, &jerr);
    if (s != NATS_OK) {
      if (err != nullptr) {
        *err = std::string("stream info ") + ObStream() + ": " + natsStatus_GetText(s) +
               " (" + std::to_string(jerr) + ")";
      }
      return std::nullopt;
    }
    std::map<std::string, uint64_t> out;
    std::string prefix = "$O." + Ob() + ".C.";
    if (si->State.Subjects != nullptr) {
      for (int i = 0; i < si->State.Subjects->Count; ++i) {
        std::string subject = si->State.Subjects->List[i].Subject;
        if (subject.rfind(prefix, 0) != 0) continue;
        out[subject.substr(prefix.size())] = si->State.Subjects->List[i].Msgs;
      }
    }
    jsStreamInfo_Destroy(si);
    return out;
  }

  static std::string Describe(const std::map<std::string, uint64_t>& m) {
    std::string out = "{";
    for (const auto& [k, v] : m) out += (out.size() > 1 ? ", " : "") + k + ":" + std::to_string(v);
    return out + "}";
  }

  // What the chunk subjects should be: every live pointer among `kv_keys`, nuid -> chunks.
  std::map<std::string, uint64_t> Referenced(const std::vector<std::string>& kv_keys) {
    std::map<std::string, uint64_t> out;
    for (const std::string& k : kv_keys) {
      auto p = Pointer(k);
      if (p.empty()) continue;
      out[p["nuid"]] = std::strtoull(p["chunks"].c_str(), nullptr, 10);
    }
    return out;
  }

  // Polls until the chunk subjects are exactly `want`; a failure shows the last state.
  ::testing::AssertionResult ChunksBecome(const std::map<std::string, uint64_t>& want,
                                          int timeout_ms = 10000) {
    std::map<std::string, uint64_t> last;
    std::string err;
    bool ok = WaitUntil(
        [&] {
          auto now = ChunkSubjects(&err);
          if (!now) return false;
          last = *now;
          return last == want;
        },
        timeout_ms);
    if (ok) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "chunk subjects " << Describe(last) << ", want "
                                         << Describe(want) << (err.empty() ? "" : "; " + err);
  }

  // The metadata JSON of object `name` (empty when there is none).
  std::string Meta(const std::string& name) {
    NativeMsg m = LastOn(ObStream(), MetaSubject(name));
    return m.found ? m.data : std::string();
  }

  ::testing::AssertionResult MetaBecomesDeleted(const std::string& name,
                                                int timeout_ms = 10000) {
    std::string last;
    bool ok = WaitUntil(
        [&] {
          last = Meta(name);
          return last.find("\"deleted\":true") != std::string::npos;
        },
        timeout_ms);
    if (ok) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "metadata of " << name << " never marked deleted: "
                                         << last;
  }

  // Checks the KV entry of kv_key is a pointer to `value` (empty payload, Redis-Object header
  // with the right bucket, name, size, chunks and digest). Returns the fields.
  std::map<std::string, std::string> ExpectPointerTo(const std::string& kv_key,
                                                     const std::string& value) {
    NativeMsg e = KvEntry(kv_key);
    EXPECT_TRUE(e.found) << "no KV entry for " << kv_key << " " << e.error;
    EXPECT_TRUE(e.object_header.has_value()) << "KV entry of " << kv_key << " is not a pointer";
    EXPECT_EQ(e.data.size(), 0u) << "a pointer has an empty payload";
    if (!e.object_header) return {};
    auto f = PointerFields(*e.object_header);
    EXPECT_EQ(f["bucket"], Ob());
    EXPECT_EQ(f["name"], kv_key);
    EXPECT_EQ(f["size"], std::to_string(value.size()));
    EXPECT_EQ(f["chunks"], std::to_string(Chunks(value.size())));
    EXPECT_EQ(f["digest"], Adr20Digest(value));
    EXPECT_EQ(f["nuid"].size(), 22u) << *e.object_header;
    return f;
  }

  std::string Get(redisContext* c, const std::string& key) {
    ReplyPtr r = Cmd(c, {"GET", key});
    if (r && r->type == REDIS_REPLY_STRING) return std::string(r->str, r->len);
    return "<" + Show(r.get(), c).substr(0, 200) + ">";
  }

  natsConnection* nc_ = nullptr;
  jsCtx* js_ = nullptr;
  RedisPtr redis_;
};

// ---------------------------------------------------------------------------------------------
// 1. Layout with the default threshold (the server's max_payload minus 4 KiB).

class ObjectsDefaultThreshold : public ObjectsBase {
 protected:
  std::vector<std::string> GatewayArgs() const override { return {"--nats-timeout-ms", "5000"}; }
};

TEST_F(ObjectsDefaultThreshold, RoundTripAndLayout) {
  redisContext* c = redis_.get();
  const std::string value = RandomBytes(3 * 512 * 1024 + 12345, 1);  // 1.5 MiB + a bit
  const std::string small = RandomBytes(1000, 2);
  ASSERT_EQ(Run(c, {"SET", "doc:1", value}), "+OK");
  ASSERT_EQ(Run(c, {"SET", "doc:small", small}), "+OK");
  ReplyPtr got = Cmd(c, {"GET", "doc:1"});
  EXPECT_TRUE(IsBulk(got.get(), c, value));
  got = Cmd(c, {"GET", "doc:small"});
  EXPECT_TRUE(IsBulk(got.get(), c, small));

  // A small value stays inline.
  NativeMsg inline_entry = KvEntry("doc.small");
  ASSERT_TRUE(inline_entry.found) << inline_entry.error;
  EXPECT_FALSE(inline_entry.object_header.has_value());
  EXPECT_TRUE(SameBytes(inline_entry.data, small));

  // The KV entry is the pointer.
  auto f = ExpectPointerTo("doc.1", value);
  ASSERT_FALSE(f.empty());
  const std::string nuid = f["nuid"];
  const uint64_t chunks = Chunks(value.size());
  EXPECT_EQ(chunks, 13u);

  // Chunks: one subject with ceil(size / 128 KiB) messages.
  std::string err;
  auto subjects = ChunkSubjects(&err);
  ASSERT_TRUE(subjects) << err;
  EXPECT_EQ(Describe(*subjects), Describe({{nuid, chunks}}));

  // The chunks, read natively in stream order from the pointer's seq to last, are the value.
  uint64_t first = std::strtoull(f["seq"].c_str(), nullptr, 10);
  uint64_t last = std::strtoull(f["last"].c_str(), nullptr, 10);
  ASSERT_GT(first, 0u);
  ASSERT_EQ(last - first + 1, chunks) << "chunks of one upload are contiguous here";
  std::string joined;
  for (uint64_t seq = first; seq <= last; ++seq) {
    NativeMsg m = ChunkAt(seq);
    ASSERT_TRUE(m.found) << "chunk at " << seq << " " << m.error;
    EXPECT_EQ(m.data.size(), seq == last ? value.size() - (chunks - 1) * kChunk : kChunk);
    joined += m.data;
  }
  EXPECT_TRUE(SameBytes(joined, value));

  // Metadata (ADR-20 ObjectInfo) at $O.<ob>.M.<base64url padded("doc.1")>.
  std::string meta;
  ASSERT_TRUE(WaitUntil([&] { return !(meta = Meta("doc.1")).empty(); }, 5000))
      << "no metadata at " << MetaSubject("doc.1");
  EXPECT_NE(meta.find("\"name\":\"doc.1\""), std::string::npos) << meta;
  EXPECT_NE(meta.find("\"bucket\":\"" + Ob() + "\""), std::string::npos) << meta;
  EXPECT_NE(meta.find("\"nuid\":\"" + nuid + "\""), std::string::npos) << meta;
  EXPECT_NE(meta.find("\"size\":" + std::to_string(value.size())), std::string::npos) << meta;
  EXPECT_NE(meta.find("\"chunks\":" + std::to_string(chunks)), std::string::npos) << meta;
  EXPECT_NE(meta.find("\"digest\":\"" + Adr20Digest(value) + "\""), std::string::npos) << meta;
  EXPECT_NE(meta.find("\"max_chunk_size\":131072"), std::string::npos) << meta;
  EXPECT_EQ(meta.find("\"deleted\":true"), std::string::npos) << meta;
  EXPECT_EQ(Run(c, {"STRLEN", "doc:1"}), ":" + std::to_string(value.size()));
}

// ---------------------------------------------------------------------------------------------
// 2. No orphans after overwrite, DEL, expiry and FLUSHDB.

class Objects : public ObjectsBase {};

TEST_F(Objects, OverwriteDeleteExpiryFlushLeaveNoOrphans) {
  redisContext* c = redis_.get();
  const std::vector<std::string> all = {"k1", "k2", "k3", "k4", "k5", "k6"};
  const std::string v1 = RandomBytes(300000, 11);
  const std::string v2 = RandomBytes(400000, 12);
  ASSERT_EQ(Run(c, {"SET", "k1", v1}), "+OK");
  auto p1 = ExpectPointerTo("k1", v1);
  ASSERT_TRUE(ChunksBecome({{p1["nuid"], 3}}));

  // Overwrite large with large: only the new object's chunks stay; the metadata follows.
  ASSERT_EQ(Run(c, {"SET", "k1", v2}), "+OK");
  auto p2 = ExpectPointerTo("k1", v2);
  ASSERT_NE(p1["nuid"], p2["nuid"]);
  EXPECT_TRUE(ChunksBecome({{p2["nuid"], 4}}));
  std::string meta = Meta("k1");
  EXPECT_NE(meta.find("\"nuid\":\"" + p2["nuid"] + "\""), std::string::npos) << meta;
  EXPECT_EQ(meta.find("\"deleted\":true"), std::string::npos) << meta;
  EXPECT_TRUE(SameBytes(Get(c, "k1"), v2));

  // Overwrite with a small value: no chunks at all, metadata deleted.
  ASSERT_EQ(Run(c, {"SET", "k1", "small"}), "+OK");
  EXPECT_TRUE(ChunksBecome({}));
  EXPECT_EQ(Run(c, {"GET", "k1"}), "$small");
  NativeMsg e = KvEntry("k1");
  EXPECT_FALSE(e.object_header.has_value());

  // DEL one of two large keys.
  const std::string v3 = RandomBytes(200000, 13);
  const std::string v4 = RandomBytes(270000, 14);
  ASSERT_EQ(Run(c, {"SET", "k2", v3}), "+OK");
  ASSERT_EQ(Run(c, {"SET", "k3", v4}), "+OK");
  EXPECT_TRUE(ChunksBecome(Referenced(all)));
  EXPECT_EQ(Referenced(all).size(), 2u);
  EXPECT_TRUE(MetaBecomesDeleted("k1"));  // (its 2 s settle time has passed by now)
  EXPECT_EQ(Run(c, {"DEL", "k2"}), ":1");
  auto p3 = Pointer("k3");
  ASSERT_FALSE(p3.empty());
  EXPECT_TRUE(ChunksBecome({{p3["nuid"], 3}}));
  EXPECT_TRUE(MetaBecomesDeleted("k2"));
  EXPECT_TRUE(SameBytes(Get(c, "k3"), v4));

  // Expiry.
  const std::string v5 = RandomBytes(150000, 15);
  ASSERT_EQ(Run(c, {"SET", "k4", v5, "PX", "300"}), "+OK");
  EXPECT_TRUE(WaitUntil([&] { return Run(c, {"EXISTS", "k4"}) == ":0"; }, 5000));
  EXPECT_EQ(Run(c, {"GET", "k4"}), "(nil)");
  EXPECT_TRUE(ChunksBecome({{p3["nuid"], 3}}));
  EXPECT_TRUE(MetaBecomesDeleted("k4"));
  EXPECT_TRUE(SameBytes(Get(c, "k3"), v4));

  // FLUSHDB with several large keys.
  const std::string v6 = RandomBytes(500000, 16);
  const std::string v7 = RandomBytes(140000, 17);
  ASSERT_EQ(Run(c, {"SET", "k5", v6}), "+OK");
  ASSERT_EQ(Run(c, {"SET", "k6", v7}), "+OK");
  EXPECT_TRUE(ChunksBecome(Referenced(all)));
  EXPECT_EQ(Referenced(all).size(), 3u);
  EXPECT_EQ(Run(c, {"FLUSHDB"}), "+OK");
  EXPECT_EQ(Run(c, {"DBSIZE"}), ":0");
  EXPECT_TRUE(ChunksBecome({}));
  for (const char* k : {"k3", "k5", "k6"}) {
    EXPECT_EQ(Run(c, {"GET", k}), "(nil)") << k;
    EXPECT_TRUE(MetaBecomesDeleted(k));
  }
  // Every metadata subject now describes a deleted object.
  for (const std::string& k : all) {
    std::string m = Meta(k);
    if (!m.empty()) {
      EXPECT_NE(m.find("\"deleted\":true"), std::string::npos) << k << ": " << m;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// 3. A crash after the chunks and before the pointer leaves only an orphan.

class ObjectsCrash : public ObjectsBase {
 protected:
  void SetUp() override {
    // The gateway the fixture starts inherits this; later gateways do not.
    setenv("RNG_DEBUG_CRASH_BEFORE_OBJECT_POINTER", "1", 1);
    ObjectsBase::SetUp();
    unsetenv("RNG_DEBUG_CRASH_BEFORE_OBJECT_POINTER");
  }
  std::vector<std::string> GatewayArgs() const override {
    return {"--nats-timeout-ms", "5000", "--object-threshold", "65536", "--object-sweep-ms", "0"};
  }
};

TEST_F(ObjectsCrash, CrashBetweenChunksAndPointerLeavesOnlyAnOrphan) {
  const std::string value = RandomBytes(300000, 21);
  ReplyPtr r = Cmd(redis_.get(), {"SET", "doc:9", value});
  EXPECT_EQ(Show(r.get(), redis_.get()).rfind("<no reply", 0), 0u)
      << "the gateway answered: " << Show(r.get(), redis_.get());
  ASSERT_TRUE(WaitUntil([&] { return gateway_.HasExited(); }, 10000));
  EXPECT_EQ(gateway_.Stop(), "exit 86");

  // Chunks are there, nothing refers to them: no KV entry, no metadata.
  std::string err;
  auto subjects = ChunkSubjects(&err);
  EXPECT_TRUE(subjects) << err;
  if (subjects) {
    EXPECT_EQ(subjects->size(), 1u) << Describe(*subjects);
    if (!subjects->empty()) {
      EXPECT_EQ(subjects->begin()->second, 3u);
    }
  }
  NativeMsg e = KvEntry("doc.9");
  EXPECT_FALSE(e.found) << "a KV entry exists for doc.9: header "
                        << e.object_header.value_or("(none)") << " " << e.error;
  EXPECT_TRUE(e.error.empty()) << e.error;
  EXPECT_TRUE(Meta("doc.9").empty());

  // A fresh gateway, without the fault, with a short sweeper.
  redis_.reset();
  test_support::GatewayOptions options;
  options.binary = test_support::GatewayBinary(RNG_GATEWAY_BIN);
  options.nats_url = nats_.url();
  options.bucket = BucketName();
  options.extra_args = ObjectsBase::GatewayArgs();
  ASSERT_EQ(gateway_.Start(options, dir_.path()), "");
  redis_ = Connect(gateway_.port(), 30000);
  ASSERT_TRUE(redis_);
  EXPECT_EQ(Run(redis_.get(), {"GET", "doc:9"}), "(nil)");
  EXPECT_EQ(Run(redis_.get(), {"EXISTS", "doc:9"}), ":0");
  EXPECT_EQ(Run(redis_.get(), {"STRLEN", "doc:9"}), ":0");
  EXPECT_TRUE(ChunksBecome({}));

  // The fresh gateway stores large values normally, and its sweeper leaves them alone.
  ASSERT_EQ(Run(redis_.get(), {"SET", "doc:9", value}), "+OK");
  auto p = ExpectPointerTo("doc.9", value);
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // > grace + several sweeps
  EXPECT_TRUE(ChunksBecome({{p["nuid"], 3}}, 100));
  EXPECT_TRUE(SameBytes(Get(redis_.get(), "doc:9"), value));
}

// ---------------------------------------------------------------------------------------------
// 4. Chunks stay while a slow GET streams them.

// A blocking loopback socket with a tiny receive buffer (set before connect, so the window is
// small) and a short receive timeout.
int SlowSocket(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  int rcvbuf = 4096;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  timeval tv{0, 200 * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Reads into *buf until it holds `want` bytes, the peer closes, or the deadline passes.
void ReadUpTo(int fd, std::string* buf, size_t want, int timeout_ms, size_t step = 1 << 16) {
  int64_t deadline = MonotonicMs() + timeout_ms;
  std::string tmp(step, '\0');
  while (buf->size() < want && MonotonicMs() < deadline) {
    ssize_t n = recv(fd, tmp.data(), std::min(step, want - buf->size()), 0);
    if (n > 0) {
      buf->append(tmp.data(), static_cast<size_t>(n));
    } else if (n == 0) {
      return;
    }
  }
}

// The gateway stops reading chunks for a streamed reply once 4 MiB wait for the client; with
// the kernel's buffers (tcp_wmem up to 4 MiB) and the read window (32 chunks, 4 MiB), 11 to
// 13 MB of the value have left NATS by then, so the value is 24 MiB: several MiB are still to
// be read from the object store while the key is overwritten, deleted and swept.
TEST_F(Objects, ChunksStayWhileAGetStreamsThem) {
  redisContext* c = redis_.get();
  const std::string value = RandomBytes(24 * 1024 * 1024, 31);
  ASSERT_EQ(Run(c, {"SET", "big", value}), "+OK");
  auto old_ptr = ExpectPointerTo("big", value);
  const std::string old_nuid = old_ptr["nuid"];
  const uint64_t old_chunks = Chunks(value.size());

  int fd = SlowSocket(gateway_.port());
  ASSERT_GE(fd, 0);
  const std::string request = "*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n";
  ASSERT_EQ(send(fd, request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));
  const std::string head = "$" + std::to_string(value.size()) + "\r\n";
  const size_t total = head.size() + value.size() + 2;
  std::string got;
  // Read a little, slowly.
  for (int i = 0; i < 4; ++i) {
    ReadUpTo(fd, &got, got.size() + 16 * 1024, 5000, 4096);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_GE(got.size(), head.size());
  ASSERT_EQ(got.substr(0, head.size()), head);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));

  // Meanwhile: overwrite with another large value, then delete the key.
  RedisPtr other = Connect(gateway_.port(), 30000);
  ASSERT_TRUE(other);
  const std::string replacement = RandomBytes(1024 * 1024, 32);
  ASSERT_EQ(Run(other.get(), {"SET", "big", replacement}), "+OK");
  auto new_ptr = ExpectPointerTo("big", replacement);
  ASSERT_NE(new_ptr["nuid"], old_nuid);
  EXPECT_EQ(Run(other.get(), {"DEL", "big"}), ":1");
  EXPECT_EQ(Run(other.get(), {"GET", "big"}), "(nil)");

  // The sweeper removes the replacement's chunks (unreferenced, not read by anyone) but keeps
  // every chunk the slow GET has still to read, however often it runs.
  EXPECT_TRUE(ChunksBecome({{old_nuid, old_chunks}}));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_TRUE(ChunksBecome({{old_nuid, old_chunks}}, 100));

  // The slow client reads the rest: exactly the old value, complete. (A larger buffer now, or
  // the rest would trickle through the 4 KiB window for many seconds.)
  int rcvbuf = 1 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  ReadUpTo(fd, &got, total, 20000);
  // Nothing more than the one reply may arrive (a short wait for stray bytes).
  if (got.size() == total) ReadUpTo(fd, &got, total + 1, 300);
  close(fd);
  ASSERT_EQ(got.size(), total) << "the slow client got " << got.size() << " of " << total
                               << " bytes";
  EXPECT_TRUE(SameBytes(got.substr(head.size(), value.size()), value));
  EXPECT_EQ(got.substr(total - 2), "\r\n");

  // Once the read is over, nothing holds the old chunks.
  EXPECT_TRUE(ChunksBecome({}));
}

// ---------------------------------------------------------------------------------------------
// 5. Commands that work from the pointer or a range of chunks.

TEST_F(Objects, StrlenGetrangeExpirePersistOnLargeValues) {
  redisContext* c = redis_.get();
  const std::string value = RandomBytes(3 * kChunk + 12345, 41);
  ASSERT_EQ(Run(c, {"SET", "doc:5", value}), "+OK");
  auto p = ExpectPointerTo("doc.5", value);
  ASSERT_FALSE(p.empty());
  const std::string header = *KvEntry("doc.5").object_header;

  EXPECT_EQ(Run(c, {"STRLEN", "doc:5"}), ":" + std::to_string(value.size()));
  EXPECT_EQ(Run(c, {"TYPE", "doc:5"}), "+string");
  EXPECT_EQ(Run(c, {"OBJECT", "ENCODING", "doc:5"}), "$raw");
  EXPECT_EQ(Run(c, {"EXISTS", "doc:5"}), ":1");

  const long long n = static_cast<long long>(value.size());
  const long long ck = static_cast<long long>(kChunk);
  const std::vector<std::pair<long long, long long>> ranges = {
      {0, 0},
      {0, 99},
      {ck - 10, ck + 9},              // across the first boundary
      {ck - 1, ck},                   // the two bytes around it
      {ck, ck},                       // first byte of chunk 1
      {2 * ck - 5, 3 * ck + 5},       // across two boundaries
      {ck + 17, 3 * ck + 100},        // a middle-chunk start, into the last chunk
      {-5, -1},                       // last bytes
      {-(n - 3 * ck) - 10, -1},       // from before the last boundary to the end
      {-200000, -150000},
      {-n - 100, 10},                 // start clamps to 0
      {n - 3, n + 1000000},           // end clamps
      {n, n + 10},                    // beyond the end: empty
      {10, 5},                        // empty
      {-1, -5},                       // empty (Redis special case)
      {0, -1},                        // everything
  };
  for (const auto& [start, end] : ranges) {
    ReplyPtr r = Cmd(c, {"GETRANGE", "doc:5", std::to_string(start), std::to_string(end)});
    EXPECT_TRUE(IsBulk(r.get(), c, LocalGetrange(value, start, end)))
        << "GETRANGE " << start << " " << end;
  }

  // EXPIRE / TTL / PERSIST rewrite the pointer, not the object.
  EXPECT_EQ(Run(c, {"EXPIRE", "doc:5", "100"}), ":1");
  std::string ttl = Run(c, {"TTL", "doc:5"});
  EXPECT_TRUE(ttl == ":100" || ttl == ":99") << ttl;
  NativeMsg e = KvEntry("doc.5");
  ASSERT_TRUE(e.object_header.has_value());
  EXPECT_EQ(*e.object_header, header);
  EXPECT_EQ(e.data.size(), 0u);
  EXPECT_TRUE(SameBytes(Get(c, "doc:5"), value));
  EXPECT_EQ(Run(c, {"PERSIST", "doc:5"}), ":1");
  EXPECT_EQ(Run(c, {"TTL", "doc:5"}), ":-1");
  e = KvEntry("doc.5");
  ASSERT_TRUE(e.object_header.has_value());
  EXPECT_EQ(*e.object_header, header);
  EXPECT_TRUE(SameBytes(Get(c, "doc:5"), value));
  EXPECT_EQ(Run(c, {"STRLEN", "doc:5"}), ":" + std::to_string(value.size()));
  // The object survived sweeps while only the pointer changed.
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  EXPECT_TRUE(ChunksBecome({{p["nuid"], Chunks(value.size())}}, 100));

  // APPEND writes a new object.
  const std::string suffix = "-appended-suffix";
  EXPECT_EQ(Run(c, {"APPEND", "doc:5", suffix}), ":" + std::to_string(value.size() + suffix.size()));
  const std::string appended = value + suffix;
  auto pa = ExpectPointerTo("doc.5", appended);
  EXPECT_NE(pa["nuid"], p["nuid"]);
  EXPECT_TRUE(SameBytes(Get(c, "doc:5"), appended));
  EXPECT_EQ(Run(c, {"STRLEN", "doc:5"}), ":" + std::to_string(appended.size()));
  ReplyPtr tail = Cmd(c, {"GETRANGE", "doc:5", "-20", "-1"});
  EXPECT_TRUE(IsBulk(tail.get(), c, appended.substr(appended.size() - 20)));

  // SETRANGE across a chunk boundary too.
  std::string changed = appended;
  changed.replace(kChunk - 2, 5, "ABCDE");
  EXPECT_EQ(Run(c, {"SETRANGE", "doc:5", std::to_string(kChunk - 2), "ABCDE"}),
            ":" + std::to_string(changed.size()));
  auto ps = ExpectPointerTo("doc.5", changed);
  EXPECT_NE(ps["nuid"], pa["nuid"]);
  EXPECT_TRUE(SameBytes(Get(c, "doc:5"), changed));
  EXPECT_TRUE(ChunksBecome({{ps["nuid"], Chunks(changed.size())}}));
}

// ---------------------------------------------------------------------------------------------
// 6. A large write is a barrier in a pipeline.

TEST_F(Objects, PipelinedSmallAfterLargeKeepsOrder) {
  redisContext* c = redis_.get();
  const std::string large = RandomBytes(700000, 51);
  ASSERT_EQ(Append(c, {"SET", "k", large}), REDIS_OK);
  ASSERT_EQ(Append(c, {"SET", "k", "small"}), REDIS_OK);
  ASSERT_EQ(Append(c, {"GET", "k"}), REDIS_OK);
  ReplyPtr r1 = NextReply(c);
  ReplyPtr r2 = NextReply(c);
  ReplyPtr r3 = NextReply(c);
  EXPECT_EQ(Show(r1.get(), c), "+OK");
  EXPECT_EQ(Show(r2.get(), c), "+OK");
  EXPECT_EQ(Show(r3.get(), c), "$small");
  EXPECT_EQ(Run(c, {"GET", "k"}), "$small");
  NativeMsg e = KvEntry("k");
  ASSERT_TRUE(e.found) << e.error;
  EXPECT_FALSE(e.object_header.has_value()) << "the large write landed after the small one";
  EXPECT_EQ(e.data, "small");

  ASSERT_EQ(Append(c, {"SET", "a", large}), REDIS_OK);
  ASSERT_EQ(Append(c, {"SET", "b", "x"}), REDIS_OK);
  r1 = NextReply(c);
  r2 = NextReply(c);
  EXPECT_EQ(Show(r1.get(), c), "+OK");
  EXPECT_EQ(Show(r2.get(), c), "+OK");
  NativeMsg a = KvEntry("a");
  NativeMsg b = KvEntry("b");
  ASSERT_TRUE(a.found) << a.error;
  ASSERT_TRUE(b.found) << b.error;
  EXPECT_TRUE(a.object_header.has_value());
  EXPECT_EQ(b.data, "x");
  EXPECT_GT(a.seq, 0u);
  EXPECT_LT(a.seq, b.seq) << "b's write is visible before a's pointer";
  EXPECT_TRUE(SameBytes(Get(c, "a"), large));
  // Only a's object is left once the sweeper has removed k's.
  EXPECT_TRUE(ChunksBecome(Referenced({"k", "a", "b"})));
  EXPECT_EQ(Referenced({"k", "a", "b"}).size(), 1u);
}

// ---------------------------------------------------------------------------------------------
// 7. MULTI.

TEST_F(Objects, LargeValueInsideMulti) {
  redisContext* c = redis_.get();
  const std::string large = RandomBytes(500000, 61);
  EXPECT_EQ(Run(c, {"MULTI"}), "+OK");
  EXPECT_EQ(Run(c, {"SET", "m", large}), "+QUEUED");
  EXPECT_EQ(Run(c, {"GET", "m"}), "+QUEUED");
  ReplyPtr r = Cmd(c, {"EXEC"});
  ASSERT_TRUE(r) << Show(r.get(), c);
  ASSERT_EQ(r->type, REDIS_REPLY_ARRAY) << Show(r.get(), c).substr(0, 200);
  ASSERT_EQ(r->elements, 2u);
  EXPECT_EQ(Show(r->element[0]), "+OK");
  EXPECT_TRUE(IsBulk(r->element[1], c, large));
  ExpectPointerTo("m", large);
  EXPECT_TRUE(SameBytes(Get(c, "m"), large));
}

}  // namespace
}  // namespace integration
