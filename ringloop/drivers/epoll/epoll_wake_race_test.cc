// ringloop/drivers/epoll/epoll_wake_race_test.cc: a Wake() landing while Poll drains the
// wake eventfd is never lost, pinned deterministically.
//
// The race: Poll drains the eventfd and clears the "a wake-up is in the eventfd"
// flag; a Wake from another thread between the two steps must not leave the flag
// set over an empty eventfd (every later Wake would then see the flag and write
// nothing, and a blocked Poll would never wake). A thread cannot be made to land
// there on demand, so this binary is linked with -Wl,--wrap=read: the wrapper
// calls Wake() right before the driver's read of its eventfd, the one moment in
// which the wrong order (clear, then read) loses the wake-up. No production code
// knows about it.
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <string>

#include "gtest/gtest.h"
#include "ringloop/core/engine.h"
#include "ringloop/drivers/epoll/epoll_driver.h"

extern "C" ssize_t __real_read(int fd, void* buf, size_t count);

namespace {

ringloop::EpollDriver* g_wake_on_drain = nullptr;  // armed: Wake this driver once

// IsEventfd: whether `fd` is an eventfd (/proc/self/fd names it so).
bool IsEventfd(int fd) {
  char path[64];
  char target[PATH_MAX];
  std::snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
  const ssize_t n = readlink(path, target, sizeof(target) - 1);
  if (n <= 0) return false;
  target[n] = '\0';
  return std::strstr(target, "eventfd") != nullptr;
}

}  // namespace

extern "C" ssize_t __wrap_read(int fd, void* buf, size_t count) {
  if (g_wake_on_drain != nullptr && count == sizeof(uint64_t) && IsEventfd(fd)) {
    ringloop::EpollDriver* driver = g_wake_on_drain;
    g_wake_on_drain = nullptr;
    driver->Wake();  // "another thread", between Poll's wake-up report and its drain
  }
  return __real_read(fd, buf, count);
}

namespace ringloop {
namespace {

TEST(EpollWakeRaceTest, WakeDuringTheDrainIsNotLost) {
  auto created = EpollDriver::Create(EpollDriver::Options{.file_workers = 0});
  ASSERT_TRUE(created.ok()) << created.status();
  EpollDriver& driver = **created;
  Engine engine;

  // A wake-up, reported by the next Poll, whose drain gets a second Wake.
  driver.Wake();
  g_wake_on_drain = &driver;
  ASSERT_TRUE(driver.Poll(engine, /*wait=*/true).ok());
  ASSERT_EQ(g_wake_on_drain, nullptr) << "the driver never read its eventfd";

  // The loop goes back to sleep; a new Wake must wake it. A timer 5 s out bounds
  // the wait: if the wake-up was lost, Poll returns only when it fires.
  const uint64_t watchdog = driver.NowNs() + 5'000'000'000;
  engine.Submit({Timeout{watchdog}, 1});
  const uint64_t writes_before = driver.wake_writes();
  driver.Wake();
  EXPECT_EQ(driver.wake_writes(), writes_before + 1) << "Wake() wrote nothing: the flag stayed set";
  ASSERT_TRUE(driver.Poll(engine, /*wait=*/true).ok());
  EXPECT_LT(driver.NowNs(), watchdog) << "the wake-up was lost: Poll slept until the watchdog";
  EXPECT_FALSE(engine.HasEvents()) << "the watchdog fired";
}

}  // namespace
}  // namespace ringloop
