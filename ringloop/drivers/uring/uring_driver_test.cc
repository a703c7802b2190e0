// ringloop/drivers/uring/uring_driver_test.cc: the uring driver against the real kernel.
//
// Each test pins one behaviour the driver and engine promise together (close
// waits, timeouts, cancels, backpressure), through pipes, socket pairs,
// loopback TCP and temp files.
#include "ringloop/drivers/uring/uring_driver.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "ringloop/drivers/uring/uring_test_util.h"

namespace ringloop {
namespace {

using testing::Fds;
using testing::LoopbackListener;

struct Pipe {
  int r = -1;
  int w = -1;
};

Pipe MakePipe(Fds& fds) {
  int p[2];
  EXPECT_EQ(pipe2(p, O_CLOEXEC), 0);
  return Pipe{fds.Add(p[0]), fds.Add(p[1])};
}

std::string TempPath(const char* name) {
  const char* dir = getenv("TEST_TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/" + name + "." + std::to_string(getpid());
}

TEST(UringDriverTest, ReadBlockedOnEmptyPipeEndsCancelledAndCloseComesAfterIt) {
  URING_HARNESS_OR_SKIP(h);
  Fds fds;
  Pipe p = MakePipe(fds);
  char buf[16];
  const OpId read = h->engine().Submit({Read{p.r, buf, sizeof(buf)}, 1});
  ASSERT_TRUE(h->Step(/*wait=*/false).ok());
  EXPECT_EQ(h->engine().InFlight(), 1u);  // parked in the kernel
  EXPECT_FALSE(h->FinalEvent(read).has_value());

  const OpId close = h->engine().Close(p.r, 2);
  fds.Forget(p.r);
  ASSERT_TRUE(h->RunUntil([&] { return h->FinalEvent(close).has_value(); }));
  EXPECT_EQ(h->FinalEvent(read)->res, -ECANCELED);
  EXPECT_EQ(h->FinalEvent(close)->res, 0);
  EXPECT_LT(h->FinalIndex(read), h->FinalIndex(close));
  EXPECT_EQ(fcntl(p.r, F_GETFD), -1);  // the kernel really closed it
  EXPECT_TRUE(h->engine().Quiescent());
}

TEST(UringDriverTest, AcceptBlockedThenCloseReturns) {
  URING_HARNESS_OR_SKIP(h);
  Fds fds;
  sockaddr_in addr{};
  const int listener = fds.Add(LoopbackListener(&addr));
  ASSERT_GE(listener, 0);
  const OpId accept = h->engine().Submit({Accept{listener}, 1});
  ASSERT_TRUE(h->Step(false).ok());
  EXPECT_FALSE(h->FinalEvent(accept).has_value());

  const OpId close = h->engine().Close(listener, 2);
  fds.Forget(listener);
  ASSERT_TRUE(h->RunUntil([&] { return h->FinalEvent(close).has_value(); }));
  EXPECT_EQ(h->FinalEvent(accept)->res, -ECANCELED);
  EXPECT_EQ(h->FinalEvent(close)->res, 0);
  EXPECT_LT(h->FinalIndex(accept), h->FinalIndex(close));
}

TEST(UringDriverTest, ReadWithDeadlineTimesOutNeverBeforeTheDeadline) {
  URING_HARNESS_OR_SKIP(h);
  Fds fds;
  Pipe p = MakePipe(fds);
  char buf[8];
  const uint64_t deadline = h->driver().NowNs() + 30'000'000;  // 30 ms
  const OpId read = h->engine().Submit({Read{p.r, buf, sizeof(buf)}, 1, deadline});
  std::optional<Event> e = h->RunUntilFinal(read);
  const uint64_t seen = h->driver().NowNs();
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->res, -kTimedOut);
  EXPECT_GE(seen, deadline);
  EXPECT_TRUE(h->engine().Quiescent());
}

TEST(UringDriverTest, ReadWithDeadlineReturnsDataWhenItComesFirst) {
  URING_HARNESS_OR_SKIP(h);
  Fds fds;
  Pipe p = MakePipe(fds);
  char buf[8] = {};
  const uint64_t deadline = h->driver().NowNs() + 10'000'000'000;  // 10 s
  const OpId read = h->engine().Submit({Read{p.r, buf, sizeof(buf)}, 1, deadline});
  ASSERT_TRUE(h->Step(false).ok());
  ASSERT_EQ(write(p.w, "hi", 2), 2);
  std::optional<Event> e = h->RunUntilFinal(read);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->res, 2);
  EXPECT_EQ(std::string(buf, 2), "hi");
  EXPECT_TRUE(h->engine().Quiescent());  // the linked timeout's CQE came in too
}

TEST(UringDriverTest, TimeoutOpFiresAtItsDeadline) {
  URING_HARNESS_OR_SKIP(h);
  const uint64_t deadline = h->driver().NowNs() + 20'000'000;
  const OpId t = h->engine().Submit({Timeout{deadline}, 1});
  std::optional<Event> e = h->RunUntilFinal(t, /*max_steps=*/100);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->res, 0);
  EXPECT_GE(h->driver().NowNs(), deadline);
  // One wait for the deadline, not a busy loop: a handful of enters at most.
  EXPECT_LE(h->driver().stats().enters, 10u);
}

TEST(UringDriverTest, SendToClosedPeerIsEpipeNotSigpipe) {
  URING_HARNESS_OR_SKIP(h);
  Fds fds;
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  fds.Add(sv[0]);
  close(sv[1]);
  const OpId send = h->engine().Submit({Send{sv[0], "x", 1}, 1});
  std::optional<Event> e = h->RunUntilFinal(send);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->res, -EPIPE);  // and the process is still alive: MSG_NOSIGNAL
}

TEST(UringDriverTest, CancelRacingCompletionYieldsExactlyOneFinalEvent) {
  URING_HARNESS_OR_SKIP(h);
  Fds fds;
  Pipe p = MakePipe(fds);  // blocking: an empty read parks in the kernel
  int completed = 0;
  int cancelled = 0;
  for (int i = 0; i < 300; ++i) {
    char c = 0;
    const OpId op = h->engine().Submit({Read{p.r, &c, 1}, uint64_t(i)});
    if (i % 3 == 0) {
      ASSERT_EQ(write(p.w, "z", 1), 1);  // the data is there first
    }
    ASSERT_TRUE(h->Step(false).ok());
    h->engine().Cancel(op);
    if (i % 3 == 1) {
      ASSERT_EQ(write(p.w, "z", 1), 1);  // the data races the cancel
    }
    if (i % 3 == 2) {
      ASSERT_TRUE(h->Step(false).ok());  // the cancel goes first
      ASSERT_EQ(write(p.w, "z", 1), 1);
    }
    std::optional<Event> e = h->RunUntilFinal(op);
    ASSERT_TRUE(e.has_value());
    if (e->res == 1) {
      EXPECT_EQ(c, 'z');
      ++completed;
    } else {
      EXPECT_EQ(e->res, -ECANCELED);
      ++cancelled;
      char drain;
      ASSERT_EQ(read(p.r, &drain, 1), 1);  // the byte the cancelled read left
    }
  }
  int finals = 0;
  for (const Event& e : h->events()) finals += e.more ? 0 : 1;
  EXPECT_EQ(finals, 300);
  EXPECT_GT(completed, 0);
  EXPECT_GT(cancelled, 0);
  EXPECT_EQ(h->engine().stats().rejected_completions, 0u);
  EXPECT_TRUE(h->engine().Quiescent());
}

TEST(UringDriverTest, MultishotAcceptTakesAHundredConnections) {
  URING_HARNESS_OR_SKIP(h);
  Fds fds;
  sockaddr_in addr{};
  const int listener = fds.Add(LoopbackListener(&addr, 256));
  ASSERT_GE(listener, 0);
  const OpId accept =
      h->engine().Submit({Accept{listener, nullptr, nullptr, SOCK_CLOEXEC, true}, 1});
  ASSERT_TRUE(h->Step(false).ok());
  std::vector<int> clients;
  for (int i = 0; i < 100; ++i) {
    const int c = fds.Add(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    ASSERT_EQ(connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    clients.push_back(c);
  }
  std::set<int> accepted;
  ASSERT_TRUE(h->RunUntil([&] {
    for (const Event& e : h->events()) {
      if (e.id == accept && e.more && e.res >= 0) accepted.insert(e.res);
    }
    return accepted.size() >= 100;
  }));
  EXPECT_EQ(accepted.size(), 100u);
  EXPECT_FALSE(h->FinalEvent(accept).has_value());  // still armed
  for (int fd : accepted) close(fd);
  h->engine().Cancel(accept);
  std::optional<Event> e = h->RunUntilFinal(accept);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->res, -ECANCELED);
}

TEST(UringDriverTest, TinyCompletionQueueLosesNothingUnderAThousandOps) {
  UringDriver::Options options;
  options.sq_entries = 4;
  options.cq_entries = 4;
  URING_HARNESS_OR_SKIP(h, options);
  std::vector<OpId> ids;
  for (int i = 0; i < 1000; ++i) ids.push_back(h->engine().Submit({Nop{}, uint64_t(i)}));
  ASSERT_TRUE(h->RunUntil([&] { return h->engine().Quiescent(); }, 5000));
  std::vector<int> seen(1000, 0);
  for (const Event& e : h->events()) {
    ASSERT_FALSE(e.more);
    ASSERT_LT(e.tag, 1000u);
    EXPECT_EQ(e.res, 0);
    ++seen[e.tag];
  }
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(seen[i], 1) << "op " << i;
  // The scenario really overflowed the CQ (else it proves nothing).
  EXPECT_GT(h->driver().stats().overflow_flushes, 0u);
  EXPECT_GT(h->driver().stats().full_sq_submits, 0u);
}

TEST(UringDriverTest, CancelFdEndsEveryOpOnTheFd) {
  URING_HARNESS_OR_SKIP(h);
  Fds fds;
  Pipe p = MakePipe(fds);
  char a[4], b[4];
  const OpId r1 = h->engine().Submit({Read{p.r, a, 4}, 1});
  const OpId r2 = h->engine().Submit({PollAdd{p.r, POLLIN}, 2});
  ASSERT_TRUE(h->Step(false).ok());
  h->driver().CancelFd(p.r);
  ASSERT_TRUE(
      h->RunUntil([&] { return h->FinalEvent(r1).has_value() && h->FinalEvent(r2).has_value(); }));
  EXPECT_EQ(h->FinalEvent(r1)->res, -ECANCELED);
  EXPECT_EQ(h->FinalEvent(r2)->res, -ECANCELED);
  (void)b;
}

TEST(UringDriverTest, DestructionCancelsAndWaitsForOpsStillInTheKernel) {
  Fds fds;
  Pipe p = MakePipe(fds);
  char buf[4] = {'-', '-', '-', '-'};
  {
    URING_HARNESS_OR_SKIP(h);
    h->engine().Submit({Read{p.r, buf, sizeof(buf)}, 1});
    ASSERT_TRUE(h->Step(false).ok());
    // The read and the wake-up read are in the kernel.
    EXPECT_GE(h->driver().sqes_in_kernel(), 2u);
  }  // ~UringDriver cancels both and waits for their CQEs
  ASSERT_EQ(write(p.w, "data", 4), 4);
  EXPECT_EQ(std::string(buf, 4), "----");  // the cancelled read never wrote
  char back[4];
  EXPECT_EQ(read(p.r, back, 4), 4);  // the data is still in the pipe
}

TEST(UringDriverTest, FixedBuffersAreUsedForReadsAndWrites) {
  static char arena[4096];
  UringDriver::Options options;
  options.registered_buffers = {iovec{arena, sizeof(arena)}};
  URING_HARNESS_OR_SKIP(h, options);
  Fds fds;
  const std::string path = TempPath("uring_fixed_buf");
  const int fd = fds.Add(open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  ASSERT_GE(fd, 0);
  unlink(path.c_str());
  std::memcpy(arena, "fixed!", 6);
  const OpId w = h->engine().Submit({Write{fd, arena, 6, 0}, 1});
  ASSERT_EQ(h->RunUntilFinal(w)->res, 6);
  const OpId r = h->engine().Submit({Read{fd, arena + 100, 6, 0}, 2});
  ASSERT_EQ(h->RunUntilFinal(r)->res, 6);
  EXPECT_EQ(std::string(arena + 100, 6), "fixed!");
}

TEST(UringDriverTest, RegisteredFileIsUsedAndReleasedByClose) {
  UringDriver::Options options;
  options.registered_file_slots = 8;
  URING_HARNESS_OR_SKIP(h, options);
  Fds fds;
  Pipe p = MakePipe(fds);
  ASSERT_TRUE(h->driver().RegisterFile(p.w).ok());
  ASSERT_TRUE(h->driver().RegisterFile(p.r).ok());
  EXPECT_TRUE(h->driver().IsRegistered(p.w));
  const OpId w = h->engine().Submit({Write{p.w, "reg", 3}, 1});
  ASSERT_EQ(h->RunUntilFinal(w)->res, 3);
  char buf[3];
  const OpId r = h->engine().Submit({Read{p.r, buf, 3}, 2});
  ASSERT_EQ(h->RunUntilFinal(r)->res, 3);
  EXPECT_EQ(std::string(buf, 3), "reg");
  // Closing the write end must drop the table's reference too: then the reader
  // sees end-of-file (a lingering reference would keep the pipe open forever).
  const OpId c = h->engine().Close(p.w, 3);
  fds.Forget(p.w);
  ASSERT_EQ(h->RunUntilFinal(c)->res, 0);
  EXPECT_FALSE(h->driver().IsRegistered(p.w));
  const OpId eof = h->engine().Submit({Read{p.r, buf, 3}, 4});
  std::optional<Event> e = h->RunUntilFinal(eof);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->res, 0);
}

TEST(UringDriverTest, WakeWritesOncePerWakeUp) {
  URING_HARNESS_OR_SKIP(h);
  ASSERT_TRUE(h->Step(false).ok());  // arms the eventfd read
  for (int i = 0; i < 100; ++i) h->driver().Wake();
  EXPECT_EQ(h->driver().wake_writes(), 1u);
  ASSERT_TRUE(h->RunUntil([&] { return h->driver().stats().wakeups == 1; }, 10));
  h->driver().Wake();
  EXPECT_EQ(h->driver().wake_writes(), 2u);
  ASSERT_TRUE(h->RunUntil([&] { return h->driver().stats().wakeups == 2; }, 10));
}

TEST(UringDriverTest, InvalidOptionsAreInvalidArgument) {
  UringDriver::Options o;
  o.defer_taskrun = true;  // without single_issuer
  EXPECT_TRUE(absl::IsInvalidArgument(UringDriver::Create(o).status()));
  o = {};
  o.sqpoll = true;
  o.coop_taskrun = true;
  EXPECT_TRUE(absl::IsInvalidArgument(UringDriver::Create(o).status()));
  o = {};
  o.sq_entries = 1;
  EXPECT_TRUE(absl::IsInvalidArgument(UringDriver::Create(o).status()));
  o = {};
  o.force_sync_ops = 1u << static_cast<unsigned>(OpKind::kRead);  // may block
  EXPECT_TRUE(absl::IsInvalidArgument(UringDriver::Create(o).status()));
}

}  // namespace
}  // namespace ringloop
