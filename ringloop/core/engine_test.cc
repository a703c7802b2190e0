// ringloop/core/engine_test.cc: every guarantee of the engine, pinned by hand-fed inputs.
//
// Each test plays the kernel by hand: it takes the engine's requests, decides
// completions (in the racy orders the kernel allows) and checks the events.
#include "ringloop/core/engine.h"

#include <cerrno>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "ringloop/core/engine_test_harness.h"

namespace ringloop {
namespace {

using testing_internal::Harness;
using testing_internal::ReadArgs;

char buf[64];

// FsyncArgs: an op that completes on its own, so it counts against the bound.
SubmitArgs FsyncArgs(int fd, uint64_t tag, uint64_t deadline = kNoDeadline) {
  return SubmitArgs{Fsync{fd}, tag, deadline};
}

TEST(Engine, SubmitCompleteDeliversOneFinalEvent) {
  Harness h;
  const OpId id = h.engine.Submit(ReadArgs(5, 42));
  auto reqs = h.Take();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].kind, RequestKind::kOp);
  EXPECT_EQ(reqs[0].fd, 5);
  EXPECT_FALSE(reqs[0].link);
  ASSERT_TRUE(std::holds_alternative<Read>(*reqs[0].op));
  EXPECT_TRUE(h.Events().empty());
  EXPECT_TRUE(h.Complete(reqs[0], 7));
  auto events = h.Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].tag, 42u);
  EXPECT_EQ(events[0].res, 7);
  EXPECT_EQ(events[0].id, id);
  EXPECT_EQ(events[0].fd, 5);
  EXPECT_EQ(events[0].kind, OpKind::kRead);
  EXPECT_FALSE(events[0].more);
  EXPECT_TRUE(h.engine.Quiescent());
}

TEST(Engine, DuplicateCompletionIsRejectedAndCounted) {
  Harness h;
  h.engine.Submit(ReadArgs(5, 1));
  auto reqs = h.Take();
  EXPECT_TRUE(h.Complete(reqs[0], 3));
  EXPECT_FALSE(h.Complete(reqs[0], 3));
  EXPECT_EQ(h.Events().size(), 1u);
  EXPECT_EQ(h.engine.stats().rejected_completions, 1u);
}

// ExpectStaleCompletionRejected: an op on `first_fd` ends, a second op on
// `second_fd` reuses its slot, and the first op's late CQE arrives: it is
// rejected, and the second op ends with its own result.
void ExpectStaleCompletionRejected(int first_fd, int second_fd) {
  Harness h;
  h.engine.Submit(ReadArgs(first_fd, 1));
  auto first = h.Take();
  h.Complete(first[0], 1);
  h.Events();
  h.engine.Submit(ReadArgs(second_fd, 2));  // reuses the freed slot
  auto second = h.Take();
  ASSERT_EQ(UserDataSlot(first[0].user_data), UserDataSlot(second[0].user_data));
  EXPECT_NE(first[0].user_data, second[0].user_data);
  EXPECT_FALSE(h.Complete(first[0], 99));  // the old op's late CQE
  EXPECT_TRUE(h.Events().empty());
  EXPECT_TRUE(h.Complete(second[0], 4));
  auto events = h.Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].tag, 2u);
  EXPECT_EQ(events[0].res, 4);
  EXPECT_EQ(h.engine.stats().rejected_completions, 1u);
}

TEST(Engine, StaleCompletionAfterSlotReuseIsNotMisrouted) { ExpectStaleCompletionRejected(5, 6); }

// The same on one fd: the second op takes Submit's straight path (its fd is
// known), which must record the new op's user_data as the one to expect.
TEST(Engine, StaleCompletionAfterStraightSlotReuseIsNotMisrouted) {
  ExpectStaleCompletionRejected(5, 5);
}

TEST(Engine, BogusUserDataIsRejected) {
  Harness h;
  EXPECT_FALSE(h.engine.HandleCompletion(~uint64_t{0}, 0, 0));
  EXPECT_FALSE(h.engine.HandleCompletion(12345, 0, 0));
  EXPECT_FALSE(h.engine.HandleCompletion(DriverUserData(7, 0), 0, 0));
  EXPECT_EQ(h.engine.stats().rejected_completions, 3u);
  EXPECT_TRUE(h.engine.Quiescent());
}

TEST(Engine, BadArgumentsFailAtOnceWithoutARequest) {
  Harness h;
  h.engine.Submit(SubmitArgs{Read{-3, buf, 4}, 1});
  h.engine.Submit(SubmitArgs{Read{4, nullptr, 4}, 2});
  h.engine.Submit(SubmitArgs{Write{4, nullptr, 0}, 3});  // zero length: fine
  auto reqs = h.Take();
  ASSERT_EQ(reqs.size(), 1u);
  auto events = h.Events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].res, -EBADF);
  EXPECT_EQ(events[1].res, -EFAULT);
}

TEST(Engine, RefusedOpHandleNamesTheRefusedOpNotTheNextOne) {
  Harness h;
  const OpId refused = h.engine.Submit(SubmitArgs{Read{-1, buf, 4}, 1});
  auto events = h.Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].id, refused);
  const OpId next = h.engine.Submit(ReadArgs(5, 2));  // reuses the slot
  EXPECT_NE(next, refused);
  EXPECT_FALSE(h.engine.Cancel(refused));  // must not cancel the new op
  EXPECT_EQ(h.Take().size(), 1u);          // the read, and no cancel
}

TEST(Engine, CancelCompletionWithForeignAttemptBitIsRejected) {
  Harness h;
  const OpId id = h.engine.Submit(ReadArgs(5, 1));
  h.Take();
  h.engine.Cancel(id);
  auto cancel = h.Take();
  ASSERT_EQ(cancel.size(), 1u);
  EXPECT_FALSE(h.engine.HandleCompletion(cancel[0].user_data | (uint64_t{1} << 60), 0, 0));
  EXPECT_TRUE(h.Complete(cancel[0], 0));
}

TEST(Engine, HugeFdNumbersDoNotNeedADenseTable) {
  Harness h;
  const int fd = 0x7fffffff;
  h.engine.Submit(ReadArgs(fd, 1));
  auto read = h.Take();
  ASSERT_EQ(read.size(), 1u);
  EXPECT_EQ(h.engine.OpsOnFd(fd), 1u);
  h.engine.Close(fd, 2);
  EXPECT_TRUE(h.engine.IsClosing(fd));
  auto cancel = h.Take();
  h.Complete(read[0], -ECANCELED);
  h.Complete(cancel[0], 0);
  auto close = h.Take();
  ASSERT_EQ(close.size(), 1u);
  h.Complete(close[0], 0);
  EXPECT_FALSE(h.engine.IsClosing(fd));
  EXPECT_EQ(h.engine.stats().closes_sent, 1u);
  EXPECT_TRUE(h.engine.Quiescent());
}

TEST(Engine, CancelBeforeReachingDriverEndsAtOnce) {
  Harness h(Engine::Options{.max_in_flight = 2});
  h.engine.Submit(FsyncArgs(5, 1));
  h.engine.Submit(FsyncArgs(5, 2));
  const OpId queued = h.engine.Submit(FsyncArgs(5, 3));
  EXPECT_EQ(h.Take().size(), 2u);
  EXPECT_TRUE(h.engine.Cancel(queued));
  auto events = h.Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].tag, 3u);
  EXPECT_EQ(events[0].res, -ECANCELED);
  EXPECT_TRUE(h.Take().empty());  // it never reaches the kernel
  EXPECT_FALSE(h.engine.Cancel(queued));
}

// The kernel may answer a cancel either way, and send the two CQEs in either
// order; every combination must end the op exactly once with the right result.
struct CancelRace {
  const char* name;
  int32_t cancel_res;
  int32_t target_res;
  bool cancel_first;
  int32_t want;
};

class CancelRaceTest : public ::testing::TestWithParam<CancelRace> {};

TEST_P(CancelRaceTest, EndsOnceWithTheKernelsVerdict) {
  const CancelRace& c = GetParam();
  Harness h;
  const OpId id = h.engine.Submit(ReadArgs(5, 9));
  auto op = h.Take();
  ASSERT_TRUE(h.engine.Cancel(id));
  ASSERT_TRUE(h.engine.Cancel(id));  // idempotent: still one cancel request
  auto cancel = h.Take();
  ASSERT_EQ(cancel.size(), 1u);
  EXPECT_EQ(cancel[0].kind, RequestKind::kCancel);
  EXPECT_EQ(cancel[0].target, op[0].user_data);
  if (c.cancel_first) {
    EXPECT_TRUE(h.Complete(cancel[0], c.cancel_res));
    EXPECT_TRUE(h.Events().empty());
    EXPECT_TRUE(h.Complete(op[0], c.target_res));
  } else {
    EXPECT_TRUE(h.Complete(op[0], c.target_res));
    EXPECT_EQ(h.engine.LiveOps(), 1u);  // slot held until the cancel's CQE
    EXPECT_TRUE(h.Complete(cancel[0], c.cancel_res));
  }
  auto events = h.Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].res, c.want);
  EXPECT_TRUE(h.engine.Quiescent());
  EXPECT_FALSE(h.engine.Cancel(id));
}

INSTANTIATE_TEST_SUITE_P(
    AllOrders, CancelRaceTest,
    ::testing::Values(CancelRace{"found_cancel_first", 0, -ECANCELED, true, -ECANCELED},
                      CancelRace{"found_target_first", 0, -ECANCELED, false, -ECANCELED},
                      CancelRace{"eintr", 0, -EINTR, true, -ECANCELED},
                      CancelRace{"enoent_real_result", -ENOENT, 12, false, 12},
                      CancelRace{"enoent_cancel_first", -ENOENT, 12, true, 12},
                      CancelRace{"ealready_then_result", -EALREADY, 5, true, 5},
                      CancelRace{"ealready_after_result", -EALREADY, 5, false, 5}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Engine, CancelAfterCompletionIsANoOp) {
  Harness h;
  const OpId id = h.engine.Submit(ReadArgs(5, 1));
  auto op = h.Take();
  h.Complete(op[0], 3);
  EXPECT_FALSE(h.engine.Cancel(id));
  EXPECT_TRUE(h.Take().empty());
  auto events = h.Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].res, 3);
}

TEST(Engine, DeadlineBecomesLinkedTimeoutRightAfterItsOp) {
  Harness h;
  h.engine.Submit(ReadArgs(5, 1, /*deadline=*/1000));
  auto reqs = h.Take();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].kind, RequestKind::kOp);
  EXPECT_TRUE(reqs[0].link);
  EXPECT_EQ(reqs[1].kind, RequestKind::kLinkTimeout);
  EXPECT_FALSE(reqs[1].link);
  EXPECT_EQ(reqs[1].deadline_ns, 1000u);
}

struct TimeoutRace {
  const char* name;
  int32_t op_res;
  int32_t lt_res;
  bool op_first;
  int32_t want;
};

class TimeoutRaceTest : public ::testing::TestWithParam<TimeoutRace> {};

TEST_P(TimeoutRaceTest, ResolvesOnlyWhenBothCompletionsAreIn) {
  const TimeoutRace& c = GetParam();
  Harness h;
  h.engine.Submit(ReadArgs(5, 1, 1000));
  auto reqs = h.Take();
  const Request& first = c.op_first ? reqs[0] : reqs[1];
  const Request& second = c.op_first ? reqs[1] : reqs[0];
  EXPECT_TRUE(h.Complete(first, c.op_first ? c.op_res : c.lt_res));
  EXPECT_TRUE(h.Events().empty());  // the buffer is not released yet
  EXPECT_EQ(h.engine.LiveOps(), 1u);
  EXPECT_TRUE(h.Complete(second, c.op_first ? c.lt_res : c.op_res));
  auto events = h.Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].res, c.want);
  EXPECT_TRUE(h.engine.Quiescent());
}

INSTANTIATE_TEST_SUITE_P(
    BothOrders, TimeoutRaceTest,
    ::testing::Values(TimeoutRace{"timer_wins_op_first", -ECANCELED, -ETIME, true, -kTimedOut},
                      TimeoutRace{"timer_wins_timer_first", -ECANCELED, -ETIME, false, -kTimedOut},
                      TimeoutRace{"timer_wins_op_eintr", -EINTR, -ETIME, false, -kTimedOut},
                      TimeoutRace{"op_wins", 8, -ECANCELED, true, 8},
                      TimeoutRace{"op_wins_timer_enoent", 8, -ENOENT, false, 8},
                      TimeoutRace{"data_beats_late_timer", 8, -ETIME, true, 8}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Engine, CloseWaitsForReadInFlightThenIssuesClose) {
  Harness h;
  h.engine.Submit(ReadArgs(5, 1));
  auto read = h.Take();
  const OpId close = h.engine.Close(5, 2);
  EXPECT_TRUE(h.engine.IsClosing(5));
  auto reqs = h.Take();
  ASSERT_EQ(reqs.size(), 1u);  // the cancel only: no CLOSE while the read is out
  EXPECT_EQ(reqs[0].kind, RequestKind::kCancel);
  EXPECT_EQ(reqs[0].target, read[0].user_data);
  // A new op on the closing fd fails at once and never reaches the kernel.
  h.engine.Submit(ReadArgs(5, 3));
  EXPECT_TRUE(h.Take().empty());
  auto events = h.Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].tag, 3u);
  EXPECT_EQ(events[0].res, -EBADF);
  h.Complete(read[0], -ECANCELED);
  EXPECT_TRUE(h.Take().empty());  // the cancel's own CQE is still out
  h.Complete(reqs[0], 0);
  auto close_reqs = h.Take();
  ASSERT_EQ(close_reqs.size(), 1u);
  ASSERT_TRUE(std::holds_alternative<Close>(*close_reqs[0].op));
  EXPECT_EQ(close_reqs[0].fd, 5);
  events = h.Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].res, -ECANCELED);
  h.Complete(close_reqs[0], 0);
  events = h.Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].id, close);
  EXPECT_EQ(events[0].res, 0);
  EXPECT_FALSE(h.engine.IsClosing(5));
  EXPECT_TRUE(h.engine.Quiescent());
}

TEST(Engine, CloseOfIdleFdIssuesCloseAtOnce) {
  Harness h;
  h.engine.Close(7, 1);
  auto reqs = h.Take();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<Close>(*reqs[0].op));
}

TEST(Engine, CloseTwiceFailsTheSecondWithEbadf) {
  Harness h;
  h.engine.Close(7, 1);
  h.engine.Close(7, 2);
  auto events = h.Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].tag, 2u);
  EXPECT_EQ(events[0].res, -EBADF);
  EXPECT_EQ(h.Take().size(), 1u);
}

TEST(Engine, ParkedSocketOpThatCannotBeCancelledGetsShutdown) {
  Harness h;
  h.engine.Submit(SubmitArgs{Accept{9}, 1});
  auto accept = h.Take();
  h.engine.Close(9, 2);
  auto cancel = h.Take();
  ASSERT_EQ(cancel.size(), 1u);
  h.Complete(cancel[0], -EALREADY);
  auto shut = h.Take();
  ASSERT_EQ(shut.size(), 1u);
  EXPECT_EQ(shut[0].kind, RequestKind::kShutdown);
  EXPECT_EQ(shut[0].fd, 9);
  h.Complete(accept[0], -EINVAL);  // what accept says once its socket is shut down
  EXPECT_TRUE(h.Take().empty());   // the shutdown's CQE is still out
  h.Complete(shut[0], 0);
  auto close = h.Take();
  ASSERT_EQ(close.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<Close>(*close[0].op));
}

TEST(Engine, AnyOpThatCannotBeCancelledOnAClosingFdGetsShutdown) {
  Harness h;
  h.engine.Submit(ReadArgs(9, 1));  // a read on what may well be a socket
  auto read = h.Take();
  h.engine.Close(9, 2);
  auto cancel = h.Take();
  h.Complete(cancel[0], -EALREADY);
  auto shut = h.Take();
  ASSERT_EQ(shut.size(), 1u);
  EXPECT_EQ(shut[0].kind, RequestKind::kShutdown);
  h.Complete(shut[0], -ENOTSOCK);  // a pipe: harmless, the read ends on its own
  h.Complete(read[0], 0);
  auto close = h.Take();
  ASSERT_EQ(close.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<Close>(*close[0].op));
}

TEST(Engine, QueuedOpTimesOutAtItsDeadlineWithoutReachingTheKernel) {
  Harness h(Engine::Options{.max_in_flight = 2});
  h.engine.Submit(FsyncArgs(3, 1));
  h.engine.Submit(FsyncArgs(3, 2));
  h.engine.Submit(FsyncArgs(3, 3, /*deadline=*/100));
  EXPECT_EQ(h.Take().size(), 2u);
  EXPECT_EQ(h.engine.NextDeadline(), 100u);
  h.engine.AdvanceTime(99);
  EXPECT_TRUE(h.Events().empty());
  h.engine.AdvanceTime(100);
  auto events = h.Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].tag, 3u);
  EXPECT_EQ(events[0].res, -kTimedOut);
  EXPECT_TRUE(h.Take().empty());
  EXPECT_FALSE(h.engine.NextDeadline().has_value());
}

TEST(Engine, CloseIsNotHeldBackByAQueueWaitingForRoom) {
  Harness h(Engine::Options{.max_in_flight = 2});
  h.engine.Submit(SubmitArgs{Fsync{5}, 1});
  h.engine.Submit(SubmitArgs{Fsync{6}, 2});
  h.engine.Submit(SubmitArgs{Fsync{7}, 3, /*deadline=*/1000});  // needs both places: waits
  auto first = h.Take();
  ASSERT_EQ(first.size(), 2u);
  h.engine.Close(5, 5);
  auto cancel = h.Take();
  h.Complete(cancel[0], 0);
  h.Complete(first[0], -ECANCELED);  // one place free: the fsync still waits
  auto close = h.Take();
  ASSERT_EQ(close.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<Close>(*close[0].op));
  EXPECT_EQ(h.engine.InFlight(), 1u);  // a close is not counted against the bound
}

TEST(Engine, CloseCancelsQueuedOpsOnTheFdAtOnce) {
  Harness h(Engine::Options{.max_in_flight = 2});
  h.engine.Submit(FsyncArgs(3, 1));
  h.engine.Submit(FsyncArgs(3, 2));
  h.engine.Submit(FsyncArgs(4, 3));  // queued: no room
  auto fsyncs = h.Take();
  ASSERT_EQ(fsyncs.size(), 2u);
  h.engine.Close(4, 4);
  auto events = h.Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].tag, 3u);
  EXPECT_EQ(events[0].res, -ECANCELED);
  // The CLOSE does not wait for room: nothing on fd 4 is in the kernel.
  h.Complete(fsyncs[0], 0);
  auto close = h.Take();
  ASSERT_EQ(close.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<Close>(*close[0].op));
  EXPECT_EQ(close[0].fd, 4);
}

TEST(Engine, FdNumberReusedAfterCloseGetsNoStaleCompletion) {
  Harness h;
  h.engine.Submit(ReadArgs(5, 1));
  auto old_read = h.Take();
  h.engine.Close(5, 2);
  auto cancel = h.Take();
  h.Complete(cancel[0], 0);
  h.Complete(old_read[0], -ECANCELED);
  auto close = h.Take();
  h.Complete(close[0], 0);
  h.Events();
  // fd 5 now names a new file: ops on it are accepted again.
  h.engine.Submit(ReadArgs(5, 3));
  auto new_read = h.Take();
  ASSERT_EQ(new_read.size(), 1u);
  EXPECT_FALSE(h.Complete(old_read[0], 77));
  EXPECT_TRUE(h.Events().empty());
  h.Complete(new_read[0], 2);
  auto events = h.Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].tag, 3u);
  EXPECT_EQ(events[0].res, 2);
}

TEST(Engine, BackpressureQueuesInFifoOrderAndDropsNothing) {
  Harness h(Engine::Options{.max_in_flight = 4});
  for (uint64_t tag = 0; tag < 10; ++tag) h.engine.Submit(FsyncArgs(5, tag));
  std::vector<uint64_t> order;
  for (int round = 0; round < 20 && order.size() < 10; ++round) {
    auto reqs = h.Take();
    EXPECT_LE(h.engine.InFlight(), 4u);
    EXPECT_EQ(h.engine.BoundedInFlight(), h.engine.InFlight());
    for (const Request& r : reqs) h.Complete(r, 0);
    for (const Event& e : h.Events()) order.push_back(e.tag);
  }
  ASSERT_EQ(order.size(), 10u);
  for (uint64_t tag = 0; tag < 10; ++tag) EXPECT_EQ(order[tag], tag);
}

TEST(Engine, EintrIsRetriedNotSurfaced) {
  Harness h;
  h.engine.Submit(ReadArgs(5, 1));
  auto first = h.Take();
  h.Complete(first[0], -EINTR);
  EXPECT_TRUE(h.Events().empty());
  auto again = h.Take();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_NE(again[0].user_data, first[0].user_data);
  EXPECT_FALSE(h.Complete(first[0], 4));  // the old attempt's duplicate
  h.Complete(again[0], 4);
  auto events = h.Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].res, 4);
  EXPECT_EQ(h.engine.stats().eintr_retries, 1u);
}

TEST(Engine, TimersFireInDeadlineThenSubmissionOrderAndNeverEarly) {
  Harness h;
  h.engine.Submit(SubmitArgs{Timeout{200}, 1});
  h.engine.Submit(SubmitArgs{Timeout{100}, 2});
  h.engine.Submit(SubmitArgs{Timeout{100}, 3});
  h.engine.Submit(SubmitArgs{Timeout{0}, 4});
  EXPECT_TRUE(h.Take().empty());  // sleeps never reach the kernel
  EXPECT_EQ(h.engine.NextDeadline(), 0u);
  h.engine.AdvanceTime(0);
  auto events = h.Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].tag, 4u);
  h.engine.AdvanceTime(99);
  EXPECT_TRUE(h.Events().empty());
  EXPECT_EQ(h.engine.NextDeadline(), 100u);
  h.engine.AdvanceTime(250);
  events = h.Events();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].tag, 2u);
  EXPECT_EQ(events[1].tag, 3u);
  EXPECT_EQ(events[2].tag, 1u);
  EXPECT_EQ(events[2].res, 0);
  EXPECT_FALSE(h.engine.NextDeadline().has_value());
}

// NextDeadline reports a pending timer even at the largest deadline (the value
// kNoDeadline has for ops): "no timer" and "a timer at the end of time" differ.
TEST(Engine, NextDeadlineReportsATimerAtTheLargestDeadline) {
  Harness h;
  const OpId id = h.engine.Submit(SubmitArgs{Timeout{kNoDeadline}, 1});
  EXPECT_EQ(h.engine.NextDeadline(), kNoDeadline);
  EXPECT_TRUE(h.engine.Cancel(id));
  EXPECT_FALSE(h.engine.NextDeadline().has_value());
}

TEST(Engine, CancelledTimerEndsAtOnceAndNeverFires) {
  Harness h;
  const OpId id = h.engine.Submit(SubmitArgs{Timeout{100}, 1});
  h.engine.Submit(SubmitArgs{Timeout{150}, 2});
  EXPECT_TRUE(h.engine.Cancel(id));
  auto events = h.Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].res, -ECANCELED);
  EXPECT_EQ(h.engine.NextDeadline(), 150u);
  h.engine.AdvanceTime(1000);
  events = h.Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].tag, 2u);
}

TEST(Engine, TimeNeverGoesBackwards) {
  Harness h;
  h.engine.AdvanceTime(500);
  h.engine.AdvanceTime(100);
  EXPECT_EQ(h.engine.Now(), 500u);
}

TEST(Engine, ShutdownCancelsEverythingAndQuiescesOnlyWhenAllCqesAreIn) {
  Harness h(Engine::Options{.max_in_flight = 2});
  h.engine.Submit(ReadArgs(5, 1));
  h.engine.Submit(FsyncArgs(6, 2));
  h.engine.Submit(FsyncArgs(7, 11));
  h.engine.Submit(FsyncArgs(7, 3));  // queued
  h.engine.Submit(SubmitArgs{Timeout{100}, 4});
  auto reqs = h.Take();
  ASSERT_EQ(reqs.size(), 3u);
  h.engine.Shutdown();
  auto cancels = h.Take();
  EXPECT_EQ(cancels.size(), 3u);
  auto events = h.Events();
  EXPECT_EQ(events.size(), 2u);  // the queued fsync and the timer, at once
  EXPECT_FALSE(h.engine.Quiescent());
  h.engine.Submit(ReadArgs(8, 5));  // refused
  events = h.Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].res, -ECANCELED);
  for (const Request& r : reqs) h.Complete(r, -ECANCELED);
  EXPECT_FALSE(h.engine.Quiescent());
  for (const Request& r : cancels) h.Complete(r, 0);
  EXPECT_TRUE(h.engine.Quiescent());
  EXPECT_EQ(h.Events().size(), 3u);
  EXPECT_EQ(h.engine.stats().final_events, h.engine.stats().submitted);
}

TEST(Engine, ShutdownShutsDownAnFdWhoseOpCannotBeCancelled) {
  Harness h;
  h.engine.Submit(SubmitArgs{Recv{.fd = 9, .buf = buf, .len = 8}, 1});
  auto recv = h.Take();
  h.engine.Shutdown();
  auto cancel = h.Take();
  ASSERT_EQ(cancel.size(), 1u);
  h.Complete(cancel[0], -EALREADY);
  auto shut = h.Take();
  ASSERT_EQ(shut.size(), 1u);
  EXPECT_EQ(shut[0].kind, RequestKind::kShutdown);
  EXPECT_EQ(shut[0].fd, 9);
  h.Complete(recv[0], 0);  // EOF once shut down
  h.Complete(shut[0], 0);
  EXPECT_TRUE(h.engine.Quiescent());
}

TEST(Engine, MultishotStreamsThenEndsOnce) {
  Harness h;
  h.engine.Submit(SubmitArgs{Accept{.fd = 3, .multishot = true}, 1});
  auto reqs = h.Take();
  h.Complete(reqs[0], 10, kCqeFMore);
  h.Complete(reqs[0], 11, kCqeFMore);
  auto events = h.Events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_TRUE(events[0].more);
  EXPECT_EQ(events[1].res, 11);
  h.Complete(reqs[0], -EBADF);
  events = h.Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_FALSE(events[0].more);
  EXPECT_EQ(events[0].res, -EBADF);
  EXPECT_TRUE(h.engine.Quiescent());
}

TEST(Engine, MultishotEndedWithoutErrorIsRearmed) {
  Harness h;
  h.engine.Submit(SubmitArgs{Accept{.fd = 3, .multishot = true}, 1});
  auto reqs = h.Take();
  h.Complete(reqs[0], 12);  // no F_MORE, a success: e.g. after CQ overflow
  auto events = h.Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_TRUE(events[0].more);
  auto rearmed = h.Take();
  ASSERT_EQ(rearmed.size(), 1u);
  EXPECT_EQ(h.engine.LiveOps(), 1u);
}

TEST(Engine, MoreFlagOnOneShotOpIsRejected) {
  Harness h;
  h.engine.Submit(ReadArgs(5, 1));
  auto reqs = h.Take();
  EXPECT_FALSE(h.Complete(reqs[0], 1, kCqeFMore));
  EXPECT_TRUE(h.Events().empty());
}

// Determinism: the same inputs give byte-for-byte the same outputs.
std::string RunScript() {
  Harness h(Engine::Options{.max_in_flight = 3});
  std::string out;
  auto record = [&] {
    for (const Request& r : h.Take()) {
      out += std::to_string(r.user_data) + "/" + std::to_string(int(r.kind)) + ";";
    }
    for (const Event& e : h.Events()) {
      out += std::to_string(e.tag) + "=" + std::to_string(e.res) + ";";
    }
  };
  std::vector<OpId> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(h.engine.Submit(ReadArgs(i % 3, i, 100 * i)));
  record();
  h.engine.Cancel(ids[4]);
  h.engine.Close(1, 99);
  record();
  return out;
}

TEST(Engine, SameInputsSameOutputs) {
  const std::string a = RunScript();
  EXPECT_FALSE(a.empty());
  EXPECT_EQ(a, RunScript());
}

// BatchScenario: a run that takes both the straight and the general paths of
// HandleCompletion: plain reads (one of them -ECANCELED), ops waiting for room
// that the first completions let in, a nop with a deadline, a close waiting
// for an op on its fd, a duplicate and a stale completion. Completions go in
// one by one, or (batched) all through one HandleCompletions call. Returns
// everything observable: requests, events, stats.
std::string BatchScenario(bool batched) {
  Harness h(Engine::Options{.max_in_flight = 2});
  h.engine.Submit(ReadArgs(5, 1));
  h.engine.Submit(ReadArgs(6, 2));
  h.engine.Submit(SubmitArgs{Nop{}, 3, /*deadline=*/1000});  // op + linked timeout: full
  h.engine.Submit(FsyncArgs(8, 4));                          // waits for room
  h.engine.Submit(SubmitArgs{Nop{}, 5});                     // waits for room
  auto first = h.Take();
  h.engine.Close(6, 6);  // cancels the read on fd 6
  auto cancels = h.Take();
  std::vector<Completion> batch = {
      {first[0].user_data, 64, 0},          // fd 5: plain
      {first[0].user_data, 64, 0},          // duplicate
      {first[1].user_data, -ECANCELED, 0},  // fd 6: cancelled, the close may go
      {cancels.at(0).user_data, 0, 0},      // the cancel's own answer
      {first[2].user_data, 10, 0},          // the nop with a deadline
      {first[3].user_data, -ECANCELED, 0},  // its linked timeout
      {uint64_t{12345} << 40, 0, 0},        // matches nothing
  };
  std::string out;
  size_t accepted = 0;
  if (batched) {
    accepted = h.engine.HandleCompletions(batch);
  } else {
    for (const Completion& c : batch)
      accepted += h.engine.HandleCompletion(c.user_data, c.res, c.flags);
  }
  out += "accepted " + std::to_string(accepted) + "\n";
  for (const Request& r : h.Take()) {
    out += "request " + std::to_string(r.user_data) + " " + RequestKindName(r.kind) + " fd " +
           std::to_string(r.fd) + (r.link ? " link" : "") + "\n";
  }
  for (const Event& e : h.Events()) {
    out += "event " + std::to_string(e.tag) + " " + std::to_string(e.res) + "\n";
  }
  const EngineStats& st = h.engine.stats();
  out += "stats " + std::to_string(st.completions) + " " + std::to_string(st.rejected_completions) +
         " " + std::to_string(st.final_events) + " " + std::to_string(st.requests) + " in_flight " +
         std::to_string(h.engine.InFlight()) + " live " + std::to_string(h.engine.LiveOps());
  return out;
}

TEST(Engine, HandleCompletionsIsHandleCompletionInOrder) {
  const std::string one_by_one = BatchScenario(false);
  EXPECT_EQ(BatchScenario(true), one_by_one);
  // The scenario does what it says: 5 accepted (op 5, op 6, the cancel, the
  // nop and its timeout), the queued fsync and nop and the CLOSE of fd 6 let
  // out, three final events so far.
  EXPECT_NE(one_by_one.find("accepted 5\n"), std::string::npos) << one_by_one;
  EXPECT_NE(one_by_one.find("op fd 8"), std::string::npos) << one_by_one;
  EXPECT_NE(one_by_one.find("op fd 6"), std::string::npos) << one_by_one;
  EXPECT_NE(one_by_one.find("event 1 64\nevent 2 -125\nevent 3 10\n"), std::string::npos)
      << one_by_one;
}

TEST(Engine, HandleCompletionsLetsWaitingOpsInAsRoomFrees) {
  Harness h(Engine::Options{.max_in_flight = 2});
  for (uint64_t tag = 0; tag < 4; ++tag) h.engine.Submit(FsyncArgs(int(20 + tag), tag));
  const auto first = h.Take();
  ASSERT_EQ(first.size(), 2u);
  const Completion batch[] = {{first[0].user_data, 1, 0}, {first[1].user_data, 1, 0}};
  EXPECT_EQ(h.engine.HandleCompletions(batch), 2u);
  const auto next = h.Take();
  ASSERT_EQ(next.size(), 2u);
  EXPECT_EQ(next[0].fd, 22);
  EXPECT_EQ(next[1].fd, 23);
}

TEST(Engine, PollEventsHandsOutEventsInOrderInChunks) {
  Harness h;
  for (uint64_t tag = 0; tag < 5; ++tag) h.engine.Submit(ReadArgs(int(10 + tag), tag));
  for (const Request& r : h.Take()) h.Complete(r, int32_t(r.fd));
  std::vector<Event> out(2);
  std::vector<uint64_t> tags;
  while (const size_t n = h.engine.PollEvents(out)) {
    EXPECT_LE(n, 2u);
    for (size_t i = 0; i < n; ++i) {
      tags.push_back(out[i].tag);
      EXPECT_EQ(out[i].res, int32_t(10 + out[i].tag));
    }
  }
  EXPECT_EQ(tags, (std::vector<uint64_t>{0, 1, 2, 3, 4}));
  EXPECT_FALSE(h.engine.HasEvents());
  EXPECT_EQ(h.engine.PollEvents(out), 0u);
}

}  // namespace
}  // namespace ringloop
