// SPDX-License-Identifier: Apache-2.0
#include "kvmap/object_codec.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <charconv>
#include <cstring>
#include <stdexcept>

#include "kvmap/js_api.h"
#include "kvmap/nats_auth.h"

namespace kvmap {
namespace {

// Position just after `"field":` at any depth (whitespace skipped), or npos. Enough for the
// flat ObjectInfo JSON (the only nested object, "options", has no field we read).
size_t FindValue(std::string_view json, std::string_view field, size_t from = 0) {
  std::string pattern = "\"" + std::string(field) + "\"";
  size_t at = from;
  while ((at = json.find(pattern, at)) != std::string_view::npos) {
    size_t p = at + pattern.size();
    while (p < json.size() && (json[p] == ' ' || json[p] == '\t' || json[p] == '\n')) ++p;
    if (p < json.size() && json[p] == ':') {
      ++p;
      while (p < json.size() && (json[p] == ' ' || json[p] == '\t' || json[p] == '\n')) ++p;
      return p;
    }
    at = p;
  }
  return std::string_view::npos;
}

// A JSON string starting at json[p] == '"', unescaped (\uXXXX below 0x80 only). nullopt when
// malformed; *end is set past the closing quote.
std::optional<std::string> ReadJsonString(std::string_view json, size_t p, size_t* end) {
  if (p >= json.size() || json[p] != '"') return std::nullopt;
  std::string out;
  for (++p; p < json.size(); ++p) {
    char c = json[p];
    if (c == '"') {
      if (end) *end = p + 1;
      return out;
    }
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    if (++p >= json.size()) return std::nullopt;
    switch (json[p]) {
      case 'n': out.push_back('\n'); break;
      case 't': out.push_back('\t'); break;
      case 'r': out.push_back('\r'); break;
      case 'b': out.push_back('\b'); break;
      case 'f': out.push_back('\f'); break;
      case 'u': {
        if (p + 4 >= json.size()) return std::nullopt;
        unsigned v = 0;
        auto [ptr, ec] = std::from_chars(json.data() + p + 1, json.data() + p + 5, v, 16);
        if (ec != std::errc() || ptr != json.data() + p + 5 || v >= 0x80) return std::nullopt;
        out.push_back(static_cast<char>(v));
        p += 4;
        break;
      }
      default: out.push_back(json[p]); break;  // \" \\ \/
    }
  }
  return std::nullopt;
}

std::optional<std::string> StringField(std::string_view json, std::string_view field) {
  size_t p = FindValue(json, field);
  if (p == std::string_view::npos) return std::nullopt;
  return ReadJsonString(json, p, nullptr);
}

template <class T>
bool ParseNumber(std::string_view text, T* out) {
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

}  // namespace

std::string ObjectBucketFor(std::string_view kv_bucket) {
  return std::string(kv_bucket) + "-objects";
}

std::string ObjectStreamName(std::string_view object_bucket) {
  return "OBJ_" + std::string(object_bucket);
}

std::string ChunkSubject(std::string_view object_bucket, std::string_view nuid) {
  std::string s = "$O.";
  s.append(object_bucket).append(".C.").append(nuid);
  return s;
}

std::string MetaSubject(std::string_view object_bucket, std::string_view name) {
  std::string s = "$O.";
  s.append(object_bucket).append(".M.").append(Base64UrlPadded(name));
  return s;
}

std::string Base64UrlPadded(std::string_view bytes) {
  std::string out = Base64UrlEncode(bytes);  // unpadded (kvmap/nats_auth.h)
  while (out.size() % 4 != 0) out.push_back('=');
  return out;
}

std::optional<std::string> DecodeBase64Url(std::string_view text) {
  size_t pad = 0;
  while (!text.empty() && text.back() == '=' && pad < 2) {
    text.remove_suffix(1);
    ++pad;
  }
  if (text.size() % 4 == 1) return std::nullopt;
  if (pad > 0 && (text.size() + pad) % 4 != 0) return std::nullopt;
  return Base64UrlDecode(text);
}

std::string NewObjectNuid() {
  static constexpr char kAlphabet[] =
      "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  unsigned char random[22];
  if (RAND_bytes(random, sizeof(random)) != 1) throw std::runtime_error("RAND_bytes failed");
  std::string out(22, '0');
  // 62 does not divide 256; the bias (4 of 256 values map twice) does not matter for an id.
  for (size_t i = 0; i < sizeof(random); ++i) out[i] = kAlphabet[random[i] % 62];
  return out;
}

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr ||
      EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("SHA-256 init failed");
  }
}

Sha256::~Sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

void Sha256::Update(std::string_view bytes) {
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), bytes.data(), bytes.size());
}

std::string Sha256::Final() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), md, &n);
  return std::string(reinterpret_cast<char*>(md), n);
}

std::string DigestString(std::string_view raw_digest) {
  return "SHA-256=" + Base64UrlPadded(raw_digest);
}

std::string FormatObjectRef(const ObjectRef& ref) {
  std::string out;
  out.reserve(160);
  out.append("bucket=").append(ref.bucket);
  out.append(" name=").append(ref.name);
  out.append(" nuid=").append(ref.nuid);
  out.append(" size=").append(std::to_string(ref.size));
  out.append(" chunks=").append(std::to_string(ref.chunks));
  out.append(" seq=").append(std::to_string(ref.first_seq));
  out.append(" last=").append(std::to_string(ref.last_seq));
  if (!ref.digest.empty()) out.append(" digest=").append(ref.digest);
  return out;
}

std::optional<ObjectRef> ParseObjectRef(std::string_view text) {
  ObjectRef ref;
  bool has_size = false, has_chunks = false;
  while (!text.empty()) {
    size_t space = text.find(' ');
    std::string_view field = text.substr(0, space);
    text = space == std::string_view::npos ? std::string_view() : text.substr(space + 1);
    if (field.empty()) continue;
    size_t eq = field.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view name = field.substr(0, eq);
    std::string_view value = field.substr(eq + 1);
    if (name == "bucket") {
      ref.bucket = std::string(value);
    } else if (name == "name") {
      ref.name = std::string(value);
    } else if (name == "nuid") {
      ref.nuid = std::string(value);
    } else if (name == "size") {
      if (!ParseNumber(value, &ref.size)) return std::nullopt;
      has_size = true;
    } else if (name == "chunks") {
      if (!ParseNumber(value, &ref.chunks)) return std::nullopt;
      has_chunks = true;
    } else if (name == "seq") {
      if (!ParseNumber(value, &ref.first_seq)) return std::nullopt;
    } else if (name == "last") {
      if (!ParseNumber(value, &ref.last_seq)) return std::nullopt;
    } else if (name == "digest") {
      ref.digest = std::string(value);  // "SHA-256=..." keeps its own '='
    }
  }
  if (ref.bucket.empty() || ref.nuid.empty() || !has_size || !has_chunks) return std::nullopt;
  if (ref.chunks != ChunkCount(ref.size)) return std::nullopt;
  // The bucket and nuid become subject tokens.
  for (char c : ref.bucket + ref.nuid) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_';
    if (!ok) return std::nullopt;
  }
  return ref;
}

std::string BuildObjectMeta(const ObjectInfo& info) {
  std::string out = "{\"name\":";
  AppendJsonString(&out, info.name);
  out.append(",\"options\":{\"max_chunk_size\":");
  out.append(std::to_string(kObjectChunkSize));
  out.append("},\"bucket\":");
  AppendJsonString(&out, info.bucket);
  out.append(",\"nuid\":");
  AppendJsonString(&out, info.nuid);
  out.append(",\"size\":").append(std::to_string(info.size));
  out.append(",\"chunks\":").append(std::to_string(info.chunks));
  out.append(",\"digest\":");
  AppendJsonString(&out, info.digest);
  if (info.deleted) out.append(",\"deleted\":true");
  out.push_back('}');
  return out;
}

std::optional<ObjectInfo> ParseObjectMeta(std::string_view json) {
  ObjectInfo info;
  auto name = StringField(json, "name");
  auto bucket = StringField(json, "bucket");
  if (!name || !bucket) return std::nullopt;
  info.name = std::move(*name);
  info.bucket = std::move(*bucket);
  info.nuid = StringField(json, "nuid").value_or("");
  info.digest = StringField(json, "digest").value_or("");
  info.size = FindJsonUint(json, "size").value_or(0);
  info.chunks = static_cast<uint32_t>(FindJsonUint(json, "chunks").value_or(0));
  size_t p = FindValue(json, "deleted");
  info.deleted = p != std::string_view::npos && json.substr(p, 4) == "true";
  return info;
}

ObjectInfo InfoFromRef(const ObjectRef& ref) {
  ObjectInfo info;
  info.name = ref.name;
  info.bucket = ref.bucket;
  info.nuid = ref.nuid;
  info.size = ref.size;
  info.chunks = ref.chunks;
  info.digest = ref.digest;
  return info;
}

std::string BuildObjectStreamConfig(std::string_view object_bucket, int replicas) {
  std::string out = "{\"name\":";
  AppendJsonString(&out, ObjectStreamName(object_bucket));
  out.append(",\"subjects\":[");
  AppendJsonString(&out, "$O." + std::string(object_bucket) + ".C.>");
  out.push_back(',');
  AppendJsonString(&out, "$O." + std::string(object_bucket) + ".M.>");
  out.append("],\"retention\":\"limits\",\"max_consumers\":-1,\"max_msgs\":-1,\"max_bytes\":-1,"
             "\"max_age\":0,\"max_msgs_per_subject\":-1,\"max_msg_size\":-1,"
             "\"discard\":\"new\",\"storage\":\"file\",\"num_replicas\":");
  out.append(std::to_string(replicas < 1 ? 1 : replicas));
  out.append(",\"duplicate_window\":120000000000,\"allow_rollup_hdrs\":true,"
             "\"allow_direct\":true,\"deny_delete\":false,\"deny_purge\":false}");
  return out;
}

std::string BuildNextBySubjectRequest(std::string_view subject, uint64_t from_seq) {
  std::string out = "{\"seq\":";
  out.append(std::to_string(from_seq == 0 ? 1 : from_seq));
  out.append(",\"next_by_subj\":");
  AppendJsonString(&out, subject);
  out.push_back('}');
  return out;
}

std::string BuildSubjectsInfoRequest(std::string_view filter) {
  std::string out = "{\"subjects_filter\":";
  AppendJsonString(&out, filter);
  out.push_back('}');
  return out;
}

std::vector<std::pair<std::string, uint64_t>> ParseStreamSubjects(std::string_view json) {
  std::vector<std::pair<std::string, uint64_t>> out;
  // The config's "subjects" is an array; the state's is the object we want.
  size_t p = 0;
  while ((p = FindValue(json, "subjects", p)) != std::string_view::npos) {
    if (p < json.size() && json[p] == '{') break;
  }
  if (p == std::string_view::npos) return out;
  ++p;
  while (p < json.size()) {
    while (p < json.size() && (json[p] == ' ' || json[p] == ',' || json[p] == '\n')) ++p;
    if (p >= json.size() || json[p] == '}') break;
    size_t end = 0;
    auto subject = ReadJsonString(json, p, &end);
    if (!subject) break;
    p = end;
    while (p < json.size() && (json[p] == ' ' || json[p] == ':')) ++p;
    uint64_t n = 0;
    auto [ptr, ec] = std::from_chars(json.data() + p, json.data() + json.size(), n);
    if (ec != std::errc()) break;
    p = static_cast<size_t>(ptr - json.data());
    out.emplace_back(std::move(*subject), n);
  }
  return out;
}

std::string BuildPurgeSubjectRequest(std::string_view subject) {
  std::string out = "{\"filter\":";
  AppendJsonString(&out, subject);
  out.push_back('}');
  return out;
}

}  // namespace kvmap
