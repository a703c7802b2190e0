// ringloop/runtime/scope.cc: children started, counted, joined and freed.
#include "ringloop/runtime/scope.h"

#include <cstdio>
#include <cstdlib>

#include "ringloop/runtime/loop.h"

namespace ringloop {
namespace {

Loop* LoopOfCaller(internal::PromiseBase* owner) {
  if (owner != nullptr) return owner->loop;
  Loop* loop = Loop::Current();
  if (loop == nullptr) {
    std::fprintf(stderr,
                 "ringloop: Scope made outside any task on a thread without a Loop; "
                 "make the Loop first, or pass it: Scope scope(loop)\n");
    std::abort();
  }
  return loop;
}

}  // namespace

Scope::Scope() : Scope(*LoopOfCaller(internal::CurrentPromise())) {}

Scope::Scope(Loop& loop) : loop_(&loop), owner_(internal::CurrentPromise()) {
  RL_CHECK(owner_ == nullptr || owner_->loop == loop_);
  cancel_.Attach(owner_ != nullptr ? &owner_->cancel : nullptr);
}

Scope::Scope(Loop& loop, std::nullptr_t) : loop_(&loop), owner_(nullptr) {}

Scope::~Scope() {
  if (live_ == 0) return;
  if (owner_ != nullptr) {
    std::fprintf(stderr,
                 "ringloop: a Scope was left with %zu child task(s) still running, which may "
                 "use what the leaving task frees; co_await scope.Join() (or use WithScope) "
                 "before leaving it\n",
                 live_);
    std::abort();
  }
  // Outside tasks nothing can wait here: the children are dropped. Each is
  // parked (cancelled, never resumed) and freed after its last op's final
  // event; it no longer belongs to this Scope.
  while (children_ != nullptr) {
    internal::PromiseBase* child = children_;
    Unlink(*child);
    child->scope = nullptr;
    child->Park();
  }
}

void Scope::Unlink(internal::PromiseBase& child) {
  if (child.sibling_prev != nullptr) {
    child.sibling_prev->sibling_next = child.sibling_next;
  } else {
    children_ = child.sibling_next;
  }
  if (child.sibling_next != nullptr) child.sibling_next->sibling_prev = child.sibling_prev;
  child.sibling_prev = child.sibling_next = nullptr;
  RL_CHECK(live_ > 0);
  --live_;
}

void Scope::Spawn(Task<void> task) {
  auto h = task.Release();
  RL_CHECK(h);
  internal::PromiseBase& child = h.promise();
  RL_CHECK(!child.started);  // a Task runs once
  child.scope = this;
  child.sibling_next = children_;
  if (children_ != nullptr) children_->sibling_prev = &child;
  children_ = &child;
  ++live_;
  if (owner_ != nullptr) owner_->AddHold();
  internal::StartTask(child, loop_, &cancel_);
}

void Scope::ChildDone(internal::PromiseBase& child) {
  if (child.exception) internal::ExceptionOutsideTask();
  internal::DestroyLater(child.self);
  Unlink(child);
  internal::PromiseBase* const joiner = live_ == 0 ? std::exchange(joiner_, nullptr) : nullptr;
  // Releasing a hold of a parked frame may free it, and this Scope with it:
  // from here on only locals are used.
  if (owner_ != nullptr) owner_->ReleaseHold();
  if (joiner != nullptr && joiner->ReleaseHold()) internal::TransferTo(joiner);
}

void Scope::AddJoiner(internal::PromiseBase& p) {
  RL_CHECK(joiner_ == nullptr);  // one Join at a time
  joiner_ = &p;
  p.AddHold();
}

}  // namespace ringloop
