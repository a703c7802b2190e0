// ringloop/drivers/epoll/epoll_grace_clock_test.cc: the grace period a blocking Poll
// keeps while ops are parked on registrations made for earlier ops (see
// CheckSuspects in internal/readiness.cc), with no deadline in the engine.
//
// A busy connection's every wait is such a wait: its re-armed read parks on the
// registration made for the first. With no deadline the grace period is
// epoll_wait's own relative timeout, so that wait reads no clock (two reads per
// wait cost the epoll ping-pong benchmark 3-4% of its rate). This binary is
// linked with -Wl,--wrap=clock_gettime to count the driver's clock reads; no
// production code knows about it. Unlike epoll_driver_test, no test here puts a
// watchdog timeout in the engine (that deadline would change the path under
// test): a thread wakes a Poll that has not returned after kWatchdog instead,
// and the test then fails.
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "gtest/gtest.h"
#include "ringloop/core/engine.h"
#include "ringloop/drivers/epoll/epoll_driver.h"

extern "C" int __real_clock_gettime(clockid_t clock, timespec* ts);

namespace {
std::atomic<int> g_clock_reads{0};
}  // namespace

extern "C" int __wrap_clock_gettime(clockid_t clock, timespec* ts) {
  g_clock_reads.fetch_add(1);
  return __real_clock_gettime(clock, ts);
}

namespace ringloop {
namespace {

constexpr auto kWatchdog = std::chrono::seconds(10);

// Watchdog: Wake()s the driver every kWatchdog until destroyed, and says whether
// it had to.
class Watchdog {
 public:
  explicit Watchdog(EpollDriver& driver)
      : thread_([this, &driver] {
          std::unique_lock<std::mutex> lock(mu_);
          while (!done_) {
            if (!cv_.wait_for(lock, kWatchdog, [this] { return done_; })) {
              fired_ = true;
              driver.Wake();
            }
          }
        }) {}
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  bool fired() {
    std::lock_guard<std::mutex> lock(mu_);
    return fired_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  bool fired_ = false;
  std::thread thread_;
};

class EpollGraceClockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto driver = EpollDriver::Create(EpollDriver::Options{.file_workers = 0});
    ASSERT_TRUE(driver.ok()) << driver.status();
    driver_ = std::move(*driver);
  }
  void TearDown() override {
    engine_.Shutdown();
    for (int i = 0; i < 100 && !engine_.Quiescent(); ++i) {
      ASSERT_TRUE(driver_->Poll(engine_, /*wait=*/false).ok());
      while (engine_.PollEvent()) {
      }
    }
  }

  // FinalOf: the final event for `tag` among those ready, if any.
  std::optional<Event> FinalOf(uint64_t tag) {
    std::optional<Event> found;
    while (std::optional<Event> e = engine_.PollEvent()) {
      if (e->tag == tag && !e->more) found = e;
    }
    return found;
  }

  // ParkOnEarlierRegistration: a read of `fd` parks (registering it), is woken by
  // a byte written to `write_fd`, then a second read (tag 2) parks on the
  // registration made for the first.
  void ParkOnEarlierRegistration(int fd, int write_fd, char* c) {
    engine_.Submit({Read{fd, c, 1}, 1});
    ASSERT_TRUE(driver_->Poll(engine_, /*wait=*/false).ok());
    ASSERT_FALSE(FinalOf(1).has_value());
    ASSERT_EQ(::write(write_fd, "a", 1), 1);
    ASSERT_TRUE(driver_->Poll(engine_, /*wait=*/false).ok());
    const std::optional<Event> first = FinalOf(1);
    ASSERT_TRUE(first.has_value());
    ASSERT_EQ(first->res, 1);
    engine_.Submit({Read{fd, c, 1}, 2});
    ASSERT_TRUE(driver_->Poll(engine_, /*wait=*/false).ok());
    ASSERT_FALSE(FinalOf(2).has_value());
  }

  Engine engine_;
  std::unique_ptr<EpollDriver> driver_;
};

// A busy connection's wait: its read parked on the registration made for an
// earlier read, no deadline, data already there. The wait keeps its grace period
// (a timed epoll_wait) but reads no clock for it.
TEST_F(EpollGraceClockTest, AWaitWithSuspectsAndNoDeadlineReadsNoClock) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  char c = 0;
  ParkOnEarlierRegistration(p[0], p[1], &c);
  ASSERT_EQ(::write(p[1], "b", 1), 1);
  const uint64_t waits = driver_->stats().epoll_waits;
  const int reads = g_clock_reads.load();
  {
    Watchdog watchdog(*driver_);
    ASSERT_TRUE(driver_->Poll(engine_, /*wait=*/true).ok());
    ASSERT_FALSE(watchdog.fired());
  }
  EXPECT_EQ(g_clock_reads.load() - reads, 0);
  EXPECT_EQ(driver_->stats().epoll_waits - waits, 1u);
  const std::optional<Event> e = FinalOf(2);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->res, 1);
  EXPECT_EQ(c, 'b');
  engine_.Close(p[0], 0);
  engine_.Close(p[1], 0);
}

// The grace period still ends the sleep without a deadline: the number of a
// pipe's read end, closed behind the driver's back and reused by another pipe,
// has lost its registration; a read parked on it is woken by the new pipe's
// data once the loop has slept the grace period, not by the watchdog.
TEST_F(EpollGraceClockTest, WithoutADeadlineTheGracePeriodStillFindsADroppedRegistration) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  char c = 0;
  ParkOnEarlierRegistration(p[0], p[1], &c);
  const int fd = p[0];
  ::close(p[0]);
  ::close(p[1]);
  int q[2];
  ASSERT_EQ(::pipe2(q, O_CLOEXEC), 0);
  if (q[0] != fd) {
    ASSERT_EQ(::dup3(q[0], fd, O_CLOEXEC), fd);
    ::close(q[0]);
    q[0] = fd;
  }
  ASSERT_EQ(::write(q[1], "n", 1), 1);
  std::optional<Event> e;
  {
    Watchdog watchdog(*driver_);
    for (int i = 0; i < 10 && !e.has_value() && !watchdog.fired(); ++i) {
      ASSERT_TRUE(driver_->Poll(engine_, /*wait=*/true).ok());
      e = FinalOf(2);
    }
    ASSERT_FALSE(watchdog.fired()) << "the read was woken by the watchdog, not the grace period";
  }
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->res, 1);
  EXPECT_EQ(c, 'n');
  EXPECT_GE(driver_->stats().idle_checks, 1u);
  EXPECT_EQ(driver_->stats().stale_registrations, 1u);
  engine_.Close(q[0], 0);
  engine_.Close(q[1], 0);
}

}  // namespace
}  // namespace ringloop
