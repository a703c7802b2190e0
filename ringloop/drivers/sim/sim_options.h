// ringloop/drivers/sim/sim_options.h: how to build a simulated machine (SimDriver).
//
// Its own header, apart from sim_driver.h, so that LoopOptions
// (ringloop/runtime/loop.h) can carry one without bringing in the simulator.
//
// Thread safety: a plain value.
#ifndef RINGLOOP_DRIVERS_SIM_SIM_OPTIONS_H_
#define RINGLOOP_DRIVERS_SIM_SIM_OPTIONS_H_

#include <cstdint>
#include <functional>
#include <optional>

#include "ringloop/drivers/sim/chooser.h"
#include "ringloop/drivers/sim/faults.h"

namespace ringloop::sim {

// SimOptions: the simulated machine.
struct SimOptions {
  uint64_t seed = 1;               // drives the Prng when no chooser is given
  Chooser* chooser = nullptr;      // not owned; overrides `seed` (property tests)
  FaultPlan faults;                // all off by default
  uint32_t sq_entries = 64;        // most requests taken per Poll (one chain always fits)
  uint32_t cq_entries = 128;       // CQEs beyond this wait in the overflow list
  uint64_t latency_ns = 50'000;    // one-way latency of the virtual network
  uint32_t pipe_capacity = 65536;  // default capacity of Pipe()
  bool keep_trace = true;          // keep records (else only the hash)
  // verify_moves: on every Step, also find the legal moves by scanning every
  // request in flight, and check that the set kept up to date as the kernel
  // changes (what Step chooses from) is the same (tests; it costs a scan).
  bool verify_moves = false;
  // fault_seed: when set, whether a fault strikes is drawn from its own
  // Prng(fault_seed), apart from the scheduling choices (which move is next,
  // how a race ends), so that suppressing one fault (fault_filter) leaves the
  // draws of the others where they were.
  std::optional<uint64_t> fault_seed;
  // jitter_ns: each TCP segment takes latency_ns plus a chosen 0..jitter_ns
  // more (never overtaking a segment sent before it on the same socket).
  uint64_t jitter_ns = 0;
  // fault_filter: asked before each fault that is about to strike, with its
  // ordinal (how many faults were about to strike before it in this run);
  // false suppresses it (the operation goes on as if none had been drawn).
  // ringloop/testing replays a run with fewer faults this way.
  std::function<bool(uint64_t ordinal)> fault_filter;
};

}  // namespace ringloop::sim

#endif  // RINGLOOP_DRIVERS_SIM_SIM_OPTIONS_H_
