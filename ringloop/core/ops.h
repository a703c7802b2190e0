// ringloop/core/ops.h: the operations ringloop can perform, as plain data.
//
// An Op is a std::variant of small structs, each named after the syscall it
// performs. The core never performs them: it only tracks them. Drivers turn an
// Op into an SQE (uring), a nonblocking syscall (epoll) or a simulated effect
// (sim) with one visitor each. Adding an op = one struct here, one arm per
// driver visitor.
//
// Pointers inside an op (buffers, paths, sockaddrs, iovecs) are borrowed: the
// caller keeps them valid until the op's final event. The core guarantees that
// event comes only after the kernel's final completion for the op (engine.h,
// "Buffers"), so a buffer is never released while the kernel may touch it.
//
// Thread safety: plain values; no shared state.
#ifndef RINGLOOP_CORE_OPS_H_
#define RINGLOOP_CORE_OPS_H_

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <cstdint>
#include <string_view>
#include <variant>

struct statx;  // <linux/stat.h>; only a pointer is stored here.

namespace ringloop {

// kCurrentPosition: the offset meaning "use and advance the file position"
// (io_uring's -1 offset; read(2)/write(2) rather than pread(2)/pwrite(2)).
inline constexpr uint64_t kCurrentPosition = ~uint64_t{0};

// kNoBufferGroup: Recv reads into its own buffer, not a provided-buffer group.
inline constexpr uint16_t kNoBufferGroup = 0xffff;

// Nop: completes with 0. Exercises the pipeline without touching a file.
struct Nop {};

// Read: read(2)/pread(2) of up to `len` bytes into `buf`.
struct Read {
  int fd = -1;
  void* buf = nullptr;
  uint32_t len = 0;
  uint64_t offset = kCurrentPosition;
};

// Write: write(2)/pwrite(2) of `len` bytes from `buf`.
struct Write {
  int fd = -1;
  const void* buf = nullptr;
  uint32_t len = 0;
  uint64_t offset = kCurrentPosition;
};

// Readv: readv(2)/preadv(2) into `iovcnt` buffers.
struct Readv {
  int fd = -1;
  const iovec* iov = nullptr;
  uint32_t iovcnt = 0;
  uint64_t offset = kCurrentPosition;
};

// Writev: writev(2)/pwritev(2) from `iovcnt` buffers.
struct Writev {
  int fd = -1;
  const iovec* iov = nullptr;
  uint32_t iovcnt = 0;
  uint64_t offset = kCurrentPosition;
};

// Recv: recv(2). With `multishot`, one submission yields a stream of events,
// each reading into a buffer picked from provided-buffer group `buf_group`
// (the event's flags carry the buffer id); `buf` must then be null.
struct Recv {
  int fd = -1;
  void* buf = nullptr;
  uint32_t len = 0;
  int flags = 0;
  uint16_t buf_group = kNoBufferGroup;
  bool multishot = false;
};

// Send: send(2). The core adds nothing: MSG_NOSIGNAL is the caller's choice
// (drivers add it so that a closed peer yields EPIPE, never SIGPIPE).
struct Send {
  int fd = -1;
  const void* buf = nullptr;
  uint32_t len = 0;
  int flags = 0;
};

// Accept: accept4(2). With `multishot`, one submission yields one event per
// accepted connection (result = the new fd) until cancelled or failed.
struct Accept {
  int fd = -1;
  sockaddr* addr = nullptr;      // may be null
  socklen_t* addrlen = nullptr;  // null iff addr is null
  int flags = SOCK_CLOEXEC;
  bool multishot = false;
};

// Connect: connect(2).
struct Connect {
  int fd = -1;
  const sockaddr* addr = nullptr;
  socklen_t addrlen = 0;
};

// Shutdown: shutdown(2) with SHUT_RD, SHUT_WR or SHUT_RDWR.
struct Shutdown {
  int fd = -1;
  int how = SHUT_RDWR;
};

// PollAdd: poll(2) for `events` (POLLIN, ...) on one fd; result = revents.
struct PollAdd {
  int fd = -1;
  uint32_t events = 0;
};

// Close: close(2). Users do not submit this directly: Engine::Close runs the
// orderly close protocol and issues this op only when the fd is drained.
struct Close {
  int fd = -1;
};

// Openat: openat(2); result = the new fd.
struct Openat {
  int dirfd = AT_FDCWD;
  const char* path = nullptr;
  int flags = O_RDONLY | O_CLOEXEC;
  mode_t mode = 0;
};

// Fsync: fsync(2), or fdatasync(2) when `datasync`.
struct Fsync {
  int fd = -1;
  bool datasync = false;
};

// Statx: statx(2) into `buf`.
struct Statx {
  int dirfd = AT_FDCWD;
  const char* path = nullptr;
  int flags = 0;
  uint32_t mask = 0;
  struct statx* buf = nullptr;
};

// Unlinkat: unlinkat(2) (AT_REMOVEDIR in `flags` removes a directory).
struct Unlinkat {
  int dirfd = AT_FDCWD;
  const char* path = nullptr;
  int flags = 0;
};

// Mkdirat: mkdirat(2).
struct Mkdirat {
  int dirfd = AT_FDCWD;
  const char* path = nullptr;
  mode_t mode = 0755;
};

// Renameat: renameat2(2).
struct Renameat {
  int olddirfd = AT_FDCWD;
  const char* oldpath = nullptr;
  int newdirfd = AT_FDCWD;
  const char* newpath = nullptr;
  uint32_t flags = 0;
};

// Socket: socket(2); result = the new fd.
struct Socket {
  int domain = AF_INET;
  int type = SOCK_STREAM | SOCK_CLOEXEC;
  int protocol = 0;
};

// Bind: bind(2).
struct Bind {
  int fd = -1;
  const sockaddr* addr = nullptr;
  socklen_t addrlen = 0;
};

// Listen: listen(2).
struct Listen {
  int fd = -1;
  int backlog = 128;
};

// Timeout: a sleep until the absolute time `deadline_ns` (the engine's clock).
// Kept in the core's timer table, never sent to the kernel: the driver wakes
// up once for the engine's next deadline. Completes with 0 when it fires.
struct Timeout {
  uint64_t deadline_ns = 0;
};

// Op: every operation the engine tracks.
using Op = std::variant<Nop, Read, Write, Readv, Writev, Recv, Send, Accept, Connect, Shutdown,
                        PollAdd, Close, Openat, Fsync, Statx, Unlinkat, Mkdirat, Renameat, Socket,
                        Bind, Listen, Timeout>;

// OpKind: the index of an op's alternative in Op, in declaration order.
enum class OpKind : uint8_t {
  kNop,
  kRead,
  kWrite,
  kReadv,
  kWritev,
  kRecv,
  kSend,
  kAccept,
  kConnect,
  kShutdown,
  kPollAdd,
  kClose,
  kOpenat,
  kFsync,
  kStatx,
  kUnlinkat,
  kMkdirat,
  kRenameat,
  kSocket,
  kBind,
  kListen,
  kTimeout,
};
inline constexpr size_t kOpKindCount = std::variant_size_v<Op>;
static_assert(static_cast<size_t>(OpKind::kTimeout) + 1 == kOpKindCount);

// KindOf: the OpKind of `op`.
inline OpKind KindOf(const Op& op) { return static_cast<OpKind>(op.index()); }

// OpName: the syscall name of `kind` ("read", "accept", ...), for messages.
std::string_view OpName(OpKind kind);

// FdOf: the file descriptor `op` acts on, or -1 for ops that name none
// (Nop, Openat, Statx, Unlinkat, Mkdirat, Renameat, Socket, Timeout; their
// dirfds are not tracked by the close protocol).
int FdOf(const Op& op);

// IsSocketOp: whether `op` only makes sense on a socket (so the close protocol
// may shutdown(2) the fd to unblock it).
bool IsSocketOp(const Op& op);

// IsMultishot: whether `op` yields a stream of events ending in one final event.
// Inline: the engine and the coroutine layer ask it for every op they take.
inline bool IsMultishot(const Op& op) {
  if (const auto* a = std::get_if<Accept>(&op)) return a->multishot;
  if (const auto* r = std::get_if<Recv>(&op)) return r->multishot;
  return false;
}

// WaitsForReadiness: whether ops of `kind` may wait for something outside the
// process that may never come: data or room on a pipe or socket, a peer's
// connection, a peer's accept, a poll event (Read, Readv, Write, Writev, Recv,
// Send, Accept, Connect, PollAdd, multishot or not). The engine never holds
// such an op back for room and never counts it against its in-flight bound
// (Engine::Options::max_in_flight): a bound on ops that may wait forever
// deadlocks, as soon as that many of them wait for peers that stay idle
// (keep-alive connections with a recv parked each) and the accept or send
// that would end their wait can no longer be submitted. Every other op
// completes on its own. The kind alone decides: a read of a regular file
// completes on its own too, but the engine cannot tell a file from a pipe.
constexpr bool WaitsForReadiness(OpKind kind) {
  switch (kind) {
    case OpKind::kRead:
    case OpKind::kReadv:
    case OpKind::kWrite:
    case OpKind::kWritev:
    case OpKind::kRecv:
    case OpKind::kSend:
    case OpKind::kAccept:
    case OpKind::kConnect:
    case OpKind::kPollAdd:
      return true;
    default:
      return false;
  }
}

// CheckArguments: 0 when `op`'s arguments are well formed, else the negative
// errno the op fails with at once, without reaching the kernel (EBADF for a
// negative fd, EFAULT for a null buffer with a non-zero length, EINVAL for
// inconsistent fields).
int CheckArguments(const Op& op);

// ChainMinimum: the smallest result with which `op` lets its chain go on. The
// kernel breaks an IOSQE_IO_LINK chain on any error and on a short transfer:
// for read, write, readv and writev that is the requested byte count; for
// recv and send only with MSG_WAITALL (else any result >= 0 is enough, as for
// every other op). Every driver that plays chains itself uses this rule.
uint64_t ChainMinimum(const Op& op);

// BreaksChain: whether result `res` of `op` ends its chain (the rest of the
// chain completes -ECANCELED).
bool BreaksChain(const Op& op, int32_t res);

// OpFacts: what the engine asks of every op it accepts, found with one visit.
struct OpFacts {
  int fd = -1;    // FdOf(op)
  int error = 0;  // CheckArguments(op)
  OpKind kind = OpKind::kNop;
  bool multishot = false;  // IsMultishot(op)
};

// Inspect: the OpFacts of `op`.
OpFacts Inspect(const Op& op);

}  // namespace ringloop

#endif  // RINGLOOP_CORE_OPS_H_
