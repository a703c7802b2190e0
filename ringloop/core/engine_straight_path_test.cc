// ringloop/core/engine_straight_path_test.cc: the straight paths equal the general ones.
//
// Engine::Submit and HandleCompletion(s) take straight paths for plain ops
// (SubmitPlain, CompletePlain in engine.cc) that redo the general transitions
// in fewer steps. Here generated input sequences (submits of plain and other
// ops, chains, cancels, closes, completions with every kind of result, stale
// and bogus completions, time, shutdown) drive two engines, one with its
// straight paths and one with Options::straight_paths off, and every output
// must be the same after every step: return values, requests, events, stats,
// the getters.
#include <cerrno>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "gtest/gtest.h"
#include "rapidcheck.h"
#include "rapidcheck/gtest.h"
#include "ringloop/core/engine.h"
#include "ringloop/core/generated_words.h"

namespace ringloop {
namespace {

using testing::Words;

char buffer[64];

// Fd: an fd for an op: none, a few dense ones, one above the dense table.
int Fd(Words& w) {
  constexpr int kFds[] = {-1, 3, 4, 5, 6, 70000};
  return kFds[w.Pick(6)];
}

// MakeOp: an op of every kind the straight paths take, in well-formed and
// ill-formed variants, and some they never take.
Op MakeOp(Words& w) {
  const int fd = Fd(w);
  void* buf = w.Pick(8) == 0 ? nullptr : buffer;
  const uint32_t len = w.Pick(8) == 0 ? 0 : sizeof(buffer);
  switch (w.Pick(14)) {
    case 0:
    case 11:
    case 12:
      return Nop{};  // counted against max_in_flight: waits for room
    case 1:
      return Read{fd, buf, len, w.Pick(4) == 0 ? 0 : kCurrentPosition};
    case 2:
      return Write{fd, buf, len};
    case 3: {
      const bool multishot = w.Pick(4) == 0;
      return Recv{fd,
                  multishot ? nullptr : buf,
                  len,
                  0,
                  multishot || w.Pick(6) == 0 ? uint16_t{1} : kNoBufferGroup,
                  multishot};
    }
    case 4:
      return Send{fd, buf, len, 0};
    case 5: {
      static sockaddr_storage addr;
      static socklen_t addrlen;
      const bool with_addr = w.Pick(2) == 0;
      return Accept{fd, with_addr ? reinterpret_cast<sockaddr*>(&addr) : nullptr,
                    with_addr || w.Pick(6) == 0 ? &addrlen : nullptr, SOCK_CLOEXEC, w.Pick(4) == 0};
    }
    case 6:
    case 13:
      return Fsync{fd};
    case 7:
      return Timeout{uint64_t{w.Pick(50)}};
    case 8:
      return PollAdd{fd, 1};
    case 9:
      return Socket{};
    default:
      return Shutdown{fd};
  }
}

SubmitArgs MakeArgs(Words& w, uint64_t now) {
  SubmitArgs args{MakeOp(w), w.Next()};
  if (w.Pick(5) == 0) args.deadline_ns = now + w.Pick(40);
  return args;
}

// Result: a completion result, from the ordinary to the awkward.
int32_t Result(Words& w) {
  constexpr int32_t kResults[] = {0,       1,          64,          -EINTR, -ECANCELED, -EALREADY,
                                  -ENOENT, -kTimedOut, -ECONNRESET, 5,      -EBADF,     64};
  return kResults[w.Pick(12)];
}

// Flags: completion flags, with bits the engine does not interpret as well
// (IORING_CQE_F_SOCK_NONEMPTY is 1 << 2; stray upper bits).
uint32_t Flags(Words& w) {
  const uint32_t other = w.Pick(2) == 0 ? (1u << 2) | (w.Pick(4) << kCqeBufferShift) : 0;
  switch (w.Pick(6)) {
    case 0:
      return kCqeFMore | other;
    case 1:
      return kCqeFBuffer | (w.Pick(4) << kCqeBufferShift) | other;
    case 2:
      return kCqeFBuffer | kCqeFMore | (w.Pick(4) << kCqeBufferShift) | other;
    default:
      return other;
  }
}

void ExpectSameRequests(std::span<const Request> a, std::span<const Request> b) {
  RC_ASSERT(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    RC_ASSERT(a[i].user_data == b[i].user_data);
    RC_ASSERT(a[i].kind == b[i].kind);
    RC_ASSERT(a[i].fd == b[i].fd);
    RC_ASSERT(a[i].link == b[i].link);
    RC_ASSERT(a[i].deadline_ns == b[i].deadline_ns);
    RC_ASSERT(a[i].target == b[i].target);
    RC_ASSERT((a[i].op == nullptr) == (b[i].op == nullptr));
    if (a[i].op != nullptr) {
      RC_ASSERT(KindOf(*a[i].op) == KindOf(*b[i].op));
      RC_ASSERT(FdOf(*a[i].op) == FdOf(*b[i].op));
    }
  }
}

// ExpectSame: every output and getter of the two engines agree; drains the
// events of both.
void ExpectSame(Engine& a, Engine& b) {
  ExpectSameRequests(a.PendingRequests(), b.PendingRequests());
  RC_ASSERT(a.stats() == b.stats());  // every counter, including any added later
  RC_ASSERT(a.LiveOps() == b.LiveOps());
  RC_ASSERT(a.InFlight() == b.InFlight());
  RC_ASSERT(a.BoundedInFlight() == b.BoundedInFlight());
  RC_ASSERT(a.Quiescent() == b.Quiescent());
  RC_ASSERT(a.NextDeadline() == b.NextDeadline());
  for (int fd : {3, 4, 5, 6, 70000}) {
    RC_ASSERT(a.IsClosing(fd) == b.IsClosing(fd));
    RC_ASSERT(a.OpsOnFd(fd) == b.OpsOnFd(fd));
  }
  for (;;) {
    const std::optional<Event> ea = a.PollEvent();
    const std::optional<Event> eb = b.PollEvent();
    RC_ASSERT(ea.has_value() == eb.has_value());
    if (!ea) break;
    RC_ASSERT(ea->tag == eb->tag);
    RC_ASSERT(ea->res == eb->res);
    RC_ASSERT(ea->flags == eb->flags);
    RC_ASSERT(ea->id == eb->id);
    RC_ASSERT(ea->fd == eb->fd);
    RC_ASSERT(ea->kind == eb->kind);
    RC_ASSERT(ea->more == eb->more);
  }
}

// kMaxSteps: the step bound of one run (each step reads at least one word).
constexpr size_t kMaxSteps = 2000;

// A plain nop that arrives while the queue's head waits for more room than is
// free (two places: it has a deadline) joins the queue behind it, on both
// paths, though one place is free: the queue drains in FIFO order.
TEST(EngineStraightPath, PlainNopQueuesBehindAHeadThatWaitsForRoom) {
  Engine::Options options;
  options.max_in_flight = 2;
  Engine straight(options);
  options.straight_paths = false;
  Engine general(options);
  std::vector<OpId> ids;
  for (const SubmitArgs& args :
       {SubmitArgs{Nop{}, 1}, SubmitArgs{Nop{}, 2, /*deadline_ns=*/100}, SubmitArgs{Nop{}, 3}}) {
    const OpId id = straight.Submit(args);
    EXPECT_EQ(id, general.Submit(args));
    ids.push_back(id);
  }
  // Only the first nop went out; the nop with a deadline and the one after it wait.
  for (Engine* e : {&straight, &general}) {
    ASSERT_EQ(e->PendingRequests().size(), 1u);
    EXPECT_EQ(UserDataSlot(e->PendingRequests()[0].user_data), ids[0].index);
    EXPECT_EQ(e->BoundedInFlight(), 1u);
  }
  // Once the first completes, the head goes out with its linked timeout (both
  // places); the nop behind it still waits.
  for (Engine* e : {&straight, &general}) {
    const uint64_t user_data = e->PendingRequests()[0].user_data;
    e->ConsumeRequests(1);
    EXPECT_TRUE(e->HandleCompletion(user_data, 0, 0));
    const std::span<const Request> now = e->PendingRequests();
    ASSERT_EQ(now.size(), 2u);
    EXPECT_EQ(UserDataSlot(now[0].user_data), ids[1].index);
    EXPECT_EQ(now[1].kind, RequestKind::kLinkTimeout);
    EXPECT_EQ(e->BoundedInFlight(), 2u);
  }
}

RC_GTEST_PROP(EngineStraightPath, SameOutputsAsTheGeneralPath, ()) {
  const std::vector<uint32_t> words =
      *rc::gen::resize(600, rc::gen::arbitrary<std::vector<uint32_t>>());
  Words w(words);
  Engine::Options options;
  options.max_in_flight = 2 + w.Pick(6);  // small: ops wait for room too
  options.initial_slots = 1 + w.Pick(4);  // small: slots run out, chunks are added
  Engine straight(options);
  options.straight_paths = false;
  Engine general(options);
  std::vector<Request> taken;  // handed to the "kernel", not completed yet
  std::vector<OpId> ids;
  uint64_t now = 0;
  for (size_t step = 0; step < kMaxSteps && !w.Done(); ++step) {
    switch (w.Pick(16)) {
      case 0:
      case 1:
      case 2:
      case 3: {
        const SubmitArgs args = MakeArgs(w, now);
        const OpId id = straight.Submit(args);
        RC_ASSERT(id == general.Submit(args));
        ids.push_back(id);
        break;
      }
      case 4: {
        std::vector<SubmitArgs> chain(2 + w.Pick(2));
        for (SubmitArgs& args : chain) args = MakeArgs(w, now);
        std::vector<SubmitArgs> copy = chain;
        std::vector<OpId> ids_a(chain.size()), ids_b(chain.size());
        straight.SubmitChain(chain, ids_a);
        general.SubmitChain(copy, ids_b);
        RC_ASSERT(ids_a == ids_b);
        ids.insert(ids.end(), ids_a.begin(), ids_a.end());
        break;
      }
      case 5:
        if (!ids.empty()) {
          const OpId id = ids[w.Pick(uint32_t(ids.size()))];
          RC_ASSERT(straight.Cancel(id) == general.Cancel(id));
        }
        break;
      case 6: {
        const int fd = Fd(w);
        const uint64_t tag = w.Next();
        RC_ASSERT(straight.Close(fd, tag) == general.Close(fd, tag));
        break;
      }
      case 7:
      case 8: {
        // The driver takes what is pending (never splitting an op from its
        // linked timeout).
        const std::span<const Request> pending = straight.PendingRequests();
        size_t n = w.Pick(uint32_t(pending.size()) + 1);
        while (n > 0 && pending[n - 1].link) --n;
        // Mostly all of it: the straight paths need room in the request buffer,
        // which is reset only once drained.
        if (n < pending.size() && w.Pick(4) != 0) n = pending.size();
        taken.insert(taken.end(), pending.begin(), pending.begin() + n);
        straight.ConsumeRequests(n);
        general.ConsumeRequests(n);
        break;
      }
      case 9:
      case 10:
      case 11: {
        // One completion of a request taken (kept when it says more follow).
        if (taken.empty()) break;
        const size_t at = w.Pick(uint32_t(taken.size()));
        const uint64_t user_data = taken[at].user_data;
        const int32_t res = Result(w);
        const uint32_t flags = Flags(w);
        if ((flags & kCqeFMore) == 0) taken.erase(taken.begin() + long(at));
        RC_ASSERT(straight.HandleCompletion(user_data, res, flags) ==
                  general.HandleCompletion(user_data, res, flags));
        break;
      }
      case 12: {
        // A batch of completions, some of them repeated (duplicates) or bogus.
        std::vector<Completion> batch(1 + w.Pick(6));
        for (Completion& c : batch) {
          if (!taken.empty() && w.Pick(6) != 0) {
            const size_t at = w.Pick(uint32_t(taken.size()));
            c.user_data = taken[at].user_data;
            c.flags = Flags(w);
            if ((c.flags & kCqeFMore) == 0 && w.Pick(4) != 0) taken.erase(taken.begin() + long(at));
          } else {
            c.user_data = uint64_t{w.Next()} | uint64_t{w.Pick(8)} << 61;
            c.flags = Flags(w);
          }
          c.res = Result(w);
        }
        RC_ASSERT(straight.HandleCompletions(batch) == general.HandleCompletions(batch));
        break;
      }
      case 13:
        now += w.Pick(30);
        straight.AdvanceTime(now);
        general.AdvanceTime(now);
        break;
      case 14:
        if (w.Pick(32) == 0) {  // rare: after it every op is refused
          straight.Shutdown();
          general.Shutdown();
        }
        break;
      default: {
        // A stale completion: the user_data of a request that is done.
        const uint64_t user_data =
            PackUserData(w.Pick(8), w.Pick(3), w.Pick(2) == 0, static_cast<RequestKind>(w.Pick(4)));
        const int32_t res = Result(w);
        RC_ASSERT(straight.HandleCompletion(user_data, res, 0) ==
                  general.HandleCompletion(user_data, res, 0));
        break;
      }
    }
    ExpectSame(straight, general);
  }
}

}  // namespace
}  // namespace ringloop
