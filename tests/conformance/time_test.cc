// tests/conformance/time_test.cc: deadlines and sleeps, checked against the
// driver's own clock (virtual on the simulator): a deadline never fires early
// and fires within a tick; data beats a later deadline; sleeps fire in
// (deadline, submission) order.
#include <cerrno>
#include <vector>

#include "tests/conformance/fixture.h"

namespace ringloop::conformance {
namespace {

// Late: how long after its deadline a timer may be seen. The simulator jumps
// its virtual clock straight to the deadline; a real kernel is a loaded shared
// machine (and sanitizers), so the bound only catches "never fired on time".
uint64_t LateNs(bool sim) { return sim ? 1 * kMs : 2'000 * kMs; }

TEST_P(ConformanceTest, ReadWithDeadlineOnEmptyPipeTimesOutNeverEarly) {
  Harness& h = Start();
  const FdPair p = env().Pipe();
  ASSERT_GE(p.first, 0);
  char buf[8];
  const uint64_t deadline = h.Now() + 20 * kMs;
  const OpId r = h.Submit(Read{p.first, buf, sizeof(buf)}, 0, deadline);
  ASSERT_TRUE(h.AwaitFinal({r}));
  EXPECT_EQ(h.Res(r), -kTimedOut);
  EXPECT_GE(h.ArrivalNs(r), deadline) << "timed out " << deadline - h.ArrivalNs(r) << " ns early";
  EXPECT_LT(h.ArrivalNs(r), deadline + LateNs(sim()));
  // The timed-out read consumed nothing: the next read gets the data.
  ASSERT_EQ(env().PeerWrite(p.second, "late"), 4);
  char buf2[8] = {};
  const OpId r2 = h.Submit(Read{p.first, buf2, sizeof(buf2)});
  ASSERT_TRUE(h.AwaitFinal({r2}));
  EXPECT_EQ(Text(buf2, h.Res(r2)), "late");
}

TEST_P(ConformanceTest, ReadWithDeadlineThatDataBeats) {
  Harness& h = Start();
  const FdPair p = env().Pipe();
  ASSERT_GE(p.first, 0);
  char buf[8] = {};
  const uint64_t deadline = h.Now() + 10'000 * kMs;
  const OpId r = h.Submit(Read{p.first, buf, sizeof(buf)}, 0, deadline);
  h.Kick();
  ASSERT_FALSE(h.Final(r).has_value());
  ASSERT_EQ(env().PeerWrite(p.second, "data"), 4);
  ASSERT_TRUE(h.AwaitFinal({r}));
  EXPECT_EQ(Text(buf, h.Res(r)), "data");
  EXPECT_LT(h.ArrivalNs(r), deadline);
  // The linked timeout is gone with its op: nothing is left to fire.
  EXPECT_TRUE(h.engine().Quiescent());
}

TEST_P(ConformanceTest, SleepOfZeroAndOfTenMsFireInDeadlineOrder) {
  Harness& h = Start();
  const uint64_t now = h.Now();
  // One more a nanosecond later: the simulator's clock stops exactly at the
  // 10 ms deadline, where this one must not fire yet.
  const OpId later = h.Submit(Timeout{now + 10 * kMs + 1});
  const OpId ten = h.Submit(Timeout{now + 10 * kMs});
  const OpId zero = h.Submit(Timeout{now});
  ASSERT_TRUE(h.AwaitFinal({later, ten, zero}));
  EXPECT_EQ(h.Res(zero), 0);
  EXPECT_EQ(h.Res(ten), 0);
  EXPECT_EQ(h.Res(later), 0);
  EXPECT_LT(h.FinalIndex(zero), h.FinalIndex(ten));
  EXPECT_LT(h.FinalIndex(ten), h.FinalIndex(later));
  EXPECT_GE(h.ArrivalNs(ten), now + 10 * kMs);
  EXPECT_GE(h.ArrivalNs(later), now + 10 * kMs + 1);
  EXPECT_LT(h.ArrivalNs(ten), now + 10 * kMs + LateNs(sim()));
  // Sleeps never reach the kernel.
  EXPECT_EQ(h.engine().stats().requests, 0u);
}

TEST_P(ConformanceTest, TimersWithEqualDeadlinesFireInSubmissionOrder) {
  Harness& h = Start();
  const uint64_t deadline = h.Now() + 5 * kMs;
  std::vector<OpId> timers;
  for (int i = 0; i < 100; ++i) timers.push_back(h.Submit(Timeout{deadline}, uint64_t(i)));
  ASSERT_TRUE(h.AwaitFinal(timers));
  for (size_t i = 0; i < timers.size(); ++i) {
    EXPECT_EQ(h.Res(timers[i]), 0);
    EXPECT_GE(h.ArrivalNs(timers[i]), deadline);
    if (i > 0) {
      EXPECT_LT(h.FinalIndex(timers[i - 1]), h.FinalIndex(timers[i])) << i;
    }
  }
}

}  // namespace
}  // namespace ringloop::conformance
