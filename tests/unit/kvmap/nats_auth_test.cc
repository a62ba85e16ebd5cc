// SPDX-License-Identifier: Apache-2.0
//
// Tests of NATS authentication (kvmap/nats_auth.h): the nkey encodings against a published
// vector and against vectors from an independent implementation (data/gen_nkey_vectors.py),
// rejection of damaged keys, .creds and seed file parsing, the CONNECT fields, and URL
// credential handling. All keys here are test keys.
#include "kvmap/nats_auth.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "tests/support/process_harness.h"

namespace kvmap {
namespace {

std::string Hex(std::string_view bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  for (char c : bytes) {
    out.push_back(kDigits[static_cast<uint8_t>(c) >> 4]);
    out.push_back(kDigits[static_cast<uint8_t>(c) & 15]);
  }
  return out;
}

NkeyBytes FromHex(std::string_view hex) {
  NkeyBytes out{};
  for (size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<uint8_t>(std::stoi(std::string(hex.substr(2 * i, 2)), nullptr, 16));
  }
  return out;
}

// The vector the NATS client libraries share in their tests (nkeys.py, nkeys.rb, the Elixir
// and Erlang clients): a user seed, its public key, and the standard-base64 signature of the
// nonce "PXoWU7zWAMt75FY", here converted to base64url without padding.
constexpr std::string_view kPublishedSeed =
    "SUAMLK2ZNL35WSMW37E7UD4VZ7ELPKW7DHC3BWBSD2GCZ7IUQQXZIORRBU";
constexpr std::string_view kPublishedPublic =
    "UCK5N7N66OBOINFXAYC2ACJQYFSOD4VYNU6APEJTAVFZB2SVHLKGEW7L";
constexpr std::string_view kPublishedNonce = "PXoWU7zWAMt75FY";
constexpr std::string_view kPublishedSig =
    "ZaAiVDgB5CeYoXoQ7cBCmq-ZllzUnGUoDVb8C7PilWvCs8XKfUchAUhz2P4BYAF--Dg3w05CqyQFRDiGL6LrDw";

// Output of data/gen_nkey_vectors.py (Python's base32, binascii.crc_hqx and `cryptography`'s
// Ed25519): label, raw seed, encoded seed, public key, signature of kPublishedNonce.
struct GeneratedVector {
  const char* label;
  const char* raw_hex;
  const char* seed;
  const char* public_key;
  const char* sig;
};
const GeneratedVector kGenerated[] = {
    {"user-1", "f54f479e1466e21062f8e591b73206cdfb7dc7541f54e296cba6c295daa666fd",
     "SUAPKT2HTYKGNYQQML4OLENXGIDM3635Y5KB6VHCS3F2NQUV3KTGN7NUWQ",
     "UDHDZ5WABQIJ765D6QCOAYTA3PNZBD6PDPAGPSJXLRU76JJYZ43L3ARB",
     "huqVKCbrJc6Au-MNMcD0IRDe5sY08WMNbQxH3qgL_VMZKc3LofX55LAGbop4RIX02dxAj-Q7w079Y7KEDeOQBg"},
    {"account-1", "178b7f278ae8ba7368e7b36d494cdd2fd5216bd01b9d1164fb2639aeeeb7f3da",
     "SAABPC37E6FOROTTNDT3G3KJJTOS7VJBNPIBXHIRMT5SMONO5237HWTD64",
     "AB56WIEWETC3767HEYMCUJS6OVXLNYUQGCN3VDXSMD3AANXIUQJKW57Y",
     "50KW_2AoywSs6Kuw1YWE8HdV68OZ96X9-HtG66pI6rUegcR6uWxB6qwFmABLjl2UbiqkMtLr4C5gKWzRc85NAQ"},
    {"operator-1", "2e84ac85d1c4d9f1a317a8b68b6c8a75e590144672c35aa496221bdeb0e5a789",
     "SOAC5BFMQXI4JWPRUML2RNULNSFHLZMQCRDHFQ22USLCEG66WDS2PCNC7M",
     "OA6H4WGCEZ5IN424NIKFAY227A4KMZ2J2QPLHQJCXYQIOXZ5YUMIK6PQ",
     "1ClLzYoBBzy9E8cwvgb6FIvcHZWcrHq0YVoliWZ9AxOPrYsJl60U_OuGoBJNZJ-IOdqJptJ0-vYsiP4BjYtgDA"},
};

// A JWT-shaped string (header.claims.signature); its content does not matter here.
constexpr std::string_view kSomeJwt =
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJzdWIiOiJVIn0.c2lnbmF0dXJl";

std::string CredsText(std::string_view jwt, std::string_view seed) {
  std::string s;
  s += "-----BEGIN NATS USER JWT-----\n";
  s += jwt;
  s += "\n------END NATS USER JWT------\n\n";
  s += "************************* IMPORTANT *************************\n";
  s += "NKEY Seed printed below can be used to sign and prove identity.\n";
  s += "NKEYs are sensitive and should be treated as secrets.\n\n";
  s += "-----BEGIN USER NKEY SEED-----\n";
  s += seed;
  s += "\n------END USER NKEY SEED------\n\n";
  s += "*************************************************************\n";
  return s;
}

void WriteFile(const std::string& path, std::string_view text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
}

// --- encodings -------------------------------------------------------------------------------

TEST(NatsAuthEncoding, Base32MatchesRfc4648Vectors) {
  // RFC 4648 section 10, without the padding.
  const std::pair<const char*, const char*> cases[] = {
      {"", ""},          {"f", "MY"},          {"fo", "MZXQ"},         {"foo", "MZXW6"},
      {"foob", "MZXW6YQ"}, {"fooba", "MZXW6YTB"}, {"foobar", "MZXW6YTBOI"},
  };
  for (const auto& [plain, encoded] : cases) {
    EXPECT_EQ(Base32Encode(plain), encoded);
    EXPECT_EQ(Base32Decode(encoded), std::string(plain));
  }
  EXPECT_FALSE(Base32Decode("MZXw6"));  // lower case is not the nkey alphabet
  EXPECT_FALSE(Base32Decode("MZXW6==="));
  EXPECT_FALSE(Base32Decode("MZ1W6"));
}

TEST(NatsAuthEncoding, Base64UrlHasNoPaddingAndUrlAlphabet) {
  EXPECT_EQ(Base64UrlEncode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64UrlEncode("fo"), "Zm8");
  EXPECT_EQ(Base64UrlEncode(std::string("\xfb\xff", 2)), "-_8");
  EXPECT_EQ(Base64UrlDecode("-_8"), std::string("\xfb\xff", 2));
  EXPECT_FALSE(Base64UrlDecode("+/8="));
}

TEST(NatsAuthEncoding, Crc16IsXmodem) {
  EXPECT_EQ(NkeyCrc16("123456789"), 0x31C3);  // the CRC-16/XMODEM check value
  EXPECT_EQ(NkeyCrc16(""), 0);
}

// --- nkeys -----------------------------------------------------------------------------------

TEST(Nkey, PublishedVectorDecodesSignsAndVerifies) {
  std::string error;
  std::optional<NkeyPair> key = NkeyPair::FromSeed(kPublishedSeed, &error);
  ASSERT_TRUE(key) << error;
  EXPECT_EQ(key->role(), kNkeyPrefixUser);
  EXPECT_EQ(key->public_key(), kPublishedPublic);
  std::string sig = key->Sign(kPublishedNonce);
  EXPECT_EQ(Base64UrlEncode(sig), kPublishedSig);
  EXPECT_TRUE(VerifyNkeySignature(kPublishedPublic, kPublishedNonce, sig));
  EXPECT_FALSE(VerifyNkeySignature(kPublishedPublic, "another nonce", sig));
  EXPECT_EQ(key->EncodedSeed(), kPublishedSeed);
}

TEST(Nkey, MatchesTheIndependentImplementation) {
  for (const GeneratedVector& v : kGenerated) {
    SCOPED_TRACE(v.label);
    uint8_t role = 0xff;
    NkeyBytes raw{};
    ASSERT_EQ(DecodeNkeySeed(v.seed, &role, &raw), "");
    EXPECT_EQ(Hex(std::string_view(reinterpret_cast<const char*>(raw.data()), raw.size())),
              v.raw_hex);
    EXPECT_EQ(role, v.public_key[0] == 'U'   ? kNkeyPrefixUser
                    : v.public_key[0] == 'A' ? kNkeyPrefixAccount
                                             : kNkeyPrefixOperator);
    EXPECT_EQ(EncodeNkeySeed(role, FromHex(v.raw_hex)), v.seed);
    std::optional<NkeyPair> key = NkeyPair::FromRawSeed(role, FromHex(v.raw_hex));
    ASSERT_TRUE(key);
    EXPECT_EQ(key->public_key(), v.public_key);
    EXPECT_EQ(Base64UrlEncode(key->Sign(kPublishedNonce)), v.sig);
    uint8_t public_role = 0xff;
    NkeyBytes public_raw{};
    EXPECT_EQ(DecodeNkeyPublic(v.public_key, &public_role, &public_raw), "");
    EXPECT_EQ(public_role, role);
  }
}

TEST(Nkey, RejectsBadChecksumWithoutQuotingTheSeed) {
  std::string seed(kPublishedSeed);
  seed[20] = seed[20] == 'A' ? 'B' : 'A';
  std::string error;
  EXPECT_FALSE(NkeyPair::FromSeed(seed, &error));
  EXPECT_NE(error.find("checksum"), std::string::npos) << error;
  EXPECT_EQ(error.find(seed.substr(2, 20)), std::string::npos) << error;
}

TEST(Nkey, RejectsWrongPrefixLengthAndAlphabet) {
  std::string error;
  // A public key is not a seed: its first byte is a role, not the seed prefix.
  EXPECT_FALSE(NkeyPair::FromSeed(kPublishedPublic, &error));
  EXPECT_NE(error.find("invalid nkey seed"), std::string::npos) << error;
  // A well-formed encoding (valid CRC) whose first byte is not 'S'.
  NkeyBytes raw = FromHex(kGenerated[0].raw_hex);
  std::string body(2, '\0');
  body[0] = static_cast<char>(kNkeyPrefixUser);
  body.append(reinterpret_cast<const char*>(raw.data()), raw.size());
  uint16_t crc = NkeyCrc16(body);
  body.push_back(static_cast<char>(crc & 0xff));
  body.push_back(static_cast<char>(crc >> 8));
  EXPECT_FALSE(NkeyPair::FromSeed(Base32Encode(body), &error));
  EXPECT_NE(error.find("wrong prefix"), std::string::npos) << error;
  // Truncated, and lower case.
  EXPECT_FALSE(NkeyPair::FromSeed(kPublishedSeed.substr(0, 40), &error));
  std::string lower(kPublishedSeed);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  EXPECT_FALSE(NkeyPair::FromSeed(lower, &error));
  EXPECT_NE(error.find("not base32"), std::string::npos) << error;
  // Public keys: bad CRC and unknown role.
  uint8_t role = 0;
  NkeyBytes key{};
  std::string pub(kPublishedPublic);
  pub[10] = pub[10] == 'A' ? 'B' : 'A';
  EXPECT_NE(DecodeNkeyPublic(pub, &role, &key), "");
  EXPECT_NE(DecodeNkeyPublic(EncodeNkeyPublic(1, raw), &role, &key), "");
}

// --- files -----------------------------------------------------------------------------------

TEST(NatsCreds, ParsesJwtAndSeedBlocks) {
  std::string jwt, seed;
  EXPECT_EQ(ParseCredsText(CredsText(kSomeJwt, kPublishedSeed), &jwt, &seed), "");
  EXPECT_EQ(jwt, kSomeJwt);
  EXPECT_EQ(seed, kPublishedSeed);
  // CRLF line ends and surrounding blanks are fine.
  std::string crlf;
  for (char c : CredsText(kSomeJwt, kPublishedSeed)) {
    if (c == '\n') crlf += "  \r";
    crlf += c;
  }
  EXPECT_EQ(ParseCredsText(crlf, &jwt, &seed), "");
  EXPECT_EQ(jwt, kSomeJwt);
  EXPECT_EQ(seed, kPublishedSeed);
}

TEST(NatsCreds, ReportsWhatIsMissing) {
  std::string jwt, seed;
  EXPECT_NE(ParseCredsText("just text\n", &jwt, &seed).find("no user JWT"), std::string::npos);
  std::string no_seed = "-----BEGIN NATS USER JWT-----\n" + std::string(kSomeJwt) +
                        "\n------END NATS USER JWT------\n";
  EXPECT_NE(ParseCredsText(no_seed, &jwt, &seed).find("no user nkey seed"), std::string::npos);
  EXPECT_NE(ParseCredsText(CredsText("not a jwt", kPublishedSeed), &jwt, &seed).find("malformed"),
            std::string::npos);
}

TEST(NatsCreds, SeedFileAcceptsBareSeedAndNkFormat) {
  std::string seed;
  EXPECT_EQ(FindUserSeedText(std::string(kPublishedSeed) + "\n", &seed), "");
  EXPECT_EQ(seed, kPublishedSeed);
  EXPECT_EQ(FindUserSeedText(CredsText(kSomeJwt, kPublishedSeed), &seed), "");
  EXPECT_EQ(seed, kPublishedSeed);
  EXPECT_NE(FindUserSeedText(std::string(kGenerated[1].seed) + "\n", &seed).find("not a user"),
            std::string::npos);
  EXPECT_NE(FindUserSeedText("\n", &seed).find("no user nkey seed"), std::string::npos);
}

TEST(NatsCreds, LoadReadsFilesAndNamesThemInErrors) {
  test_support::TempDir dir("rng-auth-");
  ASSERT_FALSE(dir.path().empty());
  const std::string nk = dir.path() + "/user.nk";
  const std::string creds = dir.path() + "/user.creds";
  const std::string account_nk = dir.path() + "/account.nk";
  const std::string bad = dir.path() + "/bad.nk";
  WriteFile(nk, std::string(kPublishedSeed) + "\n");
  WriteFile(creds, CredsText(kSomeJwt, kPublishedSeed));
  WriteFile(account_nk, std::string(kGenerated[1].seed) + "\n");
  std::string damaged(kPublishedSeed);
  damaged[30] = damaged[30] == 'Q' ? 'R' : 'Q';
  WriteFile(bad, damaged);

  NatsUserAuth auth;
  EXPECT_EQ(LoadNatsUserAuth({nk, ""}, &auth), "");
  ASSERT_FALSE(auth.empty());
  EXPECT_EQ(auth.key->public_key(), kPublishedPublic);
  EXPECT_TRUE(auth.jwt.empty());

  EXPECT_EQ(LoadNatsUserAuth({"", creds}, &auth), "");
  EXPECT_EQ(auth.jwt, kSomeJwt);
  EXPECT_EQ(auth.key->public_key(), kPublishedPublic);

  EXPECT_EQ(LoadNatsUserAuth({"", ""}, &auth), "");
  EXPECT_TRUE(auth.empty());

  std::string err = LoadNatsUserAuth({dir.path() + "/missing.nk", ""}, &auth);
  EXPECT_NE(err.find("missing.nk"), std::string::npos) << err;
  EXPECT_TRUE(auth.empty());
  err = LoadNatsUserAuth({account_nk, ""}, &auth);
  EXPECT_NE(err.find("not a user seed"), std::string::npos) << err;
  EXPECT_EQ(err.find(kGenerated[1].seed), std::string::npos) << err;
  err = LoadNatsUserAuth({bad, ""}, &auth);
  EXPECT_NE(err.find("bad.nk"), std::string::npos) << err;
  EXPECT_NE(err.find("checksum"), std::string::npos) << err;
  EXPECT_EQ(err.find(damaged.substr(2)), std::string::npos) << err;
  err = LoadNatsUserAuth({nk, creds}, &auth);
  EXPECT_NE(err.find("exclude"), std::string::npos) << err;
}

// --- CONNECT ---------------------------------------------------------------------------------

// The string value of "field" in a CONNECT line (no escapes in the fields tested here).
std::string JsonField(std::string_view json, std::string_view field) {
  std::string key = "\"" + std::string(field) + "\":\"";
  size_t at = json.find(key);
  if (at == std::string_view::npos) return {};
  size_t start = at + key.size();
  return std::string(json.substr(start, json.find('"', start) - start));
}

TEST(NatsConnectAuth, NkeyConnectCarriesPublicKeyAndVerifyingSignature) {
  std::string info = "{\"server_id\":\"x\",\"auth_required\":true,\"nonce\":\"nM-Zp3_qq\","
                     "\"max_payload\":1048576}";
  std::string nonce = InfoNonce(info);
  EXPECT_EQ(nonce, "nM-Zp3_qq");
  NatsUserAuth auth;
  std::string error;
  auth.key = NkeyPair::FromSeed(kPublishedSeed, &error);
  ASSERT_TRUE(auth.key) << error;
  NatsConnectOptions connect;
  connect.name = "gw";
  AddUserAuthToConnect(auth, nonce, &connect);
  std::string line;
  AppendConnect(&line, connect);
  ASSERT_EQ(line.substr(0, 8), "CONNECT ");
  EXPECT_EQ(JsonField(line, "nkey"), kPublishedPublic);
  EXPECT_EQ(line.find("\"jwt\""), std::string::npos);
  std::optional<std::string> sig = Base64UrlDecode(JsonField(line, "sig"));
  ASSERT_TRUE(sig);
  EXPECT_EQ(sig->size(), 64u);
  EXPECT_TRUE(VerifyNkeySignature(JsonField(line, "nkey"), nonce, *sig));
  EXPECT_EQ(line.find(kPublishedSeed), std::string::npos);
}

TEST(NatsConnectAuth, CredsConnectCarriesJwtNotNkey) {
  NatsUserAuth auth;
  std::string error;
  auth.key = NkeyPair::FromSeed(kPublishedSeed, &error);
  auth.jwt = std::string(kSomeJwt);
  NatsConnectOptions connect;
  AddUserAuthToConnect(auth, "abc", &connect);
  std::string line;
  AppendConnect(&line, connect);
  EXPECT_EQ(JsonField(line, "jwt"), kSomeJwt);
  EXPECT_EQ(line.find("\"nkey\""), std::string::npos);
  std::optional<std::string> sig = Base64UrlDecode(JsonField(line, "sig"));
  ASSERT_TRUE(sig);
  EXPECT_TRUE(VerifyNkeySignature(kPublishedPublic, "abc", *sig));
}

TEST(NatsConnectAuth, NoIdentityAddsNothing) {
  NatsConnectOptions connect;
  AddUserAuthToConnect(NatsUserAuth{}, "abc", &connect);
  std::string line;
  AppendConnect(&line, connect);
  EXPECT_EQ(line.find("\"sig\""), std::string::npos);
  EXPECT_EQ(InfoNonce("{\"server_id\":\"x\"}"), "");
}

TEST(NatsConnectAuth, RecognisesAuthErrors) {
  EXPECT_TRUE(IsNatsAuthError("'Authorization Violation'"));
  EXPECT_TRUE(IsNatsAuthError("'User Authentication Expired'"));
  EXPECT_FALSE(IsNatsAuthError("'Maximum Connections Exceeded'"));
}

// --- URLs ------------------------------------------------------------------------------------

TEST(NatsUrl, SplitsAndDecodesCredentials) {
  std::string rest;
  NatsUrlCredentials c = SplitUrlCredentials("nats://alice:s%40c:ret@127.0.0.1:4222", &rest);
  EXPECT_EQ(c.user, "alice");
  EXPECT_EQ(c.pass, "s@c:ret");
  EXPECT_EQ(c.token, "");
  EXPECT_EQ(rest, "nats://127.0.0.1:4222");
  c = SplitUrlCredentials("nats://t0ken@host", &rest);
  EXPECT_EQ(c.token, "t0ken");
  EXPECT_EQ(c.user, "");
  EXPECT_EQ(rest, "nats://host");
  c = SplitUrlCredentials("host:4222", &rest);
  EXPECT_EQ(c.token, "");
  EXPECT_EQ(rest, "host:4222");
  // An unescaped '@' in the password: the last '@' ends the userinfo.
  c = SplitUrlCredentials("nats://bob:p@ss@h:1", &rest);
  EXPECT_EQ(c.pass, "p@ss");
  EXPECT_EQ(rest, "nats://h:1");
}

TEST(NatsUrl, RedactsPasswordAndToken) {
  EXPECT_EQ(RedactUrl("nats://alice:secret@127.0.0.1:4222"), "nats://alice:***@127.0.0.1:4222");
  EXPECT_EQ(RedactUrl("nats://t0ken@127.0.0.1:4222"), "nats://***@127.0.0.1:4222");
  EXPECT_EQ(RedactUrl("nats://127.0.0.1:4222"), "nats://127.0.0.1:4222");
  EXPECT_EQ(RedactUrl("tls://u:p@w@h:1"), "tls://u:***@h:1");
}

}  // namespace
}  // namespace kvmap
