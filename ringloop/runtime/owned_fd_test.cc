// ringloop/runtime/owned_fd_test.cc: OwnedFd closes through the loop, on every backend.
#include "ringloop/runtime/owned_fd.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "ringloop/runtime/io.h"
#include "ringloop/runtime/loop.h"
#include "ringloop/runtime/scope.h"
#include "ringloop/runtime/task.h"
#include "ringloop/runtime/testing/backends.h"

namespace ringloop {
namespace {

using testing::BackendName;
using testing::Backends;

class OwnedFdTest : public testing::BackendTest {};

Task<void> ReadOnce(int fd, std::optional<Result>* out) {
  char buf[8];
  out->emplace(co_await Io(Read{fd, buf, sizeof(buf)}));
}

TEST_P(OwnedFdTest, DestroyingItCancelsTheOpsInFlightThenClosesTheFd) {
  auto [r, w] = Pipe();
  (void)w;
  std::optional<Result> read;
  Scope scope(loop());
  scope.Spawn(ReadOnce(r, &read));
  const uint64_t closes = loop().engine_stats().closes_sent;
  { OwnedFd owned(loop(), Give(r)); }  // the close starts here; the read is still parked on the fd
  EXPECT_TRUE(FdIsOpen(r));            // nothing closed it behind the read's back
  Settle();                            // every op ended: the read, then the close
  ASSERT_TRUE(read.has_value());
  EXPECT_TRUE(read->cancelled()) << read->ToString();
  EXPECT_EQ(loop().engine_stats().closes_sent, closes + 1);
  EXPECT_FALSE(FdIsOpen(r));
}

TEST_P(OwnedFdTest, CloseWaitsForCloseAndLeavesItEmpty) {
  auto [r, w] = Pipe();
  (void)w;
  OwnedFd owned(loop(), Give(r));
  struct Out {
    Result first{0, OpKind::kNop, -1};
    Result second{0, OpKind::kNop, -1};
    bool open_after_first = true;
  };
  Out out = loop().BlockOn([](OwnedFd* owned, OwnedFdTest* t, int fd) -> Task<Out> {
    Out o;
    o.first = co_await owned->Close();
    o.open_after_first = t->FdIsOpen(fd);
    o.second = co_await owned->Close();
    co_return o;
  }(&owned, this, r));
  EXPECT_TRUE(out.first.ok()) << out.first.ToString();
  EXPECT_EQ(out.first.kind(), OpKind::kClose);
  EXPECT_EQ(out.first.fd(), r);
  EXPECT_FALSE(out.open_after_first);
  EXPECT_EQ(out.second.error(), EBADF);
  EXPECT_FALSE(owned.valid());
}

TEST_P(OwnedFdTest, CloseRunsEvenInACancelledTask) {
  auto [r, w] = Pipe();
  (void)w;
  OwnedFd owned(loop(), Give(r));
  std::optional<Result> closed;
  Scope scope(loop());
  scope.Cancel();
  scope.Spawn([](OwnedFd* owned, std::optional<Result>* closed) -> Task<void> {
    EXPECT_TRUE(IsCancelled());
    closed->emplace(co_await owned->Close());
  }(&owned, &closed));
  RunUntil([&] { return closed.has_value(); });
  EXPECT_TRUE(closed->ok()) << closed->ToString();
  EXPECT_FALSE(FdIsOpen(r));
}

TEST_P(OwnedFdTest, ReleaseGivesTheFdUpAndMovingCloses) {
  auto [r, w] = Pipe();
  OwnedFd a(loop(), Give(r));
  OwnedFd b(loop(), Give(w));
  EXPECT_EQ(a.Release(), r);
  EXPECT_FALSE(a.valid());
  a = OwnedFd(loop(), r);  // owns r again
  a = std::move(b);        // r is closed (through the loop), w is a's now
  EXPECT_FALSE(b.valid());
  EXPECT_EQ(a.get(), w);
  Settle();
  EXPECT_FALSE(FdIsOpen(r));
  EXPECT_TRUE(FdIsOpen(w));
  const int released = a.Release();
  EXPECT_EQ(released, w);
  Settle();
  EXPECT_TRUE(FdIsOpen(w));  // released: nobody closed it
  a = OwnedFd(loop(), w);    // so that it is closed at the end
}

INSTANTIATE_TEST_SUITE_P(AllBackends, OwnedFdTest, ::testing::ValuesIn(Backends()), BackendName);

TEST(OwnedFdDeathTest, DestroyingItOnAnotherThreadNamesTheMistake) {
  LoopOptions options;
  options.driver = DriverChoice::kEpoll;
  options.log_driver_choice = false;
  auto loop = Loop::Create(options);
  ASSERT_TRUE(loop.ok());
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  EXPECT_DEATH(
      {
        OwnedFd owned(**loop, p[0]);
        std::thread t([&] { OwnedFd gone = std::move(owned); });
        t.join();
      },
      "OwnedFd::Reset of fd [0-9]+ on a thread whose Loop is not the fd's");
  ::close(p[0]);
  ::close(p[1]);
}

}  // namespace
}  // namespace ringloop
