// fuzz_replay_test_main: the gtest main of every fuzz target's <name>_regression.
//
// Each input file named on the command line (a file, or every regular file in a
// directory) becomes its own gtest test, Replay/<file name>, that feeds it once to
// the target's LLVMFuzzerTestOneInput; one more test, Replay/Seeded, runs a fixed
// stream of pseudo-random inputs (RINGLOOP_FUZZ_RUNS, 256 by default), the same on
// every run. So `make test` replays every corpus and regression input without
// clang, a failing input is named in the test report, and one input runs alone
// with --gtest_filter='Replay.<file name>'. A target reports a broken invariant by
// crashing (abort), as under libFuzzer.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "gtest/gtest.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace {

void RunOne(const std::vector<std::uint8_t>& input) {
  // An exact-size copy, so that ASan catches reads past the end as libFuzzer does.
  std::vector<std::uint8_t> exact(input);
  LLVMFuzzerTestOneInput(exact.empty() ? nullptr : exact.data(), exact.size());
}

class ReplayFile : public ::testing::Test {
 public:
  explicit ReplayFile(std::filesystem::path path) : path_(std::move(path)) {}
  void TestBody() override {
    std::ifstream in(path_, std::ios::binary);
    ASSERT_TRUE(in) << "cannot read " << path_;
    const std::vector<std::uint8_t> input((std::istreambuf_iterator<char>(in)),
                                          std::istreambuf_iterator<char>());
    RunOne(input);
  }

 private:
  std::filesystem::path path_;
};

class ReplaySeeded : public ::testing::Test {
 public:
  explicit ReplaySeeded(int runs) : runs_(runs) {}
  void TestBody() override {
    std::uint64_t state = 0x9e3779b97f4a7c15u;  // xorshift64: sizes 0..4095
    auto next = [&state] {
      state ^= state << 13;
      state ^= state >> 7;
      state ^= state << 17;
      return state;
    };
    for (int run = 0; run < runs_; ++run) {
      std::vector<std::uint8_t> input(next() % 4096);
      for (std::uint8_t& byte : input) byte = static_cast<std::uint8_t>(next());
      RunOne(input);
    }
  }

 private:
  int runs_;
};

void Register(const std::filesystem::path& path) {
  ::testing::RegisterTest("Replay", path.filename().c_str(), nullptr, nullptr, __FILE__, __LINE__,
                          [path]() -> ::testing::Test* { return new ReplayFile(path); });
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (LLVMFuzzerInitialize != nullptr) LLVMFuzzerInitialize(&argc, &argv);
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path path(argv[i]);
    if (std::filesystem::is_directory(path)) {
      for (const auto& entry : std::filesystem::directory_iterator(path)) {
        if (entry.is_regular_file()) Register(entry.path());
      }
    } else {
      Register(path);
    }
  }
  const char* runs_env = std::getenv("RINGLOOP_FUZZ_RUNS");
  const int runs = runs_env != nullptr ? std::atoi(runs_env) : 256;
  ::testing::RegisterTest("Replay", "Seeded", nullptr, nullptr, __FILE__, __LINE__,
                          [runs]() -> ::testing::Test* { return new ReplaySeeded(runs); });
  return RUN_ALL_TESTS();
}
