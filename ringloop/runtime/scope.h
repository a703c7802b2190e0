// ringloop/runtime/scope.h: Scope, a nursery that owns concurrent child tasks.
//
// A Scope starts child tasks (Spawn), lets its owner wait for all of them
// (co_await scope.Join()), and cancels them together (Cancel: every child's
// pending op is cancelled through the engine, and every op they await later
// ends -ECANCELED at once). A child's frame is freed as soon as it finishes.
//
// Structured: a Scope must not outlive its children. The owner waits for them
// with Join before leaving the Scope; WithScope (below) does that for you.
// Leaving a Scope that still has children:
// - inside a task, is a bug that would free what the children use: the process
//   stops with a message saying so. (A task whose frame is parked, task.h, is
//   freed only after its children have ended, so this never fires then.)
// - outside any task (main, a test body), drops the children as a destroyed
//   Task is dropped (task.h): each is cancelled and parked, never resumed, and
//   its frame is freed after the final event of the op it waits on. The Loop
//   must go on running (or be destroyed, which drains) for that to happen.
//
// The children run under the Scope's own CancelSource, a child of the source of
// the task that made the Scope: cancelling the owner cancels the children.
// A child that lets an exception escape ends the process with a message.
//
// Threads: the Loop's thread only.
#ifndef RINGLOOP_RUNTIME_SCOPE_H_
#define RINGLOOP_RUNTIME_SCOPE_H_

#include <coroutine>
#include <cstddef>
#include <type_traits>
#include <utility>

#include "ringloop/runtime/cancel.h"
#include "ringloop/runtime/task.h"

namespace ringloop {

class Scope {
 public:
  // Scope: a scope on the running task's Loop (or `loop`, outside tasks: then
  // it must be given), under the running task's cancellation.
  Scope();
  explicit Scope(Loop& loop);
  // ~Scope: see the file comment.
  ~Scope();
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

  // Spawn: starts `task` as a child now; it runs until its first suspension
  // before Spawn returns. A child spawned into a cancelled Scope starts
  // cancelled (its ops end -ECANCELED at once).
  void Spawn(Task<void> task);

  // Cancel: cancels every child (now and later ones). Idempotent.
  void Cancel() { cancel_.Cancel(); }

  // JoinAwaiter: what co_await scope.Join() does.
  struct JoinAwaiter {
    Scope* scope;
    bool await_ready() const noexcept { return scope->live_ == 0; }
    template <class P>
    void await_suspend(std::coroutine_handle<P> h) noexcept {
      static_assert(std::is_base_of_v<internal::PromiseBase, P>,
                    "Scope::Join can only be awaited from a ringloop Task");
      scope->AddJoiner(h.promise());
    }
    void await_resume() const noexcept {}
  };

  // Join: co_await scope.Join() waits until every child has finished.
  JoinAwaiter Join() { return JoinAwaiter{this}; }

  // size: children not yet finished.
  size_t size() const { return live_; }
  // token: the children's cancellation token.
  CancelToken token() const { return CancelToken(&cancel_); }
  bool cancelled() const { return cancel_.cancelled(); }

 private:
  friend class Loop;
  friend void internal::FinalTransfer(internal::PromiseBase& p);
  // Scope(loop, nullptr): a scope no task owns (Loop::Spawn's).
  Scope(Loop& loop, std::nullptr_t);
  // ChildDone: a child finished: frees it, and hands control to a joiner
  // that no longer has to wait.
  void ChildDone(internal::PromiseBase& child);
  // Unlink: `child` leaves the list of live children.
  void Unlink(internal::PromiseBase& child);
  // AddJoiner: `p` waits in Join (one at a time); the wait holds its frame.
  void AddJoiner(internal::PromiseBase& p);

  Loop* loop_;
  internal::PromiseBase* owner_;  // the task that made the scope, or null
  CancelSource cancel_;
  size_t live_ = 0;
  internal::PromiseBase* children_ = nullptr;  // the live ones, a list
  internal::PromiseBase* joiner_ = nullptr;
};

// WithScope: runs `body(scope)` (a callable returning Task<void>, kept alive
// here until the end), then waits for every child it spawned. Leaving early
// is safe: the scope is joined in every case.
//
//   co_await WithScope([&](Scope& s) -> Task<void> {
//     for (int fd : conns) s.Spawn(Serve(fd));
//     co_return;
//   });
template <class Body>
Task<void> WithScope(Body body) {
  Scope scope;
#if defined(__cpp_exceptions)
  std::exception_ptr failure;
  try {
    co_await body(scope);
  } catch (...) {
    failure = std::current_exception();
    scope.Cancel();
  }
  co_await scope.Join();
  if (failure) std::rethrow_exception(failure);
#else
  co_await body(scope);
  co_await scope.Join();
#endif
}

}  // namespace ringloop

#endif  // RINGLOOP_RUNTIME_SCOPE_H_
