// examples/http/http_server_test.cc: http_server as a process, driven by curl and raw
// sockets, on each driver: the routes, keep-alive, pipelining, malformed requests
// (400 and close, other clients unaffected), 404/405, the idle and request timeouts,
// and SIGTERM with a request in flight.
//
// Tests that need curl skip when it is not installed (tools/setup.sh installs it).
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "examples/server/testing/process.h"
#include "gtest/gtest.h"

namespace examples::http {
namespace {

using examples::testing::Connect;
using examples::testing::FindProgram;
using examples::testing::ReadToEnd;
using examples::testing::ReadUntil;
using examples::testing::RunProgram;
using examples::testing::RunResult;
using examples::testing::SendAll;
using examples::testing::ServerProcess;
using examples::testing::WaitForEof;

std::string g_server;  // the http_server binary (the test's first argument)

constexpr char kGetRoot[] = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";
constexpr char kGetHealthz[] = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";

// CountOf: how many times `needle` occurs in `haystack`.
size_t CountOf(std::string_view haystack, std::string_view needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string_view::npos;
       at = haystack.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

class HttpServerTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { StartServer({}); }

  void StartServer(std::vector<std::string> flags) {
    if (GetParam() == "uring" && !examples::testing::UringUsable()) {
      GTEST_SKIP() << "io_uring is not usable here";
    }
    flags.push_back("--port=0");
    flags.push_back("--driver=" + GetParam());
    server_ = std::make_unique<ServerProcess>();
    ASSERT_TRUE(server_->Start(g_server, flags)) << server_->log();
    port_ = server_->WaitForPort();
    ASSERT_NE(port_, 0) << "no port in its stderr:\n" << server_->log();
    EXPECT_TRUE(absl::StrContains(server_->log(), "driver=" + GetParam())) << server_->log();
  }

  std::string Url(const std::string& path) const {
    return absl::StrCat("http://127.0.0.1:", port_, path);
  }

  // Curl: runs curl with `args`; its result (skips the test without curl).
  RunResult Curl(std::vector<std::string> args) {
    args.insert(args.begin(), FindProgram("curl"));
    return RunProgram(args);
  }
  bool HaveCurl() const { return !FindProgram("curl").empty(); }

  void StopAndExpectZero() {
    server_->Signal(SIGTERM);
    EXPECT_EQ(server_->WaitForExit(), 0) << server_->log();
  }

  std::unique_ptr<ServerProcess> server_;
  int port_ = 0;
};

TEST_P(HttpServerTest, CurlGetsTheRoutesAndTheirStatuses) {
  if (!HaveCurl()) GTEST_SKIP() << "curl is not installed (tools/setup.sh installs it)";
  RunResult root = Curl({"-s", Url("/")});
  EXPECT_EQ(root.status, 0) << root.err;
  EXPECT_EQ(root.out, "Hello from ringloop\n");
  RunResult health = Curl({"-s", "-w", " %{http_code}", Url("/healthz?verbose=1")});
  EXPECT_EQ(health.out, "ok\n 200");
  RunResult head = Curl({"-s", "-I", Url("/")});
  EXPECT_TRUE(absl::StartsWith(head.out, "HTTP/1.1 200 OK\r\n")) << head.out;
  EXPECT_TRUE(absl::StrContains(head.out, "Content-Length: 20\r\n")) << head.out;
  RunResult missing = Curl({"-s", "-o", "/dev/null", "-w", "%{http_code}", Url("/nope")});
  EXPECT_EQ(missing.out, "404");
  RunResult post = Curl({"-s", "-i", "-X", "POST", "-d", "x=1", Url("/")});
  EXPECT_TRUE(absl::StartsWith(post.out, "HTTP/1.1 405 Method Not Allowed\r\n")) << post.out;
  EXPECT_TRUE(absl::StrContains(post.out, "Allow: GET, HEAD\r\n")) << post.out;
  RunResult bad = Curl(
      {"-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Content-Length: twelve", Url("/")});
  EXPECT_EQ(bad.out, "400");
  StopAndExpectZero();
}

TEST_P(HttpServerTest, CurlKeepsOneConnectionAlive) {
  if (!HaveCurl()) GTEST_SKIP() << "curl is not installed (tools/setup.sh installs it)";
  RunResult r = Curl({"-sv", Url("/"), Url("/healthz"), Url("/")});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "Hello from ringloop\nok\nHello from ringloop\n");
  EXPECT_EQ(CountOf(r.err, "Re-using existing connection"), 2u) << r.err;
  EXPECT_EQ(CountOf(r.err, "Connected to"), 1u) << r.err;
  StopAndExpectZero();
}

TEST_P(HttpServerTest, PipelinedRequestsGetTheirResponsesInOrder) {
  const int fd = Connect(port_);
  ASSERT_GE(fd, 0);
  std::string requests;
  for (int i = 0; i < 100; ++i) requests += (i % 2 == 0) ? kGetRoot : kGetHealthz;
  requests += "GET /last HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
  ASSERT_TRUE(SendAll(fd, requests));
  bool closed = false;
  const std::string got = ReadToEnd(fd, &closed);
  EXPECT_TRUE(closed);
  EXPECT_EQ(CountOf(got, "HTTP/1.1 200 OK\r\n"), 100u);
  EXPECT_EQ(CountOf(got, "Hello from ringloop\n"), 50u);
  EXPECT_EQ(CountOf(got, "\r\n\r\nok\n"), 50u);
  // In order: root, healthz, ..., then the 404 that closes.
  EXPECT_LT(got.find("Hello from ringloop\n"), got.find("\r\n\r\nok\n"));
  EXPECT_TRUE(absl::EndsWith(got, "Connection: close\r\n\r\nNot Found\n")) << got.substr(0, 300);
  ::close(fd);
  StopAndExpectZero();
}

TEST_P(HttpServerTest, MalformedRequestsGetTheirStatusAndCloseOnlyThatConnection) {
  const int good = Connect(port_);
  ASSERT_GE(good, 0);
  ASSERT_TRUE(SendAll(good, kGetHealthz));
  ASSERT_TRUE(absl::EndsWith(ReadUntil(good, "ok\n"), "ok\n"));
  struct Bad {
    std::string request, status_line;
    size_t responses = 1;  // the error's, and one per good request before it
  };
  const std::vector<Bad> bad = {
      {"BAD\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n"},
      {"GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n"},  // no Host
      {"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
       "HTTP/1.1 400 Bad Request\r\n"},
      {"GET / HTTP/1.1\r\nHost: t\r\n folded\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n"},
      {"GET / HTTP/2.0\r\nHost: t\r\n\r\n", "HTTP/1.1 505 HTTP Version Not Supported\r\n"},
      {"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n",
       "HTTP/1.1 501 Not Implemented\r\n"},
      {"GET /" + std::string(9000, 'a') + " HTTP/1.1\r\n", "HTTP/1.1 414 URI Too Long\r\n"},
      {std::string(kGetRoot) + "garbage\r\n\r\n" + kGetRoot, "HTTP/1.1 200 OK\r\n", 2},
  };
  for (const Bad& b : bad) {
    const int fd = Connect(port_);
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(SendAll(fd, b.request));
    bool closed = false;
    const std::string got = ReadToEnd(fd, &closed);
    EXPECT_TRUE(absl::StartsWith(got, b.status_line)) << b.request.substr(0, 60) << "\n" << got;
    EXPECT_TRUE(absl::StrContains(got, "Connection: close\r\n")) << got;
    EXPECT_EQ(CountOf(got, "HTTP/1.1 "), b.responses) << "answered past the error: " << got;
    EXPECT_TRUE(closed) << "still open after " << b.request.substr(0, 60);
    ::close(fd);
    // The other keep-alive connection is still served.
    ASSERT_TRUE(SendAll(good, kGetHealthz));
    EXPECT_TRUE(absl::EndsWith(ReadUntil(good, "ok\n"), "ok\n"));
  }
  ::close(good);
  StopAndExpectZero();
}

TEST_P(HttpServerTest, IdleAndSlowRequestsAreClosedAfterTheirTimeouts) {
  server_.reset();
  StartServer({"--idle_timeout=300ms", "--request_timeout=600ms"});
  if (port_ == 0) return;
  // Idle: a connection that never sends, and one idle after a request.
  absl::Time start = absl::Now();
  const int silent = Connect(port_);
  const int after_one = Connect(port_);
  ASSERT_GE(silent, 0);
  ASSERT_GE(after_one, 0);
  ASSERT_TRUE(SendAll(after_one, kGetHealthz));
  EXPECT_TRUE(absl::EndsWith(ReadUntil(after_one, "ok\n"), "ok\n"));
  EXPECT_TRUE(WaitForEof(silent));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(300));
  EXPECT_TRUE(WaitForEof(after_one));
  // Slow: a head trickled a byte at a time within the idle timeout, but not done in
  // the request timeout.
  const int slow = Connect(port_);
  ASSERT_GE(slow, 0);
  start = absl::Now();
  const std::string head = "GET / HTTP/1.1\r\nHost: t\r\nX-Slow: ";
  bool cut = false;
  for (size_t i = 0; i < 400 && !cut; ++i) {  // a byte every 50 ms, for 20 s at most
    cut = !SendAll(slow, head.substr(i % head.size(), 1));
    pollfd p{slow, POLLIN, 0};
    char c;
    cut = cut || (::poll(&p, 1, 50) == 1 && ::recv(slow, &c, 1, MSG_DONTWAIT) == 0);
  }
  EXPECT_TRUE(cut) << "a request trickled for 20 s was not cut";
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(600));
  ::close(silent);
  ::close(after_one);
  ::close(slow);
  StopAndExpectZero();
}

TEST_P(HttpServerTest, SigtermAnswersTheRequestInFlightThenExitsZero) {
  const int busy = Connect(port_);
  const int idle = Connect(port_);
  ASSERT_GE(busy, 0);
  ASSERT_GE(idle, 0);
  ASSERT_TRUE(SendAll(idle, kGetHealthz));
  ASSERT_TRUE(absl::EndsWith(ReadUntil(idle, "ok\n"), "ok\n"));
  // Half a request, then the signal, then the rest: it is answered, then the
  // connection closes; the idle keep-alive connection is closed at once.
  ASSERT_TRUE(SendAll(busy, "GET / HTTP/1.1\r\nHo"));
  ASSERT_TRUE(absl::StrContains(server_->log(), "listening"));
  server_->Signal(SIGTERM);
  ASSERT_TRUE(server_->WaitForLog("SIGTERM: draining")) << server_->log();
  EXPECT_TRUE(WaitForEof(idle));
  EXPECT_LT(Connect(port_), 0) << "still accepting after SIGTERM";
  ASSERT_TRUE(SendAll(busy, "st: t\r\n\r\n"));
  bool closed = false;
  const std::string got = ReadToEnd(busy, &closed);
  EXPECT_TRUE(absl::StartsWith(got, "HTTP/1.1 200 OK\r\n")) << got;
  EXPECT_TRUE(absl::EndsWith(got, "Hello from ringloop\n")) << got;
  EXPECT_TRUE(closed);
  ::close(busy);
  ::close(idle);
  EXPECT_EQ(server_->WaitForExit(), 0) << server_->log();
}

INSTANTIATE_TEST_SUITE_P(Drivers, HttpServerTest, ::testing::Values("uring", "epoll"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
}  // namespace examples::http

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc < 2) {
    std::fprintf(stderr, "usage: http_server_test PATH_TO_HTTP_SERVER\n");
    return 2;
  }
  examples::http::g_server = argv[1];
  return RUN_ALL_TESTS();
}
