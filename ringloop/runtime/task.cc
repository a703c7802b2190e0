// ringloop/runtime/task.cc: the bookkeeping behind Task: who runs, who holds a
// frame, and parking frames whose Task was dropped.
#include "ringloop/runtime/task.h"

#include <cstdio>
#include <cstdlib>
#include <utility>

#include "ringloop/runtime/scope.h"

namespace ringloop {
namespace internal {

void DestroyLater(std::coroutine_handle<> h) {
  Trampoline& t = this_thread_trampoline;
  RL_CHECK(!t.dead);
  t.dead = h;
}

void TransferTo(PromiseBase* next) {
  Trampoline& t = this_thread_trampoline;
  RL_CHECK(t.next == nullptr);
  t.next = next;
}

void StartTask(PromiseBase& p, Loop* loop, CancelSource* parent_cancel) {
  RL_CHECK(!p.started);
  p.started = true;
  p.loop = loop;
  // A task spawned from a task belongs to the spawner's program.
  if (const PromiseBase* spawner = CurrentPromise(); spawner != nullptr) {
    p.process = spawner->process;
  }
  p.cancel.Attach(parent_cancel);
  ResumeTask(p);
}

bool PromiseBase::ReleaseParkedHold() {
  PromiseBase* const root = parked_root_;
  RL_CHECK(root->parked_holds_ > 0);
  // The last hold of a parked chain frees the chain, this frame included.
  if (--root->parked_holds_ == 0) root->self.destroy();
  return false;
}

void PromiseBase::Park() {
  if (parked_root_ != nullptr) {
    // A frame of a parked chain, dropped while the chain is freed: nothing
    // holds it any more (the chain is freed only then).
    RL_CHECK(holds_ == 0);
    self.destroy();
    return;
  }
  uint32_t total = 0;
  for (PromiseBase* f = this; f != nullptr; f = f->child) {
    f->parked_root_ = this;
    total += f->holds_;
  }
  if (total == 0) {
    self.destroy();
    return;
  }
  parked_holds_ = total;
  // Whatever holds the chain is asked to end; its completions then free the
  // chain instead of resuming it (ReleaseHold).
  cancel.Cancel();
}

void FinalTransfer(PromiseBase& p) {
  if (p.holds() != 0) {
    std::fprintf(stderr,
                 "ringloop: a task finished while %u op(s) or child task(s) it started were "
                 "still running (a Scope made in it outlived it?); join them before returning\n",
                 p.holds());
    std::abort();
  }
  p.cancel.Detach();
  if (p.scope != nullptr) {
    p.scope->ChildDone(p);
  } else if (p.parent != nullptr) {
    TransferTo(p.parent);
  }
}

[[noreturn]] void ExceptionOutsideTask() {
  std::fprintf(stderr,
               "ringloop: an exception escaped a task spawned into a Scope (or Loop::Spawn); "
               "nothing awaits such a task, so catch it inside the task\n");
  std::abort();
}

}  // namespace internal

CancelToken CurrentCancelToken() {
  const internal::PromiseBase* p = internal::CurrentPromise();
  return p != nullptr ? CancelToken(&p->cancel) : CancelToken();
}

}  // namespace ringloop
