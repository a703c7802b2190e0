// fuzz/core_oracle.cc: the oracle's records, predictions and checks.
#include "fuzz/core_oracle.h"

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <span>
#include <string>
#include <utility>

namespace ringloop::fuzz {
namespace {

[[noreturn]] __attribute__((format(printf, 3, 4))) void Fail(int line, const char* cond,
                                                             const char* fmt, ...) {
  std::fprintf(stderr, "core_oracle.cc:%d: contract breach: %s\n  ", line, cond);
  va_list args;
  va_start(args, fmt);
  std::vfprintf(stderr, fmt, args);
  va_end(args);
  std::fprintf(stderr, "\n");
  std::abort();
}

// ORACLE_CHECK: aborts with a message when the engine breaks its contract.
#define ORACLE_CHECK(cond, ...)                      \
  do {                                               \
    if (!(cond)) Fail(__LINE__, #cond, __VA_ARGS__); \
  } while (0)

constexpr size_t kHistoryMax = 64;
constexpr int kCheckedFdsMax = 16;  // IsClosing is compared on fds [-1, 16)

uint64_t Key(OpId id) { return (uint64_t{id.index} << 32) | id.generation; }

// FairValue: what `op` returns when it succeeds in full.
int32_t FairValue(const Op& op) {
  switch (KindOf(op)) {
    case OpKind::kRead:
      return int32_t(std::get<Read>(op).len & 0x7fffffff);
    case OpKind::kWrite:
      return int32_t(std::get<Write>(op).len & 0x7fffffff);
    case OpKind::kRecv:
      return int32_t(std::get<Recv>(op).len & 0x7fffffff);
    case OpKind::kSend:
      return int32_t(std::get<Send>(op).len & 0x7fffffff);
    case OpKind::kAccept:
    case OpKind::kOpenat:
    case OpKind::kSocket:
      return 100;  // a new fd
    case OpKind::kPollAdd:
      return 1;  // POLLIN
    default:
      return 0;
  }
}

}  // namespace

CoreOracle::CoreOracle(Engine::Options options, bool trace) : engine_(options), trace_(trace) {
  if (trace_) {
    std::fprintf(stderr, "engine max_in_flight=%u initial_slots=%u\n", options.max_in_flight,
                 options.initial_slots);
  }
}

uint64_t CoreOracle::InKernelUserData(size_t i) const { return requests_[in_kernel_[i]].user_data; }

uint64_t CoreOracle::PendingUserData(size_t i) const { return requests_[pending_[i]].user_data; }

// --- Records and predictions ------------------------------------------------------

size_t CoreOracle::AddOp(OpId id, uint64_t tag, const Op& op, uint64_t deadline_ns, int32_t error,
                         bool is_close) {
  OpRecord rec;
  rec.id = id;
  rec.tag = tag;
  rec.is_close = is_close;
  rec.fd = FdOf(op);
  rec.kind = KindOf(op);
  rec.multishot = IsMultishot(op);
  rec.fair_res = FairValue(op);
  rec.link_min = error == 0 ? ChainMinimum(op) : 0;  // refused ops may hold bad iovecs
  rec.expected_error = error;
  rec.deadline_ns = deadline_ns;
  if (rec.kind == OpKind::kTimeout && error == 0) {
    rec.deadline_ns = std::get<Timeout>(op).deadline_ns;
    rec.timer_seq = timer_seq_++;
    timers_[{rec.deadline_ns, rec.timer_seq}] = ops_.size();
  }
  op_by_id_[Key(id)] = ops_.size();
  ops_.push_back(rec);
  return ops_.size() - 1;
}

CoreOracle::OpRecord* CoreOracle::Find(OpId id) {
  auto it = op_by_id_.find(Key(id));
  return it == op_by_id_.end() ? nullptr : &ops_[it->second];
}

// ExpectedError: the result an op must end with at once (0: it is accepted),
// from engine.h's contract for Submit and SubmitChain.
int32_t CoreOracle::ExpectedError(const SubmitArgs& args, size_t chain_length) const {
  const int32_t arg_error = CheckArguments(args.op);
  if (arg_error != 0) return arg_error;
  const OpKind kind = KindOf(args.op);
  const bool multishot = IsMultishot(args.op);
  if (kind == OpKind::kClose) return -EINVAL;
  if (kind == OpKind::kTimeout && args.deadline_ns != kNoDeadline) return -EINVAL;
  if (multishot && args.deadline_ns != kNoDeadline) return -EINVAL;
  if (chain_length > 1 && (kind == OpKind::kTimeout || multishot)) return -EINVAL;
  const int fd = FdOf(args.op);
  if (fd >= 0 && closing_.count(fd) != 0) return -EBADF;
  if (shutting_down_) return -ECANCELED;
  return 0;
}

// ExpectEndedAtOnce: an op refused at submission has its final event (with the
// predicted errno) right away; an accepted one does not.
void CoreOracle::ExpectEndedAtOnce(size_t first, size_t count) {
  for (size_t i = first; i < first + count; ++i) {
    const OpRecord& op = ops_[i];
    if (op.expected_error != 0) {
      ORACLE_CHECK(op.ended, "op (%u,%u) should have failed at once with %d", op.id.index,
                   op.id.generation, op.expected_error);
    } else {
      ORACLE_CHECK(!op.ended, "accepted op (%u,%u) ended at submission with %d", op.id.index,
                   op.id.generation, op.final_res);
    }
  }
}

// --- Inputs --------------------------------------------------------------------------

OpId CoreOracle::Submit(const SubmitArgs& args) {
  const int32_t error = ExpectedError(args, 1);
  const OpId id = engine_.Submit(args);
  if (trace_) {
    std::fprintf(stderr, "submit %s fd=%d deadline=%llu tag=%llu -> (%u,%u) expect %d\n",
                 std::string(OpName(KindOf(args.op))).c_str(), FdOf(args.op),
                 (unsigned long long)args.deadline_ns, (unsigned long long)args.tag, id.index,
                 id.generation, error);
  }
  const size_t rec = AddOp(id, args.tag, args.op, args.deadline_ns, error, false);
  UpdateQueued(rec);
  if (error == 0) pending_starts_.push_back(rec);
  Sync();
  ExpectEndedAtOnce(rec, 1);
  ExpectStartedAtOnce(rec);
  return id;
}

void CoreOracle::SubmitChain(std::vector<SubmitArgs> chain) {
  // A chain is accepted whole or refused whole: the first op that cannot be
  // accepted gets its errno, every other one -ECANCELED. (Any length fits:
  // the engine plays the links one at a time.)
  std::vector<int32_t> errors(chain.size(), 0);
  size_t failing = chain.size();
  for (size_t i = 0; i < chain.size() && failing == chain.size(); ++i) {
    errors[i] = ExpectedError(chain[i], chain.size());
    if (errors[i] != 0) failing = i;
  }
  if (failing != chain.size()) {
    for (size_t i = 0; i < chain.size(); ++i) {
      if (i != failing) errors[i] = -ECANCELED;
    }
  }
  std::vector<OpId> ids(chain.size());
  engine_.SubmitChain(std::span<SubmitArgs>(chain), std::span<OpId>(ids));
  const bool accepted = failing == chain.size();
  if (trace_) std::fprintf(stderr, "chain of %zu (failing %zu)\n", chain.size(), failing);
  const size_t first = ops_.size();
  for (size_t i = 0; i < chain.size(); ++i) {
    if (trace_) {
      std::fprintf(stderr, "  %s fd=%d deadline=%llu -> (%u,%u) expect %d\n",
                   std::string(OpName(KindOf(chain[i].op))).c_str(), FdOf(chain[i].op),
                   (unsigned long long)chain[i].deadline_ns, ids[i].index, ids[i].generation,
                   errors[i]);
    }
    AddOp(ids[i], chain[i].tag, chain[i].op, chain[i].deadline_ns, errors[i], false);
    if (accepted && i > 0) {
      ops_[first + i - 1].chain_next = first + i;
      ops_[first + i].chain_prev = first + i - 1;
      ops_[first + i].chain_member = true;
    }
    UpdateQueued(first + i);
  }
  if (accepted && !chain.empty()) pending_starts_.push_back(first);
  Sync();
  ExpectEndedAtOnce(first, chain.size());
  if (accepted && !chain.empty()) ExpectStartedAtOnce(first);
}

void CoreOracle::Cancel(OpId id) {
  const OpRecord* before = Find(id);
  const bool live = before != nullptr && !before->ended;
  const bool requested = before != nullptr && before->requested;
  if (live) Find(id)->cancel_asked = true;
  const bool got = engine_.Cancel(id);
  if (trace_) std::fprintf(stderr, "cancel (%u,%u) -> %d\n", id.index, id.generation, got);
  ORACLE_CHECK(got == live, "Cancel(%u,%u) returned %d; the op is %s", id.index, id.generation, got,
               live ? "live" : "not live");
  Sync();
  if (!live) return;
  const OpRecord& op = *Find(id);
  // A timer, or an op the kernel never saw, ends at once -ECANCELED.
  if (!op.is_close && (op.kind == OpKind::kTimeout || !requested)) {
    ORACLE_CHECK(op.ended && op.final_res == -ECANCELED,
                 "cancelled op (%u,%u) that never reached the kernel did not end -ECANCELED",
                 id.index, id.generation);
  }
}

void CoreOracle::Close(int fd, uint64_t tag) {
  const int32_t error = fd < 0 || closing_.count(fd) != 0 ? -EBADF : 0;
  if (error == 0) {
    for (OpRecord& op : ops_) {
      if (op.fd == fd && !op.ended) op.cancel_asked = true;
    }
  }
  const OpId id = engine_.Close(fd, tag);
  if (trace_) {
    std::fprintf(stderr, "close fd=%d -> (%u,%u) expect %d\n", fd, id.index, id.generation, error);
  }
  const size_t rec = AddOp(id, tag, ringloop::Close{fd}, kNoDeadline, error, true);
  if (error == 0) closing_[fd] = rec;
  Sync();
  ExpectEndedAtOnce(rec, 1);
  if (error == 0) ExpectCancelled([fd](const OpRecord& op) { return op.fd == fd; });
}

void CoreOracle::Shutdown() {
  for (OpRecord& op : ops_) op.cancel_asked = true;
  engine_.Shutdown();
  if (trace_) std::fprintf(stderr, "shutdown\n");
  shutting_down_ = true;
  Sync();
  ExpectCancelled([](const OpRecord&) { return true; });
  ORACLE_CHECK(timers_.empty(), "%zu timers outlived Shutdown", timers_.size());
}

// ExpectCancelled: after Close or Shutdown, every live op they cover (closes
// excepted) either ended at once or has its op request in flight with a cancel
// request out for it (or waits only for its linked timeout, after -EINTR).
template <class Covered>
void CoreOracle::ExpectCancelled(Covered covered) {
  for (const OpRecord& op : ops_) {
    if (op.ended || op.is_close || !covered(op)) continue;
    ORACLE_CHECK(op.requested, "op (%u,%u) never sent yet still live after close/shutdown",
                 op.id.index, op.id.generation);
    if (op.live_op_request == kNone) {
      ORACLE_CHECK(op.live_lt_request != kNone,
                   "op (%u,%u) live with nothing outstanding after close/shutdown", op.id.index,
                   op.id.generation);
      continue;
    }
    const uint64_t target = requests_[op.live_op_request].user_data;
    ORACLE_CHECK(LiveCancelFor(target, /*consumed_only=*/false) != kNone,
                 "op (%u,%u) in flight after close/shutdown with no cancel out", op.id.index,
                 op.id.generation);
  }
}

void CoreOracle::AdvanceTime(uint64_t now_ns) {
  const uint64_t before = engine_.Now();
  firing_ = now_ns >= before;  // an earlier time is ignored: nothing may fire
  last_fired_ = {0, 0};
  engine_.AdvanceTime(now_ns);
  if (trace_) std::fprintf(stderr, "advance %llu\n", (unsigned long long)now_ns);
  Sync();
  firing_ = false;
  const uint64_t now = std::max(before, now_ns);
  ORACLE_CHECK(engine_.Now() == now, "Now() is %llu after AdvanceTime(%llu) from %llu",
               (unsigned long long)engine_.Now(), (unsigned long long)now_ns,
               (unsigned long long)before);
  if (now_ns < before) return;
  ORACLE_CHECK(timers_.empty() || timers_.begin()->first.first > now,
               "a timer due at %llu did not fire at %llu",
               (unsigned long long)timers_.begin()->first.first, (unsigned long long)now);
  ORACLE_CHECK(queued_deadlines_.empty() || queued_deadlines_.begin()->first > now,
               "a queued op due at %llu did not time out at %llu",
               (unsigned long long)queued_deadlines_.begin()->first, (unsigned long long)now);
}

void CoreOracle::ConsumeChains(size_t chains) {
  const std::span<const Request> pending = engine_.PendingRequests();
  size_t count = 0;
  size_t seen = 0;
  for (size_t i = 0; i < pending.size() && seen < chains; ++i) {
    if (!pending[i].link) {
      ++seen;
      count = i + 1;
    }
  }
  engine_.ConsumeRequests(count);
  if (trace_) std::fprintf(stderr, "consume %zu requests\n", count);
  for (size_t i = 0; i < count; ++i) {
    const size_t index = pending_.front();
    pending_.pop_front();
    requests_[index].consumed = true;
    if (!requests_[index].done) in_kernel_.push_back(index);  // issue order is kept
  }
  Sync();
}

void CoreOracle::Complete(uint64_t user_data, int32_t res, uint32_t flags) {
  auto it = live_by_user_data_.find(user_data);
  const size_t index = it == live_by_user_data_.end() ? kNone : it->second;
  const bool more = (flags & kCqeFMore) != 0;
  bool expected = index != kNone;
  if (expected && requests_[index].kind == RequestKind::kOp && more) {
    expected = ops_[requests_[index].op].multishot;
  }
  // Every other completion goes through the batch entry point (a batch of one,
  // which it hands to HandleCompletion: the same effects, checked the same
  // way; engine_straight_path_test feeds the batch loop longer batches).
  const Completion completion{user_data, res, flags};
  const bool got = ++completion_calls_ % 2 == 0
                       ? engine_.HandleCompletions(std::span<const Completion>(&completion, 1)) == 1
                       : engine_.HandleCompletion(user_data, res, flags);
  if (trace_) {
    std::fprintf(stderr, "complete ud=%#llx res=%d flags=%#x -> %d\n",
                 (unsigned long long)user_data, res, flags, got);
  }
  ORACLE_CHECK(
      got == expected, "HandleCompletion(%#llx, %d, %#x) returned %d, expected %d (%s)",
      (unsigned long long)user_data, res, flags, got, expected,
      index == kNone ? "matches no outstanding request" : RequestKindName(requests_[index].kind));
  if (got) {
    ++accepted_;
    const RequestRecord& r = requests_[index];
    const bool final_op = r.kind == RequestKind::kOp && !more;
    if (res == -ETIME && (final_op || r.kind == RequestKind::kLinkTimeout)) {
      ops_[r.op].saw_etime = true;
    }
    if (final_op) {
      // The buffer a final event reports (provided-buffer groups): that of the
      // completion taken as final. -EINTR never is (the op is resubmitted or
      // ends without a completion), nor is the end of a multishot stream that
      // the engine re-arms (its item goes out as an intermediate event).
      OpRecord& op = ops_[r.op];
      const bool rearmed = op.multishot && !op.ended && !op.cancel_asked && !shutting_down_ &&
                           res >= 0 && !(op.kind == OpKind::kRecv && res == 0);
      const bool final_completion = res != -EINTR && !rearmed;
      op.final_flags = final_completion && (flags & kCqeFBuffer) != 0 ? flags : 0;
    }
    if (r.kind != RequestKind::kOp || !more) MarkDone(index, res);
  } else {
    ++rejected_;
  }
  Sync();
}

void CoreOracle::CompleteFairly(size_t i) {
  const size_t index = in_kernel_[i];
  const RequestRecord r = requests_[index];  // a copy: Complete may grow requests_
  switch (r.kind) {
    case RequestKind::kOp: {
      // The kernel starts a linked op only after the one before it is done.
      if (r.chain_prev != kNone && !requests_[r.chain_prev].done) {
        return CompleteFairly(InKernelPosition(r.chain_prev));
      }
      const size_t lt = LinkTimeoutOf(index);
      if (lt != kNone && engine_.Now() >= requests_[lt].deadline_ns) return FireLinkTimeout(i);
      Complete(r.user_data, FairResult(r), 0);
      if (lt != kNone && !requests_[lt].done) Complete(requests_[lt].user_data, -ECANCELED, 0);
      return;
    }
    case RequestKind::kLinkTimeout: {
      const RequestRecord& op_request = requests_[r.chain_prev];
      if (!op_request.done) return CompleteFairly(InKernelPosition(r.chain_prev));
      Complete(r.user_data, -ECANCELED, 0);  // its op won
      return;
    }
    case RequestKind::kCancel: {
      auto target = live_by_user_data_.find(r.target);
      if (target == live_by_user_data_.end() || !requests_[target->second].consumed) {
        Complete(r.user_data, -ENOENT, 0);
        return;
      }
      const size_t t = target->second;
      Complete(r.user_data, 0, 0);
      Complete(requests_[t].user_data, -ECANCELED, 0);
      const size_t lt = LinkTimeoutOf(t);
      if (lt != kNone && !requests_[lt].done) Complete(requests_[lt].user_data, -ECANCELED, 0);
      return;
    }
    case RequestKind::kShutdown:
      Complete(r.user_data, 0, 0);
      return;
  }
}

void CoreOracle::FireLinkTimeout(size_t i) {
  const size_t index = in_kernel_[i];
  const RequestRecord r = requests_[index];
  size_t op_request = kNone;
  size_t lt = kNone;
  if (r.kind == RequestKind::kOp) {
    op_request = index;
    lt = LinkTimeoutOf(index);
  } else if (r.kind == RequestKind::kLinkTimeout) {
    op_request = r.chain_prev;
    lt = index;
  }
  if (lt == kNone || requests_[lt].done) return;
  const uint64_t op_user_data = requests_[op_request].user_data;
  Complete(requests_[lt].user_data, -ETIME, 0);
  if (!requests_[op_request].done) Complete(op_user_data, -ECANCELED, 0);
}

void CoreOracle::Drain() {
  if (trace_) std::fprintf(stderr, "drain\n");
  const size_t bound = 1000 + 16 * (ops_.size() + requests_.size());
  size_t step = 0;
  for (; step < bound && !engine_.Quiescent(); ++step) {
    if (!pending_.empty()) {
      ConsumeChains(pending_.size());
    } else if (!in_kernel_.empty()) {
      CompleteFairly(0);
    } else if (!timers_.empty()) {
      AdvanceTime(std::max(engine_.Now(), timers_.begin()->first.first));
    } else {
      ORACLE_CHECK(false, "not quiescent (%zu live ops) yet waiting for nothing",
                   engine_.LiveOps());
    }
  }
  ORACLE_CHECK(engine_.Quiescent(), "no quiescence within %zu fair steps (%zu live ops)", bound,
               engine_.LiveOps());
  ORACLE_CHECK(engine_.LiveOps() == 0, "%zu live ops at quiescence", engine_.LiveOps());
  for (const OpRecord& op : ops_) {
    ORACLE_CHECK(op.ended, "op (%u,%u) %s never had a final event", op.id.index, op.id.generation,
                 std::string(OpName(op.kind)).c_str());
  }
  const EngineStats& stats = engine_.stats();
  ORACLE_CHECK(stats.final_events == stats.submitted, "%llu final events for %llu ops",
               (unsigned long long)stats.final_events, (unsigned long long)stats.submitted);
  ORACLE_CHECK(live_by_user_data_.empty() && in_kernel_.empty() && pending_.empty(),
               "%zu requests still outstanding at quiescence", live_by_user_data_.size());
  ORACLE_CHECK(closing_.empty(), "%zu fds still closing at quiescence", closing_.size());
  ORACLE_CHECK(in_flight_ == 0 && engine_.InFlight() == 0 && engine_.BoundedInFlight() == 0,
               "in flight at quiescence");
  ORACLE_CHECK(!engine_.NextDeadline().has_value(), "a deadline left at quiescence");
  for (const auto& [fd, count] : requests_on_fd_) {
    ORACLE_CHECK(engine_.OpsOnFd(fd) == 0, "fd %d still has %u ops at quiescence", fd,
                 engine_.OpsOnFd(fd));
  }
}

// --- Outputs ---------------------------------------------------------------------------

// Sync: events first, so that a CLOSE emitted by the same input that ended the
// fd's last op is checked against that op's final event.
void CoreOracle::Sync() {
  SyncEvents();
  CheckChainsCancelledInQueue();
  CheckChainsMoved();
  const size_t first_new_request = requests_.size();
  SyncRequests();
  for (const size_t i : pending_starts_) ExpectStartedAtOnce(i);
  SyncQueue(first_new_request);
  pending_starts_.clear();
  CheckGetters();
}

// ExpectRestCancelled: every link after op `op` has ended -ECANCELED in the
// input just made, without ever reaching the kernel.
void CoreOracle::ExpectRestCancelled(size_t op, const char* why) {
  for (size_t j = ops_[op].chain_next; j != kNone; j = ops_[j].chain_next) {
    ORACLE_CHECK(ops_[j].ended && !ops_[j].requested && ops_[j].final_res == -ECANCELED,
                 "link (%u,%u) of a chain whose link (%u,%u) %s is still live, reached the "
                 "kernel, or ended %d",
                 ops_[j].id.index, ops_[j].id.generation, ops_[op].id.index, ops_[op].id.generation,
                 why, ops_[j].final_res);
  }
}

// CheckChainsCancelledInQueue: a chain link that ended before reaching the
// kernel (cancelled, on a closing fd, past its deadline) takes every link
// after it along, at once: none of them may ever be sent. The links before
// it are unaffected: their chain now ends before it.
void CoreOracle::CheckChainsCancelledInQueue() {
  for (const size_t i : ended_in_queue_) {
    ExpectRestCancelled(i, "ended unsent");
    const size_t prev = ops_[i].chain_prev;
    if (prev != kNone && ops_[prev].chain_next == i) ops_[prev].chain_next = kNone;
  }
  ended_in_queue_.clear();
}

// CheckChainsMoved: a chain link that ended in the kernel lets the next link
// start (it must not have ended with it), unless its result broke the chain
// (BreaksChain), it was cancelled, or the engine drains: then every later link
// ended -ECANCELED at once, in the same input.
void CoreOracle::CheckChainsMoved() {
  for (const size_t i : ended_sent_) {
    const OpRecord& op = ops_[i];
    if (op.chain_next == kNone) continue;
    const bool broken = BreaksChain(op);
    if (broken || op.cancel_asked || shutting_down_) {
      ExpectRestCancelled(i, broken ? "broke the chain" : "was cancelled");
      continue;
    }
    const OpRecord& next = ops_[op.chain_next];
    ORACLE_CHECK(!next.ended, "link (%u,%u) ended (%d) with the link before it, which ended %d",
                 next.id.index, next.id.generation, next.final_res, op.final_res);
    pending_starts_.push_back(op.chain_next);
  }
  ended_sent_.clear();
}

// BreaksChain: whether `op`'s final result ends its chain (an error, or less
// than ChainMinimum).
bool CoreOracle::BreaksChain(const OpRecord& op) const {
  return op.final_res < 0 || uint64_t(op.final_res) < op.link_min;
}

// ExpectStartedAtOnce: op `i`, accepted and free to start, waits for
// readiness: it never waits for room, so its op request is already out.
void CoreOracle::ExpectStartedAtOnce(size_t i) {
  const OpRecord& op = ops_[i];
  if (op.expected_error != 0 || op.ended || Bounded(op) || op.kind == OpKind::kTimeout) return;
  ORACLE_CHECK(op.requested, "op (%u,%u) %s waits for readiness yet was held back", op.id.index,
               op.id.generation, std::string(OpName(op.kind)).c_str());
}

// Bounded: whether `op` counts against max_in_flight (it completes on its own:
// not one that waits for readiness, not a close, not a timer).
bool CoreOracle::Bounded(const OpRecord& op) const {
  return !op.is_close && op.kind != OpKind::kTimeout && !WaitsForReadiness(op.kind);
}

// SyncQueue: follows the engine's queue through the input just made (requests
// from `first_new_request` on are new) and checks it: ops leave it in order,
// no op skips it while another waits, and it is left empty or with a head that
// does not fit in the free room (else the engine forgot to let it go).
void CoreOracle::SyncQueue(size_t first_new_request) {
  // Ops that ended (cancelled, expired, closed) left the queue.
  for (auto it = queue_.begin(); it != queue_.end();) {
    if (!ops_[*it].ended) {
      ++it;
      continue;
    }
    ops_[*it].in_queue = false;
    it = queue_.erase(it);
  }
  for (size_t i = first_new_request; i < requests_.size(); ++i) {
    const RequestRecord& r = requests_[i];
    if (r.kind != RequestKind::kOp || !Bounded(ops_[r.op])) continue;
    OpRecord& op = ops_[r.op];
    if (op.in_queue) {
      ORACLE_CHECK(queue_.front() == r.op, "op (%u,%u) left the queue ahead of op (%u,%u)",
                   op.id.index, op.id.generation, ops_[queue_.front()].id.index,
                   ops_[queue_.front()].id.generation);
      queue_.pop_front();
      op.in_queue = false;
    } else if (op.retry_waiting) {
      // Resubmitted after -EINTR: ahead of everything that waits.
    } else {
      ORACLE_CHECK(queue_.empty(), "op (%u,%u) sent while op (%u,%u) waits for room", op.id.index,
                   op.id.generation, ops_[queue_.front()].id.index,
                   ops_[queue_.front()].id.generation);
    }
    op.retry_waiting = false;
  }
  auto waits = [this](const OpRecord& op) {
    return Bounded(op) && !op.ended && !op.in_queue && op.expected_error == 0 &&
           op.live_op_request == kNone && op.live_lt_request == kNone;
  };
  for (OpRecord& op : ops_) {
    if (!op.retry_waiting || !waits(op)) continue;
    op.retry_waiting = false;
    op.in_queue = true;
    queue_.push_front(size_t(&op - &ops_[0]));
  }
  for (const size_t i : pending_starts_) {
    if (!waits(ops_[i]) || ops_[i].requested) continue;
    ops_[i].in_queue = true;
    queue_.push_back(i);
  }
  if (queue_.empty()) return;
  const OpRecord& head = ops_[queue_.front()];
  const uint32_t needed = head.deadline_ns == kNoDeadline ? 1 : 2;
  ORACLE_CHECK(bounded_ + needed > engine_.options().max_in_flight,
               "op (%u,%u) waits at the head of the queue though it fits (%u in flight of %u, "
               "it needs %u)",
               head.id.index, head.id.generation, bounded_, engine_.options().max_in_flight,
               needed);
}

void CoreOracle::SyncRequests() {
  const std::span<const Request> pending = engine_.PendingRequests();
  ORACLE_CHECK(pending.size() >= pending_.size(), "pending requests vanished (%zu < %zu)",
               pending.size(), pending_.size());
  for (size_t i = 0; i < pending_.size(); ++i) {
    const RequestRecord& r = requests_[pending_[i]];
    ORACLE_CHECK(pending[i].user_data == r.user_data && pending[i].kind == r.kind,
                 "pending request %zu changed", i);
  }
  for (size_t i = pending_.size(); i < pending.size(); ++i) OnNewRequest(pending[i]);
  if (!pending.empty()) {
    ORACLE_CHECK(!pending.back().link, "a chain split: the last pending request is linked");
  }
}

void CoreOracle::OnNewRequest(const Request& r) {
  const size_t index = requests_.size();
  const UserDataFields d = DecodeUserData(r.user_data);
  const OpId id{d.slot, d.generation};
  auto found = op_by_id_.find(Key(id));
  ORACLE_CHECK(found != op_by_id_.end(), "%s request %#llx for an op never submitted",
               RequestKindName(r.kind), (unsigned long long)r.user_data);
  OpRecord& op = ops_[found->second];
  ORACLE_CHECK(!op.ended, "%s request for op (%u,%u) after its final event",
               RequestKindName(r.kind), id.index, id.generation);
  ORACLE_CHECK(op.expected_error == 0, "%s request for op (%u,%u) refused at submission",
               RequestKindName(r.kind), id.index, id.generation);
  ORACLE_CHECK(live_by_user_data_.count(r.user_data) == 0,
               "two outstanding requests share user_data %#llx", (unsigned long long)r.user_data);
  const RequestRecord* prev = requests_.empty() ? nullptr : &requests_.back();
  const bool linked = prev != nullptr && prev->link;
  if (linked) {
    ORACLE_CHECK(r.kind == RequestKind::kOp || r.kind == RequestKind::kLinkTimeout,
                 "a %s request inside a chain", RequestKindName(r.kind));
  }
  RequestRecord rec;
  rec.user_data = r.user_data;
  rec.target = r.target;
  rec.deadline_ns = r.deadline_ns;
  rec.op = found->second;
  rec.fd = r.fd;
  rec.kind = r.kind;
  rec.link = r.link;
  switch (r.kind) {
    case RequestKind::kOp:
      ORACLE_CHECK(d.kind == 0, "op request with user_data kind %u", d.kind);
      ORACLE_CHECK(r.op != nullptr && KindOf(*r.op) == op.kind && r.fd == op.fd,
                   "op request does not carry op (%u,%u)'s op and fd", id.index, id.generation);
      ORACLE_CHECK(op.kind != OpKind::kTimeout, "a Timeout reached the kernel");
      ORACLE_CHECK(op.live_op_request == kNone, "two op requests out for op (%u,%u)", id.index,
                   id.generation);
      if (op.deadline_ns != kNoDeadline) {
        ORACLE_CHECK(r.link, "op (%u,%u) with a deadline not linked to its timeout", id.index,
                     id.generation);
      } else {
        // The engine plays chains: the kernel never sees two linked ops.
        ORACLE_CHECK(!r.link, "op (%u,%u) without a deadline linked to the next request", id.index,
                     id.generation);
      }
      if (!op.requested && op.chain_prev != kNone) {
        // A link starts only once the link before it ended well, uncancelled.
        const OpRecord& prev = ops_[op.chain_prev];
        ORACLE_CHECK(prev.ended && !BreaksChain(prev) && !prev.cancel_asked && !shutting_down_,
                     "link (%u,%u) sent while the link before it (%u,%u) is %s", id.index,
                     id.generation, prev.id.index, prev.id.generation,
                     !prev.ended         ? "live"
                     : BreaksChain(prev) ? "broken"
                                         : "cancelled, or the engine drains");
      }
      if (op.is_close) {
        OnCloseRequest(op);
      } else if (op.fd >= 0) {
        ORACLE_CHECK(closing_.count(op.fd) == 0, "op (%u,%u) sent on fd %d while it is closing",
                     id.index, id.generation, op.fd);
      }
      if (!op.requested && !op.is_close && !op.chain_member && Bounded(op)) {
        // Backpressure keeps FIFO order: ops reach the kernel the first time in
        // submission order (closes wait for their fd; -EINTR retries go first;
        // a later chain link starts when the link before it ends; an op that
        // waits for readiness never waits for room).
        ORACLE_CHECK(last_first_send_ == kNone || found->second > last_first_send_,
                     "op (%u,%u) (#%zu) sent after op #%zu, submitted later", id.index,
                     id.generation, found->second, last_first_send_);
        last_first_send_ = found->second;
      }
      if (linked) rec.chain_prev = prev->kind == RequestKind::kOp ? index - 1 : prev->chain_prev;
      op.live_op_request = index;
      op.requested = true;
      if (!op.is_close) ++in_flight_;
      if (Bounded(op)) ++bounded_;  // a CLOSE skips the bound, and so does readiness
      UpdateQueued(found->second);
      break;
    case RequestKind::kLinkTimeout:
      ORACLE_CHECK(d.kind == 1, "link timeout with user_data kind %u", d.kind);
      ORACLE_CHECK(prev != nullptr && prev->kind == RequestKind::kOp && prev->op == found->second &&
                       prev->link,
                   "link timeout of op (%u,%u) not right after its linked op", id.index,
                   id.generation);
      ORACLE_CHECK(op.deadline_ns != kNoDeadline && r.deadline_ns == op.deadline_ns,
                   "link timeout deadline %llu, op deadline %llu",
                   (unsigned long long)r.deadline_ns, (unsigned long long)op.deadline_ns);
      ORACLE_CHECK(r.fd == -1, "link timeout names fd %d", r.fd);
      rec.chain_prev = index - 1;
      op.live_lt_request = index;
      ++in_flight_;
      if (Bounded(op)) ++bounded_;
      UpdateQueued(found->second);
      break;
    case RequestKind::kCancel: {
      ORACLE_CHECK(d.kind == 2, "cancel with user_data kind %u", d.kind);
      ORACLE_CHECK(!op.is_close, "a close was cancelled");
      ORACLE_CHECK(!r.link, "a linked cancel");
      auto target = live_by_user_data_.find(r.target);
      ORACLE_CHECK(target != live_by_user_data_.end() &&
                       requests_[target->second].kind == RequestKind::kOp &&
                       requests_[target->second].op == found->second,
                   "cancel of op (%u,%u) targets %#llx, not its outstanding op request", id.index,
                   id.generation, (unsigned long long)r.target);
      ++cancels_;
      break;
    }
    case RequestKind::kShutdown:
      ORACLE_CHECK(d.kind == 3, "shutdown with user_data kind %u", d.kind);
      ORACLE_CHECK(!r.link, "a linked shutdown");
      ORACLE_CHECK(r.fd == op.fd, "shutdown(%d) for an op on another fd", r.fd);
      ORACLE_CHECK(op.live_op_request != kNone, "shutdown for an op not in flight");
      // Only a close (before its CLOSE) or the drain shuts an fd down.
      ORACLE_CHECK(
          op.fd >= 0 && (closing_.count(op.fd) != 0 || shutting_down_) && !close_issued_[op.fd],
          "shutdown(%d) outside a close or the drain, or after its CLOSE", op.fd);
      ++shutdowns_;
      break;
  }
  if (op.fd >= 0 && !op.is_close) ++requests_on_fd_[op.fd];
  requests_.push_back(rec);
  live_by_user_data_[r.user_data] = index;
  pending_.push_back(index);
}

// OnCloseRequest: the CLOSE goes to the kernel only once nothing of the fd is
// outstanding (engine.h, "Close waits").
void CoreOracle::OnCloseRequest(OpRecord& close) {
  const int fd = close.fd;
  auto closing = closing_.find(fd);
  ORACLE_CHECK(closing != closing_.end() && ops_[closing->second].id == close.id,
               "CLOSE(%d) sent by a close that is not the fd's", fd);
  ORACLE_CHECK(requests_on_fd_[fd] == 0, "CLOSE(%d) sent with %u requests on it outstanding", fd,
               requests_on_fd_[fd]);
  for (const OpRecord& op : ops_) {
    if (op.fd == fd && !op.is_close) {
      ORACLE_CHECK(op.ended, "CLOSE(%d) sent while op (%u,%u) on it is live", fd, op.id.index,
                   op.id.generation);
    }
  }
  close_issued_[fd] = true;
  ++closes_;
}

void CoreOracle::SyncEvents() {
  // Alternately one at a time and in batches of two (PollEvents).
  if (++sync_calls_ % 2 == 0) {
    while (std::optional<Event> e = engine_.PollEvent()) OnEvent(*e);
    return;
  }
  Event batch[2];
  while (const size_t n = engine_.PollEvents(batch)) {
    for (size_t i = 0; i < n; ++i) OnEvent(batch[i]);
  }
}

void CoreOracle::OnEvent(const Event& e) {
  OpRecord* found = Find(e.id);
  ORACLE_CHECK(found != nullptr,
               "event (tag %llu, res %d) for op (%u,%u) never handed out (last OpId handed "
               "out: (%u,%u))",
               (unsigned long long)e.tag, e.res, e.id.index, e.id.generation,
               ops_.empty() ? 0 : ops_.back().id.index,
               ops_.empty() ? 0 : ops_.back().id.generation);
  OpRecord& op = *found;
  ORACLE_CHECK(!op.ended, "event (res %d, more %d) for op (%u,%u) after its final event (res %d)",
               e.res, e.more, e.id.index, e.id.generation, op.final_res);
  ORACLE_CHECK(e.tag == op.tag && e.kind == op.kind && e.fd == op.fd,
               "event of op (%u,%u) has tag %llu kind %d fd %d, expected %llu %d %d", e.id.index,
               e.id.generation, (unsigned long long)e.tag, int(e.kind), e.fd,
               (unsigned long long)op.tag, int(op.kind), op.fd);
  if (e.more) {
    ORACLE_CHECK(op.multishot, "intermediate event for one-shot op (%u,%u)", e.id.index,
                 e.id.generation);
    ++more_events_;
    return;
  }
  ++final_events_;
  op.ended = true;
  op.final_res = e.res;
  const size_t op_index = size_t(&op - &ops_[0]);
  UpdateQueued(op_index);
  if (!op.requested && op.expected_error == 0) ended_in_queue_.push_back(op_index);
  if (op.requested && !op.is_close) ended_sent_.push_back(op_index);
  if (trace_) {
    std::fprintf(stderr, "  event (%u,%u) %s res=%d\n", e.id.index, e.id.generation,
                 std::string(OpName(op.kind)).c_str(), e.res);
  }
  if (op.expected_error != 0) {
    ORACLE_CHECK(e.res == op.expected_error, "refused op (%u,%u) ended %d, expected %d", e.id.index,
                 e.id.generation, e.res, op.expected_error);
  }
  ORACLE_CHECK(e.res != -EINTR, "op (%u,%u) surfaced -EINTR", e.id.index, e.id.generation);
  ORACLE_CHECK(op.is_close || e.flags == op.final_flags,
               "op (%u,%u) ended with flags %#x, not %#x, those of its completion taken as final "
               "(a provided buffer lost or reported twice)",
               e.id.index, e.id.generation, e.flags, op.final_flags);
  // Expired in the queue: it waited for room (first in its chain, or resubmitted
  // after -EINTR) past its deadline, and this is the AdvanceTime that passed it.
  const bool expired_in_queue = firing_ && e.res == -kTimedOut && op.kind != OpKind::kTimeout &&
                                op.deadline_ns != kNoDeadline && op.deadline_ns <= engine_.Now();
  if (op.requested && !op.is_close && op.last_op_res == -EINTR) {
    // -EINTR is retried unless the op was cancelled or its deadline passed.
    ORACLE_CHECK(op.cancel_asked || op.saw_etime || expired_in_queue,
                 "op (%u,%u) ended after -EINTR instead of being submitted again", e.id.index,
                 e.id.generation);
  }
  ORACLE_CHECK(op.live_op_request == kNone && op.live_lt_request == kNone,
               "op (%u,%u) ended while the kernel still holds it", e.id.index, e.id.generation);
  if (e.res == -kTimedOut) {
    ORACLE_CHECK(op.saw_etime || expired_in_queue,
                 "op (%u,%u) reported timed out, but no completion said -ETIME", e.id.index,
                 e.id.generation);
  }
  if (op.kind == OpKind::kTimeout && op.expected_error == 0) {
    timers_.erase({op.deadline_ns, op.timer_seq});
    ORACLE_CHECK(e.res == 0 || e.res == -ECANCELED, "timer ended %d", e.res);
    if (e.res == 0) {
      const std::pair<uint64_t, uint64_t> key{op.deadline_ns, op.timer_seq};
      ORACLE_CHECK(firing_ && op.deadline_ns <= engine_.Now(),
                   "timer due %llu fired at %llu outside AdvanceTime, or early",
                   (unsigned long long)op.deadline_ns, (unsigned long long)engine_.Now());
      ORACLE_CHECK(key >= last_fired_, "timers fired out of (deadline, submission) order");
      last_fired_ = key;
      ++timers_fired_;
    }
  }
}

void CoreOracle::CheckGetters() {
  const EngineStats& stats = engine_.stats();
  ORACLE_CHECK(stats.submitted == ops_.size(), "stats.submitted %llu, ops handed out %zu",
               (unsigned long long)stats.submitted, ops_.size());
  ORACLE_CHECK(stats.final_events == final_events_ && stats.more_events == more_events_,
               "stats count %llu/%llu events, seen %llu/%llu",
               (unsigned long long)stats.final_events, (unsigned long long)stats.more_events,
               (unsigned long long)final_events_, (unsigned long long)more_events_);
  ORACLE_CHECK(stats.completions == accepted_ && stats.rejected_completions == rejected_,
               "stats count %llu accepted / %llu rejected completions, seen %llu / %llu",
               (unsigned long long)stats.completions,
               (unsigned long long)stats.rejected_completions, (unsigned long long)accepted_,
               (unsigned long long)rejected_);
  ORACLE_CHECK(stats.requests == requests_.size(), "stats.requests %llu, seen %zu",
               (unsigned long long)stats.requests, requests_.size());
  ORACLE_CHECK(stats.cancels_sent == cancels_ && stats.shutdowns_sent == shutdowns_ &&
                   stats.timers_fired == timers_fired_,
               "stats cancels/shutdowns/timers %llu/%llu/%llu, seen %llu/%llu/%llu",
               (unsigned long long)stats.cancels_sent, (unsigned long long)stats.shutdowns_sent,
               (unsigned long long)stats.timers_fired, (unsigned long long)cancels_,
               (unsigned long long)shutdowns_, (unsigned long long)timers_fired_);
  ORACLE_CHECK(stats.closes_sent == closes_, "stats.closes_sent %llu, CLOSE requests %llu",
               (unsigned long long)stats.closes_sent, (unsigned long long)closes_);
  ORACLE_CHECK(engine_.InFlight() == in_flight_, "InFlight() %u, outstanding op requests %u",
               engine_.InFlight(), in_flight_);
  ORACLE_CHECK(engine_.BoundedInFlight() == bounded_,
               "BoundedInFlight() %u, outstanding requests of ops that complete on their own %u",
               engine_.BoundedInFlight(), bounded_);
  ORACLE_CHECK(bounded_ <= engine_.options().max_in_flight, "%u in flight, limit %u", bounded_,
               engine_.options().max_in_flight);
  const std::optional<uint64_t> next = engine_.NextDeadline();
  std::optional<uint64_t> want;
  if (!timers_.empty()) want = timers_.begin()->first.first;
  if (!queued_deadlines_.empty()) {
    want = std::min(want.value_or(kNoDeadline), queued_deadlines_.begin()->first);
  }
  ORACLE_CHECK(next == want, "NextDeadline is %lld, the earliest timer or queued deadline %lld",
               next.has_value() ? (long long)*next : -1LL,
               want.has_value() ? (long long)*want : -1LL);
  for (int fd = -1; fd < kCheckedFdsMax; ++fd) {
    ORACLE_CHECK(engine_.IsClosing(fd) == (closing_.count(fd) != 0), "IsClosing(%d) is %d", fd,
                 engine_.IsClosing(fd));
  }
}

// --- Helpers ---------------------------------------------------------------------------

void CoreOracle::MarkDone(size_t index, int32_t res) {
  RequestRecord& r = requests_[index];
  ORACLE_CHECK(!r.done, "request %zu completed twice", index);
  r.done = true;
  r.res = res;
  live_by_user_data_.erase(r.user_data);
  if (r.consumed) {
    for (size_t i = 0; i < in_kernel_.size(); ++i) {
      if (in_kernel_[i] == index) {
        in_kernel_.erase(in_kernel_.begin() + long(i));
        break;
      }
    }
  }
  history_.push_back(r.user_data);
  if (history_.size() > kHistoryMax) history_.erase(history_.begin());
  OpRecord& op = ops_[r.op];
  if (op.fd >= 0 && !op.is_close) --requests_on_fd_[op.fd];
  if (r.kind == RequestKind::kOp) {
    op.live_op_request = kNone;
    op.last_op_res = res;
    if (res == -EINTR && !op.is_close) op.retry_waiting = true;
    if (!op.is_close) --in_flight_;
    if (Bounded(op)) --bounded_;
    if (op.is_close) {
      closing_.erase(op.fd);  // from here on the fd number may be reused
      close_issued_.erase(op.fd);
    }
  } else if (r.kind == RequestKind::kLinkTimeout) {
    op.live_lt_request = kNone;
    --in_flight_;
    if (Bounded(op)) --bounded_;
  }
  UpdateQueued(r.op);
}

// UpdateQueued: keeps queued_deadlines_ in step with op `i`'s state.
void CoreOracle::UpdateQueued(size_t i) {
  OpRecord& op = ops_[i];
  const bool queued = op.expected_error == 0 && !op.ended && !op.is_close &&
                      op.kind != OpKind::kTimeout && op.deadline_ns != kNoDeadline &&
                      op.live_op_request == kNone && op.live_lt_request == kNone;
  if (queued == op.deadline_queued) return;
  op.deadline_queued = queued;
  if (queued) {
    queued_deadlines_.insert({op.deadline_ns, i});
  } else {
    queued_deadlines_.erase({op.deadline_ns, i});
  }
}

size_t CoreOracle::InKernelPosition(size_t index) const {
  for (size_t i = 0; i < in_kernel_.size(); ++i) {
    if (in_kernel_[i] == index) return i;
  }
  ORACLE_CHECK(false, "request %zu is not in the kernel", index);
}

size_t CoreOracle::LinkTimeoutOf(size_t op_request) const {
  const size_t next = op_request + 1;
  if (next >= requests_.size()) return kNone;
  const RequestRecord& r = requests_[next];
  if (r.kind != RequestKind::kLinkTimeout || r.op != requests_[op_request].op) return kNone;
  return r.done ? kNone : next;
}

size_t CoreOracle::LiveCancelFor(uint64_t target, bool consumed_only) const {
  for (const auto& [user_data, index] : live_by_user_data_) {
    const RequestRecord& r = requests_[index];
    if (r.kind == RequestKind::kCancel && r.target == target && (r.consumed || !consumed_only)) {
      return index;
    }
  }
  return kNone;
}

// Broke: whether op request `r`'s result breaks its chain (IOSQE_IO_LINK): an
// error, or a short read or write.
bool CoreOracle::Broke(const RequestRecord& r) const {
  if (r.res < 0) return true;
  switch (ops_[r.op].kind) {
    case OpKind::kRead:
    case OpKind::kWrite:
    case OpKind::kRecv:
    case OpKind::kSend:
      return r.res < ops_[r.op].fair_res;
    default:
      return false;
  }
}

// FairResult: what a correct kernel posts for op request `r`: -ECANCELED when a
// cancel reached it or the op before it in its chain failed, else success.
int32_t CoreOracle::FairResult(const RequestRecord& r) const {
  const OpRecord& op = ops_[r.op];
  if (op.is_close) return 0;
  if (LiveCancelFor(r.user_data, /*consumed_only=*/true) != kNone) return -ECANCELED;
  if (r.chain_prev != kNone && Broke(requests_[r.chain_prev])) return -ECANCELED;
  if (op.multishot) return op.kind == OpKind::kRecv ? 0 : -ECANCELED;  // EOF ends a recv
  return op.fair_res;
}

}  // namespace ringloop::fuzz
