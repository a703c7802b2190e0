// ringloop/drivers/epoll/internal/hot_path.h: the readiness driver's per-op path
// (RL_HOT: always inlined), shared by the files of the driver whose functions
// call it. RL_HOT functions must be defined in each file that calls them, so the
// steps of an op's ordinary life (start, attempt, park, retry, finish, emit) live
// here rather than in one .cc. Include after internal/driver_impl.h.
#ifndef RINGLOOP_DRIVERS_EPOLL_INTERNAL_HOT_PATH_H_
#define RINGLOOP_DRIVERS_EPOLL_INTERNAL_HOT_PATH_H_

#include <sys/epoll.h>

#include <cerrno>

#include "ringloop/core/check.h"
#include "ringloop/core/internal/hot.h"
#include "ringloop/core/ops.h"
#include "ringloop/drivers/epoll/internal/driver_impl.h"

namespace ringloop::epoll_internal {

RL_HOT EpollDriverImpl::FdState* EpollDriverImpl::StateOf(int fd) { return fds_.Find(fd); }

RL_HOT void EpollDriverImpl::Emit(uint64_t user_data, int res, uint32_t flags) {
  ready_.push_back(Completion{user_data, res, flags});
}

// StartLone: the hot path of a lone op (no deadline) on a known
// pollable fd: a Read, Recv, Write or Send is tried at once (unless the
// readiness cache says it would block) and, if it would block, parked, with
// no other attempt. False, with nothing done, for any other op or fd: then
// StartOp takes it.
RL_HOT bool EpollDriverImpl::StartLone(const Request& request) {
  RL_DCHECK(request.kind == RequestKind::kOp && !request.link);
  // Lookup: an fd never seen gives the table's none() state, of kind kUnknown.
  // lone_kind_ is kPollable unless Options::lone_slots is off: then no fd
  // matches and every op goes to StartOp (the test's switch costs no branch).
  FdState* s = fds_.Lookup(request.fd);
  if (s->info.kind != lone_kind_) return false;
  const Op& op = *request.op;
  WaitList list;
  switch (KindOf(op)) {
    case OpKind::kRead:
    case OpKind::kRecv:
      list = WaitList::kIn;
      break;
    case OpKind::kWrite:
    case OpKind::kSend:
      list = WaitList::kOut;
      break;
    default:
      return false;
  }
  const int res = TryTransfer(*s, op);
  if (__builtin_expect(res > kNowFile, 1)) {
    Emit(request.user_data, res);
    return true;
  }
  if (res == kNowFile) return false;  // the number names a file now: StartOp
  const uint32_t index = UserDataSlot(request.user_data);
  if (__builtin_expect(s->lone[LoneIndex(list)].op == nullptr && s->head[int(list)] == nullptr &&
                           index < active_size_ && active_by_index_[index] == nullptr,
                       1)) {
    ParkLone(request, *s, list);
  } else {
    ParkLoneInJob(request, *s, list);
  }
  return true;
}

RL_HOT EpollDriverImpl::Job* EpollDriverImpl::NewJob(const Request& op_request,
                                                     const Request* timeout) {
  // StartLone and StartOp checked the request's kind.
  RL_DCHECK(op_request.kind == RequestKind::kOp && op_request.op != nullptr);
  Job* job = free_jobs_ != nullptr ? free_jobs_ : GrowJobs();
  free_jobs_ = job->next;
  // FreeJob and Complete left these so.
  RL_DCHECK(job->tracked == Job::Tracked::kNo && !job->in_pool && job->timer_index == kNoTimer);
  RL_DCHECK(job->list == WaitList::kNone);
  job->user_data = op_request.user_data;
  job->op = op_request.op;
  job->fd = op_request.fd;  // FdOf(*op), as the engine filled it in
  job->connecting = false;
  job->timeout_res = -ECANCELED;
  job->has_timeout = timeout != nullptr;
  if (timeout != nullptr) {
    job->timeout_user_data = timeout->user_data;
    job->deadline_ns = timeout->deadline_ns;
  }
  // prev and next are set when the job parks (ParkOn), and read only while parked.
  return job;
}

RL_HOT void EpollDriverImpl::FreeJob(Job* job) {
  RL_DCHECK(job->tracked == Job::Tracked::kNo && !job->in_pool && job->timer_index == kNoTimer);
  RL_DCHECK(job->list == WaitList::kNone);
  job->op = nullptr;
  job->next = free_jobs_;
  free_jobs_ = job;
}

// Finish: Complete's body, inline where an op completes per round trip (RetryIn).
RL_HOT void EpollDriverImpl::Finish(Job* job, int res) {
  RL_CHECK(!job->in_pool);
  if (job->tracked != Job::Tracked::kNo) Untrack(job);
  if (job->list != WaitList::kNone) Unpark(job);
  if (job->timer_index != kNoTimer) DisarmTimer(job);
  Emit(job->user_data, res);
  if (job->has_timeout) Emit(job->timeout_user_data, job->timeout_res);
  FreeJob(job);
}

// TryTransfer: one attempt at a Read, Recv, Write or Send on the pollable fd
// whose state is `s`, unless the readiness cache says it would block; kWouldBlock
// for any other op.
RL_HOT int EpollDriverImpl::TryTransfer(FdState& s, const Op& op) {
  switch (KindOf(op)) {
    case OpKind::kRead: {
      if (!s.readable) return kWouldBlock;
      const Read& r = *std::get_if<Read>(&op);
      const int res = epoll_internal::ReadOnce(r, &s.info);
      return AfterRead(s, res, r.len);  // len read after the call: not kept across it
    }
    case OpKind::kRecv: {
      if (!s.readable) return kWouldBlock;
      const Recv& r = *std::get_if<Recv>(&op);
      const int res = epoll_internal::RecvOnce(r);
      // A peek consumes nothing: it never says the queue is empty.
      const bool peek = __builtin_expect((r.flags & MSG_PEEK) != 0, 0);
      return peek && res >= 0 ? res : AfterRead(s, res, r.len);
    }
    case OpKind::kWrite: {
      if (!s.writable) return kWouldBlock;
      const Write& w = *std::get_if<Write>(&op);
      const int res = epoll_internal::WriteOnce(w, &s.info);
      return AfterWrite(s, res, w.len);
    }
    case OpKind::kSend: {
      if (!s.writable) return kWouldBlock;
      const Send& w = *std::get_if<Send>(&op);
      const int res = epoll_internal::SendOnce(w);
      return AfterWrite(s, res, w.len);
    }
    default:
      return kWouldBlock;
  }
}

RL_HOT void EpollDriverImpl::NoteWouldBlock(bool* ready) {
  ++stats_.syscalls_would_block;
  *ready = false;
}

RL_HOT int EpollDriverImpl::AfterRead(FdState& s, int res, uint64_t requested) {
  if (__builtin_expect(res == kWouldBlock, 0)) {
    NoteWouldBlock(&s.readable);
  } else if (res > 0 && (s.level || (s.info.is_stream && uint64_t(res) < requested))) {
    // Level-triggered, epoll reports whatever is left, so the next read waits
    // for epoll_wait rather than risk a doomed read(2). Edge-triggered, only a
    // short stream read says the queue is empty (new data brings a new edge).
    // (Not on EOF, res == 0: that condition persists and brings no further edge.)
    s.readable = false;
  }
  return res;
}

RL_HOT int EpollDriverImpl::AfterWrite(FdState& s, int res, uint64_t requested) {
  if (__builtin_expect(res == kWouldBlock, 0)) {
    NoteWouldBlock(&s.writable);
  } else if (res >= 0 && s.info.is_stream && uint64_t(res) < requested) {
    s.writable = false;  // the send buffer filled up
  }
  return res;
}

// ParkOn: puts `job` at the tail of `list` on its fd (state `s`), first making
// the registration cover `need` (and level-triggered for a read).
RL_HOT int EpollDriverImpl::ParkOn(FdState& s, Job* job, WaitList list, uint32_t need) {
  RL_DCHECK(job->list == WaitList::kNone);
  // Reads wait level-triggered (see epoll_driver.h): an fd with a parked read
  // is registered without EPOLLET.
  const bool to_level = list == WaitList::kIn && !s.level;
  if (!s.in_epoll || (s.interest & need) != need || to_level) {
    if (const int err = Register(job->fd, s, s.interest | need, s.level || to_level); err < 0) {
      return err;
    }
  } else {
    Suspect(s);  // parked on a registration made for an earlier op
  }
  const int i = int(list);
  job->list = list;
  job->state = &s;
  job->next = nullptr;
  job->prev = s.tail[i];
  if (s.tail[i] != nullptr) {
    s.tail[i]->next = job;
  } else {
    s.head[i] = job;
  }
  s.tail[i] = job;
  ++stats_.parked;
  return 0;
}

// ParkLone: parks a lone Read, Recv, Write or Send that would block in the inline
// slot of `list` on its fd (state `s`), which StartLone found empty, with an
// empty wait list and a free index in active_by_index_. Registration as ParkOn.
RL_HOT void EpollDriverImpl::ParkLone(const Request& request, FdState& s, WaitList list) {
  Waiter& w = s.lone[LoneIndex(list)];
  RL_DCHECK(w.op == nullptr && w.lone == list && s.head[int(list)] == nullptr);
  if (__builtin_expect(!s.covers[LoneIndex(list)], 0)) {
    if (!CoverLone(request, s, list)) return;
  } else {
    Suspect(s);  // parked on a registration made for an earlier op
  }
  w.user_data = request.user_data;
  w.op = request.op;
  active_by_index_[UserDataSlot(request.user_data)] = &w;
  ++stats_.parked;
}

// EndLone: queues the final completion of the op in inline slot `w` and empties
// the slot.
RL_HOT void EpollDriverImpl::EndLone(Waiter& w, int res) {
  RL_DCHECK(w.op != nullptr && w.lone != WaitList::kNone);
  const uint32_t index = UserDataSlot(w.user_data);
  RL_DCHECK(index < active_by_index_.size() && active_by_index_[index] == &w);
  active_by_index_[index] = nullptr;
  Emit(w.user_data, res);
  w.op = nullptr;
}

RL_HOT void EpollDriverImpl::Unpark(Job* job) {
  RL_DCHECK(job->list != WaitList::kNone);
  FdState& s = *job->state;
  RL_DCHECK(&s == fds_.Find(job->fd));
  const int i = int(job->list);
  if (job->prev != nullptr) {
    job->prev->next = job->next;
  } else {
    RL_DCHECK(s.head[i] == job);
    s.head[i] = job->next;
  }
  if (job->next != nullptr) {
    job->next->prev = job->prev;
  } else {
    RL_DCHECK(s.tail[i] == job);
    s.tail[i] = job->prev;
  }
  job->list = WaitList::kNone;
}

RL_HOT void EpollDriverImpl::Track(Job* job) {
  RL_CHECK(job->tracked == Job::Tracked::kNo);
  const uint32_t index = UserDataSlot(job->user_data);
  if (index < active_by_index_.size() && active_by_index_[index] == nullptr) {
    job->tracked = Job::Tracked::kIndexed;
    active_by_index_[index] = job;
    return;
  }
  TrackOverflow(job);
}

RL_HOT void EpollDriverImpl::Untrack(Job* job) {
  RL_CHECK(job->tracked != Job::Tracked::kNo);
  if (job->tracked == Job::Tracked::kIndexed) {
    const uint32_t index = UserDataSlot(job->user_data);
    RL_DCHECK(index < active_by_index_.size() && active_by_index_[index] == job);
    active_by_index_[index] = nullptr;
  } else {
    RL_CHECK(active_overflow_.erase(job->user_data) == 1);
  }
  job->tracked = Job::Tracked::kNo;
}

RL_HOT void EpollDriverImpl::RetryIn(FdState& s, WaitList list) {
  // Oldest first (the inline slot, then the wait list); stop at the first that
  // must wait: with edge triggering, EAGAIN means a new edge will come.
  Waiter& w = s.lone[LoneIndex(list)];
  if (w.op != nullptr) {
    const int r = TryTransfer(s, *w.op);
    if (__builtin_expect(r <= kNowFile, 0)) {
      if (r == kNowFile) RestartParked(s);
      return;
    }
    EndLone(w, r);
  }
  if (__builtin_expect(s.head[int(list)] != nullptr, 0)) RetryJobs(s, list);
}

RL_HOT void EpollDriverImpl::Suspect(FdState& s) {
  s.suspect_epoch = check_epoch_;
  if (__builtin_expect(s.suspect, 1)) return;
  s.suspect = true;
  suspects_.push_back(&s);
}

}  // namespace ringloop::epoll_internal

#endif  // RINGLOOP_DRIVERS_EPOLL_INTERNAL_HOT_PATH_H_
