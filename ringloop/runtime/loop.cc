// ringloop/runtime/loop.cc: the Loop: driver choice, callbacks by tag, Post, Run, drain.
#include "ringloop/runtime/loop.h"

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "ringloop/core/check.h"
#include "ringloop/drivers/sim/sim_driver.h"
#include "ringloop/drivers/uring/uring_driver.h"
#include "ringloop/runtime/io.h"
#include "ringloop/runtime/scope.h"

namespace ringloop {
namespace {

// IgnoreDefaultSigpipe: SIG_DFL -> SIG_IGN, so that writes to a closed pipe fail
// with EPIPE instead of killing the process. A program's own handler stays.
void IgnoreDefaultSigpipe() {
  struct sigaction current {};
  if (::sigaction(SIGPIPE, nullptr, &current) != 0) return;
  if (current.sa_handler != SIG_DFL || (current.sa_flags & SA_SIGINFO) != 0) return;
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  ::sigemptyset(&ignore.sa_mask);
  ::sigaction(SIGPIPE, &ignore, nullptr);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Loop>> Loop::Create(LoopOptions options) {
  if (current_ != nullptr) {
    return absl::FailedPreconditionError(
        "Loop::Create: this thread already has a Loop (one Loop per thread)");
  }
  DriverChoice choice = options.driver;
  std::string source = "LoopOptions::driver";
  if (choice == DriverChoice::kAuto) {
    source = "auto";
    if (const char* env = std::getenv(kDriverEnvVar); env != nullptr && *env != '\0') {
      auto parsed = ParseDriverChoice(env);
      if (!parsed.ok()) return parsed.status();
      choice = *parsed;
      source = absl::StrCat(kDriverEnvVar, "=", env);
    }
  }
  if (choice == DriverChoice::kSim && !options.factories.sim) {
    options.factories.sim = [sim_options =
                                 options.sim]() -> absl::StatusOr<std::unique_ptr<Driver>> {
      return std::unique_ptr<Driver>(std::make_unique<sim::SimDriver>(sim_options));
    };
  }
  auto selected = SelectDriver(choice, source, std::move(options.factories));
  if (!selected.ok()) return selected.status();
  if (options.log_driver_choice) {
    std::fprintf(stderr, "ringloop: driver=%s (%s)\n",
                 std::string(selected->driver->Name()).c_str(), selected->reason.c_str());
  }
  IgnoreDefaultSigpipe();
  return std::unique_ptr<Loop>(new Loop(std::move(options), std::move(*selected)));
}

Loop::Loop(LoopOptions options, SelectedDriver selected)
    : engine_(options.engine),
      driver_(std::move(selected.driver)),
      driver_reason_(std::move(selected.reason)),
      fds_are_real_(driver_->Name() == "uring" || driver_->Name() == "epoll"),
      uring_(dynamic_cast<UringDriver*>(driver_.get())),
      sim_(dynamic_cast<sim::SimDriver*>(driver_.get())),
      msg_ring_wake_(options.msg_ring_wake),
      owner_(std::this_thread::get_id()),
      owner_tid_(int(::syscall(SYS_gettid))) {
  RL_CHECK(driver_ != nullptr);
  RL_CHECK(current_ == nullptr);
  current_ = this;
}

Loop::~Loop() {
  CheckOwner("~Loop");
  // Spawned tasks are cancelled like every other op; they end as their ops do.
  if (root_scope_ != nullptr) root_scope_->Cancel();
  engine_.Shutdown();
  // Every live op ends (its callback runs); then nothing may be left in flight.
  // Not step-bounded: an op the kernel never finishes would leave its buffer in
  // the kernel's hands, and returning would free it.
  while (!engine_.Quiescent() || HasPosted() || !deferred_.empty() ||
         (root_scope_ != nullptr && root_scope_->size() > 0)) {
    const absl::Status status = RunOnce(/*wait=*/true);
    if (!status.ok()) {
      std::fprintf(stderr, "ringloop: ~Loop: driver failed while draining: %s\n",
                   std::string(status.message()).c_str());
      std::abort();
    }
  }
  root_scope_.reset();
  current_ = nullptr;
}

void Loop::WrongThread(const char* method) const {
  Misuse(absl::StrCat("Loop::", method, " called from thread ", int(::syscall(SYS_gettid)),
                      ", not the loop's thread ", owner_tid_,
                      "; a Loop belongs to the thread that created it: use Loop::Post to run "
                      "code on it from another thread"));
}

void Loop::Misuse(const std::string& sentence) {
  std::fprintf(stderr, "ringloop: %s\n", sentence.c_str());
  std::abort();
}

void Loop::RunStepOrDie(const char* method) {
  const absl::Status status = RunOnce(/*wait=*/true);
  if (status.ok()) return;
  std::fprintf(stderr, "ringloop: Loop::%s: the driver failed: %s\n", method,
               std::string(status.message()).c_str());
  std::abort();
}

uint64_t Loop::Deadline(absl::Duration timeout) const {
  if (timeout == absl::InfiniteDuration()) return kNoDeadline;
  const int64_t ns = absl::ToInt64Nanoseconds(timeout);
  const uint64_t now = driver_->NowNs();
  if (ns <= 0) return now;
  const uint64_t delta = uint64_t(ns);
  return delta >= kNoDeadline - now ? kNoDeadline - 1 : now + delta;
}

OpId Loop::CloseTagged(int fd, uint64_t tag) { return Attributed(engine_.Close(fd, tag)); }

OpId Loop::SleepTagged(uint64_t deadline_ns, uint64_t tag) {
  return Attributed(engine_.Submit(SubmitArgs{Timeout{deadline_ns}, tag, kNoDeadline}));
}

std::vector<OpId> Loop::SubmitChain(std::vector<Link> links) {
  CheckOwner("SubmitChain");
  std::vector<SubmitArgs> args;
  args.reserve(links.size());
  for (Link& link : links) {
    const uint64_t tag = AllocateTag(std::move(link.callback));
    args.push_back(SubmitArgs{link.op, tag, Deadline(link.timeout)});
  }
  std::vector<OpId> ids(links.size());
  engine_.SubmitChain(args, ids);
  for (const OpId id : ids) Attributed(id);
  return ids;
}

bool Loop::Cancel(OpId id) {
  CheckOwner("Cancel");
  return engine_.Cancel(id);
}

absl::StatusOr<BufferRing*> Loop::AddBufferRing(uint16_t group, uint32_t count,
                                                uint32_t buffer_size) {
  CheckOwner("AddBufferRing");
  if (uring_ == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("Loop::AddBufferRing: provided-buffer rings need the io_uring driver; this "
                     "Loop runs on ",
                     std::string(driver_->Name()), " (", driver_reason_, ")"));
  }
  return uring_->AddBufferRing(group, count, buffer_size);
}

void Loop::ForgetFd(int fd) {
  CheckOwner("ForgetFd");
  driver_->ForgetFd(fd);
}

void Loop::Post(absl::AnyInvocable<void()> fn) {
  bool was_empty;
  {
    std::lock_guard<std::mutex> lock(posted_mu_);
    posted_.push_back(std::move(fn));
    // Cleared (under the lock) only when the owner takes the whole queue: a
    // non-empty queue has had its wake-up already.
    was_empty = !has_posted_.load(std::memory_order_relaxed);
    has_posted_.store(true, std::memory_order_release);
  }
  Loop* const sender = current_;
  // The owner itself looks at has_posted_ before it blocks: no wake-up needed.
  if (was_empty && sender != this) WakeFrom(sender);
}

void Loop::WakeFrom(Loop* sender) {
  // sender->uring_ is used on its own thread (the caller's); uring_ never
  // changes. SendWake submits on the sender's ring a MSG_RING that posts a CQE
  // into ours: the store to has_posted_ precedes that syscall, and the owner
  // reads has_posted_ after reaping the CQE.
  if (sender != nullptr && msg_ring_wake_ && uring_ != nullptr && sender->uring_ != nullptr &&
      sender->uring_->SendWake(*uring_).ok()) {
    wake_msg_ring_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  wake_driver_.fetch_add(1, std::memory_order_relaxed);
  driver_->Wake();
}

void Loop::Stop() {
  stop_.store(true, std::memory_order_release);
  wake_driver_.fetch_add(1, std::memory_order_relaxed);
  driver_->Wake();
}

void Loop::CancelSpawned() {
  CheckOwner("CancelSpawned");
  if (root_scope_ != nullptr) root_scope_->Cancel();
}

size_t Loop::SpawnedCount() const { return root_scope_ != nullptr ? root_scope_->size() : 0; }

absl::Status Loop::RunOnce(bool wait) {
  CheckOwner("RunOnce");
  const bool block = wait && !engine_.HasEvents() && !HasPosted() && deferred_.empty();
  absl::Status status = driver_->Poll(engine_, block);
  // Callbacks run only now, after the driver is done reaping.
  DrainEvents();
  if (HasPosted()) RunPosted();
  if (!deferred_.empty()) RunDeferred();
  return status;
}

absl::Status Loop::Run() {
  CheckOwner("Run");
  while (!stop_.load(std::memory_order_acquire)) {
    if (absl::Status status = RunOnce(/*wait=*/true); !status.ok()) return status;
  }
  stop_.store(false, std::memory_order_release);
  return absl::OkStatus();
}

absl::Status Loop::RunUntilIdle() {
  CheckOwner("RunUntilIdle");
  while (!stop_.load(std::memory_order_acquire) &&
         (!engine_.Quiescent() || HasPosted() || !deferred_.empty())) {
    if (absl::Status status = RunOnce(/*wait=*/true); !status.ok()) return status;
  }
  stop_.store(false, std::memory_order_release);
  return absl::OkStatus();
}

absl::Status Loop::RunFor(absl::Duration duration) {
  CheckOwner("RunFor");
  const absl::Status status = RunUntil([] { return false; }, duration);
  if (absl::IsDeadlineExceeded(status) || absl::IsCancelled(status)) return absl::OkStatus();
  return status;
}

absl::Status Loop::RunUntil(absl::FunctionRef<bool()> done, absl::Duration timeout) {
  CheckOwner("RunUntil");
  // The timeout is an engine timer, so that a blocked step wakes for it.
  bool timer_ended = timeout == absl::InfiniteDuration();
  bool timer_fired = false;
  OpId timer;
  if (!timer_ended) {
    timer = Sleep(timeout, [&](const Event& e) {
      timer_ended = true;
      timer_fired = e.res == 0;
    });
  }
  absl::Status status;
  for (;;) {
    if (done()) break;
    if (stop_.load(std::memory_order_acquire)) {
      stop_.store(false, std::memory_order_release);
      status = absl::CancelledError("Loop::RunUntil: Stop() was called");
      break;
    }
    if (timer_fired) {
      status = absl::DeadlineExceededError(
          absl::StrCat("Loop::RunUntil: not done after ", absl::FormatDuration(timeout)));
      break;
    }
    status = RunOnce(/*wait=*/true);
    if (!status.ok()) return status;  // the driver is gone; so is the timer
  }
  // The timer's callback names this frame's locals: wait for its final event.
  if (!timer_ended) Cancel(timer);
  while (!timer_ended) {
    if (absl::Status s = RunOnce(/*wait=*/true); !s.ok()) return s;
  }
  return status;
}

void Loop::Defer(InlineFunction<void()> fn) {
  CheckOwner("Defer");
  deferred_.push_back(std::move(fn));
}

void Loop::RunDeferred() {
  // What these run may defer more: that waits for the next step.
  running_deferred_.swap(deferred_);
  for (auto& fn : running_deferred_) fn();
  running_deferred_.clear();
}

void Loop::Spawn(Task<void> task) {
  CheckOwner("Spawn");
  if (root_scope_ == nullptr) root_scope_.reset(new Scope(*this, nullptr));
  root_scope_->Spawn(std::move(task));
}

void Loop::DrainEvents() {
  // One event at a time, copied out of the engine's queue before it is
  // dispatched (a callback may submit ops, which can add events to that
  // queue). The engine's queue is the only cursor, so a callback that runs the
  // loop again (a nested DrainEvents) goes on with the events after its own:
  // every event is dispatched once, in the engine's order.
  for (;;) {
    const std::optional<Event> next = engine_.PollEvent();
    if (!next) return;
    const Event& event = *next;
    if (event.tag & kAwaiterTag) {
      // An awaited op: the awaiter lives until its final event (its frame is
      // held), and checks the event's OpId against its own.
      reinterpret_cast<internal::OpAwaiter*>(event.tag & ~kAwaiterTag)->OnEvent(event);
    } else {
      callbacks_.Deliver(event);
    }
  }
}

void Loop::AttributeToProgram(OpId id) {
  const internal::PromiseBase* running = internal::CurrentPromise();
  sim_->SetOpProcess(id, running != nullptr ? running->process : 0);
}

void Loop::RunPosted() {
  {
    std::lock_guard<std::mutex> lock(posted_mu_);
    running_.swap(posted_);
    has_posted_.store(false, std::memory_order_release);
  }
  for (auto& fn : running_) fn();
  running_.clear();
}

}  // namespace ringloop
