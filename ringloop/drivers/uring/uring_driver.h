// ringloop/drivers/uring/uring_driver.h: the io_uring driver (liburing 2.3, probed kernel).
//
// UringDriver owns one io_uring. Each Poll hands the engine's pending requests to
// the kernel as SQEs (one prep visitor, ringloop/drivers/uring/internal/sqe_prep.h), waits
// once for completions with a single timeout for the engine's next deadline
// (IORING_ENTER_EXT_ARG, never one kernel timer per sleep), feeds every CQE's
// (user_data, res, flags) to Engine::HandleCompletion, then AdvanceTime(NowNs()).
//
// What the driver guarantees on top of the Driver contract:
// - Links: the engine plays chains itself, so the only link it hands over is an
//   op followed by its linked timeout. The pair's two SQEs are filled and
//   published with one SQ tail store (if the SQ lacks room for both, what is
//   queued is submitted first): Request.link becomes IOSQE_IO_LINK in
//   sqe->flags, and the kLinkTimeout is IORING_OP_LINK_TIMEOUT with
//   IORING_TIMEOUT_ABS on CLOCK_MONOTONIC (NowNs's clock).
// - Per-op fallback: an op whose opcode the kernel lacks (BIND/LISTEN before 6.11,
//   SOCKET before 5.19, ...) runs as its syscall on the loop's thread
//   (ringloop/drivers/sync_op.h) and its result is posted as its completion; its
//   linked timeout, if it has one, is posted -ECANCELED after it (the op won).
// - Offsets on sockets: a socket has no file position, so a Read, Readv, Write or
//   Writev on one ignores its offset, as under the epoll driver and the simulator
//   (io_uring itself would fail a nonzero offset with -ESPIPE; it ignores the
//   offset on a pipe). Reads are issued at the current position.
// - Writes on sockets: a Write or Writev on a socket is sent as IORING_OP_SEND /
//   IORING_OP_SENDMSG with MSG_NOSIGNAL (and MSG_EOR on a SOCK_SEQPACKET socket, as
//   write(2) adds), so a peer that is gone yields -EPIPE, never SIGPIPE, as under the
//   epoll driver and the simulator (IORING_OP_WRITE goes through sock_write_iter,
//   which raises SIGPIPE; seen on 6.18).
// - Kernel errors: -EINTR is retried; -EBUSY/-EAGAIN make Poll reap and leave the rest
//   queued; CQ overflow (IORING_FEAT_NODROP, required) is flushed with GETEVENTS. An
//   SQE once filled is the kernel's whatever io_uring_enter returned: it stays in the
//   SQ until the kernel takes it, and its op is never forgotten.
// - Task work (COOP_TASKRUN/DEFER_TASKRUN): completions the kernel holds as task
//   work are run by a Poll's one io_uring_enter, the one that submits. Work that
//   arrives while Poll reaps waits for the next Poll's enter (which then does not
//   sleep): one syscall per Poll, not two.
// - Wake: an eventfd read is kept armed in the ring; Wake() writes the eventfd at most
//   once per wake-up (an atomic pending flag). SendWake() wakes another UringDriver
//   through IORING_OP_MSG_RING (Linux 5.18), the way to go under SINGLE_ISSUER.
//   Other code must not MSG_RING into a UringDriver's ring: a CQE the driver did not
//   ask for is indistinguishable from its own.
// - Destruction drains: every SQE still in the kernel is cancelled
//   (IORING_ASYNC_CANCEL_ANY) and its CQE awaited before the ring is unmapped, so no
//   buffer is written after the driver is gone. (Drain the engine first to give its
//   ops their final events: engine.Shutdown(), then Poll until engine.Quiescent().)
//
// fds: the driver takes the fds it is given as borrowed: it never closes one but
// for the engine's Close op, and changes no flag (io_uring needs no O_NONBLOCK:
// the kernel parks a read, an accept or a connect itself, so the loop's thread
// waits only in io_uring_enter, whatever the fd names). The one fact it keeps is
// whether an fd is a socket, learnt with one fstat (and SO_TYPE) on the first
// write, or read at an explicit offset, on it, until the engine's Close op for it
// (or ForgetFd). An fd closed with close(2) behind the driver's back and its
// number reused does not inherit that answer: a write prepared as a send, or a
// read at an offset prepared as a recv, on what is no socket now fails -ENOTSOCK,
// and a read or write at a nonzero offset on what is a socket now fails -ESPIPE;
// the driver then learns the fd again and, if it changed, submits the op again
// (with its linked timeout) as the new file requires: the engine never sees the
// stale answer (UringStats::stale_retries counts them). The cost of closing
// outside: one failed SQE and one fstat, once per reuse. Two limits: a write on a
// socket whose number the driver last saw as another file goes as
// IORING_OP_WRITE, which writes the data but raises SIGPIPE if the peer is gone
// (the Loop ignores SIGPIPE); and a registered file (RegisterFile) keeps naming
// the file it was registered with until the engine's Close op or ForgetFd,
// whatever close(2) did to its number. An op in the kernel keeps its file: a
// read blocked on an fd closed outside keeps waiting on that file, not the new
// one.
//
// Driver-owned SQEs carry user_data of a kind request.h reserves for drivers
// (IsDriverUserData), so they never reach the engine.
//
// Threads: Create, Poll, the destructor and every other method run on one thread,
// the owner (with single_issuer, the thread that called Create). Wake() alone may be
// called from any thread, as long as the driver outlives the call.
#ifndef RINGLOOP_DRIVERS_URING_URING_DRIVER_H_
#define RINGLOOP_DRIVERS_URING_URING_DRIVER_H_

#include <liburing.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ringloop/core/engine.h"
#include "ringloop/drivers/driver.h"
#include "ringloop/drivers/uring/buffer_ring.h"
#include "ringloop/drivers/uring/uring_probe.h"

namespace ringloop {

// UringStats: counters for diagnostics and tests. Monotonic; owner thread only.
struct UringStats {
  uint64_t enters = 0;            // io_uring_enter calls
  uint64_t sqes = 0;              // SQEs filled
  uint64_t cqes = 0;              // CQEs reaped
  uint64_t full_sq_submits = 0;   // submits made early because the SQ lacked room
  uint64_t overflow_flushes = 0;  // GETEVENTS entries to flush an overflowed CQ
  uint64_t sync_ops = 0;          // ops performed as plain syscalls
  uint64_t wakeups = 0;           // eventfd wake-up completions
  uint64_t msg_ring_wakeups = 0;  // wake-ups received through MSG_RING
  uint64_t eintr = 0;             // io_uring_enter calls interrupted
  uint64_t busy = 0;              // -EBUSY / -EAGAIN from io_uring_enter
  uint64_t foreign_cqes = 0;      // driver-kind CQEs no SQE of ours produced (ignored)
  uint64_t socket_writes = 0;     // Write/Writev ops sent as SEND/SENDMSG (on a socket)
  uint64_t fd_probes = 0;         // fstat calls to learn whether an fd is a socket
  uint64_t stale_retries = 0;     // ops submitted again: the fd cache was stale
};

namespace uring_internal {
class UringDriverImpl;
}  // namespace uring_internal

// UringDriver: the io_uring driver's public face. Create makes the one kind
// there is (uring_internal::UringDriverImpl, in internal/driver_impl.h: the
// ring, its tables and the submission and completion paths), so the fields
// never show here.
class UringDriver : public Driver {
 public:
  // Options: the ring Create sets up and what it registers.
  struct Options {
    // sq_entries: submission queue size (2..32768; the kernel rounds up to a power
    // of two). cq_entries: completion queue size, 0 for the kernel's 2 * SQ; else at
    // least sq_entries.
    uint32_t sq_entries = 256;
    uint32_t cq_entries = 0;
    // sqpoll: a kernel thread polls the SQ (IORING_SETUP_SQPOLL), sleeping after
    // sqpoll_idle_ms without work; Poll wakes it when needed.
    bool sqpoll = false;
    uint32_t sqpoll_idle_ms = 1000;
    // single_issuer: only the creating thread submits (IORING_SETUP_SINGLE_ISSUER,
    // 6.0). defer_taskrun: completions run only when the owner polls
    // (IORING_SETUP_DEFER_TASKRUN, 6.1; needs single_issuer, excludes sqpoll).
    bool single_issuer = false;
    bool defer_taskrun = false;
    // coop_taskrun: no IPI to run completions (IORING_SETUP_COOP_TASKRUN, 5.19;
    // excludes sqpoll).
    bool coop_taskrun = false;
    // registered_file_slots: size of the registered-file table (0: none). Fds put in
    // it with RegisterFile() are used as fixed files (IOSQE_FIXED_FILE); the slot is
    // released when the engine closes the fd.
    uint32_t registered_file_slots = 0;
    // registered_buffers: buffers registered at setup; a Read/Write whose buffer lies
    // inside one becomes READ_FIXED/WRITE_FIXED. They must outlive the driver.
    std::vector<iovec> registered_buffers;
    // force_sync_ops: OpKinds (bit i = OpKind i) to perform as plain syscalls even if
    // the kernel has their opcode; only kinds for which CanRunSync() holds. For tests,
    // and to behave like an older kernel.
    uint32_t force_sync_ops = 0;
  };

  // Create: sets up the ring, probes the kernel, registers the options' resources.
  // Errors are those of uring_probe.h (kUnavailable: io_uring unusable here, fall
  // back to epoll; kPermissionDenied/kFailedPrecondition: an option is refused, retry
  // without it; kInvalidArgument: inconsistent options; kResourceExhausted: memlock
  // or fds).
  static absl::StatusOr<std::unique_ptr<UringDriver>> Create(Options options);

  // Probe: OK if io_uring works in this process and the kernel has what the driver
  // needs; else why not (same codes as Create). Sets up and tears down a tiny ring.
  static absl::Status Probe();

  // ~UringDriver: cancels every SQE still in the kernel, waits for all their CQEs,
  // unregisters buffer rings, unmaps the ring. Owner thread only.
  ~UringDriver() override = default;
  UringDriver(const UringDriver&) = delete;
  UringDriver& operator=(const UringDriver&) = delete;

  // --- Driver ----------------------------------------------------------------

  std::string_view Name() const override { return "uring"; }
  absl::Status Poll(Engine& engine, bool wait) override = 0;
  void Wake() override = 0;
  uint64_t NowNs() const override = 0;

  // --- io_uring extras (owner thread) ------------------------------------------

  // PollFor: Poll that waits at most `max_wait_ns` (0: never blocks; kNoDeadline:
  // as Poll(engine, true)), for callers with a bound of their own (tests, runtimes
  // that merge other timers).
  virtual absl::Status PollFor(Engine& engine, uint64_t max_wait_ns) = 0;

  // RegisterFile: puts `fd` in the registered-file table; later ops on it use the
  // fixed file. Needs Options::registered_file_slots > 0. Registering twice is OK.
  virtual absl::Status RegisterFile(int fd) = 0;

  // IsRegistered: whether `fd` is in the registered-file table.
  virtual bool IsRegistered(int fd) const = 0;

  // ForgetFd: drops what the driver knows about `fd` (whether it is a socket) and
  // releases its registered-file slot, if any, as the engine's Close op does, for
  // an fd about to be closed outside the engine. No op may be in flight on it.
  void ForgetFd(int fd) override = 0;

  // AddBufferRing: a provided-buffer ring for Recv.buf_group == `group` (see
  // buffer_ring.h), owned by the driver and valid until it is destroyed.
  virtual absl::StatusOr<BufferRing*> AddBufferRing(uint16_t group, uint32_t count,
                                                    uint32_t buffer_size) = 0;

  // CancelFd: asks the kernel to cancel every op in flight on `fd`
  // (IORING_ASYNC_CANCEL_FD | ALL, Linux 5.19), sent with the next Poll. Those ops
  // end -ECANCELED through the engine as usual. The engine's Close already cancels
  // per op; this is for bulk teardown.
  virtual void CancelFd(int fd) = 0;

  // SendWake: makes a Poll of `target` (another ring, possibly blocked in another
  // thread) return, by posting a CQE into its ring with IORING_OP_MSG_RING
  // (Linux 5.18). Owner thread of *this; `target` must outlive the call.
  virtual absl::Status SendWake(UringDriver& target) = 0;

  // RunsSync: whether ops of `kind` are performed as syscalls (kernel lacks the
  // opcode, or Options::force_sync_ops).
  virtual bool RunsSync(OpKind kind) const = 0;

  // capabilities: what the probe found in the running kernel.
  virtual const UringCapabilities& capabilities() const = 0;
  // stats: the counters so far (owner thread).
  virtual const UringStats& stats() const = 0;
  // wake_writes: eventfd writes made by Wake() (any thread).
  virtual uint64_t wake_writes() const = 0;
  // sqes_in_kernel: SQEs filled whose final CQE has not come back.
  virtual uint64_t sqes_in_kernel() const = 0;
  // ring_fd: the ring's file descriptor (owned by the driver).
  virtual int ring_fd() const = 0;

 private:
  friend class uring_internal::UringDriverImpl;
  UringDriver() = default;
};

}  // namespace ringloop

#endif  // RINGLOOP_DRIVERS_URING_URING_DRIVER_H_
