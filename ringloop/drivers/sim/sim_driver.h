// ringloop/drivers/sim/sim_driver.h: a simulated Linux behind the Driver contract.
//
// SimDriver is not an io_uring emulator: it is another implementation of the
// Driver interface (ringloop/drivers/driver.h), over a simulated machine (Kernel: fds,
// pipes, socket pairs, TCP on a virtual network, eventfds, in-memory files)
// with a virtual clock. Every choice Linux may make differently from run to
// run is a Chooser draw, so a run is a pure function of the seed (or tape):
//   - which in-flight request moves next, and when CQEs are reaped;
//   - how a cancel races its target: target -ECANCELED or -EINTR or its real
//     result; the cancel 0, -ENOENT or -EALREADY (never for a PollAdd or a
//     multishot op: the kernel runs those from a poll, which a cancel always
//     finds); the two CQEs in either order;
//   - a linked timeout against its op: -ETIME and the op -ECANCELED/-EINTR, or
//     the op wins and the timeout gets -ECANCELED;
//   - faults, each with a per-seed probability (faults.h).
// Hazards are modelled, not smoothed over: close(fd) drops only the fd's
// reference, so a read blocked on it keeps blocking; the number is reused by
// the next open; a cancelled accept or openat may still return an fd; a
// cancelled read may already have consumed bytes; after -EALREADY a blocked
// socket op stays blocked until data or shutdown(2), other ops end later.
// The engine plays chains itself: the only link it hands over (Request.link)
// is an op followed by its linked timeout.
//
// Processes (sim_process.cc): several programs may share the machine, each a
// process number. The caller says which process each op belongs to
// (SetOpProcess); fds, sockets and file writes belong to the process of the
// op that made them. A process can crash (CrashProcess: its ops in the kernel
// end, its fds are closed as exit(2) closes them, its unsynced file data is
// lost), the network between two processes can be cut and healed, and every
// fd still open can be listed with what opened it.
//
// Call order: the Driver contract (one thread). Step() and the sim-side API
// (Pipe, SocketPair, Listen, ...: what another process or the test itself
// does directly) may be interleaved freely with Poll from the same thread.
// Wake() is the only thread-safe call.
#ifndef RINGLOOP_DRIVERS_SIM_SIM_DRIVER_H_
#define RINGLOOP_DRIVERS_SIM_SIM_DRIVER_H_

#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "ringloop/core/engine.h"
#include "ringloop/drivers/driver.h"
#include "ringloop/drivers/sim/chooser.h"
#include "ringloop/drivers/sim/faults.h"
#include "ringloop/drivers/sim/kernel.h"
#include "ringloop/drivers/sim/sim_options.h"
#include "ringloop/drivers/sim/trace.h"

namespace ringloop::sim {

// SimStats: counters, mostly for tests and for tagging racy paths.
struct SimStats {
  uint64_t moves = 0;     // kernel-side moves made by Step
  uint64_t requests = 0;  // requests taken from the engine
  uint64_t cqes_posted = 0;
  uint64_t cqes_delivered = 0;
  uint64_t cqes_rejected = 0;      // HandleCompletion said no
  uint64_t busy_refusals = 0;      // submissions refused with -EBUSY
  uint64_t cq_overflows = 0;       // CQEs that went to the overflow list
  uint64_t faults = 0;             // faults injected (all kinds)
  uint64_t faults_suppressed = 0;  // faults the fault_filter said no to
  uint64_t crashes = 0;            // CrashProcess calls
  uint64_t writes_lost = 0;        // file writes lost to crashes
  uint64_t cancels_ok = 0;         // cancel found its target: 0
  uint64_t cancels_enoent = 0;
  uint64_t cancels_ealready = 0;
  uint64_t cancel_races = 0;          // target completed with its real result around its cancel
  uint64_t bytes_lost_on_cancel = 0;  // cancelled reads that had consumed bytes
  uint64_t fds_from_cancelled = 0;    // cancelled accept/openat that still returned an fd
  uint64_t link_timeouts_fired = 0;
  uint64_t link_timeouts_lost = 0;  // op won the race against its due timeout
  uint64_t fds_reused = 0;          // fd numbers handed out again
  uint64_t duplicates_delivered = 0;
  uint64_t late_cqes_delivered = 0;    // old final CQEs aimed at a slot reused since
  uint64_t unblocked_by_shutdown = 0;  // stuck socket ops ended by shutdown(2)
};

class SimDriver final : public Driver {
 public:
  explicit SimDriver(SimOptions options = {});
  ~SimDriver() override;
  SimDriver(const SimDriver&) = delete;
  SimDriver& operator=(const SimDriver&) = delete;

  // --- Driver --------------------------------------------------------------
  std::string_view Name() const override { return "sim"; }
  // Poll: takes pending requests (up to sq_entries, an op with its linked
  // timeout; -EBUSY may refuse them), then Steps until a batch of CQEs was
  // delivered or nothing can move. With `wait`, if nothing was delivered, advances virtual time to
  // the next timer (the engine's NextDeadline, a linked timeout, a network segment) and goes on.
  // Calls engine.AdvanceTime(NowNs()) last. Returns FailedPrecondition if it must wait but nothing
  // can ever move again while the engine still waits for completions (a deadlock).
  absl::Status Poll(Engine& engine, bool wait) override;
  void Wake() override { woken_.store(true, std::memory_order_relaxed); }
  uint64_t NowNs() const override { return kernel_.now_ns(); }

  // --- Kernel-side moves ------------------------------------------------------
  // Step: one kernel-side move (fire due timers, complete a ready request,
  // process a cancel, or reap the CQ into `engine`), chosen by the Chooser.
  // Returns whether anything moved.
  bool Step(Engine& engine);
  // TakeRequests: the submission half of Poll alone (io_uring_enter without
  // waiting); returns how many requests were taken.
  size_t TakeRequests(Engine& engine);
  // AdvanceClock: lets `ns` of virtual time pass (firing due linked timeouts
  // and delivering network segments); the engine hears of it at the next Poll.
  void AdvanceClock(uint64_t ns);

  // --- Sim-side API: what the test or another process does directly ------
  std::pair<int, int> Pipe(std::optional<uint32_t> capacity = std::nullopt, bool nonblock = false);
  std::pair<int, int> SocketPair();
  int EventFd(uint64_t initval = 0, bool nonblock = false);
  // Listen: a TCP socket listening on `port`: its fd, or -errno.
  int Listen(uint16_t port, int backlog = 128);
  // ConnectTo: a TCP socket whose connect to `port` has started: its fd, or
  // -errno. The handshake takes a round trip of virtual time.
  int ConnectTo(uint16_t port);
  // Open: openat(AT_FDCWD, path, flags, mode): an fd or -errno.
  int Open(std::string_view path, int flags, mode_t mode = 0644);
  // CloseFd / WriteFd / ReadFd: close(2), and nonblocking write(2)/read(2)
  // (-EAGAIN when they would block). CloseFd is also how a test closes an fd the
  // loop uses behind its back (a library, an error path): the number is freed at
  // once and the next object made takes the lowest free number, as on Linux; a
  // request already in the kernel on that fd keeps the old file (a blocked read
  // waits for the old file's data, never the new one's), while requests issued
  // later (a chain member that had not started included) act on the new file.
  int CloseFd(int fd);
  // ResetFd: close(2) after setsockopt(SO_LINGER, {1, 0}): a connected TCP
  // socket aborts its connection (the peer sees ECONNRESET); any other fd is
  // just closed.
  int ResetFd(int fd);
  int64_t WriteFd(int fd, std::string_view data);
  int64_t ReadFd(int fd, std::string* out, uint32_t max);
  // FdType: what `fd` refers to, if it is open.
  std::optional<FileType> FdType(int fd) const;
  std::vector<int> OpenFds() const { return kernel_.OpenFds(); }

  // --- Introspection ---------------------------------------------------------
  // InFlight: requests taken and not finished (their final CQE not posted).
  size_t InFlight() const { return inflight_.size(); }
  // Idle: nothing in flight and no CQE waiting to be delivered.
  bool Idle() const { return inflight_.empty() && cq_.empty() && overflow_.empty(); }
  size_t PendingCqes() const { return cq_.size() + overflow_.size(); }
  // DescribeInFlight: one bracketed item per request in flight, for messages.
  std::string DescribeInFlight() const;
  // NextTimer: the earliest armed linked timeout or network arrival.
  std::optional<uint64_t> NextTimer() const;

  // --- Processes, partitions and faults decided outside (sim_process.cc) ------
  // SetOpProcess: op `id`'s requests belong to `process` (0: the default).
  // Called right after the engine accepted the op, before its requests are
  // taken; the latest call for a slot wins.
  void SetOpProcess(OpId id, uint32_t process);
  // set_current_process: what the sim-side API calls (Pipe, Listen, Open,
  // WriteFd, ...) made from now on belong to.
  void set_current_process(uint32_t process) {
    api_process_ = process;
    kernel_.set_current_process(process);
  }
  // FdProcess: the process fd `fd` belongs to (0 when it is not open).
  uint32_t FdProcess(int fd) const { return kernel_.FdProcess(fd); }
  // CrashProcess: `process` dies as a program does when the machine under it
  // fails: its requests in the kernel end -ECANCELED (as a ring torn down
  // cancels them), its fds are closed as exit(2) closes them (peers see FIN,
  // or RST with unread data), though their numbers stay taken until closed
  // again (CloseFd, or the loop's Close: the dead program's cleanup, or
  // ReapExited), and of the file writes it made since their file's last fsync
  // a chosen prefix survives. Later requests of `process` fail -EBADF without
  // effect, except closes. Returns the numbers left exited.
  std::vector<int> CrashProcess(uint32_t process);
  // ReapExited: frees every number CrashProcess left for `process` that no
  // request in flight names; returns how many.
  size_t ReapExited(uint32_t process);
  bool ProcessCrashed(uint32_t process) const { return crashed_.contains(process); }
  // Partition / Heal: cut the network between two processes (Kernel::Cut)
  // and mend every cut.
  void Partition(uint32_t a, uint32_t b) { kernel_.Cut(a, b); }
  void Heal() { kernel_.Heal(); }
  bool partitioned() const { return kernel_.partitioned(); }
  // InjectFault: whether fault `f` strikes now, drawn at the plan's rate for
  // it (and subject to fault_filter): for faults the kernel does not decide
  // itself (crashes, partitions). Recorded in the trace with `fd`, and with
  // `subject` as the record's user_data (what the fault strikes: for a crash
  // the process, for a partition the two processes as a << 32 | b).
  bool InjectFault(Fault f, int fd = -1, uint64_t subject = 0) { return Strike(f, subject, fd, 0); }
  // Buggify: whether the RINGLOOP_BUGGIFY() site `file`:`line` takes its rare
  // branch now. A site is enabled or not for the whole run (a coin flip at
  // its first evaluation); an enabled one strikes at the buggify fault rate.
  // Never, when that rate is 0.
  bool Buggify(const char* file, int line);
  // BuggifySite: "file:line" of the site a kBuggify fault record names.
  std::string BuggifySite(uint64_t site) const;
  // ChooseFault: a number in [0, n) from the fault stream (for the details of
  // a fault the caller decided: which program, for how long).
  uint32_t ChooseFault(uint32_t n) { return fault_chooser_->Choose(n); }

  // --- Socket calls that are not ops (sim_process.cc) ----------------------------
  // SocketName: getsockname(2) (peer: getpeername(2)) of `fd`: 0 or -errno.
  // Every socket is on the loopback address of its family.
  int SocketName(int fd, bool peer, sockaddr_storage* addr, socklen_t* len) const;
  // SetSockOpt: setsockopt(2): checked (-EBADF, -ENOTSOCK, -EINVAL for a short
  // value, -ENOPROTOOPT for an unknown option) and accepted without effect for
  // SO_REUSEADDR, SO_REUSEPORT, SO_KEEPALIVE, SO_RCVBUF, SO_SNDBUF and
  // TCP_NODELAY (the virtual network neither waits for Nagle nor keeps
  // TIME_WAIT); a second listener on one port still fails -EADDRINUSE.
  int SetSockOpt(int fd, int level, int name, const void* value, socklen_t len);

  // --- Reports (sim_process.cc) -------------------------------------------
  // OpenFd: an fd number in use, and what made it.
  struct OpenFd {
    int fd = -1;
    FileType type = FileType::kRegular;
    bool exited = false;  // left by CrashProcess, not closed since
    uint32_t process = 0;
    std::string opened_by;  // "accept (fd 5)", "socket", "Pipe()", ...
    uint64_t opened_ns = 0;
  };
  // OpenFdReport: every fd number in use but 0, 1 and 2, lowest first.
  std::vector<OpenFd> OpenFdReport() const;
  // InFlightRequest: a request the kernel took and has not finished.
  struct InFlightRequest {
    uint64_t user_data = 0;
    std::string op;  // "recv", "cancel", ...
    int fd = -1;
    uint32_t process = 0;
    uint64_t since_ns = 0;  // when the kernel took it
    std::string state;      // "parked", "stuck after -EALREADY", ...
  };
  // InFlightReport: the requests in flight, oldest first.
  std::vector<InFlightRequest> InFlightReport() const;

  void SetFaults(const FaultPlan& plan) { options_.faults = plan; }
  const FaultPlan& faults() const { return options_.faults; }
  const SimStats& stats() const { return stats_; }
  const SimOptions& options() const { return options_; }
  Trace& trace() { return trace_; }
  const Trace& trace() const { return trace_; }
  // Record: appends a record made by the caller (engine inputs and user
  // events), stamped with the virtual time, and shows it to the listener.
  void Record(TraceRecord record);
  // set_listener: called with every trace record as it is made (checkers).
  void set_listener(std::function<void(const TraceRecord&)> fn) { listener_ = std::move(fn); }
  Chooser& chooser() { return *chooser_; }

 public:
  // KReq: a request inside the simulated ring (ringloop/drivers/sim/internal/kreq.h).
  struct KReq;

 private:
  struct Cqe {
    uint64_t user_data;
    int32_t res;
    uint32_t flags;
    int fd;
    uint8_t op_kind;
  };
  enum class MoveKind : uint8_t { kComplete, kCancel, kDeliver };
  // ApiCall: names the sim-side call running (for OpenFdReport).
  class ApiCall;
  struct Move {
    MoveKind kind;
    KReq* req;
    friend bool operator==(const Move&, const Move&) = default;
  };

  // Requests (sim_driver.cc).
  KReq* Take(const Request& r);
  void Issue(KReq* r);
  void Retire(KReq* r);
  KReq* Find(uint64_t user_data) const;
  std::vector<Move> ScanMoves() const;
  bool Movable(const KReq& r) const;
  void Reevaluate(KReq* r);
  void UpdateMovable();
  void Forget(KReq* r);
  bool FireDue();
  void FireTimeout(KReq* lt);
  void ProcessCancel(KReq* c);
  void CancelTarget(KReq* c, KReq* t);
  void FinishOp(KReq* r, int32_t res, uint32_t flags, int overflow);
  void PostCqe(const KReq& r, int32_t res, uint32_t flags, bool overflow);
  bool Overflows();
  void FlushOverflow();
  void Deliver(Engine& engine);
  const Cqe* LateCqe() const;
  void SetClock(uint64_t now_ns);
  bool Inject(Fault f, const KReq* r);
  bool Strike(Fault f, uint64_t user_data, int fd, uint8_t op_kind);
  void OnFd(int fd, bool open);
  std::string OpenerName() const;

  // Op execution (sim_exec.cc).
  struct Outcome {
    int32_t res = 0;
    uint32_t flags = 0;
    bool more = false;  // a multishot op stays armed
  };
  bool Ready(const KReq& r) const;
  void Complete(KReq* r);
  Outcome Execute(KReq& r);
  int32_t ExecuteIo(KReq& r);
  int32_t ExecuteAccept(KReq& r);
  int32_t ExecutePath(KReq& r);
  int32_t ExecuteSocketCall(KReq& r);
  void StartConnect(KReq& r);
  int32_t ResolveDir(int dirfd, uint32_t* inode) const;
  bool CanConsumeOnCancel(const KReq& t) const;
  void ConsumeOnCancel(KReq& t);

  SimOptions options_;
  std::unique_ptr<Chooser> own_chooser_;
  Chooser* chooser_;
  std::unique_ptr<Chooser> own_fault_chooser_;
  Chooser* fault_chooser_;  // chooser_ unless options_.fault_seed
  Kernel kernel_;
  Trace trace_;
  SimStats stats_;
  std::function<void(const TraceRecord&)> listener_;
  // inflight_: by take order (seq), so that retiring one is not a scan.
  std::map<uint64_t, std::unique_ptr<KReq>> inflight_;
  absl::flat_hash_map<uint64_t, KReq*> ops_by_user_data_;  // the kOp requests in it
  uint64_t link_timeouts_ = 0;                             // kLinkTimeout requests in inflight_
  // The moves Step chooses from, kept up to date instead of found by a scan of
  // every request at every step (a scan made 10,000 parked ops quadratic):
  // movable_ holds the requests that can move now, in take order (the order a
  // scan of inflight_ finds them in); an op's movability changes only with its
  // own state or its object's (Kernel::TakeTouched), so only those requests
  // are looked at again: waiting_on_ (object key -> op requests on it) and
  // dirty_ (requests whose own state changed).
  std::vector<KReq*> movable_;
  absl::flat_hash_map<uint64_t, std::vector<KReq*>> waiting_on_;
  std::vector<KReq*> dirty_;
  std::vector<uint64_t> touched_;  // UpdateMovable's buffer
  // For late CQEs (the duplicate fault): the last final CQEs delivered, and
  // the engine slots (index -> generation, requests) requests in flight name.
  std::deque<Cqe> recent_finals_;
  absl::flat_hash_map<uint32_t, std::pair<uint32_t, uint32_t>> slots_in_flight_;
  uint64_t next_seq_ = 0;
  std::deque<Cqe> cq_;
  std::deque<Cqe> overflow_;
  absl::flat_hash_set<uint64_t> finished_;  // user_data whose final CQE was posted
  uint64_t delivered_batches_ = 0;
  std::atomic<bool> woken_{false};
  // Processes (sim_process.cc): the process of each engine slot's current
  // op (index -> generation, process), the crashed ones, and the fds they left.
  absl::flat_hash_map<uint32_t, std::pair<uint32_t, uint32_t>> op_process_;
  absl::flat_hash_set<uint32_t> crashed_;
  std::map<uint32_t, std::vector<int>> exited_fds_;
  uint32_t api_process_ = 0;
  // What made each open fd: the request being executed (or the sim-side call).
  struct Opener {
    uint32_t process = 0;
    std::string what;
    uint64_t time_ns = 0;
  };
  std::map<int, Opener> openers_;
  const KReq* executing_ = nullptr;
  const char* api_call_ = nullptr;
  uint64_t fault_ordinal_ = 0;
  std::map<uint64_t, std::pair<bool, std::string>> buggify_sites_;  // key -> enabled, "file:line"
};

}  // namespace ringloop::sim

#endif  // RINGLOOP_DRIVERS_SIM_SIM_DRIVER_H_
