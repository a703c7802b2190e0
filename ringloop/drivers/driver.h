// ringloop/drivers/driver.h: the contract between the engine and the things that do I/O.
//
// A Driver owns the kernel side (an io_uring, an epoll set, or a simulated
// kernel). It never decides anything the engine decides: it takes the engine's
// requests in order, performs them, and feeds every completion and the current
// time back. Runtime code (and the conformance battery) is written once against
// this interface and runs over every driver.
//
// Call order (one thread, the engine's owner):
//   loop:
//     driver.Poll(engine, wait)   // submit pending requests, reap, AdvanceTime
//     drain engine.PollEvent()    // run user code; it may submit more
// Wake() alone may be called from any thread.
#ifndef RINGLOOP_DRIVERS_DRIVER_H_
#define RINGLOOP_DRIVERS_DRIVER_H_

#include <cstdint>
#include <string_view>

#include "absl/status/status.h"
#include "ringloop/core/engine.h"

namespace ringloop {

class Driver {
 public:
  virtual ~Driver() = default;

  // Name: "uring", "epoll" or "sim".
  virtual std::string_view Name() const = 0;

  // Poll: hands every pending request of `engine` to the kernel (whole chains
  // only; what does not fit stays pending), then collects completions and feeds
  // each to engine.HandleCompletion(s), then calls engine.AdvanceTime(NowNs())
  // whenever the engine has a deadline (NextDeadline); the real drivers skip it
  // when there is none (nothing could fire, and the clock read costs every Poll).
  // With `wait`, blocks until at least one completion arrives, the engine's
  // NextDeadline passes, or Wake() is called; without, never blocks.
  // Returns an error only when the driver itself cannot go on (a lost CQE,
  // a dead ring); per-op failures are completions, never errors here.
  virtual absl::Status Poll(Engine& engine, bool wait) = 0;

  // Wake: makes a Poll blocked in another thread return soon. Thread-safe,
  // cheap when called many times before the Poll wakes (one write per wake-up).
  virtual void Wake() = 0;

  // NowNs: the driver's clock (CLOCK_MONOTONIC for real drivers, virtual time
  // for the simulator), the clock of every deadline given to the engine.
  virtual uint64_t NowNs() const = 0;

  // ForgetFd: `fd` is about to be closed outside the engine (close(2) by the
  // program): the driver drops what it learnt about it (its kind, flags it
  // set, registrations), so that the number's next file starts afresh. No op
  // may be in flight on it. Owner thread. Drivers that cache nothing ignore it.
  virtual void ForgetFd(int fd) { (void)fd; }
};

}  // namespace ringloop

#endif  // RINGLOOP_DRIVERS_DRIVER_H_
