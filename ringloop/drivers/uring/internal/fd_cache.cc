// ringloop/drivers/uring/internal/fd_cache.cc: what each fd is (a socket or
// not, learnt with LearnFd), and the answers that say it changed behind the
// driver's back. See internal/driver_impl.h.
#include <sys/socket.h>

#include <cerrno>

#include "ringloop/core/check.h"
#include "ringloop/core/ops.h"
#include "ringloop/drivers/internal/fd_facts.h"
#include "ringloop/drivers/uring/internal/driver_impl.h"

namespace ringloop::uring_internal {

// --- Fd facts ------------------------------------------------------------------------

// ClassOf: what `fd` is, from the fd cache (learnt on first use).
UringDriverImpl::FdClass UringDriverImpl::ClassOf(int fd) {
  const FdClass c =
      fd >= 0 && size_t(fd) < fd_classes_.size() ? fd_classes_[fd] : FdClass::kUnknown;
  return c != FdClass::kUnknown ? c : LearnClass(fd);
}

// LearnClass: what `fd` is (LearnFd: fstat, then SO_TYPE for a socket), kept in
// the table until ForgetFd. An fd fstat refuses (EBADF) is not kept: its op
// fails on its own.
UringDriverImpl::FdClass UringDriverImpl::LearnClass(int fd) {
  if (fd < 0) return FdClass::kNotSocket;
  ++stats_.fd_probes;
  drivers_internal::FdFacts facts;
  if (drivers_internal::LearnFd(fd, &facts) != 0) return FdClass::kNotSocket;
  FdClass c = FdClass::kNotSocket;
  if (facts.socket) {
    c = facts.socket_type == SOCK_SEQPACKET ? FdClass::kSeqpacketSocket : FdClass::kSocket;
  }
  if (size_t(fd) >= fd_classes_.size()) fd_classes_.resize(size_t(fd) + 1, FdClass::kUnknown);
  fd_classes_[fd] = c;
  return c;
}

void UringDriverImpl::ForgetFd(int fd) {
  UnregisterFile(fd);
  if (fd >= 0 && size_t(fd) < fd_classes_.size()) fd_classes_[fd] = FdClass::kUnknown;
}

// --- Answers that say the fd cache was wrong ---------------------------------------

// ArmStaleRetry: the op of `r` was prepared as the fd's class `used` says; its
// SQE is linked to its timeout's if `r.link`.
void UringDriverImpl::ArmStaleRetry(const Request& r, FdClass used) {
  const uint32_t index = UserDataSlot(r.user_data);
  if (index >= stale_.size()) stale_.resize(size_t{index} + 1);
  StaleRetry& s = stale_[index];
  s = StaleRetry{};
  s.op_user_data = r.user_data;
  s.op = r.op;
  s.fd = r.fd;
  s.used = used;
  s.state = r.link ? StaleRetry::kLinked : StaleRetry::kArmed;
}

// AttachTimeout: a linked timeout was prepared; it belongs to the op right
// before it, which a retry must submit again with it.
void UringDriverImpl::AttachTimeout(const Request& r) {
  const uint32_t index = UserDataSlot(r.user_data);
  if (index >= stale_.size()) return;
  StaleRetry& s = stale_[index];
  if (s.state != StaleRetry::kLinked ||
      UserDataGeneration(s.op_user_data) != UserDataGeneration(r.user_data)) {
    return;
  }
  s.state = StaleRetry::kArmed;
  s.has_timeout = true;
  s.timeout_user_data = r.user_data;
  s.deadline_ns = r.deadline_ns;
}

// TakeStale: a final CQE that may answer a stale class. If it is the op of an
// armed StaleRetry and the fd, learnt again, is now of another class, the CQE is
// the driver's: the op goes to the kernel again (with its linked timeout, whose
// -ECANCELED is taken too) at the next submission. True if the CQE was taken.
bool UringDriverImpl::TakeStale(uint64_t user_data, int32_t res) {
  const uint32_t index = UserDataSlot(user_data);
  if (index >= stale_.size()) return false;
  StaleRetry& s = stale_[index];
  if (s.state == StaleRetry::kAwaitTimeout && user_data == s.timeout_user_data) {
    --awaiting_timeouts_;
    s.state = StaleRetry::kNone;
    resubmit_.push_back(index);
    return true;
  }
  if (s.state != StaleRetry::kArmed || user_data != s.op_user_data || !IsStaleAnswer(res)) {
    return false;
  }
  // Learnt again once: the same class means the answer is the file's own.
  if (LearnClass(s.fd) == s.used) {
    s.state = StaleRetry::kNone;
    return false;
  }
  ++stats_.stale_retries;
  if (s.has_timeout) {
    // The op ended first, so its timeout's -ECANCELED follows (posted by the
    // kernel's task work after the op's CQE).
    s.state = StaleRetry::kAwaitTimeout;
    ++awaiting_timeouts_;
  } else {
    s.state = StaleRetry::kNone;
    resubmit_.push_back(index);
  }
  return true;
}

// ResubmitStale: submits again the ops whose CQEs TakeStale took, each as its
// fd's class now says, with its linked timeout (the same absolute deadline).
// False if the SQ had no room for all of them (the rest wait, in order).
bool UringDriverImpl::ResubmitStale() {
  size_t done = 0;
  for (; done < resubmit_.size(); ++done) {
    const StaleRetry s = stale_[resubmit_[done]];  // a copy: preparing re-arms the slot's
    if (!EnsureRoom(s.has_timeout ? 2 : 1)) break;
    Request op;
    op.user_data = s.op_user_data;
    op.op = s.op;
    op.fd = s.fd;
    op.link = s.has_timeout;
    PrepRequest(op);
    if (s.has_timeout) {
      Request timeout;
      timeout.kind = RequestKind::kLinkTimeout;
      timeout.user_data = s.timeout_user_data;
      timeout.deadline_ns = s.deadline_ns;
      PrepRequest(timeout);
    }
  }
  resubmit_.erase(resubmit_.begin(), resubmit_.begin() + ptrdiff_t(done));
  return resubmit_.empty();
}

}  // namespace ringloop::uring_internal
