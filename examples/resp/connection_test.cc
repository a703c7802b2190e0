// examples/resp/connection_test.cc: pipelining across read boundaries, closing after
// QUIT and protocol errors, backpressure, and the bounds on what a client can make the
// server hold.
#include "examples/resp/connection.h"

#include <limits>
#include <string>
#include <vector>

#include "examples/resp/replay.h"
#include "gtest/gtest.h"

namespace examples::resp {
namespace {

using namespace std::string_literals;

constexpr int64_t kNow = 1'700'000'000'000;  // Unix ms
constexpr size_t kMax = std::numeric_limits<size_t>::max();

// Serve: `input` through a server loop that reads it in `read_sizes` (replay.h).
Transcript Serve(std::string_view input, std::vector<size_t> read_sizes = {},
                 const ConnectionLimits& limits = {}) {
  ReplayOptions options;
  options.limits = limits;
  options.read_sizes = read_sizes;
  return Replay(input, options);
}

// A session that exercises every parser path between two requests.
const std::string kSession =
    "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n"  // multibulk
    "GET k\r\n"                                      // inline
    "*0\r\n\r\n"                                     // empty requests: no reply
    "ECHO \"a\\x41 b\"\n"                            // quotes, bare LF
    "ECHO 'c' 'd'\r\n"
    "*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n"
    "*5\r\n$3\r\nSET\r\n$1\r\nt\r\n$1\r\nv\r\n$2\r\nPX\r\n$3\r\n100\r\n"
    "PTTL t\r\n"
    "*3\r\n$4\r\nMGET\r\n$1\r\nk\r\n$1\r\nt\r\n"
    "FOO bar\r\n"
    "*2\r\n$4\r\nECHO\r\n$0\r\n\r\n"
    "*2\r\n$4\r\nECHO\r\n$1\r\n";  // incomplete at the end: no reply, no close

TEST(ConnectionTest, OneReadOfPipelinedRequestsGivesAllRepliesInOneOutput) {
  Store store;
  Connection c(&store, {}, 1);
  c.Feed("PING\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\nGET k\r\nQUIT\r\nPING\r\n", kNow);
  EXPECT_EQ(c.Output(), "+PONG\r\n+OK\r\n$1\r\nv\r\n+OK\r\n");  // nothing after QUIT
  EXPECT_EQ(c.close_reason(), CloseReason::kQuit);
  EXPECT_FALSE(c.WantsRead());
  EXPECT_FALSE(c.ShouldClose());  // the replies come first
  c.ConsumeOutput(5);
  EXPECT_FALSE(c.ShouldClose());
  c.ConsumeOutput(c.Output().size());
  EXPECT_TRUE(c.ShouldClose());
  EXPECT_EQ(c.buffered_input(), 0u);
}

TEST(ConnectionTest, EverySplitPointGivesTheSameReplies) {
  const Transcript whole = Serve(kSession);  // its bytes: the next test
  ASSERT_EQ(whole.close, CloseReason::kNone);
  for (size_t at = 1; at < kSession.size(); ++at) {
    ASSERT_EQ(Serve(kSession, {at, kMax}), whole) << "split at " << at;
  }
  EXPECT_EQ(Serve(kSession, {1}), whole);  // byte by byte
  // Reads cut anywhere and a reader slow enough to make the output limit bite.
  ReplayOptions slow;
  slow.limits.max_output_bytes = 8;
  slow.write_size = 3;
  for (size_t a = 1; a < 9; ++a) {
    const std::vector<size_t> sizes = {a, 2 * a + 1, 1};
    slow.read_sizes = sizes;
    ASSERT_EQ(Replay(kSession, slow), whole) << "reads of " << a;
  }
}

TEST(ConnectionTest, SessionRepliesAreRedisReplies) {
  EXPECT_EQ(Serve(kSession).replies,
            "+OK\r\n"
            "$5\r\nhello\r\n"
            "$4\r\naA b\r\n"
            "-ERR wrong number of arguments for 'echo' command\r\n"
            ":1\r\n"
            "+OK\r\n"
            ":100\r\n"
            "*2\r\n$5\r\nhello\r\n$1\r\nv\r\n"
            "-ERR unknown command 'FOO', with args beginning with: 'bar' \r\n"
            "$0\r\n\r\n");
}

TEST(ConnectionTest, ProtocolErrorIsRepliedAfterEarlierRepliesThenCloses) {
  const std::string input = "PING\r\n*1\r\n$x\r\nPING\r\n";
  const Transcript whole = Serve(input);
  EXPECT_EQ(whole.replies, "+PONG\r\n-ERR Protocol error: invalid bulk length\r\n");
  EXPECT_EQ(whole.close, CloseReason::kProtocolError);
  for (size_t at = 1; at < input.size(); ++at) {
    ASSERT_EQ(Serve(input, {at, kMax}), whole) << "split at " << at;
  }
}

TEST(ConnectionTest, EachMalformedPrefixClosesWithItsError) {
  const std::pair<std::string, std::string> cases[] = {
      {"*x\r\n", "invalid multibulk length"},
      {"*1\r\n+PING\r\n", "expected '$', got '+'"},
      {"*1\r\n$-1\r\n", "invalid bulk length"},
      {"ECHO \"unbalanced\r\n", "unbalanced quotes in request"},
      {"*1\r\n$" + std::string(70000, '1'), "too big bulk count string"},
      {"*" + std::string(70000, '1'), "too big mbulk count string"},
      {"PING" + std::string(70000, ' '), "too big inline request"},
  };
  for (const auto& [input, error] : cases) {
    const Transcript t = Serve(input);
    EXPECT_EQ(t.replies, "-ERR Protocol error: " + error + "\r\n") << error;
    EXPECT_EQ(t.close, CloseReason::kProtocolError) << error;
  }
}

TEST(ConnectionTest, OverlongBulkAndTooManyArgumentsAreProtocolErrors) {
  ConnectionLimits limits;
  limits.parser.max_bulk_bytes = 10;
  limits.parser.max_args = 3;
  EXPECT_EQ(Serve("*2\r\n$4\r\nECHO\r\n$11\r\n", {}, limits).replies,
            "-ERR Protocol error: invalid bulk length\r\n");
  EXPECT_EQ(Serve("*4\r\n", {}, limits).replies,
            "-ERR Protocol error: invalid multibulk length\r\n");
  EXPECT_EQ(
      Serve("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\n0123456789\r\nGET k\r\n", {}, limits).replies,
      "+OK\r\n$10\r\n0123456789\r\n");
}

TEST(ConnectionTest, RequestOverTheByteLimitClosesWithoutReply) {
  ConnectionLimits limits;
  limits.parser.max_request_bytes = 64;
  const Transcript t = Serve("PING\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$60\r\n", {}, limits);
  EXPECT_EQ(t.replies, "+PONG\r\n");
  EXPECT_EQ(t.close, CloseReason::kRequestTooLarge);
}

TEST(ConnectionTest, InputAfterClosingIsDropped) {
  Store store;
  Connection c(&store, {}, 1);
  c.Feed("QUIT\r\n", kNow);
  c.Feed("SET k v\r\n", kNow);
  EXPECT_EQ(c.Output(), "+OK\r\n");
  EXPECT_EQ(c.buffered_input(), 0u);
  EXPECT_EQ(store.Size(kNow), 0u);
}

TEST(ConnectionTest, IncompleteRequestIsKeptAndReadingContinues) {
  Store store;
  Connection c(&store, {}, 1);
  c.Feed("*2\r\n$4\r\nECHO\r\n$5\r\nhel", kNow);
  EXPECT_EQ(c.Output(), "");
  EXPECT_EQ(c.buffered_input(), 21u);
  EXPECT_TRUE(c.WantsRead());
  c.Feed("lo\r\n", kNow);
  EXPECT_EQ(c.Output(), "$5\r\nhello\r\n");
  EXPECT_EQ(c.buffered_input(), 0u);
}

TEST(ConnectionTest, OutputOverItsLimitStopsRequestsUntilDrained) {
  ConnectionLimits limits;
  limits.max_output_bytes = 64;
  Store store;
  Connection c(&store, limits, 1);
  const std::string value(40, 'v');
  c.Feed("SET k " + value + "\r\n", kNow);
  c.ConsumeOutput(c.Output().size());
  std::string pipeline;
  for (int i = 0; i < 10; ++i) pipeline += "GET k\r\n";
  const std::string one_reply = "$40\r\n" + value + "\r\n";  // 47 bytes

  c.Feed(pipeline, kNow);
  EXPECT_EQ(c.Output(), one_reply + one_reply);  // stopped once over 64 bytes
  EXPECT_FALSE(c.WantsRead());
  EXPECT_FALSE(c.NeedsResume());  // not until the output drains
  EXPECT_EQ(c.buffered_input(), 8 * 7u);
  std::string written;
  for (int steps = 0; steps < 100 && (c.NeedsResume() || !c.Output().empty()); ++steps) {
    ASSERT_LE(c.Output().size(), limits.max_output_bytes + one_reply.size());
    const size_t n = std::min<size_t>(c.Output().size(), 30);  // a slow reader
    written.append(c.Output().substr(0, n));
    c.ConsumeOutput(n);
    if (c.NeedsResume()) {
      EXPECT_FALSE(c.WantsRead());
      c.Resume(kNow);
    }
  }
  std::string expected;
  for (int i = 0; i < 10; ++i) expected += one_reply;
  EXPECT_EQ(written, expected);
  EXPECT_TRUE(c.WantsRead());
  EXPECT_EQ(c.buffered_input(), 0u);
}

TEST(ConnectionTest, BytesFedWhilePausedWaitForResume) {
  ConnectionLimits limits;
  limits.max_output_bytes = 4;
  Store store;
  Connection c(&store, limits, 1);
  c.Feed("PING\r\nPING\r\n", kNow);
  EXPECT_EQ(c.Output(), "+PONG\r\n");
  c.Feed("ECHO x\r\n", kNow);  // a read that was already in flight
  EXPECT_EQ(c.Output(), "+PONG\r\n");
  c.ConsumeOutput(7);
  c.Resume(kNow);
  EXPECT_EQ(c.Output(), "+PONG\r\n");
  c.ConsumeOutput(7);
  c.Resume(kNow);
  EXPECT_EQ(c.Output(), "$1\r\nx\r\n");
}

TEST(ConnectionTest, KeysExpireWithTheTimeEachFeedBrings) {
  Store store;
  Connection c(&store, {}, 1);
  c.Feed("SET k v PX 100\r\n", kNow);
  c.Feed("GET k\r\n", kNow + 100);
  c.Feed("GET k\r\n", kNow + 101);
  EXPECT_EQ(c.Output(), "+OK\r\n$1\r\nv\r\n$-1\r\n");
}

TEST(ConnectionTest, SessionStateBelongsToItsConnection) {
  Store store;  // shared
  Connection a(&store, {}, 11);
  Connection b(&store, {}, 12);
  a.Feed("CLIENT SETNAME alice\r\nSET shared 1\r\nCLIENT ID\r\n", kNow);
  b.Feed("CLIENT GETNAME\r\nGET shared\r\nCLIENT ID\r\n", kNow);
  EXPECT_EQ(a.Output(), "+OK\r\n+OK\r\n:11\r\n");
  EXPECT_EQ(b.Output(), "$-1\r\n$1\r\n1\r\n:12\r\n");
  EXPECT_EQ(a.session().name, "alice");
}

}  // namespace
}  // namespace examples::resp
