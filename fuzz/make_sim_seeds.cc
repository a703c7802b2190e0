// fuzz/make_sim_seeds.cc: writes the seed corpus of the sim_program fuzz target.
//
// It draws programs the way tools/simulate does (prop::ProgramFromSeed), a
// machine from fault levels and a tape of kernel choices from the same seed,
// runs each with the property harness, and keeps, for every racy path the
// property tests require (prop::kRequiredTags: close with ops in flight,
// cancel racing completion, -EALREADY, chain aborted midway, fd reused, CQ
// overflow), the first input that reaches it, written in the sim_program
// layout (fuzz/sim_input.h) as <dir>/<tag>. Runs that break a guarantee are
// counted and skipped. Deterministic: the same binary writes the same files.
//
// Usage: bazel run //fuzz:make_sim_seeds -- "$PWD/fuzz/corpus/sim_program"
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "fuzz/sim_input.h"
#include "ringloop/drivers/sim/prng.h"
#include "tests/property/program.h"
#include "tests/property/runner.h"

namespace ringloop::fuzz {
namespace {

constexpr uint64_t kSeedsMax = 20000;
constexpr uint32_t kSteps = 120;
constexpr size_t kTapeBytes = 600;
constexpr uint64_t kFailuresShown = 3;

SimInput Draw(uint64_t seed) {
  sim::Prng prng(seed);
  SimInput input;
  for (uint8_t& level : input.fault_levels) level = uint8_t(prng.Below(4));
  input.in_flight_level = uint8_t(prng.Below(5));
  input.cq_level = uint8_t(prng.Below(4));
  input.latency_level = uint8_t(prng.Below(4));
  input.program = prop::ProgramFromSeed(seed, kSteps);
  input.tape.resize(kTapeBytes);
  for (uint8_t& byte : input.tape) byte = uint8_t(prng.Next());
  return input;
}

bool Write(const std::string& path, const SimInput& input) {
  const std::vector<uint8_t> bytes = EncodeSimInput(input);
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  return bool(out);
}

}  // namespace
}  // namespace ringloop::fuzz

int main(int argc, char** argv) {
  using namespace ringloop;
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTPUT_DIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  std::set<std::string> wanted(std::begin(prop::kRequiredTags), std::end(prop::kRequiredTags));
  uint64_t failing = 0;
  for (uint64_t seed = 0; seed < fuzz::kSeedsMax && !wanted.empty(); ++seed) {
    const fuzz::SimInput input = fuzz::Draw(seed);
    prop::RunOptions options;
    options.setup = prop::SetupFromLevels(input.fault_levels, input.in_flight_level, input.cq_level,
                                          input.latency_level);
    options.tape = input.tape;
    prop::ApplyKnownGapsFromEnv(options);  // as the target does (sim_program.cc)
    const prop::RunResult result = prop::RunProgram(input.program, options);
    if (!result.ok) {
      // Not a seed: a finding for the sim_program target to report (or the
      // property tests, which draw the same programs).
      if (++failing <= fuzz::kFailuresShown) {
        std::fprintf(stderr, "seed %llu breaks a guarantee: %s\n", (unsigned long long)seed,
                     result.violation.c_str());
      }
      continue;
    }
    for (const auto& [tag, count] : result.tags) {
      if (count == 0 || wanted.erase(tag) == 0) continue;
      if (!fuzz::Write(dir + "/" + tag, input)) {
        std::fprintf(stderr, "cannot write %s/%s\n", dir.c_str(), tag.c_str());
        return 1;
      }
      std::printf("%s: seed %llu\n", tag.c_str(), (unsigned long long)seed);
    }
  }
  for (const std::string& tag : wanted) std::printf("%s: not reached\n", tag.c_str());
  if (failing > 0) std::printf("%llu seeds broke a guarantee\n", (unsigned long long)failing);
  return 0;
}
