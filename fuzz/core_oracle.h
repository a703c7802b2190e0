// fuzz/core_oracle.h: a model of the Engine's contract that checks every output.
//
// CoreOracle owns an Engine and plays both its user and its kernel. Every input
// goes through the oracle, which records what the engine was asked and predicts
// what the contract (ringloop/core/engine.h) says must follow: which submissions fail at
// once and with which errno, which completions are accepted, whether Cancel
// finds a live op, which fds are closing, which timers are due. After each input
// it pulls the engine's outputs (new requests, events) and checks them and the
// getters (stats, InFlight, NextDeadline, IsClosing) against that record. A
// breach prints what was expected and aborts: that is what libFuzzer (or a
// replay test) reports as a crash.
//
// The kernel it plays is whatever the caller makes it: Complete() feeds any
// (user_data, res, flags); CompleteFairly() and FireLinkTimeout() post what a
// correct kernel could. Drain() then plays a fair kernel (chain order honoured,
// cancels answered, timers run) until the engine is Quiescent, within a step
// bound, and checks that every op had exactly one final event.
//
// Thread safety: one owner.
#ifndef RINGLOOP_FUZZ_CORE_ORACLE_H_
#define RINGLOOP_FUZZ_CORE_ORACLE_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ringloop/core/engine.h"
#include "ringloop/core/ops.h"
#include "ringloop/core/request.h"

namespace ringloop::fuzz {

class CoreOracle {
 public:
  // CoreOracle: an engine with `options`. With `trace`, every input is printed
  // to stderr (for reading a reproducer).
  CoreOracle(Engine::Options options, bool trace);

  // --- Inputs (each calls the engine once, then checks its outputs) ----------
  OpId Submit(const SubmitArgs& args);
  void SubmitChain(std::vector<SubmitArgs> chain);
  void Cancel(OpId id);
  void Close(int fd, uint64_t tag);
  void Shutdown();
  void AdvanceTime(uint64_t now_ns);
  // ConsumeChains: hands the first `chains` whole chains of pending requests to
  // the kernel (all of them if fewer are pending).
  void ConsumeChains(size_t chains);
  // Complete: one completion, with any user_data, result and flags.
  void Complete(uint64_t user_data, int32_t res, uint32_t flags);
  // CompleteFairly: posts what a correct kernel would for in-kernel request `i`
  // (0 = the oldest handed over and not completed).
  void CompleteFairly(size_t i);
  // FireLinkTimeout: the linked timeout of in-kernel request `i`'s op fires
  // (-ETIME), and the op it cut completes -ECANCELED.
  void FireLinkTimeout(size_t i);
  // Drain: a fair kernel until Quiescent (step-bounded), then the end checks.
  void Drain();

  // --- What the caller may pick from -------------------------------------------
  size_t InKernelCount() const { return in_kernel_.size(); }
  uint64_t InKernelUserData(size_t i) const;
  size_t PendingCount() const { return pending_.size(); }
  uint64_t PendingUserData(size_t i) const;
  size_t HistoryCount() const { return history_.size(); }
  uint64_t HistoryAt(size_t i) const { return history_[i]; }
  size_t OpCount() const { return ops_.size(); }
  OpId OpAt(size_t i) const { return ops_[i].id; }
  uint64_t Now() const { return engine_.Now(); }
  const Engine& engine() const { return engine_; }

 private:
  static constexpr size_t kNone = ~size_t{0};

  // OpRecord: one OpId the engine handed out, and what the oracle knows of it.
  struct OpRecord {
    OpId id;
    uint64_t tag = 0;
    uint64_t deadline_ns = kNoDeadline;  // the op's deadline, or a timer's fire time
    uint64_t timer_seq = 0;              // submission order among timers
    int fd = -1;
    OpKind kind = OpKind::kNop;
    bool multishot = false;
    bool is_close = false;           // made by Engine::Close
    int32_t expected_error = 0;      // non-zero: must end at once with this result
    int32_t fair_res = 0;            // what a correct kernel returns on success
    int32_t final_res = 0;           // the result of its final event, once ended
    bool ended = false;              // its final event was seen
    bool saw_etime = false;          // an accepted completion for it carried -ETIME
    bool requested = false;          // a kOp request for it was seen
    size_t live_op_request = kNone;  // its outstanding kOp request
    size_t live_lt_request = kNone;  // its outstanding kLinkTimeout request
    size_t chain_next = kNone;       // the link after it (an accepted chain), until it
                                     // ended before starting (the chain ends there)
    size_t chain_prev = kNone;       // the link before it
    uint64_t link_min = 0;           // ChainMinimum: a smaller result breaks its chain
    int32_t last_op_res = 0;         // its last accepted final op completion
    bool cancel_asked = false;       // Cancel, Close of its fd or Shutdown while live
    bool chain_member = false;       // linked after another op of an accepted chain
    bool deadline_queued = false;    // in queued_deadlines_
    bool retry_waiting = false;      // its op request ended -EINTR: it may be resubmitted
    uint32_t final_flags = 0;        // buffer flags of its completion taken as final
    bool in_queue = false;           // in queue_
  };

  // RequestRecord: one request the engine emitted (copied: Request::op may
  // dangle once the op's slot is released).
  struct RequestRecord {
    uint64_t user_data = 0;
    uint64_t target = 0;
    uint64_t deadline_ns = 0;
    size_t op = kNone;          // index into ops_
    size_t chain_prev = kNone;  // the kOp request this one is linked after
    int fd = -1;
    int32_t res = 0;  // the accepted completion's result, once done
    RequestKind kind = RequestKind::kOp;
    bool link = false;
    bool consumed = false;
    bool done = false;  // its (final) completion was accepted
  };

  size_t AddOp(OpId id, uint64_t tag, const Op& op, uint64_t deadline_ns, int32_t error,
               bool is_close);
  OpRecord* Find(OpId id);
  int32_t ExpectedError(const SubmitArgs& args, size_t chain_length) const;
  void ExpectEndedAtOnce(size_t first, size_t count);
  template <class Covered>
  void ExpectCancelled(Covered covered);

  // Sync: records the requests and events the last input produced and checks
  // them and the getters.
  void Sync();
  void SyncRequests();
  void OnNewRequest(const Request& r);
  void OnCloseRequest(OpRecord& close);
  void SyncEvents();
  void OnEvent(const Event& e);
  void CheckGetters();
  void CheckChainsCancelledInQueue();
  void CheckChainsMoved();
  void SyncQueue(size_t first_new_request);
  void ExpectStartedAtOnce(size_t op);
  bool Bounded(const OpRecord& op) const;
  void ExpectRestCancelled(size_t op, const char* why);
  void UpdateQueued(size_t op);

  void MarkDone(size_t request, int32_t res);
  size_t InKernelPosition(size_t index) const;
  size_t LinkTimeoutOf(size_t op_request) const;
  size_t LiveCancelFor(uint64_t target, bool consumed_only) const;
  bool Broke(const RequestRecord& r) const;
  bool BreaksChain(const OpRecord& op) const;
  int32_t FairResult(const RequestRecord& r) const;

  Engine engine_;
  bool trace_;

  std::vector<OpRecord> ops_;
  std::unordered_map<uint64_t, size_t> op_by_id_;           // OpId packed -> ops_ index
  std::vector<RequestRecord> requests_;                     // every request, in issue order
  std::unordered_map<uint64_t, size_t> live_by_user_data_;  // not done
  std::deque<size_t> pending_;          // emitted, not consumed (engine's PendingRequests)
  std::vector<size_t> in_kernel_;       // consumed, not done, in issue order
  std::vector<uint64_t> history_;       // user_data of done requests (most recent last)
  std::vector<size_t> ended_in_queue_;  // ops of the last input that ended unsent
  std::vector<size_t> ended_sent_;      // ops of the last input that ended after a request
  std::vector<size_t> pending_starts_;  // ops the last input let start (submitted, or links)
  // The engine's queue of ops waiting for room, as the contract has it: FIFO by
  // when each op could start, resubmissions after -EINTR first. After every
  // input it is empty or its head needs more room than is free.
  std::deque<size_t> queue_;

  std::map<int, size_t> closing_;           // fd -> its Close op, until CLOSE completes
  std::map<int, bool> close_issued_;        // fd -> its CLOSE request was emitted
  std::map<int, uint32_t> requests_on_fd_;  // outstanding requests for ops on fd
  std::map<std::pair<uint64_t, uint64_t>, size_t> timers_;  // (deadline, seq) -> op
  // Ops with a deadline that have not reached the kernel (waiting for room, a
  // chain link not started, or an op to resubmit): the engine times them out
  // itself, (deadline, op).
  std::set<std::pair<uint64_t, size_t>> queued_deadlines_;
  uint64_t timer_seq_ = 0;
  bool shutting_down_ = false;
  size_t last_first_send_ = kNone;  // the latest op (ops_ index) sent a first time

  uint64_t final_events_ = 0;
  uint64_t more_events_ = 0;
  uint64_t completion_calls_ = 0;  // Complete: alternates the entry points
  uint64_t sync_calls_ = 0;        // SyncEvents: alternates the exits
  uint64_t accepted_ = 0;
  uint64_t rejected_ = 0;
  uint64_t cancels_ = 0;
  uint64_t shutdowns_ = 0;
  uint64_t closes_ = 0;
  uint64_t timers_fired_ = 0;
  uint32_t in_flight_ = 0;  // outstanding kOp + kLinkTimeout requests (closes excepted)
  uint32_t bounded_ = 0;    // those of ops that complete on their own (max_in_flight)
  // The last timer fired by the AdvanceTime in progress (firing_), as
  // (deadline, submission order): timers fire in that order.
  std::pair<uint64_t, uint64_t> last_fired_{0, 0};
  bool firing_ = false;
};

}  // namespace ringloop::fuzz

#endif  // RINGLOOP_FUZZ_CORE_ORACLE_H_
