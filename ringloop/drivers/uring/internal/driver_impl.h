// ringloop/drivers/uring/internal/driver_impl.h: the io_uring driver's state
// (UringDriverImpl), behind UringDriver (uring_driver.h: the model and the
// contract). Not installed: only the driver's own files include it.
//
// Its member functions live in one file per part:
//   uring_driver.cc               the Driver calls (Wake, NowNs), registered
//                                 resources, CancelFd, SendWake
//   internal/setup.cc             options, ring setup and probe, teardown (drain)
//   internal/cycle.cc             Poll: the straight path of requests -> SQEs,
//                                 io_uring_enter, reaping CQEs, dispatching them
//   internal/submission.cc        requests -> SQEs: the general path
//   internal/sync_fallback.cc     ops the kernel lacks, run as syscalls
//   internal/fd_cache.cc          what each fd is, and answers that say it changed
#ifndef RINGLOOP_DRIVERS_URING_INTERNAL_DRIVER_IMPL_H_
#define RINGLOOP_DRIVERS_URING_INTERNAL_DRIVER_IMPL_H_

#include <liburing.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ringloop/core/engine.h"
#include "ringloop/core/request.h"
#include "ringloop/drivers/uring/buffer_ring.h"
#include "ringloop/drivers/uring/internal/sqe_prep.h"
#include "ringloop/drivers/uring/uring_driver.h"
#include "ringloop/drivers/uring/uring_probe.h"

namespace ringloop::uring_internal {

// The driver's own user_data: kind 7, one of the kinds request.h reserves for
// drivers, so that IsDriverUserData tells them from the engine's.
constexpr uint8_t kUringKind = 7;
constexpr uint64_t kWakeUserData = DriverUserData(kUringKind, 1);          // the eventfd read
constexpr uint64_t kDriverCancelUserData = DriverUserData(kUringKind, 2);  // CancelFd, drain
constexpr uint64_t kMsgRingSentUserData = DriverUserData(kUringKind, 3);   // our MSG_RING's CQE
constexpr uint64_t kMsgRingWakeUserData = DriverUserData(kUringKind, 4);   // another ring's

// kEnterAttempts: io_uring_enter retries within one Poll (EINTR, spurious returns).
constexpr int kEnterAttempts = 64;
// kFlushRounds: CQ overflow flushes within one Poll; the rest wait for the next Poll.
constexpr int kFlushRounds = 64;
// IsStaleAnswer: a result that may mean the fd cache was wrong about the fd of
// the op it answers (see UringDriverImpl::StaleRetry).
inline bool IsStaleAnswer(int32_t res) { return res == -ENOTSOCK || res == -ESPIPE; }

// ToTimespec: `ns` as the kernel's timespec.
inline __kernel_timespec ToTimespec(uint64_t ns) {
  __kernel_timespec ts;
  ts.tv_sec = static_cast<int64_t>(ns / 1'000'000'000u);
  ts.tv_nsec = static_cast<long long>(ns % 1'000'000'000u);
  return ts;
}

// EnterError: the Status of io_uring_enter failing with `err` (not EINTR,
// EBUSY, EAGAIN or ETIME, which the callers handle).
absl::Status EnterError(int err);

// UringDriverImpl: the UringDriver every Create makes. Owner thread, except
// Wake (see uring_driver.h).
class UringDriverImpl final : public UringDriver {
 public:
  // UringDriverImpl: the options only; Setup and RegisterResources do the rest.
  explicit UringDriverImpl(Options options);
  ~UringDriverImpl() override;

  absl::Status Poll(Engine& engine, bool wait) override;
  void Wake() override;
  uint64_t NowNs() const override;
  absl::Status PollFor(Engine& engine, uint64_t max_wait_ns) override;
  absl::Status RegisterFile(int fd) override;
  bool IsRegistered(int fd) const override;
  void ForgetFd(int fd) override;
  absl::StatusOr<BufferRing*> AddBufferRing(uint16_t group, uint32_t count,
                                            uint32_t buffer_size) override;
  void CancelFd(int fd) override;
  absl::Status SendWake(UringDriver& target) override;
  bool RunsSync(OpKind kind) const override {
    return (sync_mask_ >> static_cast<unsigned>(kind)) & 1u;
  }
  const UringCapabilities& capabilities() const override { return caps_; }
  const UringStats& stats() const override { return stats_; }
  uint64_t wake_writes() const override { return wake_writes_.load(std::memory_order_relaxed); }
  uint64_t sqes_in_kernel() const override { return sqes_in_kernel_; }
  int ring_fd() const override { return ring_.ring_fd; }

  // Setup: the ring, the probe, the eventfd. RegisterResources: the options'
  // registered files and buffers. Create calls both, in this order.
  absl::Status Setup();
  absl::Status RegisterResources();

  // StraightAndGeneralForTest: for uring_straight_path_test, which checks the
  // straight submission path (PrepPlainRun) against the general one (Push).
  // Writes into `straight` the SQE the straight path fills for `r` and returns
  // whether it took `r`; if it did, writes into `general` the SQE the general
  // path fills for it. Nothing is submitted: the ring is left as it was. `r`
  // is one kOp request without a link; the straight path takes only ops whose
  // general fill has no side effect, so only the SQE can differ.
  bool StraightAndGeneralForTest(const Request& r, io_uring_sqe* straight, io_uring_sqe* general);

 private:
  struct LocalCompletion {
    uint64_t user_data;
    int32_t res;
  };
  // FdClass: what a write (or a read at an offset) on an fd must become.
  enum class FdClass : uint8_t { kUnknown, kNotSocket, kSocket, kSeqpacketSocket };
  // StaleRetry: an op in the kernel prepared as its fd's class said (a send or
  // recv for a socket; a read or write at an offset for anything else), kept
  // per slot (UserDataSlot) until its final CQE, in case that CQE says the class
  // was stale (-ENOTSOCK: not a socket now; -ESPIPE: an offset on what is a
  // socket now) because the fd was closed and its number reused behind the
  // driver's back. The op goes again with its linked timeout, if it has one:
  // kLinked means "linked, its timeout not seen yet", kNone "nothing to retry".
  struct StaleRetry {
    enum State : uint8_t { kNone, kLinked, kArmed, kAwaitTimeout };
    uint64_t op_user_data = 0;
    uint64_t timeout_user_data = 0;
    uint64_t deadline_ns = 0;
    const Op* op = nullptr;  // the engine's op slot: stable until its final completion
    int fd = -1;
    FdClass used = FdClass::kUnknown;
    State state = kNone;
    bool has_timeout = false;
  };

  // Submission.
  void SubmitPending(Engine& engine);
  size_t PrepPlainRun(std::span<const Request> requests);
  bool FillPlain(io_uring_sqe* sqe, const Request& r) const;
  bool Push(std::span<const Request> unit);
  bool IsLocal(const Request& r) const;
  void RunLocal(std::span<const Request> unit);
  void PrepRequest(const Request& r);
  void PrepOpRequest(io_uring_sqe* sqe, const Request& r);
  void PrepTransfer(io_uring_sqe* sqe, const Request& r, bool read);
  msghdr* MsgOf(uint64_t user_data);
  FdClass LearnClass(int fd);
  FdClass ClassOf(int fd);
  void ArmStaleRetry(const Request& r, FdClass used);
  void AttachTimeout(const Request& r);
  bool TakeStale(uint64_t user_data, int32_t res);
  bool ResubmitStale();
  io_uring_sqe* NextSqe();
  bool EnsureRoom(unsigned n);
  void ArmWake();
  void PostLocal(uint64_t user_data, int32_t res) { local_.push_back({user_data, res}); }

  // The kernel boundary, and the cycle of a Poll.
  unsigned FlushSq();
  unsigned SubmitFlags() const;
  int Enter(unsigned to_submit, unsigned min_complete, unsigned flags, const __kernel_timespec* ts);
  absl::Status SubmitAndWait(const Engine& engine, uint64_t wait_until_ns);
  bool CqNeedsFlush() const;
  absl::Status Reap(Engine* engine);
  absl::Status Cycle(Engine& engine, uint64_t max_wait_ns);
  void FeedLocal(Engine* engine);
  void Dispatch(Engine* engine, uint64_t user_data, int32_t res, uint32_t flags);
  void Drain();
  void UnregisterFile(int fd);

  Options options_;
  io_uring ring_{};
  bool ring_ready_ = false;
  UringCapabilities caps_;
  uint32_t sync_mask_ = 0;
  unsigned sq_capacity_ = 0;
  unsigned sq_free_ = 0;  // SQ entries known free (a lower bound; EnsureRoom refreshes)
  uring_internal::PrepContext prep_ctx_;

  int event_fd_ = -1;
  uint64_t wake_buf_ = 0;  // the armed eventfd read's buffer (the kernel writes it)
  bool wake_armed_ = false;
  std::atomic<bool> wake_pending_{false};
  std::atomic<uint64_t> wake_writes_{0};

  uint64_t sqes_in_kernel_ = 0;
  // link_timeouts_[slot]: the absolute deadline of that slot's linked timeout.
  // A deque, so that growing it never moves a timespec the kernel may still read.
  std::deque<__kernel_timespec> link_timeouts_;
  std::vector<LocalCompletion> local_;
  // msgs_[slot]: the msghdr of that slot's Writev or Readv sent as SENDMSG
  // or RECVMSG (a deque, like link_timeouts_).
  std::deque<msghdr> msgs_;
  std::vector<FdClass> fd_classes_;   // fd -> what it is (the fd cache)
  std::vector<StaleRetry> stale_;     // by slot (UserDataSlot)
  std::vector<uint32_t> resubmit_;    // slots whose op goes to the kernel again
  uint32_t awaiting_timeouts_ = 0;    // StaleRetry entries in kAwaitTimeout
  std::vector<int32_t> fd_slots_;     // fd -> registered-file index, or -1
  std::vector<uint32_t> free_slots_;  // unused registered-file indexes
  std::vector<std::unique_ptr<BufferRing>> buffer_rings_;
  UringStats stats_;
};

}  // namespace ringloop::uring_internal

#endif  // RINGLOOP_DRIVERS_URING_INTERNAL_DRIVER_IMPL_H_
