// fuzz/sim_input.cc: the sim_program input layout (see sim_input.h).
#include "fuzz/sim_input.h"

#include <algorithm>

#include "fuzz/fuzzer/FuzzedDataProvider.h"

namespace ringloop::fuzz {
namespace {

constexpr uint8_t kMaxCommands = 255;

// Choices: integer choices in the order DecodeSimInput makes them, kept as
// the bytes FuzzedDataProvider consumes (most significant first).
class Choices {
 public:
  void Byte(uint8_t value) { bytes_.push_back(value); }
  void U16(uint16_t value) {
    Byte(uint8_t(value >> 8));
    Byte(uint8_t(value));
  }
  void U32(uint32_t value) {
    U16(uint16_t(value >> 16));
    U16(uint16_t(value));
  }
  // Bytes: the consumed bytes as they sit at the end of an input (reversed).
  std::vector<uint8_t> Bytes() const { return {bytes_.rbegin(), bytes_.rend()}; }

 private:
  std::vector<uint8_t> bytes_;
};

}  // namespace

SimInput DecodeSimInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  SimInput input;
  for (uint8_t& level : input.fault_levels) level = in.ConsumeIntegralInRange<uint8_t>(0, 3);
  input.in_flight_level = in.ConsumeIntegralInRange<uint8_t>(0, 4);
  input.cq_level = in.ConsumeIntegralInRange<uint8_t>(0, 3);
  input.latency_level = in.ConsumeIntegralInRange<uint8_t>(0, 3);
  const uint8_t count = in.ConsumeIntegralInRange<uint8_t>(0, kMaxCommands);
  input.program.resize(count);
  for (prop::Command& c : input.program) {
    c.kind = in.ConsumeIntegral<uint8_t>();
    c.a = in.ConsumeIntegral<uint8_t>();
    c.b = in.ConsumeIntegral<uint16_t>();
    c.c = in.ConsumeIntegral<uint32_t>();
  }
  input.tape = in.ConsumeRemainingBytes<uint8_t>();
  return input;
}

std::vector<uint8_t> EncodeSimInput(const SimInput& input) {
  Choices choices;
  for (uint8_t level : input.fault_levels) choices.Byte(level % 4);
  choices.Byte(input.in_flight_level % 5);
  choices.Byte(input.cq_level % 4);
  choices.Byte(input.latency_level % 4);
  const size_t count = std::min<size_t>(input.program.size(), kMaxCommands);
  choices.Byte(uint8_t(count));
  for (size_t i = 0; i < count; ++i) {
    const prop::Command& c = input.program[i];
    choices.Byte(c.kind);
    choices.Byte(c.a);
    choices.U16(c.b);
    choices.U32(c.c);
  }
  std::vector<uint8_t> out = input.tape;
  const std::vector<uint8_t> tail = choices.Bytes();
  out.insert(out.end(), tail.begin(), tail.end());
  return out;
}

}  // namespace ringloop::fuzz
