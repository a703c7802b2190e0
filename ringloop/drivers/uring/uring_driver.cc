// ringloop/drivers/uring/uring_driver.cc: requests -> SQEs, CQEs -> engine inputs.
#include "ringloop/drivers/uring/uring_driver.h"

#include <liburing/barrier.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>
#include <variant>

#include "absl/strings/str_cat.h"
#include "ringloop/core/check.h"
#include "ringloop/core/errno_message.h"
#include "ringloop/core/ops.h"
#include "ringloop/drivers/internal/clock.h"
#include "ringloop/drivers/internal/fd_facts.h"
#include "ringloop/drivers/sync_op.h"

namespace ringloop {
namespace {

// The driver's own user_data: kind 7, one of the kinds request.h reserves for
// drivers, so that IsDriverUserData tells them from the engine's.
constexpr uint8_t kUringKind = 7;
constexpr uint64_t kWakeUserData = DriverUserData(kUringKind, 1);          // the eventfd read
constexpr uint64_t kDriverCancelUserData = DriverUserData(kUringKind, 2);  // CancelFd, drain
constexpr uint64_t kMsgRingSentUserData = DriverUserData(kUringKind, 3);   // our MSG_RING's CQE
constexpr uint64_t kMsgRingWakeUserData = DriverUserData(kUringKind, 4);   // another ring's

// OffsetOf: the offset of a Read, Readv, Write or Writev (kCurrentPosition for
// any other op).
uint64_t OffsetOf(const Op& op) {
  if (const Read* r = std::get_if<Read>(&op)) return r->offset;
  if (const Readv* r = std::get_if<Readv>(&op)) return r->offset;
  if (const Write* w = std::get_if<Write>(&op)) return w->offset;
  if (const Writev* w = std::get_if<Writev>(&op)) return w->offset;
  return kCurrentPosition;
}

// IsStaleAnswer: a result that may mean the fd cache was wrong about the fd of
// the op it answers (see UringDriver::StaleRetry).
bool IsStaleAnswer(int32_t res) { return res == -ENOTSOCK || res == -ESPIPE; }

// kEnterAttempts: io_uring_enter retries within one Poll (EINTR, spurious returns).
constexpr int kEnterAttempts = 64;
// kFlushRounds: CQ overflow flushes within one Poll; the rest wait for the next Poll.
constexpr int kFlushRounds = 64;
// kNoOpcode: OpKinds the ring never sees.
constexpr unsigned kNoOpcode = ~0u;

// OpcodeOf: the io_uring opcode that performs an op of `kind`.
unsigned OpcodeOf(OpKind kind) {
  static constexpr unsigned kOpcodes[] = {
      IORING_OP_NOP,        IORING_OP_READ,     IORING_OP_WRITE,    IORING_OP_READV,
      IORING_OP_WRITEV,     IORING_OP_RECV,     IORING_OP_SEND,     IORING_OP_ACCEPT,
      IORING_OP_CONNECT,    IORING_OP_SHUTDOWN, IORING_OP_POLL_ADD, IORING_OP_CLOSE,
      IORING_OP_OPENAT,     IORING_OP_FSYNC,    IORING_OP_STATX,    IORING_OP_UNLINKAT,
      IORING_OP_MKDIRAT,    IORING_OP_RENAMEAT, IORING_OP_SOCKET,   uring_abi::kOpBind,
      uring_abi::kOpListen, kNoOpcode,
  };
  static_assert(sizeof(kOpcodes) / sizeof(kOpcodes[0]) == kOpKindCount);
  return kOpcodes[static_cast<size_t>(kind)];
}

__kernel_timespec ToTimespec(uint64_t ns) {
  __kernel_timespec ts;
  ts.tv_sec = static_cast<int64_t>(ns / 1'000'000'000u);
  ts.tv_nsec = static_cast<long long>(ns % 1'000'000'000u);
  return ts;
}

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

absl::Status ValidateOptions(const UringDriver::Options& o) {
  if (o.sq_entries < 2 || o.sq_entries > 32768) {
    return absl::InvalidArgumentError("UringDriver: sq_entries must be in [2, 32768]");
  }
  if (o.cq_entries != 0 && (o.cq_entries < o.sq_entries || o.cq_entries > 65536)) {
    return absl::InvalidArgumentError(
        "UringDriver: cq_entries must be 0 or in [sq_entries, 65536]");
  }
  if (o.defer_taskrun && !o.single_issuer) {
    return absl::InvalidArgumentError("UringDriver: defer_taskrun needs single_issuer");
  }
  if (o.sqpoll && (o.defer_taskrun || o.coop_taskrun)) {
    return absl::InvalidArgumentError(
        "UringDriver: sqpoll excludes defer_taskrun and coop_taskrun (the kernel refuses)");
  }
  if ((o.force_sync_ops & ~SyncCapableMask()) != 0) {
    return absl::InvalidArgumentError(
        "UringDriver: force_sync_ops names an op that may block (only ops for which "
        "CanRunSync() holds may run as syscalls)");
  }
  return absl::OkStatus();
}

uint32_t SetupFlags(const UringDriver::Options& o) {
  uint32_t flags = IORING_SETUP_SUBMIT_ALL;
  if (o.cq_entries != 0) flags |= IORING_SETUP_CQSIZE;
  if (o.sqpoll) flags |= IORING_SETUP_SQPOLL;
  if (o.single_issuer) flags |= IORING_SETUP_SINGLE_ISSUER;
  if (o.defer_taskrun) flags |= IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
  if (o.coop_taskrun) flags |= IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
  return flags;
}

bool PlainRingWorks() {
  io_uring ring;
  if (io_uring_queue_init(2, &ring, 0) < 0) return false;
  io_uring_queue_exit(&ring);
  return true;
}

}  // namespace

// --- Setup and teardown -------------------------------------------------------------

UringDriver::UringDriver(Options options) : options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<UringDriver>> UringDriver::Create(Options options) {
  absl::Status valid = ValidateOptions(options);
  if (!valid.ok()) return valid;
  std::unique_ptr<UringDriver> d(new UringDriver(std::move(options)));
  absl::Status status = d->Setup();
  if (status.ok()) status = d->RegisterResources();
  if (!status.ok()) return status;
  return d;
}

absl::Status UringDriver::Probe() {
  absl::StatusOr<UringCapabilities> caps = ProbeUring();
  if (!caps.ok()) return caps.status();
  return CheckDriverRequirements(*caps);
}

absl::Status UringDriver::Setup() {
  uint32_t flags = SetupFlags(options_);
  int ret = 0;
  for (;;) {
    io_uring_params params{};
    params.flags = flags;
    params.cq_entries = options_.cq_entries;
    params.sq_thread_idle = options_.sqpoll_idle_ms;
    ret = io_uring_queue_init_params(options_.sq_entries, &ring_, &params);
    if (ret == -EINVAL && (flags & IORING_SETUP_SUBMIT_ALL) != 0) {
      flags &= ~IORING_SETUP_SUBMIT_ALL;  // before 5.18: a refused SQE stops the batch
      continue;
    }
    if (ret == 0) caps_.features = params.features;
    break;
  }
  if (ret < 0) return SetupError(-ret, flags, -ret != ENOSYS && PlainRingWorks());
  ring_ready_ = true;
  sq_capacity_ = ring_.sq.ring_entries;
  io_uring_probe* probe = io_uring_get_probe_ring(&ring_);
  if (probe == nullptr) {
    return absl::UnavailableError(
        "io_uring_register(IORING_REGISTER_PROBE) failed: the kernel predates Linux 5.6");
  }
  caps_.last_op = probe->last_op;
  for (unsigned i = 0; i < probe->ops_len && i < uring_abi::kMaxOpcode; ++i) {
    if ((probe->ops[i].flags & IO_URING_OP_SUPPORTED) != 0) caps_.opcodes.set(probe->ops[i].op);
  }
  io_uring_free_probe(probe);
  absl::Status required = CheckDriverRequirements(caps_);
  if (!required.ok()) return required;
  sync_mask_ = options_.force_sync_ops;
  for (size_t k = 0; k < kOpKindCount; ++k) {
    const unsigned opcode = OpcodeOf(static_cast<OpKind>(k));
    if (opcode != kNoOpcode && !caps_.Supports(opcode)) {
      RL_CHECK(CanRunSync(static_cast<OpKind>(k)));  // CheckDriverRequirements saw to it
      sync_mask_ |= 1u << k;
    }
  }
  event_fd_ = eventfd(0, EFD_CLOEXEC);  // blocking: a nonblocking one would read -EAGAIN
  if (event_fd_ < 0) {
    return absl::ResourceExhaustedError(ErrnoMessage("eventfd", errno));
  }
  return absl::OkStatus();
}

absl::Status UringDriver::RegisterResources() {
  if (options_.registered_file_slots > 0) {
    const int ret = io_uring_register_files_sparse(&ring_, options_.registered_file_slots);
    if (ret < 0) {
      return absl::FailedPreconditionError(
          ErrnoMessage(absl::StrCat("io_uring_register(IORING_REGISTER_FILES2, sparse ",
                                    options_.registered_file_slots, ")"),
                       -ret));
    }
    for (uint32_t i = options_.registered_file_slots; i-- > 0;) free_slots_.push_back(i);
    prep_ctx_.fd_slots = &fd_slots_;
  }
  if (!options_.registered_buffers.empty()) {
    const int ret =
        io_uring_register_buffers(&ring_, options_.registered_buffers.data(),
                                  static_cast<unsigned>(options_.registered_buffers.size()));
    if (ret < 0) {
      return absl::Status(
          ret == -ENOMEM ? absl::StatusCode::kResourceExhausted
                         : absl::StatusCode::kInvalidArgument,
          absl::StrCat(ErrnoMessage(absl::StrCat("io_uring_register(IORING_REGISTER_BUFFERS, ",
                                                 options_.registered_buffers.size(), " buffers)"),
                                    -ret),
                       ret == -ENOMEM ? " (registered buffers are pinned: memlock limit)" : ""));
    }
    prep_ctx_.fixed_buffers = options_.registered_buffers;
  }
  return absl::OkStatus();
}

UringDriver::~UringDriver() {
  if (ring_ready_) {
    Drain();
    buffer_rings_.clear();  // unregisters each group while the ring is alive
    io_uring_queue_exit(&ring_);
  }
  // No other thread may call Wake() any more (the driver's lifetime ends here).
  if (event_fd_ >= 0) close(event_fd_);
}

// Drain: cancels every SQE still in the kernel and waits for all their CQEs. Cancel
// is repeated after each quiet 100 ms (an op past cancelling answers -EALREADY and
// completes on its own).
void UringDriver::Drain() {
  bool cancel_in_flight = false;
  while (sqes_in_kernel_ > 0) {
    if (!cancel_in_flight && EnsureRoom(1)) {
      io_uring_sqe* sqe = NextSqe();
      io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
      io_uring_sqe_set_data64(sqe, kDriverCancelUserData);
      cancel_in_flight = true;
    }
    const __kernel_timespec quiet = ToTimespec(100'000'000);
    const uint64_t before = stats_.cqes;
    const int ret = Enter(FlushSq(), 1, IORING_ENTER_GETEVENTS | SubmitFlags(), &quiet);
    if (ret < 0 && ret != -ETIME && ret != -EINTR && ret != -EBUSY && ret != -EAGAIN) break;
    unsigned head;
    unsigned n = 0;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      if (cqe->user_data == kDriverCancelUserData) cancel_in_flight = false;
      Dispatch(nullptr, cqe->user_data, cqe->res, cqe->flags);
      ++n;
    }
    io_uring_cq_advance(&ring_, n);
    if (stats_.cqes == before) cancel_in_flight = false;  // quiet: cancel again
  }
}

// --- Driver --------------------------------------------------------------------------

uint64_t UringDriver::NowNs() const { return drivers_internal::MonotonicNowNs(); }

void UringDriver::Wake() {
  // One write per wake-up: the flag is cleared by the owner when the read completes.
  if (wake_pending_.exchange(true)) return;
  wake_writes_.fetch_add(1, std::memory_order_relaxed);
  const uint64_t one = 1;
  ssize_t n;
  do {
    n = write(event_fd_, &one, sizeof(one));
  } while (n < 0 && errno == EINTR);
  RL_CHECK(n == sizeof(one));
}

absl::Status UringDriver::Poll(Engine& engine, bool wait) {
  return PollFor(engine, wait ? kNoDeadline : 0);
}

absl::Status UringDriver::PollFor(Engine& engine, uint64_t max_wait_ns) {
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
  return status.ok() ? reaped : status;
}

// --- Submission ----------------------------------------------------------------------

void UringDriver::SubmitPending(Engine& engine) {
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

// PrepPlainRun: Push's straight path for the requests a service sends most.
// Fills the SQEs of the leading plain requests (FillPlain) while the SQ has
// room; returns how many it took (0: the general path goes next).
size_t UringDriver::PrepPlainRun(std::span<const Request> requests) {
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

// FillPlain: fills `sqe` for a plain request, as Push would: a single op
// (no link) of a kind the ring runs, with no registered buffer to look up and no
// socket write to turn into a send. False, leaving `sqe` untouched, otherwise.
bool UringDriver::FillPlain(io_uring_sqe* sqe, const Request& r) const {
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

// Push: fills the SQEs of `unit` (a request, or an op and its linked timeout),
// or performs it as a syscall (RunsSync); false if it must stay pending (no room).
bool UringDriver::Push(std::span<const Request> unit) {
  RL_CHECK(unit.size() == 1 || (unit[0].kind == RequestKind::kOp &&
                                unit[1].kind == RequestKind::kLinkTimeout && !unit[1].link));
  if (sync_mask_ != 0 && IsLocal(unit[0])) {
    RunLocal(unit);
    return true;
  }
  if (!EnsureRoom(static_cast<unsigned>(unit.size()))) return false;
  for (const Request& r : unit) PrepRequest(r);
  return true;
}

// IsLocal: whether `r` is performed as its syscall on the loop's thread.
bool UringDriver::IsLocal(const Request& r) const {
  switch (r.kind) {
    case RequestKind::kOp:
      return RunsSync(KindOf(*r.op));
    case RequestKind::kShutdown:
      return RunsSync(OpKind::kShutdown);
    case RequestKind::kLinkTimeout:
    case RequestKind::kCancel:
      return false;
  }
  return false;
}

// RunLocal: performs unit[0] as its syscall and posts its result; its linked
// timeout, if any, is posted -ECANCELED after it (the op finished first), as the
// kernel posts a timeout its op beat.
void UringDriver::RunLocal(std::span<const Request> unit) {
  const Request& r = unit[0];
  int32_t res = 0;
  if (r.kind == RequestKind::kOp) {
    if (KindOf(*r.op) == OpKind::kClose) ForgetFd(std::get<Close>(*r.op).fd);
    res = RunSync(*r.op);
  } else {
    res = RunSync(Shutdown{r.fd, SHUT_RDWR});
  }
  ++stats_.sync_ops;
  PostLocal(r.user_data, res);
  if (unit.size() == 2) PostLocal(unit[1].user_data, -ECANCELED);
}

// PrepRequest: fills the next SQE for `r` (an op with `link` set is followed
// by its linked timeout).
void UringDriver::PrepRequest(const Request& r) {
  io_uring_sqe* sqe = NextSqe();
  switch (r.kind) {
    case RequestKind::kOp:
      PrepOpRequest(sqe, r);
      break;
    case RequestKind::kLinkTimeout: {
      AttachTimeout(r);
      // The kernel reads the timespec when it takes the SQE (with SQPOLL, some time
      // later): it lives in the entry of the op's slot, untouched until this
      // timeout's CQE is in (request.h: a slot is reused only after that).
      const uint32_t index = UserDataSlot(r.user_data);
      if (index >= link_timeouts_.size()) link_timeouts_.resize(size_t{index} + 1);
      link_timeouts_[index] = ToTimespec(r.deadline_ns);
      io_uring_prep_link_timeout(sqe, &link_timeouts_[index], IORING_TIMEOUT_ABS);
      break;
    }
    case RequestKind::kCancel:
      io_uring_prep_cancel64(sqe, r.target, 0);
      break;
    case RequestKind::kShutdown:
      uring_internal::PrepOp(sqe, Shutdown{r.fd, SHUT_RDWR}, prep_ctx_);
      break;
  }
  // The link flag belongs in sqe->flags, never in the opcode.
  if (r.link) sqe->flags |= IOSQE_IO_LINK;
  io_uring_sqe_set_data64(sqe, r.user_data);
}

void UringDriver::PrepOpRequest(io_uring_sqe* sqe, const Request& r) {
  const Op& op = *r.op;
  switch (KindOf(op)) {
    case OpKind::kClose:
      ForgetFd(std::get<Close>(op).fd);
      break;
    case OpKind::kWrite:
    case OpKind::kWritev:
      PrepTransfer(sqe, r, /*read=*/false);
      return;
    case OpKind::kRead:
    case OpKind::kReadv:
      // At the file position a read is the same on every file: no class needed.
      if (OffsetOf(op) == kCurrentPosition) break;
      PrepTransfer(sqe, r, /*read=*/true);
      return;
    default:
      break;
  }
  uring_internal::PrepOp(sqe, op, prep_ctx_);
}

// PrepTransfer: a write, or a read at an explicit offset, as the fd cache says
// the fd must be written or read. On a socket it is a send (MSG_NOSIGNAL: EPIPE,
// never SIGPIPE) or a recv, its offset ignored: a socket has no position, and
// the epoll driver and the simulator ignore it too (io_uring would fail a
// nonzero one with -ESPIPE, and does ignore it on a pipe). Elsewhere it is
// itself. Either way the answer that would mean the cache was wrong (-ENOTSOCK
// from the socket form, -ESPIPE from an offset on what is a socket now) is
// caught by a StaleRetry.
void UringDriver::PrepTransfer(io_uring_sqe* sqe, const Request& r, bool read) {
  const Op& op = *r.op;
  const FdClass c = ClassOf(FdOf(op));
  const bool vectored = KindOf(op) == OpKind::kReadv || KindOf(op) == OpKind::kWritev;
  if (c == FdClass::kSocket || c == FdClass::kSeqpacketSocket) {
    msghdr* msg = vectored ? MsgOf(r.user_data) : nullptr;
    if (read) {
      uring_internal::PrepSocketRead(sqe, op, msg, prep_ctx_);
    } else {
      // sock_write_iter adds MSG_EOR for SOCK_SEQPACKET.
      const int flags = c == FdClass::kSeqpacketSocket ? MSG_NOSIGNAL | MSG_EOR : MSG_NOSIGNAL;
      uring_internal::PrepSocketWrite(sqe, op, flags, msg, prep_ctx_);
      ++stats_.socket_writes;
    }
    ArmStaleRetry(r, c);
    return;
  }
  uring_internal::PrepOp(sqe, op, prep_ctx_);
  const uint64_t offset = OffsetOf(op);
  if (offset != kCurrentPosition && offset != 0) ArmStaleRetry(r, c);
}

// MsgOf: the msghdr of the op whose user_data is `user_data`, sent as SENDMSG or
// RECVMSG. The kernel reads it when it issues the op (with SQPOLL, some time
// after this Poll): it lives in the entry of the op's slot, which request.h
// reuses only after this op's final completion (and an op goes again after
// -EINTR only once its CQE is in).
msghdr* UringDriver::MsgOf(uint64_t user_data) {
  const uint32_t index = UserDataSlot(user_data);
  if (index >= msgs_.size()) msgs_.resize(size_t{index} + 1);
  return &msgs_[index];
}

// NextSqe: the next free SQE (liburing's io_uring_get_sqe, minus its head load:
// EnsureRoom has counted the room into sq_free_).
io_uring_sqe* UringDriver::NextSqe() {
  RL_CHECK(sq_free_ > 0);  // callers made room first
  --sq_free_;
  io_uring_sq& sq = ring_.sq;
  io_uring_sqe* sqe = &sq.sqes[sq.sqe_tail & sq.ring_mask];
  ++sq.sqe_tail;
  ++sqes_in_kernel_;
  ++stats_.sqes;
  return sqe;
}

// EnsureRoom: true once the SQ has `n` free entries, submitting what is queued (and
// with SQPOLL, waiting for the kernel thread to take it) if needed.
bool UringDriver::EnsureRoom(unsigned n) {
  RL_CHECK(n <= sq_capacity_);
  if (sq_free_ >= n) return true;  // a lower bound: the kernel only frees entries
  for (int attempt = 0; attempt < kEnterAttempts; ++attempt) {
    sq_free_ = io_uring_sq_space_left(&ring_);
    if (sq_free_ >= n) return true;
    if (attempt == 0) ++stats_.full_sq_submits;
    unsigned flags = SubmitFlags();
    if (options_.sqpoll) flags |= IORING_ENTER_SQ_WAIT;
    const int ret = Enter(FlushSq(), 0, flags, nullptr);
    if (ret == -EINTR) continue;
    if (ret == -EBUSY || ret == -EAGAIN) ++stats_.busy;
    if (ret < 0) break;
  }
  sq_free_ = io_uring_sq_space_left(&ring_);
  return sq_free_ >= n;
}

void UringDriver::ArmWake() {
  if (!EnsureRoom(1)) return;
  io_uring_sqe* sqe = NextSqe();
  io_uring_prep_read(sqe, event_fd_, &wake_buf_, sizeof(wake_buf_), 0);
  io_uring_sqe_set_data64(sqe, kWakeUserData);
  wake_armed_ = true;
}

// --- Fd facts ------------------------------------------------------------------------

// ClassOf: what `fd` is, from the fd cache (learnt on first use).
UringDriver::FdClass UringDriver::ClassOf(int fd) {
  const FdClass c =
      fd >= 0 && size_t(fd) < fd_classes_.size() ? fd_classes_[fd] : FdClass::kUnknown;
  return c != FdClass::kUnknown ? c : LearnClass(fd);
}

// LearnClass: what `fd` is (LearnFd: fstat, then SO_TYPE for a socket), kept in
// the table until ForgetFd. An fd fstat refuses (EBADF) is not kept: its op
// fails on its own.
UringDriver::FdClass UringDriver::LearnClass(int fd) {
  if (fd < 0) return FdClass::kNotSocket;
  ++stats_.fd_probes;
  drivers_internal::FdFacts facts;
  if (drivers_internal::LearnFd(fd, &facts) != 0) return FdClass::kNotSocket;
  FdClass c = FdClass::kNotSocket;
  if (facts.socket) {
    c = facts.socket_type == SOCK_SEQPACKET ? FdClass::kSeqpacketSocket : FdClass::kSocket;
  }
  if (size_t(fd) >= fd_classes_.size()) fd_classes_.resize(size_t(fd) + 1, FdClass::kUnknown);
  fd_classes_[fd] = c;
  return c;
}

void UringDriver::ForgetFd(int fd) {
  UnregisterFile(fd);
  if (fd >= 0 && size_t(fd) < fd_classes_.size()) fd_classes_[fd] = FdClass::kUnknown;
}

// --- Answers that say the fd cache was wrong ---------------------------------------

// ArmStaleRetry: the op of `r` was prepared as the fd's class `used` says; its
// SQE is linked to its timeout's if `r.link`.
void UringDriver::ArmStaleRetry(const Request& r, FdClass used) {
  const uint32_t index = UserDataSlot(r.user_data);
  if (index >= stale_.size()) stale_.resize(size_t{index} + 1);
  StaleRetry& s = stale_[index];
  s = StaleRetry{};
  s.op_user_data = r.user_data;
  s.op = r.op;
  s.fd = r.fd;
  s.used = used;
  s.state = r.link ? StaleRetry::kLinked : StaleRetry::kArmed;
}

// AttachTimeout: a linked timeout was prepared; it belongs to the op right
// before it, which a retry must submit again with it.
void UringDriver::AttachTimeout(const Request& r) {
  const uint32_t index = UserDataSlot(r.user_data);
  if (index >= stale_.size()) return;
  StaleRetry& s = stale_[index];
  if (s.state != StaleRetry::kLinked ||
      UserDataGeneration(s.op_user_data) != UserDataGeneration(r.user_data)) {
    return;
  }
  s.state = StaleRetry::kArmed;
  s.has_timeout = true;
  s.timeout_user_data = r.user_data;
  s.deadline_ns = r.deadline_ns;
}

// TakeStale: a final CQE that may answer a stale class. If it is the op of an
// armed StaleRetry and the fd, learnt again, is now of another class, the CQE is
// the driver's: the op goes to the kernel again (with its linked timeout, whose
// -ECANCELED is taken too) at the next submission. True if the CQE was taken.
bool UringDriver::TakeStale(uint64_t user_data, int32_t res) {
  const uint32_t index = UserDataSlot(user_data);
  if (index >= stale_.size()) return false;
  StaleRetry& s = stale_[index];
  if (s.state == StaleRetry::kAwaitTimeout && user_data == s.timeout_user_data) {
    --awaiting_timeouts_;
    s.state = StaleRetry::kNone;
    resubmit_.push_back(index);
    return true;
  }
  if (s.state != StaleRetry::kArmed || user_data != s.op_user_data || !IsStaleAnswer(res)) {
    return false;
  }
  // Learnt again once: the same class means the answer is the file's own.
  if (LearnClass(s.fd) == s.used) {
    s.state = StaleRetry::kNone;
    return false;
  }
  ++stats_.stale_retries;
  if (s.has_timeout) {
    // The op ended first, so its timeout's -ECANCELED follows (posted by the
    // kernel's task work after the op's CQE).
    s.state = StaleRetry::kAwaitTimeout;
    ++awaiting_timeouts_;
  } else {
    s.state = StaleRetry::kNone;
    resubmit_.push_back(index);
  }
  return true;
}

// ResubmitStale: submits again the ops whose CQEs TakeStale took, each as its
// fd's class now says, with its linked timeout (the same absolute deadline).
// False if the SQ had no room for all of them (the rest wait, in order).
bool UringDriver::ResubmitStale() {
  size_t done = 0;
  for (; done < resubmit_.size(); ++done) {
    const StaleRetry s = stale_[resubmit_[done]];  // a copy: preparing re-arms the slot's
    if (!EnsureRoom(s.has_timeout ? 2 : 1)) break;
    Request op;
    op.user_data = s.op_user_data;
    op.op = s.op;
    op.fd = s.fd;
    op.link = s.has_timeout;
    PrepRequest(op);
    if (s.has_timeout) {
      Request timeout;
      timeout.kind = RequestKind::kLinkTimeout;
      timeout.user_data = s.timeout_user_data;
      timeout.deadline_ns = s.deadline_ns;
      PrepRequest(timeout);
    }
  }
  resubmit_.erase(resubmit_.begin(), resubmit_.begin() + ptrdiff_t(done));
  return resubmit_.empty();
}

// --- Registered resources -------------------------------------------------------------

absl::Status UringDriver::RegisterFile(int fd) {
  if (options_.registered_file_slots == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("RegisterFile(fd ", fd, "): Options::registered_file_slots is 0"));
  }
  if (fd < 0) return absl::InvalidArgumentError(absl::StrCat("RegisterFile(fd ", fd, ")"));
  if (IsRegistered(fd)) return absl::OkStatus();
  if (free_slots_.empty()) {
    return absl::ResourceExhaustedError(
        absl::StrCat("RegisterFile(fd ", fd, "): the registered-file table is full"));
  }
  const uint32_t slot = free_slots_.back();
  int value = fd;
  const int ret = io_uring_register_files_update(&ring_, slot, &value, 1);
  if (ret < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "RegisterFile(fd ", fd, "): ", ErrnoMessage("io_uring_register(FILES_UPDATE)", -ret)));
  }
  free_slots_.pop_back();
  if (size_t(fd) >= fd_slots_.size()) fd_slots_.resize(size_t(fd) + 1, -1);
  fd_slots_[fd] = static_cast<int32_t>(slot);
  return absl::OkStatus();
}

bool UringDriver::IsRegistered(int fd) const {
  return fd >= 0 && size_t(fd) < fd_slots_.size() && fd_slots_[fd] >= 0;
}

// UnregisterFile: the table holds its own reference to the file, so an fd being
// closed leaves the table first (else the socket would stay open). The engine emits
// CLOSE only when no op on the fd is left, so no SQE names the slot any more.
void UringDriver::UnregisterFile(int fd) {
  if (!IsRegistered(fd)) return;
  const uint32_t slot = static_cast<uint32_t>(fd_slots_[fd]);
  int none = -1;
  const int ret = io_uring_register_files_update(&ring_, slot, &none, 1);
  RL_CHECK(ret >= 0);
  fd_slots_[fd] = -1;
  free_slots_.push_back(slot);
}

absl::StatusOr<BufferRing*> UringDriver::AddBufferRing(uint16_t group, uint32_t count,
                                                       uint32_t buffer_size) {
  absl::StatusOr<std::unique_ptr<BufferRing>> br =
      BufferRing::Create(&ring_, group, count, buffer_size);
  if (!br.ok()) return br.status();
  buffer_rings_.push_back(*std::move(br));
  return buffer_rings_.back().get();
}

void UringDriver::CancelFd(int fd) {
  if (!EnsureRoom(1)) return;
  io_uring_sqe* sqe = NextSqe();
  if (IsRegistered(fd)) {
    io_uring_prep_cancel_fd(sqe, fd_slots_[fd],
                            IORING_ASYNC_CANCEL_ALL | IORING_ASYNC_CANCEL_FD_FIXED);
  } else {
    io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
  }
  io_uring_sqe_set_data64(sqe, kDriverCancelUserData);
}

absl::Status UringDriver::SendWake(UringDriver& target) {
  if (!caps_.Supports(IORING_OP_MSG_RING)) {
    return absl::UnimplementedError("SendWake: IORING_OP_MSG_RING needs Linux 5.18");
  }
  if (!EnsureRoom(1)) return absl::UnavailableError("SendWake: the submission queue is full");
  io_uring_sqe* sqe = NextSqe();
  io_uring_prep_msg_ring(sqe, target.ring_fd(), 0, kMsgRingWakeUserData, 0);
  io_uring_sqe_set_data64(sqe, kMsgRingSentUserData);
  int ret;
  do {
    ret = Enter(FlushSq(), 0, SubmitFlags(), nullptr);
  } while (ret == -EINTR);
  if (ret >= 0 || ret == -EBUSY || ret == -EAGAIN) return absl::OkStatus();  // SQE stays queued
  return EnterError(-ret);
}

// --- The kernel boundary --------------------------------------------------------------

// FlushSq: publishes the filled SQEs; returns how many the kernel has yet to take.
unsigned UringDriver::FlushSq() {
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
unsigned UringDriver::SubmitFlags() const {
  if (!options_.sqpoll) return 0;
  // Order the tail store before reading the flags (the kernel does the reverse).
  io_uring_smp_mb();
  return (IO_URING_READ_ONCE(*ring_.sq.kflags) & IORING_SQ_NEED_WAKEUP) != 0
             ? IORING_ENTER_SQ_WAKEUP
             : 0;
}

int UringDriver::Enter(unsigned to_submit, unsigned min_complete, unsigned flags,
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
bool UringDriver::CqNeedsFlush() const {
  return (IO_URING_READ_ONCE(*ring_.sq.kflags) & (IORING_SQ_CQ_OVERFLOW | IORING_SQ_TASKRUN)) != 0;
}

// SubmitAndWait: one io_uring_enter that submits what is queued and, if nothing is
// to report yet, sleeps until a CQE or `wait_until_ns` (0: never; kNoDeadline: no
// timeout), with one EXT_ARG timeout rather than a timer SQE.
absl::Status UringDriver::SubmitAndWait(const Engine& engine, uint64_t wait_until_ns) {
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

// Reap: feeds the engine, in the order they were decided, the completions the
// driver decided itself while submitting, every CQE (flushing an overflowed CQ),
// and the completions decided while reaping. `engine` is null while draining.
absl::Status UringDriver::Reap(Engine* engine) {
  FeedLocal(engine);
  io_uring_cq& cq = ring_.cq;
  const unsigned shift = (ring_.flags & IORING_SETUP_CQE32) != 0 ? 1 : 0;
  for (int round = 0; round < kFlushRounds; ++round) {
    // The CQEs present now; later ones wait for the next round or Poll.
    unsigned head = *cq.khead;
    const unsigned tail = io_uring_smp_load_acquire(cq.ktail);
    // The final CQEs of engine requests go to the engine in batches; any other
    // CQE first flushes the batch, so order is kept.
    // Kept in locals (the batch's stores could alias members otherwise).
    Completion* const batch = reap_batch_.data();
    const size_t batch_size = reap_batch_.size();
    const io_uring_cqe* const cqes = cq.cqes;
    const unsigned mask = cq.ring_mask;
    const bool straight = engine != nullptr;
    uint64_t in_kernel = sqes_in_kernel_;
    size_t batched = 0;
    const auto flush = [&] {
      stats_.cqes += batched;
      engine->HandleCompletions(std::span<const Completion>(batch, batched));
      batched = 0;
    };
    for (; head != tail; ++head) {
      const io_uring_cqe& cqe = cqes[(head & mask) << shift];
      const uint64_t user_data = cqe.user_data;
      const uint32_t flags = cqe.flags;
      if (straight && !IsDriverUserData(user_data) && (flags & IORING_CQE_F_MORE) == 0 &&
          in_kernel > 0 && !IsStaleAnswer(cqe.res) && awaiting_timeouts_ == 0) {
        --in_kernel;
        Completion& c = batch[batched++];
        c.user_data = user_data;
        c.res = cqe.res;
        c.flags = flags;
        if (batched == batch_size) flush();
        continue;
      }
      if (batched > 0) flush();
      sqes_in_kernel_ = in_kernel;
      Dispatch(engine, user_data, cqe.res, flags);
      in_kernel = sqes_in_kernel_;
    }
    if (batched > 0) flush();
    sqes_in_kernel_ = in_kernel;
    // Hand the CQ entries back to the kernel only once they have been read.
    io_uring_smp_store_release(cq.khead, head);
    if (!CqNeedsFlush()) break;
    if ((IO_URING_READ_ONCE(*ring_.sq.kflags) & IORING_SQ_CQ_OVERFLOW) != 0) {
      ++stats_.overflow_flushes;
    }
    const int ret = Enter(0, 0, IORING_ENTER_GETEVENTS, nullptr);
    if (ret < 0 && ret != -EINTR && ret != -EBUSY && ret != -EAGAIN) return EnterError(-ret);
  }
  FeedLocal(engine);
  return absl::OkStatus();
}

void UringDriver::FeedLocal(Engine* engine) {
  if (engine != nullptr) {
    // HandleCompletion never calls back into the driver, so local_ is stable here.
    for (const LocalCompletion& c : local_) engine->HandleCompletion(c.user_data, c.res, 0);
  }
  local_.clear();
}

void UringDriver::Dispatch(Engine* engine, uint64_t user_data, int32_t res, uint32_t flags) {
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

}  // namespace ringloop
