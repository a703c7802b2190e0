// ringloop/drivers/internal/clock.h: the real drivers' clock.
//
// MonotonicNowNs reads CLOCK_MONOTONIC: the clock of every deadline the real
// drivers give the engine (Driver::NowNs), and the clock io_uring's
// IORING_TIMEOUT_ABS linked timeouts and epoll_pwait2's waits are measured
// against. The simulator has its own virtual clock. Thread-safe.
#ifndef RINGLOOP_DRIVERS_INTERNAL_CLOCK_H_
#define RINGLOOP_DRIVERS_INTERNAL_CLOCK_H_

#include <time.h>

#include <cstdint>

namespace ringloop::drivers_internal {

// MonotonicNowNs: CLOCK_MONOTONIC, in nanoseconds.
inline uint64_t MonotonicNowNs() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000u + uint64_t(ts.tv_nsec);
}

}  // namespace ringloop::drivers_internal

#endif  // RINGLOOP_DRIVERS_INTERNAL_CLOCK_H_
