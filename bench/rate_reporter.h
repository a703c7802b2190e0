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
// without the "/min_time:T" and "/repeats:N" parts.
#ifndef RINGLOOP_BENCH_RATE_REPORTER_H_
#define RINGLOOP_BENCH_RATE_REPORTER_H_

#include <algorithm>
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
      const bool aggregate = run.run_type == Run::RT_Aggregate;
      const bool median = aggregate && run.aggregate_name == "median";
      const bool max = aggregate && run.aggregate_name == "max";
      if (run.run_type != Run::RT_Iteration && !median && !max) continue;
      const auto it = run.counters.find("items_per_second");
      if (it == run.counters.end()) continue;
      (max ? best_rates_ : rates_)[BaseName(run.run_name.str())] = it->second.value;
    }
  }

  // Rate: items/s of the benchmark named `name` (the median of its
  // repetitions), if it ran (and was not zero).
  std::optional<double> Rate(const std::string& name) const { return Find(rates_, name); }

  // BestRate: items/s of the fastest repetition of `name`, for benchmarks that
  // add the "max" statistic (AddMaxStatistic).
  std::optional<double> BestRate(const std::string& name) const { return Find(best_rates_, name); }

 private:
  // BaseName: `name` without the "/min_time:..." and "/repeats:..." parts that
  // the benchmark's settings add.
  static std::string BaseName(std::string name) {
    for (const char* part : {"/min_time:", "/repeats:"}) {
      const size_t at = name.find(part);
      if (at == std::string::npos) continue;
      const size_t end = name.find('/', at + 1);
      name.erase(at, end == std::string::npos ? std::string::npos : end - at);
    }
    return name;
  }

  static std::optional<double> Find(const std::map<std::string, double>& rates,
                                    const std::string& name) {
    const auto it = rates.find(name);
    if (it == rates.end() || it->second <= 0) return std::nullopt;
    return it->second;
  }

  std::map<std::string, double> rates_;
  std::map<std::string, double> best_rates_;
};

// AddMaxStatistic: a "max" aggregate over a benchmark's repetitions: of each
// column, so its items/s is the fastest repetition's (read with BestRate).
inline void AddMaxStatistic(benchmark::internal::Benchmark* b) {
  b->ComputeStatistics("max", [](const std::vector<double>& v) {
    return v.empty() ? 0.0 : *std::max_element(v.begin(), v.end());
  });
}

// RunWithRatios: a benchmark binary's main(): runs the benchmarks named on the
// command line with a RateReporter, then hands it to `print_ratios`. Unless the
// command line says otherwise, repetitions of different benchmarks run
// interleaved in random order (--benchmark_enable_random_interleaving), so a
// baseline and what is compared with it see the same drift of the machine.
inline int RunWithRatios(int argc, char** argv,
                         const std::function<void(const RateReporter&)>& print_ratios) {
  std::vector<char*> args(argv, argv + argc);
  bool interleaving_given = false;
  for (int i = 1; i < argc; ++i) {
    interleaving_given = interleaving_given ||
                         std::string(argv[i]).starts_with("--benchmark_enable_random_interleaving");
  }
  std::string interleave = "--benchmark_enable_random_interleaving=true";
  if (!interleaving_given) args.insert(args.begin() + 1, interleave.data());
  argc = static_cast<int>(args.size());
  args.push_back(nullptr);
  argv = args.data();
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
