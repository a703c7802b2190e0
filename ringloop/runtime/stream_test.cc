// ringloop/runtime/stream_test.cc: ReadExact and WriteAll on every backend.
#include "ringloop/runtime/stream.h"

#include <cerrno>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "ringloop/runtime/io.h"
#include "ringloop/runtime/loop.h"
#include "ringloop/runtime/scope.h"
#include "ringloop/runtime/task.h"
#include "ringloop/runtime/testing/backends.h"

namespace ringloop {
namespace {

using testing::BackendName;
using testing::Backends;

class StreamTest : public testing::BackendTest {
 protected:
  // ShortTransfers: under the simulator, most reads and writes move fewer
  // bytes than they could (the real kernels do so on their own for sockets
  // and nonblocking pipes).
  void ShortTransfers() {
    if (!simulated()) return;
    sim::FaultPlan plan;
    plan[sim::Fault::kShortIo] = 700;
    sim()->SetFaults(plan);
  }
};

// Pattern: n bytes that differ from one position to the next.
std::string Pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = char('a' + (i * 7 + i / 251) % 26);
  return s;
}

Task<Result> ReadExactInto(int fd, std::string* out, size_t n) {
  out->assign(n, '\0');
  co_return co_await ReadExact(fd, out->data(), n);
}

TEST_P(StreamTest, ReadExactGathersShortReadsIntoOneResult) {
  auto [r, w] = Pipe();
  std::string got;
  std::optional<Result> result;
  Scope scope(loop());
  scope.Spawn([](int fd, std::string* got, std::optional<Result>* result) -> Task<void> {
    result->emplace(co_await ReadExactInto(fd, got, 8));
  }(r, &got, &result));
  const uint64_t events = loop().engine_stats().final_events;
  PeerWrite(w, "abc");
  // The first read ends with the 3 bytes there are; the await goes on.
  RunUntil([&] { return loop().engine_stats().final_events > events; });
  EXPECT_FALSE(result.has_value());
  PeerWrite(w, "defgh");
  RunUntil([&] { return result.has_value(); });
  ASSERT_TRUE(result->ok()) << result->ToString();
  EXPECT_EQ(result->value(), 8);
  EXPECT_EQ(got, "abcdefgh");
  EXPECT_GE(loop().engine_stats().submitted, 2u);
}

TEST_P(StreamTest, ReadExactAtTheEndOfTheStreamSaysSoAndKeepsWhatArrived) {
  auto [r, w] = Pipe();
  PeerWrite(w, "abc");
  PeerClose(w);
  std::string got;
  Result res = loop().BlockOn(ReadExactInto(r, &got, 8));
  EXPECT_TRUE(res.end_of_stream()) << res.ToString();
  EXPECT_EQ(res.kind(), OpKind::kRead);
  EXPECT_EQ(res.fd(), r);
  EXPECT_EQ(got.substr(0, 3), "abc");
  EXPECT_EQ(std::string(res.status().message()),
            absl::StrCat("read(fd=", r, "): No data available [ENODATA]"));
}

TEST_P(StreamTest, ReadExactOfNothingCompletesAtOnceAndOfTooMuchIsInvalid) {
  auto [r, w] = Pipe();
  (void)w;
  const uint64_t submitted = loop().engine_stats().submitted;
  Result none = loop().BlockOn(
      [](int fd) -> Task<Result> { co_return co_await ReadExact(fd, nullptr, 0); }(r));
  EXPECT_TRUE(none.ok());
  EXPECT_EQ(none.value(), 0);
  Result huge = loop().BlockOn([](int fd) -> Task<Result> {
    co_return co_await ReadExact(fd, nullptr, size_t{1} << 32);
  }(r));
  EXPECT_EQ(huge.error(), EINVAL);
  EXPECT_EQ(loop().engine_stats().submitted, submitted);  // neither reached the kernel
}

TEST_P(StreamTest, ReadExactOfAClosedFdNamesTheOpAndFd) {
  auto [a, b] = SocketPair();
  PeerClose(a);
  Result res = loop().BlockOn([](int fd) -> Task<Result> {
    char buf[4];
    co_return co_await ReadExact(fd, buf, sizeof(buf), IoStyle::kRecvSend);
  }(a));
  EXPECT_EQ(res.error(), EBADF);
  EXPECT_EQ(std::string(res.status().message()),
            absl::StrCat("recv(fd=", a, "): Bad file descriptor [EBADF]"));
  (void)b;
}

// One task writes with WriteAll while another reads it back with ReadExact,
// on the two ends of a socket pair.
TEST_P(StreamTest, WriteAllContinuesAfterShortWritesUntilEveryByteIsAccepted) {
  ShortTransfers();
  auto [a, b] = SocketPair();
  const std::string data = Pattern(1 << 20);  // larger than any socket buffer here
  std::string got;
  std::optional<Result> wrote, read;
  loop().BlockOn(WithScope([&](Scope& s) -> Task<void> {
    s.Spawn([](int fd, const std::string* data, std::optional<Result>* out) -> Task<void> {
      out->emplace(co_await WriteAll(fd, data->data(), data->size(), IoStyle::kRecvSend));
    }(a, &data, &wrote));
    s.Spawn([](int fd, std::string* got, size_t n, std::optional<Result>* out) -> Task<void> {
      got->assign(n, '\0');
      out->emplace(co_await ReadExact(fd, got->data(), n, IoStyle::kRecvSend));
    }(b, &got, data.size(), &read));
    co_return;
  }));
  ASSERT_TRUE(wrote.has_value() && read.has_value());
  ASSERT_TRUE(wrote->ok()) << wrote->ToString();
  ASSERT_TRUE(read->ok()) << read->ToString();
  EXPECT_EQ(wrote->value(), int32_t(data.size()));
  EXPECT_EQ(wrote->kind(), OpKind::kSend);
  EXPECT_TRUE(got == data) << "the bytes arrived out of order or changed";
  // Either side needed more than one op: the awaits went on after short ones.
  EXPECT_GT(loop().engine_stats().submitted, 2u);
}

TEST_P(StreamTest, WriteAllToAPeerThatIsGoneFailsWithTheWritesErrno) {
  auto [a, b] = SocketPair();
  PeerClose(b);
  const std::string data = Pattern(4096);
  Result res = loop().BlockOn([](int fd, const std::string* data) -> Task<Result> {
    co_return co_await WriteAll(fd, data->data(), data->size(), IoStyle::kRecvSend);
  }(a, &data));
  EXPECT_TRUE(res.error() == EPIPE || res.error() == ECONNRESET) << res.ToString();
  EXPECT_EQ(res.fd(), a);
}

TEST_P(StreamTest, CancellingAReadExactCancelsTheReadInFlight) {
  auto [r, w] = Pipe();
  std::optional<Result> result;
  std::string got;
  Scope scope(loop());
  scope.Spawn([](int fd, std::string* got, std::optional<Result>* out) -> Task<void> {
    out->emplace(co_await ReadExactInto(fd, got, 8));
  }(r, &got, &result));
  const uint64_t events = loop().engine_stats().final_events;
  PeerWrite(w, "ab");
  RunUntil([&] { return loop().engine_stats().final_events > events; });
  scope.Cancel();
  RunUntil([&] { return result.has_value(); });
  EXPECT_TRUE(result->cancelled()) << result->ToString();
  // The read was cancelled in the kernel, not left behind: later bytes are
  // there for the next reader.
  PeerWrite(w, "xyz");
  EXPECT_EQ(loop().BlockOn(ReadExactInto(r, &got, 3)).value(), 3);
  EXPECT_EQ(got, "xyz");
}

INSTANTIATE_TEST_SUITE_P(AllBackends, StreamTest, ::testing::ValuesIn(Backends()), BackendName);

}  // namespace
}  // namespace ringloop
