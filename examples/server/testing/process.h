// examples/server/testing/process.h: what the example servers' tests do from outside:
// start a server binary, wait for its port, send it signals and wait for its exit,
// run client programs (redis-cli, curl) and talk to it over plain sockets.
//
// Every wait here is bounded (kWait unless a call says otherwise) and fails the
// wait, never the process, when the bound passes.
//
// Threads: one test thread.
#ifndef EXAMPLES_SERVER_TESTING_PROCESS_H_
#define EXAMPLES_SERVER_TESTING_PROCESS_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"

namespace examples::testing {

// kWait: the bound of every wait that does not name its own.
inline constexpr absl::Duration kWait = absl::Seconds(20);

// FindProgram: the path of `name` in $PATH (or /usr/bin, /usr/sbin, /bin), or empty.
std::string FindProgram(std::string_view name);

// UringUsable: whether io_uring works in this process (else a test of --driver=uring
// skips).
bool UringUsable();

// ServerProcess: a server binary running as a child, its stderr read here.
class ServerProcess {
 public:
  ServerProcess() = default;
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
  // ~ServerProcess: kills the child if it is still running.
  ~ServerProcess();

  // Start: runs `binary` with `args`; false (with the reason in log()) on failure.
  bool Start(const std::string& binary, const std::vector<std::string>& args);
  // WaitForPort: reads stderr until the server says "listening on ADDR:PORT"; the
  // port, or 0 if it exits or says nothing within kWait.
  int WaitForPort();
  // WaitForLog: reads stderr until it contains `text`; false after kWait or at EOF.
  bool WaitForLog(std::string_view text);
  // Signal: sends `signo`.
  void Signal(int signo);
  // WaitForExit: the exit status (128 + signal if killed), or -1 after `timeout`.
  int WaitForExit(absl::Duration timeout = kWait);
  // RssKb: the resident set size (VmRSS of /proc/PID/status) in KiB, or -1.
  int64_t RssKb() const;

  pid_t pid() const { return pid_; }
  // log: what the server wrote to stderr so far.
  const std::string& log() const { return log_; }

 private:
  // ReadSome: appends to log_ what stderr has within `timeout`; false at EOF or
  // timeout.
  bool ReadSome(absl::Duration timeout);

  pid_t pid_ = -1;
  int pidfd_ = -1;
  int err_ = -1;
  bool exited_ = false;
  std::string log_;
};

// RunResult: what a client program did.
struct RunResult {
  int status = -1;  // exit status; 128 + signal if killed; -1 if it could not run
  std::string out;  // its stdout
  std::string err;  // its stderr
};

// RunProgram: runs `argv` (argv[0] a path) with `input` on its stdin, until it exits or
// `timeout` passes (then it is killed and the status is 128 + SIGKILL).
RunResult RunProgram(const std::vector<std::string>& argv, std::string_view input = {},
                     absl::Duration timeout = kWait);

// Connect: a blocking TCP socket connected to 127.0.0.1:`port`, or -1. Its sends and
// receives time out after kWait.
int Connect(int port);
// SendAll: sends all of `data` (MSG_NOSIGNAL); false on an error.
bool SendAll(int fd, std::string_view data);
// ReadExactly: `n` bytes from `fd`, or fewer if the stream ends, fails or `timeout`
// passes first.
std::string ReadExactly(int fd, size_t n, absl::Duration timeout = kWait);
// ReadUntil: bytes from `fd` until they contain `end` (returned with it), or what
// came before the stream ended, failed or `timeout` passed.
std::string ReadUntil(int fd, std::string_view end, absl::Duration timeout = kWait);
// ReadToEnd: everything until the peer closes, or until `timeout`; *closed tells
// which (an orderly end of the stream).
std::string ReadToEnd(int fd, bool* closed, absl::Duration timeout = kWait);
// WaitForEof: whether `fd` reads the end of the stream (nothing else) within
// `timeout`.
bool WaitForEof(int fd, absl::Duration timeout = kWait);

}  // namespace examples::testing

#endif  // EXAMPLES_SERVER_TESTING_PROCESS_H_
