// examples/server/unix_clock.cc: the realtime anchor of UnixClock.
#include "examples/server/unix_clock.h"

#include <time.h>

namespace examples::server {
namespace {

int64_t RealtimeMs() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

}  // namespace

UnixClock::UnixClock(const ringloop::Loop& loop) : UnixClock(loop, RealtimeMs()) {}

}  // namespace examples::server
