// bench/epoll_pingpong_bench.cc: ping-pong through Engine + EpollDriver (and through
// the Loop on the epoll driver) against a hand-written epoll loop, in the same run.
//
// Workload: two endpoints on one thread. A writes a 64-byte message, B reads it
// and writes it back, A reads it: one round trip (one iteration). Transports: two
// pipes (read/write) or one AF_UNIX stream socket pair (recv/send). Reads go into
// a buffer of `read_size` bytes: 64 (exactly the message) or 4096 (a server's usual
// buffer, larger than the message).
//
// The hand-written loop is the floor a readiness loop pays: nonblocking fds
// registered once, level-triggered, per round trip two epoll_waits, two reads, two
// writes. The driver side is what a user of the engine pays: Engine::Submit per op,
// Poll (requests -> syscalls, epoll_wait, completions -> engine), PollEvents. The Loop side adds
// callbacks (InlineFunction) and tag bookkeeping. After the runs it prints driver/hand and
// loop/hand per case (goal: driver >= 0.9).
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "bench/rate_reporter.h"
#include "bench/socket_mode_settler.h"
#include "benchmark/benchmark.h"
#include "ringloop/core/engine.h"
#include "ringloop/drivers/epoll/epoll_driver.h"
#include "ringloop/runtime/loop.h"

namespace ringloop {
namespace {

constexpr uint32_t kMessage = 64;
constexpr char kMessageBytes[kMessage] = {};  // the content does not matter

// Endpoints: A writes a_out and reads a_in; B reads b_in and writes b_out.
struct Endpoints {
  bool sockets = false;
  int a_out = -1, a_in = -1, b_in = -1, b_out = -1;

  bool Open(bool use_sockets) {
    sockets = use_sockets;
    if (sockets) {
      int s[2];
      if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s) != 0) return false;
      a_out = a_in = s[0];
      b_in = b_out = s[1];
      return true;
    }
    int ab[2], ba[2];
    if (::pipe2(ab, O_CLOEXEC) != 0 || ::pipe2(ba, O_CLOEXEC) != 0) return false;
    a_out = ab[1];
    b_in = ab[0];
    b_out = ba[1];
    a_in = ba[0];
    return true;
  }
  std::vector<int> Fds() const {
    if (sockets) return {a_out, b_in};
    return {a_out, a_in, b_in, b_out};
  }
  void CloseAll() const {
    for (int fd : Fds()) ::close(fd);
  }
  Op ReadOp(int fd, char* buf, uint32_t size) const {
    return sockets ? Op(Recv{fd, buf, size}) : Op(Read{fd, buf, size});
  }
  Op WriteOp(int fd, const char* buf, uint32_t size) const {
    return sockets ? Op(Send{fd, buf, size}) : Op(Write{fd, buf, size});
  }
};

// Buffers: the two read buffers, at the same addresses in every run of every
// loop (page-aligned, one page apart), so that where the heap happens to put
// them cannot make one run, or one loop, faster than another.
struct Buffers {
  alignas(4096) char a[4096];
  alignas(4096) char b[4096];
};
Buffers shared_buffers;  // one loop runs at a time

ssize_t RawRead(const Endpoints& e, int fd, char* buf, size_t n) {
  return e.sockets ? ::recv(fd, buf, n, 0) : ::read(fd, buf, n);
}

ssize_t RawWrite(const Endpoints& e, int fd, const char* buf, size_t n) {
  return e.sockets ? ::send(fd, buf, n, MSG_NOSIGNAL) : ::write(fd, buf, n);
}

// kWarmupTrips: round trips each loop makes before it is timed (and before
// SocketModeSettler::Settle), so that its lazy setup (an fd's first epoll_ctl,
// the engine's tables) is done.
constexpr int kWarmupTrips = 200;

// WarmUpAndSettle: kWarmupTrips of `trip`, then, for socket pairs, Settle.
template <class Trip>
bool WarmUpAndSettle(const Endpoints& e, SocketModeSettler& settler, Trip& trip) {
  for (int i = 0; i < kWarmupTrips; ++i) {
    if (!trip()) return false;
  }
  return !e.sockets || settler.Settle();
}

// BM_HandEpoll: the hand-written reactor. Args: {sockets, read_size}.
void BM_HandEpoll(benchmark::State& state) {
  Endpoints e;
  const size_t read_size = size_t(state.range(1));
  if (!e.Open(state.range(0) != 0)) return state.SkipWithError("pipe/socketpair failed");
  for (int fd : e.Fds()) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u32 = 0;  // B's side
  ::epoll_ctl(ep, EPOLL_CTL_ADD, e.b_in, &ev);
  ev.data.u32 = 1;  // A's side
  ::epoll_ctl(ep, EPOLL_CTL_ADD, e.a_in, &ev);
  char* const a_buf = shared_buffers.a;
  char* const b_buf = shared_buffers.b;
  epoll_event events[8];
  auto trip = [&] {
    if (RawWrite(e, e.a_out, kMessageBytes, kMessage) != kMessage) return false;
    bool back = false;
    while (!back) {
      const int n = ::epoll_wait(ep, events, 8, -1);
      for (int i = 0; i < n; ++i) {
        if (events[i].data.u32 == 0) {
          const ssize_t r = RawRead(e, e.b_in, b_buf, read_size);
          if (r > 0) RawWrite(e, e.b_out, b_buf, size_t(r));
        } else {
          back = RawRead(e, e.a_in, a_buf, read_size) == kMessage;
        }
      }
    }
    return true;
  };
  SocketModeSettler settler;
  if (!WarmUpAndSettle(e, settler, trip)) return state.SkipWithError("warm-up failed");
  uint64_t trips = 0;
  for (auto _ : state) {
    if (!trip()) return state.SkipWithError("write failed");
    ++trips;
  }
  state.SetItemsProcessed(int64_t(trips));
  ::close(ep);
  e.CloseAll();
}

// BM_EngineEpoll: the same exchange through Engine + EpollDriver.
void BM_EngineEpoll(benchmark::State& state) {
  Endpoints e;
  const uint32_t read_size = uint32_t(state.range(1));
  if (!e.Open(state.range(0) != 0)) return state.SkipWithError("pipe/socketpair failed");
  auto driver = EpollDriver::Create();
  if (!driver.ok()) return state.SkipWithError(std::string(driver.status().message()).c_str());
  Engine engine;
  char* const a_buf = shared_buffers.a;
  char* const b_buf = shared_buffers.b;
  Event events[16];
  enum : uint64_t { kA = 1, kB = 2, kWrite = 3 };
  // The requests that never change are built once, as a server re-arming the
  // read of a connection would keep them.
  const SubmitArgs a_read{e.ReadOp(e.a_in, a_buf, read_size), kA};
  const SubmitArgs b_read{e.ReadOp(e.b_in, b_buf, read_size), kB};
  const SubmitArgs a_write{e.WriteOp(e.a_out, kMessageBytes, kMessage), kWrite};
  engine.Submit(b_read);
  engine.Submit(a_read);
  const char* error = nullptr;
  auto trip = [&] {
    engine.Submit(a_write);
    bool back = false;
    while (!back) {
      if (!(*driver)->Poll(engine, /*wait=*/true).ok()) {
        error = "Poll failed";
        return false;
      }
      while (const size_t n = engine.PollEvents(events)) {
        for (size_t i = 0; i < n; ++i) {
          const Event& ev = events[i];
          if (ev.tag == kB && ev.res > 0) {
            engine.Submit({e.WriteOp(e.b_out, b_buf, uint32_t(ev.res)), kWrite});
            engine.Submit(b_read);
          } else if (ev.tag == kA) {
            back = ev.res == int(kMessage);
            if (!back) {
              error = "short or failed read";
              return false;
            }
            engine.Submit(a_read);
          }
        }
      }
    }
    return true;
  };
  SocketModeSettler settler;
  if (!WarmUpAndSettle(e, settler, trip)) {
    return state.SkipWithError(error != nullptr ? error : "settling failed");
  }
  uint64_t trips = 0;
  for (auto _ : state) {
    if (!trip()) return state.SkipWithError(error);
    ++trips;
  }
  state.SetItemsProcessed(int64_t(trips));
  for (int fd : e.Fds()) engine.Close(fd, 0);
  engine.Shutdown();
  for (int i = 0; i < 1000 && !engine.Quiescent(); ++i) {
    (void)(*driver)->Poll(engine, /*wait=*/true);
    while (engine.PollEvent()) {
    }
  }
}

// BM_LoopEpoll: the same exchange through the Loop (callbacks) on the epoll driver.
void BM_LoopEpoll(benchmark::State& state) {
  Endpoints e;
  const uint32_t read_size = uint32_t(state.range(1));
  if (!e.Open(state.range(0) != 0)) return state.SkipWithError("pipe/socketpair failed");
  LoopOptions options;
  options.driver = DriverChoice::kEpoll;
  options.log_driver_choice = false;
  auto loop = Loop::Create(options);
  if (!loop.ok()) return state.SkipWithError(std::string(loop.status().message()).c_str());
  Loop& l = **loop;
  char* const a_buf = shared_buffers.a;
  char* const b_buf = shared_buffers.b;
  bool back = false;
  std::function<void()> b_read = [&] {
    l.Submit(e.ReadOp(e.b_in, b_buf, read_size), [&](const Event& ev) {
      if (ev.res <= 0) return;
      l.Submit(e.WriteOp(e.b_out, b_buf, uint32_t(ev.res)), nullptr);
      b_read();
    });
  };
  std::function<void()> a_read = [&] {
    l.Submit(e.ReadOp(e.a_in, a_buf, read_size), [&](const Event& ev) {
      if (ev.res <= 0) return;
      back = true;
      a_read();
    });
  };
  b_read();
  a_read();
  auto trip = [&] {
    l.Submit(e.WriteOp(e.a_out, kMessageBytes, kMessage), nullptr);
    back = false;
    while (!back) {
      if (!l.RunOnce().ok()) return false;
    }
    return true;
  };
  SocketModeSettler settler;
  if (!WarmUpAndSettle(e, settler, trip)) return state.SkipWithError("warm-up failed");
  uint64_t trips = 0;
  for (auto _ : state) {
    if (!trip()) return state.SkipWithError("RunOnce failed");
    ++trips;
  }
  state.SetItemsProcessed(int64_t(trips));
  for (int fd : e.Fds()) l.Close(fd, nullptr);
  (void)l.RunUntilIdle();
}

// Cases: each case nine times, the median kept for the ratio. Every run opens
// a new pipe or socket pair; a socket pair's run is first settled into the
// kernel's fast accounting state (SocketModeSettler), which otherwise made
// single runs of either loop ~15-20% slower at random. RunWithRatios
// interleaves the runs of all benchmarks, so that drift of the machine hits
// each loop alike. The fastest run of each (the "max" statistic) is printed
// beside the median as a cross-check.
void Cases(benchmark::internal::Benchmark* b) {
  b->Repetitions(9)->MinTime(0.3)->DisplayAggregatesOnly(true);
  AddMaxStatistic(b);
  b->ArgNames({"sockets", "read_size"});
  for (int sockets : {0, 1}) {
    for (int read_size : {64, 4096}) b->Args({sockets, read_size});
  }
}

BENCHMARK(BM_HandEpoll)->Apply(Cases);
BENCHMARK(BM_EngineEpoll)->Apply(Cases);
BENCHMARK(BM_LoopEpoll)->Apply(Cases);

// PrintRatios: engine+driver/hand and loop/hand for each case.
void PrintRatios(const RateReporter& rates) {
  std::printf(
      "\nround trips/s (k), ratio against the hand-written epoll loop "
      "(goal: engine+driver >= 0.9): medians of the runs, and [fastest run against "
      "fastest run]\n");
  for (const char* sockets : {"0", "1"}) {
    for (const char* size : {"64", "4096"}) {
      const std::string args = std::string("/sockets:") + sockets + "/read_size:" + size;
      const auto hand = rates.Rate("BM_HandEpoll" + args);
      const auto engine = rates.Rate("BM_EngineEpoll" + args);
      const auto loop = rates.Rate("BM_LoopEpoll" + args);
      if (!hand || !engine) continue;
      std::printf("%-10s read_size %4s: hand %7.1f  engine+driver %7.1f (%.3f)",
                  sockets[0] == '1' ? "socketpair" : "pipes", size, *hand / 1e3, *engine / 1e3,
                  *engine / *hand);
      if (loop) std::printf("  loop %7.1f (%.3f)", *loop / 1e3, *loop / *hand);
      const auto best_hand = rates.BestRate("BM_HandEpoll" + args);
      const auto best_engine = rates.BestRate("BM_EngineEpoll" + args);
      if (best_hand && best_engine) std::printf("  [best runs %.3f]", *best_engine / *best_hand);
      std::printf("\n");
    }
  }
}

}  // namespace
}  // namespace ringloop

int main(int argc, char** argv) {
  return ringloop::RunWithRatios(argc, argv, ringloop::PrintRatios);
}
