// ringloop/drivers/sim/sim_driver.cc: the simulated ring: taking requests, cancels,
// linked timeouts, the CQ and its overflow, and Poll.
#include "ringloop/drivers/sim/sim_driver.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <variant>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ringloop/core/check.h"
#include "ringloop/drivers/sim/internal/kreq.h"

namespace ringloop::sim {
namespace {

using State = SimDriver::KReq::State;

constexpr int kMaxMovesPerPoll = 1'000'000;
constexpr int kMaxWaitRounds = 100'000;

}  // namespace

class SimDriver::ApiCall {
 public:
  ApiCall(SimDriver& sim, const char* name) : sim_(sim) { sim_.api_call_ = name; }
  ~ApiCall() { sim_.api_call_ = nullptr; }
  ApiCall(const ApiCall&) = delete;
  ApiCall& operator=(const ApiCall&) = delete;

 private:
  SimDriver& sim_;
};

SimDriver::SimDriver(SimOptions options)
    : options_(options), kernel_(options.latency_ns), trace_(options.keep_trace) {
  if (options_.chooser != nullptr) {
    chooser_ = options_.chooser;
  } else {
    own_chooser_ = std::make_unique<PrngChooser>(options_.seed);
    chooser_ = own_chooser_.get();
  }
  if (options_.fault_seed.has_value()) {
    own_fault_chooser_ = std::make_unique<PrngChooser>(*options_.fault_seed);
    fault_chooser_ = own_fault_chooser_.get();
  } else {
    fault_chooser_ = chooser_;
  }
  RL_CHECK(options_.cq_entries > 0);
  kernel_.set_fd_hook([this](int fd, bool open) { OnFd(fd, open); });
  if (options_.jitter_ns > 0) {
    const uint32_t jitter = uint32_t(std::min<uint64_t>(options_.jitter_ns, uint32_t{1} << 31));
    kernel_.set_extra_latency([this, jitter] { return uint64_t(chooser_->Choose(jitter + 1)); });
  }
}

SimDriver::~SimDriver() = default;

void SimDriver::Record(TraceRecord record) {
  record.time_ns = kernel_.now_ns();
  trace_.Add(record);
  if (listener_) listener_(record);
}

void SimDriver::OnFd(int fd, bool open) {
  if (open && kernel_.EverUsed(fd)) ++stats_.fds_reused;
  if (open) {
    openers_[fd] = Opener{kernel_.current_process(), OpenerName(), kernel_.now_ns()};
  } else {
    openers_.erase(fd);
  }
  TraceRecord r;
  r.type = open ? TraceType::kFdOpen : TraceType::kFdClose;
  r.fd = fd;
  Record(r);
}

bool SimDriver::Inject(Fault f, const KReq* r) {
  if (r == nullptr) return Strike(f, 0, -1, 0);
  return Strike(f, r->user_data, r->fd, static_cast<uint8_t>(KindOf(r->op)));
}

// Strike: the one place a fault is drawn, filtered and recorded.
bool SimDriver::Strike(Fault f, uint64_t user_data, int fd, uint8_t op_kind) {
  if (!fault_chooser_->Chance(options_.faults[f])) return false;
  const uint64_t ordinal = fault_ordinal_++;
  if (options_.fault_filter && !options_.fault_filter(ordinal)) {
    ++stats_.faults_suppressed;
    return false;
  }
  ++stats_.faults;
  TraceRecord t;
  t.type = TraceType::kFault;
  t.detail = static_cast<uint8_t>(f);
  t.user_data = user_data;
  t.fd = fd;
  t.op_kind = op_kind;
  t.aux = ordinal;
  Record(t);
  return true;
}

// --- Taking requests ---------------------------------------------------------------

size_t SimDriver::TakeRequests(Engine& engine) {
  const std::span<const Request> pending = engine.PendingRequests();
  if (pending.empty()) return 0;
  if (Inject(Fault::kSubmitBusy, nullptr)) {
    ++stats_.busy_refusals;
    TraceRecord t;
    t.type = TraceType::kBusy;
    Record(t);
    return 0;
  }
  // An op and its linked timeout (the only link the engine hands over: it
  // plays chains itself) are taken together; the SQ always has room for the
  // first request or pair.
  size_t end = 0;
  for (size_t i = 0; i < pending.size(); ++i) {
    if (pending[i].link) continue;
    if (end > 0 && i + 1 > options_.sq_entries) break;
    end = i + 1;
  }
  std::vector<KReq*> taken;
  taken.reserve(end);
  for (size_t i = 0; i < end; ++i) taken.push_back(Take(pending[i]));
  engine.ConsumeRequests(end);
  for (size_t i = 0; i < taken.size(); ++i) {
    KReq* r = taken[i];
    RL_CHECK(r->kind != RequestKind::kLinkTimeout);  // it comes right after its op
    if (r->link) {
      KReq* lt = taken[++i];
      RL_CHECK(r->kind == RequestKind::kOp && lt->kind == RequestKind::kLinkTimeout && !lt->link);
      r->lt = lt;
      lt->owner = r;
      lt->fd = r->fd;
    }
    Issue(r);
  }
  return end;
}

SimDriver::KReq* SimDriver::Take(const Request& r) {
  auto k = std::make_unique<KReq>();
  k->seq = next_seq_++;
  k->user_data = r.user_data;
  k->kind = r.kind;
  k->link = r.link;
  k->fd = r.fd;
  k->deadline_ns = r.deadline_ns;
  k->target = r.target;
  k->taken_ns = kernel_.now_ns();
  if (!op_process_.empty()) {
    const UserDataFields d = DecodeUserData(r.user_data);
    auto owner = op_process_.find(d.slot);
    if (owner != op_process_.end() && owner->second.first == d.generation) {
      k->process = owner->second.second;
    }
  }
  if (r.kind == RequestKind::kOp) {
    RL_CHECK(r.op != nullptr);
    k->op = *r.op;
    KReq& q = *k;
    auto copy_path = [](std::string& dst, const char*& src) {
      if (src == nullptr) return;
      dst = src;
      src = dst.c_str();
    };
    auto copy_addr = [&q](const sockaddr* addr, socklen_t len) {
      if (addr == nullptr) return;
      q.addrlen = std::min<socklen_t>(len, sizeof(q.addr));
      std::memcpy(&q.addr, addr, q.addrlen);
    };
    if (auto* o = std::get_if<Openat>(&k->op)) copy_path(k->path, o->path);
    if (auto* o = std::get_if<Statx>(&k->op)) copy_path(k->path, o->path);
    if (auto* o = std::get_if<Unlinkat>(&k->op)) copy_path(k->path, o->path);
    if (auto* o = std::get_if<Mkdirat>(&k->op)) copy_path(k->path, o->path);
    if (auto* o = std::get_if<Renameat>(&k->op)) {
      copy_path(k->path, o->oldpath);
      copy_path(k->path2, o->newpath);
    }
    if (auto* o = std::get_if<Connect>(&k->op)) copy_addr(o->addr, o->addrlen);
    if (auto* o = std::get_if<Bind>(&k->op)) copy_addr(o->addr, o->addrlen);
  }
  ++stats_.requests;
  if (r.kind == RequestKind::kLinkTimeout) ++link_timeouts_;
  TraceRecord t;
  t.type = TraceType::kRequest;
  t.user_data = r.user_data;
  t.req_kind = static_cast<uint8_t>(r.kind);
  t.op_kind = static_cast<uint8_t>(KindOf(k->op));
  t.fd = r.fd;
  t.flags = r.link ? 1 : 0;
  t.aux = r.kind == RequestKind::kCancel        ? r.target
          : r.kind == RequestKind::kLinkTimeout ? r.deadline_ns
                                                : 0;
  KReq* raw = k.get();
  const UserDataFields slot = DecodeUserData(raw->user_data);
  auto& in_flight = slots_in_flight_[slot.slot];
  in_flight = {slot.generation, in_flight.first == slot.generation ? in_flight.second + 1 : 1};
  // (The engine never has two requests out with one user_data; if it did,
  // Find would find the first, as a scan in take order does.)
  if (raw->kind == RequestKind::kOp) ops_by_user_data_.emplace(raw->user_data, raw);
  inflight_.emplace(raw->seq, std::move(k));
  dirty_.push_back(raw);
  Record(t);
  return raw;
}

// Issue: request `r` (and its linked timeout, whose timer starts now) goes to
// work: an op resolves its fd to the file it acts on.
void SimDriver::Issue(KReq* r) {
  dirty_.push_back(r);
  const bool op = r->kind == RequestKind::kOp;
  if (!op && r->kind != RequestKind::kShutdown) return;
  if (op && KindOf(r->op) == OpKind::kClose) return;  // close acts on the number
  if (op && crashed_.contains(r->process)) {
    r->issue_error = -EBADF;  // a dead program's op: its fds are gone
    return;
  }
  const int fd = op ? FdOf(r->op) : r->fd;
  if (fd < 0) return;
  r->file = kernel_.FileOf(fd);
  if (r->file == kNoFile) {
    r->issue_error = -EBADF;
    return;
  }
  kernel_.Ref(r->file);
  if (op) {
    r->object = kernel_.ObjectKey(r->file);
    r->waiting = true;
    waiting_on_[r->object].push_back(r);
  }
  if (op && KindOf(r->op) == OpKind::kConnect) StartConnect(*r);
}

void SimDriver::Retire(KReq* r) {
  Forget(r);
  const UserDataFields slot = DecodeUserData(r->user_data);
  auto held = slots_in_flight_.find(slot.slot);
  if (held != slots_in_flight_.end() && held->second.first == slot.generation &&
      --held->second.second == 0) {
    slots_in_flight_.erase(held);
  }
  if (r->file != kNoFile) kernel_.Unref(r->file);
  if (r->kind == RequestKind::kLinkTimeout) --link_timeouts_;
  if (r->owner != nullptr && r->owner->lt == r) r->owner->lt = nullptr;
  finished_.insert(r->user_data);
  if (r->kind == RequestKind::kOp) {
    auto op = ops_by_user_data_.find(r->user_data);
    if (op != ops_by_user_data_.end() && op->second == r) ops_by_user_data_.erase(op);
  }
  auto it = inflight_.find(r->seq);
  RL_CHECK(it != inflight_.end() && it->second.get() == r);
  inflight_.erase(it);
}

SimDriver::KReq* SimDriver::Find(uint64_t user_data) const {
  auto it = ops_by_user_data_.find(user_data);
  return it == ops_by_user_data_.end() ? nullptr : it->second;
}

// --- Completions -----------------------------------------------------------------------

bool SimDriver::Overflows() {
  if (!overflow_.empty() || cq_.size() >= options_.cq_entries) return true;
  return Inject(Fault::kCqOverflow, nullptr);
}

void SimDriver::PostCqe(const KReq& r, int32_t res, uint32_t flags, bool overflow) {
  const Cqe cqe{r.user_data, res, flags, r.fd, static_cast<uint8_t>(KindOf(r.op))};
  ++stats_.cqes_posted;
  if (overflow) {
    ++stats_.cq_overflows;
    overflow_.push_back(cqe);
  } else {
    cq_.push_back(cqe);
  }
  TraceRecord t;
  t.type = TraceType::kPost;
  t.user_data = r.user_data;
  t.req_kind = static_cast<uint8_t>(r.kind);
  t.op_kind = cqe.op_kind;
  t.fd = r.fd;
  t.res = res;
  t.flags = flags;
  t.detail = overflow ? 1 : 0;
  Record(t);
}

// FinishOp: `r` is done with `res`: posts its CQE (and its linked timeout's
// -ECANCELED, in either order) and retires it. `overflow` < 0 lets the CQ
// decide where the CQE goes.
void SimDriver::FinishOp(KReq* r, int32_t res, uint32_t flags, int overflow) {
  KReq* lt = r->lt;
  const bool lt_first = lt != nullptr && chooser_->Choose(2) == 1;
  if (lt_first) PostCqe(*lt, -ECANCELED, 0, Overflows());
  PostCqe(*r, res, flags & ~kCqeFMore, overflow < 0 ? Overflows() : overflow == 1);
  if (lt != nullptr && !lt_first) PostCqe(*lt, -ECANCELED, 0, Overflows());
  if (lt != nullptr) Retire(lt);
  Retire(r);
}

void SimDriver::FlushOverflow() {
  while (!overflow_.empty() && cq_.size() < options_.cq_entries) {
    cq_.push_back(overflow_.front());
    overflow_.pop_front();
  }
}

void SimDriver::Deliver(Engine& engine) {
  std::deque<Cqe> batch;
  batch.swap(cq_);
  auto hand = [&](const Cqe& c) {
    const bool accepted = engine.HandleCompletion(c.user_data, c.res, c.flags);
    ++stats_.cqes_delivered;
    if (!accepted) ++stats_.cqes_rejected;
    TraceRecord t;
    t.type = TraceType::kDeliver;
    t.user_data = c.user_data;
    t.op_kind = c.op_kind;
    t.fd = c.fd;
    t.res = c.res;
    t.flags = c.flags;
    t.detail = accepted ? 1 : 0;
    Record(t);
  };
  for (const Cqe& c : batch) {
    hand(c);
    if ((c.flags & kCqeFMore) != 0) continue;
    recent_finals_.push_back(c);
    if (recent_finals_.size() > 64) recent_finals_.pop_front();
    // A duplicate is a final CQE delivered again: the one just delivered, at
    // once, or (half the time) an older one whose engine slot a request in
    // flight now holds under another generation. The engine must reject both.
    // (An old CQE of the same slot and generation could legally match a later
    // attempt of the same op, whose user_data differs only in a 1-bit attempt
    // counter; the kernel never sends either, so only these cases are
    // modelled.)
    if (!Inject(Fault::kDuplicateCqe, nullptr)) continue;
    const Cqe* late = chooser_->Choose(2) == 1 ? LateCqe() : nullptr;
    if (late != nullptr) {
      ++stats_.late_cqes_delivered;
      const Cqe copy = *late;
      hand(copy);
    } else {
      ++stats_.duplicates_delivered;
      hand(c);
    }
  }
  ++delivered_batches_;
}

// LateCqe: the oldest recent final CQE whose slot is now named by a request in
// flight of another generation (a late CQE for a reused slot), if any.
const SimDriver::Cqe* SimDriver::LateCqe() const {
  for (const Cqe& c : recent_finals_) {
    const UserDataFields d = DecodeUserData(c.user_data);
    auto held = slots_in_flight_.find(d.slot);
    if (held != slots_in_flight_.end() && held->second.first != d.generation) return &c;
  }
  return nullptr;
}

// --- Cancels ---------------------------------------------------------------------------

void SimDriver::ProcessCancel(KReq* c) {
  KReq* t = Find(c->target);
  int32_t res = 0;
  if (t == nullptr) {
    // Not found: already done (its real result stands).
    if (finished_.contains(c->target)) ++stats_.cancel_races;
    ++stats_.cancels_enoent;
    res = -ENOENT;
  } else if (t->state == State::kDoomed || t->state == State::kStuck) {
    ++stats_.cancels_ealready;
    res = -EALREADY;
  } else {
    CancelTarget(c, t);
    return;
  }
  if (t != nullptr) c->fd = t->fd;
  PostCqe(*c, res, 0, Overflows());
  Retire(c);
}

// CancelTarget: the cancel found `t` running: pick one legal outcome.
void SimDriver::CancelTarget(KReq* c, KReq* t) {
  enum Outcome { kCancelled, kInterrupted, kAlready, kCompleted, kConsumed };
  // Poll requests, and multishot ops (which the kernel arms with a poll and runs
  // from its wake-ups), are always cancellable (io_poll_cancel): never -EALREADY.
  std::vector<Outcome> legal = {kCancelled, kInterrupted};
  const bool multishot = IsMultishot(t->op);
  if (KindOf(t->op) != OpKind::kPollAdd && !multishot) legal.push_back(kAlready);
  if (Ready(*t) && !multishot) legal.push_back(kCompleted);
  if (CanConsumeOnCancel(*t)) legal.push_back(kConsumed);
  const Outcome outcome = legal[chooser_->Choose(uint32_t(legal.size()))];
  const bool cancel_first = chooser_->Choose(2) == 0;
  c->fd = t->fd;
  auto post_cancel = [&](int32_t res) {
    PostCqe(*c, res, 0, Overflows());
    Retire(c);
  };
  switch (outcome) {
    case kAlready:
      ++stats_.cancels_ealready;
      t->state = kernel_.IsSocket(t->file) && !Ready(*t) ? State::kStuck : State::kDoomed;
      dirty_.push_back(t);
      post_cancel(-EALREADY);
      return;
    case kCompleted: {
      ++stats_.cancels_enoent;
      ++stats_.cancel_races;
      const OpKind kind = KindOf(t->op);
      const bool fd_result = kind == OpKind::kAccept || kind == OpKind::kOpenat;
      if (cancel_first) post_cancel(-ENOENT);
      const size_t before = kernel_.OpenFds().size();
      Complete(t);
      if (fd_result && kernel_.OpenFds().size() > before) ++stats_.fds_from_cancelled;
      if (!cancel_first) post_cancel(-ENOENT);
      return;
    }
    case kConsumed:
      ++stats_.bytes_lost_on_cancel;
      ConsumeOnCancel(*t);
      [[fallthrough]];
    case kCancelled:
    case kInterrupted:
      ++stats_.cancels_ok;
      if (cancel_first) post_cancel(0);
      FinishOp(t, outcome == kInterrupted ? -EINTR : -ECANCELED, 0, -1);
      if (!cancel_first) post_cancel(0);
      return;
  }
}

// --- Linked timeouts -------------------------------------------------------------------

bool SimDriver::FireDue() {
  bool fired = false;
  while (link_timeouts_ != 0) {
    KReq* due = nullptr;
    for (const auto& [seq, r] : inflight_) {
      if (r->kind != RequestKind::kLinkTimeout || r->deadline_ns > kernel_.now_ns()) continue;
      if (due == nullptr || r->deadline_ns < due->deadline_ns) due = r.get();
    }
    if (due == nullptr) return fired;
    FireTimeout(due);
    fired = true;
  }
  return fired;
}

void SimDriver::FireTimeout(KReq* lt) {
  KReq* op = lt->owner;
  RL_CHECK(op != nullptr && op->lt == lt);
  if (Ready(*op) && !IsMultishot(op->op) && chooser_->Choose(2) == 1) {
    ++stats_.link_timeouts_lost;  // the op completes first; its timeout gets -ECANCELED
    Complete(op);
    return;
  }
  ++stats_.link_timeouts_fired;
  op->lt = nullptr;
  lt->owner = nullptr;  // FinishOp frees `op`; Retire(lt) after it must not look at it
  const int32_t op_res = chooser_->Choose(4) == 3 ? -EINTR : -ECANCELED;
  const bool lt_first = chooser_->Choose(2) == 0;
  if (lt_first) {
    PostCqe(*lt, -ETIME, 0, Overflows());
    Retire(lt);
  }
  FinishOp(op, op_res, 0, -1);
  if (!lt_first) {
    PostCqe(*lt, -ETIME, 0, Overflows());
    Retire(lt);
  }
}

std::optional<uint64_t> SimDriver::NextTimer() const {
  std::optional<uint64_t> next = kernel_.NextSegment();
  for (const auto& [seq, r] : inflight_) {
    if (r->kind != RequestKind::kLinkTimeout) continue;
    if (!next || r->deadline_ns < *next) next = r->deadline_ns;
  }
  return next;
}

// --- Moves and Poll --------------------------------------------------------------------

// Movable: whether request `r` can move now (complete, or process its cancel).
bool SimDriver::Movable(const KReq& r) const {
  switch (r.kind) {
    case RequestKind::kOp:
      return r.state == State::kDoomed || Ready(r);
    case RequestKind::kCancel:
    case RequestKind::kShutdown:
      return r.state == State::kIssued;
    case RequestKind::kLinkTimeout:
      return false;  // it fires by the clock (FireDue)
  }
  return false;
}

namespace {

bool BySeq(const SimDriver::KReq* a, const SimDriver::KReq* b) { return a->seq < b->seq; }

}  // namespace

// Reevaluate: brings `r`'s place in movable_ up to date.
void SimDriver::Reevaluate(KReq* r) {
  const bool movable = Movable(*r);
  if (movable == r->movable) return;
  r->movable = movable;
  auto it = std::lower_bound(movable_.begin(), movable_.end(), r, BySeq);
  if (movable) {
    movable_.insert(it, r);
  } else {
    RL_CHECK(it != movable_.end() && *it == r);
    movable_.erase(it);
  }
}

// Forget: `r` leaves the move bookkeeping (it is retired).
void SimDriver::Forget(KReq* r) {
  if (r->movable) {
    auto it = std::lower_bound(movable_.begin(), movable_.end(), r, BySeq);
    RL_CHECK(it != movable_.end() && *it == r);
    movable_.erase(it);
    r->movable = false;
  }
  if (r->waiting) {
    std::vector<KReq*>& list = waiting_on_[r->object];
    auto it = std::find(list.begin(), list.end(), r);
    RL_CHECK(it != list.end());
    *it = list.back();
    list.pop_back();
    if (list.empty()) waiting_on_.erase(r->object);
    r->waiting = false;
  }
  std::erase(dirty_, r);
}

// UpdateMovable: looks again at the requests whose own state changed, and at
// those waiting on an object the kernel touched since the last time.
void SimDriver::UpdateMovable() {
  touched_.clear();
  kernel_.TakeTouched(&touched_);
  std::sort(touched_.begin(), touched_.end());
  touched_.erase(std::unique(touched_.begin(), touched_.end()), touched_.end());
  for (const uint64_t key : touched_) {
    auto it = waiting_on_.find(key);
    if (it == waiting_on_.end()) continue;
    for (KReq* r : it->second) Reevaluate(r);
  }
  for (KReq* r : dirty_) Reevaluate(r);
  dirty_.clear();
}

// ScanMoves: the legal moves found the slow way, every request in flight in
// take order, then a delivery if CQEs wait (verify_moves compares).
std::vector<SimDriver::Move> SimDriver::ScanMoves() const {
  std::vector<Move> moves;
  for (const auto& [seq, r] : inflight_) {
    if (!Movable(*r)) continue;
    moves.push_back(
        Move{r->kind == RequestKind::kCancel ? MoveKind::kCancel : MoveKind::kComplete, r.get()});
  }
  if (!cq_.empty()) moves.push_back(Move{MoveKind::kDeliver, nullptr});
  return moves;
}

bool SimDriver::Step(Engine& engine) {
  const bool fired = FireDue();
  UpdateMovable();
  const size_t count = movable_.size() + (cq_.empty() ? 0 : 1);
  if (options_.verify_moves) {
    const std::vector<Move> scanned = ScanMoves();
    RL_CHECK(scanned.size() == count);
    for (size_t i = 0; i < movable_.size(); ++i) RL_CHECK(scanned[i].req == movable_[i]);
  }
  if (count == 0) return fired;
  const size_t chosen = chooser_->Choose(uint32_t(count));
  ++stats_.moves;
  if (chosen == movable_.size()) {
    Deliver(engine);
    return true;
  }
  KReq* r = movable_[chosen];
  if (r->kind == RequestKind::kCancel) {
    ProcessCancel(r);
  } else {
    Complete(r);
  }
  return true;
}

void SimDriver::SetClock(uint64_t now_ns) {
  if (now_ns <= kernel_.now_ns()) return;
  kernel_.AdvanceClock(now_ns);
  TraceRecord t;
  t.type = TraceType::kClock;
  t.aux = now_ns;
  Record(t);
  FireDue();
}

void SimDriver::AdvanceClock(uint64_t ns) { SetClock(kernel_.now_ns() + ns); }

absl::Status SimDriver::Poll(Engine& engine, bool wait) {
  FlushOverflow();
  TakeRequests(engine);
  const uint64_t start = delivered_batches_;
  int moves = 0;
  for (int round = 0;; ++round) {
    if (round > kMaxWaitRounds)
      return absl::InternalError("sim: Poll: no progress after many waits");
    while (delivered_batches_ == start && Step(engine)) {
      if (++moves > kMaxMovesPerPoll) return absl::InternalError("sim: Poll: livelock");
    }
    if (delivered_batches_ != start || !wait || engine.HasEvents()) break;
    if (woken_.exchange(false, std::memory_order_relaxed)) break;
    if (!overflow_.empty()) {
      FlushOverflow();
      continue;
    }
    if (!engine.PendingRequests().empty()) break;  // refused (-EBUSY): poll again
    std::optional<uint64_t> next = NextTimer();
    const std::optional<uint64_t> engine_next = engine.NextDeadline();
    if (engine_next && (!next || *engine_next < *next)) next = engine_next;
    if (!next) {
      if (engine.Quiescent() && inflight_.empty()) break;
      return absl::FailedPreconditionError(
          absl::StrCat("sim: Poll(wait): deadlock: the engine has ", engine.LiveOps(),
                       " live ops (", engine.InFlight(), " of ", engine.options().max_in_flight,
                       " in flight), ", inflight_.size(),
                       " requests in the kernel, and nothing can ever move:", DescribeInFlight()));
    }
    SetClock(std::max(*next, kernel_.now_ns()));
    engine.AdvanceTime(kernel_.now_ns());
    if (engine.HasEvents()) break;
  }
  engine.AdvanceTime(kernel_.now_ns());
  return absl::OkStatus();
}

std::string SimDriver::DescribeInFlight() const {
  static constexpr const char* kStates[] = {"parked", "doomed", "stuck after -EALREADY"};
  std::string out;
  for (const auto& [seq, r] : inflight_) {
    absl::StrAppendFormat(
        &out, " [ud=%x %s fd=%d %s", r->user_data,
        r->kind == RequestKind::kOp ? std::string(OpName(KindOf(r->op))) : std::string("control"),
        r->fd, kStates[static_cast<int>(r->state)]);
    if (kernel_.IsSocket(r->file)) {
      static constexpr const char* kSocket[] = {"fresh", "listening", "connecting", "connected",
                                                "closed"};
      const Socket& so = kernel_.socket(kernel_.file(r->file).object);
      absl::StrAppendFormat(&out, ", socket %s%s%s%s", kSocket[static_cast<int>(so.state)],
                            so.tcp ? " tcp" : " pair", so.rx_eof ? " eof" : "",
                            so.shut_rd ? " shut_rd" : "");
    }
    out += "]";
  }
  return out;
}

// --- Sim-side API ------------------------------------------------------------------------

std::pair<int, int> SimDriver::Pipe(std::optional<uint32_t> capacity, bool nonblock) {
  const ApiCall call(*this, "Pipe()");
  if (Inject(Fault::kEagain, nullptr)) nonblock = true;
  const auto [r, w] = kernel_.NewPipe(capacity.value_or(options_.pipe_capacity), nonblock);
  const int rfd = kernel_.AllocFd(r);
  return {rfd, kernel_.AllocFd(w)};
}

std::pair<int, int> SimDriver::SocketPair() {
  const ApiCall call(*this, "SocketPair()");
  const auto [a, b] = kernel_.NewSocketPair();
  const int afd = kernel_.AllocFd(a);
  return {afd, kernel_.AllocFd(b)};
}

int SimDriver::EventFd(uint64_t initval, bool nonblock) {
  const ApiCall call(*this, "EventFd()");
  if (Inject(Fault::kEagain, nullptr)) nonblock = true;
  return kernel_.AllocFd(kernel_.NewEventFd(initval, nonblock));
}

int SimDriver::Listen(uint16_t port, int backlog) {
  const ApiCall call(*this, "Listen()");
  const int fd = kernel_.AllocFd(kernel_.NewTcpSocket(false));
  const uint32_t file = kernel_.FileOf(fd);
  int err = kernel_.Bind(file, port);
  if (err == 0) err = kernel_.Listen(file, backlog);
  if (err == 0) return fd;
  kernel_.CloseFd(fd);
  return err;
}

int SimDriver::ConnectTo(uint16_t port) {
  const ApiCall call(*this, "ConnectTo()");
  const int fd = kernel_.AllocFd(kernel_.NewTcpSocket(false));
  const int err = kernel_.StartConnect(kernel_.FileOf(fd), port);
  if (err == 0) return fd;
  kernel_.CloseFd(fd);
  return err;
}

int SimDriver::Open(std::string_view path, int flags, mode_t mode) {
  const ApiCall call(*this, "Open()");
  const int64_t inode = kernel_.fs().Open(kRootInode, path, flags, mode);
  if (inode < 0) return static_cast<int>(inode);
  return kernel_.AllocFd(kernel_.NewPathFile(static_cast<uint32_t>(inode), flags));
}

int SimDriver::CloseFd(int fd) { return kernel_.CloseFd(fd); }

int SimDriver::ResetFd(int fd) {
  const uint32_t file = kernel_.FileOf(fd);
  if (file == kNoFile) return -EBADF;
  if (kernel_.IsSocket(file)) kernel_.Reset(kernel_.file(file).object);
  return kernel_.CloseFd(fd);
}

int64_t SimDriver::WriteFd(int fd, std::string_view data) {
  const ApiCall call(*this, "WriteFd()");
  const uint32_t file = kernel_.FileOf(fd);
  if (file == kNoFile) return -EBADF;
  return kernel_.Write(file, data.data(), uint32_t(data.size()), kCurrentPosition);
}

int64_t SimDriver::ReadFd(int fd, std::string* out, uint32_t max) {
  const uint32_t file = kernel_.FileOf(fd);
  if (file == kNoFile) return -EBADF;
  std::string buf(max, '\0');
  const int64_t n = kernel_.Read(file, buf.data(), max, kCurrentPosition);
  if (n > 0) out->append(buf.data(), size_t(n));
  return n;
}

std::optional<FileType> SimDriver::FdType(int fd) const {
  const uint32_t file = kernel_.FileOf(fd);
  if (file == kNoFile) return std::nullopt;
  return kernel_.file(file).type;
}

}  // namespace ringloop::sim
