// ringloop/drivers/epoll/internal/io_syscalls.h: one op, performed as one plain syscall.
//
// The epoll driver's "prep" visitors: what a file descriptor is (FdInfo, learnt
// once per fd), one nonblocking attempt at an op on a pollable fd (TryOnce), one
// blocking run of a file or metadata op (RunBlocking, for the worker pool), and a
// page-cache-only read of a regular file (TryReadNowait). Every function returns
// what io_uring would have posted: the value, or a negative errno; kWouldBlock
// means "not ready, park on readiness". EINTR is retried here (the only place it
// can appear: a nonblocking call does not sleep, a blocking one may be signalled).
//
// Thread safety: free functions with no shared state. RunBlocking runs on worker
// threads; the op's memory belongs to the caller until it returns.
#ifndef RINGLOOP_DRIVERS_EPOLL_INTERNAL_IO_SYSCALLS_H_
#define RINGLOOP_DRIVERS_EPOLL_INTERNAL_IO_SYSCALLS_H_

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>

#include "ringloop/core/ops.h"

namespace ringloop::epoll_internal {

// kWouldBlock: TryOnce's answer when the syscall said EAGAIN/EWOULDBLOCK (or a
// connect is still in progress): the op waits for readiness. Never a result.
inline constexpr int kWouldBlock = INT_MIN;

// FdInfo: what the driver learnt about an fd the first time an op used it.
struct FdInfo {
  // kind: kUnknown until ClassifyFd ran. kPollable fds (sockets, pipes, FIFOs,
  // eventfds, ttys) are driven by readiness; kFile fds (regular files, block
  // devices, directories) are always "ready" to epoll (it refuses them with
  // EPERM) but may sleep in the kernel, so their I/O goes to the worker pool.
  enum class Kind : uint8_t { kUnknown, kPollable, kFile };
  Kind kind = Kind::kUnknown;
  // is_socket: writes use send(2)/sendmsg(2) with MSG_NOSIGNAL (EPIPE, never
  // SIGPIPE).
  bool is_socket = false;
  // is_stream: a pipe, FIFO or SOCK_STREAM socket. For these a read returning
  // fewer bytes than asked (but more than zero) means the receive queue was empty
  // at that moment (pipe_read and tcp/unix stream recvmsg copy until the queue is
  // empty or the buffer is full), so the readiness cache may be cleared without an
  // extra EAGAIN round trip. Never true for datagram sockets.
  bool is_stream = false;
  // set_nonblock: the driver turned O_NONBLOCK on (it was off); `original_flags`
  // are the file status flags to put back when the driver lets go of the fd.
  bool set_nonblock = false;
  int original_flags = 0;
};

// ClassifyFd: fills `info` for `fd` (fstat, SO_TYPE for sockets) and turns on
// O_NONBLOCK for pollable fds that lack it. Returns 0 or a negative errno
// (-EBADF for a closed fd).
int ClassifyFd(int fd, FdInfo* info);

// RestoreFlags: puts back the file status flags ClassifyFd changed, if any.
void RestoreFlags(int fd, const FdInfo& info);

// NeedsPool: whether `op` may sleep in the kernel on a non-pollable object
// (regular file I/O on a kFile fd, fsync, openat, statx, unlinkat, mkdirat,
// renameat) and so belongs on the worker pool.
bool NeedsPool(const Op& op, FdInfo::Kind kind);

// TryOnce: one nonblocking attempt at `op` on the pollable fd it names (read,
// readv, write, writev, recv, send, a single accept, connect's first call, poll
// with a zero timeout) or an op that never waits (nop, socket, bind, listen,
// shutdown). Returns kWouldBlock when the op must wait for readiness.
int TryOnce(const Op& op, const FdInfo& info);

// ReadOnce, WriteOnce, RecvOnce, SendOnce: the hot-path attempts (what TryOnce
// does for Read, Write, Recv and Send), callable without a variant dispatch, and
// inline: they are the driver's per-op path. Writes and sends on sockets carry
// MSG_NOSIGNAL; recv/send add MSG_DONTWAIT. They take the op itself and read
// its fields at each call: then nothing but the op's address has to survive the
// syscall in a register (the driver's per-op path spilled fd, buf and len to
// the stack around the call when they were passed by value).
int ReadOnce(const Read& read);
int WriteOnce(const Write& write, bool is_socket);
int RecvOnce(const Recv& recv);
int SendOnce(const Send& send);

// NonblockingResult: a nonblocking syscall's return value `r` (errno set when
// negative) as TryOnce answers: the value, kWouldBlock for EAGAIN/EWOULDBLOCK,
// or -errno. EINTR must have been retried by the caller.
inline int NonblockingResult(long r) {
  if (r >= 0) return static_cast<int>(r);
  return (errno == EAGAIN || errno == EWOULDBLOCK) ? kWouldBlock : -errno;
}

inline int ReadOnce(const Read& read) {
  long r;
  while ((r = ::read(read.fd, read.buf, read.len)) < 0 && errno == EINTR) {
  }
  return NonblockingResult(r);
}

inline int WriteOnce(const Write& write, bool is_socket) {
  long r;
  if (is_socket) {
    while ((r = ::send(write.fd, write.buf, write.len, MSG_NOSIGNAL | MSG_DONTWAIT)) < 0 &&
           errno == EINTR) {
    }
  } else {
    while ((r = ::write(write.fd, write.buf, write.len)) < 0 && errno == EINTR) {
    }
  }
  return NonblockingResult(r);
}

inline int RecvOnce(const Recv& recv) {
  // Provided-buffer groups are an io_uring feature this driver does not emulate;
  // io_uring itself refuses multishot recv without one.
  if (recv.multishot || recv.buf_group != kNoBufferGroup) return -EINVAL;
  long r;
  while ((r = ::recv(recv.fd, recv.buf, recv.len, recv.flags | MSG_DONTWAIT)) < 0 &&
         errno == EINTR) {
  }
  return NonblockingResult(r);
}

inline int SendOnce(const Send& send) {
  long r;
  while ((r = ::send(send.fd, send.buf, send.len, send.flags | MSG_NOSIGNAL | MSG_DONTWAIT)) < 0 &&
         errno == EINTR) {
  }
  return NonblockingResult(r);
}

// ConnectResult: the outcome of a connect that answered EINPROGRESS, once its fd
// may have become writable: kWouldBlock if still in progress, else 0 or -SO_ERROR.
int ConnectResult(int fd);

// TryReadNowait: a read or readv of a regular file served only from the page
// cache (preadv2 with RWF_NOWAIT); kWouldBlock when it would have to wait for
// the disk (or the filesystem does not support RWF_NOWAIT).
int TryReadNowait(const Op& op);

// RunBlocking: performs a NeedsPool op to its end (it may sleep).
int RunBlocking(const Op& op);

}  // namespace ringloop::epoll_internal

#endif  // RINGLOOP_DRIVERS_EPOLL_INTERNAL_IO_SYSCALLS_H_
