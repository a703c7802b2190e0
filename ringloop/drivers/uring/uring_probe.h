// ringloop/drivers/uring/uring_probe.h: whether io_uring works here, and what it offers.
//
// ProbeUring sets up a small ring, records the kernel's feature flags and the
// opcodes io_uring_get_probe reports, and tears the ring down. The runtime calls
// it (or UringDriver::Create) to decide between the uring and epoll drivers; the
// uring driver uses the opcode table to run an op the kernel lacks as a plain
// syscall instead (per-op capability fallback).
//
// Errors (the codes are distinct so that callers can act on them):
//   kUnavailable        io_uring cannot be used in this process at all: ENOSYS (the
//                       kernel has no io_uring), EPERM (kernel.io_uring_disabled or a
//                       seccomp profile: containers block io_uring by default), or a
//                       kernel too old for this driver. Fall back to epoll.
//   kResourceExhausted  ENOMEM (the memlock limit, RLIMIT_MEMLOCK, on kernels before
//                       5.12), EMFILE/ENFILE. Fall back, and tell the operator.
//   kPermissionDenied   a plain ring works, but a requested option needs privilege
//                       (SQPOLL before Linux 5.11). Retry without the option.
//   kFailedPrecondition a plain ring works, but the kernel rejects a requested setup
//                       flag (too old for it). Retry without the option.
//   kInvalidArgument    the options themselves are inconsistent.
//   kInternal           anything else; the message carries the errno.
// Every message names the syscall and the errno, as ErrnoMessage words it
// ("io_uring_setup: Operation not permitted [EPERM]: ...").
//
// Thread safety: free functions with no shared state.
#ifndef RINGLOOP_DRIVERS_URING_URING_PROBE_H_
#define RINGLOOP_DRIVERS_URING_URING_PROBE_H_

#include <bitset>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ringloop {

// UringCapabilities: the running kernel's io_uring features and opcodes.
struct UringCapabilities {
  // kMaxOpcode: opcodes the probe table tracks (room for kernels well past 6.18).
  static constexpr unsigned kMaxOpcode = 256;

  uint32_t features = 0;            // IORING_FEAT_* from io_uring_setup
  std::bitset<kMaxOpcode> opcodes;  // opcodes the kernel supports
  uint32_t last_op = 0;             // the probe's last_op

  // Supports: whether the kernel has `opcode`.
  bool Supports(unsigned opcode) const { return opcode < kMaxOpcode && opcodes.test(opcode); }
  // HasFeature: whether every bit of `feature` (IORING_FEAT_*) is set.
  bool HasFeature(uint32_t feature) const { return (features & feature) == feature; }
};

// ProbeUring: sets up a 2-entry ring with no options and reports what the kernel
// offers, or why io_uring is unusable here (see the file comment for the codes).
// Costs one io_uring_setup, one probe and one teardown (tens of microseconds).
absl::StatusOr<UringCapabilities> ProbeUring();

// CheckDriverRequirements: OK if `caps` has everything the uring driver cannot do
// without (IORING_FEAT_NODROP and EXT_ARG and RW_CUR_POS, Linux 5.11, and the
// opcodes of ops that may block: read/write/recv/send/accept/connect/poll, cancel,
// link timeout); else kUnavailable naming what is missing.
absl::Status CheckDriverRequirements(const UringCapabilities& caps);

// ExplainSetupErrno: io_uring_setup failing with `err` when asked for
// `setup_flags`, in words: the errno (ErrnoMessage) and what it means here,
// naming what this process can see of the cause (the kernel release, the
// kernel.io_uring_disabled sysctl, a seccomp filter in /proc/self/status, the
// memlock limit). `plain_ring_works` tells whether a ring without options can
// be set up (it separates "this option is refused" from "io_uring is
// unusable"); the defaults describe a plain ring refused. The one wording of a
// setup failure: SetupError's message, and the runtime's reason for epoll.
std::string ExplainSetupErrno(int err, uint32_t setup_flags = 0, bool plain_ring_works = false);

// SetupError: the status for io_uring_setup failing with `err` when asked for
// `setup_flags`: the code as the file comment says, ExplainSetupErrno's message.
absl::Status SetupError(int err, uint32_t setup_flags, bool plain_ring_works);

// ProbeUringSetup: sets up and closes a one-entry io_uring with the raw
// syscall (no liburing, no options); 0 if that works, else its errno.
int ProbeUringSetup();

// UringOpcodeName: a readable name for an io_uring opcode ("IORING_OP_READ").
std::string UringOpcodeName(unsigned opcode);

}  // namespace ringloop

#endif  // RINGLOOP_DRIVERS_URING_URING_PROBE_H_
