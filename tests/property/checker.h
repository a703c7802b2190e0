// tests/property/checker.h: the engine's guarantees (engine.h), checked as a run goes.
//
// Checker watches one run of Engine + SimDriver from both sides: what the user
// did and saw (OnSubmit, OnCancel, OnClose, OnEvent) and what the kernel saw
// (OnRecord: every request taken, CQE posted and delivered, fd allocated). It
// never drives anything. After each input it holds:
//   - exactly once: one final event per op, none after it, none for a stale op
//     (the event's OpId is the op's own), intermediate events only for
//     multishot ops;
//   - close waits: the kernel gets CLOSE(fd) only when no request naming fd is
//     outstanding and every op on fd submitted before the Close has ended; no
//     kernel request names fd after its CLOSE until the number is reopened;
//     an op submitted on a closing fd fails at once with -EBADF;
//   - buffers and slots: an op's final event comes only after every kernel
//     request of that op has delivered its final CQE; the kernel never posts a
//     completion (never writes a buffer) for an op after its final event; a
//     slot index is never handed out again while a request names it;
//   - chains, played by the engine: the kernel never gets two links of a
//     chain at once (a request is linked only to its own linked timeout); a
//     link reaches the kernel only after the link before it had its final
//     event, with a result that does not break the chain, without a cancel
//     (Cancel, Close of its fd, Shutdown) asked while it was live; once a
//     link breaks the chain or is cancelled while live, every later link ends
//     -ECANCELED and never reaches the kernel; a link cancelled before it
//     reached the driver ends at once (CheckImmediate, CheckRestOfChainEnded);
//   - deadlines: never early (a Timeout fires at or after its deadline; -ETIME
//     only for ops with a deadline that passed) and, on CheckDeadlines after
//     the loop has settled, every deadline up to now is resolved, chain links
//     that have not started included;
//   - linked timeouts ride right after their own op, with its deadline;
//   - backpressure: ops that complete on their own reach the kernel in
//     submission order (FIFO), and never more than max_in_flight of their
//     requests (with their linked timeouts) are outstanding; after each input
//     (OnPending) the engine's queue of them is empty or its head needs more
//     room than is free (else it was left waiting for nothing); an op that waits
//     for readiness (WaitsForReadiness) is handed to the driver as soon as it
//     may start, never held back for room;
//   - cancel: returns true exactly while the op is live, never changes an
//     outcome already delivered;
//   - completions: one that matches no request the kernel holds (stale, its
//     slot reused under a new generation; duplicated) is rejected; a final
//     event's buffer flags are those of the op's completion taken as final;
//   - quiescence (CheckQuiescent): no live op, timer, request or fd left.
// The first violation is kept (with a message naming the op and fd); later
// calls are ignored.
//
// Thread safety: one owner.
#ifndef RINGLOOP_TESTS_PROPERTY_CHECKER_H_
#define RINGLOOP_TESTS_PROPERTY_CHECKER_H_

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "ringloop/core/engine.h"
#include "ringloop/drivers/sim/sim_driver.h"
#include "ringloop/drivers/sim/trace.h"

namespace ringloop::prop {

// CheckerOptions: which guarantees are enforced strictly.
struct CheckerOptions {
  // max_in_flight: the engine's Options::max_in_flight; the kernel must never
  // hold more op and linked-timeout requests than this at once (0: unchecked).
  uint32_t max_in_flight = 0;
};

class Checker {
 public:
  explicit Checker(CheckerOptions options = {}) : options_(options) {}

  // --- What the user did (the runner calls these right after the engine call).
  // OnSubmit: op `tag` got `id`; `chain` is its chain's number (or -1) and
  // `pos` its position; `closing` whether its fd was closing at submission.
  void OnSubmit(uint64_t tag, OpId id, const SubmitArgs& args, int chain, int pos);
  // OnCancel: Engine::Cancel(id of `tag`) returned `live`.
  void OnCancel(uint64_t tag, bool live);
  // OnClose: Engine::Close(fd) returned `id` for tag.
  void OnClose(uint64_t tag, OpId id, int fd);
  // OnShutdown: Engine::Shutdown was called.
  void OnShutdown();
  // OnPending: the engine's PendingRequests() after an input: requests handed
  // to the driver that it has not taken yet (an op among them has started).
  void OnPending(std::span<const Request> pending);
  // OnEvent: the engine delivered `e` at engine time `now_ns` (the last
  // AdvanceTime) while the driver's clock read `driver_now_ns`.
  void OnEvent(const Event& e, uint64_t now_ns, uint64_t driver_now_ns);
  // OnRecord: the simulator made trace record `r`.
  void OnRecord(const sim::TraceRecord& r);

  // CheckDeadlines: every deadline <= now_ns is resolved (call after settling).
  void CheckDeadlines(uint64_t now_ns);
  // CheckQuiescent: the end state leaks nothing.
  void CheckQuiescent(const Engine& engine, const sim::SimDriver& sim);
  // CheckImmediate: op `tag` (just submitted) must already be final with `res`.
  void CheckImmediate(uint64_t tag, int32_t res, const char* why);
  // SkipChain: chain `chain` was refused whole at submission (its failing
  // member got the error, the others -ECANCELED): no ordering to check.
  void SkipChain(int chain);
  // CheckRestOfChainEnded: every chain link after op `tag` has ended
  // -ECANCELED (call right after a cancel that ended `tag` before it started).
  void CheckRestOfChainEnded(uint64_t tag);

  bool ok() const { return !violation_; }
  const std::string& violation() const { return *violation_; }
  void Fail(std::string message);

  // --- Queries for the runner -------------------------------------------------
  bool IsFinal(uint64_t tag) const;
  // Started: whether op `tag` was handed to the driver (pending or taken).
  bool Started(uint64_t tag) const;
  // UnstartedOnFd: live ops on `fd` not handed to the driver yet.
  std::vector<uint64_t> UnstartedOnFd(int fd) const;
  bool IsClosing(int fd) const { return closing_.count(fd) != 0; }
  // LiveTags / EndedTags: ops by state, in submission order.
  std::vector<uint64_t> LiveTags() const;
  std::vector<uint64_t> EndedTags() const;
  OpId IdOf(uint64_t tag) const;
  uint64_t ops() const { return ops_.size(); }
  uint64_t close_with_ops_in_flight() const { return close_with_ops_in_flight_; }
  uint64_t timed_out() const { return timed_out_; }
  // chains_aborted_midway: chains that a link other than the first broke or
  // cancelled while later links still waited.
  uint64_t chains_aborted_midway() const { return chains_aborted_midway_; }
  // queue_waits: checks that found ops waiting for room; expired_unstarted:
  // ops whose deadline passed before they reached the driver.
  uint64_t queue_waits() const { return queue_waits_; }
  uint64_t expired_unstarted() const { return expired_unstarted_; }

 private:
  struct OpInfo {
    uint64_t tag = 0;
    OpId id;
    Op op;
    OpKind kind = OpKind::kNop;
    int fd = -1;
    uint64_t deadline_ns = kNoDeadline;  // op deadline, or a Timeout's fire time
    bool is_timeout = false;
    bool is_close = false;
    bool multishot = false;
    bool closing_at_submit = false;
    bool reached_kernel = false;
    bool started = false;        // handed to the driver (pending or taken)
    bool cancel_asked = false;   // Cancel, Close of its fd or Shutdown while live
    uint32_t final_flags = 0;    // buffer flags of its completion taken as final
    uint64_t last_op_ud = 0;     // the user_data of its latest op request seen (0: none)
    bool retry_waiting = false;  // its op request ended -EINTR: it may be resubmitted
    bool in_queue = false;       // in queue_
    bool final = false;
    int32_t res = 0;
    uint64_t link_len = 0;  // a result below this breaks a chain (ChainMinimum)
    int chain = -1;
    int pos = 0;
    uint64_t final_order = 0;
  };
  struct Outstanding {
    uint64_t tag;
    RequestKind kind;
    int fd;        // the fd the request names (via its op), or -1
    bool counted;  // held against max_in_flight (ops that complete on their own and their
                   // timeouts; not closes)
  };

  OpInfo* OpOfUserData(uint64_t user_data);
  OpInfo* OpOfTag(uint64_t tag);
  void OnRequest(const sim::TraceRecord& r);
  void OnDeliver(const sim::TraceRecord& r);
  void OnCloseRequest(const OpInfo& close, uint64_t user_data);
  void OnFinal(OpInfo& op, const Event& e, uint64_t now_ns, uint64_t driver_now_ns);
  void CheckChain(int chain);
  void NoteOpRequest(OpInfo& op, uint64_t user_data);
  void SyncQueue(std::span<const Request> pending);
  bool Bounded(const OpInfo& op) const;
  bool Waits(const OpInfo& op, std::span<const Request> pending) const;
  void CheckLinkMayStart(const OpInfo& op);
  const OpInfo* ChainMember(const OpInfo& op, int pos) const;
  std::string Name(const OpInfo& op) const;

  CheckerOptions options_;
  std::optional<std::string> violation_;
  std::map<uint64_t, OpInfo> ops_;                           // by tag
  std::map<std::pair<uint32_t, uint32_t>, uint64_t> by_id_;  // (index, generation) -> tag
  std::map<uint64_t, Outstanding> outstanding_;              // kernel requests not yet finished
  std::map<int, uint64_t> closing_;                          // fd -> tag of its Close
  std::set<int> closed_in_kernel_;                           // fds after CLOSE, until reopened
  std::map<int, std::vector<uint64_t>> chains_;              // chain -> member tags
  uint64_t last_first_issue_tag_ = 0;
  uint64_t last_request_ud_ = 0;
  uint8_t last_request_kind_ = 0xff;
  bool last_request_link_ = false;
  uint32_t op_requests_outstanding_ = 0;
  uint64_t final_count_ = 0;
  uint64_t close_with_ops_in_flight_ = 0;
  uint64_t timed_out_ = 0;
  uint64_t chains_aborted_midway_ = 0;
  uint64_t queue_waits_ = 0;
  uint64_t expired_unstarted_ = 0;
  bool shutting_down_ = false;
  // The engine's queue of ops waiting for room, as the contract has it (FIFO
  // by when each op could start; resubmissions after -EINTR first), followed
  // at each OnPending: emitted_ (bounded ops' new op requests, in order) and
  // starts_ (bounded ops that could start) since the last one.
  std::deque<uint64_t> queue_;
  std::vector<uint64_t> emitted_;
  std::vector<uint64_t> starts_;
};

}  // namespace ringloop::prop

#endif  // RINGLOOP_TESTS_PROPERTY_CHECKER_H_
