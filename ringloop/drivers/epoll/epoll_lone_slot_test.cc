// ringloop/drivers/epoll/epoll_lone_slot_test.cc: the lone-op fast path of the
// epoll driver gives the same outputs as the general one.
//
// A lone op (a Read, Recv, Write or Send without deadline on a known pollable
// fd) is started by StartLone and, if it would block, parked in its fd's
// inline slot (FdState::lone) instead of a Job (internal/hot_path.h). Here two
// Engine + EpollDriver pairs, one with the lone slots and one with
// Options::lone_slots off (every op a Job), each with its own identical set of
// fds (AF_UNIX stream socketpairs and pipes with small buffers, so that writes
// fill them), are driven by the same generated steps: ops submitted with and
// without deadlines, the test's own writes, reads, shutdowns and closes on the
// peer ends, cancels, closes through the engine, and non-blocking Polls. After
// every step both engines' events are drained and must be the same, in the
// same order (see ExpectSameEvents), as must what every op read and what the
// peers read of what the ops wrote. At the end every fd is closed through the
// engine and both must become quiescent within a bounded number of Polls.
//
// Readiness is made synchronously by the test (a write on a peer end wakes the
// epoll set before the write returns), nothing is threaded (file_workers = 0)
// and no deadline is reached (they are an hour away), so the two runs see the
// same kernel answers in the same order; any difference is the driver's.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "gtest/gtest.h"
#include "rapidcheck.h"
#include "rapidcheck/gtest.h"
#include "ringloop/core/engine.h"
#include "ringloop/core/generated_words.h"
#include "ringloop/drivers/epoll/epoll_driver.h"

namespace ringloop {
namespace {

using testing::Words;

// The fds of one run, by index: the driver's ends (`mine`) and the test's
// (`peer`). 0 and 1: AF_UNIX stream sockets; 2: a pipe's read end (the test
// writes its write end); 3: a pipe's write end (the test reads its read end).
constexpr int kFds = 4;
constexpr int kPipeIn = 2;
constexpr int kPipeOut = 3;

// kBufferBytes: socket and pipe buffers are made small, so that ops and the
// test fill them in a few steps.
constexpr int kBufferBytes = 4096;

struct Fds {
  int mine[kFds] = {-1, -1, -1, -1};
  int peer[kFds] = {-1, -1, -1, -1};
  // engine_closed: the engine's Close op closed mine[i] (its final event said 0).
  bool engine_closed[kFds] = {};

  Fds() {
    for (int i = 0; i < 2; ++i) {
      int sv[2];
      RC_ASSERT(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
      mine[i] = sv[0];
      peer[i] = sv[1];
      for (int fd : sv) {
        const int size = kBufferBytes;
        RC_ASSERT(::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size)) == 0);
        RC_ASSERT(::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)) == 0);
      }
      // The test never blocks: it passes MSG_DONTWAIT. The driver's ends stay
      // blocking (the driver asks not to block per call).
    }
    int in[2], out[2];
    RC_ASSERT(::pipe2(in, O_CLOEXEC) == 0);
    RC_ASSERT(::pipe2(out, O_CLOEXEC) == 0);
    mine[kPipeIn] = in[0];
    peer[kPipeIn] = in[1];
    mine[kPipeOut] = out[1];
    peer[kPipeOut] = out[0];
    for (int fd : {in[1], out[0]}) {
      RC_ASSERT(::fcntl(fd, F_SETFL, O_NONBLOCK) == 0);  // the test's ends only
    }
    for (int fd : {in[0], out[0]}) RC_ASSERT(::fcntl(fd, F_SETPIPE_SZ, kBufferBytes) >= 0);
  }
  ~Fds() {
    for (int i = 0; i < kFds; ++i) {
      if (!engine_closed[i]) ::close(mine[i]);
      if (peer[i] >= 0) ::close(peer[i]);
    }
  }
  Fds(const Fds&) = delete;
  Fds& operator=(const Fds&) = delete;

  // IndexOf: the index of one of the driver's fds, -1 for any other number.
  int IndexOf(int fd) const {
    for (int i = 0; i < kFds; ++i) {
      if (mine[i] == fd) return i;
    }
    return -1;
  }
};

// Run: one engine, its driver and its fds.
struct Run {
  Fds fds;
  Engine engine;
  std::unique_ptr<EpollDriver> driver;
  explicit Run(bool lone_slots) {
    EpollDriver::Options options;
    options.file_workers = 0;  // nothing threaded (none of these fds needs the pool anyway)
    options.lone_slots = lone_slots;
    auto made = EpollDriver::Create(options);
    RC_ASSERT(made.ok());
    driver = *std::move(made);
  }
};

// OpRecord: one op (or engine Close) of both runs, by its tag; the buffers of
// each run's op live here until the end of the case, past the op's final event.
struct OpRecord {
  OpKind kind = OpKind::kNop;
  OpId id;
  bool live = true;
  std::vector<char> buf[2];
  int fd_index = -1;
};

// Pattern: the bytes the n-th byte written carries (both runs write the same).
char Pattern(uint64_t n) { return static_cast<char>('a' + n % 23 + (n / 4099) % 3); }

// MakeOp: an op of `kind` on fd `fd` into / from `buf`.
Op MakeOp(OpKind kind, int fd, std::vector<char>& buf, bool peek) {
  const uint32_t len = static_cast<uint32_t>(buf.size());
  switch (kind) {
    case OpKind::kRead:
      return Read{fd, buf.data(), len};
    case OpKind::kRecv:
      return Recv{fd, buf.data(), len, peek ? MSG_PEEK : 0};
    case OpKind::kWrite:
      return Write{fd, buf.data(), len};
    default:
      return Send{fd, buf.data(), len, 0};
  }
}

// Length: an op's or the test's byte count: small, around the buffers' size,
// or more than they hold.
uint32_t Length(Words& w) {
  switch (w.Pick(4)) {
    case 0:
      return 1 + w.Pick(16);
    case 1:
      return 1 + w.Pick(600);
    case 2:
      return 1 + w.Pick(2 * kBufferBytes);
    default:
      return 1 + w.Pick(5 * kBufferBytes);
  }
}

// The case's state shared by the steps.
struct Case {
  Run runs[2] = {Run(/*lone_slots=*/true), Run(/*lone_slots=*/false)};
  std::vector<std::unique_ptr<OpRecord>> ops;  // by tag
  uint64_t written = 0;                        // bytes of Pattern given out
  bool closing[kFds] = {};                     // Engine::Close called on the fd
  uint64_t far_deadline = 0;

  // ExpectSameEvents: drains both engines' events and asserts they are the
  // same, one by one in order: the driver emits completions in the order of
  // its own steps (requests in order, then each fd's parked ops oldest first,
  // the inline slot being older than any Job behind it), so the lone slots
  // change no order, and a sequence check also catches an op completed in the
  // wrong place. Checks each finished op's buffers.
  void ExpectSameEvents() {
    for (;;) {
      const std::optional<Event> a = runs[0].engine.PollEvent();
      const std::optional<Event> b = runs[1].engine.PollEvent();
      RC_ASSERT(a.has_value() == b.has_value());
      if (!a) return;
      RC_ASSERT(a->tag == b->tag);
      RC_ASSERT(a->id == b->id);
      RC_ASSERT(a->res == b->res);
      RC_ASSERT(a->flags == b->flags);
      RC_ASSERT(a->kind == b->kind);
      RC_ASSERT(a->more == b->more);
      RC_ASSERT(runs[0].fds.IndexOf(a->fd) == runs[1].fds.IndexOf(b->fd));
      RC_ASSERT(a->tag < ops.size());
      OpRecord& op = *ops[a->tag];
      RC_ASSERT(op.id == a->id);
      RC_ASSERT(op.live);
      if (a->more) continue;
      op.live = false;
      RC_ASSERT(op.buf[0] == op.buf[1]);  // what a read read
      if (op.kind == OpKind::kClose && a->res == 0) {
        for (Run& run : runs) run.fds.engine_closed[op.fd_index] = true;
      }
    }
  }

  void Submit(Words& w) {
    const int i = int(w.Pick(kFds));
    OpKind kind;
    const uint32_t k = w.Pick(16);
    if (i == kPipeIn) {
      kind = k < 14 ? OpKind::kRead : (k == 14 ? OpKind::kRecv : OpKind::kWrite);
    } else if (i == kPipeOut) {
      kind = k < 14 ? OpKind::kWrite : (k == 14 ? OpKind::kSend : OpKind::kRead);
    } else {
      constexpr OpKind kSocketKinds[] = {OpKind::kRecv, OpKind::kRecv, OpKind::kRead,
                                         OpKind::kSend, OpKind::kSend, OpKind::kWrite,
                                         OpKind::kRecv, OpKind::kSend};
      kind = kSocketKinds[k % 8];
    }
    const bool peek = kind == OpKind::kRecv && w.Pick(10) == 0;
    const bool with_deadline = w.Pick(6) == 0;
    auto record = std::make_unique<OpRecord>();
    record->kind = kind;
    record->fd_index = i;
    const uint32_t len = Length(w);
    for (std::vector<char>& buf : record->buf) buf.assign(len, '.');
    if (kind == OpKind::kWrite || kind == OpKind::kSend) {
      for (std::vector<char>& buf : record->buf) {
        for (uint32_t n = 0; n < len; ++n) buf[n] = Pattern(written + n);
      }
      written += len;
    }
    const uint64_t tag = ops.size();
    OpId ids[2];
    for (int r = 0; r < 2; ++r) {
      SubmitArgs args{MakeOp(kind, runs[r].fds.mine[i], record->buf[r], peek), tag};
      if (with_deadline) args.deadline_ns = far_deadline;
      ids[r] = runs[r].engine.Submit(args);
    }
    RC_ASSERT(ids[0] == ids[1]);
    record->id = ids[0];
    ops.push_back(std::move(record));
  }

  // PeerWrite: the test writes to a peer end (a socket peer, or the pipe the
  // driver reads).
  void PeerWrite(Words& w) {
    constexpr int kWritable[] = {0, 1, kPipeIn};
    const int i = kWritable[w.Pick(3)];
    std::vector<char> data(Length(w));
    for (size_t n = 0; n < data.size(); ++n) data[n] = Pattern(written + n);
    written += data.size();
    ssize_t res[2];
    int err[2];
    for (int r = 0; r < 2; ++r) {
      const int fd = runs[r].fds.peer[i];
      res[r] = i == kPipeIn ? ::write(fd, data.data(), data.size())
                            : ::send(fd, data.data(), data.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      err[r] = res[r] < 0 ? errno : 0;
    }
    RC_ASSERT(res[0] == res[1]);
    RC_ASSERT(err[0] == err[1]);
  }

  // PeerRead: the test reads from a peer end what the driver's ops wrote.
  void PeerRead(Words& w) {
    constexpr int kReadable[] = {0, 1, kPipeOut};
    const int i = kReadable[w.Pick(3)];
    const size_t len = Length(w);
    std::vector<char> got[2];
    ssize_t res[2];
    int err[2];
    for (int r = 0; r < 2; ++r) {
      got[r].assign(len, '.');
      const int fd = runs[r].fds.peer[i];
      res[r] = i == kPipeOut ? ::read(fd, got[r].data(), len)
                             : ::recv(fd, got[r].data(), len, MSG_DONTWAIT);
      err[r] = res[r] < 0 ? errno : 0;
    }
    RC_ASSERT(res[0] == res[1]);
    RC_ASSERT(err[0] == err[1]);
    RC_ASSERT(got[0] == got[1]);
  }

  // PeerEnd: a socket peer shut down in one or both directions (EOF for the
  // driver's reads, EPIPE for its sends), or a peer end closed.
  void PeerEnd(Words& w) {
    const int i = int(w.Pick(kFds));
    const uint32_t how = w.Pick(4);
    for (Run& run : runs) {
      int& fd = run.fds.peer[i];
      if (fd < 0) continue;
      if (how < 3 && i < kPipeIn) {
        ::shutdown(fd, how == 0 ? SHUT_WR : how == 1 ? SHUT_RD : SHUT_RDWR);
      } else if (how == 3) {
        ::close(fd);
        fd = -1;
      }
    }
  }

  void Cancel(Words& w) {
    std::vector<size_t> live;
    for (size_t t = 0; t < ops.size(); ++t) {
      if (ops[t]->live && ops[t]->kind != OpKind::kClose) live.push_back(t);
    }
    if (live.empty()) return;
    const OpId id = ops[live[w.Pick(uint32_t(live.size()))]]->id;
    RC_ASSERT(runs[0].engine.Cancel(id) == runs[1].engine.Cancel(id));
  }

  void Close(int i) {
    closing[i] = true;
    auto record = std::make_unique<OpRecord>();
    record->kind = OpKind::kClose;
    record->fd_index = i;
    const uint64_t tag = ops.size();
    const OpId a = runs[0].engine.Close(runs[0].fds.mine[i], tag);
    const OpId b = runs[1].engine.Close(runs[1].fds.mine[i], tag);
    RC_ASSERT(a == b);
    record->id = a;
    ops.push_back(std::move(record));
  }

  void Poll() {
    for (Run& run : runs) RC_ASSERT(run.driver->Poll(run.engine, /*wait=*/false).ok());
  }
};

// kMaxSteps: the step bound of one run (each step reads at least one word).
constexpr size_t kMaxSteps = 2000;
// kDrainPolls: Polls allowed for the final drain; an op that never completes
// (an op parked where no readiness reaches it) fails the case here.
constexpr int kDrainPolls = 64;

RC_GTEST_PROP(EpollLoneSlot, SameOutputsAsTheGeneralPath, ()) {
  // A write to a pipe whose read end is closed raises SIGPIPE (sockets get
  // MSG_NOSIGNAL from the driver and the test).
  ::signal(SIGPIPE, SIG_IGN);
  const std::vector<uint32_t> words = *rc::gen::container<std::vector<uint32_t>>(
      *rc::gen::inRange<size_t>(0, 1500), rc::gen::arbitrary<uint32_t>());
  Words w(words);
  Case c;
  c.far_deadline = c.runs[0].driver->NowNs() + 3600ull * 1'000'000'000;
  for (size_t step = 0; step < kMaxSteps && !w.Done(); ++step) {
    switch (w.Pick(16)) {
      case 0:
      case 1:
      case 2:
      case 3:
        c.Submit(w);
        break;
      case 4:
      case 5:
        c.PeerWrite(w);
        break;
      case 6:
      case 7:
        c.PeerRead(w);
        break;
      case 8:
        if (w.Pick(3) == 0) c.PeerEnd(w);
        break;
      case 9:
        c.Cancel(w);
        break;
      case 10:
        if (w.Pick(8) == 0) c.Close(int(w.Pick(kFds)));
        break;
      default:
        c.Poll();
        break;
    }
    c.ExpectSameEvents();
  }
  // The drain: every fd closed through the engine (whose Close cancels what
  // is parked on it), then Polls until both are quiescent.
  for (int i = 0; i < kFds; ++i) {
    if (!c.closing[i]) c.Close(i);
  }
  c.ExpectSameEvents();
  for (int n = 0;
       n < kDrainPolls && !(c.runs[0].engine.Quiescent() && c.runs[1].engine.Quiescent()); ++n) {
    c.Poll();
    c.ExpectSameEvents();
  }
  RC_ASSERT(c.runs[0].engine.Quiescent());
  RC_ASSERT(c.runs[1].engine.Quiescent());
  RC_ASSERT(c.runs[0].engine.LiveOps() == 0u);
  RC_ASSERT(c.runs[1].engine.LiveOps() == 0u);
  for (const auto& op : c.ops) RC_ASSERT(!op->live);
}

}  // namespace
}  // namespace ringloop
