// smoke_fuzzer: proves fuzz_target (fuzz.bzl) builds under gcc and --config=fuzz.

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  // A branch on the input so coverage instrumentation has something to see.
  if (input.size() >= 4 && input.compare(0, 4, "ring") == 0) return 1;
  return 0;
}
