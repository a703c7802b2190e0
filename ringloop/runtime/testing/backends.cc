// ringloop/runtime/testing/backends.cc: Loops on each backend, and a peer's fd calls.
#include "ringloop/runtime/testing/backends.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace ringloop::testing {

std::vector<Backend> Backends(int sim_seeds) {
  std::vector<Backend> out = {{"uring"}, {"epoll"}};
  for (int seed = 1; seed <= sim_seeds; ++seed) {
    out.push_back({absl::StrCat("sim_seed", seed), uint64_t(seed)});
  }
  return out;
}

void PrintTo(const Backend& backend, std::ostream* os) { *os << backend.name; }

std::string BackendName(const ::testing::TestParamInfo<Backend>& info) { return info.param.name; }

LoopOptions MakeLoopOptions(const Backend& backend, sim::SimDriver** sim) {
  LoopOptions options;
  options.log_driver_choice = false;
  if (backend.name == "uring") {
    options.driver = DriverChoice::kUring;
  } else if (backend.name == "epoll") {
    options.driver = DriverChoice::kEpoll;
  } else {
    // The simulated kernel, through the driver factory seam.
    options.driver = DriverChoice::kEpoll;
    options.factories.epoll = [sim,
                               seed = backend.seed]() -> absl::StatusOr<std::unique_ptr<Driver>> {
      sim::SimOptions sim_options;
      sim_options.seed = seed;
      auto driver = std::make_unique<sim::SimDriver>(sim_options);
      *sim = driver.get();
      return std::unique_ptr<Driver>(std::move(driver));
    };
  }
  return options;
}

void BackendTest::SetUp() {
  auto loop = Loop::Create(MakeLoopOptions(GetParam(), &sim_));
  if (!loop.ok() && GetParam().name == "uring") {
    GTEST_SKIP() << "io_uring unavailable: " << loop.status();
  }
  ASSERT_TRUE(loop.ok()) << loop.status();
  loop_ = std::move(*loop);
}

void BackendTest::TearDown() {
  loop_.reset();
  if (sim_ == nullptr) {
    for (int fd : owned_) ::close(fd);
  }
  owned_.clear();
}

std::pair<int, int> BackendTest::Pipe() {
  std::pair<int, int> fds;
  if (sim_ != nullptr) {
    fds = sim_->Pipe();
  } else {
    int p[2];
    EXPECT_EQ(::pipe2(p, O_CLOEXEC), 0);
    fds = {p[0], p[1]};
  }
  owned_.push_back(fds.first);
  owned_.push_back(fds.second);
  return fds;
}

std::pair<int, int> BackendTest::SocketPair() {
  std::pair<int, int> fds;
  if (sim_ != nullptr) {
    fds = sim_->SocketPair();
  } else {
    int s[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s), 0);
    fds = {s[0], s[1]};
  }
  owned_.push_back(fds.first);
  owned_.push_back(fds.second);
  return fds;
}

int BackendTest::Give(int fd) {
  const auto it = std::find(owned_.begin(), owned_.end(), fd);
  EXPECT_NE(it, owned_.end()) << "fd " << fd << " is not the fixture's";
  if (it != owned_.end()) owned_.erase(it);
  return fd;
}

void BackendTest::PeerWrite(int fd, const std::string& data) {
  if (sim_ != nullptr) {
    EXPECT_EQ(sim_->WriteFd(fd, data), int64_t(data.size()));
  } else {
    EXPECT_EQ(::write(fd, data.data(), data.size()), ssize_t(data.size()));
  }
}

std::string BackendTest::PeerRead(int fd) {
  std::string out;
  if (sim_ != nullptr) {
    while (sim_->ReadFd(fd, &out, 4096) > 0) {
    }
    return out;
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) out.append(buf, size_t(n));
  return out;
}

void BackendTest::PeerClose(int fd) {
  Give(fd);
  if (sim_ != nullptr) {
    EXPECT_EQ(sim_->CloseFd(fd), 0);
  } else {
    EXPECT_EQ(::close(fd), 0);
  }
}

std::string BackendTest::TempPath(const std::string& name) const {
  if (sim_ != nullptr) return absl::StrCat("/", name);
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(dir != nullptr ? dir : "/tmp", "/", GetParam().name, "_", name);
}

bool BackendTest::FdIsOpen(int fd) {
  if (sim_ != nullptr) return sim_->FdType(fd).has_value();
  return ::fcntl(fd, F_GETFD) >= 0;
}

void BackendTest::RunUntil(const std::function<bool()>& done, absl::Duration timeout) {
  const absl::Status status = loop_->RunUntil([&] { return done(); }, timeout);
  ASSERT_TRUE(status.ok()) << status;
}

void BackendTest::Settle(absl::Duration timeout) {
  // While RunUntil runs, its own timer is the one live op left.
  RunUntil([&] { return loop_->LiveOps() <= 1; }, timeout);
  ASSERT_EQ(loop_->LiveOps(), 0u) << "ops still live after " << timeout;
}

}  // namespace ringloop::testing
