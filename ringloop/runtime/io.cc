// ringloop/runtime/io.cc: awaited ops, sleeps, closes and yields.
#include "ringloop/runtime/io.h"

namespace ringloop {
namespace internal {

bool OpAwaiter::Start(PromiseBase& p) {
  if (mode_ != Mode::kClose) {
    if (p.cancel.cancelled()) {
      res_ = -ECANCELED;
      return false;
    }
    if (mode_ == Mode::kOp && IsMultishot(op_)) {
      res_ = -EINVAL;
      return false;
    }
  }
  if (!Begin()) return false;
  promise_ = &p;
  p.AddHold();  // the op's buffers may live in this frame
  Submit();
  // A close is cleanup: cancelling the task does not stop it.
  if (mode_ != Mode::kClose) Register(&p.cancel);
  return true;
}

void OpAwaiter::Submit() {
  Loop::Callback done = [this](const Event& event) { OnEvent(event); };
  Loop& loop = *promise_->loop;
  switch (mode_) {
    case Mode::kOp:
      id_ = loop.Submit(op_, timeout_, std::move(done));
      return;
    case Mode::kSleep:
      id_ = loop.Sleep(timeout_, std::move(done));
      return;
    case Mode::kClose:
      id_ = loop.Close(fd_, std::move(done));
      return;
  }
}

void OpAwaiter::OnEvent(const Event& event) {
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
  Unregister();
  // A parked frame is freed here instead (with this awaiter in it).
  if (p->ReleaseHold()) ResumeTask(*p);
}

void OpAwaiter::OnCancel() { promise_->loop->Cancel(id_); }

void YieldAwaiter::Start(PromiseBase& p) {
  p.AddHold();
  p.loop->Defer([&p] {
    if (p.ReleaseHold()) ResumeTask(p);
  });
}

}  // namespace internal
}  // namespace ringloop
