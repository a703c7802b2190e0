// bench/cross_loop_bench.cc: the latency of a post from one loop's thread to
// another's, woken by IORING_OP_MSG_RING or by the target's eventfd.
//
// Workload: a LoopGroup of two loops; a function posted from loop 0 to loop 1
// posts one back to loop 0: one round trip, two cross-thread wake-ups (each
// loop is blocked in its driver when the post arrives). An iteration is 1000
// round trips, timed from outside the group (real time). Cases: both loops on
// io_uring, waking with MSG_RING (the default) or with the eventfd
// (LoopOptions::msg_ring_wake = false); both on epoll (eventfd). The summary
// prints microseconds per round trip and MSG_RING / eventfd.
//
// `make bench` pins the process to one CPU: both threads then share it, and a
// wake-up includes a context switch. Run it unpinned too (bazel run
// --config=opt //bench:cross_loop_bench) for the two-CPU figure.
#include <cstdio>
#include <functional>
#include <future>
#include <string>

#include "bench/rate_reporter.h"
#include "benchmark/benchmark.h"
#include "ringloop/runtime/loop_group.h"

namespace ringloop {
namespace {

constexpr int kTripsPerIteration = 1000;

// Trips: `n` round trips between loops 0 and 1, started and ended on loop 0.
void Trips(LoopGroup& group, int n) {
  std::promise<void> done;
  std::function<void(int)> ping = [&](int left) {
    if (left == 0) {
      done.set_value();
      return;
    }
    group.Post(1, [&, left] { group.Post(0, [&, left] { ping(left - 1); }); });
  };
  group.Post(0, [&] { ping(n); });
  done.get_future().wait();
}

// Args: {driver (0 uring, 1 epoll), msg_ring_wake}.
void BM_CrossLoopRoundTrip(benchmark::State& state) {
  LoopGroupOptions options;
  options.threads = 2;
  options.loop.driver = state.range(0) == 0 ? DriverChoice::kUring : DriverChoice::kEpoll;
  options.loop.log_driver_choice = false;
  options.loop.msg_ring_wake = state.range(1) != 0;
  auto group = LoopGroup::Create(options);
  if (!group.ok()) return state.SkipWithError(std::string(group.status().message()).c_str());
  Trips(**group, 100);  // warm-up
  const WakeupStats before = (*group)->loop(1).wakeups();
  for (auto _ : state) Trips(**group, kTripsPerIteration);
  const WakeupStats after = (*group)->loop(1).wakeups();
  const double trips = double(state.iterations()) * kTripsPerIteration;
  state.SetItemsProcessed(int64_t(trips));
  state.counters["msg_ring_wakes_per_trip"] = double(after.msg_ring - before.msg_ring) / trips;
  state.counters["eventfd_wakes_per_trip"] = double(after.driver - before.driver) / trips;
}

BENCHMARK(BM_CrossLoopRoundTrip)
    ->ArgNames({"epoll", "msg_ring"})
    ->Args({0, 1})
    ->Args({0, 0})
    ->Args({1, 0})
    ->Repetitions(7)
    ->MinTime(0.3)
    ->UseRealTime()
    ->DisplayAggregatesOnly(true);

void PrintSummary(const RateReporter& rates) {
  const auto msg_ring = rates.Rate("BM_CrossLoopRoundTrip/epoll:0/msg_ring:1/real_time");
  const auto eventfd = rates.Rate("BM_CrossLoopRoundTrip/epoll:0/msg_ring:0/real_time");
  const auto epoll = rates.Rate("BM_CrossLoopRoundTrip/epoll:1/msg_ring:0/real_time");
  std::printf("\ncross-loop round trip (post there, post back), medians:\n");
  if (msg_ring) std::printf("  io_uring, MSG_RING wake-ups: %6.2f us\n", 1e6 / *msg_ring);
  if (eventfd) std::printf("  io_uring, eventfd wake-ups:  %6.2f us\n", 1e6 / *eventfd);
  if (epoll) std::printf("  epoll, eventfd wake-ups:     %6.2f us\n", 1e6 / *epoll);
  if (msg_ring && eventfd) {
    std::printf("  MSG_RING time / eventfd time: %.3f\n", *eventfd / *msg_ring);
  }
}

}  // namespace
}  // namespace ringloop

int main(int argc, char** argv) {
  return ringloop::RunWithRatios(argc, argv, ringloop::PrintSummary);
}
