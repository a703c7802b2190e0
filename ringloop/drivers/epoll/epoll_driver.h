// ringloop/drivers/epoll/epoll_driver.h: the readiness driver (epoll), for where io_uring is
// missing or forbidden.
//
// EpollDriver plays the kernel's part of io_uring with plain syscalls, from the
// very requests the uring driver gets, so the engine cannot tell them apart:
//
// - Sockets, pipes, FIFOs, eventfds: the op is tried at once as a nonblocking
//   syscall; on EAGAIN it is parked on the fd until epoll says the fd is ready,
//   then tried again. Every attempt asks not to block in the call itself
//   (MSG_DONTWAIT; RWF_NOWAIT through preadv2/pwritev2), so the fds keep their
//   flags. Only where a call has no such flag (accept, connect) or the file
//   refuses RWF_NOWAIT (a tty) is O_NONBLOCK checked with F_GETFL right before
//   the call and turned on if it is off; the driver then turns it off again when
//   it lets go of the fd (Close op, ForgetFd, destruction), if the number still
//   names that file: an fd may share its open file description with another
//   process (a shell's tty, a listener).
// - Registration: each fd is added to the epoll set the first time an op parks on
//   it, and stays until its Close op. From the first read (read, readv, recv,
//   accept) parked on it, it is level-triggered; before, edge-triggered. The readiness
//   cache (tokio's idea) decides whether an op is tried at once or parks: an fd is
//   "readable" after an EPOLLIN report and "not readable" after EAGAIN, after a
//   short read on a stream (see FdInfo::is_stream), and, while level-triggered,
//   after any read that returned data: epoll_wait then reports whatever is left,
//   so the next read waits for that report instead of trying a doomed read(2)
//   (with edge triggering, data left behind by a read that filled its buffer
//   brings no new edge, so the next read must be tried). Edge triggering is
//   correct for the rest because every op is attempted before it parks and parked
//   ops are retried until one answers EAGAIN. Interest grows as ops park (EPOLLIN,
//   EPOLLOUT the first time a write parks, a PollAdd's events) and stays when
//   they complete. A level-triggered registration that reports what no parked op
//   waits for (data nobody asked for yet, a writable socket, a hang-up) reports it
//   again at every epoll_wait: the first such report only marks the fd ready (the
//   op that comes next, a connection's next read, takes it at once); a second
//   one with no attempt in that direction in between drops that direction from
//   the registration with one EPOLL_CTL_MOD (and a hang-up turns it
//   edge-triggered if no read is parked), so the loop never spins; a parked
//   PollAdd keeps only the directions it asks for. A server
//   whose connections read, answer and read again thus pays no epoll_ctl per
//   request, even when a request arrives before the read that takes it.
// - Regular files, fsync, openat, statx, unlinkat, mkdirat, renameat: on a small
//   worker pool (Options::file_workers threads, started lazily), because they can
//   sleep in the kernel for milliseconds and epoll cannot wait for them; run on the
//   loop's thread, one slow disk would stall every socket. A read of a regular file
//   is first tried with RWF_NOWAIT (page cache only) on the loop's thread, as
//   io_uring does, and goes to the pool only when it would block. Results come
//   back through the driver's eventfd. file_workers = 0 runs them synchronously.
// - Requests the kernel would carry out for io_uring are emulated here:
//   kLinkTimeout (a timer per deadline, merged with engine.NextDeadline() into
//   epoll_wait's timeout: timer first -> op -ECANCELED, timeout -ETIME; op first
//   -> timeout -ECANCELED; the engine plays chains itself, so an op followed by
//   its linked timeout is the only link it hands over), kCancel (a parked or
//   not-yet-started pool op ends -ECANCELED and the cancel 0; a running pool op
//   -> -EALREADY; an unknown or finished target -> -ENOENT), kShutdown, and
//   multishot accept (one completion per connection with kCqeFMore, until an
//   error or a cancel ends it without).
// - Not emulated: provided-buffer groups. A Recv with a buffer group, and any
//   multishot Recv (io_uring requires a buffer group for it), completes -EINVAL.
//   A write on a pollable fd completes with what one nonblocking write(2)
//   accepted once the fd was writable (possibly short, as send(2) under io_uring
//   is); MSG_WAITALL is not looped over.
// - Completions are queued while requests are carried out and events reaped, and
//   fed to the engine (one HandleCompletions batch) only at the end of Poll,
//   never recursively.
// - Costs: a lone op (no deadline) on a socket or pipe the driver
//   already knows is tried at once and, if it would block, parked in its fd's
//   inline slot for that direction (FdState::lone) or, if that is taken, in a
//   recycled Job; an fd's state is found by indexing a vector
//   (internal/fd_table.h), a parked op by its slot (UserDataSlot); linked timeouts
//   wait in a heap. Jobs and timer entries are recycled, so
//   steady state allocates nothing per op. (The state machine itself is
//   internal/driver_impl.h, which is not installed.)
//
// fds: the driver takes the fds it is given as borrowed: it never closes one
// except for the engine's Close op, and changes no flag but O_NONBLOCK as above.
// What it learns about an fd (regular file or pollable, socket or not, its epoll
// registration and readiness) is kept until that Close op (or ForgetFd), but
// never trusted where trusting it could block the loop or answer for another
// file, because an fd may be closed with close(2) behind the driver's back and
// its number reused:
// - The loop's thread never blocks in a syscall other than epoll_wait, whatever
//   the fd now names (see above; regular-file I/O goes to the pool only after an
//   fstat says the number still names a regular file).
// - An answer that contradicts what was learnt (ENOTSOCK from a send or recv
//   made for a write or read, EPERM from epoll_ctl for a file learnt as
//   pollable, a pollable answer where a file was learnt) makes the driver learn
//   the fd again and start the op again, once; the stale answer is never the
//   op's result.
// - An op parked on a registration made for an earlier op may wait on one the
//   kernel dropped with the old file: such registrations are checked with
//   EPOLL_CTL_MOD (ENOENT: added again, and the kernel reports what is ready)
//   once the loop has slept 10 ms with nothing reported, and every 64 Polls for
//   those whose ops stay parked in a loop that never sleeps (see CheckSuspects
//   in internal/readiness.cc). Ops that complete promptly, as on a busy
//   connection, cost no syscall for this.
// - If the number is closed while an op is parked on it: an op parked on a
//   registration of its own keeps waiting (as a blocked read keeps its file in
//   the kernel); one parked on an earlier op's registration ends -EBADF at the
//   next check if the number names nothing, or starts again on the new file.
// - A closed file kept open elsewhere (a dup, a child process) keeps its
//   registration, which epoll cannot remove once the number is gone: its reports
//   (at every epoll_wait while it is level-triggered and ready) reach the fd's
//   new file as spurious readiness: attempts that find nothing and park again.
// So closing outside costs a relearning fstat and one EPOLL_CTL_MOD/ADD at most,
// and a wait until the loop has been idle 10 ms; ForgetFd before close(2) costs
// nothing.
//
// Threads: one thread owns the driver (Poll, ForgetFd, the destructor). Wake() may
// be called from any thread while the driver exists. Pool workers are internal.
#ifndef RINGLOOP_DRIVERS_EPOLL_EPOLL_DRIVER_H_
#define RINGLOOP_DRIVERS_EPOLL_EPOLL_DRIVER_H_

#include <cstdint>
#include <memory>
#include <string_view>

#include "absl/status/statusor.h"
#include "ringloop/drivers/driver.h"

namespace ringloop {

namespace epoll_internal {
class EpollDriverImpl;
}  // namespace epoll_internal

// EpollDriver: the readiness driver's public face. Create makes the one kind
// there is (epoll_internal::EpollDriverImpl, in internal/driver_impl.h: the
// state machine, its fd table, jobs, timers and pool), so the fields never show
// here.
class EpollDriver : public Driver {
 public:
  // Options: what Create sets up.
  struct Options {
    // file_workers: threads for regular-file and metadata ops; 0 runs them on the
    // loop's thread.
    int file_workers = 2;
    // max_events: epoll_event slots per epoll_wait.
    int max_events = 256;
    // lone_slots: whether a lone op (see "Costs" above) takes the fast path that
    // parks it in its fd's inline slot. For tests only: with false every op
    // takes the general path (a Job), whose outputs must be the same;
    // epoll_lone_slot_test checks that they are.
    bool lone_slots = true;
  };

  // Stats: counters for tests and diagnostics.
  struct Stats {
    uint64_t syscalls_would_block = 0;  // attempts that answered EAGAIN
    uint64_t parked = 0;                // ops parked on readiness
    uint64_t epoll_ctls = 0;            // epoll_ctl calls (ADD/MOD/DEL)
    uint64_t epoll_waits = 0;
    uint64_t pool_ops = 0;        // ops handed to the worker pool
    uint64_t timeouts_fired = 0;  // linked timeouts that cut their op
    uint64_t eintr = 0;           // epoll_waits interrupted by a signal (and resumed)
    // Closes behind the driver's back (see "fds" in the file comment):
    uint64_t fds_relearnt = 0;         // fds learnt again (a file/pollable answer contradicted)
    uint64_t stale_registrations = 0;  // registrations the kernel had dropped (added again)
    uint64_t registrations_lost = 0;   // parked ops failed: their fd could not be registered
    uint64_t idle_checks = 0;          // registrations checked after a quiet grace period
  };

  // Create: an epoll set and a wake-up eventfd; fails with the syscall's errno
  // (e.g. EMFILE).
  static absl::StatusOr<std::unique_ptr<EpollDriver>> Create(Options options);
  static absl::StatusOr<std::unique_ptr<EpollDriver>> Create() { return Create(Options()); }

  ~EpollDriver() override = default;
  EpollDriver(const EpollDriver&) = delete;
  EpollDriver& operator=(const EpollDriver&) = delete;

  // Name: "epoll".
  std::string_view Name() const override { return "epoll"; }

  // Poll: see Driver::Poll. Errors only when epoll_wait itself fails.
  absl::Status Poll(Engine& engine, bool wait) override = 0;

  // Wake: makes a blocked Poll return; one eventfd write per wake-up.
  void Wake() override = 0;

  // NowNs: CLOCK_MONOTONIC.
  uint64_t NowNs() const override = 0;

  // ForgetFd: drops what the driver knows about `fd` (and puts O_NONBLOCK back if
  // the driver set it), for an fd about to be closed outside the engine: then
  // the number's next file starts afresh (see "fds" above). No op may be in
  // flight on it.
  void ForgetFd(int fd) override = 0;

  // SetNonblockOn: whether the driver turned O_NONBLOCK on for `fd` (tests).
  bool SetNonblockOn(int fd) const;

  // stats: the counters so far (owner thread).
  const Stats& stats() const;
  // wake_writes: eventfd writes made by Wake() (any thread).
  uint64_t wake_writes() const;

 private:
  friend class epoll_internal::EpollDriverImpl;
  EpollDriver() = default;
};

}  // namespace ringloop

#endif  // RINGLOOP_DRIVERS_EPOLL_EPOLL_DRIVER_H_
