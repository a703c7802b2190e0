// ringloop/runtime/driver_select.cc: choosing between the uring and epoll drivers.
#include "ringloop/runtime/driver_select.h"

#include <linux/io_uring.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "ringloop/drivers/epoll/epoll_driver.h"
#include "ringloop/drivers/uring/uring_driver.h"
#include "ringloop/runtime/result.h"

namespace ringloop {
namespace {

// ReadIntFile: the integer at the start of `path`, or -1.
int ReadIntFile(const char* path) {
  std::ifstream in(path);
  int value = -1;
  if (!(in >> value)) return -1;
  return value;
}

// SeccompMode: the "Seccomp:" field of /proc/self/status (2 = filter), or -1.
int SeccompMode() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (!absl::StartsWith(line, "Seccomp:")) continue;
    int mode = -1;
    if (absl::SimpleAtoi(absl::StripAsciiWhitespace(line.substr(8)), &mode)) return mode;
  }
  return -1;
}

// kLoopCqEntries: the completion queue of a Loop's ring. Ops that wait for
// readiness are not bounded by the engine, so a server's parked recvs (one per
// connection) may all complete at once. What overflows the CQ the kernel keeps
// (IORING_FEAT_NODROP) until the driver flushes it, at about 0.5 us per
// overflowed completion on the plain ring (bench/parked_burst_bench.cc, kernel
// 6.18: 8,000 recvs completing at once cost 64 ns each with this CQ, 540 ns
// with the kernel's default of twice the SQ). 16,384 entries hold the burst of
// a server with as many connections, for 256 KiB of ring memory.
constexpr uint32_t kLoopCqEntries = 16384;

DriverFactory RealUring() {
  return []() -> absl::StatusOr<std::unique_ptr<Driver>> {
    // A Loop is one thread's: only it submits and reaps, so the ring is set up
    // as liburing's io_uring_setup_flags(7) recommends for that case,
    // SINGLE_ISSUER + DEFER_TASKRUN (completion work runs when the loop polls,
    // not in interrupts of whatever it is doing). Kernels before 6.1 refuse
    // them (kFailedPrecondition / kInvalidArgument): then the plain ring.
    UringDriver::Options options;
    options.cq_entries = kLoopCqEntries;
    options.single_issuer = true;
    options.defer_taskrun = true;
    auto driver = UringDriver::Create(options);
    if (absl::IsFailedPrecondition(driver.status()) || absl::IsInvalidArgument(driver.status())) {
      options.single_issuer = false;
      options.defer_taskrun = false;
      driver = UringDriver::Create(options);
    }
    if (absl::IsResourceExhausted(driver.status())) {
      // Before Linux 5.12 ring memory counts against RLIMIT_MEMLOCK (often
      // 64 KiB): the kernel's default CQ then, rather than no io_uring.
      options.cq_entries = 0;
      driver = UringDriver::Create(options);
    }
    if (!driver.ok()) return driver.status();
    return std::unique_ptr<Driver>(std::move(*driver));
  };
}

DriverFactory RealEpoll() {
  return []() -> absl::StatusOr<std::unique_ptr<Driver>> {
    auto driver = EpollDriver::Create();
    if (!driver.ok()) return driver.status();
    return std::unique_ptr<Driver>(std::move(*driver));
  };
}

// MakeFrom: the driver `factory` makes, chosen for `reason`.
absl::StatusOr<SelectedDriver> MakeFrom(DriverFactory& factory, std::string reason) {
  auto driver = factory();
  if (!driver.ok()) return driver.status();
  return SelectedDriver{std::move(*driver), std::move(reason)};
}

}  // namespace

absl::StatusOr<DriverChoice> ParseDriverChoice(absl::string_view text) {
  const std::string lower = absl::AsciiStrToLower(absl::StripAsciiWhitespace(text));
  if (lower == "auto" || lower.empty()) return DriverChoice::kAuto;
  if (lower == "uring" || lower == "io_uring") return DriverChoice::kUring;
  if (lower == "epoll") return DriverChoice::kEpoll;
  return absl::InvalidArgumentError(
      absl::StrCat(kDriverEnvVar, "=", text, ": expected uring, epoll or auto"));
}

std::string_view DriverChoiceName(DriverChoice choice) {
  switch (choice) {
    case DriverChoice::kAuto:
      return "auto";
    case DriverChoice::kUring:
      return "uring";
    case DriverChoice::kEpoll:
      return "epoll";
    case DriverChoice::kSim:
      return "sim";
  }
  return "?";
}

int ProbeUringSetup() {
  io_uring_params params{};
  const long fd = ::syscall(__NR_io_uring_setup, 1, &params);
  if (fd < 0) return errno;
  ::close(int(fd));
  return 0;
}

std::string ExplainSetupErrno(int err) {
  const std::string failed = ErrnoMessage("io_uring_setup", err);
  switch (err) {
    case ENOSYS:
      return absl::StrCat(failed, ": this kernel has no io_uring");
    case ENOMEM:
      return absl::StrCat(failed,
                          ": the locked-memory limit (RLIMIT_MEMLOCK) is too low for a ring");
    case EPERM: {
      const int disabled = ReadIntFile("/proc/sys/kernel/io_uring_disabled");
      if (disabled == 2) return absl::StrCat(failed, ": kernel.io_uring_disabled=2");
      if (disabled == 1) {
        return absl::StrCat(failed, ": kernel.io_uring_disabled=1 and not in io_uring_group");
      }
      if (SeccompMode() == 2) {
        return absl::StrCat(failed,
                            ": a seccomp filter blocks it (as container runtimes' default "
                            "profiles do)");
      }
      return absl::StrCat(failed, ": io_uring is not permitted here");
    }
    default:
      return failed;
  }
}

absl::StatusOr<SelectedDriver> SelectDriver(DriverChoice choice, absl::string_view source,
                                            DriverFactories factories) {
  if (!factories.uring) factories.uring = RealUring();
  if (!factories.epoll) factories.epoll = RealEpoll();
  if (!factories.probe_setup) factories.probe_setup = ProbeUringSetup;

  if (choice == DriverChoice::kEpoll) {
    return MakeFrom(factories.epoll, absl::StrCat("forced by ", source));
  }
  if (choice == DriverChoice::kSim) {
    if (!factories.sim) {
      return absl::InvalidArgumentError("DriverChoice::kSim needs DriverFactories::sim");
    }
    return MakeFrom(factories.sim, absl::StrCat("simulated kernel, asked for by ", source));
  }
  if (choice == DriverChoice::kUring) {
    auto forced_error = [&](absl::StatusCode code, absl::string_view why) {
      return absl::Status(
          code, absl::StrCat("io_uring was forced (", source, ") but cannot be used here: ", why,
                             "; choose epoll or auto to run without it"));
    };
    if (const int err = factories.probe_setup(); err != 0) {
      return forced_error(absl::StatusCode::kUnavailable, ExplainSetupErrno(err));
    }
    auto driver = factories.uring();
    if (!driver.ok()) return forced_error(driver.status().code(), driver.status().message());
    return SelectedDriver{std::move(*driver), absl::StrCat("forced by ", source)};
  }
  // kAuto.
  if (const int err = factories.probe_setup(); err != 0) {
    return MakeFrom(factories.epoll,
                    absl::StrCat("io_uring unavailable: ", ExplainSetupErrno(err)));
  }
  auto driver = factories.uring();
  if (!driver.ok()) {
    return MakeFrom(factories.epoll,
                    absl::StrCat("io_uring driver refused: ", driver.status().message()));
  }
  return SelectedDriver{std::move(*driver), "io_uring works here"};
}

}  // namespace ringloop
