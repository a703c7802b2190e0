// examples/server/testing/process.cc: child processes and socket clients for the
// servers' tests.
#include "examples/server/testing/process.h"

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
#include <cstdlib>
#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "ringloop/drivers/uring/uring_driver.h"

extern char** environ;

namespace examples::testing {
namespace {

// MillisLeft: what is left of `deadline`, for poll(2).
int MillisLeft(absl::Time deadline) {
  const absl::Duration left = deadline - absl::Now();
  return left <= absl::ZeroDuration() ? 0 : int(absl::ToInt64Milliseconds(left) + 1);
}

// WaitReadable: whether `fd` is readable before `deadline`.
bool WaitReadable(int fd, absl::Time deadline) {
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    const int n = ::poll(&p, 1, MillisLeft(deadline));
    if (n > 0) return true;
    if (n == 0 || errno != EINTR) return false;
  }
}

// Spawn: starts `argv` with the given fds as its stdin (-1: /dev/null), stdout and
// stderr; its pid, or -1.
pid_t Spawn(const std::vector<std::string>& argv, int in, int out, int err) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (in >= 0) {
    posix_spawn_file_actions_adddup2(&actions, in, STDIN_FILENO);
  } else {
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  }
  posix_spawn_file_actions_adddup2(&actions, out, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err, STDERR_FILENO);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, argv[0].c_str(), &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

int ExitStatus(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

std::string FindProgram(std::string_view name) {
  const char* path = std::getenv("PATH");
  std::vector<std::string> dirs = absl::StrSplit(path != nullptr ? path : "", ':');
  for (const char* d : {"/usr/bin", "/usr/sbin", "/bin"}) dirs.push_back(d);
  for (const std::string& dir : dirs) {
    if (dir.empty()) continue;
    std::string candidate = dir + "/" + std::string(name);
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

bool UringUsable() { return ringloop::UringDriver::Probe().ok(); }

ServerProcess::~ServerProcess() {
  if (pid_ > 0 && !exited_) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  if (err_ >= 0) ::close(err_);
  if (pidfd_ >= 0) ::close(pidfd_);
}

bool ServerProcess::Start(const std::string& binary, const std::vector<std::string>& args) {
  int err[2];
  if (::pipe2(err, O_CLOEXEC) != 0) return false;
  std::vector<std::string> argv = {binary};
  argv.insert(argv.end(), args.begin(), args.end());
  const int null_out = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  pid_ = Spawn(argv, -1, null_out, err[1]);
  ::close(null_out);
  ::close(err[1]);
  err_ = err[0];
  if (pid_ < 0) {
    log_ = "posix_spawn failed: " + binary;
    return false;
  }
  pidfd_ = int(::syscall(SYS_pidfd_open, pid_, 0));
  return pidfd_ >= 0;
}

int ServerProcess::WaitForPort() {
  const absl::Time deadline = absl::Now() + kWait;
  constexpr std::string_view kMarker = "listening on ";
  for (;;) {
    const size_t at = log_.find(kMarker);
    const size_t end = at == std::string::npos ? at : log_.find(' ', at + kMarker.size());
    if (end != std::string::npos) {
      const std::string address = log_.substr(at + kMarker.size(), end - at - kMarker.size());
      int port = 0;
      if (absl::SimpleAtoi(address.substr(address.rfind(':') + 1), &port)) return port;
      return 0;
    }
    if (!ReadSome(deadline - absl::Now())) return 0;
  }
}

bool ServerProcess::WaitForLog(std::string_view text) {
  const absl::Time deadline = absl::Now() + kWait;
  while (log_.find(text) == std::string::npos) {
    if (!ReadSome(deadline - absl::Now())) return false;
  }
  return true;
}

void ServerProcess::Signal(int signo) {
  if (pid_ > 0 && !exited_) ::kill(pid_, signo);
}

int ServerProcess::WaitForExit(absl::Duration timeout) {
  if (!WaitReadable(pidfd_, absl::Now() + timeout)) return -1;
  int status = 0;
  if (::waitpid(pid_, &status, 0) != pid_) return -1;
  exited_ = true;
  while (ReadSome(absl::Seconds(1))) {
  }
  return ExitStatus(status);
}

int64_t ServerProcess::RssKb() const {
  std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) != 0) continue;
    int64_t kb = -1;
    std::vector<std::string> parts = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (parts.size() >= 2 && absl::SimpleAtoi(parts[1], &kb)) return kb;
  }
  return -1;
}

bool ServerProcess::ReadSome(absl::Duration timeout) {
  if (!WaitReadable(err_, absl::Now() + timeout)) return false;
  char buf[1024];
  const ssize_t n = ::read(err_, buf, sizeof(buf));
  if (n <= 0) return false;
  log_.append(buf, size_t(n));
  return true;
}

RunResult RunProgram(const std::vector<std::string>& argv, std::string_view input,
                     absl::Duration timeout) {
  RunResult result;
  int in[2], out[2], err[2];
  if (::pipe2(in, O_CLOEXEC) != 0) return result;
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) return result;
  const pid_t pid = Spawn(argv, in[0], out[1], err[1]);
  ::close(in[0]);
  ::close(out[1]);
  ::close(err[1]);
  ::fcntl(in[1], F_SETFL, O_NONBLOCK);
  int to_child = in[1];
  if (input.empty()) {
    ::close(to_child);
    to_child = -1;
  }
  const absl::Time deadline = absl::Now() + timeout;
  bool out_open = true, err_open = true, timed_out = false;
  while ((out_open || err_open) && pid > 0) {
    pollfd p[3] = {{out_open ? out[0] : -1, POLLIN, 0},
                   {err_open ? err[0] : -1, POLLIN, 0},
                   {to_child, POLLOUT, 0}};
    const int n = ::poll(p, 3, MillisLeft(deadline));
    if (n == 0) {
      timed_out = true;
      break;
    }
    if (n < 0 && errno != EINTR) break;
    char buf[4096];
    for (int i = 0; i < 2; ++i) {
      if (p[i].revents == 0) continue;
      const ssize_t got = ::read(p[i].fd, buf, sizeof(buf));
      if (got > 0) {
        (i == 0 ? result.out : result.err).append(buf, size_t(got));
      } else {
        (i == 0 ? out_open : err_open) = false;
      }
    }
    if (p[2].revents != 0) {
      const ssize_t put = ::write(to_child, input.data(), input.size());
      if (put > 0) input.remove_prefix(size_t(put));
      if (put < 0 || input.empty()) {
        ::close(to_child);
        to_child = -1;
      }
    }
  }
  if (to_child >= 0) ::close(to_child);
  ::close(out[0]);
  ::close(err[0]);
  if (pid < 0) return result;
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.status = ExitStatus(status);
  return result;
}

int Connect(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const int64_t wait_ms = absl::ToInt64Milliseconds(kWait);
  timeval tv{wait_ms / 1000, 0};
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

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(size_t(n));
  }
  return true;
}

std::string ReadExactly(int fd, size_t n, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  std::string out;
  char buf[65536];
  while (out.size() < n && WaitReadable(fd, deadline)) {
    const ssize_t got = ::recv(fd, buf, std::min(sizeof(buf), n - out.size()), MSG_DONTWAIT);
    if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (got <= 0) break;
    out.append(buf, size_t(got));
  }
  return out;
}

std::string ReadUntil(int fd, std::string_view end, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  std::string out;
  char buf[65536];
  while (out.find(end) == std::string::npos && WaitReadable(fd, deadline)) {
    const ssize_t got = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (got <= 0) break;
    out.append(buf, size_t(got));
  }
  return out;
}

std::string ReadToEnd(int fd, bool* closed, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  std::string out;
  char buf[65536];
  *closed = false;
  while (WaitReadable(fd, deadline)) {
    const ssize_t got = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (got == 0) *closed = true;
    if (got <= 0) break;
    out.append(buf, size_t(got));
  }
  return out;
}

bool WaitForEof(int fd, absl::Duration timeout) {
  bool closed = false;
  const std::string rest = ReadToEnd(fd, &closed, timeout);
  return closed && rest.empty();
}

}  // namespace examples::testing
