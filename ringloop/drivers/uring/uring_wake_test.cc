// ringloop/drivers/uring/uring_wake_test.cc: waking a Poll from other threads (eventfd,
// MSG_RING) and surviving signals. Tagged "threads": CI runs it under tsan.
//
// Each test arms a Timeout op far in the future as a failsafe: a lost wake-up
// makes it fire (and the test fail) instead of hanging the test.

#include <atomic>
#include <future>
#include <thread>

#include "gtest/gtest.h"
#include "ringloop/drivers/testing/signal_storm.h"
#include "ringloop/drivers/uring/uring_driver.h"
#include "ringloop/drivers/uring/uring_test_util.h"

namespace ringloop {
namespace {

constexpr uint64_t kFailsafeNs = 20'000'000'000;  // 20 s

TEST(UringWakeTest, CrossThreadWakeTenThousandTimes) {
  URING_HARNESS_OR_SKIP(h);
  Engine& engine = h->engine();
  UringDriver& driver = h->driver();
  const OpId failsafe = engine.Submit({Timeout{driver.NowNs() + kFailsafeNs}, 0});
  constexpr uint32_t kWakes = 10'000;
  std::atomic<uint32_t> seq{0};
  std::atomic<uint32_t> ack{0};
  std::thread waker([&] {
    for (uint32_t i = 1; i <= kWakes; ++i) {
      seq.store(i);
      driver.Wake();
      // Wait for the poller to have seen wake-up i (a futex wait, not a sleep).
      for (uint32_t a = ack.load(); a < i; a = ack.load()) ack.wait(a);
    }
  });
  bool fired = false;
  for (uint32_t polls = 0; ack.load() < kWakes && !fired && polls < 4 * kWakes; ++polls) {
    ASSERT_TRUE(driver.Poll(engine, /*wait=*/true).ok());
    while (std::optional<Event> e = engine.PollEvent()) fired = fired || e->id == failsafe;
    const uint32_t s = seq.load();
    if (s > ack.load()) {
      ack.store(s);
      ack.notify_one();
    }
  }
  if (ack.load() < kWakes) {  // let the waker finish before failing
    ack.store(kWakes);
    ack.notify_one();
  }
  waker.join();
  EXPECT_FALSE(fired) << "a wake-up was lost";
  EXPECT_EQ(ack.load(), kWakes);
  // One eventfd write per wake-up, and every write was consumed by one read.
  EXPECT_EQ(driver.wake_writes(), kWakes);
  EXPECT_EQ(driver.stats().wakeups, kWakes);
}

TEST(UringWakeTest, MsgRingWakesAPollInAnotherThread) {
  URING_HARNESS_OR_SKIP(sender);
  if (!sender->driver().capabilities().Supports(IORING_OP_MSG_RING)) {
    GTEST_SKIP() << "IORING_OP_MSG_RING needs Linux 5.18";
  }
  constexpr uint32_t kWakes = 200;
  std::promise<UringDriver*> target_ready;
  std::atomic<uint32_t> seen{0};
  std::atomic<bool> failed{false};
  std::atomic<bool> sender_done{false};
  std::thread owner([&] {
    // The target ring is single-issuer: only this thread may submit to it.
    UringDriver::Options options;
    options.single_issuer = true;
    options.defer_taskrun = true;
    absl::StatusOr<std::unique_ptr<UringDriver>> d = UringDriver::Create(options);
    if (!d.ok()) {
      failed = true;
      target_ready.set_value(nullptr);
      return;
    }
    Engine engine;
    const OpId failsafe = engine.Submit({Timeout{(*d)->NowNs() + kFailsafeNs}, 0});
    target_ready.set_value(d->get());
    for (uint32_t polls = 0; seen.load() < kWakes && polls < 4 * kWakes; ++polls) {
      if (!(*d)->Poll(engine, true).ok()) failed = true;
      while (std::optional<Event> e = engine.PollEvent()) {
        if (e->id == failsafe) failed = true;
      }
      if (failed) break;
      seen.store(static_cast<uint32_t>((*d)->stats().msg_ring_wakeups));
      seen.notify_one();
    }
    seen.store(kWakes);  // release the sender however the loop ended
    seen.notify_one();
    // SendWake's target must outlive the call: wait until the sender is done.
    for (bool done = sender_done.load(); !done; done = sender_done.load()) {
      sender_done.wait(false);
    }
  });
  UringDriver* target = target_ready.get_future().get();
  bool sent_all = target != nullptr;
  for (uint32_t i = 1; sent_all && i <= kWakes && !failed; ++i) {
    sent_all = sender->driver().SendWake(*target).ok();
    for (uint32_t s = seen.load(); s < i; s = seen.load()) seen.wait(s);
    sent_all = sent_all && sender->Step(false).ok();  // reaps our own MSG_RING CQEs
  }
  sender_done.store(true);
  sender_done.notify_one();
  owner.join();
  EXPECT_TRUE(sent_all);
  EXPECT_FALSE(failed.load());
}

TEST(UringWakeTest, SignalsDuringTheWaitAreSurvived) {
  URING_HARNESS_OR_SKIP(h);
  Engine& engine = h->engine();
  UringDriver& driver = h->driver();
  const OpId failsafe = engine.Submit({Timeout{driver.NowNs() + kFailsafeNs}, 0});
  bool fired = false;
  bool failed = false;
  testing::SignalStorm(driver, 100, [&] {
    const uint64_t wakeups = driver.stats().wakeups;
    while (driver.stats().wakeups == wakeups && !fired && !failed) {
      failed = !driver.Poll(engine, true).ok();
      while (std::optional<Event> e = engine.PollEvent()) fired = fired || e->id == failsafe;
    }
    return driver.stats().eintr == 0 && !fired && !failed;
  });
  EXPECT_FALSE(failed) << "Poll failed";
  EXPECT_FALSE(fired);
  EXPECT_GT(driver.stats().eintr, 0u);  // the wait really was interrupted
}

}  // namespace
}  // namespace ringloop
