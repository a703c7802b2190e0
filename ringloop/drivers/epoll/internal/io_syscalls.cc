// ringloop/drivers/epoll/internal/io_syscalls.cc: the epoll driver's syscall layer.
#include "ringloop/drivers/epoll/internal/io_syscalls.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <type_traits>
#include <variant>

#include "ringloop/core/check.h"
#include "ringloop/drivers/internal/fd_facts.h"
#include "ringloop/drivers/sync_op.h"

namespace ringloop::epoll_internal {
namespace {

// Sys: runs `call` until it does not fail with EINTR; returns its value or -errno.
template <typename Call>
int Sys(Call call) {
  for (;;) {
    const long r = static_cast<long>(call());
    if (r >= 0) return static_cast<int>(r);
    if (errno != EINTR) return -errno;
  }
}

// Nonblocking: Sys, with EAGAIN/EWOULDBLOCK turned into kWouldBlock.
template <typename Call>
int Nonblocking(Call call) {
  const int r = Sys(call);
  return (r == -EAGAIN || r == -EWOULDBLOCK) ? kWouldBlock : r;
}

bool AtCurrentPosition(uint64_t offset) { return offset == kCurrentPosition; }

int TryConnect(const Connect& c, FdInfo* info) {
  // connect(2) has no per-call nonblocking flag: the socket must be O_NONBLOCK.
  if (const int err = EnsureNonblock(c.fd, info); err < 0) return err;
  const int r = Sys([&] { return ::connect(c.fd, c.addr, c.addrlen); });
  // EINPROGRESS: the handshake goes on; ConnectResult tells when it is over.
  // EAGAIN (a unix socket whose listener's backlog is full) is a result, not a
  // wait: the socket would report writable at once and the retry would spin.
  return r == -EINPROGRESS ? kWouldBlock : r;
}

int TryAccept(const Accept& a, FdInfo* info) {
  // accept(2) has no per-call nonblocking flag: the listener must be O_NONBLOCK.
  if (const int err = EnsureNonblock(a.fd, info); err < 0) return err;
  return Nonblocking([&] { return ::accept4(a.fd, a.addr, a.addrlen, a.flags); });
}

int TryPoll(const PollAdd& p) {
  pollfd pfd{.fd = p.fd, .events = static_cast<short>(p.events), .revents = 0};
  const int r = Sys([&] { return ::poll(&pfd, 1, 0); });
  if (r < 0) return r;
  return r == 0 ? kWouldBlock : static_cast<int>(static_cast<uint16_t>(pfd.revents));
}

// VectorIo: a Readv or Writev reduced to what its attempts need.
struct VectorIo {
  int fd;
  const iovec* iov;
  int iovcnt;
  uint64_t offset;
  bool read;
};

// VectorOnce: one attempt at `io` as `info` says the fd must be written or read:
// recvmsg/sendmsg on a socket, else preadv2/pwritev2 with RWF_NOWAIT at `offset`.
int VectorOnce(const VectorIo& io, const FdInfo& info, uint64_t offset) {
  if (info.is_socket) {
    msghdr msg{};
    msg.msg_iov = const_cast<iovec*>(io.iov);
    msg.msg_iovlen = size_t(io.iovcnt);
    if (io.read) return Nonblocking([&] { return ::recvmsg(io.fd, &msg, MSG_DONTWAIT); });
    return Nonblocking([&] { return ::sendmsg(io.fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT); });
  }
  if (io.read) {
    return Nonblocking(
        [&] { return Preadv2(io.fd, io.iov, io.iovcnt, Position(offset), RWF_NOWAIT); });
  }
  return Nonblocking(
      [&] { return Pwritev2(io.fd, io.iov, io.iovcnt, Position(offset), RWF_NOWAIT); });
}

// PlainOnce: one read(2)/write(2) family call of `io` at `offset`, for a file
// that refuses RWF_NOWAIT, once O_NONBLOCK is known to be on.
int PlainOnce(const VectorIo& io, uint64_t offset) {
  const bool at_position = offset == kCurrentPosition;
  if (io.read) {
    if (at_position) return Nonblocking([&] { return ::readv(io.fd, io.iov, io.iovcnt); });
    return Nonblocking([&] { return ::preadv(io.fd, io.iov, io.iovcnt, off_t(offset)); });
  }
  if (at_position) return Nonblocking([&] { return ::writev(io.fd, io.iov, io.iovcnt); });
  return Nonblocking([&] { return ::pwritev(io.fd, io.iov, io.iovcnt, off_t(offset)); });
}

// VectorAgain: what ReadAgain and WriteAgain do for one read or write whose
// first attempt answered `res` (< 0). The fd is learnt again at most once and
// the offset dropped at most once, so a number that keeps changing under the
// loop cannot keep it here.
int VectorAgain(const VectorIo& io, FdInfo* info, int res) {
  uint64_t offset = io.offset;
  bool learnt = false;
  bool plain = false;  // RWF_NOWAIT refused: O_NONBLOCK and the plain calls
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (res == -ENOTSOCK && info->is_socket && !learnt) {
      // A socket call on what is no socket any more: the number was reused.
      learnt = true;
      if (const int err = ClassifyFd(io.fd, info); err < 0) return err;
      if (info->kind == FdInfo::Kind::kFile) return kNowFile;
    } else if (res == -ESPIPE && offset != kCurrentPosition) {
      // A stream has no position: its offset is ignored (as io_uring ignores it
      // on pipes).
      offset = kCurrentPosition;
    } else if (res == -EOPNOTSUPP && !info->is_socket && !learnt) {
      // RWF_NOWAIT refused (a tty): O_NONBLOCK instead, checked right before
      // the call, once the number is known to still name a pollable file.
      learnt = true;
      if (const int err = ClassifyFd(io.fd, info); err < 0) return err;
      if (info->kind == FdInfo::Kind::kFile) return kNowFile;
      if (!info->is_socket) {
        if (const int err = EnsureNonblock(io.fd, info); err < 0) return err;
        plain = true;
      }
    } else {
      return res;
    }
    res = plain ? PlainOnce(io, offset) : VectorOnce(io, *info, offset);
    if (res >= 0 || res == kWouldBlock) return res;
  }
  return res;
}

int TryVector(const VectorIo& io, FdInfo* info) {
  const int res = VectorOnce(io, *info, io.offset);
  if (res >= 0 || res == kWouldBlock) return res;
  return VectorAgain(io, info, res);
}

}  // namespace

int ReadAgain(const Read& read, FdInfo* info, int res) {
  iovec one{read.buf, read.len};
  return VectorAgain(VectorIo{read.fd, &one, 1, read.offset, /*read=*/true}, info, res);
}

int WriteAgain(const Write& write, FdInfo* info, int res) {
  iovec one{const_cast<void*>(write.buf), write.len};
  return VectorAgain(VectorIo{write.fd, &one, 1, write.offset, /*read=*/false}, info, res);
}

int ClassifyFd(int fd, FdInfo* info) {
  drivers_internal::FdFacts facts;
  if (const int r = drivers_internal::LearnFd(fd, &facts); r < 0) return r;
  FdInfo out;
  // What the driver did to the file's flags stays recorded: RestoreFlags checks
  // that the file is still the one it changed.
  out.set_nonblock = info->set_nonblock;
  out.dev = info->dev;
  out.ino = info->ino;
  if (facts.file) {
    out.kind = FdInfo::Kind::kFile;
    *info = out;
    return 0;
  }
  // Sockets, pipes, FIFOs, character devices and anonymous inodes (eventfd,
  // timerfd, signalfd: st_mode has no type bits) can all be waited on.
  out.kind = FdInfo::Kind::kPollable;
  out.is_socket = facts.socket;
  out.is_stream = facts.stream();
  *info = out;
  return 0;
}

int EnsureNonblock(int fd, FdInfo* info) {
  const int flags = Sys([&] { return ::fcntl(fd, F_GETFL); });
  if (flags < 0) return flags;
  if ((flags & O_NONBLOCK) != 0) return 0;
  struct stat st;
  if (const int r = Sys([&] { return ::fstat(fd, &st); }); r < 0) return r;
  if (const int r = Sys([&] { return ::fcntl(fd, F_SETFL, flags | O_NONBLOCK); }); r < 0) {
    return r;
  }
  info->set_nonblock = true;
  info->dev = st.st_dev;
  info->ino = st.st_ino;
  return 0;
}

void RestoreFlags(int fd, const FdInfo& info) {
  if (!info.set_nonblock) return;
  // The fd may be gone, or name another file (closed and reused behind the
  // driver's back): then the flag is not the driver's to clear.
  struct stat st;
  if (Sys([&] { return ::fstat(fd, &st); }) < 0) return;
  if (st.st_dev != info.dev || st.st_ino != info.ino) return;
  const int flags = Sys([&] { return ::fcntl(fd, F_GETFL); });
  if (flags < 0 || (flags & O_NONBLOCK) == 0) return;
  Sys([&] { return ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK); });
}

bool NeedsPool(const Op& op, FdInfo::Kind kind) {
  switch (KindOf(op)) {
    case OpKind::kOpenat:
    case OpKind::kFsync:
    case OpKind::kStatx:
    case OpKind::kUnlinkat:
    case OpKind::kMkdirat:
    case OpKind::kRenameat:
      return true;
    case OpKind::kRead:
    case OpKind::kReadv:
    case OpKind::kWrite:
    case OpKind::kWritev:
      return kind == FdInfo::Kind::kFile;
    default:
      return false;
  }
}

int TryOnce(const Op& op, FdInfo* info) {
  return std::visit(
      [&](const auto& o) -> int {
        using T = std::decay_t<decltype(o)>;
        if constexpr (std::is_same_v<T, Nop>) {
          return 0;
        } else if constexpr (std::is_same_v<T, Read>) {
          return ReadOnce(o, info);
        } else if constexpr (std::is_same_v<T, Readv>) {
          return TryVector(VectorIo{o.fd, o.iov, int(o.iovcnt), o.offset, /*read=*/true}, info);
        } else if constexpr (std::is_same_v<T, Write>) {
          return WriteOnce(o, info);
        } else if constexpr (std::is_same_v<T, Writev>) {
          return TryVector(VectorIo{o.fd, o.iov, int(o.iovcnt), o.offset, /*read=*/false}, info);
        } else if constexpr (std::is_same_v<T, Recv>) {
          return RecvOnce(o);
        } else if constexpr (std::is_same_v<T, Send>) {
          return SendOnce(o);
        } else if constexpr (std::is_same_v<T, Accept>) {
          return TryAccept(o, info);
        } else if constexpr (std::is_same_v<T, Connect>) {
          return TryConnect(o, info);
        } else if constexpr (std::is_same_v<T, PollAdd>) {
          return TryPoll(o);
        } else if constexpr (std::is_same_v<T, Shutdown> || std::is_same_v<T, Close> ||
                             std::is_same_v<T, Socket> || std::is_same_v<T, Bind> ||
                             std::is_same_v<T, Listen>) {
          return RunSync(op);  // never waits for a peer
        } else {
          // Timeouts live in the engine; pool ops go to RunBlocking.
          RL_CHECK(false && "TryOnce: op belongs to the engine or the pool");
          return -EINVAL;
        }
      },
      op);
}

int ConnectResult(int fd) {
  pollfd pfd{.fd = fd, .events = POLLOUT, .revents = 0};
  const int r = Sys([&] { return ::poll(&pfd, 1, 0); });
  if (r < 0) return r;
  if (r == 0) return kWouldBlock;
  int err = 0;
  socklen_t len = sizeof(err);
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return -errno;
  return -err;
}

int TryReadNowait(const Op& op) {
  iovec one{};
  const iovec* iov = &one;
  int iovcnt = 1;
  int fd = -1;
  uint64_t offset = kCurrentPosition;
  if (const auto* r = std::get_if<Read>(&op)) {
    one = iovec{r->buf, r->len};
    fd = r->fd;
    offset = r->offset;
  } else {
    const auto& rv = std::get<Readv>(op);
    iov = rv.iov;
    iovcnt = int(rv.iovcnt);
    fd = rv.fd;
    offset = rv.offset;
  }
  // preadv2's offset -1 means "the file position", like io_uring's.
  const off_t off = AtCurrentPosition(offset) ? off_t{-1} : off_t(offset);
  const int r = Sys([&] { return ::preadv2(fd, iov, iovcnt, off, RWF_NOWAIT); });
  if (r == -EAGAIN || r == -EOPNOTSUPP) return kWouldBlock;
  return r;
}

int RunBlocking(const Op& op) {
  return std::visit(
      [&](const auto& o) -> int {
        using T = std::decay_t<decltype(o)>;
        if constexpr (std::is_same_v<T, Read>) {
          if (AtCurrentPosition(o.offset)) return Sys([&] { return ::read(o.fd, o.buf, o.len); });
          return Sys([&] { return ::pread(o.fd, o.buf, o.len, off_t(o.offset)); });
        } else if constexpr (std::is_same_v<T, Readv>) {
          if (AtCurrentPosition(o.offset)) {
            return Sys([&] { return ::readv(o.fd, o.iov, int(o.iovcnt)); });
          }
          return Sys([&] { return ::preadv(o.fd, o.iov, int(o.iovcnt), off_t(o.offset)); });
        } else if constexpr (std::is_same_v<T, Write>) {
          if (AtCurrentPosition(o.offset)) return Sys([&] { return ::write(o.fd, o.buf, o.len); });
          return Sys([&] { return ::pwrite(o.fd, o.buf, o.len, off_t(o.offset)); });
        } else if constexpr (std::is_same_v<T, Writev>) {
          if (AtCurrentPosition(o.offset)) {
            return Sys([&] { return ::writev(o.fd, o.iov, int(o.iovcnt)); });
          }
          return Sys([&] { return ::pwritev(o.fd, o.iov, int(o.iovcnt), off_t(o.offset)); });
        } else if constexpr (std::is_same_v<T, Fsync> || std::is_same_v<T, Openat> ||
                             std::is_same_v<T, Statx> || std::is_same_v<T, Unlinkat> ||
                             std::is_same_v<T, Mkdirat> || std::is_same_v<T, Renameat>) {
          return RunSync(op);
        } else {
          RL_CHECK(false && "RunBlocking: not a pool op");
          return -EINVAL;
        }
      },
      op);
}

}  // namespace ringloop::epoll_internal
