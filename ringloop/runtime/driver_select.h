// ringloop/runtime/driver_select.h: which driver a Loop runs on, and why.
//
// The choice: io_uring where it works, epoll where it does not, said out loud.
// SelectDriver, in kAuto, first asks the kernel directly (ProbeUringSetup: a raw
// io_uring_setup of a one-entry ring) so that the reason names the real errno,
// as ExplainSetupErrno words it: ENOSYS (no io_uring in this kernel), EPERM
// (kernel.io_uring_disabled, or a seccomp filter as in Docker's and
// containerd's default profiles), ENOMEM (RLIMIT_MEMLOCK before Linux 5.12). If the ring can be set
// up, it builds the uring driver, which probes for the opcodes and features it needs; any failure
// there also falls back to epoll, with the uring driver's own message as the reason. Forcing kUring
// where io_uring cannot work is an error, never a silent fallback.
// kSim is only ever asked for explicitly (LoopOptions::driver; never by the
// environment variable): the simulated kernel (ringloop/drivers/sim) that the
// `sim` factory builds, for tests.
//
// The factories are a seam: tests (and the demo) replace them to play a kernel
// without io_uring, or to force options.
//
// Thread safety: free functions; the factories run on the calling thread.
#ifndef RINGLOOP_RUNTIME_DRIVER_SELECT_H_
#define RINGLOOP_RUNTIME_DRIVER_SELECT_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ringloop/drivers/driver.h"

namespace ringloop {

// DriverChoice: what to run on. kAuto: io_uring if it works here, else epoll.
// kSim: the simulated kernel (LoopOptions::sim says which one).
enum class DriverChoice { kAuto, kUring, kEpoll, kSim };

// kDriverEnvVar: the environment variable that overrides a kAuto choice.
inline constexpr char kDriverEnvVar[] = "RINGLOOP_DRIVER";

// ParseDriverChoice: "uring", "epoll" or "auto"; anything else is kInvalidArgument.
absl::StatusOr<DriverChoice> ParseDriverChoice(absl::string_view text);

// DriverChoiceName: "uring", "epoll", "sim" or "auto".
std::string_view DriverChoiceName(DriverChoice choice);

// DriverFactory: makes one driver, or says why it cannot.
using DriverFactory = std::function<absl::StatusOr<std::unique_ptr<Driver>>()>;

// DriverFactories: how SelectDriver makes and probes drivers (copyable, so that
// LoopOptions is). Empty members use the real ones (UringDriver::Create with
// default options, EpollDriver::Create, ProbeUringSetup from
// ringloop/drivers/uring/uring_probe.h).
struct DriverFactories {
  DriverFactory uring;
  DriverFactory epoll;
  // probe_setup: 0 if io_uring_setup works in this process, else its errno.
  std::function<int()> probe_setup;
  // sim: makes the simulated kernel for kSim (Loop::Create supplies one built
  // from LoopOptions::sim when it is empty).
  DriverFactory sim;
};

// SelectedDriver: the driver to run on, and one human sentence on why.
struct SelectedDriver {
  std::unique_ptr<Driver> driver;
  std::string reason;
};

// SelectDriver: makes the driver `choice` asks for. `source` says where the choice
// came from ("RINGLOOP_DRIVER=uring", "LoopOptions::driver"), for messages.
// kEpoll: the epoll driver. kUring: the uring driver, or an error naming why it
// cannot run here. kAuto: uring, or epoll with the reason uring was refused.
// kSim: factories.sim's driver (kInvalidArgument without one).
absl::StatusOr<SelectedDriver> SelectDriver(DriverChoice choice, absl::string_view source,
                                            DriverFactories factories);

}  // namespace ringloop

#endif  // RINGLOOP_RUNTIME_DRIVER_SELECT_H_
