// fuzz/sim_program.cc: libFuzzer target: bytes -> a machine, an op
// program and the simulated kernel's choices -> Engine + SimDriver run to
// quiescence under the property tests' Checker (tests/property/checker.h).
//
// The program and the checker are the property tests' own (one definition of
// each): this target only lets coverage guidance, rather than rapidcheck's
// random generation, pick the programs, fault rates and race outcomes. A
// broken guarantee prints the violation, the machine, the program and the end
// of the trace, then aborts.
//
// Like the property tests, runs take prop::ApplyKnownGapsFromEnv: with
// RINGLOOP_PROP_AVOID_KNOWN_GAPS=1 they steer around engine gaps reported and
// not yet fixed; by default (none is open now) they run at full strength.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "fuzz/sim_input.h"
#include "tests/property/program.h"
#include "tests/property/runner.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ringloop;
  const fuzz::SimInput input = fuzz::DecodeSimInput(data, size);
  prop::RunOptions options;
  options.setup = prop::SetupFromLevels(input.fault_levels, input.in_flight_level, input.cq_level,
                                        input.latency_level);
  options.tape = input.tape;
  options.keep_trace = false;
  prop::ApplyKnownGapsFromEnv(options);
  prop::RunResult result = prop::RunProgram(input.program, options);
  if (result.ok) return 0;
  // Run again keeping the trace, for the report (the run is deterministic).
  options.keep_trace = true;
  result = prop::RunProgram(input.program, options);
  std::fprintf(stderr, "sim_program: guarantee broken at command %u: %s\n", result.failed_at,
               result.violation.c_str());
  std::fprintf(stderr, "machine: %s\nprogram:\n%s", prop::FormatSetup(options.setup).c_str(),
               prop::FormatProgram(input.program).c_str());
  std::fprintf(stderr, "trace tail:\n%s\n", result.trace_tail.c_str());
  std::abort();
}
