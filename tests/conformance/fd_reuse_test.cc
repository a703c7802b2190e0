// tests/conformance/fd_reuse_test.cc: an fd closed with close(2) outside the loop,
// its number reused by a new file. The loop thread must never block in a syscall
// other than its one wait, and the reused number must behave as the file it now
// names: whatever a driver learnt about the closed file (its kind, whether it is
// a socket, its flags, its epoll registration, its readiness) must not leak into
// the new one.
//
// On a real kernel each scenario runs under an UnblockGuard: a thread that, if
// the loop has not finished within a bound, does what would unblock a thread
// stuck in a syscall on the new file (writes to the pipe, connects to the
// listener) and records that it had to. A blocked loop thread then makes the
// scenario fail instead of hanging it.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "ringloop/drivers/testing/unblock_guard.h"
#include "tests/conformance/fixture.h"

namespace ringloop::conformance {
namespace {

using testing::UnblockGuard;

// TakeNumbers: gives the fds of `fresh` (just made) the numbers of `old` (just
// closed outside the loop). Linux hands out the lowest free numbers, so they
// usually are the same already; otherwise they are moved with dup3, which only
// real kernels can do.
::testing::AssertionResult TakeNumbers(Env& env, FdPair* fresh, FdPair old) {
  constexpr int kParking = 900;  // out of the way while the two are swapped
  int* const now[2] = {&fresh->first, &fresh->second};
  const int want[2] = {old.first, old.second};
  for (int i = 0; i < 2; ++i) {
    if (*now[i] == want[i]) continue;
    if (const int r = env.RenumberFd(*now[i], kParking + i); r != 0) {
      return ::testing::AssertionFailure() << "cannot move fd " << *now[i] << ": " << r;
    }
    *now[i] = kParking + i;
  }
  for (int i = 0; i < 2; ++i) {
    if (*now[i] == want[i]) continue;
    if (const int r = env.RenumberFd(*now[i], want[i]); r != 0) {
      return ::testing::AssertionFailure()
             << "cannot give fd " << *now[i] << " the number " << want[i] << ": " << r;
    }
    *now[i] = want[i];
  }
  return ::testing::AssertionSuccess();
}

// CloseOutside: close(2) of both fds of `p`, as a library would, behind the
// loop's back.
void CloseOutside(Env& env, FdPair p) {
  ASSERT_EQ(env.PeerClose(p.first), 0);
  ASSERT_EQ(env.PeerClose(p.second), 0);
}

// ExpectReadsAsNewFile: `fd` reads what the peer writes to `peer_fd`, both when
// the data is there first and when the read waits for it in the kernel.
void ExpectReadsAsNewFile(Harness& h, int fd, int peer_fd, uint64_t offset = kCurrentPosition) {
  Env& env = h.env();
  ASSERT_EQ(env.PeerWrite(peer_fd, "first"), 5);
  char buf[16] = {};
  const OpId r1 = h.Submit(Read{fd, buf, sizeof(buf), offset});
  ASSERT_TRUE(h.AwaitFinal({r1}));
  EXPECT_EQ(Text(buf, h.Res(r1)), "first");
  char buf2[16] = {};
  const OpId r2 = h.Submit(Read{fd, buf2, sizeof(buf2), offset});
  h.Kick();
  EXPECT_FALSE(h.Final(r2).has_value()) << "a read of an empty file completed: " << h.Res(r2);
  ASSERT_EQ(env.PeerWrite(peer_fd, "second"), 6);
  ASSERT_TRUE(h.AwaitFinal({r2}));
  EXPECT_EQ(Text(buf2, h.Res(r2)), "second");
}

// PipeReusedByPipe: the first user report. A read on a pipe through the loop
// (completing at once, or after waiting in the kernel when `park_first`); both
// ends closed with close(2); a new pipe takes the numbers; a read with a 200 ms
// deadline on the new, empty pipe must end -ETIME at or after the deadline, with
// the loop thread never stuck in read(2); then the number reads as the new pipe.
void PipeReusedByPipe(Env& env, Harness& h, bool park_first) {
  const FdPair old = env.Pipe();
  ASSERT_GE(old.first, 0);
  char buf[4] = {};
  if (park_first) {
    const OpId r = h.Submit(Read{old.first, buf, sizeof(buf)});
    h.Kick();
    ASSERT_FALSE(h.Final(r).has_value());
    ASSERT_EQ(env.PeerWrite(old.second, "abcd"), 4);
    ASSERT_TRUE(h.AwaitFinal({r}));
    ASSERT_EQ(h.Res(r), 4);
  } else {
    ASSERT_EQ(env.PeerWrite(old.second, "abcdefgh"), 8);
    const OpId r = h.Submit(Read{old.first, buf, sizeof(buf)});  // fills its buffer
    ASSERT_TRUE(h.AwaitFinal({r}));
    ASSERT_EQ(h.Res(r), 4);
  }
  CloseOutside(env, old);
  FdPair fresh = env.Pipe();
  ASSERT_GE(fresh.first, 0);
  ASSERT_TRUE(TakeNumbers(env, &fresh, old));
  const int writer = fresh.second;
  UnblockGuard guard([writer] { (void)!::write(writer, "!", 1); }, env.real_kernel());
  char buf2[8] = {};
  const uint64_t deadline = h.Now() + 200 * kMs;
  const OpId r = h.Submit(Read{fresh.first, buf2, sizeof(buf2)}, 0, deadline);
  ASSERT_TRUE(h.AwaitFinal({r}));
  EXPECT_FALSE(guard.Disarm()) << "the loop thread was stuck in a syscall on the new pipe";
  EXPECT_EQ(h.Res(r), -kTimedOut) << Text(buf2, h.Res(r));
  EXPECT_GE(h.ArrivalNs(r), deadline) << "timed out " << deadline - h.ArrivalNs(r) << " ns early";
  ExpectReadsAsNewFile(h, fresh.first, fresh.second);
}

TEST_P(ConformanceTest, PipeReusedByPipeAfterAReadThatCompletedAtOnce) {
  Harness& h = Start();
  PipeReusedByPipe(env(), h, /*park_first=*/false);
}

TEST_P(ConformanceTest, PipeReusedByPipeAfterAReadThatWaitedInTheKernel) {
  Harness& h = Start();
  PipeReusedByPipe(env(), h, /*park_first=*/true);
}

// The second user report: a socket's number reused by a pipe's write end; a
// Write (and a Writev with a deadline) to the pipe must succeed.
TEST_P(ConformanceTest, SocketReusedByPipeWritesSucceed) {
  Harness& h = Start();
  const FdPair old = env().SocketPair();
  ASSERT_GE(old.first, 0);
  // The loop writes on the socket (a driver learns it is one), and reads on its
  // peer, so that a pipe later takes both numbers, write end on the written one.
  const OpId w = h.Submit(Write{old.second, "sock", 4});
  ASSERT_TRUE(h.AwaitFinal({w}));
  ASSERT_EQ(h.Res(w), 4);
  char got[8] = {};
  const OpId r = h.Submit(Read{old.first, got, sizeof(got)});
  ASSERT_TRUE(h.AwaitFinal({r}));
  ASSERT_EQ(Text(got, h.Res(r)), "sock");
  CloseOutside(env(), old);
  FdPair fresh = env().Pipe();
  ASSERT_GE(fresh.first, 0);
  ASSERT_TRUE(TakeNumbers(env(), &fresh, old));
  const int reader = fresh.first;
  UnblockGuard guard(
      [reader] {
        char sink[64];
        (void)!::read(reader, sink, sizeof(sink));
      },
      env().real_kernel());
  const OpId w1 = h.Submit(Write{fresh.second, "pipe", 4});
  ASSERT_TRUE(h.AwaitFinal({w1}));
  EXPECT_EQ(h.Res(w1), 4);
  char a[] = "vec", b[] = "tor";
  const iovec iov[] = {{a, 3}, {b, 3}};
  const OpId w2 = h.Submit(Writev{fresh.second, iov, 2}, 0, h.Now() + 10'000 * kMs);
  ASSERT_TRUE(h.AwaitFinal({w2}));
  EXPECT_EQ(h.Res(w2), 6);
  EXPECT_FALSE(guard.Disarm()) << "the loop thread was stuck in a syscall on the new pipe";
  std::string all;
  EXPECT_EQ(env().PeerRead(fresh.first, &all, 64), 10);
  EXPECT_EQ(all, "pipevector");
}

// A pipe's numbers reused by a socket pair: writes become sends, reads wait for
// the new socket's data, and an explicit offset is ignored as on any socket.
TEST_P(ConformanceTest, PipeReusedBySocketPairBehavesAsASocket) {
  Harness& h = Start();
  const FdPair old = env().Pipe();
  ASSERT_GE(old.first, 0);
  const OpId w = h.Submit(Write{old.second, "pipe", 4});
  char buf[8] = {};
  const OpId r = h.Submit(Read{old.first, buf, sizeof(buf)});
  ASSERT_TRUE(h.AwaitFinal({w, r}));
  ASSERT_EQ(Text(buf, h.Res(r)), "pipe");
  CloseOutside(env(), old);
  FdPair fresh = env().SocketPair();
  ASSERT_GE(fresh.first, 0);
  ASSERT_TRUE(TakeNumbers(env(), &fresh, old));
  const int a = fresh.first;
  UnblockGuard guard([a] { (void)!::write(a, "!", 1); }, env().real_kernel());
  // The number the loop wrote to as a pipe is now a socket: a write reaches its peer.
  const OpId w1 = h.Submit(Write{fresh.second, "ping", 4});
  ASSERT_TRUE(h.AwaitFinal({w1}));
  EXPECT_EQ(h.Res(w1), 4);
  std::string got;
  EXPECT_EQ(env().PeerRead(fresh.first, &got, 16), 4);
  EXPECT_EQ(got, "ping");
  ExpectReadsAsNewFile(h, fresh.first, fresh.second);
  ExpectReadsAsNewFile(h, fresh.first, fresh.second, /*offset=*/100);
  EXPECT_FALSE(guard.Disarm()) << "the loop thread was stuck in a syscall on the new socket";
}

// A file's number reused by a socket: a read with an explicit offset (meant for
// the file) on what is now a socket reads the socket's data, never -ESPIPE.
TEST_P(ConformanceTest, FileReusedBySocketReadsAtAnOffsetAsASocket) {
  Harness& h = Start();
  const int file = env().OpenFile(env().TempDir() + "/data", O_RDWR | O_CREAT | O_TRUNC);
  ASSERT_GE(file, 0);
  const OpId w = h.Submit(Write{file, "0123456789", 10, /*offset=*/0});
  ASSERT_TRUE(h.AwaitFinal({w}));
  ASSERT_EQ(h.Res(w), 10);
  char buf[4] = {};
  const OpId r = h.Submit(Read{file, buf, sizeof(buf), /*offset=*/3});
  ASSERT_TRUE(h.AwaitFinal({r}));
  ASSERT_EQ(Text(buf, h.Res(r)), "3456");
  ASSERT_EQ(env().PeerClose(file), 0);
  FdPair fresh = env().SocketPair();
  ASSERT_GE(fresh.first, 0);
  // Only the first number matters; the second keeps whatever it got.
  FdPair want{file, fresh.second == file ? fresh.first : fresh.second};
  ASSERT_TRUE(TakeNumbers(env(), &fresh, want));
  const int a = fresh.first;
  UnblockGuard guard([a] { (void)!::write(a, "!", 1); }, env().real_kernel());
  ExpectReadsAsNewFile(h, fresh.first, fresh.second, /*offset=*/3);
  const OpId w1 = h.Submit(Write{fresh.first, "back", 4, /*offset=*/5});
  ASSERT_TRUE(h.AwaitFinal({w1}));
  EXPECT_EQ(h.Res(w1), 4);
  std::string got;
  EXPECT_EQ(env().PeerRead(fresh.second, &got, 16), 4);
  EXPECT_EQ(got, "back");
  EXPECT_FALSE(guard.Disarm()) << "the loop thread was stuck in a syscall on the new socket";
}

// A listener's number reused by a new (blocking) listener: an accept with a
// deadline and nobody connecting must time out without blocking the loop
// thread in accept(2); a connection then is accepted.
TEST_P(ConformanceTest, ListenerReusedByListenerAcceptNeverBlocksTheLoop) {
  Harness& h = Start();
  sockaddr_in old_addr{};
  const int old = env().Listener(&old_addr);
  ASSERT_GE(old, 0);
  const int old_client = env().PeerConnect(old_addr);
  ASSERT_GE(old_client, 0);
  const OpId a0 = h.Submit(Accept{.fd = old});
  ASSERT_TRUE(h.AwaitFinal({a0}));
  ASSERT_GE(h.Res(a0), 0);
  env().Adopt(h.Res(a0));
  ASSERT_EQ(env().PeerClose(old), 0);
  sockaddr_in addr{};
  const int fresh = env().Listener(&addr);
  ASSERT_GE(fresh, 0);
  FdPair numbers{fresh, -1};
  if (fresh != old) {
    ASSERT_EQ(env().RenumberFd(fresh, old), 0) << "cannot give the listener fd " << old;
    numbers.first = old;
  }
  const int listener = numbers.first;
  UnblockGuard guard(
      [addr] {
        const int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        (void)::connect(s, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
        ::close(s);
      },
      env().real_kernel());
  const uint64_t deadline = h.Now() + 200 * kMs;
  const OpId a1 = h.Submit(Accept{.fd = listener}, 0, deadline);
  ASSERT_TRUE(h.AwaitFinal({a1}));
  EXPECT_FALSE(guard.Disarm()) << "the loop thread was stuck in accept(2)";
  EXPECT_EQ(h.Res(a1), -kTimedOut);
  if (h.Res(a1) >= 0) env().Adopt(h.Res(a1));
  EXPECT_GE(h.ArrivalNs(a1), deadline);
  const int client = env().PeerConnect(addr);
  ASSERT_GE(client, 0);
  const OpId a2 = h.Submit(Accept{.fd = listener});
  ASSERT_TRUE(h.AwaitFinal({a2}));
  ASSERT_GE(h.Res(a2), 0);
  env().Adopt(h.Res(a2));
}

}  // namespace
}  // namespace ringloop::conformance
