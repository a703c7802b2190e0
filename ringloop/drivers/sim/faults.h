// ringloop/drivers/sim/faults.h: the faults the simulated kernel can inject, and how
// often.
//
// A FaultPlan gives each fault a probability in permille, checked every time
// the fault could apply. Swarm testing (Groce et al., 2012): SwarmPlan turns
// about half the faults off entirely for a seed and turns the others up, so
// that one seed explores a corner (say, only CQ overflow and EINTR) deeply
// rather than every corner thinly.
//
// Thread safety: plain values.
#ifndef RINGLOOP_DRIVERS_SIM_FAULTS_H_
#define RINGLOOP_DRIVERS_SIM_FAULTS_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "ringloop/drivers/sim/prng.h"

namespace ringloop::sim {

// Fault: one kind of injected failure.
enum class Fault : uint8_t {
  kEintr,         // a blocking op (or close) completes -EINTR without effect
  kShortIo,       // a read/write/recv/send moves fewer bytes than it could
  kConnReset,     // a TCP connection is reset under a read or write: -ECONNRESET
  kEpipe,         // a write/send finds the other side gone: -EPIPE
  kEnobufs,       // send/connect/socket fails -ENOBUFS (kernel memory pressure)
  kEagain,        // pipes and eventfds the program creates are O_NONBLOCK
  kCqOverflow,    // a CQE goes to the overflow list; delivered one enter later
  kSubmitBusy,    // io_uring_enter refuses the submission with -EBUSY (retried)
  kDuplicateCqe,  // a final CQE already delivered comes again, at once or late, when
                  // its slot holds another op (must be rejected)
  kMultishotEnd,  // a multishot op's CQE comes without F_MORE: the op ended (re-arm it)
  // The faults below are not the kernel's: RINGLOOP_BUGGIFY() draws kBuggify
  // (SimDriver::Buggify), and a test draws the others with SimDriver::InjectFault,
  // so that they are recorded, replayed and shrunk like the others.
  kBuggify,    // an enabled RINGLOOP_BUGGIFY() site takes its rare branch
  kPartition,  // the network between two programs is cut (and later healed)
  kCrash,      // a program crashes (its fds close, unsynced file data is lost) and restarts
};
inline constexpr size_t kFaultCount = 13;

// FaultName: the flag name of `fault` ("eintr", "short_io", ...).
std::string_view FaultName(Fault fault);

// FaultPlan: per-fault probabilities, in permille.
struct FaultPlan {
  std::array<uint16_t, kFaultCount> permille{};

  uint16_t operator[](Fault f) const { return permille[static_cast<size_t>(f)]; }
  uint16_t& operator[](Fault f) { return permille[static_cast<size_t>(f)]; }
  // None: whether every fault is off.
  bool None() const;
  friend bool operator==(const FaultPlan&, const FaultPlan&) = default;
};

// kDefaultFaultPermille: the rate a fault named in a list gets by default.
inline constexpr uint16_t kDefaultFaultPermille = 50;

// SwarmPlan: a plan drawn from `prng`: each fault is off with probability 1/2,
// else on at 10, 50 or 200 permille.
FaultPlan SwarmPlan(Prng& prng);

// ParseFaults: a plan from a flag value: "none", "all", "swarm" is not accepted
// here (the caller draws it), or a comma list of names, each optionally
// "=permille" ("eintr,cq_overflow=300").
absl::StatusOr<FaultPlan> ParseFaults(std::string_view text);

// FormatFaults: the inverse of ParseFaults ("none" when all are off).
std::string FormatFaults(const FaultPlan& plan);

}  // namespace ringloop::sim

#endif  // RINGLOOP_DRIVERS_SIM_FAULTS_H_
