// SPDX-License-Identifier: Apache-2.0
#include "kvmap/object_codec.h"

#include <gtest/gtest.h>

#include <set>

namespace kvmap {
namespace {

TEST(ObjectCodec, NamesFollowAdr20) {
  EXPECT_EQ(ObjectBucketFor("redis"), "redis-objects");
  EXPECT_EQ(ObjectStreamName("redis-objects"), "OBJ_redis-objects");
  EXPECT_EQ(ChunkSubject("redis-objects", "abc"), "$O.redis-objects.C.abc");
  // Names are base64url with padding, as nats.go and nats.js encode them.
  EXPECT_EQ(MetaSubject("redis-objects", "doc.123"), "$O.redis-objects.M.ZG9jLjEyMw==");
}

TEST(ObjectCodec, Base64UrlPaddedRoundTrips) {
  EXPECT_EQ(Base64UrlPadded(""), "");
  EXPECT_EQ(Base64UrlPadded("ab"), "YWI=");
  EXPECT_EQ(Base64UrlPadded(std::string("\xfb\xff", 2)), "-_8=");
  EXPECT_EQ(DecodeBase64Url("-_8="), std::string("\xfb\xff", 2));
  EXPECT_EQ(DecodeBase64Url("-_8"), std::string("\xfb\xff", 2));  // unpadded accepted
  EXPECT_FALSE(DecodeBase64Url("a+b/").has_value());                 // standard alphabet
  EXPECT_FALSE(DecodeBase64Url("a").has_value());
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (size_t n = 0; n < all.size(); n += 7) {
    EXPECT_EQ(DecodeBase64Url(Base64UrlPadded(all.substr(0, n))), all.substr(0, n));
  }
}

TEST(ObjectCodec, DigestIsSha256InBase64Url) {
  Sha256 sha;
  sha.Update("a");
  sha.Update("bc");
  EXPECT_EQ(DigestString(sha.Final()), "SHA-256=ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0=");
}

TEST(ObjectCodec, NuidsAreDistinctAndSubjectSafe) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string n = NewObjectNuid();
    ASSERT_EQ(n.size(), 22u);
    for (char c : n) ASSERT_TRUE(isalnum(static_cast<unsigned char>(c))) << n;
    seen.insert(n);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(ObjectCodec, ChunkCount) {
  EXPECT_EQ(ChunkCount(0), 0u);
  EXPECT_EQ(ChunkCount(1), 1u);
  EXPECT_EQ(ChunkCount(kObjectChunkSize), 1u);
  EXPECT_EQ(ChunkCount(kObjectChunkSize + 1), 2u);
  EXPECT_EQ(ChunkCount(512ull << 20), 4096u);
}

TEST(ObjectCodec, RefRoundTripsAndRejectsBadInput) {
  ObjectRef ref;
  ref.bucket = "redis-objects";
  ref.name = "doc.123";
  ref.nuid = "A1b2C3d4E5f6G7h8I9j0KL";
  ref.size = 50u << 20;
  ref.chunks = ChunkCount(ref.size);
  ref.first_seq = 77;
  ref.last_seq = 77 + ref.chunks - 1;
  EXPECT_TRUE(ref.is_contiguous());
  ref.digest = "SHA-256=ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0=";
  std::string text = FormatObjectRef(ref);
  auto back = ParseObjectRef(text);
  ASSERT_TRUE(back.has_value()) << text;
  EXPECT_EQ(back->bucket, ref.bucket);
  EXPECT_EQ(back->name, ref.name);
  EXPECT_EQ(back->nuid, ref.nuid);
  EXPECT_EQ(back->size, ref.size);
  EXPECT_EQ(back->chunks, ref.chunks);
  EXPECT_EQ(back->first_seq, 77u);
  EXPECT_EQ(back->last_seq, ref.last_seq);
  EXPECT_TRUE(back->is_contiguous());
  ref.last_seq += 1;  // another message in between: not contiguous
  EXPECT_FALSE(ref.is_contiguous());
  EXPECT_EQ(back->digest, ref.digest);
  // Unknown fields are ignored.
  EXPECT_TRUE(ParseObjectRef(text + " future=1").has_value());
  EXPECT_FALSE(ParseObjectRef("").has_value());
  EXPECT_FALSE(ParseObjectRef("bucket=b nuid=n size=10").has_value());            // no chunks
  EXPECT_FALSE(ParseObjectRef("bucket=b nuid=n size=10 chunks=2").has_value());   // mismatch
  EXPECT_FALSE(ParseObjectRef("bucket=b nuid=n size=x chunks=1").has_value());
  EXPECT_FALSE(ParseObjectRef("bucket=b nuid=n.> size=1 chunks=1").has_value());  // subject
}

TEST(ObjectCodec, MetaRoundTrips) {
  ObjectInfo info;
  info.name = "doc.\"q\"";
  info.bucket = "redis-objects";
  info.nuid = "N";
  info.size = 300000;
  info.chunks = ChunkCount(info.size);
  info.digest = "SHA-256=x=";
  std::string json = BuildObjectMeta(info);
  EXPECT_NE(json.find("\"max_chunk_size\":131072"), std::string::npos);
  EXPECT_EQ(json.find("deleted"), std::string::npos);
  auto back = ParseObjectMeta(json);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->name, info.name);
  EXPECT_EQ(back->nuid, "N");
  EXPECT_EQ(back->size, 300000u);
  EXPECT_EQ(back->chunks, 3u);
  EXPECT_EQ(back->digest, "SHA-256=x=");
  EXPECT_FALSE(back->deleted);
  info.deleted = true;
  EXPECT_TRUE(ParseObjectMeta(BuildObjectMeta(info))->deleted);
  // What nats.go writes (mtime and headers included) parses too.
  auto go = ParseObjectMeta(
      R"({"name":"a","headers":{"k":["v"]},"options":{"max_chunk_size":131072},)"
      R"("bucket":"b","nuid":"Z","size":5,"mtime":"2026-01-01T00:00:00Z","chunks":1,)"
      R"("digest":"SHA-256=d"})");
  ASSERT_TRUE(go.has_value());
  EXPECT_EQ(go->size, 5u);
  EXPECT_EQ(go->nuid, "Z");
  EXPECT_FALSE(ParseObjectMeta("{}").has_value());
}

TEST(ObjectCodec, StreamSubjectsSkipTheConfigArray) {
  auto subjects = ParseStreamSubjects(
      R"({"config":{"name":"OBJ_b","subjects":["$O.b.C.>","$O.b.M.>"]},)"
      R"("state":{"messages":5,"num_subjects":2,"subjects":{"$O.b.C.X":4,"$O.b.M.YQ==":1}}})");
  ASSERT_EQ(subjects.size(), 2u);
  EXPECT_EQ(subjects[0].first, "$O.b.C.X");
  EXPECT_EQ(subjects[0].second, 4u);
  EXPECT_EQ(subjects[1].first, "$O.b.M.YQ==");
  EXPECT_TRUE(ParseStreamSubjects(R"({"config":{"subjects":["a"]},"state":{}})").empty());
}

TEST(ObjectCodec, RequestBodies) {
  EXPECT_EQ(BuildNextBySubjectRequest("$O.b.C.X", 9), R"({"seq":9,"next_by_subj":"$O.b.C.X"})");
  EXPECT_EQ(BuildSubjectsInfoRequest("$O.b.C.>"), R"({"subjects_filter":"$O.b.C.>"})");
  EXPECT_EQ(BuildPurgeSubjectRequest("$O.b.C.X"), R"({"filter":"$O.b.C.X"})");
  std::string config = BuildObjectStreamConfig("b", 3);
  EXPECT_NE(config.find(R"("name":"OBJ_b")"), std::string::npos);
  EXPECT_NE(config.find(R"("subjects":["$O.b.C.>","$O.b.M.>"])"), std::string::npos);
  EXPECT_NE(config.find(R"("num_replicas":3)"), std::string::npos);
  EXPECT_NE(config.find(R"("allow_rollup_hdrs":true)"), std::string::npos);
}

}  // namespace
}  // namespace kvmap
