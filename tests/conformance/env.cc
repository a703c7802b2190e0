// tests/conformance/env.cc: RealEnv (uring, epoll: real syscalls) and SimEnv
// (the simulated kernel's API), and the watchdog that bounds a real Poll(wait).
#include "tests/conformance/env.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ringloop/drivers/epoll/epoll_driver.h"
#include "ringloop/drivers/sim/sim_driver.h"
#include "ringloop/drivers/uring/uring_driver.h"

namespace ringloop::conformance {
namespace {

// kWatchdog: the longest a real Poll(wait) may block before the watchdog wakes
// it. Every scenario's events come within milliseconds; this only turns a lost
// event into a failure instead of a hang.
constexpr std::chrono::milliseconds kWatchdog(1000);

std::atomic<uint64_t> sigpipes{0};

void CountSigpipe(int) { sigpipes.fetch_add(1, std::memory_order_relaxed); }

// InstallSigpipeCounter: a write to a pipe without a reader raises SIGPIPE on
// Linux whatever the driver; the battery counts SIGPIPEs (so it can check that
// sends do not raise one) instead of dying of them.
void InstallSigpipeCounter() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_handler = CountSigpipe;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGPIPE, &sa, nullptr);
  });
}

sockaddr_in Loopback(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  return a;
}

// Watchdog: a thread that wakes the driver when a guarded Poll blocks too long.
class Watchdog {
 public:
  explicit Watchdog(Driver& driver) : driver_(driver), thread_([this] { Run(); }) {}

  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  // Arm: a guarded Poll begins.
  void Arm() {
    std::lock_guard<std::mutex> lock(mu_);
    armed_ = true;
    fired_ = false;
    ++epoch_;
    cv_.notify_all();
  }

  // Disarm: the guarded Poll ended; whether the watchdog had to wake it. After
  // this returns no Wake() from the watchdog is in progress.
  bool Disarm() {
    std::lock_guard<std::mutex> lock(mu_);
    armed_ = false;
    cv_.notify_all();
    return fired_;
  }

 private:
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      if (!armed_) {
        cv_.wait(lock);
        continue;
      }
      const uint64_t epoch = epoch_;
      auto over = [&] { return stop_ || !armed_ || epoch_ != epoch; };
      if (cv_.wait_for(lock, kWatchdog, over)) continue;
      fired_ = true;
      driver_.Wake();  // under the lock: Disarm waits for it to return
      cv_.wait(lock, over);
    }
  }

  Driver& driver_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool armed_ = false;
  bool fired_ = false;
  uint64_t epoch_ = 0;
  std::thread thread_;  // last: starts once the members above exist
};

// RealEnv: the uring or epoll driver on this machine's kernel.
class RealEnv final : public Env {
 public:
  explicit RealEnv(std::unique_ptr<Driver> driver)
      : driver_(std::move(driver)), watchdog_(std::make_unique<Watchdog>(*driver_)) {}

  ~RealEnv() override {
    watchdog_.reset();
    driver_.reset();  // before the fds: the uring driver drains its SQEs first
    for (int fd : owned_) close(fd);
    if (!temp_dir_.empty()) {
      nftw(
          temp_dir_.c_str(),
          [](const char* path, const struct stat*, int, FTW*) { return remove(path); }, 16,
          FTW_DEPTH | FTW_PHYS);
    }
  }

  Driver& driver() override { return *driver_; }
  bool simulated() const override { return false; }

  bool Poll(Engine& engine, bool wait, absl::Status* status) override {
    if (!wait) {
      *status = driver_->Poll(engine, false);
      return false;
    }
    watchdog_->Arm();
    *status = driver_->Poll(engine, true);
    return watchdog_->Disarm();
  }

  FdPair Pipe() override {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return {-errno, -errno};
    return {Own(fds[0]), Own(fds[1])};
  }

  FdPair SmallPipe() override {
    FdPair p = Pipe();
    if (p.first >= 0) fcntl(p.second, F_SETPIPE_SZ, 4096);  // rounded up to a page
    return p;
  }

  FdPair SocketPair() override {
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return {-errno, -errno};
    return {Own(fds[0]), Own(fds[1])};
  }

  int Listener(sockaddr_in* addr) override {
    const int fd = BoundSocket(addr);
    if (fd < 0) return fd;
    if (listen(fd, 128) != 0) return -errno;
    return fd;
  }

  sockaddr_in RefusedAddress() override {
    // A bound socket that does not listen: its port is ours, and a SYN to it
    // gets a RST (ECONNREFUSED).
    sockaddr_in addr = Loopback(0);
    BoundSocket(&addr);
    return addr;
  }

  std::string TempDir() override {
    if (temp_dir_.empty()) {
      const char* base = getenv("TEST_TMPDIR");
      std::string tmpl = absl::StrCat(base != nullptr ? base : "/tmp", "/conformance.XXXXXX");
      if (mkdtemp(tmpl.data()) != nullptr) temp_dir_ = tmpl;
    }
    return temp_dir_;
  }

  int OpenFile(const std::string& path, int flags, mode_t mode) override {
    const int fd = open(path.c_str(), flags | O_CLOEXEC, mode);
    return fd < 0 ? -errno : Own(fd);
  }

  int PeerConnect(const sockaddr_in& addr) override {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    Own(fd);
    // On loopback a blocking connect returns once the handshake is done and the
    // connection waits in the listener's accept queue.
    if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) return -errno;
    return fd;
  }

  int64_t PeerWrite(int fd, std::string_view data) override {
    size_t done = 0;
    while (done < data.size()) {
      const ssize_t n = write(fd, data.data() + done, data.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return -errno;
      done += size_t(n);
    }
    return int64_t(done);
  }

  int64_t PeerRead(int fd, std::string* out, uint32_t max) override {
    pollfd p{fd, POLLIN, 0};
    const int ready = poll(&p, 1, 0);
    if (ready < 0) return -errno;
    if (ready == 0) return -EAGAIN;
    std::string buf(max, '\0');
    const ssize_t n = read(fd, buf.data(), max);
    if (n < 0) return -errno;
    out->append(buf.data(), size_t(n));
    return n;
  }

  int PeerClose(int fd) override {
    Forget(fd);
    return close(fd) == 0 ? 0 : -errno;
  }

  int PeerReset(int fd) override {
    const linger l{1, 0};
    if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)) != 0) return -errno;
    return PeerClose(fd);
  }

  int64_t FillPipe(int fd) override {
    const int flags = fcntl(fd, F_GETFL);
    if (flags < 0) return -errno;
    fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    const std::string chunk(4096, 'f');
    int64_t total = 0;
    for (;;) {
      const ssize_t n = write(fd, chunk.data(), chunk.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      total += n;
    }
    fcntl(fd, F_SETFL, flags);
    return total;
  }

  int RenumberFd(int from, int to) override {
    if (from == to) return 0;
    if (fcntl(to, F_GETFD) != -1 || errno != EBADF) return -EBUSY;  // `to` is not free
    if (dup3(from, to, O_CLOEXEC) < 0) return -errno;
    close(from);
    std::replace(owned_.begin(), owned_.end(), from, to);
    return 0;
  }

  void Forget(int fd) override {
    owned_.erase(std::remove(owned_.begin(), owned_.end(), fd), owned_.end());
  }
  void Adopt(int fd) override {
    if (fd >= 0) Own(fd);
  }

 private:
  int Own(int fd) {
    owned_.push_back(fd);
    return fd;
  }

  // BoundSocket: a TCP socket bound to loopback on an ephemeral port.
  int BoundSocket(sockaddr_in* addr) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    Own(fd);
    sockaddr_in a = Loopback(0);
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) return -errno;
    socklen_t len = sizeof(a);
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) return -errno;
    *addr = a;
    return fd;
  }

  std::unique_ptr<Driver> driver_;
  std::unique_ptr<Watchdog> watchdog_;
  std::vector<int> owned_;
  std::string temp_dir_;
};

// SimEnv: the simulated kernel; every object lives in it.
class SimEnv final : public Env {
 public:
  explicit SimEnv(sim::SimOptions options) : sim_(options) {}

  Driver& driver() override { return sim_; }
  bool simulated() const override { return true; }

  bool Poll(Engine& engine, bool wait, absl::Status* status) override {
    *status = sim_.Poll(engine, wait);
    return false;
  }

  FdPair Pipe() override {
    const auto [r, w] = sim_.Pipe();
    return {r, w};
  }
  FdPair SmallPipe() override {
    const auto [r, w] = sim_.Pipe(4096);
    return {r, w};
  }
  FdPair SocketPair() override {
    const auto [a, b] = sim_.SocketPair();
    return {a, b};
  }

  int Listener(sockaddr_in* addr) override {
    const uint16_t port = next_port_++;
    const int fd = sim_.Listen(port);
    *addr = Loopback(port);
    return fd;
  }

  sockaddr_in RefusedAddress() override { return Loopback(kRefusedPort); }
  std::string TempDir() override { return ""; }

  int OpenFile(const std::string& path, int flags, mode_t mode) override {
    return sim_.Open(path, flags, mode);
  }

  int PeerConnect(const sockaddr_in& addr) override {
    const int fd = sim_.ConnectTo(ntohs(addr.sin_port));
    // The peer waits for its handshake: SYN there, SYN-ACK back.
    if (fd >= 0) sim_.AdvanceClock(3 * sim_.options().latency_ns);
    return fd;
  }

  int64_t PeerWrite(int fd, std::string_view data) override { return sim_.WriteFd(fd, data); }
  int64_t PeerRead(int fd, std::string* out, uint32_t max) override {
    return sim_.ReadFd(fd, out, max);
  }
  int PeerClose(int fd) override { return sim_.CloseFd(fd); }
  int PeerReset(int fd) override { return sim_.ResetFd(fd); }

  int64_t FillPipe(int fd) override {
    const std::string chunk(4096, 'f');
    int64_t total = 0;
    for (int64_t n; (n = sim_.WriteFd(fd, chunk)) > 0;) total += n;
    return total;
  }

  int RenumberFd(int from, int to) override { return from == to ? 0 : -EINVAL; }
  void Forget(int) override {}
  void Adopt(int) override {}

 private:
  static constexpr uint16_t kRefusedPort = 9;
  sim::SimDriver sim_;
  uint16_t next_port_ = 7000;
};

}  // namespace

std::string ParamName(const EnvParam& param) {
  switch (param.kind) {
    case DriverKind::kUring:
      return param.sqpoll ? "uring_sqpoll" : "uring";
    case DriverKind::kEpoll:
      return "epoll";
    case DriverKind::kSim:
      return absl::StrCat("sim_", param.invisible_faults ? "faults_" : "", "seed", param.seed);
  }
  return "unknown";
}

uint64_t Env::SigpipeCount() { return sigpipes.load(std::memory_order_relaxed); }

absl::StatusOr<std::unique_ptr<Env>> Env::Create(const EnvParam& param) {
  InstallSigpipeCounter();
  switch (param.kind) {
    case DriverKind::kUring: {
      UringDriver::Options options;
      options.sqpoll = param.sqpoll;
      absl::StatusOr<std::unique_ptr<UringDriver>> d = UringDriver::Create(options);
      if (!d.ok()) {
        // An option this kernel or privilege level refuses (SQPOLL) is
        // kFailedPrecondition: as unusable here as io_uring itself.
        if (absl::IsUnavailable(d.status()) || absl::IsPermissionDenied(d.status()) ||
            (param.sqpoll && absl::IsFailedPrecondition(d.status()))) {
          return absl::UnavailableError(
              absl::StrCat("io_uring unusable here: ", d.status().message()));
        }
        return d.status();
      }
      return std::make_unique<RealEnv>(*std::move(d));
    }
    case DriverKind::kEpoll: {
      absl::StatusOr<std::unique_ptr<EpollDriver>> d = EpollDriver::Create();
      if (!d.ok()) return d.status();
      return std::make_unique<RealEnv>(*std::move(d));
    }
    case DriverKind::kSim: {
      sim::SimOptions options;
      options.seed = param.seed;
      if (param.invisible_faults) {
        for (sim::Fault f : {sim::Fault::kEintr, sim::Fault::kCqOverflow, sim::Fault::kSubmitBusy,
                             sim::Fault::kDuplicateCqe}) {
          options.faults[f] = 30;
        }
      }
      return std::make_unique<SimEnv>(options);
    }
  }
  return absl::InvalidArgumentError("unknown driver kind");
}

}  // namespace ringloop::conformance
