// benchmark_smoke: proves Google Benchmark (with its main) links and runs.

#include <benchmark/benchmark.h>

#include <cstdint>

namespace {

void BM_Increment(benchmark::State& state) {
  std::uint64_t counter = 0;
  for (auto _ : state) benchmark::DoNotOptimize(++counter);
}
BENCHMARK(BM_Increment);

}  // namespace
