// ringloop/drivers/uring/uring_fallback_test.cc: ops performed as syscalls, alone or
// with their linked timeouts; BIND/LISTEN through the ring where the kernel has them.
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "gtest/gtest.h"
#include "ringloop/drivers/sync_op.h"
#include "ringloop/drivers/uring/internal/uring_abi.h"
#include "ringloop/drivers/uring/uring_driver.h"
#include "ringloop/drivers/uring/uring_test_util.h"

namespace ringloop {
namespace {

using testing::Fds;

uint32_t Bit(OpKind kind) { return 1u << static_cast<unsigned>(kind); }

std::string TempPath(const char* name) {
  const char* dir = getenv("TEST_TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/" + name + "." + std::to_string(getpid());
}

int TempFile(Fds& fds, const char* name) {
  const std::string path = TempPath(name);
  const int fd = fds.Add(open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  unlink(path.c_str());
  return fd;
}

sockaddr_in Loopback() {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

// SocketBindListen: the three ops through the engine; returns the listening fd.
int SocketBindListen(testing::UringHarness& h, Fds& fds, const sockaddr_in& addr) {
  const OpId s = h.engine().Submit({Socket{AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0}, 1});
  std::optional<Event> e = h.RunUntilFinal(s);
  EXPECT_TRUE(e.has_value() && e->res >= 0);
  if (!e.has_value() || e->res < 0) return -1;
  const int fd = fds.Add(e->res);
  SubmitArgs chain[] = {
      {Bind{fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)}, 2},
      {Listen{fd, 16}, 3},
  };
  OpId ids[2];
  h.engine().SubmitChain(chain, ids);
  EXPECT_TRUE(h.RunUntil([&] { return h.FinalEvent(ids[1]).has_value(); }));
  EXPECT_EQ(h.FinalEvent(ids[0])->res, 0);
  EXPECT_EQ(h.FinalEvent(ids[1])->res, 0);
  return fd;
}

// ExpectListening: `fd` is bound to loopback on some port and accepts connections.
void ExpectListening(int fd, Fds& fds) {
  sockaddr_in bound{};
  socklen_t len = sizeof(bound);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len), 0);
  EXPECT_EQ(bound.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
  EXPECT_NE(bound.sin_port, 0);
  const int c = fds.Add(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  EXPECT_EQ(connect(c, reinterpret_cast<sockaddr*>(&bound), sizeof(bound)), 0);
}

TEST(UringFallbackTest, SocketBindListenRunAsSyscallsWhenForced) {
  UringDriver::Options options;
  options.force_sync_ops = Bit(OpKind::kSocket) | Bit(OpKind::kBind) | Bit(OpKind::kListen);
  URING_HARNESS_OR_SKIP(h, options);
  EXPECT_TRUE(h->driver().RunsSync(OpKind::kBind));
  Fds fds;
  const int fd = SocketBindListen(*h, fds, Loopback());
  ASSERT_GE(fd, 0);
  ExpectListening(fd, fds);
  EXPECT_EQ(h->driver().stats().sync_ops, 3u);
}

TEST(UringFallbackTest, BindAndListenGoThroughTheRingWhereTheKernelHasThem) {
  URING_HARNESS_OR_SKIP(h);
  if (!h->driver().capabilities().Supports(uring_abi::kOpBind) ||
      !h->driver().capabilities().Supports(uring_abi::kOpListen)) {
    EXPECT_TRUE(h->driver().RunsSync(OpKind::kBind));  // the fallback takes over
    GTEST_SKIP() << "IORING_OP_BIND/LISTEN need Linux 6.11";
  }
  EXPECT_FALSE(h->driver().RunsSync(OpKind::kBind));
  Fds fds;
  const int fd = SocketBindListen(*h, fds, Loopback());
  ASSERT_GE(fd, 0);
  ExpectListening(fd, fds);
  EXPECT_EQ(h->driver().stats().sync_ops, 0u);
}

// An op run as a syscall comes with its linked timeout when it has a deadline:
// the driver posts the op's result, then the timeout's -ECANCELED (the op won,
// as the kernel answers a timeout its op beat), whatever the op's result, and
// neither reaches the ring.
TEST(UringFallbackTest, SyncOpAndItsLinkedTimeoutCompleteTogether) {
  UringDriver::Options options;
  options.force_sync_ops = Bit(OpKind::kFsync);
  URING_HARNESS_OR_SKIP(h, options);
  Fds fds;
  const int fd = TempFile(fds, "uring_sync_deadline");
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  fds.Add(p[0]);
  fds.Add(p[1]);
  ASSERT_TRUE(h->Step(/*wait=*/false).ok());  // arms the wake-up read
  const uint64_t sqes = h->driver().stats().sqes;
  const uint64_t completions = h->engine().stats().completions;
  const uint64_t deadline = h->driver().NowNs() + 5'000'000'000;
  const OpId good = h->engine().Submit({Fsync{fd}, 1, deadline});
  const OpId bad = h->engine().Submit({Fsync{p[1]}, 2, deadline});  // a pipe: EINVAL
  ASSERT_EQ(h->engine().PendingRequests().size(), 4u);
  ASSERT_TRUE(h->RunUntil([&] { return h->engine().Quiescent(); }, /*max_steps=*/10));
  EXPECT_EQ(h->FinalEvent(good)->res, 0);
  EXPECT_EQ(h->FinalEvent(bad)->res, -EINVAL);
  EXPECT_EQ(h->engine().stats().completions - completions, 4u);  // two ops, two timeouts
  EXPECT_EQ(h->engine().stats().rejected_completions, 0u);
  EXPECT_EQ(h->driver().stats().sync_ops, 2u);
  EXPECT_EQ(h->driver().stats().sqes, sqes);  // nothing went to the ring
}

TEST(UringFallbackTest, RunSyncReportsErrnoLikeTheRing) {
  EXPECT_EQ(RunSync(Fsync{-1}), -EBADF);
  EXPECT_EQ(RunSync(Nop{}), 0);
  EXPECT_EQ(RunSync(Close{-1}), -EBADF);
  EXPECT_TRUE(CanRunSync(OpKind::kListen));
  EXPECT_FALSE(CanRunSync(OpKind::kRead));
  EXPECT_FALSE(CanRunSync(OpKind::kAccept));
}

}  // namespace
}  // namespace ringloop
