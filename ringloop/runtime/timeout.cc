// ringloop/runtime/timeout.cc: the timer behind WithTimeout.
#include "ringloop/runtime/timeout.h"

#include "ringloop/runtime/loop.h"

namespace ringloop::internal {

void TaskTimer::Arm(PromiseBase& p) {
  RL_CHECK(!armed_);
  promise_ = &p;
  armed_ = true;
  if (p.cancel.cancelled()) {  // cancelled already: the task ends without a timer
    ended_ = true;
    return;
  }
  p.AddHold();  // the timer's callback names this frame
  id_ = p.loop->Sleep(timeout_, [this](const Event& event) { OnEvent(event); });
  // If the frame is cancelled from above (or parked), the timer goes too.
  Register(&p.cancel);
}

void TaskTimer::Disarm() {
  waiting_ = true;
  promise_->loop->Cancel(id_);
}

void TaskTimer::OnCancel() {
  if (!ended_) promise_->loop->Cancel(id_);
}

void TaskTimer::OnEvent(const Event& event) {
  ended_ = true;
  Unregister();
  PromiseBase* const p = promise_;
  const bool waiting = waiting_;
  if (event.res == 0 && !waiting) {
    fired_ = true;
    p->cancel.Cancel();  // everything the frame awaits ends
  }
  if (!p->ReleaseHold()) return;  // parked: the frame may be gone now
  if (waiting) ResumeTask(*p);
}

}  // namespace ringloop::internal
