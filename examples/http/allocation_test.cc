// examples/http/allocation_test.cc: in steady state, answering pipelined requests
// allocates nothing: buffers, parser state and the cached date reuse their storage.
// (allocation_counter counts every operator new in this binary.)
#include <string>

#include "examples/common/allocation_counter.h"
#include "examples/http/connection.h"
#include "gtest/gtest.h"

namespace examples::http {
namespace {

TEST(HttpAllocationTest, SteadyStatePipelineAllocatesNothing) {
  Connection c({});
  std::string batch;
  for (int i = 0; i < 8; ++i) {
    batch += "GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: wrk\r\n\r\n";
    batch += "HEAD /healthz?probe=1 HTTP/1.1\r\nHost: localhost\r\n\r\n";
    batch += "POST /nope HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4\r\n\r\nbody";
  }
  const std::string_view first = std::string_view(batch).substr(0, batch.size() / 3);
  const std::string_view second = std::string_view(batch).substr(first.size());
  const int64_t now_ms = 1'700'000'000'000;
  auto run = [&] {
    c.Feed(first, now_ms);  // cut mid-request, as reads are
    c.Feed(second, now_ms);
    c.ConsumeOutput(c.Output().size());
  };
  for (int i = 0; i < 3; ++i) run();
  const size_t before = AllocationCount();
  for (int i = 0; i < 100; ++i) run();
  EXPECT_EQ(AllocationCount() - before, 0u);
  EXPECT_EQ(c.requests(), 103u * 24);
}

}  // namespace
}  // namespace examples::http
