// ringloop/runtime/loop_group.h: LoopGroup, one Loop per thread on N threads.
//
//   BlockSignals({SIGINT, SIGTERM});  // first: the group's threads inherit the mask
//   absl::StatusOr<std::unique_ptr<LoopGroup>> group = LoopGroup::Create({.threads = 4});
//   (*group)->Spawn(2, Serve(...));              // a task on loop 2
//   (*group)->Post(1, [] { /* on loop 1's thread */ });
//   int n = (*group)->BlockOn(0, CountUsers());  // from a thread outside the group
//   // inside a task on any loop:
//   int m = co_await group.RunOn(3, CountUsers());  // runs on loop 3, value back here
//
// One Loop per thread stays the rule: each thread of the group makes its own
// Loop and runs it, and a Loop's methods are called on its thread only. The
// group passes work between them:
// - Post(i, fn) runs `fn` on loop i's thread; Spawn(i, task) starts a task
//   there (Loop::Spawn). Any thread may call them.
// - RunOn(i, task), awaited from a task, runs `task` as a task of loop i and
//   resumes the awaiting task, on its own loop, with the value (or the
//   exception). A task does not move between loops: the task that awaits it,
//   its cancellation tree and the ops it started all belong to one loop's
//   thread, and a hop would take them across threads with no lock. RunOn
//   instead starts a child on loop i, where its ops, fds and frames belong;
//   the two loops only exchange the start, the value, and a cancellation
//   (cancelling the awaiting task cancels the child, through a post). So the
//   child must use only what belongs to loop i (or is thread-safe), and its
//   value is moved across threads.
// - BlockOn(i, task), from a thread that is not one of the group's, runs the
//   task on loop i and blocks until its value is back.
//
// Cross-loop wake-ups (Loop::Post, loop.h): a post from one of the group's
// threads to another loop of the group posts a CQE straight into the target's
// ring with IORING_OP_MSG_RING when both run io_uring (Linux 5.18), and writes
// the target's eventfd otherwise (epoll, an older kernel, a post from a
// thread outside the group, or LoopOptions::msg_ring_wake = false).
//
// Shutting down: Stop (any thread) makes every loop cancel the tasks spawned
// on it (Spawn's, and the children of RunOn) and run, on its own thread, until
// no loop has a spawned task left and no Post or RunOn of the group is pending
// anywhere (a task being cancelled on one loop may still wait for another);
// then each thread destroys its Loop, which drains its ops, and ends. Join
// waits for the threads; the destructor does Stop and Join. Post and Spawn
// return false once the loops are gone (the function or task is then
// destroyed on the calling thread); RunOn and BlockOn then stop the process
// with a message (nothing could run them). Work reaching a loop behind the
// group's back (Loop::Post, a task spawned with Loop::Spawn by an ordinary
// callback after Stop) is not waited for.
//
// Signals: block them before Create (signals.h), so that the group's threads
// inherit the mask; then one SignalSet on one loop (or on a Loop of the main
// thread) sees them.
//
// Threads: Create, Join and the destructor from a thread outside the group;
// the rest from any thread, as said above.
#ifndef RINGLOOP_RUNTIME_LOOP_GROUP_H_
#define RINGLOOP_RUNTIME_LOOP_GROUP_H_

#include <atomic>
#include <condition_variable>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ringloop/runtime/cancel.h"
#include "ringloop/runtime/loop.h"
#include "ringloop/runtime/task.h"

namespace ringloop {

// LoopGroupOptions: how to build a LoopGroup.
struct LoopGroupOptions {
  // threads: how many loops (and threads); 0 means one per CPU.
  size_t threads = 0;
  // loop: every loop's options (only loop 0 logs its driver choice).
  LoopOptions loop;
};

class LoopGroup;

namespace internal {

// CrossLoopCall: one RunOn, shared by the awaiting side and the child's loop
// (whichever lets go last frees it).
class CrossLoopCall {
 public:
  virtual ~CrossLoopCall() = default;
  // Run: on the target loop: awaits the child, keeps its result.
  virtual Task<void> Run() = 0;

  // Target thread only: the running child's cancellation, and a cancel that
  // came before the child started.
  CancelSource* child_cancel = nullptr;
  bool cancel_requested = false;
};

template <class T>
class CrossLoopCallOf final : public CrossLoopCall {
 public:
  explicit CrossLoopCallOf(Task<T> task) : task_(std::move(task)) {}
  Task<void> Run() override {
    Task<T> task = std::move(task_);  // so that its frame is freed on this thread
#if defined(__cpp_exceptions)
    try {
      value_.emplace(co_await std::move(task));
    } catch (...) {
      exception_ = std::current_exception();
    }
#else
    value_.emplace(co_await std::move(task));
#endif
  }
  // Take: on the awaiting side, once the child has ended. The value and the
  // exception leave the call, so that they are freed on this side (the call
  // itself may be freed by the child's loop).
  T Take() {
    if (exception_) std::rethrow_exception(std::exchange(exception_, nullptr));
    T value = std::move(*value_);
    value_.reset();
    return value;
  }

 private:
  Task<T> task_;
  std::optional<T> value_;
  std::exception_ptr exception_;
};

template <>
class CrossLoopCallOf<void> final : public CrossLoopCall {
 public:
  explicit CrossLoopCallOf(Task<void> task) : task_(std::move(task)) {}
  Task<void> Run() override {
    Task<void> task = std::move(task_);
#if defined(__cpp_exceptions)
    try {
      co_await std::move(task);
    } catch (...) {
      exception_ = std::current_exception();
    }
#else
    co_await std::move(task);
#endif
  }
  void Take() {
    if (exception_) std::rethrow_exception(std::exchange(exception_, nullptr));
  }

 private:
  Task<void> task_;
  std::exception_ptr exception_;
};

// CrossLoopAwaiter: the awaiting side of a RunOn.
class CrossLoopAwaiter final : public CancelCallback {
 public:
  CrossLoopAwaiter(LoopGroup* group, size_t index, std::shared_ptr<CrossLoopCall> call)
      : group_(group), index_(index), call_(std::move(call)) {}
  CrossLoopAwaiter(CrossLoopAwaiter&&) = delete;

  bool await_ready() const noexcept { return false; }
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) {
    static_assert(std::is_base_of_v<PromiseBase, P>,
                  "LoopGroup::RunOn can only be awaited from a ringloop Task");
    Start(h.promise());
  }
  void await_resume() const noexcept {}

  // Finish: on the awaiting loop: the child has ended.
  void Finish();

 private:
  void Start(PromiseBase& p);
  void OnCancel() override;

  LoopGroup* group_;
  size_t index_;
  std::shared_ptr<CrossLoopCall> call_;
  PromiseBase* promise_ = nullptr;
};

// BlockingCall: BlockOn's rendezvous between a thread outside the group and
// the task on a loop.
template <class T>
class BlockingCall {
 public:
  void Set(std::optional<T> value, std::exception_ptr exception) {
    std::lock_guard<std::mutex> lock(mu_);
    value_ = std::move(value);
    exception_ = exception;
    done_ = true;
    cv_.notify_one();
  }
  T Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return done_; });
    if (exception_) std::rethrow_exception(exception_);
    return std::move(*value_);
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::optional<T> value_;
  std::exception_ptr exception_;
};

}  // namespace internal

class LoopGroup {
 public:
  // Create: starts `options.threads` threads, each with its Loop, running.
  // Fails (with every thread ended) if a Loop cannot be made.
  static absl::StatusOr<std::unique_ptr<LoopGroup>> Create(LoopGroupOptions options = {});

  // ~LoopGroup: Stop, then Join.
  ~LoopGroup();
  LoopGroup(const LoopGroup&) = delete;
  LoopGroup& operator=(const LoopGroup&) = delete;

  // size: the number of loops.
  size_t size() const { return slots_.size(); }
  // loop: loop `i` (call its methods only on its thread, but Post and Stop).
  // Valid until the group has stopped.
  Loop& loop(size_t i) const { return *slots_[i].loop; }
  // CurrentIndex: the index of the calling thread's loop, if it is one of the
  // group's.
  std::optional<size_t> CurrentIndex() const;

  // Post: runs `fn` on loop `i`'s thread. False once the loops are gone.
  bool Post(size_t i, absl::AnyInvocable<void()> fn);
  // Spawn: starts `task` on loop `i` (Loop::Spawn there). False once the
  // loops are gone.
  bool Spawn(size_t i, Task<void> task);

  // RunOn: co_await RunOn(i, task): runs `task` on loop `i` and gives its
  // value (see the file comment). On the awaiting task's own loop it is a
  // plain co_await.
  template <class T>
  Task<T> RunOn(size_t i, Task<T> task);

  // BlockOn: runs `task` on loop `i` and waits for its value, from a thread
  // outside the group.
  template <class T>
  T BlockOn(size_t i, Task<T> task);

  // Stop: starts the shutdown (see the file comment) and returns. Any thread.
  void Stop();
  // Join: waits until every thread has ended. Not from the group's threads.
  void Join();

 private:
  friend class internal::CrossLoopAwaiter;
  struct Slot {
    std::thread thread;
    Loop* loop = nullptr;
    bool alive = false;  // guarded by mu_: the Loop exists
  };

  explicit LoopGroup(size_t n) : slots_(n), busy_(int64_t(n)) {}
  void ThreadMain(size_t i, LoopOptions options);
  // Drain: loop `i`'s part of the shutdown, on its thread.
  void Drain(Loop& loop);
  // Acquire / Release: one piece of group work (a Post, a RunOn) starts or
  // ends; Acquire fails once the loops are gone.
  bool Acquire();
  void Release();
  // Closed: whether nothing is left to do anywhere; from then on Acquire
  // fails.
  bool Closed();
  // WakeAll: makes every loop still alive look at Closed again.
  void WakeAll();
  [[noreturn]] static void Misuse(const char* sentence);
  void CheckOutside(const char* method) const;

  std::vector<Slot> slots_;
  std::mutex mu_;
  std::condition_variable cv_;
  size_t started_ = 0;    // guarded by mu_: threads that made (or failed) their Loop
  bool go_ = false;       // guarded by mu_: every Loop exists; run
  absl::Status failure_;  // guarded by mu_
  // busy_: loops with spawned tasks left (counted while stopping) plus the
  // group's Posts and RunOn calls in flight. Zero once stopping: closed_.
  std::atomic<int64_t> busy_;
  std::atomic<bool> closed_{false};
  std::atomic<bool> stopping_{false};
};

namespace internal {
// CrossLoopRunner: the child's side of a RunOn, a task of the target loop.
Task<void> CrossLoopRunner(std::shared_ptr<CrossLoopCall> call, Loop* origin,
                           CrossLoopAwaiter* awaiter);
}  // namespace internal

template <class T>
Task<T> LoopGroup::RunOn(size_t i, Task<T> task) {
  if (&loop(i) == internal::CurrentPromise()->loop) co_return co_await std::move(task);
  auto call = std::make_shared<internal::CrossLoopCallOf<T>>(std::move(task));
  co_await internal::CrossLoopAwaiter(this, i, call);
  co_return call->Take();
}

template <class T>
T LoopGroup::BlockOn(size_t i, Task<T> task) {
  CheckOutside("BlockOn");
  using Value = std::conditional_t<std::is_void_v<T>, bool, T>;
  internal::BlockingCall<Value> call;
  auto runner = [](Task<T> task, internal::BlockingCall<Value>* call) -> Task<void> {
    std::optional<Value> value;
    std::exception_ptr exception;
#if defined(__cpp_exceptions)
    try {
#endif
      if constexpr (std::is_void_v<T>) {
        co_await std::move(task);
        value.emplace(true);
      } else {
        value.emplace(co_await std::move(task));
      }
#if defined(__cpp_exceptions)
    } catch (...) {
      exception = std::current_exception();
    }
#endif
    call->Set(std::move(value), exception);
  };
  if (!Spawn(i, runner(std::move(task), &call))) {
    Misuse("LoopGroup::BlockOn after the group's loops are gone");
  }
  if constexpr (std::is_void_v<T>) {
    call.Wait();
  } else {
    return call.Wait();
  }
}

}  // namespace ringloop

#endif  // RINGLOOP_RUNTIME_LOOP_GROUP_H_
