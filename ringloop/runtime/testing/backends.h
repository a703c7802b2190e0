// ringloop/runtime/testing/backends.h: a Loop on every kernel the runtime's tests
// run on, and what a peer outside the loop does to fds.
//
// A runtime test is written once, as a TEST_P of a fixture derived from
// BackendTest, and instantiated over Backends(): io_uring (skipped, with the
// reason, where it cannot run), epoll, and the simulated kernel
// (ringloop/drivers/sim) with several seeds, reached through the driver factory
// seam of LoopOptions. Under the simulator every fd a test uses lives in the
// simulated machine: make them with the fixture's Pipe / SocketPair and touch
// them only through the loop or the Peer* calls, never with a syscall.
//
// Threads: the test's thread only (it owns the Loop).
#ifndef RINGLOOP_RUNTIME_TESTING_BACKENDS_H_
#define RINGLOOP_RUNTIME_TESTING_BACKENDS_H_

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "ringloop/drivers/sim/sim_driver.h"
#include "ringloop/runtime/loop.h"

namespace ringloop::testing {

// Backend: one kernel to run on: "uring", "epoll", or "sim_seed<N>" (seed N).
struct Backend {
  std::string name;
  uint64_t seed = 0;  // sim only
};

// PrintTo: how gtest prints a Backend (its name).
void PrintTo(const Backend& backend, std::ostream* os);

// Backends: uring, epoll and the simulator with seeds 1 to `sim_seeds`.
std::vector<Backend> Backends(int sim_seeds = 4);

// BackendName: the test-name suffix of a Backend parameter.
std::string BackendName(const ::testing::TestParamInfo<Backend>& info);

// MakeLoopOptions: options that build a Loop on `backend`; for the simulator,
// `*sim` is set to the simulated kernel when the Loop is created.
LoopOptions MakeLoopOptions(const Backend& backend, sim::SimDriver** sim);

// BackendTest: the fixture. SetUp builds loop(); TearDown destroys it (which
// drains), then closes the fds the fixture still owns.
// Its helpers are public, for the coroutines of a test to call.
class BackendTest : public ::testing::TestWithParam<Backend> {
 public:
  void SetUp() override;
  void TearDown() override;

  Loop& loop() { return *loop_; }
  // sim: the simulated kernel, or null on a real one.
  sim::SimDriver* sim() { return sim_; }
  bool simulated() const { return sim_ != nullptr; }
  // DestroyLoop: destroys the Loop now (it drains).
  void DestroyLoop() { loop_.reset(); }

  // Pipe / SocketPair: new fds, owned by the fixture (closed at TearDown)
  // until Give() hands one over.
  std::pair<int, int> Pipe();
  std::pair<int, int> SocketPair();
  // Give: the fixture stops owning `fd` (the code under test closes it).
  int Give(int fd);

  // PeerWrite: writes all of `data` to `fd` from outside the loop (it must fit
  // in the pipe or socket buffer).
  void PeerWrite(int fd, const std::string& data);
  // PeerRead: what can be read from `fd` now without blocking.
  std::string PeerRead(int fd);
  // PeerClose: close(2) of `fd` from outside the loop (a peer hanging up).
  void PeerClose(int fd);

  // TempPath: a path for a test file: under the simulator, in its in-memory
  // file system; else in the test's temporary directory.
  std::string TempPath(const std::string& name) const;

  // FdIsOpen: whether `fd` is open (in the simulated machine, under it).
  bool FdIsOpen(int fd);

  // RunUntil: runs the loop until `done()`, failing the test if `timeout` of
  // the loop's clock passes first.
  void RunUntil(const std::function<bool()>& done, absl::Duration timeout = absl::Seconds(10));
  // Settle: runs the loop until no op is live, failing the test if `timeout`
  // passes first.
  void Settle(absl::Duration timeout = absl::Seconds(10));

 private:
  std::unique_ptr<Loop> loop_;
  sim::SimDriver* sim_ = nullptr;
  std::vector<int> owned_;
};

}  // namespace ringloop::testing

#endif  // RINGLOOP_RUNTIME_TESTING_BACKENDS_H_
