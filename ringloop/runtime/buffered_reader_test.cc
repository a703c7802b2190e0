// ringloop/runtime/buffered_reader_test.cc: BufferedReader on every backend.
#include "ringloop/runtime/buffered_reader.h"

#include <cerrno>
#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "ringloop/runtime/loop.h"
#include "ringloop/runtime/scope.h"
#include "ringloop/runtime/task.h"
#include "ringloop/runtime/testing/backends.h"

namespace ringloop {
namespace {

using testing::BackendName;
using testing::Backends;

class BufferedReaderTest : public testing::BackendTest {};

// Lines: reads "\n"-terminated lines until the stream fails or ends; returns
// them, and the last Result.
Task<std::pair<std::vector<std::string>, Result>> Lines(BufferedReader* in, size_t max) {
  std::vector<std::string> lines;
  for (;;) {
    Result r = co_await in->ReadUntil("\n", max);
    if (!r.ok()) co_return std::make_pair(lines, r);
    lines.emplace_back(in->Take(r.value()));
  }
}

TEST_P(BufferedReaderTest, ReadUntilSplitsRecordsWhereverTheReadsEnded) {
  auto [r, w] = Pipe();
  BufferedReader in(r, 64);
  std::optional<std::pair<std::vector<std::string>, Result>> out;
  Scope scope(loop());
  scope.Spawn([](BufferedReader* in, auto* out) -> Task<void> {
    out->emplace(co_await Lines(in, 64));
  }(&in, &out));
  // Records cut across writes, several in one write, a delimiter split in two.
  for (const char* part : {"one\ntw", "o\nthree\nfour", "\n", "five\nsix"}) {
    const uint64_t events = loop().engine_stats().final_events;
    PeerWrite(w, part);
    RunUntil([&] { return loop().engine_stats().final_events > events; });
  }
  PeerClose(w);
  RunUntil([&] { return out.has_value(); });
  EXPECT_EQ(out->first,
            (std::vector<std::string>{"one\n", "two\n", "three\n", "four\n", "five\n"}));
  EXPECT_TRUE(out->second.end_of_stream()) << out->second.ToString();
  EXPECT_EQ(in.buffered(), "six");  // the unterminated rest stays buffered
}

TEST_P(BufferedReaderTest, AMultiByteDelimiterSplitAcrossReadsIsFound) {
  auto [r, w] = Pipe();
  BufferedReader in(r, 64);
  std::optional<Result> res;
  Scope scope(loop());
  scope.Spawn([](BufferedReader* in, std::optional<Result>* res) -> Task<void> {
    res->emplace(co_await in->ReadUntil("\r\n", 64));
  }(&in, &res));
  for (const char* part : {"GET / HTTP/1.1\r", "\nHost: x\r\n"}) {
    const uint64_t events = loop().engine_stats().final_events;
    PeerWrite(w, part);
    RunUntil([&] { return loop().engine_stats().final_events > events; });
  }
  RunUntil([&] { return res.has_value(); });
  ASSERT_TRUE(res->ok()) << res->ToString();
  EXPECT_EQ(in.Take(res->value()), "GET / HTTP/1.1\r\n");
}

TEST_P(BufferedReaderTest, ARecordLongerThanTheLimitIsAnErrorAndTheBufferNeverGrows) {
  auto [r, w] = Pipe();
  BufferedReader in(r, 16);
  PeerWrite(w, "0123456789abcdef0123456789\n");
  std::optional<std::pair<std::vector<std::string>, Result>> out;
  out.emplace(loop().BlockOn(Lines(&in, 10)));
  EXPECT_TRUE(out->first.empty());
  EXPECT_EQ(out->second.error(), EMSGSIZE) << out->second.ToString();
  EXPECT_EQ(out->second.fd(), r);
  // A limit above the capacity is the capacity.
  out.emplace(loop().BlockOn(Lines(&in, 1 << 20)));
  EXPECT_EQ(out->second.error(), EMSGSIZE);
  EXPECT_EQ(in.capacity(), 16u);
  EXPECT_LE(in.buffered().size(), 16u);
}

TEST_P(BufferedReaderTest, ReadExactAndReadShareTheBufferWithReadUntil) {
  auto [r, w] = Pipe();
  BufferedReader in(r, 32);
  // A RESP-like bulk string: a length line, then that many bytes and "\r\n".
  PeerWrite(w, "$5\r\nhello\r\nrest");
  PeerClose(w);
  struct Out {
    std::string header, body, rest;
    Result end{0, OpKind::kNop, -1};
  };
  Out out = loop().BlockOn([](BufferedReader* in) -> Task<Out> {
    Out o;
    Result h = co_await in->ReadUntil("\r\n", 16);
    EXPECT_TRUE(h.ok()) << h.ToString();
    o.header = std::string(in->Take(h.value()));
    Result b = co_await in->ReadExact(5 + 2);
    EXPECT_TRUE(b.ok()) << b.ToString();
    o.body = std::string(in->Take(b.value()));
    char buf[2];
    for (;;) {
      Result n = co_await in->Read(buf, sizeof(buf));
      EXPECT_TRUE(n.ok()) << n.ToString();
      if (!n.ok() || n.value() == 0) break;
      o.rest.append(buf, size_t(n.value()));
    }
    o.end = co_await in->ReadExact(1);
    co_return o;
  }(&in));
  EXPECT_EQ(out.header, "$5\r\n");
  EXPECT_EQ(out.body, "hello\r\n");
  EXPECT_EQ(out.rest, "rest");
  EXPECT_TRUE(out.end.end_of_stream());
}

TEST_P(BufferedReaderTest, RecordsThatWrapTheBufferAreMovedToTheFront) {
  auto [r, w] = Pipe();
  BufferedReader in(r, 8);
  std::string all;
  for (int i = 0; i < 40; ++i) all += std::string(size_t(i % 7), char('a' + i % 26)) + "\n";
  PeerWrite(w, all);
  PeerClose(w);
  auto out = loop().BlockOn(Lines(&in, 8));
  std::string joined;
  for (const std::string& line : out.first) joined += line;
  EXPECT_EQ(joined, all);
  EXPECT_TRUE(out.second.end_of_stream());
}

TEST_P(BufferedReaderTest, BadRequestsFailWithoutReachingTheKernel) {
  auto [r, w] = Pipe();
  (void)w;
  BufferedReader in(r, 8);
  const uint64_t submitted = loop().engine_stats().submitted;
  auto results = loop().BlockOn([](BufferedReader* in) -> Task<std::vector<int>> {
    std::vector<int> errors;
    errors.push_back((co_await in->ReadUntil("", 8)).error());
    errors.push_back((co_await in->ReadExact(9)).error());
    co_return errors;
  }(&in));
  EXPECT_EQ(results, (std::vector<int>{EINVAL, EMSGSIZE}));
  EXPECT_EQ(loop().engine_stats().submitted, submitted);
}

INSTANTIATE_TEST_SUITE_P(AllBackends, BufferedReaderTest, ::testing::ValuesIn(Backends()),
                         BackendName);

}  // namespace
}  // namespace ringloop
