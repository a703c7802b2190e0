// tests/seccomp_fallback_test.cc: a Loop in a container-like seccomp sandbox.
//
// Docker's and containerd's default seccomp profiles make io_uring_setup fail
// with EPERM. Each test forks a child that installs such a filter (PR_SET_NO_NEW_PRIVS
// + SECCOMP_SET_MODE_FILTER: io_uring_setup/enter/register -> EPERM, everything
// else allowed), then runs a scenario and exits with a code naming the first
// check that failed. The parent checks the exit status and what the child wrote
// to stderr (the Loop's one-line driver announcement).
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "ringloop/drivers/uring/uring_probe.h"
#include "ringloop/runtime/loop.h"

namespace ringloop {
namespace {

constexpr int kSeccompUnavailable = 77;

// InstallUringBlocker: a filter that fails io_uring_setup, io_uring_enter and
// io_uring_register with EPERM, as container runtimes' default profiles do.
// Returns 0 or the errno of prctl/seccomp.
int InstallUringBlocker() {
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, __NR_io_uring_setup, 0, 2),
      BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, __NR_io_uring_register, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  static_assert(__NR_io_uring_enter == __NR_io_uring_setup + 1);
  static_assert(__NR_io_uring_register == __NR_io_uring_setup + 2);
  sock_fprog program{static_cast<unsigned short>(sizeof(filter) / sizeof(filter[0])), filter};
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errno;
  if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &program) != 0) return errno;
  return 0;
}

// EchoOverLoopback: a loopback TCP echo through `loop`: accept, connect, send,
// echo back, receive. Returns 0, or the number of the step that failed.
int EchoOverLoopback(Loop& loop) {
  const int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (lfd < 0 || ::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(lfd, 8) != 0 || ::getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return 1;
  }
  const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int server = -1;
  char server_buf[16];
  char client_buf[16] = {};
  int echoed = -1;
  loop.Submit(Accept{lfd}, [&](const Event& e) {
    server = e.res;
    if (server < 0) return;
    loop.Submit(Recv{server, server_buf, sizeof(server_buf)}, [&](const Event& r) {
      if (r.res > 0) loop.Submit(Send{server, server_buf, uint32_t(r.res)}, nullptr);
    });
  });
  loop.Submit(Connect{client, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)},
              [&](const Event& e) {
                if (e.res != 0) return;
                loop.Submit(Send{client, "hello", 5}, nullptr);
                loop.Submit(Recv{client, client_buf, sizeof(client_buf)},
                            [&](const Event& r) { echoed = r.res; });
              });
  bool watchdog = false;
  const OpId dog = loop.Sleep(absl::Seconds(5), [&](const Event& e) { watchdog = e.res == 0; });
  for (int step = 0; step < 1000 && echoed < 0 && !watchdog; ++step) {
    if (!loop.RunOnce().ok()) return 2;
  }
  loop.Cancel(dog);
  if (server < 0) return 3;
  if (echoed != 5 || std::string(client_buf, 5) != "hello") return 4;
  int closed = 0;
  for (int fd : {lfd, client, server})
    loop.Close(fd, [&](const Event& e) { closed += e.res == 0; });
  if (!loop.RunUntilIdle().ok() || closed != 3) return 5;
  return 0;
}

// ChildFallsBack: the child's scenario for auto mode. Exit codes: 0 ok, 10 Loop
// creation failed, 11 not epoll, 12 reason lacks EPERM, 20+ echo step failed.
int ChildFallsBack() {
  ::unsetenv(kDriverEnvVar);
  auto loop = Loop::Create();  // auto; logs its one line to stderr
  if (!loop.ok()) {
    std::fprintf(stderr, "create failed: %s\n", std::string(loop.status().message()).c_str());
    return 10;
  }
  if ((*loop)->driver_name() != "epoll") return 11;
  if (!absl::StrContains((*loop)->driver_reason(), "EPERM")) return 12;
  const int echo = EchoOverLoopback(**loop);
  return echo == 0 ? 0 : 20 + echo;
}

// ChildForcedUringFails: forcing io_uring in the sandbox must fail, not fall back.
int ChildForcedUringFails() {
  LoopOptions options;
  options.driver = DriverChoice::kUring;
  auto loop = Loop::Create(options);
  if (loop.ok()) return 30;
  std::fprintf(stderr, "forced: %s\n", std::string(loop.status().message()).c_str());
  return absl::StrContains(loop.status().message(), "EPERM") ? 0 : 31;
}

struct ChildOutcome {
  int exit_code = -1;
  std::string stderr_text;
};

// RunSandboxed: forks; the child installs the filter and runs `scenario`.
ChildOutcome RunSandboxed(int (*scenario)()) {
  int pipe_fds[2];
  EXPECT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(pipe_fds[1], STDERR_FILENO);
    if (InstallUringBlocker() != 0) ::_exit(kSeccompUnavailable);
    const int code = scenario();
    std::fflush(nullptr);
    ::_exit(code);
  }
  ::close(pipe_fds[1]);
  ChildOutcome outcome;
  char buf[512];
  for (;;) {  // until the child exits (EOF on its stderr)
    const ssize_t n = ::read(pipe_fds[0], buf, sizeof(buf));
    if (n > 0) {
      outcome.stderr_text.append(buf, size_t(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  ::close(pipe_fds[0]);
  int status = 0;
  EXPECT_EQ(::waitpid(pid, &status, 0), pid);
  outcome.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return outcome;
}

TEST(SeccompFallbackTest, AutoFallsBackToEpollSaysWhyAndServesASocket) {
  const ChildOutcome child = RunSandboxed(ChildFallsBack);
  if (child.exit_code == kSeccompUnavailable) {
    GTEST_SKIP() << "this kernel refuses a seccomp filter here (no SECCOMP_SET_MODE_FILTER)";
  }
  EXPECT_EQ(child.exit_code, 0) << "child stderr:\n" << child.stderr_text;
  std::printf("sandboxed child said: %s", child.stderr_text.c_str());
  // Exactly one announcement line, naming the driver and the reason.
  EXPECT_TRUE(absl::StrContains(child.stderr_text, "ringloop: driver=epoll ("))
      << child.stderr_text;
  EXPECT_TRUE(absl::StrContains(child.stderr_text, "[EPERM]")) << child.stderr_text;
  EXPECT_TRUE(absl::StrContains(child.stderr_text, "seccomp")) << child.stderr_text;
  size_t lines = 0;
  for (char c : child.stderr_text) lines += c == '\n';
  EXPECT_EQ(lines, 1u) << child.stderr_text;
}

TEST(SeccompFallbackTest, ForcingUringInTheSandboxIsAClearError) {
  const ChildOutcome child = RunSandboxed(ChildForcedUringFails);
  if (child.exit_code == kSeccompUnavailable) {
    GTEST_SKIP() << "this kernel refuses a seccomp filter here (no SECCOMP_SET_MODE_FILTER)";
  }
  EXPECT_EQ(child.exit_code, 0) << "child stderr:\n" << child.stderr_text;
  EXPECT_TRUE(absl::StrContains(child.stderr_text, "io_uring was forced")) << child.stderr_text;
}

TEST(SeccompFallbackTest, OutsideTheSandboxAutoPrefersIoUring) {
  // The control: without the filter, the same auto choice picks io_uring (where
  // the machine has it), so the fallback above is the filter's doing.
  if (ProbeUringSetup() != 0) GTEST_SKIP() << ExplainSetupErrno(ProbeUringSetup());
  ::unsetenv(kDriverEnvVar);
  LoopOptions options;
  options.log_driver_choice = false;
  auto loop = Loop::Create(options);
  ASSERT_TRUE(loop.ok()) << loop.status();
  EXPECT_EQ((*loop)->driver_name(), "uring") << (*loop)->driver_reason();
  EXPECT_EQ(EchoOverLoopback(**loop), 0);
}

}  // namespace
}  // namespace ringloop
