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
// and kEpoll force that driver and ignore the variable. Create logs one line to
// stderr naming the driver and why (LoopOptions::log_driver_choice). Forcing
// io_uring where it cannot work makes Create fail; it never silently falls back.
//
// Threads: one Loop per thread (Create fails on a thread that already has one),
// and every method runs on that thread, except Post and Stop, which any thread
// may call while the Loop exists. The destructor drains: it shuts the engine down
// (every op still live ends, typically -ECANCELED, and its callback runs), polls
// until the engine is quiescent, and runs posted functions still queued.
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
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ringloop/core/engine.h"
#include "ringloop/drivers/driver.h"
#include "ringloop/runtime/driver_select.h"
#include "ringloop/runtime/inline_function.h"
#include "ringloop/runtime/result.h"

namespace ringloop {

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
};

class Loop {
 public:
  // Callback: runs once per event of its op, on the loop's thread. A callable
  // of up to 48 bytes (InlineFunction::kInlineBytes) is stored without a heap
  // allocation.
  using Callback = InlineFunction<void(const Event&)>;

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
  static Loop* Current();

  // Submit: starts `op`; `callback` gets its events. With a finite `timeout`, the
  // op ends -ETIME (Result::timed_out) if it has not completed by then.
  OpId Submit(const Op& op, Callback callback);
  OpId Submit(const Op& op, absl::Duration timeout, Callback callback);

  // SubmitChain: ops linked in order (each starts after the previous succeeded;
  // after a failure or a short read/write the rest end -ECANCELED). One OpId per
  // link, in order.
  std::vector<OpId> SubmitChain(std::vector<Link> links);

  // Cancel: asks op `id` to end early (it ends -ECANCELED, or with its real result
  // if that came first). False if it already ended. Idempotent.
  bool Cancel(OpId id);

  // Close: the orderly close of `fd`: ops in flight on it end first (-ECANCELED),
  // then close(2) runs; `callback` gets close's result.
  OpId Close(int fd, Callback callback);

  // Sleep: `callback` runs (res 0) once `duration` has passed.
  OpId Sleep(absl::Duration duration, Callback callback);

  // Post: runs `fn` on the loop's thread soon. Any thread.
  void Post(absl::AnyInvocable<void()> fn);

  // Run: runs until Stop(). Returns an error only if the driver failed.
  absl::Status Run();

  // RunUntilIdle: runs until no op is live and nothing is posted (or Stop()).
  absl::Status RunUntilIdle();

  // RunOnce: one Poll (blocking for an event if `wait` and nothing is ready),
  // then every resulting callback and posted function.
  absl::Status RunOnce(bool wait = true);

  // Stop: makes Run / RunUntilIdle return after the current step. Any thread.
  void Stop();

  // NowNs: the driver's clock (CLOCK_MONOTONIC).
  uint64_t NowNs() const { return driver_->NowNs(); }

  // driver_name: "uring" or "epoll". driver_reason: why it was chosen.
  std::string_view driver_name() const { return driver_->Name(); }
  const std::string& driver_reason() const { return driver_reason_; }

  Engine& engine() { return engine_; }
  Driver& driver() { return *driver_; }

 private:
  struct Slot {
    Callback callback;
    uint32_t generation = 0;
    bool live = false;
  };

  Loop(LoopOptions options, SelectedDriver selected);
  void CheckOwner() const;
  uint64_t Deadline(absl::Duration timeout) const;
  OpId SubmitUntil(const Op& op, uint64_t deadline_ns, Callback&& callback);
  uint64_t AllocateTag(Callback&& callback);
  Slot& SlotAt(uint32_t index) {
    return slot_chunks_[index >> kSlotChunkShift][index & (kSlotChunk - 1)];
  }
  void Dispatch(const Event& event);
  void DrainEvents();
  bool RunPosted();
  bool HasPosted() const { return has_posted_.load(std::memory_order_acquire); }

  Engine engine_;  // declared before driver_: the driver goes first
  std::unique_ptr<Driver> driver_;
  std::string driver_reason_;
  const std::thread::id owner_;
  std::atomic<bool> stop_{false};

  // Callbacks by tag (index | generation << 32), in chunks that never move: a
  // callback runs in its slot while it may submit (adding chunks).
  static constexpr uint32_t kSlotChunkShift = 6;
  static constexpr uint32_t kSlotChunk = 1u << kSlotChunkShift;
  std::vector<std::unique_ptr<Slot[]>> slot_chunks_;
  uint32_t slot_count_ = 0;
  std::vector<uint32_t> free_slots_;
  // DrainEvents: events taken from the engine, [batch_next_, batch_end_) not
  // yet dispatched.
  std::vector<Event> event_batch_ = std::vector<Event>(32);
  size_t batch_next_ = 0;
  size_t batch_end_ = 0;

  std::mutex posted_mu_;
  std::vector<absl::AnyInvocable<void()>> posted_;   // guarded by posted_mu_
  std::vector<absl::AnyInvocable<void()>> running_;  // owner thread only
  std::atomic<bool> has_posted_{false};
};

}  // namespace ringloop

#endif  // RINGLOOP_RUNTIME_LOOP_H_
