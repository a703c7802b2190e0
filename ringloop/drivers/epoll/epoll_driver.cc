// ringloop/drivers/epoll/epoll_driver.cc: the readiness driver. See epoll_driver.h for the
// model and internal/driver_impl.h for the state machine; this file is its setup and
// teardown and the Poll cycle.
#include "ringloop/drivers/epoll/epoll_driver.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include "ringloop/core/check.h"
#include "ringloop/core/errno_message.h"
#include "ringloop/core/internal/hot.h"
#include "ringloop/core/ops.h"
#include "ringloop/drivers/epoll/internal/driver_impl.h"
#include "ringloop/drivers/epoll/internal/hot_path.h"
#include "ringloop/drivers/internal/clock.h"

namespace ringloop {
namespace {

absl::Status SyscallError(absl::string_view what, int fd, int err) {
  return absl::Status(absl::ErrnoToStatusCode(err),
                      ErrnoMessage(absl::StrCat(what, "(fd=", fd, ")"), err));
}

}  // namespace

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
  return std::unique_ptr<EpollDriver>(
      new epoll_internal::EpollDriverImpl(options, epoll_fd, wake_fd));
}

bool EpollDriver::SetNonblockOn(int fd) const {
  const auto* s = static_cast<const epoll_internal::EpollDriverImpl*>(this)->fds_.Find(fd);
  return s != nullptr && s->info.set_nonblock;
}

const EpollDriver::Stats& EpollDriver::stats() const {
  return static_cast<const epoll_internal::EpollDriverImpl*>(this)->stats_;
}

uint64_t EpollDriver::wake_writes() const {
  return static_cast<const epoll_internal::EpollDriverImpl*>(this)->wake_writes_.load(
      std::memory_order_relaxed);
}

namespace epoll_internal {

EpollDriverImpl::EpollDriverImpl(Options options, int epoll_fd, int wake_fd)
    : options_(options),
      lone_kind_(options.lone_slots ? epoll_internal::FdInfo::Kind::kPollable : kNoLoneKind),
      epoll_fd_(epoll_fd),
      wake_fd_(wake_fd) {
  RL_CHECK(options_.max_events > 0);
  events_.resize(size_t(options_.max_events));
  if (options_.file_workers > 0) {
    pool_ = std::make_unique<epoll_internal::FilePool>(options_.file_workers, wake_fd_);
  }
}

EpollDriverImpl::~EpollDriverImpl() {
  pool_.reset();  // joins the workers: nobody writes wake_fd_ after this
  fds_.ForEach([](int fd, const FdState& s) { epoll_internal::RestoreFlags(fd, s.info); });
  ::close(wake_fd_);
  ::close(epoll_fd_);
}

uint64_t EpollDriverImpl::NowNs() const { return drivers_internal::MonotonicNowNs(); }

void EpollDriverImpl::Wake() {
  // One write per wake-up: later callers see the flag until Poll drains the fd.
  if (wake_pending_.exchange(true, std::memory_order_acq_rel)) return;
  wake_writes_.fetch_add(1, std::memory_order_relaxed);
  const uint64_t one = 1;
  while (::write(wake_fd_, &one, sizeof(one)) < 0 && errno == EINTR) {
  }
}

void EpollDriverImpl::DrainWakeFd() {
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

EpollDriverImpl::FdState& EpollDriverImpl::EnsureState(int fd) {
  RL_CHECK(fd >= 0);
  FdState& s = fds_.Ensure(fd);  // keeps references to existing states valid
  s.fd = fd;                     // again after a reset (CloseOp, ForgetFd)
  return s;
}

void EpollDriverImpl::ForgetFd(int fd) {
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

absl::Status EpollDriverImpl::Poll(Engine& engine, bool wait) {
  SubmitPending(engine);
  if (__builtin_expect(!suspects_.empty(), 0) && ++polls_since_check_ >= kPollsPerCheck) {
    CheckSuspects(/*all=*/false);
  }
  if (maybe_rare_work_) RetriesAndTimers();
  absl::Status status;
  if (wait && !ready_.empty() && !skipped_wait_) {
    // A Poll that may wait and already has completions need not ask epoll (a
    // request answered at once, a connection's send): its caller runs them and
    // polls again, and that Poll asks. One Poll in two at most skips, so ops
    // that complete at once never starve the fds that wait for readiness.
    skipped_wait_ = true;
  } else {
    skipped_wait_ = false;
    status = WaitAndDispatch(engine, wait && ready_.empty() && !engine.HasEvents());
  }
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
void EpollDriverImpl::RetriesAndTimers() {
  if (!retry_fds_.empty()) ProcessRetries();
  if (!timers_.empty()) FireTimers(NowNs());
  maybe_rare_work_ = !retry_fds_.empty() || !timers_.empty();
}

RL_HOT void EpollDriverImpl::SubmitPending(Engine& engine) {
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

RL_HOT absl::Status EpollDriverImpl::WaitAndDispatch(const Engine& engine, bool block) {
  ++stats_.epoll_waits;
  const int max_events = options_.max_events;  // events_.size(), without a division
  uint64_t deadline = 0;
  if (block) {
    deadline = engine.NextDeadline().value_or(kNoDeadline);
    if (!timers_.empty()) deadline = std::min(deadline, timers_.top().deadline_ns);
  }
  // Ops wait on registrations made for earlier ops (see CheckSuspects): the
  // first sleep lasts at most kSuspectGraceNs. A busy loop's next report comes
  // sooner and costs no check; a loop that stays idle that long checks them and
  // then sleeps on.
  // With no deadline the grace period is epoll_wait's own relative timeout,
  // so this path reads no clock: it is a busy loop's every sleep.
  bool grace = false;
  uint64_t wait_until = deadline;
  if (__builtin_expect(block && !suspects_.empty(), 0)) {
    if (deadline == kNoDeadline) {
      grace = true;  // Wait's idle_ms bounds the sleep
    } else {
      const uint64_t grace_end = NowNs() + kSuspectGraceNs;
      grace = grace_end < deadline;
      if (grace) wait_until = grace_end;
    }
  }
  int n;
  for (;;) {
    n = Wait(max_events, wait_until, grace ? kSuspectGraceMs : -1);
    // A signal without SA_RESTART: wait again (for the rest of the time; a
    // relative grace period starts again).
    if (n == -EINTR) {
      ++stats_.eintr;
      continue;
    }
    if (n != 0 || !grace) break;
    grace = false;
    ++stats_.idle_checks;
    CheckSuspects(/*all=*/true);
    if (!ready_.empty() || !retry_fds_.empty()) break;
    wait_until = deadline;
  }
  if (n < 0) return SyscallError("epoll_wait", epoll_fd_, -n);
  DispatchEvents(n);
  return absl::OkStatus();
}

// Wait: one epoll_wait into events_ until `deadline_ns` (0: do not sleep;
// kNoDeadline: until ready or Wake(), or for at most `idle_ms` if that is not
// -1: a relative timeout, which reads no clock); the number of events or -errno.
RL_HOT int EpollDriverImpl::Wait(int max_events, uint64_t deadline_ns, int idle_ms) {
  int n;
  if (deadline_ns == 0) {
    n = ::epoll_wait(epoll_fd_, events_.data(), max_events, 0);
  } else if (deadline_ns == kNoDeadline) {
    n = ::epoll_wait(epoll_fd_, events_.data(), max_events, idle_ms);
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
RL_HOT void EpollDriverImpl::DispatchEvents(int n) {
  // By pointer: Dispatch may call out (Register, pool work), so events_.data()
  // would otherwise be loaded again for each event.
  for (const epoll_event *e = events_.data(), *const end = e + n; e != end; ++e) Dispatch(*e);
}

RL_HOT void EpollDriverImpl::Dispatch(const epoll_event& event) {
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
  const bool in = (ev & kInEvents) != 0;
  const bool out = (ev & kOutEvents) != 0;
  // A level-triggered registration reports what nobody takes at every
  // epoll_wait. A report nobody waits for is let be once: an op that comes before
  // the next epoll_wait (a connection's next read) takes it, and the
  // registration stays as it is, with no epoll_ctl. Only a report in a direction
  // nobody waits for whose previous report nobody used either (the readiness
  // cache still says ready: no read or write since) would spin the loop: then
  // that direction is dropped from the registration (Relax).
  const bool idle_in = in && s->readable && !s->Waits(WaitList::kIn);
  const bool idle_out = out && s->writable && !s->Waits(WaitList::kOut);
  if (in) s->readable = true;
  if (out) s->writable = true;
  if (in) RetryIn(*s, WaitList::kIn);
  if (out) RetryIn(*s, WaitList::kOut);
  // s->fd is read only here, on the rare paths: not kept across the attempts.
  // Parked PollAdds are asked first; those still parked keep the directions they
  // ask for (Relax), but not a direction only an earlier op wanted: a PollAdd for
  // writing must not make the loop spin on input nobody reads.
  if (s->head[int(WaitList::kAny)] != nullptr) RetryAny(s->fd);
  if (__builtin_expect(idle_in || idle_out, 0) && s->level) {
    Relax(s->fd, *s, idle_in, idle_out, (ev & (EPOLLHUP | EPOLLERR)) != 0);
  }
}

}  // namespace epoll_internal
}  // namespace ringloop
