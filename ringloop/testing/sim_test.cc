// ringloop/testing/sim_test.cc: seeds, phases, the free checks, shrinking and the report.
#include "ringloop/testing/sim_test.h"

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

namespace ringloop::testing {
namespace {

using sim::Fault;
using sim::TraceRecord;
using sim::TraceType;

constexpr uint64_t kSwarmSalt = 0x5157'4152'4d00'0001ull;  // configuration draws
constexpr uint64_t kFaultSalt = 0x4641'554c'5400'0002ull;  // the fault stream

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

std::string FormatSchedule(const std::vector<TraceRecord>& faults) {
  if (faults.empty()) return "    (no fault)\n";
  std::string out;
  for (const TraceRecord& f : faults) absl::StrAppend(&out, "    ", FormatFault(f), "\n");
  return out;
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

std::string FormatFault(const TraceRecord& f) {
  std::string out =
      absl::StrCat("#", f.aux, " ", std::string(sim::FaultName(static_cast<Fault>(f.detail))));
  if (static_cast<Fault>(f.detail) != Fault::kBuggify && f.user_data != 0) {
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
    SimRun run(*loop, config);
    bool done = false;
    std::string error;
    loop->Spawn(Body(body, run, &done, &error));
    absl::Status status = loop->RunUntil([&] { return done; }, options.fault_phase);
    if (!done && (status.ok() || absl::IsDeadlineExceeded(status))) {
      // The fault phase is over: no more faults, and the network heals.
      simk.SetFaults(sim::FaultPlan{});
      simk.Heal();
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
                    FormatSchedule(outcome.faults));
    std::optional<std::set<uint64_t>> replay_keep = keep;
    const SimOutcome* shown = &outcome;
    Shrunk shrunk;
    if (options.shrink && !keep.has_value() && !outcome.faults.empty()) {
      shrunk = Shrink(body, config, options, outcome);
      replay_keep = shrunk.keep;
      shown = &shrunk.outcome;
      absl::StrAppend(&t, "  shrunk fault schedule (", shrunk.outcome.faults.size(), " of ",
                      outcome.faults.size(), " faults, ", shrunk.runs, " replays):\n",
                      FormatSchedule(shrunk.outcome.faults), "  failures with it:\n");
      for (const std::string& f : shrunk.outcome.failures) absl::StrAppend(&t, "    ", f, "\n");
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
