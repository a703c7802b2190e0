// ringloop/runtime/io.cc: awaited ops, sleeps and yields.
#include "ringloop/runtime/io.h"

namespace ringloop {
namespace internal {

bool OpAwaiter::Start(PromiseBase& p) {
  if (p.cancel.cancelled()) {
    res_ = -ECANCELED;
    return false;
  }
  if (!sleep_ && IsMultishot(op_)) {
    res_ = -EINVAL;
    return false;
  }
  promise_ = &p;
  p.AddHold();  // the op's buffers may live in this frame
  Loop::Callback done = [this](const Event& event) { OnEvent(event); };
  id_ = sleep_ ? p.loop->Sleep(timeout_, std::move(done))
               : p.loop->Submit(op_, timeout_, std::move(done));
  Register(&p.cancel);
  return true;
}

void OpAwaiter::OnEvent(const Event& event) {
  if (event.more) return;
  res_ = event.res;
  Unregister();
  PromiseBase* const p = promise_;
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
