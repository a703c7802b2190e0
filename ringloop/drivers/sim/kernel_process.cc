// ringloop/drivers/sim/kernel_process.cc: processes exiting as a whole, and the network
// cut between processes and healed.
#include <algorithm>
#include <utility>

#include "ringloop/core/check.h"
#include "ringloop/drivers/sim/kernel.h"

namespace ringloop::sim {
namespace {

std::pair<uint32_t, uint32_t> Ordered(uint32_t a, uint32_t b) {
  return a < b ? std::pair{a, b} : std::pair{b, a};
}

}  // namespace

uint32_t Kernel::FdProcess(int fd) const {
  if (fd < 0 || size_t(fd) >= fds_.size() || fds_[fd] == kNoFile) return 0;
  return fd_process_[fd];
}

bool Kernel::Exited(int fd) const {
  return fd >= 0 && size_t(fd) < fds_.size() && fds_[fd] == kExitedFile;
}

std::vector<int> Kernel::ExitProcess(uint32_t process) {
  std::vector<int> exited;
  for (size_t fd = 3; fd < fds_.size(); ++fd) {
    const uint32_t file = fds_[fd];
    if (file == kNoFile || file == kExitedFile || fd_process_[fd] != process) continue;
    // The number stays taken (not in free_fds_) until CloseFd frees it.
    fds_[fd] = kExitedFile;
    Unref(file);
    exited.push_back(int(fd));
  }
  return exited;
}

void Kernel::Cut(uint32_t a, uint32_t b) {
  if (a == b) return;
  cuts_.insert(Ordered(a, b));
}

void Kernel::Heal() {
  cuts_.clear();
  std::vector<Segment> held;
  held.swap(held_);
  for (Segment& seg : held) {
    // Send counts a data segment's bytes as in flight again: they still are.
    if (seg.kind == Segment::Kind::kData && seg.from != kNoFile) {
      Socket& from = sockets_[seg.from];
      from.in_flight -= std::min<uint32_t>(from.in_flight, uint32_t(seg.data.size()));
    }
    Send(std::move(seg));
  }
}

bool Kernel::Crosses(const Segment& seg) const {
  uint32_t to = 0;
  if (seg.kind == Segment::Kind::kSyn) {
    auto it = ports_.find(seg.port);
    if (it == ports_.end()) return false;  // refused at once, as with no listener
    to = sockets_[it->second].process;
  } else {
    RL_CHECK(seg.to != kNoFile);
    to = sockets_[seg.to].process;
  }
  const uint32_t from = seg.from != kNoFile ? sockets_[seg.from].process : to;
  return from != to && cuts_.contains(Ordered(from, to));
}

}  // namespace ringloop::sim
