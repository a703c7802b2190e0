// tests/property/engine_sim_property_test.cc: rapidcheck properties of Engine
// over SimDriver.
//
// Each case is a generated Program (program.h), a generated machine (fault
// levels, queue sizes, latency) and a generated tape of kernel choices: so
// when a guarantee breaks, rapidcheck shrinks the program, the machine and
// the interleaving together, and prints the smallest failing case with the
// violated guarantee and the end of its trace. The whole checker
// (checker.h) runs after every command; the run ends by closing everything
// with faults off and requiring quiescence within a bound.
//
// Every racy path in kRequiredTags must be reached by some case of the run,
// else the test fails (a property that never meets the race proves nothing).
// CI runs >= 1000 cases per property: max_success defaults to 1000 here
// unless RC_PARAMS sets it.
#include <cstdlib>
#include <map>
#include <ostream>
#include <string>

#include "gtest/gtest.h"
#include "rapidcheck.h"
#include "tests/property/program.h"
#include "tests/property/runner.h"

namespace ringloop::prop {

// showValue: how rapidcheck prints a Command in a counterexample.
void showValue(const Command& c, std::ostream& os) { os << FormatCommand(c); }

}  // namespace ringloop::prop

namespace rc {

template <>
struct Arbitrary<ringloop::prop::Command> {
  static Gen<ringloop::prop::Command> arbitrary() {
    using ringloop::prop::Command;
    return gen::build<Command>(gen::set(&Command::kind), gen::set(&Command::a),
                               gen::set(&Command::b), gen::set(&Command::c));
  }
};

}  // namespace rc

namespace ringloop::prop {
namespace {

// Case: everything one property case is made of.
struct Case {
  Program program;
  RunOptions options;
};

Case GenerateCase() {
  Case c;
  c.program = *rc::gen::arbitrary<Program>();
  const auto levels =
      *rc::gen::container<std::vector<uint8_t>>(sim::kFaultCount, rc::gen::inRange<uint8_t>(0, 4));
  std::array<uint8_t, sim::kFaultCount> fault_levels{};
  std::copy(levels.begin(), levels.end(), fault_levels.begin());
  const uint8_t in_flight = *rc::gen::inRange<uint8_t>(0, 5);
  const uint8_t cq = *rc::gen::inRange<uint8_t>(0, 4);
  const uint8_t latency = *rc::gen::inRange<uint8_t>(0, 4);
  c.options.setup = SetupFromLevels(fault_levels, in_flight, cq, latency);
  // The tape of kernel choices: longer than the program, shrinking to zeros.
  c.options.tape = *rc::gen::scale(30.0, rc::gen::arbitrary<std::vector<uint8_t>>());
  ApplyKnownGapsFromEnv(c.options);
  return c;
}

// PathCounts: across every case of one property, how many reached each tag.
std::map<std::string, uint64_t>& PathCounts() {
  static std::map<std::string, uint64_t> counts;
  return counts;
}

void Tag(const RunResult& r) {
  for (const auto& [name, n] : r.tags) {
    if (n == 0) continue;
    ++PathCounts()[name];
    RC_TAG(name);
  }
}

void ReportFailure(const Case& c) {
  RunOptions verbose = c.options;
  verbose.keep_trace = true;
  const RunResult r = RunProgram(c.program, verbose);
  RC_LOG() << "machine: " << FormatSetup(c.options.setup) << "\n"
           << "violation at command " << r.failed_at << " of " << c.program.size() << ": "
           << r.violation << "\nprogram:\n"
           << FormatProgram(c.program) << "last trace records:\n"
           << r.trace_tail;
  RC_FAIL(r.violation);
}

void ExpectEveryPathReached() {
  for (const char* tag : kRequiredTags) {
    EXPECT_GT(PathCounts()[tag], 0u)
        << "no case reached the racy path \"" << tag << "\": the property never tested it";
  }
}

// The seven guarantees hold after every command of every program, under every
// interleaving and fault the simulated kernel picks; and the same case replays
// to the same trace.
TEST(EngineSimProperty, GuaranteesHoldAfterEveryStep) {
  PathCounts().clear();
  const bool ok = rc::check("guarantees hold after every step", [] {
    const Case c = GenerateCase();
    const RunResult r = RunProgram(c.program, c.options);
    Tag(r);
    if (!r.ok) ReportFailure(c);
    const RunResult again = RunProgram(c.program, c.options);
    RC_ASSERT(again.trace_hash == r.trace_hash);
  });
  EXPECT_TRUE(ok);
  ExpectEveryPathReached();
}

// Seed replay: a seed alone determines the whole run (program, machine, fault
// plan, interleaving), and different seeds explore different runs.
TEST(EngineSimProperty, SameSeedSameTrace) {
  const bool ok = rc::check("same seed, same trace", [] {
    const uint64_t seed = *rc::gen::arbitrary<uint64_t>();
    RunOptions o;
    o.setup = SetupFromSeed(seed, nullptr);
    o.seed = seed;
    ApplyKnownGapsFromEnv(o);
    const Program p = ProgramFromSeed(seed, 60);
    const RunResult a = RunProgram(p, o);
    const RunResult b = RunProgram(p, o);
    RC_ASSERT(a.trace_hash == b.trace_hash);
    RC_ASSERT(a.records == b.records);
    o.seed = seed + 1;
    const RunResult c = RunProgram(ProgramFromSeed(seed + 1, 60), o);
    RC_ASSERT(c.trace_hash != a.trace_hash);
  });
  EXPECT_TRUE(ok);
}

// QueueCommand: a command of the queue-progress programs: submit a nop (half
// the time with a deadline, which needs two places), let the kernel move,
// poll, let time pass (to just before or at the next deadline), or cancel.
Command QueueCommand() {
  // Command::kind values: the first entry of each kind in program.cc's table.
  constexpr uint8_t kPollKind = 0, kStepKind = 5, kSubmitKind = 16, kCancelKind = 32,
                    kAdvanceKind = 42;
  Command c;
  switch (*rc::gen::inRange(0, 6)) {
    case 0:
    case 1: {
      // A path op (b % 5 == 0) of template 0: a nop; c's bits 5-7 >= 5 give
      // it a deadline (bits 8-15 microseconds away).
      const bool deadline = *rc::gen::arbitrary<bool>();
      c.kind = kSubmitKind;
      c.c = (uint32_t(deadline ? 7 : 0) << 5) | (uint32_t(*rc::gen::inRange(0, 8)) << 8);
      break;
    }
    case 2:
      c.kind = kStepKind;
      break;
    case 3:
      c.kind = kPollKind;
      break;
    case 4:
      c.kind = kAdvanceKind;
      c.a = uint8_t(*rc::gen::inRange(0, 4));
      c.c = *rc::gen::inRange<uint32_t>(0, 8);
      break;
    default:
      c.kind = kCancelKind;
      c.b = *rc::gen::arbitrary<uint16_t>();
      break;
  }
  return c;
}

// Ops that wait for room leave the queue as soon as they fit, whatever ended
// the op ahead of them (its completion, a cancel, its deadline): the
// checker's queue invariant, on programs made to keep a queue of nops, with
// and without deadlines, behind a bound of two.
TEST(EngineSimProperty, OpsWaitingForRoomLeaveTheQueueAsSoonAsTheyFit) {
  PathCounts().clear();
  const bool ok = rc::check("the queue moves as soon as its head fits", [] {
    Case c;
    c.program =
        *rc::gen::container<Program>(*rc::gen::inRange(4, 80), rc::gen::exec(&QueueCommand));
    std::array<uint8_t, sim::kFaultCount> no_faults{};
    c.options.setup = SetupFromLevels(no_faults, /*in_flight_level=*/2, 0, /*latency_level=*/1);
    c.options.tape = *rc::gen::arbitrary<std::vector<uint8_t>>();
    const RunResult r = RunProgram(c.program, c.options);
    Tag(r);
    if (!r.ok) ReportFailure(c);
  });
  EXPECT_TRUE(ok);
  EXPECT_GT(PathCounts()["expired_before_start"], 0u) << "no queued op ever timed out";
}

}  // namespace
}  // namespace ringloop::prop

// main: 1000 cases per property unless RC_PARAMS says otherwise.
int main(int argc, char** argv) {
  std::string params = std::getenv("RC_PARAMS") != nullptr ? std::getenv("RC_PARAMS") : "";
  if (params.find("max_success") == std::string::npos) {
    params += params.empty() ? "max_success=1000" : " max_success=1000";
    setenv("RC_PARAMS", params.c_str(), 1);
  }
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
