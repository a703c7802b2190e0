// ringloop/drivers/epoll/internal/readiness.cc: the readiness driver's attempts
// and parking: the readiness cache, per-fd wait lists and epoll registrations,
// retries, and the checks of registrations made for earlier ops. See
// internal/driver_impl.h.
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "ringloop/core/check.h"
#include "ringloop/core/internal/hot.h"
#include "ringloop/core/ops.h"
#include "ringloop/drivers/epoll/internal/driver_impl.h"
#include "ringloop/drivers/epoll/internal/hot_path.h"
#include "ringloop/drivers/sync_op.h"

namespace ringloop::epoll_internal {

bool EpollDriverImpl::FdState::Idle() const {
  for (const Waiter& w : lone) {
    if (w.op != nullptr) return false;
  }
  for (int i = 0; i < kListCount; ++i) {
    if (head[i] != nullptr) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------
// Attempts and parking.

int EpollDriverImpl::TryPollable(FdState& s, Job* job) {
  const Op& op = *job->op;
  switch (KindOf(op)) {
    // The hot path: one direct syscall each, no variant dispatch.
    case OpKind::kRead:
    case OpKind::kRecv:
    case OpKind::kWrite:
    case OpKind::kSend:
      return TryTransfer(s, op);
    // For readv and writev, ChainMinimum is the byte count asked for (the iovecs'
    // total): what AfterRead/AfterWrite compare the result with.
    case OpKind::kReadv:
      if (!s.readable) return kWouldBlock;
      return AfterRead(s, epoll_internal::TryOnce(op, &s.info), ChainMinimum(op));
    case OpKind::kWritev:
      if (!s.writable) return kWouldBlock;
      return AfterWrite(s, epoll_internal::TryOnce(op, &s.info), ChainMinimum(op));
    case OpKind::kAccept: {
      if (std::get_if<Accept>(&op)->multishot) return TryMultishotAccept(s, job);
      if (!s.readable) return kWouldBlock;
      const int r = epoll_internal::TryOnce(op, &s.info);
      if (r == kWouldBlock) NoteWouldBlock(&s.readable);
      if (r >= 0 && s.level) s.readable = false;  // as AfterRead: epoll reports the rest
      return r;
    }
    case OpKind::kConnect:
      if (job->connecting) return epoll_internal::ConnectResult(job->fd);
      if (const int r = epoll_internal::TryOnce(op, &s.info); r != kWouldBlock) return r;
      job->connecting = true;
      return kWouldBlock;
    case OpKind::kPollAdd:
      return epoll_internal::TryOnce(op, &s.info);
    default:
      RL_CHECK(false && "TryPollable: not an fd op");
      return -EINVAL;
  }
}

int EpollDriverImpl::TryMultishotAccept(FdState& s, Job* job) {
  // Edge-triggered: accept until EAGAIN (the backlog bounds this loop), one
  // kCqeFMore completion per connection; an error ends the stream.
  for (;;) {
    if (!s.readable) return kWouldBlock;
    const int r = epoll_internal::TryOnce(*job->op, &s.info);
    if (r == kWouldBlock) {
      NoteWouldBlock(&s.readable);
      return kWouldBlock;
    }
    if (r < 0) return r;
    Emit(job->user_data, r, kCqeFMore);
  }
}

int EpollDriverImpl::Park(FdState& s, Job* job) {
  switch (KindOf(*job->op)) {
    case OpKind::kRead:
    case OpKind::kReadv:
    case OpKind::kRecv:
    case OpKind::kAccept:
      return ParkOn(s, job, WaitList::kIn, EPOLLIN | EPOLLRDHUP);
    case OpKind::kPollAdd:
      return ParkOn(s, job, WaitList::kAny, std::get<PollAdd>(*job->op).events & kPollMask);
    default:
      return ParkOn(s, job, WaitList::kOut, EPOLLOUT);
  }
}

// CoverLone: ParkLone's rare step, out of line: makes the registration of `s`
// cover a lone op parking in `list`. On failure the op ends with the error (as
// Complete would end a lone op) and the answer is false.
bool EpollDriverImpl::CoverLone(const Request& request, FdState& s, WaitList list) {
  const bool in = list == WaitList::kIn;
  const int err = Register(request.fd, s, s.interest | NeedOf(in), s.level || in);
  if (err < 0) {
    // epoll refuses regular files (EPERM): the number may name one now, and
    // the op starts again as a file op.
    if (err == -EPERM && NowFile(request.fd, s)) {
      BeginOnFd(NewJob(request, nullptr));
      return false;
    }
    Emit(request.user_data, err);
    return false;
  }
  return true;
}

// CancelLone: a kCancel found the op in inline slot `w`: it ends -ECANCELED. The
// registration stays as it is, as for a cancelled Job (Relax narrows it if
// reports come that nobody takes).
void EpollDriverImpl::CancelLone(Waiter& w) {
  RL_CHECK(w.op != nullptr);
  RL_CHECK(&w == &StateOf(FdOf(*w.op))->lone[LoneIndex(w.lone)]);
  EndLone(w, -ECANCELED);
}

int EpollDriverImpl::Register(int fd, FdState& s, uint32_t interest, bool level) {
  RL_DCHECK(s.fd == fd);
  // ADD and MOD both re-check readiness, so an fd that became ready between the
  // EAGAIN and this call still reports (an edge, or its level).
  epoll_event ev{};
  ev.events = interest | (level ? 0u : uint32_t{EPOLLET});
  ev.data.ptr = &s;  // for Dispatch
  int op = s.in_epoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
  ++stats_.epoll_ctls;
  int r = ::epoll_ctl(epoll_fd_, op, fd, &ev);
  if (r < 0 && (errno == EEXIST || errno == ENOENT)) {
    // The epoll set and the cache disagree (the fd was closed and reopened
    // behind the driver's back: the kernel dropped the registration with the
    // old file): believe the kernel.
    if (errno == ENOENT) ++stats_.stale_registrations;
    op = errno == EEXIST ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    ++stats_.epoll_ctls;
    r = ::epoll_ctl(epoll_fd_, op, fd, &ev);
  }
  if (r < 0) return -errno;
  s.in_epoll = true;
  s.interest = interest;
  s.level = level;
  s.covers[LoneIndex(WaitList::kIn)] = level && (interest & NeedOf(true)) == NeedOf(true);
  s.covers[LoneIndex(WaitList::kOut)] = (interest & NeedOf(false)) == NeedOf(false);
  return 0;
}

// Relax: a level-triggered registration reported, in direction kIn (`drop_in`)
// or kOut (`drop_out`), what nobody waits for and nobody took since its previous
// report: those directions leave the registration unless ops parked there need
// them (reads, writes, or the events a parked PollAdd asks for); the others stay,
// so that an op parking later costs no epoll_ctl. A hang-up or error (`hangup`) is
// reported whatever the interest: then the registration turns edge-triggered
// unless a read is parked.
void EpollDriverImpl::Relax(int fd, FdState& s, bool drop_in, bool drop_out, bool hangup) {
  RL_CHECK(s.in_epoll && s.level);
  uint32_t interest = s.interest;
  if (drop_in) interest &= ~kInInterest;
  if (drop_out) interest &= ~kOutInterest;
  if (s.Waits(WaitList::kIn)) interest |= NeedOf(true);
  if (s.Waits(WaitList::kOut)) interest |= NeedOf(false);
  for (const Job* job = s.head[int(WaitList::kAny)]; job != nullptr; job = job->next) {
    interest |= std::get<PollAdd>(*job->op).events & kPollMask;
  }
  const bool level = !hangup || s.Waits(WaitList::kIn);
  if (level && interest == s.interest) return;
  // A failure leaves the registration as it was: at worst one more report.
  (void)Register(fd, s, interest, level);
}

// TrackOverflow: Track's rare cases: the index array must grow, or the index
// is taken or too large.
void EpollDriverImpl::TrackOverflow(Job* job) {
  const uint32_t index = UserDataSlot(job->user_data);
  if (index < kMaxIndexed) {
    if (index >= active_by_index_.size()) {
      active_by_index_.resize(size_t(index) + 1, nullptr);
      active_size_ = uint32_t(active_by_index_.size());
    }
    if (active_by_index_[index] == nullptr) {
      job->tracked = Job::Tracked::kIndexed;
      active_by_index_[index] = job;
      return;
    }
  }
  job->tracked = Job::Tracked::kOverflow;
  const bool inserted = active_overflow_.emplace(job->user_data, job).second;
  RL_CHECK(inserted);  // one request per user_data in flight
}

EpollDriverImpl::Waiter* EpollDriverImpl::FindActive(uint64_t user_data) {
  const uint32_t index = UserDataSlot(user_data);
  if (index < active_by_index_.size()) {
    Waiter* w = active_by_index_[index];
    if (w != nullptr && w->user_data == user_data) return w;
  }
  if (active_overflow_.empty()) return nullptr;
  const auto it = active_overflow_.find(user_data);
  return it == active_overflow_.end() ? nullptr : it->second;
}

// RetryJobs: RetryIn for the Jobs in the wait list `list` of `s`.
void EpollDriverImpl::RetryJobs(FdState& s, WaitList list) {
  // Completing the head never ends another parked op. `s` stays valid: the fd
  // table never moves a state.
  while (Job* job = s.head[int(list)]) {
    int r;
    switch (KindOf(*job->op)) {
      case OpKind::kRead:
      case OpKind::kRecv:
      case OpKind::kWrite:
      case OpKind::kSend:
        r = TryTransfer(s, *job->op);  // the hot path, inline
        break;
      default:
        r = TryPollable(s, job);
        break;
    }
    if (r == kWouldBlock) return;
    if (r == kNowFile) {
      RestartParked(s);
      return;
    }
    Finish(job, r);
  }
}

void EpollDriverImpl::RetryAny(int fd) {
  FdState& s = *fds_.Find(fd);
  if (s.head[int(WaitList::kAny)] == nullptr) return;
  // poll(2) consumes nothing, so every parked PollAdd is asked. Completing one
  // unlinks it and starts nothing: its successor is read first.
  for (Job* job = s.head[int(WaitList::kAny)]; job != nullptr;) {
    Job* const next = job->next;
    const int r = TryPollable(s, job);
    if (r != kWouldBlock) Complete(job, r);
    job = next;
  }
}

void EpollDriverImpl::RetryAll(int fd) {
  FdState& s = *fds_.Find(fd);
  RetryIn(s, WaitList::kIn);
  RetryIn(s, WaitList::kOut);
  RetryAny(fd);
}

void EpollDriverImpl::ProcessRetries() {
  // Index-based: retrying may queue more fds.
  for (size_t i = 0; i < retry_fds_.size(); ++i) {
    const int fd = retry_fds_[i];
    FdState* s = StateOf(fd);
    if (s == nullptr || !s->retry_queued) continue;
    s->retry_queued = false;
    RetryAll(fd);
  }
  retry_fds_.clear();
}

// ---------------------------------------------------------------------------
// Registrations made for earlier ops.
//
// An op that parks on a registration the driver made for an earlier op costs no
// epoll_ctl: that is what keeps a connection's steady read cheap. But the fd
// may have been closed with close(2) and its number reused since: the kernel
// then dropped the registration with the old file (if no other fd kept that
// file open), and the op would wait for a report that never comes. Such parks
// are "suspects". Once the loop has slept kSuspectGraceNs with nothing
// reported, every suspect that still has ops parked is checked with
// EPOLL_CTL_MOD (ENOENT: the registration is gone, so it is added again, and
// the kernel reports what is already ready); and every kPollsPerCheck Polls, a
// loop that never sleeps checks the suspects whose ops have stayed parked since
// the previous check. So an op on a reused number waits at most until the loop
// has been idle kSuspectGraceNs, or two checks, never forever; ops that complete
// before then (a busy connection's reads) cost nothing but the bookkeeping.

// CheckSuspects: checks the registrations of suspects with ops still parked:
// all of them, or (`all` false) those parked since before the previous check.
void EpollDriverImpl::CheckSuspects(bool all) {
  polls_since_check_ = 0;
  size_t kept = 0;
  // Index-based: a check may restart ops, which may park and add suspects.
  for (size_t i = 0; i < suspects_.size(); ++i) {
    FdState& s = *suspects_[i];
    if (!s.suspect) continue;  // reset (Close op, ForgetFd) since it was listed
    if (s.Idle() || !s.in_epoll) {
      s.suspect = false;
      continue;
    }
    if (!all && s.suspect_epoch == check_epoch_) {
      suspects_[kept++] = &s;  // parked since the last check: next time
      continue;
    }
    s.suspect = false;
    CheckRegistration(s);
  }
  suspects_.resize(kept);
  ++check_epoch_;
}

// CheckRegistration: makes sure the registration of `s` (with ops parked) is for
// the file its number names now.
void EpollDriverImpl::CheckRegistration(FdState& s) {
  const uint64_t stale = stats_.stale_registrations;
  const int err = Register(s.fd, s, s.interest, s.level);
  if (err == 0) {
    if (stats_.stale_registrations != stale) {
      // A new file: what the driver knew of the old one's readiness is void.
      s.readable = true;
      s.writable = true;
      QueueRetry(s);
    }
    return;
  }
  if (err == -EPERM && NowFile(s.fd, s)) {
    RestartParked(s);  // a regular file or a directory now: file ops
    return;
  }
  // EBADF: the number names nothing now; the parked ops cannot go on. Other
  // errors (ENOMEM, ENOSPC) fail them too, rather than leave them waiting.
  ++stats_.registrations_lost;
  FailParked(s, err);
}

// RetryAfterShutdown: `s`'s fd was shut down: its parked ops can end now.
void EpollDriverImpl::RetryAfterShutdown(FdState& s) {
  if (s.retry_queued) return;
  s.readable = true;
  s.writable = true;
  QueueRetry(s);
}

// QueueRetry: the ops parked on `s` are tried again at the next retry step.
void EpollDriverImpl::QueueRetry(FdState& s) {
  if (s.retry_queued) return;
  s.retry_queued = true;
  retry_fds_.push_back(s.fd);
  maybe_rare_work_ = true;
}

// TakeParked: takes every op parked on `s` out of its wait lists, oldest first
// per list, as Jobs no longer parked or tracked (inline slots become Jobs).
void EpollDriverImpl::TakeParked(FdState& s, std::vector<Job*>* out) {
  for (Waiter& w : s.lone) {
    if (w.op == nullptr) continue;
    Request request;
    request.user_data = w.user_data;
    request.op = w.op;
    request.fd = s.fd;
    const uint32_t index = UserDataSlot(w.user_data);
    RL_CHECK(index < active_by_index_.size() && active_by_index_[index] == &w);
    active_by_index_[index] = nullptr;
    w.op = nullptr;
    out->push_back(NewJob(request, nullptr));
  }
  for (int i = 0; i < kListCount; ++i) {
    while (Job* job = s.head[i]) {
      Unpark(job);
      Untrack(job);
      if (job->timer_index != kNoTimer) DisarmTimer(job);
      out->push_back(job);
    }
  }
}

// RestartParked: the fd of `s` names another kind of file now: every op parked
// on it starts again (Begin), as if just submitted, with its deadline.
void EpollDriverImpl::RestartParked(FdState& s) {
  std::vector<Job*> jobs;
  TakeParked(s, &jobs);
  for (Job* job : jobs) Begin(job);
}

// FailParked: every op parked on `s` ends with `err`; the driver forgets what
// it knew about the fd.
void EpollDriverImpl::FailParked(FdState& s, int err) {
  std::vector<Job*> jobs;
  TakeParked(s, &jobs);
  for (Job* job : jobs) Complete(job, err);
  ForgetRegistration(s);
  s.info = FdInfo();
}

}  // namespace ringloop::epoll_internal
