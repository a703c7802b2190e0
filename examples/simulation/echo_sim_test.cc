// examples/simulation/echo_sim_test.cc: the examples of docs/testing-with-the-simulator.md:
// a Loop on the simulated kernel, an echo service with a RINGLOOP_BUGGIFY site, and
// its test over many seeds with faults.
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "ringloop/drivers/sim/sim_driver.h"
#include "ringloop/runtime/buggify.h"
#include "ringloop/runtime/io.h"
#include "ringloop/runtime/loop.h"
#include "ringloop/runtime/scope.h"
#include "ringloop/runtime/tcp_listener.h"
#include "ringloop/runtime/tcp_stream.h"
#include "ringloop/testing/sim_test.h"

namespace {

using ringloop::DriverChoice;
using ringloop::Loop;
using ringloop::LoopOptions;
using ringloop::Result;
using ringloop::Scope;
using ringloop::SocketAddress;
using ringloop::Task;
using ringloop::TcpListener;
using ringloop::TcpStream;
using ringloop::testing::SimRun;

TEST(EchoSimTest, AnHourOfVirtualTime) {
  // [START loop]
  LoopOptions options;
  options.driver = DriverChoice::kSim;  // the simulated kernel
  options.sim.seed = 42;                // the whole run follows from it
  options.sim.latency_ns = 100'000;     // one-way network latency: 100 us
  absl::StatusOr<std::unique_ptr<Loop>> loop = Loop::Create(options);
  const uint64_t start = (*loop)->NowNs();
  bool slept = false;
  (*loop)->Sleep(absl::Hours(1), [&](const ringloop::Event&) { slept = true; });
  absl::Status status = (*loop)->RunUntil([&] { return slept; });  // returns at once
  // (*loop)->NowNs() - start is one hour of virtual time.
  // [END loop]
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_GE((*loop)->NowNs() - start, uint64_t(absl::ToInt64Nanoseconds(absl::Hours(1))));
}

// [START service]
// Echo: sends back what the client sends, until it closes.
Task<void> Echo(TcpStream conn) {
  char buf[4096];
  for (;;) {
    Result n = co_await conn.Read(buf, sizeof(buf));
    if (!n.ok() || n.value() == 0) break;
    // The rare path, under the simulator only: echo a byte at a time.
    const size_t step = RINGLOOP_BUGGIFY() ? 1 : size_t(n.value());
    bool failed = false;
    for (size_t off = 0; off < size_t(n.value()) && !failed; off += step) {
      const size_t len = std::min(step, size_t(n.value()) - off);
      failed = !(co_await conn.WriteAll(buf + off, len)).ok();
    }
    if (failed) break;
  }
  co_await conn.Close();
}

// Serve: answers `count` connections, each in its own task.
Task<void> Serve(TcpListener& listener, int count) {
  Scope scope;
  for (int i = 0; i < count; ++i) {
    absl::StatusOr<TcpStream> conn = co_await listener.Accept();
    if (!conn.ok()) break;
    scope.Spawn(Echo(std::move(*conn)));
  }
  co_await scope.Join();
}
// [END service]

Task<void> Client(SocketAddress address, std::string message) {
  absl::StatusOr<TcpStream> conn = co_await TcpStream::Connect(address);
  EXPECT_TRUE(conn.ok()) << conn.status();
  if (!conn.ok()) co_return;
  Result w = co_await conn->WriteAll(message);
  EXPECT_TRUE(w.ok()) << w.ToString();
  std::string back(message.size(), '\0');
  Result r = co_await conn->ReadExact(back.data(), back.size());
  EXPECT_TRUE(r.ok()) << r.ToString();
  EXPECT_EQ(back, message);
  co_await conn->Close();
}

// [START body]
// ServerAndClients: the test body: a server and three clients on one machine.
Task<void> ServerAndClients(SimRun& /*run: the machine, for its clock, faults and fds*/) {
  absl::StatusOr<TcpListener> listener =
      co_await TcpListener::Bind(SocketAddress::Loopback(7000));  // a fixed port
  EXPECT_TRUE(listener.ok()) << listener.status();  // EXPECT_*, not ASSERT_*, in a task
  if (!listener.ok()) co_return;
  {
    Scope scope;
    scope.Spawn(Serve(*listener, 3));
    for (int i = 0; i < 3; ++i) {
      scope.Spawn(Client(listener->address(), std::string(1000 * (i + 1), char('a' + i))));
    }
    co_await scope.Join();
  }
  co_await listener->Close();  // an fd left open would fail the run as a leak
}
// [END body]

// [START test]
TEST(EchoSimTest, SurvivesFaults) {
  ringloop::testing::SimTestOptions options;
  // The faults this service claims to survive; each seed enables a random subset.
  options.faults = {};
  for (const ringloop::sim::Fault f :
       {ringloop::sim::Fault::kShortIo, ringloop::sim::Fault::kCqOverflow,
        ringloop::sim::Fault::kSubmitBusy, ringloop::sim::Fault::kBuggify}) {
    options.faults[f] = ringloop::sim::kDefaultFaultPermille;
  }
  ringloop::testing::ForEachSeed(ServerAndClients, options);
}
// [END test]

}  // namespace
