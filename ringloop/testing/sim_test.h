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
// After the body finished, and the ops it left live ended (the closes a
// cancelled program's sockets and files started: up to a second of virtual
// time), every fd still open in the simulated kernel fails the run, listed by
// number and by what opened it (leaks).
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
// Programs: a body may run several programs on the one simulated machine, a
// server and its clients say, each its own task tree (SimRun::RunProgram) and
// its own process of the simulated kernel: the ops its tasks submit, the fds
// and sockets they make and the file data they write are its own. Two faults
// act on programs, off unless named in SimTestOptions::faults:
//   kCrash      a running program crashes: its ops in the kernel end, its fds
//               close as exit(2) closes them (peers see FIN or RST), the file
//               writes it made since the file's last fsync are lost (all, or
//               all but a prefix), its tasks are cancelled; after
//               `restart_delay` it starts again, as a new process, with its
//               restart count one higher;
//   kPartition  the network between two running programs is cut: what one
//               sends the other waits, and connects wait, until the cut heals
//               (after a drawn time up to `max_partition`, and always when the
//               fault phase ends).
// They are drawn every `program_fault_interval` of virtual time during the
// fault phase, through the fault stream like every other fault: replayed by
// the seed, shrunk by ordinal, listed in the fault schedule ("#4 crash of
// server#0") and in the trace. A test can also crash a program or cut the
// network itself (SimRun::Crash, SimRun::Partition).
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
#include <map>
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
  // Programs (see the file comment): how often kCrash and kPartition are
  // drawn, how long a crashed program stays down, and the longest partition.
  absl::Duration program_fault_interval = absl::Milliseconds(100);
  absl::Duration restart_delay = absl::Milliseconds(100);
  absl::Duration max_partition = absl::Seconds(2);

  // DefaultFaults: the kernel's faults a service must survive (short reads and
  // writes, EINTR, resets, EPIPE, ENOBUFS, CQ overflow, a busy submission
  // queue, duplicate CQEs, multishot ops ending early) and RINGLOOP_BUGGIFY
  // sites, at kDefaultFaultPermille each.
  static sim::FaultPlan DefaultFaults();
};

// ProgramMain: a program's entry point: the Loop it runs on, and how many
// times it was restarted after a crash (0 the first time). A program that
// survives crashes keeps what it needs in files it fsyncs.
using ProgramMain = std::function<Task<void>(Loop& loop, int restarts)>;

// SimRun: the simulated machine one seed runs on, as the body sees it.
class SimRun {
 public:
  SimRun(Loop& loop, const SimConfig& config, const SimTestOptions& options = {})
      : loop_(loop), config_(config), options_(options) {}
  ~SimRun();
  SimRun(const SimRun&) = delete;
  SimRun& operator=(const SimRun&) = delete;

  // RunProgram: runs `main` as the program `name` (a name not running now),
  // in its own process, restarting it after every crash; ends when `main`
  // returns without a crash, or when the task is cancelled (cancelling the
  // program). Await it, or spawn it into a Scope for programs that run side by
  // side:
  //   co_await WithScope([&](Scope& s) -> Task<void> {
  //     s.Spawn(run.RunProgram("server", Serve));
  //     co_await run.RunProgram("client", Ask);
  //     s.Cancel();  // the server serves forever
  //   });
  // An exception that leaves `main` fails the run, naming the program.
  Task<void> RunProgram(std::string name, ProgramMain main);
  // Crash: the program `name` crashes now, as the kCrash fault crashes it
  // (though not drawn: shrinking never removes it; events() lists it). False
  // if no program of that name runs (not started, finished, or down after a
  // crash).
  bool Crash(std::string_view name);
  // Partition: cuts the network between programs `a` and `b` (both running)
  // until Heal, or the end of the fault phase. False if either is not running.
  bool Partition(std::string_view a, std::string_view b);
  // Heal: mends every cut.
  void Heal();
  // events: what happened to programs, in order, one line each ("t=... crash
  // server#0 (process 1)"); the failure report prints them.
  const std::vector<std::string>& events() const { return events_; }
  // process_names: the name of every process a program ran as, as
  // "server#1" (name#restarts).
  const std::map<uint32_t, std::string>& process_names() const { return process_names_; }
  // DrawProgramFaults: the task that draws kCrash and kPartition every
  // program_fault_interval while faults strike (RunOnce spawns it when the
  // plan enables either).
  Task<void> DrawProgramFaults();

  // loop / sim: the Loop the body runs on, and its simulated kernel.
  Loop& loop() const { return loop_; }
  sim::SimDriver& sim() const { return *loop_.sim(); }
  const SimConfig& config() const { return config_; }
  // faulting: whether faults may still strike (the fault phase).
  bool faulting() const { return !sim().faults().None(); }

 private:
  struct ProgramState;
  ProgramState* Running(std::string_view name) const;
  void CrashProgram(ProgramState& p, bool drawn);
  void CutApart(ProgramState& a, ProgramState& b);
  void Note(std::string what);
  Task<void> Incarnation(ProgramState& p, const ProgramMain& main);

  Loop& loop_;
  const SimConfig& config_;
  SimTestOptions options_;
  std::vector<ProgramState*> programs_;  // live RunProgram tasks, in start order
  uint32_t next_process_ = 1;
  std::optional<uint64_t> heal_at_ns_;  // a drawn partition's end
  std::vector<std::string> events_;
  std::map<uint32_t, std::string> process_names_;
};

// SimBody: the test body: a task run once per seed.
using SimBody = std::function<Task<void>(SimRun&)>;

// SimOutcome: one run of a body.
struct SimOutcome {
  bool failed() const { return !failures.empty(); }
  std::vector<std::string> failures;              // one entry per failure, human-readable
  std::vector<sim::TraceRecord> faults;           // the faults that struck, in order
  sim::Trace trace;                               // the whole run
  std::vector<std::string> program_events;        // SimRun::events
  std::map<uint32_t, std::string> process_names;  // SimRun::process_names
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

// FormatFault: one line for a fault record ("#3 short_io on send fd 6 at t=...",
// "#5 crash of server#0 at t=...", "#6 partition between client#0 and
// server#1 at t=..."), naming processes by `names` (else "process 3").
std::string FormatFault(const sim::TraceRecord& fault,
                        const std::map<uint32_t, std::string>& names = {});

}  // namespace ringloop::testing

#endif  // RINGLOOP_TESTING_SIM_TEST_H_
