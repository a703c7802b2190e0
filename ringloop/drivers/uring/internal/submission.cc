// ringloop/drivers/uring/internal/submission.cc: requests -> SQEs. See
// internal/driver_impl.h.
#include <sys/socket.h>

#include <cerrno>
#include <variant>

#include "ringloop/core/check.h"
#include "ringloop/core/ops.h"
#include "ringloop/drivers/uring/internal/driver_impl.h"

namespace ringloop::uring_internal {
namespace {

// OffsetOf: the offset of a Read, Readv, Write or Writev (kCurrentPosition for
// any other op).
uint64_t OffsetOf(const Op& op) {
  if (const Read* r = std::get_if<Read>(&op)) return r->offset;
  if (const Readv* r = std::get_if<Readv>(&op)) return r->offset;
  if (const Write* w = std::get_if<Write>(&op)) return w->offset;
  if (const Writev* w = std::get_if<Writev>(&op)) return w->offset;
  return kCurrentPosition;
}

}  // namespace

// --- Submission ----------------------------------------------------------------------

// Push: fills the SQEs of `unit` (a request, or an op and its linked timeout),
// or performs it as a syscall (RunsSync); false if it must stay pending (no room).
bool UringDriverImpl::Push(std::span<const Request> unit) {
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

// PrepRequest: fills the next SQE for `r` (an op with `link` set is followed
// by its linked timeout).
void UringDriverImpl::PrepRequest(const Request& r) {
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

void UringDriverImpl::PrepOpRequest(io_uring_sqe* sqe, const Request& r) {
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
void UringDriverImpl::PrepTransfer(io_uring_sqe* sqe, const Request& r, bool read) {
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
msghdr* UringDriverImpl::MsgOf(uint64_t user_data) {
  const uint32_t index = UserDataSlot(user_data);
  if (index >= msgs_.size()) msgs_.resize(size_t{index} + 1);
  return &msgs_[index];
}

// NextSqe: the next free SQE (liburing's io_uring_get_sqe, minus its head load:
// EnsureRoom has counted the room into sq_free_).
io_uring_sqe* UringDriverImpl::NextSqe() {
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
bool UringDriverImpl::EnsureRoom(unsigned n) {
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

void UringDriverImpl::ArmWake() {
  if (!EnsureRoom(1)) return;
  io_uring_sqe* sqe = NextSqe();
  io_uring_prep_read(sqe, event_fd_, &wake_buf_, sizeof(wake_buf_), 0);
  io_uring_sqe_set_data64(sqe, kWakeUserData);
  wake_armed_ = true;
}

}  // namespace ringloop::uring_internal
