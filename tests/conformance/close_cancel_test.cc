// tests/conformance/close_cancel_test.cc: the close protocol and cancellation:
// close while an op is parked on the fd (read, accept, write), cancel before
// and after completion and twice, EBADF on a closing fd with no syscall, double
// close, fd-number reuse, and Shutdown draining every op.
#include <netinet/in.h>

#include <cerrno>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "tests/conformance/fixture.h"

namespace ringloop::conformance {
namespace {

TEST_P(ConformanceTest, ReadBlockedThenCloseEndsReadCancelledBeforeClose) {
  Harness& h = Start();
  const FdPair p = env().Pipe();
  ASSERT_GE(p.first, 0);
  char buf[16];
  const OpId r = h.Submit(Read{p.first, buf, sizeof(buf)});
  h.Kick();
  ASSERT_EQ(h.engine().InFlight(), 1u) << "the read is not parked in the kernel";
  ASSERT_FALSE(h.Final(r).has_value());
  const OpId c = h.Close(p.first);
  ASSERT_TRUE(h.AwaitFinal({r, c}));
  EXPECT_EQ(h.Res(r), -ECANCELED);
  EXPECT_EQ(h.Res(c), 0);
  EXPECT_LT(h.FinalIndex(r), h.FinalIndex(c)) << "close completed before the read ended";
  EXPECT_FALSE(h.engine().IsClosing(p.first));
  // The read really let go of the pipe: it has no reader left.
  EXPECT_EQ(env().PeerWrite(p.second, "x"), -EPIPE);
}

TEST_P(ConformanceTest, AcceptBlockedThenClose) {
  Harness& h = Start();
  sockaddr_in addr{};
  const int listener = env().Listener(&addr);
  ASSERT_GE(listener, 0);
  const OpId a = h.Submit(Accept{.fd = listener});
  h.Kick();
  ASSERT_EQ(h.engine().InFlight(), 1u);
  ASSERT_FALSE(h.Final(a).has_value());
  const OpId c = h.Close(listener);
  ASSERT_TRUE(h.AwaitFinal({a, c}));
  EXPECT_EQ(h.Res(c), 0);
  EXPECT_LT(h.FinalIndex(a), h.FinalIndex(c));
  if (h.engine().stats().shutdowns_sent == 0) {
    EXPECT_EQ(h.Res(a), -ECANCELED);
  } else {
    // The kernel answered the cancel -EALREADY (only the simulator does here),
    // so the close protocol shut the socket down: accept then fails EINVAL.
    EXPECT_TRUE(sim()) << "a real kernel could not cancel a parked accept";
    EXPECT_TRUE(OneOf(h.Res(a), {-ECANCELED, -EINVAL})) << h.Res(a);
  }
}

TEST_P(ConformanceTest, WriteParkedOnFullPipeThenClose) {
  Harness& h = Start();
  const FdPair p = env().SmallPipe();
  ASSERT_GE(p.first, 0);
  const int64_t filled = env().FillPipe(p.second);
  ASSERT_GT(filled, 0);
  const std::string data(4096, 'w');
  const OpId w = h.Submit(Write{p.second, data.data(), uint32_t(data.size())});
  h.Kick();
  ASSERT_EQ(h.engine().InFlight(), 1u);
  ASSERT_FALSE(h.Final(w).has_value()) << "a write into a full pipe completed";
  const OpId c = h.Close(p.second);
  ASSERT_TRUE(h.AwaitFinal({w, c}));
  EXPECT_EQ(h.Res(w), -ECANCELED);
  EXPECT_EQ(h.Res(c), 0);
  EXPECT_LT(h.FinalIndex(w), h.FinalIndex(c));
  // The cancelled write left nothing in the pipe; the reader then sees EOF.
  std::string got;
  int64_t n = 0;
  for (int i = 0; i < 10000 && (n = env().PeerRead(p.first, &got, 65536)) > 0; ++i) {
  }
  EXPECT_EQ(n, 0) << "no EOF after the writer closed";
  EXPECT_EQ(int64_t(got.size()), filled);
  EXPECT_EQ(got.find('w'), std::string::npos) << "the cancelled write wrote data";
}

TEST_P(ConformanceTest, CancelPendingRead) {
  Harness& h = Start();
  const FdPair p = env().Pipe();
  ASSERT_GE(p.first, 0);
  char buf[16];
  const OpId r = h.Submit(Read{p.first, buf, sizeof(buf)});
  h.Kick();
  ASSERT_FALSE(h.Final(r).has_value());
  EXPECT_TRUE(h.Cancel(r));
  ASSERT_TRUE(h.AwaitFinal({r}));
  EXPECT_EQ(h.Res(r), -ECANCELED);
  EXPECT_EQ(h.engine().stats().cancels_sent, 1u);
  EXPECT_FALSE(h.Cancel(r));
  // The fd works on: a new read gets the next data.
  char buf2[16] = {};
  const OpId r2 = h.Submit(Read{p.first, buf2, sizeof(buf2)});
  ASSERT_EQ(env().PeerWrite(p.second, "next"), 4);
  ASSERT_TRUE(h.AwaitFinal({r2}));
  EXPECT_EQ(Text(buf2, h.Res(r2)), "next");
}

TEST_P(ConformanceTest, CancelAfterReadCompletedIsANoOp) {
  Harness& h = Start();
  const FdPair p = env().Pipe();
  ASSERT_GE(p.first, 0);
  ASSERT_EQ(env().PeerWrite(p.second, "done"), 4);
  char buf[16] = {};
  const OpId r = h.Submit(Read{p.first, buf, sizeof(buf)});
  ASSERT_TRUE(h.AwaitFinal({r}));
  EXPECT_FALSE(h.Cancel(r));
  EXPECT_FALSE(h.Cancel(r));
  h.Kick();
  EXPECT_EQ(h.engine().stats().cancels_sent, 0u);
  EXPECT_EQ(Text(buf, h.Res(r)), "done");
  EXPECT_TRUE(h.engine().Quiescent());
}

TEST_P(ConformanceTest, CancelTwiceIsCancelOnce) {
  Harness& h = Start();
  const FdPair p = env().Pipe();
  ASSERT_GE(p.first, 0);
  char buf[16];
  const OpId r = h.Submit(Read{p.first, buf, sizeof(buf)});
  h.Kick();
  ASSERT_FALSE(h.Final(r).has_value());
  EXPECT_TRUE(h.Cancel(r));
  EXPECT_TRUE(h.Cancel(r));  // still live: the same request, not a second one
  ASSERT_TRUE(h.AwaitFinal({r}));
  EXPECT_EQ(h.Res(r), -ECANCELED);
  EXPECT_EQ(h.engine().stats().cancels_sent, 1u);
  EXPECT_FALSE(h.Cancel(r));
}

TEST_P(ConformanceTest, OpOnClosingFdFailsEbadfWithoutASyscall) {
  Harness& h = Start();
  const FdPair p = env().Pipe();
  ASSERT_GE(p.first, 0);
  char buf[16];
  const OpId r = h.Submit(Read{p.first, buf, sizeof(buf)});
  h.Kick();
  ASSERT_EQ(h.engine().stats().requests, 1u);
  const OpId c = h.Close(p.first);
  // The fd is closing (its read still in flight): new ops fail at once.
  const OpId late_read = h.Submit(Read{p.first, buf, sizeof(buf)});
  const OpId late_write = h.Submit(Write{p.first, "x", 1});
  EXPECT_EQ(h.Res(late_read), -EBADF);
  EXPECT_EQ(h.Res(late_write), -EBADF);
  ASSERT_TRUE(h.AwaitFinal({r, c}));
  EXPECT_EQ(h.Res(r), -ECANCELED);
  EXPECT_EQ(h.Res(c), 0);
  // Exactly the read, its cancel and the close reached the driver (and a
  // shutdown(2) if the kernel answered the cancel -EALREADY: only the
  // simulator does, a parked pipe read is always cancellable on Linux).
  const uint64_t shutdowns = h.engine().stats().shutdowns_sent;
  if (env().real_kernel()) {
    EXPECT_EQ(shutdowns, 0u);
  }
  EXPECT_EQ(h.engine().stats().requests, 3u + shutdowns);
  EXPECT_EQ(h.engine().stats().rejected_at_submit, 2u);
  // Once closed, the number is the kernel's business: an op on it reaches the
  // kernel, which says EBADF (nothing reopened the number meanwhile).
  const OpId after = h.Submit(Read{p.first, buf, sizeof(buf)});
  ASSERT_TRUE(h.AwaitFinal({after}));
  EXPECT_EQ(h.Res(after), -EBADF);
  EXPECT_EQ(h.engine().stats().requests, 4u + shutdowns);
}

TEST_P(ConformanceTest, CloseTwiceSecondFailsEbadf) {
  Harness& h = Start();
  const FdPair p = env().Pipe();
  ASSERT_GE(p.first, 0);
  const OpId c1 = h.Close(p.second);
  const OpId c2 = h.Close(p.second);
  EXPECT_EQ(h.Res(c2), -EBADF);  // at once
  ASSERT_TRUE(h.AwaitFinal({c1}));
  EXPECT_EQ(h.Res(c1), 0);
  EXPECT_EQ(h.engine().stats().closes_sent, 1u);
  // The write end really is closed: the reader sees EOF.
  char buf[4];
  const OpId r = h.Submit(Read{p.first, buf, sizeof(buf)});
  ASSERT_TRUE(h.AwaitFinal({r}));
  EXPECT_EQ(h.Res(r), 0);
}

TEST_P(ConformanceTest, ReusedFdNumberGetsNoStaleCompletion) {
  Harness& h = Start();
  const FdPair old_pipe = env().Pipe();
  ASSERT_GE(old_pipe.first, 0);
  const int fd = old_pipe.first;
  char old_buf[16] = {};
  const OpId old_read = h.Submit(Read{fd, old_buf, sizeof(old_buf)});
  h.Kick();
  const OpId c = h.Close(fd);
  ASSERT_TRUE(h.AwaitFinal({old_read, c}));
  ASSERT_EQ(h.Res(old_read), -ECANCELED);
  ASSERT_EQ(h.Res(c), 0);
  // A new pipe whose read end gets the same number.
  const FdPair new_pipe = env().Pipe();
  ASSERT_GE(new_pipe.first, 0);
  ASSERT_EQ(env().RenumberFd(new_pipe.first, fd), 0)
      << "could not give the new pipe fd " << fd << " (got " << new_pipe.first << ")";
  char new_buf[16] = {};
  const OpId new_read = h.Submit(Read{fd, new_buf, sizeof(new_buf)});
  h.Kick();
  EXPECT_FALSE(h.Final(new_read).has_value());
  // The old pipe has no reader any more; the new one gets its own data only.
  EXPECT_EQ(env().PeerWrite(old_pipe.second, "old"), -EPIPE);
  ASSERT_EQ(env().PeerWrite(new_pipe.second, "new"), 3);
  ASSERT_TRUE(h.AwaitFinal({new_read}));
  EXPECT_EQ(Text(new_buf, h.Res(new_read)), "new");
  EXPECT_EQ(std::string(old_buf), "");
  // One event each, nothing else.
  EXPECT_EQ(h.events().size(), 3u);
}

TEST_P(ConformanceTest, ShutdownWithOpsInFlightDrainsEveryFinalEvent) {
  // A bound of four: ops that wait for readiness never wait for room, so all
  // five park in the kernel (the read with a deadline with its linked timeout).
  Harness& h = Start(Engine::Options{.max_in_flight = 4});
  const FdPair p = env().Pipe();
  const FdPair q = env().Pipe();
  const FdPair s = env().SocketPair();
  sockaddr_in addr{};
  const int listener = env().Listener(&addr);
  ASSERT_GE(p.first, 0);
  ASSERT_GE(q.first, 0);
  ASSERT_GE(s.first, 0);
  ASSERT_GE(listener, 0);
  char b1[8], b2[8], b3[8], b4[8];
  std::vector<OpId> ops;
  ops.push_back(h.Submit(Read{p.first, b1, sizeof(b1)}));
  ops.push_back(h.Submit(Recv{s.first, b2, sizeof(b2)}));
  ops.push_back(h.Submit(Accept{.fd = listener}));
  ops.push_back(h.Submit(Read{q.first, b3, sizeof(b3)}, 0, h.Now() + 60'000 * kMs));
  ops.push_back(h.Submit(Read{q.first, b4, sizeof(b4)}));
  ops.push_back(h.Submit(Timeout{h.Now() + 60'000 * kMs}));
  h.Kick();
  EXPECT_EQ(h.engine().InFlight(), 6u);
  EXPECT_EQ(h.engine().BoundedInFlight(), 0u);
  for (OpId id : ops) ASSERT_FALSE(h.Final(id).has_value());
  const absl::Status drained = h.TryDrain();
  ASSERT_TRUE(drained.ok()) << drained;
  h.CheckExactlyOnce();
  EXPECT_TRUE(h.engine().Quiescent());
  const bool shut_down = h.engine().stats().shutdowns_sent > 0;
  if (env().real_kernel()) {
    EXPECT_FALSE(shut_down) << "a real kernel could not cancel a parked op";
  }
  for (size_t i = 0; i < ops.size(); ++i) {
    ASSERT_TRUE(h.Final(ops[i]).has_value());
    const int32_t res = h.Res(ops[i]);
    if (!shut_down) {
      EXPECT_EQ(res, -ECANCELED) << "op " << i;
    } else if (i == 1) {
      // The simulator answered the recv's cancel -EALREADY, so the drain shut
      // the socket down: the recv then ends at EOF.
      EXPECT_TRUE(OneOf(res, {-ECANCELED, 0})) << res;
    } else if (i == 2) {
      EXPECT_TRUE(OneOf(res, {-ECANCELED, -EINVAL})) << res;  // accept, shut down
    } else {
      EXPECT_EQ(res, -ECANCELED) << "op " << i;
    }
  }
  // After Shutdown nothing new is accepted.
  const OpId late = h.Submit(Nop{});
  EXPECT_EQ(h.Res(late), -ECANCELED);
  EXPECT_EQ(h.engine().stats().final_events, h.engine().stats().submitted);
}

}  // namespace
}  // namespace ringloop::conformance
