// SPDX-License-Identifier: Apache-2.0
//
// Authentication towards NATS: nkeys (Ed25519 keys in NATS's text encoding), .creds files (a
// user JWT and its nkey seed), the signature of the server's nonce that CONNECT carries, and
// the redaction of credentials in server URLs.
//
// Facts from the nkeys and NATS protocol documentation:
//   * An nkey is base32 (RFC 4648 alphabet, no padding) of prefix || key || crc16, with the
//     CRC-16/XMODEM (polynomial 0x1021, initial 0) of the preceding bytes, little-endian.
//   * A public key has one prefix byte, the role (user 'U' = 20<<3, account 'A' = 0, operator
//     'O' = 14<<3, server 'N' = 13<<3, cluster 'C' = 2<<3): 35 bytes, 56 characters.
//   * A seed has two prefix bytes, 18<<3 ('S') combined with the role: b0 = 18<<3 | role>>5,
//     b1 = (role & 31)<<3, so a user seed starts "SU": 36 bytes, 58 characters. The 32 bytes
//     are the Ed25519 seed (RFC 8032 private key).
//   * When the server's INFO has a "nonce", the client signs its bytes with Ed25519 and sends
//     the signature base64url-encoded without padding as "sig", with either "nkey" (the public
//     key, for servers configured with nkey users) or "jwt" (the user JWT, operator mode).
//
// Secrets (seeds, passwords, tokens) never appear in an error text produced here. Seeds are
// wiped from memory when their holder is destroyed (best effort: file buffers too).
//
// Thread: any; the types have no shared state.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kvmap/nats_protocol.h"

namespace kvmap {

// --- encodings (public for the tests and the test-key generators) ---

// RFC 4648 base32, upper case, no padding.
std::string Base32Encode(std::string_view bytes);
// Decodes unpadded base32 (upper case). nullopt on any other character.
std::optional<std::string> Base32Decode(std::string_view text);
// CRC-16/XMODEM as nkeys use it.
uint16_t NkeyCrc16(std::string_view bytes);
// Base64url without padding (JWT segments and the CONNECT "sig").
std::string Base64UrlEncode(std::string_view bytes);
std::optional<std::string> Base64UrlDecode(std::string_view text);

// Role prefix bytes of public nkeys.
inline constexpr uint8_t kNkeyPrefixSeed = 18 << 3;      // 'S'
inline constexpr uint8_t kNkeyPrefixOperator = 14 << 3;  // 'O'
inline constexpr uint8_t kNkeyPrefixServer = 13 << 3;    // 'N'
inline constexpr uint8_t kNkeyPrefixCluster = 2 << 3;    // 'C'
inline constexpr uint8_t kNkeyPrefixAccount = 0;         // 'A'
inline constexpr uint8_t kNkeyPrefixUser = 20 << 3;      // 'U'

using NkeyBytes = std::array<uint8_t, 32>;

// Encodes a 32-byte key as a public nkey ("U...", 56 characters) or a seed ("SU...", 58).
std::string EncodeNkeyPublic(uint8_t role, const NkeyBytes& key);
std::string EncodeNkeySeed(uint8_t role, const NkeyBytes& seed);
// Decodes a public nkey: its role and key. Returns an error text, empty on success.
std::string DecodeNkeyPublic(std::string_view encoded, uint8_t* role, NkeyBytes* key);
// Decodes a seed: its role and the Ed25519 seed. Returns an error text (which never quotes the
// seed), empty on success.
std::string DecodeNkeySeed(std::string_view encoded, uint8_t* role, NkeyBytes* seed);

// An Ed25519 key pair from an nkey seed. Copyable; the seed is wiped on destruction.
class NkeyPair {
 public:
  // From an encoded seed of any role. Returns nullopt and sets *error on failure.
  static std::optional<NkeyPair> FromSeed(std::string_view encoded_seed, std::string* error);
  // From a raw 32-byte seed (test-key generation).
  static std::optional<NkeyPair> FromRawSeed(uint8_t role, const NkeyBytes& seed);
  NkeyPair(const NkeyPair& other) = default;
  NkeyPair& operator=(const NkeyPair& other) = default;
  ~NkeyPair();

  uint8_t role() const { return role_; }
  // The public key in nkey encoding ("U...", "A...", "O...").
  const std::string& public_key() const { return public_key_; }
  // The encoded seed ("SU..."). Test-key generation only: never log it.
  std::string EncodedSeed() const { return EncodeNkeySeed(role_, seed_); }
  // The 64-byte Ed25519 signature of `data` (empty if OpenSSL fails, which it does not for a
  // valid key).
  std::string Sign(std::string_view data) const;

 private:
  NkeyPair() = default;
  uint8_t role_ = 0;
  NkeyBytes seed_{};
  std::string public_key_;
};

// True when `signature` (64 raw bytes) is a valid Ed25519 signature of `data` by the public
// nkey `public_key` (any role).
bool VerifyNkeySignature(std::string_view public_key, std::string_view data,
                         std::string_view signature);

// --- credential files ---

// The parts of a .creds file: the text between "-----BEGIN NATS USER JWT-----" and its END
// line, and between "-----BEGIN USER NKEY SEED-----" and its END line (trimmed). Returns an
// error text (never quoting the file), empty on success.
std::string ParseCredsText(std::string_view text, std::string* jwt, std::string* seed);
// Finds the user seed in the text of an nkey seed file: the first word that starts with "SU"
// (a bare seed, an nsc .nk file, or a creds-style block). Returns an error text, or empty.
std::string FindUserSeedText(std::string_view text, std::string* seed);

// Where the gateway reads its NATS identity from (besides the URL's user:password or token).
struct NatsAuthFiles {
  std::string nkey_file;   // --nats-nkey: a user nkey seed
  std::string creds_file;  // --nats-creds: user JWT + seed
  bool empty() const { return nkey_file.empty() && creds_file.empty(); }
};

// The identity loaded from NatsAuthFiles.
struct NatsUserAuth {
  std::string jwt;             // from a creds file; empty with a bare nkey
  std::optional<NkeyPair> key;  // the user key that signs the nonce
  bool empty() const { return !key.has_value(); }
};

// Reads and checks the files (each may be unset). Returns an error text naming the file and
// the problem (never a secret), empty on success. Blocking file I/O: start-up and reconnects.
std::string LoadNatsUserAuth(const NatsAuthFiles& files, NatsUserAuth* auth);

// Adds the identity to a CONNECT: "jwt" (creds) or "nkey" (bare nkey), and "sig", the
// signature of the server's nonce. Does nothing for an empty identity.
void AddUserAuthToConnect(const NatsUserAuth& auth, std::string_view nonce,
                          NatsConnectOptions* connect);

// The "nonce" string of an INFO JSON, or empty.
std::string InfoNonce(std::string_view info_json);

// True for an -ERR text about authentication or authorization ("Authorization Violation",
// "User Authentication Expired", ...): the server refused the credentials.
bool IsNatsAuthError(std::string_view err_text);

// --- URLs ---

// Credentials in a server URL's userinfo ("nats://user:pass@host", "nats://token@host"),
// percent-decoded as URLs encode them.
struct NatsUrlCredentials {
  std::string user, pass, token;
};
// Splits the userinfo off `url`: returns the credentials, and in *rest the URL without them
// ("nats://host:port"; the scheme is kept when present).
NatsUrlCredentials SplitUrlCredentials(std::string_view url, std::string* rest);
// The URL for logs and INFO: a password or token is replaced by "***" (the user name stays).
std::string RedactUrl(std::string_view url);

}  // namespace kvmap
