// examples/server/unix_clock.h: UnixClock, Unix time in milliseconds read from a Loop's
// clock.
//
// The protocol cores take the time as a parameter in Unix milliseconds (RESP expiry,
// HTTP's Date field). A server reads it from its Loop's monotonic clock plus an offset
// fixed when the UnixClock is made, so that under the simulated kernel (whose clock is
// virtual) keys expire on virtual time, and a test can fix the offset to get the same
// replies from the same seed.
//
// Threads: the Loop's thread.
#ifndef EXAMPLES_SERVER_UNIX_CLOCK_H_
#define EXAMPLES_SERVER_UNIX_CLOCK_H_

#include <cstdint>

#include "ringloop/runtime/loop.h"

namespace examples::server {

// UnixClock: see the file comment.
class UnixClock {
 public:
  // UnixClock: the loop's clock, anchored at CLOCK_REALTIME now.
  explicit UnixClock(const ringloop::Loop& loop);
  // UnixClock: the loop's clock, reading `unix_ms_now` now (tests).
  UnixClock(const ringloop::Loop& loop, int64_t unix_ms_now)
      : loop_(&loop), start_ns_(loop.NowNs()), start_ms_(unix_ms_now) {}

  // NowMs: Unix time in milliseconds.
  int64_t NowMs() const { return start_ms_ + int64_t((loop_->NowNs() - start_ns_) / 1'000'000); }

 private:
  const ringloop::Loop* loop_;
  uint64_t start_ns_;
  int64_t start_ms_;
};

}  // namespace examples::server

#endif  // EXAMPLES_SERVER_UNIX_CLOCK_H_
