// ringloop/drivers/internal/fd_facts.h: what an fd names, as fstat(2) and SO_TYPE say.
//
// Both real drivers must know what kind of file an fd names before they pick
// the call that performs an op on it: the uring driver sends a write on a
// socket as a send (MSG_NOSIGNAL) and ignores an offset on one; the epoll
// driver waits for readiness only on what epoll can wait for, and trusts a
// short read to mean "empty" only on a stream. LearnFd is the one place that
// asks the kernel; each driver keeps what it learnt in its own fd table and
// learns again when an answer contradicts it (the fd was closed and its number
// reused behind the driver's back). Thread-safe: a plain syscall wrapper.
#ifndef RINGLOOP_DRIVERS_INTERNAL_FD_FACTS_H_
#define RINGLOOP_DRIVERS_INTERNAL_FD_FACTS_H_

#include <sys/socket.h>

namespace ringloop::drivers_internal {

// FdFacts: what one fstat (and, for a socket, one SO_TYPE) said about an fd.
struct FdFacts {
  // file: a regular file, a block device or a directory: it has a position,
  // epoll refuses it (EPERM), and I/O on it may sleep in the kernel.
  bool file = false;
  // socket: S_ISSOCK. socket_type: its SO_TYPE (SOCK_STREAM, SOCK_DGRAM,
  // SOCK_SEQPACKET, ...), or 0 when it is no socket or SO_TYPE failed.
  bool socket = false;
  int socket_type = 0;
  // fifo: a pipe or a FIFO (S_ISFIFO).
  bool fifo = false;

  // stream: a pipe, a FIFO or a SOCK_STREAM socket: a read that returns
  // fewer bytes than asked (but more than zero) found the queue empty
  // (pipe_read and the stream sockets' recvmsg copy until it is).
  bool stream() const { return fifo || socket_type == SOCK_STREAM; }
};

// LearnFd: the facts of `fd`: 0, or fstat's negative errno (-EBADF: the
// number names nothing), `facts` then untouched. Retries EINTR.
int LearnFd(int fd, FdFacts* facts);

}  // namespace ringloop::drivers_internal

#endif  // RINGLOOP_DRIVERS_INTERNAL_FD_FACTS_H_
