// tools/demo.cc: the Loop on this machine, in well under a minute (`bazel run --config=opt
// //tools:demo`; `make demo` is tools/demo.py, the example server under redis-benchmark).
//
//   demo [--seconds=1.5] [--clients=64] [--sim_seconds=5] [--simulator=PATH]
//
// 1. Builds a Loop in auto mode and says which driver it chose and why.
// 2. Runs three real workloads through the Loop (pipe ping-pong, socket-pair
//    ping-pong, loopback TCP echo with --clients connections), for --seconds
//    each: first on the automatic choice, then on each driver forced, with a
//    progress line while they run.
// 3. Prints a table of round trips per second per driver and workload, and the
//    uring/epoll ratio measured in this same run.
// 4. Then runs the simulator (//tools:simulate) over many seeds for
//    --sim_seconds, if it was built next to this binary (or --simulator names it).
//
// A round trip is one message (64 bytes) sent, received by the peer, sent back
// and received: four I/O ops through the Loop.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ringloop/runtime/loop.h"

ABSL_FLAG(double, seconds, 1.5, "seconds per workload per driver");
ABSL_FLAG(int, clients, 64, "TCP echo client connections");
ABSL_FLAG(double, sim_seconds, 5, "then the simulator over many seeds for this long (0: skip)");
ABSL_FLAG(std::string, simulator, "", "path of the simulate tool (default: next to this binary)");

namespace ringloop::demo {
namespace {

constexpr uint32_t kMessage = 64;
constexpr int kWorkloads = 3;
const char* const kWorkloadNames[kWorkloads] = {"pipe ping-pong", "socketpair ping-pong",
                                                "tcp echo"};

// Progress: the one line that shows a workload running, redrawn every 250 ms.
class Progress {
 public:
  Progress(Loop& loop, std::string label) : loop_(loop), label_(std::move(label)) {}
  void Tick(uint64_t trips, bool force = false) {
    const uint64_t now = loop_.NowNs();
    // On a terminal the line is redrawn in place; in a log only the final one.
    if (!force && (!interactive_ || now - last_ns_ < 250000000)) return;
    last_ns_ = now;
    std::printf("%s  %-40s %12s round trips  %5.1f s", interactive_ ? "\r" : "", label_.c_str(),
                Group(trips).c_str(), double(now - start_ns_) / 1e9);
    std::fflush(stdout);
  }
  // Group: 1234567 -> "1,234,567".
  static std::string Group(uint64_t n) {
    const std::string digits = std::to_string(n);
    std::string out;
    for (size_t i = 0; i < digits.size(); ++i) {
      if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
      out.push_back(digits[i]);
    }
    return out;
  }

 private:
  Loop& loop_;
  std::string label_;
  const uint64_t start_ns_ = loop_.NowNs();
  const bool interactive_ = ::isatty(STDOUT_FILENO) != 0;
  uint64_t last_ns_ = 0;
};

// Run: the state every workload shares: its budget, its count, its first error.
struct Run {
  Run(Loop& l, std::string label, uint64_t end)
      : loop(l), progress(l, std::move(label)), end_ns(end) {}

  Loop& loop;
  Progress progress;
  uint64_t end_ns;
  uint64_t trips = 0;
  bool time_up = false;
  absl::Status error;

  // Check: a callback that records the first real failure (not a cancellation).
  Loop::Callback Check() {
    return [this](const Event& e) { Note(e); };
  }
  void Note(const Event& e) {
    if (e.res < 0 && e.res != -ECANCELED && error.ok()) error = Result(e);
  }

  // Drive: runs the loop until `done`, marking time_up when the budget is spent.
  // A watchdog sleep turns a stall into an error instead of a hang.
  absl::Status Drive(const std::function<bool()>& done) {
    bool stalled = false;
    const OpId watchdog = loop.Sleep(absl::Nanoseconds(end_ns - loop.NowNs()) + absl::Seconds(10),
                                     [&](const Event& e) { stalled = e.res == 0; });
    while (!done() && !stalled && error.ok()) {
      if (absl::Status s = loop.RunOnce(); !s.ok()) return s;
      if (!time_up && loop.NowNs() >= end_ns) time_up = true;
      progress.Tick(trips);
    }
    loop.Cancel(watchdog);
    if (absl::Status s = loop.RunUntilIdle(); !s.ok()) return s;
    progress.Tick(trips, /*force=*/true);
    std::printf("\n");
    if (stalled) return absl::DeadlineExceededError("the workload stalled (no progress for 10 s)");
    return error;
  }
};

// PingPong: A sends a message, B echoes it, A receives it: one round trip, again
// and again until the budget is spent. Pipes use read/write on two pipes; socket
// pairs use send/recv on one connected pair.
absl::Status PingPong(Run& run, bool sockets) {
  Loop& loop = run.loop;
  int a_out, a_in, b_in, b_out;
  if (sockets) {
    int s[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s) != 0) {
      return absl::ErrnoToStatus(errno, "socketpair");
    }
    a_out = a_in = s[0];
    b_in = b_out = s[1];
  } else {
    int ab[2], ba[2];
    if (::pipe2(ab, O_CLOEXEC) != 0 || ::pipe2(ba, O_CLOEXEC) != 0) {
      return absl::ErrnoToStatus(errno, "pipe2");
    }
    a_out = ab[1];
    b_in = ab[0];
    b_out = ba[1];
    a_in = ba[0];
  }
  auto read_op = [sockets](int fd, char* buf) -> Op {
    return sockets ? Op(Recv{fd, buf, kMessage}) : Op(Read{fd, buf, kMessage});
  };
  auto write_op = [sockets](int fd, const char* buf, uint32_t n) -> Op {
    return sockets ? Op(Send{fd, buf, n}) : Op(Write{fd, buf, n});
  };
  char message[kMessage];
  for (uint32_t i = 0; i < kMessage; ++i) message[i] = char('a' + i % 26);
  char a_buf[kMessage], b_buf[kMessage];
  bool a_done = false;
  std::function<void()> b_echo = [&] {
    loop.Submit(read_op(b_in, b_buf), [&](const Event& e) {
      run.Note(e);
      if (e.res <= 0) return;  // cancelled by the close at the end
      loop.Submit(write_op(b_out, b_buf, uint32_t(e.res)), run.Check());
      b_echo();
    });
  };
  std::function<void()> a_round = [&] {
    loop.Submit(write_op(a_out, message, kMessage), run.Check());
    loop.Submit(read_op(a_in, a_buf), [&](const Event& e) {
      run.Note(e);
      if (e.res != int(kMessage)) {
        a_done = true;
        return;
      }
      ++run.trips;
      if (run.time_up) {
        a_done = true;
        return;
      }
      a_round();
    });
  };
  b_echo();
  a_round();
  absl::Status status = run.Drive([&] {
    if (!a_done) return false;
    // Close ends B's parked read (-ECANCELED) before each fd is closed.
    std::vector<int> fds = {a_out, b_in};
    if (!sockets) fds = {a_out, a_in, b_in, b_out};
    for (int fd : fds) loop.Close(fd, run.Check());
    return true;
  });
  return status;
}

// TcpEcho: `clients` loopback TCP connections, each sending a message and waiting
// for its echo, over and over; the server side (multishot accept, recv, send) runs
// in the same loop. Callbacks hold Conn pointers: deque elements never move.
class TcpEcho {
 public:
  TcpEcho(Run& run, int clients) : run_(run), loop_(run.loop), clients_(clients) {
    for (uint32_t i = 0; i < kMessage; ++i) message_[i] = char('A' + i % 26);
  }

  absl::Status Go() {
    if (absl::Status s = Listen(); !s.ok()) return s;
    loop_.Submit(Accept{.fd = listen_fd_, .multishot = true}, [this](const Event& e) {
      if (!e.more) {
        accept_ended_ = true;
        run_.Note(e);
      } else if (e.res >= 0) {
        servers_.emplace_back().fd = e.res;
        Serve(&servers_.back());
      }
    });
    clients_conns_.resize(size_t(clients_));
    for (Conn& c : clients_conns_) {
      c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (c.fd < 0) return absl::ErrnoToStatus(errno, "socket");
      loop_.Submit(Connect{c.fd, reinterpret_cast<sockaddr*>(&addr_), sizeof(addr_)},
                   [this, conn = &c](const Event& e) {
                     run_.Note(e);
                     e.res == 0 ? Round(conn) : Finish(conn);
                   });
    }
    bool closing = false;
    return run_.Drive([&] {
      if (finished_ < clients_) return false;
      if (!closing) {
        closing = true;
        loop_.Close(listen_fd_, run_.Check());  // ends the multishot accept first
      }
      return accept_ended_;
    });
  }

 private:
  struct Conn {
    int fd = -1;
    char buf[kMessage];
    uint32_t got = 0;
  };

  absl::Status Listen() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    addr_.sin_family = AF_INET;
    addr_.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr_);
    if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr_), len) != 0 ||
        ::listen(listen_fd_, 1024) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr_), &len) != 0) {
      return absl::ErrnoToStatus(errno, "listen on 127.0.0.1");
    }
    return absl::OkStatus();
  }

  // Serve: the server side of one connection: recv, send it back, again.
  void Serve(Conn* c) {
    loop_.Submit(Recv{c->fd, c->buf, kMessage}, [this, c](const Event& e) {
      run_.Note(e);
      if (e.res <= 0) {  // the client closed (or an error): close our side
        loop_.Close(c->fd, run_.Check());
        return;
      }
      loop_.Submit(Send{c->fd, c->buf, uint32_t(e.res)}, [this, c](const Event& s) {
        run_.Note(s);
        if (s.res >= 0) Serve(c);
      });
    });
  }

  // Round: a client sends one message and waits for all of it to come back.
  void Round(Conn* c) {
    loop_.Submit(Send{c->fd, message_, kMessage}, run_.Check());
    c->got = 0;
    Receive(c);
  }

  void Receive(Conn* c) {
    loop_.Submit(Recv{c->fd, c->buf + c->got, kMessage - c->got}, [this, c](const Event& e) {
      run_.Note(e);
      if (e.res <= 0) return Finish(c);  // the server went away
      c->got += uint32_t(e.res);
      if (c->got < kMessage) return Receive(c);
      ++run_.trips;
      if (!run_.time_up) return Round(c);
      Finish(c);
    });
  }

  void Finish(Conn* c) {
    ++finished_;
    loop_.Close(c->fd, run_.Check());
  }

  Run& run_;
  Loop& loop_;
  const int clients_;
  char message_[kMessage];
  int listen_fd_ = -1;
  sockaddr_in addr_{};
  std::deque<Conn> servers_;
  std::deque<Conn> clients_conns_;
  int finished_ = 0;
  bool accept_ended_ = false;
};

// Row: one driver's figures (round trips per second per workload).
struct Row {
  std::string label;
  std::optional<double> per_second[kWorkloads];
};

// RunDriver: every workload on a fresh Loop built with `choice`.
Row RunDriver(DriverChoice choice, const std::string& label, double seconds, int clients) {
  Row row{label, {}};
  LoopOptions options;
  options.driver = choice;
  options.log_driver_choice = false;
  auto loop = Loop::Create(options);
  if (!loop.ok()) {
    std::printf("  %s: cannot run here: %s\n", label.c_str(),
                std::string(loop.status().message()).c_str());
    return row;
  }
  for (int w = 0; w < kWorkloads; ++w) {
    const uint64_t start = (*loop)->NowNs();
    Run run(**loop,
            absl::StrCat("[", std::string((*loop)->driver_name()), "] ", kWorkloadNames[w],
                         w == 2 ? absl::StrCat(" (", clients, " conns)") : std::string()),
            start + uint64_t(seconds * 1e9));
    const absl::Status status = w == 0   ? PingPong(run, /*sockets=*/false)
                                : w == 1 ? PingPong(run, /*sockets=*/true)
                                         : TcpEcho(run, clients).Go();
    const double elapsed = double((*loop)->NowNs() - start) / 1e9;
    if (!status.ok()) {
      std::printf("  %s failed: %s\n", kWorkloadNames[w], std::string(status.message()).c_str());
      continue;
    }
    row.per_second[w] = double(run.trips) / elapsed;
  }
  return row;
}

std::string Cell(const std::optional<double>& v) {
  return v ? absl::StrCat(Progress::Group(uint64_t(*v)), "/s") : std::string("n/a");
}

void PrintTable(const std::vector<Row>& rows, const Row* uring, const Row* epoll) {
  std::printf("\n  %-14s", "driver");
  for (const char* name : kWorkloadNames) std::printf(" %22s", name);
  std::printf("\n");
  for (const Row& row : rows) {
    std::printf("  %-14s", row.label.c_str());
    for (const auto& v : row.per_second) std::printf(" %22s", Cell(v).c_str());
    std::printf("\n");
  }
  if (uring == nullptr || epoll == nullptr) return;
  std::printf("  %-14s", "uring/epoll");
  for (int w = 0; w < kWorkloads; ++w) {
    const auto& u = uring->per_second[w];
    const auto& e = epoll->per_second[w];
    std::printf(" %22s", u && e ? absl::StrFormat("%.2fx", *u / *e).c_str() : "n/a");
  }
  std::printf(
      "\n  (round trips per second: a 64-byte message there and back, 4 I/O ops;\n"
      "   both drivers measured in this same run, on this machine)\n");
}

// Simulate: runs the simulator for `seconds`, if it can be found.
void Simulate(double seconds, std::string path) {
  if (seconds <= 0) return;
  if (path.empty()) {
    char self[PATH_MAX];
    const ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) {
      self[n] = '\0';
      std::string dir(self);
      path = dir.substr(0, dir.rfind('/') + 1) + "simulate";
    }
  }
  std::printf(
      "\nThen the simulated kernel: random programs of ops, cancels, closes and faults,\n"
      "every racy interleaving checked against the core's guarantees (%.0f s):\n",
      seconds);
  if (path.empty() || ::access(path.c_str(), X_OK) != 0) {
    std::printf(
        "  (the simulator is not built next to the demo: run "
        "`bazel run //tools:simulate -- --seconds=%.0f`)\n",
        seconds);
    return;
  }
  std::fflush(stdout);
  const std::string arg = absl::StrCat("--seconds=", seconds);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::execl(path.c_str(), path.c_str(), arg.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::printf("  simulator exited with status %d\n",
                WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  }
}

int Main() {
  const double seconds = absl::GetFlag(FLAGS_seconds);
  const int clients = absl::GetFlag(FLAGS_clients);
  std::printf("ringloop demo: real workloads through the Loop on each driver\n\n");
  std::string auto_name;
  {
    LoopOptions options;
    options.log_driver_choice = false;
    auto loop = Loop::Create(options);
    if (!loop.ok()) {
      std::printf("no driver can run here: %s\n", std::string(loop.status().message()).c_str());
      return 1;
    }
    auto_name = std::string((*loop)->driver_name());
    std::printf("Automatic choice: %s (%s)\n\n", auto_name.c_str(),
                (*loop)->driver_reason().c_str());
  }
  std::vector<Row> rows;
  rows.push_back(RunDriver(DriverChoice::kAuto, "auto=" + auto_name, seconds, clients));
  std::printf("\nEach driver forced:\n");
  rows.push_back(RunDriver(DriverChoice::kUring, "uring", seconds, clients));
  rows.push_back(RunDriver(DriverChoice::kEpoll, "epoll", seconds, clients));
  PrintTable(rows, &rows[1], &rows[2]);
  Simulate(absl::GetFlag(FLAGS_sim_seconds), absl::GetFlag(FLAGS_simulator));
  return 0;
}

}  // namespace
}  // namespace ringloop::demo

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return ringloop::demo::Main();
}
