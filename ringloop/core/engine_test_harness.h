// ringloop/core/engine_test_harness.h: the engine's unit tests play the kernel by hand.
//
// Harness owns an Engine and records what it asked of the kernel and told its
// users: Take() hands every pending request over (as a driver would),
// Complete() feeds one completion, Events() drains the events. Test-only; one
// thread.
#ifndef RINGLOOP_CORE_ENGINE_TEST_HARNESS_H_
#define RINGLOOP_CORE_ENGINE_TEST_HARNESS_H_

#include <cstdint>
#include <vector>

#include "ringloop/core/engine.h"

namespace ringloop::testing_internal {

// Harness: an engine plus a record of what it asked and told.
class Harness {
 public:
  explicit Harness(Engine::Options options = {}) : engine(options) {}

  // Take: hands every pending request over, returning them.
  std::vector<Request> Take() {
    auto pending = engine.PendingRequests();
    std::vector<Request> out(pending.begin(), pending.end());
    engine.ConsumeRequests(pending.size());
    return out;
  }

  // Events: every event delivered since the last call, in order.
  std::vector<Event> Events() {
    std::vector<Event> out;
    while (auto e = engine.PollEvent()) out.push_back(*e);
    return out;
  }

  // Complete: the kernel's completion of request `r`.
  bool Complete(const Request& r, int32_t res, uint32_t flags = 0) {
    return engine.HandleCompletion(r.user_data, res, flags);
  }

  Engine engine;
};

// kHarnessBufferBytes: the size of the buffer ReadArgs reads into.
inline constexpr uint32_t kHarnessBufferBytes = 64;

// ReadArgs: a read of kHarnessBufferBytes on `fd` into a static buffer.
inline SubmitArgs ReadArgs(int fd, uint64_t tag, uint64_t deadline = kNoDeadline) {
  static char buf[kHarnessBufferBytes];
  return SubmitArgs{Read{fd, buf, sizeof(buf)}, tag, deadline};
}

}  // namespace ringloop::testing_internal

#endif  // RINGLOOP_CORE_ENGINE_TEST_HARNESS_H_
