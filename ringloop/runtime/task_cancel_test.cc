// ringloop/runtime/task_cancel_test.cc: a scripted coroutine cancelled, or
// dropped, at each of its await points in turn, on the simulated kernel with
// the faults users never see (EINTR, CQ overflow, -EBUSY, duplicate CQEs) and
// its cancel races. After each run: every op had exactly one final event, no
// frame is left (and, under asan, nothing leaked or was used after free: a
// dropped frame's buffers stay valid until their op's final event).
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "ringloop/drivers/sim/sim_driver.h"
#include "ringloop/runtime/io.h"
#include "ringloop/runtime/loop.h"
#include "ringloop/runtime/scope.h"
#include "ringloop/runtime/task.h"
#include "ringloop/runtime/timeout.h"

namespace ringloop {
namespace {

// Progress: what the script has done; shared with the test body.
struct Progress {
  int reached = 0;  // await points reached so far
  int alive = 0;    // script frames alive
  int finished = 0;
};

struct Alive {
  explicit Alive(Progress* p) : p(p) { ++p->alive; }
  ~Alive() { --p->alive; }
  Progress* p;
};

// Inner: a child task with a buffer of its own and two awaits.
Task<int32_t> Inner(int fd, Progress* p) {
  Alive alive(p);
  char buf[64];
  std::memset(buf, 'i', sizeof(buf));
  ++p->reached;
  Result r = co_await Io(Read{fd, buf, sizeof(buf)}, absl::Milliseconds(3));
  ++p->reached;
  co_await Sleep(absl::Microseconds(500));
  co_return r.raw();
}

// Script: K await points of every kind: ops that complete, an op that times
// out, a sleep, a nested task, a child in a Scope that blocks until
// cancelled, a WithTimeout. Results are ignored on purpose: after a cancel
// every later await ends at once, and the script must still end.
Task<void> Script(int r, int w, Progress* p) {
  Alive alive(p);
  char buf[128];
  std::memset(buf, 's', sizeof(buf));
  ++p->reached;
  co_await Io(Write{w, "hello", 5});
  ++p->reached;
  co_await Io(Read{r, buf, 2});
  ++p->reached;
  co_await Sleep(absl::Milliseconds(1));
  ++p->reached;
  co_await Io(Read{r, buf, sizeof(buf)}, absl::Milliseconds(2));
  ++p->reached;
  co_await Inner(r, p);
  {
    Scope scope;
    scope.Spawn([](int fd, Progress* p) -> Task<void> {
      Alive alive(p);
      char child_buf[32];
      co_await Io(Read{fd, child_buf, sizeof(child_buf)});  // no data comes
    }(r, p));
    ++p->reached;
    co_await Io(Write{w, "x", 1});
    scope.Cancel();
    ++p->reached;
    co_await scope.Join();
  }
  ++p->reached;
  co_await WithTimeout(absl::Milliseconds(2), Inner(r, p));
  ++p->reached;
  co_await Io(Nop{});
  ++p->finished;
}

constexpr int kAwaitPoints = 13;  // the number of `++p->reached` in Script and Inner

enum class How { kCancel, kDrop };

struct Case {
  uint64_t seed;
  int point;  // cancel when the script has reached this await point
  int delay;  // ... after this many more loop steps
  How how;
};

std::string Describe(const Case& c) {
  return absl::StrCat("seed=", c.seed, " point=", c.point, " delay=", c.delay,
                      c.how == How::kCancel ? " cancel" : " drop");
}

void RunCase(const Case& c) {
  SCOPED_TRACE(Describe(c));
  sim::SimDriver* sim = nullptr;
  LoopOptions options;
  options.driver = DriverChoice::kEpoll;
  options.log_driver_choice = false;
  options.factories.epoll = [&]() -> absl::StatusOr<std::unique_ptr<Driver>> {
    sim::SimOptions so;
    so.seed = c.seed;
    so.faults[sim::Fault::kEintr] = 100;
    so.faults[sim::Fault::kCqOverflow] = 100;
    so.faults[sim::Fault::kSubmitBusy] = 100;
    so.faults[sim::Fault::kDuplicateCqe] = 100;
    auto d = std::make_unique<sim::SimDriver>(so);
    sim = d.get();
    return std::unique_ptr<Driver>(std::move(d));
  };
  auto created = Loop::Create(options);
  ASSERT_TRUE(created.ok()) << created.status();
  std::unique_ptr<Loop> loop = std::move(*created);
  auto [r, w] = sim->Pipe();
  Progress p;
  {
    auto scope = std::make_unique<Scope>(*loop);
    scope->Spawn(Script(r, w, &p));
    int steps = 0;
    while (p.reached < c.point && p.finished == 0 && steps++ < 10'000) {
      ASSERT_TRUE(loop->RunOnce(/*wait=*/true).ok());
    }
    for (int i = 0; i < c.delay && p.finished == 0; ++i) {
      ASSERT_TRUE(loop->RunOnce(/*wait=*/true).ok());
    }
    if (c.how == How::kCancel) {
      scope->Cancel();
      ASSERT_TRUE(loop->RunUntil([&] { return scope->size() == 0; }, absl::Hours(1)).ok());
    }
    scope.reset();  // kDrop: the script is dropped here, wherever it is
  }
  ASSERT_TRUE(
      loop->RunUntil([&] { return p.alive == 0 && loop->LiveOps() == 0; }, absl::Hours(1)).ok())
      << sim->DescribeInFlight();
  const EngineStats& stats = loop->engine_stats();
  // Exactly once: every op the script started had one final event (a second
  // one would have stopped the process in the Loop's dispatch).
  EXPECT_EQ(stats.final_events, stats.submitted);
  EXPECT_EQ(p.alive, 0);
  loop.reset();
  if (c.how == How::kCancel && c.point > kAwaitPoints) {
    EXPECT_EQ(p.finished, 1);
  }
}

TEST(TaskCancelTest, CancelledAtEveryAwaitPointEveryOpEndsOnceAndNoFrameIsLeft) {
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    for (int point = 1; point <= kAwaitPoints + 1; ++point) {
      for (int delay = 0; delay <= 2; ++delay) {
        RunCase({seed, point, delay, How::kCancel});
        if (HasFatalFailure()) return;
      }
    }
  }
}

TEST(TaskCancelTest, DroppedAtEveryAwaitPointItsFramesLiveUntilTheirOpsEnd) {
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    for (int point = 1; point <= kAwaitPoints + 1; ++point) {
      for (int delay = 0; delay <= 2; ++delay) {
        RunCase({seed, point, delay, How::kDrop});
        if (HasFatalFailure()) return;
      }
    }
  }
}

}  // namespace
}  // namespace ringloop
