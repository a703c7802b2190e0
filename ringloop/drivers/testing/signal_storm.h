// ringloop/drivers/testing/signal_storm.h: signals without SA_RESTART aimed at a thread
// that waits in its driver's Poll.
//
// SignalStorm runs at most `rounds` rounds. In each, a second thread sends 50
// SIGUSR1s at the calling thread (handled, without SA_RESTART, so a wait one lands
// in ends with EINTR), then calls Driver::Wake(), while the calling thread runs
// `poll_round` (one Poll of the driver, or as many as it takes to see the round's
// wake-up). It stops early when `poll_round` returns false: the test saw what it
// waited for, or gave up. Whether a signal lands inside the wait is the
// scheduler's choice, hence rounds, not sleeps. SIGUSR1 is ignored afterwards, so
// that a straggler cannot kill the test binary.
//
// Test-only. Call from the thread that owns the driver.
#ifndef RINGLOOP_DRIVERS_TESTING_SIGNAL_STORM_H_
#define RINGLOOP_DRIVERS_TESTING_SIGNAL_STORM_H_

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <thread>

#include "ringloop/drivers/driver.h"

namespace ringloop::testing {

inline void SignalStorm(Driver& driver, uint32_t rounds, const std::function<bool()>& poll_round) {
  struct sigaction sa {};
  sa.sa_handler = [](int) {};
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a wait the signal lands in sees EINTR
  sigaction(SIGUSR1, &sa, nullptr);
  const pthread_t poller = pthread_self();
  std::atomic<uint32_t> round{0};
  std::atomic<bool> stop{false};
  std::thread signaller([&] {
    for (uint32_t r = 1; !stop.load(); ++r) {
      for (uint32_t x = round.load(); x < r && !stop.load(); x = round.load()) round.wait(x);
      if (stop.load()) break;
      for (int i = 0; i < 50; ++i) {
        pthread_kill(poller, SIGUSR1);
        std::this_thread::yield();
      }
      driver.Wake();  // ends the round's wait if no signal landed in it
    }
  });
  for (uint32_t r = 1; r <= rounds; ++r) {
    round.store(r);
    round.notify_one();
    if (!poll_round()) break;
  }
  stop.store(true);
  round.store(~0u);
  round.notify_one();
  signaller.join();
  signal(SIGUSR1, SIG_IGN);
}

}  // namespace ringloop::testing

#endif  // RINGLOOP_DRIVERS_TESTING_SIGNAL_STORM_H_
