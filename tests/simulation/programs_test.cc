// tests/simulation/programs_test.cc: several programs on one simulated machine
// (SimRun::RunProgram): a crash loses the file data not yet fsynced, a partition
// stalls requests until it heals, a server that acks before it makes a change
// durable is caught by crash faults, and such runs replay identically.
#include <fcntl.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "ringloop/runtime/address.h"
#include "ringloop/runtime/file.h"
#include "ringloop/runtime/io.h"
#include "ringloop/runtime/scope.h"
#include "ringloop/runtime/tcp_listener.h"
#include "ringloop/runtime/tcp_stream.h"
#include "ringloop/testing/sim_test.h"
#include "tests/simulation/reply_service.h"

namespace ringloop::testing {
namespace {

using sim::Fault;

constexpr uint16_t kPort = 7000;

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

SimTestOptions NoFaults() {
  SimTestOptions o;
  o.faults = {};
  o.swarm = false;
  return o;
}

// --- Ops belong to the program whose tasks submit them -------------------------------

TEST(ProgramsTest, OpsOfTasksAProgramAwaitsOrSpawnsAreItsOwn) {
  const SimTestOptions options = NoFaults();
  std::vector<std::string> owners;
  const SimBody body = [&owners](SimRun& run) -> Task<void> {
    auto owner = [&run](int fd) {
      auto it = run.process_names().find(run.sim().FdProcess(fd));
      return it != run.process_names().end() ? it->second : std::string("the test");
    };
    auto open_and_close = [&](std::string path) -> Task<void> {
      absl::StatusOr<File> f = co_await File::Open(path, O_CREAT | O_WRONLY, 0644);
      EXPECT_TRUE(f.ok()) << f.status();
      if (!f.ok()) co_return;
      owners.push_back(owner(f->fd()));
      co_await f->Close();
    };
    co_await open_and_close("/t");  // the body's own
    co_await run.RunProgram("a", [&](Loop&, int) -> Task<void> {
      co_await open_and_close("/a");  // awaited
      co_await WithScope([&](Scope& s) -> Task<void> {
        s.Spawn(open_and_close("/a2"));  // spawned
        co_return;
      });
    });
    co_await run.RunProgram("b", [&](Loop&, int) -> Task<void> { co_await open_and_close("/b"); });
  };
  const SimOutcome o = RunOnce(body, ExpandSeed(1, options), options);
  EXPECT_FALSE(o.failed()) << absl::StrJoin(o.failures, "\n");
  EXPECT_EQ(owners, (std::vector<std::string>{"the test", "a#0", "a#0", "b#0"}));
}

// --- A crash loses what was not fsynced -------------------------------------------

constexpr char kRecord[] = "0123456789abcdef";  // written in four pieces

// WriteThenCrash: the first run writes kRecord to /data in four writes (then
// fsyncs it if `fsync`) and crashes itself; the restart reads /data into `seen`.
SimBody WriteThenCrash(bool fsync, std::string* seen) {
  return [fsync, seen](SimRun& run) -> Task<void> {
    co_await run.RunProgram("writer", [&run, fsync, seen](Loop&, int restarts) -> Task<void> {
      if (restarts == 0) {
        absl::StatusOr<File> f = co_await File::Open("/data", O_CREAT | O_WRONLY, 0644);
        EXPECT_TRUE(f.ok()) << f.status();
        if (!f.ok()) co_return;
        for (int i = 0; i < 4; ++i) {
          Result w = co_await f->WriteAllAt(kRecord + 4 * i, 4, uint64_t(4 * i));
          EXPECT_TRUE(w.ok()) << w.status();
        }
        if (fsync) {
          Result s = co_await f->Fsync();
          EXPECT_TRUE(s.ok()) << s.status();
        }
        EXPECT_TRUE(run.Crash("writer"));
        co_await Sleep(absl::Hours(1));  // ends at once: the program is cancelled
        EXPECT_TRUE(IsCancelled());
        co_return;
      }
      seen->clear();
      absl::StatusOr<File> f = co_await File::Open("/data", O_RDONLY);
      if (!f.ok()) co_return;  // the file's creation was lost too
      char buf[64];
      Result r = co_await f->ReadAt(buf, sizeof(buf), 0);
      EXPECT_TRUE(r.ok()) << r.status();
      if (r.ok()) seen->assign(buf, size_t(r.value()));
      co_await f->Close();
    });
  };
}

TEST(ProgramsTest, ACrashLosesFileDataNotYetFsynced) {
  const SimTestOptions options = NoFaults();
  int lost = 0;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    std::string seen = "unset";
    const SimOutcome o = RunOnce(WriteThenCrash(false, &seen), ExpandSeed(seed, options), options);
    EXPECT_FALSE(o.failed()) << absl::StrJoin(o.failures, "\n");
    // What survives is a prefix of what was written, in whole writes.
    EXPECT_EQ(seen.size() % 4, 0u) << seen;
    EXPECT_EQ(std::string(kRecord).substr(0, seen.size()), seen);
    if (seen != kRecord) ++lost;
  }
  EXPECT_GT(lost, 0) << "no seed lost the unsynced writes";
}

TEST(ProgramsTest, ACrashKeepsFileDataFsyncedBeforeIt) {
  const SimTestOptions options = NoFaults();
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    std::string seen = "unset";
    const SimOutcome o = RunOnce(WriteThenCrash(true, &seen), ExpandSeed(seed, options), options);
    EXPECT_FALSE(o.failed()) << absl::StrJoin(o.failures, "\n");
    EXPECT_EQ(seen, kRecord) << "seed " << seed;
    const std::string events = absl::StrJoin(o.program_events, "\n");
    EXPECT_TRUE(Contains(events, "crash (asked for by the test) writer#0")) << events;
  }
}

// --- A partition stalls requests until it heals ------------------------------------

// Serve: the reply server of reply_service.h on kPort, serving until cancelled.
Task<void> Serve(Loop&, int) {
  absl::StatusOr<TcpListener> listener = co_await TcpListener::Bind(SocketAddress::Loopback(kPort));
  EXPECT_TRUE(listener.ok()) << listener.status();
  if (!listener.ok()) co_return;
  co_await demo::ServeConnections(*listener, 1 << 30, demo::ReplyOptions{});
}

// FetchWithRetry: Fetch until it succeeds; a refused connect (the server not
// listening yet) is retried after 10 ms of virtual time, at most 1000 times.
Task<absl::StatusOr<std::string>> FetchWithRetry(uint32_t n) {
  absl::StatusOr<std::string> got = absl::UnavailableError("not tried");
  for (int attempt = 0; attempt < 1000 && !IsCancelled(); ++attempt) {
    got = co_await demo::Fetch(SocketAddress::Loopback(kPort), n);
    if (got.ok()) break;
    co_await Sleep(absl::Milliseconds(10));
  }
  co_return got;
}

TEST(ProgramsTest, APartitionStallsRequestsUntilItHeals) {
  SimTestOptions options = NoFaults();
  options.fault_phase = absl::Seconds(3);
  uint64_t cut_ns = 0;
  uint64_t answered_ns = 0;
  const SimBody body = [&](SimRun& run) -> Task<void> {
    co_await WithScope([&](Scope& s) -> Task<void> {
      s.Spawn(run.RunProgram("server", Serve));
      co_await run.RunProgram("client", [&](Loop& loop, int) -> Task<void> {
        absl::StatusOr<std::string> first = co_await FetchWithRetry(100);
        EXPECT_TRUE(first.ok() && *first == demo::Expected(100));
        EXPECT_TRUE(run.Partition("client", "server"));
        cut_ns = loop.NowNs();
        // Only the end of the fault phase heals the cut.
        absl::StatusOr<std::string> second =
            co_await demo::Fetch(SocketAddress::Loopback(kPort), 200);
        answered_ns = loop.NowNs();
        EXPECT_TRUE(second.ok()) << second.status();
        EXPECT_TRUE(second.ok() && *second == demo::Expected(200));
      });
      s.Cancel();
    });
  };
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    const SimOutcome o = RunOnce(body, ExpandSeed(seed, options), options);
    EXPECT_FALSE(o.failed()) << absl::StrJoin(o.failures, "\n");
    EXPECT_LT(cut_ns, uint64_t(absl::ToInt64Nanoseconds(options.fault_phase)));
    EXPECT_GE(answered_ns, uint64_t(absl::ToInt64Nanoseconds(options.fault_phase)))
        << "the request crossed the cut";
    const std::string events = absl::StrJoin(o.program_events, "\n");
    EXPECT_TRUE(Contains(events, "partition client#0 | server#0")) << events;
    EXPECT_TRUE(Contains(events, "heal")) << events;
  }
}

// ManyFetches: 20 fetches 50 ms apart, each retried until it succeeds; the
// longest one's virtual time goes to `*longest_ns`.
ProgramMain ManyFetches(uint64_t* longest_ns) {
  return [longest_ns](Loop& loop, int) -> Task<void> {
    for (uint32_t i = 1; i <= 20 && !IsCancelled(); ++i) {
      const uint64_t start = loop.NowNs();
      absl::StatusOr<std::string> got = co_await FetchWithRetry(i * 100);
      *longest_ns = std::max(*longest_ns, loop.NowNs() - start);
      EXPECT_TRUE(got.ok()) << got.status();
      EXPECT_TRUE(got.ok() && *got == demo::Expected(i * 100));
      co_await Sleep(absl::Milliseconds(50));
    }
  };
}

SimBody ServerAndClient(uint64_t* longest_ns) {
  return [longest_ns](SimRun& run) -> Task<void> {
    co_await WithScope([&](Scope& s) -> Task<void> {
      s.Spawn(run.RunProgram("server", Serve));
      co_await run.RunProgram("client", ManyFetches(longest_ns));
      s.Cancel();
    });
  };
}

TEST(ProgramsTest, DrawnPartitionsHealAndEveryRequestCompletes) {
  SimTestOptions options = NoFaults();
  options.faults[Fault::kPartition] = 200;
  options.seeds = 20;
  uint64_t longest_ns = 0;
  const SimReport report = RunSeeds(ServerAndClient(&longest_ns), options);
  EXPECT_FALSE(report.failing_seed.has_value()) << report.text;
  EXPECT_EQ(report.seeds_run, 20u);
  // The partitions did strike, and some fetch waited for one to heal (a
  // fetch takes well under a millisecond across a whole network).
  EXPECT_GE(longest_ns, uint64_t(absl::ToInt64Nanoseconds(absl::Milliseconds(50))));
  int partitions = 0;
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    const SimOutcome o = RunOnce(ServerAndClient(&longest_ns), ExpandSeed(seed, options), options);
    for (const auto& f : o.faults) partitions += f.detail == uint8_t(Fault::kPartition);
  }
  EXPECT_GT(partitions, 0);
}

// --- A server that acks before its change is durable -------------------------------

// Counter: a server that counts requests: each connection sends one byte and
// gets the count after it as 8 bytes. The correct variant appends a byte to
// /count and fsyncs before it answers, and counts the file's bytes when it
// starts; the buggy one keeps the count in memory only.
ProgramMain Counter(bool durable) {
  return [durable](Loop&, int) -> Task<void> {
    uint64_t count = 0;
    absl::StatusOr<File> file = absl::UnavailableError("in memory");
    if (durable) {
      file = co_await File::Open("/count", O_CREAT | O_RDWR, 0644);
      EXPECT_TRUE(file.ok()) << file.status();
      if (!file.ok()) co_return;
      char buf[4096];
      for (;;) {
        Result r = co_await file->ReadAt(buf, sizeof(buf), count);
        if (!r.ok() || r.value() == 0) break;
        count += uint64_t(r.value());
      }
    }
    absl::StatusOr<TcpListener> listener = absl::UnavailableError("not bound");
    for (int attempt = 0; attempt < 100 && !IsCancelled(); ++attempt) {
      listener = co_await TcpListener::Bind(SocketAddress::Loopback(kPort));
      if (listener.ok()) break;
      co_await Sleep(absl::Milliseconds(10));  // the crashed incarnation's port frees
    }
    if (!listener.ok()) co_return;
    while (!IsCancelled()) {
      absl::StatusOr<TcpStream> conn = co_await listener->Accept();
      if (!conn.ok()) continue;
      char one;
      Result r = co_await conn->ReadExact(&one, 1);
      if (!r.ok()) continue;
      if (durable) {
        Result w = co_await file->WriteAllAt(&one, 1, count);
        Result s = co_await file->Fsync();
        if (!w.ok() || !s.ok()) continue;
      }
      ++count;
      co_await conn->WriteAll(&count, sizeof(count));
      co_await conn->Close();
    }
  };
}

// Increment: one request to the counter: the count it answers, or an error.
Task<absl::StatusOr<uint64_t>> Increment() {
  absl::StatusOr<TcpStream> conn = co_await TcpStream::Connect(SocketAddress::Loopback(kPort));
  if (!conn.ok()) co_return conn.status();
  const char one = 1;
  Result w = co_await conn->WriteAll(&one, 1);
  if (!w.ok()) co_return w.status();
  uint64_t count = 0;
  Result r = co_await conn->ReadExact(&count, sizeof(count));
  co_await conn->Close();
  if (!r.ok()) co_return r.status();
  co_return count;
}

// Counting: 20 increments 50 ms apart (each retried until answered); every
// answer counts at least the increments acknowledged before it and itself.
Task<void> Counting(Loop&, int) {
  uint64_t acked = 0;
  for (int i = 0; i < 20 && !IsCancelled(); ++i) {
    for (int attempt = 0; attempt < 1000 && !IsCancelled(); ++attempt) {
      absl::StatusOr<uint64_t> count = co_await Increment();
      if (!count.ok()) {
        co_await Sleep(absl::Milliseconds(10));
        continue;
      }
      ++acked;
      EXPECT_GE(*count, acked) << "an acknowledged increment was lost";
      break;
    }
    co_await Sleep(absl::Milliseconds(50));
  }
}

SimBody CounterService(bool durable) {
  return [durable](SimRun& run) -> Task<void> {
    co_await WithScope([&](Scope& s) -> Task<void> {
      s.Spawn(run.RunProgram("server", Counter(durable)));
      co_await run.RunProgram("client", Counting);
      s.Cancel();
    });
  };
}

SimTestOptions Crashes() {
  SimTestOptions o = NoFaults();
  o.faults[Fault::kCrash] = 100;
  o.faults[Fault::kShortIo] = 50;
  o.seeds = 30;
  return o;
}

TEST(ProgramsTest, ACounterThatFsyncsBeforeItAcksSurvivesCrashes) {
  const SimReport report = RunSeeds(CounterService(true), Crashes());
  EXPECT_FALSE(report.failing_seed.has_value()) << report.text;
  EXPECT_EQ(report.seeds_run, 30u);
}

TEST(ProgramsTest, ACrashCatchesACounterThatAcksBeforeItIsDurable) {
  const SimReport report = RunSeeds(CounterService(false), Crashes());
  ASSERT_TRUE(report.failing_seed.has_value()) << "no seed caught the planted bug";
  EXPECT_TRUE(Contains(report.text, "an acknowledged increment was lost")) << report.text;
  // The shrunk schedule still holds a crash of the server, which is what the
  // bug needs.
  const size_t shrunk = report.text.find("shrunk fault schedule");
  ASSERT_NE(shrunk, std::string::npos) << report.text;
  const std::string rest = report.text.substr(shrunk);
  EXPECT_TRUE(Contains(rest.substr(0, rest.find("failures with it")), " crash of server#"))
      << report.text;
  EXPECT_TRUE(Contains(report.text, "programs:\n")) << report.text;
  // Without crashes the bug does not show.
  SimTestOptions no_crash = Crashes();
  no_crash.faults[Fault::kCrash] = 0;
  const SimReport calm = RunSeeds(CounterService(false), no_crash);
  EXPECT_FALSE(calm.failing_seed.has_value()) << calm.text;
}

// --- Replay ---------------------------------------------------------------------------------

TEST(ProgramsTest, ASeedWithCrashesAndPartitionsReplaysIdentically) {
  SimTestOptions options = NoFaults();
  options.faults[Fault::kCrash] = 100;
  options.faults[Fault::kPartition] = 100;
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    const SimConfig config = ExpandSeed(seed, options);
    const SimOutcome a = RunOnce(CounterService(true), config, options);
    const SimOutcome b = RunOnce(CounterService(true), config, options);
    EXPECT_FALSE(a.failed()) << absl::StrJoin(a.failures, "\n");
    EXPECT_EQ(FirstDifference(a.trace, b.trace), "");
    EXPECT_EQ(a.trace.Hash(), b.trace.Hash());
    EXPECT_EQ(a.program_events, b.program_events);
    bool crash = false;
    bool partition = false;
    for (const auto& f : a.faults) {
      crash |= f.detail == uint8_t(Fault::kCrash);
      partition |= f.detail == uint8_t(Fault::kPartition);
    }
    EXPECT_TRUE(crash || partition) << "seed " << seed << ": no crash or partition struck";
  }
}

}  // namespace
}  // namespace ringloop::testing
