// examples/http/connection_test.cc: pipelining across read boundaries, persistence,
// bodies, errors that close, Expect, backpressure.
#include "examples/http/connection.h"

#include <limits>
#include <ostream>
#include <string>
#include <vector>

#include "examples/http/replay.h"
#include "gtest/gtest.h"

namespace examples::http {

// PrintTo: a readable Transcript in gtest failures.
void PrintTo(const Transcript& t, std::ostream* os) {
  *os << "{" << t.requests << " requests, close " << static_cast<int>(t.close) << ", responses:\n"
      << t.responses << "}";
}

namespace {

constexpr int64_t kNow = 1'700'000'000'000;  // Tue, 14 Nov 2023 22:13:20 GMT
constexpr size_t kMax = std::numeric_limits<size_t>::max();

Transcript Serve(std::string_view input, std::vector<size_t> read_sizes = {},
                 const ConnectionLimits& limits = {}) {
  ReplayOptions options;
  options.limits = limits;
  options.read_sizes = read_sizes;
  return Replay(input, options);
}

// Expected: the bytes of a response of this server at kNow.
std::string Expected(std::string_view status_line, std::string_view body, size_t length,
                     std::string_view extra = {}) {
  std::string out = "HTTP/1.1 ";
  out.append(status_line);
  out.append(
      "\r\nServer: ringloop\r\nDate: Tue, 14 Nov 2023 22:13:20 GMT\r\n"
      "Content-Type: text/plain; charset=utf-8\r\nContent-Length: ");
  out.append(std::to_string(length));
  out.append(extra);
  out.append("\r\n\r\n");
  out.append(body);
  return out;
}

const std::string kRoot = Expected("200 OK", "Hello from ringloop\n", 20);
const std::string kHealth = Expected("200 OK", "ok\n", 3);

// Requests exercising every path of the loop between two requests.
const std::string kPipeline =
    "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
    "\r\n"  // an empty line between requests is skipped
    "HEAD /healthz HTTP/1.1\r\nHost: a\r\n\r\n"
    "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
    "GET /nope?x HTTP/1.1\nHost: a\n\n"
    "GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
    "GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
    "GET / HTTP/1.1\r\nHost: a\r\n\r\n";  // after close: never answered

TEST(HttpConnectionTest, PipelinedRequestsAreAnsweredInOrderUntilClose) {
  const Transcript t = Serve(kPipeline);
  EXPECT_EQ(t.responses, kRoot + Expected("200 OK", "", 3) +
                             Expected("405 Method Not Allowed", "Method Not Allowed\n", 19,
                                      "\r\nAllow: GET, HEAD") +
                             Expected("404 Not Found", "Not Found\n", 10) +
                             Expected("200 OK", "ok\n", 3, "\r\nConnection: keep-alive") +
                             Expected("200 OK", "ok\n", 3, "\r\nConnection: close"));
  EXPECT_EQ(t.requests, 6u);
  EXPECT_EQ(t.close, CloseReason::kNotPersistent);
}

TEST(HttpConnectionTest, EverySplitPointGivesTheSameResponses) {
  const Transcript whole = Serve(kPipeline);
  for (size_t at = 1; at < kPipeline.size(); ++at) {
    ASSERT_EQ(Serve(kPipeline, {at, kMax}), whole) << "split at " << at;
  }
  EXPECT_EQ(Serve(kPipeline, {1}), whole);
  ReplayOptions slow;
  slow.limits.max_output_bytes = 16;
  slow.write_size = 5;
  for (size_t a = 1; a < 9; ++a) {
    const std::vector<size_t> sizes = {a, 3 * a + 1, 2};
    slow.read_sizes = sizes;
    ASSERT_EQ(Replay(kPipeline, slow), whole) << "reads of " << a;
  }
}

TEST(HttpConnectionTest, Http10ClosesUnlessKeepAlive) {
  const Transcript t = Serve("GET / HTTP/1.0\r\n\r\nGET / HTTP/1.0\r\n\r\n");
  EXPECT_EQ(t.responses, Expected("200 OK", "Hello from ringloop\n", 20, "\r\nConnection: close"));
  EXPECT_EQ(t.close, CloseReason::kNotPersistent);
}

TEST(HttpConnectionTest, ErrorsAnswerTheirStatusAndClose) {
  const std::pair<std::string, std::string> cases[] = {
      {"GARBAGE\r\n", "400 Bad Request"},
      {"GET / HTTP/1.1\r\n\r\n", "400 Bad Request"},
      {"GET / HTTP/2.0\r\n", "505 HTTP Version Not Supported"},
      {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
       "501 Not Implemented"},
      {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2000000\r\n\r\n", "413 Content Too Large"},
      {"GET /" + std::string(9000, 'a'), "414 URI Too Long"},
      {"GET / HTTP/1.1\r\nX: " + std::string(40000, 'a'), "431 Request Header Fields Too Large"},
      {"GET / HTTP/1.1\r\nHost: a\r\nExpect: x\r\n\r\n", "417 Expectation Failed"},
  };
  for (const auto& [input, status] : cases) {
    const std::string prefix = "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n";
    const Transcript t = Serve(prefix + input);
    const std::string reason = status.substr(4);
    EXPECT_EQ(t.responses,
              kHealth + Expected(status, reason + "\n", reason.size() + 1, "\r\nConnection: close"))
        << status;
    EXPECT_EQ(t.close, CloseReason::kBadRequest) << status;
  }
}

TEST(HttpConnectionTest, ErrorToAHeadRequestHasNoBody) {
  EXPECT_EQ(Serve("HEAD / HTTP/1.1\r\n\r\n").responses,
            Expected("400 Bad Request", "", 12, "\r\nConnection: close"));
}

TEST(HttpConnectionTest, BodiesAreSkippedAsTheyArriveNeverHeld) {
  ConnectionLimits limits;
  limits.parser.max_body_bytes = 1 << 20;
  Connection c(limits);
  c.Feed("POST /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n", kNow);
  EXPECT_EQ(c.requests(), 1u);  // answered at once
  c.ConsumeOutput(c.Output().size());
  const std::string chunk(4096, 'b');
  for (size_t sent = 0; sent < 100000; sent += chunk.size()) {
    c.Feed(std::string_view(chunk).substr(0, std::min<size_t>(chunk.size(), 100000 - sent)), kNow);
    EXPECT_EQ(c.buffered_input(), 0u);
  }
  c.Feed("GET / HTTP/1.1\r\nHost: a\r\n\r\n", kNow);
  EXPECT_EQ(c.Output(), kRoot);
  EXPECT_EQ(c.requests(), 2u);
}

TEST(HttpConnectionTest, ExpectContinueWithABodyIsAnsweredAndClosed) {
  const Transcript t =
      Serve("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
  EXPECT_EQ(t.responses, Expected("405 Method Not Allowed", "Method Not Allowed\n", 19,
                                  "\r\nAllow: GET, HEAD\r\nConnection: close"));
  EXPECT_EQ(t.close, CloseReason::kNotPersistent);
  // Without a body there is nothing to wait for: the connection stays open.
  EXPECT_EQ(Serve("GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n").close,
            CloseReason::kNone);
}

TEST(HttpConnectionTest, OutputOverItsLimitStopsAnsweringUntilDrained) {
  ConnectionLimits limits;
  limits.max_output_bytes = 200;
  Connection c(limits);
  std::string pipeline;
  for (int i = 0; i < 10; ++i) pipeline += "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
  c.Feed(pipeline, kNow);
  EXPECT_EQ(c.Output(), kRoot + kRoot);  // 2 x 148 bytes: over 200 after the second
  EXPECT_FALSE(c.WantsRead());
  EXPECT_FALSE(c.NeedsResume());
  std::string written;
  for (int steps = 0; steps < 1000 && (c.NeedsResume() || !c.Output().empty()); ++steps) {
    const size_t n = std::min<size_t>(c.Output().size(), 64);
    written.append(c.Output().substr(0, n));
    c.ConsumeOutput(n);
    if (c.NeedsResume()) c.Resume(kNow);
  }
  std::string expected;
  for (int i = 0; i < 10; ++i) expected += kRoot;
  EXPECT_EQ(written, expected);
  EXPECT_TRUE(c.WantsRead());
}

TEST(HttpConnectionTest, DateFollowsTheTimeOfEachFeed) {
  Connection c({});
  c.Feed("GET / HTTP/1.1\r\nHost: a\r\n\r\n", 0);
  c.Feed("GET / HTTP/1.1\r\nHost: a\r\n\r\n", 784111777000);
  EXPECT_NE(c.Output().find("Date: Thu, 01 Jan 1970 00:00:00 GMT"), std::string::npos);
  EXPECT_NE(c.Output().find("Date: Sun, 06 Nov 1994 08:49:37 GMT"), std::string::npos);
}

}  // namespace
}  // namespace examples::http
