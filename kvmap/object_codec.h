// SPDX-License-Identifier: Apache-2.0
//
// The pieces of NATS's Object Store layout (ADR-20) that large values need, and the pointer a
// KV entry carries when its value lives there (DESIGN.md decision 9). Pure functions and one
// digest class; no I/O.
//
// Layout of the object store `<ob>` that backs KV bucket `<b>` (ob = "<b>-objects"):
//   stream      OBJ_<ob>, subjects $O.<ob>.C.> and $O.<ob>.M.>, rollup headers allowed,
//               direct gets allowed, discard new (what nats.go and nats.js create);
//   chunks      $O.<ob>.C.<nuid>, one message per 128 KiB of the value, in order;
//   metadata    $O.<ob>.M.<base64url(name), padded>, the ObjectInfo JSON, sent with
//               Nats-Rollup: sub so only the latest one stays;
//   digest      "SHA-256=" + base64url (padded) of the SHA-256 of the whole value.
// The object's name is the encoded KV key, so a native client finds `doc:123` as `doc.123` in
// both the KV bucket and the object store.
//
// The pointer (header Redis-Object on the KV entry, empty payload) is space-separated
// name=value fields: bucket, name, nuid, size, chunks, seq and last (stream sequences of the
// first and last chunk, hints for reading) and digest. Unknown fields are ignored, so later versions can add some.
//
// Thread: any.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kvmap {

inline constexpr size_t kObjectChunkSize = 128 * 1024;

// "<kv bucket>-objects".
std::string ObjectBucketFor(std::string_view kv_bucket);
// "OBJ_<ob>".
std::string ObjectStreamName(std::string_view object_bucket);
// "$O.<ob>.C.<nuid>".
std::string ChunkSubject(std::string_view object_bucket, std::string_view nuid);
// "$O.<ob>.M.<base64url padded of name>".
std::string MetaSubject(std::string_view object_bucket, std::string_view name);

// Base64 with the URL-safe alphabet and '=' padding (Go's base64.URLEncoding), as ADR-20 uses
// for names and digests. Decoding accepts the padded and the unpadded form.
std::string Base64UrlPadded(std::string_view bytes);
std::optional<std::string> DecodeBase64Url(std::string_view text);

// A new NUID-style identifier: 22 characters of [0-9A-Za-z] from a CSPRNG (OpenSSL), so two
// gateways never pick the same one.
std::string NewObjectNuid();

// Incremental SHA-256 (OpenSSL EVP).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(std::string_view bytes);
  // The 32-byte digest; the object cannot be updated afterwards.
  std::string Final();

 private:
  void* ctx_;  // EVP_MD_CTX
};
// "SHA-256=" + Base64UrlPadded(raw 32-byte digest).
std::string DigestString(std::string_view raw_digest);

// Number of chunks a value of `size` bytes takes (0 for an empty value).
inline uint32_t ChunkCount(uint64_t size) {
  return static_cast<uint32_t>((size + kObjectChunkSize - 1) / kObjectChunkSize);
}

// The Redis-Object header of a KV pointer entry.
struct ObjectRef {
  std::string bucket;  // object store bucket
  std::string name;    // object name (the encoded key it was written under)
  std::string nuid;
  uint64_t size = 0;
  uint32_t chunks = 0;
  uint64_t first_seq = 0;  // stream sequence of the first chunk (0: unknown)
  uint64_t last_seq = 0;   // and of the last: the chunks are contiguous when the difference
                           // is chunks - 1, so chunk i is at first_seq + i
  bool is_contiguous() const {
    return first_seq > 0 && chunks > 0 && last_seq >= first_seq &&
           last_seq - first_seq + 1 == chunks;
  }
  std::string digest;      // "SHA-256=..."
};
std::string FormatObjectRef(const ObjectRef& ref);
// nullopt when a required field (bucket, nuid, size, chunks) is missing or malformed, or
// chunks does not match size.
std::optional<ObjectRef> ParseObjectRef(std::string_view text);

// ADR-20 ObjectInfo, the fields the gateway writes and reads. mtime is never stored (readers
// take the message time).
struct ObjectInfo {
  std::string name;
  std::string bucket;
  std::string nuid;
  uint64_t size = 0;
  uint32_t chunks = 0;
  std::string digest;
  bool deleted = false;
};
// The metadata JSON, with options.max_chunk_size = 128 KiB.
std::string BuildObjectMeta(const ObjectInfo& info);
std::optional<ObjectInfo> ParseObjectMeta(std::string_view json);
// The metadata of `ref` stored as object `ref.name`.
ObjectInfo InfoFromRef(const ObjectRef& ref);

// $JS.API.STREAM.CREATE.OBJ_<ob> body.
std::string BuildObjectStreamConfig(std::string_view object_bucket, int replicas);

// Message get request bodies (direct get and STREAM.MSG.GET share them).
std::string BuildNextBySubjectRequest(std::string_view subject, uint64_t from_seq);
// $JS.API.STREAM.INFO body listing the subjects that match `filter` with their counts.
std::string BuildSubjectsInfoRequest(std::string_view filter);
// The "subjects" map of a STREAM.INFO answer: (subject, message count) pairs.
std::vector<std::pair<std::string, uint64_t>> ParseStreamSubjects(std::string_view json);
// $JS.API.STREAM.PURGE body removing every message on `subject`.
std::string BuildPurgeSubjectRequest(std::string_view subject);

}  // namespace kvmap
