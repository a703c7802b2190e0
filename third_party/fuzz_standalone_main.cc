// fuzz_standalone_main: a main() for libFuzzer targets built without libFuzzer.
//
// It lets fuzz targets build with gcc and run as ordinary tests. Command line:
// each argument that does not start with '-' names a file (run once) or a directory
// (each regular file in it runs once). Arguments starting with '-' are libFuzzer flags
// and are ignored, so scripts can call either build the same way. With no inputs it
// runs a fixed set of seeded pseudo-random inputs (RINGLOOP_FUZZ_RUNS of them, 256 by
// default), the same on every run, so a failure always reproduces.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace {

void RunOne(const std::vector<std::uint8_t>& input) {
  // The target may not keep the pointer; copying into an exact-size buffer lets
  // ASan catch reads past the end, as libFuzzer does.
  std::vector<std::uint8_t> exact(input);
  LLVMFuzzerTestOneInput(exact.empty() ? nullptr : exact.data(), exact.size());
}

bool RunFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "fuzz_standalone_main: cannot read %s\n", path.c_str());
    return false;
  }
  std::vector<std::uint8_t> input((std::istreambuf_iterator<char>(in)),
                                  std::istreambuf_iterator<char>());
  std::fprintf(stderr, "Running: %s (%zu bytes)\n", path.c_str(), input.size());
  RunOne(input);
  return true;
}

// RunSeeded runs `runs` inputs from a fixed xorshift64 stream; sizes 0..4095.
void RunSeeded(int runs) {
  std::uint64_t state = 0x9e3779b97f4a7c15u;
  auto next = [&state] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  for (int run = 0; run < runs; ++run) {
    std::vector<std::uint8_t> input(next() % 4096);
    for (std::uint8_t& byte : input) byte = static_cast<std::uint8_t>(next());
    RunOne(input);
  }
  std::fprintf(stderr, "fuzz_standalone_main: %d seeded inputs passed\n", runs);
}

}  // namespace

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize != nullptr) LLVMFuzzerInitialize(&argc, &argv);
  int inputs = 0;
  bool ok = true;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.empty() || arg[0] == '-') continue;
    ++inputs;
    const std::filesystem::path path(arg);
    if (std::filesystem::is_directory(path)) {
      for (const auto& entry : std::filesystem::directory_iterator(path)) {
        if (entry.is_regular_file()) ok = RunFile(entry.path()) && ok;
      }
    } else {
      ok = RunFile(path) && ok;
    }
  }
  const char* runs_env = std::getenv("RINGLOOP_FUZZ_RUNS");
  if (inputs == 0 || runs_env != nullptr) {
    RunSeeded(runs_env != nullptr ? std::atoi(runs_env) : 256);
  }
  return ok ? 0 : 1;
}
