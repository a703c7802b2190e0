// tests/conformance/all_drivers.cc: the fixture, and the battery instantiated
// for every driver.
//
// uring and epoll run once each on this machine's kernel. The simulator runs
// each scenario over eight seeds (each picks other legal orders of completions
// and other cancel/timeout race outcomes) and four more with the faults the
// contract hides from users (EINTR, CQ overflow, -EBUSY on submit, duplicate
// CQEs): a scenario must pass them unchanged.
#include <utility>
#include <vector>

#include "tests/conformance/fixture.h"

namespace ringloop::conformance {

void ConformanceTest::SetUp() {
  absl::StatusOr<std::unique_ptr<Env>> env = Env::Create(GetParam());
  if (!env.ok() && absl::IsUnavailable(env.status())) {
    GTEST_SKIP() << ParamName(GetParam()) << " cannot run here: " << env.status().message();
  }
  ASSERT_TRUE(env.ok()) << env.status();
  env_ = *std::move(env);
}

void ConformanceTest::TearDown() {
  h_.reset();  // drains the engine (unless the scenario did) and checks exactly-once
  env_.reset();
}

Harness& ConformanceTest::Start(Engine::Options options) {
  h_ = std::make_unique<Harness>(*env_, options);
  return *h_;
}

ConformanceTest::TcpConnection ConformanceTest::EstablishTcp(Harness& h) {
  TcpConnection c;
  sockaddr_in addr{};
  c.listener = env().Listener(&addr);
  EXPECT_GE(c.listener, 0);
  c.client = env().PeerConnect(addr);
  EXPECT_GE(c.client, 0);
  const OpId accept = h.Submit(Accept{.fd = c.listener});
  if (h.AwaitFinal({accept})) c.server = h.Res(accept);
  EXPECT_GE(c.server, 0) << "accept: " << c.server;
  env().Adopt(c.server);
  return c;
}

namespace {

std::vector<EnvParam> AllSimSeeds() {
  std::vector<EnvParam> out;
  for (uint64_t seed = 1; seed <= 8; ++seed) out.push_back({DriverKind::kSim, seed, false});
  for (uint64_t seed = 101; seed <= 104; ++seed) out.push_back({DriverKind::kSim, seed, true});
  return out;
}

std::string Name(const ::testing::TestParamInfo<EnvParam>& info) { return ParamName(info.param); }

}  // namespace

INSTANTIATE_TEST_SUITE_P(Uring, ConformanceTest,
                         ::testing::Values(EnvParam{DriverKind::kUring, 0, false}), Name);
INSTANTIATE_TEST_SUITE_P(Epoll, ConformanceTest,
                         ::testing::Values(EnvParam{DriverKind::kEpoll, 0, false}), Name);
INSTANTIATE_TEST_SUITE_P(Sim, ConformanceTest, ::testing::ValuesIn(AllSimSeeds()), Name);

}  // namespace ringloop::conformance
