// SPDX-License-Identifier: Apache-2.0
//
// Helpers shared by the libFuzzer targets in tests/fuzz (docs/fuzzing.md):
//
//   FUZZ_CHECK(cond, fmt, ...)  an assertion that stays on in every build: prints the message
//                               and aborts, which libFuzzer reports as a crash with the input.
//   Rng                         a small deterministic generator seeded from the input, for the
//                               choices that must not change what the input means (where to
//                               split it into reads, in which order completions arrive). The
//                               same input always makes the same choices, so every finding
//                               reproduces from its file alone.
//   Chunks()                    splits a byte string into pieces, each copied into its own
//                               exactly sized heap block, so AddressSanitizer catches a read
//                               one byte past any piece (a read handed to Feed()).
//
// Thread: the fuzzing thread only. Standard library only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#define FUZZ_CHECK(cond, ...)                                                                \
  do {                                                                                       \
    if (!(cond)) {                                                                           \
      std::fprintf(stderr, "FUZZ_CHECK failed at %s:%d: %s\n  ", __FILE__, __LINE__, #cond); \
      std::fprintf(stderr, __VA_ARGS__);                                                     \
      std::fprintf(stderr, "\n");                                                            \
      std::abort();                                                                          \
    }                                                                                        \
  } while (0)

namespace fuzz {

// FNV-1a over the input: the seed of the input's Rng.
inline uint64_t HashBytes(std::string_view bytes) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// SplitMix64.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n); n > 0.
  size_t Below(size_t n) { return static_cast<size_t>(Next() % n); }

 private:
  uint64_t state_;
};

// One piece of input in a heap block of exactly its size.
struct Chunk {
  std::unique_ptr<char[]> bytes;
  size_t size = 0;
  std::string_view view() const { return std::string_view(bytes.get(), size); }
};

inline Chunk CopyChunk(std::string_view piece) {
  Chunk c;
  c.size = piece.size();
  c.bytes.reset(new char[piece.size() == 0 ? 1 : piece.size()]);
  if (!piece.empty()) std::memcpy(c.bytes.get(), piece.data(), piece.size());
  return c;
}

// Splits `input` into pieces whose sizes the generator picks: mostly short (1 to 8 bytes, the
// sizes that land a boundary inside every header and CRLF), sometimes up to 256 bytes.
inline std::vector<Chunk> Chunks(std::string_view input, Rng& rng) {
  std::vector<Chunk> out;
  size_t pos = 0;
  while (pos < input.size()) {
    size_t len = rng.Below(4) == 0 ? 1 + rng.Below(256) : 1 + rng.Below(8);
    if (len > input.size() - pos) len = input.size() - pos;
    out.push_back(CopyChunk(input.substr(pos, len)));
    pos += len;
  }
  return out;
}

// Printable rendering of bytes for failure messages (C escapes), cut at `max` bytes.
inline std::string Printable(std::string_view bytes, size_t max = 200) {
  std::string out;
  for (size_t i = 0; i < bytes.size() && i < max; ++i) {
    const unsigned char c = static_cast<unsigned char>(bytes[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    }
  }
  if (bytes.size() > max) out += "...";
  return out;
}

}  // namespace fuzz
