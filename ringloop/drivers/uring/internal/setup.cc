// ringloop/drivers/uring/internal/setup.cc: the io_uring driver's options, ring
// setup, probe and registered resources, and its teardown (the drain). See
// internal/driver_impl.h.
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include "ringloop/core/check.h"
#include "ringloop/core/errno_message.h"
#include "ringloop/core/ops.h"
#include "ringloop/drivers/sync_op.h"
#include "ringloop/drivers/uring/internal/driver_impl.h"
#include "ringloop/drivers/uring/internal/uring_abi.h"

namespace ringloop {
namespace uring_internal {

// kNoOpcode: OpKinds the ring never sees.
constexpr unsigned kNoOpcode = ~0u;

// OpcodeOf: the io_uring opcode that performs an op of `kind`.
unsigned OpcodeOf(OpKind kind) {
  static constexpr unsigned kOpcodes[] = {
      IORING_OP_NOP,        IORING_OP_READ,     IORING_OP_WRITE,    IORING_OP_READV,
      IORING_OP_WRITEV,     IORING_OP_RECV,     IORING_OP_SEND,     IORING_OP_ACCEPT,
      IORING_OP_CONNECT,    IORING_OP_SHUTDOWN, IORING_OP_POLL_ADD, IORING_OP_CLOSE,
      IORING_OP_OPENAT,     IORING_OP_FSYNC,    IORING_OP_STATX,    IORING_OP_UNLINKAT,
      IORING_OP_MKDIRAT,    IORING_OP_RENAMEAT, IORING_OP_SOCKET,   uring_abi::kOpBind,
      uring_abi::kOpListen, kNoOpcode,
  };
  static_assert(sizeof(kOpcodes) / sizeof(kOpcodes[0]) == kOpKindCount);
  return kOpcodes[static_cast<size_t>(kind)];
}

// ValidateOptions: kInvalidArgument naming the first inconsistent option.
absl::Status ValidateOptions(const UringDriver::Options& o) {
  if (o.sq_entries < 2 || o.sq_entries > 32768) {
    return absl::InvalidArgumentError("UringDriver: sq_entries must be in [2, 32768]");
  }
  if (o.cq_entries != 0 && (o.cq_entries < o.sq_entries || o.cq_entries > 65536)) {
    return absl::InvalidArgumentError(
        "UringDriver: cq_entries must be 0 or in [sq_entries, 65536]");
  }
  if (o.defer_taskrun && !o.single_issuer) {
    return absl::InvalidArgumentError("UringDriver: defer_taskrun needs single_issuer");
  }
  if (o.sqpoll && (o.defer_taskrun || o.coop_taskrun)) {
    return absl::InvalidArgumentError(
        "UringDriver: sqpoll excludes defer_taskrun and coop_taskrun (the kernel refuses)");
  }
  if ((o.force_sync_ops & ~SyncCapableMask()) != 0) {
    return absl::InvalidArgumentError(
        "UringDriver: force_sync_ops names an op that may block (only ops for which "
        "CanRunSync() holds may run as syscalls)");
  }
  return absl::OkStatus();
}

uint32_t SetupFlags(const UringDriver::Options& o) {
  uint32_t flags = IORING_SETUP_SUBMIT_ALL;
  if (o.cq_entries != 0) flags |= IORING_SETUP_CQSIZE;
  if (o.sqpoll) flags |= IORING_SETUP_SQPOLL;
  if (o.single_issuer) flags |= IORING_SETUP_SINGLE_ISSUER;
  if (o.defer_taskrun) flags |= IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
  if (o.coop_taskrun) flags |= IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
  return flags;
}

bool PlainRingWorks() {
  io_uring ring;
  if (io_uring_queue_init(2, &ring, 0) < 0) return false;
  io_uring_queue_exit(&ring);
  return true;
}

}  // namespace uring_internal

// --- Setup and teardown -------------------------------------------------------------

absl::StatusOr<std::unique_ptr<UringDriver>> UringDriver::Create(Options options) {
  absl::Status valid = uring_internal::ValidateOptions(options);
  if (!valid.ok()) return valid;
  std::unique_ptr<uring_internal::UringDriverImpl> d(
      new uring_internal::UringDriverImpl(std::move(options)));
  absl::Status status = d->Setup();
  if (status.ok()) status = d->RegisterResources();
  if (!status.ok()) return status;
  return std::unique_ptr<UringDriver>(std::move(d));
}

absl::Status UringDriver::Probe() {
  absl::StatusOr<UringCapabilities> caps = ProbeUring();
  if (!caps.ok()) return caps.status();
  return CheckDriverRequirements(*caps);
}

namespace uring_internal {

UringDriverImpl::UringDriverImpl(Options options) : options_(std::move(options)) {}

absl::Status UringDriverImpl::Setup() {
  uint32_t flags = SetupFlags(options_);
  int ret = 0;
  for (;;) {
    io_uring_params params{};
    params.flags = flags;
    params.cq_entries = options_.cq_entries;
    params.sq_thread_idle = options_.sqpoll_idle_ms;
    ret = io_uring_queue_init_params(options_.sq_entries, &ring_, &params);
    if (ret == -EINVAL && (flags & IORING_SETUP_SUBMIT_ALL) != 0) {
      flags &= ~IORING_SETUP_SUBMIT_ALL;  // before 5.18: a refused SQE stops the batch
      continue;
    }
    if (ret == 0) caps_.features = params.features;
    break;
  }
  if (ret < 0) return SetupError(-ret, flags, -ret != ENOSYS && PlainRingWorks());
  ring_ready_ = true;
  sq_capacity_ = ring_.sq.ring_entries;
  io_uring_probe* probe = io_uring_get_probe_ring(&ring_);
  if (probe == nullptr) {
    return absl::UnavailableError(
        "io_uring_register(IORING_REGISTER_PROBE) failed: the kernel predates Linux 5.6");
  }
  caps_.last_op = probe->last_op;
  for (unsigned i = 0; i < probe->ops_len && i < UringCapabilities::kMaxOpcode; ++i) {
    if ((probe->ops[i].flags & IO_URING_OP_SUPPORTED) != 0) caps_.opcodes.set(probe->ops[i].op);
  }
  io_uring_free_probe(probe);
  absl::Status required = CheckDriverRequirements(caps_);
  if (!required.ok()) return required;
  sync_mask_ = options_.force_sync_ops;
  for (size_t k = 0; k < kOpKindCount; ++k) {
    const unsigned opcode = OpcodeOf(static_cast<OpKind>(k));
    if (opcode != kNoOpcode && !caps_.Supports(opcode)) {
      RL_CHECK(CanRunSync(static_cast<OpKind>(k)));  // CheckDriverRequirements saw to it
      sync_mask_ |= 1u << k;
    }
  }
  event_fd_ = eventfd(0, EFD_CLOEXEC);  // blocking: a nonblocking one would read -EAGAIN
  if (event_fd_ < 0) {
    return absl::ResourceExhaustedError(ErrnoMessage("eventfd", errno));
  }
  return absl::OkStatus();
}

absl::Status UringDriverImpl::RegisterResources() {
  if (options_.registered_file_slots > 0) {
    const int ret = io_uring_register_files_sparse(&ring_, options_.registered_file_slots);
    if (ret < 0) {
      return absl::FailedPreconditionError(
          ErrnoMessage(absl::StrCat("io_uring_register(IORING_REGISTER_FILES2, sparse ",
                                    options_.registered_file_slots, ")"),
                       -ret));
    }
    for (uint32_t i = options_.registered_file_slots; i-- > 0;) free_slots_.push_back(i);
    prep_ctx_.fd_slots = &fd_slots_;
  }
  if (!options_.registered_buffers.empty()) {
    const int ret =
        io_uring_register_buffers(&ring_, options_.registered_buffers.data(),
                                  static_cast<unsigned>(options_.registered_buffers.size()));
    if (ret < 0) {
      return absl::Status(
          ret == -ENOMEM ? absl::StatusCode::kResourceExhausted
                         : absl::StatusCode::kInvalidArgument,
          absl::StrCat(ErrnoMessage(absl::StrCat("io_uring_register(IORING_REGISTER_BUFFERS, ",
                                                 options_.registered_buffers.size(), " buffers)"),
                                    -ret),
                       ret == -ENOMEM ? " (registered buffers are pinned: memlock limit)" : ""));
    }
    prep_ctx_.fixed_buffers = options_.registered_buffers;
  }
  return absl::OkStatus();
}

UringDriverImpl::~UringDriverImpl() {
  if (ring_ready_) {
    Drain();
    buffer_rings_.clear();  // unregisters each group while the ring is alive
    io_uring_queue_exit(&ring_);
  }
  // No other thread may call Wake() any more (the driver's lifetime ends here).
  if (event_fd_ >= 0) close(event_fd_);
}

// Drain: cancels every SQE still in the kernel and waits for all their CQEs. Cancel
// is repeated after each quiet 100 ms (an op past cancelling answers -EALREADY and
// completes on its own).
void UringDriverImpl::Drain() {
  bool cancel_in_flight = false;
  while (sqes_in_kernel_ > 0) {
    if (!cancel_in_flight && EnsureRoom(1)) {
      io_uring_sqe* sqe = NextSqe();
      io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
      io_uring_sqe_set_data64(sqe, kDriverCancelUserData);
      cancel_in_flight = true;
    }
    const __kernel_timespec quiet = ToTimespec(100'000'000);
    const uint64_t before = stats_.cqes;
    const int ret = Enter(FlushSq(), 1, IORING_ENTER_GETEVENTS | SubmitFlags(), &quiet);
    if (ret < 0 && ret != -ETIME && ret != -EINTR && ret != -EBUSY && ret != -EAGAIN) break;
    unsigned head;
    unsigned n = 0;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      if (cqe->user_data == kDriverCancelUserData) cancel_in_flight = false;
      Dispatch(nullptr, cqe->user_data, cqe->res, cqe->flags);
      ++n;
    }
    io_uring_cq_advance(&ring_, n);
    if (stats_.cqes == before) cancel_in_flight = false;  // quiet: cancel again
  }
}

}  // namespace uring_internal
}  // namespace ringloop
