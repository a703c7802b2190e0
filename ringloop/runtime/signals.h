// ringloop/runtime/signals.h: SignalSet, POSIX signals delivered through the loop.
//
//   // At the start of main, before any thread exists:
//   BlockSignals({SIGINT, SIGTERM});
//   ...
//   absl::StatusOr<SignalSet> signals = SignalSet::Create(loop, {SIGINT, SIGTERM});
//   Result sig = co_await signals->Wait();            // as an await, or
//   signals->OnSignal([&](int signo) { listener.Stop(); });  // as a callback
//
// A SignalSet blocks its signals in the calling thread and reads them from a
// signalfd(2) with the loop's ops, so a signal is an ordinary event on the
// loop's thread: code that handles it may do anything a callback or a task
// may (stop a listener, cancel a scope, start closes), and no async-signal-
// safety rules apply. A server thus stops on SIGTERM in order: it stops
// accepting, lets the requests in flight finish, closes its fds through the
// loop, and returns from main with 0.
//
// Threads: a signal sent to the process is delivered to any one thread that
// does not block it, and only a thread that blocks it leaves it pending for
// the signalfd. So the signals must be blocked in every thread of the
// process: call BlockSignals at the start of main, before any other thread
// starts (threads inherit the mask of the thread that creates them, so
// LoopGroup's threads and worker pools started later inherit it too). A
// thread started earlier that does not block them takes them with their
// process-wide disposition (for SIGINT and SIGTERM: the process ends) and
// the SignalSet never sees them. SignalSet::Create blocks the signals in
// its own thread only.
//
// Delivery: with a callback set (OnSignal), each signal goes to it; else
// each goes to the task that has waited longest in Wait, or, with none
// waiting, waits for the next Wait. Signals are read only while someone
// listens (a callback or a waiting Wait); the others stay pending in the
// kernel, which merges repeats of one signal (as it always does for
// standard signals). Two SignalSets on the same signal split its deliveries
// between them: give each signal one SignalSet.
//
// Lifetime: destroying the SignalSet (or Stop) closes the signalfd through
// the loop; waiting Waits end -ECANCELED. The signals stay blocked (unblocking
// one that is pending would deliver it now, with its default action).
//
// Threads: the Loop's thread; Wait from inside a Task.
#ifndef RINGLOOP_RUNTIME_SIGNALS_H_
#define RINGLOOP_RUNTIME_SIGNALS_H_

#include <sys/signalfd.h>

#include <coroutine>
#include <cstdint>
#include <deque>
#include <initializer_list>
#include <type_traits>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ringloop/core/request.h"
#include "ringloop/runtime/handoff.h"
#include "ringloop/runtime/loop.h"
#include "ringloop/runtime/owned_fd.h"
#include "ringloop/runtime/result.h"
#include "ringloop/runtime/task.h"

namespace ringloop {

// BlockSignals: blocks `signals` in the calling thread (pthread_sigmask). See
// the file comment for why every thread must block them.
absl::Status BlockSignals(std::initializer_list<int> signals);

namespace internal {

// SignalQueue: a SignalSet's reading state. It outlives the SignalSet while
// its read op is in flight (the op's callback and buffer are here), and
// deletes itself at that op's final event.
class SignalQueue {
 public:
  SignalQueue(Loop& loop, int fd) : loop_(&loop), fd_(fd) {}
  SignalQueue(const SignalQueue&) = delete;
  SignalQueue& operator=(const SignalQueue&) = delete;

  // Take: a signal already read, if any.
  bool Take(int32_t* signo);
  // Wait: `waiter` (of the task `p`) waits for the next signal.
  void Wait(Handoff& waiter, PromiseBase& p);
  // SetCallback: from now on every signal goes to `fn` (those already read
  // too).
  void SetCallback(absl::AnyInvocable<void(int)> fn);
  // Stop: fails the waiters with -ECANCELED; deletes this now, or at the
  // final event of the read in flight.
  void Stop();

  Loop& loop() const { return *loop_; }

 private:
  ~SignalQueue() = default;
  void Arm();
  void OnEvent(const Event& event);
  // Deliver: one signal (or a read's error) to the callback, a waiter, or
  // the queue.
  void Deliver(int32_t signo);

  Loop* loop_;
  int fd_;
  signalfd_siginfo infos_[8];  // the read's buffer
  std::deque<int32_t> pending_;
  HandoffList waiters_;
  absl::AnyInvocable<void(int)> callback_;
  bool armed_ = false;
  bool busy_ = false;  // delivering to the callback
  bool stopped_ = false;
};

// SignalAwaiter: what co_await signals.Wait() does.
class SignalAwaiter {
 public:
  SignalAwaiter(SignalQueue* queue, int fd) : queue_(queue), fd_(fd) {
    handoff_.set_result(-EBADF);
  }
  SignalAwaiter(SignalAwaiter&&) = delete;

  bool await_ready() const noexcept { return false; }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) {
    static_assert(std::is_base_of_v<PromiseBase, P>,
                  "SignalSet::Wait can only be awaited from a ringloop Task");
    return Start(h.promise());
  }
  // await_resume: the signal number, or the error (naming the read and fd).
  Result await_resume() const { return Result(handoff_.result(), OpKind::kRead, fd_); }

 private:
  bool Start(PromiseBase& p);

  SignalQueue* queue_;
  int fd_;
  Handoff handoff_;
};

}  // namespace internal

class SignalSet {
 public:
  // SignalSet: no signals.
  SignalSet() = default;
  SignalSet(SignalSet&& other) noexcept;
  SignalSet& operator=(SignalSet&& other) noexcept;
  // ~SignalSet: Stop.
  ~SignalSet() { Stop(); }

  // Create: blocks `signals` in this thread and opens a signalfd for them,
  // read through `loop` (whose fds must be real: the simulated kernel has no
  // signalfd; see FromFd). kInvalidArgument for a bad signal number.
  static absl::StatusOr<SignalSet> Create(Loop& loop, std::initializer_list<int> signals);
  // Create: the same on the running task's Loop (from inside a Task).
  static absl::StatusOr<SignalSet> Create(std::initializer_list<int> signals);
  // FromFd: reads signalfd_siginfo records from `fd` (owned, closed through
  // `loop`): a signalfd made elsewhere, or, in tests, a pipe of the
  // simulated kernel.
  static SignalSet FromFd(Loop& loop, int fd);

  // Wait: co_await Wait(): the next signal's number (see the file comment);
  // -ECANCELED if the task is cancelled or the set stopped.
  internal::SignalAwaiter Wait() { return internal::SignalAwaiter(queue_, fd_.get()); }
  // OnSignal: calls `fn(signo)` on the loop's thread for every signal from
  // now on. `fn` may stop or destroy this SignalSet.
  void OnSignal(absl::AnyInvocable<void(int)> fn);

  // Stop: closes the signalfd (through the loop) and ends waiting Waits.
  void Stop();

  int fd() const { return fd_.get(); }
  bool valid() const { return fd_.valid(); }

 private:
  SignalSet(Loop& loop, int fd);

  OwnedFd fd_;
  internal::SignalQueue* queue_ = nullptr;  // owned (see SignalQueue)
};

}  // namespace ringloop

#endif  // RINGLOOP_RUNTIME_SIGNALS_H_
