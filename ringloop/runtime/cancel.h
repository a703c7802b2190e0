// ringloop/runtime/cancel.h: cancellation that flows down a tree of tasks.
//
// A CancelSource is one node of a cancellation tree: cancelling it cancels its
// children (the sources made with it as parent) and runs every callback
// registered on it, once, in registration order. A source made under a parent
// that is already cancelled starts cancelled. Coroutines (task.h) carry the
// source of the scope they run in; an op awaited under a cancelled source ends
// -ECANCELED without reaching the kernel, and an op in flight when its source is
// cancelled is cancelled through the engine (Loop::Cancel), so its buffer stays
// the kernel's until its final event, as for any other cancel.
//
// CancelToken is a cheap view of a source that users pass into their own loops
// ("while (!token.cancelled())").
//
// Threads: a source belongs to one Loop's thread; nothing here is thread-safe.
// To cancel from another thread, Post to the loop.
#ifndef RINGLOOP_RUNTIME_CANCEL_H_
#define RINGLOOP_RUNTIME_CANCEL_H_

#include "ringloop/core/check.h"

namespace ringloop {

class CancelSource;

// CancelCallback: a registration on a CancelSource. Run(): called once when the
// source is cancelled (at registration, if it already is). Unregisters itself
// when destroyed. Not copyable or movable (the source points at it).
class CancelCallback {
 public:
  CancelCallback() = default;
  CancelCallback(const CancelCallback&) = delete;
  CancelCallback& operator=(const CancelCallback&) = delete;

  // Register: starts listening on `source` (null: never fires). A callback
  // listens on at most one source at a time; Register moves it.
  void Register(CancelSource* source);
  // Unregister: stops listening. Idempotent.
  void Unregister() {
    if (source_ != nullptr) Leave();
  }
  bool registered() const { return source_ != nullptr; }

 protected:
  ~CancelCallback() { Unregister(); }
  // OnCancel: what cancelling the source does to this registration.
  virtual void OnCancel() = 0;

 private:
  friend class CancelSource;
  // Leave: Unregister's work, when registered.
  void Leave();

  CancelSource* source_ = nullptr;
  CancelCallback* prev_ = nullptr;
  CancelCallback* next_ = nullptr;
};

// AwaitedOp: the op a task awaits right now, as its source's awaited slot
// (CancelSource::SetAwaited) sees it: something to cancel, nothing more.
class AwaitedOp {
 public:
  // CancelAwaited: the source was cancelled while the op was awaited.
  virtual void CancelAwaited() = 0;

 protected:
  ~AwaitedOp() = default;
};

// CancelSource: a node of the cancellation tree (see the file comment).
class CancelSource final {
 public:
  // CancelSource: a root, or a child of `parent` (null: a root).
  explicit CancelSource(CancelSource* parent = nullptr);
  ~CancelSource();
  CancelSource(const CancelSource&) = delete;
  CancelSource& operator=(const CancelSource&) = delete;

  // Cancel: cancels this source and everything under it. Idempotent.
  void Cancel();
  // cancelled: whether Cancel ran here or on an ancestor.
  bool cancelled() const { return cancelled_; }

  // Attach: makes this source a child of `parent` (null: a root), leaving its
  // previous parent. If `parent` is cancelled, this source is cancelled now.
  void Attach(CancelSource* parent) { parent_link_.Register(parent); }
  // Detach: leaves the parent (this source becomes a root).
  void Detach() { parent_link_.Unregister(); }

  // SetAwaited / ClearAwaited: the registration of the one op the task that
  // owns this source awaits right now (io.h), kept in a slot of its own
  // instead of the list: a task awaits one thing at a time, and this costs a
  // store per await instead of a list insert and removal. Cancel runs it
  // before the list. Requires !cancelled() and no other awaited op.
  void SetAwaited(AwaitedOp* op) {
    RL_CHECK(!cancelled_ && awaited_ == nullptr);
    awaited_ = op;
  }
  void ClearAwaited() { awaited_ = nullptr; }

 private:
  friend class CancelCallback;
  // ParentLink: how a child source listens to its parent.
  class ParentLink final : public CancelCallback {
   public:
    explicit ParentLink(CancelSource* self) : self_(self) {}
    void OnCancel() override { self_->Cancel(); }

   private:
    CancelSource* self_;
  };

  void Add(CancelCallback* cb);
  void Remove(CancelCallback* cb);

  bool cancelled_ = false;
  bool firing_ = false;
  AwaitedOp* awaited_ = nullptr;
  CancelCallback* head_ = nullptr;
  CancelCallback* tail_ = nullptr;
  ParentLink parent_link_{this};
};

// CancelToken: a view of a CancelSource (or of nothing: never cancelled), for
// users' own loops. Copyable; must not outlive its source.
class CancelToken {
 public:
  CancelToken() = default;
  explicit CancelToken(const CancelSource* source) : source_(source) {}
  // cancelled: whether the source has been cancelled.
  bool cancelled() const { return source_ != nullptr && source_->cancelled(); }

 private:
  const CancelSource* source_ = nullptr;
};

}  // namespace ringloop

#endif  // RINGLOOP_RUNTIME_CANCEL_H_
