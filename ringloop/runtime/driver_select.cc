// ringloop/runtime/driver_select.cc: choosing between the uring and epoll drivers.
#include "ringloop/runtime/driver_select.h"

#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "ringloop/drivers/epoll/epoll_driver.h"
#include "ringloop/drivers/uring/uring_driver.h"
#include "ringloop/drivers/uring/uring_probe.h"

namespace ringloop {
namespace {

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
