// tests/conformance/chain_fs_test.cc: linked chains (success, a failing first
// link, cancel and close of a link that has not started), path ops on a temp
// directory, and backpressure with 1,000 ops behind a queue of eight.
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "tests/conformance/fixture.h"

namespace ringloop::conformance {
namespace {

TEST_P(ConformanceTest, ChainWriteThenFsync) {
  Harness& h = Start();
  const int fd = env().OpenFile(env().TempDir() + "/chain", O_RDWR | O_CREAT | O_TRUNC);
  ASSERT_GE(fd, 0);
  SubmitArgs chain[] = {{Write{fd, "12345678", 8, 0}, 1}, {Fsync{fd}, 2}};
  const std::vector<OpId> ids = h.SubmitChain(chain);
  ASSERT_TRUE(h.AwaitFinal(ids));
  EXPECT_EQ(h.Res(ids[0]), 8);
  EXPECT_EQ(h.Res(ids[1]), 0);
  EXPECT_LT(h.FinalIndex(ids[0]), h.FinalIndex(ids[1]));
  char buf[16] = {};
  const OpId r = h.Submit(Read{fd, buf, sizeof(buf), 0});
  ASSERT_TRUE(h.AwaitFinal({r}));
  EXPECT_EQ(Text(buf, h.Res(r)), "12345678");
}

TEST_P(ConformanceTest, ChainWhoseFirstLinkFailsCancelsTheRest) {
  Harness& h = Start();
  const FdPair p = env().Pipe();
  ASSERT_GE(p.first, 0);
  // fsync(2) of a pipe fails EINVAL; the write after it must never run.
  SubmitArgs chain[] = {{Fsync{p.second}, 1}, {Write{p.second, "x", 1}, 2}, {Nop{}, 3}};
  const std::vector<OpId> ids = h.SubmitChain(chain);
  ASSERT_TRUE(h.AwaitFinal(ids));
  EXPECT_EQ(h.Res(ids[0]), -EINVAL);
  EXPECT_EQ(h.Res(ids[1]), -ECANCELED);
  EXPECT_EQ(h.Res(ids[2]), -ECANCELED);
  EXPECT_LT(h.FinalIndex(ids[0]), h.FinalIndex(ids[1]));
  EXPECT_LT(h.FinalIndex(ids[1]), h.FinalIndex(ids[2]));
  std::string got;
  EXPECT_EQ(env().PeerRead(p.first, &got, 8), -EAGAIN) << "the cancelled write wrote " << got;
}

// ReadWriteNop: chain [read(empty pipe a), write(pipe b, "w"), nop], its read
// parked in the kernel (StartReadWriteNop).
struct ReadWriteNop {
  FdPair a;
  FdPair b;
  char c = 0;  // the read's buffer
  std::vector<OpId> ids;
};

void StartReadWriteNop(Env& env, Harness& h, ReadWriteNop* t) {
  t->a = env.Pipe();
  t->b = env.Pipe();
  ASSERT_GE(t->a.first, 0);
  ASSERT_GE(t->b.first, 0);
  SubmitArgs chain[] = {
      {Read{t->a.first, &t->c, 1}, 1}, {Write{t->b.second, "w", 1}, 2}, {Nop{}, 3}};
  t->ids = h.SubmitChain(chain);
  h.Kick();  // the read parks in the kernel
  ASSERT_FALSE(h.Final(t->ids[0]).has_value());
}

// The user report: chain [read(empty pipe A), write(pipe B), nop]; cancelling the
// write while the read waits returns true, so the write must never run, even
// once data comes (io_uring itself cannot cancel a link that has not started).
TEST_P(ConformanceTest, CancelOfALinkNotStartedMeansItNeverRuns) {
  Harness& h = Start();
  ReadWriteNop t;
  StartReadWriteNop(env(), h, &t);
  if (HasFatalFailure()) return;
  const std::vector<OpId>& ids = t.ids;
  EXPECT_TRUE(h.Cancel(ids[1]));
  EXPECT_TRUE(h.engine().HasEvents()) << "the cancelled links did not end at once";
  ASSERT_TRUE(h.AwaitFinal({ids[1], ids[2]}));
  EXPECT_FALSE(h.Final(ids[0]).has_value());
  EXPECT_FALSE(h.Cancel(ids[1]));
  ASSERT_EQ(env().PeerWrite(t.a.second, "x"), 1);
  ASSERT_TRUE(h.AwaitFinal({ids[0]}));
  EXPECT_EQ(h.Res(ids[0]), 1);
  EXPECT_EQ(t.c, 'x');
  EXPECT_EQ(h.Res(ids[1]), -ECANCELED);
  EXPECT_EQ(h.Res(ids[2]), -ECANCELED);
  EXPECT_LT(h.FinalIndex(ids[1]), h.FinalIndex(ids[2]));
  std::string got;
  EXPECT_EQ(env().PeerRead(t.b.first, &got, 8), -EAGAIN) << "the cancelled write wrote " << got;
}

// Close of the fd a link that has not started names: that link (and the rest)
// ends without reaching the kernel, the CLOSE does not wait for the running
// link on another fd, and that link runs on.
TEST_P(ConformanceTest, CloseOfAnFdNamedByALinkNotStartedEndsTheLinkAtOnce) {
  Harness& h = Start();
  ReadWriteNop t;
  StartReadWriteNop(env(), h, &t);
  if (HasFatalFailure()) return;
  const std::vector<OpId>& ids = t.ids;
  const OpId close = h.Close(t.b.second);
  ASSERT_TRUE(h.AwaitFinal({ids[1], ids[2], close}));
  EXPECT_EQ(h.Res(ids[1]), -ECANCELED);
  EXPECT_EQ(h.Res(ids[2]), -ECANCELED);
  EXPECT_EQ(h.Res(close), 0);
  EXPECT_FALSE(h.Final(ids[0]).has_value());
  ASSERT_EQ(env().PeerWrite(t.a.second, "x"), 1);
  ASSERT_TRUE(h.AwaitFinal({ids[0]}));
  EXPECT_EQ(h.Res(ids[0]), 1);
  std::string got;
  EXPECT_EQ(env().PeerRead(t.b.first, &got, 8), 0)
      << "the write end was not closed, or got " << got;
}

TEST_P(ConformanceTest, PathOpsOnTempDir) {
  Harness& h = Start();
  const std::string dir = env().TempDir() + "/sub";
  const std::string f = dir + "/f";
  const std::string g = dir + "/g";
  const OpId mk = h.Submit(Mkdirat{AT_FDCWD, dir.c_str(), 0755});
  ASSERT_TRUE(h.AwaitFinal({mk}));
  ASSERT_EQ(h.Res(mk), 0);
  const OpId mk_again = h.Submit(Mkdirat{AT_FDCWD, dir.c_str(), 0755});
  const OpId open = h.Submit(Openat{AT_FDCWD, f.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644});
  ASSERT_TRUE(h.AwaitFinal({mk_again, open}));
  EXPECT_EQ(h.Res(mk_again), -EEXIST);
  const int fd = h.Res(open);
  ASSERT_GE(fd, 0);
  env().Adopt(fd);
  const OpId w = h.Submit(Write{fd, "hello", 5, 0});
  ASSERT_TRUE(h.AwaitFinal({w}));
  ASSERT_EQ(h.Res(w), 5);
  struct statx st {};
  const OpId stat = h.Submit(Statx{AT_FDCWD, f.c_str(), 0, STATX_SIZE | STATX_TYPE, &st});
  ASSERT_TRUE(h.AwaitFinal({stat}));
  ASSERT_EQ(h.Res(stat), 0);
  EXPECT_EQ(st.stx_size, 5u);
  EXPECT_TRUE(S_ISREG(st.stx_mode));
  const OpId mv = h.Submit(Renameat{AT_FDCWD, f.c_str(), AT_FDCWD, g.c_str(), 0});
  ASSERT_TRUE(h.AwaitFinal({mv}));
  ASSERT_EQ(h.Res(mv), 0);
  struct statx gone {};
  struct statx moved {};
  const OpId stat_f = h.Submit(Statx{AT_FDCWD, f.c_str(), 0, STATX_SIZE, &gone});
  const OpId stat_g = h.Submit(Statx{AT_FDCWD, g.c_str(), 0, STATX_SIZE, &moved});
  const OpId rmdir_busy = h.Submit(Unlinkat{AT_FDCWD, dir.c_str(), AT_REMOVEDIR});
  ASSERT_TRUE(h.AwaitFinal({stat_f, stat_g, rmdir_busy}));
  EXPECT_EQ(h.Res(stat_f), -ENOENT);
  EXPECT_EQ(h.Res(stat_g), 0);
  EXPECT_EQ(moved.stx_size, 5u);
  EXPECT_EQ(h.Res(rmdir_busy), -ENOTEMPTY);
  const OpId rm = h.Submit(Unlinkat{AT_FDCWD, g.c_str(), 0});
  ASSERT_TRUE(h.AwaitFinal({rm}));
  EXPECT_EQ(h.Res(rm), 0);
  const OpId rmdir = h.Submit(Unlinkat{AT_FDCWD, dir.c_str(), AT_REMOVEDIR});
  const OpId open_gone = h.Submit(Openat{AT_FDCWD, g.c_str(), O_RDONLY | O_CLOEXEC, 0});
  ASSERT_TRUE(h.AwaitFinal({rmdir, open_gone}));
  EXPECT_EQ(h.Res(rmdir), 0);
  EXPECT_EQ(h.Res(open_gone), -ENOENT);
  // The unlinked file is still open and readable.
  char buf[8] = {};
  const OpId r = h.Submit(Read{fd, buf, sizeof(buf), 0});
  ASSERT_TRUE(h.AwaitFinal({r}));
  EXPECT_EQ(Text(buf, h.Res(r)), "hello");
  const OpId c = h.Close(fd);
  ASSERT_TRUE(h.AwaitFinal({c}));
  EXPECT_EQ(h.Res(c), 0);
}

// Backpressure: the bound counts ops that complete on their own (here fsyncs
// and nops); 1,000 of them wait for room in FIFO order, and a write (which
// waits for readiness, so never waits for room) goes past them.
TEST_P(ConformanceTest, ThousandOpsBehindASmallQueueAllCompleteInOrder) {
  constexpr uint32_t kQueue = 8;
  constexpr uint32_t kOps = 1000;
  Harness& h = Start(Engine::Options{.max_in_flight = kQueue});
  const int fd = env().OpenFile(env().TempDir() + "/many", O_RDWR | O_CREAT | O_TRUNC);
  ASSERT_GE(fd, 0);
  for (uint32_t i = 0; i < kOps; ++i) {
    h.Submit(i % 2 == 0 ? Op(Fsync{fd}) : Op(Nop{}), i);
  }
  EXPECT_EQ(h.engine().PendingRequests().size(), size_t{kQueue});
  const OpId write = h.Submit(Write{fd, "past", 4, 0}, kOps);
  EXPECT_EQ(h.engine().PendingRequests().size(), size_t{kQueue} + 1) << "the write waited";
  uint32_t max_bounded = 0;
  ASSERT_TRUE(h.RunUntil(
      [&] {
        max_bounded = std::max(max_bounded, h.engine().BoundedInFlight());
        return h.events().size() == kOps + 1;
      },
      "1,000 fsyncs and nops"));
  EXPECT_LE(max_bounded, kQueue);
  EXPECT_GT(max_bounded, 0u);
  EXPECT_EQ(h.Res(write), 4);
  // FIFO: op i reaches the kernel only after every op before it did, and at
  // most kQueue are out at once, so it cannot end before i - kQueue + 1 others.
  size_t pos = 0;
  for (const Event& e : h.events()) {
    if (e.tag == kOps) continue;  // the write
    EXPECT_EQ(e.res, 0) << "op " << e.tag;
    EXPECT_LT(e.tag, pos + kQueue) << "op " << e.tag << " ended " << pos << "th: not FIFO";
    ++pos;
  }
}

}  // namespace
}  // namespace ringloop::conformance
