// tests/conformance/fixture.h: the parameterised fixture every scenario uses.
//
// ConformanceTest is instantiated once per driver (all_drivers.cc): uring, epoll,
// and the simulator over several seeds (some with the faults users must never
// see). A scenario is written once, against Engine + Driver through Harness and
// Env; it asserts the exact outcome the contract promises, and where the
// simulator legitimately picks among several legal outcomes (which only a race
// can decide), exactly that set.
//
// A scenario a driver cannot run reports GTEST_SKIP() with the reason.
#ifndef RINGLOOP_TESTS_CONFORMANCE_FIXTURE_H_
#define RINGLOOP_TESTS_CONFORMANCE_FIXTURE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "tests/conformance/env.h"
#include "tests/conformance/harness.h"

namespace ringloop::conformance {

inline constexpr uint64_t kMs = 1'000'000;

class ConformanceTest : public ::testing::TestWithParam<EnvParam> {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Start: the scenario's harness (one per test), with `options` for its engine.
  Harness& Start(Engine::Options options = {});

  Env& env() { return *env_; }
  bool sim() const { return env_->simulated(); }

  // TcpConnection: an established loopback connection: `server` accepted through
  // the engine (the loop's end), `client` the peer's end.
  struct TcpConnection {
    int listener = -1;
    int server = -1;
    int client = -1;
  };
  // EstablishTcp: makes one (failing the test if it cannot).
  TcpConnection EstablishTcp(Harness& h);

  std::unique_ptr<Env> env_;
  std::unique_ptr<Harness> h_;
};

// Text: the first `n` bytes of `buf` (n < 0: empty).
inline std::string Text(const char* buf, int32_t n) {
  return n <= 0 ? std::string() : std::string(buf, size_t(n));
}

}  // namespace ringloop::conformance

#endif  // RINGLOOP_TESTS_CONFORMANCE_FIXTURE_H_
