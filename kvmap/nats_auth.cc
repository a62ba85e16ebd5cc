// SPDX-License-Identifier: Apache-2.0
#include "kvmap/nats_auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace kvmap {
namespace {

constexpr char kBase32Alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
constexpr char kBase64UrlAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
// A credentials file is a few hundred bytes; anything this large is the wrong file.
constexpr size_t kMaxCredentialFileBytes = 64 * 1024;

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

// Wipes a string that held a secret, then empties it.
void Wipe(std::string* s) {
  if (!s->empty()) OPENSSL_cleanse(s->data(), s->size());
  s->clear();
}

bool IsPublicRole(uint8_t role) {
  return role == kNkeyPrefixOperator || role == kNkeyPrefixServer ||
         role == kNkeyPrefixCluster || role == kNkeyPrefixAccount || role == kNkeyPrefixUser;
}

// Decodes base32 and checks the trailing CRC; returns the bytes before the CRC.
std::string DecodeChecked(std::string_view encoded, std::string* body) {
  std::optional<std::string> raw = Base32Decode(encoded);
  if (!raw) return "not base32";
  if (raw->size() < 4) return "too short";
  size_t n = raw->size() - 2;
  uint16_t stored = static_cast<uint16_t>(static_cast<uint8_t>((*raw)[n]) |
                                          (static_cast<uint8_t>((*raw)[n + 1]) << 8));
  bool ok = NkeyCrc16(std::string_view(*raw).substr(0, n)) == stored;
  if (ok) body->assign(*raw, 0, n);
  Wipe(&*raw);
  return ok ? std::string() : "checksum mismatch";
}

std::string EncodeChecked(std::string body) {
  uint16_t crc = NkeyCrc16(body);
  body.push_back(static_cast<char>(crc & 0xff));
  body.push_back(static_cast<char>(crc >> 8));
  std::string out = Base32Encode(body);
  Wipe(&body);
  return out;
}

// Reads a small file. Returns an error text, or empty.
std::string ReadSmallFile(const std::string& path, std::string* out) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return std::string("cannot read it: ") + std::strerror(errno);
  out->clear();
  char buf[4096];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) {
    out->append(buf, n);
    if (out->size() > kMaxCredentialFileBytes) break;
  }
  OPENSSL_cleanse(buf, sizeof(buf));
  bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) {
    Wipe(out);
    return "cannot read it";
  }
  if (out->size() > kMaxCredentialFileBytes) {
    Wipe(out);
    return "too large to be a credentials file";
  }
  return {};
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' ||
                        s.front() == '\n')) {
    s.remove_prefix(1);
  }
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

// The trimmed text between the line containing `begin` and the next line starting with "---"
// (the END line), joined without line breaks. False when the BEGIN line is missing.
bool FindBlock(std::string_view text, std::string_view begin, std::string* out) {
  size_t at = text.find(begin);
  if (at == std::string_view::npos) return false;
  size_t pos = text.find('\n', at);
  out->clear();
  while (pos != std::string_view::npos) {
    ++pos;
    size_t end = text.find('\n', pos);
    std::string_view line =
        Trim(text.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos));
    if (line.substr(0, 3) == "---") break;
    out->append(line);
    pos = end;
  }
  return true;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 &&
        HexValue(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// Splits "scheme://userinfo@hostport..." into its parts; userinfo is empty without '@'.
void SplitUrl(std::string_view url, std::string_view* scheme, std::string_view* userinfo,
              std::string_view* rest) {
  size_t sep = url.find("://");
  *scheme = sep == std::string_view::npos ? std::string_view() : url.substr(0, sep + 3);
  std::string_view s = sep == std::string_view::npos ? url : url.substr(sep + 3);
  // The authority ends at the first '/', '?' or '#'; its last '@' ends the userinfo (a
  // password may contain an unescaped '@').
  size_t auth_end = s.find_first_of("/?#");
  size_t at = s.substr(0, auth_end).rfind('@');
  if (at == std::string_view::npos) {
    *userinfo = {};
    *rest = s;
  } else {
    *userinfo = s.substr(0, at);
    *rest = s.substr(at + 1);
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Encodings

std::string Base32Encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 8 + 4) / 5);
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : bytes) {
    buffer = (buffer << 8) | static_cast<uint8_t>(c);
    bits += 8;
    while (bits >= 5) {
      out.push_back(kBase32Alphabet[(buffer >> (bits - 5)) & 31]);
      bits -= 5;
    }
  }
  if (bits > 0) out.push_back(kBase32Alphabet[(buffer << (5 - bits)) & 31]);
  return out;
}

std::optional<std::string> Base32Decode(std::string_view text) {
  std::string out;
  out.reserve(text.size() * 5 / 8);
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    int v = -1;
    if (c >= 'A' && c <= 'Z') {
      v = c - 'A';
    } else if (c >= '2' && c <= '7') {
      v = c - '2' + 26;
    }
    if (v < 0) {
      Wipe(&out);
      return std::nullopt;
    }
    buffer = (buffer << 5) | static_cast<uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      out.push_back(static_cast<char>((buffer >> (bits - 8)) & 0xff));
      bits -= 8;
    }
  }
  // Leftover bits (fewer than 8) are the encoder's zero padding.
  return out;
}

uint16_t NkeyCrc16(std::string_view bytes) {
  uint16_t crc = 0;
  for (char c : bytes) {
    crc ^= static_cast<uint16_t>(static_cast<uint8_t>(c) << 8);
    for (int i = 0; i < 8; ++i) {
      crc = (crc & 0x8000) != 0 ? static_cast<uint16_t>((crc << 1) ^ 0x1021)
                                : static_cast<uint16_t>(crc << 1);
    }
  }
  return crc;
}

std::string Base64UrlEncode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : bytes) {
    buffer = (buffer << 8) | static_cast<uint8_t>(c);
    bits += 8;
    while (bits >= 6) {
      out.push_back(kBase64UrlAlphabet[(buffer >> (bits - 6)) & 63]);
      bits -= 6;
    }
  }
  if (bits > 0) out.push_back(kBase64UrlAlphabet[(buffer << (6 - bits)) & 63]);
  return out;
}

std::optional<std::string> Base64UrlDecode(std::string_view text) {
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    const char* p = c == '\0' ? nullptr : std::strchr(kBase64UrlAlphabet, c);
    if (p == nullptr) return std::nullopt;
    buffer = (buffer << 6) | static_cast<uint32_t>(p - kBase64UrlAlphabet);
    bits += 6;
    if (bits >= 8) {
      out.push_back(static_cast<char>((buffer >> (bits - 8)) & 0xff));
      bits -= 8;
    }
  }
  return out;
}

std::string EncodeNkeyPublic(uint8_t role, const NkeyBytes& key) {
  std::string body(1, static_cast<char>(role));
  body.append(reinterpret_cast<const char*>(key.data()), key.size());
  return EncodeChecked(std::move(body));
}

std::string EncodeNkeySeed(uint8_t role, const NkeyBytes& seed) {
  std::string body;
  body.push_back(static_cast<char>(kNkeyPrefixSeed | (role >> 5)));
  body.push_back(static_cast<char>((role & 31) << 3));
  body.append(reinterpret_cast<const char*>(seed.data()), seed.size());
  return EncodeChecked(std::move(body));
}

std::string DecodeNkeyPublic(std::string_view encoded, uint8_t* role, NkeyBytes* key) {
  std::string body;
  std::string err = DecodeChecked(encoded, &body);
  if (!err.empty()) return "invalid public nkey: " + err;
  if (body.size() != 33) return "invalid public nkey: wrong length";
  uint8_t r = static_cast<uint8_t>(body[0]);
  if (!IsPublicRole(r)) return "invalid public nkey: unknown prefix";
  *role = r;
  std::memcpy(key->data(), body.data() + 1, 32);
  return {};
}

std::string DecodeNkeySeed(std::string_view encoded, uint8_t* role, NkeyBytes* seed) {
  std::string body;
  std::string err = DecodeChecked(encoded, &body);
  if (!err.empty()) return "invalid nkey seed: " + err;
  if (body.size() != 34) {
    Wipe(&body);
    return "invalid nkey seed: wrong length";
  }
  uint8_t b0 = static_cast<uint8_t>(body[0]);
  uint8_t b1 = static_cast<uint8_t>(body[1]);
  uint8_t r = static_cast<uint8_t>(((b0 & 7) << 5) | ((b1 & 0xf8) >> 3));
  if ((b0 & 0xf8) != kNkeyPrefixSeed) {
    Wipe(&body);
    return "invalid nkey seed: not a seed (wrong prefix)";
  }
  if (!IsPublicRole(r)) {
    Wipe(&body);
    return "invalid nkey seed: unknown key type";
  }
  *role = r;
  std::memcpy(seed->data(), body.data() + 2, 32);
  Wipe(&body);
  return {};
}

// ---------------------------------------------------------------------------------------------
// Key pairs

NkeyPair::~NkeyPair() { OPENSSL_cleanse(seed_.data(), seed_.size()); }

std::optional<NkeyPair> NkeyPair::FromRawSeed(uint8_t role, const NkeyBytes& seed) {
  PkeyPtr pkey(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size()));
  if (!pkey) return std::nullopt;
  NkeyBytes pub{};
  size_t len = pub.size();
  if (EVP_PKEY_get_raw_public_key(pkey.get(), pub.data(), &len) != 1 || len != pub.size()) {
    return std::nullopt;
  }
  NkeyPair pair;
  pair.role_ = role;
  pair.seed_ = seed;
  pair.public_key_ = EncodeNkeyPublic(role, pub);
  return pair;
}

std::optional<NkeyPair> NkeyPair::FromSeed(std::string_view encoded_seed, std::string* error) {
  uint8_t role = 0;
  NkeyBytes seed{};
  *error = DecodeNkeySeed(encoded_seed, &role, &seed);
  if (!error->empty()) return std::nullopt;
  std::optional<NkeyPair> pair = FromRawSeed(role, seed);
  OPENSSL_cleanse(seed.data(), seed.size());
  if (!pair) *error = "invalid nkey seed: not an Ed25519 key";
  return pair;
}

std::string NkeyPair::Sign(std::string_view data) const {
  PkeyPtr pkey(
      EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed_.data(), seed_.size()));
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!pkey || !ctx) return {};
  std::string sig(64, '\0');
  size_t len = sig.size();
  // Ed25519 is one-shot: no digest, the whole message at once.
  if (EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) != 1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
    return {};
  }
  sig.resize(len);
  return sig;
}

bool VerifyNkeySignature(std::string_view public_key, std::string_view data,
                         std::string_view signature) {
  uint8_t role = 0;
  NkeyBytes key{};
  if (!DecodeNkeyPublic(public_key, &role, &key).empty()) return false;
  PkeyPtr pkey(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, key.data(), key.size()));
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!pkey || !ctx) return false;
  return EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) == 1 &&
         EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                          signature.size(), reinterpret_cast<const unsigned char*>(data.data()),
                          data.size()) == 1;
}

// ---------------------------------------------------------------------------------------------
// Credential files

std::string ParseCredsText(std::string_view text, std::string* jwt, std::string* seed) {
  if (!FindBlock(text, "BEGIN NATS USER JWT", jwt) || jwt->empty()) {
    return "no user JWT (expected a -----BEGIN NATS USER JWT----- block)";
  }
  // header.claims.signature, each base64url: catches a truncated or mangled file here rather
  // than as an "Authorization Violation" from the server.
  size_t dots = 0;
  for (char c : *jwt) {
    if (c == '.') {
      ++dots;
    } else if (std::strchr(kBase64UrlAlphabet, c) == nullptr || c == '\0') {
      return "the user JWT is malformed";
    }
  }
  if (dots != 2) return "the user JWT is malformed";
  if (!FindBlock(text, "BEGIN USER NKEY SEED", seed) || seed->empty()) {
    Wipe(seed);
    return "no user nkey seed (expected a -----BEGIN USER NKEY SEED----- block)";
  }
  return {};
}

std::string FindUserSeedText(std::string_view text, std::string* seed) {
  size_t i = 0;
  bool has_other_seed = false;
  while (i < text.size()) {
    while (i < text.size() && std::strchr(" \t\r\n", text[i]) != nullptr) ++i;
    size_t start = i;
    while (i < text.size() && std::strchr(" \t\r\n", text[i]) == nullptr) ++i;
    std::string_view word = text.substr(start, i - start);
    if (word.size() >= 2 && word[0] == 'S' && word[1] == 'U') {
      seed->assign(word);
      return {};
    }
    if (word.size() > 50 && word[0] == 'S') has_other_seed = true;
  }
  return has_other_seed ? "the seed is not a user seed (it must start with SU)"
                        : "no user nkey seed found (expected a word starting with SU)";
}

std::string LoadNatsUserAuth(const NatsAuthFiles& files, NatsUserAuth* auth) {
  *auth = NatsUserAuth{};
  if (!files.nkey_file.empty() && !files.creds_file.empty()) {
    return "--nats-nkey and --nats-creds exclude each other";
  }
  const bool is_creds = !files.creds_file.empty();
  const std::string& path = is_creds ? files.creds_file : files.nkey_file;
  if (path.empty()) return {};
  const std::string what = (is_creds ? "creds file " : "nkey file ") + path + ": ";
  std::string text;
  std::string err = ReadSmallFile(path, &text);
  if (!err.empty()) return what + err;
  std::string jwt, seed;
  err = is_creds ? ParseCredsText(text, &jwt, &seed) : FindUserSeedText(text, &seed);
  Wipe(&text);
  if (err.empty()) {
    std::optional<NkeyPair> key = NkeyPair::FromSeed(seed, &err);
    if (key && key->role() != kNkeyPrefixUser) {
      err = "the seed is not a user seed (it must start with SU)";
    } else if (key) {
      auth->key = std::move(key);
      auth->jwt = std::move(jwt);
    }
  }
  Wipe(&seed);
  return err.empty() ? std::string() : what + err;
}

void AddUserAuthToConnect(const NatsUserAuth& auth, std::string_view nonce,
                          NatsConnectOptions* connect) {
  if (!auth.key) return;
  if (auth.jwt.empty()) {
    connect->nkey = auth.key->public_key();
  } else {
    connect->jwt = auth.jwt;
  }
  connect->sig = Base64UrlEncode(auth.key->Sign(nonce));
}

std::string InfoNonce(std::string_view info_json) {
  constexpr std::string_view kField = "\"nonce\"";
  size_t at = info_json.find(kField);
  if (at == std::string_view::npos) return {};
  size_t p = at + kField.size();
  while (p < info_json.size() && (info_json[p] == ' ' || info_json[p] == ':')) ++p;
  if (p >= info_json.size() || info_json[p] != '"') return {};
  size_t end = info_json.find('"', p + 1);
  if (end == std::string_view::npos) return {};
  // Server nonces are base64url characters: no escapes to undo.
  return std::string(info_json.substr(p + 1, end - p - 1));
}

bool IsNatsAuthError(std::string_view err_text) {
  std::string lower;
  for (char c : err_text) {
    lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return lower.find("authorization") != std::string::npos ||
         lower.find("authentication") != std::string::npos;
}

// ---------------------------------------------------------------------------------------------
// URLs

NatsUrlCredentials SplitUrlCredentials(std::string_view url, std::string* rest) {
  std::string_view scheme, userinfo, tail;
  SplitUrl(url, &scheme, &userinfo, &tail);
  rest->assign(scheme);
  rest->append(tail);
  NatsUrlCredentials creds;
  if (userinfo.empty()) return creds;
  size_t colon = userinfo.find(':');
  if (colon == std::string_view::npos) {
    creds.token = PercentDecode(userinfo);
  } else {
    creds.user = PercentDecode(userinfo.substr(0, colon));
    creds.pass = PercentDecode(userinfo.substr(colon + 1));
  }
  return creds;
}

std::string RedactUrl(std::string_view url) {
  std::string_view scheme, userinfo, tail;
  SplitUrl(url, &scheme, &userinfo, &tail);
  if (userinfo.empty()) return std::string(url);
  std::string out(scheme);
  size_t colon = userinfo.find(':');
  if (colon != std::string_view::npos) out.append(userinfo.substr(0, colon)).push_back(':');
  out.append("***@").append(tail);
  return out;
}

}  // namespace kvmap
