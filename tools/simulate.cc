// tools/simulate.cc: seed replay for the simulated kernel.
//
//   simulate --seed=S [--steps=N] [--faults=LIST] [--trace=FILE]
//     runs the one program seed S draws (its machine, fault plan and kernel
//     choices too) under every check of tests/property; prints the violation
//     and the end of the trace if a guarantee broke; the last line is exactly
//     "seed=S steps=N ops=K faults=F trace=HEX" (the same on every machine).
//     --trace writes Chrome trace-event JSON (open it in ui.perfetto.dev).
//   simulate [--seconds=S] [--steps=N] [--faults=LIST]
//     runs seeds 1, 2, 3, ... for S seconds with a progress line, stops at the
//     first failing seed (printing it), and prints how often each racy path
//     was reached.
// --faults: "swarm" (default: each seed picks its own plan), "none", "all", or
// a list such as "eintr,cq_overflow=300" (see ringloop/drivers/sim/faults.h).
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "ringloop/drivers/sim/faults.h"
#include "ringloop/drivers/sim/trace.h"
#include "tests/property/program.h"
#include "tests/property/runner.h"

ABSL_FLAG(std::string, seed, "", "run only this seed (else many seeds for --seconds)");
ABSL_FLAG(uint32_t, steps, 200, "commands per program");
ABSL_FLAG(std::string, faults, "swarm", "swarm, none, all, or a list name[=permille],...");
ABSL_FLAG(std::string, trace, "", "write the run as Chrome trace-event JSON to this file");
ABSL_FLAG(bool, dump, false, "print every trace record of a --seed run");
ABSL_FLAG(double, seconds, 10, "time budget when no --seed is given");

namespace ringloop::prop {
namespace {

struct Config {
  uint32_t steps;
  std::optional<sim::FaultPlan> faults;  // nullopt: swarm
};

RunResult RunSeed(uint64_t seed, const Config& cfg, bool keep_trace) {
  RunOptions o;
  o.setup = SetupFromSeed(seed, cfg.faults ? &*cfg.faults : nullptr);
  o.seed = seed;
  o.keep_trace = keep_trace;
  ApplyKnownGapsFromEnv(o);
  return RunProgram(ProgramFromSeed(seed, cfg.steps), o);
}

void PrintFailure(uint64_t seed, const Config& cfg, const RunResult& r) {
  const Program p = ProgramFromSeed(seed, cfg.steps);
  std::printf("FAILED seed=%llu at command %u of %u: %s\n", (unsigned long long)seed, r.failed_at,
              cfg.steps, r.violation.c_str());
  std::printf("machine: %s\n",
              FormatSetup(SetupFromSeed(seed, cfg.faults ? &*cfg.faults : nullptr)).c_str());
  if (r.failed_at < p.size()) std::printf("command: %s\n", FormatCommand(p[r.failed_at]).c_str());
  if (!r.trace_tail.empty()) std::printf("last trace records:\n%s", r.trace_tail.c_str());
}

int RunOne(uint64_t seed, const Config& cfg, const std::string& trace_path) {
  RunResult r = RunSeed(seed, cfg, /*keep_trace=*/true);
  if (absl::GetFlag(FLAGS_dump)) {
    for (const sim::TraceRecord& rec : r.trace->records()) {
      std::printf("%s\n", sim::Trace::Format(rec).c_str());
    }
  }
  if (!r.ok) PrintFailure(seed, cfg, r);
  if (!trace_path.empty()) {
    std::ofstream out(trace_path);
    out << sim::ChromeTraceJson(*r.trace);
    if (!out) {
      std::fprintf(stderr, "simulate: cannot write --trace=%s\n", trace_path.c_str());
      return 2;
    }
  }
  std::printf("seed=%llu steps=%u ops=%llu faults=%llu trace=%s\n", (unsigned long long)seed,
              cfg.steps, (unsigned long long)r.ops, (unsigned long long)r.faults,
              HexHash(r.trace_hash).c_str());
  return r.ok ? 0 : 1;
}

int RunMany(const Config& cfg, double seconds) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  auto last_print = start;
  std::map<std::string, uint64_t> programs_with_tag;
  uint64_t runs = 0;
  for (uint64_t seed = 1;; ++seed) {
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    if (elapsed >= seconds) break;
    const RunResult r = RunSeed(seed, cfg, /*keep_trace=*/false);
    ++runs;
    for (const auto& [tag, n] : r.tags) programs_with_tag[tag] += n > 0 ? 1 : 0;
    if (!r.ok) {
      std::printf("\n");
      PrintFailure(seed, cfg, RunSeed(seed, cfg, /*keep_trace=*/true));
      std::printf("first failing seed: %llu (replay: simulate --seed=%llu --steps=%u)\n",
                  (unsigned long long)seed, (unsigned long long)seed, cfg.steps);
      return 1;
    }
    if (Clock::now() - last_print > std::chrono::seconds(1)) {
      last_print = Clock::now();
      std::printf("\r%llu programs, %.0f s, seed %llu ...", (unsigned long long)runs, elapsed,
                  (unsigned long long)seed);
      std::fflush(stdout);
    }
  }
  std::printf("\n%llu programs of %u steps passed. Programs that reached each racy path:\n",
              (unsigned long long)runs, cfg.steps);
  for (const auto& [tag, n] : programs_with_tag) {
    std::printf("  %-26s %llu\n", tag.c_str(), (unsigned long long)n);
  }
  return 0;
}

}  // namespace
}  // namespace ringloop::prop

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  ringloop::prop::Config cfg;
  cfg.steps = absl::GetFlag(FLAGS_steps);
  const std::string faults = absl::GetFlag(FLAGS_faults);
  if (faults != "swarm") {
    auto plan = ringloop::sim::ParseFaults(faults);
    if (!plan.ok()) {
      std::fprintf(stderr, "simulate: %s\n", std::string(plan.status().message()).c_str());
      return 2;
    }
    cfg.faults = *plan;
  }
  const std::string seed = absl::GetFlag(FLAGS_seed);
  if (seed.empty()) return ringloop::prop::RunMany(cfg, absl::GetFlag(FLAGS_seconds));
  uint64_t s = 0;
  if (!absl::SimpleAtoi(seed, &s)) {
    std::fprintf(stderr, "simulate: --seed=%s is not a number\n", seed.c_str());
    return 2;
  }
  return ringloop::prop::RunOne(s, cfg, absl::GetFlag(FLAGS_trace));
}
