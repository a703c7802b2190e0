// ringloop/runtime/io.cc: awaited ops, sleeps, closes and yields.
#include "ringloop/runtime/io.h"

namespace ringloop {
namespace internal {

inline void OpAwaiter::Submit() {
  // The loop hands the op's events straight to OnEvent (Loop::DrainEvents).
  Loop& loop = *promise_->loop;
  switch (mode_) {
    case Mode::kOp:
      id_ = loop.SubmitFor(this, op_, timed_ ? loop.Deadline(timeout_) : kNoDeadline);
      return;
    case Mode::kSleep:
      id_ = loop.SubmitFor(this, Timeout{loop.Deadline(timeout_)}, kNoDeadline);
      return;
    case Mode::kClose:
      id_ = loop.CloseFor(this, fd_);
      return;
  }
}

bool OpAwaiter::Start(PromiseBase& p) {
  if (mode_ != Mode::kClose) {
    if (p.cancel.cancelled()) {
      res_ = -ECANCELED;
      return false;
    }
    // Only recv and accept have multishot forms: others skip the call.
    if ((kind_ == OpKind::kRecv || kind_ == OpKind::kAccept) && IsMultishot(op_)) {
      res_ = -EINVAL;
      return false;
    }
  }
  if (!Begin()) return false;
  promise_ = &p;
  p.AddHold();  // the op's buffers may live in this frame
  Submit();
  // A close is cleanup: cancelling the task does not stop it.
  if (mode_ != Mode::kClose) p.cancel.SetAwaited(this);
  return true;
}

void OpAwaiter::OnEvent(const Event& event) {
  RL_CHECK(event.id == id_);  // the tag is this awaiter's address: check it is ours
  if (event.more) return;
  res_ = event.res;
  PromiseBase* const p = promise_;
  // An await of several ops goes on, unless the frame was cancelled (or
  // parked: that cancels it too) in the meantime.
  if (Next()) {
    if (!p->cancel.cancelled()) {
      Submit();
      return;
    }
    res_ = -ECANCELED;
  }
  if (mode_ != Mode::kClose) p->cancel.ClearAwaited();
  // A parked frame is freed here instead (with this awaiter in it).
  if (p->ReleaseHold()) ResumeTask(*p);
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
