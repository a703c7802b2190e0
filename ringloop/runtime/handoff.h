// ringloop/runtime/handoff.h: tasks waiting for values that a loop
// callback hands them (an accepted fd, a signal number).
//
// A Handoff is the waiting half: it lives in the waiting task's frame (as, or
// in, its awaiter) and is linked into a HandoffList while it waits. The
// producer (a callback of a multishot op, say) hands a value to the waiter
// that has waited longest; cancelling the waiting task takes it out of the
// list and hands it -ECANCELED. Either way the task is resumed from a
// Loop::Defer, never from inside the producer or the canceller, so neither
// runs into a task that may destroy what they are using. While it waits, the
// Handoff holds its frame (task.h): a dropped task's frame stays until the
// hand-off is over, and a value (>= 0) that reaches a frame dropped in the
// meantime is given to the discard function (for an fd: close it).
//
// Threads: the Loop's thread only.
//
// AcceptQueue and AcceptAwaiter (tcp_listener.h), SignalQueue and SignalAwaiter
// (signals.h) and FileCloseAwaiter (file.h) hold hand-offs by value, so this
// header is installed with theirs; it is no API (namespace internal).
#ifndef RINGLOOP_RUNTIME_HANDOFF_H_
#define RINGLOOP_RUNTIME_HANDOFF_H_

#include <cerrno>
#include <cstdint>

#include "ringloop/runtime/cancel.h"
#include "ringloop/runtime/task.h"

namespace ringloop {
class Loop;
namespace internal {

class HandoffList;

// Handoff: one waiting task (see the file comment).
class Handoff : public CancelCallback {
 public:
  // DiscardFn: releases a value whose waiter's frame was dropped.
  using DiscardFn = void (*)(Loop& loop, int32_t value);

  explicit Handoff(DiscardFn discard = nullptr) : discard_(discard) {}
  Handoff(const Handoff&) = delete;
  Handoff& operator=(const Handoff&) = delete;

  // Wait: `p` (suspending now) waits on `list`; unless `cancellable`,
  // cancelling the task does not end the wait.
  void Wait(PromiseBase& p, HandoffList& list, bool cancellable = true);
  // result: the value handed over, or a negative errno (-ECANCELED).
  int32_t result() const { return res_; }
  void set_result(int32_t res) { res_ = res; }

 private:
  friend class HandoffList;
  // Deliver: out of the list already: records `res` and resumes the task soon.
  void Deliver(int32_t res);
  // Resume: the deferred half of Deliver.
  void Resume();
  void OnCancel() override;

  DiscardFn discard_;
  PromiseBase* promise_ = nullptr;
  HandoffList* list_ = nullptr;
  Handoff* prev_ = nullptr;
  Handoff* next_ = nullptr;
  int32_t res_ = 0;
};

// HandoffList: the waiters of one producer, oldest first.
class HandoffList {
 public:
  HandoffList() = default;
  HandoffList(const HandoffList&) = delete;
  HandoffList& operator=(const HandoffList&) = delete;
  // ~HandoffList: the owner hands every waiter a result first (HandAll).
  ~HandoffList();

  bool empty() const { return head_ == nullptr; }
  // HandFront: gives `res` to the oldest waiter; false if there is none.
  bool HandFront(int32_t res);
  // HandAll: gives `res` to every waiter.
  void HandAll(int32_t res);

 private:
  friend class Handoff;
  void Append(Handoff* h);
  void Remove(Handoff* h);

  Handoff* head_ = nullptr;
  Handoff* tail_ = nullptr;
};

// StartWait: the start of an await on `queue` (a producer with
// `bool Take(int32_t*)` and `void Wait(Handoff&, PromiseBase&)`), for the task
// `p`. Returns false (resume now) when the result is known: no queue (the
// result `handoff` was given stays), the task is cancelled (-ECANCELED), or a
// value is already queued; true once the task waits.
template <class Queue>
bool StartWait(Queue* queue, Handoff& handoff, PromiseBase& p) {
  if (queue == nullptr) return false;
  if (p.cancel.cancelled()) {
    handoff.set_result(-ECANCELED);
    return false;
  }
  int32_t value;
  if (queue->Take(&value)) {
    handoff.set_result(value);
    return false;
  }
  queue->Wait(handoff, p);
  return true;
}

}  // namespace internal
}  // namespace ringloop

#endif  // RINGLOOP_RUNTIME_HANDOFF_H_
