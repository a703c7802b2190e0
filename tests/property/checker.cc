// tests/property/checker.cc: the invariant checks.
#include "tests/property/checker.h"

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace ringloop::prop {
namespace {

std::string OpKindName(OpKind k) { return std::string(OpName(k)); }

}  // namespace

void Checker::Fail(std::string message) {
  if (!violation_) violation_ = std::move(message);
}

std::string Checker::Name(const OpInfo& op) const {
  return absl::StrCat("op#", op.tag, "(", OpKindName(op.kind), " fd=", op.fd, ")");
}

Checker::OpInfo* Checker::OpOfTag(uint64_t tag) {
  auto it = ops_.find(tag);
  return it == ops_.end() ? nullptr : &it->second;
}

Checker::OpInfo* Checker::OpOfUserData(uint64_t user_data) {
  const UserDataFields d = DecodeUserData(user_data);
  auto it = by_id_.find({d.slot, d.generation});
  return it == by_id_.end() ? nullptr : OpOfTag(it->second);
}

bool Checker::IsFinal(uint64_t tag) const {
  auto it = ops_.find(tag);
  return it != ops_.end() && it->second.final;
}

bool Checker::Started(uint64_t tag) const {
  auto it = ops_.find(tag);
  return it != ops_.end() && it->second.started;
}

std::vector<uint64_t> Checker::UnstartedOnFd(int fd) const {
  std::vector<uint64_t> out;
  for (const auto& [tag, op] : ops_) {
    if (op.fd == fd && !op.final && !op.started && !op.is_close) out.push_back(tag);
  }
  return out;
}

OpId Checker::IdOf(uint64_t tag) const { return ops_.at(tag).id; }

std::vector<uint64_t> Checker::LiveTags() const {
  std::vector<uint64_t> out;
  for (const auto& [tag, op] : ops_) {
    if (!op.final && !op.is_close) out.push_back(tag);
  }
  return out;
}

std::vector<uint64_t> Checker::EndedTags() const {
  std::vector<uint64_t> out;
  for (const auto& [tag, op] : ops_) {
    if (op.final && !op.is_close) out.push_back(tag);
  }
  return out;
}

// --- User side ----------------------------------------------------------------------

void Checker::OnSubmit(uint64_t tag, OpId id, const SubmitArgs& args, int chain, int pos) {
  for (const auto& [ud, o] : outstanding_) {
    if (UserDataSlot(ud) == id.index) {
      Fail(absl::StrCat("slot ", id.index, " handed to op#", tag, " while the kernel still holds ",
                        RequestKindName(o.kind), " request ud=", absl::Hex(ud), " of op#", o.tag));
    }
  }
  OpInfo op;
  op.tag = tag;
  op.id = id;
  op.op = args.op;
  op.kind = KindOf(args.op);
  op.fd = FdOf(args.op);
  op.is_timeout = op.kind == OpKind::kTimeout;
  op.deadline_ns = op.is_timeout ? std::get<Timeout>(args.op).deadline_ns : args.deadline_ns;
  op.multishot = IsMultishot(args.op);
  op.closing_at_submit = op.fd >= 0 && closing_.count(op.fd) != 0;
  op.chain = chain;
  op.pos = pos;
  op.link_len = ChainMinimum(args.op);
  ops_[tag] = op;
  by_id_[{id.index, id.generation}] = tag;
  if (chain >= 0) chains_[chain].push_back(tag);
  if (pos == 0) starts_.push_back(tag);
}

void Checker::OnCancel(uint64_t tag, bool live) {
  OpInfo* op = OpOfTag(tag);
  if (op == nullptr) return;
  if (live && !op->final) op->cancel_asked = true;
  if (op->final && live) Fail(absl::StrCat("Cancel of ended ", Name(*op), " returned true"));
  if (!op->final && !live) Fail(absl::StrCat("Cancel of live ", Name(*op), " returned false"));
}

void Checker::OnClose(uint64_t tag, OpId id, int fd) {
  for (const auto& [ud, o] : outstanding_) {
    if (o.fd == fd) {
      ++close_with_ops_in_flight_;
      break;
    }
  }
  OpInfo op;
  op.tag = tag;
  op.id = id;
  op.op = ringloop::Close{fd};
  op.kind = OpKind::kClose;
  op.fd = fd;
  op.is_close = true;
  op.closing_at_submit = closing_.count(fd) != 0;
  if (!op.closing_at_submit) {
    closing_[fd] = tag;
    for (auto& [t, other] : ops_) {
      if (other.fd == fd && !other.final && !other.is_close) other.cancel_asked = true;
    }
  }
  ops_[tag] = op;
  by_id_[{id.index, id.generation}] = tag;
}

void Checker::OnShutdown() {
  shutting_down_ = true;
  for (auto& [tag, op] : ops_) {
    if (!op.final && !op.is_close) op.cancel_asked = true;
  }
}

void Checker::OnPending(std::span<const Request> pending) {
  for (const Request& r : pending) {
    if (r.kind != RequestKind::kOp) continue;
    OpInfo* op = OpOfUserData(r.user_data);
    if (op == nullptr) continue;
    NoteOpRequest(*op, r.user_data);
    if (op->started) continue;
    op->started = true;
    CheckLinkMayStart(*op);
  }
  SyncQueue(pending);
  // An op that waits for readiness never waits for room: once it may start
  // (submitted, or the link before it ended well) it has reached the driver.
  for (const auto& [tag, op] : ops_) {
    if (op.final || op.started || op.is_close || op.is_timeout || !WaitsForReadiness(op.kind)) {
      continue;
    }
    if (op.chain >= 0 && op.pos > 0) {
      const OpInfo* prev = ChainMember(op, op.pos - 1);
      if (prev == nullptr || !prev->final || prev->res < 0 ||
          uint64_t(prev->res) < prev->link_len || prev->cancel_asked || shutting_down_) {
        continue;
      }
    }
    Fail(absl::StrCat(Name(op), " waits for readiness and may start, yet was held back (it ",
                      "must never wait for room)"));
    return;
  }
}

// NoteOpRequest: `user_data` names an op request of `op` (pending or taken): a
// new one is an emission (the first, or a resubmission after -EINTR).
void Checker::NoteOpRequest(OpInfo& op, uint64_t user_data) {
  if (user_data == op.last_op_ud) return;
  op.last_op_ud = user_data;
  if (Bounded(op)) emitted_.push_back(op.tag);
}

bool Checker::Bounded(const OpInfo& op) const {
  return !op.is_close && !op.is_timeout && !WaitsForReadiness(op.kind);
}

// Waits: whether bounded `op` could be waiting for room: live, not in queue_,
// with no request of it in the kernel or pending.
bool Checker::Waits(const OpInfo& op, std::span<const Request> pending) const {
  if (!Bounded(op) || op.final || op.in_queue) return false;
  for (const auto& [ud, o] : outstanding_) {
    if (o.tag == op.tag && (o.kind == RequestKind::kOp || o.kind == RequestKind::kLinkTimeout)) {
      return false;
    }
  }
  for (const Request& r : pending) {
    if (r.kind != RequestKind::kOp && r.kind != RequestKind::kLinkTimeout) continue;
    const UserDataFields d = DecodeUserData(r.user_data);
    if (d.slot == op.id.index && d.generation == op.id.generation) return false;
  }
  return true;
}

// SyncQueue: follows the engine's queue of ops waiting for room through the
// inputs since the last call, and checks that they left it in order, that
// none skipped it while another waited, and that it is now empty or its head
// needs more room than is free.
void Checker::SyncQueue(std::span<const Request> pending) {
  for (auto it = queue_.begin(); it != queue_.end();) {
    OpInfo* op = OpOfTag(*it);
    if (op != nullptr && !op->final) {
      ++it;
      continue;
    }
    if (op != nullptr) op->in_queue = false;
    it = queue_.erase(it);
  }
  for (const uint64_t tag : emitted_) {
    OpInfo& op = *OpOfTag(tag);
    if (op.in_queue) {
      if (queue_.front() != tag) {
        Fail(absl::StrCat(Name(op), " left the queue of ops waiting for room ahead of op#",
                          queue_.front(), " (not FIFO)"));
      }
      std::erase(queue_, tag);
      op.in_queue = false;
    } else if (!op.retry_waiting && !queue_.empty()) {
      Fail(absl::StrCat(Name(op), " reached the driver while op#", queue_.front(),
                        " waited for room ahead of it"));
    }
    op.retry_waiting = false;
  }
  emitted_.clear();
  for (auto& [tag, op] : ops_) {
    if (!op.retry_waiting || !Waits(op, pending)) continue;
    op.retry_waiting = false;  // resubmissions after -EINTR go first
    op.in_queue = true;
    queue_.push_front(tag);
  }
  for (const uint64_t tag : starts_) {
    OpInfo* op = OpOfTag(tag);
    if (op == nullptr || op->started || !Waits(*op, pending)) continue;
    op->in_queue = true;
    queue_.push_back(tag);
  }
  starts_.clear();
  if (queue_.empty() || options_.max_in_flight == 0) return;
  ++queue_waits_;
  uint32_t counted = op_requests_outstanding_;
  for (const Request& r : pending) {
    if (r.kind != RequestKind::kOp && r.kind != RequestKind::kLinkTimeout) continue;
    const OpInfo* op = OpOfUserData(r.user_data);
    if (op != nullptr && Bounded(*op)) ++counted;
  }
  const OpInfo& head = *OpOfTag(queue_.front());
  const uint32_t needed = head.deadline_ns == kNoDeadline ? 1 : 2;
  if (counted + needed <= options_.max_in_flight) {
    Fail(absl::StrCat(Name(head), " waits at the head of the queue though it fits (", counted,
                      " of max_in_flight=", options_.max_in_flight, " out, it needs ", needed,
                      "): the engine forgot to let it go"));
  }
}

void Checker::CheckImmediate(uint64_t tag, int32_t res, const char* why) {
  const OpInfo* op = OpOfTag(tag);
  if (op == nullptr) return;
  if (!op->final) {
    Fail(absl::StrCat(Name(*op), " ", why, ": must end at once, but is still live"));
  } else if (op->res != res) {
    Fail(absl::StrCat(Name(*op), " ", why, ": must end with ", res, ", got ", op->res));
  }
}

void Checker::SkipChain(int chain) { chains_.erase(chain); }

const Checker::OpInfo* Checker::ChainMember(const OpInfo& op, int pos) const {
  auto it = chains_.find(op.chain);
  if (it == chains_.end() || pos < 0 || size_t(pos) >= it->second.size()) return nullptr;
  return const_cast<Checker*>(this)->OpOfTag(it->second[size_t(pos)]);
}

// CheckLinkMayStart: chain link `op` was just handed to the driver: the link
// before it must have ended, well, without a cancel, and not in a drain.
void Checker::CheckLinkMayStart(const OpInfo& op) {
  if (op.chain < 0 || op.pos == 0) return;
  const OpInfo* prev = ChainMember(op, op.pos - 1);
  if (prev == nullptr) return;
  if (!prev->final) {
    Fail(absl::StrCat("chain ", op.chain, ": ", Name(op), " reached the driver while the link ",
                      "before it, ", Name(*prev), ", had not ended"));
  } else if (prev->res < 0 || uint64_t(prev->res) < prev->link_len) {
    Fail(absl::StrCat("chain ", op.chain, ": ", Name(op), " reached the driver after the link ",
                      "before it, ", Name(*prev), ", broke the chain with ", prev->res));
  } else if (prev->cancel_asked) {
    Fail(absl::StrCat("chain ", op.chain, ": ", Name(op), " reached the driver after the link ",
                      "before it, ", Name(*prev), ", was cancelled"));
  } else if (shutting_down_) {
    Fail(absl::StrCat("chain ", op.chain, ": ", Name(op), " reached the driver after Shutdown"));
  }
}

void Checker::CheckRestOfChainEnded(uint64_t tag) {
  const OpInfo* op = OpOfTag(tag);
  if (op == nullptr || op->chain < 0) return;
  for (int pos = op->pos + 1; const OpInfo* m = ChainMember(*op, pos); ++pos) {
    // One that ended before `tag` may have ended on its own (see CheckChain).
    const bool on_its_own = m->final && m->final_order < op->final_order && m->res == -ETIME;
    if (!m->final || (m->res != -ECANCELED && !on_its_own)) {
      Fail(absl::StrCat("chain ", op->chain, ": ", Name(*op), " ended before it started, but ",
                        "the later link ", Name(*m), m->final ? " ended " : " is still live",
                        m->final ? std::to_string(m->res) : std::string(), ", not -ECANCELED"));
      return;
    }
  }
}

void Checker::OnEvent(const Event& e, uint64_t now_ns, uint64_t driver_now_ns) {
  OpInfo* op = OpOfTag(e.tag);
  if (op == nullptr) {
    Fail(absl::StrCat("event for unknown tag ", e.tag));
    return;
  }
  if (!(e.id == op->id)) {
    Fail(absl::StrCat("event for ", Name(*op), " carries OpId {", e.id.index, ",", e.id.generation,
                      "}, not its own {", op->id.index, ",", op->id.generation, "} (misrouted)"));
  }
  if (op->final) {
    Fail(absl::StrCat("second event (res=", e.res, ") for ", Name(*op), " after its final event"));
    return;
  }
  if (e.more) {
    if (!op->multishot) Fail(absl::StrCat("intermediate event for single-shot ", Name(*op)));
    return;
  }
  OnFinal(*op, e, now_ns, driver_now_ns);
}

void Checker::OnFinal(OpInfo& op, const Event& e, uint64_t now_ns, uint64_t driver_now_ns) {
  for (const auto& [ud, o] : outstanding_) {
    if (o.tag == op.tag && (o.kind == RequestKind::kOp || o.kind == RequestKind::kLinkTimeout)) {
      Fail(absl::StrCat("final event (res=", e.res, ") of ", Name(op), " while its ",
                        RequestKindName(o.kind), " request ud=", absl::Hex(ud),
                        " is still in the kernel: buffer and slot released too early"));
    }
  }
  op.final = true;
  op.res = e.res;
  op.final_order = ++final_count_;
  if (e.flags != op.final_flags && !op.is_close) {
    Fail(absl::StrCat(Name(op), " ended with flags ", absl::Hex(e.flags), ", not ",
                      absl::Hex(op.final_flags),
                      ", those of the completion taken as final (a provided buffer lost or "
                      "reported twice)"));
  }
  if (op.closing_at_submit && e.res != -EBADF && !(op.chain >= 0 && e.res == -ECANCELED)) {
    Fail(absl::StrCat(Name(op), " submitted on closing fd ", op.fd, " ended ", e.res,
                      ", not -EBADF"));
  }
  if (op.is_timeout) {
    if (e.res == 0 && now_ns < op.deadline_ns) {
      Fail(absl::StrCat("Timeout ", Name(op), " fired at ", now_ns, " before its deadline ",
                        op.deadline_ns));
    } else if (e.res != 0 && e.res != -ECANCELED && e.res != -EINVAL) {
      Fail(absl::StrCat("Timeout ", Name(op), " ended ", e.res));
    }
  }
  if (e.res == -ETIME && !op.is_timeout) {
    ++timed_out_;
    if (!op.started) ++expired_unstarted_;
    if (op.deadline_ns == kNoDeadline) {
      Fail(absl::StrCat(Name(op), " timed out but had no deadline"));
    } else if (driver_now_ns < op.deadline_ns) {
      // Linked timeouts fire in the kernel, on the driver's clock.
      Fail(absl::StrCat(Name(op), " timed out at ", driver_now_ns, " before its deadline ",
                        op.deadline_ns));
    }
  }
  if (op.is_close) {
    auto it = closing_.find(op.fd);
    if (it != closing_.end() && it->second == op.tag) closing_.erase(it);
  }
  if (op.chain >= 0) {
    // The next link may start now (and waits for room if it must).
    const bool goes_on =
        !(e.res < 0 || uint64_t(e.res) < op.link_len) && !op.cancel_asked && !shutting_down_;
    if (const OpInfo* next = ChainMember(op, op.pos + 1); next != nullptr && goes_on) {
      starts_.push_back(next->tag);
    }
    CheckChain(op.chain);
  }
}

// CheckChain: once every link of `chain` has ended: the first link that broke
// the chain or was cancelled while live stops it, and every later link ended
// -ECANCELED (or, before the stop, -ETIME at its own deadline), in order,
// without ever reaching the driver.
void Checker::CheckChain(int chain) {
  auto it = chains_.find(chain);
  if (it == chains_.end()) return;
  std::vector<const OpInfo*> members;
  for (uint64_t tag : it->second) {
    const OpInfo* m = OpOfTag(tag);
    if (m == nullptr || !m->final) return;
    members.push_back(m);
  }
  size_t stop = members.size();
  for (size_t i = 0; i < members.size() && stop == members.size(); ++i) {
    const OpInfo& m = *members[i];
    if (m.res < 0 || uint64_t(m.res) < m.link_len || m.cancel_asked) stop = i;
  }
  if (stop > 0 && stop + 1 < members.size()) ++chains_aborted_midway_;
  for (size_t j = stop + 1; j < members.size(); ++j) {
    const OpInfo& m = *members[j];
    const OpInfo& s = *members[stop];
    // A later link may have ended on its own before the stop did (cancelled,
    // its fd closed, or its deadline passed while it waited: -ETIME); one that
    // ended after the stop ended because of it: -ECANCELED.
    const bool on_its_own = m.final_order < s.final_order && m.res == -ETIME;
    if ((m.res != -ECANCELED && !on_its_own) || m.started) {
      Fail(absl::StrCat("chain ", chain, ": link ", stop, " ", Name(s), " ended ", s.res,
                        s.cancel_asked ? " (cancelled)" : "", " but later link ", j, " ", Name(m),
                        m.started ? " reached the driver and" : "", " ended ", m.res,
                        ", not -ECANCELED"));
      return;
    }
    // The links that ended after the stop ended because of it: in chain order.
    // (One that ended earlier was cancelled on its own, e.g. by a close.)
    const OpInfo& prev = *members[j - 1];
    if (j > stop + 1 && m.final_order > s.final_order && prev.final_order > s.final_order &&
        m.final_order < prev.final_order) {
      Fail(absl::StrCat("chain ", chain, ": cancelled rest not ended in order (", Name(m),
                        " before ", Name(*members[j - 1]), ")"));
      return;
    }
  }
  chains_.erase(it);
}

// --- Kernel side ---------------------------------------------------------------------

void Checker::OnRecord(const sim::TraceRecord& r) {
  switch (r.type) {
    case sim::TraceType::kRequest:
      OnRequest(r);
      break;
    case sim::TraceType::kPost:
      if (static_cast<RequestKind>(r.req_kind) == RequestKind::kOp) {
        const OpInfo* op = OpOfUserData(r.user_data);
        if (op != nullptr && op->final) {
          Fail(absl::StrCat("the kernel completed ", Name(*op), " (res=", r.res,
                            ") after its final event: it touched a released buffer"));
        }
      }
      break;
    case sim::TraceType::kDeliver:
      OnDeliver(r);
      break;
    case sim::TraceType::kFdOpen:
      closed_in_kernel_.erase(r.fd);
      break;
    default:
      break;
  }
}

// OnDeliver: a CQE handed to the engine (r.detail: whether it accepted it).
void Checker::OnDeliver(const sim::TraceRecord& r) {
  auto it = outstanding_.find(r.user_data);
  if (it == outstanding_.end()) {
    // Stale (its slot reused since, under another generation), duplicated or
    // made up: it must be rejected, never routed to whatever holds the slot.
    if (r.detail != 0) {
      const UserDataFields d = DecodeUserData(r.user_data);
      Fail(absl::StrCat("the engine accepted a completion ud=", absl::Hex(r.user_data), " (slot ",
                        d.slot, ", generation ", d.generation, ", res ", r.res,
                        ") that matches no request in the kernel"));
    }
    return;
  }
  if (r.detail != 0 && it->second.kind == RequestKind::kOp && (r.flags & kCqeFMore) == 0) {
    if (OpInfo* op = OpOfTag(it->second.tag)) {
      // The buffer (provided-buffer groups) a final event must report: that of
      // the op's last completion taken as final. -EINTR is never final, nor is
      // a multishot stream's end that the engine re-arms (its item is an
      // intermediate event).
      const bool rearmed = op->multishot && !op->cancel_asked && !shutting_down_ && r.res >= 0 &&
                           !(op->kind == OpKind::kRecv && r.res == 0);
      const bool final_completion = r.res != -EINTR && !rearmed;
      op->final_flags = final_completion && (r.flags & kCqeFBuffer) != 0 ? r.flags : 0;
      if (r.res == -EINTR && !op->is_close) op->retry_waiting = true;
    }
  }
  if ((r.flags & kCqeFMore) != 0) return;
  if (it->second.counted) --op_requests_outstanding_;
  outstanding_.erase(it);
}

void Checker::OnRequest(const sim::TraceRecord& r) {
  const RequestKind kind = static_cast<RequestKind>(r.req_kind);
  OpInfo* op = OpOfUserData(r.user_data);
  const UserDataFields d = DecodeUserData(r.user_data);
  if (op == nullptr) {
    Fail(absl::StrCat("kernel got a ", RequestKindName(kind),
                      " request ud=", absl::Hex(r.user_data), " for a slot no op holds"));
    return;
  }
  switch (kind) {
    case RequestKind::kOp:
      if (op->final)
        Fail(absl::StrCat("kernel got a request for ", Name(*op), " after its final event"));
      if (r.flags != 0 && (op->deadline_ns == kNoDeadline || op->is_timeout)) {
        Fail(absl::StrCat("kernel got ", Name(*op), " linked to what follows it, with no ",
                          "deadline: only an op and its linked timeout may be linked"));
      }
      NoteOpRequest(*op, r.user_data);
      if (!op->started) {
        op->started = true;
        CheckLinkMayStart(*op);
      }
      if (op->closing_at_submit) {
        Fail(absl::StrCat(Name(*op), " was submitted while fd ", op->fd,
                          " was closing, yet reached the kernel"));
      }
      if (op->is_close) {
        OnCloseRequest(*op, r.user_data);
      } else if (op->fd >= 0 && closed_in_kernel_.count(op->fd) != 0) {
        Fail(absl::StrCat("kernel got ", Name(*op), " on fd ", op->fd, " after CLOSE(", op->fd,
                          ") and before the number was reused"));
      }
      // FIFO: ops that complete on their own and may start when submitted
      // (not later chain links, which start when the link before them ends)
      // reach the kernel in order; ops that wait for readiness skip the queue.
      if (!op->reached_kernel && !op->is_close && op->pos == 0 && !WaitsForReadiness(op->kind)) {
        if (op->tag < last_first_issue_tag_) {
          Fail(absl::StrCat(Name(*op), " reached the kernel after op#", last_first_issue_tag_,
                            ", which was submitted later (queue not FIFO)"));
        }
        last_first_issue_tag_ = op->tag;
      }
      op->reached_kernel = true;
      break;
    case RequestKind::kLinkTimeout: {
      const UserDataFields prev = DecodeUserData(last_request_ud_);
      if (op->deadline_ns == kNoDeadline || op->is_timeout) {
        Fail(absl::StrCat("linked timeout for ", Name(*op), ", which has no deadline"));
      } else if (r.aux != op->deadline_ns) {
        Fail(absl::StrCat("linked timeout for ", Name(*op), " carries deadline ", r.aux,
                          ", not the op's ", op->deadline_ns));
      }
      if (last_request_kind_ != uint8_t(RequestKind::kOp) || prev.slot != d.slot ||
          prev.generation != d.generation || !last_request_link_) {
        Fail(absl::StrCat("linked timeout for ", Name(*op),
                          " is not right after that op's own request, linked to it"));
      }
      break;
    }
    case RequestKind::kShutdown:
      if (closed_in_kernel_.count(r.fd) != 0) {
        Fail(absl::StrCat("shutdown request on fd ", r.fd, " after its CLOSE"));
      }
      break;
    case RequestKind::kCancel:
      break;
  }
  const int fd = kind == RequestKind::kShutdown ? r.fd : op->fd;
  // The bound counts only ops that complete on their own and their linked
  // timeouts; a CLOSE, like a cancel, is never held back (engine.h).
  const bool counted =
      ((kind == RequestKind::kOp && !op->is_close) || kind == RequestKind::kLinkTimeout) &&
      !WaitsForReadiness(op->kind);
  if (counted && outstanding_.count(r.user_data) == 0) ++op_requests_outstanding_;
  outstanding_[r.user_data] = Outstanding{op->tag, kind, op->is_close ? -1 : fd, counted};
  if (options_.max_in_flight != 0 && op_requests_outstanding_ > options_.max_in_flight) {
    Fail(absl::StrCat("the kernel holds ", op_requests_outstanding_,
                      " op requests, more than max_in_flight=", options_.max_in_flight,
                      " (backpressure broken)"));
  }
  last_request_ud_ = r.user_data;
  last_request_kind_ = r.req_kind;
  last_request_link_ = r.flags != 0;
}

void Checker::OnCloseRequest(const OpInfo& close, uint64_t user_data) {
  const int fd = close.fd;
  for (const auto& [ud, o] : outstanding_) {
    if (o.fd == fd && ud != user_data) {
      Fail(absl::StrCat("CLOSE(", fd, ") reached the kernel while ", RequestKindName(o.kind),
                        " request ud=", absl::Hex(ud), " of op#", o.tag, " on fd ", fd,
                        " is outstanding"));
      return;
    }
  }
  for (const auto& [tag, op] : ops_) {
    if (tag >= close.tag) break;
    if (!op.is_close && op.fd == fd && !op.final) {
      Fail(absl::StrCat("CLOSE(", fd, ") reached the kernel before ", Name(op), " ended"));
      return;
    }
  }
  closed_in_kernel_.insert(fd);
}

// --- Whole-state checks ---------------------------------------------------------------

void Checker::CheckDeadlines(uint64_t now_ns) {
  for (const auto& [tag, op] : ops_) {
    if (op.final || op.deadline_ns == kNoDeadline || op.deadline_ns > now_ns) continue;
    // Whether in the kernel (its linked timeout) or not started yet (waiting
    // in the engine's queue, or a chain link waiting for the link before it:
    // the engine's own timer), the deadline holds (engine.h).
    Fail(absl::StrCat(Name(op), " with deadline ", op.deadline_ns, " still unresolved at ", now_ns,
                      " after the loop settled"));
    return;
  }
}

void Checker::CheckQuiescent(const Engine& engine, const sim::SimDriver& sim) {
  for (const auto& [tag, op] : ops_) {
    if (!op.final) {
      Fail(absl::StrCat(Name(op), " never had its final event"));
      return;
    }
  }
  if (!outstanding_.empty()) {
    const auto& [ud, o] = *outstanding_.begin();
    Fail(absl::StrCat(RequestKindName(o.kind), " request ud=", absl::Hex(ud), " of op#", o.tag,
                      " never completed"));
    return;
  }
  if (!engine.Quiescent() || engine.LiveOps() != 0 || engine.InFlight() != 0) {
    Fail(absl::StrCat("engine not quiescent at the end: live=", engine.LiveOps(),
                      " in_flight=", engine.InFlight()));
  } else if (engine.NextDeadline().has_value()) {
    Fail(absl::StrCat("engine still has a timer at ", *engine.NextDeadline()));
  } else if (!sim.Idle()) {
    Fail(absl::StrCat("kernel still has ", sim.InFlight(), " requests and ", sim.PendingCqes(),
                      " CQEs"));
  }
  for (int fd : sim.OpenFds()) {
    if (fd > 2) {
      Fail(absl::StrCat("fd ", fd, " leaked: open in the kernel after everything was closed"));
      return;
    }
  }
}

}  // namespace ringloop::prop
