// examples/simulation/programs_sim_test.cc: the programs example of
// docs/testing-with-the-simulator.md: a counter server and a client as two programs
// on one simulated machine, under crashes and partitions.
#include <fcntl.h>

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "ringloop/runtime/file.h"
#include "ringloop/runtime/io.h"
#include "ringloop/runtime/scope.h"
#include "ringloop/runtime/tcp_listener.h"
#include "ringloop/runtime/tcp_stream.h"
#include "ringloop/testing/sim_test.h"

namespace {

using ringloop::File;
using ringloop::Loop;
using ringloop::Result;
using ringloop::Scope;
using ringloop::SocketAddress;
using ringloop::Task;
using ringloop::TcpListener;
using ringloop::TcpStream;
using ringloop::testing::SimRun;

// [START programs]
// CounterServer: counts requests (one byte each; the answer is the count, 8
// bytes). The count lives in /count, one byte per request, fsynced before the
// answer: an acknowledged request survives a crash.
Task<void> CounterServer(Loop&, int /*restarts*/) {
  absl::StatusOr<File> file = co_await File::Open("/count", O_CREAT | O_RDWR, 0644);
  if (!file.ok()) co_return;
  uint64_t count = 0;
  char buf[4096];
  for (;;) {  // count what the last run made durable
    Result r = co_await file->ReadAt(buf, sizeof(buf), count);
    if (!r.ok() || r.value() == 0) break;
    count += uint64_t(r.value());
  }
  absl::StatusOr<TcpListener> listener = absl::UnavailableError("not bound");
  while (!listener.ok() && !ringloop::IsCancelled()) {
    listener = co_await TcpListener::Bind(SocketAddress::Loopback(7000));
    if (!listener.ok()) co_await ringloop::Sleep(absl::Milliseconds(10));  // port still held
  }
  while (!ringloop::IsCancelled()) {
    absl::StatusOr<TcpStream> conn = co_await listener->Accept();
    char one;
    if (!conn.ok() || !(co_await conn->ReadExact(&one, 1)).ok()) continue;
    if (!(co_await file->WriteAllAt(&one, 1, count)).ok()) continue;
    if (!(co_await file->Fsync()).ok()) continue;  // durable before the answer
    ++count;
    co_await conn->WriteAll(&count, sizeof(count));
    co_await conn->Close();
  }
}

// Client: 10 requests, each retried until answered; every answer must count
// every request acknowledged before it.
Task<void> Client(Loop&, int /*restarts*/) {
  uint64_t acked = 0;
  for (int i = 0; i < 10 && !ringloop::IsCancelled(); ++i) {
    for (bool answered = false; !answered && !ringloop::IsCancelled();) {
      absl::StatusOr<TcpStream> conn = co_await TcpStream::Connect(SocketAddress::Loopback(7000));
      uint64_t count = 0;
      const char one = 1;
      answered = conn.ok() && (co_await conn->WriteAll(&one, 1)).ok() &&
                 (co_await conn->ReadExact(&count, sizeof(count))).ok();
      if (conn.ok()) co_await conn->Close();
      if (!answered) {
        co_await ringloop::Sleep(absl::Milliseconds(10));  // then retry
      } else {
        EXPECT_GE(count, ++acked) << "an acknowledged request was lost";
      }
    }
    co_await ringloop::Sleep(absl::Milliseconds(100));
  }
}

// ServerAndClient: the test body: both programs, until the client is done.
Task<void> ServerAndClient(SimRun& run) {
  co_await ringloop::WithScope([&](Scope& scope) -> Task<void> {
    scope.Spawn(run.RunProgram("server", CounterServer));  // serves until cancelled
    co_await run.RunProgram("client", Client);
    scope.Cancel();
  });
}
// [END programs]

// [START crash-test]
TEST(ProgramsSimTest, SurvivesCrashesAndPartitions) {
  ringloop::testing::SimTestOptions options;
  options.faults = {};
  options.faults[ringloop::sim::Fault::kCrash] = 100;      // per program_fault_interval
  options.faults[ringloop::sim::Fault::kPartition] = 100;  // heals within max_partition
  options.faults[ringloop::sim::Fault::kShortIo] = ringloop::sim::kDefaultFaultPermille;
  ringloop::testing::ForEachSeed(ServerAndClient, options);
}
// [END crash-test]

}  // namespace
