// SPDX-License-Identifier: Apache-2.0
//
// Tests for the key codec (DESIGN.md decision 3): round trips over all byte values and random
// keys, injectivity, validity of every output under NATS's KV key rules, and rejection of every
// non-canonical form by DecodeKey.
#include "kvmap/key_codec.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace kvmap {
namespace {

using namespace std::literals;

// Mirrors validKey() in nats.c src/kv.c: non-empty; no leading, trailing or doubled '.'; only
// ASCII letters, digits and . _ - / \ =.
bool NatsValidKey(std::string_view key) {
  if (key.empty()) return false;
  for (size_t i = 0; i < key.size(); ++i) {
    char c = key[i];
    bool is_alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (c == '.' && (i == 0 || i == key.size() - 1 || key[i - 1] == '.')) return false;
    if (!is_alnum && c != '.' && c != '_' && c != '-' && c != '/' && c != '\\' && c != '=') {
      return false;
    }
  }
  return true;
}

// Our stricter alphabet (DESIGN.md): nats.c's rules minus the backslash.
bool IsValidEncodedKey(std::string_view key) {
  return NatsValidKey(key) && key.find('\\') == std::string_view::npos;
}

// Checks everything we promise about one key: valid output, predicted length, round trip.
void ExpectCodecHolds(std::string_view key) {
  std::string encoded = EncodeKey(key);
  ASSERT_TRUE(IsValidEncodedKey(encoded))
      << "key bytes: " << testing::PrintToString(key) << " encoded: " << encoded;
  ASSERT_EQ(EncodedKeyLength(key), encoded.size()) << encoded;
  std::optional<std::string> decoded = DecodeKey(encoded);
  ASSERT_TRUE(decoded.has_value()) << encoded;
  ASSERT_EQ(*decoded, key) << encoded;
}

std::string RandomBytes(std::mt19937_64& rng, size_t max_len) {
  std::uniform_int_distribution<size_t> len_dist(0, max_len);
  std::uniform_int_distribution<int> byte_dist(0, 255);
  // Bias towards ':' and literal bytes half the time, so tokens and empty tokens are common.
  std::uniform_int_distribution<int> mode_dist(0, 1);
  static constexpr std::string_view kInteresting = ":::aZ9_-/.=%* >\x00\xff"sv;
  size_t len = len_dist(rng);
  bool is_biased = mode_dist(rng) == 1;
  std::string out;
  out.reserve(len);
  std::uniform_int_distribution<size_t> pick(0, kInteresting.size() - 1);
  for (size_t i = 0; i < len; ++i) {
    out.push_back(is_biased ? kInteresting[pick(rng)] : static_cast<char>(byte_dist(rng)));
  }
  return out;
}

TEST(KeyCodec, EncodesDocumentedExamples) {
  EXPECT_EQ(EncodeKey("user:1000:name"), "user.1000.name");
  EXPECT_EQ(EncodeKey("user:"), "user.=");
  EXPECT_EQ(EncodeKey(":user"), "=.user");
  EXPECT_EQ(EncodeKey("a::b"), "a.=.b");
  EXPECT_EQ(EncodeKey(":"), "=.=");
  EXPECT_EQ(EncodeKey("::"), "=.=.=");
  EXPECT_EQ(EncodeKey(""), "=");
  EXPECT_EQ(EncodeKey("a b"), "a=20b");
  EXPECT_EQ(EncodeKey("Az09_/-"), "Az09_/-");
}

TEST(KeyCodec, EscapesNatsSpecialBytes) {
  EXPECT_EQ(EncodeKey("a.b"), "a=2Eb");
  EXPECT_EQ(EncodeKey("*"), "=2A");
  EXPECT_EQ(EncodeKey(">"), "=3E");
  EXPECT_EQ(EncodeKey("user:*"), "user.=2A");
  EXPECT_EQ(EncodeKey("="), "=3D");
  EXPECT_EQ(EncodeKey("=_x"), "=3D_x");
  EXPECT_EQ(EncodeKey("\\"), "=5C");
  EXPECT_EQ(EncodeKey(" "), "=20");
  EXPECT_EQ(EncodeKey("\x00"s), "=00");
  EXPECT_EQ(EncodeKey("\xff"), "=FF");
  EXPECT_EQ(EncodeKey("\r\n"), "=0D=0A");
}

TEST(KeyCodec, EscapesUtf8BytesInUpperCaseHex) {
  EXPECT_EQ(EncodeKey("caf\xc3\xa9"), "caf=C3=A9");       // "café"
  EXPECT_EQ(EncodeKey("\xe2\x82\xac:1"), "=E2=82=AC.1");  // "€:1"
  ExpectCodecHolds("\xf0\x9f\x98\x80 emoji:key");
}

TEST(KeyCodec, EncodeKeyToAppends) {
  std::string out = "prefix.";
  EncodeKeyTo("a:b", &out);
  EXPECT_EQ(out, "prefix.a.b");
  EncodeKeyTo("", &out);
  EXPECT_EQ(out, "prefix.a.b=");
}

TEST(KeyCodec, SpecialKeysRoundTrip) {
  const std::string_view keys[] = {""sv,
                                   ":"sv,
                                   "::"sv,
                                   ":::"sv,
                                   "user:"sv,
                                   ":user"sv,
                                   "a::b"sv,
                                   "a.b"sv,
                                   "*"sv,
                                   ">"sv,
                                   "user:*"sv,
                                   "a b c"sv,
                                   " "sv,
                                   "="sv,
                                   "=="sv,
                                   "=_"sv,
                                   "=41"sv,
                                   "=.="sv,
                                   "."sv,
                                   ".."sv,
                                   "caf\xc3\xa9"sv,
                                   "\x00\x00"sv,
                                   "\\"sv,
                                   "$KV.bucket.>"sv,
                                   "user:1000:name"sv};
  for (std::string_view key : keys) {
    SCOPED_TRACE(testing::PrintToString(key));
    ExpectCodecHolds(key);
  }
}

TEST(KeyCodec, AllSingleBytesRoundTrip) {
  std::unordered_set<std::string> outputs;
  for (int b = 0; b < 256; ++b) {
    std::string key(1, static_cast<char>(b));
    SCOPED_TRACE(b);
    ExpectCodecHolds(key);
    outputs.insert(EncodeKey(key));
  }
  EXPECT_EQ(outputs.size(), 256u);
}

TEST(KeyCodec, SingleByteEncodingClasses) {
  for (int b = 0; b < 256; ++b) {
    char c = static_cast<char>(b);
    bool is_literal = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '/' || c == '-';
    std::string encoded = EncodeKey(std::string(1, c));
    if (is_literal) {
      EXPECT_EQ(encoded, std::string(1, c));
    } else if (c == ':') {
      EXPECT_EQ(encoded, "=.=");
    } else {
      static constexpr char kHex[] = "0123456789ABCDEF";
      EXPECT_EQ(encoded, std::string({'=', kHex[b >> 4], kHex[b & 0xF]})) << b;
    }
  }
}

// Every ordered pair over a set that covers each byte class and each boundary case.
TEST(KeyCodec, RepresentativePairsRoundTrip) {
  const std::string kBytes = "aZ09_/-:.=*> \\\x00\x7f\x80\xff\xc3"s;
  for (char a : kBytes) {
    for (char b : kBytes) {
      std::string key = {a, b};
      SCOPED_TRACE(testing::PrintToString(key));
      ExpectCodecHolds(key);
    }
  }
}

TEST(KeyCodec, ExhaustiveTwoByteKeysAreInjective) {
  std::unordered_set<std::string> outputs;
  outputs.reserve(65536 + 257);
  outputs.insert(EncodeKey(""));
  for (int b = 0; b < 256; ++b) outputs.insert(EncodeKey(std::string(1, static_cast<char>(b))));
  for (int a = 0; a < 256; ++a) {
    for (int b = 0; b < 256; ++b) {
      std::string key = {static_cast<char>(a), static_cast<char>(b)};
      std::string encoded = EncodeKey(key);
      ASSERT_TRUE(IsValidEncodedKey(encoded)) << a << "," << b;
      std::optional<std::string> decoded = DecodeKey(encoded);
      ASSERT_TRUE(decoded.has_value() && *decoded == key) << a << "," << b;
      outputs.insert(std::move(encoded));
    }
  }
  EXPECT_EQ(outputs.size(), 1u + 256u + 65536u);
}

TEST(KeyCodec, RandomKeysRoundTrip) {
  std::mt19937_64 rng(20240611);
  for (int i = 0; i < 100000; ++i) {
    std::string key = RandomBytes(rng, 24);
    std::string encoded = EncodeKey(key);
    ASSERT_TRUE(IsValidEncodedKey(encoded)) << testing::PrintToString(key);
    ASSERT_EQ(EncodedKeyLength(key), encoded.size()) << testing::PrintToString(key);
    std::optional<std::string> decoded = DecodeKey(encoded);
    ASSERT_TRUE(decoded.has_value()) << encoded;
    ASSERT_EQ(*decoded, key) << encoded;
  }
}

TEST(KeyCodec, RandomKeysAreInjective) {
  std::mt19937_64 rng(7);
  std::unordered_set<std::string> keys;
  std::unordered_set<std::string> outputs;
  for (int i = 0; i < 100000; ++i) {
    std::string key = RandomBytes(rng, 8);
    std::string encoded = EncodeKey(key);
    bool is_new_key = keys.insert(key).second;
    bool is_new_output = outputs.insert(encoded).second;
    ASSERT_EQ(is_new_key, is_new_output) << testing::PrintToString(key) << " -> " << encoded;
  }
  EXPECT_EQ(keys.size(), outputs.size());
  EXPECT_GT(keys.size(), 50000u);  // the set really is large
}

TEST(KeyCodec, LongKeysRoundTrip) {
  std::string key;
  for (int i = 0; i < 4096; ++i) key.push_back(static_cast<char>(i * 37));
  ExpectCodecHolds(key);
  ExpectCodecHolds(std::string(1000, ':'));
  ExpectCodecHolds(std::string(1000, 'x'));
}

TEST(KeyCodec, DecodesCanonicalForms) {
  EXPECT_EQ(DecodeKey("="), "");
  EXPECT_EQ(DecodeKey("=.="), ":");
  EXPECT_EQ(DecodeKey("user.="), "user:");
  EXPECT_EQ(DecodeKey("=.user"), ":user");
  EXPECT_EQ(DecodeKey("a.=.b"), "a::b");
  EXPECT_EQ(DecodeKey("a=2Eb"), "a.b");
  EXPECT_EQ(DecodeKey("=3D"), "=");
  EXPECT_EQ(DecodeKey("=3D.="), "=:");
  EXPECT_EQ(DecodeKey("=00"), "\x00"s);
  EXPECT_EQ(DecodeKey("=FF=2A"), "\xff*");
}

TEST(KeyCodec, RejectsNonCanonicalForms) {
  for (std::string_view token : {
           ""sv,        // empty input: the empty key is "="
           "."sv,       // empty tokens
           ".a"sv,      // leading '.'
           "a."sv,      // trailing '.'
           "a..b"sv,    // empty token inside
           "=."sv,      // trailing '.' after an empty token
           ".="sv,      // leading '.'
           "=41"sv,     // 'A' is written literally
           "=61"sv,     // 'a'
           "=30"sv,     // '0'
           "=5F"sv,     // '_'
           "=2F"sv,     // '/'
           "=2D"sv,     // '-'
           "=3A"sv,     // ':' is always '.'
           "a=3Ab"sv,   // ':' escaped inside a token
           "=2e"sv,     // lower-case hex
           "=c3=a9"sv,  // lower-case hex
           "=C3=a9"sv,  // mixed case
           "=Ab"sv,     // mixed case
           "=="sv,      // '=' followed by '='
           "==="sv,
           "a=="sv,
           "=.=="sv,
           "a="sv,  // lone '=' at the end of a longer token
           "=a"sv,  // '=' followed by a non-hex
           "a=b"sv,
           "=2"sv,  // truncated escape
           "a=2"sv,
           "=2.="sv,
           "=G0"sv,  // non-hex digit
           "=0G"sv,
           "=_"sv,  // internal key prefix
           "=_sweeper"sv,
           "=_.x"sv,
           "a b"sv,  // bytes outside the NATS key alphabet
           "a*"sv,
           ">"sv,
           "a:b"sv,
           "a\\b"sv,  // nats.c allows '\', the KV alphabet does not
           "caf\xc3\xa9"sv,
           "\x00"sv,
           "x=20=3"sv,
       }) {
    EXPECT_FALSE(DecodeKey(token).has_value()) << testing::PrintToString(token);
  }
}

// DecodeKey accepts exactly the image of EncodeKey: over every string of up to three
// characters from the NATS alphabet plus a few outsiders, a token decodes if and only if it is
// the encoding of what it decodes to.
TEST(KeyCodec, DecodeAcceptsExactlyEncodeOutputs) {
  const std::string kAlphabet = "=.A2F_a:g\\ ";
  std::vector<std::string> tokens = {""};
  for (int len = 1; len <= 4; ++len) {
    std::vector<std::string> next;
    for (const std::string& prefix : tokens) {
      if (prefix.size() != static_cast<size_t>(len - 1)) continue;
      for (char c : kAlphabet) next.push_back(prefix + c);
    }
    tokens.insert(tokens.end(), next.begin(), next.end());
  }
  size_t accepted = 0;
  for (const std::string& token : tokens) {
    std::optional<std::string> decoded = DecodeKey(token);
    if (decoded.has_value()) {
      ++accepted;
      EXPECT_EQ(EncodeKey(*decoded), token);
    }
  }
  EXPECT_GT(accepted, 100u);
}

TEST(KeyCodec, InternalPrefixIsNeverProduced) {
  std::mt19937_64 rng(99);
  for (int i = 0; i < 20000; ++i) {
    std::string encoded = EncodeKey(RandomBytes(rng, 12));
    ASSERT_FALSE(encoded.starts_with(kInternalKeyPrefix)) << encoded;
    ASSERT_EQ(encoded.find("=_"), std::string::npos) << encoded;
  }
}

TEST(KeyCodec, EncodedKeyLengthMatchesEncode) {
  for (std::string_view key :
       {""sv, ":"sv, "a"sv, "a:"sv, ":a"sv, "a::b"sv, " "sv, "user:1000:name"sv, "\xff\xfe:"sv}) {
    EXPECT_EQ(EncodedKeyLength(key), EncodeKey(key).size()) << testing::PrintToString(key);
  }
}

}  // namespace
}  // namespace kvmap
