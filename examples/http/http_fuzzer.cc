// examples/http/http_fuzzer.cc: libFuzzer target for the HTTP core (fuzz_target).
//
// Input: the bytes a client sends. Oracle, on each input:
//   - no crash, no sanitizer report;
//   - the connection's bounds hold after every step (replay.h: pending output within
//     its limit plus one response, never a body or more than one head held);
//   - the client sees the same responses, request count and close whether the server
//     reads the input in one piece, byte by byte, or in pseudo-random pieces while
//     writing a few bytes at a time under a tiny output limit.
// The limits are small so that the fuzzer reaches every one of them quickly.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "examples/common/replay.h"
#include "examples/http/replay.h"

namespace {

using examples::http::ReplayOptions;
using examples::http::Transcript;

ReplayOptions SmallLimits() {
  ReplayOptions options;
  options.limits.parser.max_request_line_bytes = 48;
  options.limits.parser.max_head_bytes = 160;
  options.limits.parser.max_header_fields = 4;
  options.limits.parser.max_body_bytes = 64;
  options.limits.max_output_bytes = 1 << 20;
  return options;
}

void Expect(const Transcript& got, const Transcript& want, const char* what) {
  if (got == want) return;
  std::fprintf(stderr, "http_fuzzer: %s differ: %zu vs %zu bytes, %llu vs %llu requests\n", what,
               got.responses.size(), want.responses.size(),
               static_cast<unsigned long long>(got.requests),
               static_cast<unsigned long long>(want.requests));
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const Transcript reference = examples::http::Replay(input, SmallLimits());

  ReplayOptions bytes = SmallLimits();
  const std::vector<size_t> ones = {1};
  bytes.read_sizes = ones;
  Expect(examples::http::Replay(input, bytes), reference, "one piece and byte by byte");

  const examples::DerivedCuts cuts = examples::CutsFor(input);
  ReplayOptions slow = SmallLimits();
  slow.read_sizes = cuts.read_sizes;
  slow.write_size = cuts.write_size;
  slow.limits.max_output_bytes = 32;
  Expect(examples::http::Replay(input, slow), reference, "one piece and slow pieces");
  return 0;
}
