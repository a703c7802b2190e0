// ringloop/runtime/loop.cc: the Loop: driver choice, callbacks by tag, Post, Run, drain.
#include "ringloop/runtime/loop.h"

#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "ringloop/core/check.h"

namespace ringloop {
namespace {

thread_local Loop* current_loop = nullptr;

constexpr uint64_t kIndexMask = 0xffffffffu;

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
  if (current_loop != nullptr) {
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
      owner_(std::this_thread::get_id()) {
  RL_CHECK(driver_ != nullptr);
  RL_CHECK(current_loop == nullptr);
  current_loop = this;
}

Loop::~Loop() {
  CheckOwner();
  engine_.Shutdown();
  // Every live op ends (its callback runs); then nothing may be left in flight.
  // Not step-bounded: an op the kernel never finishes would leave its buffer in
  // the kernel's hands, and returning would free it.
  while (!engine_.Quiescent() || HasPosted()) {
    const absl::Status status = RunOnce(/*wait=*/true);
    if (!status.ok()) {
      std::fprintf(stderr, "ringloop: ~Loop: driver failed while draining: %s\n",
                   std::string(status.message()).c_str());
      std::abort();
    }
  }
  current_loop = nullptr;
}

Loop* Loop::Current() { return current_loop; }

void Loop::CheckOwner() const {
  // One Loop per thread: every method but Post and Stop runs on the creator.
  RL_CHECK(std::this_thread::get_id() == owner_);
}

uint64_t Loop::Deadline(absl::Duration timeout) const {
  if (timeout == absl::InfiniteDuration()) return kNoDeadline;
  const int64_t ns = absl::ToInt64Nanoseconds(timeout);
  const uint64_t now = driver_->NowNs();
  if (ns <= 0) return now;
  const uint64_t delta = uint64_t(ns);
  return delta >= kNoDeadline - now ? kNoDeadline - 1 : now + delta;
}

uint64_t Loop::AllocateTag(Callback&& callback) {
  if (free_slots_.empty()) {
    if ((slot_count_ & (kSlotChunk - 1)) == 0) {
      slot_chunks_.push_back(std::make_unique<Slot[]>(kSlotChunk));
    }
    free_slots_.push_back(slot_count_++);
  }
  const uint32_t index = free_slots_.back();
  free_slots_.pop_back();
  Slot& slot = SlotAt(index);
  RL_CHECK(!slot.live);
  slot.live = true;
  slot.callback = std::move(callback);
  return uint64_t(slot.generation) << 32 | index;
}

OpId Loop::Submit(const Op& op, Callback callback) {
  CheckOwner();
  return SubmitUntil(op, kNoDeadline, std::move(callback));
}

OpId Loop::Submit(const Op& op, absl::Duration timeout, Callback callback) {
  CheckOwner();
  return SubmitUntil(op, Deadline(timeout), std::move(callback));
}

// SubmitUntil: Submit's work, with the callback moved once, into its slot.
OpId Loop::SubmitUntil(const Op& op, uint64_t deadline_ns, Callback&& callback) {
  const uint64_t tag = AllocateTag(std::move(callback));
  return engine_.Submit(SubmitArgs{op, tag, deadline_ns});
}

std::vector<OpId> Loop::SubmitChain(std::vector<Link> links) {
  CheckOwner();
  std::vector<SubmitArgs> args;
  args.reserve(links.size());
  for (Link& link : links) {
    const uint64_t tag = AllocateTag(std::move(link.callback));
    args.push_back(SubmitArgs{link.op, tag, Deadline(link.timeout)});
  }
  std::vector<OpId> ids(links.size());
  engine_.SubmitChain(args, ids);
  return ids;
}

bool Loop::Cancel(OpId id) {
  CheckOwner();
  return engine_.Cancel(id);
}

OpId Loop::Close(int fd, Callback callback) {
  CheckOwner();
  return engine_.Close(fd, AllocateTag(std::move(callback)));
}

OpId Loop::Sleep(absl::Duration duration, Callback callback) {
  CheckOwner();
  const uint64_t deadline = Deadline(duration);
  const uint64_t tag = AllocateTag(std::move(callback));
  return engine_.Submit(SubmitArgs{Timeout{deadline}, tag, kNoDeadline});
}

void Loop::Post(absl::AnyInvocable<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(posted_mu_);
    posted_.push_back(std::move(fn));
    has_posted_.store(true, std::memory_order_release);
  }
  driver_->Wake();
}

void Loop::Stop() {
  stop_.store(true, std::memory_order_release);
  driver_->Wake();
}

absl::Status Loop::RunOnce(bool wait) {
  CheckOwner();
  const bool block = wait && !engine_.HasEvents() && !HasPosted();
  absl::Status status = driver_->Poll(engine_, block);
  // Callbacks run only now, after the driver is done reaping.
  DrainEvents();
  RunPosted();
  return status;
}

absl::Status Loop::Run() {
  CheckOwner();
  while (!stop_.load(std::memory_order_acquire)) {
    if (absl::Status status = RunOnce(/*wait=*/true); !status.ok()) return status;
  }
  stop_.store(false, std::memory_order_release);
  return absl::OkStatus();
}

absl::Status Loop::RunUntilIdle() {
  CheckOwner();
  while (!stop_.load(std::memory_order_acquire) && (!engine_.Quiescent() || HasPosted())) {
    if (absl::Status status = RunOnce(/*wait=*/true); !status.ok()) return status;
  }
  stop_.store(false, std::memory_order_release);
  return absl::OkStatus();
}

void Loop::DrainEvents() {
  // Events come from the engine a batch at a time into event_batch_; the cursor
  // is shared, so a callback that runs the loop again (a nested DrainEvents)
  // goes on with the rest of the batch first: every event is dispatched once,
  // in the engine's order. Each event is copied out before its callback runs
  // (a nested call may refill the batch).
  for (;;) {
    if (batch_next_ == batch_end_) {
      batch_end_ = engine_.PollEvents(event_batch_);
      batch_next_ = 0;
      if (batch_end_ == 0) return;
    }
    const Event event = event_batch_[batch_next_++];
    Dispatch(event);
  }
}

void Loop::Dispatch(const Event& event) {
  const uint32_t index = uint32_t(event.tag & kIndexMask);
  RL_CHECK(index < slot_count_);
  Slot& slot = SlotAt(index);
  // The engine returns the tags it was given: a mismatch is a bug, not a race.
  RL_CHECK(slot.live);
  RL_CHECK(slot.generation == uint32_t(event.tag >> 32));
  // The callback runs where it is stored: slots never move, and this one stays
  // live (no other op can take it) until the call has returned.
  if (slot.callback) slot.callback(event);
  if (event.more) return;
  slot.callback = nullptr;
  slot.live = false;
  ++slot.generation;
  free_slots_.push_back(index);
}

bool Loop::RunPosted() {
  if (!HasPosted()) return false;
  {
    std::lock_guard<std::mutex> lock(posted_mu_);
    running_.swap(posted_);
    has_posted_.store(false, std::memory_order_release);
  }
  for (auto& fn : running_) fn();
  running_.clear();
  return true;
}

}  // namespace ringloop
