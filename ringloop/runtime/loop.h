// ringloop/runtime/loop.h: the event loop users write against.
//
// A Loop owns an Engine (ringloop/core/engine.h) and a Driver (io_uring or epoll, chosen
// by ringloop/runtime/driver_select.h) and runs callbacks: every op submitted with a
// callback gets exactly one final call (Event::more == false), plus one call per
// intermediate event of a multishot op. Callbacks run only after the driver's
// Poll returned, never while it reaps, so a callback may submit, cancel and close
// freely; there is no recursion through the driver.
//
// Driver choice: LoopOptions::driver. kAuto lets RINGLOOP_DRIVER (uring | epoll |
// auto) decide, and otherwise picks io_uring if it works here, else epoll; kUring
// and kEpoll force that driver and ignore the variable. kSim runs the same Loop on
// the simulated kernel (ringloop/drivers/sim) that LoopOptions::sim describes:
// virtual time (a Sleep of an hour ends at once when nothing else can happen
// first), faults, and a run that is a pure function of its seed; sim() is that
// machine's own API (its fds, clock, faults, partitions, trace). Under it every
// fd is the simulated machine's: make them through the loop's ops (or sim()),
// never with a syscall. ringloop/testing runs tests this way. On it each op is
// attributed to the simulated program (process) of the task that submits it
// (PromiseBase::process, task.h), so that one program can crash alone. Create logs one line to
// stderr naming the driver and why (LoopOptions::log_driver_choice). Forcing
// io_uring where it cannot work makes Create fail; it never silently falls back.
//
// Threads: one Loop per thread (Create fails on a thread that already has one),
// and every method runs on that thread, except Post and Stop, which any thread
// may call while the Loop exists. Post wakes the loop's thread only when its
// queue was empty (one wake-up per batch), and not at all from the loop's own
// thread (which looks at the queue before it blocks). From the thread of
// another Loop when both run io_uring, the wake-up is a CQE posted straight
// into this loop's ring with IORING_OP_MSG_RING (Linux 5.18; no eventfd
// write, no read to re-arm); otherwise, or if that fails, the driver's own
// wake-up (an eventfd write). LoopOptions::msg_ring_wake turns the first off. The destructor
// drains: it shuts the engine down (every op still live ends, typically -ECANCELED, and its
// callback runs), polls until the engine is quiescent, and runs posted functions still queued.
//
// fds: the loop borrows the fds it is given; the program owns them. The loop
// closes an fd only when asked (Close, or an OwnedFd), and changes no flag on
// it except O_NONBLOCK, which the epoll driver sets only on listening sockets
// it accepts on, sockets it connects and ttys, and clears again when it lets
// go of the fd (if the number still names that file). Reads and writes ask the
// kernel not to block in each call (MSG_DONTWAIT, RWF_NOWAIT), so whatever the
// program does to an fd, the loop's thread never blocks in a syscall other
// than its one wait (epoll_wait / io_uring_enter; the epoll driver's own
// close(2) for Close is the one exception: Linux may sleep in it, e.g. with
// SO_LINGER). Closing:
// - Close(fd) is the orderly close: ops on fd are cancelled, each ends, and
//   only then is the number closed and free for reuse.
// - close(2) by the program is fine when no op is in flight on fd. An op
//   later submitted on a reused number acts on the new file, as it should;
//   the drivers notice that their cached facts about the number (socket or
//   not, registered with epoll) went stale and learn them again: one fstat
//   and one repeated op per reuse, and under epoll a parked read may wait until
//   the loop next sleeps before it is woken. ForgetFd(fd) before close(2) makes
//   reuse free.
// - close(2) while an op is in flight on fd is a bug of the program: Linux
//   keeps the old file open for that op (a read blocked on it keeps blocking,
//   and never sees the new file's data), and the number is reused by the next
//   open. Use Close.
//
// SIGPIPE: a write to a pipe whose reader is gone raises SIGPIPE under both
// drivers (sends use MSG_NOSIGNAL). Create sets SIGPIPE to SIG_IGN if it has the
// default disposition, so such a write fails with EPIPE; a handler the program
// installed is left alone.
#ifndef RINGLOOP_RUNTIME_LOOP_H_
#define RINGLOOP_RUNTIME_LOOP_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ringloop/core/engine.h"
#include "ringloop/drivers/driver.h"
#include "ringloop/drivers/sim/sim_options.h"
#include "ringloop/runtime/callback_slots.h"
#include "ringloop/runtime/driver_select.h"
#include "ringloop/runtime/inline_function.h"
#include "ringloop/runtime/result.h"
#include "ringloop/runtime/task.h"

namespace ringloop {

class BufferRing;
class LoopGroup;
class Scope;
class UringDriver;
namespace sim {
class SimDriver;
}  // namespace sim
namespace internal {
class OpAwaiter;
}  // namespace internal

// LoopOptions: how to build a Loop.
//
// Bounds: the engine holds back only ops that complete on their own (nop,
// file and metadata ops, socket, ...) once engine.max_in_flight of them are
// out (256 by default: the SQ size of the Loop's io_uring, so they always fit
// one submission). Ops that wait for readiness (read, write, recv, send,
// accept, connect, poll_add) are never held back (ringloop/core/engine.h,
// "Backpressure"): one parked per idle connection starves nothing, but their
// completions may come in one burst. The Loop's ring has a completion queue
// of 16,384 entries (IORING_SETUP_CQSIZE) for such bursts; a larger burst is
// kept by the kernel (IORING_FEAT_NODROP) until the driver flushes it: slower,
// never lost.
struct LoopOptions {
  // driver: see the file comment. kAuto honours RINGLOOP_DRIVER.
  DriverChoice driver = DriverChoice::kAuto;
  // log_driver_choice: print "ringloop: driver=<name> (<why>)" to stderr.
  bool log_driver_choice = true;
  Engine::Options engine;
  // factories: seams for tests and tools; empty members use the real drivers.
  DriverFactories factories;
  // msg_ring_wake: a Post from another io_uring Loop's thread wakes this loop
  // with IORING_OP_MSG_RING (see the file comment); false: the eventfd always.
  bool msg_ring_wake = true;
  // sim: the simulated machine (seed, faults, network latency and jitter, ...)
  // for DriverChoice::kSim; ignored otherwise.
  sim::SimOptions sim;
};

// WakeupStats: how other threads woke a Loop (Post, Stop), for diagnostics and
// tests.
struct WakeupStats {
  uint64_t msg_ring = 0;  // MSG_RING CQEs sent into its ring by another Loop
  uint64_t driver = 0;    // the driver's own wake-ups (eventfd writes)
};

class Loop {
 public:
  // Callback: runs once per event of its op, on the loop's thread. A callable
  // of up to 48 bytes (InlineFunction::kInlineBytes) is stored without a heap
  // allocation.
  using Callback = CallbackSlots::Callback;

  // Link: one op of a chain (SubmitChain), with its own callback and timeout.
  struct Link {
    Op op;
    Callback callback;
    absl::Duration timeout = absl::InfiniteDuration();
  };

  // Create: picks the driver and builds the loop on the calling thread.
  static absl::StatusOr<std::unique_ptr<Loop>> Create(LoopOptions options = LoopOptions());

  // ~Loop: drains (see the file comment). Owner thread only.
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  // Current: the Loop of the calling thread, or null.
  static Loop* Current() { return current_; }

  // Submit: starts `op` (an Op or one of its structs: Recv{...}); `callback`
  // (anything a Callback can be made from: a callable, a Callback, nullptr)
  // gets its events. It is built in the op's slot, where it stays until the
  // op's final event. With a finite `timeout`, the op ends -ETIME
  // (Result::timed_out) if it has not completed by then.
  template <class OpT, class F>
  OpId Submit(const OpT& op, F&& callback) {
    CheckOwner("Submit");
    const uint64_t tag = AllocateTag(std::forward<F>(callback));
    return Attributed(engine_.Submit(SubmitArgs{op, tag, kNoDeadline}));
  }
  template <class OpT, class F>
  OpId Submit(const OpT& op, absl::Duration timeout, F&& callback) {
    CheckOwner("Submit");
    const uint64_t deadline = Deadline(timeout);
    const uint64_t tag = AllocateTag(std::forward<F>(callback));
    return Attributed(engine_.Submit(SubmitArgs{op, tag, deadline}));
  }

  // SubmitChain: ops linked in order (each starts after the previous succeeded;
  // after a failure or a short read/write the rest end -ECANCELED). One OpId per
  // link, in order.
  std::vector<OpId> SubmitChain(std::vector<Link> links);

  // Cancel: asks op `id` to end early (it ends -ECANCELED, or with its real result
  // if that came first). False if it already ended. Idempotent.
  bool Cancel(OpId id);

  // Close: the orderly close of `fd`: ops in flight on it end first (-ECANCELED),
  // then close(2) runs; `callback` gets close's result.
  template <class F>
  OpId Close(int fd, F&& callback) {
    CheckOwner("Close");
    return CloseTagged(fd, AllocateTag(std::forward<F>(callback)));
  }

  // AddBufferRing: a provided-buffer ring (ringloop/drivers/uring/buffer_ring.h)
  // of `count` buffers of `buffer_size` bytes, for Recv ops naming buffer group
  // `group` (a multishot Recv needs one: each event carries the id of the
  // buffer the kernel picked). io_uring only: on another driver it fails with
  // kFailedPrecondition, saying so. The ring lives as long as the Loop.
  absl::StatusOr<BufferRing*> AddBufferRing(uint16_t group, uint32_t count, uint32_t buffer_size);

  // ForgetFd: `fd` is about to be closed with close(2) by the program (see
  // "fds" above): the driver forgets what it learnt about the number. No op may
  // be in flight on fd.
  void ForgetFd(int fd);

  // Sleep: `callback` runs (res 0) once `duration` has passed.
  template <class F>
  OpId Sleep(absl::Duration duration, F&& callback) {
    CheckOwner("Sleep");
    const uint64_t deadline = Deadline(duration);
    return SleepTagged(deadline, AllocateTag(std::forward<F>(callback)));
  }

  // Post: runs `fn` on the loop's thread soon. Any thread.
  void Post(absl::AnyInvocable<void()> fn);

  // Defer: runs `fn` on the loop's thread after the callbacks that are ready
  // now, without a syscall (the next step does not block while deferred work
  // waits). Owner thread only; use Post from other threads.
  void Defer(InlineFunction<void()> fn);

  // --- Coroutines (task.h, io.h, scope.h) -----------------------------------

  // BlockOn: runs `task` on this loop until it finishes and returns its
  // result (rethrowing its exception), running everything else meanwhile.
  // Not from inside a task (await it instead). Stop() does not end it. If the
  // driver fails (a lost completion, a dead ring) the process stops with the
  // driver's message: nothing could finish the task.
  template <class T>
  T BlockOn(Task<T> task);

  // Spawn: starts `task` detached, owned by the loop: it runs until it
  // finishes, or until the Loop is destroyed, which cancels it and waits for
  // it (as a Scope would).
  void Spawn(Task<void> task);

  // --- Running ----------------------------------------------------------------

  // Run: runs until Stop(). Returns an error only if the driver failed.
  absl::Status Run();

  // RunUntilIdle: runs until no op is live and nothing is posted or deferred
  // (or Stop()). A parked read counts as live: a server never gets idle; use
  // RunFor or RunUntil.
  absl::Status RunUntilIdle();

  // RunFor: runs for `duration` of the driver's clock (or until Stop()).
  absl::Status RunFor(absl::Duration duration);

  // RunUntil: runs until `done()` is true, checked after every step. Returns
  // kDeadlineExceeded if `timeout` passed first, kCancelled if Stop() came
  // first, or the driver's error.
  absl::Status RunUntil(absl::FunctionRef<bool()> done,
                        absl::Duration timeout = absl::InfiniteDuration());

  // RunOnce: one Poll (blocking for an event if `wait` and nothing is ready),
  // then every resulting callback and posted function.
  absl::Status RunOnce(bool wait = true);

  // Stop: makes Run / RunUntilIdle return after the current step. Any thread.
  void Stop();

  // NowNs: the driver's clock (CLOCK_MONOTONIC).
  uint64_t NowNs() const { return driver_->NowNs(); }

  // engine_stats: the engine's counters (ops submitted, final events, ...), for
  // diagnostics and tests.
  const EngineStats& engine_stats() const { return engine_.stats(); }
  // LiveOps: ops submitted whose final event has not been delivered yet.
  size_t LiveOps() const { return engine_.LiveOps(); }

  // driver_name: "uring" or "epoll". driver_reason: why it was chosen.
  std::string_view driver_name() const { return driver_->Name(); }
  // wakeups: how other threads have woken this loop so far.
  WakeupStats wakeups() const {
    return {wake_msg_ring_.load(std::memory_order_relaxed),
            wake_driver_.load(std::memory_order_relaxed)};
  }
  // sim: the simulated machine this Loop runs on (DriverChoice::kSim, or a
  // SimDriver made by a factory), or null on a real kernel. Include
  // ringloop/drivers/sim/sim_driver.h to use it.
  sim::SimDriver* sim() const { return sim_; }

  // fds_are_real: whether the fds this loop's ops name are the process's own
  // (the io_uring and epoll drivers), not a simulated kernel's
  // (ringloop/drivers/sim). Helpers that make syscalls of their own on such
  // fds (setsockopt, getsockname, ...) skip them when it is false.
  bool fds_are_real() const { return fds_are_real_; }
  const std::string& driver_reason() const { return driver_reason_; }

 private:
  friend class LoopGroup;
  friend class internal::OpAwaiter;

  // kAwaiterTag: the tag bit of an op awaited by a task (io.h): the rest of
  // the tag is the OpAwaiter's address, and its events go straight to it, with
  // no slot or callback. CallbackSlots' tags never have it.
  static constexpr uint64_t kAwaiterTag = uint64_t{1} << 63;

  Loop(LoopOptions options, SelectedDriver selected);
  // SubmitFor / CloseFor: Submit and Close for an awaiting task (io.h): the
  // tag (args.tag, `tag`) is the awaiter's address with kAwaiterTag.
  OpId SubmitFor(const SubmitArgs& args) {
    CheckOwner("Submit");
    return Attributed(engine_.Submit(args));
  }
  OpId CloseFor(uint64_t tag, int fd) {
    CheckOwner("Close");
    return Attributed(engine_.Close(fd, tag));
  }
  // WakeFrom: wakes this loop's thread on behalf of `sender`, the Loop of the
  // calling thread (or null).
  void WakeFrom(Loop* sender);
  // CancelSpawned / SpawnedCount: Spawn's tasks: cancel them all; how many are
  // still running (LoopGroup's drain).
  void CancelSpawned();
  size_t SpawnedCount() const;
  // CheckOwner: stops the process, naming `method` and the fix, if called from
  // a thread that is not the loop's.
  void CheckOwner(const char* method) const {
    if (__builtin_expect(current_ != this, 0)) WrongThread(method);
  }
  // current_: the Loop of this thread (Current()); one TLS load per check.
  static inline thread_local Loop* current_ = nullptr;
  [[noreturn]] void WrongThread(const char* method) const;
  // Misuse: stops the process with `sentence` (a mistake and its fix).
  [[noreturn]] static void Misuse(const std::string& sentence);
  void RunStepOrDie(const char* method);
  uint64_t Deadline(absl::Duration timeout) const;
  // CloseTagged / SleepTagged: the engine's part of Close and Sleep, for an op
  // whose callback has slot `tag`.
  OpId CloseTagged(int fd, uint64_t tag);
  OpId SleepTagged(uint64_t deadline_ns, uint64_t tag);
  // Attributed: `id`, after telling the simulated kernel (if this Loop runs on
  // one) which program submitted it: the running task's (PromiseBase::process),
  // or none outside tasks. One load and a branch on the other drivers.
  OpId Attributed(OpId id) {
    if (__builtin_expect(sim_ != nullptr, 0)) AttributeToProgram(id);
    return id;
  }
  void AttributeToProgram(OpId id);
  // AllocateTag: a slot for `callback`, built in it; its tag.
  template <class F>
  uint64_t AllocateTag(F&& callback) {
    return callbacks_.Add(std::forward<F>(callback));
  }
  void DrainEvents();
  // RunPosted / RunDeferred: run what Post / Defer queued; RunOnce calls them
  // only when there is some.
  void RunPosted();
  void RunDeferred();
  bool HasPosted() const { return has_posted_.load(std::memory_order_acquire); }

  Engine engine_;  // declared before driver_: the driver goes first
  std::unique_ptr<Driver> driver_;
  std::string driver_reason_;
  const bool fds_are_real_;
  // uring_: driver_ when it is the io_uring driver (for MSG_RING wake-ups).
  UringDriver* const uring_;
  // sim_: driver_ when it is the simulated kernel.
  sim::SimDriver* const sim_;
  const bool msg_ring_wake_;
  std::atomic<uint64_t> wake_msg_ring_{0};
  std::atomic<uint64_t> wake_driver_{0};
  const std::thread::id owner_;
  const int owner_tid_;
  std::atomic<bool> stop_{false};

  // The callbacks of the ops submitted with one, by tag.
  CallbackSlots callbacks_;

  std::mutex posted_mu_;
  std::vector<absl::AnyInvocable<void()>> posted_;   // guarded by posted_mu_
  std::vector<absl::AnyInvocable<void()>> running_;  // owner thread only
  std::atomic<bool> has_posted_{false};
  // Defer's queue (owner thread only), and the batch being run.
  std::vector<InlineFunction<void()>> deferred_;
  std::vector<InlineFunction<void()>> running_deferred_;
  // Spawn's tasks.
  std::unique_ptr<Scope> root_scope_;
};

template <class T>
T Loop::BlockOn(Task<T> task) {
  CheckOwner("BlockOn");
  if (internal::CurrentPromise() != nullptr) {
    Misuse("Loop::BlockOn called from inside a task; co_await the task instead");
  }
  RL_CHECK(task.valid());
  internal::StartTask(task.promise(), this, nullptr);
  while (!task.done()) RunStepOrDie("BlockOn");
  return task.promise().Take();
}

}  // namespace ringloop

#endif  // RINGLOOP_RUNTIME_LOOP_H_
