// ringloop/testing/sim_test_test.cc: the harness's own tests: replay, the free checks
// (liveness, leaks), the determinism mode, shrinking, and RINGLOOP_BUGGIFY.
#include "ringloop/testing/sim_test.h"

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "ringloop/runtime/buggify.h"
#include "ringloop/runtime/io.h"

namespace ringloop::testing {
namespace {

using sim::Fault;

SimTestOptions Only(std::initializer_list<Fault> faults, uint16_t permille) {
  SimTestOptions o;
  o.faults = {};
  for (const Fault f : faults) o.faults[f] = permille;
  o.swarm = false;
  return o;
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Pump: writes 64 KiB into a pipe in 4 KiB writes and reads it back, with
// short reads and writes handled; closes both ends.
Task<void> Pump(SimRun& run) {
  const auto [r, w] = run.sim().Pipe(8192);
  std::string data(1 << 16, 'x');
  for (size_t i = 0; i < data.size(); ++i) data[i] = char(i * 7);
  std::string got;
  size_t sent = 0;
  char buf[4096];
  while (got.size() < data.size()) {
    if (sent < data.size()) {
      const uint32_t n = uint32_t(std::min<size_t>(4096, data.size() - sent));
      Result wr = co_await Io(Write{w, data.data() + sent, n});
      if (wr.ok()) sent += size_t(wr.value());
    }
    Result rd = co_await Io(Read{r, buf, sizeof(buf)});
    if (rd.ok()) got.append(buf, size_t(rd.value()));
  }
  EXPECT_TRUE(got == data);
  co_await CloseFd(r);
  co_await CloseFd(w);
}

TEST(SimTestTest, ASeedReplaysByteIdenticallyTwice) {
  const SimTestOptions options = Only({Fault::kShortIo, Fault::kCqOverflow}, 200);
  const SimConfig config = ExpandSeed(5, options);
  const SimOutcome a = RunOnce(Pump, config, options);
  const SimOutcome b = RunOnce(Pump, config, options);
  EXPECT_FALSE(a.failed()) << absl::StrJoin(a.failures, "\n");
  EXPECT_GT(a.trace.size(), 100u);
  EXPECT_GT(a.faults.size(), 0u);  // the faults did strike
  EXPECT_EQ(FirstDifference(a.trace, b.trace), "");
  EXPECT_EQ(a.trace.Hash(), b.trace.Hash());
  EXPECT_EQ(sim::ChromeTraceJson(a.trace), sim::ChromeTraceJson(b.trace));
  // Another seed is another run.
  const SimOutcome c = RunOnce(Pump, ExpandSeed(6, options), options);
  EXPECT_NE(a.trace.Hash(), c.trace.Hash());
}

TEST(SimTestTest, APassingBodyPassesEverySeedWithSwarmPlans) {
  SimTestOptions options;  // the default faults, swarm
  options.faults = {};
  for (const Fault f :
       {Fault::kShortIo, Fault::kCqOverflow, Fault::kSubmitBusy, Fault::kDuplicateCqe}) {
    options.faults[f] = sim::kDefaultFaultPermille;
  }
  options.seeds = 20;
  const SimReport report = RunSeeds(Pump, options);
  EXPECT_EQ(report.seeds_run, 20u);
  EXPECT_FALSE(report.failing_seed.has_value()) << report.text;
  // Swarm: seeds differ in which faults they enable.
  EXPECT_NE(ExpandSeed(1, options).faults, ExpandSeed(2, options).faults);
}

// A planted liveness bug: a read on a pipe nobody writes to.
TEST(SimTestTest, APlantedLivenessBugIsReportedWithOpFdAndTime) {
  int read_fd = -1;
  const SimBody body = [&read_fd](SimRun& run) -> Task<void> {
    const auto fds = run.sim().Pipe();
    read_fd = fds.first;
    return [](int fd) -> Task<void> {
      char buf[8];
      Result r = co_await Io(Read{fd, buf, sizeof(buf)});
      (void)r;
    }(fds.first);
  };
  SimTestOptions options = Only({}, 0);
  options.seeds = 1;
  options.check_leaks = false;
  const SimReport report = RunSeeds(body, options);
  ASSERT_TRUE(report.failing_seed.has_value());
  EXPECT_TRUE(Contains(report.text, "liveness: the body did not finish within 1m")) << report.text;
  EXPECT_TRUE(
      Contains(report.text, absl::StrCat("read on fd ", read_fd, ", pending since 0 (t=0ns)")))
      << report.text;
  EXPECT_TRUE(Contains(report.text, "after the faults stopped at 10s")) << report.text;
}

// A planted leak: a socket made through the loop and never closed.
TEST(SimTestTest, APlantedFdLeakIsReportedWithFdOpenerAndTime) {
  int leaked = -1;
  const SimBody body = [&leaked](SimRun&) -> Task<void> {
    return [](int* out) -> Task<void> {
      co_await Sleep(absl::Milliseconds(3));
      Result s = co_await Io(ringloop::Socket{});
      *out = s.ok() ? s.value() : -1;
    }(&leaked);
  };
  SimTestOptions options = Only({}, 0);
  options.seeds = 1;
  const SimReport report = RunSeeds(body, options);
  ASSERT_TRUE(report.failing_seed.has_value());
  ASSERT_GE(leaked, 0);
  EXPECT_TRUE(Contains(
      report.text,
      absl::StrCat("leak: fd ", leaked, " is still open at the end, opened by socket at 3ms")))
      << report.text;
}

// A planted nondeterminism: the body's write size depends on a counter that
// outlives the run.
TEST(SimTestTest, APlantedNondeterminismIsReportedAtTheFirstDifferingEvent) {
  static int runs = 0;
  const SimBody body = [](SimRun& run) -> Task<void> {
    return [](SimRun* run) -> Task<void> {
      const auto [r, w] = run->sim().Pipe();
      ++runs;
      const std::string data(size_t(runs), 'n');
      co_await Sleep(absl::Milliseconds(1));
      Result wr = co_await Io(Write{w, data.data(), uint32_t(data.size())});
      EXPECT_TRUE(wr.ok());
      co_await CloseFd(r);
      co_await CloseFd(w);
    }(&run);
  };
  SimTestOptions options = Only({}, 0);
  options.seeds = 1;
  options.check_determinism = false;
  EXPECT_FALSE(RunSeeds(body, options).failing_seed.has_value());  // one run cannot tell
  options.check_determinism = true;
  const SimReport report = RunSeeds(body, options);
  ASSERT_TRUE(report.failing_seed.has_value());
  EXPECT_TRUE(Contains(report.text,
                       "nondeterminism: the same seed ran twice and diverged at "
                       "trace record #"))
      << report.text;
  EXPECT_TRUE(Contains(report.text, "t=1000000")) << report.text;  // when: after the 1 ms sleep
  EXPECT_TRUE(Contains(report.text, "is write on fd ")) << report.text;  // which op, which fd
}

// Fails when any write to the pipe came back short; EINTRs are noise.
Task<void> FailsOnAShortWrite(SimRun& run) {
  const auto [r, w] = run.sim().Pipe(1 << 20);
  const std::string chunk(4096, 'c');
  for (int i = 0; i < 64; ++i) {
    Result wr = co_await Io(Write{w, chunk.data(), uint32_t(chunk.size())});
    if (wr.ok()) {
      EXPECT_EQ(wr.value(), 4096) << "short write " << i;
    }
  }
  co_await CloseFd(r);
  co_await CloseFd(w);
}

TEST(SimTestTest, AShrunkScheduleIsSmallerThanTheOriginalAndStillFails) {
  const SimTestOptions options = Only({Fault::kShortIo, Fault::kEintr}, 100);
  const SimConfig config = ExpandSeed(3, options);
  const SimOutcome first = RunOnce(FailsOnAShortWrite, config, options);
  ASSERT_TRUE(first.failed());
  ASSERT_GT(first.faults.size(), 2u);
  const Shrunk shrunk = Shrink(FailsOnAShortWrite, config, options, first);
  EXPECT_LT(shrunk.keep.size(), first.faults.size());
  EXPECT_EQ(shrunk.keep.size(), 1u);  // one short write is enough
  const SimOutcome again = RunOnce(FailsOnAShortWrite, config, options, shrunk.keep);
  EXPECT_TRUE(again.failed());
  ASSERT_EQ(again.faults.size(), 1u);
  EXPECT_EQ(static_cast<Fault>(again.faults[0].detail), Fault::kShortIo);
  EXPECT_EQ(FirstDifference(again.trace, shrunk.outcome.trace), "");  // the replay is exact
}

TEST(SimTestTest, TheReportNamesSeedConfigurationReplayAndTrace) {
  SimTestOptions options = Only({Fault::kShortIo}, 300);
  options.seeds = 5;
  const SimReport report = RunSeeds(FailsOnAShortWrite, options);
  ASSERT_TRUE(report.failing_seed.has_value());
  const std::string seed = absl::StrCat(*report.failing_seed);
  EXPECT_TRUE(Contains(report.text, absl::StrCat("ringloop sim: seed ", seed, " failed")));
  EXPECT_TRUE(Contains(report.text, "configuration: seed=" + seed + " faults=short_io=300"));
  EXPECT_TRUE(Contains(report.text, "shrunk fault schedule (1 of "));
  EXPECT_TRUE(Contains(report.text, "--test_env=RINGLOOP_SIM_SEED=" + seed +
                                        " --test_env=RINGLOOP_SIM_FAULTS_KEEP="));
  if (std::getenv("TEST_UNDECLARED_OUTPUTS_DIR") != nullptr) {
    EXPECT_TRUE(Contains(report.text, ".seed-" + seed + ".trace.json")) << report.text;
    EXPECT_FALSE(Contains(report.text, "could not be written")) << report.text;
  }
}

// --- RINGLOOP_BUGGIFY ---------------------------------------------------------

bool Site() { return RINGLOOP_BUGGIFY(); }

TEST(BuggifyTest, IsFalseWithoutASimulatedKernel) {
  for (int i = 0; i < 1000; ++i) ASSERT_FALSE(Site());  // no Loop on this thread
  LoopOptions lo;
  lo.driver = DriverChoice::kEpoll;
  lo.log_driver_choice = false;
  auto loop = Loop::Create(lo);
  ASSERT_TRUE(loop.ok()) << loop.status();
  for (int i = 0; i < 1000; ++i) ASSERT_FALSE(Site());  // a real kernel
}

// Fires: how often Site() was true in 200 evaluations under `seed`.
std::vector<bool> Fires(uint64_t seed, uint16_t permille) {
  std::vector<bool> out;
  const SimTestOptions options = Only({Fault::kBuggify}, permille);
  const SimBody body = [&out](SimRun&) -> Task<void> {
    return [](std::vector<bool>* out) -> Task<void> {
      for (int i = 0; i < 200; ++i) out->push_back(Site());
      co_return;
    }(&out);
  };
  EXPECT_FALSE(RunOnce(body, ExpandSeed(seed, options), options).failed());
  return out;
}

TEST(BuggifyTest, UnderTheSimulatorTheSeedChoosesWhenASiteFires) {
  int enabled_seeds = 0;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    const std::vector<bool> a = Fires(seed, 500);
    EXPECT_EQ(a, Fires(seed, 500)) << "seed " << seed;  // same seed, same branches
    const int fired = int(std::count(a.begin(), a.end(), true));
    if (fired > 0) {
      ++enabled_seeds;
      EXPECT_GT(fired, 50) << "seed " << seed;  // ~half of 200 at 500 permille
      EXPECT_LT(fired, 150) << "seed " << seed;
    }
    const std::vector<bool> off = Fires(seed, 0);
    EXPECT_EQ(std::count(off.begin(), off.end(), true), 0);  // the fault off: never
  }
  // Each site is enabled for about half the seeds.
  EXPECT_GT(enabled_seeds, 3);
  EXPECT_LT(enabled_seeds, 17);
}

}  // namespace
}  // namespace ringloop::testing
