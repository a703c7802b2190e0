// ringloop/drivers/uring/uring_fallback_test.cc: ops performed as syscalls, and chains
// with such links; BIND/LISTEN through the ring where the kernel has them.
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

// The engine hands the driver one link at a time, so a link run as a syscall
// needs no playing in the driver: the writes and the fsync still run in order.
TEST(UringFallbackTest, LinksAroundASyncOpRunInOrder) {
  UringDriver::Options options;
  options.force_sync_ops = Bit(OpKind::kFsync);
  URING_HARNESS_OR_SKIP(h, options);
  Fds fds;
  const int fd = TempFile(fds, "uring_played");
  ASSERT_GE(fd, 0);
  SubmitArgs chain[] = {{Write{fd, "ab", 2}, 1}, {Fsync{fd}, 2}, {Write{fd, "cd", 2}, 3}};
  OpId ids[3];
  h->engine().SubmitChain(chain, ids);
  ASSERT_TRUE(h->RunUntil([&] { return h->engine().Quiescent(); }));
  EXPECT_EQ(h->FinalEvent(ids[0])->res, 2);
  EXPECT_EQ(h->FinalEvent(ids[1])->res, 0);
  EXPECT_EQ(h->FinalEvent(ids[2])->res, 2);
  EXPECT_LT(h->FinalIndex(ids[0]), h->FinalIndex(ids[1]));
  EXPECT_LT(h->FinalIndex(ids[1]), h->FinalIndex(ids[2]));
  char back[4];
  ASSERT_EQ(pread(fd, back, 4, 0), 4);
  EXPECT_EQ(std::string(back, 4), "abcd");
  EXPECT_EQ(h->driver().stats().sync_ops, 1u);
  EXPECT_EQ(h->driver().stats().played_links, 0u);
}

TEST(UringFallbackTest, PlayedLinkBreaksLikeTheKernels) {
  UringDriver::Options options;
  options.force_sync_ops = Bit(OpKind::kFsync);
  URING_HARNESS_OR_SKIP(h, options);
  Fds fds;
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  fds.Add(p[0]);
  fds.Add(p[1]);
  char buf[4];
  SubmitArgs chain[] = {{Read{p[1], buf, 4}, 1}, {Fsync{p[1]}, 2}, {Nop{}, 3}};
  OpId ids[3];
  h->engine().SubmitChain(chain, ids);
  ASSERT_TRUE(h->RunUntil([&] { return h->engine().Quiescent(); }));
  EXPECT_EQ(h->FinalEvent(ids[0])->res, -EBADF);
  EXPECT_EQ(h->FinalEvent(ids[1])->res, -ECANCELED);
  EXPECT_EQ(h->FinalEvent(ids[2])->res, -ECANCELED);
  EXPECT_EQ(h->driver().stats().sync_ops, 0u);  // the fsync never ran
}

TEST(UringFallbackTest, CancellingAHeldOpCancelsTheRestOfItsChain) {
  UringDriver::Options options;
  options.force_sync_ops = Bit(OpKind::kFsync);
  URING_HARNESS_OR_SKIP(h, options);
  Fds fds;
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  fds.Add(p[0]);
  fds.Add(p[1]);
  char c;
  SubmitArgs chain[] = {{Read{p[0], &c, 1}, 1}, {Fsync{p[1]}, 2}, {Nop{}, 3}};
  OpId ids[3];
  h->engine().SubmitChain(chain, ids);
  ASSERT_TRUE(h->Step(false).ok());  // the read parks; fsync and nop wait in the engine
  EXPECT_TRUE(h->engine().Cancel(ids[1]));
  ASSERT_TRUE(h->RunUntil([&] { return h->FinalEvent(ids[2]).has_value(); }));
  EXPECT_EQ(h->FinalEvent(ids[1])->res, -ECANCELED);
  EXPECT_EQ(h->FinalEvent(ids[2])->res, -ECANCELED);
  EXPECT_FALSE(h->FinalEvent(ids[0]).has_value());  // still waiting for data
  ASSERT_EQ(write(p[1], "x", 1), 1);
  std::optional<Event> e = h->RunUntilFinal(ids[0]);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->res, 1);
  EXPECT_EQ(h->driver().stats().sync_ops, 0u);
  EXPECT_TRUE(h->engine().Quiescent());
}

TEST(UringFallbackTest, SyncOpWithDeadlineFinishesFirst) {
  UringDriver::Options options;
  options.force_sync_ops = Bit(OpKind::kFsync);
  URING_HARNESS_OR_SKIP(h, options);
  Fds fds;
  const int fd = TempFile(fds, "uring_sync_deadline");
  const OpId f = h->engine().Submit({Fsync{fd}, 1, h->driver().NowNs() + 5'000'000'000});
  std::optional<Event> e = h->RunUntilFinal(f);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->res, 0);
  EXPECT_TRUE(h->engine().Quiescent());  // its linked timeout was settled too
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
