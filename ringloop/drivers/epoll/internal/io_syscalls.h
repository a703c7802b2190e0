// ringloop/drivers/epoll/internal/io_syscalls.h: one op, performed as one plain syscall.
//
// The epoll driver's "prep" visitors: what a file descriptor is (FdInfo, learnt
// once per fd and learnt again whenever a syscall's answer says the fd now names
// another kind of file), one nonblocking attempt at an op on a pollable fd
// (TryOnce), one blocking run of a file or metadata op (RunBlocking, for the
// worker pool), and a page-cache-only read of a regular file (TryReadNowait).
// Every function returns what io_uring would have posted: the value, or a
// negative errno; kWouldBlock means "not ready, park on readiness", kNowFile
// "the fd now names a regular file or a directory: start the op again as a file
// op". EINTR is retried here (the only place it can appear: a nonblocking call
// does not sleep, a blocking one may be signalled).
//
// Never blocking does not rest on a cached fact. The fd a user hands the loop
// may be closed with close(2) behind its back and its number reused by a file
// that is not O_NONBLOCK, so every attempt asks for nonblocking behaviour in the
// call itself: MSG_DONTWAIT for socket calls, RWF_NOWAIT (preadv2/pwritev2,
// honoured on pipes, FIFOs, sockets, eventfds and most character devices since
// Linux 5.x; 6.x for pipes) for reads and writes of anything else. A file that
// refuses RWF_NOWAIT (EOPNOTSUPP: ttys, some character devices) gets O_NONBLOCK
// checked with F_GETFL (and set) right before each plain read(2)/write(2);
// accept(2) and connect(2) have no per-call flag, so they too check F_GETFL
// first. What is cached (is_socket, is_stream) only picks the cheapest call, and
// an answer that contradicts it (ENOTSOCK from a socket call made for a read or
// write) makes the attempt learn the fd again and retry once.
//
// Thread safety: free functions with no shared state. RunBlocking runs on worker
// threads; the op's memory belongs to the caller until it returns.
#ifndef RINGLOOP_DRIVERS_EPOLL_INTERNAL_IO_SYSCALLS_H_
#define RINGLOOP_DRIVERS_EPOLL_INTERNAL_IO_SYSCALLS_H_

#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>

#include "ringloop/core/ops.h"

namespace ringloop::epoll_internal {

// kWouldBlock: TryOnce's answer when the syscall said EAGAIN/EWOULDBLOCK (or a
// connect is still in progress): the op waits for readiness. Never a result.
inline constexpr int kWouldBlock = INT_MIN;
// kNowFile: an attempt found that the fd, learnt as pollable, now names a
// regular file or a directory (its number was reused): the op has done nothing
// and must start again as a file op. Never a result.
inline constexpr int kNowFile = INT_MIN + 1;

// FdInfo: what the driver learnt about an fd the first time an op used it (and
// again when an answer contradicted it).
struct FdInfo {
  // kind: kUnknown until ClassifyFd ran. kPollable fds (sockets, pipes, FIFOs,
  // eventfds, ttys) are driven by readiness; kFile fds (regular files, block
  // devices, directories) are always "ready" to epoll (it refuses them with
  // EPERM) but may sleep in the kernel, so their I/O goes to the worker pool.
  enum class Kind : uint8_t { kUnknown, kPollable, kFile };
  Kind kind = Kind::kUnknown;
  // is_socket: reads and writes use recv(2)/send(2) (MSG_DONTWAIT, and
  // MSG_NOSIGNAL: EPIPE, never SIGPIPE) and their msg forms.
  bool is_socket = false;
  // is_stream: a pipe, FIFO or SOCK_STREAM socket (FdFacts::stream): a read
  // returning fewer bytes than asked (but more than zero) means the receive queue
  // was empty at that moment, so the readiness cache may be cleared without an
  // extra EAGAIN round trip. Never true for datagram sockets.
  bool is_stream = false;
  // set_nonblock: the driver turned O_NONBLOCK on (it was off) for an accept,
  // a connect or a file that refuses RWF_NOWAIT, on the file (dev, ino); it is
  // turned off again when the driver lets go of the fd, if the fd still names
  // that file.
  bool set_nonblock = false;
  dev_t dev = 0;
  ino_t ino = 0;
};

// ClassifyFd: fills `info` for `fd` from LearnFd (ringloop/drivers/internal/
// fd_facts.h), keeping only what it says about setting O_NONBLOCK. Changes no flag. Returns 0 or a
// negative errno (-EBADF for a closed fd).
int ClassifyFd(int fd, FdInfo* info);

// EnsureNonblock: makes sure `fd`'s file has O_NONBLOCK (F_GETFL, and F_SETFL if
// it lacks it, recorded in `info` for RestoreFlags). 0 or a negative errno.
int EnsureNonblock(int fd, FdInfo* info);

// RestoreFlags: turns O_NONBLOCK off again if EnsureNonblock turned it on and
// `fd` still names that file (a number closed and reused behind the driver's
// back is left alone).
void RestoreFlags(int fd, const FdInfo& info);

// NeedsPool: whether `op` may sleep in the kernel on a non-pollable object
// (regular file I/O on a kFile fd, fsync, openat, statx, unlinkat, mkdirat,
// renameat) and so belongs on the worker pool.
bool NeedsPool(const Op& op, FdInfo::Kind kind);

// TryOnce: one nonblocking attempt at `op` on the pollable fd it names (read,
// readv, write, writev, recv, send, a single accept, connect's first call, poll
// with a zero timeout) or an op that never waits (nop, socket, bind, listen,
// shutdown). Returns kWouldBlock when the op must wait for readiness, kNowFile
// when the fd now names a file (`info` then says so).
int TryOnce(const Op& op, FdInfo* info);

// ReadOnce, WriteOnce, RecvOnce, SendOnce: the hot-path attempts (what TryOnce
// does for Read, Write, Recv and Send), callable without a variant dispatch, and
// inline: they are the driver's per-op path. They take the op itself and read
// its fields at each call: then nothing but the op's address has to survive the
// syscall in a register (the driver's per-op path spilled fd, buf and len to
// the stack around the call when they were passed by value). An explicit offset
// is used where the file has a position and ignored on streams (pipes, FIFOs,
// sockets), as io_uring ignores it on pipes.
int ReadOnce(const Read& read, FdInfo* info);
int WriteOnce(const Write& write, FdInfo* info);
int RecvOnce(const Recv& recv);
int SendOnce(const Send& send);

// NonblockingResult: a nonblocking syscall's return value `r` (errno set when
// negative) as TryOnce answers: the value, kWouldBlock for EAGAIN/EWOULDBLOCK,
// or -errno. EINTR must have been retried by the caller.
inline int NonblockingResult(long r) {
  if (r >= 0) return static_cast<int>(r);
  return (errno == EAGAIN || errno == EWOULDBLOCK) ? kWouldBlock : -errno;
}

// Position: an op's offset as preadv2/pwritev2 take it (-1: the file position,
// which is what kCurrentPosition is in two's complement).
inline off_t Position(uint64_t offset) {
  static_assert(off_t(kCurrentPosition) == off_t{-1});
  return off_t(offset);
}

// Preadv2, Pwritev2: preadv2(2)/pwritev2(2) made directly, without glibc's
// wrappers (which split the offset for 32-bit ABIs and fall back to preadv when
// the kernel lacks the call: about 25 instructions per call on the per-op path).
// On a 64-bit kernel the offset is the low word; the high word is ignored.
// syscall(2) is variadic: every argument is passed as a long, so that no
// register's upper half is left undefined (an int -1 would arrive as 2^32 - 1).
[[gnu::always_inline]] inline long Preadv2(int fd, const iovec* iov, int iovcnt, off_t offset,
                                           int flags) {
  static_assert(sizeof(long) == 8, "the (offset, 0) split below is the 64-bit ABI's");
  return ::syscall(SYS_preadv2, long{fd}, iov, long{iovcnt}, long{offset}, 0L, long{flags});
}
[[gnu::always_inline]] inline long Pwritev2(int fd, const iovec* iov, int iovcnt, off_t offset,
                                            int flags) {
  static_assert(sizeof(long) == 8, "the (offset, 0) split below is the 64-bit ABI's");
  return ::syscall(SYS_pwritev2, long{fd}, iov, long{iovcnt}, long{offset}, 0L, long{flags});
}

// ReadAgain, WriteAgain: the rare answers of ReadOnce and WriteOnce, out of
// line: `res` (< 0, not kWouldBlock) is passed through unless it says a cached
// fact was wrong (ENOTSOCK from a socket call), the offset does not apply
// (ESPIPE: a stream), or the file refuses RWF_NOWAIT (EOPNOTSUPP); then the
// attempt is made again as the fd now requires.
[[gnu::cold]] int ReadAgain(const Read& read, FdInfo* info, int res);
[[gnu::cold]] int WriteAgain(const Write& write, FdInfo* info, int res);

[[gnu::always_inline]] inline int ReadOnce(const Read& read, FdInfo* info) {
  long r;
  if (info->is_socket) {
    while ((r = ::recv(read.fd, read.buf, read.len, MSG_DONTWAIT)) < 0 && errno == EINTR) {
    }
  } else {
    const iovec iov{read.buf, read.len};
    while ((r = Preadv2(read.fd, &iov, 1, Position(read.offset), RWF_NOWAIT)) < 0 &&
           errno == EINTR) {
    }
  }
  const int res = NonblockingResult(r);
  if (__builtin_expect(res < 0 && res != kWouldBlock, 0)) return ReadAgain(read, info, res);
  return res;
}

[[gnu::always_inline]] inline int WriteOnce(const Write& write, FdInfo* info) {
  long r;
  if (info->is_socket) {
    while ((r = ::send(write.fd, write.buf, write.len, MSG_NOSIGNAL | MSG_DONTWAIT)) < 0 &&
           errno == EINTR) {
    }
  } else {
    const iovec iov{const_cast<void*>(write.buf), write.len};
    while ((r = Pwritev2(write.fd, &iov, 1, Position(write.offset), RWF_NOWAIT)) < 0 &&
           errno == EINTR) {
    }
  }
  const int res = NonblockingResult(r);
  if (__builtin_expect(res < 0 && res != kWouldBlock, 0)) return WriteAgain(write, info, res);
  return res;
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
