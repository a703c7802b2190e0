// ringloop/runtime/io.h: awaiting ops, sleeps and yields from a Task.
//
//   Result r = co_await Io(Recv{fd, buf, sizeof(buf)});
//   Result w = co_await Io(Send{fd, buf, n}, absl::Seconds(5));  // -ETIME after 5 s
//   co_await Sleep(absl::Milliseconds(10));
//   co_await Yield();
//
// Io submits the op on the task's Loop and resumes the task with the op's final
// Result (value or errno, naming the op and fd). A timeout becomes the op's
// deadline in the engine (one linked timeout, never a second timer); the
// Result is then timed_out(). If the task is cancelled (cancel.h) while the op
// is in flight, the op is cancelled through the engine and the task resumes
// with its final result (-ECANCELED, or the real result if the op had already
// completed); an op awaited by a task that is already cancelled ends
// -ECANCELED without reaching the kernel. The op's buffers must stay valid
// until the Result is back, which they do when they live in the task's frame:
// a dropped task's frame outlives its op (task.h).
//
// Multishot ops are streams, not single results: Io refuses them (-EINVAL);
// use Loop::Submit with a callback, or the helpers built on them.
//
// Threads: the Loop's thread, from inside a Task.
#ifndef RINGLOOP_RUNTIME_IO_H_
#define RINGLOOP_RUNTIME_IO_H_

#include <cerrno>
#include <coroutine>
#include <cstdint>
#include <type_traits>

#include "absl/time/time.h"
#include "ringloop/core/ops.h"
#include "ringloop/core/request.h"
#include "ringloop/runtime/cancel.h"
#include "ringloop/runtime/loop.h"
#include "ringloop/runtime/result.h"
#include "ringloop/runtime/task.h"

namespace ringloop {
namespace internal {

// OpAwaiter: the state of one awaited op (or sleep), in the awaiting frame.
class OpAwaiter final : public CancelCallback {
 public:
  OpAwaiter(const Op& op, absl::Duration timeout)
      : op_(op), timeout_(timeout), kind_(KindOf(op)), fd_(FdOf(op)) {}
  // A sleep: an engine Timeout `duration` after the await.
  explicit OpAwaiter(absl::Duration duration)
      : timeout_(duration), kind_(OpKind::kTimeout), fd_(-1), sleep_(true) {}
  OpAwaiter(OpAwaiter&&) = delete;

  bool await_ready() const noexcept { return false; }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) {
    static_assert(std::is_base_of_v<PromiseBase, P>,
                  "ringloop::Io can only be awaited from a ringloop Task");
    return Start(h.promise());
  }
  Result await_resume() const noexcept { return Result(res_, kind_, fd_); }

 private:
  // Start: submits the op; false (resume at once) if the task is cancelled or
  // the op is a stream.
  bool Start(PromiseBase& p);
  void OnEvent(const Event& event);
  void OnCancel() override;

  Op op_;
  absl::Duration timeout_;  // the op's timeout, or the sleep's duration
  int32_t res_ = 0;
  OpKind kind_;
  int fd_;
  bool sleep_ = false;
  PromiseBase* promise_ = nullptr;
  OpId id_;
};

// YieldAwaiter: resumes the task after everything ready now has run.
class YieldAwaiter {
 public:
  bool await_ready() const noexcept { return false; }
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) {
    static_assert(std::is_base_of_v<PromiseBase, P>,
                  "ringloop::Yield can only be awaited from a ringloop Task");
    Start(h.promise());
  }
  void await_resume() const noexcept {}

 private:
  static void Start(PromiseBase& p);
};

}  // namespace internal

// Io: co_await Io(op) or Io(op, timeout): the op's final Result.
inline internal::OpAwaiter Io(const Op& op) {
  return internal::OpAwaiter(op, absl::InfiniteDuration());
}
inline internal::OpAwaiter Io(const Op& op, absl::Duration timeout) {
  return internal::OpAwaiter(op, timeout);
}

// Sleep: co_await Sleep(d) resumes after `d` (an engine timer, no kernel timer
// of its own); its Result is 0, or -ECANCELED if the task was cancelled first.
inline internal::OpAwaiter Sleep(absl::Duration duration) { return internal::OpAwaiter(duration); }

// Yield: co_await Yield() lets every other ready task and callback run first
// (a Loop::Defer of the resumption: no syscall).
inline internal::YieldAwaiter Yield() { return {}; }

}  // namespace ringloop

#endif  // RINGLOOP_RUNTIME_IO_H_
