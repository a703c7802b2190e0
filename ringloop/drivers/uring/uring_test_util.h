// ringloop/drivers/uring/uring_test_util.h: driving an Engine over a real UringDriver in tests.
//
// UringHarness owns an Engine and a UringDriver and steps them the way a runtime
// would (Poll, then drain events), recording every event. RunUntil steps until a
// condition holds or a step bound is hit, so a livelock fails instead of hanging.
// URING_HARNESS_OR_SKIP skips a test when io_uring (or a requested option) is not
// available on this machine, and fails it for any other setup error.
//
// Test-only; one thread.
#ifndef RINGLOOP_DRIVERS_URING_URING_TEST_UTIL_H_
#define RINGLOOP_DRIVERS_URING_URING_TEST_UTIL_H_

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "ringloop/core/engine.h"
#include "ringloop/drivers/uring/uring_driver.h"

namespace ringloop::testing {

class UringHarness {
 public:
  UringHarness(std::unique_ptr<UringDriver> driver, Engine::Options engine_options = {})
      : engine_(engine_options), driver_(std::move(driver)) {}

  Engine& engine() { return engine_; }
  UringDriver& driver() { return *driver_; }
  const std::vector<Event>& events() const { return events_; }

  // kStepWaitNs: the longest one step waits, so that a step bound is a time bound
  // too (a lost wake-up fails the test instead of hanging it).
  static constexpr uint64_t kStepWaitNs = 200'000'000;

  // Step: one Poll (waiting at most kStepWaitNs), then every event it produced is
  // recorded.
  absl::Status Step(bool wait = true) {
    absl::Status status = driver_->PollFor(engine_, wait ? kStepWaitNs : 0);
    while (std::optional<Event> e = engine_.PollEvent()) events_.push_back(*e);
    return status;
  }

  // RunUntil: steps (each Poll waits) until `done()` or `max_steps` steps; true if
  // `done()` held. A failed Poll fails the test and stops.
  template <typename Done>
  bool RunUntil(Done done, int max_steps = 200) {
    for (int step = 0; step < max_steps; ++step) {
      if (done()) return true;
      absl::Status status = Step(/*wait=*/true);
      if (!status.ok()) {
        ADD_FAILURE() << "Poll failed: " << status;
        return false;
      }
    }
    return done();
  }

  // FinalEvent: the final event of op `id`, if it has come.
  std::optional<Event> FinalEvent(OpId id) const {
    for (const Event& e : events_) {
      if (e.id == id && !e.more) return e;
    }
    return std::nullopt;
  }

  // FinalIndex: the position of op `id`'s final event in events(), or -1.
  int FinalIndex(OpId id) const {
    for (size_t i = 0; i < events_.size(); ++i) {
      if (events_[i].id == id && !events_[i].more) return static_cast<int>(i);
    }
    return -1;
  }

  // RunUntilFinal: steps until op `id` has its final event; returns it.
  std::optional<Event> RunUntilFinal(OpId id, int max_steps = 200) {
    RunUntil([&] { return FinalEvent(id).has_value(); }, max_steps);
    return FinalEvent(id);
  }

  // Drain: shuts the engine down and polls until it is quiescent.
  bool Drain(int max_steps = 200) {
    engine_.Shutdown();
    return RunUntil([&] { return engine_.Quiescent(); }, max_steps);
  }

 private:
  Engine engine_;
  std::unique_ptr<UringDriver> driver_;
  std::vector<Event> events_;
};

// SkipReason: why a driver could not be made, if that is a reason to skip (io_uring
// unusable here, or an option refused by this kernel/privilege level).
inline bool IsSkippable(const absl::Status& s) {
  return absl::IsUnavailable(s) || absl::IsPermissionDenied(s) || absl::IsFailedPrecondition(s);
}

// MakeHarness: a harness over a new UringDriver with `options`.
inline absl::StatusOr<std::unique_ptr<UringHarness>> MakeHarness(
    UringDriver::Options options = {}, Engine::Options engine_options = {}) {
  absl::StatusOr<std::unique_ptr<UringDriver>> d = UringDriver::Create(std::move(options));
  if (!d.ok()) return d.status();
  return std::make_unique<UringHarness>(*std::move(d), engine_options);
}

// Fds: closes every fd it holds at scope exit (those the engine has not closed).
class Fds {
 public:
  ~Fds() {
    for (int fd : fds_) {
      if (fd >= 0) close(fd);
    }
  }
  int Add(int fd) {
    fds_.push_back(fd);
    return fd;
  }
  // Forget: the engine closed `fd` (or will): do not close it again.
  void Forget(int fd) {
    for (int& f : fds_) {
      if (f == fd) f = -1;
    }
  }

 private:
  std::vector<int> fds_;
};

// LoopbackListener: a TCP socket listening on 127.0.0.1 on an ephemeral port.
inline int LoopbackListener(sockaddr_in* addr, int backlog = 128) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      listen(fd, backlog) != 0) {
    return -1;
  }
  socklen_t len = sizeof(*addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(addr), &len);
  return fd;
}

}  // namespace ringloop::testing

// URING_HARNESS_OR_SKIP: declares `h` (a std::unique_ptr<UringHarness>) over a
// driver with the given options, skipping the test if io_uring or an option is not
// available here.
#define URING_HARNESS_OR_SKIP(h, ...)                                      \
  auto h##_or = ::ringloop::testing::MakeHarness(__VA_ARGS__);             \
  if (!h##_or.ok() && ::ringloop::testing::IsSkippable(h##_or.status())) { \
    GTEST_SKIP() << "io_uring unavailable here: " << h##_or.status();      \
  }                                                                        \
  ASSERT_TRUE(h##_or.ok()) << h##_or.status();                             \
  std::unique_ptr<::ringloop::testing::UringHarness> h = *std::move(h##_or)

#endif  // RINGLOOP_DRIVERS_URING_URING_TEST_UTIL_H_
