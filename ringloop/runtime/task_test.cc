// ringloop/runtime/task_test.cc: tasks, awaited ops, scopes, timeouts and
// cancellation, on the simulated kernel (several seeds) and on both real
// drivers.
#include "ringloop/runtime/task.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "ringloop/runtime/io.h"
#include "ringloop/runtime/loop.h"
#include "ringloop/runtime/scope.h"
#include "ringloop/runtime/testing/backends.h"
#include "ringloop/runtime/timeout.h"

namespace ringloop {
namespace {

using testing::BackendName;
using testing::Backends;

class TaskTest : public testing::BackendTest {};

Task<int> Add(int a, int b) { co_return a + b; }

Task<int> AddTwice(int a) {
  const int once = co_await Add(a, a);
  co_return co_await Add(once, once);
}

TEST_P(TaskTest, BlockOnReturnsTheValueOfNestedAwaits) {
  EXPECT_EQ(loop().BlockOn(AddTwice(3)), 12);
}

Task<int> Depth(int n) {
  if (n == 0) co_return 0;
  co_return 1 + co_await Depth(n - 1);
}

Task<long> ManySequential(int n) {
  long sum = 0;
  for (int i = 0; i < n; ++i) sum += co_await Add(i, 1);
  co_return sum;
}

// Symmetric transfer: each await hands control straight to the awaited frame
// and back, so neither a deep chain nor a long run of awaits that complete at
// once grows the thread's stack (without it, 1e6 awaits overflow 8 MiB).
TEST_P(TaskTest, LongChainsOfAwaitsDoNotGrowTheStack) {
  EXPECT_EQ(loop().BlockOn(Depth(100'000)), 100'000);
  EXPECT_EQ(loop().BlockOn(ManySequential(1'000'000)), 500'000'500'000L);
}

Task<std::string> Echo(int read_fd, int write_fd) {
  char buf[16];
  Result w = co_await Io(Write{write_fd, "ping", 4});
  if (!w.ok()) co_return w.ToString();
  Result r = co_await Io(Read{read_fd, buf, sizeof(buf)});
  if (!r.ok()) co_return r.ToString();
  co_return std::string(buf, size_t(r.value()));
}

TEST_P(TaskTest, IoAwaitsOpsAndReturnsTheirResults) {
  auto [r, wfd] = Pipe();
  EXPECT_EQ(loop().BlockOn(Echo(r, wfd)), "ping");
}

Task<Result> ReadWithTimeout(int fd, absl::Duration timeout) {
  char buf[8];
  co_return co_await Io(Read{fd, buf, sizeof(buf)}, timeout);
}

TEST_P(TaskTest, AnOpTimeoutEndsItTimedOutNoEarlierThanTheDeadline) {
  auto [r, wfd] = Pipe();
  (void)wfd;
  const uint64_t start = loop().NowNs();
  Result res = loop().BlockOn(ReadWithTimeout(r, absl::Milliseconds(20)));
  EXPECT_TRUE(res.timed_out()) << res.ToString();
  EXPECT_GE(loop().NowNs() - start, 20'000'000u);
  EXPECT_EQ(res.fd(), r);
  EXPECT_EQ(res.kind(), OpKind::kRead);
}

Task<void> SleepThen(std::vector<int>* order, int id, absl::Duration d) {
  Result r = co_await Sleep(d);
  EXPECT_TRUE(r.ok()) << r.ToString();
  order->push_back(id);
}

TEST_P(TaskTest, SleepsEndInDeadlineOrder) {
  std::vector<int> order;
  loop().BlockOn(WithScope([&](Scope& s) -> Task<void> {
    s.Spawn(SleepThen(&order, 3, absl::Milliseconds(30)));
    s.Spawn(SleepThen(&order, 1, absl::Milliseconds(10)));
    s.Spawn(SleepThen(&order, 2, absl::Milliseconds(20)));
    co_return;
  }));
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

Task<void> YieldAndRecord(std::vector<std::string>* log, std::string name, int rounds) {
  for (int i = 0; i < rounds; ++i) {
    log->push_back(absl::StrCat(name, i));
    co_await Yield();
  }
}

TEST_P(TaskTest, YieldLetsOtherReadyTasksRun) {
  std::vector<std::string> log;
  loop().BlockOn(WithScope([&](Scope& s) -> Task<void> {
    s.Spawn(YieldAndRecord(&log, "a", 3));
    s.Spawn(YieldAndRecord(&log, "b", 3));
    co_return;
  }));
  EXPECT_EQ(log, (std::vector<std::string>{"a0", "b0", "a1", "b1", "a2", "b2"}));
}

// ReadOnce: a read on `fd`, its result recorded.
Task<void> ReadOnce(int fd, std::vector<int32_t>* results) {
  char buf[8];
  Result r = co_await Io(Read{fd, buf, sizeof(buf)});
  results->push_back(r.raw());
}

TEST_P(TaskTest, CancellingAScopeEndsItsChildrensOpsThroughTheEngine) {
  std::vector<int32_t> results;
  std::vector<int> reads;
  for (int i = 0; i < 3; ++i) reads.push_back(Pipe().first);
  loop().BlockOn(WithScope([&](Scope& outer) -> Task<void> {
    Scope inner;
    for (int fd : reads) inner.Spawn(ReadOnce(fd, &results));
    EXPECT_EQ(inner.size(), 3u);
    co_await Sleep(absl::Milliseconds(5));  // the reads are parked in the kernel now
    inner.Cancel();
    co_await inner.Join();
    EXPECT_EQ(inner.size(), 0u);
    (void)outer;
  }));
  EXPECT_EQ(results, (std::vector<int32_t>{-ECANCELED, -ECANCELED, -ECANCELED}));
}

Task<Result> WriteAfterCancel(int fd) {
  Scope scope;
  Result result(0, OpKind::kNop, -1);
  scope.Cancel();
  scope.Spawn([](int fd, Result* out) -> Task<void> {
    EXPECT_TRUE(IsCancelled());
    *out = co_await Io(Write{fd, "lost", 4});
  }(fd, &result));
  co_await scope.Join();
  co_return result;
}

TEST_P(TaskTest, AnOpAwaitedUnderCancellationEndsAtOnceWithoutReachingTheKernel) {
  auto [r, wfd] = Pipe();
  Result res = loop().BlockOn(WriteAfterCancel(wfd));
  EXPECT_TRUE(res.cancelled()) << res.ToString();
  EXPECT_EQ(PeerRead(r), "");  // the write never happened
}

Task<std::string> ReadAll(int fd, int n) {
  std::string out;
  char buf[4];
  for (int i = 0; i < n; ++i) {
    Result r = co_await Io(Read{fd, buf, 1});
    if (!r.ok()) co_return "error";
    out.append(buf, size_t(r.value()));
  }
  co_return out;
}

TEST_P(TaskTest, WithTimeoutReturnsTheValueWhenTheTaskIsInTime) {
  auto [r, wfd] = Pipe();
  PeerWrite(wfd, "abc");
  std::optional<std::string> got = loop().BlockOn(WithTimeout(absl::Seconds(10), ReadAll(r, 3)));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, "abc");
}

TEST_P(TaskTest, WithTimeoutCancelsALateTaskAndReturnsNothing) {
  auto [r, wfd] = Pipe();
  PeerWrite(wfd, "a");  // one of the three bytes: the task must wait
  const uint64_t start = loop().NowNs();
  std::optional<std::string> got =
      loop().BlockOn(WithTimeout(absl::Milliseconds(30), ReadAll(r, 3)));
  EXPECT_FALSE(got.has_value());
  EXPECT_GE(loop().NowNs() - start, 30'000'000u);
  // The inner read was cancelled through the engine: a later byte is still there.
  PeerWrite(wfd, "z");
  EXPECT_EQ(loop().BlockOn(ReadAll(r, 1)), "z");
}

Task<void> Forever(int fd) {
  char buf[1];
  co_await Io(Read{fd, buf, 1});
}

TEST_P(TaskTest, WithTimeoutOnAVoidTaskSaysWhetherItFinished) {
  auto [r, wfd] = Pipe();
  (void)wfd;
  EXPECT_FALSE(loop().BlockOn(WithTimeout(absl::Milliseconds(5), Forever(r))));
  EXPECT_TRUE(loop().BlockOn(WithTimeout(absl::Seconds(5), []() -> Task<void> { co_return; }())));
}

// Sentinel: counts frames alive; one lives in each frame of the tests below.
struct Sentinel {
  explicit Sentinel(int* alive) : alive(alive) { ++*alive; }
  ~Sentinel() { --*alive; }
  int* alive;
};

// HoldsABuffer: a read into a buffer that lives in this frame, behind one
// level of awaits (so the parked chain has two frames).
Task<void> ReadIntoFrame(int fd, int* alive, std::string* seen) {
  Sentinel s(alive);
  char buf[16];
  std::memset(buf, 0, sizeof(buf));
  Result r = co_await Io(Read{fd, buf, sizeof(buf)});
  // Never reached for a dropped task: a parked frame is not resumed.
  *seen = r.ok() ? std::string(buf, size_t(r.value())) : r.ToString();
}

Task<void> Outer(int fd, int* alive, std::string* seen) {
  Sentinel s(alive);
  co_await ReadIntoFrame(fd, alive, seen);
}

TEST_P(TaskTest, ADroppedTaskIsParkedUntilItsOpEndsAndNeverResumed) {
  auto [r, wfd] = Pipe();
  int alive = 0;
  std::string seen = "untouched";
  {
    Scope scope(loop());
    scope.Spawn(Outer(r, &alive, &seen));
    ASSERT_TRUE(loop().RunOnce(/*wait=*/false).ok());
    EXPECT_EQ(alive, 2);
  }  // the Scope is left with its child running: the child is dropped
  // Parked: both frames (and the buffer) live until the read's final event.
  EXPECT_EQ(alive, 2);
  PeerWrite(wfd, "x");  // the read may complete with it, or be cancelled first
  ASSERT_TRUE(loop().RunUntil([&] { return alive == 0; }, absl::Seconds(10)).ok());
  EXPECT_EQ(seen, "untouched");
}

TEST_P(TaskTest, SpawnedTasksAreCancelledAndAwaitedWhenTheLoopGoes) {
  auto [r, wfd] = Pipe();
  (void)wfd;
  int alive = 0;
  std::vector<int32_t> results;
  loop().Spawn([](int fd, int* alive, std::vector<int32_t>* results) -> Task<void> {
    Sentinel s(alive);
    char buf[4];
    Result res = co_await Io(Read{fd, buf, sizeof(buf)});
    results->push_back(res.raw());
  }(r, &alive, &results));
  ASSERT_TRUE(loop().RunOnce(/*wait=*/false).ok());
  EXPECT_EQ(alive, 1);
  DestroyLoop();
  EXPECT_EQ(alive, 0);
  EXPECT_EQ(results, (std::vector<int32_t>{-ECANCELED}));
}

TEST_P(TaskTest, RunForRunsForTheGivenTimeAndRunUntilStopsWhenDone) {
  const uint64_t start = loop().NowNs();
  ASSERT_TRUE(loop().RunFor(absl::Milliseconds(15)).ok());
  EXPECT_GE(loop().NowNs() - start, 15'000'000u);

  bool done = false;
  loop().Sleep(absl::Milliseconds(5), [&](const Event&) { done = true; });
  EXPECT_TRUE(loop().RunUntil([&] { return done; }, absl::Seconds(10)).ok());
  EXPECT_TRUE(done);

  auto [r, wfd] = Pipe();
  (void)wfd;
  char buf[1];
  loop().Submit(Read{r, buf, 1}, [](const Event&) {});  // parked forever
  const absl::Status late = loop().RunUntil([] { return false; }, absl::Milliseconds(10));
  EXPECT_TRUE(absl::IsDeadlineExceeded(late)) << late;
}

INSTANTIATE_TEST_SUITE_P(AllDrivers, TaskTest, ::testing::ValuesIn(Backends()), BackendName);

LoopOptions EpollOptions() {
  LoopOptions options;
  options.driver = DriverChoice::kEpoll;
  options.log_driver_choice = false;
  return options;
}

// Misuse stops the process with a sentence that names the mistake and the fix.
TEST(LoopMisuseDeathTest, CallingFromAnotherThreadNamesTheMistake) {
  auto loop = Loop::Create(EpollOptions());
  ASSERT_TRUE(loop.ok());
  Loop* l = loop->get();
  EXPECT_DEATH(
      {
        std::thread t([l] { l->Submit(Nop{}, [](const Event&) {}); });
        t.join();
      },
      "Loop::Submit called from thread [0-9]+, not the loop's thread [0-9]+.*use Loop::Post");
}

TEST(LoopMisuseDeathTest, LeavingAScopeWithRunningChildrenInsideATaskNamesTheFix) {
  auto loop = Loop::Create(EpollOptions());
  ASSERT_TRUE(loop.ok());
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  EXPECT_DEATH((*loop)->BlockOn([](int fd) -> Task<void> {
    Scope scope;
    scope.Spawn(Forever(fd));
    co_return;
  }(p[0])),
               "Scope was left with 1 child task.*co_await scope.Join\\(\\)");
  ::close(p[0]);
  ::close(p[1]);
}

}  // namespace
}  // namespace ringloop
