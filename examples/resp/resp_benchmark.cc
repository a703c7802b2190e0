// examples/resp/resp_benchmark.cc: parse + execute cost per request of the RESP core.
//
// Each iteration feeds one read holding a pipeline of `depth` requests (redis-benchmark
// -P style: SETs and GETs of 3-byte values over 10,000 keys, half each) into a
// Connection and takes the output, as a server loop would, without a socket. The
// items/s counter is requests per second on one core; its inverse is the core's cost
// per request. Results: examples/resp/README.md.
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "examples/resp/connection.h"

namespace examples::resp {
namespace {

constexpr int64_t kNow = 1'700'000'000'000;
constexpr int kKeys = 10000;

void AppendCommand(std::initializer_list<std::string_view> args, std::string* out) {
  *out += "*" + std::to_string(args.size()) + "\r\n";
  for (std::string_view a : args) {
    *out += "$" + std::to_string(a.size()) + "\r\n";
    out->append(a);
    *out += "\r\n";
  }
}

// Batches: `count` pipelined reads of `depth` requests each, keys spread over kKeys.
std::vector<std::string> Batches(int depth, int count, int set_percent) {
  std::vector<std::string> batches(count);
  uint64_t state = 42;
  for (std::string& batch : batches) {
    for (int i = 0; i < depth; ++i) {
      state = state * 6364136223846793005u + 1442695040888963407u;
      const std::string key = "key:" + std::to_string((state >> 33) % kKeys);
      if (static_cast<int>((state >> 20) % 100) < set_percent) {
        AppendCommand({"SET", key, "xxx"}, &batch);
      } else {
        AppendCommand({"GET", key}, &batch);
      }
    }
  }
  return batches;
}

void BM_PipelinedGetSet(benchmark::State& state) {
  const int depth = static_cast<int>(state.range(0));
  Store store;
  Connection c(&store, {}, 1);
  for (const std::string& b : Batches(kKeys, 1, 100)) c.Feed(b, kNow);  // fill the keys
  c.ConsumeOutput(c.Output().size());
  const std::vector<std::string> batches = Batches(depth, 64, 50);
  size_t i = 0;
  for (auto _ : state) {
    c.Feed(batches[i++ % batches.size()], kNow);
    benchmark::DoNotOptimize(c.Output().data());
    c.ConsumeOutput(c.Output().size());
  }
  state.SetItemsProcessed(state.iterations() * depth);
}
BENCHMARK(BM_PipelinedGetSet)->Arg(1)->Arg(16)->Arg(128);

// BM_SplitReads: the same 16-deep pipeline arriving in 7-byte reads, the worst case for
// resumption (every request is parsed across several Feed calls).
void BM_SplitReads(benchmark::State& state) {
  Store store;
  Connection c(&store, {}, 1);
  const std::vector<std::string> batches = Batches(16, 64, 50);
  size_t i = 0;
  for (auto _ : state) {
    const std::string& b = batches[i++ % batches.size()];
    for (size_t at = 0; at < b.size(); at += 7) c.Feed(std::string_view(b).substr(at, 7), kNow);
    c.ConsumeOutput(c.Output().size());
  }
  state.SetItemsProcessed(state.iterations() * 16);
}
BENCHMARK(BM_SplitReads);

}  // namespace
}  // namespace examples::resp
