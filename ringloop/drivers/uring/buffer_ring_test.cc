// ringloop/drivers/uring/buffer_ring_test.cc: multishot recv with a provided-buffer ring.
#include "ringloop/drivers/uring/buffer_ring.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "gtest/gtest.h"
#include "ringloop/drivers/uring/uring_driver.h"
#include "ringloop/drivers/uring/uring_test_util.h"

namespace ringloop {
namespace {

using testing::Fds;
using testing::UringHarness;

constexpr uint16_t kGroup = 7;

std::string Text(const BufferRing& ring, const Event& e) {
  const std::optional<uint16_t> id = BufferRing::BufferIdOf(e.flags);
  if (!id.has_value() || e.res <= 0) return "";
  const std::span<std::byte> b = ring.Buffer(*id);
  return std::string(reinterpret_cast<const char*>(b.data()), size_t(e.res));
}

// Count of `id`'s events (intermediate and final) that carry data.
int DataEvents(const UringHarness& h, OpId id) {
  int n = 0;
  for (const Event& e : h.events()) n += (e.id == id && e.res > 0) ? 1 : 0;
  return n;
}

class BufferRingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv_), 0);
    fds_.Add(sv_[0]);
    fds_.Add(sv_[1]);
  }
  void Send(const std::string& s) {
    ASSERT_EQ(write(sv_[1], s.data(), s.size()), ssize_t(s.size()));
  }
  OpId ArmRecv(UringHarness& h) {
    return h.engine().Submit({Recv{sv_[0], nullptr, 0, 0, kGroup, /*multishot=*/true}, 1});
  }

  Fds fds_;
  int sv_[2] = {-1, -1};
};

TEST_F(BufferRingTest, MultishotRecvFillsProvidedBuffersInTurn) {
  URING_HARNESS_OR_SKIP(h);
  absl::StatusOr<BufferRing*> ring = h->driver().AddBufferRing(kGroup, 4, 64);
  ASSERT_TRUE(ring.ok()) << ring.status();
  const OpId recv = ArmRecv(*h);
  ASSERT_TRUE(h->Step(false).ok());
  for (int i = 0; i < 12; ++i) {  // three times round the ring: buffers come back
    const std::string msg = "message " + std::to_string(i);
    Send(msg);
    ASSERT_TRUE(h->RunUntil([&] { return DataEvents(*h, recv) == i + 1; }));
    const Event& e = h->events().back();
    EXPECT_TRUE(e.more);
    ASSERT_TRUE(BufferRing::BufferIdOf(e.flags).has_value());
    EXPECT_EQ(Text(**ring, e), msg);
    (*ring)->Return(*BufferRing::BufferIdOf(e.flags));
  }
  EXPECT_FALSE(h->FinalEvent(recv).has_value());
  h->engine().Cancel(recv);
  std::optional<Event> end = h->RunUntilFinal(recv);
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(end->res, -ECANCELED);
}

TEST_F(BufferRingTest, RunningDryEndsWithEnobufsAndRearmingLosesNothing) {
  URING_HARNESS_OR_SKIP(h);
  absl::StatusOr<BufferRing*> ring = h->driver().AddBufferRing(kGroup, 2, 64);
  ASSERT_TRUE(ring.ok()) << ring.status();
  const OpId recv = ArmRecv(*h);
  ASSERT_TRUE(h->Step(false).ok());
  std::vector<uint16_t> held;
  for (int i = 0; i < 2; ++i) {
    Send("kept " + std::to_string(i));
    ASSERT_TRUE(h->RunUntil([&] { return DataEvents(*h, recv) == i + 1; }));
    held.push_back(*BufferRing::BufferIdOf(h->events().back().flags));
  }
  Send("waiting");  // no buffer left for it
  std::optional<Event> end = h->RunUntilFinal(recv);
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(end->res, -ENOBUFS);
  // Re-arm: give the buffers back, submit a new recv; the data waited in the socket.
  for (uint16_t id : held) (*ring)->Return(id);
  const OpId again = ArmRecv(*h);
  ASSERT_TRUE(h->RunUntil([&] { return DataEvents(*h, again) == 1; }));
  const Event& e = h->events().back();
  EXPECT_EQ(Text(**ring, e), "waiting");
  h->engine().Cancel(again);
  ASSERT_TRUE(h->RunUntilFinal(again).has_value());
}

// End of stream: the multishot recv's last event is its final one, result 0, with
// no buffer and no F_MORE; nothing re-arms it (a recv re-armed at EOF would end
// with 0 again at once, for ever).
TEST_F(BufferRingTest, MultishotRecvEndsWithZeroAtEofAndIsNotRearmed) {
  URING_HARNESS_OR_SKIP(h);
  absl::StatusOr<BufferRing*> ring = h->driver().AddBufferRing(kGroup, 4, 64);
  ASSERT_TRUE(ring.ok()) << ring.status();
  const OpId recv = ArmRecv(*h);
  ASSERT_TRUE(h->Step(false).ok());
  for (int i = 0; i < 2; ++i) {
    Send("part " + std::to_string(i));
    ASSERT_TRUE(h->RunUntil([&] { return DataEvents(*h, recv) == i + 1; }));
    (*ring)->Return(*BufferRing::BufferIdOf(h->events().back().flags));
  }
  ASSERT_EQ(shutdown(sv_[1], SHUT_WR), 0);
  std::optional<Event> end = h->RunUntilFinal(recv);
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(end->res, 0);
  EXPECT_FALSE(end->more);
  EXPECT_FALSE(BufferRing::BufferIdOf(end->flags).has_value());
  EXPECT_EQ(h->FinalIndex(recv), int(h->events().size()) - 1);
  EXPECT_TRUE(h->engine().Quiescent());
  const uint64_t requests = h->engine().stats().requests;
  const size_t events = h->events().size();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(h->Step(false).ok());
  EXPECT_EQ(h->events().size(), events) << "events after the final one";
  EXPECT_EQ(h->engine().stats().requests, requests) << "the recv was submitted again";
  EXPECT_EQ(h->driver().sqes_in_kernel(), 1u);  // the wake-up read only
}

TEST_F(BufferRingTest, SingleShotRecvSelectsABuffer) {
  URING_HARNESS_OR_SKIP(h);
  absl::StatusOr<BufferRing*> ring = h->driver().AddBufferRing(kGroup, 1, 16);
  ASSERT_TRUE(ring.ok()) << ring.status();
  Send("one");
  const OpId recv = h->engine().Submit({Recv{sv_[0], nullptr, 0, 0, kGroup, false}, 1});
  std::optional<Event> e = h->RunUntilFinal(recv);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(Text(**ring, *e), "one");
}

// A single-shot recv with a deadline (its linked timeout rides after it) and a
// chain link (the engine plays the chain) report the buffer the kernel picked.
TEST_F(BufferRingTest, SingleShotRecvWithADeadlineReportsItsBuffer) {
  URING_HARNESS_OR_SKIP(h);
  absl::StatusOr<BufferRing*> ring = h->driver().AddBufferRing(kGroup, 2, 16);
  ASSERT_TRUE(ring.ok()) << ring.status();
  const uint64_t deadline = h->driver().NowNs() + 10'000'000'000;  // 10 s: never reached
  const OpId recv = h->engine().Submit({Recv{sv_[0], nullptr, 0, 0, kGroup, false}, 1, deadline});
  ASSERT_TRUE(h->Step(false).ok());  // it parks, its timeout armed
  Send("late");
  std::optional<Event> e = h->RunUntilFinal(recv);
  ASSERT_TRUE(e.has_value());
  ASSERT_TRUE(BufferRing::BufferIdOf(e->flags).has_value()) << "flags " << e->flags;
  EXPECT_EQ(Text(**ring, *e), "late");
  (*ring)->Return(*BufferRing::BufferIdOf(e->flags));
  SubmitArgs chain[] = {{Nop{}, 2}, {Recv{sv_[0], nullptr, 0, 0, kGroup, false}, 3, deadline}};
  OpId ids[2];
  h->engine().SubmitChain(chain, ids);
  Send("link");
  e = h->RunUntilFinal(ids[1]);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(Text(**ring, *e), "link");
}

TEST_F(BufferRingTest, BadShapesAreRefused) {
  URING_HARNESS_OR_SKIP(h);
  EXPECT_TRUE(absl::IsInvalidArgument(h->driver().AddBufferRing(kGroup, 3, 64).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(h->driver().AddBufferRing(kGroup, 4, 0).status()));
  ASSERT_TRUE(h->driver().AddBufferRing(kGroup, 4, 64).ok());
  EXPECT_TRUE(absl::IsAlreadyExists(h->driver().AddBufferRing(kGroup, 4, 64).status()));
}

}  // namespace
}  // namespace ringloop
