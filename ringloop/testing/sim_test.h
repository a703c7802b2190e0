// ringloop/testing/sim_test.h: a service's own code under the simulated kernel, over
// many seeds, with faults; a failure comes back with its seed, its configuration,
// the command that replays it alone, a trace, and the fewest faults that still fail.
//
//   TEST(KvTest, SurvivesFaults) {
//     ringloop::testing::ForEachSeed([](ringloop::testing::SimRun& run) -> ringloop::Task<void> {
//       co_await RunServerAndClients(run);  // EXPECT_* as usual
//     });
//   }
//
// Each seed runs the body as a Task on a fresh Loop on the simulated kernel
// (DriverChoice::kSim): virtual time, and a run that is a pure function of the
// seed. The seed expands to a configuration (SimConfig): with swarm plans (the
// default) each seed enables a random subset of the candidate faults, each at a
// random rate, and a random network jitter.
//
// Phases: for `fault_phase` of virtual time faults strike; then faults stop, the
// network heals (SimDriver::Heal), and the body must finish within
// `liveness_budget` more of virtual time. Otherwise the run fails with every op
// still in the kernel: which op, which fd, since when (liveness).
// After the body finished, every fd still open in the simulated kernel fails the
// run, listed by number and by what opened it (leaks).
//
// A run fails when the body reports a gtest failure (EXPECT_*, ADD_FAILURE; a
// coroutine cannot use ASSERT_*, which returns), throws, or fails either check.
// ForEachSeed stops at the first failing seed, replays it with fewer faults
// (greedy delta debugging over the ordinals of the faults that struck:
// SimOptions::fault_filter) while it still fails, and reports one gtest failure
// with: the seed, the configuration, the original and the shrunk fault schedule,
// the body's failures, the command that replays the shrunk run alone, and the
// path of a Chrome/Perfetto trace of it under TEST_UNDECLARED_OUTPUTS_DIR.
//
// Environment (read by ForEachSeed):
//   RINGLOOP_SIM_SEEDS=K            how many seeds (default 100)
//   RINGLOOP_SIM_SEED=N             run seed N only (the replay command sets it)
//   RINGLOOP_SIM_FAULTS_KEEP=a,b,.. with a seed: only faults with these ordinals
//                                   strike ("none": no fault), as shrinking found
//   RINGLOOP_SIM_CHECK_DETERMINISM=1 run each seed twice and fail at the first
//                                   trace record that differs, naming it
//
// Threads: the calling thread, which must have no Loop of its own.
#ifndef RINGLOOP_TESTING_SIM_TEST_H_
#define RINGLOOP_TESTING_SIM_TEST_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "ringloop/drivers/sim/faults.h"
#include "ringloop/drivers/sim/sim_driver.h"
#include "ringloop/drivers/sim/trace.h"
#include "ringloop/runtime/loop.h"
#include "ringloop/runtime/task.h"

namespace ringloop::testing {

// SimConfig: what one seed expands to.
struct SimConfig {
  uint64_t seed = 1;
  sim::FaultPlan faults;
  uint64_t latency_ns = 50'000;
  uint64_t jitter_ns = 0;
  // ToString: "seed=7 faults=short_io=200,eintr=10 latency_ns=50000 jitter_ns=1234".
  std::string ToString() const;
};

// SimTestOptions: how ForEachSeed runs a body.
struct SimTestOptions {
  // faults: the candidate faults and their rates. With `swarm`, each seed keeps
  // a random subset of them (each with probability 1/2) at a random rate (10,
  // 50 or 200 permille); without, every seed gets exactly this plan.
  sim::FaultPlan faults = DefaultFaults();
  bool swarm = true;
  uint64_t latency_ns = 50'000;
  // max_jitter_ns: each seed draws a jitter in [0, max_jitter_ns] (swarm only).
  uint64_t max_jitter_ns = 200'000;
  absl::Duration fault_phase = absl::Seconds(10);
  absl::Duration liveness_budget = absl::Seconds(60);
  bool check_leaks = true;
  // seeds: how many; 0: RINGLOOP_SIM_SEEDS, else 100. first_seed: the first.
  uint64_t seeds = 0;
  uint64_t first_seed = 1;
  // shrink: replay a failure with fewer faults; at most max_shrink_runs runs.
  bool shrink = true;
  int max_shrink_runs = 200;
  // check_determinism: run each seed twice (RINGLOOP_SIM_CHECK_DETERMINISM=1
  // turns it on too).
  bool check_determinism = false;

  // DefaultFaults: the kernel's faults a service must survive (short reads and
  // writes, EINTR, resets, EPIPE, ENOBUFS, CQ overflow, a busy submission
  // queue, duplicate CQEs, multishot ops ending early) and RINGLOOP_BUGGIFY
  // sites, at kDefaultFaultPermille each.
  static sim::FaultPlan DefaultFaults();
};

// SimRun: the simulated machine one seed runs on, as the body sees it.
class SimRun {
 public:
  SimRun(Loop& loop, const SimConfig& config) : loop_(loop), config_(config) {}
  SimRun(const SimRun&) = delete;
  SimRun& operator=(const SimRun&) = delete;

  // loop / sim: the Loop the body runs on, and its simulated kernel.
  Loop& loop() const { return loop_; }
  sim::SimDriver& sim() const { return *loop_.sim(); }
  const SimConfig& config() const { return config_; }
  // faulting: whether faults may still strike (the fault phase).
  bool faulting() const { return !sim().faults().None(); }

 private:
  Loop& loop_;
  const SimConfig& config_;
};

// SimBody: the test body: a task run once per seed.
using SimBody = std::function<Task<void>(SimRun&)>;

// SimOutcome: one run of a body.
struct SimOutcome {
  bool failed() const { return !failures.empty(); }
  std::vector<std::string> failures;     // one entry per failure, human-readable
  std::vector<sim::TraceRecord> faults;  // the faults that struck, in order
  sim::Trace trace;                      // the whole run
};

// ExpandSeed: the configuration `seed` runs under with `options`.
SimConfig ExpandSeed(uint64_t seed, const SimTestOptions& options);

// RunOnce: runs `body` once under `config`, catching its gtest failures (they
// are returned, not reported). With `keep`, only faults whose ordinal is in it
// strike.
SimOutcome RunOnce(const SimBody& body, const SimConfig& config, const SimTestOptions& options,
                   const std::optional<std::set<uint64_t>>& keep = std::nullopt);

// FirstDifference: "" if `a` and `b` record the same run, else a sentence
// naming the first record that differs, with both versions.
std::string FirstDifference(const sim::Trace& a, const sim::Trace& b);

// Shrunk: the result of shrinking a failing run.
struct Shrunk {
  std::set<uint64_t> keep;  // the fault ordinals left
  SimOutcome outcome;       // the run with only those (still failing)
  int runs = 0;             // replays it took
};

// Shrink: the failing run of `config` (whose faults struck as `failing`),
// replayed with subsets of its faults; the smallest still failing one found.
Shrunk Shrink(const SimBody& body, const SimConfig& config, const SimTestOptions& options,
              const SimOutcome& failing);

// SimReport: what ForEachSeed found.
struct SimReport {
  uint64_t seeds_run = 0;
  std::optional<uint64_t> failing_seed;
  std::string text;  // the failure report ("" when every seed passed)
};

// RunSeeds: the work of ForEachSeed without reporting to gtest (the harness's
// own tests use it). The environment variables apply.
SimReport RunSeeds(const SimBody& body, SimTestOptions options = {});

// ForEachSeed: runs `body` over the seeds and reports the first failing one as
// one gtest failure (see the file comment).
void ForEachSeed(const SimBody& body, SimTestOptions options = {});

// FormatFault: one line for a fault record ("#3 short_io on send fd 6 at t=...").
std::string FormatFault(const sim::TraceRecord& fault);

}  // namespace ringloop::testing

#endif  // RINGLOOP_TESTING_SIM_TEST_H_
