// tests/property/runner.cc: the interpreter of programs.
#include "tests/property/runner.h"

#include <arpa/inet.h>
#include <linux/stat.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ringloop/core/check.h"
#include "ringloop/drivers/sim/sim_driver.h"

namespace ringloop::prop {
namespace {

constexpr uint32_t kBufBytes = 96;
constexpr const char* kPaths[] = {"f0", "f1", "d0", "d0/f2", "d1"};
constexpr uint16_t kPort = 80;

// Buf: everything the kernel may read or write for one op. Lent to the op
// until its final event, then returned to a LIFO pool (so a late kernel write
// would land in the next op's buffer, as it would in a real program).
struct Buf {
  uint8_t data[kBufBytes];
  iovec iov[2];
  sockaddr_in addr;
  socklen_t addrlen;
  struct statx stx;
  std::string path;
  std::string path2;
};

class Runner {
 public:
  explicit Runner(const RunOptions& o);
  RunResult Run(const Program& program);

 private:
  void Exec(const Command& c);
  void DrainEvents();
  void OnEvent(const Event& e);
  void Adopt(int fd, const char* how);
  void AdoptDirect(int fd, const char* how);
  void Submit(const Command& c);
  void Chain(const Command& c);
  bool MakeOp(uint8_t a, uint16_t b, uint32_t c, SubmitArgs* args, Buf* buf, bool* on_closing);
  void MakeFdOp(sim::FileType type, int fd, uint8_t a, uint32_t c, SubmitArgs* args, Buf* buf);
  void MakePathOp(uint8_t a, uint32_t c, SubmitArgs* args, Buf* buf);
  void Cancel(const Command& c, bool ended);
  void Close(const Command& c);
  void CloseFd(int fd);
  void Advance(const Command& c);
  void Open(const Command& c);
  void Peer(const Command& c);
  void Settle();
  void Poll(bool wait);
  void Drain();
  Buf* TakeBuf(uint64_t tag);
  void RecordSubmit(uint64_t tag, const SubmitArgs& args);
  int NthFd(uint32_t n) const;
  uint64_t Deadline(uint32_t c) const;
  RunResult Result(uint32_t at);

  RunOptions options_;
  std::unique_ptr<sim::Chooser> chooser_;
  Engine engine_;
  sim::SimDriver sim_;
  Checker checker_;
  std::set<int> known_;             // fds the user holds
  std::vector<int> closing_;        // fds given to Engine::Close, not yet ended
  std::set<uint64_t> real_closes_;  // tags of closes the user is waiting for
  std::vector<int> deferred_;       // made directly while the engine calls them closing
  uint64_t deferred_adoptions_ = 0;
  std::map<uint64_t, std::unique_ptr<Buf>> lent_;  // tag -> buffer
  std::vector<std::unique_ptr<Buf>> pool_;
  uint64_t next_tag_ = 1;
  int next_chain_ = 0;
  bool draining_ = false;
};

std::unique_ptr<sim::Chooser> MakeChooser(const RunOptions& o) {
  if (o.tape) return std::make_unique<sim::TapeChooser>(*o.tape);
  return std::make_unique<sim::PrngChooser>(o.seed);
}

Engine::Options EngineOptions(const Setup& s) {
  Engine::Options o;
  o.max_in_flight = s.max_in_flight;
  o.initial_slots = 8;
  return o;
}

sim::SimOptions SimOptionsFor(const RunOptions& o, sim::Chooser* chooser) {
  sim::SimOptions s;
  s.chooser = chooser;
  s.faults = o.setup.faults;
  s.sq_entries = o.setup.sq_entries;
  s.cq_entries = o.setup.cq_entries;
  s.latency_ns = o.setup.latency_ns;
  s.pipe_capacity = o.setup.pipe_capacity;
  s.keep_trace = o.keep_trace;
  s.verify_moves = true;  // the kept move set against a scan, at every step
  return s;
}

CheckerOptions CheckerOptionsFor(const RunOptions& o) {
  CheckerOptions c = o.checker;
  c.max_in_flight = o.setup.max_in_flight;
  return c;
}

Runner::Runner(const RunOptions& o)
    : options_(o),
      chooser_(MakeChooser(o)),
      engine_(EngineOptions(o.setup)),
      sim_(SimOptionsFor(o, chooser_.get())),
      checker_(CheckerOptionsFor(o)) {
  sim_.set_listener([this](const sim::TraceRecord& r) { checker_.OnRecord(r); });
}

RunResult Runner::Run(const Program& program) {
  // Every program starts with one pipe, one socket pair and one listener, so
  // that the first commands already have something to act on.
  const auto [r, w] = sim_.Pipe(options_.setup.pipe_capacity);
  Adopt(r, "pipe");
  Adopt(w, "pipe");
  const auto [s0, s1] = sim_.SocketPair();
  Adopt(s0, "socketpair");
  Adopt(s1, "socketpair");
  Adopt(sim_.Listen(kPort), "listen");
  for (uint32_t i = 0; i < program.size(); ++i) {
    Exec(program[i]);
    DrainEvents();
    checker_.OnPending(engine_.PendingRequests());
    if (!checker_.ok()) return Result(i);
  }
  Drain();
  return Result(uint32_t(program.size()));
}

RunResult Runner::Result(uint32_t at) {
  RunResult out;
  out.ok = checker_.ok();
  if (!out.ok) out.violation = checker_.violation();
  out.failed_at = at;
  out.trace_hash = sim_.trace().Hash();
  out.records = sim_.trace().size();
  out.ops = checker_.ops();
  out.faults = sim_.stats().faults;
  const sim::SimStats& st = sim_.stats();
  out.tags["cancel_raced_completion"] = st.cancel_races;
  out.tags["cancel_ealready"] = st.cancels_ealready;
  out.tags["chain_aborted_midway"] = checker_.chains_aborted_midway();
  out.tags["close_with_ops_in_flight"] = checker_.close_with_ops_in_flight();
  out.tags["fd_reused"] = st.fds_reused;
  out.tags["cq_overflow"] = st.cq_overflows;
  out.tags["link_timeout_fired"] = st.link_timeouts_fired;
  out.tags["link_timeout_lost_race"] = st.link_timeouts_lost;
  out.tags["bytes_lost_on_cancel"] = st.bytes_lost_on_cancel;
  out.tags["fd_from_cancelled_op"] = st.fds_from_cancelled;
  out.tags["stuck_op_unblocked"] = st.unblocked_by_shutdown;
  out.tags["duplicate_cqe"] = st.duplicates_delivered;
  out.tags["stale_cqe_rejected"] = st.late_cqes_delivered;
  out.tags["waited_for_room"] = checker_.queue_waits();
  out.tags["expired_before_start"] = checker_.expired_unstarted();
  out.tags["submit_busy"] = st.busy_refusals;
  out.tags["eintr_retried"] = engine_.stats().eintr_retries;
  out.tags["shutdown_sent"] = engine_.stats().shutdowns_sent;
  out.tags["timed_out"] = checker_.timed_out();
  out.tags["fd_made_during_close"] = deferred_adoptions_;
  if (options_.keep_trace) {
    out.trace_tail = sim_.trace().Tail(40);
    out.trace = std::make_shared<sim::Trace>(sim_.trace());
  }
  return out;
}

// --- Commands ----------------------------------------------------------------------------

void Runner::Exec(const Command& c) {
  switch (c.Kind()) {
    case CommandKind::kPoll:
      Poll(false);
      return;
    case CommandKind::kStep:
      sim_.Step(engine_);
      return;
    case CommandKind::kWait:
      Poll(true);
      return;
    case CommandKind::kSubmit:
      Submit(c);
      return;
    case CommandKind::kChain:
      Chain(c);
      return;
    case CommandKind::kCancel:
      Cancel(c, /*ended=*/false);
      return;
    case CommandKind::kRecancel:
      Cancel(c, /*ended=*/true);
      return;
    case CommandKind::kClose:
      Close(c);
      return;
    case CommandKind::kAdvance:
      Advance(c);
      return;
    case CommandKind::kOpen:
      Open(c);
      return;
    case CommandKind::kPeer:
      Peer(c);
      return;
    case CommandKind::kSettle:
      Settle();
      return;
    case CommandKind::kShutdown:
      engine_.Shutdown();
      checker_.OnShutdown();
      sim_.Record(sim::TraceRecord{.type = sim::TraceType::kShutdown});
      return;
  }
}

void Runner::Poll(bool wait) {
  const absl::Status s = sim_.Poll(engine_, wait);
  // A wait with nothing that can ever move is legal mid-program (a real loop
  // would block): only other errors are failures. The drain checks deadlocks.
  if (!s.ok() && s.code() != absl::StatusCode::kFailedPrecondition) {
    checker_.Fail(std::string(s.message()));
  }
}

void Runner::DrainEvents() {
  while (std::optional<Event> e = engine_.PollEvent()) OnEvent(*e);
}

void Runner::OnEvent(const Event& e) {
  sim::TraceRecord r;
  r.type = sim::TraceType::kEvent;
  r.aux = e.tag;
  r.res = e.res;
  r.flags = e.flags;
  r.fd = e.fd;
  r.op_kind = static_cast<uint8_t>(e.kind);
  r.detail = e.more ? 0 : 1;
  sim_.Record(r);
  checker_.OnEvent(e, engine_.Now(), sim_.NowNs());
  const bool fd_result =
      e.kind == OpKind::kAccept || e.kind == OpKind::kOpenat || e.kind == OpKind::kSocket;
  if (fd_result && e.res >= 0) {
    Adopt(e.res, OpName(e.kind).data());
    if (draining_) CloseFd(e.res);
  }
  if (e.more) return;
  if (e.kind == OpKind::kClose) {
    if (real_closes_.erase(e.tag) == 0) return;  // a refused second close
    std::erase(closing_, e.fd);
    if (std::erase(deferred_, e.fd) != 0) {
      Adopt(e.fd, "a direct open during a close");
      if (draining_) CloseFd(e.fd);
    }
    return;
  }
  auto it = lent_.find(e.tag);
  if (it == lent_.end()) return;
  std::memset(it->second->data, 0xee, kBufBytes);  // the user reuses it at once
  pool_.push_back(std::move(it->second));
  lent_.erase(it);
}

void Runner::AdoptDirect(int fd, const char* how) {
  // An fd made outside the loop can get a number whose CLOSE the kernel has
  // done but whose completion the engine has not seen yet: the engine still
  // calls that number closing (ops on it fail -EBADF). A careful user waits
  // for the close's event before handing the new fd to the loop.
  if (fd >= 0 && engine_.IsClosing(fd)) {
    deferred_.push_back(fd);
    ++deferred_adoptions_;
    return;
  }
  Adopt(fd, how);
}

void Runner::Adopt(int fd, const char* how) {
  if (fd < 0) return;
  if (!sim_.FdType(fd)) {
    checker_.Fail(absl::StrCat(how, " returned fd ", fd, ", which is not open in the kernel"));
  } else if (!known_.insert(fd).second) {
    checker_.Fail(absl::StrCat(how, " returned fd ", fd, ", which the user already holds"));
  }
}

Buf* Runner::TakeBuf(uint64_t tag) {
  std::unique_ptr<Buf> b;
  if (pool_.empty()) {
    b = std::make_unique<Buf>();
  } else {
    b = std::move(pool_.back());
    pool_.pop_back();
  }
  Buf* raw = b.get();
  lent_[tag] = std::move(b);
  return raw;
}

void Runner::RecordSubmit(uint64_t tag, const SubmitArgs& args) {
  sim::TraceRecord r;
  r.type = sim::TraceType::kSubmit;
  r.aux = tag;
  r.fd = FdOf(args.op);
  r.op_kind = static_cast<uint8_t>(KindOf(args.op));
  sim_.Record(r);
}

int Runner::NthFd(uint32_t n) const {
  auto it = known_.begin();
  std::advance(it, n % known_.size());
  return *it;
}

uint64_t Runner::Deadline(uint32_t c) const {
  return engine_.Now() + uint64_t((c >> 8) & 0xff) * 1000;
}

void Runner::Submit(const Command& c) {
  const uint64_t tag = next_tag_++;
  SubmitArgs args;
  bool on_closing = false;
  if (!MakeOp(c.a, c.b, c.c, &args, TakeBuf(tag), &on_closing)) {
    lent_.erase(tag);
    --next_tag_;
    return;
  }
  args.tag = tag;
  RecordSubmit(tag, args);
  const OpId id = engine_.Submit(args);
  checker_.OnSubmit(tag, id, args, -1, 0);
  DrainEvents();
  if (on_closing) checker_.CheckImmediate(tag, -EBADF, "submitted on a closing fd");
}

void Runner::Chain(const Command& c) {
  const size_t n = 2 + c.a % 3;
  std::vector<SubmitArgs> args(n);
  std::vector<uint64_t> tags(n);
  for (size_t i = 0; i < n; ++i) {
    tags[i] = next_tag_++;
    bool on_closing = false;
    const uint32_t ci = (c.c >> (i * 5)) | (c.c << (32 - i * 5 - 1) << 1);
    // Members act on neighbouring fds, so write-then-read chains are common.
    if (!MakeOp(uint8_t(c.a + 7 * i) & 0x7f, uint16_t(c.b + 5 * i), ci, &args[i], TakeBuf(tags[i]),
                &on_closing)) {
      args[i].op = Nop{};
    }
    args[i].tag = tags[i];
    RecordSubmit(tags[i], args[i]);
  }
  std::vector<OpId> ids(n);
  engine_.SubmitChain(std::span<SubmitArgs>(args), std::span<OpId>(ids));
  const int chain = next_chain_++;
  for (size_t i = 0; i < n; ++i) checker_.OnSubmit(tags[i], ids[i], args[i], chain, int(i));
  // A chain refused whole at submission ends at once: its failing member gets
  // the error and the others -ECANCELED, with no order to check.
  std::vector<Event> events;
  while (std::optional<Event> e = engine_.PollEvent()) events.push_back(*e);
  size_t finals = 0;
  for (const Event& e : events) finals += !e.more && e.tag >= tags.front() ? 1 : 0;
  if (finals == n) checker_.SkipChain(chain);
  for (const Event& e : events) OnEvent(e);
}

// MakeOp: an op from template `a` on the fd picked by `b`, with parameters
// `c`. Sets *on_closing when the op targets an fd whose close is in progress.
bool Runner::MakeOp(uint8_t a, uint16_t b, uint32_t c, SubmitArgs* args, Buf* buf,
                    bool* on_closing) {
  std::memset(buf->data, int(a), kBufBytes);
  if ((a & 0x80) != 0 && !closing_.empty()) {
    const int fd = closing_[b % closing_.size()];
    *on_closing = true;
    args->op = Read{fd, buf->data, 1 + (c & 31)};
    return true;
  }
  if (known_.empty() || b % 5 == 0) {
    MakePathOp(a, c, args, buf);
  } else {
    const int fd = NthFd(b / 5);
    const std::optional<sim::FileType> type = sim_.FdType(fd);
    if (!type) return false;
    MakeFdOp(*type, fd, a, c, args, buf);
  }
  if (((c >> 5) & 7) >= 5 && !IsMultishot(args->op) && KindOf(args->op) != OpKind::kTimeout) {
    args->deadline_ns = Deadline(c);
  }
  return true;
}

void Runner::MakeFdOp(sim::FileType type, int fd, uint8_t a, uint32_t c, SubmitArgs* args,
                      Buf* buf) {
  const uint32_t len = 1 + (c & 31);
  const uint64_t offset = (c >> 16) & 1 ? (c >> 17) & 15 : kCurrentPosition;
  buf->iov[0] = iovec{buf->data, len / 2 + 1};
  buf->iov[1] = iovec{buf->data + 48, len / 2};
  using sim::FileType;
  switch (type) {
    case FileType::kPipeRead: {
      const Op ops[] = {Read{fd, buf->data, len}, Readv{fd, buf->iov, 2}, PollAdd{fd, POLLIN},
                        Read{fd, buf->data, 64}};
      args->op = ops[a % 4];
      return;
    }
    case FileType::kPipeWrite: {
      const Op ops[] = {Write{fd, buf->data, len}, Writev{fd, buf->iov, 2}, PollAdd{fd, POLLOUT}};
      args->op = ops[a % 3];
      return;
    }
    case FileType::kSocket: {
      buf->addr = sockaddr_in{};
      buf->addr.sin_family = AF_INET;
      buf->addr.sin_port = htons(kPort + (c >> 20) % 2);
      buf->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      buf->addrlen = sizeof(buf->addr);
      const Op ops[] = {
          Recv{fd, buf->data, len},
          Send{fd, buf->data, len, MSG_NOSIGNAL},
          Read{fd, buf->data, len},
          Write{fd, buf->data, len},
          Accept{fd, nullptr, nullptr, SOCK_CLOEXEC, false},
          Accept{fd, reinterpret_cast<sockaddr*>(&buf->addr), &buf->addrlen, SOCK_CLOEXEC, true},
          Connect{fd, reinterpret_cast<const sockaddr*>(&buf->addr), buf->addrlen},
          PollAdd{fd, POLLIN},
          Shutdown{fd, int((c >> 21) % 3)},
          Recv{fd, buf->data, len, MSG_WAITALL},
      };
      args->op = ops[a % 10];
      const OpKind k = KindOf(args->op);
      if (!options_.socket_read_write &&
          (k == OpKind::kRead || k == OpKind::kWrite || k == OpKind::kPollAdd)) {
        args->op = Recv{fd, buf->data, len};
      }
      return;
    }
    case FileType::kRegular: {
      const Op ops[] = {Read{fd, buf->data, len, offset}, Write{fd, buf->data, len, offset},
                        Fsync{fd, bool(c & 1)},
                        Statx{fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &buf->stx},
                        Readv{fd, buf->iov, 2, offset}};
      args->op = ops[a % 5];
      return;
    }
    case FileType::kDirectory: {
      buf->path = "f1";
      const Op ops[] = {Openat{fd, buf->path.c_str(), O_RDWR | O_CREAT, 0644},
                        Statx{fd, buf->path.c_str(), 0, STATX_BASIC_STATS, &buf->stx},
                        Read{fd, buf->data, len}};
      args->op = ops[a % 3];
      return;
    }
    case FileType::kEventfd: {
      const uint64_t one = 1 + c % 3;
      std::memcpy(buf->data, &one, 8);
      const Op ops[] = {Read{fd, buf->data, 8}, Write{fd, buf->data, 8}, PollAdd{fd, POLLIN}};
      args->op = ops[a % 3];
      return;
    }
  }
}

void Runner::MakePathOp(uint8_t a, uint32_t c, SubmitArgs* args, Buf* buf) {
  buf->path = kPaths[(c >> 20) % 5];
  buf->path2 = kPaths[(c >> 23) % 5];
  static constexpr int kFlags[] = {O_RDONLY, O_RDWR | O_CREAT, O_WRONLY | O_CREAT | O_TRUNC,
                                   O_RDWR | O_CREAT | O_EXCL, O_RDONLY | O_DIRECTORY};
  const char* p = buf->path.c_str();
  switch (a % 8) {
    case 0:
      args->op = Nop{};
      return;
    case 1:
      args->op = Timeout{Deadline(c)};
      return;
    case 2:
      args->op = Openat{AT_FDCWD, p, kFlags[(c >> 26) % 5] | O_CLOEXEC, 0644};
      return;
    case 3:
      args->op = Statx{AT_FDCWD, p, 0, STATX_BASIC_STATS, &buf->stx};
      return;
    case 4:
      args->op = Unlinkat{AT_FDCWD, p, (c & 1) ? AT_REMOVEDIR : 0};
      return;
    case 5:
      args->op = Mkdirat{AT_FDCWD, p, 0755};
      return;
    case 6:
      args->op = Renameat{AT_FDCWD, p, AT_FDCWD, buf->path2.c_str(), 0};
      return;
    default:
      args->op = ringloop::Socket{};
      return;
  }
}

void Runner::Cancel(const Command& c, bool ended) {
  const std::vector<uint64_t> tags = ended ? checker_.EndedTags() : checker_.LiveTags();
  if (tags.empty()) return;
  const uint64_t tag = tags[c.b % tags.size()];
  checker_.OnPending(engine_.PendingRequests());
  const bool started = checker_.Started(tag);
  const bool live = engine_.Cancel(checker_.IdOf(tag));
  sim::TraceRecord r;
  r.type = sim::TraceType::kCancel;
  r.aux = tag;
  r.res = live ? 1 : 0;
  sim_.Record(r);
  checker_.OnCancel(tag, live);
  if (!live || started) return;
  // Not handed to the driver yet (waiting for room, a chain link not started,
  // a timer): it ends at once, and so do the chain links after it.
  DrainEvents();
  checker_.CheckImmediate(tag, -ECANCELED, "cancelled before it reached the driver");
  checker_.CheckRestOfChainEnded(tag);
}

void Runner::Close(const Command& c) {
  if ((c.a & 0x40) != 0 && !closing_.empty()) {  // closing twice: -EBADF at once
    const int fd = closing_[c.b % closing_.size()];
    const uint64_t tag = next_tag_++;
    const OpId id = engine_.Close(fd, tag);
    checker_.OnClose(tag, id, fd);
    DrainEvents();
    checker_.CheckImmediate(tag, -EBADF, "closing an fd already closing");
    return;
  }
  if (known_.empty()) return;
  CloseFd(NthFd(c.b));
}

void Runner::CloseFd(int fd) {
  known_.erase(fd);
  closing_.push_back(fd);
  const uint64_t tag = next_tag_++;
  sim::TraceRecord r;
  r.type = sim::TraceType::kClose;
  r.aux = tag;
  r.fd = fd;
  sim_.Record(r);
  real_closes_.insert(tag);
  DrainEvents();  // (nested in an event's handling, during the drain: the rest first)
  checker_.OnPending(engine_.PendingRequests());
  const std::vector<uint64_t> unstarted = checker_.UnstartedOnFd(fd);
  const OpId id = engine_.Close(fd, tag);
  checker_.OnClose(tag, id, fd);
  if (unstarted.empty()) return;
  // Ops on fd not handed to the driver yet end at once, never reaching the
  // kernel, and so do the chain links after them.
  DrainEvents();
  for (const uint64_t t : unstarted) {
    checker_.CheckImmediate(t, -ECANCELED, "on an fd being closed before it reached the driver");
    checker_.CheckRestOfChainEnded(t);
  }
}

void Runner::Advance(const Command& c) {
  const uint64_t now = sim_.NowNs();
  std::optional<uint64_t> target;
  switch (c.a % 4) {
    case 0:
      target = now + 1000 * (1 + c.c % 100);
      break;
    case 1:
    case 2:
      // Just before the deadline, or at it (a deadline of 0 has no "before").
      if (const auto d = engine_.NextDeadline()) target = *d - (c.a % 4 == 1 && *d > 0 ? 1 : 0);
      break;
    case 3:
      if (const auto d = sim_.NextTimer()) target = *d - ((c.c & 1) && *d > 0 ? 1 : 0);
      break;
  }
  if (target && *target > now) sim_.AdvanceClock(*target - now);
}

void Runner::Open(const Command& c) {
  const uint16_t port = kPort + c.b % 2;
  switch (c.a % 7) {
    case 0:
    case 6: {
      const auto [r, w] = sim_.Pipe(1 + c.c % 32, c.a % 7 == 6);
      AdoptDirect(r, "pipe");
      AdoptDirect(w, "pipe");
      return;
    }
    case 1: {
      const auto [s0, s1] = sim_.SocketPair();
      AdoptDirect(s0, "socketpair");
      AdoptDirect(s1, "socketpair");
      return;
    }
    case 2:
      AdoptDirect(sim_.EventFd(c.c % 3, (c.c >> 2) & 1), "eventfd");
      return;
    case 3:
      AdoptDirect(sim_.Listen(port), "listen");
      return;
    case 4:
      AdoptDirect(sim_.ConnectTo(port), "connect");
      return;
    default:
      AdoptDirect(sim_.Open(kPaths[c.c % 5], O_RDWR | O_CREAT), "open");
      return;
  }
}

void Runner::Peer(const Command& c) {
  if (known_.empty()) return;
  const int fd = NthFd(c.b);
  const std::optional<sim::FileType> type = sim_.FdType(fd);
  if (!type) return;
  const bool write = *type == sim::FileType::kPipeWrite || *type == sim::FileType::kEventfd ||
                     (*type == sim::FileType::kSocket && (c.a & 1) != 0);
  if (write) {
    uint64_t one = 1;
    const std::string data = *type == sim::FileType::kEventfd
                                 ? std::string(reinterpret_cast<char*>(&one), 8)
                                 : std::string(1 + c.c % 16, char('a' + c.a % 26));
    (void)sim_.WriteFd(fd, data);
  } else if (*type == sim::FileType::kPipeRead || *type == sim::FileType::kSocket) {
    std::string out;
    (void)sim_.ReadFd(fd, &out, 1 + c.c % 16);
  }
}

void Runner::Settle() {
  for (int i = 0; i < 256; ++i) {
    const uint64_t before = sim_.trace().size();
    Poll(false);
    DrainEvents();
    checker_.OnPending(engine_.PendingRequests());
    if (sim_.trace().size() != before) continue;
    if (engine_.PendingRequests().empty() && sim_.PendingCqes() == 0) {
      checker_.CheckDeadlines(engine_.Now());
    }
    return;
  }
}

void Runner::Drain() {
  draining_ = true;
  sim_.SetFaults(sim::FaultPlan{});
  bool shutdown_first = options_.drain == RunOptions::Drain::kShutdownFirst;
  if (options_.drain == RunOptions::Drain::kChosen) shutdown_first = chooser_->Choose(2) == 1;
  if (shutdown_first) {
    engine_.Shutdown();
    checker_.OnShutdown();
    sim_.Record(sim::TraceRecord{.type = sim::TraceType::kShutdown});
  }
  while (!known_.empty()) CloseFd(*known_.begin());
  DrainEvents();
  for (uint32_t i = 0; i < options_.drain_polls && checker_.ok(); ++i) {
    if (engine_.Quiescent() && sim_.Idle() && known_.empty()) break;
    const absl::Status s = sim_.Poll(engine_, /*wait=*/true);
    DrainEvents();
    checker_.OnPending(engine_.PendingRequests());
    if (!s.ok()) {
      checker_.Fail(absl::StrCat("after faults stopped and every fd was closed: ", s.message()));
    }
  }
  if (!checker_.ok()) return;
  if (!(engine_.Quiescent() && sim_.Idle())) {
    checker_.Fail(absl::StrCat("no quiescence within ", options_.drain_polls,
                               " polls after faults stopped (live ops: ", engine_.LiveOps(),
                               ", kernel requests: ", sim_.InFlight(), ")"));
    return;
  }
  checker_.CheckDeadlines(engine_.Now());
  checker_.CheckQuiescent(engine_, sim_);
}

}  // namespace

RunResult RunProgram(const Program& program, const RunOptions& options) {
  Runner runner(options);
  return runner.Run(program);
}

void ApplyKnownGapsFromEnv(RunOptions& options) {
  const char* v = std::getenv("RINGLOOP_PROP_AVOID_KNOWN_GAPS");
  if (v == nullptr || std::string(v) != "1") return;
  options.socket_read_write = false;
}

std::string HexHash(uint64_t hash) { return absl::StrFormat("%016x", hash); }

}  // namespace ringloop::prop
