// ringloop/drivers/uring/uring_options_test.cc: every valid combination of UringDriver
// options runs the same scenario (nops, pipes, a timeout, a socket pair, a write
// on a socket, a close with a blocked read, a write -> fsync chain, a sleep) with
// the same results.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "ringloop/drivers/sync_op.h"
#include "ringloop/drivers/uring/uring_driver.h"
#include "ringloop/drivers/uring/uring_test_util.h"

namespace ringloop {
namespace {

using testing::Fds;
using testing::UringHarness;

struct Combo {
  bool sqpoll, single_issuer, defer_taskrun, coop_taskrun;
  bool files, buffers, small_rings, sync_ops;
};

std::vector<Combo> ValidCombos() {
  std::vector<Combo> out;
  for (int bits = 0; bits < 256; ++bits) {
    const Combo c{(bits & 1) != 0,  (bits & 2) != 0,  (bits & 4) != 0,  (bits & 8) != 0,
                  (bits & 16) != 0, (bits & 32) != 0, (bits & 64) != 0, (bits & 128) != 0};
    if (c.defer_taskrun && !c.single_issuer) continue;              // the kernel needs both
    if (c.sqpoll && (c.defer_taskrun || c.coop_taskrun)) continue;  // and refuses these
    out.push_back(c);
  }
  return out;
}

std::string Name(const ::testing::TestParamInfo<Combo>& info) {
  const Combo& c = info.param;
  std::string s;
  if (c.sqpoll) s += "Sqpoll";
  if (c.single_issuer) s += "Single";
  if (c.defer_taskrun) s += "Defer";
  if (c.coop_taskrun) s += "Coop";
  if (c.files) s += "Files";
  if (c.buffers) s += "Buffers";
  if (c.small_rings) s += "Small";
  if (c.sync_ops) s += "Sync";
  return s.empty() ? "Defaults" : s;
}

char arena[1 << 16];

// HasSqpollThread: whether the ring `ring_fd` has an SQPOLL kernel thread (its
// fdinfo's "SqThread:" names the thread, or -1), i.e. SQPOLL is really on.
bool HasSqpollThread(int ring_fd) {
  std::ifstream info("/proc/self/fdinfo/" + std::to_string(ring_fd));
  std::string key;
  while (info >> key) {
    if (key == "SqThread:") {
      long tid = -1;
      info >> tid;
      return tid > 0;
    }
  }
  ADD_FAILURE() << "no SqThread in the ring's fdinfo";
  return false;
}

class UringOptionsTest : public ::testing::TestWithParam<Combo> {
 protected:
  UringDriver::Options MakeOptions() const {
    const Combo& c = GetParam();
    UringDriver::Options o;
    o.sqpoll = c.sqpoll;
    o.sqpoll_idle_ms = 50;
    o.single_issuer = c.single_issuer;
    o.defer_taskrun = c.defer_taskrun;
    o.coop_taskrun = c.coop_taskrun;
    if (c.files) o.registered_file_slots = 16;
    if (c.buffers) o.registered_buffers = {iovec{arena, sizeof(arena)}};
    if (c.small_rings) {
      o.sq_entries = 4;
      o.cq_entries = 8;
    }
    if (c.sync_ops) o.force_sync_ops = SyncCapableMask();
    return o;
  }

  // Pair: a pipe (or socket pair), registered with the driver when files are on.
  void Pair(UringHarness& h, Fds& fds, int* a, int* b, bool socket) {
    int v[2];
    if (socket) {
      ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, v), 0);
    } else {
      ASSERT_EQ(pipe2(v, O_CLOEXEC), 0);
    }
    *a = fds.Add(v[0]);
    *b = fds.Add(v[1]);
    if (GetParam().files) {
      ASSERT_TRUE(h.driver().RegisterFile(*a).ok());
      ASSERT_TRUE(h.driver().RegisterFile(*b).ok());
    }
  }
};

TEST_P(UringOptionsTest, SameScenarioSameResults) {
  URING_HARNESS_OR_SKIP(h, MakeOptions());
  EXPECT_EQ(HasSqpollThread(h->driver().ring_fd()), GetParam().sqpoll);
  Fds fds;
  // 1. A burst of nops, more than a small SQ and CQ hold.
  std::vector<OpId> nops;
  for (int i = 0; i < 64; ++i) nops.push_back(h->engine().Submit({Nop{}, 100}));
  // 2. A pipe: a chain write -> read (buffers in the registered arena).
  int pr, pw;
  Pair(*h, fds, &pr, &pw, /*socket=*/false);
  std::memcpy(arena, "ping", 4);
  SubmitArgs io[] = {{Write{pw, arena, 4}, 1}, {Read{pr, arena + 64, 4}, 2}};
  OpId io_ids[2];
  h->engine().SubmitChain(io, io_ids);
  // 3. A read that times out on another, empty pipe.
  int er, ew;
  Pair(*h, fds, &er, &ew, false);
  char never[4];
  const uint64_t deadline = h->driver().NowNs() + 20'000'000;
  const OpId timed = h->engine().Submit({Read{er, never, 4}, 3, deadline});
  // 4. A socket pair: send then recv.
  int sa, sb;
  Pair(*h, fds, &sa, &sb, /*socket=*/true);
  const OpId send = h->engine().Submit({Send{sa, "pong", 4}, 4});
  char got[4] = {};
  const OpId recv = h->engine().Submit({Recv{sb, got, 4}, 5});
  // 5. A sleep.
  const OpId sleep = h->engine().Submit({Timeout{h->driver().NowNs() + 5'000'000}, 6});
  ASSERT_TRUE(h->RunUntil([&] {
    return h->FinalEvent(timed).has_value() && h->FinalEvent(recv).has_value() &&
           h->FinalEvent(io_ids[1]).has_value() && h->FinalEvent(sleep).has_value() &&
           h->FinalEvent(nops.back()).has_value();
  }));
  for (OpId id : nops) EXPECT_EQ(h->FinalEvent(id)->res, 0);
  EXPECT_EQ(h->FinalEvent(io_ids[0])->res, 4);
  EXPECT_EQ(h->FinalEvent(io_ids[1])->res, 4);
  EXPECT_EQ(std::string(arena + 64, 4), "ping");
  EXPECT_EQ(h->FinalEvent(timed)->res, -kTimedOut);
  EXPECT_GE(h->driver().NowNs(), deadline);
  EXPECT_EQ(h->FinalEvent(send)->res, 4);
  EXPECT_EQ(h->FinalEvent(recv)->res, 4);
  EXPECT_EQ(std::string(got, 4), "pong");
  EXPECT_EQ(h->FinalEvent(sleep)->res, 0);

  // 4b. A write on the socket: sent as a send (whether the fd is a socket is asked of
  // the real fd, registered or not; the buffer may be in a registered one).
  std::memcpy(arena + 256, "wsok", 4);
  const OpId sock_write = h->engine().Submit({Write{sa, arena + 256, 4}, 11});
  char got_write[4] = {};
  const OpId sock_read = h->engine().Submit({Recv{sb, got_write, 4, MSG_WAITALL}, 12});
  ASSERT_TRUE(h->RunUntil([&] { return h->FinalEvent(sock_read).has_value(); }));
  EXPECT_EQ(h->FinalEvent(sock_write)->res, 4);
  EXPECT_EQ(h->FinalEvent(sock_read)->res, 4);
  EXPECT_EQ(std::string(got_write, 4), "wsok");
  EXPECT_EQ(h->driver().stats().socket_writes, 1u);

  // 6. Close with a read blocked on the fd: the read ends first, then the close.
  char blocked[4];
  const OpId parked = h->engine().Submit({Read{er, blocked, 4}, 7});
  ASSERT_TRUE(h->Step(false).ok());
  const OpId close = h->engine().Close(er, 8);
  fds.Forget(er);
  ASSERT_TRUE(h->RunUntil([&] { return h->FinalEvent(close).has_value(); }));
  EXPECT_EQ(h->FinalEvent(parked)->res, -ECANCELED);
  EXPECT_EQ(h->FinalEvent(close)->res, 0);
  EXPECT_LT(h->FinalIndex(parked), h->FinalIndex(close));
  EXPECT_EQ(fcntl(er, F_GETFD), -1);
  EXPECT_FALSE(h->driver().IsRegistered(er));

  // 7. A write -> fsync chain on a temp file.
  const char* dir = getenv("TEST_TMPDIR");
  const std::string path =
      std::string(dir != nullptr ? dir : "/tmp") + "/opts." + std::to_string(getpid());
  const int file = fds.Add(open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  ASSERT_GE(file, 0);
  unlink(path.c_str());
  std::memcpy(arena + 128, "durable", 7);
  SubmitArgs wf[] = {{Write{file, arena + 128, 7, 0}, 9}, {Fsync{file}, 10}};
  OpId wf_ids[2];
  h->engine().SubmitChain(wf, wf_ids);
  ASSERT_TRUE(h->RunUntil([&] { return h->FinalEvent(wf_ids[1]).has_value(); }));
  EXPECT_EQ(h->FinalEvent(wf_ids[0])->res, 7);
  EXPECT_EQ(h->FinalEvent(wf_ids[1])->res, 0);

  EXPECT_TRUE(h->engine().Quiescent());
  EXPECT_EQ(h->engine().stats().rejected_completions, 0u);
  if (GetParam().sync_ops) {
    EXPECT_GE(h->driver().stats().sync_ops, 2u);  // the close and the fsync
  }
}

INSTANTIATE_TEST_SUITE_P(AllCombinations, UringOptionsTest, ::testing::ValuesIn(ValidCombos()),
                         Name);

}  // namespace
}  // namespace ringloop
