// bench/coro_pingpong_bench.cc: what the coroutine layer costs over callbacks.
//
// Workload: a socket pair (AF_UNIX stream) on one Loop. A sends a 64-byte
// message; B, whose recv is waiting, receives it and sends it back; A receives
// it: one round trip. Both versions issue the same ops in the same order (a
// send, then the recv after it, on either side), so they differ only in how
// the next op is started: from a callback that chains the next Submit
// (Loop::Submit with an InlineFunction), or from a task resumed after
// co_await Io(...) (task.h, io.h). Both run on the io_uring and the epoll
// driver; RunWithRatios interleaves all runs in random order, and the summary
// prints coroutines/callbacks per driver (goal: >= 0.9, i.e. the coroutine
// layer costs at most ~10%).
//
// Allocations: the binary replaces the global operator new; each run reports
// allocs_per_trip over its timed part (goal: 0 for both, steady state).
//
// Instructions (callgrind), with a fixed number of round trips and no
// benchmark library in the way:
//   coro_pingpong_bench --trips=N --variant=coro|callback --driver=uring|epoll
// runs 200 warm-up trips and N timed ones, then prints the allocations per
// trip. Under `valgrind --tool=callgrind`, the difference between two values
// of N, divided by their difference, is the instructions per round trip
// without the setup (docs/performance.md has the figures and the commands).
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <new>
#include <string>

#include "bench/alloc_counter.h"
#include "bench/rate_reporter.h"
#include "bench/socket_mode_settler.h"
#include "benchmark/benchmark.h"
#include "ringloop/runtime/io.h"
#include "ringloop/runtime/loop.h"
#include "ringloop/runtime/scope.h"
#include "ringloop/runtime/task.h"

namespace ringloop {
namespace {

constexpr uint32_t kMessage = 64;
constexpr char kMessageBytes[kMessage] = {};
constexpr int kWarmupTrips = 200;

// Buffers: the read buffers, at the same addresses in every run.
struct Buffers {
  alignas(4096) char a[4096];
  alignas(4096) char b[4096];
};
Buffers shared_buffers;

enum class Variant { kCallbacks, kCoroutines };

// Bench: one loop on one driver, one socket pair, one variant.
class Bench {
 public:
  // Open: false (with `error`) if the loop or the socket pair cannot be made.
  bool Open(bool uring, std::string* error) {
    LoopOptions options;
    options.driver = uring ? DriverChoice::kUring : DriverChoice::kEpoll;
    options.log_driver_choice = false;
    auto loop = Loop::Create(options);
    if (!loop.ok()) {
      *error = std::string(loop.status().message());
      return false;
    }
    loop_ = std::move(*loop);
    int s[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s) != 0) {
      *error = "socketpair failed";
      return false;
    }
    a_ = s[0];
    b_ = s[1];
    return true;
  }

  ~Bench() {
    if (loop_ != nullptr) {
      scope_.reset();  // B's task: cancelled and drained with the loop
      for (int fd : {a_, b_}) loop_->Close(fd, nullptr);
      (void)loop_->RunUntilIdle();
      loop_.reset();
    }
  }

  // Start: B starts echoing (its recv waits).
  void Start(Variant v) {
    variant_ = v;
    if (v == Variant::kCallbacks) {
      EchoRecv();
    } else {
      scope_ = std::make_unique<Scope>(*loop_);
      scope_->Spawn(Echoer(b_, shared_buffers.b));
    }
  }

  // Trips: `n` round trips from A; false if one failed. With `allocations`,
  // it is set to the allocation count once the trips' own setup is done (the
  // pinging task's frame).
  bool Trips(uint64_t n, uint64_t* allocations = nullptr) {
    if (variant_ == Variant::kCallbacks) {
      if (allocations != nullptr) *allocations = Allocations();
      for (uint64_t i = 0; i < n; ++i) {
        if (!CallbackTrip()) return false;
      }
      return true;
    }
    uint64_t left = n;
    Task<bool> pinger = Pinger(a_, shared_buffers.a, [&left] { return left-- > 0; });
    if (allocations != nullptr) *allocations = Allocations();
    return loop_->BlockOn(std::move(pinger));
  }

  // TimedTrips: the benchmark's timed loop, inside one task for coroutines.
  bool TimedTrips(benchmark::State& state, uint64_t* trips, uint64_t* allocations) {
    if (variant_ == Variant::kCallbacks) {
      *allocations = Allocations();
      for (auto _ : state) {
        if (!CallbackTrip()) return false;
        ++*trips;
      }
      return true;
    }
    // Counted after each completed trip, as in the callback loop above.
    bool first = true;
    Task<bool> pinger = Pinger(a_, shared_buffers.a, [&] {
      if (!first) ++*trips;
      first = false;
      return state.KeepRunning();
    });
    *allocations = Allocations();
    return loop_->BlockOn(std::move(pinger));
  }

  // Warm: warm-up trips, then the socket pair settled (as in
  // epoll_pingpong_bench), so that nothing allocates before the timed part.
  bool Warm() { return Trips(kWarmupTrips) && settler_.Settle(); }

  Loop& loop() { return *loop_; }

 private:
  // --- Callbacks: each completion submits the next op. ---
  void EchoRecv() {
    loop_->Submit(Recv{b_, shared_buffers.b, sizeof(shared_buffers.b)}, [this](const Event& e) {
      if (e.res <= 0) return;
      loop_->Submit(Send{b_, shared_buffers.b, uint32_t(e.res)}, [this](const Event& s) {
        if (s.res > 0) EchoRecv();
      });
    });
  }
  bool CallbackTrip() {
    done_ = false;
    ok_ = false;
    loop_->Submit(Send{a_, kMessageBytes, kMessage}, [this](const Event& e) {
      if (e.res != int32_t(kMessage)) {
        done_ = true;
        return;
      }
      loop_->Submit(Recv{a_, shared_buffers.a, sizeof(shared_buffers.a)}, [this](const Event& r) {
        ok_ = r.res == int32_t(kMessage);
        done_ = true;
      });
    });
    while (!done_) {
      if (!loop_->RunOnce().ok()) return false;
    }
    return ok_;
  }

  // --- Coroutines: the same ops, awaited. ---
  static Task<void> Echoer(int fd, char* buf) {
    for (;;) {
      Result r = co_await Io(Recv{fd, buf, sizeof(shared_buffers.b)});
      if (!r.ok() || r.value() == 0) co_return;
      Result s = co_await Io(Send{fd, buf, uint32_t(r.value())});
      if (!s.ok()) co_return;
    }
  }
  // Pinger: A's round trips for as long as `more()` says.
  template <class More>
  static Task<bool> Pinger(int fd, char* buf, More more) {
    while (more()) {
      Result s = co_await Io(Send{fd, kMessageBytes, kMessage});
      if (!s.ok() || s.value() != int32_t(kMessage)) co_return false;
      Result r = co_await Io(Recv{fd, buf, sizeof(shared_buffers.a)});
      if (!r.ok() || r.value() != int32_t(kMessage)) co_return false;
    }
    co_return true;
  }

  std::unique_ptr<Loop> loop_;
  std::unique_ptr<Scope> scope_;
  SocketModeSettler settler_;
  Variant variant_ = Variant::kCallbacks;
  int a_ = -1, b_ = -1;
  bool done_ = false, ok_ = false;
};

// Run: a benchmark run of `variant` on the driver state.range(0) names (0:
// io_uring, 1: epoll).
void Run(benchmark::State& state, Variant variant) {
  Bench bench;
  std::string error;
  if (!bench.Open(state.range(0) == 0, &error)) return state.SkipWithError(error.c_str());
  bench.Start(variant);
  if (!bench.Warm()) return state.SkipWithError("warm-up failed");
  uint64_t trips = 0;
  uint64_t allocations = 0;
  if (!bench.TimedTrips(state, &trips, &allocations)) {
    return state.SkipWithError("a round trip failed");
  }
  state.counters["allocs_per_trip"] =
      double(Allocations() - allocations) / double(trips == 0 ? 1 : trips);
  state.SetItemsProcessed(int64_t(trips));
}

void BM_Callbacks(benchmark::State& state) { Run(state, Variant::kCallbacks); }
void BM_Coroutines(benchmark::State& state) { Run(state, Variant::kCoroutines); }

void Cases(benchmark::internal::Benchmark* b) {
  b->Repetitions(9)->MinTime(0.3)->DisplayAggregatesOnly(true);
  AddMaxStatistic(b);
  b->ArgNames({"epoll"});
  b->Arg(0)->Arg(1);
}

BENCHMARK(BM_Callbacks)->Apply(Cases);
BENCHMARK(BM_Coroutines)->Apply(Cases);

void PrintRatios(const RateReporter& rates) {
  std::printf(
      "\nround trips/s (k), coroutines / callbacks (goal >= 0.9): medians of the runs, and "
      "[fastest run against fastest run]\n");
  for (const char* driver : {"0", "1"}) {
    const std::string args = std::string("/epoll:") + driver;
    const auto callbacks = rates.Rate("BM_Callbacks" + args);
    const auto coroutines = rates.Rate("BM_Coroutines" + args);
    if (!callbacks || !coroutines) continue;
    std::printf("%-6s callbacks %7.1f  coroutines %7.1f  ratio %.3f",
                driver[0] == '0' ? "uring" : "epoll", *callbacks / 1e3, *coroutines / 1e3,
                *coroutines / *callbacks);
    const auto best_callbacks = rates.BestRate("BM_Callbacks" + args);
    const auto best_coroutines = rates.BestRate("BM_Coroutines" + args);
    if (best_callbacks && best_coroutines) {
      std::printf("  [best runs %.3f]", *best_coroutines / *best_callbacks);
    }
    std::printf("\n");
  }
}

// FixedRun: --trips=N --variant=... --driver=...: N timed trips, for callgrind.
int FixedRun(uint64_t trips, const std::string& variant, const std::string& driver) {
  Bench bench;
  std::string error;
  if (!bench.Open(driver == "uring", &error)) {
    std::fprintf(stderr, "%s\n", error.c_str());
    return 1;
  }
  bench.Start(variant == "coro" ? Variant::kCoroutines : Variant::kCallbacks);
  if (!bench.Trips(kWarmupTrips)) return 1;
  uint64_t allocations = 0;
  if (!bench.Trips(trips, &allocations)) return 1;
  std::printf("%s %s: %llu trips, %.3f allocations per trip\n", variant.c_str(), driver.c_str(),
              static_cast<unsigned long long>(trips),
              double(Allocations() - allocations) / double(trips ? trips : 1));
  return 0;
}

}  // namespace
}  // namespace ringloop

int main(int argc, char** argv) {
  uint64_t trips = 0;
  std::string variant = "coro", driver = "uring";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--trips=", 0) == 0) trips = std::strtoull(arg.c_str() + 8, nullptr, 10);
    if (arg.rfind("--variant=", 0) == 0) variant = arg.substr(10);
    if (arg.rfind("--driver=", 0) == 0) driver = arg.substr(9);
  }
  if (trips > 0) return ringloop::FixedRun(trips, variant, driver);
  return ringloop::RunWithRatios(argc, argv, ringloop::PrintRatios);
}
