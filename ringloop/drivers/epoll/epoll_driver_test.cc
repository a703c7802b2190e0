// ringloop/drivers/epoll/epoll_driver_test.cc: EpollDriver + Engine on the real kernel.
//
// Each test drives an Engine through an EpollDriver until the events it waits for
// arrive, with a step bound and a watchdog Timeout so that a lost wake-up fails
// the test instead of hanging it. The scenarios are the uring driver's that apply
// to a readiness driver: close while a read or an accept is parked, deadlines
// (an op and its linked timeout), EPIPE, cancel, multishot accept, cross-thread
// wake-up.
#include "ringloop/drivers/epoll/epoll_driver.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "ringloop/core/engine.h"
#include "ringloop/drivers/testing/unblock_guard.h"

namespace ringloop {
namespace {

constexpr uint64_t kMs = 1000000;
constexpr uint64_t kWatchdogTag = 0xdead;

class EpollDriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A pipe write without a reader must surface as EPIPE, not kill the test.
    ::signal(SIGPIPE, SIG_IGN);
    auto driver = EpollDriver::Create();
    ASSERT_TRUE(driver.ok()) << driver.status();
    driver_ = std::move(*driver);
    // The watchdog: Poll(wait) never blocks longer than this, and its firing
    // fails the test.
    engine_.Submit({Timeout{driver_->NowNs() + 2000 * kMs}, kWatchdogTag});
  }

  // UseDriver: replaces the driver (before any op reached it) with one built with
  // `options`.
  void UseDriver(EpollDriver::Options options) {
    auto driver = EpollDriver::Create(options);
    ASSERT_TRUE(driver.ok()) << driver.status();
    driver_ = std::move(*driver);
  }

  OpId Submit(Op op, uint64_t tag, uint64_t deadline_ns = kNoDeadline) {
    return engine_.Submit({op, tag, deadline_ns});
  }

  // Step: one Poll (blocking unless `wait` is false) and every event it produced.
  void Step(bool wait = true) {
    ASSERT_TRUE(driver_->Poll(engine_, wait).ok());
    while (auto ev = engine_.PollEvent()) {
      if (ev->tag == kWatchdogTag) {
        ASSERT_NE(ev->res, 0) << "watchdog fired: an event never came";
        continue;  // cancelled by Drain
      }
      events_.push_back(*ev);
    }
  }

  // RunUntil: steps until `done` holds, at most `max_steps` times.
  bool RunUntil(const std::function<bool()>& done, int max_steps = 1000) {
    for (int i = 0; i < max_steps && !done(); ++i) {
      Step();
      if (::testing::Test::HasFatalFailure()) return false;
    }
    return done();
  }

  // Final: the final event for `tag`, waiting for it if needed.
  Event Final(uint64_t tag) {
    const Event* found = nullptr;
    EXPECT_TRUE(RunUntil([&] { return (found = FindFinal(tag)) != nullptr; }))
        << "no final event for tag " << tag;
    return found != nullptr ? *found : Event{};
  }

  const Event* FindFinal(uint64_t tag) const {
    for (const Event& e : events_) {
      if (e.tag == tag && !e.more) return &e;
    }
    return nullptr;
  }

  size_t IndexOf(uint64_t tag) const {
    for (size_t i = 0; i < events_.size(); ++i) {
      if (events_[i].tag == tag && !events_[i].more) return i;
    }
    return events_.size();
  }

  // Drain: Shutdown the engine and poll until it is quiescent.
  void Drain() {
    engine_.Shutdown();
    EXPECT_TRUE(RunUntil([&] { return engine_.Quiescent(); }));
  }

  // CloseAndDrain: the orderly close of each of `fds` through the engine, each
  // of which must succeed, then Drain. Its tags are above any a test uses.
  void CloseAndDrain(std::initializer_list<int> fds) {
    uint64_t tag = kCloseTags;
    for (int fd : fds) engine_.Close(fd, tag++);
    for (uint64_t t = kCloseTags; t < tag; ++t) EXPECT_EQ(Final(t).res, 0) << "close tag " << t;
    Drain();
  }
  static constexpr uint64_t kCloseTags = uint64_t{1} << 40;

  static int ListenLoopback(sockaddr_in* addr) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT_GE(fd, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    EXPECT_EQ(::listen(fd, 128), 0);
    socklen_t len = sizeof(a);
    EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
    *addr = a;
    return fd;
  }

  // Learn: one read of a byte written through `peer`, done at once, so that the
  // driver knows `fd` and later lone ops on it take the per-op path (a parked one
  // waits in the fd's inline slot, not in a Job).
  void Learn(int fd, int peer, uint64_t tag) {
    ASSERT_EQ(::write(peer, "k", 1), 1);
    char c = 0;
    Submit(Read{fd, &c, 1}, tag);
    ASSERT_EQ(Final(tag).res, 1);
  }

  Engine engine_;
  std::unique_ptr<EpollDriver> driver_;
  std::vector<Event> events_;
};

TEST_F(EpollDriverTest, PipeReadParksUntilDataArrives) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  char buf[16] = {};
  Submit(Read{p[0], buf, sizeof(buf)}, 1);
  Step(/*wait=*/false);  // the read parks: the pipe is empty
  EXPECT_EQ(FindFinal(1), nullptr);
  EXPECT_EQ(driver_->stats().parked, 1u);
  ASSERT_EQ(::write(p[1], "hello", 5), 5);
  const Event e = Final(1);
  EXPECT_EQ(e.res, 5);
  EXPECT_EQ(std::string(buf, 5), "hello");
  // Reads ask for RWF_NOWAIT in the call: the pipe's flags are left alone.
  EXPECT_FALSE(driver_->SetNonblockOn(p[0]));
  EXPECT_EQ(::fcntl(p[0], F_GETFL) & O_NONBLOCK, 0);
  Submit(Read{p[0], buf, sizeof(buf)}, 2);
  engine_.Close(p[0], 3);
  EXPECT_EQ(Final(2).res, -ECANCELED);
  EXPECT_EQ(Final(3).res, 0);
  ::close(p[1]);
  Drain();
}

TEST_F(EpollDriverTest, ReadBlockedThenCloseEndsCanceledBeforeTheClose) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  char buf[8];
  Submit(Read{p[0], buf, sizeof(buf)}, 1);
  Step(/*wait=*/false);
  ASSERT_EQ(FindFinal(1), nullptr);
  engine_.Close(p[0], 2);
  const Event close = Final(2);
  EXPECT_EQ(close.res, 0);
  const Event read = Final(1);
  EXPECT_EQ(read.res, -ECANCELED);
  EXPECT_LT(IndexOf(1), IndexOf(2)) << "the read must end before the close completes";
  // The fd really is closed, and the write end now sees no reader.
  EXPECT_EQ(::fcntl(p[0], F_GETFD), -1);
  EXPECT_EQ(::write(p[1], "x", 1), -1);
  EXPECT_EQ(errno, EPIPE);
  ::close(p[1]);
  Drain();
}

TEST_F(EpollDriverTest, AcceptBlockedThenCloseEndsCanceled) {
  sockaddr_in addr;
  const int lfd = ListenLoopback(&addr);
  Submit(Accept{lfd}, 1);
  Step(/*wait=*/false);
  ASSERT_EQ(FindFinal(1), nullptr);
  engine_.Close(lfd, 2);
  EXPECT_EQ(Final(2).res, 0);
  EXPECT_EQ(Final(1).res, -ECANCELED);
  EXPECT_LT(IndexOf(1), IndexOf(2));
  Drain();
}

TEST_F(EpollDriverTest, ReadWithDeadlineOnEmptyPipeTimesOutNeverEarly) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  char buf[8];
  const uint64_t deadline = driver_->NowNs() + 30 * kMs;
  Submit(Read{p[0], buf, sizeof(buf)}, 1, deadline);
  const Event e = Final(1);
  const uint64_t seen = driver_->NowNs();
  EXPECT_EQ(e.res, -kTimedOut);
  EXPECT_GE(seen, deadline) << "timed out " << (deadline - seen) << " ns early";
  EXPECT_EQ(driver_->stats().timeouts_fired, 1u);
  CloseAndDrain({p[0], p[1]});
}

TEST_F(EpollDriverTest, ReadWithDeadlineCompletesWhenDataWins) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  char buf[8];
  Submit(Read{p[0], buf, sizeof(buf)}, 1, driver_->NowNs() + 10000 * kMs);
  Step(/*wait=*/false);
  ASSERT_EQ(::write(p[1], "abc", 3), 3);
  EXPECT_EQ(Final(1).res, 3);
  EXPECT_EQ(driver_->stats().timeouts_fired, 0u);
  ::close(p[1]);
  engine_.Close(p[0], 2);
  EXPECT_EQ(Final(2).res, 0);
  Drain();
}

TEST_F(EpollDriverTest, WriteToPipeWithoutReaderIsEpipe) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  ::close(p[0]);
  Submit(Write{p[1], "x", 1}, 1);
  EXPECT_EQ(Final(1).res, -EPIPE);
  int s[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s), 0);
  ::close(s[0]);
  Submit(Send{s[1], "x", 1}, 2);
  EXPECT_EQ(Final(2).res, -EPIPE);
  CloseAndDrain({p[1], s[1]});
}

std::string TempPath(const char* name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/" + name + "." + std::to_string(::getpid());
}

// An op with a deadline comes with its linked timeout, whichever way the op
// ends first: at once (a nop), on the pool (a write, a failed write), or parked
// and then cancelled. The driver completes the timeout -ECANCELED right after
// its op (the op won) and disarms its timer: the engine, which waits for both
// completions before the op's final event, gets each pair.
TEST_F(EpollDriverTest, AnOpThatEndsFirstCompletesItsLinkedTimeoutToo) {
  const std::string path = TempPath("linked");
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  const int ro = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(ro, 0);
  ::unlink(path.c_str());
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  char buf[4];
  const uint64_t far = driver_->NowNs() + 10000 * kMs;
  const uint64_t completions = engine_.stats().completions;
  Submit(Nop{}, 1, far);
  Submit(Write{fd, "data", 4, 0}, 2, far);
  Submit(Write{ro, "data", 4, 0}, 3, far);  // read-only: EBADF
  const OpId parked = Submit(Read{p[0], buf, sizeof(buf)}, 4, far);
  EXPECT_EQ(Final(1).res, 0);
  EXPECT_EQ(Final(2).res, 4);
  EXPECT_EQ(Final(3).res, -EBADF);
  EXPECT_GE(driver_->stats().pool_ops, 2u);
  Step(/*wait=*/false);
  EXPECT_EQ(FindFinal(4), nullptr);  // parked on the empty pipe
  EXPECT_TRUE(engine_.Cancel(parked));
  EXPECT_EQ(Final(4).res, -ECANCELED);
  // Four ops, their four linked timeouts, and the cancel.
  EXPECT_EQ(engine_.stats().completions - completions, 9u);
  EXPECT_EQ(engine_.stats().rejected_completions, 0u);
  EXPECT_EQ(driver_->stats().timeouts_fired, 0u);
  CloseAndDrain({fd, ro, p[0], p[1]});
}

TEST_F(EpollDriverTest, CancelEndsAParkedOpAndIsANoOpAfterwards) {
  int s[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s), 0);
  char buf[8];
  const OpId id = Submit(Recv{s[0], buf, sizeof(buf)}, 1);
  Step(/*wait=*/false);
  ASSERT_TRUE(engine_.Cancel(id));
  EXPECT_EQ(Final(1).res, -ECANCELED);
  EXPECT_FALSE(engine_.Cancel(id));
  // The socket still works after the cancel.
  ASSERT_EQ(::write(s[1], "ok", 2), 2);
  Submit(Recv{s[0], buf, sizeof(buf)}, 2);
  EXPECT_EQ(Final(2).res, 2);
  CloseAndDrain({s[0], s[1]});
}

TEST_F(EpollDriverTest, CancelEndsAnInlineParkedReadAndFreesItsSlot) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  Learn(p[0], p[1], 1);
  char a = 0;
  const OpId id = Submit(Read{p[0], &a, 1}, 2);
  Step(/*wait=*/false);
  ASSERT_EQ(FindFinal(2), nullptr);
  ASSERT_TRUE(engine_.Cancel(id));
  EXPECT_EQ(Final(2).res, -ECANCELED);
  EXPECT_FALSE(engine_.Cancel(id));
  // The slot is free again: the next read parks, gets the data, and is the only
  // one to end.
  char b = 0;
  Submit(Read{p[0], &b, 1}, 3);
  Step(/*wait=*/false);
  ASSERT_EQ(FindFinal(3), nullptr);
  ASSERT_EQ(::write(p[1], "z", 1), 1);
  EXPECT_EQ(Final(3).res, 1);
  EXPECT_EQ(b, 'z');
  EXPECT_EQ(a, 0);
  EXPECT_EQ(
      std::count_if(events_.begin(), events_.end(), [](const Event& e) { return e.tag == 2; }), 1);
  CloseAndDrain({p[0], p[1]});
}

TEST_F(EpollDriverTest, ReadsParkedOnOneFdEndInArrivalOrderAcrossACancel) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  Learn(p[0], p[1], 1);
  char a = 0, b = 0, c = 0, d = 0, e = 0;
  // Two bytes written at once end the reads `first` and `second` in that order.
  auto expect_in_order = [&](uint64_t first_tag, uint64_t second_tag, const char* bytes,
                             const char& into_first, const char& into_second) {
    ASSERT_EQ(::write(p[1], bytes, 2), 2);
    EXPECT_EQ(Final(first_tag).res, 1);
    EXPECT_EQ(Final(second_tag).res, 1);
    EXPECT_EQ(into_first, bytes[0]);
    EXPECT_EQ(into_second, bytes[1]);
    EXPECT_LT(IndexOf(first_tag), IndexOf(second_tag));
  };
  const OpId first = Submit(Read{p[0], &a, 1}, 2);  // the inline slot
  Submit(Read{p[0], &b, 1}, 3);                     // behind it, in a Job
  Step(/*wait=*/false);
  ASSERT_TRUE(engine_.Cancel(first));
  EXPECT_EQ(Final(2).res, -ECANCELED);
  // The slot is free but 3 is older: 4 must wait behind it.
  Submit(Read{p[0], &c, 1}, 4);
  Step(/*wait=*/false);
  expect_in_order(3, 4, "xy", b, c);
  // Both empty again: the slot, then a Job behind it.
  Submit(Read{p[0], &d, 1}, 5);
  Submit(Read{p[0], &e, 1}, 6);
  Step(/*wait=*/false);
  ASSERT_EQ(FindFinal(5), nullptr);
  expect_in_order(5, 6, "uv", d, e);
  CloseAndDrain({p[0], p[1]});
}

TEST_F(EpollDriverTest, CloseEndsAnInlineParkedReadCanceledBeforeTheClose) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  Learn(p[0], p[1], 1);
  char buf[8];
  Submit(Read{p[0], buf, sizeof(buf)}, 2);
  Step(/*wait=*/false);
  ASSERT_EQ(FindFinal(2), nullptr);
  engine_.Close(p[0], 3);
  EXPECT_EQ(Final(3).res, 0);
  EXPECT_EQ(Final(2).res, -ECANCELED);
  EXPECT_LT(IndexOf(2), IndexOf(3)) << "the read must end before the close completes";
  EXPECT_EQ(::fcntl(p[0], F_GETFD), -1);
  ::close(p[1]);
  Drain();
}

TEST_F(EpollDriverTest, ShutdownOpWakesAnInlineParkedRecv) {
  int s[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s), 0);
  Learn(s[0], s[1], 1);
  char buf[8];
  Submit(Recv{s[0], buf, sizeof(buf)}, 2);
  Step(/*wait=*/false);
  ASSERT_EQ(FindFinal(2), nullptr);
  Submit(Shutdown{s[0], SHUT_RDWR}, 3);
  EXPECT_EQ(Final(3).res, 0);
  EXPECT_EQ(Final(2).res, 0);  // EOF
  CloseAndDrain({s[0], s[1]});
}

TEST_F(EpollDriverTest, SendsParkedOnAFullSocketEndInOrderAndCancel) {
  int s[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s), 0);
  Submit(Send{s[0], "k", 1}, 1);  // the driver learns s[0] (and makes it nonblocking)
  ASSERT_EQ(Final(1).res, 1);
  std::vector<char> chunk(4096, 'f');
  while (::send(s[0], chunk.data(), chunk.size(), MSG_DONTWAIT) > 0) {
  }
  ASSERT_EQ(errno, EAGAIN);
  const OpId cancelled = Submit(Send{s[0], "c", 1}, 2);  // the inline slot
  Step(/*wait=*/false);
  ASSERT_EQ(FindFinal(2), nullptr);
  ASSERT_TRUE(engine_.Cancel(cancelled));
  EXPECT_EQ(Final(2).res, -ECANCELED);
  Submit(Send{s[0], "q", 1}, 3);  // the slot again
  Submit(Send{s[0], "r", 1}, 4);  // a Job behind it
  Step(/*wait=*/false);
  ASSERT_EQ(FindFinal(3), nullptr);
  // Drain the peer until both sends went out; the last two bytes are theirs.
  std::string tail;
  const auto drain = [&] {
    for (ssize_t n; (n = ::recv(s[1], chunk.data(), chunk.size(), MSG_DONTWAIT)) > 0;) {
      tail.append(chunk.data(), size_t(n));
      if (tail.size() > 2) tail.erase(0, tail.size() - 2);
    }
  };
  for (int i = 0; i < 1000 && FindFinal(4) == nullptr; ++i) {
    drain();
    Step(/*wait=*/false);
  }
  drain();
  EXPECT_EQ(Final(3).res, 1);
  EXPECT_EQ(Final(4).res, 1);
  EXPECT_LT(IndexOf(3), IndexOf(4));
  EXPECT_EQ(tail, "qr");
  CloseAndDrain({s[0], s[1]});
}

TEST_F(EpollDriverTest, MultishotAcceptYieldsOneEventPerConnection) {
  sockaddr_in addr;
  const int lfd = ListenLoopback(&addr);
  const OpId id = Submit(Accept{.fd = lfd, .multishot = true}, 1);
  Step(/*wait=*/false);
  constexpr int kClients = 40;
  std::vector<int> clients;
  for (int i = 0; i < kClients; ++i) {
    const int c = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(c, 0);
    ASSERT_EQ(::connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    clients.push_back(c);
  }
  auto accepted = [&] {
    int n = 0;
    for (const Event& e : events_) n += e.tag == 1 && e.more ? 1 : 0;
    return n;
  };
  ASSERT_TRUE(RunUntil([&] { return accepted() == kClients; }));
  for (const Event& e : events_) {
    if (e.tag != 1) continue;
    EXPECT_GE(e.res, 0);
    EXPECT_EQ(::fcntl(e.res, F_GETFD), FD_CLOEXEC);
    ::close(e.res);
  }
  EXPECT_EQ(FindFinal(1), nullptr);
  ASSERT_TRUE(engine_.Cancel(id));
  EXPECT_EQ(Final(1).res, -ECANCELED);
  for (int c : clients) ::close(c);
  engine_.Close(lfd, 2);
  EXPECT_EQ(Final(2).res, 0);
  Drain();
}

TEST_F(EpollDriverTest, ConnectCompletesAndRefusalIsReported) {
  sockaddr_in addr;
  const int lfd = ListenLoopback(&addr);
  const int c = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  Submit(Connect{c, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)}, 1);
  Submit(Accept{lfd}, 2);
  EXPECT_EQ(Final(1).res, 0);
  const int server = Final(2).res;
  ASSERT_GE(server, 0);
  engine_.Close(lfd, 3);  // now nothing listens on addr
  EXPECT_EQ(Final(3).res, 0);
  const int c2 = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  Submit(Connect{c2, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)}, 4);
  EXPECT_EQ(Final(4).res, -ECONNREFUSED);
  for (int fd : {c, c2, server}) engine_.Close(fd, 10 + uint64_t(fd));
  EXPECT_EQ(Final(10 + uint64_t(server)).res, 0);
  Drain();
}

TEST_F(EpollDriverTest, ShutdownOpWakesAParkedRecv) {
  int s[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s), 0);
  char buf[8];
  Submit(Recv{s[0], buf, sizeof(buf)}, 1);
  Step(/*wait=*/false);
  Submit(Shutdown{s[0], SHUT_RDWR}, 2);
  EXPECT_EQ(Final(2).res, 0);
  EXPECT_EQ(Final(1).res, 0);  // EOF
  engine_.Close(s[0], 3);
  engine_.Close(s[1], 4);
  EXPECT_EQ(Final(4).res, 0);
  Drain();
}

TEST_F(EpollDriverTest, PollAddReportsReadiness) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  Submit(PollAdd{p[0], POLLIN}, 1);
  Submit(PollAdd{p[1], POLLOUT}, 2);
  EXPECT_EQ(Final(2).res & POLLOUT, POLLOUT);
  Step(/*wait=*/false);
  EXPECT_EQ(FindFinal(1), nullptr);
  ASSERT_EQ(::write(p[1], "x", 1), 1);
  EXPECT_EQ(Final(1).res & POLLIN, POLLIN);
  engine_.Close(p[0], 3);
  engine_.Close(p[1], 4);
  EXPECT_EQ(Final(4).res, 0);
  Drain();
}

TEST_F(EpollDriverTest, MultishotRecvIsRefusedWithEinval) {
  int s[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s), 0);
  Submit(Recv{.fd = s[0], .buf = nullptr, .len = 0, .buf_group = 1, .multishot = true}, 1);
  EXPECT_EQ(Final(1).res, -EINVAL);
  engine_.Close(s[0], 2);
  engine_.Close(s[1], 3);
  EXPECT_EQ(Final(3).res, 0);
  Drain();
}

TEST_F(EpollDriverTest, MetadataOpsRunOnThePool) {
  const std::string dir = TempPath("meta");
  const std::string file = dir + "/f";
  const std::string renamed = dir + "/g";
  Submit(Mkdirat{AT_FDCWD, dir.c_str(), 0700}, 1);
  EXPECT_EQ(Final(1).res, 0);
  Submit(Openat{AT_FDCWD, file.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600}, 2);
  const int fd = Final(2).res;
  ASSERT_GE(fd, 0);
  Submit(Write{fd, "abcd", 4, kCurrentPosition}, 3);
  EXPECT_EQ(Final(3).res, 4);
  Submit(Renameat{AT_FDCWD, file.c_str(), AT_FDCWD, renamed.c_str()}, 4);
  EXPECT_EQ(Final(4).res, 0);
  struct statx stx;
  Submit(Statx{AT_FDCWD, renamed.c_str(), 0, STATX_SIZE, &stx}, 5);
  EXPECT_EQ(Final(5).res, 0);
  EXPECT_EQ(stx.stx_size, 4u);
  engine_.Close(fd, 6);
  EXPECT_EQ(Final(6).res, 0);
  Submit(Unlinkat{AT_FDCWD, renamed.c_str()}, 7);
  EXPECT_EQ(Final(7).res, 0);
  Submit(Unlinkat{AT_FDCWD, dir.c_str(), AT_REMOVEDIR}, 8);
  EXPECT_EQ(Final(8).res, 0);
  Submit(Statx{AT_FDCWD, dir.c_str(), 0, STATX_SIZE, &stx}, 9);
  EXPECT_EQ(Final(9).res, -ENOENT);
  Drain();
}

// accept(2) has no per-call nonblocking flag: the driver turns O_NONBLOCK on
// for a listener it accepts on, and off again when it lets go of it.
TEST_F(EpollDriverTest, ForgetFdRestoresBlockingMode) {
  sockaddr_in addr{};
  const int listener = ListenLoopback(&addr);
  ASSERT_EQ(::fcntl(listener, F_GETFL) & O_NONBLOCK, 0);
  Submit(Accept{.fd = listener}, 1);
  Step(/*wait=*/false);
  EXPECT_NE(::fcntl(listener, F_GETFL) & O_NONBLOCK, 0);
  EXPECT_TRUE(driver_->SetNonblockOn(listener));
  const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  const int server = Final(1).res;
  ASSERT_GE(server, 0);
  driver_->ForgetFd(listener);
  EXPECT_EQ(::fcntl(listener, F_GETFL) & O_NONBLOCK, 0);
  EXPECT_FALSE(driver_->SetNonblockOn(listener));
  ::close(listener);
  ::close(client);
  ::close(server);
  Drain();
}

TEST_F(EpollDriverTest, ReadThatFillsItsBufferLeavesTheRestToEpoll) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  char buf[8] = {};
  Submit(Read{p[0], buf, sizeof(buf)}, 1);
  Step(/*wait=*/false);  // EAGAIN: parks, level-triggered
  ASSERT_EQ(driver_->stats().syscalls_would_block, 1u);
  ASSERT_EQ(::write(p[1], "0123456789abcdef", 16), 16);
  EXPECT_EQ(Final(1).res, 8);
  // The pipe may hold more: the next read waits for epoll's report, which
  // comes because 8 bytes are left, rather than trying read(2) blindly.
  Submit(Read{p[0], buf, sizeof(buf)}, 2);
  EXPECT_EQ(Final(2).res, 8);
  EXPECT_EQ(std::string(buf, 8), "89abcdef");
  Submit(Read{p[0], buf, sizeof(buf)}, 3);
  Step(/*wait=*/false);
  EXPECT_EQ(FindFinal(3), nullptr);
  EXPECT_EQ(driver_->stats().syscalls_would_block, 1u);  // no doomed read(2)
  ASSERT_EQ(::write(p[1], "xy", 2), 2);
  EXPECT_EQ(Final(3).res, 2);
  engine_.Close(p[0], 4);
  EXPECT_EQ(Final(4).res, 0);
  ::close(p[1]);
  Drain();
}

TEST_F(EpollDriverTest, ReportsNobodyWaitsForDoNotSpinTheLoop) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  char buf[8] = {};
  Submit(Read{p[0], buf, sizeof(buf)}, 1);
  Step(/*wait=*/false);  // parks, level-triggered
  ASSERT_EQ(::write(p[1], "ab", 2), 2);
  EXPECT_EQ(Final(1).res, 2);
  // Data and then a hang-up that no parked op waits for: a level-triggered
  // registration would report them at every epoll_wait. A 50 ms sleep must
  // take a handful of epoll_waits, not a busy loop.
  ASSERT_EQ(::write(p[1], "cd", 2), 2);
  ::close(p[1]);
  const uint64_t waits_before = driver_->stats().epoll_waits;
  Submit(Timeout{driver_->NowNs() + 50 * kMs}, 2);
  EXPECT_EQ(Final(2).res, 0);
  EXPECT_LE(driver_->stats().epoll_waits - waits_before, 6u);
  // What was reported is not lost: the next reads get the data, then EOF.
  Submit(Read{p[0], buf, sizeof(buf)}, 3);
  EXPECT_EQ(Final(3).res, 2);
  EXPECT_EQ(std::string(buf, 2), "cd");
  Submit(Read{p[0], buf, sizeof(buf)}, 4);
  EXPECT_EQ(Final(4).res, 0);
  engine_.Close(p[0], 5);
  EXPECT_EQ(Final(5).res, 0);
  Drain();
}

// A PollAdd waiting to write on a socket whose input nobody reads: the read
// direction left in the registration by an earlier read reports at every
// epoll_wait, and no parked op wants it. It must leave the registration as it
// would without the PollAdd, or the loop spins until the socket drains.
TEST_F(EpollDriverTest, PollForWritingDoesNotSpinOnInputNobodyReads) {
  int s[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s), 0);
  char buf[8] = {};
  Submit(Recv{s[0], buf, sizeof(buf)}, 1);
  Step(/*wait=*/false);  // parks: registers the read direction, level-triggered
  ASSERT_EQ(::send(s[1], "a", 1, 0), 1);
  EXPECT_EQ(Final(1).res, 1);
  // s[0] cannot write (its peer's receive queue is full) and has input nobody reads.
  static char fill[4096];
  while (::send(s[0], fill, sizeof(fill), MSG_DONTWAIT) > 0) {
  }
  ASSERT_EQ(errno, EAGAIN);
  ASSERT_EQ(::send(s[1], "bc", 2, 0), 2);
  Submit(PollAdd{s[0], POLLOUT}, 2);
  const uint64_t waits_before = driver_->stats().epoll_waits;
  Submit(Timeout{driver_->NowNs() + 50 * kMs}, 3);
  EXPECT_EQ(Final(3).res, 0);
  EXPECT_EQ(FindFinal(2), nullptr);
  EXPECT_LE(driver_->stats().epoll_waits - waits_before, 6u);
  // The PollAdd still hears the write side: draining the peer completes it,
  // and the input is still there for the next read.
  while (::recv(s[1], fill, sizeof(fill), MSG_DONTWAIT) > 0) {
  }
  EXPECT_NE(Final(2).res & POLLOUT, 0);
  Submit(Recv{s[0], buf, sizeof(buf)}, 4);
  EXPECT_EQ(Final(4).res, 2);
  EXPECT_EQ(std::string(buf, 2), "bc");
  CloseAndDrain({s[0], s[1]});
}

// A lone read parks in its fd's inline slot with no epoll_ctl when the
// registration already covers it (FdState::covers); after Relax narrowed the
// registration to nothing (edge-triggered, no EPOLLIN), the next lone read must
// register again, or it would never be woken.
TEST_F(EpollDriverTest, InlineParkedReadReRegistersAfterTheRegistrationWasNarrowed) {
  int s[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s), 0);
  Learn(s[0], s[1], 1);
  char buf[8] = {};
  Submit(Read{s[0], buf, sizeof(buf)}, 2);  // the short read cleared the cache: parks
  Step(/*wait=*/false);
  const uint64_t ctls_parked = driver_->stats().epoll_ctls;
  ASSERT_EQ(::write(s[1], "a", 1), 1);
  EXPECT_EQ(Final(2).res, 1);
  // Parked again on the unchanged level-triggered registration: no epoll_ctl.
  Submit(Read{s[0], buf, sizeof(buf)}, 3);
  Step(/*wait=*/false);
  EXPECT_EQ(driver_->stats().epoll_ctls, ctls_parked);
  ASSERT_EQ(::write(s[1], "b", 1), 1);
  EXPECT_EQ(Final(3).res, 1);
  // Data nobody waits for: the level-triggered report narrows the registration.
  ASSERT_EQ(::write(s[1], "cd", 2), 2);
  for (int i = 0; i < 3; ++i) Step(/*wait=*/false);
  const uint64_t ctls_narrowed = driver_->stats().epoll_ctls;
  EXPECT_GT(ctls_narrowed, ctls_parked);
  Submit(Read{s[0], buf, sizeof(buf)}, 4);  // done at once, short: cache cleared
  EXPECT_EQ(Final(4).res, 2);
  Submit(Read{s[0], buf, sizeof(buf)}, 5);  // parks: must register EPOLLIN again
  Step(/*wait=*/false);
  EXPECT_GT(driver_->stats().epoll_ctls, ctls_narrowed);
  ASSERT_EQ(::write(s[1], "e", 1), 1);
  EXPECT_EQ(Final(5).res, 1);
  EXPECT_EQ(buf[0], 'e');
  engine_.Close(s[0], 6);
  EXPECT_EQ(Final(6).res, 0);
  ::close(s[1]);
  Drain();
}

TEST_F(EpollDriverTest, SocketPairPingPong) {
  int s[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s), 0);
  char a_buf[64], b_buf[64];
  int rounds = 0;
  constexpr int kRounds = 200;
  Submit(Recv{s[1], b_buf, sizeof(b_buf)}, 100);
  Submit(Send{s[0], "ping", 4}, 200);
  Submit(Recv{s[0], a_buf, sizeof(a_buf)}, 300);
  for (int step = 0; step < 20 * kRounds && rounds < kRounds; ++step) {
    const size_t seen = events_.size();
    Step();
    for (size_t i = seen; i < events_.size(); ++i) {
      const Event e = events_[i];
      ASSERT_GE(e.res, 0) << "tag " << e.tag;
      if (e.tag == 100) {  // B got ping: answer and wait again
        ASSERT_EQ(std::string(b_buf, size_t(e.res)), "ping");
        Submit(Send{s[1], "pong", 4}, 201);
        Submit(Recv{s[1], b_buf, sizeof(b_buf)}, 100);
      } else if (e.tag == 300) {  // A got pong: next round
        ASSERT_EQ(std::string(a_buf, size_t(e.res)), "pong");
        ++rounds;
        Submit(Send{s[0], "ping", 4}, 200);
        Submit(Recv{s[0], a_buf, sizeof(a_buf)}, 300);
      }
    }
  }
  EXPECT_EQ(rounds, kRounds);
  // Stream reads shorter than the buffer cleared the readiness cache: most parks
  // did not need a doomed recv(2) first.
  EXPECT_LT(driver_->stats().syscalls_would_block, uint64_t(kRounds));
  CloseAndDrain({s[0], s[1]});
}

// An echo server's read side: a connection's read completes, and the next
// request arrives while no read is parked (the server is still answering). The
// level-triggered report of that request is left to the next read, which takes
// it at once; the read after it parks on the registration as it was. No round
// costs an epoll_ctl (narrowing on the report, then widening for the next
// park, would cost two).
TEST_F(EpollDriverTest, DataArrivingBetweenReadsCostsNoEpollCtl) {
  int s[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s), 0);
  Learn(s[0], s[1], 1);
  char buf[8] = {};
  // StepUntilFinal: Polls that never sleep (so no registration check runs),
  // at most 100, until `tag` has its final event.
  const auto step_until_final = [&](uint64_t tag) {
    for (int i = 0; i < 100 && FindFinal(tag) == nullptr; ++i) Step(/*wait=*/false);
    return FindFinal(tag) != nullptr;
  };
  Submit(Recv{s[0], buf, sizeof(buf)}, 2);  // parks: registers the fd
  Step(/*wait=*/false);
  ASSERT_EQ(FindFinal(2), nullptr);
  const uint64_t ctls_parked = driver_->stats().epoll_ctls;
  constexpr int kRounds = 50;
  uint64_t tag = 2;  // the parked read's
  for (int round = 0; round < kRounds; ++round) {
    ASSERT_EQ(::write(s[1], "q", 1), 1);
    ASSERT_TRUE(step_until_final(tag)) << "round " << round;
    // The next request, while no read is parked: reported to nobody.
    ASSERT_EQ(::write(s[1], "r", 1), 1);
    Step(/*wait=*/false);
    Submit(Recv{s[0], buf, sizeof(buf)}, ++tag);  // takes it at once
    ASSERT_TRUE(step_until_final(tag));
    EXPECT_EQ(FindFinal(tag)->res, 1);
    EXPECT_EQ(buf[0], 'r');
    Submit(Recv{s[0], buf, sizeof(buf)}, ++tag);  // parks: nothing is left
    Step(/*wait=*/false);
    ASSERT_EQ(FindFinal(tag), nullptr);
  }
  ASSERT_EQ(::write(s[1], "q", 1), 1);
  ASSERT_TRUE(step_until_final(tag));
  EXPECT_EQ(driver_->stats().epoll_ctls - ctls_parked, 0u);
  CloseAndDrain({s[0], s[1]});
}

// A client's round trips to a peer that answers from another thread: the
// loop sleeps in every round, with its read parked on the registration made
// for the first. That registration is checked only once the loop has slept
// 10 ms with nothing reported, which a prompt peer never lets happen: the round
// trips cost no epoll_ctl (bar a rare round the machine delays that long). Nor
// does the Poll whose send completes at once ask epoll: one epoll_wait a round.
TEST_F(EpollDriverTest, RoundTripsToAPromptPeerCostOneEpollWaitAndNoEpollCtl) {
  int s[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s), 0);
  std::thread peer([fd = s[1]] {
    char c;
    while (::read(fd, &c, 1) == 1 && ::write(fd, &c, 1) == 1) {
    }
  });
  constexpr int kRounds = 200;
  uint64_t ctls_first = 0;
  uint64_t waits_first = 0;
  uint64_t checks_first = 0;
  char c = 0;
  for (int round = 0; round < kRounds; ++round) {
    const uint64_t tag = 10 + 2 * uint64_t(round);
    Submit(Recv{s[0], &c, 1}, tag);
    Submit(Send{s[0], "x", 1}, tag + 1);
    ASSERT_EQ(Final(tag + 1).res, 1);
    ASSERT_EQ(Final(tag).res, 1) << "round " << round;
    if (round == 0) {
      ctls_first = driver_->stats().epoll_ctls;
      waits_first = driver_->stats().epoll_waits;
      checks_first = driver_->stats().idle_checks;
    }
  }
  // A round whose echo comes later than the grace period (a loaded machine, a
  // sanitizer) checks the one registration (one epoll_ctl) and waits once more;
  // every other round costs one epoll_wait and no epoll_ctl, whatever the timing.
  const uint64_t checks = driver_->stats().idle_checks - checks_first;
  EXPECT_LE(driver_->stats().epoll_ctls - ctls_first, checks);
  EXPECT_LE(driver_->stats().epoll_waits - waits_first, uint64_t(kRounds) + checks);
  ASSERT_EQ(::shutdown(s[0], SHUT_WR), 0);  // the peer's read sees EOF
  peer.join();
  CloseAndDrain({s[0], s[1]});
}

TEST_F(EpollDriverTest, CancelRacingCompletionYieldsExactlyOneFinalEvent) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  int completed = 0;
  int cancelled = 0;
  for (int i = 0; i < 300; ++i) {
    char c = 0;
    const uint64_t tag = 1000 + uint64_t(i);
    const OpId op = Submit(Read{p[0], &c, 1}, tag);
    if (i % 3 == 0) {
      ASSERT_EQ(::write(p[1], "z", 1), 1);  // the data is there first
    }
    Step(/*wait=*/false);
    engine_.Cancel(op);
    if (i % 3 == 1) {
      ASSERT_EQ(::write(p[1], "z", 1), 1);  // the data races the cancel
    }
    if (i % 3 == 2) {
      Step(/*wait=*/false);  // the cancel goes first
      ASSERT_EQ(::write(p[1], "z", 1), 1);
    }
    const Event e = Final(tag);
    if (e.res == 1) {
      EXPECT_EQ(c, 'z');
      ++completed;
    } else {
      EXPECT_EQ(e.res, -ECANCELED);
      ++cancelled;
      char drain;  // the byte the cancelled read left behind
      Submit(Read{p[0], &drain, 1}, 5000 + uint64_t(i));
      ASSERT_EQ(Final(5000 + uint64_t(i)).res, 1);
    }
  }
  int finals = 0;
  for (const Event& e : events_) finals += e.tag >= 1000 && e.tag < 1300 && !e.more ? 1 : 0;
  EXPECT_EQ(finals, 300);
  EXPECT_GT(completed, 0);
  EXPECT_GT(cancelled, 0);
  EXPECT_EQ(engine_.stats().rejected_completions, 0u);
  engine_.Close(p[0], 1);
  engine_.Close(p[1], 2);
  EXPECT_EQ(Final(2).res, 0);
  Drain();
}

TEST_F(EpollDriverTest, TimeoutOpFiresAtItsDeadline) {
  const uint64_t deadline = driver_->NowNs() + 15 * kMs;
  Submit(Timeout{deadline}, 1);
  EXPECT_EQ(Final(1).res, 0);
  EXPECT_GE(driver_->NowNs(), deadline);
  Drain();
}

TEST_F(EpollDriverTest, FileOpsRunSynchronouslyWithoutWorkers) {
  UseDriver({.file_workers = 0});
  const std::string path = TempPath("sync");
  Submit(Openat{AT_FDCWD, path.c_str(), O_CREAT | O_RDWR | O_TRUNC | O_CLOEXEC, 0600}, 1);
  const int fd = Final(1).res;
  ASSERT_GE(fd, 0);
  Submit(Write{fd, "sync", 4, 0}, 2, driver_->NowNs() + 10000 * kMs);  // with its timeout
  EXPECT_EQ(Final(2).res, 4);
  Submit(Fsync{fd, true}, 3);
  EXPECT_EQ(Final(3).res, 0);
  char back[4];
  Submit(Read{fd, back, 4, 0}, 4);
  EXPECT_EQ(Final(4).res, 4);
  EXPECT_EQ(std::string(back, 4), "sync");
  EXPECT_EQ(driver_->stats().pool_ops, 0u);
  engine_.Close(fd, 5);
  EXPECT_EQ(Final(5).res, 0);
  ::unlink(path.c_str());
  Drain();
}

TEST_F(EpollDriverTest, PoolOpTimesOutWhileQueuedAndAStartedOneFinishes) {
  // One worker, blocked in openat() of a FIFO until a writer appears: the op
  // queued behind it can still be cut by its deadline; the running one cannot
  // (its timeout answers -EALREADY) and ends with its real result.
  UseDriver({.file_workers = 1});
  const std::string fifo = TempPath("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const uint64_t soon = driver_->NowNs() + 20 * kMs;
  Submit(Openat{AT_FDCWD, fifo.c_str(), O_RDONLY | O_CLOEXEC}, 1, soon);
  struct statx stx;
  Submit(Statx{AT_FDCWD, fifo.c_str(), 0, STATX_TYPE, &stx}, 2, soon);
  EXPECT_EQ(Final(2).res, -kTimedOut);
  EXPECT_GE(driver_->NowNs(), soon);
  EXPECT_EQ(FindFinal(1), nullptr);                               // still blocked in the worker
  const int writer = ::open(fifo.c_str(), O_WRONLY | O_CLOEXEC);  // unblocks the open
  ASSERT_GE(writer, 0);
  const int reader = Final(1).res;
  EXPECT_GE(reader, 0) << "the running open must keep its real result";
  engine_.Close(reader, 3);
  EXPECT_EQ(Final(3).res, 0);
  ::close(writer);
  ::unlink(fifo.c_str());
  Drain();
}

TEST_F(EpollDriverTest, WakeWritesOncePerWakeUp) {
  Step(/*wait=*/false);
  for (int i = 0; i < 100; ++i) driver_->Wake();
  EXPECT_EQ(driver_->wake_writes(), 1u);
  Step();  // returns at once: the wake-up is pending
  driver_->Wake();
  EXPECT_EQ(driver_->wake_writes(), 2u);
  Step();
  EXPECT_EQ(engine_.stats().timers_fired, 0u);
  Drain();
}

// One Poll that queues more completions than the completion queue's first
// capacity: it grows mid-Poll and keeps what was queued before, in order.
TEST_F(EpollDriverTest, ManyCompletionsInOnePollAreAllDeliveredInOrder) {
  constexpr uint64_t kOps = 200;
  for (uint64_t i = 0; i < kOps; ++i) Submit(Nop{}, 1000 + i);
  Step(/*wait=*/false);
  ASSERT_EQ(events_.size(), size_t(kOps));
  for (uint64_t i = 0; i < kOps; ++i) {
    EXPECT_EQ(events_[i].tag, 1000 + i);
    EXPECT_EQ(events_[i].res, 0);
  }
  // And the buffer is reused, empty, by the next Poll.
  Submit(Nop{}, 2000);
  Step(/*wait=*/false);
  ASSERT_EQ(events_.size(), size_t(kOps) + 1);
  EXPECT_EQ(events_.back().tag, 2000u);
  Drain();
}

// An epoll registration belongs to the open file description, not to the fd
// number: a dup keeps the description (and a registration) alive after the
// loop closed the fd. The driver removes the registration before close(2), so
// readiness of the old description never reaches the fd that reuses the number
// (not even as a doomed read).
TEST_F(EpollDriverTest, ADupOfAClosedFdDoesNotWakeTheFdThatReusesItsNumber) {
  int old_pipe[2];
  ASSERT_EQ(::pipe2(old_pipe, O_CLOEXEC), 0);
  const int dup_fd = ::fcntl(old_pipe[0], F_DUPFD_CLOEXEC, 100);
  ASSERT_GE(dup_fd, 0);
  char a = 0;
  Submit(Read{old_pipe[0], &a, 1}, 1);
  Step(/*wait=*/false);  // parked, so registered
  ASSERT_EQ(FindFinal(1), nullptr);
  engine_.Close(old_pipe[0], 2);
  EXPECT_EQ(Final(1).res, -ECANCELED);
  EXPECT_EQ(Final(2).res, 0);
  int new_pipe[2];
  ASSERT_EQ(::pipe2(new_pipe, O_CLOEXEC), 0);
  ASSERT_EQ(new_pipe[0], old_pipe[0]);  // the number is reused
  char b = 0;
  Submit(Read{new_pipe[0], &b, 1}, 3);
  Step(/*wait=*/false);
  ASSERT_EQ(FindFinal(3), nullptr);
  const uint64_t would_block = driver_->stats().syscalls_would_block;
  ASSERT_EQ(::write(old_pipe[1], "o", 1), 1);  // the old description turns readable
  for (int i = 0; i < 3; ++i) Step(/*wait=*/false);
  EXPECT_EQ(FindFinal(3), nullptr);
  EXPECT_EQ(driver_->stats().syscalls_would_block, would_block);
  ASSERT_EQ(::write(new_pipe[1], "n", 1), 1);
  EXPECT_EQ(Final(3).res, 1);
  EXPECT_EQ(b, 'n');
  ::close(dup_fd);
  ::close(old_pipe[1]);
  CloseAndDrain({new_pipe[0], new_pipe[1]});
}

TEST_F(EpollDriverTest, MoreReadyFdsThanEventSlotsAreAllServed) {
  // Two epoll_event slots, ten ready pipes: the edges that did not fit stay in
  // the epoll ready list for the next Poll; none is lost.
  UseDriver({.max_events = 2});
  constexpr int kPipes = 10;
  int p[kPipes][2];
  char buf[kPipes][4];
  for (int i = 0; i < kPipes; ++i) {
    ASSERT_EQ(::pipe2(p[i], O_CLOEXEC), 0);
    Submit(Read{p[i][0], buf[i], sizeof(buf[i])}, 100 + uint64_t(i));
  }
  Step(/*wait=*/false);  // every read parks
  for (int i = 0; i < kPipes; ++i) ASSERT_EQ(::write(p[i][1], "x", 1), 1);
  for (int i = 0; i < kPipes; ++i) EXPECT_EQ(Final(100 + uint64_t(i)).res, 1);
  EXPECT_GE(driver_->stats().epoll_waits, uint64_t(kPipes / 2));
  for (int i = 0; i < kPipes; ++i) {
    engine_.Close(p[i][0], 200 + uint64_t(i));
    engine_.Close(p[i][1], 300 + uint64_t(i));
  }
  EXPECT_EQ(Final(300 + kPipes - 1).res, 0);
  Drain();
}

TEST_F(EpollDriverTest, DestructionPutsBlockingModeBack) {
  sockaddr_in addr{};
  const int listener = ListenLoopback(&addr);
  const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  Submit(Accept{.fd = listener}, 1);
  const int server = Final(1).res;
  ASSERT_GE(server, 0);
  EXPECT_NE(::fcntl(listener, F_GETFL) & O_NONBLOCK, 0);
  Drain();
  driver_.reset();  // the fd stays open: the driver must leave it as it found it
  EXPECT_EQ(::fcntl(listener, F_GETFL) & O_NONBLOCK, 0);
  ::close(listener);
  ::close(client);
  ::close(server);
}

TEST_F(EpollDriverTest, WakeFromAnotherThreadEndsABlockedPoll) {
  // Nothing is in flight but the watchdog: only Wake() can end this Poll early.
  for (int round = 0; round < 3; ++round) {
    std::thread waker([&] {
      for (int i = 0; i < 100; ++i) driver_->Wake();  // one write per wake-up
    });
    Step();  // returns because of the wake, or the watchdog fails the test
    waker.join();
  }
  // A Wake before Poll is not lost either.
  driver_->Wake();
  Step();
  EXPECT_EQ(engine_.stats().timers_fired, 0u);
  Drain();
}

// The linked timeouts are a heap: ops that complete first leave from its middle,
// the rest fire in deadline order (equal deadlines in the order they were armed),
// never early.
TEST_F(EpollDriverTest, LinkedTimeoutsFireInDeadlineOrder) {
  constexpr int kPipes = 8;
  // Deadlines in ms; 1 and 4 are written to at once and never time out.
  constexpr uint64_t kAfterMs[kPipes] = {60, 20, 50, 20, 90, 40, 30, 20};
  int p[kPipes][2];
  char buf[kPipes][4];
  const uint64_t start = driver_->NowNs();
  for (int i = 0; i < kPipes; ++i) {
    ASSERT_EQ(::pipe2(p[i], O_CLOEXEC), 0);
    Submit(Read{p[i][0], buf[i], sizeof(buf[i])}, 100 + uint64_t(i), start + kAfterMs[i] * kMs);
  }
  Step(/*wait=*/false);  // every read parks with its timer armed
  ASSERT_EQ(::write(p[1][1], "x", 1), 1);
  ASSERT_EQ(::write(p[4][1], "x", 1), 1);
  for (int i = 0; i < kPipes; ++i) {
    const Event e = Final(100 + uint64_t(i));
    if (i == 1 || i == 4) {
      EXPECT_EQ(e.res, 1) << i;
    } else {
      EXPECT_EQ(e.res, -kTimedOut) << i;
    }
  }
  EXPECT_GE(driver_->NowNs(), start + 60 * kMs);  // the last to time out (pipe 0)
  EXPECT_EQ(driver_->stats().timeouts_fired, uint64_t(kPipes - 2));
  // By deadline (20: 3 then 7; 30: 6; 40: 5; 50: 2; 60: 0), never by submission.
  const int order[] = {3, 7, 6, 5, 2, 0};
  for (size_t k = 0; k + 1 < std::size(order); ++k) {
    EXPECT_LT(IndexOf(100 + uint64_t(order[k])), IndexOf(100 + uint64_t(order[k + 1])))
        << order[k] << " before " << order[k + 1];
  }
  for (int i = 0; i < kPipes; ++i) {
    engine_.Close(p[i][0], 200 + uint64_t(i));
    engine_.Close(p[i][1], 300 + uint64_t(i));
  }
  EXPECT_EQ(Final(300 + kPipes - 1).res, 0);
  Drain();
}

// More parked ops than one chunk of jobs holds, each with an armed timer, ended
// in an order unrelated to their parking: cancels, data, then data again on the
// same pipes (the recycled jobs and timers start clean).
TEST_F(EpollDriverTest, ManyParkedOpsWithDeadlinesEndOnceEach) {
  constexpr int kPipes = 100;  // 200 requests: within the engine's max_in_flight
  std::vector<std::array<int, 2>> p(kPipes);
  std::vector<std::array<char, 4>> buf(kPipes);
  std::vector<OpId> ids(kPipes);
  const uint64_t far = driver_->NowNs() + 10000 * kMs;
  for (int round = 0; round < 2; ++round) {
    const uint64_t tag = 1000 * uint64_t(round + 1);
    for (int i = 0; i < kPipes; ++i) {
      if (round == 0) {
        ASSERT_EQ(::pipe2(p[size_t(i)].data(), O_CLOEXEC), 0);
      }
      ids[size_t(i)] = Submit(Read{p[size_t(i)][0], buf[size_t(i)].data(), 4}, tag + uint64_t(i),
                              far + uint64_t(i % 7) * kMs);
    }
    Step(/*wait=*/false);  // all park
    for (int i = 0; i < kPipes; i += 3) ASSERT_TRUE(engine_.Cancel(ids[size_t(i)]));
    for (int i = kPipes - 1; i >= 0; --i) {
      if (i % 3 != 0) {
        ASSERT_EQ(::write(p[size_t(i)][1], "y", 1), 1);
      }
    }
    for (int i = 0; i < kPipes; ++i) {
      EXPECT_EQ(Final(tag + uint64_t(i)).res, i % 3 == 0 ? -ECANCELED : 1) << round << "/" << i;
    }
  }
  EXPECT_EQ(driver_->stats().timeouts_fired, 0u);
  EXPECT_EQ(engine_.stats().rejected_completions, 0u);
  for (int i = 0; i < kPipes; ++i) {
    engine_.Close(p[size_t(i)][0], 5000 + uint64_t(i));
    engine_.Close(p[size_t(i)][1], 6000 + uint64_t(i));
  }
  EXPECT_EQ(Final(6000 + kPipes - 1).res, 0);
  Drain();
}

// An fd number above the dense part of the fd table (see internal/fd_table.h)
// works like any other, and is let go of on its Close op.
TEST_F(EpollDriverTest, HighFdNumbersWork) {
  rlimit lim;
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &lim), 0);
  constexpr int kHigh = (1 << 16) + 10;
  const rlimit saved = lim;
  lim.rlim_cur = std::max<rlim_t>(lim.rlim_cur, rlim_t(kHigh) + 2);
  // A hard limit below that is raised too where the test may (root, as in CI:
  // CAP_SYS_RESOURCE allows up to fs.nr_open); only where it may not, it skips.
  if (lim.rlim_max != RLIM_INFINITY) lim.rlim_max = std::max(lim.rlim_max, lim.rlim_cur);
  if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) {
    GTEST_SKIP() << "RLIMIT_NOFILE hard limit " << saved.rlim_max << " is below " << kHigh + 2
                 << " and cannot be raised: " << std::strerror(errno);
  }
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  const int r = ::fcntl(p[0], F_DUPFD_CLOEXEC, kHigh);
  const int w = ::fcntl(p[1], F_DUPFD_CLOEXEC, kHigh);
  ASSERT_GE(r, kHigh);
  ASSERT_GE(w, kHigh);
  ::close(p[0]);
  ::close(p[1]);
  char buf[8];
  Submit(Read{r, buf, sizeof(buf)}, 1);
  Step(/*wait=*/false);  // parks on the high fd
  EXPECT_EQ(FindFinal(1), nullptr);
  Submit(Write{w, "hi", 2}, 2);
  EXPECT_EQ(Final(2).res, 2);
  EXPECT_EQ(Final(1).res, 2);
  engine_.Close(r, 3);
  engine_.Close(w, 4);
  EXPECT_EQ(Final(3).res, 0);
  EXPECT_EQ(Final(4).res, 0);
  Drain();
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
}

// --- Fds closed with close(2) behind the driver's back -----------------------------
//
// The driver learns what an fd is, and registers it with epoll, on its first ops.
// These tests close an fd the driver has seen with close(2), reuse the number for
// another file, and check that ops on it behave as the new file says: nothing the
// driver learnt about the old one may block the loop or strand an op.

class EpollFdReuseTest : public EpollDriverTest {
 protected:
  // PipeAt: a new pipe whose read end has the number `fd` (just closed): Linux
  // hands out the lowest free number, and dup3 moves it otherwise.
  static void PipeAt(int fd, int p[2]) {
    ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
    if (p[0] == fd) return;
    ASSERT_EQ(::dup3(p[0], fd, O_CLOEXEC), fd);
    ::close(p[0]);
    p[0] = fd;
  }

  // ClosedKnownPipe: a pipe whose read end the driver knows well (a one-byte
  // read of it parked, registering it with epoll, and was woken), then both ends
  // closed with close(2) behind the driver's back. The read end's number, free.
  int ClosedKnownPipe(uint64_t tag) {
    int p[2];
    EXPECT_EQ(::pipe2(p, O_CLOEXEC), 0);
    char c = 0;
    Submit(Read{p[0], &c, 1}, tag);
    Step(/*wait=*/false);
    EXPECT_EQ(FindFinal(tag), nullptr);
    EXPECT_EQ(::write(p[1], "k", 1), 1);
    EXPECT_EQ(Final(tag).res, 1);
    ::close(p[0]);
    ::close(p[1]);
    return p[0];
  }
};

// The new read parks on the registration made for the old pipe, which the kernel
// dropped with it: the check once the loop has slept a while with nothing
// reported adds it again, so data on the new pipe wakes the read.
TEST_F(EpollFdReuseTest, ReadParkedOnADroppedRegistrationIsWokenByTheNewPipe) {
  const int fd = ClosedKnownPipe(1);
  int q[2];
  PipeAt(fd, q);
  char c = 0;
  Submit(Read{fd, &c, 1}, 2);
  Step(/*wait=*/false);
  ASSERT_EQ(FindFinal(2), nullptr);
  ASSERT_EQ(::write(q[1], "n", 1), 1);
  EXPECT_EQ(Final(2).res, 1);
  EXPECT_EQ(c, 'n');
  EXPECT_EQ(driver_->stats().stale_registrations, 1u);
  CloseAndDrain({q[0], q[1]});
}

// A loop that never sleeps (Poll without waiting, or always busy) checks such
// registrations every few Polls instead.
TEST_F(EpollFdReuseTest, ALoopThatNeverSleepsStillFindsTheDroppedRegistration) {
  const int fd = ClosedKnownPipe(1);
  int q[2];
  PipeAt(fd, q);
  char c = 0;
  Submit(Read{fd, &c, 1}, 2);
  ASSERT_EQ(::write(q[1], "n", 1), 1);
  int polls = 0;
  for (; polls < 1000 && FindFinal(2) == nullptr; ++polls) Step(/*wait=*/false);
  ASSERT_NE(FindFinal(2), nullptr) << "the read was never woken";
  EXPECT_EQ(FindFinal(2)->res, 1);
  EXPECT_LE(polls, 2 * 64 + 2) << "found only after " << polls << " Polls";
  EXPECT_EQ(driver_->stats().stale_registrations, 1u);
  CloseAndDrain({q[0], q[1]});
}

// The number of a pipe's read end reused by a regular file: a read at an offset
// reads the file there (epoll refuses the file: the op moves to the file path).
TEST_F(EpollFdReuseTest, PipeReusedByARegularFileReadsTheFileAtItsOffset) {
  const int fd = ClosedKnownPipe(1);
  const std::string path = TempPath("reused_by_file");
  const int file = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(file, 0);
  ASSERT_EQ(::write(file, "0123456789", 10), 10);
  if (file != fd) {
    ASSERT_EQ(::dup3(file, fd, O_CLOEXEC), fd);
    ::close(file);
  }
  char buf[4] = {};
  Submit(Read{fd, buf, sizeof(buf), /*offset=*/2}, 2);
  EXPECT_EQ(Final(2).res, 4);
  EXPECT_EQ(std::string(buf, 4), "2345");
  const std::string more = "abc";
  Submit(Write{fd, more.data(), 3, /*offset=*/8}, 3);
  EXPECT_EQ(Final(3).res, 3);
  char all[16] = {};
  EXPECT_EQ(::pread(fd, all, sizeof(all), 0), 11);
  EXPECT_EQ(std::string(all, 11), "01234567abc");
  CloseAndDrain({fd});
  ::unlink(path.c_str());
}

// The number of a regular file reused by a pipe: a read (learnt as a file op,
// which would go to the worker pool and block a worker on the pipe forever)
// waits for the pipe's data on the loop instead.
TEST_F(EpollFdReuseTest, RegularFileReusedByAPipeReadsWaitForThePipe) {
  const std::string path = TempPath("reused_by_pipe");
  const int file = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(file, 0);
  ASSERT_EQ(::write(file, "xy", 2), 2);
  char buf[8] = {};
  Submit(Read{file, buf, sizeof(buf), /*offset=*/0}, 1);
  EXPECT_EQ(Final(1).res, 2);
  ::close(file);
  ::unlink(path.c_str());
  int q[2];
  PipeAt(file, q);
  const uint64_t pool_ops = driver_->stats().pool_ops;
  Submit(Read{file, buf, sizeof(buf)}, 2);
  Step(/*wait=*/false);
  EXPECT_EQ(FindFinal(2), nullptr);
  ASSERT_EQ(::write(q[1], "pipe", 4), 4);
  EXPECT_EQ(Final(2).res, 4);
  EXPECT_EQ(std::string(buf, 4), "pipe");
  EXPECT_EQ(driver_->stats().pool_ops, pool_ops) << "a read of a pipe went to the pool";
  CloseAndDrain({q[0], q[1]});
}

// A pty refuses RWF_NOWAIT (EOPNOTSUPP): the driver turns O_NONBLOCK on for it
// (and off when it lets go), so a read never blocks the loop either.
TEST_F(EpollFdReuseTest, AFileRefusingNowaitIsReadWithONonblock) {
  const int master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) GTEST_SKIP() << "no pty here: " << std::strerror(errno);
  ASSERT_EQ(::grantpt(master), 0);
  ASSERT_EQ(::unlockpt(master), 0);
  const int slave = ::open(::ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
  ASSERT_GE(slave, 0);
  ASSERT_EQ(::fcntl(master, F_GETFL) & O_NONBLOCK, 0);
  char buf[16] = {};
  Submit(Read{master, buf, sizeof(buf)}, 1);
  Step(/*wait=*/false);
  EXPECT_EQ(FindFinal(1), nullptr) << "read " << (FindFinal(1) ? FindFinal(1)->res : 0);
  EXPECT_TRUE(driver_->SetNonblockOn(master));
  ASSERT_EQ(::write(slave, "tty\n", 4), 4);
  EXPECT_GT(Final(1).res, 0);
  driver_->ForgetFd(master);
  EXPECT_EQ(::fcntl(master, F_GETFL) & O_NONBLOCK, 0);
  ::close(slave);
  ::close(master);
  Drain();
}

// A connect on a socket whose number the driver has seen, reused by a new socket
// without O_NONBLOCK, to a listener whose accept queue is full (its SYN is
// dropped and retried for minutes): it must wait in epoll, not in connect(2).
TEST_F(EpollFdReuseTest, ConnectOnAReusedBlockingSocketNeverBlocksTheLoop) {
  sockaddr_in addr{};
  const int listener = ListenLoopback(&addr);
  ASSERT_EQ(::listen(listener, 0), 0);  // room for one connection, taken below
  const int filler = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(::connect(filler, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  // The driver sees a socket at this number first (connect turns O_NONBLOCK on).
  const int first = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in refused = addr;
  refused.sin_port = 0;
  Submit(Connect{first, reinterpret_cast<sockaddr*>(&refused), sizeof(refused)}, 1);
  EXPECT_LT(Final(1).res, 0);
  ::close(first);
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(fd, first);
  ASSERT_EQ(::fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
  // If connect(2) blocks the loop, the guard ends it after a bound (the test
  // then fails instead of hanging for minutes).
  testing::UnblockGuard guard([fd] { ::shutdown(fd, SHUT_RDWR); });
  Submit(Connect{fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)}, 2,
         driver_->NowNs() + 100 * kMs);
  const int res = Final(2).res;
  EXPECT_FALSE(guard.Disarm()) << "the loop thread was stuck in connect(2)";
  EXPECT_EQ(res, -ETIME);
  ::close(filler);
  ::close(listener);
  CloseAndDrain({fd});
}

// The driver turned O_NONBLOCK on for a listener; the listener was closed behind
// its back and the number reused by a file whose O_NONBLOCK the user set: letting
// go of the number must not turn the user's flag off.
TEST_F(EpollFdReuseTest, LettingGoOfAReusedNumberLeavesTheNewFilesFlagsAlone) {
  sockaddr_in addr{};
  const int listener = ListenLoopback(&addr);
  Submit(Accept{.fd = listener}, 1);
  Step(/*wait=*/false);
  ASSERT_TRUE(driver_->SetNonblockOn(listener));
  const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  const int server = Final(1).res;
  ASSERT_GE(server, 0);
  ::close(listener);  // behind the driver's back
  int p[2];
  PipeAt(listener, p);
  ASSERT_EQ(::fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
  Drain();
  driver_.reset();  // lets go of every fd
  EXPECT_NE(::fcntl(p[0], F_GETFL) & O_NONBLOCK, 0) << "the driver cleared the new pipe's flag";
  for (int fd : {p[0], p[1], client, server}) ::close(fd);
}

}  // namespace
}  // namespace ringloop
