// tests/property/runner.h: runs one Program against Engine + SimDriver under a
// Checker, then drains to quiescence with faults off.
//
// RunProgram is what the property tests, tools/simulate and (later) the fuzz
// target share: the program is interpreted command by command (each resolved
// against the state of the moment, see program.h), the engine's events are
// drained after every command, and the Checker sees both sides. After the
// last command every fd the user holds is closed through the engine, faults
// stop, and the loop must reach quiescence within a bound, leaking nothing.
//
// Thread safety: a RunProgram call is self-contained (no globals).
#ifndef RINGLOOP_TESTS_PROPERTY_RUNNER_H_
#define RINGLOOP_TESTS_PROPERTY_RUNNER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ringloop/drivers/sim/trace.h"
#include "tests/property/checker.h"
#include "tests/property/program.h"

namespace ringloop::prop {

// RunOptions: where the kernel's choices come from, and the machine.
struct RunOptions {
  Setup setup;
  // tape: the kernel's choices (TapeChooser); without it, a PrngChooser(seed).
  std::optional<std::vector<uint8_t>> tape;
  uint64_t seed = 0;
  bool keep_trace = false;  // keep every record (for --trace and failures)
  CheckerOptions checker;
  uint32_t drain_polls = 4000;  // the quiescence bound once faults stop
  // drain: how the run ends. kChosen lets the kernel's chooser pick per run
  // between closing every fd (the close protocol alone must reach quiescence)
  // and Engine::Shutdown followed by the closes.
  enum class Drain : uint8_t { kChosen, kCloseOnly, kShutdownFirst };
  Drain drain = Drain::kChosen;
  // socket_read_write: generate Read/Write/PollAdd on sockets (not only
  // Recv/Send).
  bool socket_read_write = true;
};

// ApplyKnownGapsFromEnv: with $RINGLOOP_PROP_AVOID_KNOWN_GAPS=1, steers the
// runs around an engine gap once reported, so that CI and tools/mutants.sh
// could check everything else: -EALREADY for a Read/Write on a socket got no
// shutdown(2) from the close protocol, so the close never ended (avoided: no
// Read/Write/PollAdd on sockets). (A linked op that had not started could not
// be cancelled in the kernel either; the engine now plays chains itself, so
// the kernel never holds such an op.)
void ApplyKnownGapsFromEnv(RunOptions& options);

// RunResult: what happened.
struct RunResult {
  bool ok = true;
  std::string violation;   // the first broken guarantee, if any
  uint32_t failed_at = 0;  // the command index (commands.size() = the drain)
  uint64_t trace_hash = 0;
  uint64_t ops = 0;     // ops and closes submitted
  uint64_t faults = 0;  // faults injected
  uint64_t records = 0;
  std::map<std::string, uint64_t> tags;  // racy paths seen (see kRequiredTags)
  std::string trace_tail;                // the last records, when keep_trace
  std::shared_ptr<sim::Trace> trace;     // the whole trace, when keep_trace
};

// kRequiredTags: the racy interleavings a property run must reach.
inline constexpr const char* kRequiredTags[] = {
    "cancel_raced_completion",  "cancel_ealready", "chain_aborted_midway",
    "close_with_ops_in_flight", "fd_reused",       "cq_overflow",
    "stale_cqe_rejected",
};

// RunProgram: runs `program` and checks every guarantee.
RunResult RunProgram(const Program& program, const RunOptions& options);

// HexHash: a trace hash as 16 hex digits.
std::string HexHash(uint64_t hash);

}  // namespace ringloop::prop

#endif  // RINGLOOP_TESTS_PROPERTY_RUNNER_H_
