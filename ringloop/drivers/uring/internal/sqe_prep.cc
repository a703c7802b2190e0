// ringloop/drivers/uring/internal/sqe_prep.cc: Op -> SQE, one arm per op.
#include "ringloop/drivers/uring/internal/sqe_prep.h"

#include <sys/socket.h>
#include <sys/stat.h>

#include <type_traits>
#include <variant>

#include "ringloop/core/check.h"
#include "ringloop/drivers/uring/internal/uring_abi.h"

namespace ringloop::uring_internal {
namespace {

// FixedBufferIndex: the registered buffer holding [buf, buf + len), or -1.
int FixedBufferIndex(const PrepContext& ctx, const void* buf, uint32_t len) {
  const auto begin = reinterpret_cast<uintptr_t>(buf);
  for (size_t i = 0; i < ctx.fixed_buffers.size(); ++i) {
    const auto base = reinterpret_cast<uintptr_t>(ctx.fixed_buffers[i].iov_base);
    if (begin >= base && begin + len <= base + ctx.fixed_buffers[i].iov_len) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

struct Prepper {
  io_uring_sqe* sqe;
  const PrepContext& ctx;

  void operator()(const Nop&) const { io_uring_prep_nop(sqe); }
  void operator()(const Read& o) const {
    const int index = FixedBufferIndex(ctx, o.buf, o.len);
    if (index >= 0) {
      io_uring_prep_read_fixed(sqe, o.fd, o.buf, o.len, o.offset, index);
    } else {
      io_uring_prep_read(sqe, o.fd, o.buf, o.len, o.offset);
    }
  }
  void operator()(const Write& o) const {
    const int index = FixedBufferIndex(ctx, o.buf, o.len);
    if (index >= 0) {
      io_uring_prep_write_fixed(sqe, o.fd, o.buf, o.len, o.offset, index);
    } else {
      io_uring_prep_write(sqe, o.fd, o.buf, o.len, o.offset);
    }
  }
  void operator()(const Readv& o) const {
    io_uring_prep_readv(sqe, o.fd, o.iov, o.iovcnt, o.offset);
  }
  void operator()(const Writev& o) const {
    io_uring_prep_writev(sqe, o.fd, o.iov, o.iovcnt, o.offset);
  }
  void operator()(const Recv& o) const {
    if (o.multishot) {
      io_uring_prep_recv_multishot(sqe, o.fd, o.buf, o.len, o.flags);
    } else {
      io_uring_prep_recv(sqe, o.fd, o.buf, o.len, o.flags);
    }
    if (o.buf_group != kNoBufferGroup) {
      sqe->flags |= IOSQE_BUFFER_SELECT;
      sqe->buf_group = o.buf_group;
    }
  }
  void operator()(const Send& o) const {
    io_uring_prep_send(sqe, o.fd, o.buf, o.len, o.flags | MSG_NOSIGNAL);
  }
  void operator()(const Accept& o) const {
    if (o.multishot) {
      io_uring_prep_multishot_accept(sqe, o.fd, o.addr, o.addrlen, o.flags);
    } else {
      io_uring_prep_accept(sqe, o.fd, o.addr, o.addrlen, o.flags);
    }
  }
  void operator()(const Connect& o) const { io_uring_prep_connect(sqe, o.fd, o.addr, o.addrlen); }
  void operator()(const Shutdown& o) const { io_uring_prep_shutdown(sqe, o.fd, o.how); }
  void operator()(const PollAdd& o) const { io_uring_prep_poll_add(sqe, o.fd, o.events); }
  void operator()(const Close& o) const { io_uring_prep_close(sqe, o.fd); }
  void operator()(const Openat& o) const {
    io_uring_prep_openat(sqe, o.dirfd, o.path, o.flags, o.mode);
  }
  void operator()(const Fsync& o) const {
    io_uring_prep_fsync(sqe, o.fd, o.datasync ? IORING_FSYNC_DATASYNC : 0);
  }
  void operator()(const Statx& o) const {
    io_uring_prep_statx(sqe, o.dirfd, o.path, o.flags, o.mask, o.buf);
  }
  void operator()(const Unlinkat& o) const {
    io_uring_prep_unlinkat(sqe, o.dirfd, o.path, o.flags);
  }
  void operator()(const Mkdirat& o) const { io_uring_prep_mkdirat(sqe, o.dirfd, o.path, o.mode); }
  void operator()(const Renameat& o) const {
    io_uring_prep_renameat(sqe, o.olddirfd, o.oldpath, o.newdirfd, o.newpath, o.flags);
  }
  void operator()(const Socket& o) const {
    io_uring_prep_socket(sqe, o.domain, o.type, o.protocol, 0);
  }
  // BIND and LISTEN (Linux 6.11) have no liburing 2.3 helper; layout as in the
  // kernel's io_bind_prep (addr, addr2 = addrlen) and io_listen_prep (len = backlog).
  void operator()(const Bind& o) const {
    io_uring_prep_rw(uring_abi::kOpBind, sqe, o.fd, o.addr, 0, o.addrlen);
  }
  void operator()(const Listen& o) const {
    io_uring_prep_rw(uring_abi::kOpListen, sqe, o.fd, nullptr, static_cast<unsigned>(o.backlog), 0);
  }
  void operator()(const Timeout&) const {
    RL_CHECK(false && "Timeout ops live in the engine's timer table, never in the ring");
  }
};

// UseFixedFile: an op on an fd in the registered table names the table index.
void UseFixedFile(io_uring_sqe* sqe, const Op& op, const PrepContext& ctx) {
  if (ctx.fd_slots == nullptr || !UsesFileFd(KindOf(op))) return;
  const int32_t slot = FixedSlot(ctx, FdOf(op));
  if (slot < 0) return;
  sqe->fd = slot;
  sqe->flags |= IOSQE_FIXED_FILE;
}

}  // namespace

int32_t FixedSlot(const PrepContext& ctx, int fd) {
  if (ctx.fd_slots == nullptr || fd < 0 || size_t(fd) >= ctx.fd_slots->size()) return -1;
  return (*ctx.fd_slots)[fd];
}

bool UsesFileFd(OpKind kind) {
  switch (kind) {
    case OpKind::kRead:
    case OpKind::kWrite:
    case OpKind::kReadv:
    case OpKind::kWritev:
    case OpKind::kRecv:
    case OpKind::kSend:
    case OpKind::kAccept:
    case OpKind::kConnect:
    case OpKind::kShutdown:
    case OpKind::kPollAdd:
    case OpKind::kFsync:
    case OpKind::kBind:
    case OpKind::kListen:
      return true;
    default:
      return false;
  }
}

void PrepOp(io_uring_sqe* sqe, const Op& op, const PrepContext& ctx) {
  std::visit(Prepper{sqe, ctx}, op);
  UseFixedFile(sqe, op, ctx);
}

void PrepSocketRead(io_uring_sqe* sqe, const Op& op, msghdr* msg, const PrepContext& ctx) {
  if (const Read* r = std::get_if<Read>(&op); r != nullptr) {
    io_uring_prep_recv(sqe, r->fd, r->buf, r->len, 0);
  } else {
    const Readv& v = std::get<Readv>(op);
    RL_CHECK(msg != nullptr);
    *msg = msghdr{};
    msg->msg_iov = const_cast<iovec*>(v.iov);
    msg->msg_iovlen = v.iovcnt;
    io_uring_prep_recvmsg(sqe, v.fd, msg, 0);
  }
  UseFixedFile(sqe, op, ctx);
}

void PrepSocketWrite(io_uring_sqe* sqe, const Op& op, int send_flags, msghdr* msg,
                     const PrepContext& ctx) {
  RL_CHECK((send_flags & MSG_NOSIGNAL) != 0);
  if (const Write* w = std::get_if<Write>(&op); w != nullptr) {
    io_uring_prep_send(sqe, w->fd, w->buf, w->len, send_flags);
  } else {
    const Writev& v = std::get<Writev>(op);
    RL_CHECK(msg != nullptr);
    *msg = msghdr{};
    msg->msg_iov = const_cast<iovec*>(v.iov);  // sendmsg(2) only reads the iovecs
    msg->msg_iovlen = v.iovcnt;
    io_uring_prep_sendmsg(sqe, v.fd, msg, static_cast<unsigned>(send_flags));
  }
  UseFixedFile(sqe, op, ctx);
}

}  // namespace ringloop::uring_internal
