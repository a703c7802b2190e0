// ringloop/runtime/result_test.cc: Result's values, codes and messages.
#include "ringloop/runtime/result.h"

#include <cerrno>

#include "gtest/gtest.h"

namespace ringloop {
namespace {

TEST(ResultTest, SuccessCarriesTheValue) {
  const Result r(12, OpKind::kRead, 7);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.value(), 12);
  EXPECT_EQ(r.error(), 0);
  EXPECT_TRUE(r.status().ok());
  EXPECT_EQ(r.ToString(), "read(fd=7): 12");
}

TEST(ResultTest, ErrorNamesTheOpTheFdAndTheErrno) {
  const Result r(-ECONNRESET, OpKind::kRead, 7);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.error(), ECONNRESET);
  const absl::Status s = r;
  EXPECT_EQ(s.message(), "read(fd=7): Connection reset by peer [ECONNRESET]");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
}

TEST(ResultTest, OpsWithoutAnFdLeaveItOut) {
  const absl::Status s = Result(-ENOENT, OpKind::kOpenat, -1).status();
  EXPECT_EQ(s.message(), "openat: No such file or directory [ENOENT]");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
}

TEST(ResultTest, CancelAndDeadlineHaveTheirOwnCodes) {
  const Result cancelled(-ECANCELED, OpKind::kAccept, 3);
  EXPECT_TRUE(cancelled.cancelled());
  EXPECT_EQ(cancelled.status().code(), absl::StatusCode::kCancelled);
  const Result timed_out(-kTimedOut, OpKind::kRecv, 4);
  EXPECT_TRUE(timed_out.timed_out());
  EXPECT_EQ(timed_out.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(timed_out.status().message(), "recv(fd=4): Timer expired [ETIME]");
}

TEST(ResultTest, FromEvent) {
  Event e;
  e.res = -EPIPE;
  e.kind = OpKind::kWrite;
  e.fd = 9;
  EXPECT_EQ(Result(e).ToString(), "write(fd=9): Broken pipe [EPIPE]");
}

}  // namespace
}  // namespace ringloop
