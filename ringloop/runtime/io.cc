// ringloop/runtime/io.cc: awaited ops, sleeps, closes and yields.
#include "ringloop/runtime/io.h"

namespace ringloop {
namespace internal {

// Submit: inline in both callers (Start, and SubmitNext for an await of several
// ops): a call would cost more than the common case's body. `mode` is mode_,
// which the callers have in a register already.
[[gnu::always_inline]] inline void OpAwaiter::Submit(Mode mode) {
  // The loop hands the op's events straight to OnEvent (Loop::DrainEvents):
  // args_.tag is this awaiter's address (Start).
  Loop& loop = *promise_->loop;
  if (__builtin_expect(mode == Mode::kOp, 1)) {
    if (timed_) args_.deadline_ns = loop.Deadline(timeout_);
    id_ = loop.SubmitFor(args_);
  } else if (mode == Mode::kSleep) {
    args_.op = Timeout{loop.Deadline(timeout_)};
    id_ = loop.SubmitFor(args_);
  } else {
    id_ = loop.CloseFor(args_.tag, fd_);
  }
}

bool OpAwaiter::Start(PromiseBase& p) {
  const Mode mode = mode_;  // loaded once: the engine call below may not change it
  if (mode != Mode::kClose) {
    if (p.cancel.cancelled()) {
      res_ = -ECANCELED;
      return false;
    }
    // Only recv and accept have multishot forms: others skip the call.
    if ((kind_ == OpKind::kRecv || kind_ == OpKind::kAccept) && IsMultishot(args_.op)) {
      res_ = -EINVAL;
      return false;
    }
  }
  if (steps_ && !Begin()) return false;
  promise_ = &p;
  args_.tag = Loop::kAwaiterTag | reinterpret_cast<uintptr_t>(this);
  p.AddHold();  // the op's buffers may live in this frame
  // A close is cleanup: cancelling the task does not stop it. Registered before
  // the submission, which runs no task code (its events come through the loop),
  // so the cancelled() just read still holds.
  if (mode != Mode::kClose) p.cancel.SetAwaited(this);
  Submit(mode);
  return true;
}

void OpAwaiter::SubmitNext() {
  PromiseBase* const p = promise_;
  // An await of several ops goes on, unless the frame was cancelled (or
  // parked: that cancels it too) in the meantime.
  if (!p->cancel.cancelled()) {
    Submit(mode_);
    return;
  }
  res_ = -ECANCELED;
  Finish();
}

void OpAwaiter::CancelAwaited() { promise_->loop->Cancel(id_); }

void YieldAwaiter::Start(PromiseBase& p) {
  p.AddHold();
  p.loop->Defer([&p] {
    if (p.ReleaseHold()) ResumeTask(p);
  });
}

}  // namespace internal
}  // namespace ringloop
