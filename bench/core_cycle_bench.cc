// bench/core_cycle_bench.cc: the engine alone, one op's whole life per iteration.
//
// Submit -> PendingRequests/ConsumeRequests -> HandleCompletion -> PollEvent,
// with no driver: what the core costs on top of the kernel. Counts heap
// allocations per op with a replaced global operator new (steady state must be
// zero). A baseline loop in the same run does the same bookkeeping by hand (a
// plain array of in-flight tags), so the printed ratio says what the engine's
// guarantees cost over the least a loop could do.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <vector>

#include "bench/alloc_counter.h"
#include "benchmark/benchmark.h"
#include "ringloop/core/engine.h"

namespace ringloop {
namespace {

char g_buf[64];

// Cycle: `batch` ops per round through the engine; returns events seen.
uint64_t Cycle(Engine& engine, int batch) {
  for (int i = 0; i < batch; ++i) {
    engine.Submit(SubmitArgs{Read{3, g_buf, sizeof(g_buf)}, uint64_t(i)});
  }
  auto reqs = engine.PendingRequests();
  uint64_t user_data[64];
  const size_t n = reqs.size();
  for (size_t i = 0; i < n; ++i) user_data[i] = reqs[i].user_data;
  engine.ConsumeRequests(n);
  for (size_t i = 0; i < n; ++i) engine.HandleCompletion(user_data[i], 64, 0);
  uint64_t events = 0;
  while (auto e = engine.PollEvent()) events += e->res == 64;
  return events;
}

void BM_EngineCycle(benchmark::State& state) {
  const int batch = int(state.range(0));
  Engine engine(Engine::Options{.max_in_flight = 256, .initial_slots = 256});
  Cycle(engine, batch);  // warm up: first use of the vectors
  const uint64_t allocations_before = Allocations();
  uint64_t ops = 0;
  for (auto _ : state) {
    ops += Cycle(engine, batch);
  }
  const uint64_t allocations = Allocations() - allocations_before;
  state.SetItemsProcessed(int64_t(ops));
  state.counters["allocs_per_op"] = ops ? double(allocations) / double(ops) : 0.0;
  state.counters["ns_per_op"] =
      benchmark::Counter(double(ops), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_EngineCycle)->Arg(1)->Arg(32);

// Baseline: the least bookkeeping a loop can do for the same cycle: a tag per
// in-flight op in a flat array, looked up by index on completion.
void BM_BaselineCycle(benchmark::State& state) {
  const int batch = int(state.range(0));
  struct Pending {
    uint64_t tag;
    void* buf;
  };
  std::vector<Pending> table(256);
  std::vector<uint64_t> queue(256);
  uint64_t ops = 0;
  for (auto _ : state) {
    for (int i = 0; i < batch; ++i) {
      table[i] = Pending{uint64_t(i), g_buf};
      queue[i] = uint64_t(i);
    }
    benchmark::DoNotOptimize(queue.data());
    for (int i = 0; i < batch; ++i) {
      const Pending& p = table[queue[i]];
      ops += p.buf == g_buf;
    }
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(int64_t(ops));
}
BENCHMARK(BM_BaselineCycle)->Arg(1)->Arg(32);

}  // namespace
}  // namespace ringloop

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
