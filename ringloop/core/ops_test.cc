// ringloop/core/ops_test.cc: the shared facts about ops (names, fds, argument checks).
#include "ringloop/core/ops.h"

#include <cerrno>

#include "gtest/gtest.h"

namespace ringloop {
namespace {

TEST(Ops, NamesFollowTheSyscalls) {
  EXPECT_EQ(OpName(KindOf(Op{Read{}})), "read");
  EXPECT_EQ(OpName(KindOf(Op{Accept{}})), "accept");
  EXPECT_EQ(OpName(KindOf(Op{Timeout{}})), "timeout");
  EXPECT_EQ(OpName(static_cast<OpKind>(200)), "unknown");
}

TEST(Ops, FdOfNamesTheTrackedFdOnly) {
  EXPECT_EQ(FdOf(Op{Read{.fd = 4}}), 4);
  EXPECT_EQ(FdOf(Op{Close{.fd = 9}}), 9);
  EXPECT_EQ(FdOf(Op{Openat{.dirfd = 3, .path = "x"}}), -1);
  EXPECT_EQ(FdOf(Op{Nop{}}), -1);
}

TEST(Ops, SocketAndMultishotClassification) {
  EXPECT_TRUE(IsSocketOp(Op{Recv{}}));
  EXPECT_TRUE(IsSocketOp(Op{Accept{}}));
  EXPECT_FALSE(IsSocketOp(Op{Read{}}));
  EXPECT_TRUE(IsMultishot(Op{Accept{.multishot = true}}));
  EXPECT_FALSE(IsMultishot(Op{Accept{}}));
}

TEST(Ops, ShortTransfersAndErrorsBreakChains) {
  char buf[8];
  iovec iov[2] = {{buf, 3}, {buf, 5}};
  EXPECT_TRUE(BreaksChain(Op{Read{3, buf, 8}}, 7));
  EXPECT_FALSE(BreaksChain(Op{Read{3, buf, 8}}, 8));
  EXPECT_TRUE(BreaksChain(Op{Writev{3, iov, 2}}, 7));
  EXPECT_FALSE(BreaksChain(Op{Writev{3, iov, 2}}, 8));
  EXPECT_FALSE(BreaksChain(Op{Recv{.fd = 3, .buf = buf, .len = 8}}, 1));
  EXPECT_TRUE(BreaksChain(Op{Recv{.fd = 3, .buf = buf, .len = 8, .flags = MSG_WAITALL}}, 1));
  EXPECT_FALSE(BreaksChain(Op{Fsync{3}}, 0));
  EXPECT_TRUE(BreaksChain(Op{Fsync{3}}, -EIO));
  EXPECT_EQ(ChainMinimum(Op{Nop{}}), 0u);
}

TEST(Ops, CheckArgumentsCatchesBadInputBeforeTheKernel) {
  char buf[4];
  EXPECT_EQ(CheckArguments(Op{Read{3, buf, 4}}), 0);
  EXPECT_EQ(CheckArguments(Op{Read{-1, buf, 4}}), -EBADF);
  EXPECT_EQ(CheckArguments(Op{Read{3, nullptr, 4}}), -EFAULT);
  EXPECT_EQ(CheckArguments(Op{Read{3, nullptr, 0}}), 0);
  iovec bad[1] = {{nullptr, 5}};
  EXPECT_EQ(CheckArguments(Op{Readv{3, bad, 1}}), -EFAULT);
  EXPECT_EQ(CheckArguments(Op{Recv{.fd = 3, .multishot = true}}), -EINVAL);
  EXPECT_EQ(CheckArguments(Op{Recv{.fd = 3, .buf_group = 1, .multishot = true}}), 0);
  EXPECT_EQ(CheckArguments(Op{Shutdown{3, 17}}), -EINVAL);
  EXPECT_EQ(CheckArguments(Op{Openat{.path = nullptr}}), -EFAULT);
  EXPECT_EQ(CheckArguments(Op{Accept{.fd = 3, .addr = nullptr, .addrlen = nullptr}}), 0);
  socklen_t len = 0;
  EXPECT_EQ(CheckArguments(Op{Accept{.fd = 3, .addr = nullptr, .addrlen = &len}}), -EFAULT);
}

}  // namespace
}  // namespace ringloop
