// SPDX-License-Identifier: Apache-2.0
//
// Micro benchmarks for kvmap/string_ops: the INCRBY path (parse the stored decimal, add, format
// the result), BITCOUNT over a 1 MB value (whole string and a BIT range with edge masks),
// BITPOS over 1 MB of ones, and BITFIELD INCRBY (parse plus apply on a 1 KB value). Items are
// commands; bytes are the value bytes each command reads.
#include <benchmark/benchmark.h>

#include <string>
#include <string_view>
#include <vector>

#include "kvmap/string_ops.h"

namespace {

constexpr size_t kMegabyte = 1 << 20;

void BM_IncrBy(benchmark::State& state) {
  std::string stored = "1234567890";
  for (auto _ : state) {
    kvmap::StrResult<kvmap::IncrByValue> result = kvmap::IncrBy(stored, 7);
    stored = std::move(result.value().text);
    benchmark::DoNotOptimize(stored.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_IncrBy);

void BM_IncrByFloat(benchmark::State& state) {
  std::string stored = "10.5";
  for (auto _ : state) {
    kvmap::StrResult<std::string> result = kvmap::IncrByFloat(stored, "0.1");
    stored = std::move(result.value());
    benchmark::DoNotOptimize(stored.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_IncrByFloat);

std::string PatternValue(size_t size) {
  std::string value(size, '\0');
  for (size_t i = 0; i < size; ++i) value[i] = static_cast<char>((i * 131 + 7) & 0xff);
  return value;
}

void BM_BitCountWhole1MB(benchmark::State& state) {
  const std::string value = PatternValue(kMegabyte);
  for (auto _ : state) {
    benchmark::DoNotOptimize(kvmap::BitCount(value, {}).value());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * value.size()));
}
BENCHMARK(BM_BitCountWhole1MB);

void BM_BitCountBitRange1MB(benchmark::State& state) {
  const std::string value = PatternValue(kMegabyte);
  const std::vector<std::string_view> args = {"3", "-5", "BIT"};
  for (auto _ : state) {
    benchmark::DoNotOptimize(kvmap::BitCount(value, args).value());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * value.size()));
}
BENCHMARK(BM_BitCountBitRange1MB);

void BM_BitPosClearInOnes1MB(benchmark::State& state) {
  const std::string value(kMegabyte, '\xff');
  const std::vector<std::string_view> args = {"0"};
  for (auto _ : state) {
    benchmark::DoNotOptimize(kvmap::BitPos(value, args).value());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * value.size()));
}
BENCHMARK(BM_BitPosClearInOnes1MB);

// A counter array: BITFIELD k OVERFLOW SAT INCRBY u16 #n 1 INCRBY i32 #m -3 GET u8 0.
void BM_BitfieldIncrBy(benchmark::State& state) {
  std::string value(1024, '\0');
  const std::vector<std::string_view> args = {"overflow", "sat",    "incrby", "u16", "#100",
                                              "1",        "incrby", "i32",    "#37", "-3",
                                              "get",      "u8",     "0"};
  for (auto _ : state) {
    kvmap::StrResult<kvmap::BitfieldPlan> plan = kvmap::ParseBitfield(args, false);
    kvmap::BitfieldOutcome out = kvmap::ApplyBitfield(value, plan.value());
    value = std::move(*out.new_value);
    benchmark::DoNotOptimize(out.results.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * value.size()));
}
BENCHMARK(BM_BitfieldIncrBy);

void BM_BitfieldApplyOnly(benchmark::State& state) {
  std::string value(1024, '\0');
  const std::vector<std::string_view> args = {"incrby", "u16", "#100", "1"};
  const kvmap::BitfieldPlan plan = kvmap::ParseBitfield(args, false).value();
  for (auto _ : state) {
    kvmap::BitfieldOutcome out = kvmap::ApplyBitfield(value, plan);
    value = std::move(*out.new_value);
    benchmark::DoNotOptimize(value.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * value.size()));
}
BENCHMARK(BM_BitfieldApplyOnly);

}  // namespace
