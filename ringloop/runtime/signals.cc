// ringloop/runtime/signals.cc: blocking signals and reading them from a signalfd.
#include "ringloop/runtime/signals.h"

#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"
#include "ringloop/core/check.h"

namespace ringloop {
namespace {

absl::StatusOr<sigset_t> MakeSet(std::initializer_list<int> signals) {
  sigset_t set;
  sigemptyset(&set);
  for (int signo : signals) {
    if (sigaddset(&set, signo) != 0) {
      return absl::InvalidArgumentError(absl::StrCat("signal ", signo, " is not a signal number"));
    }
  }
  return set;
}

}  // namespace

absl::Status BlockSignals(std::initializer_list<int> signals) {
  absl::StatusOr<sigset_t> set = MakeSet(signals);
  if (!set.ok()) return set.status();
  const int err = ::pthread_sigmask(SIG_BLOCK, &*set, nullptr);
  if (err != 0) return absl::Status(ErrnoStatusCode(err), ErrnoMessage("pthread_sigmask", err));
  return absl::OkStatus();
}

namespace internal {

bool SignalQueue::Take(int32_t* signo) {
  if (pending_.empty()) return false;
  *signo = pending_.front();
  pending_.pop_front();
  return true;
}

void SignalQueue::Wait(Handoff& waiter, PromiseBase& p) {
  RL_CHECK(!stopped_);
  waiter.Wait(p, waiters_);
  Arm();
}

void SignalQueue::SetCallback(absl::AnyInvocable<void(int)> fn) {
  RL_CHECK(!stopped_);
  callback_ = std::move(fn);
  // Signals read before go to the callback too, in order. It may stop the
  // set: busy_ keeps this alive until the loop is done.
  busy_ = true;
  while (!stopped_ && !pending_.empty()) {
    const int32_t signo = pending_.front();
    pending_.pop_front();
    Deliver(signo);
  }
  busy_ = false;
  if (stopped_) {
    if (!armed_) delete this;
    return;
  }
  Arm();
}

void SignalQueue::Arm() {
  if (armed_ || stopped_) return;
  if (!callback_ && waiters_.empty()) return;  // nobody listens: leave them in the kernel
  armed_ = true;
  loop_->Submit(Read{fd_, infos_, sizeof(infos_)}, [this](const Event& e) { OnEvent(e); });
}

void SignalQueue::OnEvent(const Event& event) {
  // A callback may stop the set while signals are delivered: busy_ keeps
  // this alive until the loop is done.
  busy_ = true;
  if (event.res > 0) {
    const size_t n = size_t(event.res) / sizeof(signalfd_siginfo);
    for (size_t i = 0; i < n && !stopped_; ++i) Deliver(int32_t(infos_[i].ssi_signo));
  } else if (event.res < 0 && event.res != -ECANCELED && !stopped_) {
    Deliver(event.res);
  }
  busy_ = false;
  armed_ = false;
  if (stopped_) {
    delete this;
    return;
  }
  // After an error, reading resumes at the next Wait (or never, for a
  // callback: it would fail again at once).
  if (event.res >= 0) Arm();
}

void SignalQueue::Deliver(int32_t signo) {
  if (callback_) {
    if (signo > 0) {
      callback_(signo);
    } else {
      std::fprintf(stderr, "ringloop: SignalSet: reading signal fd %d failed: %s\n", fd_,
                   Result(signo, OpKind::kRead, fd_).ToString().c_str());
    }
    return;
  }
  if (waiters_.HandFront(signo)) return;
  // Nobody waits: keep it once (the kernel merges repeats the same way).
  for (int32_t queued : pending_) {
    if (queued == signo) return;
  }
  pending_.push_back(signo);
}

void SignalQueue::Stop() {
  RL_CHECK(!stopped_);
  stopped_ = true;
  pending_.clear();
  waiters_.HandAll(-ECANCELED);
  // The close of the fd ends a read in flight; its event deletes this. A
  // delivery under way does it when it is done.
  if (armed_ || busy_) return;
  delete this;
}

bool SignalAwaiter::Start(PromiseBase& p) { return StartWait(queue_, handoff_, p); }

}  // namespace internal

SignalSet::SignalSet(Loop& loop, int fd)
    : fd_(loop, fd), queue_(new internal::SignalQueue(loop, fd)) {}

SignalSet::SignalSet(SignalSet&& other) noexcept
    : fd_(std::move(other.fd_)), queue_(std::exchange(other.queue_, nullptr)) {}

SignalSet& SignalSet::operator=(SignalSet&& other) noexcept {
  if (this != &other) {
    Stop();
    fd_ = std::move(other.fd_);
    queue_ = std::exchange(other.queue_, nullptr);
  }
  return *this;
}

absl::StatusOr<SignalSet> SignalSet::Create(Loop& loop, std::initializer_list<int> signals) {
  if (!loop.fds_are_real()) {
    return absl::FailedPreconditionError(
        "SignalSet::Create: the simulated kernel has no signalfd (use SignalSet::FromFd)");
  }
  absl::StatusOr<sigset_t> set = MakeSet(signals);
  if (!set.ok()) return set.status();
  if (absl::Status blocked = BlockSignals(signals); !blocked.ok()) return blocked;
  // Blocking (no SFD_NONBLOCK): io_uring then waits for a signal instead of
  // failing the read with EAGAIN; the epoll driver sets O_NONBLOCK itself.
  const int fd = ::signalfd(-1, &*set, SFD_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    return absl::Status(ErrnoStatusCode(err), ErrnoMessage("signalfd", err));
  }
  return SignalSet(loop, fd);
}

absl::StatusOr<SignalSet> SignalSet::Create(std::initializer_list<int> signals) {
  internal::PromiseBase* const p = internal::CurrentPromise();
  Loop* const loop = p != nullptr ? p->loop : Loop::Current();
  if (loop == nullptr) {
    return absl::FailedPreconditionError(
        "SignalSet::Create: no Loop on this thread (pass the Loop)");
  }
  return Create(*loop, signals);
}

SignalSet SignalSet::FromFd(Loop& loop, int fd) { return SignalSet(loop, fd); }

void SignalSet::OnSignal(absl::AnyInvocable<void(int)> fn) {
  if (queue_ != nullptr) queue_->SetCallback(std::move(fn));
}

void SignalSet::Stop() {
  if (queue_ != nullptr) std::exchange(queue_, nullptr)->Stop();
  fd_.Reset();
}

}  // namespace ringloop
