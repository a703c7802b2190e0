// ringloop/drivers/epoll/internal/jobs.cc: the readiness driver's requests and
// jobs: ops taken from the engine, the job table (made in chunks, recycled,
// found by slot for a cancel), how an op begins and ends, and the pool's side
// of a job. See internal/driver_impl.h.
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

// ---------------------------------------------------------------------------
// Requests.

// ParkLoneInJob: StartLone's op would block and cannot have the inline slot (it
// is taken, older Jobs wait, or the op's index is not free): it parks in a Job.
void EpollDriverImpl::ParkLoneInJob(const Request& request, FdState& s, WaitList list) {
  Job* job = NewJob(request, nullptr);
  if (const int err = ParkOn(s, job, list, NeedOf(list == WaitList::kIn)); err < 0) {
    // epoll refuses regular files (EPERM): the number may name one now.
    if (err == -EPERM && NowFile(request.fd, s)) {
      BeginOnFd(job);
      return;
    }
    Complete(job, err);
    return;
  }
  Track(job);
}

// StartOp: starts the op of `op_request`, with the linked timeout `timeout`
// (the request right after it) or none.
void EpollDriverImpl::StartOp(const Request& op_request, const Request* timeout) {
  RL_CHECK(op_request.kind == RequestKind::kOp);
  // A linked timeout always belongs to the op right before it.
  if (timeout != nullptr) RL_CHECK(timeout->kind == RequestKind::kLinkTimeout && !timeout->link);
  Begin(NewJob(op_request, timeout));
}

void EpollDriverImpl::DoCancel(const Request& request) {
  Waiter* found = FindActive(request.target);
  if (found == nullptr) {
    // Finished or unknown: io_uring's ASYNC_CANCEL cannot find those either.
    Emit(request.user_data, -ENOENT);
    return;
  }
  if (found->lone != WaitList::kNone) {
    CancelLone(*found);
    Emit(request.user_data, 0);
    return;
  }
  Job* job = static_cast<Job*>(found);
  if (job->in_pool) {
    if (!pool_->TryCancel(&job->work)) {
      Emit(request.user_data, -EALREADY);  // running: its own result will come
      return;
    }
    job->in_pool = false;
  }
  Complete(job, -ECANCELED);
  Emit(request.user_data, 0);
}

void EpollDriverImpl::DoShutdown(const Request& request) {
  FdInfo none;
  const int res = epoll_internal::TryOnce(Op(Shutdown{request.fd, SHUT_RDWR}), &none);
  Emit(request.user_data, res);
  // The ops parked on it can now end (EOF, EPIPE, EINVAL for a listener): the
  // kernel signals that too, but a retry does not depend on it.
  if (FdState* s = StateOf(request.fd); s != nullptr) RetryAfterShutdown(*s);
}

EpollDriverImpl::Job* EpollDriverImpl::GrowJobs() {
  RL_CHECK(free_jobs_ == nullptr);
  job_chunks_.push_back(std::make_unique<Job[]>(kJobChunk));
  Job* chunk = job_chunks_.back().get();
  for (size_t i = 0; i < kJobChunk; ++i) {
    chunk[i].work.context = &chunk[i];
    chunk[i].next = i + 1 < kJobChunk ? &chunk[i + 1] : nullptr;
  }
  free_jobs_ = chunk;
  return chunk;
}

void EpollDriverImpl::Begin(Job* job) {
  const Op& op = *job->op;
  switch (KindOf(op)) {
    case OpKind::kTimeout:
      RL_CHECK(false && "Timeout ops stay in the engine");
      return;
    case OpKind::kClose:
      return Complete(job, CloseOp(job->fd));
    case OpKind::kShutdown: {
      FdInfo none;
      const int res = epoll_internal::TryOnce(op, &none);
      if (FdState* s = StateOf(job->fd); s != nullptr && res == 0) RetryAfterShutdown(*s);
      return Complete(job, res);
    }
    default:
      if (WaitsForReadiness(KindOf(op))) return BeginOnFd(job);  // parks on its fd
      if (epoll_internal::NeedsPool(op, FdInfo::Kind::kUnknown)) return SendToPool(job);
      FdInfo none;
      return Complete(job, epoll_internal::TryOnce(op, &none));
  }
}

void EpollDriverImpl::BeginOnFd(Job* job) {
  const int fd = job->fd;
  if (fd < 0) return Complete(job, -EBADF);
  FdState& s = EnsureState(fd);
  if (s.info.kind == FdInfo::Kind::kUnknown) {
    if (const int r = epoll_internal::ClassifyFd(fd, &s.info); r < 0) {
      s.info = FdInfo();
      return Complete(job, r);
    }
  }
  if (s.info.kind == FdInfo::Kind::kFile) return BeginOnFile(job, s);
  const int r = TryPollable(s, job);
  if (r == kNowFile) return BeginOnFile(job, s);
  if (r != kWouldBlock) return Complete(job, r);
  if (const int err = Park(s, job); err < 0) {
    // epoll refuses regular files (EPERM): the number may name one now.
    if (err == -EPERM && NowFile(fd, s)) return BeginOnFile(job, s);
    return Complete(job, err);
  }
  ArmTimer(job);
  Track(job);
}

// BeginOnFile: BeginOnFd for an fd learnt as a regular file (or a directory).
// What would block on the loop's thread, or take a pollable fd for a file (a
// pool op waiting forever for a pipe, a recv answered as if by a file), first
// checks that the number still names a file: it may have been closed and
// reused behind the driver's back. Those checks cost one fstat on paths that
// already pay a pool hand-off or fail.
void EpollDriverImpl::BeginOnFile(Job* job, FdState& s) {
  const Op& op = *job->op;
  const OpKind kind = KindOf(op);
  if (kind == OpKind::kRead || kind == OpKind::kReadv) {
    const int r = epoll_internal::TryReadNowait(op);
    // ESPIPE: an offset on a stream; kWouldBlock: not in the page cache, or a
    // pollable file with nothing to read.
    if (r != kWouldBlock && r != -ESPIPE) return Complete(job, r);
    if (NowPollable(job->fd, s)) return BeginOnFd(job);
    if (r == -ESPIPE) return Complete(job, r);
  } else if (epoll_internal::NeedsPool(op, FdInfo::Kind::kFile) && kind != OpKind::kFsync &&
             NowPollable(job->fd, s)) {
    return BeginOnFd(job);
  }
  if (epoll_internal::NeedsPool(op, s.info.kind)) return SendToPool(job);
  // recv/send/accept/connect on a file fail at once (ENOTSOCK); poll on a file
  // answers at once (files are always ready; no asked-for event -> 0).
  if (NowPollable(job->fd, s)) return BeginOnFd(job);
  const int r = epoll_internal::TryOnce(op, &s.info);
  return Complete(job, r == kWouldBlock ? 0 : r);
}

// NowFile: the fd learnt as pollable (state `s`) answered as if it were not
// (epoll_ctl's EPERM): learns it again. True if it now names a regular file or
// a directory; then its registration is forgotten (the kernel dropped it when
// the old file went) and its ops must start again as file ops.
bool EpollDriverImpl::NowFile(int fd, FdState& s) {
  ++stats_.fds_relearnt;
  if (epoll_internal::ClassifyFd(fd, &s.info) < 0 || s.info.kind != FdInfo::Kind::kFile) {
    return false;
  }
  ForgetRegistration(s);
  return true;
}

// NowPollable: the fd learnt as a file (state `s`) is about to be used in a way
// only a file allows: learns it again. True if it names a pollable file now.
bool EpollDriverImpl::NowPollable(int fd, FdState& s) {
  ++stats_.fds_relearnt;
  return epoll_internal::ClassifyFd(fd, &s.info) == 0 && s.info.kind == FdInfo::Kind::kPollable;
}

// ForgetRegistration: what the driver believed about `s`'s epoll registration
// and readiness no longer holds (the file it was made for is gone).
void EpollDriverImpl::ForgetRegistration(FdState& s) {
  s.in_epoll = false;
  s.level = false;
  s.interest = 0;
  s.covers[0] = false;
  s.covers[1] = false;
  s.readable = true;
  s.writable = true;
}

void EpollDriverImpl::Complete(Job* job, int res) { Finish(job, res); }

int EpollDriverImpl::CloseOp(int fd) {
  if (FdState* s = StateOf(fd); s != nullptr) {
    // The engine issues CLOSE only after every op on fd had its final completion.
    RL_CHECK(s->Idle());
    if (s->in_epoll) {
      ++stats_.epoll_ctls;
      ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    }
    epoll_internal::RestoreFlags(fd, s->info);
    *s = FdState();
  }
  return RunSync(ringloop::Close{fd});
}

// ---------------------------------------------------------------------------
// The pool: jobs handed to the file workers and taken back.

void EpollDriverImpl::SendToPool(Job* job) {
  // file_workers = 0: synchronous, on the loop's thread.
  if (pool_ == nullptr) return Complete(job, epoll_internal::RunBlocking(*job->op));
  ++stats_.pool_ops;
  job->in_pool = true;
  job->work.op = job->op;
  RL_DCHECK(job->work.context == job);
  pool_->Submit(&job->work);
  ArmTimer(job);
  Track(job);
}

void EpollDriverImpl::ReapPool() {
  if (pool_ == nullptr || pool_->Outstanding() == 0) return;
  pool_done_.clear();
  pool_->TakeDone(&pool_done_);
  for (PoolWork* work : pool_done_) {
    Job* job = static_cast<Job*>(work->context);
    RL_CHECK(job->in_pool);
    job->in_pool = false;
    Complete(job, work->result);
  }
}

}  // namespace ringloop::epoll_internal
