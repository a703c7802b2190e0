// ringloop/runtime/timeout.h: WithTimeout, a deadline for a whole task.
//
//   std::optional<std::string> line =
//       co_await WithTimeout(absl::Seconds(5), ReadLine(conn));
//   if (!line) { /* 5 s passed first */ }
//
// WithTimeout runs `task` and, if `timeout` passes before it finishes, cancels
// it (cancel.h: the op it waits on is cancelled through the engine, and later
// ops end -ECANCELED at once) and waits for it to finish. The result is the
// task's value if it finished first, std::nullopt if the timeout came first
// (whatever the cancelled task returned is dropped: note that a cancelled read
// may already have consumed bytes, as in the kernel). For Task<void> the
// result is a bool: whether the task finished in time.
//
// The timer is one engine Timeout; a per-op deadline (Io(op, timeout)) is
// cheaper when one op is all there is to bound.
//
// Threads: the Loop's thread, from inside a Task.
#ifndef RINGLOOP_RUNTIME_TIMEOUT_H_
#define RINGLOOP_RUNTIME_TIMEOUT_H_

#include <coroutine>
#include <optional>
#include <type_traits>
#include <utility>

#include "absl/time/time.h"
#include "ringloop/core/request.h"
#include "ringloop/runtime/cancel.h"
#include "ringloop/runtime/task.h"

namespace ringloop {
namespace internal {

// TaskTimer: an engine timer started from a task frame that cancels the
// frame's own CancelSource (so everything the frame awaits) when it fires.
// Start and Stop are awaited; Stop cancels the timer if it has not fired and
// waits for its final event (its callback names this object).
class TaskTimer final : public CancelCallback {
 public:
  explicit TaskTimer(absl::Duration timeout) : timeout_(timeout) {}
  TaskTimer(const TaskTimer&) = delete;

  // StartAwaiter / StopAwaiter: see Start and Stop.
  struct StartAwaiter {
    TaskTimer* timer;
    bool await_ready() const noexcept { return false; }
    template <class P>
    bool await_suspend(std::coroutine_handle<P> h) {
      timer->Arm(h.promise());
      return false;
    }
    void await_resume() const noexcept {}
  };
  struct StopAwaiter {
    TaskTimer* timer;
    bool await_ready() const noexcept { return timer->ended_; }
    void await_suspend(std::coroutine_handle<>) { timer->Disarm(); }
    void await_resume() const noexcept {}
  };

  // Start: arms the timer; never suspends.
  StartAwaiter Start() { return StartAwaiter{this}; }
  // Stop: cancels the timer (if still pending) and waits until it has ended.
  StopAwaiter Stop() { return StopAwaiter{this}; }
  // fired: the timeout passed (before Stop).
  bool fired() const { return fired_; }

 private:
  void Arm(PromiseBase& p);
  void Disarm();
  void OnEvent(const Event& event);
  void OnCancel() override;

  absl::Duration timeout_;
  PromiseBase* promise_ = nullptr;
  OpId id_;
  bool armed_ = false;
  bool ended_ = false;
  bool fired_ = false;
  bool waiting_ = false;
};

}  // namespace internal

// WithTimeout: see the file comment.
template <class T>
Task<std::optional<T>> WithTimeout(absl::Duration timeout, Task<T> task) {
  internal::TaskTimer timer(timeout);
  co_await timer.Start();
  std::optional<T> value(co_await std::move(task));
  const bool late = timer.fired();
  co_await timer.Stop();
  if (late) co_return std::nullopt;
  co_return value;
}

inline Task<bool> WithTimeout(absl::Duration timeout, Task<void> task) {
  internal::TaskTimer timer(timeout);
  co_await timer.Start();
  co_await std::move(task);
  const bool late = timer.fired();
  co_await timer.Stop();
  co_return !late;
}

}  // namespace ringloop

#endif  // RINGLOOP_RUNTIME_TIMEOUT_H_
