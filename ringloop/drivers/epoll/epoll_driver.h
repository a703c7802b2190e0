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
//   it, and stays until its Close op. While a read (read, readv, recv, accept) is
//   parked on it, it is level-triggered; otherwise edge-triggered. The readiness
//   cache (tokio's idea) decides whether an op is tried at once or parks: an fd is
//   "readable" after an EPOLLIN report and "not readable" after EAGAIN, after a
//   short read on a stream (see FdInfo::is_stream), and, while level-triggered,
//   after any read that returned data: epoll_wait then reports whatever is left,
//   so the next read waits for that report instead of trying a doomed read(2)
//   (with edge triggering, data left behind by a read that filled its buffer
//   brings no new edge, so the next read must be tried). Edge triggering is
//   correct for the rest because every op is attempted before it parks and parked
//   ops are retried until one answers EAGAIN. Interest grows as ops park (EPOLLIN,
//   EPOLLOUT the first time a write parks, a PollAdd's events); a level-triggered
//   registration that reports what no parked op waits for (data nobody asked for
//   yet, a writable socket, a hang-up) would report it at every epoll_wait, so it
//   is then narrowed with one EPOLL_CTL_MOD to what parked ops still wait for (and
//   turned edge-triggered if no read is parked). A server that keeps a read
//   parked on each connection thus pays no epoll_ctl per op.
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
//   steady state allocates nothing per op.
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
//   before the loop sleeps, and every 64 Polls for those whose ops stay parked
//   in a loop that never sleeps (see CheckSuspects in the .cc). Ops that
//   complete promptly cost no syscall for this.
// - If the number is closed while an op is parked on it: an op parked on a
//   registration of its own keeps waiting (as a blocked read keeps its file in
//   the kernel); one parked on an earlier op's registration ends -EBADF at the
//   next check if the number names nothing, or starts again on the new file.
// - A closed file kept open elsewhere (a dup, a child process) keeps its
//   registration, which epoll cannot remove once the number is gone: its reports
//   (at every epoll_wait while it is level-triggered and ready) reach the fd's
//   new file as spurious readiness: attempts that find nothing and park again.
// So closing outside costs a relearning fstat and one EPOLL_CTL_MOD/ADD at most,
// and a wait until the loop would sleep; ForgetFd before close(2) costs nothing.
//
// Threads: one thread owns the driver (Poll, ForgetFd, the destructor). Wake() may
// be called from any thread while the driver exists. Pool workers are internal.
#ifndef RINGLOOP_DRIVERS_EPOLL_EPOLL_DRIVER_H_
#define RINGLOOP_DRIVERS_EPOLL_EPOLL_DRIVER_H_

#include <sys/epoll.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "ringloop/core/internal/indexed_heap.h"
#include "ringloop/drivers/driver.h"
#include "ringloop/drivers/epoll/internal/fd_table.h"
#include "ringloop/drivers/epoll/internal/file_pool.h"
#include "ringloop/drivers/epoll/internal/io_syscalls.h"

namespace ringloop {

class EpollDriver : public Driver {
 public:
  struct Options {
    // file_workers: threads for regular-file and metadata ops; 0 runs them on the
    // loop's thread.
    int file_workers = 2;
    // max_events: epoll_event slots per epoll_wait.
    int max_events = 256;
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
  };

  // Create: an epoll set and a wake-up eventfd; fails with the syscall's errno
  // (e.g. EMFILE).
  static absl::StatusOr<std::unique_ptr<EpollDriver>> Create(Options options);
  static absl::StatusOr<std::unique_ptr<EpollDriver>> Create() { return Create(Options()); }

  ~EpollDriver() override;
  EpollDriver(const EpollDriver&) = delete;
  EpollDriver& operator=(const EpollDriver&) = delete;

  // Name: "epoll".
  std::string_view Name() const override { return "epoll"; }

  // Poll: see Driver::Poll. Errors only when epoll_wait itself fails.
  absl::Status Poll(Engine& engine, bool wait) override;

  // Wake: makes a blocked Poll return; one eventfd write per wake-up.
  void Wake() override;

  // NowNs: CLOCK_MONOTONIC.
  uint64_t NowNs() const override;

  // ForgetFd: drops what the driver knows about `fd` (and puts O_NONBLOCK back if
  // the driver set it), for an fd about to be closed outside the engine: then
  // the number's next file starts afresh (see "fds" above). No op may be in
  // flight on it.
  void ForgetFd(int fd) override;

  // SetNonblockOn: whether the driver turned O_NONBLOCK on for `fd` (tests).
  bool SetNonblockOn(int fd) const;

  const Stats& stats() const { return stats_; }
  // wake_writes: eventfd writes made by Wake() (any thread).
  uint64_t wake_writes() const { return wake_writes_.load(std::memory_order_relaxed); }

 private:
  struct Job;
  enum class WaitList : uint8_t { kNone, kIn, kOut, kAny };
  static constexpr int kListCount = 4;

  // Waiter: a parked op as a kCancel finds it (FindActive, by user_data): a Job,
  // or the op held in an fd's inline slot (FdState::lone).
  struct Waiter {
    uint64_t user_data = 0;
    // op: the parked op; nullptr in an empty inline slot.
    const Op* op = nullptr;
    // lone: kIn or kOut for an inline slot (its direction), kNone for a Job.
    WaitList lone = WaitList::kNone;
  };

  // LoneIndex: the FdState::lone slot of a direction (kIn or kOut).
  static int LoneIndex(WaitList list) { return int(list) - int(WaitList::kIn); }

  // FdState: what the driver knows about one fd, and the ops parked on it.
  //
  // Per direction (kIn, kOut) the oldest parked op may sit in an inline slot,
  // `lone`, instead of a Job: a lone Read, Recv, Write or Send (no deadline)
  // that found the inline slot and its wait list both empty and its own slot
  // (UserDataSlot) free in active_by_index_. That is the common case (one read
  // parked per connection) and costs no Job, no list links and no timer checks. Later ops on that
  // direction wait in the FIFO behind it (one per WaitList, linked through Job::prev/next); an
  // occupied slot is always older than every Job in its list, so retrying the slot first keeps the
  // order of arrival.
  struct FdState {
    // fd: the number whose state this is (set by EnsureState), for Dispatch.
    int fd = -1;
    epoll_internal::FdInfo info;
    bool in_epoll = false;
    // level: registered without EPOLLET. Then interest includes EPOLLIN.
    bool level = false;
    uint32_t interest = 0;  // registered events (without EPOLLET)
    // The readiness cache: false after EAGAIN, a short stream read or write, or
    // (level-triggered) any read that returned data; true again after an epoll
    // report in that direction.
    bool readable = true;
    bool writable = true;
    bool retry_queued = false;  // in retry_fds_
    // suspect: in suspects_ (an op parked without an epoll_ctl of its own);
    // suspect_epoch: check_epoch_ when the last such op parked.
    bool suspect = false;
    uint32_t suspect_epoch = 0;
    // covers: per direction (LoneIndex), whether the registration already is
    // what an op parking there needs (in the set, the direction's events, and
    // level-triggered for kIn), so that ParkLone tests one byte. Kept by
    // Register, the only writer of in_epoll, interest and level.
    bool covers[2] = {false, false};
    Waiter lone[2] = {{0, nullptr, WaitList::kIn}, {0, nullptr, WaitList::kOut}};
    Job* head[kListCount] = {};
    Job* tail[kListCount] = {};

    // Idle: no op is parked on the fd.
    bool Idle() const;
    // Waits: some op is parked in direction `list` (kIn or kOut).
    bool Waits(WaitList list) const {
      return lone[LoneIndex(list)].op != nullptr || head[int(list)] != nullptr;
    }
  };

  // TimerEntry: one armed linked timeout in timers_, a binary min-heap ordered by
  // (deadline_ns, seq): timeouts with equal deadlines fire in arming order.
  struct TimerEntry {
    uint64_t deadline_ns;
    uint64_t seq;
    Job* job;
  };
  struct TimerBefore {
    bool operator()(const TimerEntry& a, const TimerEntry& b) const {
      return a.deadline_ns != b.deadline_ns ? a.deadline_ns < b.deadline_ns : a.seq < b.seq;
    }
  };
  // TimerMoved: each armed job knows its entry's position (Job::timer_index).
  struct TimerMoved {
    void operator()(const TimerEntry& e, size_t pos) const;
  };

  EpollDriver(Options options, int epoll_fd, int wake_fd);

  // Requests in.
  void SubmitPending(Engine& engine);
  bool StartLone(const Request& request);
  void StartOp(const Request& op_request, const Request* timeout);
  void DoCancel(const Request& request);
  void DoShutdown(const Request& request);

  // An op's life.
  Job* NewJob(const Request& op_request, const Request* timeout);
  Job* GrowJobs();
  void FreeJob(Job* job);
  void Begin(Job* job);
  void BeginOnFd(Job* job);
  void Complete(Job* job, int res);
  void Finish(Job* job, int res);
  void BeginOnFile(Job* job, FdState& s);
  bool NowFile(int fd, FdState& s);
  bool NowPollable(int fd, FdState& s);
  static void ForgetRegistration(FdState& s);
  int TryPollable(FdState& s, Job* job);
  int TryTransfer(FdState& s, const Op& op);
  int TryMultishotAccept(FdState& s, Job* job);
  int AfterRead(FdState& s, int res, uint64_t requested);
  int AfterWrite(FdState& s, int res, uint64_t requested);
  void NoteWouldBlock(bool* ready);
  int CloseOp(int fd);

  // Parking.
  int Park(FdState& s, Job* job);
  int ParkOn(FdState& s, Job* job, WaitList list, uint32_t need);
  int Register(int fd, FdState& s, uint32_t interest, bool level);
  void Relax(int fd, FdState& s);
  void Unpark(Job* job);
  void Track(Job* job);
  void TrackOverflow(Job* job);
  void Untrack(Job* job);
  Waiter* FindActive(uint64_t user_data);
  void ParkLone(const Request& request, FdState& s, WaitList list);
  [[gnu::cold, gnu::noinline]] bool CoverLone(const Request& request, FdState& s, WaitList list);
  [[gnu::cold]] void ParkLoneInJob(const Request& request, FdState& s, WaitList list);
  void EndLone(Waiter& w, int res);
  void CancelLone(Waiter& w);
  void RetryIn(FdState& s, WaitList list);
  void RetryJobs(FdState& s, WaitList list);
  void RetryAny(int fd);
  void RetryAll(int fd);
  void ProcessRetries();
  void RetriesAndTimers();
  void RetryAfterShutdown(FdState& s);
  void QueueRetry(FdState& s);

  // Registrations made for earlier ops (see CheckSuspects).
  void Suspect(FdState& s);
  [[gnu::cold]] void CheckSuspects(bool all);
  void CheckRegistration(FdState& s);
  void TakeParked(FdState& s, std::vector<Job*>* out);
  void RestartParked(FdState& s);
  void FailParked(FdState& s, int err);
  FdState* StateOf(int fd);
  FdState& EnsureState(int fd);

  // Time, the pool, waiting.
  void ArmTimer(Job* job);
  void DisarmTimer(Job* job);
  void FireTimers(uint64_t now_ns);
  void TimerRemove(size_t i);
  void SendToPool(Job* job);
  void ReapPool();
  absl::Status WaitAndDispatch(const Engine& engine, bool block);
  int Wait(int max_events, uint64_t deadline_ns);
  void DispatchEvents(int n);
  void Dispatch(const epoll_event& event);
  void DrainWakeFd();
  void Emit(uint64_t user_data, int res, uint32_t flags = 0);

  const Options options_;
  const int epoll_fd_;
  const int wake_fd_;
  std::atomic<bool> wake_pending_{false};  // a wake-up write is in the eventfd
  std::atomic<uint64_t> wake_writes_{0};
  bool use_pwait2_ = true;  // epoll_pwait2 (5.11) until it says ENOSYS

  // The FdState of each fd the driver has seen (see internal/fd_table.h).
  epoll_internal::FdTable<FdState> fds_;
  // Parked or pooled ops (what a kCancel may find), by the slot their user_data
  // names (UserDataSlot; request.h: one live op per slot): an array lookup, no
  // hashing, on the hot path. A user_data whose slot is taken or too large goes
  // to the overflow map (Jobs only: an inline slot is always here).
  std::vector<Waiter*> active_by_index_;
  // active_size_: active_by_index_.size() (it only grows, in TrackOverflow), for
  // StartLone's bounds check without a subtraction and a shift.
  uint32_t active_size_ = 0;
  absl::flat_hash_map<uint64_t, Job*> active_overflow_;
  // Armed linked timeouts: a min-heap.
  internal::IndexedHeap<TimerEntry, TimerBefore, TimerMoved> timers_{TimerBefore{}, TimerMoved{}};
  uint64_t timer_seq_ = 0;  // arming order, the heap's tie-break
  // Jobs are made in chunks and recycled through a free list (linked through
  // Job::next). Steady state allocates nothing per op.
  std::vector<std::unique_ptr<Job[]>> job_chunks_;
  Job* free_jobs_ = nullptr;
  std::vector<int> retry_fds_;  // fds whose parked ops must be tried again
  // Suspects: states with an op parked on a registration made for an earlier
  // op, to be checked before the loop sleeps or, for those parked a whole
  // check_epoch_ earlier, every kPollsPerCheck Polls (see CheckSuspects).
  static constexpr uint32_t kPollsPerCheck = 64;
  std::vector<FdState*> suspects_;
  uint32_t check_epoch_ = 0;
  uint32_t polls_since_check_ = 0;
  // maybe_rare_work_: retry_fds_ or timers_ may be non-empty (set when either
  // grows, recomputed by RetriesAndTimers): Poll's two checks for them cost one
  // load instead of four. A stale true (the last timer disarmed) costs one call.
  bool maybe_rare_work_ = false;
  std::vector<Completion> ready_;  // fed to the engine at the end of Poll, in one batch
  std::vector<epoll_event> events_;
  std::vector<epoll_internal::PoolWork*> pool_done_;
  Stats stats_;
  // Last: the workers write wake_fd_, so they are joined before it is closed.
  std::unique_ptr<epoll_internal::FilePool> pool_;
};

}  // namespace ringloop

#endif  // RINGLOOP_DRIVERS_EPOLL_EPOLL_DRIVER_H_
