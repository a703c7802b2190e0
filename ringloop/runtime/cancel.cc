// ringloop/runtime/cancel.cc: the cancellation tree.
#include "ringloop/runtime/cancel.h"

#include "ringloop/core/check.h"

namespace ringloop {

void CancelCallback::Register(CancelSource* source) {
  Unregister();
  if (source == nullptr) return;
  if (source->cancelled()) {
    OnCancel();
    return;
  }
  source->Add(this);
}

void CancelCallback::Leave() { source_->Remove(this); }

CancelSource::CancelSource(CancelSource* parent) { parent_link_.Register(parent); }

CancelSource::~CancelSource() {
  // Registrations outlive their source only by a bug in their owner: a task
  // still waiting under a scope that is gone.
  RL_CHECK(!firing_);
  RL_CHECK(awaited_ == nullptr);  // its frame would be freed with an op in flight
  while (head_ != nullptr) Remove(head_);
}

void CancelSource::Add(CancelCallback* cb) {
  RL_CHECK(cb->source_ == nullptr);
  cb->source_ = this;
  cb->prev_ = tail_;
  cb->next_ = nullptr;
  if (tail_ != nullptr) {
    tail_->next_ = cb;
  } else {
    head_ = cb;
  }
  tail_ = cb;
}

void CancelSource::Remove(CancelCallback* cb) {
  RL_CHECK(cb->source_ == this);
  if (cb->prev_ != nullptr) {
    cb->prev_->next_ = cb->next_;
  } else {
    head_ = cb->next_;
  }
  if (cb->next_ != nullptr) {
    cb->next_->prev_ = cb->prev_;
  } else {
    tail_ = cb->prev_;
  }
  cb->source_ = nullptr;
  cb->prev_ = cb->next_ = nullptr;
}

void CancelSource::Cancel() {
  if (cancelled_) return;
  cancelled_ = true;
  parent_link_.Unregister();
  // Each callback is removed before it runs, so it may destroy itself or
  // register others (which then fire at once: the source is cancelled).
  firing_ = true;
  if (AwaitedOp* awaited = awaited_) {
    awaited_ = nullptr;
    awaited->CancelAwaited();
  }
  while (head_ != nullptr) {
    CancelCallback* cb = head_;
    Remove(cb);
    cb->OnCancel();
  }
  firing_ = false;
}

}  // namespace ringloop
