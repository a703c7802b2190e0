// tests/conformance/accept_wake_test.cc: a multishot accept of 50 connections,
// and Driver::Wake from another thread ending a blocked Poll.
#include <netinet/in.h>

#include <atomic>
#include <cerrno>
#include <set>
#include <thread>
#include <vector>

#include "tests/conformance/fixture.h"

namespace ringloop::conformance {
namespace {

TEST_P(ConformanceTest, MultishotAcceptOfFiftyConnections) {
  constexpr size_t kConnections = 50;
  Harness& h = Start();
  sockaddr_in addr{};
  const int listener = env().Listener(&addr);
  ASSERT_GE(listener, 0);
  const OpId a = h.Submit(Accept{.fd = listener, .multishot = true});
  h.Kick();
  if (h.Res(a) == -EINVAL && h.More(a).empty() && env().real_kernel()) {
    GTEST_SKIP() << "this kernel has no multishot accept (Linux 5.19)";
  }
  ASSERT_FALSE(h.Final(a).has_value()) << "multishot accept ended: " << h.Res(a);
  std::vector<int> clients;
  for (size_t i = 0; i < kConnections; ++i) {
    clients.push_back(env().PeerConnect(addr));
    ASSERT_GE(clients.back(), 0) << "connection " << i;
  }
  ASSERT_TRUE(h.RunUntil([&] { return h.More(a).size() >= kConnections || h.Final(a); },
                         "50 accepted connections"));
  ASSERT_FALSE(h.Final(a).has_value()) << "multishot accept ended: " << h.Res(a);
  const std::vector<Event> accepted = h.More(a);
  ASSERT_EQ(accepted.size(), kConnections);
  std::set<int> fds;
  for (const Event& e : accepted) {
    ASSERT_GE(e.res, 0);
    EXPECT_TRUE(e.more);
    env().Adopt(e.res);
    fds.insert(e.res);
  }
  EXPECT_EQ(fds.size(), kConnections) << "an fd was handed out twice";
  // Each accepted fd is a live connection: the first and the last carry data.
  for (size_t i : {size_t{0}, kConnections - 1}) {
    ASSERT_EQ(env().PeerWrite(clients[i], "hi"), 2);
    char buf[8] = {};
    const OpId r = h.Submit(Recv{accepted[i].res, buf, sizeof(buf)});
    ASSERT_TRUE(h.AwaitFinal({r}));
    EXPECT_EQ(Text(buf, h.Res(r)), "hi") << "connection " << i;
  }
  // The stream ends only when asked: closing the listener ends it, once.
  const OpId c = h.Close(listener);
  ASSERT_TRUE(h.AwaitFinal({a, c}));
  EXPECT_EQ(h.Res(c), 0);
  EXPECT_LT(h.FinalIndex(a), h.FinalIndex(c));
  EXPECT_EQ(h.More(a).size(), kConnections);
  if (h.engine().stats().shutdowns_sent == 0) {
    EXPECT_EQ(h.Res(a), -ECANCELED);
  } else {
    EXPECT_TRUE(sim()) << "a real kernel could not cancel a parked accept";
    EXPECT_TRUE(OneOf(h.Res(a), {-ECANCELED, -EINVAL})) << h.Res(a);
  }
}

// Tagged "threads" in BUILD: tsan runs the battery.
TEST_P(ConformanceTest, WakeFromAnotherThreadEndsABlockedPoll) {
  constexpr int kRounds = 50;
  Harness& h = Start();
  // A timer far away: without the wake-up, Poll(wait) would sleep until it.
  const uint64_t far = h.Now() + 60'000 * kMs;
  const OpId timer = h.Submit(Timeout{far});
  Driver& driver = env().driver();
  std::atomic<int> go{0};
  std::atomic<int> woken{0};
  std::thread waker([&] {
    for (int i = 1; i <= kRounds; ++i) {
      for (int g = go.load(); g < i; g = go.load()) go.wait(g);
      driver.Wake();
      woken.store(i);
      woken.notify_one();
    }
  });
  int stalls = 0;
  for (int i = 1; i <= kRounds; ++i) {
    go.store(i);
    go.notify_one();
    if (sim()) {
      // The simulated Poll never blocks in real time: it can only see a wake-up
      // made before it (and must, instead of jumping to the timer).
      for (int w = woken.load(); w < i; w = woken.load()) woken.wait(w);
    }
    absl::Status status;
    if (env().Poll(h.engine(), /*wait=*/true, &status)) ++stalls;
    EXPECT_TRUE(status.ok()) << status;
  }
  waker.join();
  EXPECT_EQ(stalls, 0) << "a wake-up was lost: the watchdog had to end Poll";
  EXPECT_EQ(h.engine().PollEvent(), std::nullopt);
  EXPECT_FALSE(h.Final(timer).has_value());
  EXPECT_LT(h.Now(), far);
}

}  // namespace
}  // namespace ringloop::conformance
