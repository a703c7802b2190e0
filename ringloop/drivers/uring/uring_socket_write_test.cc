// ringloop/drivers/uring/uring_socket_write_test.cc: a Write or Writev at the current position
// on a socket is a send with MSG_NOSIGNAL (as under the epoll driver and the
// simulator), while everything else about write(2) stays: the data, SIGPIPE on a
// pipe. Also pins the fd cache behind it: one fstat per fd, forgotten
// by the engine's Close and by ForgetFd.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "ringloop/drivers/uring/uring_driver.h"
#include "ringloop/drivers/uring/uring_test_util.h"

namespace ringloop {
namespace {

using testing::Fds;
using testing::UringHarness;

std::atomic<int> sigpipes{0};

void CountSigpipe(int) { sigpipes.fetch_add(1, std::memory_order_relaxed); }

// SigpipeCounter: counts SIGPIPEs instead of dying of them while it exists. A
// SIGPIPE raised by an op the kernel performs inline is delivered to the thread in
// io_uring_enter, so it is counted before the Poll that completes the op returns.
class SigpipeCounter {
 public:
  SigpipeCounter() {
    struct sigaction sa {};
    sa.sa_handler = CountSigpipe;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGPIPE, &sa, &old_);
  }
  ~SigpipeCounter() { sigaction(SIGPIPE, &old_, nullptr); }
  int count() const { return sigpipes.load(std::memory_order_relaxed); }

 private:
  struct sigaction old_ {};
};

struct Pair {
  int a = -1;
  int b = -1;
};

Pair SocketPair(Fds& fds, int type = SOCK_STREAM) {
  int sv[2];
  EXPECT_EQ(socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv), 0);
  return Pair{fds.Add(sv[0]), fds.Add(sv[1])};
}

// ReadAll: everything `fd` holds now (it must be nonblocking).
std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) return out;
    out.append(buf, size_t(n));
  }
}

TEST(UringSocketWriteTest, WritesToClosedPeerFailEpipeWithoutSigpipe) {
  SigpipeCounter counter;
  URING_HARNESS_OR_SKIP(h);
  Fds fds;
  const Pair s = SocketPair(fds);
  ASSERT_EQ(close(s.b), 0);
  fds.Forget(s.b);
  const int before = counter.count();
  const OpId w = h->engine().Submit({Write{s.a, "x", 1}, 1});
  ASSERT_EQ(h->RunUntilFinal(w)->res, -EPIPE);
  iovec iov[2] = {{const_cast<char*>("y"), 1}, {const_cast<char*>("z"), 1}};
  const OpId wv = h->engine().Submit({Writev{s.a, iov, 2}, 2});
  ASSERT_EQ(h->RunUntilFinal(wv)->res, -EPIPE);
  // At an explicit offset too: IORING_OP_WRITE at offset 0 on a socket goes
  // through sock_write_iter (and SIGPIPE); a socket has no position, so the
  // driver sends it like any write.
  const OpId wo = h->engine().Submit({Write{s.a, "o", 1, /*offset=*/0}, 3});
  ASSERT_EQ(h->RunUntilFinal(wo)->res, -EPIPE);
  EXPECT_EQ(counter.count(), before) << "a write on a socket raised SIGPIPE";
  EXPECT_EQ(h->driver().stats().socket_writes, 3u);
}

// The counter does see a SIGPIPE from an op in the ring (else the test above would
// prove nothing), and a pipe keeps write(2)'s meaning: only sockets are sent.
TEST(UringSocketWriteTest, WriteToPipeWithoutReaderStillRaisesSigpipe) {
  SigpipeCounter counter;
  URING_HARNESS_OR_SKIP(h);
  Fds fds;
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  fds.Add(p[1]);
  ASSERT_EQ(close(p[0]), 0);
  const int before = counter.count();
  const OpId w = h->engine().Submit({Write{p[1], "x", 1}, 1});
  ASSERT_EQ(h->RunUntilFinal(w)->res, -EPIPE);
  EXPECT_EQ(counter.count(), before + 1);
  EXPECT_EQ(h->driver().stats().socket_writes, 0u);
}

// With registered files the SQE names a table index; whether the fd is a socket
// is still asked of the fd itself.
TEST(UringSocketWriteTest, RegisteredSocketIsRecognisedByItsRealFd) {
  SigpipeCounter counter;
  UringDriver::Options options;
  options.registered_file_slots = 8;
  URING_HARNESS_OR_SKIP(h, options);
  Fds fds;
  const Pair s = SocketPair(fds);
  ASSERT_TRUE(h->driver().RegisterFile(s.a).ok());
  ASSERT_EQ(close(s.b), 0);
  fds.Forget(s.b);
  const int before = counter.count();
  const OpId w = h->engine().Submit({Write{s.a, "x", 1}, 1});
  ASSERT_EQ(h->RunUntilFinal(w)->res, -EPIPE);
  EXPECT_EQ(counter.count(), before);
  EXPECT_EQ(h->driver().stats().socket_writes, 1u);
}

TEST(UringSocketWriteTest, WritesOnASocketDeliverInOrderAndProbeTheFdOnce) {
  URING_HARNESS_OR_SKIP(h);
  Fds fds;
  const Pair s = SocketPair(fds);
  ASSERT_EQ(fcntl(s.b, F_SETFL, O_NONBLOCK), 0);
  iovec iov[2] = {{const_cast<char*>("cd"), 2}, {const_cast<char*>("ef"), 2}};
  const OpId w1 = h->engine().Submit({Write{s.a, "ab", 2}, 1});
  const OpId w2 = h->engine().Submit({Writev{s.a, iov, 2}, 2});
  const OpId w3 = h->engine().Submit({Write{s.a, "g", 1}, 3});
  ASSERT_TRUE(h->RunUntil([&] { return h->engine().Quiescent(); }));
  EXPECT_EQ(h->FinalEvent(w1)->res, 2);
  EXPECT_EQ(h->FinalEvent(w2)->res, 4);
  EXPECT_EQ(h->FinalEvent(w3)->res, 1);
  EXPECT_EQ(ReadAll(s.b), "abcdefg");
  EXPECT_EQ(h->driver().stats().socket_writes, 3u);
  EXPECT_EQ(h->driver().stats().fd_probes, 1u);
}

// write(2) on a SOCK_SEQPACKET socket ends a record (MSG_EOR); so does the send.
TEST(UringSocketWriteTest, WritesOnASeqpacketSocketStayRecords) {
  URING_HARNESS_OR_SKIP(h);
  Fds fds;
  const Pair s = SocketPair(fds, SOCK_SEQPACKET);
  const OpId w1 = h->engine().Submit({Write{s.a, "ab", 2}, 1});
  const OpId w2 = h->engine().Submit({Write{s.a, "cde", 3}, 2});
  ASSERT_TRUE(h->RunUntil([&] { return h->engine().Quiescent(); }));
  EXPECT_EQ(h->FinalEvent(w1)->res, 2);
  EXPECT_EQ(h->FinalEvent(w2)->res, 3);
  char buf[16];
  ASSERT_EQ(recv(s.b, buf, sizeof(buf), MSG_DONTWAIT), 2);
  EXPECT_EQ(std::string(buf, 2), "ab");
  ASSERT_EQ(recv(s.b, buf, sizeof(buf), MSG_DONTWAIT), 3);
  EXPECT_EQ(std::string(buf, 3), "cde");
  EXPECT_EQ(h->driver().stats().socket_writes, 2u);
}

// The engine's Close forgets the fd: a pipe that gets the number next is written as
// a pipe (a stale "socket" would make the write fail ENOTSOCK).
TEST(UringSocketWriteTest, CloseForgetsThatTheFdWasASocket) {
  URING_HARNESS_OR_SKIP(h);
  Fds fds;
  const Pair s = SocketPair(fds);
  int p[2];  // made first, so that neither end takes the socket's number
  ASSERT_EQ(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
  fds.Add(p[0]);
  const OpId w = h->engine().Submit({Write{s.a, "x", 1}, 1});
  ASSERT_EQ(h->RunUntilFinal(w)->res, 1);
  const OpId c = h->engine().Close(s.a, 2);
  fds.Forget(s.a);
  ASSERT_EQ(h->RunUntilFinal(c)->res, 0);
  ASSERT_EQ(dup3(p[1], s.a, O_CLOEXEC), s.a);  // the write end takes the old number
  ASSERT_EQ(close(p[1]), 0);
  fds.Add(s.a);
  const OpId pw = h->engine().Submit({Write{s.a, "p", 1}, 3});
  ASSERT_EQ(h->RunUntilFinal(pw)->res, 1);
  EXPECT_EQ(ReadAll(p[0]), "p");
  EXPECT_EQ(h->driver().stats().socket_writes, 1u);
  EXPECT_EQ(h->driver().stats().fd_probes, 2u);
}

// An fd closed behind the loop's back must be forgotten before its number is used
// again (the documented contract): ForgetFd does what the engine's Close does.
TEST(UringSocketWriteTest, ForgetFdForgetsThatTheFdWasASocket) {
  URING_HARNESS_OR_SKIP(h);
  Fds fds;
  const Pair s = SocketPair(fds);
  const OpId w = h->engine().Submit({Write{s.a, "x", 1}, 1});
  ASSERT_EQ(h->RunUntilFinal(w)->res, 1);
  h->driver().ForgetFd(s.a);
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
  fds.Add(p[0]);
  ASSERT_EQ(dup3(p[1], s.a, O_CLOEXEC), s.a);  // replaces the socket behind the loop
  ASSERT_EQ(close(p[1]), 0);
  const OpId pw = h->engine().Submit({Write{s.a, "p", 1}, 2});
  ASSERT_EQ(h->RunUntilFinal(pw)->res, 1);
  EXPECT_EQ(ReadAll(p[0]), "p");
  EXPECT_EQ(h->driver().stats().fd_probes, 2u);
}

}  // namespace
}  // namespace ringloop
