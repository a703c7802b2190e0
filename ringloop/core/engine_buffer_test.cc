// ringloop/core/engine_buffer_test.cc: a recv from a provided-buffer group reports
// the buffer the kernel picked, on every path to its final event.
//
// The buffer id rides in the completion's flags (kCqeFBuffer, id in the upper
// 16 bits). The user must get back exactly the id of the completion the engine
// took as final: a missing id leaks the buffer (it is never returned to the
// ring), a stale one returns a buffer twice. Each test plays the kernel by hand
// (engine_test_harness.h).
#include <cerrno>
#include <vector>

#include "gtest/gtest.h"
#include "ringloop/core/engine.h"
#include "ringloop/core/engine_test_harness.h"

namespace ringloop {
namespace {

using testing_internal::Harness;

constexpr uint16_t kGroup = 3;

uint32_t BufferFlags(uint16_t id) { return kCqeFBuffer | (uint32_t{id} << kCqeBufferShift); }

SubmitArgs GroupRecv(int fd, uint64_t tag, uint64_t deadline = kNoDeadline) {
  return SubmitArgs{Recv{.fd = fd, .buf_group = kGroup}, tag, deadline};
}

SubmitArgs MultishotRecv(int fd, uint64_t tag) {
  return SubmitArgs{Recv{.fd = fd, .buf_group = kGroup, .multishot = true}, tag};
}

// FinalOf: the final event of `tag` among `events`.
Event FinalOf(const std::vector<Event>& events, uint64_t tag) {
  for (const Event& e : events) {
    if (e.tag == tag && !e.more) return e;
  }
  ADD_FAILURE() << "no final event for tag " << tag;
  return Event{};
}

TEST(EngineBuffer, ARecvWithADeadlineReportsItsBuffer) {
  for (const bool timeout_first : {false, true}) {
    Harness h;
    h.engine.Submit(GroupRecv(5, 1, /*deadline=*/1000));
    auto reqs = h.Take();
    ASSERT_EQ(reqs.size(), 2u);
    if (timeout_first) h.Complete(reqs[1], -ECANCELED);
    h.Complete(reqs[0], 5, BufferFlags(9));
    if (!timeout_first) h.Complete(reqs[1], -ECANCELED);
    const Event e = FinalOf(h.Events(), 1);
    EXPECT_EQ(e.res, 5);
    EXPECT_EQ(e.flags, BufferFlags(9)) << "timeout first: " << timeout_first;
  }
}

// Data that beats a timer that fired anyway: the data (and its buffer) stands.
TEST(EngineBuffer, DataThatBeatsALateTimerKeepsItsBuffer) {
  Harness h;
  h.engine.Submit(GroupRecv(5, 1, /*deadline=*/1000));
  auto reqs = h.Take();
  h.Complete(reqs[1], -ETIME);
  h.Complete(reqs[0], 5, BufferFlags(4));
  const Event e = FinalOf(h.Events(), 1);
  EXPECT_EQ(e.res, 5);
  EXPECT_EQ(e.flags, BufferFlags(4));
}

TEST(EngineBuffer, AChainLinkReportsItsBuffer) {
  Harness h;
  SubmitArgs chain[] = {{Nop{}, 1}, GroupRecv(5, 2, /*deadline=*/1000)};
  OpId ids[2];
  h.engine.SubmitChain(chain, ids);
  h.Complete(h.Take().at(0), 0);
  auto recv = h.Take();
  ASSERT_EQ(recv.size(), 2u);
  h.Complete(recv[0], 3, BufferFlags(2));
  h.Complete(recv[1], -ECANCELED);
  EXPECT_EQ(FinalOf(h.Events(), 2).flags, BufferFlags(2));
}

// A cancel that lost the race: the recv completed with data in a buffer.
TEST(EngineBuffer, ACancelledRecvThatCompletedWithDataReportsItsBuffer) {
  Harness h;
  const OpId id = h.engine.Submit(GroupRecv(5, 1));
  auto recv = h.Take();
  ASSERT_TRUE(h.engine.Cancel(id));
  auto cancel = h.Take();
  h.Complete(recv[0], 7, BufferFlags(11));
  h.Complete(cancel[0], -ENOENT);
  const Event e = FinalOf(h.Events(), 1);
  EXPECT_EQ(e.res, 7);
  EXPECT_EQ(e.flags, BufferFlags(11));
}

// -EINTR is never a final completion: the retry's buffer is the one reported.
TEST(EngineBuffer, ARetriedRecvReportsTheRetrysBuffer) {
  Harness h;
  h.engine.Submit(GroupRecv(5, 1, /*deadline=*/1000));
  auto first = h.Take();
  h.Complete(first[0], -EINTR);
  h.Complete(first[1], -ECANCELED);
  auto again = h.Take();
  ASSERT_EQ(again.size(), 2u);
  h.Complete(again[0], 4, BufferFlags(6));
  h.Complete(again[1], -ECANCELED);
  EXPECT_EQ(FinalOf(h.Events(), 1).flags, BufferFlags(6));
}

// An interrupted recv cancelled before its retry ends -ECANCELED with no
// buffer, whatever flags the interrupted completion carried.
TEST(EngineBuffer, AnInterruptedRecvCancelledBeforeItsRetryReportsNoBuffer) {
  Harness h;
  const OpId id = h.engine.Submit(GroupRecv(5, 1, /*deadline=*/1000));
  auto first = h.Take();
  h.Complete(first[0], -EINTR, BufferFlags(1));
  ASSERT_TRUE(h.engine.Cancel(id));  // its linked timeout is still out
  h.Complete(first[1], -ECANCELED);
  const Event e = FinalOf(h.Events(), 1);
  EXPECT_EQ(e.res, -ECANCELED);
  EXPECT_EQ(e.flags, 0u);
}

// A multishot recv whose stream the kernel ended without an error is armed
// again: the buffer of that last completion goes out with an intermediate
// event, and the final event (here after a cancel) does not report it again.
TEST(EngineBuffer, AMultishotRecvReportsEachBufferOnce) {
  Harness h;
  const OpId id = h.engine.Submit(MultishotRecv(5, 1));
  auto recv = h.Take();
  h.Complete(recv[0], 3, BufferFlags(8) | kCqeFMore);
  h.Complete(recv[0], 2, BufferFlags(9));  // the stream ends, with data
  auto rearmed = h.Take();
  ASSERT_EQ(rearmed.size(), 1u);
  ASSERT_TRUE(h.engine.Cancel(id));
  auto cancel = h.Take();
  h.Complete(rearmed[0], -ECANCELED);
  h.Complete(cancel[0], 0);
  auto events = h.Events();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].flags, BufferFlags(8) | kCqeFMore);
  EXPECT_TRUE(events[1].more);
  EXPECT_EQ(events[1].flags, BufferFlags(9));
  EXPECT_FALSE(events[2].more);
  EXPECT_EQ(events[2].res, -ECANCELED);
  EXPECT_EQ(events[2].flags, 0u);
}

}  // namespace
}  // namespace ringloop
