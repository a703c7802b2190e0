// ringloop/drivers/uring/internal/sqe_prep.h: the uring driver's prep visitor, Op -> SQE.
//
// One arm per Op alternative, each filling one SQE with the opcode named after the
// op's syscall. The caller sets user_data and the link flag afterwards (prep
// zeroes sqe->flags). Registered files and buffers are substituted here: an op on
// an fd in the registered table gets IOSQE_FIXED_FILE and the table index, a
// Read/Write whose buffer lies inside a registered buffer becomes READ_FIXED /
// WRITE_FIXED. The one exception to "named after the syscall": a Write or Writev
// the driver knows to be on a socket goes to PrepSocketWrite (a send, no SIGPIPE).
//
// Private to ringloop/drivers/uring; called only by UringDriver on its owner thread.
#ifndef RINGLOOP_DRIVERS_URING_INTERNAL_SQE_PREP_H_
#define RINGLOOP_DRIVERS_URING_INTERNAL_SQE_PREP_H_

#include <liburing.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cstdint>
#include <span>
#include <vector>

#include "ringloop/core/ops.h"

namespace ringloop::uring_internal {

// PrepContext: the registered resources an SQE may refer to.
struct PrepContext {
  // fd_slots[fd]: the registered-file index of fd, or -1 (may be shorter than fd).
  const std::vector<int32_t>* fd_slots = nullptr;
  // fixed_buffers: the registered buffers, by buf_index.
  std::span<const iovec> fixed_buffers;
};

// FixedSlot: the registered-file index of `fd` in `ctx`, or -1.
int32_t FixedSlot(const PrepContext& ctx, int fd);

// UsesFileFd: whether the SQE of an op of `kind` names its fd as a file to act on
// (so it may use a registered file): not Close, not the *at ops, not Socket/Nop.
bool UsesFileFd(OpKind kind);

// PrepOp: fills `sqe` for `op`. Send always gets MSG_NOSIGNAL (a closed peer is
// EPIPE, never SIGPIPE). A Recv with a buffer group selects its buffer from that
// provided-buffer ring (IOSQE_BUFFER_SELECT); a multishot Recv/Accept sets the
// multishot flag. `op` must not be a Timeout (the engine keeps those).
void PrepOp(io_uring_sqe* sqe, const Op& op, const PrepContext& ctx);

// PrepSocketRead: fills `sqe` for `op`, a Read or Readv on a socket (its offset
// ignored: a socket has no position), as IORING_OP_RECV, or for a Readv
// IORING_OP_RECVMSG through `msg` (filled here; the kernel may read it until the
// op's CQE), with no flags: what read(2) does on a socket. On anything but a
// socket it fails -ENOTSOCK (where IORING_OP_READ would read at the offset).
void PrepSocketRead(io_uring_sqe* sqe, const Op& op, msghdr* msg, const PrepContext& ctx);

// PrepSocketWrite: fills `sqe` for `op`, a Write or Writev on a socket (its offset
// ignored: a socket has no position), as a send: IORING_OP_SEND, or for a Writev IORING_OP_SENDMSG
// through `msg` (filled here; the kernel may read it until the op's CQE), with `send_flags`
// (MSG_NOSIGNAL, plus MSG_EOR on a SOCK_SEQPACKET socket: what write(2)'s sock_write_iter passes,
// minus its SIGPIPE). No registered buffer.
void PrepSocketWrite(io_uring_sqe* sqe, const Op& op, int send_flags, msghdr* msg,
                     const PrepContext& ctx);

}  // namespace ringloop::uring_internal

#endif  // RINGLOOP_DRIVERS_URING_INTERNAL_SQE_PREP_H_
