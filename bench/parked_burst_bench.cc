// bench/parked_burst_bench.cc: a burst of parked recvs completing at once, through
// Engine + UringDriver, by completion-queue size.
//
// Ops that wait for readiness are not bounded by the engine (engine.h,
// "Backpressure"), so a server with N idle connections has N recvs parked, and
// when its peers all send at once the kernel has N completions to post. What
// the CQ cannot hold the kernel keeps (IORING_FEAT_NODROP) until the driver
// enters to flush it: slower, never lost. Each run parks `burst` recvs on
// socket pairs (setup, not timed), has every peer write one byte (not timed),
// then times Poll + PollEvents until all `burst` events are in. Arguments:
// CQ entries (the SQ is the Loop's 256), burst size, and 1 for the Loop's ring
// (SINGLE_ISSUER + DEFER_TASKRUN) or 0 for the plain one. Counters: time per
// event, and the driver's overflow flushes per burst.
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <vector>

#include "benchmark/benchmark.h"
#include "ringloop/core/engine.h"
#include "ringloop/drivers/uring/uring_driver.h"

namespace ringloop {
namespace {

void BM_ParkedRecvBurst(benchmark::State& state) {
  const uint32_t cq_entries = static_cast<uint32_t>(state.range(0));
  const int burst = static_cast<int>(state.range(1));
  UringDriver::Options options;
  options.sq_entries = 256;
  options.cq_entries = cq_entries;
  options.single_issuer = state.range(2) != 0;  // as the Loop sets its ring up,
  options.defer_taskrun = state.range(2) != 0;  // or the plain ring it falls back to
  auto driver = UringDriver::Create(options);
  if (!driver.ok()) {
    state.SkipWithError(std::string(driver.status().message()).c_str());
    return;
  }
  std::vector<std::array<int, 2>> pairs(size_t(burst), {-1, -1});
  for (auto& p : pairs) {
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p.data()) != 0) {
      state.SkipWithError("socketpair failed (fd limit?)");
      return;
    }
  }
  std::vector<char> bufs(static_cast<size_t>(burst));
  std::vector<Event> events(1024);
  Engine engine;
  uint64_t flushes = 0;
  for (auto _ : state) {
    state.PauseTiming();
    for (int i = 0; i < burst; ++i) {
      engine.Submit(SubmitArgs{Recv{.fd = pairs[size_t(i)][0], .buf = &bufs[size_t(i)], .len = 1},
                               uint64_t(i)});
    }
    (void)(*driver)->PollFor(engine, 0);  // every recv parks
    for (auto& p : pairs) (void)!write(p[1], "x", 1);
    const uint64_t flushes_before = (*driver)->stats().overflow_flushes;
    state.ResumeTiming();
    int done = 0;
    while (done < burst) {
      if (!(*driver)->Poll(engine, /*wait=*/true).ok()) {
        state.SkipWithError("Poll failed");
        break;
      }
      while (const size_t n = engine.PollEvents(events)) done += int(n);
    }
    flushes += (*driver)->stats().overflow_flushes - flushes_before;
  }
  state.counters["ns_per_event"] =
      benchmark::Counter(double(state.iterations()) * burst,
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["flushes_per_burst"] = double(flushes) / double(state.iterations());
  for (auto& p : pairs) {
    close(p[0]);
    close(p[1]);
  }
}

BENCHMARK(BM_ParkedRecvBurst)
    ->ArgsProduct({{512, 4096, 16384}, {256, 2048, 8000}, {1, 0}})
    ->Iterations(20)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace ringloop

BENCHMARK_MAIN();
