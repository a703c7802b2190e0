// ringloop/drivers/uring/uring_probe_test.cc: probing, and the setup errors the runtime's
// epoll fallback acts on.
#include "ringloop/drivers/uring/uring_probe.h"

#include <liburing.h>

#include <cerrno>

#include "gtest/gtest.h"
#include "ringloop/drivers/uring/internal/uring_abi.h"
#include "ringloop/drivers/uring/uring_driver.h"

namespace ringloop {
namespace {

bool Contains(const absl::Status& s, const char* text) {
  return s.message().find(text) != absl::string_view::npos;
}

TEST(UringProbeTest, ProbeReportsWhatTheKernelOffers) {
  absl::StatusOr<UringCapabilities> caps = ProbeUring();
  if (!caps.ok() && absl::IsUnavailable(caps.status())) GTEST_SKIP() << caps.status();
  ASSERT_TRUE(caps.ok()) << caps.status();
  EXPECT_TRUE(caps->Supports(IORING_OP_NOP));
  EXPECT_TRUE(caps->Supports(IORING_OP_READ));
  EXPECT_GT(caps->last_op, unsigned{IORING_OP_READ});
  EXPECT_EQ(UringDriver::Probe().ok(), CheckDriverRequirements(*caps).ok());
}

TEST(UringProbeTest, TooOldAKernelIsUnavailableAndNamesWhatIsMissing) {
  const UringCapabilities none;
  const absl::Status s = CheckDriverRequirements(none);
  EXPECT_TRUE(absl::IsUnavailable(s));
  EXPECT_TRUE(Contains(s, "IORING_FEAT_EXT_ARG"));
  EXPECT_TRUE(Contains(s, "IORING_OP_LINK_TIMEOUT"));
}

// Which cause EPERM names depends on the machine (the sysctl, a seccomp
// filter): it always names one of them, and the errno as ErrnoMessage words it.
TEST(UringProbeTest, EpermNamesTheSysctlOrSeccompAndMeansFallBack) {
  const absl::Status s = SetupError(EPERM, 0, /*plain_ring_works=*/false);
  EXPECT_TRUE(absl::IsUnavailable(s));
  EXPECT_TRUE(Contains(s, "kernel.io_uring_disabled") || Contains(s, "seccomp")) << s;
  EXPECT_TRUE(Contains(s, "io_uring_setup: Operation not permitted [EPERM]: ")) << s;
  EXPECT_EQ(s.message(), ExplainSetupErrno(EPERM));  // one wording, for the runtime too
}

TEST(UringProbeTest, EpermForSqpollAloneIsPermissionDenied) {
  const absl::Status s = SetupError(EPERM, IORING_SETUP_SQPOLL, /*plain_ring_works=*/true);
  EXPECT_TRUE(absl::IsPermissionDenied(s));
  EXPECT_TRUE(Contains(s, "SQPOLL"));
}

TEST(UringProbeTest, EnosysNamesTheKernel) {
  const absl::Status s = SetupError(ENOSYS, 0, false);
  EXPECT_TRUE(absl::IsUnavailable(s));
  EXPECT_TRUE(Contains(s, "kernel"));
  EXPECT_TRUE(Contains(s, "ENOSYS"));
}

TEST(UringProbeTest, EnomemNamesMemlock) {
  const absl::Status s = SetupError(ENOMEM, 0, false);
  EXPECT_TRUE(absl::IsResourceExhausted(s));
  EXPECT_TRUE(Contains(s, "memlock"));
}

TEST(UringProbeTest, RefusedFlagsWithAWorkingPlainRingAreFailedPrecondition) {
  const absl::Status s = SetupError(EINVAL, IORING_SETUP_DEFER_TASKRUN, true);
  EXPECT_TRUE(absl::IsFailedPrecondition(s));
  EXPECT_TRUE(absl::IsInternal(SetupError(EIO, 0, true)));
}

TEST(UringProbeTest, NewerOpcodeNamesMatchTheKernelsEnum) {
  EXPECT_EQ(UringOpcodeName(IORING_OP_SENDMSG_ZC), "IORING_OP_SENDMSG_ZC");
  EXPECT_EQ(UringOpcodeName(uring_abi::kOpBind), "IORING_OP_BIND");
  EXPECT_EQ(UringOpcodeName(uring_abi::kOpListen), "IORING_OP_LISTEN");
}

}  // namespace
}  // namespace ringloop
