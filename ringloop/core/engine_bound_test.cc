// ringloop/core/engine_bound_test.cc: the in-flight bound counts only ops that
// complete on their own; ops that wait for readiness never wait for room.
//
// Each test plays the kernel by hand (engine_test_harness.h).
#include <cerrno>
#include <vector>

#include "gtest/gtest.h"
#include "ringloop/core/engine.h"
#include "ringloop/core/engine_test_harness.h"

namespace ringloop {
namespace {

using testing_internal::Harness;

char buf[8];

SubmitArgs RecvArgs(int fd, uint64_t tag, uint64_t deadline = kNoDeadline) {
  return SubmitArgs{Recv{.fd = fd, .buf = buf, .len = sizeof(buf)}, tag, deadline};
}

TEST(EngineBound, OnlyOpsThatWaitForReadinessSkipTheBound) {
  EXPECT_TRUE(WaitsForReadiness(OpKind::kRead));
  EXPECT_TRUE(WaitsForReadiness(OpKind::kReadv));
  EXPECT_TRUE(WaitsForReadiness(OpKind::kWrite));
  EXPECT_TRUE(WaitsForReadiness(OpKind::kWritev));
  EXPECT_TRUE(WaitsForReadiness(OpKind::kRecv));
  EXPECT_TRUE(WaitsForReadiness(OpKind::kSend));
  EXPECT_TRUE(WaitsForReadiness(OpKind::kAccept));
  EXPECT_TRUE(WaitsForReadiness(OpKind::kConnect));
  EXPECT_TRUE(WaitsForReadiness(OpKind::kPollAdd));
  for (const OpKind k :
       {OpKind::kNop, OpKind::kShutdown, OpKind::kClose, OpKind::kOpenat, OpKind::kFsync,
        OpKind::kStatx, OpKind::kUnlinkat, OpKind::kMkdirat, OpKind::kRenameat, OpKind::kSocket,
        OpKind::kBind, OpKind::kListen, OpKind::kTimeout}) {
    EXPECT_FALSE(WaitsForReadiness(k)) << OpName(k);
  }
}

// The user report, engine side: 300 recvs parked on 300 idle sockets (default
// options: a bound of 256) must not hold back a nop, a send, or the 257th recv.
TEST(EngineBound, ParkedRecvsNeverHoldTheBound) {
  Harness h;
  ASSERT_EQ(h.engine.options().max_in_flight, 256u);
  for (int i = 0; i < 300; ++i) h.engine.Submit(RecvArgs(100 + i, uint64_t(i)));
  auto recvs = h.Take();
  ASSERT_EQ(recvs.size(), 300u);  // every one reached the driver at once
  EXPECT_EQ(h.engine.InFlight(), 300u);
  EXPECT_EQ(h.engine.BoundedInFlight(), 0u);
  h.engine.Submit(SubmitArgs{Nop{}, 1000});
  h.engine.Submit(SubmitArgs{Send{.fd = 50, .buf = "x", .len = 1}, 1001});
  auto more = h.Take();
  ASSERT_EQ(more.size(), 2u);
  EXPECT_TRUE(std::holds_alternative<Nop>(*more[0].op));
  EXPECT_TRUE(std::holds_alternative<Send>(*more[1].op));
  EXPECT_EQ(h.engine.BoundedInFlight(), 1u);
  h.Complete(more[0], 0);
  h.Complete(more[1], 1);
  h.Complete(recvs[256], 1);  // the 257th recv gets its byte
  auto events = h.Events();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[2].tag, 256u);
  EXPECT_EQ(events[2].res, 1);
}

// 10,000 recvs submitted before the driver takes anything: all are pending,
// none is held back, and they drain.
TEST(EngineBound, TenThousandRecvsBeforeOneTakeAreAllPending) {
  Harness h;
  for (int i = 0; i < 10000; ++i) h.engine.Submit(RecvArgs(100 + i % 5000, uint64_t(i)));
  EXPECT_EQ(h.engine.PendingRequests().size(), 10000u);
  auto recvs = h.Take();
  for (const Request& r : recvs) h.Complete(r, 0);
  EXPECT_EQ(h.Events().size(), 10000u);
  EXPECT_TRUE(h.engine.Quiescent());
}

// With the bound full and an op that completes on its own waiting, a recv (with
// a deadline, even) goes straight past the queue; its linked timeout is not
// counted either.
TEST(EngineBound, ReadinessOpsGoPastTheQueue) {
  Harness h(Engine::Options{.max_in_flight = 2});
  h.engine.Submit(SubmitArgs{Fsync{3}, 1});
  h.engine.Submit(SubmitArgs{Fsync{3}, 2});
  h.engine.Submit(SubmitArgs{Fsync{3}, 3});  // waits for room
  ASSERT_EQ(h.Take().size(), 2u);
  h.engine.Submit(RecvArgs(4, 4, /*deadline=*/1000));
  auto recv = h.Take();
  ASSERT_EQ(recv.size(), 2u);
  EXPECT_TRUE(std::holds_alternative<Recv>(*recv[0].op));
  EXPECT_EQ(recv[1].kind, RequestKind::kLinkTimeout);
  EXPECT_EQ(h.engine.InFlight(), 4u);
  EXPECT_EQ(h.engine.BoundedInFlight(), 2u);
}

// A recv interrupted (-EINTR) is resubmitted at once, even with the bound full.
TEST(EngineBound, AnInterruptedRecvIsResubmittedPastTheQueue) {
  Harness h(Engine::Options{.max_in_flight = 2});
  h.engine.Submit(RecvArgs(4, 1));
  h.engine.Submit(SubmitArgs{Fsync{3}, 2});
  h.engine.Submit(SubmitArgs{Fsync{3}, 3});
  h.engine.Submit(SubmitArgs{Fsync{3}, 4});  // waits for room
  auto first = h.Take();
  ASSERT_EQ(first.size(), 3u);
  h.Complete(first[0], -EINTR);
  auto again = h.Take();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<Recv>(*again[0].op));
}

// A chain link that waits for readiness starts as soon as the link before it
// ended, with the bound full and an op waiting for room.
TEST(EngineBound, AReadinessLinkStartsWithTheBoundFull) {
  Harness h(Engine::Options{.max_in_flight = 2});
  SubmitArgs chain[] = {RecvArgs(5, 1), RecvArgs(4, 2)};
  OpId ids[2];
  h.engine.SubmitChain(chain, ids);
  auto first = h.Take();
  ASSERT_EQ(first.size(), 1u);
  h.engine.Submit(SubmitArgs{Fsync{3}, 3});
  h.engine.Submit(SubmitArgs{Fsync{3}, 4});
  h.engine.Submit(SubmitArgs{Fsync{3}, 5});  // waits for room
  ASSERT_EQ(h.Take().size(), 2u);
  h.Complete(first[0], 8);
  auto next = h.Take();
  ASSERT_EQ(next.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<Recv>(*next[0].op));
  EXPECT_EQ(next[0].fd, 4);
  EXPECT_EQ(h.engine.BoundedInFlight(), 2u);
}

// QueueProgress: max_in_flight 2, an fsync in flight that never completes, an
// fsync with a deadline waiting (it needs both places), a nop waiting behind it.
// Returns the harness with the two waiting, and their ids.
struct QueueProgress {
  Harness h{Engine::Options{.max_in_flight = 2}};
  OpId head;
  OpId behind;
  QueueProgress() {
    h.engine.Submit(SubmitArgs{Fsync{3}, 1});
    head = h.engine.Submit(SubmitArgs{Fsync{4}, 2, /*deadline=*/100});
    behind = h.engine.Submit(SubmitArgs{Nop{}, 3});
    EXPECT_EQ(h.Take().size(), 1u);  // only the first fsync: the rest wait
  }
};

// The head of the queue times out while waiting: the op behind it fits in the
// free room, so the same AdvanceTime hands it to the driver.
TEST(EngineBound, TheOpBehindAnExpiredHeadStartsInTheSameInput) {
  QueueProgress q;
  q.h.engine.AdvanceTime(100);
  auto events = q.h.Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].tag, 2u);
  EXPECT_EQ(events[0].res, -kTimedOut);
  const auto pending = q.h.engine.PendingRequests();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<Nop>(*pending[0].op));
}

// The same when the head is cancelled.
TEST(EngineBound, TheOpBehindACancelledHeadStartsInTheSameInput) {
  QueueProgress q;
  EXPECT_TRUE(q.h.engine.Cancel(q.head));
  EXPECT_EQ(q.h.Events().at(0).res, -ECANCELED);
  const auto pending = q.h.engine.PendingRequests();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<Nop>(*pending[0].op));
}

// And when the head is on an fd being closed.
TEST(EngineBound, TheOpBehindAClosedHeadStartsInTheSameInput) {
  QueueProgress q;
  q.h.engine.Close(4, 9);
  const auto pending = q.h.engine.PendingRequests();
  ASSERT_EQ(pending.size(), 2u);  // the nop, and the CLOSE of fd 4 (nothing of it is out)
  EXPECT_TRUE(std::holds_alternative<Nop>(*pending[0].op) ||
              std::holds_alternative<Nop>(*pending[1].op));
}

}  // namespace
}  // namespace ringloop
