// examples/echo/echo_server_test.cc: runs the getting-started echo server as a
// process (on each driver), talks to it over TCP, and stops it with a signal.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "ringloop/drivers/uring/uring_driver.h"

extern char** environ;

namespace {

std::string g_binary;  // the echo_server binary (the test's first argument)

constexpr int kTimeoutMs = 10'000;  // every wait of this test is bounded by it

// Server: the echo server running as a child process, its stderr piped here.
class Server {
 public:
  // Start: runs the server with RINGLOOP_DRIVER=`driver`; false on failure.
  bool Start(const std::string& driver) {
    int err[2];
    if (::pipe2(err, O_CLOEXEC) != 0) return false;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
    std::vector<std::string> env_strings = {absl::StrCat("RINGLOOP_DRIVER=", driver)};
    for (char** e = environ; *e != nullptr; ++e) {
      if (!absl::StartsWith(*e, "RINGLOOP_DRIVER=")) env_strings.push_back(*e);
    }
    std::vector<char*> env;
    for (std::string& s : env_strings) env.push_back(s.data());
    env.push_back(nullptr);
    char* argv[] = {g_binary.data(), nullptr};
    const int rc = ::posix_spawn(&pid_, g_binary.c_str(), &actions, nullptr, argv, env.data());
    posix_spawn_file_actions_destroy(&actions);
    ::close(err[1]);
    err_ = err[0];
    if (rc != 0) return false;
    pidfd_ = int(::syscall(SYS_pidfd_open, pid_, 0));
    return pidfd_ >= 0;
  }

  ~Server() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (err_ >= 0) ::close(err_);
    if (pidfd_ >= 0) ::close(pidfd_);
  }

  // WaitForPort: reads the server's stderr until it says its port (0 if it
  // never does within the timeout).
  int WaitForPort() {
    constexpr char kPrefix[] = "echo: listening on port ";
    for (;;) {
      const size_t at = log_.find(kPrefix);
      const size_t end = at == std::string::npos ? at : log_.find('\n', at);
      int port = 0;
      if (end != std::string::npos &&
          absl::SimpleAtoi(log_.substr(at + sizeof(kPrefix) - 1, end - at - sizeof(kPrefix) + 1),
                           &port)) {
        return port;
      }
      if (!ReadSome()) return 0;
    }
  }

  // Signal: sends `signo` to the server.
  void Signal(int signo) { ASSERT_EQ(::kill(pid_, signo), 0); }

  // WaitForExit: the exit status, or -1 if it did not exit within the timeout.
  int WaitForExit() {
    pollfd p{pidfd_, POLLIN, 0};
    if (::poll(&p, 1, kTimeoutMs) != 1) return -1;
    int status = 0;
    if (::waitpid(pid_, &status, 0) != pid_) return -1;
    exited_ = true;
    while (ReadSome()) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  const std::string& log() const { return log_; }

 private:
  bool ReadSome() {
    pollfd p{err_, POLLIN, 0};
    if (::poll(&p, 1, kTimeoutMs) != 1) return false;
    char buf[512];
    const ssize_t n = ::read(err_, buf, sizeof(buf));
    if (n <= 0) return false;
    log_.append(buf, size_t(n));
    return true;
  }

  pid_t pid_ = -1;
  int pidfd_ = -1;
  int err_ = -1;
  bool exited_ = false;
  std::string log_;
};

// Connect: a blocking client socket to 127.0.0.1:`port`, with timeouts.
int Connect(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{kTimeoutMs / 1000, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(uint16_t(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// RoundTrip: sends `text` and reads the same number of bytes back.
std::string RoundTrip(int fd, const std::string& text) {
  if (::send(fd, text.data(), text.size(), MSG_NOSIGNAL) != ssize_t(text.size())) {
    return absl::StrCat("send: ", std::strerror(errno));
  }
  std::string back(text.size(), '\0');
  const ssize_t n = ::recv(fd, back.data(), back.size(), MSG_WAITALL);
  if (n != ssize_t(back.size())) return absl::StrCat("recv: ", n, " ", std::strerror(errno));
  return back;
}

class EchoServerTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "uring" && !ringloop::UringDriver::Probe().ok()) {
      GTEST_SKIP() << "io_uring unavailable: " << ringloop::UringDriver::Probe();
    }
    ASSERT_TRUE(server_.Start(GetParam()));
    port_ = server_.WaitForPort();
    ASSERT_NE(port_, 0) << "the server never said its port; its stderr:\n" << server_.log();
    EXPECT_TRUE(absl::StrContains(server_.log(), absl::StrCat("driver=", GetParam())))
        << server_.log();
  }

  Server server_;
  int port_ = 0;
};

TEST_P(EchoServerTest, EchoesAndExitsZeroOnSigterm) {
  const int fd = Connect(port_);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(RoundTrip(fd, "hello, echo"), "hello, echo");
  ::close(fd);
  server_.Signal(SIGTERM);
  EXPECT_EQ(server_.WaitForExit(), 0) << server_.log();
}

TEST_P(EchoServerTest, AfterSigintItServesOpenConnectionsUntilTheyCloseThenExitsZero) {
  const int fd = Connect(port_);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(RoundTrip(fd, "before"), "before");
  server_.Signal(SIGINT);
  // It stops accepting, but the open connection is still served.
  EXPECT_EQ(RoundTrip(fd, "after the signal"), "after the signal");
  int late = -1;
  for (int i = 0; i < 1000; ++i) {  // until the listener is closed (bounded)
    late = Connect(port_);
    if (late < 0) break;
    ::close(late);
  }
  EXPECT_LT(late, 0) << "still accepting after SIGINT";
  ::close(fd);  // the last connection ends: the server exits
  EXPECT_EQ(server_.WaitForExit(), 0) << server_.log();
}

INSTANTIATE_TEST_SUITE_P(Drivers, EchoServerTest, ::testing::Values("uring", "epoll"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc < 2) {
    std::fprintf(stderr, "usage: echo_server_test PATH_TO_ECHO_SERVER\n");
    return 2;
  }
  g_binary = argv[1];
  return RUN_ALL_TESTS();
}
