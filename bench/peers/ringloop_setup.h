// bench/peers/ringloop_setup.h: how the ringloop echo servers set up their engine,
// ring and Loop, so that they differ from each other only in the layer they
// run on (Engine + UringDriver, Loop callbacks, coroutines).
//
// The ring is the one raw_uring_echo.cc sets up (SQ 1024, CQ 4096,
// SINGLE_ISSUER + DEFER_TASKRUN), and the engine's in-flight bound leaves room
// for every connection's op (the default, 256, would hold back the recvs of
// connections past the 256th in the engine's queue).
#ifndef RINGLOOP_BENCH_PEERS_RINGLOOP_SETUP_H_
#define RINGLOOP_BENCH_PEERS_RINGLOOP_SETUP_H_

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "bench/peers/echo_common.h"
#include "ringloop/core/engine.h"
#include "ringloop/drivers/uring/uring_driver.h"
#include "ringloop/runtime/loop.h"

namespace ringloop::peers {

// PeerEngineOptions: the engine of every ringloop echo server.
inline Engine::Options PeerEngineOptions() {
  Engine::Options options;
  options.max_in_flight = 4096;
  options.initial_slots = 1024;
  return options;
}

// PeerUringOptions: the ring of every ringloop echo server on io_uring.
inline UringDriver::Options PeerUringOptions() {
  UringDriver::Options options;
  options.sq_entries = 1024;
  options.cq_entries = 4096;
  options.single_issuer = true;
  options.defer_taskrun = true;
  return options;
}

// CreateUringDriverOrDie: a UringDriver with PeerUringOptions.
inline std::unique_ptr<UringDriver> CreateUringDriverOrDie() {
  absl::StatusOr<std::unique_ptr<UringDriver>> driver = UringDriver::Create(PeerUringOptions());
  if (!driver.ok()) {
    std::fprintf(stderr, "UringDriver::Create: %s\n", driver.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(*driver);
}

// CreateLoopFromFlags: a Loop on --driver=uring (the default) or epoll, with
// PeerEngineOptions (and PeerUringOptions on uring).
inline std::unique_ptr<Loop> CreateLoopFromFlags(int argc, char** argv) {
  const std::string driver = FlagValue(argc, argv, "driver", "uring");
  LoopOptions options;
  options.engine = PeerEngineOptions();
  options.log_driver_choice = false;
  if (driver == "uring") {
    options.driver = DriverChoice::kUring;
    options.factories.uring = []() -> absl::StatusOr<std::unique_ptr<Driver>> {
      auto made = UringDriver::Create(PeerUringOptions());
      if (!made.ok()) return made.status();
      return std::unique_ptr<Driver>(std::move(*made));
    };
  } else if (driver == "epoll") {
    options.driver = DriverChoice::kEpoll;
  } else {
    std::fprintf(stderr, "--driver=%s: uring or epoll\n", driver.c_str());
    std::exit(2);
  }
  absl::StatusOr<std::unique_ptr<Loop>> loop = Loop::Create(std::move(options));
  if (!loop.ok()) {
    std::fprintf(stderr, "Loop::Create: %s\n", loop.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(*loop);
}

// RunLoopOrDie: runs `loop` until the process is killed; exits 1 if the driver
// fails.
[[noreturn]] inline void RunLoopOrDie(Loop& loop) {
  const absl::Status status = loop.Run();
  std::fprintf(stderr, "Loop::Run: %s\n", status.ToString().c_str());
  std::exit(1);
}

}  // namespace ringloop::peers

#endif  // RINGLOOP_BENCH_PEERS_RINGLOOP_SETUP_H_
