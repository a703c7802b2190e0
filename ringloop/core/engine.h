// ringloop/core/engine.h: the sans-I/O event-loop state machine.
//
// Engine tracks every op from submission to its final event: which ops wait for
// room in the kernel's queue, which are in flight, what a close must wait for,
// which timeout belongs to which op, what a cancel may race with. It performs no
// syscall, reads no clock, starts no thread and draws no random number. It is
// changed only by its inputs and read only through its outputs.
//
// Inputs (plain calls; none blocks):
//   Submit / SubmitChain   accept ops (with a deadline, a tag, links)
//   Cancel                 cancel one op (idempotent; a no-op once it ended)
//   Close                  orderly close of an fd (see "Close" below)
//   Shutdown               cancel everything and drain
//   HandleCompletion(s)    one kernel completion (user_data, res, flags), or a batch
//   AdvanceTime            the current time, in the driver's clock
// Outputs (pulled, in this order after each batch of inputs):
//   PendingRequests / ConsumeRequests   what to hand to the kernel, in order
//   PollEvent(s)                        results for users
//   NextDeadline                        when the driver must next call AdvanceTime
//
// Guarantees:
// - Exactly once: every accepted op yields exactly one final Event.
// - Close waits: Close(fd) makes new ops on fd fail at once with EBADF, cancels
//   every op in flight on fd, and emits the CLOSE request only after each of
//   those ops has had its final completion. Only then may the fd number be
//   reused. If an op answers its cancel with -EALREADY, the fd is shutdown(2)
//   so that a socket op ends (on other files that fails harmlessly). The
//   CLOSE itself skips the queue and the in-flight bound.
// - Buffers: an op's final event (and the release of its slot) comes only after
//   its own final completion and its linked timeout's completion are both in.
// - Chains: the engine plays a chain itself. SubmitChain accepts or refuses
//   a chain whole, but the driver gets one link at a time: a link's op (and
//   its linked timeout, if it has a deadline: the only link the kernel ever
//   sees) is emitted only once the link before it has had its final event
//   with a result that does not break the chain (BreaksChain: an error, or a
//   short read or write), was not cancelled, and the engine is not draining.
//   Otherwise that link and every later one end -ECANCELED at once, in
//   order, without reaching the kernel. (io_uring cannot cancel a linked SQE
//   that has not started: ASYNC_CANCEL answers -ENOENT. Playing the chain
//   here makes every cancel below exact.) Hence:
//   - Cancel of a link that has not started ends it and every later link
//     -ECANCELED at once; the links before it are unaffected (the chain now
//     ends after them). Cancel of the running link cancels it in the kernel;
//     whatever it ends with, every later link ends -ECANCELED after it.
//   - Close(fd) while a link that has not started names fd: that link and
//     the later ones end -ECANCELED without reaching the kernel; links before
//     it on other fds run on.
//   - A link's deadline is absolute and does not wait for the links before
//     it: if it passes before the link starts, the link ends -kTimedOut at
//     that AdvanceTime (the later links -ECANCELED), so that the deadline
//     guarantee below holds whatever the earlier links wait for.
//   - -EINTR on a link resubmits that link; the chain goes on after it.
//   The cost: one more driver round trip per link, since the kernel gets the
//   next link only after the previous link's completion came back.
// - Deadlines: an op with a deadline is followed by its own kLinkTimeout
//   request; when the timeout wins, the op ends with -kTimedOut. An op whose
//   deadline passes before it reaches the kernel (it waits in the engine's
//   queue, or it is a chain link that has not started) ends with -kTimedOut
//   at that AdvanceTime. So an op with deadline D is never reported timed out
//   before D, and resolves by D plus one driver tick.
// - Backpressure: Options::max_in_flight bounds only the requests of ops that
//   complete on their own (nop, file and metadata ops, socket, bind, listen,
//   shutdown, ...: every op for which WaitsForReadiness in ops.h is false)
//   and of their linked timeouts. When the bound is reached such ops wait in
//   FIFO order (an op resubmitted after -EINTR goes first), and every input
//   returns with that queue empty or with its head needing more room than is
//   free (two places with a deadline, else one). Ops that wait for readiness
//   (read, readv, write, writev, recv, send, accept, connect, poll_add) and
//   their linked timeouts never wait for room and are never counted: they may
//   wait forever for an idle peer, and counting them would let that many idle
//   connections hold every place, so that the accept or send that would end
//   their wait could never be submitted. So the bound cannot deadlock: what
//   it counts completes without anything else happening in the program (an
//   openat of a FIFO, which waits for the other end to open, is the one such
//   op that may not: open FIFOs with O_NONBLOCK), its room always comes back,
//   and the queue drains in order; reaching it slows submission, nothing
//   more. Cancel, shutdown and close requests are never held back either
//   (they are what frees room). Nothing else limits how many requests the
//   engine emits: the driver takes PendingRequests() at its own pace, and the
//   engine's buffers grow as needed (in steady state nothing is allocated).
// - Completions that match no live request (stale generation, unknown kind,
//   duplicate) are counted in Stats and otherwise ignored.
// - -EINTR from the kernel is never surfaced: the op is submitted again.
// - fds: the engine knows an fd only through the ops that name it. An fd
//   number obtained outside the loop (socket(2), open(2)) while a Close of
//   that number is still pending in the engine is refused with EBADF until the
//   close's event: open such fds after the close's event, or through the loop.
// - Determinism: the same inputs produce the same outputs.
//
// Not thread-safe: one thread owns an Engine.
#ifndef RINGLOOP_CORE_ENGINE_H_
#define RINGLOOP_CORE_ENGINE_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "ringloop/core/check.h"
#include "ringloop/core/fifo.h"
#include "ringloop/core/ops.h"
#include "ringloop/core/request.h"

namespace ringloop {

// kNoDeadline: an op without a deadline.
inline constexpr uint64_t kNoDeadline = ~uint64_t{0};

// SubmitArgs: one op to submit, with what the engine needs to know about it.
struct SubmitArgs {
  Op op;
  uint64_t tag = 0;                    // returned in every Event of the op
  uint64_t deadline_ns = kNoDeadline;  // absolute, in the driver's clock
};

// Stats: counters for diagnostics and tests. Monotonic.
struct EngineStats {
  uint64_t submitted = 0;             // ops accepted (including chain members)
  uint64_t final_events = 0;          // final events delivered
  uint64_t more_events = 0;           // multishot intermediate events delivered
  uint64_t requests = 0;              // requests handed to the driver
  uint64_t completions = 0;           // completions accepted
  uint64_t rejected_completions = 0;  // stale, duplicate or bogus completions
  uint64_t eintr_retries = 0;         // ops resubmitted after -EINTR
  uint64_t rejected_at_submit = 0;    // ops failed at once (EBADF on closing fd, ...)
  uint64_t cancels_sent = 0;          // kCancel requests emitted
  uint64_t shutdowns_sent = 0;        // kShutdown requests emitted by Close
  uint64_t closes_sent = 0;           // CLOSE requests emitted
  uint64_t timers_fired = 0;          // Timeout ops that fired

  // operator==: every counter equal (tests compare two engines' runs).
  bool operator==(const EngineStats&) const = default;
};

class Engine {
 public:
  struct Options {
    // max_in_flight: most requests of ops that complete on their own (and of
    // their linked timeouts) handed to the driver and not yet completed; see
    // "Backpressure" above. At least 2 (an op and its linked timeout).
    uint32_t max_in_flight = 256;
    // initial_slots: op slots allocated up front; more are added (never moved)
    // when all are in use, so steady state allocates nothing.
    uint32_t initial_slots = 256;
    // straight_paths: whether Submit and HandleCompletion(s) take their
    // straight paths for plain ops (a shortcut through the same transitions).
    // For tests only: with false every input takes the general path, whose
    // outputs (requests, events, ids, stats) must be the same;
    // engine_straight_path_test checks that they are.
    bool straight_paths = true;
  };

  Engine();
  explicit Engine(Options options);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // --- Inputs ------------------------------------------------------------

  // Submit: accepts one op. It always yields exactly one final event, possibly at
  // once (EBADF when its fd is closing, a CheckArguments error, -ECANCELED after
  // Shutdown). A Timeout op is kept in the timer table and never reaches the
  // driver. A multishot op may not have a deadline (-EINVAL).
  OpId Submit(const SubmitArgs& args);

  // SubmitChain: accepts ops linked in order (IOSQE_IO_LINK semantics): each
  // starts only after the one before it succeeded; when one fails (or reads or
  // writes short) the rest end with -ECANCELED. The engine plays the links
  // (see "Chains" above): the driver sees one link at a time. Writes one OpId
  // per op into `ids` (same size as `ops`). Timeout, Close and multishot ops
  // cannot be linked: then the offending op ends at once with -EINVAL, and
  // every other op of the chain with -ECANCELED (a chain is refused whole).
  void SubmitChain(std::span<SubmitArgs> ops, std::span<OpId> ids);

  // Cancel: asks for op `id` to end early. If it has not reached the driver (it
  // waits for room, or it is a chain link that has not started) it ends at once
  // with -ECANCELED, and so do the chain links after it; if it is in flight a
  // kCancel request is sent and the op ends with -ECANCELED or its real result
  // (whichever the kernel says), and the chain links after it -ECANCELED.
  // Returns true exactly while `id` is live, false once it ended (a no-op).
  // Calling it twice is the same as once.
  bool Cancel(OpId id);

  // Close: the orderly close of `fd`, as an op with its own final event (close's
  // result). New ops on fd fail at once with -EBADF; ops on fd that have not
  // reached the kernel (waiting for room, or chain links not started) end
  // -ECANCELED at once, with the chain links after them; ops in flight on fd
  // are cancelled; the CLOSE request is emitted only once every one of them
  // has had its final completion. Closing an fd that is already closing ends
  // at once with -EBADF.
  OpId Close(int fd, uint64_t tag);

  // Shutdown: cancels every op (queued ops and timers end at once, in-flight
  // ops are cancelled) and refuses new ones with -ECANCELED. Pending closes
  // still complete. An op on an fd that answers its cancel with -EALREADY gets
  // its fd shutdown(2), as under Close, so that the drain ends. Quiescent()
  // turns true once every final completion is in.
  void Shutdown();

  // HandleCompletion: one completion from the kernel. `flags` are the CQE's
  // flags (kCqeFMore, kCqeFBuffer). Returns false if it matched nothing live
  // (counted in stats().rejected_completions and otherwise ignored).
  bool HandleCompletion(uint64_t user_data, int32_t res, uint32_t flags);

  // HandleCompletions: HandleCompletion for each completion of `batch`, in
  // order (exactly the same effects), in one call. Returns how many were
  // accepted.
  size_t HandleCompletions(std::span<const Completion> batch);

  // AdvanceTime: the current time. Fires every Timeout whose deadline is
  // <= now_ns, in (deadline, submission) order. Time never goes backwards: an
  // earlier `now_ns` than the last one is ignored.
  void AdvanceTime(uint64_t now_ns);

  // --- Outputs -----------------------------------------------------------

  // PendingRequests: requests to hand to the kernel, in order (their user_data
  // as request.h lays it out). An op and its linked timeout are never split
  // between two spans. The span stays valid until the next input call.
  std::span<const Request> PendingRequests() const;

  // ConsumeRequests: marks the first `n` pending requests as handed over. `n`
  // must not separate an op from its linked timeout (the last consumed request
  // has link == false). A driver that cannot take both now leaves them pending.
  void ConsumeRequests(size_t n);

  // PollEvent: the next event for users, in the order results were decided.
  std::optional<Event> PollEvent();

  // PollEvents: up to out.size() events, as PollEvent would return them one by
  // one, written to the front of `out`. Returns how many.
  size_t PollEvents(std::span<Event> out);

  // HasEvents: whether PollEvent would return an event.
  bool HasEvents() const;

  // NextDeadline: the earliest deadline the engine keeps itself, if any: Timeout
  // ops, and the deadlines of ops that have not reached the kernel yet.
  std::optional<uint64_t> NextDeadline() const;

  // --- Getters -----------------------------------------------------------

  // Quiescent: no op is live (every accepted op has had its final event and
  // every completion the engine waits for is in) and no request is pending.
  bool Quiescent() const;

  // LiveOps: ops accepted whose slot is not yet released.
  size_t LiveOps() const;

  // InFlight: op and linked-timeout requests handed to the driver and not yet
  // completed (closes excepted), whether counted against max_in_flight or not.
  uint32_t InFlight() const;

  // BoundedInFlight: those of InFlight() counted against max_in_flight.
  uint32_t BoundedInFlight() const;

  // IsClosing: whether `fd` is between Close and its CLOSE completion.
  bool IsClosing(int fd) const;

  // OpsOnFd: live ops tracked on `fd` (not counting the close itself).
  uint32_t OpsOnFd(int fd) const;

  // Now: the last time given to AdvanceTime.
  uint64_t Now() const;

  const EngineStats& stats() const;
  const Options& options() const;

 private:
  struct State;
  // The general paths of Submit and HandleCompletion, kept out of line so that
  // the straight paths of plain ops stay small.
  [[gnu::noinline]] OpId SubmitGeneral(const SubmitArgs& args);
  [[gnu::noinline]] bool HandleCompletionGeneral(uint64_t user_data, int32_t res, uint32_t flags);
  [[gnu::noinline]] bool PumpAfterCompletion();
  // HandleCompletions of two or more: a batch of one goes to HandleCompletion,
  // whose single call costs less than the loop's set-up (a driver woken for
  // one completion, as at one connection, hands over one).
  size_t HandleCompletionBatch(std::span<const Completion> batch);

  // The outputs a driver reads on every cycle: part of State, reached through
  // out_ so that their getters (below) inline into the driver.
  using Outputs = internal::EngineOutputs<Request, Event>;
  std::unique_ptr<State> s_;
  Outputs* out_;  // s_.get()
};

inline std::span<const Request> Engine::PendingRequests() const {
  return std::span<const Request>(out_->ready.Front(), out_->ready.Pending());
}

inline void Engine::ConsumeRequests(size_t n) {
  RL_CHECK(n <= out_->ready.Pending());
  if (n == 0) return;
  RL_CHECK(!out_->ready.Front()[n - 1].link);  // never split an op from its timeout
  out_->ready.Consume(n);
}

inline std::optional<Event> Engine::PollEvent() {
  if (out_->events.Pending() == 0) return std::nullopt;
  const Event e = *out_->events.Front();
  out_->events.Consume(1);
  return e;
}

inline size_t Engine::PollEvents(std::span<Event> out) {
  const size_t n = std::min(out.size(), out_->events.Pending());
  const Event* from = out_->events.Front();
  for (size_t i = 0; i < n; ++i) out[i] = from[i];  // a few events: no memcpy call
  out_->events.Consume(n);
  return n;
}

inline size_t Engine::HandleCompletions(std::span<const Completion> batch) {
  if (batch.size() == 1) return HandleCompletion(batch[0].user_data, batch[0].res, batch[0].flags);
  return HandleCompletionBatch(batch);
}

inline bool Engine::HasEvents() const { return out_->events.Pending() != 0; }

inline std::optional<uint64_t> Engine::NextDeadline() const {
  if (!out_->has_deadline) return std::nullopt;
  return out_->next_deadline;
}

}  // namespace ringloop

#endif  // RINGLOOP_CORE_ENGINE_H_
