// tests/conformance/harness.h: an Engine driven over an Env, step by bounded step.
//
// Harness owns the Engine of one scenario and drives it the way a runtime would
// (Env::Poll, then drain every event), recording each event with the driver's
// clock at the moment it was seen. Every wait is RunUntil: a step bound, a
// wall-clock budget and a stall bound (real drivers' watchdog wake-ups), so that
// a livelock or a lost event fails the scenario instead of hanging it.
//
// It also checks the one guarantee every scenario shares: each op it submitted
// has exactly one final event (CheckExactlyOnce, run by Drain).
//
// One thread (the test's).
#ifndef RINGLOOP_TESTS_CONFORMANCE_HARNESS_H_
#define RINGLOOP_TESTS_CONFORMANCE_HARNESS_H_

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "ringloop/core/engine.h"
#include "tests/conformance/env.h"

namespace ringloop::conformance {

// kMaxSteps: the default step bound of RunUntil.
inline constexpr int kMaxSteps = 2000;

class Harness {
 public:
  Harness(Env& env, Engine::Options options);
  ~Harness();

  Engine& engine() { return engine_; }
  Env& env() { return env_; }
  uint64_t Now() { return env_.driver().NowNs(); }

  // Submit / SubmitChain / Close / Cancel: the engine's inputs, recorded. Close
  // also tells the Env not to close the fd itself.
  OpId Submit(Op op, uint64_t tag = 0, uint64_t deadline_ns = kNoDeadline);
  std::vector<OpId> SubmitChain(std::span<SubmitArgs> ops);
  OpId Close(int fd, uint64_t tag = 0);
  bool Cancel(OpId id) { return engine_.Cancel(id); }

  // Kick: one Poll(wait=false): hands pending requests to the kernel, so that an
  // op is parked there before the test acts on its fd.
  void Kick();
  // Step: one Poll(wait=true). False when Poll failed (already reported).
  bool Step();
  // RunUntil: steps until `done()`; false (and a test failure naming `what`) if
  // a bound was hit first.
  bool RunUntil(const std::function<bool()>& done, const char* what, int max_steps = kMaxSteps);
  // AwaitFinal: RunUntil every op in `ids` has its final event.
  bool AwaitFinal(std::initializer_list<OpId> ids);
  bool AwaitFinal(std::span<const OpId> ids);

  // Final: op `id`'s final event, if it came. FinalIndex: its position in
  // events(), or -1. ArrivalNs: NowNs() when it was seen (0 if not yet).
  std::optional<Event> Final(OpId id) const;
  int FinalIndex(OpId id) const;
  uint64_t ArrivalNs(OpId id) const;
  // Res: the final result of `id` (INT32_MIN if it has none yet).
  int32_t Res(OpId id) const;
  // More: op `id`'s intermediate (multishot) events, in order.
  std::vector<Event> More(OpId id) const;
  const std::vector<Event>& events() const { return events_; }

  // Drain: TryDrain, failing the test on an error, then CheckExactlyOnce.
  void Drain();
  // TryDrain: Shutdown, then Poll until the engine is quiescent (bounded).
  // Returns Poll's error, or kDeadlineExceeded if a bound was hit.
  absl::Status TryDrain();
  // Abandon: the scenario gave up on this engine (a known gap made it
  // undrainable): the destructor will not drain or check it.
  void Abandon() { drained_ = true; }
  // CheckExactlyOnce: every submitted op has exactly one final event, and no
  // event names an op the harness did not submit.
  void CheckExactlyOnce() const;

 private:
  void Collect();

  Env& env_;
  Engine engine_;
  std::vector<OpId> submitted_;
  std::vector<Event> events_;
  std::vector<uint64_t> arrival_ns_;  // parallel to events_
  bool drained_ = false;
};

// OneOf: whether `res` is in `allowed`.
inline bool OneOf(int32_t res, std::initializer_list<int32_t> allowed) {
  for (int32_t a : allowed) {
    if (a == res) return true;
  }
  return false;
}

}  // namespace ringloop::conformance

#endif  // RINGLOOP_TESTS_CONFORMANCE_HARNESS_H_
