// ringloop/runtime/io.h: awaiting ops, sleeps, yields and closes from a Task.
//
//   Result r = co_await Io(Recv{fd, buf, sizeof(buf)});
//   Result w = co_await Io(Send{fd, buf, n}, absl::Seconds(5));  // -ETIME after 5 s
//   co_await Sleep(absl::Milliseconds(10));
//   co_await Yield();
//   Result c = co_await CloseFd(fd);  // the orderly close (Loop::Close)
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
// CloseFd is cleanup, so cancellation does not stop it: a cancelled task that
// closes its fds on the way out still closes them.
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

// OpAwaiter: the state of one awaited op (or sleep, or close), in the
// awaiting frame. An await made of several ops in a row (stream.h) derives
// from it and overrides Begin and Next; the task is resumed once, with the
// await's final result.
class OpAwaiter : public AwaitedOp {
 public:
  OpAwaiter(const Op& op, absl::Duration timeout) : OpAwaiter(op, timeout, FdOf(op)) {}
  // OpAwaiter: the same from an Op or one of its structs, `fd` being
  // FdOf(op) (known without a visit).
  template <class OpT>
  OpAwaiter(const OpT& op, absl::Duration timeout, int fd)
      : args_{op},
        timeout_(timeout),
        kind_(KindOf(args_.op)),
        fd_(fd),
        timed_(timeout != absl::InfiniteDuration()) {}
  // A sleep: an engine Timeout `duration` after the await.
  explicit OpAwaiter(absl::Duration duration)
      : timeout_(duration), kind_(OpKind::kTimeout), fd_(-1), mode_(Mode::kSleep) {}
  OpAwaiter(OpAwaiter&&) = delete;

  bool await_ready() const noexcept { return false; }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) {
    static_assert(std::is_base_of_v<PromiseBase, P>,
                  "ringloop::Io can only be awaited from a ringloop Task");
    return Start(h.promise());
  }
  Result await_resume() const noexcept { return Result(res_, kind_, fd_); }

 protected:
  // A close of `fd` through the loop (Loop::Close).
  struct CloseTag {};
  OpAwaiter(CloseTag, int fd)
      : timeout_(absl::InfiniteDuration()), kind_(OpKind::kClose), fd_(fd), mode_(Mode::kClose) {}
  // An await of several ops in a row, `op` first, without a timeout: what a
  // derived await that overrides Begin and Next constructs (only such an
  // await's Begin and Next are called: a plain await costs no virtual call).
  struct StepsTag {};
  OpAwaiter(StepsTag, const Op& op) : OpAwaiter(op, absl::InfiniteDuration()) { steps_ = true; }

  // Begin: called once when the task suspends, unless the task is already
  // cancelled; returns false when the await is already complete (res_ set)
  // and needs no op. When it returns true, an op is submitted (so Next will
  // be called). Called only for an await made with StepsTag.
  virtual bool Begin() { return true; }
  // Next: called with res_ holding the final result of the op just ended;
  // returns true after setting args_.op to the next op of this await (submitted at
  // once; the task stays suspended, and if it was cancelled meanwhile the
  // await ends -ECANCELED instead), false to resume the task with res_.
  // Called only for an await made with StepsTag.
  virtual bool Next() { return false; }

  // args_: what Submit hands the engine, kept here whole so that it goes over
  // by reference: the op (for a sleep, set when it is submitted), and the tag
  // and deadline Submit fills in.
  SubmitArgs args_;
  absl::Duration timeout_;  // the op's timeout, or the sleep's duration
  int32_t res_ = 0;
  OpKind kind_;
  int fd_;

 private:
  friend class ringloop::Loop;  // delivers the events (Loop::DrainEvents)
  enum class Mode : uint8_t { kOp, kSleep, kClose };

  // Start: submits the op (after Begin); false (resume at once) if the task
  // is cancelled, the op is a stream or Begin says no op is needed.
  bool Start(PromiseBase& p);
  void Submit(Mode mode);
  // OnEvent: an event of the awaited op (Loop::DrainEvents). Inline, so that
  // the loop's dispatch takes the common case (a final event, no next op)
  // without a call of its own.
  void OnEvent(const Event& event) {
    RL_CHECK(event.id == id_);  // the tag is this awaiter's address: check it is ours
    if (event.more) return;
    res_ = event.res;
    if (__builtin_expect(steps_, 0) && Next()) {
      SubmitNext();
    } else {
      Finish();
    }
  }
  // SubmitNext: OnEvent's part when Next set another op: submits it, or ends
  // the await -ECANCELED if the task was cancelled meanwhile.
  void SubmitNext();
  // Finish: ends the await with res_: resumes the task.
  void Finish() {
    PromiseBase* const p = promise_;
    p->cancel.ClearAwaited();  // a close never set it: then it stays null
    // A parked frame is freed here instead (with this awaiter in it).
    if (p->ReleaseHold()) ResumeTask(*p);
  }
  void CancelAwaited() override;

  bool timed_ = false;  // timeout_ is finite
  bool steps_ = false;  // made with StepsTag: Begin and Next are called
  Mode mode_ = Mode::kOp;
  PromiseBase* promise_ = nullptr;
  OpId id_;
};

// CloseAwaiter: what co_await CloseFd(fd) does.
class CloseAwaiter final : public OpAwaiter {
 public:
  explicit CloseAwaiter(int fd) : OpAwaiter(CloseTag{}, fd) {}
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

// Io: co_await Io(op) or Io(op, timeout): the op's final Result. `op` is an
// Op or one of its structs (Recv{...}).
template <class OpT>
internal::OpAwaiter Io(const OpT& op, absl::Duration timeout = absl::InfiniteDuration()) {
  if constexpr (std::is_same_v<OpT, Op>) {
    return internal::OpAwaiter(op, timeout);
  } else if constexpr (requires { op.fd; }) {
    return internal::OpAwaiter(op, timeout, op.fd);  // FdOf's rule, without the visit
  } else {
    return internal::OpAwaiter(op, timeout, -1);
  }
}

// Sleep: co_await Sleep(d) resumes after `d` (an engine timer, no kernel timer
// of its own); its Result is 0, or -ECANCELED if the task was cancelled first.
inline internal::OpAwaiter Sleep(absl::Duration duration) { return internal::OpAwaiter(duration); }

// CloseFd: co_await CloseFd(fd) closes `fd` through the Loop (Loop::Close: the
// ops in flight on it end first, then close(2) runs) and returns close's
// Result. Runs even if the task is cancelled (see the file comment).
inline internal::CloseAwaiter CloseFd(int fd) { return internal::CloseAwaiter(fd); }

// Yield: co_await Yield() lets every other ready task and callback run first
// (a Loop::Defer of the resumption: no syscall).
inline internal::YieldAwaiter Yield() { return {}; }

}  // namespace ringloop

#endif  // RINGLOOP_RUNTIME_IO_H_
