// tests/simulation/reply_service_test.cc: the buggy reply service passes its loopback
// test, and the simulator finds its bug with a replayable, shrunk seed.
#include "tests/simulation/reply_service.h"

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "ringloop/runtime/loop.h"
#include "ringloop/runtime/scope.h"
#include "ringloop/testing/sim_test.h"

namespace ringloop::demo {
namespace {

using ringloop::testing::SimRun;
using ringloop::testing::SimTestOptions;

constexpr uint32_t kSizes[] = {3000, 20000};

Task<void> ServeInto(TcpListener* listener, int count, ReplyOptions options, absl::Status* out) {
  *out = co_await ServeConnections(*listener, count, options);
}

Task<void> FetchInto(SocketAddress address, uint32_t n, absl::StatusOr<std::string>* out) {
  *out = co_await Fetch(address, n);
}

// ServerAndClients: one server, a client per size, all on the calling task's loop.
Task<void> ServerAndClients(uint16_t port, ReplyOptions options) {
  absl::StatusOr<TcpListener> listener = co_await TcpListener::Bind(SocketAddress::Loopback(port));
  EXPECT_TRUE(listener.ok()) << listener.status();
  if (!listener.ok()) co_return;
  absl::Status served;
  std::vector<absl::StatusOr<std::string>> got(std::size(kSizes));
  {
    Scope scope;
    scope.Spawn(ServeInto(&*listener, int(std::size(kSizes)), options, &served));
    for (size_t i = 0; i < std::size(kSizes); ++i) {
      scope.Spawn(FetchInto(listener->address(), kSizes[i], &got[i]));
    }
    co_await scope.Join();
  }
  EXPECT_TRUE(served.ok()) << served;
  for (size_t i = 0; i < std::size(kSizes); ++i) {
    EXPECT_TRUE(got[i].ok()) << got[i].status();
    if (got[i].ok()) {
      EXPECT_EQ(got[i]->size(), kSizes[i]) << "client " << i << " got a truncated answer";
      EXPECT_TRUE(*got[i] == Expected(kSizes[i])) << "client " << i << " got other bytes";
    }
  }
  co_await listener->Close();
}

SimTestOptions Faults() {
  SimTestOptions o;
  o.faults = {};
  for (const sim::Fault f : {sim::Fault::kShortIo, sim::Fault::kCqOverflow, sim::Fault::kSubmitBusy,
                             sim::Fault::kDuplicateCqe}) {
    o.faults[f] = sim::kDefaultFaultPermille;
  }
  return o;
}

void OnLoopback(ReplyOptions options) {
  LoopOptions lo;
  lo.log_driver_choice = false;
  auto loop = Loop::Create(lo);
  ASSERT_TRUE(loop.ok()) << loop.status();
  (*loop)->BlockOn(ServerAndClients(/*port=*/0, options));
}

TEST(ReplyServiceTest, BothVariantsPassOnLoopback) {
  OnLoopback(ReplyOptions{});
  OnLoopback(ReplyOptions{.ignore_short_writes = true});  // the bug hides here
}

TEST(ReplyServiceTest, TheCorrectVariantPassesEverySeed) {
  ringloop::testing::ForEachSeed([](SimRun&) { return ServerAndClients(7000, ReplyOptions{}); },
                                 Faults());
}

TEST(ReplyServiceTest, TheSimulatorFindsIgnoredShortWritesWithAShrunkReplayableSeed) {
  const ringloop::testing::SimBody buggy = [](SimRun&) {
    return ServerAndClients(7000, ReplyOptions{.ignore_short_writes = true});
  };
  SimTestOptions options = Faults();
  options.seeds = 100;
  const ringloop::testing::SimReport report = ringloop::testing::RunSeeds(buggy, options);
  ASSERT_TRUE(report.failing_seed.has_value()) << "no seed of 100 found the bug";
  EXPECT_NE(report.text.find("truncated answer"), std::string::npos) << report.text;
  EXPECT_NE(report.text.find("--test_env=RINGLOOP_SIM_SEED="), std::string::npos) << report.text;
  EXPECT_NE(report.text.find("shrunk fault schedule"), std::string::npos) << report.text;

  // The replay: the seed, with only the shrunk faults, fails again, and the
  // schedule kept at least one short send and fewer faults than the first run.
  const ringloop::testing::SimConfig config =
      ringloop::testing::ExpandSeed(*report.failing_seed, options);
  const ringloop::testing::SimOutcome first = ringloop::testing::RunOnce(buggy, config, options);
  ASSERT_TRUE(first.failed());
  const ringloop::testing::Shrunk shrunk = ringloop::testing::Shrink(buggy, config, options, first);
  const ringloop::testing::SimOutcome replay =
      ringloop::testing::RunOnce(buggy, config, options, shrunk.keep);
  EXPECT_TRUE(replay.failed());
  EXPECT_LE(shrunk.keep.size(), first.faults.size());
  bool short_send = false;
  for (const auto& f : replay.faults) {
    short_send |= static_cast<sim::Fault>(f.detail) == sim::Fault::kShortIo;
  }
  EXPECT_TRUE(short_send) << report.text;
  std::fprintf(stderr, "%s", report.text.c_str());
}

}  // namespace
}  // namespace ringloop::demo
