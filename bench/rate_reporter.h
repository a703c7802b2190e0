// bench/rate_reporter.h: the console report, plus each benchmark's items/s kept
// by name, for benchmarks that print ratios against a baseline run in the same
// process.
//
//   int main(int argc, char** argv) {
//     return RunWithRatios(argc, argv, [](const RateReporter& rates) {
//       std::optional<double> hand = rates.Rate("BM_HandEpoll/sockets:0/read_size:64");
//       ...
//     });
//   }
//
// With repetitions, the median stands for a benchmark, and its name is given
// without the "/repeats:N" suffix.
#ifndef RINGLOOP_BENCH_RATE_REPORTER_H_
#define RINGLOOP_BENCH_RATE_REPORTER_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"

namespace ringloop {

class RateReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.error_occurred) continue;
      const bool median = run.run_type == Run::RT_Aggregate && run.aggregate_name == "median";
      if (run.run_type != Run::RT_Iteration && !median) continue;
      const auto it = run.counters.find("items_per_second");
      if (it == run.counters.end()) continue;
      std::string name = run.run_name.str();
      if (const size_t at = name.find("/repeats:"); at != std::string::npos) name.resize(at);
      rates_[name] = it->second.value;
    }
  }

  // Rate: items/s of the benchmark named `name`, if it ran (and was not zero).
  std::optional<double> Rate(const std::string& name) const {
    const auto it = rates_.find(name);
    if (it == rates_.end() || it->second <= 0) return std::nullopt;
    return it->second;
  }

 private:
  std::map<std::string, double> rates_;
};

// RunWithRatios: a benchmark binary's main(): runs the benchmarks named on the
// command line with a RateReporter, then hands it to `print_ratios`.
inline int RunWithRatios(int argc, char** argv,
                         const std::function<void(const RateReporter&)>& print_ratios) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  RateReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  print_ratios(reporter);
  benchmark::Shutdown();
  return 0;
}

}  // namespace ringloop

#endif  // RINGLOOP_BENCH_RATE_REPORTER_H_
