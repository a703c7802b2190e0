// ringloop/drivers/uring/uring_driver.cc: the io_uring driver's Driver calls
// (but Poll: internal/cycle.cc) and its extras (registered resources,
// CancelFd, SendWake). See uring_driver.h for the model and
// internal/driver_impl.h for the parts.
#include "ringloop/drivers/uring/uring_driver.h"

#include <unistd.h>

#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include "ringloop/core/check.h"
#include "ringloop/core/errno_message.h"
#include "ringloop/drivers/internal/clock.h"
#include "ringloop/drivers/uring/internal/driver_impl.h"

namespace ringloop::uring_internal {

// --- Driver --------------------------------------------------------------------------

uint64_t UringDriverImpl::NowNs() const { return drivers_internal::MonotonicNowNs(); }

void UringDriverImpl::Wake() {
  // One write per wake-up: the flag is cleared by the owner when the read completes.
  if (wake_pending_.exchange(true)) return;
  wake_writes_.fetch_add(1, std::memory_order_relaxed);
  const uint64_t one = 1;
  ssize_t n;
  do {
    n = write(event_fd_, &one, sizeof(one));
  } while (n < 0 && errno == EINTR);
  RL_CHECK(n == sizeof(one));
}

// --- Registered resources -------------------------------------------------------------

absl::Status UringDriverImpl::RegisterFile(int fd) {
  if (options_.registered_file_slots == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("RegisterFile(fd ", fd, "): Options::registered_file_slots is 0"));
  }
  if (fd < 0) return absl::InvalidArgumentError(absl::StrCat("RegisterFile(fd ", fd, ")"));
  if (IsRegistered(fd)) return absl::OkStatus();
  if (free_slots_.empty()) {
    return absl::ResourceExhaustedError(
        absl::StrCat("RegisterFile(fd ", fd, "): the registered-file table is full"));
  }
  const uint32_t slot = free_slots_.back();
  int value = fd;
  const int ret = io_uring_register_files_update(&ring_, slot, &value, 1);
  if (ret < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "RegisterFile(fd ", fd, "): ", ErrnoMessage("io_uring_register(FILES_UPDATE)", -ret)));
  }
  free_slots_.pop_back();
  if (size_t(fd) >= fd_slots_.size()) fd_slots_.resize(size_t(fd) + 1, -1);
  fd_slots_[fd] = static_cast<int32_t>(slot);
  return absl::OkStatus();
}

bool UringDriverImpl::IsRegistered(int fd) const {
  return fd >= 0 && size_t(fd) < fd_slots_.size() && fd_slots_[fd] >= 0;
}

// UnregisterFile: the table holds its own reference to the file, so an fd being
// closed leaves the table first (else the socket would stay open). The engine emits
// CLOSE only when no op on the fd is left, so no SQE names the slot any more.
void UringDriverImpl::UnregisterFile(int fd) {
  if (!IsRegistered(fd)) return;
  const uint32_t slot = static_cast<uint32_t>(fd_slots_[fd]);
  int none = -1;
  const int ret = io_uring_register_files_update(&ring_, slot, &none, 1);
  RL_CHECK(ret >= 0);
  fd_slots_[fd] = -1;
  free_slots_.push_back(slot);
}

absl::StatusOr<BufferRing*> UringDriverImpl::AddBufferRing(uint16_t group, uint32_t count,
                                                           uint32_t buffer_size) {
  absl::StatusOr<std::unique_ptr<BufferRing>> br =
      BufferRing::Create(&ring_, group, count, buffer_size);
  if (!br.ok()) return br.status();
  buffer_rings_.push_back(*std::move(br));
  return buffer_rings_.back().get();
}

void UringDriverImpl::CancelFd(int fd) {
  if (!EnsureRoom(1)) return;
  io_uring_sqe* sqe = NextSqe();
  if (IsRegistered(fd)) {
    io_uring_prep_cancel_fd(sqe, fd_slots_[fd],
                            IORING_ASYNC_CANCEL_ALL | IORING_ASYNC_CANCEL_FD_FIXED);
  } else {
    io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
  }
  io_uring_sqe_set_data64(sqe, kDriverCancelUserData);
}

absl::Status UringDriverImpl::SendWake(UringDriver& target) {
  if (!caps_.Supports(IORING_OP_MSG_RING)) {
    return absl::UnimplementedError("SendWake: IORING_OP_MSG_RING needs Linux 5.18");
  }
  if (!EnsureRoom(1)) return absl::UnavailableError("SendWake: the submission queue is full");
  io_uring_sqe* sqe = NextSqe();
  io_uring_prep_msg_ring(sqe, target.ring_fd(), 0, kMsgRingWakeUserData, 0);
  io_uring_sqe_set_data64(sqe, kMsgRingSentUserData);
  int ret;
  do {
    ret = Enter(FlushSq(), 0, SubmitFlags(), nullptr);
  } while (ret == -EINTR);
  if (ret >= 0 || ret == -EBUSY || ret == -EAGAIN) return absl::OkStatus();  // SQE stays queued
  return EnterError(-ret);
}

}  // namespace ringloop::uring_internal
