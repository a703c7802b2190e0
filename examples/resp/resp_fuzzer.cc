// examples/resp/resp_fuzzer.cc: libFuzzer target for the RESP core (fuzz_target).
//
// Input: the bytes a client sends. Oracle, on each input:
//   - no crash, no sanitizer report;
//   - the connection's bounds hold after every step (replay.h: pending output within
//     its limit plus one reply, kept input within one request's limits while reading);
//   - the client sees the same replies and the same close whether the server reads
//     the input in one piece, byte by byte, or in pseudo-random pieces while writing a
//     few bytes at a time under a tiny output limit and sweeping expired keys.
// The parser limits are small so that the fuzzer reaches every limit quickly.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "examples/common/replay.h"
#include "examples/resp/replay.h"

namespace {

using examples::resp::ReplayOptions;
using examples::resp::Transcript;

ReplayOptions SmallLimits() {
  ReplayOptions options;
  options.limits.parser.max_line_bytes = 64;
  options.limits.parser.max_bulk_bytes = 64;
  options.limits.parser.max_args = 16;
  options.limits.parser.max_request_bytes = 512;
  options.limits.max_output_bytes = 1 << 20;
  return options;
}

void Expect(bool ok, const char* what, const Transcript& a, const Transcript& b) {
  if (ok) return;
  std::fprintf(stderr, "resp_fuzzer: %s differ:\n  %zu bytes, close %d\n  %zu bytes, close %d\n",
               what, a.replies.size(), static_cast<int>(a.close), b.replies.size(),
               static_cast<int>(b.close));
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const ReplayOptions whole = SmallLimits();
  const Transcript reference = examples::resp::Replay(input, whole);

  ReplayOptions bytes = SmallLimits();
  const std::vector<size_t> ones = {1};
  bytes.read_sizes = ones;
  Expect(examples::resp::Replay(input, bytes) == reference, "one piece and byte by byte", reference,
         examples::resp::Replay(input, bytes));

  const examples::DerivedCuts cuts = examples::CutsFor(input);
  ReplayOptions slow = SmallLimits();
  slow.read_sizes = cuts.read_sizes;
  slow.write_size = cuts.write_size;
  slow.limits.max_output_bytes = 32;
  slow.sweep_budget = 1;
  Expect(examples::resp::Replay(input, slow) == reference, "one piece and slow pieces", reference,
         examples::resp::Replay(input, slow));
  return 0;
}
