// ringloop/runtime/handoff.cc: waiting for a value, and handing it over.
#include "ringloop/runtime/handoff.h"

#include <cerrno>

#include "ringloop/core/check.h"
#include "ringloop/runtime/loop.h"

namespace ringloop::internal {

void Handoff::Wait(PromiseBase& p, HandoffList& list, bool cancellable) {
  RL_CHECK(list_ == nullptr);
  promise_ = &p;
  p.AddHold();  // the list points into this frame
  list.Append(this);
  if (cancellable) Register(&p.cancel);
}

void Handoff::Deliver(int32_t res) {
  RL_CHECK(list_ == nullptr);
  res_ = res;
  Unregister();
  promise_->loop->Defer([this] { Resume(); });
}

void Handoff::Resume() {
  // Copied first: if the frame was dropped, releasing the hold frees it (and
  // this Handoff with it).
  PromiseBase* const p = promise_;
  Loop* const loop = p->loop;
  const int32_t res = res_;
  const DiscardFn discard = discard_;
  if (p->ReleaseHold()) {
    ResumeTask(*p);
  } else if (res >= 0 && discard != nullptr) {
    discard(*loop, res);
  }
}

void Handoff::OnCancel() {
  RL_CHECK(list_ != nullptr);
  list_->Remove(this);
  Deliver(-ECANCELED);
}

HandoffList::~HandoffList() { RL_CHECK(head_ == nullptr); }

void HandoffList::Append(Handoff* h) {
  h->list_ = this;
  h->prev_ = tail_;
  h->next_ = nullptr;
  if (tail_ != nullptr) {
    tail_->next_ = h;
  } else {
    head_ = h;
  }
  tail_ = h;
}

void HandoffList::Remove(Handoff* h) {
  RL_CHECK(h->list_ == this);
  if (h->prev_ != nullptr) {
    h->prev_->next_ = h->next_;
  } else {
    head_ = h->next_;
  }
  if (h->next_ != nullptr) {
    h->next_->prev_ = h->prev_;
  } else {
    tail_ = h->prev_;
  }
  h->list_ = nullptr;
  h->prev_ = h->next_ = nullptr;
}

bool HandoffList::HandFront(int32_t res) {
  Handoff* const h = head_;
  if (h == nullptr) return false;
  Remove(h);
  h->Deliver(res);
  return true;
}

void HandoffList::HandAll(int32_t res) {
  while (HandFront(res)) {
  }
}

}  // namespace ringloop::internal
