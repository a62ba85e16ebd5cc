// SPDX-License-Identifier: Apache-2.0
#include "kvmap/key_codec.h"

#include <array>
#include <cstdint>

namespace kvmap {
namespace {

enum class ByteClass : uint8_t {
  kLiteral,    // [A-Za-z0-9_/-]: written as is
  kSeparator,  // ':' written as '.'
  kEscaped,    // everything else: '=' + two upper-case hex digits
};

constexpr std::array<ByteClass, 256> MakeByteClasses() {
  std::array<ByteClass, 256> classes{};
  for (int b = 0; b < 256; ++b) {
    bool is_literal = (b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') || (b >= '0' && b <= '9') ||
                      b == '_' || b == '/' || b == '-';
    classes[b] = is_literal ? ByteClass::kLiteral
                 : b == ':' ? ByteClass::kSeparator
                            : ByteClass::kEscaped;
  }
  return classes;
}

constexpr std::array<ByteClass, 256> kByteClasses = MakeByteClasses();
constexpr char kHexDigits[] = "0123456789ABCDEF";
constexpr char kEmptyToken = '=';
constexpr char kEscape = '=';
constexpr char kTokenSeparator = '.';

ByteClass ClassOf(char c) { return kByteClasses[static_cast<unsigned char>(c)]; }

// Upper-case hex only: lower-case digits are not canonical.
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

void EncodeKeyTo(std::string_view key, std::string* out) {
  out->reserve(out->size() + EncodedKeyLength(key));
  bool is_token_empty = true;
  for (char c : key) {
    switch (ClassOf(c)) {
      case ByteClass::kLiteral:
        out->push_back(c);
        is_token_empty = false;
        break;
      case ByteClass::kSeparator:
        if (is_token_empty) out->push_back(kEmptyToken);
        out->push_back(kTokenSeparator);
        is_token_empty = true;
        break;
      case ByteClass::kEscaped: {
        auto b = static_cast<unsigned char>(c);
        char escape[3] = {kEscape, kHexDigits[b >> 4], kHexDigits[b & 0xF]};
        out->append(escape, sizeof(escape));
        is_token_empty = false;
        break;
      }
    }
  }
  if (is_token_empty) out->push_back(kEmptyToken);
}

std::string EncodeKey(std::string_view key) {
  std::string out;
  EncodeKeyTo(key, &out);
  return out;
}

size_t EncodedKeyLength(std::string_view key) {
  size_t length = 0;
  bool is_token_empty = true;
  for (char c : key) {
    switch (ClassOf(c)) {
      case ByteClass::kLiteral:
        length += 1;
        is_token_empty = false;
        break;
      case ByteClass::kSeparator:
        length += is_token_empty ? 2 : 1;
        is_token_empty = true;
        break;
      case ByteClass::kEscaped:
        length += 3;
        is_token_empty = false;
        break;
    }
  }
  return length + (is_token_empty ? 1 : 0);
}

std::optional<std::string> DecodeKey(std::string_view token) {
  // A key is never longer than its encoding.
  std::string key;
  key.reserve(token.size());
  size_t i = 0;
  const size_t n = token.size();
  while (true) {
    // At the start of a token. An empty token (also: empty input, leading '.', "..", trailing
    // '.') is never produced by Encode.
    size_t token_start = i;
    size_t token_end = token.find(kTokenSeparator, i);
    if (token_end == std::string_view::npos) token_end = n;
    if (token_end == token_start) return std::nullopt;
    // "=" as a whole token is the empty token and adds no bytes; anywhere else '=' starts an
    // escape.
    bool is_empty_token = token_end - token_start == 1 && token[token_start] == kEmptyToken;
    if (!is_empty_token) {
      for (i = token_start; i < token_end; ++i) {
        char c = token[i];
        if (c == kEscape) {
          if (token_end - i < 3) return std::nullopt;
          int hi = HexValue(token[i + 1]);
          int lo = HexValue(token[i + 2]);
          if (hi < 0 || lo < 0) return std::nullopt;
          char b = static_cast<char>((hi << 4) | lo);
          // Only bytes Encode escapes may appear escaped ("=41" is 'A', "=3A" is ':').
          if (ClassOf(b) != ByteClass::kEscaped) return std::nullopt;
          key.push_back(b);
          i += 2;
        } else if (ClassOf(c) == ByteClass::kLiteral) {
          key.push_back(c);
        } else {
          return std::nullopt;
        }
      }
    }
    if (token_end == n) break;
    key.push_back(':');
    i = token_end + 1;
  }
  return key;
}

}  // namespace kvmap
