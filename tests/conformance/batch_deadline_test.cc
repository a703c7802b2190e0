// tests/conformance/batch_deadline_test.cc: deadlines of several ops handed to the
// driver in one batch. Each op's linked timeout must keep its own deadline: a
// driver that shares one timespec between the batch's timeouts, or orders its
// timers wrongly, fires one op's deadline for another. Run on every driver, and
// on io_uring with SQPOLL too, where the kernel thread reads the batch's SQEs (and
// their timespecs) whenever it gets to them.
#include <cerrno>

#include "tests/conformance/fixture.h"

namespace ringloop::conformance {
namespace {

// Late: how long after its deadline a timeout may be seen (the simulator's clock
// stops at the deadline; a loaded machine and sanitizers stretch real time).
uint64_t LateNs(bool sim) { return sim ? 1 * kMs : 2'000 * kMs; }

// TwoReadsWithDeadlinesInOneBatch: reads on two empty pipes, with deadlines of
// 400 ms and then 20 ms, submitted before one Poll hands both to the driver: the
// 20 ms one times out first (never early), the 400 ms one not before 400 ms.
void TwoReadsWithDeadlinesInOneBatch(Env& env, Harness& h, bool sim) {
  const FdPair slow_pipe = env.Pipe();
  const FdPair fast_pipe = env.Pipe();
  ASSERT_GE(slow_pipe.first, 0);
  ASSERT_GE(fast_pipe.first, 0);
  char slow_buf[8];
  char fast_buf[8];
  const uint64_t now = h.Now();
  const uint64_t slow_deadline = now + 400 * kMs;
  const uint64_t fast_deadline = now + 20 * kMs;
  const OpId slow = h.Submit(Read{slow_pipe.first, slow_buf, sizeof(slow_buf)}, 1, slow_deadline);
  const OpId fast = h.Submit(Read{fast_pipe.first, fast_buf, sizeof(fast_buf)}, 2, fast_deadline);
  ASSERT_TRUE(h.AwaitFinal({fast}));
  EXPECT_EQ(h.Res(fast), -kTimedOut);
  EXPECT_GE(h.ArrivalNs(fast), fast_deadline);
  EXPECT_LT(h.ArrivalNs(fast), slow_deadline) << "the 20 ms read waited for the 400 ms deadline";
  if (h.ArrivalNs(fast) < slow_deadline) {
    EXPECT_FALSE(h.Final(slow).has_value())
        << "the 400 ms read ended at " << (h.ArrivalNs(fast) - now) / kMs << " ms: " << h.Res(slow);
  }
  ASSERT_TRUE(h.AwaitFinal({slow}));
  EXPECT_EQ(h.Res(slow), -kTimedOut);
  EXPECT_GE(h.ArrivalNs(slow), slow_deadline)
      << "timed out " << (slow_deadline - h.ArrivalNs(slow)) / kMs << " ms early";
  EXPECT_LT(h.ArrivalNs(slow), slow_deadline + LateNs(sim));
  EXPECT_LT(h.FinalIndex(fast), h.FinalIndex(slow));
}

TEST_P(ConformanceTest, DeadlinesOfOpsHandedOverInOneBatchStayTheirOwn) {
  Harness& h = Start();
  TwoReadsWithDeadlinesInOneBatch(env(), h, sim());
}

// SqpollConformanceTest: scenarios that matter under SQPOLL, on uring_sqpoll.
class SqpollConformanceTest : public ConformanceTest {};

TEST_P(SqpollConformanceTest, DeadlinesOfOpsHandedOverInOneBatchStayTheirOwn) {
  Harness& h = Start();
  TwoReadsWithDeadlinesInOneBatch(env(), h, sim());
}

INSTANTIATE_TEST_SUITE_P(UringSqpoll, SqpollConformanceTest,
                         ::testing::Values(EnvParam{.kind = DriverKind::kUring, .sqpoll = true}),
                         [](const ::testing::TestParamInfo<EnvParam>& info) {
                           return ParamName(info.param);
                         });

}  // namespace
}  // namespace ringloop::conformance
