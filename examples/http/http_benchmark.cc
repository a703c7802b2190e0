// examples/http/http_benchmark.cc: parse + route + respond cost per request of the
// HTTP core.
//
// Each iteration feeds one read holding `depth` pipelined GET requests (wrk's shape:
// Host and a few fields) into a Connection and takes the output, without a socket.
// items/s is requests per second on one core. Results: examples/http/README.md.
#include <string>

#include "benchmark/benchmark.h"
#include "examples/http/connection.h"

namespace examples::http {
namespace {

void BM_PipelinedGets(benchmark::State& state) {
  const int depth = static_cast<int>(state.range(0));
  std::string batch;
  for (int i = 0; i < depth; ++i) {
    batch +=
        "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: bench\r\n"
        "Accept: */*\r\n\r\n";
  }
  Connection c({});
  int64_t now_ms = 1'700'000'000'000;
  for (auto _ : state) {
    c.Feed(batch, now_ms++);  // the date is reformatted once per 1000 iterations
    benchmark::DoNotOptimize(c.Output().data());
    c.ConsumeOutput(c.Output().size());
  }
  state.SetItemsProcessed(state.iterations() * depth);
}
BENCHMARK(BM_PipelinedGets)->Arg(1)->Arg(16);

}  // namespace
}  // namespace examples::http
