// SPDX-License-Identifier: Apache-2.0
//
// Micro benchmarks for resp::RequestParser and resp::ReplyWriter. Bytes/s counts input bytes
// for the parser and output bytes for the writer; items/s counts requests or replies.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "resp/reply_writer.h"
#include "resp/request_parser.h"

namespace {

std::string Multibulk(const std::vector<std::string>& argv) {
  std::string out = "*" + std::to_string(argv.size()) + "\r\n";
  for (const std::string& a : argv) out += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  return out;
}

// Parses every request in `input`, fed in chunks of `chunk` bytes (as socket reads would).
// Returns the number of requests.
int64_t ParseAll(std::string_view input, size_t chunk) {
  resp::RequestParser parser;
  int64_t requests = 0;
  while (!input.empty()) {
    std::string_view piece = input.substr(0, chunk);
    input.remove_prefix(piece.size());
    while (true) {
      const resp::ParseResult r = parser.Feed(piece);
      piece.remove_prefix(r.consumed);
      if (r.status != resp::ParseStatus::kRequest) break;
      resp::Request request = parser.TakeRequest();
      benchmark::DoNotOptimize(request.arg(0).data());
      ++requests;
    }
  }
  return requests;
}

// 1000 pipelined SET/GET pairs with 16-byte keys and 64-byte values, read 16 KiB at a time.
void BM_ParsePipelinedSetGet(benchmark::State& state) {
  std::string input;
  for (int i = 0; i < 1000; ++i) {
    const std::string key =
        "key:" + std::string(12 - std::to_string(i).size(), '0') + std::to_string(i);
    input += Multibulk({"SET", key, std::string(64, 'v')});
    input += Multibulk({"GET", key});
  }
  int64_t requests = 0;
  for (auto _ : state) requests += ParseAll(input, 16 * 1024);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(input.size()));
  state.SetItemsProcessed(requests);
}
BENCHMARK(BM_ParsePipelinedSetGet);

// One SET with a 1 MiB value, read 16 KiB at a time.
void BM_ParseLargeBulk(benchmark::State& state) {
  const std::string input = Multibulk({"SET", "big", std::string(1024 * 1024, 'x')});
  int64_t requests = 0;
  for (auto _ : state) requests += ParseAll(input, 16 * 1024);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(input.size()));
  state.SetItemsProcessed(requests);
}
BENCHMARK(BM_ParseLargeBulk);

// 1000 pipelined inline requests (as typed in telnet), one with quotes.
void BM_ParseInline(benchmark::State& state) {
  std::string input;
  for (int i = 0; i < 1000; ++i) {
    input += i % 10 == 0 ? "SET \"key with space\" 'value'\r\n" : "SET key:000001 value\r\n";
  }
  int64_t requests = 0;
  for (auto _ : state) requests += ParseAll(input, 16 * 1024);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(input.size()));
  state.SetItemsProcessed(requests);
}
BENCHMARK(BM_ParseInline);

// Writes 1000 replies per iteration into a reused buffer.
constexpr int kRepliesPerIteration = 1000;

void BM_WriteBulk(benchmark::State& state) {
  const std::string value(static_cast<size_t>(state.range(0)), 'v');
  std::string out;
  size_t bytes = 0;
  for (auto _ : state) {
    out.clear();
    resp::ReplyWriter writer(&out, resp::Protocol::kResp2);
    for (int i = 0; i < kRepliesPerIteration; ++i) writer.Bulk(value);
    benchmark::DoNotOptimize(out.data());
    bytes += out.size();
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kRepliesPerIteration);
}
BENCHMARK(BM_WriteBulk)->Arg(16)->Arg(1024);

void BM_WriteInteger(benchmark::State& state) {
  std::string out;
  size_t bytes = 0;
  int64_t value = 1;
  for (auto _ : state) {
    out.clear();
    resp::ReplyWriter writer(&out, resp::Protocol::kResp2);
    for (int i = 0; i < kRepliesPerIteration; ++i) writer.Integer(value += 7919);
    benchmark::DoNotOptimize(out.data());
    bytes += out.size();
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kRepliesPerIteration);
}
BENCHMARK(BM_WriteInteger);

// An MGET-like reply: an array of 10 bulks, every other one null. Items are arrays.
void BM_WriteArray(benchmark::State& state) {
  const auto protocol = static_cast<resp::Protocol>(state.range(0));
  const std::string value(32, 'v');
  std::string out;
  size_t bytes = 0;
  for (auto _ : state) {
    out.clear();
    resp::ReplyWriter writer(&out, protocol);
    for (int i = 0; i < kRepliesPerIteration; ++i) {
      writer.ArrayHeader(10);
      for (int j = 0; j < 10; ++j) {
        if (j % 2 == 0) {
          writer.Bulk(value);
        } else {
          writer.Null();
        }
      }
    }
    benchmark::DoNotOptimize(out.data());
    bytes += out.size();
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kRepliesPerIteration);
}
BENCHMARK(BM_WriteArray)->Arg(2)->Arg(3);

}  // namespace
