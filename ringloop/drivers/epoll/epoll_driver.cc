// ringloop/drivers/epoll/epoll_driver.cc: the readiness driver. See epoll_driver.h for the
// model; this file is its state machine: jobs (ops the driver is carrying out),
// per-fd wait lists, linked-timeout timers and the worker pool's returns.
#include "ringloop/drivers/epoll/epoll_driver.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <ctime>
#include <utility>

#include "absl/strings/str_cat.h"
#include "ringloop/core/check.h"
#include "ringloop/core/errno_message.h"
#include "ringloop/core/internal/hot.h"
#include "ringloop/core/ops.h"
#include "ringloop/drivers/internal/clock.h"
#include "ringloop/drivers/sync_op.h"

namespace ringloop {

using epoll_internal::FdInfo;
using epoll_internal::kNowFile;
using epoll_internal::kWouldBlock;
using epoll_internal::PoolWork;

namespace {

constexpr uint32_t kInEvents = EPOLLIN | EPOLLPRI | EPOLLRDHUP | EPOLLHUP | EPOLLERR;
constexpr uint32_t kOutEvents = EPOLLOUT | EPOLLHUP | EPOLLERR;
constexpr uint32_t kPollMask = EPOLLIN | EPOLLPRI | EPOLLOUT | EPOLLRDNORM | EPOLLRDBAND |
                               EPOLLWRNORM | EPOLLWRBAND | EPOLLMSG | EPOLLRDHUP;

absl::Status SyscallError(absl::string_view what, int fd, int err) {
  return absl::Status(absl::ErrnoToStatusCode(err),
                      ErrnoMessage(absl::StrCat(what, "(fd=", fd, ")"), err));
}

}  // namespace

namespace {
constexpr uint32_t kNoTimer = ~uint32_t{0};
constexpr size_t kJobChunk = 64;
constexpr uint32_t kMaxIndexed = 1u << 20;

// NeedOf: the events a read (kIn) or a write (kOut) parks for.
constexpr uint32_t NeedOf(bool in) {
  return in ? uint32_t{EPOLLIN | EPOLLRDHUP} : uint32_t{EPOLLOUT};
}
}  // namespace

// Job: one op request from its start until its final completion is queued.
// Jobs are recycled (free_jobs_): NewJob sets every field an op's life reads.
// Waiter's user_data and op are the request's; Waiter::lone stays kNone.
struct EpollDriver::Job : Waiter {
  // Tracked: where FindActive finds the job (parked or pooled: cancellable), so
  // that Untrack goes straight there.
  enum class Tracked : uint8_t { kNo, kIndexed, kOverflow };

  int fd = -1;
  WaitList list = WaitList::kNone;
  Tracked tracked = Tracked::kNo;   // in active_by_index_ or active_overflow_
  bool in_pool = false;             // handed to the worker pool
  bool connecting = false;          // connect(2) said EINPROGRESS
  bool has_timeout = false;         // a kLinkTimeout request came right after the op
  int timeout_res = -ECANCELED;     // -ETIME once the timer fired first
  uint32_t timer_index = kNoTimer;  // position in timers_ while armed
  uint64_t timeout_user_data = 0;
  uint64_t deadline_ns = 0;
  FdState* state = nullptr;  // while parked: its fd's (states never move)
  Job* prev = nullptr;
  Job* next = nullptr;  // the wait list's, or the free list's
  PoolWork work;        // work.context == this, set once
};

bool EpollDriver::FdState::Idle() const {
  for (const Waiter& w : lone) {
    if (w.op != nullptr) return false;
  }
  for (int i = 0; i < kListCount; ++i) {
    if (head[i] != nullptr) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------
// Setup and teardown.

absl::StatusOr<std::unique_ptr<EpollDriver>> EpollDriver::Create(Options options) {
  const int epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd < 0) return SyscallError("epoll_create1", -1, errno);
  const int wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd < 0) {
    const int err = errno;
    ::close(epoll_fd);
    return SyscallError("eventfd", -1, err);
  }
  epoll_event ev{};
  ev.events = EPOLLIN;    // level-triggered: drained by one read whenever reported
  ev.data.ptr = nullptr;  // the wake-up fd; every other fd's data is its FdState
  if (::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, wake_fd, &ev) < 0) {
    const int err = errno;
    ::close(wake_fd);
    ::close(epoll_fd);
    return SyscallError("epoll_ctl", wake_fd, err);
  }
  return std::unique_ptr<EpollDriver>(new EpollDriver(options, epoll_fd, wake_fd));
}

EpollDriver::EpollDriver(Options options, int epoll_fd, int wake_fd)
    : options_(options), epoll_fd_(epoll_fd), wake_fd_(wake_fd) {
  RL_CHECK(options_.max_events > 0);
  events_.resize(size_t(options_.max_events));
  if (options_.file_workers > 0) {
    pool_ = std::make_unique<epoll_internal::FilePool>(options_.file_workers, wake_fd_);
  }
}

EpollDriver::~EpollDriver() {
  pool_.reset();  // joins the workers: nobody writes wake_fd_ after this
  fds_.ForEach([](int fd, const FdState& s) { epoll_internal::RestoreFlags(fd, s.info); });
  ::close(wake_fd_);
  ::close(epoll_fd_);
}

uint64_t EpollDriver::NowNs() const { return drivers_internal::MonotonicNowNs(); }

void EpollDriver::Wake() {
  // One write per wake-up: later callers see the flag until Poll drains the fd.
  if (wake_pending_.exchange(true, std::memory_order_acq_rel)) return;
  wake_writes_.fetch_add(1, std::memory_order_relaxed);
  const uint64_t one = 1;
  while (::write(wake_fd_, &one, sizeof(one)) < 0 && errno == EINTR) {
  }
}

void EpollDriver::DrainWakeFd() {
  // Read, then clear the flag. The other order loses wake-ups: a Wake between
  // the clear and the read writes again, the read swallows that write too, and
  // the flag stays set over an empty eventfd, so every later Wake sees it set
  // and writes nothing (seen under tsan: a Poll blocked until its watchdog).
  // In this order a Wake between the read and the clear finds the flag still
  // set and writes nothing, which is right: this Poll is returning anyway, and
  // the caller looks at what the Wake announced once it has returned.
  uint64_t value;
  while (::read(wake_fd_, &value, sizeof(value)) < 0 && errno == EINTR) {
  }
  wake_pending_.store(false, std::memory_order_seq_cst);
}

RL_HOT EpollDriver::FdState* EpollDriver::StateOf(int fd) { return fds_.Find(fd); }

EpollDriver::FdState& EpollDriver::EnsureState(int fd) {
  RL_CHECK(fd >= 0);
  FdState& s = fds_.Ensure(fd);  // keeps references to existing states valid
  s.fd = fd;                     // again after a reset (CloseOp, ForgetFd)
  return s;
}

bool EpollDriver::SetNonblockOn(int fd) const {
  const FdState* s = fds_.Find(fd);
  return s != nullptr && s->info.set_nonblock;
}

void EpollDriver::ForgetFd(int fd) {
  FdState* s = StateOf(fd);
  if (s == nullptr) return;
  RL_CHECK(s->Idle());
  if (s->in_epoll) {
    ++stats_.epoll_ctls;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);  // ENOENT/EBADF: already gone
  }
  epoll_internal::RestoreFlags(fd, s->info);
  *s = FdState();
}

// ---------------------------------------------------------------------------
// The Poll cycle.

absl::Status EpollDriver::Poll(Engine& engine, bool wait) {
  SubmitPending(engine);
  if (__builtin_expect(!suspects_.empty(), 0) && ++polls_since_check_ >= kPollsPerCheck) {
    CheckSuspects(/*all=*/false);
  }
  if (maybe_rare_work_) RetriesAndTimers();
  const bool block = wait && ready_.empty() && !engine.HasEvents();
  absl::Status status = WaitAndDispatch(engine, block);
  if (maybe_rare_work_) RetriesAndTimers();
  // Completions go in only now, after every syscall of this cycle: the engine is
  // never re-entered while the driver is mid-way through a request.
  if (!ready_.empty()) {
    engine.HandleCompletions(ready_);
    ready_.clear();
  }
  if (engine.NextDeadline().has_value()) engine.AdvanceTime(NowNs());
  return status;
}

// RetriesAndTimers: Poll's rarer steps: parked ops to try again, expired timers.
void EpollDriver::RetriesAndTimers() {
  if (!retry_fds_.empty()) ProcessRetries();
  if (!timers_.empty()) FireTimers(NowNs());
  maybe_rare_work_ = !retry_fds_.empty() || !timers_.empty();
}

RL_HOT void EpollDriver::SubmitPending(Engine& engine) {
  const std::span<const Request> pending = engine.PendingRequests();
  const size_t n = pending.size();
  if (n == 0) return;
  // By pointer, not by index: one register fewer live across each op's syscall.
  const Request* r = pending.data();
  const Request* const end = r + n;
  while (r != end) {
    if (__builtin_expect(r->kind == RequestKind::kOp && !r->link, 1)) {
      // A lone op (no deadline): the common case.
      if (__builtin_expect(!StartLone(*r), 0)) StartOp(*r, nullptr);
      ++r;
      continue;
    }
    if (r->kind == RequestKind::kCancel) {
      DoCancel(*r);
      ++r;
      continue;
    }
    if (r->kind == RequestKind::kShutdown) {
      DoShutdown(*r);
      ++r;
      continue;
    }
    // An op and its linked timeout: the only link the engine hands over (it
    // plays chains itself).
    RL_CHECK(r->kind == RequestKind::kOp && r + 1 != end);
    StartOp(r[0], &r[1]);
    r += 2;
  }
  // The count is asked for again rather than kept across the loop (one live
  // register fewer around each op's syscall): nothing above reaches the engine,
  // so its pending requests are still the n just carried out.
  RL_DCHECK(engine.PendingRequests().size() == n);
  engine.ConsumeRequests(engine.PendingRequests().size());
}

RL_HOT absl::Status EpollDriver::WaitAndDispatch(const Engine& engine, bool block) {
  ++stats_.epoll_waits;
  const int max_events = options_.max_events;  // events_.size(), without a division
  if (__builtin_expect(block && !suspects_.empty(), 0)) {
    // Ops wait on registrations made for earlier ops: look first without
    // sleeping, and check those registrations only before really sleeping
    // (see CheckSuspects). A loop that never sleeps never pays for them here.
    const int n = Wait(max_events, 0);
    if (n < 0) return SyscallError("epoll_wait", epoll_fd_, -n);
    if (n > 0) DispatchEvents(n);
    if (ready_.empty() && retry_fds_.empty()) CheckSuspects(/*all=*/true);
    if (!ready_.empty() || !retry_fds_.empty()) return absl::OkStatus();
  }
  int n;
  for (;;) {
    if (!block) {
      n = Wait(max_events, 0);
    } else {
      uint64_t deadline = engine.NextDeadline().value_or(kNoDeadline);
      if (!timers_.empty()) deadline = std::min(deadline, timers_.top().deadline_ns);
      n = Wait(max_events, deadline);
    }
    // A signal without SA_RESTART: wait again (for the rest of the time).
    if (n != -EINTR) break;
    ++stats_.eintr;
  }
  if (n < 0) return SyscallError("epoll_wait", epoll_fd_, -n);
  DispatchEvents(n);
  return absl::OkStatus();
}

// Wait: one epoll_wait into events_ until `deadline_ns` (0: do not sleep;
// kNoDeadline: until ready or Wake()); the number of events or -errno.
RL_HOT int EpollDriver::Wait(int max_events, uint64_t deadline_ns) {
  int n;
  if (deadline_ns == 0) {
    n = ::epoll_wait(epoll_fd_, events_.data(), max_events, 0);
  } else if (deadline_ns == kNoDeadline) {
    n = ::epoll_wait(epoll_fd_, events_.data(), max_events, -1);
  } else {
    const uint64_t now = NowNs();
    const uint64_t wait_ns = deadline_ns > now ? deadline_ns - now : 0;
    // A finite, non-zero wait uses epoll_pwait2 (Linux 5.11), which takes
    // nanoseconds: no early wake-up from rounding.
    n = -1;
    if (wait_ns != 0 && use_pwait2_) {
      const timespec ts{time_t(wait_ns / 1000000000u), long(wait_ns % 1000000000u)};
      n = ::epoll_pwait2(epoll_fd_, events_.data(), max_events, &ts, nullptr);
      if (n < 0 && (errno == ENOSYS || errno == EPERM)) use_pwait2_ = false;
    }
    if (wait_ns == 0 || !use_pwait2_) {
      // Round up so that a deadline is never reported early.
      const int ms = int(std::min<uint64_t>((wait_ns + 999999) / 1000000, INT_MAX));
      n = ::epoll_wait(epoll_fd_, events_.data(), max_events, ms);
    }
  }
  return n < 0 ? -errno : n;
}

// DispatchEvents: Dispatch for the first `n` events of events_.
RL_HOT void EpollDriver::DispatchEvents(int n) {
  // By pointer: Dispatch may call out (Register, pool work), so events_.data()
  // would otherwise be loaded again for each event.
  for (const epoll_event *e = events_.data(), *const end = e + n; e != end; ++e) Dispatch(*e);
}

RL_HOT void EpollDriver::Dispatch(const epoll_event& event) {
  // Register puts the fd's FdState in the event (states never move, and an fd
  // number keeps its state for the driver's life); the wake-up fd has nullptr.
  // A state reset by a Close op earlier in this batch has no waiters and is not
  // level-triggered: its stale report only marks it ready, as a lookup by fd
  // number would.
  FdState* s = static_cast<FdState*>(event.data.ptr);
  if (__builtin_expect(s == nullptr, 0)) {
    DrainWakeFd();
    ReapPool();
    return;
  }
  const uint32_t ev = event.events;
  // Whether an op waited for what was reported. A level-triggered registration
  // that reports what nobody waits for reports it again at every epoll_wait:
  // then it is narrowed to what is still waited for (Relax).
  const bool awaited = ((ev & kInEvents) != 0 && s->Waits(WaitList::kIn)) ||
                       ((ev & kOutEvents) != 0 && s->Waits(WaitList::kOut)) ||
                       s->head[int(WaitList::kAny)] != nullptr;
  if (ev & kInEvents) s->readable = true;
  if (ev & kOutEvents) s->writable = true;
  if (ev & kInEvents) RetryIn(*s, WaitList::kIn);
  if (ev & kOutEvents) RetryIn(*s, WaitList::kOut);
  // s->fd is read only here, on the rare paths: not kept across the attempts.
  if (s->head[int(WaitList::kAny)] != nullptr) RetryAny(s->fd);
  if (!awaited && s->level) Relax(s->fd, *s);
}

RL_HOT void EpollDriver::Emit(uint64_t user_data, int res, uint32_t flags) {
  ready_.push_back(Completion{user_data, res, flags});
}

// ---------------------------------------------------------------------------
// Requests.

// StartLone: the hot path of a lone op (no deadline) on a known
// pollable fd: a Read, Recv, Write or Send is tried at once (unless the
// readiness cache says it would block) and, if it would block, parked, with
// no other attempt. False, with nothing done, for any other op or fd: then
// StartOp takes it.
RL_HOT bool EpollDriver::StartLone(const Request& request) {
  RL_DCHECK(request.kind == RequestKind::kOp && !request.link);
  // Lookup: an fd never seen gives the table's none() state, of kind kUnknown.
  FdState* s = fds_.Lookup(request.fd);
  if (s->info.kind != FdInfo::Kind::kPollable) return false;
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

// ParkLoneInJob: StartLone's op would block and cannot have the inline slot (it
// is taken, older Jobs wait, or the op's index is not free): it parks in a Job.
void EpollDriver::ParkLoneInJob(const Request& request, FdState& s, WaitList list) {
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
void EpollDriver::StartOp(const Request& op_request, const Request* timeout) {
  RL_CHECK(op_request.kind == RequestKind::kOp);
  // A linked timeout always belongs to the op right before it.
  if (timeout != nullptr) RL_CHECK(timeout->kind == RequestKind::kLinkTimeout && !timeout->link);
  Begin(NewJob(op_request, timeout));
}

void EpollDriver::DoCancel(const Request& request) {
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

void EpollDriver::DoShutdown(const Request& request) {
  FdInfo none;
  const int res = epoll_internal::TryOnce(Op(Shutdown{request.fd, SHUT_RDWR}), &none);
  Emit(request.user_data, res);
  // The ops parked on it can now end (EOF, EPIPE, EINVAL for a listener): the
  // kernel signals that too, but a retry does not depend on it.
  if (FdState* s = StateOf(request.fd); s != nullptr) RetryAfterShutdown(*s);
}

RL_HOT EpollDriver::Job* EpollDriver::NewJob(const Request& op_request, const Request* timeout) {
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

EpollDriver::Job* EpollDriver::GrowJobs() {
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

RL_HOT void EpollDriver::FreeJob(Job* job) {
  RL_DCHECK(job->tracked == Job::Tracked::kNo && !job->in_pool && job->timer_index == kNoTimer);
  RL_DCHECK(job->list == WaitList::kNone);
  job->op = nullptr;
  job->next = free_jobs_;
  free_jobs_ = job;
}

void EpollDriver::Begin(Job* job) {
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

void EpollDriver::BeginOnFd(Job* job) {
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
void EpollDriver::BeginOnFile(Job* job, FdState& s) {
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
bool EpollDriver::NowFile(int fd, FdState& s) {
  ++stats_.fds_relearnt;
  if (epoll_internal::ClassifyFd(fd, &s.info) < 0 || s.info.kind != FdInfo::Kind::kFile) {
    return false;
  }
  ForgetRegistration(s);
  return true;
}

// NowPollable: the fd learnt as a file (state `s`) is about to be used in a way
// only a file allows: learns it again. True if it names a pollable file now.
bool EpollDriver::NowPollable(int fd, FdState& s) {
  ++stats_.fds_relearnt;
  return epoll_internal::ClassifyFd(fd, &s.info) == 0 && s.info.kind == FdInfo::Kind::kPollable;
}

// ForgetRegistration: what the driver believed about `s`'s epoll registration
// and readiness no longer holds (the file it was made for is gone).
void EpollDriver::ForgetRegistration(FdState& s) {
  s.in_epoll = false;
  s.level = false;
  s.interest = 0;
  s.covers[0] = false;
  s.covers[1] = false;
  s.readable = true;
  s.writable = true;
}

void EpollDriver::Complete(Job* job, int res) { Finish(job, res); }

// Finish: Complete's body, inline where an op completes per round trip (RetryIn).
RL_HOT void EpollDriver::Finish(Job* job, int res) {
  RL_CHECK(!job->in_pool);
  if (job->tracked != Job::Tracked::kNo) Untrack(job);
  if (job->list != WaitList::kNone) Unpark(job);
  if (job->timer_index != kNoTimer) DisarmTimer(job);
  Emit(job->user_data, res);
  if (job->has_timeout) Emit(job->timeout_user_data, job->timeout_res);
  FreeJob(job);
}

int EpollDriver::CloseOp(int fd) {
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
// Attempts and parking.

int EpollDriver::TryPollable(FdState& s, Job* job) {
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

// TryTransfer: one attempt at a Read, Recv, Write or Send on the pollable fd
// whose state is `s`, unless the readiness cache says it would block; kWouldBlock
// for any other op.
RL_HOT int EpollDriver::TryTransfer(FdState& s, const Op& op) {
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

RL_HOT void EpollDriver::NoteWouldBlock(bool* ready) {
  ++stats_.syscalls_would_block;
  *ready = false;
}

RL_HOT int EpollDriver::AfterRead(FdState& s, int res, uint64_t requested) {
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

RL_HOT int EpollDriver::AfterWrite(FdState& s, int res, uint64_t requested) {
  if (__builtin_expect(res == kWouldBlock, 0)) {
    NoteWouldBlock(&s.writable);
  } else if (res >= 0 && s.info.is_stream && uint64_t(res) < requested) {
    s.writable = false;  // the send buffer filled up
  }
  return res;
}

int EpollDriver::TryMultishotAccept(FdState& s, Job* job) {
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

int EpollDriver::Park(FdState& s, Job* job) {
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

// ParkOn: puts `job` at the tail of `list` on its fd (state `s`), first making
// the registration cover `need` (and level-triggered for a read).
RL_HOT int EpollDriver::ParkOn(FdState& s, Job* job, WaitList list, uint32_t need) {
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
RL_HOT void EpollDriver::ParkLone(const Request& request, FdState& s, WaitList list) {
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

// CoverLone: ParkLone's rare step, out of line: makes the registration of `s`
// cover a lone op parking in `list`. On failure the op ends with the error (as
// Complete would end a lone op) and the answer is false.
bool EpollDriver::CoverLone(const Request& request, FdState& s, WaitList list) {
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

// EndLone: queues the final completion of the op in inline slot `w` and empties
// the slot.
RL_HOT void EpollDriver::EndLone(Waiter& w, int res) {
  RL_DCHECK(w.op != nullptr && w.lone != WaitList::kNone);
  const uint32_t index = UserDataSlot(w.user_data);
  RL_DCHECK(index < active_by_index_.size() && active_by_index_[index] == &w);
  active_by_index_[index] = nullptr;
  Emit(w.user_data, res);
  w.op = nullptr;
}

// CancelLone: a kCancel found the op in inline slot `w`: it ends -ECANCELED. The
// registration stays as it is, as for a cancelled Job (Relax narrows it if a
// report comes that nobody waits for).
void EpollDriver::CancelLone(Waiter& w) {
  RL_CHECK(w.op != nullptr);
  RL_CHECK(&w == &StateOf(FdOf(*w.op))->lone[LoneIndex(w.lone)]);
  EndLone(w, -ECANCELED);
}

int EpollDriver::Register(int fd, FdState& s, uint32_t interest, bool level) {
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

void EpollDriver::Relax(int fd, FdState& s) {
  RL_CHECK(s.in_epoll && s.level);
  uint32_t interest = 0;
  if (s.Waits(WaitList::kIn)) interest |= EPOLLIN | EPOLLRDHUP;
  if (s.Waits(WaitList::kOut)) interest |= EPOLLOUT;
  for (Job* j = s.head[int(WaitList::kAny)]; j != nullptr; j = j->next) {
    interest |= std::get<PollAdd>(*j->op).events & kPollMask;
  }
  const bool level = s.Waits(WaitList::kIn);
  if (level && interest == s.interest) return;
  // A failure leaves the registration as it was: at worst one more report.
  (void)Register(fd, s, interest, level);
}

RL_HOT void EpollDriver::Unpark(Job* job) {
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

RL_HOT void EpollDriver::Track(Job* job) {
  RL_CHECK(job->tracked == Job::Tracked::kNo);
  const uint32_t index = UserDataSlot(job->user_data);
  if (index < active_by_index_.size() && active_by_index_[index] == nullptr) {
    job->tracked = Job::Tracked::kIndexed;
    active_by_index_[index] = job;
    return;
  }
  TrackOverflow(job);
}

// TrackOverflow: Track's rare cases: the index array must grow, or the index
// is taken or too large.
void EpollDriver::TrackOverflow(Job* job) {
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

RL_HOT void EpollDriver::Untrack(Job* job) {
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

EpollDriver::Waiter* EpollDriver::FindActive(uint64_t user_data) {
  const uint32_t index = UserDataSlot(user_data);
  if (index < active_by_index_.size()) {
    Waiter* w = active_by_index_[index];
    if (w != nullptr && w->user_data == user_data) return w;
  }
  if (active_overflow_.empty()) return nullptr;
  const auto it = active_overflow_.find(user_data);
  return it == active_overflow_.end() ? nullptr : it->second;
}

RL_HOT void EpollDriver::RetryIn(FdState& s, WaitList list) {
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

// RetryJobs: RetryIn for the Jobs in the wait list `list` of `s`.
void EpollDriver::RetryJobs(FdState& s, WaitList list) {
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

void EpollDriver::RetryAny(int fd) {
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

void EpollDriver::RetryAll(int fd) {
  FdState& s = *fds_.Find(fd);
  RetryIn(s, WaitList::kIn);
  RetryIn(s, WaitList::kOut);
  RetryAny(fd);
}

void EpollDriver::ProcessRetries() {
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
// are "suspects". Before the loop really sleeps, every suspect that still has
// ops parked is checked with EPOLL_CTL_MOD (ENOENT: the registration is gone,
// so it is added again, and the kernel reports what is already ready); and
// every kPollsPerCheck Polls, a loop that never sleeps checks the suspects whose
// ops have stayed parked since the previous check. So an op on a reused number
// waits at most until the loop would sleep, or two checks, never forever; ops
// that complete quickly cost nothing but the bookkeeping.

RL_HOT void EpollDriver::Suspect(FdState& s) {
  s.suspect_epoch = check_epoch_;
  if (__builtin_expect(s.suspect, 1)) return;
  s.suspect = true;
  suspects_.push_back(&s);
}

// CheckSuspects: checks the registrations of suspects with ops still parked:
// all of them, or (`all` false) those parked since before the previous check.
void EpollDriver::CheckSuspects(bool all) {
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
void EpollDriver::CheckRegistration(FdState& s) {
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
void EpollDriver::RetryAfterShutdown(FdState& s) {
  if (s.retry_queued) return;
  s.readable = true;
  s.writable = true;
  QueueRetry(s);
}

// QueueRetry: the ops parked on `s` are tried again at the next retry step.
void EpollDriver::QueueRetry(FdState& s) {
  if (s.retry_queued) return;
  s.retry_queued = true;
  retry_fds_.push_back(s.fd);
  maybe_rare_work_ = true;
}

// TakeParked: takes every op parked on `s` out of its wait lists, oldest first
// per list, as Jobs no longer parked or tracked (inline slots become Jobs).
void EpollDriver::TakeParked(FdState& s, std::vector<Job*>* out) {
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
void EpollDriver::RestartParked(FdState& s) {
  std::vector<Job*> jobs;
  TakeParked(s, &jobs);
  for (Job* job : jobs) Begin(job);
}

// FailParked: every op parked on `s` ends with `err`; the driver forgets what
// it knew about the fd.
void EpollDriver::FailParked(FdState& s, int err) {
  std::vector<Job*> jobs;
  TakeParked(s, &jobs);
  for (Job* job : jobs) Complete(job, err);
  ForgetRegistration(s);
  s.info = FdInfo();
}

// ---------------------------------------------------------------------------
// Linked timeouts (a binary min-heap of TimerEntry; each armed job knows its
// position, so disarming is O(log n) and allocates nothing) and the pool.

void EpollDriver::TimerMoved::operator()(const TimerEntry& e, size_t pos) const {
  e.job->timer_index = uint32_t(pos);
}

// TimerRemove: takes entry `i` out of the heap and disarms its job.
void EpollDriver::TimerRemove(size_t i) {
  timers_.at(i).job->timer_index = kNoTimer;
  timers_.Remove(i);
}

void EpollDriver::ArmTimer(Job* job) {
  if (!job->has_timeout) return;
  RL_CHECK(job->timer_index == kNoTimer);
  timers_.Push(TimerEntry{job->deadline_ns, timer_seq_++, job});
  maybe_rare_work_ = true;
}

void EpollDriver::DisarmTimer(Job* job) {
  RL_CHECK(job->timer_index < timers_.size() && timers_.at(job->timer_index).job == job);
  TimerRemove(job->timer_index);
}

void EpollDriver::FireTimers(uint64_t now_ns) {
  while (!timers_.empty() && timers_.top().deadline_ns <= now_ns) {
    Job* job = timers_.top().job;
    TimerRemove(0);
    ++stats_.timeouts_fired;
    if (job->in_pool) {
      if (!pool_->TryCancel(&job->work)) {
        // Too far along: io_uring's link timeout then posts its cancel's result,
        // -EALREADY, and the op later posts its own.
        Emit(job->timeout_user_data, -EALREADY);
        job->has_timeout = false;
        continue;
      }
      job->in_pool = false;
    }
    job->timeout_res = -ETIME;
    Complete(job, -ECANCELED);
  }
}

void EpollDriver::SendToPool(Job* job) {
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

void EpollDriver::ReapPool() {
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

}  // namespace ringloop
