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

int TryConnect(const Connect& c) {
  const int r = Sys([&] { return ::connect(c.fd, c.addr, c.addrlen); });
  // EINPROGRESS: the handshake goes on; ConnectResult tells when it is over.
  // EAGAIN (a unix socket whose listener's backlog is full) is a result, not a
  // wait: the socket would report writable at once and the retry would spin.
  return r == -EINPROGRESS ? kWouldBlock : r;
}

int TryPoll(const PollAdd& p) {
  pollfd pfd{.fd = p.fd, .events = static_cast<short>(p.events), .revents = 0};
  const int r = Sys([&] { return ::poll(&pfd, 1, 0); });
  if (r < 0) return r;
  return r == 0 ? kWouldBlock : static_cast<int>(static_cast<uint16_t>(pfd.revents));
}

int TryWritev(const Writev& w, bool is_socket) {
  if (!is_socket) return Nonblocking([&] { return ::writev(w.fd, w.iov, int(w.iovcnt)); });
  msghdr msg{};
  msg.msg_iov = const_cast<iovec*>(w.iov);
  msg.msg_iovlen = w.iovcnt;
  return Nonblocking([&] { return ::sendmsg(w.fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT); });
}

}  // namespace

int ClassifyFd(int fd, FdInfo* info) {
  struct stat st;
  if (const int r = Sys([&] { return ::fstat(fd, &st); }); r < 0) return r;
  FdInfo out;
  if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode) || S_ISDIR(st.st_mode)) {
    out.kind = FdInfo::Kind::kFile;
    *info = out;
    return 0;
  }
  // Sockets, pipes, FIFOs, character devices and anonymous inodes (eventfd,
  // timerfd, signalfd: st_mode has no type bits) can all be waited on.
  out.kind = FdInfo::Kind::kPollable;
  if (S_ISSOCK(st.st_mode)) {
    out.is_socket = true;
    int type = 0;
    socklen_t len = sizeof(type);
    if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0)
      out.is_stream = type == SOCK_STREAM;
  } else if (S_ISFIFO(st.st_mode)) {
    out.is_stream = true;
  }
  const int flags = Sys([&] { return ::fcntl(fd, F_GETFL); });
  if (flags < 0) return flags;
  if ((flags & O_NONBLOCK) == 0) {
    if (const int r = Sys([&] { return ::fcntl(fd, F_SETFL, flags | O_NONBLOCK); }); r < 0) {
      return r;
    }
    out.set_nonblock = true;
    out.original_flags = flags;
  }
  *info = out;
  return 0;
}

void RestoreFlags(int fd, const FdInfo& info) {
  if (!info.set_nonblock) return;
  // The fd may already be gone (a user closed it behind the driver's back): then
  // there is nothing to restore, and EBADF is the expected answer.
  Sys([&] { return ::fcntl(fd, F_SETFL, info.original_flags); });
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

int TryOnce(const Op& op, const FdInfo& info) {
  // Offsets are ignored on pollable fds, as io_uring ignores them on stream files
  // (pipes and sockets are FMODE_STREAM): read(2)/write(2) at the stream's head.
  return std::visit(
      [&](const auto& o) -> int {
        using T = std::decay_t<decltype(o)>;
        if constexpr (std::is_same_v<T, Nop>) {
          return 0;
        } else if constexpr (std::is_same_v<T, Read>) {
          return ReadOnce(o);
        } else if constexpr (std::is_same_v<T, Readv>) {
          return Nonblocking([&] { return ::readv(o.fd, o.iov, int(o.iovcnt)); });
        } else if constexpr (std::is_same_v<T, Write>) {
          return WriteOnce(o, info.is_socket);
        } else if constexpr (std::is_same_v<T, Writev>) {
          return TryWritev(o, info.is_socket);
        } else if constexpr (std::is_same_v<T, Recv>) {
          return RecvOnce(o);
        } else if constexpr (std::is_same_v<T, Send>) {
          return SendOnce(o);
        } else if constexpr (std::is_same_v<T, Accept>) {
          return Nonblocking([&] { return ::accept4(o.fd, o.addr, o.addrlen, o.flags); });
        } else if constexpr (std::is_same_v<T, Connect>) {
          return TryConnect(o);
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
