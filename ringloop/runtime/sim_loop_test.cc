// ringloop/runtime/sim_loop_test.cc: a Loop on the simulated kernel chosen through
// LoopOptions: callbacks, tasks and scopes run on it, time is virtual, and a run is
// a pure function of its seed.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "ringloop/drivers/sim/sim_driver.h"
#include "ringloop/runtime/io.h"
#include "ringloop/runtime/loop.h"
#include "ringloop/runtime/scope.h"
#include "ringloop/runtime/task.h"

namespace ringloop {
namespace {

std::unique_ptr<Loop> SimLoop(uint64_t seed) {
  LoopOptions options;
  options.driver = DriverChoice::kSim;
  options.log_driver_choice = false;
  options.sim.seed = seed;
  auto loop = Loop::Create(options);
  EXPECT_TRUE(loop.ok()) << loop.status();
  return std::move(*loop);
}

TEST(SimLoopTest, KSimBuildsTheSimulatedKernelFromLoopOptions) {
  auto loop = SimLoop(7);
  EXPECT_EQ(loop->driver_name(), "sim");
  ASSERT_NE(loop->sim(), nullptr);
  EXPECT_FALSE(loop->fds_are_real());
  EXPECT_NE(loop->driver_reason().find("simulated kernel"), std::string::npos);
}

TEST(SimLoopTest, CallbacksSeePipeDataWrittenThroughTheSimulatedKernel) {
  auto loop = SimLoop(3);
  const auto [rfd, wfd] = loop->sim()->Pipe();
  char buf[8] = {};
  int32_t got = 0;
  bool done = false;
  loop->Submit(Read{rfd, buf, sizeof(buf)}, [&](const Event& e) {
    got = e.res;
    done = true;
  });
  ASSERT_EQ(loop->sim()->WriteFd(wfd, "hello"), 5);
  ASSERT_TRUE(loop->RunUntil([&] { return done; }, absl::Seconds(1)).ok());
  EXPECT_EQ(got, 5);
  EXPECT_EQ(std::string(buf, 5), "hello");
}

Task<std::string> Echo(int fd_in, int fd_out) {
  char buf[16] = {};
  Result r = co_await Io(Read{fd_in, buf, sizeof(buf)});
  if (!r.ok()) co_return r.ToString();
  Result w = co_await Io(Write{fd_out, buf, uint32_t(r.value())});
  if (!w.ok()) co_return w.ToString();
  co_return std::string(buf, size_t(r.value()));
}

Task<void> EchoInto(int fd_in, int fd_out, std::vector<std::string>* seen) {
  seen->push_back(co_await Echo(fd_in, fd_out));
}

Task<void> ReadInto(int fd, std::vector<std::string>* seen) {
  char buf[16] = {};
  Result r = co_await Io(Read{fd, buf, sizeof(buf)});
  seen->push_back(r.ok() ? std::string(buf, size_t(r.value())) : r.ToString());
}

Task<void> EchoAndReadInAScope(int a_r, int b_w, int b_r, std::vector<std::string>* seen) {
  Scope scope;
  scope.Spawn(ReadInto(b_r, seen));
  scope.Spawn(EchoInto(a_r, b_w, seen));
  co_await scope.Join();
}

TEST(SimLoopTest, TasksAndScopesRunOnTheSimulatedKernel) {
  auto loop = SimLoop(11);
  const auto [a_r, a_w] = loop->sim()->Pipe();
  const auto [b_r, b_w] = loop->sim()->Pipe();
  ASSERT_EQ(loop->sim()->WriteFd(a_w, "ping"), 4);
  std::vector<std::string> seen;
  loop->BlockOn(EchoAndReadInAScope(a_r, b_w, b_r, &seen));
  // The reader was spawned first but can only finish after the echo wrote.
  EXPECT_EQ(seen, (std::vector<std::string>{"ping", "ping"}));
}

Task<void> SleepThenNote(absl::Duration d, int note, std::vector<int>* order) {
  Result r = co_await Sleep(d);
  EXPECT_TRUE(r.ok()) << r.ToString();
  order->push_back(note);
}

// Runs an hour-long sleep among two timers; returns the run's trace hash.
uint64_t SleepAnHour(uint64_t seed, uint64_t* elapsed_ns) {
  auto loop = SimLoop(seed);
  const uint64_t start = loop->NowNs();
  std::vector<int> order;
  loop->Sleep(absl::Minutes(30), [&](const Event&) { order.push_back(30); });
  loop->BlockOn(SleepThenNote(absl::Hours(1), 60, &order));
  *elapsed_ns = loop->NowNs() - start;
  EXPECT_EQ(order, (std::vector<int>{30, 60}));
  return loop->sim()->trace().Hash();
}

TEST(SimLoopTest, AnHourOfVirtualTimePassesAtOnceAndTheSameSeedGivesTheSameTrace) {
  const auto wall_start = std::chrono::steady_clock::now();
  uint64_t first_ns = 0;
  uint64_t second_ns = 0;
  const uint64_t first = SleepAnHour(42, &first_ns);
  const uint64_t second = SleepAnHour(42, &second_ns);
  const auto wall = std::chrono::steady_clock::now() - wall_start;
  EXPECT_GE(first_ns, uint64_t(absl::ToInt64Nanoseconds(absl::Hours(1))));
  EXPECT_LT(first_ns, uint64_t(absl::ToInt64Nanoseconds(absl::Hours(1) + absl::Seconds(1))));
  EXPECT_EQ(first_ns, second_ns);
  EXPECT_EQ(first, second);
  // Two virtual hours took well under a minute of wall time (generous for sanitizers).
  EXPECT_LT(wall, std::chrono::seconds(60));
}

TEST(SimLoopTest, KSimWithoutAFactoryFromSelectDriverIsAnError) {
  auto selected = SelectDriver(DriverChoice::kSim, "test", DriverFactories{});
  EXPECT_EQ(selected.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ringloop
