// ringloop/testing/sim_test.cc: seeds, phases, the free checks, shrinking and the report.
#include "ringloop/testing/sim_test.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <memory>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest-spi.h"
#include "gtest/gtest.h"
#include "ringloop/drivers/sim/prng.h"
#include "ringloop/runtime/io.h"
#include "ringloop/runtime/scope.h"

namespace ringloop::testing {
namespace {

using sim::Fault;
using sim::TraceRecord;
using sim::TraceType;

constexpr uint64_t kSwarmSalt = 0x5157'4152'4d00'0001ull;  // configuration draws
constexpr uint64_t kFaultSalt = 0x4641'554c'5400'0002ull;  // the fault stream
// kSettleTime: how long, in virtual time, a finished body's leftovers may take to end.
constexpr absl::Duration kSettleTime = absl::Seconds(1);

const char* Env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : nullptr;
}

std::optional<uint64_t> EnvNumber(const char* name) {
  const char* v = Env(name);
  uint64_t n = 0;
  if (v == nullptr || !absl::SimpleAtoi(v, &n)) return std::nullopt;
  return n;
}

std::string FormatKeep(const std::set<uint64_t>& keep) {
  return keep.empty() ? std::string("none") : absl::StrJoin(keep, ",");
}

std::set<uint64_t> Ordinals(const SimOutcome& o) {
  std::set<uint64_t> out;
  for (const TraceRecord& f : o.faults) out.insert(f.aux);
  return out;
}

std::string FormatSchedule(const SimOutcome& o) {
  if (o.faults.empty()) return "    (no fault)\n";
  std::string out;
  for (const TraceRecord& f : o.faults) {
    absl::StrAppend(&out, "    ", FormatFault(f, o.process_names), "\n");
  }
  return out;
}

std::string ProcessName(const std::map<uint32_t, std::string>& names, uint64_t process) {
  auto it = names.find(uint32_t(process));
  return it != names.end() ? it->second : absl::StrCat("process ", process);
}

// Body: the body's task, with its exceptions caught and its end noted.
Task<void> Body(const SimBody& body, SimRun& run, bool* done, std::string* error) {
  try {
    co_await body(run);
  } catch (const std::exception& e) {
    *error = absl::StrCat("the body threw: ", e.what());
  } catch (...) {
    *error = "the body threw a non-std exception";
  }
  *done = true;
}

std::string FormatNs(uint64_t ns) {
  return absl::StrCat(absl::FormatDuration(absl::Nanoseconds(int64_t(ns))), " (t=", ns, "ns)");
}

// OpOf: for the record at `i`, which op its user_data names (the request the
// kernel took for it), as "\n    (ud ...: read on fd 4, taken at ...)", or "".
std::string OpOf(const std::vector<TraceRecord>& records, size_t i) {
  const uint64_t ud = records[i].user_data;
  if (ud == 0) return "";
  for (size_t j = i + 1; j-- > 0;) {
    const TraceRecord& r = records[j];
    if (r.type != TraceType::kRequest || r.user_data != ud) continue;
    return absl::StrFormat("\n    (ud=%x is %s on fd %d, taken at %s)", ud,
                           std::string(OpName(static_cast<OpKind>(r.op_kind))), r.fd,
                           FormatNs(r.time_ns));
  }
  return "";
}

}  // namespace

std::string SimConfig::ToString() const {
  return absl::StrCat("seed=", seed, " faults=", sim::FormatFaults(faults),
                      " latency_ns=", latency_ns, " jitter_ns=", jitter_ns);
}

sim::FaultPlan SimTestOptions::DefaultFaults() {
  sim::FaultPlan plan;
  for (const Fault f : {Fault::kEintr, Fault::kShortIo, Fault::kConnReset, Fault::kEpipe,
                        Fault::kEnobufs, Fault::kCqOverflow, Fault::kSubmitBusy,
                        Fault::kDuplicateCqe, Fault::kMultishotEnd, Fault::kBuggify}) {
    plan[f] = sim::kDefaultFaultPermille;
  }
  return plan;
}

std::string FormatFault(const TraceRecord& f, const std::map<uint32_t, std::string>& names) {
  const Fault fault = static_cast<Fault>(f.detail);
  std::string out = absl::StrCat("#", f.aux, " ", std::string(sim::FaultName(fault)));
  if (fault == Fault::kCrash) {
    absl::StrAppend(&out, " of ", ProcessName(names, f.user_data));
  } else if (fault == Fault::kPartition) {
    absl::StrAppend(&out, " between ", ProcessName(names, f.user_data >> 32), " and ",
                    ProcessName(names, f.user_data & 0xffffffffu));
  } else if (fault != Fault::kBuggify && f.user_data != 0) {
    absl::StrAppend(&out, " on ", std::string(OpName(static_cast<OpKind>(f.op_kind))));
  }
  if (f.fd >= 0) absl::StrAppend(&out, " fd ", f.fd);
  absl::StrAppend(&out, " at ", FormatNs(f.time_ns));
  return out;
}

SimConfig ExpandSeed(uint64_t seed, const SimTestOptions& options) {
  SimConfig c;
  c.seed = seed;
  c.latency_ns = options.latency_ns;
  if (!options.swarm) {
    c.faults = options.faults;
    return c;
  }
  sim::Prng prng(seed ^ kSwarmSalt);
  const sim::FaultPlan swarm = sim::SwarmPlan(prng);
  for (size_t i = 0; i < sim::kFaultCount; ++i) {
    c.faults.permille[i] = options.faults.permille[i] != 0 ? swarm.permille[i] : 0;
  }
  c.jitter_ns = options.max_jitter_ns == 0 ? 0 : prng.Below(options.max_jitter_ns + 1);
  return c;
}

SimOutcome RunOnce(const SimBody& body, const SimConfig& config, const SimTestOptions& options,
                   const std::optional<std::set<uint64_t>>& keep) {
  SimOutcome out;
  LoopOptions lo;
  lo.driver = DriverChoice::kSim;
  lo.log_driver_choice = false;
  lo.sim.seed = config.seed;
  lo.sim.fault_seed = config.seed ^ kFaultSalt;
  lo.sim.faults = config.faults;
  lo.sim.latency_ns = config.latency_ns;
  lo.sim.jitter_ns = config.jitter_ns;
  if (keep.has_value()) {
    lo.sim.fault_filter = [keep = *keep](uint64_t ordinal) { return keep.contains(ordinal); };
  }
  auto created = Loop::Create(std::move(lo));
  if (!created.ok()) {
    out.failures.push_back(absl::StrCat("Loop::Create: ", created.status().ToString()));
    return out;
  }
  std::unique_ptr<Loop> loop = std::move(*created);
  sim::SimDriver& simk = *loop->sim();
  ::testing::TestPartResultArray results;
  {
    // The body's EXPECT_*s land in `results`, not in the running test.
    ::testing::ScopedFakeTestPartResultReporter reporter(
        ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &results);
    SimRun run(*loop, config, options);
    bool done = false;
    std::string error;
    Scope drawing(*loop);
    if (config.faults[Fault::kCrash] != 0 || config.faults[Fault::kPartition] != 0) {
      drawing.Spawn(run.DrawProgramFaults());
    }
    loop->Spawn(Body(body, run, &done, &error));
    absl::Status status = loop->RunUntil([&] { return done; }, options.fault_phase);
    if (!done && (status.ok() || absl::IsDeadlineExceeded(status))) {
      // The fault phase is over: no more faults, and the network heals.
      simk.SetFaults(sim::FaultPlan{});
      run.Heal();
      const uint64_t calm_ns = loop->NowNs();
      status = loop->RunUntil([&] { return done; }, options.liveness_budget);
      if (!done && absl::IsDeadlineExceeded(status)) {
        std::string msg = absl::StrCat("liveness: the body did not finish within ",
                                       absl::FormatDuration(options.liveness_budget),
                                       " of virtual time after the faults stopped at ",
                                       FormatNs(calm_ns), "; ops still in the kernel:");
        const auto pending = simk.InFlightReport();
        if (pending.empty()) absl::StrAppend(&msg, " none (the body waits on itself or a timer)");
        for (const auto& p : pending) {
          absl::StrAppend(&msg, "\n    ", p.op, " on fd ", p.fd, ", pending since ",
                          FormatNs(p.since_ns), " (", p.state, ")");
        }
        out.failures.push_back(std::move(msg));
        status = absl::OkStatus();
      }
    }
    if (!status.ok() && !absl::IsDeadlineExceeded(status)) {
      out.failures.push_back(absl::StrCat("the simulated kernel stopped: ", status.ToString()));
    }
    if (!error.empty()) out.failures.push_back(error);
    if (done) {
      // What the body left ending ends first (the closes a cancelled program's
      // files and sockets started); a parked op that never ends is the leak
      // check's to report, so no error here counts.
      drawing.Cancel();
      (void)loop->RunUntil([&] { return loop->LiveOps() == 0; }, kSettleTime);
    }
    if (done && options.check_leaks) {
      for (const auto& fd : simk.OpenFdReport()) {
        out.failures.push_back(absl::StrCat(
            "leak: fd ", fd.fd, " is still open at the end, opened by ",
            fd.opened_by.empty() ? "?" : fd.opened_by, " at ", FormatNs(fd.opened_ns)));
      }
    }
    // The run's trace up to here; then the Loop goes (it cancels what the body
    // left running; failures its teardown reports still land in `results`).
    out.trace = simk.trace();
    for (const TraceRecord& r : out.trace.records()) {
      if (r.type == TraceType::kFault) out.faults.push_back(r);
    }
    loop.reset();
    out.program_events = run.events();
    out.process_names = run.process_names();
  }
  for (int i = 0; i < results.size(); ++i) {
    const ::testing::TestPartResult& r = results.GetTestPartResult(i);
    if (!r.failed()) continue;
    out.failures.push_back(absl::StrCat(r.file_name() != nullptr ? r.file_name() : "?", ":",
                                        r.line_number(), ": ", r.message()));
  }
  return out;
}

std::string FirstDifference(const sim::Trace& a, const sim::Trace& b) {
  const auto& ra = a.records();
  const auto& rb = b.records();
  const size_t n = std::min(ra.size(), rb.size());
  for (size_t i = 0; i < n; ++i) {
    const TraceRecord& x = ra[i];
    const TraceRecord& y = rb[i];
    const bool same = x.time_ns == y.time_ns && x.user_data == y.user_data && x.aux == y.aux &&
                      x.fd == y.fd && x.res == y.res && x.flags == y.flags && x.type == y.type &&
                      x.req_kind == y.req_kind && x.op_kind == y.op_kind && x.detail == y.detail;
    if (!same) {
      return absl::StrCat("trace record #", i, " differs:\n    first run:  ", sim::Trace::Format(x),
                          "\n    second run: ", sim::Trace::Format(y), OpOf(ra, i));
    }
  }
  if (ra.size() != rb.size()) {
    const bool first_longer = ra.size() > rb.size();
    return absl::StrCat("the ", first_longer ? "second" : "first", " run ended after ", n,
                        " trace records; the other goes on with: ",
                        sim::Trace::Format(first_longer ? ra[n] : rb[n]));
  }
  return "";
}

Shrunk Shrink(const SimBody& body, const SimConfig& config, const SimTestOptions& options,
              const SimOutcome& failing) {
  // Greedy delta debugging (ddmin's complement steps): drop a chunk of the
  // faults; if the run still fails keep the faults that struck in it (a subset
  // of those allowed); else try the next chunk, and finer chunks after a pass
  // that removed nothing.
  Shrunk best;
  best.keep = Ordinals(failing);
  best.outcome = failing;
  size_t parts = 2;
  while (!best.keep.empty() && best.runs < options.max_shrink_runs) {
    const std::vector<uint64_t> keep(best.keep.begin(), best.keep.end());
    parts = std::min(parts, keep.size());
    const size_t chunk = (keep.size() + parts - 1) / parts;
    bool removed = false;
    for (size_t start = 0; start < keep.size() && best.runs < options.max_shrink_runs;
         start += chunk) {
      std::set<uint64_t> candidate;
      for (size_t i = 0; i < keep.size(); ++i) {
        if (i < start || i >= start + chunk) candidate.insert(keep[i]);
      }
      SimOutcome o = RunOnce(body, config, options, candidate);
      ++best.runs;
      if (o.failed()) {
        best.keep = Ordinals(o);
        best.outcome = std::move(o);
        parts = std::max<size_t>(parts - 1, 2);
        removed = true;
        break;
      }
    }
    if (!removed) {
      if (chunk == 1) break;
      parts = std::min(parts * 2, keep.size());
    }
  }
  return best;
}

SimReport RunSeeds(const SimBody& body, SimTestOptions options) {
  SimReport report;
  if (Env("RINGLOOP_SIM_CHECK_DETERMINISM") != nullptr &&
      std::string(Env("RINGLOOP_SIM_CHECK_DETERMINISM")) != "0") {
    options.check_determinism = true;
  }
  uint64_t first = options.first_seed;
  uint64_t count =
      options.seeds != 0 ? options.seeds : EnvNumber("RINGLOOP_SIM_SEEDS").value_or(100);
  std::optional<std::set<uint64_t>> keep;
  if (const auto only = EnvNumber("RINGLOOP_SIM_SEED"); only.has_value()) {
    first = *only;
    count = 1;
    if (const char* k = Env("RINGLOOP_SIM_FAULTS_KEEP"); k != nullptr) {
      keep.emplace();
      for (absl::string_view piece : absl::StrSplit(k, ',', absl::SkipEmpty())) {
        uint64_t n = 0;
        if (absl::SimpleAtoi(piece, &n)) keep->insert(n);
      }
    }
  }
  for (uint64_t seed = first; seed < first + count; ++seed) {
    const SimConfig config = ExpandSeed(seed, options);
    SimOutcome outcome = RunOnce(body, config, options, keep);
    ++report.seeds_run;
    if (!outcome.failed() && options.check_determinism) {
      const SimOutcome again = RunOnce(body, config, options, keep);
      if (std::string diff = FirstDifference(outcome.trace, again.trace); !diff.empty()) {
        outcome.failures.push_back(
            absl::StrCat("nondeterminism: the same seed ran twice and diverged at ", diff));
      }
    }
    if (!outcome.failed()) continue;
    report.failing_seed = seed;
    std::string& t = report.text;
    absl::StrAppend(&t, "ringloop sim: seed ", seed, " failed (", report.seeds_run, " of ", count,
                    " seeds run)\n  configuration: ", config.ToString(), "\n  failures:\n");
    for (const std::string& f : outcome.failures) absl::StrAppend(&t, "    ", f, "\n");
    absl::StrAppend(&t, "  fault schedule (", outcome.faults.size(), " faults):\n",
                    FormatSchedule(outcome));
    std::optional<std::set<uint64_t>> replay_keep = keep;
    const SimOutcome* shown = &outcome;
    Shrunk shrunk;
    if (options.shrink && !keep.has_value() && !outcome.faults.empty()) {
      shrunk = Shrink(body, config, options, outcome);
      replay_keep = shrunk.keep;
      shown = &shrunk.outcome;
      absl::StrAppend(&t, "  shrunk fault schedule (", shrunk.outcome.faults.size(), " of ",
                      outcome.faults.size(), " faults, ", shrunk.runs, " replays):\n",
                      FormatSchedule(shrunk.outcome), "  failures with it:\n");
      for (const std::string& f : shrunk.outcome.failures) absl::StrAppend(&t, "    ", f, "\n");
    }
    if (!shown->program_events.empty()) {
      absl::StrAppend(&t, "  programs:\n");
      for (const std::string& e : shown->program_events) absl::StrAppend(&t, "    ", e, "\n");
    }
    const char* target = Env("TEST_TARGET");
    std::string filter;
    if (const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        info != nullptr) {
      filter = absl::StrCat(" --test_filter=", info->test_suite_name(), ".", info->name());
    }
    absl::StrAppend(&t, "  replay: bazel test ", target != nullptr ? target : "<this test>", filter,
                    " --test_env=RINGLOOP_SIM_SEED=", seed);
    if (replay_keep.has_value()) {
      absl::StrAppend(&t, " --test_env=RINGLOOP_SIM_FAULTS_KEEP=", FormatKeep(*replay_keep));
    }
    absl::StrAppend(&t, "\n");
    if (const char* dir = Env("TEST_UNDECLARED_OUTPUTS_DIR"); dir != nullptr) {
      std::string name = "sim";
      if (const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
          info != nullptr) {
        name = absl::StrCat(info->test_suite_name(), ".", info->name());
      }
      const std::string path = absl::StrCat(dir, "/", name, ".seed-", seed, ".trace.json");
      std::ofstream file(path);
      file << sim::ChromeTraceJson(shown->trace);
      absl::StrAppend(&t, "  trace (Chrome/Perfetto JSON): ", path,
                      file.good() ? "" : " (could not be written)", "\n");
    }
    return report;
  }
  return report;
}

// --- Programs --------------------------------------------------------------------

// ProgramState: one RunProgram task's program, living in that task's frame.
struct SimRun::ProgramState {
  std::string name;
  uint32_t process = 0;  // the current (or last) incarnation's
  int restarts = 0;
  Scope* scope = nullptr;  // the running incarnation's, else null
  bool crashed = false;    // the incarnation in `scope` crashed
  std::string Label() const { return absl::StrCat(name, "#", restarts); }
  // running: started and neither finished nor crashed.
  bool running() const { return scope != nullptr && !crashed; }
};

SimRun::~SimRun() = default;

void SimRun::Note(std::string what) {
  events_.push_back(absl::StrCat("t=", loop_.NowNs(), "ns ", what));
}

SimRun::ProgramState* SimRun::Running(std::string_view name) const {
  for (ProgramState* p : programs_) {
    if (p->name == name && p->running()) return p;
  }
  return nullptr;
}

Task<void> SimRun::Incarnation(ProgramState& p, const ProgramMain& main) {
  // Every op this task and the tasks it starts submit is this process's.
  internal::CurrentPromise()->process = p.process;
  try {
    co_await main(loop_, p.restarts);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "program " << p.Label() << " threw: " << e.what();
  } catch (...) {
    ADD_FAILURE() << "program " << p.Label() << " threw a non-std exception";
  }
}

Task<void> SimRun::RunProgram(std::string name, ProgramMain main) {
  ProgramState p;
  p.name = std::move(name);
  if (Running(p.name) != nullptr) {
    ADD_FAILURE() << "RunProgram: a program named " << p.name << " is running already";
    co_return;
  }
  programs_.push_back(&p);
  // The frame may be destroyed while suspended (a parked task): leave the list then too.
  struct Unlist {
    std::vector<ProgramState*>& list;
    ProgramState* p;
    ~Unlist() { std::erase(list, p); }
  } unlist{programs_, &p};
  for (;;) {
    p.process = next_process_++;
    p.crashed = false;
    process_names_[p.process] = p.Label();
    Note(absl::StrCat("start ", p.Label(), " (process ", p.process, ")"));
    {
      Scope scope;
      p.scope = &scope;
      scope.Spawn(Incarnation(p, main));
      co_await scope.Join();
      p.scope = nullptr;
    }
    if (!p.crashed) {
      Note(absl::StrCat(IsCancelled() ? "cancelled " : "finished ", p.Label()));
      break;
    }
    // The dead program's fd numbers that nothing names any more are freed.
    sim().ReapExited(p.process);
    co_await Sleep(options_.restart_delay);
    if (IsCancelled()) break;
    ++p.restarts;
  }
}

void SimRun::CrashProgram(ProgramState& p, bool drawn) {
  RL_CHECK(p.running());
  p.crashed = true;
  Note(absl::StrCat(drawn ? "crash " : "crash (asked for by the test) ", p.Label(), " (process ",
                    p.process, ")"));
  sim().CrashProcess(p.process);
  p.scope->Cancel();
}

bool SimRun::Crash(std::string_view name) {
  ProgramState* p = Running(name);
  if (p == nullptr) return false;
  CrashProgram(*p, /*drawn=*/false);
  return true;
}

void SimRun::CutApart(ProgramState& a, ProgramState& b) {
  Note(absl::StrCat("partition ", a.Label(), " | ", b.Label()));
  sim().Partition(a.process, b.process);
}

bool SimRun::Partition(std::string_view a, std::string_view b) {
  ProgramState* pa = Running(a);
  ProgramState* pb = Running(b);
  if (pa == nullptr || pb == nullptr || pa == pb) return false;
  CutApart(*pa, *pb);
  return true;
}

void SimRun::Heal() {
  heal_at_ns_.reset();
  if (!sim().partitioned()) return;
  Note("heal");
  sim().Heal();
}

Task<void> SimRun::DrawProgramFaults() {
  const uint64_t interval_ns = uint64_t(absl::ToInt64Nanoseconds(options_.program_fault_interval));
  const uint64_t max_ticks =
      std::max<uint64_t>(1, uint64_t(absl::ToInt64Nanoseconds(options_.max_partition)) /
                                std::max<uint64_t>(1, interval_ns));
  while (faulting()) {
    co_await Sleep(options_.program_fault_interval);
    if (IsCancelled() || !faulting()) break;
    if (heal_at_ns_.has_value() && loop_.NowNs() >= *heal_at_ns_) Heal();
    std::vector<ProgramState*> running;
    for (ProgramState* p : programs_) {
      if (p->running()) running.push_back(p);
    }
    if (running.empty()) continue;
    const auto n = uint32_t(running.size());
    if (sim().faults()[Fault::kCrash] != 0) {
      // The victim is drawn first, so that the draws do not depend on whether
      // the crash strikes (or is filtered out while shrinking).
      ProgramState* victim = running[sim().ChooseFault(n)];
      if (sim().InjectFault(Fault::kCrash, -1, victim->process)) {
        CrashProgram(*victim, /*drawn=*/true);
        std::erase(running, victim);
      }
    }
    if (sim().faults()[Fault::kPartition] != 0 && running.size() >= 2 && !sim().partitioned()) {
      const auto m = uint32_t(running.size());
      const uint32_t i = sim().ChooseFault(m);
      const uint32_t j = (i + 1 + sim().ChooseFault(m - 1)) % m;
      const uint64_t ticks = 1 + sim().ChooseFault(uint32_t(max_ticks));
      ProgramState& a = *running[i];
      ProgramState& b = *running[j];
      if (sim().InjectFault(Fault::kPartition, -1, uint64_t(a.process) << 32 | b.process)) {
        CutApart(a, b);
        heal_at_ns_ = loop_.NowNs() + ticks * interval_ns;
      }
    }
  }
}

void ForEachSeed(const SimBody& body, SimTestOptions options) {
  const SimReport report = RunSeeds(body, std::move(options));
  if (report.failing_seed.has_value()) {
    ADD_FAILURE() << report.text;
    return;
  }
  std::fprintf(stderr, "ringloop sim: %llu seeds passed\n",
               static_cast<unsigned long long>(report.seeds_run));
}

}  // namespace ringloop::testing
