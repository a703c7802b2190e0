// ringloop/runtime/driver_select_test.cc: the uring/epoll choice, with the kernel played
// through the factory seams (the real seccomp case is tests/seccomp_fallback_test).
#include "ringloop/runtime/driver_select.h"

#include <cerrno>
#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "ringloop/drivers/epoll/epoll_driver.h"
#include "ringloop/drivers/uring/uring_probe.h"

namespace ringloop {
namespace {

struct Counts {
  int uring = 0;
  int epoll = 0;
  int probe = 0;
};

// Factories: a kernel whose io_uring_setup answers `setup_errno` and whose uring
// driver answers `uring_status` (OK: a stand-in driver, here an epoll one renamed
// by the reason only, since the choice logic never looks inside).
DriverFactories Factories(Counts* counts, int setup_errno, absl::Status uring_status) {
  DriverFactories f;
  f.probe_setup = [counts, setup_errno] {
    ++counts->probe;
    return setup_errno;
  };
  f.uring = [counts, uring_status]() -> absl::StatusOr<std::unique_ptr<Driver>> {
    ++counts->uring;
    if (!uring_status.ok()) return uring_status;
    auto d = EpollDriver::Create();
    if (!d.ok()) return d.status();
    return std::unique_ptr<Driver>(std::move(*d));
  };
  f.epoll = [counts]() -> absl::StatusOr<std::unique_ptr<Driver>> {
    ++counts->epoll;
    auto d = EpollDriver::Create();
    if (!d.ok()) return d.status();
    return std::unique_ptr<Driver>(std::move(*d));
  };
  return f;
}

TEST(DriverSelectTest, ParsesTheEnvironmentValues) {
  EXPECT_EQ(*ParseDriverChoice("uring"), DriverChoice::kUring);
  EXPECT_EQ(*ParseDriverChoice("EPOLL"), DriverChoice::kEpoll);
  EXPECT_EQ(*ParseDriverChoice("auto"), DriverChoice::kAuto);
  const auto bad = ParseDriverChoice("kqueue");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(bad.status().message(), "RINGLOOP_DRIVER=kqueue"));
}

TEST(DriverSelectTest, AutoFallsBackToEpollWhenSetupIsRefused) {
  for (const int err : {EPERM, ENOSYS, ENOMEM}) {
    Counts counts;
    auto selected = SelectDriver(DriverChoice::kAuto, "auto", Factories(&counts, err, {}));
    ASSERT_TRUE(selected.ok()) << selected.status();
    EXPECT_EQ(selected->driver->Name(), "epoll");
    EXPECT_TRUE(absl::StrContains(selected->reason, strerrorname_np(err))) << selected->reason;
    EXPECT_EQ(counts.uring, 0);
    EXPECT_EQ(counts.epoll, 1);
  }
}

TEST(DriverSelectTest, AutoFallsBackWhenTheUringDriverLacksWhatItNeeds) {
  Counts counts;
  auto selected = SelectDriver(
      DriverChoice::kAuto, "auto",
      Factories(&counts, 0, absl::UnavailableError("kernel lacks IORING_OP_LINK_TIMEOUT")));
  ASSERT_TRUE(selected.ok()) << selected.status();
  EXPECT_EQ(selected->driver->Name(), "epoll");
  EXPECT_TRUE(absl::StrContains(selected->reason, "IORING_OP_LINK_TIMEOUT")) << selected->reason;
  EXPECT_EQ(counts.uring, 1);
}

TEST(DriverSelectTest, ForcedUringIsAnErrorNotAFallback) {
  Counts counts;
  auto selected =
      SelectDriver(DriverChoice::kUring, "RINGLOOP_DRIVER=uring", Factories(&counts, EPERM, {}));
  ASSERT_FALSE(selected.ok());
  EXPECT_TRUE(absl::StrContains(selected.status().message(), "RINGLOOP_DRIVER=uring"));
  EXPECT_TRUE(absl::StrContains(selected.status().message(), "EPERM"));
  EXPECT_EQ(counts.epoll, 0);
  Counts counts2;
  auto refused = SelectDriver(DriverChoice::kUring, "LoopOptions::driver",
                              Factories(&counts2, 0, absl::UnavailableError("no NODROP")));
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "no NODROP"));
  EXPECT_EQ(counts2.epoll, 0);
}

TEST(DriverSelectTest, ForcedEpollNeverTouchesIoUring) {
  Counts counts;
  auto selected =
      SelectDriver(DriverChoice::kEpoll, "RINGLOOP_DRIVER=epoll", Factories(&counts, 0, {}));
  ASSERT_TRUE(selected.ok());
  EXPECT_EQ(selected->driver->Name(), "epoll");
  EXPECT_EQ(selected->reason, "forced by RINGLOOP_DRIVER=epoll");
  EXPECT_EQ(counts.probe, 0);
  EXPECT_EQ(counts.uring, 0);
}

TEST(DriverSelectTest, ExplainsEachSetupErrno) {
  EXPECT_TRUE(absl::StrContains(ExplainSetupErrno(ENOSYS), "no io_uring"));
  EXPECT_TRUE(absl::StrContains(ExplainSetupErrno(ENOMEM), "RLIMIT_MEMLOCK"));
  EXPECT_TRUE(absl::StrContains(ExplainSetupErrno(EPERM), "[EPERM]"));
}

TEST(DriverSelectTest, AutoPicksTheRealUringDriverWhereIoUringWorks) {
  if (const int err = ProbeUringSetup(); err != 0) {
    GTEST_SKIP() << "io_uring unavailable on this machine: " << ExplainSetupErrno(err);
  }
  auto selected = SelectDriver(DriverChoice::kAuto, "auto", DriverFactories());
  ASSERT_TRUE(selected.ok()) << selected.status();
  // The real uring driver may still refuse (a kernel without an opcode it needs);
  // then the reason says so.
  if (selected->driver->Name() == "epoll") {
    EXPECT_TRUE(absl::StrContains(selected->reason, "io_uring driver refused"));
  } else {
    EXPECT_EQ(selected->driver->Name(), "uring");
  }
}

}  // namespace
}  // namespace ringloop
