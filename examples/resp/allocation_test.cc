// examples/resp/allocation_test.cc: in steady state, running pipelined requests over
// existing keys allocates nothing: buffers, parser state and values reuse their storage.
// (allocation_counter counts every operator new in this binary.)
#include <string>

#include "examples/common/allocation_counter.h"
#include "examples/resp/connection.h"
#include "gtest/gtest.h"

namespace examples::resp {
namespace {

constexpr int64_t kNow = 1'700'000'000'000;

std::string Command(std::initializer_list<std::string_view> args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (std::string_view a : args) {
    out += "$" + std::to_string(a.size()) + "\r\n";
    out.append(a);
    out += "\r\n";
  }
  return out;
}

TEST(AllocationTest, SteadyStatePipelineAllocatesNothing) {
  Store store;
  Connection c(&store, {}, 1);
  std::string batch;
  for (int i = 0; i < 50; ++i) {
    const std::string key = "key:" + std::to_string(i % 10) + ":with-a-long-name";
    batch += Command({"SET", key, "value-" + std::to_string(100 + i % 7)});
    batch += Command({"GET", key});
  }
  batch += Command({"INCR", "counter"});
  batch += Command({"MGET", "key:1:with-a-long-name", "missing", "key:2:with-a-long-name"});
  batch += Command({"EXISTS", "key:3:with-a-long-name"});
  batch += Command({"TTL", "key:3:with-a-long-name"});
  batch += Command({"PING"});
  batch += "PING\r\nECHO \"inline\"\r\n";
  // A batch cut mid-request, as reads are: the tail waits in the input buffer.
  const std::string_view first = std::string_view(batch).substr(0, batch.size() / 2 + 3);
  const std::string_view second = std::string_view(batch).substr(first.size());
  auto run = [&] {
    c.Feed(first, kNow);
    c.Feed(second, kNow);
    c.ConsumeOutput(c.Output().size());
  };
  for (int i = 0; i < 3; ++i) run();  // warm up: keys, values and buffers reach their sizes
  const size_t before = AllocationCount();
  for (int i = 0; i < 100; ++i) run();
  EXPECT_EQ(AllocationCount() - before, 0u);
  EXPECT_EQ(c.buffered_input(), 0u);
}

}  // namespace
}  // namespace examples::resp
