// bench/uring_nop_bench.cc: NOP throughput through Engine + UringDriver against a
// raw liburing loop, measured in the same run, at batches of 1 and 32.
//
// Both sides set up the same ring (256 entries, SUBMIT_ALL) and do one
// io_uring_enter per batch (NOPs complete inline during the submit). The raw loop
// is the floor any driver pays: get_sqe/prep/submit_and_wait/reap. The driver side
// is what a runtime pays: Engine::Submit per op, one Poll(wait) per batch (prep,
// one enter, reap into HandleCompletions, AdvanceTime), then PollEvents.
// After the runs it prints driver/raw for each batch size (the goals: >= 0.9 at
// batch 32, >= 0.95 at batch 1), beside an A/A control: the raw loop against a
// second copy of itself, interleaved the same way, whose distance from 1 is the
// noise any ratio of the run carries.
#include <liburing.h>

#include <cstdio>
#include <string>
#include <vector>

#include "bench/rate_reporter.h"
#include "benchmark/benchmark.h"
#include "ringloop/core/engine.h"
#include "ringloop/drivers/uring/uring_driver.h"

namespace ringloop {
namespace {

constexpr unsigned kEntries = 256;

void BM_RawLiburingNop(benchmark::State& state) {
  const unsigned batch = static_cast<unsigned>(state.range(0));
  io_uring ring;
  io_uring_params params{};
  params.flags = IORING_SETUP_SUBMIT_ALL;
  if (io_uring_queue_init_params(kEntries, &ring, &params) != 0) {
    state.SkipWithError("io_uring_queue_init_params failed");
    return;
  }
  uint64_t completed = 0;
  for (auto _ : state) {
    for (unsigned i = 0; i < batch; ++i) {
      io_uring_sqe* sqe = io_uring_get_sqe(&ring);
      io_uring_prep_nop(sqe);
      io_uring_sqe_set_data64(sqe, i);
    }
    io_uring_submit_and_wait(&ring, batch);
    unsigned head;
    unsigned n = 0;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(&ring, head, cqe) {
      completed += static_cast<uint64_t>(cqe->res == 0);
      ++n;
    }
    io_uring_cq_advance(&ring, n);
  }
  benchmark::DoNotOptimize(completed);
  state.SetItemsProcessed(static_cast<int64_t>(completed));
  io_uring_queue_exit(&ring);
}

// BM_RawLiburingNopAA: the A/A control, the same loop under a second name.
void BM_RawLiburingNopAA(benchmark::State& state) { BM_RawLiburingNop(state); }

void BM_DriverNop(benchmark::State& state) {
  const unsigned batch = static_cast<unsigned>(state.range(0));
  UringDriver::Options options;
  options.sq_entries = kEntries;
  absl::StatusOr<std::unique_ptr<UringDriver>> driver = UringDriver::Create(options);
  if (!driver.ok()) {
    state.SkipWithError(std::string(driver.status().message()).c_str());
    return;
  }
  Engine engine;
  std::vector<Event> out(64);
  uint64_t completed = 0;
  for (auto _ : state) {
    for (unsigned i = 0; i < batch; ++i) engine.Submit({Nop{}, i});
    unsigned events = 0;
    while (events < batch) {
      if (!(*driver)->Poll(engine, /*wait=*/true).ok()) {
        state.SkipWithError("Poll failed");
        return;
      }
      while (const size_t n = engine.PollEvents(out)) {
        for (size_t i = 0; i < n; ++i) completed += static_cast<uint64_t>(out[i].res == 0);
        events += static_cast<unsigned>(n);
      }
    }
  }
  benchmark::DoNotOptimize(completed);
  state.SetItemsProcessed(static_cast<int64_t>(completed));
}

// NopRuns: batches of 1 and 32, seven runs each (interleaved by
// RunWithRatios), the median kept for the ratio (one ring per run).
void NopRuns(benchmark::internal::Benchmark* b) {
  b->Arg(1)->Arg(32)->Repetitions(7)->MinTime(0.3)->DisplayAggregatesOnly(true);
}
BENCHMARK(BM_RawLiburingNop)->Apply(NopRuns);
BENCHMARK(BM_RawLiburingNopAA)->Apply(NopRuns);
BENCHMARK(BM_DriverNop)->Apply(NopRuns);

// PrintRatios: driver/raw for each batch size, and the A/A control's raw/raw.
void PrintRatios(const RateReporter& rates) {
  for (const std::string batch : {"1", "32"}) {
    const auto raw = rates.Rate("BM_RawLiburingNop/" + batch);
    const auto drv = rates.Rate("BM_DriverNop/" + batch);
    const auto aa = rates.Rate("BM_RawLiburingNopAA/" + batch);
    if (!raw || !drv) continue;
    std::printf(
        "batch %2s: driver %.2f M nops/s, raw liburing %.2f M nops/s, ratio %.3f (goal >= %s)",
        batch.c_str(), *drv / 1e6, *raw / 1e6, *drv / *raw, batch == "32" ? "0.9" : "0.95");
    if (aa) std::printf(", A/A %.3f", *aa / *raw);
    std::printf("\n");
  }
}

}  // namespace
}  // namespace ringloop

int main(int argc, char** argv) {
  return ringloop::RunWithRatios(argc, argv, ringloop::PrintRatios);
}
