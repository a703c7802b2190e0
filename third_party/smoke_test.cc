// smoke_test: one use of each wrapped system library, so a broken link line or a
// missing Debian package fails here rather than in someone's feature test.

#include <gtest/gtest.h>  // before rapidcheck/gtest.h, which does not include it
#include <liburing.h>
#include <rapidcheck/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/flags/flag.h"
#include "absl/functional/any_invocable.h"
#include "absl/hash/hash.h"
#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"

ABSL_FLAG(int, smoke_flag, 7, "A flag that proves absl/flags links.");

namespace {

absl::StatusOr<int> Half(int value) {
  if (value % 2 != 0) return absl::InvalidArgumentError(absl::StrFormat("%d is odd", value));
  return value / 2;
}

TEST(SmokeTest, AbslLinks) {
  EXPECT_EQ(*Half(4), 2);
  EXPECT_EQ(Half(3).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Half(3).status().message(), "3 is odd");

  absl::flat_hash_map<std::string, int> counts;
  counts[absl::StrCat("a", 1)] += 2;
  EXPECT_EQ(counts.at("a1"), 2);
  EXPECT_NE(absl::HashOf(std::string("x")), absl::HashOf(std::string("y")));

  absl::Mutex mu;
  int guarded = 0;
  absl::AnyInvocable<void()> bump = [&] {
    absl::MutexLock lock(&mu);
    ++guarded;
  };
  std::move(bump)();
  EXPECT_EQ(guarded, 1);

  absl::Cord cord("hello");
  cord.Append(" world");
  EXPECT_EQ(std::string(cord), "hello world");

  EXPECT_GT(absl::Now(), absl::UnixEpoch());
  EXPECT_EQ(absl::ToInt64Milliseconds(absl::Seconds(1)), 1000);
  EXPECT_EQ(absl::Uint128High64(absl::MakeUint128(3, 4)), 3u);

  absl::BitGen gen;
  EXPECT_LT(absl::Uniform(gen, 0, 10), 10);
  EXPECT_EQ(absl::GetFlag(FLAGS_smoke_flag), 7);
}

TEST(SmokeTest, GmockLinks) {
  EXPECT_THAT(std::vector<int>({1, 2, 3}), ::testing::ElementsAre(1, 2, 3));
}

// Only proves liburing links and its calls run; whether io_uring is allowed here is
// the drivers' business, so a refused setup is reported as skipped, not failed.
TEST(SmokeTest, LiburingLinks) {
  io_uring ring;
  const int ret = io_uring_queue_init(4, &ring, 0);
  if (ret < 0) GTEST_SKIP() << "io_uring_queue_init: " << ret;
  io_uring_sqe* sqe = io_uring_get_sqe(&ring);
  ASSERT_NE(sqe, nullptr);
  io_uring_prep_nop(sqe);
  io_uring_sqe_set_data64(sqe, 42);
  ASSERT_EQ(io_uring_submit(&ring), 1);
  io_uring_cqe* cqe = nullptr;
  ASSERT_EQ(io_uring_wait_cqe(&ring, &cqe), 0);
  EXPECT_EQ(io_uring_cqe_get_data64(cqe), 42u);
  EXPECT_EQ(cqe->res, 0);
  io_uring_cqe_seen(&ring, cqe);
  io_uring_queue_exit(&ring);
}

RC_GTEST_PROP(SmokeTest, RapidcheckLinks, (const std::vector<std::uint8_t>& bytes)) {
  std::vector<std::uint8_t> copy = bytes;
  RC_ASSERT(copy == bytes);
}

}  // namespace
