// ringloop/drivers/uring/uring_sq_room_test.cc: a batch of requests larger than the room
// in the submission queue.
//
// The engine hands over units: an op alone, or an op and its linked timeout. A
// unit must reach the kernel whole, in one submission: a linked timeout whose op
// went in an earlier submission is lone to the kernel (-EINVAL), and its op then
// has no deadline. With a 4-entry SQ and nine reads with deadlines (eighteen
// SQEs) in one batch, the driver must submit what fits, make room, and go on,
// in order, never splitting a unit. Each read is on an empty pipe, so it ends
// only by its deadline: a split unit shows as a read that never ends, which the
// step bound turns into a failure, not a hang.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "gtest/gtest.h"
#include "ringloop/drivers/uring/uring_driver.h"
#include "ringloop/drivers/uring/uring_test_util.h"

namespace ringloop {
namespace {

using testing::Fds;

constexpr uint64_t kMs = 1'000'000;

TEST(UringSqRoomTest, ABatchLargerThanTheSqGoesInWholeUnitsAndInOrder) {
  UringDriver::Options options;
  options.sq_entries = 4;
  URING_HARNESS_OR_SKIP(h, options);
  constexpr int kReads = 9;
  Fds fds;
  std::vector<int> pipes;
  for (int i = 0; i < kReads; ++i) {
    int p[2];
    ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
    pipes.push_back(fds.Add(p[0]));
    fds.Add(p[1]);
  }
  char buf[kReads];
  std::vector<OpId> ids;
  std::vector<uint64_t> deadlines;
  const uint64_t base = h->driver().NowNs() + 50 * kMs;
  for (int i = 0; i < kReads; ++i) {
    deadlines.push_back(base + uint64_t(i) * 5 * kMs);
    ids.push_back(h->engine().Submit({Read{pipes[i], &buf[i], 1}, uint64_t(i), deadlines.back()}));
  }
  ASSERT_EQ(h->engine().PendingRequests().size(), size_t(2 * kReads));
  std::vector<uint64_t> ended(kReads, 0);
  // Every read is over well within a second of the last deadline, or never.
  const uint64_t give_up = deadlines.back() + 1'000 * kMs;
  int missing = kReads;
  h->RunUntil([&] {
    const uint64_t now = h->driver().NowNs();
    missing = 0;
    for (int i = 0; i < kReads; ++i) {
      if (ended[i] == 0 && h->FinalEvent(ids[i]).has_value()) ended[i] = now;
      if (ended[i] == 0) ++missing;
    }
    return missing == 0 || now > give_up;
  });
  ASSERT_EQ(missing, 0) << "reads never ended: their linked timeouts were split from them";
  EXPECT_GT(h->driver().stats().full_sq_submits, 0u) << "the batch fitted: nothing was tested";
  for (int i = 0; i < kReads; ++i) {
    EXPECT_EQ(h->FinalEvent(ids[i])->res, -ETIME) << "read " << i;
    EXPECT_GE(ended[i], deadlines[i]) << "read " << i << " timed out early";
    if (i > 0) {
      EXPECT_LT(h->FinalIndex(ids[i - 1]), h->FinalIndex(ids[i])) << "read " << i;
    }
  }
  EXPECT_TRUE(h->engine().Quiescent());
}

}  // namespace
}  // namespace ringloop
