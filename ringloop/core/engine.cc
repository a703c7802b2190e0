// ringloop/core/engine.cc: the engine's state and its transitions.
//
// State lives in op slots (a chunked slab: slots never move, so a Request may
// point at its op) addressed by index + generation. Each slot is in one state:
//
//   kFree ──Submit──> kQueued ──Pump──> kInFlight ──final CQEs──> kEnded ──> kFree
//                        │                                          ^
//                        └───── cancelled before reaching the kernel┘
//   kFree ──SubmitChain──> kWaitLink ──link before it ended well──> kQueued ...
//                              └── cancelled, closed, expired, or the chain broke ──> kEnded
//   kFree ──Submit(Timeout)──> kTimer ──AdvanceTime/Cancel──> kEnded
//   kFree ──Close──> kWaitFd ──fd drained──> kQueued ──> kInFlight ──> kEnded
//
// kEnded means "the user has had the final event"; the slot is released only
// when no completion the engine waits for is outstanding (op, linked timeout,
// cancel, shutdown) and it has left the submission queue. A slot stays on its
// fd's list until it is released, so a CLOSE never overtakes anything that
// still names the fd.
//
// Chains are played here, not in the kernel: a chain's links are slots joined
// by chain_prev/chain_next, and only the first link that has not ended is ever
// queued or in flight. A link in kWaitLink has never been handed to the driver,
// so ending it (cancel, close, deadline) is exact: nothing of it can still
// happen in the kernel.
#include "ringloop/core/engine.h"

#include <algorithm>
#include <cerrno>
#include <utility>

#include "absl/container/node_hash_map.h"
#include "ringloop/core/check.h"
#include "ringloop/core/fifo.h"
#include "ringloop/core/internal/hot.h"
#include "ringloop/core/internal/indexed_heap.h"

namespace ringloop {
namespace {

constexpr uint32_t kNone = ~0u;

// The user_data of a slot's requests: PackUserData (request.h), whose slot
// field is the slot's index here.
constexpr uint64_t Pack(uint32_t index, uint32_t generation, bool attempt, RequestKind kind) {
  return PackUserData(index, generation, attempt, kind);
}

enum class SlotState : uint8_t {
  kFree,
  kQueued,    // may start: waits in the submission queue for room
  kWaitLink,  // a chain link that has not started: waits for the link before it
  kInFlight,
  kTimer,
  kWaitFd,  // a Close waiting for its fd to drain
  kEnded,
};

// SlotBit: a slot's flags, one bit each of Slot::bits.
enum SlotBit : uint16_t {
  kMultishot = 1 << 0,        // IsMultishot(op)
  kInQueue = 1 << 2,          // in the submission queue
  kOnFdList = 1 << 3,         // on its fd's list of live slots
  kAttempt = 1 << 4,          // flips on every resubmission after -EINTR
  kOpPending = 1 << 5,        // op request out, final completion not in
  kLtPending = 1 << 6,        // linked timeout out, completion not in
  kCancelPending = 1 << 7,    // cancel request out, completion not in
  kShutdownPending = 1 << 8,  // shutdown request out, completion not in
  kCancelRequested = 1 << 9,  // the user (or a close, or the drain) cancelled it
  kRetry = 1 << 10,           // -EINTR seen: resubmit once every completion is in
  kStraight = 1 << 11,        // submitted alone, no deadline, one shot, not a close
                              // or timer: fixed at submit (CompletePlain's test)
  kBounded = 1 << 12,         // counted against max_in_flight: it completes on its
                              // own (not WaitsForReadiness, not a close or a timer)
};

struct Slot {
  Op op;
  uint64_t tag = 0;
  uint64_t deadline_ns = kNoDeadline;  // op deadline, or a Timeout's fire time
  uint64_t timer_seq = 0;              // FIFO order among equal timer deadlines
  uint64_t op_ud = 0;                  // the op request's user_data, while kOpPending
  uint32_t generation = 0;
  uint32_t q_next = kNone;   // submission queue, or free list
  uint32_t fd_prev = kNone;  // list of live slots on the same fd
  uint32_t fd_next = kNone;
  uint32_t heap_pos = kNone;   // position in the timer heap
  int32_t op_res = 0;          // the op's final completion result
  int32_t lt_res = 0;          // the linked timeout's completion result
  uint32_t op_flags = 0;       // the op's final completion flags (buffer id)
  int fd = -1;                 // FdOf(op) (a Close slot is never on the fd's list)
  OpKind kind = OpKind::kNop;  // KindOf(op)
  SlotState state = SlotState::kFree;
  uint16_t bits = 0;            // SlotBit flags
  uint32_t chain_prev = kNone;  // kWaitLink: the link this one waits for
  uint32_t chain_next = kNone;  // the link waiting for this one (in kWaitLink), if any

  bool Has(uint16_t bit) const { return (bits & bit) != 0; }
  void Set(uint16_t bit, bool on) { bits = on ? uint16_t(bits | bit) : uint16_t(bits & ~bit); }
};
static_assert(sizeof(Slot) <= 128, "an op slot must stay within two cache lines");

struct FdEntry {
  uint32_t head = kNone;        // first live slot on this fd
  uint32_t count = 0;           // live slots on this fd
  uint32_t close_slot = kNone;  // the Close waiting for this fd, if closing
};

// Bounded: whether ops of `kind` count against max_in_flight (and wait for
// room): those that complete on their own (WaitsForReadiness in ops.h says
// why the others never do). A close skips the bound; a timer never reaches
// the kernel.
constexpr bool Bounded(OpKind kind) {
  return !WaitsForReadiness(kind) && kind != OpKind::kClose && kind != OpKind::kTimeout;
}

constexpr int kDenseFds = 1 << 16;

constexpr uint32_t kChunkShift = 8;
constexpr uint32_t kChunkSize = 1u << kChunkShift;

}  // namespace

// State: everything but the outputs, which it inherits (Engine::Outputs).
struct Engine::State : Outputs {
  Options options;
  EngineStats stats;
  std::vector<std::unique_ptr<Slot[]>> chunks;
  uint32_t slot_count = 0;
  uint32_t free_head = kNone;
  size_t live = 0;
  uint32_t q_head = kNone;
  uint32_t q_tail = kNone;
  uint32_t in_flight = 0;  // op and linked-timeout requests out (InFlight)
  uint32_t bounded = 0;    // those of them counted against max_in_flight
  // The fd table: dense for the fd numbers services use, sparse above (an fd
  // may be as large as fs.nr_open allows; a dense table would be gigabytes).
  std::vector<FdEntry> fds;
  uint32_t dense_fds = 0;                     // fds.size(), kept to save a division per lookup
  absl::node_hash_map<int, FdEntry> far_fds;  // fd >= kDenseFds; nodes never move
  // The timer heap: slots ordered by (deadline, timer_seq); each slot keeps its
  // position (heap_pos).
  struct TimerLess {
    const State* s;
    bool operator()(uint32_t a, uint32_t b) const;
  };
  struct TimerMoved {
    State* s;
    void operator()(uint32_t index, size_t pos) const { s->At(index).heap_pos = uint32_t(pos); }
  };
  internal::IndexedHeap<uint32_t, TimerLess, TimerMoved> heap{TimerLess{this}, TimerMoved{this}};
  uint64_t timer_seq = 0;
  uint64_t now_ns = 0;
  bool shutting_down = false;
  // plain_submit_off: shutting_down or !options.straight_paths: SubmitPlain's
  // one test of both.
  bool plain_submit_off = false;
  std::vector<OpId> fd_scratch;  // CancelFd's list, kept for its capacity

  Slot& At(uint32_t index) { return chunks[index >> kChunkShift][index & (kChunkSize - 1)]; }
  const Slot& At(uint32_t index) const {
    return chunks[index >> kChunkShift][index & (kChunkSize - 1)];
  }
  OpId IdOf(uint32_t index) const { return OpId{index, At(index).generation}; }
  // FindFd: the entry of `fd`, or null if it has none.
  RL_HOT FdEntry* FindFd(int fd) {
    if (fd < 0) return nullptr;
    if (fd < kDenseFds) return uint32_t(fd) < dense_fds ? &fds[fd] : nullptr;
    auto it = far_fds.find(fd);
    return it == far_fds.end() ? nullptr : &it->second;
  }
  const FdEntry* FindFd(int fd) const { return const_cast<State*>(this)->FindFd(fd); }
  // FdAt: the entry of `fd` (>= 0), made if missing. The reference stays valid
  // until DropFdIfIdle(fd) or the next FdAt of a dense fd above the table's size.
  RL_HOT FdEntry& FdAt(int fd) {
    RL_CHECK(fd >= 0);
    if (fd >= kDenseFds) return far_fds[fd];
    if (uint32_t(fd) >= dense_fds) {
      fds.resize(size_t(fd) + 1);
      dense_fds = uint32_t(fds.size());
    }
    return fds[fd];
  }
  // DropFdIfIdle: forgets a sparse entry with nothing on it.
  void DropFdIfIdle(int fd) {
    if (fd < kDenseFds) return;
    auto it = far_fds.find(fd);
    if (it != far_fds.end() && it->second.count == 0 && it->second.close_slot == kNone) {
      far_fds.erase(it);
    }
  }

  void Grow();
  RL_HOT uint32_t Allocate(const Op& op, uint64_t tag, const OpFacts& facts);
  RL_HOT void Release(uint32_t index);
  RL_HOT void MaybeRelease(uint32_t index);
  RL_HOT void LinkFd(uint32_t index);
  RL_HOT void UnlinkFd(uint32_t index);
  RL_HOT void FdDrained(int fd);
  void ContinueChain(uint32_t index, int32_t res);
  void EndUnstarted(uint32_t index, int32_t res);

  void Start(uint32_t index);
  void Enqueue(uint32_t index, bool front);
  void Pump();
  RL_HOT void Emit(uint32_t index);
  void PushControl(RequestKind kind, uint64_t user_data, uint64_t target, int fd);

  RL_HOT void Deliver(uint32_t index, int32_t res, uint32_t flags, bool more);
  void EndNow(uint32_t index, int32_t res);
  void CancelSlot(uint32_t index);
  void CancelFd(int fd);
  RL_HOT void TryFinish(uint32_t index);
  int32_t FinalResult(const Slot& s) const;

  RL_HOT bool OnOpCompletion(uint32_t index, int32_t res, uint32_t flags);
  void OnCancelCompletion(uint32_t index, int32_t res);

  RL_HOT int Admit(const SubmitArgs& args, const OpFacts& facts, size_t chain_length);
  OpId Reject(const SubmitArgs& args, const OpFacts& facts, int error);
  RL_HOT OpId Place(const SubmitArgs& args, const OpFacts& facts, bool link_follows,
                    uint32_t chain_prev = kNone);
  RL_HOT bool SubmitPlain(const SubmitArgs& args, OpId* id);
  RL_HOT bool CompletePlain(uint64_t user_data, int32_t res, uint32_t flags);

  void HeapPush(uint32_t index);
  void HeapRemove(uint32_t index);
};

// --- Slots -------------------------------------------------------------------

void Engine::State::Grow() {
  auto chunk = std::make_unique<Slot[]>(kChunkSize);
  const uint32_t base = slot_count;
  for (uint32_t i = kChunkSize; i-- > 0;) {
    chunk[i].q_next = free_head;
    free_head = base + i;
  }
  chunks.push_back(std::move(chunk));
  slot_count += kChunkSize;
}

uint32_t Engine::State::Allocate(const Op& op, uint64_t tag, const OpFacts& facts) {
  if (free_head == kNone) Grow();
  const uint32_t index = free_head;
  Slot& s = At(index);
  RL_CHECK(s.state == SlotState::kFree);
  free_head = s.q_next;
  // Field by field rather than `s = Slot{}`: this is the hot path of Submit.
  s.op = op;
  s.tag = tag;
  s.deadline_ns = kNoDeadline;
  s.q_next = kNone;
  s.fd_prev = kNone;
  s.fd_next = kNone;
  s.heap_pos = kNone;
  s.op_res = 0;
  s.lt_res = 0;
  s.op_flags = 0;
  s.fd = facts.fd;
  s.kind = facts.kind;
  s.bits = uint16_t((facts.multishot ? kMultishot : 0) | (Bounded(facts.kind) ? kBounded : 0));
  s.chain_prev = kNone;
  s.chain_next = kNone;
  ++live;
  ++stats.submitted;
  return index;
}

void Engine::State::Release(uint32_t index) {
  Slot& s = At(index);
  RL_CHECK(s.state == SlotState::kEnded);
  RL_CHECK(!s.Has(kInQueue) && !s.Has(kOpPending) && !s.Has(kLtPending));
  RL_CHECK(!s.Has(kCancelPending) && !s.Has(kShutdownPending));
  RL_CHECK(s.chain_prev == kNone && s.chain_next == kNone);  // a chain never names a free slot
  RL_CHECK(s.heap_pos == kNone);                             // nor does the timer heap
  const int fd = s.Has(kOnFdList) ? s.fd : -1;
  if (s.Has(kOnFdList)) UnlinkFd(index);
  // SubmitPlain relies on a free slot having no deadline or timeout result.
  s.deadline_ns = kNoDeadline;
  s.lt_res = 0;
  s.state = SlotState::kFree;
  s.generation = (s.generation + 1) & kGenerationMask;
  s.q_next = free_head;
  free_head = index;
  --live;
  if (fd >= 0) FdDrained(fd);
}

void Engine::State::MaybeRelease(uint32_t index) {
  const Slot& s = At(index);
  if (s.state != SlotState::kEnded || s.Has(kInQueue)) return;
  if (s.Has(kOpPending) || s.Has(kLtPending) || s.Has(kCancelPending) || s.Has(kShutdownPending))
    return;
  Release(index);
}

void Engine::State::LinkFd(uint32_t index) {
  Slot& s = At(index);
  RL_CHECK(s.fd >= 0 && !s.Has(kOnFdList));
  FdEntry& e = FdAt(s.fd);
  s.fd_prev = kNone;
  s.fd_next = e.head;
  if (e.head != kNone) At(e.head).fd_prev = index;
  e.head = index;
  ++e.count;
  s.Set(kOnFdList, true);
}

void Engine::State::UnlinkFd(uint32_t index) {
  Slot& s = At(index);
  FdEntry& e = FdAt(s.fd);
  RL_CHECK(s.Has(kOnFdList) && e.count > 0);
  if (s.fd_prev != kNone) {
    At(s.fd_prev).fd_next = s.fd_next;
  } else {
    e.head = s.fd_next;
  }
  if (s.fd_next != kNone) At(s.fd_next).fd_prev = s.fd_prev;
  --e.count;
  s.Set(kOnFdList, false);
}

// FdDrained: a slot on `fd` was released; once none is left, a waiting Close
// may go to the kernel.
void Engine::State::FdDrained(int fd) {
  FdEntry& e = FdAt(fd);
  if (e.count != 0) return;
  if (e.close_slot == kNone) {
    DropFdIfIdle(fd);
    return;
  }
  Slot& c = At(e.close_slot);
  if (c.state != SlotState::kWaitFd) return;
  // The CLOSE skips the queue and the in-flight bound, like cancels: it never
  // blocks in the kernel, and ops held back in the queue may be waiting for
  // exactly the room (or the EOF) that this close frees.
  c.state = SlotState::kQueued;
  Emit(e.close_slot);
}

// ContinueChain: link `index` has had its final event, with `res`. The link
// after it starts now if `res` does not break the chain (BreaksChain), the
// link was not cancelled and the engine is not draining; otherwise it and
// every later link end -ECANCELED, in order, without reaching the kernel.
void Engine::State::ContinueChain(uint32_t index, int32_t res) {
  Slot& s = At(index);
  RL_CHECK(s.state == SlotState::kEnded && s.chain_prev == kNone);
  const uint32_t next = s.chain_next;
  if (next == kNone) return;
  Slot& n = At(next);
  RL_CHECK(n.state == SlotState::kWaitLink && n.chain_prev == index);
  s.chain_next = kNone;
  n.chain_prev = kNone;
  if (BreaksChain(s.op, res) || s.Has(kCancelRequested) || shutting_down) {
    EndUnstarted(next, -ECANCELED);
    return;
  }
  n.state = SlotState::kQueued;
  Start(next);
}

// EndUnstarted: op `index`, which has not reached the kernel (queued, a link
// not started yet, or waiting to be resubmitted), ends now with `res`, and
// every link after it with -ECANCELED, in order. The link before it, if any,
// is unaffected: it no longer has a successor. Queued slots stay in the queue,
// ended, until Pump drops them.
void Engine::State::EndUnstarted(uint32_t index, int32_t res) {
  Slot& first = At(index);
  RL_CHECK(first.state == SlotState::kQueued || first.state == SlotState::kWaitLink);
  RL_CHECK(first.kind != OpKind::kClose);
  if (first.chain_prev != kNone) {
    RL_CHECK(At(first.chain_prev).chain_next == index);
    At(first.chain_prev).chain_next = kNone;
    first.chain_prev = kNone;
  }
  for (uint32_t i = index; i != kNone; res = -ECANCELED) {
    Slot& m = At(i);
    RL_CHECK(!m.Has(kOpPending) && !m.Has(kLtPending));
    const uint32_t next = m.chain_next;
    m.chain_next = kNone;
    if (next != kNone) {
      RL_CHECK(At(next).state == SlotState::kWaitLink && At(next).chain_prev == i);
      At(next).chain_prev = kNone;
    }
    if (m.heap_pos != kNone) HeapRemove(i);
    EndNow(i, res);
    i = next;
  }
}

// --- Submission queue and requests ---------------------------------------------

void Engine::State::Enqueue(uint32_t index, bool front) {
  Slot& s = At(index);
  RL_CHECK(!s.Has(kInQueue));
  s.Set(kInQueue, true);
  // While it waits for room, the engine keeps the op's deadline itself.
  if (s.deadline_ns != kNoDeadline && s.heap_pos == kNone) HeapPush(index);
  if (front) {
    s.q_next = q_head;
    q_head = index;
    if (q_tail == kNone) q_tail = index;
    return;
  }
  s.q_next = kNone;
  if (q_tail == kNone) {
    q_head = index;
  } else {
    At(q_tail).q_next = index;
  }
  q_tail = index;
}

// Start: op `index` (kQueued) may start now. An op that waits for readiness is
// emitted at once; one that completes on its own too if nothing waits ahead of
// it and there is room, else it waits at the back of the queue.
void Engine::State::Start(uint32_t index) {
  const Slot& s = At(index);
  RL_CHECK(s.state == SlotState::kQueued && s.chain_prev == kNone);
  const uint32_t needed = s.deadline_ns == kNoDeadline ? 1 : 2;
  if (!s.Has(kBounded) || (q_head == kNone && bounded + needed <= options.max_in_flight)) {
    Emit(index);
    return;
  }
  Enqueue(index, /*front=*/false);
}

// Pump: moves ops from the queue to the ready requests while there is room in
// flight, in FIFO order. Slots that ended while queued leave the queue here.
// Afterwards the queue is empty or its head does not fit (the invariant every
// input restores before it returns).
void Engine::State::Pump() {
  while (q_head != kNone) {
    const uint32_t index = q_head;
    Slot& s = At(index);
    if (s.state == SlotState::kQueued) {
      RL_CHECK(s.Has(kBounded));  // the others never wait for room
      const uint32_t needed = s.deadline_ns == kNoDeadline ? 1 : 2;
      if (bounded + needed > options.max_in_flight) return;
    }
    q_head = s.q_next;
    if (q_head == kNone) q_tail = kNone;
    s.Set(kInQueue, false);
    if (s.state != SlotState::kQueued) {
      MaybeRelease(index);
      continue;
    }
    Emit(index);
  }
}

void Engine::State::Emit(uint32_t index) {
  Slot& s = At(index);
  RL_CHECK(s.state == SlotState::kQueued && !s.Has(kOpPending) && !s.Has(kInQueue));
  RL_CHECK(s.chain_prev == kNone);  // a link starts only once the link before it ended
  const bool has_deadline = s.deadline_ns != kNoDeadline;
  if (s.heap_pos != kNone) HeapRemove(index);  // the kernel keeps it from here
  s.state = SlotState::kInFlight;
  s.Set(kOpPending, true);
  Request op_request;
  op_request.user_data = Pack(index, s.generation, s.Has(kAttempt), RequestKind::kOp);
  s.op_ud = op_request.user_data;
  op_request.kind = RequestKind::kOp;
  op_request.link = has_deadline;  // an op and its linked timeout: the only kernel link
  op_request.op = &s.op;
  op_request.fd = s.fd;
  ready.Append(op_request);
  if (s.kind != OpKind::kClose) ++in_flight;
  if (s.Has(kBounded)) ++bounded;
  if (has_deadline) {
    s.Set(kLtPending, true);
    s.lt_res = 0;
    Request lt;
    lt.user_data = Pack(index, s.generation, s.Has(kAttempt), RequestKind::kLinkTimeout);
    lt.kind = RequestKind::kLinkTimeout;
    lt.link = false;
    lt.deadline_ns = s.deadline_ns;
    ready.Append(lt);
    ++in_flight;
    if (s.Has(kBounded)) ++bounded;
  }
  stats.requests += has_deadline ? 2 : 1;
  if (s.kind == OpKind::kClose) ++stats.closes_sent;
}

void Engine::State::PushControl(RequestKind kind, uint64_t user_data, uint64_t target, int fd) {
  Request r;
  r.user_data = user_data;
  r.kind = kind;
  r.target = target;
  r.fd = fd;
  ready.Append(r);
  ++stats.requests;
}

// --- Events ----------------------------------------------------------------------

void Engine::State::Deliver(uint32_t index, int32_t res, uint32_t flags, bool more) {
  Slot& s = At(index);
  RL_CHECK(s.state != SlotState::kEnded && s.state != SlotState::kFree);
  Event e;
  e.tag = s.tag;
  e.res = res;
  e.flags = flags;
  e.id = OpId{index, s.generation};
  e.fd = s.fd;
  e.kind = s.kind;
  e.more = more;
  events.Append(e);
  if (more) {
    ++stats.more_events;
    return;
  }
  ++stats.final_events;
  s.state = SlotState::kEnded;
}

// EndNow: ends an op that the kernel never saw (or no longer holds) with `res`.
void Engine::State::EndNow(uint32_t index, int32_t res) {
  Deliver(index, res, 0, /*more=*/false);
  MaybeRelease(index);
}

void Engine::State::CancelSlot(uint32_t index) {
  Slot& s = At(index);
  switch (s.state) {
    case SlotState::kQueued:
      if (s.kind == OpKind::kClose) return;  // a close is never cancelled
      EndUnstarted(index, -ECANCELED);
      return;
    case SlotState::kWaitLink:
      EndUnstarted(index, -ECANCELED);
      return;
    case SlotState::kTimer:
      HeapRemove(index);
      EndNow(index, -ECANCELED);
      return;
    case SlotState::kInFlight:
      if (s.kind == OpKind::kClose) return;
      s.Set(kCancelRequested, true);
      if (s.Has(kOpPending) && !s.Has(kCancelPending)) {
        s.Set(kCancelPending, true);
        ++stats.cancels_sent;
        PushControl(RequestKind::kCancel, Pack(index, s.generation, false, RequestKind::kCancel),
                    Pack(index, s.generation, s.Has(kAttempt), RequestKind::kOp), -1);
      }
      return;
    case SlotState::kWaitFd:
    case SlotState::kEnded:
    case SlotState::kFree:
      return;
  }
}

// FinalResult: the one result the user sees, once the op's and its linked
// timeout's completions are both in. A timeout that fired and cut the op wins
// over the op's -ECANCELED/-EINTR; a real result always stands.
int32_t Engine::State::FinalResult(const Slot& s) const {
  if (s.op_res != -ECANCELED && s.op_res != -EINTR) return s.op_res;
  if (s.lt_res == -ETIME) return -kTimedOut;
  return -ECANCELED;
}

void Engine::State::TryFinish(uint32_t index) {
  Slot& s = At(index);
  if (s.Has(kOpPending) || s.Has(kLtPending)) return;
  if (s.state == SlotState::kEnded) {
    MaybeRelease(index);
    return;
  }
  RL_CHECK(s.state == SlotState::kInFlight);
  if (s.Has(kRetry)) {
    s.Set(kRetry, false);
    if (!s.Has(kCancelRequested) && s.lt_res != -ETIME && !shutting_down) {
      s.Set(kAttempt, !s.Has(kAttempt));
      s.state = SlotState::kQueued;
      ++stats.eintr_retries;
      // Ahead of everything that waits for room; its chain, if any, goes on
      // after it.
      if (s.Has(kBounded)) {
        Enqueue(index, /*front=*/true);
      } else {
        Emit(index);
      }
      return;
    }
    if (s.op_res == -EINTR) s.op_res = -ECANCELED;
  }
  const int32_t res = FinalResult(s);
  Deliver(index, res, s.op_flags, /*more=*/false);
  ContinueChain(index, res);
  MaybeRelease(index);
}

bool Engine::State::OnOpCompletion(uint32_t index, int32_t res, uint32_t flags) {
  Slot& s = At(index);
  const bool multishot = s.Has(kMultishot);
  if ((flags & kCqeFMore) != 0) {
    if (!multishot || s.state == SlotState::kEnded) return false;
    Deliver(index, res, flags, /*more=*/true);
    return true;
  }
  s.Set(kOpPending, false);
  const OpKind kind = s.kind;
  if (kind != OpKind::kClose) {
    RL_CHECK(in_flight > 0);
    --in_flight;
  }
  if (s.Has(kBounded)) {
    RL_CHECK(bounded > 0);
    --bounded;
  }
  s.op_res = res;
  if (res == -EINTR && kind == OpKind::kClose) {
    s.op_res = 0;  // Linux frees the fd even when close reports EINTR
  } else if (res == -EINTR && !s.Has(kCancelRequested)) {
    s.Set(kRetry, true);
  } else if (multishot && s.state != SlotState::kEnded && !s.Has(kCancelRequested) &&
             !shutting_down && res >= 0 && !(kind == OpKind::kRecv && res == 0)) {
    // The kernel ended the stream without an error (e.g. CQ overflow): this
    // result is one more item; the op is armed again transparently.
    // Re-arming is a resubmission like after -EINTR, and recorded as one: if
    // TryFinish may not resubmit (a cancel or a drain came first), the stream
    // ends as an interrupted op does, -ECANCELED.
    Deliver(index, res, flags, /*more=*/true);
    s.op_res = -EINTR;
    s.Set(kRetry, true);
  }
  // The buffer a final event reports is that of the completion taken as final
  // (provided-buffer groups: the user returns it to the ring once). An -EINTR
  // completion is never final (the op is resubmitted, or ends -ECANCELED
  // without a buffer), and a re-armed stream's item went out just above.
  const bool final_completion = s.op_res != -EINTR;
  s.op_flags = final_completion && (flags & kCqeFBuffer) != 0 ? flags : 0;
  if (kind == OpKind::kClose) {
    const int fd = std::get<ringloop::Close>(s.op).fd;
    FdEntry& e = FdAt(fd);
    RL_CHECK(e.close_slot == index && e.count == 0);
    e.close_slot = kNone;  // from here on the fd number may be reused
    DropFdIfIdle(fd);
  }
  TryFinish(index);
  return true;
}

// OnCancelCompletion: the kernel's answer to a cancel of the op at `index`.
// Only one answer needs more than waiting for the op's own completion:
// -EALREADY on a closing fd, or while the engine shuts down (the op is past
// cancelling: shutdown(2) the fd so that a socket op ends; on other files it
// fails harmlessly with ENOTSOCK). -ENOENT means the op is done or about to
// be: its own completion decides. (The kernel never holds a link that has not
// started, which no cancel could find: the engine plays chains itself.)
void Engine::State::OnCancelCompletion(uint32_t index, int32_t res) {
  Slot& slot = At(index);
  const FdEntry* e = FindFd(slot.fd);
  const bool closing = e != nullptr && e->close_slot != kNone;
  if (res == -EALREADY && slot.Has(kOpPending) && (closing || shutting_down) &&
      !slot.Has(kShutdownPending) && slot.fd >= 0) {
    slot.Set(kShutdownPending, true);
    ++stats.shutdowns_sent;
    PushControl(RequestKind::kShutdown, Pack(index, slot.generation, false, RequestKind::kShutdown),
                0, slot.fd);
  }
  MaybeRelease(index);
}

// --- Timer heap -------------------------------------------------------------------

bool Engine::State::TimerLess::operator()(uint32_t a, uint32_t b) const {
  const Slot& x = s->At(a);
  const Slot& y = s->At(b);
  if (x.deadline_ns != y.deadline_ns) return x.deadline_ns < y.deadline_ns;
  return x.timer_seq < y.timer_seq;
}

void Engine::State::HeapPush(uint32_t index) {
  At(index).timer_seq = timer_seq++;
  heap.Push(index);
  has_deadline = true;
  next_deadline = At(heap.top()).deadline_ns;
}

void Engine::State::HeapRemove(uint32_t index) {
  const size_t pos = At(index).heap_pos;
  RL_CHECK(pos < heap.size() && heap.at(pos) == index);
  heap.Remove(pos);
  At(index).heap_pos = kNone;
  has_deadline = !heap.empty();
  next_deadline = has_deadline ? At(heap.top()).deadline_ns : 0;
}

// --- Public interface ------------------------------------------------------------------

Engine::Engine() : Engine(Options{}) {}

Engine::Engine(Options options) : s_(std::make_unique<State>()), out_(s_.get()) {
  RL_CHECK(options.max_in_flight >= 2);  // an op and its linked timeout
  s_->options = options;
  s_->plain_submit_off = !options.straight_paths;
  while (s_->slot_count < options.initial_slots) s_->Grow();
  s_->heap.reserve(options.initial_slots);
  s_->ready.Grow(2 * size_t{options.max_in_flight});
  s_->events.Grow(options.initial_slots);
}

Engine::~Engine() = default;

namespace {

// AdmissionError: why an op with `facts` cannot be accepted as a member of a
// chain of `chain_length` ops, judged from the op alone (0 if it can).
int AdmissionError(const OpFacts& facts, uint64_t deadline_ns, size_t chain_length) {
  if (facts.error != 0) return facts.error;
  if (facts.kind == OpKind::kClose) return -EINVAL;  // Engine::Close runs the protocol
  const bool timer = facts.kind == OpKind::kTimeout;
  if ((timer || facts.multishot) && deadline_ns != kNoDeadline) return -EINVAL;
  if (chain_length > 1 && (timer || facts.multishot)) return -EINVAL;
  return 0;
}

}  // namespace

int Engine::State::Admit(const SubmitArgs& args, const OpFacts& facts, size_t chain_length) {
  const int error = AdmissionError(facts, args.deadline_ns, chain_length);
  if (error != 0) return error;
  const FdEntry* e = FindFd(facts.fd);
  if (e != nullptr && e->close_slot != kNone) return -EBADF;  // the fd is closing
  if (shutting_down) return -ECANCELED;
  return 0;
}

OpId Engine::State::Reject(const SubmitArgs& args, const OpFacts& facts, int error) {
  const uint32_t index = Allocate(args.op, args.tag, facts);
  const OpId id = IdOf(index);  // before EndNow releases the slot
  ++stats.rejected_at_submit;
  At(index).state = SlotState::kQueued;  // a live state, so that Deliver accepts it
  EndNow(index, error);
  return id;
}

OpId Engine::State::Place(const SubmitArgs& args, const OpFacts& facts, bool link_follows,
                          uint32_t chain_prev) {
  const uint32_t index = Allocate(args.op, args.tag, facts);
  const OpId id = IdOf(index);
  Slot& slot = At(index);
  if (chain_prev != kNone) {
    slot.chain_prev = chain_prev;
    At(chain_prev).chain_next = index;
  }
  if (slot.kind == OpKind::kTimeout) {
    slot.state = SlotState::kTimer;
    slot.deadline_ns = std::get<Timeout>(slot.op).deadline_ns;
    HeapPush(index);
    return id;
  }
  slot.deadline_ns = args.deadline_ns;
  slot.Set(kStraight, options.straight_paths && !link_follows && chain_prev == kNone &&
                          slot.deadline_ns == kNoDeadline && !slot.Has(kMultishot));
  if (slot.fd >= 0) LinkFd(index);
  if (chain_prev != kNone) {
    // Not started: the engine keeps its deadline (an absolute time that does
    // not wait for the links before it).
    slot.state = SlotState::kWaitLink;
    if (slot.deadline_ns != kNoDeadline) HeapPush(index);
    return id;
  }
  slot.state = SlotState::kQueued;
  Start(index);
  return id;
}

namespace {

// PlainFd: for the ops a service submits most (nop, read, write, recv, send,
// accept, one shot), with well-formed arguments: true and the op's fd (-1 for
// a nop). False for everything else, which takes the general path
// (Inspect, Admit, Place) to be checked and placed.
RL_HOT bool PlainFd(const Op& op, int* fd) {
  switch (KindOf(op)) {
    case OpKind::kNop:
      *fd = -1;
      return true;
    case OpKind::kRead: {
      const Read& o = *std::get_if<Read>(&op);
      *fd = o.fd;
      return o.fd >= 0 && (o.buf != nullptr || o.len == 0);
    }
    case OpKind::kWrite: {
      const Write& o = *std::get_if<Write>(&op);
      *fd = o.fd;
      return o.fd >= 0 && (o.buf != nullptr || o.len == 0);
    }
    case OpKind::kRecv: {
      const Recv& o = *std::get_if<Recv>(&op);
      *fd = o.fd;
      return o.fd >= 0 && !o.multishot && o.buf_group == kNoBufferGroup &&
             (o.buf != nullptr || o.len == 0);
    }
    case OpKind::kSend: {
      const Send& o = *std::get_if<Send>(&op);
      *fd = o.fd;
      return o.fd >= 0 && (o.buf != nullptr || o.len == 0);
    }
    case OpKind::kAccept: {
      const Accept& o = *std::get_if<Accept>(&op);
      *fd = o.fd;
      return o.fd >= 0 && !o.multishot && (o.addr == nullptr) == (o.addrlen == nullptr);
    }
    default:
      return false;
  }
}

}  // namespace

// SubmitPlain: Submit's straight path, taken when nothing can make it differ
// from the general one: a plain op (PlainFd) without a deadline, nothing
// waiting in the queue, room in flight, no drain, a free slot, room in the
// request buffer, and its fd (if any) already in the dense table and not
// closing. It does what Allocate + LinkFd + Emit do for such an op, and calls
// nothing (so Submit needs no stack frame for it); false, having changed
// nothing, otherwise.
RL_HOT bool Engine::State::SubmitPlain(const SubmitArgs& args, OpId* id) {
  int fd;
  if (!PlainFd(args.op, &fd) || args.deadline_ns != kNoDeadline || plain_submit_off ||
      free_head == kNone || ready.Full()) {
    return false;
  }
  // Of the plain kinds only a nop completes on its own (counts against
  // max_in_flight): one compare rather than a second switch on the kind.
  static_assert(Bounded(OpKind::kNop) && !Bounded(OpKind::kRead) && !Bounded(OpKind::kWrite) &&
                !Bounded(OpKind::kRecv) && !Bounded(OpKind::kSend) && !Bounded(OpKind::kAccept));
  const OpKind kind = KindOf(args.op);
  const bool counted = kind == OpKind::kNop;
  if (counted && (q_head != kNone || bounded >= options.max_in_flight)) return false;
  FdEntry* e = nullptr;
  if (fd >= 0) {
    if (uint32_t(fd) >= dense_fds) return false;  // new or far: FdAt grows the table
    e = &fds[fd];
    if (e->close_slot != kNone) return false;
  }
  const uint32_t index = free_head;
  Slot& s = At(index);
  RL_DCHECK(s.state == SlotState::kFree);  // Release checks it leaves one free
  free_head = s.q_next;
  s.op = args.op;
  s.tag = args.tag;
  s.fd = fd;
  s.kind = kind;
  s.state = SlotState::kInFlight;
  // A free slot is in no chain and has no deadline, heap position or linked
  // timeout result: Grow starts there, Release resets them, and CompletePlain
  // frees only straight slots, which never have them.
  RL_DCHECK(s.chain_prev == kNone && s.chain_next == kNone);
  RL_DCHECK(s.deadline_ns == kNoDeadline && s.heap_pos == kNone && s.lt_res == 0);
  s.fd_prev = kNone;
  const uint16_t bits = kStraight | kOpPending | (counted ? kBounded : 0);
  if (e != nullptr) {
    s.bits = bits | kOnFdList;
    s.fd_next = e->head;
    if (e->head != kNone) At(e->head).fd_prev = index;
    e->head = index;
    ++e->count;
  } else {
    s.bits = bits;
    s.fd_next = kNone;
  }
  Request& r = ready.items[ready.size++];
  r.user_data = Pack(index, s.generation, false, RequestKind::kOp);
  s.op_ud = r.user_data;
  r.op = &s.op;
  r.deadline_ns = 0;
  r.target = 0;
  r.fd = fd;
  r.kind = RequestKind::kOp;
  r.link = false;
  ++in_flight;
  bounded += counted ? 1 : 0;
  ++live;
  ++stats.submitted;
  ++stats.requests;
  *id = OpId{index, s.generation};
  return true;
}

// CompletePlain: HandleCompletion's straight path, for the final completion of
// an op that nothing else is attached to: no deadline (its linked timeout may
// have fired already and decide the result), cancel, shutdown, chain
// neighbour, retry or multishot stream, not a close, not -EINTR, on a dense fd
// or none. Its event is the completion as is, and its slot is released at
// once. It calls nothing; false (having changed nothing) otherwise.
RL_HOT bool Engine::State::CompletePlain(uint64_t user_data, int32_t res, uint32_t flags) {
  const uint32_t index = UserDataSlot(user_data);
  if (index >= slot_count || events.Full()) return false;
  Slot& s = At(index);
  // A straight op with its request (op_ud: set with kOpPending) out and
  // nothing else pending or asked.
  // (Such a slot is in flight: every way out of kInFlight sets a bit tested
  // here or clears kOpPending.)
  if (user_data != s.op_ud ||
      (s.bits & ~(kOnFdList | kAttempt | kBounded)) != (kStraight | kOpPending) || res == -EINTR ||
      (flags & kCqeFMore) != 0) {
    return false;
  }
  RL_DCHECK(s.state == SlotState::kInFlight);
  FdEntry* e = nullptr;
  if (s.Has(kOnFdList)) {
    if (s.fd >= kDenseFds) return false;  // (the general path also marks ops straight)
    e = &fds[s.fd];
    // An op on a closing fd may be the one the CLOSE waits for: the general
    // path decides.
    if (e->close_slot != kNone) return false;
  }
  Event& ev = events.items[events.size++];
  ev.tag = s.tag;
  ev.res = res;
  ev.flags = (flags & kCqeFBuffer) != 0 ? flags : 0;
  ev.id = OpId{index, s.generation};
  ev.fd = s.fd;
  ev.kind = s.kind;
  ev.more = false;
  // kOpPending was set where in_flight (and, for a bounded op, bounded) was
  // counted.
  RL_DCHECK(in_flight > 0 && (!s.Has(kBounded) || bounded > 0));
  --in_flight;
  bounded -= (s.bits & kBounded) != 0 ? 1 : 0;
  ++stats.final_events;
  ++stats.completions;
  if (e != nullptr) {
    if (s.fd_prev != kNone) {
      At(s.fd_prev).fd_next = s.fd_next;
    } else {
      e->head = s.fd_next;
    }
    if (s.fd_next != kNone) At(s.fd_next).fd_prev = s.fd_prev;
    --e->count;
  }
  s.bits = 0;
  s.state = SlotState::kFree;
  s.generation = (s.generation + 1) & kGenerationMask;
  s.q_next = free_head;
  free_head = index;
  --live;
  return true;
}

OpId Engine::Submit(const SubmitArgs& args) {
  OpId id;
  if (s_->SubmitPlain(args, &id)) return id;
  return SubmitGeneral(args);
}

OpId Engine::SubmitGeneral(const SubmitArgs& args) {
  State& s = *s_;
  OpId id;
  const OpFacts facts = Inspect(args.op);
  const int error = s.Admit(args, facts, 1);
  id = error != 0 ? s.Reject(args, facts, error) : s.Place(args, facts, false);
  if (s.q_head != kNone) s.Pump();
  return id;
}

void Engine::SubmitChain(std::span<SubmitArgs> ops, std::span<OpId> ids) {
  State& s = *s_;
  RL_CHECK(ops.size() == ids.size());
  // Decide admission for the whole chain first: a chain is accepted whole or
  // failed whole (the failing op gets its error, the others -ECANCELED).
  size_t failing = ops.size();
  int error = 0;
  for (size_t i = 0; i < ops.size() && failing == ops.size(); ++i) {
    error = s.Admit(ops[i], Inspect(ops[i].op), ops.size());
    if (error != 0) failing = i;
  }
  // The first link may start at once; each later one waits in kWaitLink.
  for (size_t i = 0; i < ops.size(); ++i) {
    const bool rejected = failing != ops.size();
    const OpFacts facts = Inspect(ops[i].op);
    ids[i] = rejected ? s.Reject(ops[i], facts, i == failing ? error : -ECANCELED)
                      : s.Place(ops[i], facts, /*link_follows=*/i + 1 < ops.size(),
                                i > 0 ? ids[i - 1].index : kNone);
  }
  if (s.q_head != kNone) s.Pump();
}

bool Engine::Cancel(OpId id) {
  State& s = *s_;
  if (id.index >= s.slot_count) return false;
  const Slot& slot = s.At(id.index);
  if (slot.generation != id.generation || slot.state == SlotState::kFree ||
      slot.state == SlotState::kEnded) {
    return false;
  }
  s.CancelSlot(id.index);
  s.Pump();
  return true;
}

OpId Engine::Close(int fd, uint64_t tag) {
  State& s = *s_;
  const Op close_op = ringloop::Close{fd};
  const uint32_t index = s.Allocate(close_op, tag, Inspect(close_op));
  const OpId id = s.IdOf(index);
  Slot& c = s.At(index);
  const FdEntry* existing = s.FindFd(fd);
  if (fd < 0 || (existing != nullptr && existing->close_slot != kNone)) {
    ++s.stats.rejected_at_submit;
    c.state = SlotState::kQueued;
    s.EndNow(index, -EBADF);
    return id;
  }
  c.state = SlotState::kWaitFd;
  s.FdAt(fd).close_slot = index;
  s.CancelFd(fd);
  s.FdDrained(fd);
  if (s.q_head != kNone) s.Pump();
  return id;
}

// CancelFd: cancels every live op on `fd`. Ending a link that has not started
// releases slots (its own, and later links' on any fd) while the list is
// walked, so the ops are gathered first and each is cancelled only if its slot
// still holds it.
void Engine::State::CancelFd(int fd) {
  fd_scratch.clear();
  for (uint32_t i = FdAt(fd).head; i != kNone; i = At(i).fd_next) fd_scratch.push_back(IdOf(i));
  for (const OpId id : fd_scratch) {
    if (At(id.index).generation == id.generation) CancelSlot(id.index);
  }
}

void Engine::Shutdown() {
  State& s = *s_;
  s.shutting_down = true;
  s.plain_submit_off = true;
  for (uint32_t i = 0; i < s.slot_count; ++i) s.CancelSlot(i);
  s.Pump();
}

bool Engine::HandleCompletion(uint64_t user_data, int32_t res, uint32_t flags) {
  State& s = *s_;
  if (s.CompletePlain(user_data, res, flags)) {
    if (s.q_head != kNone) return PumpAfterCompletion();
    return true;
  }
  return HandleCompletionGeneral(user_data, res, flags);
}

bool Engine::PumpAfterCompletion() {
  s_->Pump();
  return true;
}

size_t Engine::HandleCompletionBatch(std::span<const Completion> batch) {
  State& s = *s_;
  size_t accepted = 0;
  for (const Completion& c : batch) {
    if (s.CompletePlain(c.user_data, c.res, c.flags)) {
      ++accepted;
      if (s.q_head != kNone) s.Pump();
      continue;
    }
    accepted += HandleCompletionGeneral(c.user_data, c.res, c.flags) ? 1 : 0;
  }
  return accepted;
}

bool Engine::HandleCompletionGeneral(uint64_t user_data, int32_t res, uint32_t flags) {
  State& s = *s_;
  const UserDataFields d = DecodeUserData(user_data);
  bool accepted = false;
  if (d.slot < s.slot_count) {
    Slot& slot = s.At(d.slot);
    const bool same = slot.generation == d.generation && slot.state != SlotState::kFree;
    const bool attempt_bit = UserDataAttempt(user_data);
    // Ops and their timeouts carry the attempt they belong to; cancels and
    // shutdowns are always issued with the bit clear.
    const RequestKind kind = static_cast<RequestKind>(d.kind);
    const bool attempt = kind == RequestKind::kOp || kind == RequestKind::kLinkTimeout
                             ? attempt_bit == slot.Has(kAttempt)
                             : !attempt_bit;
    switch (kind) {
      case RequestKind::kOp:
        if (same && attempt && slot.Has(kOpPending))
          accepted = s.OnOpCompletion(d.slot, res, flags);
        break;
      case RequestKind::kLinkTimeout:
        if (same && attempt && slot.Has(kLtPending)) {
          slot.Set(kLtPending, false);
          slot.lt_res = res;
          RL_CHECK(s.in_flight > 0);
          --s.in_flight;
          if (slot.Has(kBounded)) --s.bounded;
          s.TryFinish(d.slot);
          accepted = true;
        }
        break;
      case RequestKind::kCancel:
        if (same && attempt && slot.Has(kCancelPending)) {
          slot.Set(kCancelPending, false);
          s.OnCancelCompletion(d.slot, res);
          accepted = true;
        }
        break;
      case RequestKind::kShutdown:
        if (same && attempt && slot.Has(kShutdownPending)) {
          slot.Set(kShutdownPending, false);
          s.MaybeRelease(d.slot);
          accepted = true;
        }
        break;
      default:  // a driver's own kind (kFirstDriverKind and up) matches nothing
        break;
    }
  }
  if (!accepted) {
    ++s.stats.rejected_completions;
    return false;
  }
  ++s.stats.completions;
  if (s.q_head != kNone) s.Pump();
  return true;
}

void Engine::AdvanceTime(uint64_t now_ns) {
  State& s = *s_;
  if (now_ns < s.now_ns) return;
  s.now_ns = now_ns;
  while (!s.heap.empty() && s.At(s.heap.top()).deadline_ns <= now_ns) {
    const uint32_t index = s.heap.top();
    s.HeapRemove(index);
    const SlotState state = s.At(index).state;
    if (state == SlotState::kQueued || state == SlotState::kWaitLink) {
      // Its deadline passed before it reached the kernel: it ends as its linked
      // timeout would have ended it, and the rest of its chain with it.
      s.EndUnstarted(index, -kTimedOut);
      continue;
    }
    RL_CHECK(state == SlotState::kTimer);
    ++s.stats.timers_fired;
    s.EndNow(index, 0);
  }
  // An op that timed out while it waited for room may have been the queue's
  // head: what waited behind it may fit now.
  if (s.q_head != kNone) s.Pump();
}

bool Engine::Quiescent() const { return s_->live == 0 && PendingRequests().empty(); }

size_t Engine::LiveOps() const { return s_->live; }

uint32_t Engine::InFlight() const { return s_->in_flight; }

uint32_t Engine::BoundedInFlight() const { return s_->bounded; }

bool Engine::IsClosing(int fd) const {
  const FdEntry* e = s_->FindFd(fd);
  return e != nullptr && e->close_slot != kNone;
}

uint32_t Engine::OpsOnFd(int fd) const {
  const FdEntry* e = s_->FindFd(fd);
  return e != nullptr ? e->count : 0;
}

uint64_t Engine::Now() const { return s_->now_ns; }

const EngineStats& Engine::stats() const { return s_->stats; }

const Engine::Options& Engine::options() const { return s_->options; }

}  // namespace ringloop
