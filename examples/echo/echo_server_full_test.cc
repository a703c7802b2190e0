// examples/echo/echo_server_full_test.cc: echo_server_full as a process, with a socket
// client, on each driver: echoes on several threads, stops reading a client that
// does not read, and on SIGTERM writes back what it has read, closes, exits 0.
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "examples/server/testing/process.h"
#include "gtest/gtest.h"

namespace examples::echo {
namespace {

using examples::testing::Connect;
using examples::testing::ReadExactly;
using examples::testing::ReadToEnd;
using examples::testing::SendAll;
using examples::testing::ServerProcess;

std::string g_server;  // the echo_server_full binary (the test's first argument)

class EchoServerFullTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "uring" && !examples::testing::UringUsable()) {
      GTEST_SKIP() << "io_uring is not usable here";
    }
    ASSERT_TRUE(server_.Start(g_server, {"--port=0", "--threads=2", "--driver=" + GetParam()}));
    port_ = server_.WaitForPort();
    ASSERT_NE(port_, 0) << "no port in its stderr:\n" << server_.log();
    EXPECT_TRUE(absl::StrContains(server_.log(), "(2 threads, driver=" + GetParam() + ")"))
        << server_.log();
  }

  ServerProcess server_;
  int port_ = 0;
};

TEST_P(EchoServerFullTest, EchoesOnManyConnectionsAcrossThreads) {
  std::vector<int> fds;
  for (int i = 0; i < 32; ++i) {
    fds.push_back(Connect(port_));
    ASSERT_GE(fds.back(), 0);
  }
  for (int round = 0; round < 3; ++round) {
    for (size_t i = 0; i < fds.size(); ++i) {
      ASSERT_TRUE(SendAll(fds[i], absl::StrCat("message ", i, " round ", round, "\n")));
    }
    for (size_t i = 0; i < fds.size(); ++i) {
      const std::string want = absl::StrCat("message ", i, " round ", round, "\n");
      EXPECT_EQ(ReadExactly(fds[i], want.size()), want);
    }
  }
  for (int fd : fds) ::close(fd);
  server_.Signal(SIGINT);
  EXPECT_EQ(server_.WaitForExit(), 0) << server_.log();
}

TEST_P(EchoServerFullTest, AClientThatDoesNotReadStopsBeingRead) {
  const int fd = Connect(port_);
  ASSERT_GE(fd, 0);
  const std::string chunk(64 * 1024, 'e');
  size_t sent = 0;
  bool stalled = false;
  while (sent < (size_t{1} << 30)) {  // 1 GiB: far beyond every buffer on the way
    const ssize_t n = ::send(fd, chunk.data(), chunk.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      sent += size_t(n);
      continue;
    }
    ASSERT_TRUE(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) << std::strerror(errno);
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, 1000) == 0) {
      stalled = true;
      break;
    }
  }
  EXPECT_TRUE(stalled) << sent << " bytes taken without a byte read back";
  // Every byte it took comes back once the client reads.
  ::shutdown(fd, SHUT_WR);
  bool closed = false;
  EXPECT_EQ(ReadToEnd(fd, &closed).size(), sent);
  EXPECT_TRUE(closed);
  ::close(fd);
  server_.Signal(SIGTERM);
  EXPECT_EQ(server_.WaitForExit(), 0) << server_.log();
}

TEST_P(EchoServerFullTest, SigtermWritesBackWhatWasReadThenClosesAndExitsZero) {
  const int fd = Connect(port_);
  const int idle = Connect(port_);
  ASSERT_GE(fd, 0);
  ASSERT_GE(idle, 0);
  // 8 MiB sent without reading: the server echoes until the socket buffers fill.
  std::string data(8 << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = char('a' + i % 26);
  size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n =
        ::send(fd, data.data() + sent, data.size() - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += size_t(n);
  }
  ASSERT_EQ(ReadExactly(fd, 1), "a");  // the server is echoing
  server_.Signal(SIGTERM);
  ASSERT_TRUE(server_.WaitForLog("SIGTERM: draining")) << server_.log();
  bool closed = false;
  EXPECT_TRUE(examples::testing::WaitForEof(idle));
  const std::string back = "a" + ReadToEnd(fd, &closed);
  EXPECT_TRUE(closed) << "no orderly end of stream after " << back.size() << " bytes";
  EXPECT_GT(back.size(), 1u);
  EXPECT_TRUE(data.compare(0, back.size(), back) == 0) << "not a prefix of what was sent";
  ::close(fd);
  ::close(idle);
  EXPECT_EQ(server_.WaitForExit(), 0) << server_.log();
}

INSTANTIATE_TEST_SUITE_P(Drivers, EchoServerFullTest, ::testing::Values("uring", "epoll"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
}  // namespace examples::echo

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc < 2) {
    std::fprintf(stderr, "usage: echo_server_full_test PATH_TO_ECHO_SERVER_FULL\n");
    return 2;
  }
  examples::echo::g_server = argv[1];
  return RUN_ALL_TESTS();
}
