// ringloop/drivers/uring/internal/cycle.cc: Poll's cycle and its steps: the
// straight path of requests to SQEs, io_uring_enter, reaping CQEs and
// dispatching them to the engine. One file, so that the steps inline into the
// cycle (RL_HOT). See internal/driver_impl.h.
#include <liburing/barrier.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <variant>

#include "absl/strings/str_cat.h"
#include "ringloop/core/check.h"
#include "ringloop/core/errno_message.h"
#include "ringloop/core/internal/hot.h"
#include "ringloop/core/ops.h"
#include "ringloop/drivers/uring/internal/driver_impl.h"

namespace ringloop::uring_internal {

// --- The straight submission path ----------------------------------------------------

RL_HOT void UringDriverImpl::SubmitPending(Engine& engine) {
  if (!resubmit_.empty() && !ResubmitStale()) return;  // ops already the kernel's go first
  const std::span<const Request> requests = engine.PendingRequests();
  size_t done = 0;
  while (done < requests.size()) {
    done += PrepPlainRun(requests.subspan(done));
    if (done == requests.size()) break;
    // A request alone, or an op and its linked timeout: the only link the
    // engine ever hands over (it plays chains itself).
    const size_t n = requests[done].link ? 2 : 1;
    RL_CHECK(done + n <= requests.size());  // the engine never hands over half of a pair
    if (!Push(requests.subspan(done, n))) break;
    done += n;
  }
  engine.ConsumeRequests(done);
}

// FillPlain: fills `sqe` for a plain request, as Push would: a single op
// (no link) of a kind the ring runs, with no registered buffer to look up and no
// socket write to turn into a send. False, leaving `sqe` untouched, otherwise.
// Inlined into PrepPlainRun's loop (RL_HOT): a call per SQE costs about as much
// as the fill.
RL_HOT bool UringDriverImpl::FillPlain(io_uring_sqe* sqe, const Request& r) const {
  if (r.kind != RequestKind::kOp || r.link) return false;
  const Op& op = *r.op;
  const OpKind kind = KindOf(op);
  if (RunsSync(kind)) return false;
  switch (kind) {
    case OpKind::kNop:
      io_uring_prep_nop(sqe);
      break;
    case OpKind::kRead: {
      if (!prep_ctx_.fixed_buffers.empty()) return false;
      const Read& o = *std::get_if<Read>(&op);
      if (o.offset != kCurrentPosition) return false;  // a socket ignores it: PrepOpRequest
      io_uring_prep_read(sqe, o.fd, o.buf, o.len, o.offset);
      break;
    }
    case OpKind::kRecv: {
      const Recv& o = *std::get_if<Recv>(&op);
      if (o.multishot || o.buf_group != kNoBufferGroup) return false;
      io_uring_prep_recv(sqe, o.fd, o.buf, o.len, o.flags);
      break;
    }
    case OpKind::kSend: {
      const Send& o = *std::get_if<Send>(&op);
      io_uring_prep_send(sqe, o.fd, o.buf, o.len, o.flags | MSG_NOSIGNAL);
      break;
    }
    default:
      return false;
  }
  io_uring_sqe_set_data64(sqe, r.user_data);
  return true;
}

// PrepPlainRun: Push's straight path for the requests a service sends most.
// Fills the SQEs of the leading plain requests (FillPlain) while the SQ has
// room; returns how many it took (0: the general path goes next).
RL_HOT size_t UringDriverImpl::PrepPlainRun(std::span<const Request> requests) {
  if (prep_ctx_.fd_slots != nullptr) return 0;
  io_uring_sq& sq = ring_.sq;
  const unsigned mask = sq.ring_mask;
  unsigned tail = sq.sqe_tail;
  const size_t room = std::min<size_t>(requests.size(), sq_free_);
  size_t n = 0;
  while (n < room && FillPlain(&sq.sqes[tail & mask], requests[n])) {
    ++n;
    ++tail;
  }
  sq.sqe_tail = tail;
  sq_free_ -= static_cast<unsigned>(n);
  sqes_in_kernel_ += n;
  stats_.sqes += n;
  return n;
}

bool UringDriverImpl::StraightAndGeneralForTest(const Request& r, io_uring_sqe* straight,
                                                io_uring_sqe* general) {
  RL_CHECK(r.kind == RequestKind::kOp && !r.link);
  RL_CHECK(EnsureRoom(1));
  io_uring_sq& sq = ring_.sq;
  const unsigned tail = sq.sqe_tail;
  const unsigned sq_free = sq_free_;
  const uint64_t in_kernel = sqes_in_kernel_;
  const UringStats stats = stats_;
  io_uring_sqe* const at = &sq.sqes[tail & sq.ring_mask];
  auto fill = [&](auto&& prep, io_uring_sqe* out) {
    std::memset(at, 0xa5, sizeof(*at));  // a byte one path leaves and the other writes shows
    const bool took = prep();
    *out = *at;
    sq.sqe_tail = tail;
    sq_free_ = sq_free;
    sqes_in_kernel_ = in_kernel;
    stats_ = stats;
    return took;
  };
  const std::span<const Request> unit(&r, 1);
  if (!fill([&] { return PrepPlainRun(unit) == 1; }, straight)) return false;
  RL_CHECK(fill([&] { return Push(unit); }, general));
  return true;
}

// --- The kernel boundary --------------------------------------------------------------

absl::Status EnterError(int err) {
  const std::string what = ErrnoMessage("io_uring_enter", err) + ": ";
  switch (err) {
    case EBADR:
      return absl::DataLossError(absl::StrCat(what, "the kernel dropped a completion"));
    case EEXIST:
      return absl::FailedPreconditionError(
          absl::StrCat(what, "called from a thread other than the ring's owner (SINGLE_ISSUER)"));
    case EOWNERDEAD:
      return absl::UnavailableError(absl::StrCat(what, "the SQPOLL thread is gone"));
    default:
      return absl::InternalError(absl::StrCat(what, "unexpected"));
  }
}

// FlushSq: publishes the filled SQEs; returns how many the kernel has yet to take.
unsigned UringDriverImpl::FlushSq() {
  io_uring_sq& sq = ring_.sq;
  const unsigned tail = sq.sqe_tail;
  if (sq.sqe_head != tail) {
    sq.sqe_head = tail;
    // Make the SQE stores visible before the tail store.
    io_uring_smp_store_release(sq.ktail, tail);
  }
  // With SQPOLL the kernel thread moves the head concurrently.
  return tail - io_uring_smp_load_acquire(sq.khead);
}

// SubmitFlags: IORING_ENTER_SQ_WAKEUP when the SQPOLL thread sleeps.
unsigned UringDriverImpl::SubmitFlags() const {
  if (!options_.sqpoll) return 0;
  // Order the tail store before reading the flags (the kernel does the reverse).
  io_uring_smp_mb();
  return (IO_URING_READ_ONCE(*ring_.sq.kflags) & IORING_SQ_NEED_WAKEUP) != 0
             ? IORING_ENTER_SQ_WAKEUP
             : 0;
}

int UringDriverImpl::Enter(unsigned to_submit, unsigned min_complete, unsigned flags,
                           const __kernel_timespec* ts) {
  ++stats_.enters;
  if (ts == nullptr) {
    return io_uring_enter2(ring_.ring_fd, to_submit, min_complete, flags, nullptr, _NSIG / 8);
  }
  io_uring_getevents_arg arg{};
  arg.sigmask_sz = _NSIG / 8;
  arg.ts = reinterpret_cast<uint64_t>(ts);
  return io_uring_enter2(ring_.ring_fd, to_submit, min_complete, flags | IORING_ENTER_EXT_ARG,
                         reinterpret_cast<sigset_t*>(&arg), sizeof(arg));
}

// CqNeedsFlush: completions wait in the kernel (overflow list, or task work under
// COOP/DEFER_TASKRUN) until we enter with GETEVENTS.
bool UringDriverImpl::CqNeedsFlush() const {
  return (IO_URING_READ_ONCE(*ring_.sq.kflags) & (IORING_SQ_CQ_OVERFLOW | IORING_SQ_TASKRUN)) != 0;
}

// SubmitAndWait: one io_uring_enter that submits what is queued and, if nothing is
// to report yet, sleeps until a CQE or `wait_until_ns` (0: never; kNoDeadline: no
// timeout), with one EXT_ARG timeout rather than a timer SQE.
RL_HOT absl::Status UringDriverImpl::SubmitAndWait(const Engine& engine, uint64_t wait_until_ns) {
  for (int attempt = 0; attempt < kEnterAttempts; ++attempt) {
    bool block = wait_until_ns != 0 && io_uring_cq_ready(&ring_) == 0 && local_.empty() &&
                 !engine.HasEvents() && !CqNeedsFlush();
    __kernel_timespec timeout{};
    const __kernel_timespec* ts = nullptr;
    if (block && wait_until_ns != kNoDeadline) {
      const uint64_t now = NowNs();
      block = wait_until_ns > now;
      timeout = ToTimespec(block ? wait_until_ns - now : 0);
      ts = &timeout;
    }
    const unsigned to_submit = FlushSq();
    unsigned flags = SubmitFlags();
    if (block || CqNeedsFlush()) flags |= IORING_ENTER_GETEVENTS;
    const bool must_enter = flags != 0 || (!options_.sqpoll && to_submit > 0);
    if (!must_enter) return absl::OkStatus();
    const int ret = Enter(to_submit, block ? 1 : 0, flags, block ? ts : nullptr);
    if (ret >= 0) {
      // A positive count hides the wait's -ETIME/-EINTR: wait again if still idle.
      if (!block || io_uring_cq_ready(&ring_) > 0) return absl::OkStatus();
      continue;
    }
    switch (-ret) {
      case ETIME:
        return absl::OkStatus();
      case EINTR:
        ++stats_.eintr;
        continue;
      case EBUSY:
      case EAGAIN:
        ++stats_.busy;  // reap frees the CQ; the queued SQEs go with the next enter
        return absl::OkStatus();
      default:
        return EnterError(-ret);
    }
  }
  return absl::OkStatus();
}

// The CQ ring read in place as core's Completions (Reap hands runs of it to
// Engine::HandleCompletions without a copy): the driver never sets up CQE32,
// so each entry is a struct io_uring_cqe of 16 bytes whose fields are
// Completion's, at the same offsets.
static_assert(sizeof(io_uring_cqe) == sizeof(Completion));
static_assert(offsetof(io_uring_cqe, user_data) == offsetof(Completion, user_data));
static_assert(offsetof(io_uring_cqe, res) == offsetof(Completion, res));
static_assert(offsetof(io_uring_cqe, flags) == offsetof(Completion, flags));
static_assert(sizeof(io_uring_cqe::user_data) == sizeof(Completion::user_data));
static_assert(sizeof(io_uring_cqe::res) == sizeof(Completion::res));
static_assert(sizeof(io_uring_cqe::flags) == sizeof(Completion::flags));

// Reap: feeds the engine, in the order they were decided, the completions the
// driver decided itself while submitting, every CQE (flushing an overflowed CQ),
// and the completions decided while reaping. `engine` is null while draining.
RL_HOT absl::Status UringDriverImpl::Reap(Engine* engine) {
  if (!local_.empty()) FeedLocal(engine);
  io_uring_cq& cq = ring_.cq;
  RL_DCHECK((ring_.flags & IORING_SETUP_CQE32) == 0);  // Setup never asks for it
  const Completion* const cqes = reinterpret_cast<const Completion*>(cq.cqes);
  const unsigned mask = cq.ring_mask;
  const unsigned entries = cq.ring_entries;
  for (int round = 0; round < kFlushRounds; ++round) {
    // The CQEs present now; later ones wait for the next round or Poll.
    unsigned head = *cq.khead;
    const unsigned tail = io_uring_smp_load_acquire(cq.ktail);
    while (head != tail) {
      const unsigned at = head & mask;
      // The run of final CQEs of engine requests from `at` goes to the engine as
      // it lies in the ring (up to the ring's end: a run never wraps), when the
      // engine is there and no stale retry waits for a timeout (only Dispatch
      // changes that). Any other CQE goes through Dispatch alone, so order is kept.
      size_t run = 0;
      if (engine != nullptr && awaiting_timeouts_ == 0) {
        const size_t most =
            std::min<uint64_t>(std::min(tail - head, entries - at), sqes_in_kernel_);
        const Completion* const from = cqes + at;
        while (run < most && !IsDriverUserData(from[run].user_data) &&
               (from[run].flags & IORING_CQE_F_MORE) == 0 && !IsStaleAnswer(from[run].res)) {
          ++run;
        }
      }
      if (run > 0) {
        sqes_in_kernel_ -= run;
        stats_.cqes += run;
        engine->HandleCompletions(std::span<const Completion>(cqes + at, run));
        head += static_cast<unsigned>(run);
        continue;
      }
      const Completion c = cqes[at];
      Dispatch(engine, c.user_data, c.res, c.flags);
      ++head;
    }
    // Hand the CQ entries back to the kernel only once the engine has read them.
    io_uring_smp_store_release(cq.khead, head);
    // Only an overflowed CQ is flushed here. Completions waiting as task work
    // (IORING_SQ_TASKRUN) wait for the next Poll's enter, which submits and
    // runs them in one syscall: entering for them now would cost a syscall of
    // its own per Poll.
    if ((IO_URING_READ_ONCE(*ring_.sq.kflags) & IORING_SQ_CQ_OVERFLOW) == 0) break;
    ++stats_.overflow_flushes;
    const int ret = Enter(0, 0, IORING_ENTER_GETEVENTS, nullptr);
    if (ret < 0 && ret != -EINTR && ret != -EBUSY && ret != -EAGAIN) return EnterError(-ret);
  }
  if (!local_.empty()) FeedLocal(engine);
  return absl::OkStatus();
}

// --- The cycle --------------------------------------------------------------------------

// Cycle: one Poll: submit what the engine has, enter once (waiting at most
// `max_wait_ns`: 0 never, kNoDeadline until a completion or the engine's next
// deadline), reap, and advance the engine's time if it keeps a deadline. Its
// steps are inlined into it (RL_HOT): at one op per Poll their calls cost about
// a sixth of the cycle (callgrind, NOP at batch 1: 86 of 497 instructions).
// Poll and PollFor each inline it whole: a program uses one of them (the Loop
// only Poll), so the copy costs no cache and saves a frame.
RL_HOT absl::Status UringDriverImpl::Cycle(Engine& engine, uint64_t max_wait_ns) {
  if (!wake_armed_) ArmWake();
  SubmitPending(engine);
  if (!wake_armed_) ArmWake();  // the SQ had no room before: try again now
  uint64_t wait_until_ns = 0;
  if (max_wait_ns == kNoDeadline) {
    wait_until_ns = kNoDeadline;
  } else if (max_wait_ns > 0) {
    wait_until_ns = NowNs() + max_wait_ns;
  }
  if (wait_until_ns != 0) {
    const std::optional<uint64_t> deadline = engine.NextDeadline();
    if (deadline.has_value()) wait_until_ns = std::min(wait_until_ns, *deadline);
  }
  absl::Status status = SubmitAndWait(engine, wait_until_ns);
  absl::Status reaped = Reap(&engine);
  if (engine.NextDeadline().has_value()) engine.AdvanceTime(NowNs());
  if (!status.ok()) return status;
  return reaped;
}

absl::Status UringDriverImpl::Poll(Engine& engine, bool wait) {
  return Cycle(engine, wait ? kNoDeadline : 0);
}

absl::Status UringDriverImpl::PollFor(Engine& engine, uint64_t max_wait_ns) {
  return Cycle(engine, max_wait_ns);
}

void UringDriverImpl::FeedLocal(Engine* engine) {
  if (engine != nullptr) {
    // HandleCompletion never calls back into the driver, so local_ is stable here.
    for (const LocalCompletion& c : local_) engine->HandleCompletion(c.user_data, c.res, 0);
  }
  local_.clear();
}

void UringDriverImpl::Dispatch(Engine* engine, uint64_t user_data, int32_t res, uint32_t flags) {
  ++stats_.cqes;
  const bool final_cqe = (flags & IORING_CQE_F_MORE) == 0;
  if (IsDriverUserData(user_data)) {
    switch (user_data) {
      case kWakeUserData:
        RL_CHECK(final_cqe && sqes_in_kernel_ > 0);
        --sqes_in_kernel_;
        ++stats_.wakeups;
        wake_armed_ = false;
        wake_pending_.store(false);  // seq_cst: pairs with Wake()'s exchange
        return;
      case kDriverCancelUserData:
      case kMsgRingSentUserData:
        RL_CHECK(final_cqe && sqes_in_kernel_ > 0);
        --sqes_in_kernel_;
        return;
      case kMsgRingWakeUserData:
        ++stats_.msg_ring_wakeups;  // posted by another ring: no SQE of ours behind it
        return;
      default:
        ++stats_.foreign_cqes;  // posted into this ring by someone else: ignored
        return;
    }
  }
  if (final_cqe) {
    RL_CHECK(sqes_in_kernel_ > 0);
    --sqes_in_kernel_;
    if ((IsStaleAnswer(res) || awaiting_timeouts_ != 0) && TakeStale(user_data, res)) return;
  }
  if (engine != nullptr) engine->HandleCompletion(user_data, res, flags);
}

}  // namespace ringloop::uring_internal
