// SPDX-License-Identifier: Apache-2.0
//
// Micro benchmarks for the key codec: typical colon-separated Redis keys (almost all literal
// bytes) and a worst case where every byte is escaped. Throughput is reported over the input
// bytes of each call (the Redis key for Encode, the NATS key for Decode).
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "kvmap/key_codec.h"

namespace {

const std::vector<std::string>& TypicalKeys() {
  static const std::vector<std::string> keys = {
      "user:1000:name",
      "session:7f3a9c2e-41d7-4b0e-9a55-0c1d2e3f4a5b",
      "cache:page:/index",
      "counter",
      "queue:jobs:high",
      "user:1000:",
      "order:2024-06-11:42:items",
  };
  return keys;
}

// Every byte outside the literal set: "=XX" three times longer than the key.
std::string EscapedKey(size_t length) {
  std::string key;
  for (size_t i = 0; i < length; ++i) key.push_back(static_cast<char>(0x80 + (i % 0x80)));
  return key;
}

void BM_EncodeTypical(benchmark::State& state) {
  const auto& keys = TypicalKeys();
  std::string out;
  size_t bytes = 0;
  for (auto _ : state) {
    for (const std::string& key : keys) {
      out.clear();
      kvmap::EncodeKeyTo(key, &out);
      benchmark::DoNotOptimize(out.data());
      bytes += key.size();
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(keys.size()));
}
BENCHMARK(BM_EncodeTypical);

void BM_EncodeKeyAllocating(benchmark::State& state) {
  const std::string key = "user:1000:name";
  for (auto _ : state) {
    std::string out = kvmap::EncodeKey(key);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(key.size()));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EncodeKeyAllocating);

void BM_DecodeTypical(benchmark::State& state) {
  std::vector<std::string> encoded;
  for (const std::string& key : TypicalKeys()) encoded.push_back(kvmap::EncodeKey(key));
  size_t bytes = 0;
  for (auto _ : state) {
    for (const std::string& token : encoded) {
      auto decoded = kvmap::DecodeKey(token);
      benchmark::DoNotOptimize(decoded);
      bytes += token.size();
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(encoded.size()));
}
BENCHMARK(BM_DecodeTypical);

void BM_EncodeEscaped(benchmark::State& state) {
  const std::string key = EscapedKey(static_cast<size_t>(state.range(0)));
  std::string out;
  for (auto _ : state) {
    out.clear();
    kvmap::EncodeKeyTo(key, &out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(key.size()));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EncodeEscaped)->Arg(16)->Arg(256);

void BM_DecodeEscaped(benchmark::State& state) {
  const std::string token = kvmap::EncodeKey(EscapedKey(static_cast<size_t>(state.range(0))));
  for (auto _ : state) {
    auto decoded = kvmap::DecodeKey(token);
    benchmark::DoNotOptimize(decoded);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(token.size()));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodeEscaped)->Arg(16)->Arg(256);

void BM_EncodedKeyLength(benchmark::State& state) {
  const auto& keys = TypicalKeys();
  size_t bytes = 0;
  for (auto _ : state) {
    for (const std::string& key : keys) {
      benchmark::DoNotOptimize(kvmap::EncodedKeyLength(key));
      bytes += key.size();
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_EncodedKeyLength);

}  // namespace
