// ringloop/drivers/epoll/internal/driver_impl.h: the readiness driver's state
// machine (EpollDriverImpl), behind EpollDriver (epoll_driver.h: the model and
// the contract). Not installed: only the driver's own files include it.
//
// Its member functions live in one file per part:
//   epoll_driver.cc           setup and teardown, the Poll cycle
//   internal/jobs.cc          requests in, the job table, the pool's side of a job
//   internal/readiness.cc     attempts and parking (the readiness cache, wait
//                             lists, registrations), registrations made for
//                             earlier ops
//   internal/link_timeouts.cc linked timeouts (the timer heap)
#ifndef RINGLOOP_DRIVERS_EPOLL_INTERNAL_DRIVER_IMPL_H_
#define RINGLOOP_DRIVERS_EPOLL_INTERNAL_DRIVER_IMPL_H_

#include <sys/epoll.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "ringloop/core/engine.h"
#include "ringloop/core/internal/indexed_heap.h"
#include "ringloop/drivers/epoll/epoll_driver.h"
#include "ringloop/drivers/epoll/internal/fd_table.h"
#include "ringloop/drivers/epoll/internal/file_pool.h"
#include "ringloop/drivers/epoll/internal/io_syscalls.h"

namespace ringloop::epoll_internal {

// kInEvents, kOutEvents: what epoll reports that wakes the ops parked for
// reading, for writing.
inline constexpr uint32_t kInEvents = EPOLLIN | EPOLLPRI | EPOLLRDHUP | EPOLLHUP | EPOLLERR;
inline constexpr uint32_t kOutEvents = EPOLLOUT | EPOLLHUP | EPOLLERR;
// kInInterest, kOutInterest: the registered events that report readiness to
// read, to write (what Relax drops for a direction nobody waits on).
inline constexpr uint32_t kInInterest =
    EPOLLIN | EPOLLPRI | EPOLLRDHUP | EPOLLRDNORM | EPOLLRDBAND | EPOLLMSG;
inline constexpr uint32_t kOutInterest = EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND;
// kPollMask: the events a PollAdd may ask for.
inline constexpr uint32_t kPollMask = EPOLLIN | EPOLLPRI | EPOLLOUT | EPOLLRDNORM | EPOLLRDBAND |
                                      EPOLLWRNORM | EPOLLWRBAND | EPOLLMSG | EPOLLRDHUP;
// kNoTimer: Job::timer_index of a job without an armed timer.
inline constexpr uint32_t kNoTimer = ~uint32_t{0};
// kJobChunk: jobs made at a time.
inline constexpr size_t kJobChunk = 64;
// kMaxIndexed: slots beyond this go to active_overflow_.
inline constexpr uint32_t kMaxIndexed = 1u << 20;

// NeedOf: the events a read (kIn) or a write (kOut) parks for.
constexpr uint32_t NeedOf(bool in) {
  return in ? uint32_t{EPOLLIN | EPOLLRDHUP} : uint32_t{EPOLLOUT};
}

// EpollDriverImpl: the EpollDriver every Create makes. Owner thread, except
// Wake (see epoll_driver.h).
class EpollDriverImpl final : public EpollDriver {
 public:
  // EpollDriverImpl: takes `epoll_fd` (with `wake_fd` registered) and `wake_fd`.
  EpollDriverImpl(Options options, int epoll_fd, int wake_fd);
  ~EpollDriverImpl() override;

  absl::Status Poll(Engine& engine, bool wait) override;
  void Wake() override;
  uint64_t NowNs() const override;
  void ForgetFd(int fd) override;

 private:
  friend class ringloop::EpollDriver;  // stats(), wake_writes(), SetNonblockOn()

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
    // level: registered without EPOLLET (from the first read parked; see Relax).
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
  void Relax(int fd, FdState& s, bool drop_in, bool drop_out, bool hangup);
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
  int Wait(int max_events, uint64_t deadline_ns, int idle_ms = -1);
  void DispatchEvents(int n);
  void Dispatch(const epoll_event& event);
  void DrainWakeFd();
  void Emit(uint64_t user_data, int res, uint32_t flags = 0);

  const Options options_;
  // lone_kind_: the fd kind StartLone takes: kPollable, or with
  // Options::lone_slots off a value no fd has (kNoLoneKind), so that every op
  // takes the general path.
  static constexpr auto kNoLoneKind = static_cast<epoll_internal::FdInfo::Kind>(0xff);
  const epoll_internal::FdInfo::Kind lone_kind_;
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
  // op, to be checked once the loop has slept kSuspectGraceNs or, for those parked a whole
  // check_epoch_ earlier, every kPollsPerCheck Polls (see CheckSuspects).
  static constexpr uint32_t kPollsPerCheck = 64;
  // kSuspectGraceNs: how long a Poll sleeps, with suspects listed, before it
  // checks them (WaitAndDispatch).
  static constexpr uint64_t kSuspectGraceNs = 10'000'000;
  static constexpr int kSuspectGraceMs = int(kSuspectGraceNs / 1'000'000);
  std::vector<FdState*> suspects_;
  uint32_t check_epoch_ = 0;
  uint32_t polls_since_check_ = 0;
  // maybe_rare_work_: retry_fds_ or timers_ may be non-empty (set when either
  // grows, recomputed by RetriesAndTimers): Poll's two checks for them cost one
  // load instead of four. A stale true (the last timer disarmed) costs one call.
  bool maybe_rare_work_ = false;
  // skipped_wait_: the last Poll did not call epoll_wait (see Poll).
  bool skipped_wait_ = false;
  std::vector<Completion> ready_;  // fed to the engine at the end of Poll, in one batch
  std::vector<epoll_event> events_;
  std::vector<epoll_internal::PoolWork*> pool_done_;
  Stats stats_;
  // Last: the workers write wake_fd_, so they are joined before it is closed.
  std::unique_ptr<epoll_internal::FilePool> pool_;
};

// Job: one op request from its start until its final completion is queued.
// Jobs are recycled (free_jobs_): NewJob sets every field an op's life reads.
// Waiter's user_data and op are the request's; Waiter::lone stays kNone.
struct EpollDriverImpl::Job : Waiter {
  // Tracked: where FindActive finds the job (parked or pooled: cancellable), so
  // that Untrack goes straight there.
  enum class Tracked : uint8_t { kNo, kIndexed, kOverflow };

  int fd = -1;
  WaitList list = WaitList::kNone;
  Tracked tracked = Tracked::kNo;   // in active_by_index_ or active_overflow_
  bool in_pool = false;             // handed to the worker pool
  bool connecting = false;          // connect(2) said EINPROGRESS
  bool has_timeout = false;         // a kLinkTimeout request came right after the op
  int timeout_res = -ECANCELED;     // -ETIME once the timer fired first
  uint32_t timer_index = kNoTimer;  // position in timers_ while armed
  uint64_t timeout_user_data = 0;
  uint64_t deadline_ns = 0;
  FdState* state = nullptr;  // while parked: its fd's (states never move)
  Job* prev = nullptr;
  Job* next = nullptr;  // the wait list's, or the free list's
  PoolWork work;        // work.context == this, set once
};

}  // namespace ringloop::epoll_internal

#endif  // RINGLOOP_DRIVERS_EPOLL_INTERNAL_DRIVER_IMPL_H_
