// ringloop/drivers/sim/sim_process_test.cc: programs sharing the simulated machine:
// crashes (fds, ops, unsynced file data), partitions, jitter, the faults decided
// outside the kernel (fault_filter, fault_seed, buggify), multishot_end, and the
// reports a harness prints.
#include <fcntl.h>

#include <cerrno>
#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "ringloop/drivers/sim/sim_driver.h"
#include "ringloop/drivers/sim/sim_fs.h"

namespace ringloop::sim {
namespace {

constexpr int kMaxPolls = 1000;  // every loop below is bounded by this

// EventFor: the final event of `tag`, polling without waiting (nullopt if none
// within kMaxPolls).
std::optional<Event> EventFor(SimDriver& sim, Engine& engine, uint64_t tag) {
  for (int i = 0; i < kMaxPolls; ++i) {
    while (std::optional<Event> e = engine.PollEvent()) {
      if (e->tag == tag && !e->more) return e;
    }
    if (!sim.Poll(engine, /*wait=*/false).ok()) return std::nullopt;
  }
  return std::nullopt;
}

std::string Contents(const FileSystem& fs, uint32_t inode) { return fs.inode(inode).data; }

TEST(SimFsDurabilityTest, ACrashLosesUnsyncedWritesOfTheCrashedProcessOnly) {
  FileSystem fs;
  fs.set_current_process(1);
  const int64_t node = fs.Open(kRootInode, "f", O_RDWR | O_CREAT, 0644);
  ASSERT_GE(node, 0);
  const uint32_t f = uint32_t(node);
  fs.Write(f, 0, "durable|", 8);
  fs.Sync(f);
  fs.Write(f, 8, "one|", 4);
  fs.Write(f, 12, "two|", 4);
  fs.set_current_process(2);
  fs.Write(f, 16, "other", 5);
  EXPECT_EQ(Contents(fs, f), "durable|one|two|other");  // readers see every write at once
  EXPECT_EQ(fs.UnsyncedBytes(), 13u);
  // Process 1 crashes; writeback had flushed its first unsynced write only.
  EXPECT_EQ(fs.Crash(1,
                     [](uint32_t n) {
                       EXPECT_EQ(n, 2u);
                       return 1u;
                     }),
            1u);
  // The lost write leaves zeros where it was (the file keeps the other's length).
  EXPECT_EQ(Contents(fs, f), std::string("durable|one|\0\0\0\0other", 21));
  // Nothing of process 2's is lost when it crashes after an fsync.
  fs.Sync(f);
  EXPECT_EQ(fs.Crash(2, [](uint32_t n) { return n; }), 0u);
  EXPECT_EQ(fs.UnsyncedBytes(), 0u);
}

TEST(SimProcessTest, ACrashEndsTheProcessOpsAndLeavesItsFdNumbersUntilReaped) {
  SimDriver sim;
  Engine engine;
  sim.set_current_process(1);
  const auto [r, w] = sim.Pipe();
  sim.set_current_process(0);
  const auto [r0, w0] = sim.Pipe();  // the test's own
  EXPECT_EQ(sim.FdProcess(r), 1u);
  EXPECT_EQ(sim.FdProcess(r0), 0u);
  char buf[8];
  const OpId read = engine.Submit(SubmitArgs{Read{r, buf, sizeof(buf)}, /*tag=*/1});
  sim.SetOpProcess(read, 1);
  ASSERT_TRUE(sim.Poll(engine, /*wait=*/false).ok());
  ASSERT_EQ(sim.InFlight(), 1u);

  const std::vector<int> exited = sim.CrashProcess(1);
  EXPECT_EQ(exited, (std::vector<int>{r, w}));
  EXPECT_TRUE(sim.ProcessCrashed(1));
  const std::optional<Event> ended = EventFor(sim, engine, 1);
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->res, -ECANCELED);
  // The numbers stay taken (ops on them fail -EBADF) until reaped.
  EXPECT_EQ(sim.WriteFd(w, "x"), -EBADF);
  const auto report = sim.OpenFdReport();
  ASSERT_EQ(report.size(), 4u);
  EXPECT_TRUE(report[0].exited);
  EXPECT_EQ(report[0].fd, r);
  EXPECT_EQ(report[0].opened_by, "Pipe()");
  EXPECT_EQ(sim.EventFd(), 7);  // not 3 or 4
  EXPECT_EQ(sim.ReapExited(1), 2u);
  EXPECT_EQ(sim.EventFd(), r);  // the lowest number, free again
  // A later op of the dead process fails without effect.
  const OpId late = engine.Submit(SubmitArgs{Write{w0, "y", 1}, /*tag=*/2});
  sim.SetOpProcess(late, 1);
  const std::optional<Event> refused = EventFor(sim, engine, 2);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->res, -EBADF);
  std::string got;
  EXPECT_EQ(sim.ReadFd(r0, &got, 8), -EAGAIN);
}

TEST(SimProcessTest, APartitionHoldsTheHandshakeUntilHealed) {
  SimOptions options;
  options.latency_ns = 10'000;
  SimDriver sim(options);
  Engine engine;
  sim.set_current_process(1);
  const int listener = sim.Listen(80);
  ASSERT_GE(listener, 0);
  sim.Partition(1, 2);
  EXPECT_TRUE(sim.partitioned());
  sim.set_current_process(2);
  ASSERT_GE(sim.ConnectTo(80), 0);
  sim.set_current_process(0);
  engine.Submit(SubmitArgs{Accept{listener}, /*tag=*/1});
  for (int i = 0; i < 100; ++i) {
    sim.AdvanceClock(100'000);
    ASSERT_TRUE(sim.Poll(engine, /*wait=*/false).ok());
  }
  EXPECT_FALSE(engine.HasEvents());  // 10 ms and no SYN across the cut
  const uint64_t healed_at = sim.NowNs();
  sim.Heal();
  EXPECT_FALSE(sim.partitioned());
  std::optional<Event> accepted;
  for (int i = 0; i < kMaxPolls && !accepted; ++i) {
    accepted = EventFor(sim, engine, 1);
    if (!accepted) sim.AdvanceClock(1'000);
  }
  ASSERT_TRUE(accepted.has_value());
  EXPECT_GE(accepted->res, 0);
  EXPECT_GE(sim.NowNs(), healed_at + options.latency_ns);  // it then travels as usual
}

TEST(SimProcessTest, JitterNeverReordersASocketsSegments) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    SimOptions options;
    options.seed = seed;
    options.latency_ns = 1'000;
    options.jitter_ns = 50'000;
    SimDriver sim(options);
    Engine engine;
    const int listener = sim.Listen(80);
    engine.Submit(SubmitArgs{Accept{listener}, /*tag=*/1});
    const int client = sim.ConnectTo(80);
    std::optional<Event> accepted;
    for (int i = 0; i < kMaxPolls && !accepted; ++i) {
      accepted = EventFor(sim, engine, 1);
      if (!accepted) sim.AdvanceClock(1'000);
    }
    ASSERT_TRUE(accepted.has_value()) << "seed " << seed;
    const std::string sent = "abcdefghijklmnopqrstuvwxyz";
    size_t next = 0;
    for (int i = 0; i < kMaxPolls && next < sent.size(); ++i) {
      if (sim.WriteFd(client, sent.substr(next, 1)) == 1) ++next;
      sim.AdvanceClock(500);  // segments leave 0.5 us apart, jittered by up to 50 us
    }
    sim.AdvanceClock(1'000'000);
    std::string got;
    EXPECT_EQ(sim.ReadFd(accepted->res, &got, 64), int64_t(sent.size())) << "seed " << seed;
    EXPECT_EQ(got, sent) << "seed " << seed;
  }
}

TEST(SimProcessTest, TheFaultFilterSuppressesFaultsByOrdinal) {
  SimOptions options;
  options.faults[Fault::kCrash] = 1000;
  options.fault_filter = [](uint64_t ordinal) { return ordinal % 2 == 0; };
  SimDriver sim(options);
  std::vector<bool> struck;
  for (int i = 0; i < 6; ++i) struck.push_back(sim.InjectFault(Fault::kCrash, /*fd=*/9));
  EXPECT_EQ(struck, (std::vector<bool>{true, false, true, false, true, false}));
  EXPECT_EQ(sim.stats().faults, 3u);
  EXPECT_EQ(sim.stats().faults_suppressed, 3u);
  // The trace records each fault with its ordinal and fd.
  std::vector<uint64_t> ordinals;
  for (const TraceRecord& r : sim.trace().records()) {
    if (r.type != TraceType::kFault) continue;
    ordinals.push_back(r.aux);
    EXPECT_EQ(r.fd, 9);
  }
  EXPECT_EQ(ordinals, (std::vector<uint64_t>{0, 2, 4}));
}

TEST(SimProcessTest, AFaultSeedDrawsFaultsApartFromScheduling) {
  std::vector<bool> first;
  for (uint64_t seed : {1, 2}) {
    SimOptions options;
    options.seed = seed;  // scheduling differs
    options.fault_seed = 77;
    options.faults[Fault::kPartition] = 500;
    SimDriver sim(options);
    std::vector<bool> struck;
    for (int i = 0; i < 64; ++i) struck.push_back(sim.InjectFault(Fault::kPartition));
    if (first.empty()) {
      first = struck;
    } else {
      EXPECT_EQ(struck, first);
    }
  }
  EXPECT_NE(std::count(first.begin(), first.end(), true), 0);
  EXPECT_NE(std::count(first.begin(), first.end(), false), 0);
}

// The kernel ends the multishot accept after each CQE (no F_MORE); the engine
// arms it again (engine.cc), so the user still sees one stream of connections.
TEST(SimProcessTest, MultishotEndEndsTheStreamInTheKernelAndTheEngineReArmsIt) {
  SimOptions options;
  options.faults[Fault::kMultishotEnd] = 1000;
  SimDriver sim(options);
  Engine engine;
  const int listener = sim.Listen(80);
  engine.Submit(SubmitArgs{Accept{.fd = listener, .multishot = true}, /*tag=*/1});
  ASSERT_TRUE(sim.Poll(engine, /*wait=*/false).ok());
  ASSERT_GE(sim.ConnectTo(80), 0);
  ASSERT_GE(sim.ConnectTo(80), 0);
  sim.AdvanceClock(options.latency_ns);
  std::vector<Event> got;
  for (int i = 0; i < kMaxPolls && got.size() < 2; ++i) {
    while (std::optional<Event> e = engine.PollEvent()) got.push_back(*e);
    if (got.size() < 2) {
      ASSERT_TRUE(sim.Poll(engine, /*wait=*/false).ok());
    }
  }
  ASSERT_EQ(got.size(), 2u) << sim.trace().Tail(30);
  for (const Event& e : got) {
    EXPECT_GE(e.res, 0);
    EXPECT_TRUE(e.more);
  }
  int ends = 0, accepts = 0, posts_without_more = 0;
  for (const TraceRecord& r : sim.trace().records()) {
    ends += r.type == TraceType::kFault && Fault(r.detail) == Fault::kMultishotEnd;
    accepts += r.type == TraceType::kRequest && OpKind(r.op_kind) == OpKind::kAccept;
    posts_without_more += r.type == TraceType::kPost && r.res >= 0 && (r.flags & kCqeFMore) == 0;
  }
  EXPECT_EQ(ends, 2);
  EXPECT_EQ(posts_without_more, 2);  // each CQE ended the kernel's op
  EXPECT_GE(accepts, 2);             // armed, and armed again after the first end
}

TEST(SimProcessTest, BuggifySitesAreOffWithoutTheFaultAndPerSiteWithIt) {
  SimDriver off;
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(off.Buggify("a.cc", 1));
  int enabled = 0;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    SimOptions options;
    options.seed = seed;
    options.faults[Fault::kBuggify] = 1000;
    SimDriver sim(options);
    const bool first = sim.Buggify("a.cc", 1);
    for (int i = 0; i < 10; ++i) EXPECT_EQ(sim.Buggify("a.cc", 1), first);  // per run
    enabled += first ? 1 : 0;
    if (first) {
      const TraceRecord& last = sim.trace().records().back();
      EXPECT_EQ(last.type, TraceType::kFault);
      EXPECT_EQ(sim.BuggifySite(last.user_data), "a.cc:1");
    }
  }
  EXPECT_GT(enabled, 5);
  EXPECT_LT(enabled, 35);
}

}  // namespace
}  // namespace ringloop::sim
