// tests/conformance/fd_reuse_loop_test.cc: the two user reports about fds closed with
// close(2) outside the loop, verbatim, through the public Loop API
// (ringloop/runtime/loop.h), on each real driver (uring skipped where io_uring
// cannot run here).
//
//  1. "Read on a pipe through the loop; ::close both ends; a new pipe2 reuses the
//     numbers; a Read with a 200 ms timeout on the new empty pipe: under uring it
//     ends -ETIME as it should; under epoll the loop thread blocks inside read(2)
//     until someone writes."
//  2. "When a socket's number is reused by a pipe, a Write to the pipe fails
//     -ENOTSOCK on both drivers."
//
// A guard thread writes to (or reads from) the new pipe if the scenario has not
// ended within a bound: a loop thread stuck in read(2) or write(2) then makes the
// test fail instead of hanging, and the guard records that it had to.
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <functional>
#include <optional>
#include <string>

#include "gtest/gtest.h"
#include "ringloop/drivers/testing/unblock_guard.h"
#include "ringloop/runtime/loop.h"

namespace ringloop {
namespace {

using testing::UnblockGuard;

class FdReuseLoopTest : public ::testing::TestWithParam<DriverChoice> {
 protected:
  void SetUp() override {
    LoopOptions options;
    options.driver = GetParam();
    options.log_driver_choice = false;
    auto loop = Loop::Create(std::move(options));
    if (!loop.ok() && GetParam() == DriverChoice::kUring) {
      GTEST_SKIP() << "io_uring cannot run here: " << loop.status();
    }
    ASSERT_TRUE(loop.ok()) << loop.status();
    loop_ = std::move(*loop);
  }

  // Run: RunOnce until `done`, at most 1000 steps (each bounded: every scenario
  // has a deadline or data waiting).
  bool Run(const std::function<bool()>& done) {
    for (int i = 0; i < 1000 && !done(); ++i) EXPECT_TRUE(loop_->RunOnce().ok());
    return done();
  }

  std::unique_ptr<Loop> loop_;
};

TEST_P(FdReuseLoopTest, ReadWithATimeoutOnAPipeThatReusedAClosedPipesNumberTimesOut) {
  int old_pipe[2];
  ASSERT_EQ(::pipe2(old_pipe, O_CLOEXEC), 0);
  ASSERT_EQ(::write(old_pipe[1], "abcd", 4), 4);
  char buf[4];
  int32_t first = 1;
  loop_->Submit(Read{old_pipe[0], buf, sizeof(buf)}, [&](const Event& e) { first = e.res; });
  ASSERT_TRUE(Run([&] { return first != 1; }));
  ASSERT_EQ(first, 4);
  ::close(old_pipe[0]);
  ::close(old_pipe[1]);
  int new_pipe[2];
  ASSERT_EQ(::pipe2(new_pipe, O_CLOEXEC), 0);
  ASSERT_EQ(new_pipe[0], old_pipe[0]) << "the new pipe did not reuse the numbers";
  ASSERT_EQ(new_pipe[1], old_pipe[1]);
  const int writer = new_pipe[1];
  UnblockGuard guard([writer] { (void)!::write(writer, "!", 1); });
  const uint64_t start = loop_->NowNs();
  std::optional<Event> done;
  uint64_t ended = 0;
  char buf2[8];
  loop_->Submit(Read{new_pipe[0], buf2, sizeof(buf2)}, absl::Milliseconds(200),
                [&](const Event& e) {
                  done = e;
                  ended = loop_->NowNs();
                });
  ASSERT_TRUE(Run([&] { return done.has_value(); }));
  EXPECT_FALSE(guard.Disarm()) << "the loop thread was stuck in read(2)";
  EXPECT_EQ(done->res, -ETIME);
  EXPECT_TRUE(Result(*done).timed_out()) << Result(*done).status();
  EXPECT_GE(ended - start, 200'000'000u);
  ::close(new_pipe[0]);
  ::close(new_pipe[1]);
}

TEST_P(FdReuseLoopTest, WriteToAPipeThatReusedAClosedSocketsNumberSucceeds) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  int32_t sent = 0;
  loop_->Submit(Write{sv[1], "sock", 4}, [&](const Event& e) { sent = e.res; });
  ASSERT_TRUE(Run([&] { return sent != 0; }));
  ASSERT_EQ(sent, 4);
  ::close(sv[0]);
  ::close(sv[1]);
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  ASSERT_EQ(p[1], sv[1]) << "the pipe did not reuse the socket's number";
  const int reader = p[0];
  UnblockGuard guard([reader] {
    char sink[64];
    (void)!::read(reader, sink, sizeof(sink));
  });
  std::optional<Event> done;
  loop_->Submit(Write{p[1], "pipe", 4}, [&](const Event& e) { done = e; });
  ASSERT_TRUE(Run([&] { return done.has_value(); }));
  EXPECT_FALSE(guard.Disarm()) << "the loop thread was stuck in a syscall";
  ASSERT_EQ(done->res, 4) << Result(*done).status();  // (else the read below waits for nothing)
  char got[8] = {};
  EXPECT_EQ(::read(p[0], got, sizeof(got)), 4);
  EXPECT_EQ(std::string(got, 4), "pipe");
  ::close(p[0]);
  ::close(p[1]);
}

// ForgetFd hands the fd back as the program gave it: a listener the epoll
// driver made nonblocking to accept on is blocking again (io_uring never
// changes it), so that closing or passing it on outside the loop is safe.
TEST_P(FdReuseLoopTest, ForgetFdGivesTheFdBackWithTheFlagsTheProgramSet) {
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(listener, 4), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int given_flags = ::fcntl(listener, F_GETFL);
  ASSERT_EQ(given_flags & O_NONBLOCK, 0);
  int32_t accepted = INT32_MIN;
  loop_->Submit(Accept{listener}, [&](const Event& e) { accepted = e.res; });
  ASSERT_TRUE(loop_->RunOnce(/*wait=*/false).ok());
  const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_TRUE(Run([&] { return accepted != INT32_MIN; }));
  ASSERT_GE(accepted, 0) << Result(accepted, OpKind::kAccept, listener).status();
  loop_->ForgetFd(listener);
  EXPECT_EQ(::fcntl(listener, F_GETFL), given_flags);
  ::close(accepted);
  ::close(client);
  ::close(listener);
}

std::string Name(const ::testing::TestParamInfo<DriverChoice>& info) {
  return std::string(DriverChoiceName(info.param));
}

INSTANTIATE_TEST_SUITE_P(Drivers, FdReuseLoopTest,
                         ::testing::Values(DriverChoice::kUring, DriverChoice::kEpoll), Name);

}  // namespace
}  // namespace ringloop
