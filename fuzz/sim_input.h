// fuzz/sim_input.h: the input layout of the sim_program fuzz target.
//
// An input is a machine (fault rates, queue sizes, latency), a program of
// abstract commands (tests/property/program.h) and a tape of the simulated
// kernel's choices (which legal result a race gets, which fault fires; see
// ringloop/drivers/sim/chooser.h). Decode reads them with FuzzedDataProvider, Encode
// writes the bytes that decode to a given SimInput, so seeds can be made from
// programs that the property harness runs (fuzz/make_sim_seeds.cc).
//
// Layout: every integer is a FuzzedDataProvider::ConsumeIntegral[InRange],
// taken from the END of the input: 9 fault levels (0..3: off, 10, 50, 200
// permille), the in-flight, CQ and latency levels, the command count (0..255),
// then per command kind (1 byte), a (1), b (2), c (4). The tape is whatever is
// left at the FRONT.
//
// Thread safety: plain functions.
#ifndef RINGLOOP_FUZZ_SIM_INPUT_H_
#define RINGLOOP_FUZZ_SIM_INPUT_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "ringloop/drivers/sim/faults.h"
#include "tests/property/program.h"

namespace ringloop::fuzz {

// SimInput: one decoded input.
struct SimInput {
  std::array<uint8_t, sim::kFaultCount> fault_levels{};
  uint8_t in_flight_level = 0;  // 0..4
  uint8_t cq_level = 0;         // 0..3
  uint8_t latency_level = 0;    // 0..3
  prop::Program program;        // at most 255 commands
  std::vector<uint8_t> tape;
};

// DecodeSimInput: the SimInput `data` encodes (any bytes decode to one).
SimInput DecodeSimInput(const uint8_t* data, size_t size);

// EncodeSimInput: bytes that DecodeSimInput turns back into `input`.
std::vector<uint8_t> EncodeSimInput(const SimInput& input);

}  // namespace ringloop::fuzz

#endif  // RINGLOOP_FUZZ_SIM_INPUT_H_
