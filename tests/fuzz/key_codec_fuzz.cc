// SPDX-License-Identifier: Apache-2.0
//
// libFuzzer target: kvmap key codec (kvmap/key_codec.h, docs/fuzzing.md).
//
// The input is used three ways:
//   1. as a Redis key x: EncodeKey(x) is a valid NATS KV key (checked here independently of
//      the codec: only [-/_=.A-Za-z0-9], not empty, no empty token, no leading or trailing
//      '.'), does not start with the internal prefix "=_", has EncodedKeyLength(x) bytes,
//      equals what EncodeKeyTo appends after existing bytes, and DecodeKey gives x back;
//   2. split in two keys x1 != x2 (at a point taken from the input): their encodings differ
//      (injectivity, checked directly as well as through the round trip);
//   3. as a KV key token y: when DecodeKey(y) succeeds, EncodeKey of the result is y again
//      (only canonical encodings decode), which also means y is a valid KV key.
//
// Thread: the fuzzing thread.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "kvmap/key_codec.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

bool IsKvKeyByte(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '/' || c == '_' || c == '=' || c == '.';
}

// NATS KV key rules (nats.c src/kv.c validKey, nats-server's keyValid), minus '\\' which the
// codec never writes.
bool IsValidKvKey(std::string_view k) {
  if (k.empty() || k.front() == '.' || k.back() == '.') return false;
  for (size_t i = 0; i < k.size(); ++i) {
    if (!IsKvKeyByte(k[i])) return false;
    if (k[i] == '.' && i + 1 < k.size() && k[i + 1] == '.') return false;  // empty token
  }
  return true;
}

void CheckEncode(std::string_view key) {
  const std::string enc = kvmap::EncodeKey(key);
  FUZZ_CHECK(IsValidKvKey(enc), "EncodeKey(\"%s\") = \"%s\" is not a valid KV key",
             fuzz::Printable(key).c_str(), fuzz::Printable(enc).c_str());
  FUZZ_CHECK(enc.compare(0, kvmap::kInternalKeyPrefix.size(), kvmap::kInternalKeyPrefix) != 0,
             "EncodeKey(\"%s\") = \"%s\" has the internal prefix", fuzz::Printable(key).c_str(),
             enc.c_str());
  FUZZ_CHECK(kvmap::EncodedKeyLength(key) == enc.size(), "EncodedKeyLength %zu != %zu",
             kvmap::EncodedKeyLength(key), enc.size());
  std::string appended = "prefix.";
  kvmap::EncodeKeyTo(key, &appended);
  FUZZ_CHECK(appended == "prefix." + enc, "EncodeKeyTo differs from EncodeKey");
  const std::optional<std::string> dec = kvmap::DecodeKey(enc);
  FUZZ_CHECK(dec.has_value() && *dec == key, "DecodeKey(EncodeKey(\"%s\")) = %s",
             fuzz::Printable(key).c_str(),
             dec ? ("\"" + fuzz::Printable(*dec) + "\"").c_str() : "nullopt");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  CheckEncode(input);

  if (!input.empty()) {
    const size_t cut = static_cast<unsigned char>(input[0]) % (input.size() + 1);
    const std::string_view x1 = input.substr(0, cut);
    const std::string_view x2 = input.substr(cut);
    CheckEncode(x1);
    CheckEncode(x2);
    if (x1 != x2) {
      FUZZ_CHECK(kvmap::EncodeKey(x1) != kvmap::EncodeKey(x2), "\"%s\" and \"%s\" collide",
                 fuzz::Printable(x1).c_str(), fuzz::Printable(x2).c_str());
    }
  }

  const std::optional<std::string> dec = kvmap::DecodeKey(input);
  if (dec) {
    FUZZ_CHECK(kvmap::EncodeKey(*dec) == input,
               "DecodeKey accepted \"%s\" (-> \"%s\") but it is not canonical: EncodeKey gives "
               "\"%s\"",
               fuzz::Printable(input).c_str(), fuzz::Printable(*dec).c_str(),
               fuzz::Printable(kvmap::EncodeKey(*dec)).c_str());
  }
  return 0;
}
