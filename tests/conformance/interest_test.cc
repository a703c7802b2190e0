// tests/conformance/interest_test.cc: an op that needs new readiness events on an fd
// where another op already waits. A readiness driver registers the fd for the
// first op's events; the second op's (EPOLLOUT for a write parked beside a read,
// EPOLLIN for a poll beside a write) must be added, or the second op waits for
// its deadline instead of its event. Both ops carry deadlines where that keeps
// them off a driver's single-op fast path.
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <string>

#include "tests/conformance/fixture.h"

namespace ringloop::conformance {
namespace {

// kDeadlineNs: far enough that an op that is not woken by its event is seen
// ending at it, not earlier.
constexpr uint64_t kDeadlineNs = 3'000 * kMs;

// ParkedWrite: writes 64 KiB chunks on `fd` (with a deadline) until one cannot
// complete at once: the fd's send buffer is full, and that write waits in the
// kernel. Its id, or a failure.
OpId ParkedWrite(Harness& h, int fd, const std::string& chunk) {
  for (int i = 0; i < 1000; ++i) {
    const OpId w =
        h.Submit(Write{fd, chunk.data(), uint32_t(chunk.size())}, 0, h.Now() + kDeadlineNs);
    h.Kick();
    if (!h.Final(w).has_value()) return w;
    EXPECT_GT(h.Res(w), 0) << "a write to fill the send buffer failed";
    if (h.Res(w) <= 0) break;
  }
  ADD_FAILURE() << "the send buffer never filled";
  return OpId{};
}

// Drain: reads everything the peer end `fd` holds.
void Drain(Env& env, int fd) {
  std::string sink;
  for (int i = 0; i < 100000 && env.PeerRead(fd, &sink, 65536) > 0; ++i) sink.clear();
}

// A read waits on a socket; a write that would block joins it with a deadline;
// the peer drains: the write ends with its bytes, long before its deadline. The
// read then still gets its data.
TEST_P(ConformanceTest, WriteParkedBesideAParkedReadIsWokenByTheDrain) {
  Harness& h = Start();
  const FdPair s = env().SocketPair();
  ASSERT_GE(s.first, 0);
  char buf[8] = {};
  const OpId r = h.Submit(Recv{s.first, buf, sizeof(buf)});
  h.Kick();
  ASSERT_FALSE(h.Final(r).has_value());
  const std::string chunk(65536, 'w');
  const OpId w = ParkedWrite(h, s.first, chunk);
  ASSERT_FALSE(h.Final(r).has_value());
  const uint64_t deadline = h.Now() + kDeadlineNs;  // at least the write's own
  Drain(env(), s.second);
  ASSERT_TRUE(h.AwaitFinal({w}));
  EXPECT_GT(h.Res(w), 0) << "the write was not woken by the drain";
  EXPECT_LT(h.ArrivalNs(w), deadline);
  EXPECT_FALSE(h.Final(r).has_value());
  Drain(env(), s.second);
  ASSERT_EQ(env().PeerWrite(s.second, "x"), 1);
  ASSERT_TRUE(h.AwaitFinal({r}));
  EXPECT_EQ(Text(buf, h.Res(r)), "x");
}

// The reverse: a write (with a deadline) waits on a full socket; a poll for
// POLLIN (with a deadline) joins it; the peer writes: the poll ends at once with
// POLLIN, and the write once the peer drains.
TEST_P(ConformanceTest, PollParkedBesideAParkedWriteIsWokenByData) {
  Harness& h = Start();
  const FdPair s = env().SocketPair();
  ASSERT_GE(s.first, 0);
  const std::string chunk(65536, 'w');
  const OpId w = ParkedWrite(h, s.first, chunk);
  const uint64_t deadline = h.Now() + kDeadlineNs;
  const OpId p = h.Submit(PollAdd{s.first, POLLIN}, 0, deadline);
  h.Kick();
  ASSERT_FALSE(h.Final(p).has_value()) << "poll for POLLIN with nothing to read: " << h.Res(p);
  ASSERT_EQ(env().PeerWrite(s.second, "x"), 1);
  ASSERT_TRUE(h.AwaitFinal({p}));
  EXPECT_GT(h.Res(p), 0) << "the poll was not woken by the data";
  EXPECT_NE(uint32_t(std::max(h.Res(p), 0)) & POLLIN, 0u);
  EXPECT_LT(h.ArrivalNs(p), deadline);
  EXPECT_FALSE(h.Final(w).has_value());
  Drain(env(), s.second);
  ASSERT_TRUE(h.AwaitFinal({w}));
  EXPECT_GT(h.Res(w), 0);
}

}  // namespace
}  // namespace ringloop::conformance
