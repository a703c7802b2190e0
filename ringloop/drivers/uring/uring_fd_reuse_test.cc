// ringloop/drivers/uring/uring_fd_reuse_test.cc: the fd cache (is this fd a socket?) after
// an fd was closed with close(2) behind the driver's back and its number reused.
//
// The driver learns once per fd whether it is a socket, and prepares writes (and
// reads at an offset) accordingly. When the number names another kind of file
// now, the kernel's answer says so (-ENOTSOCK from a send or recv, -ESPIPE from an
// offset on a socket): the driver learns the fd again and submits the op again,
// with its linked timeout, and the engine only ever sees the new file's answer.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>

#include "gtest/gtest.h"
#include "ringloop/drivers/uring/uring_driver.h"
#include "ringloop/drivers/uring/uring_test_util.h"

namespace ringloop {
namespace {

using testing::Fds;
using testing::UringHarness;

constexpr uint64_t kMs = 1'000'000;

// Renumber: gives `*fd` (just made) the number `want` (just closed), first moving
// `*other` (made with it) out of the way if it took that number.
void Renumber(int* fd, int want, int* other) {
  if (*fd == want) return;
  if (*other == want) {
    const int moved = fcntl(*other, F_DUPFD_CLOEXEC, 100);
    ASSERT_GE(moved, 0);
    close(*other);
    *other = moved;
  }
  ASSERT_EQ(dup3(*fd, want, O_CLOEXEC), want);
  close(*fd);
  *fd = want;
}

// LearnSocket: the driver writes on socket `fd` once, so it knows it is a socket.
void LearnSocket(UringHarness& h, int fd, int peer) {
  const OpId w = h.engine().Submit({Write{fd, "s", 1}, 0});
  std::optional<Event> e = h.RunUntilFinal(w);
  ASSERT_TRUE(e.has_value());
  ASSERT_EQ(e->res, 1);
  char c;
  ASSERT_EQ(read(peer, &c, 1), 1);
}

// A socket's number reused by a pipe's write end: a write with a deadline (an op
// and its linked timeout) is taken back from its -ENOTSOCK, with its timeout's
// -ECANCELED, and goes again as a write.
TEST(UringFdReuseTest, WriteWithADeadlineOnASocketReusedByAPipeGoesAgainAsAWrite) {
  URING_HARNESS_OR_SKIP(h);
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  LearnSocket(*h, sv[1], sv[0]);
  const int fd = sv[1];
  close(sv[0]);
  close(sv[1]);
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  Renumber(&p[1], fd, &p[0]);
  Fds fds;
  fds.Add(p[0]);
  const int w = fds.Add(p[1]);
  const uint64_t requests = h->engine().stats().requests;
  const OpId op = h->engine().Submit({Write{w, "pipe", 4}, 1, h->driver().NowNs() + 10'000 * kMs});
  std::optional<Event> e = h->RunUntilFinal(op);
  ASSERT_TRUE(e.has_value());
  ASSERT_EQ(e->res, 4);  // (else the read below would wait for nothing)
  EXPECT_EQ(h->driver().stats().stale_retries, 1u);
  EXPECT_EQ(h->engine().stats().requests, requests + 2) << "the engine saw the retry";
  EXPECT_EQ(h->engine().stats().rejected_completions, 0u);
  char buf[8] = {};
  EXPECT_EQ(read(p[0], buf, sizeof(buf)), 4);
  EXPECT_EQ(std::string(buf, 4), "pipe");
  EXPECT_TRUE(h->engine().Quiescent());
  EXPECT_EQ(h->driver().sqes_in_kernel(), 1u);  // the wake-up read only
}

// A socket's number reused by a regular file: a read at an offset, which on a
// socket is a recv (no position), must read the file at that offset; before the
// driver took recv's -ENOTSOCK back, it read the file at its position.
TEST(UringFdReuseTest, ReadAtAnOffsetOnASocketReusedByAFileReadsTheFileThere) {
  URING_HARNESS_OR_SKIP(h);
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  LearnSocket(*h, sv[0], sv[1]);
  const int fd = sv[0];
  close(sv[0]);
  close(sv[1]);
  const char* dir = std::getenv("TEST_TMPDIR");
  const std::string path = std::string(dir != nullptr ? dir : "/tmp") + "/reused";
  int file = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(file, 0);
  ASSERT_EQ(write(file, "0123456789", 10), 10);  // the position is now 10: EOF
  int none = -1;
  Renumber(&file, fd, &none);
  Fds fds;
  const int f = fds.Add(file);
  char buf[4] = {};
  const OpId op = h->engine().Submit({Read{f, buf, sizeof(buf), /*offset=*/2}, 1});
  std::optional<Event> e = h->RunUntilFinal(op);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->res, 4);
  EXPECT_EQ(std::string(buf, 4), "2345");
  EXPECT_EQ(h->driver().stats().stale_retries, 1u);
  unlink(path.c_str());
}

// A pipe's number reused by a socket: a read at a nonzero offset is refused by
// the socket (-ESPIPE) and goes again as a recv.
TEST(UringFdReuseTest, ReadAtAnOffsetOnAPipeReusedByASocketGoesAgainAsARecv) {
  URING_HARNESS_OR_SKIP(h);
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  ASSERT_EQ(write(p[1], "x", 1), 1);
  char c;
  const OpId learn = h->engine().Submit({Read{p[0], &c, 1, /*offset=*/5}, 0});
  ASSERT_EQ(h->RunUntilFinal(learn)->res, 1);  // offsets are ignored on pipes
  const int fd = p[0];
  close(p[0]);
  close(p[1]);
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  Renumber(&sv[0], fd, &sv[1]);
  Fds fds;
  const int s = fds.Add(sv[0]);
  const int peer = fds.Add(sv[1]);
  ASSERT_EQ(write(peer, "sock", 4), 4);
  char buf[8] = {};
  const OpId op = h->engine().Submit(
      {Read{s, buf, sizeof(buf), /*offset=*/7}, 1, h->driver().NowNs() + 10'000 * kMs});
  std::optional<Event> e = h->RunUntilFinal(op);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->res, 4);
  EXPECT_EQ(std::string(buf, 4), "sock");
  EXPECT_EQ(h->driver().stats().stale_retries, 1u);
}

// A send the user asked for on a pipe fails -ENOTSOCK: that is the file's own
// answer, not a stale cache, and it reaches the engine.
TEST(UringFdReuseTest, ASendOnAPipeStillFailsEnotsock) {
  URING_HARNESS_OR_SKIP(h);
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  Fds fds;
  fds.Add(p[0]);
  fds.Add(p[1]);
  const OpId op = h->engine().Submit({Send{p[1], "x", 1}, 1});
  std::optional<Event> e = h->RunUntilFinal(op);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->res, -ENOTSOCK);
  EXPECT_EQ(h->driver().stats().stale_retries, 0u);
}

}  // namespace
}  // namespace ringloop
