// tests/property/program.cc: command weights, seeded programs and listings.
#include "tests/property/program.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace ringloop::prop {
namespace {

// kWeights: how often each kind is drawn from a uniform byte (out of 64).
// Position 0 is kPoll: the plainest command, where shrinking ends up.
constexpr CommandKind kTable[] = {
    CommandKind::kPoll,    CommandKind::kPoll,     CommandKind::kPoll,    CommandKind::kPoll,
    CommandKind::kPoll,    CommandKind::kStep,     CommandKind::kStep,    CommandKind::kStep,
    CommandKind::kStep,    CommandKind::kStep,     CommandKind::kStep,    CommandKind::kStep,
    CommandKind::kStep,    CommandKind::kWait,     CommandKind::kWait,    CommandKind::kWait,
    CommandKind::kSubmit,  CommandKind::kSubmit,   CommandKind::kSubmit,  CommandKind::kSubmit,
    CommandKind::kSubmit,  CommandKind::kSubmit,   CommandKind::kSubmit,  CommandKind::kSubmit,
    CommandKind::kSubmit,  CommandKind::kSubmit,   CommandKind::kSubmit,  CommandKind::kSubmit,
    CommandKind::kChain,   CommandKind::kChain,    CommandKind::kChain,   CommandKind::kChain,
    CommandKind::kCancel,  CommandKind::kCancel,   CommandKind::kCancel,  CommandKind::kCancel,
    CommandKind::kCancel,  CommandKind::kRecancel, CommandKind::kClose,   CommandKind::kClose,
    CommandKind::kClose,   CommandKind::kClose,    CommandKind::kAdvance, CommandKind::kAdvance,
    CommandKind::kAdvance, CommandKind::kOpen,     CommandKind::kOpen,    CommandKind::kOpen,
    CommandKind::kPeer,    CommandKind::kPeer,     CommandKind::kPeer,    CommandKind::kPeer,
    CommandKind::kSettle,  CommandKind::kSettle,   CommandKind::kPoll,    CommandKind::kStep,
    CommandKind::kStep,    CommandKind::kSubmit,   CommandKind::kSubmit,  CommandKind::kWait,
    CommandKind::kCancel,  CommandKind::kClose,    CommandKind::kPeer,    CommandKind::kShutdown,
};
static_assert(sizeof(kTable) / sizeof(kTable[0]) == 64);

constexpr uint16_t kRates[] = {0, 10, 50, 200};

const char* KindName(CommandKind k) {
  switch (k) {
    case CommandKind::kPoll:
      return "poll";
    case CommandKind::kStep:
      return "step";
    case CommandKind::kWait:
      return "wait";
    case CommandKind::kSubmit:
      return "submit";
    case CommandKind::kChain:
      return "chain";
    case CommandKind::kCancel:
      return "cancel";
    case CommandKind::kRecancel:
      return "recancel";
    case CommandKind::kClose:
      return "close";
    case CommandKind::kAdvance:
      return "advance";
    case CommandKind::kOpen:
      return "open";
    case CommandKind::kPeer:
      return "peer";
    case CommandKind::kSettle:
      return "settle";
    case CommandKind::kShutdown:
      return "shutdown";
  }
  return "?";
}

}  // namespace

CommandKind Command::Kind() const {
  const CommandKind k = kTable[kind % 64];
  // Shutdown ends the interesting part of a program: keep it rare.
  if (k == CommandKind::kShutdown && a >= 16) return CommandKind::kPoll;
  return k;
}

Setup SetupFromLevels(const std::array<uint8_t, sim::kFaultCount>& fault_levels,
                      uint8_t in_flight_level, uint8_t cq_level, uint8_t latency_level) {
  Setup s;
  for (size_t i = 0; i < sim::kFaultCount; ++i) s.faults.permille[i] = kRates[fault_levels[i] % 4];
  static constexpr uint32_t kInFlight[] = {8, 4, 2, 16, 64};
  static constexpr uint32_t kCq[] = {16, 4, 2, 64};
  static constexpr uint32_t kLatency[] = {20'000, 0, 1'000, 200'000};
  s.max_in_flight = kInFlight[in_flight_level % 5];
  s.sq_entries = s.max_in_flight;
  s.cq_entries = kCq[cq_level % 4];
  s.latency_ns = kLatency[latency_level % 4];
  return s;
}

Program ProgramFromSeed(uint64_t seed, uint32_t steps) {
  sim::Prng prng(seed ^ 0x70726f6772616dull);  // "program": independent of the kernel's draws
  Program p(steps);
  for (Command& c : p) {
    const uint64_t bits = prng.Next();
    c.kind = uint8_t(bits);
    c.a = uint8_t(bits >> 8);
    c.b = uint16_t(bits >> 16);
    c.c = uint32_t(bits >> 32);
  }
  return p;
}

Setup SetupFromSeed(uint64_t seed, const sim::FaultPlan* faults) {
  sim::Prng prng(seed ^ 0x7365747570ull);  // "setup"
  std::array<uint8_t, sim::kFaultCount> levels{};
  Setup s = SetupFromLevels(levels, uint8_t(prng.Below(5)), uint8_t(prng.Below(4)),
                            uint8_t(prng.Below(4)));
  s.faults = faults != nullptr ? *faults : sim::SwarmPlan(prng);
  return s;
}

std::string FormatCommand(const Command& c) {
  return absl::StrFormat("%s(a=%d b=%d c=%d)", KindName(c.Kind()), c.a, c.b, c.c);
}

std::string FormatProgram(const Program& p) {
  std::string out;
  for (size_t i = 0; i < p.size(); ++i)
    absl::StrAppend(&out, "  ", i, ": ", FormatCommand(p[i]), "\n");
  return out;
}

std::string FormatSetup(const Setup& s) {
  return absl::StrCat("faults=", sim::FormatFaults(s.faults), " max_in_flight=", s.max_in_flight,
                      " sq=", s.sq_entries, " cq=", s.cq_entries, " latency_ns=", s.latency_ns,
                      " pipe_capacity=", s.pipe_capacity);
}

}  // namespace ringloop::prop
