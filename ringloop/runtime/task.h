// ringloop/runtime/task.h: Task<T>, a C++20 coroutine that runs on a Loop.
//
// A Task is lazy (it starts when awaited, spawned into a Scope, or run with
// Loop::BlockOn) and move-only. Control passes between a task and the task it
// awaits through a trampoline (ResumeTask), not by nested calls, so neither a
// deep chain of awaits nor a long run of awaits that complete at once grows
// the stack. (Returning the next coroutine from await_suspend, "symmetric
// transfer", would do the same only where the compiler turns it into a tail
// call: GCC 12 does not at -O0 or -O1, and a million awaits overflow 8 MiB.)
// A task returns a T (co_return); an exception that leaves it is rethrown where
// it is awaited (or, for a task spawned into a Scope, ends the process with a
// message: nobody is there to catch it). Exceptions are not required: the
// library itself throws none.
//
// Cancellation (cancel.h): every task has its own CancelSource, a child of the
// source of whoever awaits it (or of its Scope). Cancelling it makes the op it
// waits on end through the engine's cancel (the op still owns its buffer until
// its final event) and every op it awaits later end -ECANCELED at once.
//
// Destroying a Task that is suspended (the Task object goes out of scope, its
// Scope is destroyed, ...) never frees its frame, or the frames it awaits,
// while an op started from them (or a child spawned into a Scope that lives in
// them) is still in the kernel's hands: the frames are cancelled and parked,
// never resumed, and freed after the last such op's final event. Buffers that
// live in a coroutine frame are therefore safe, whatever ends the task. Only
// ringloop's own awaitables (io.h, scope.h, ...) are tracked: a frame suspended
// on a foreign awaitable is freed at once.
//
// Threads: a task runs on the thread of its Loop; it must not be resumed
// elsewhere.
#ifndef RINGLOOP_RUNTIME_TASK_H_
#define RINGLOOP_RUNTIME_TASK_H_

#include <coroutine>
#include <cstdint>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include "ringloop/core/check.h"
#include "ringloop/runtime/cancel.h"

namespace ringloop {

class Loop;
class Scope;
template <class T = void>
class Task;

namespace internal {

// PromiseBase: what every task frame knows about where it runs.
class PromiseBase {
 public:
  PromiseBase() = default;
  PromiseBase(const PromiseBase&) = delete;
  PromiseBase& operator=(const PromiseBase&) = delete;

  // The Loop the task runs on (set when it starts).
  Loop* loop = nullptr;
  // The task's node in the cancellation tree.
  CancelSource cancel;
  // The frame itself, and the task that awaits it (resumed at its end), or
  // null (a task spawned into a Scope, or run by BlockOn).
  std::coroutine_handle<> self;
  PromiseBase* parent = nullptr;
  // The task this one awaits right now, if any.
  PromiseBase* child = nullptr;
  // The Scope that owns this task, if it was spawned into one, and its
  // siblings there.
  Scope* scope = nullptr;
  PromiseBase* sibling_prev = nullptr;
  PromiseBase* sibling_next = nullptr;
  bool started = false;
  std::exception_ptr exception;
  // The simulated program (process number, ringloop/drivers/sim) the ops this
  // task submits belong to: 0 (none) unless set; a task inherits it from the
  // task that awaits it or spawns it. Only a Loop on the simulated kernel
  // reads it (ringloop/testing sets it for each program it runs).
  uint32_t process = 0;

  // AddHold / ReleaseHold: something started from this frame that must end
  // before the frame may be freed (an op in the kernel, a child in a Scope that
  // lives in this frame). ReleaseHold returns whether the frame may be resumed:
  // false once it was parked (see the file comment); then the release may
  // have freed it, and the caller must not touch it again.
  void AddHold() { ++holds_; }
  bool ReleaseHold() {
    RL_CHECK(holds_ > 0);
    --holds_;
    return parked_root_ == nullptr || ReleaseParkedHold();
  }
  uint32_t holds() const { return holds_; }

  // Park: the Task that owns this frame, the root of a chain of awaits, was
  // destroyed while suspended: frees the chain now if nothing holds it, else
  // cancels it and frees it at the last ReleaseHold.
  void Park();

 private:
  // ReleaseParkedHold: ReleaseHold's end on a frame of a parked chain.
  bool ReleaseParkedHold();

  uint32_t holds_ = 0;
  PromiseBase* parked_root_ = nullptr;  // set on every frame of a parked chain
  uint32_t parked_holds_ = 0;           // on the root: holds left in the chain
};

// Trampoline: ResumeTask's state, per thread: the frame handed on by the one
// that just suspended (TransferTo), and a finished frame to free once it has
// suspended (DestroyLater); and the task running now. In the header so that
// ResumeTask is inline where a loop resumes a task for each final event.
struct Trampoline {
  PromiseBase* current = nullptr;
  PromiseBase* next = nullptr;
  std::coroutine_handle<> dead;
};
inline thread_local Trampoline this_thread_trampoline;

// CurrentPromise: the task running on this thread right now, or null outside
// tasks. Set by ResumeTask, the only place that resumes a task.
inline PromiseBase*& CurrentPromise() { return this_thread_trampoline.current; }

// ResumeTask: resumes `p`'s frame, then every frame handed on with
// TransferTo while it ran (the trampoline), with CurrentPromise() set for
// each; frees finished frames (DestroyLater) before it returns.
inline void ResumeTask(PromiseBase& p) {
  Trampoline& t = this_thread_trampoline;
  PromiseBase* const previous = t.current;
  // Nothing is handed on across a plain call: a nested ResumeTask (a task
  // spawning another) starts with an empty trampoline and leaves it empty.
  RL_CHECK(t.next == nullptr && !t.dead);
  for (PromiseBase* run = &p; run != nullptr;) {
    t.current = run;
    run->self.resume();
    // The frame has suspended (or finished): it is not executing any more.
    if (t.dead) std::exchange(t.dead, {}).destroy();
    run = std::exchange(t.next, nullptr);
  }
  t.current = previous;
}

// TransferTo: the frame that suspends now wants `next` to run next: ResumeTask
// resumes it as soon as the suspension is complete.
void TransferTo(PromiseBase* next);

// StartTask: starts a task's frame that nobody awaits (BlockOn, Scope).
void StartTask(PromiseBase& p, Loop* loop, CancelSource* parent_cancel);

// DestroyLater: frees a finished frame once the outermost ResumeTask returns
// (a frame must not be freed from inside its own final suspension).
void DestroyLater(std::coroutine_handle<> h);

// FinalTransfer: `p` finished: hands control to whoever waits for it.
void FinalTransfer(PromiseBase& p);

[[noreturn]] void ExceptionOutsideTask();

template <class T>
class Promise;

// FinalAwaiter: at the end of a task, hands control on (TransferTo).
struct FinalAwaiter {
  bool await_ready() const noexcept { return false; }
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) noexcept {
    FinalTransfer(h.promise());
  }
  void await_resume() const noexcept {}
};

template <class T>
class PromiseStorage : public PromiseBase {
 public:
  template <class U>
  void return_value(U&& value) {
    value_.emplace(std::forward<U>(value));
  }
  T Take() {
    if (exception) std::rethrow_exception(exception);
    RL_CHECK(value_.has_value());
    return std::move(*value_);
  }

 private:
  std::optional<T> value_;
};

template <>
class PromiseStorage<void> : public PromiseBase {
 public:
  void return_void() {}
  void Take() {
    if (exception) std::rethrow_exception(exception);
  }
};

template <class T>
class Promise final : public PromiseStorage<T> {
 public:
  Task<T> get_return_object() noexcept;
  std::suspend_always initial_suspend() const noexcept { return {}; }
  FinalAwaiter final_suspend() const noexcept { return {}; }
  void unhandled_exception() noexcept { this->exception = std::current_exception(); }
};

}  // namespace internal

// Task<T>: see the file comment.
template <class T>
class [[nodiscard]] Task {
  static_assert(!std::is_reference_v<T>, "Task<T&> is not supported: return a pointer");

 public:
  using promise_type = internal::Promise<T>;

  Task() = default;
  Task(Task&& other) noexcept : h_(std::exchange(other.h_, {})) {}
  Task& operator=(Task&& other) noexcept {
    if (this != &other) {
      Drop();
      h_ = std::exchange(other.h_, {});
    }
    return *this;
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  // ~Task: frees the frame, or parks it while the kernel still holds a buffer
  // in it (see the file comment).
  ~Task() { Drop(); }

  // valid: whether this Task holds a coroutine (not moved from).
  bool valid() const { return bool(h_); }
  // done: whether the coroutine has finished.
  bool done() const { return h_ && h_.done(); }

  // Awaiter: what co_await on a Task does: start it, wait for its result.
  struct Awaiter {
    std::coroutine_handle<promise_type> h;
    bool await_ready() const noexcept { return false; }
    template <class P>
    void await_suspend(std::coroutine_handle<P> parent) noexcept {
      static_assert(std::is_base_of_v<internal::PromiseBase, P>,
                    "a ringloop Task can only be awaited from another ringloop Task");
      RL_CHECK(h && !h.promise().started);
      internal::PromiseBase& pp = parent.promise();
      internal::PromiseBase& cp = h.promise();
      cp.started = true;
      cp.loop = pp.loop;
      cp.process = pp.process;
      cp.cancel.Attach(&pp.cancel);
      cp.parent = &pp;
      pp.child = &cp;
      internal::TransferTo(&cp);
    }
    T await_resume() {
      promise_type& cp = h.promise();
      cp.parent->child = nullptr;
      return cp.Take();
    }
  };

  // co_await task: starts the task and waits for its result.
  Awaiter operator co_await() && noexcept {
    RL_CHECK(h_);
    return Awaiter{h_};
  }

 private:
  friend class Loop;
  friend class Scope;
  friend class internal::Promise<T>;
  explicit Task(std::coroutine_handle<promise_type> h) : h_(h) {}

  // Release: the frame, for an owner that frees it itself (Scope).
  std::coroutine_handle<promise_type> Release() { return std::exchange(h_, {}); }
  promise_type& promise() { return h_.promise(); }

  void Drop() {
    if (!h_) return;
    auto h = std::exchange(h_, {});
    internal::PromiseBase& p = h.promise();
    if (!p.started || h.done()) {
      h.destroy();
      return;
    }
    p.Park();
  }

  std::coroutine_handle<promise_type> h_;
};

namespace internal {
template <class T>
Task<T> Promise<T>::get_return_object() noexcept {
  this->self = std::coroutine_handle<Promise>::from_promise(*this);
  return Task<T>(std::coroutine_handle<Promise>::from_promise(*this));
}
}  // namespace internal

// CurrentCancelToken: the cancellation token of the running task (never
// cancelled outside tasks). Users check it in their own loops.
CancelToken CurrentCancelToken();

// IsCancelled: CurrentCancelToken().cancelled().
inline bool IsCancelled() { return CurrentCancelToken().cancelled(); }

}  // namespace ringloop

#endif  // RINGLOOP_RUNTIME_TASK_H_
