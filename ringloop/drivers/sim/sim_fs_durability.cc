// ringloop/drivers/sim/sim_fs_durability.cc: file data in the page cache, fsync, and
// what a crash loses.
#include <cstring>

#include "ringloop/drivers/sim/sim_fs.h"

namespace ringloop::sim {
namespace {

// Apply: one change to `data`.
void Apply(std::string& data, const UnsyncedWrite& w) {
  if (w.truncate) {
    data.clear();
    return;
  }
  if (w.offset + w.data.size() > data.size()) data.resize(w.offset + w.data.size());
  if (!w.data.empty()) std::memcpy(data.data() + w.offset, w.data.data(), w.data.size());
}

}  // namespace

void FileSystem::Write(uint32_t inode, uint64_t offset, const void* buf, uint32_t len) {
  Inode& n = inodes_[inode];
  UnsyncedWrite w;
  w.process = current_process_;
  w.offset = offset;
  w.data.assign(static_cast<const char*>(buf), len);
  Apply(n.data, w);
  if (len > 0) n.unsynced.push_back(std::move(w));
}

void FileSystem::Truncate(uint32_t inode) {
  Inode& n = inodes_[inode];
  UnsyncedWrite w;
  w.process = current_process_;
  w.truncate = true;
  Apply(n.data, w);
  n.unsynced.push_back(std::move(w));
}

void FileSystem::Sync(uint32_t inode) {
  Inode& n = inodes_[inode];
  if (n.dir) return;
  n.durable = n.data;
  n.unsynced.clear();
}

uint64_t FileSystem::Crash(uint32_t process, const std::function<uint32_t(uint32_t n)>& keep) {
  uint64_t lost = 0;
  for (Inode& n : inodes_) {
    uint32_t mine = 0;
    for (const UnsyncedWrite& w : n.unsynced) mine += w.process == process ? 1 : 0;
    if (mine == 0) continue;
    const uint32_t kept = keep(mine);
    // Rebuild from the durable data: every other process's writes, and the
    // crashed one's first `kept`, in the order they were made.
    std::vector<UnsyncedWrite> survivors;
    uint32_t seen = 0;
    for (UnsyncedWrite& w : n.unsynced) {
      if (w.process == process && seen++ >= kept) continue;
      survivors.push_back(std::move(w));
    }
    lost += mine - kept;
    n.data = n.durable;
    for (const UnsyncedWrite& w : survivors) Apply(n.data, w);
    n.unsynced = std::move(survivors);
  }
  return lost;
}

uint64_t FileSystem::UnsyncedBytes() const {
  uint64_t total = 0;
  for (const Inode& n : inodes_) {
    for (const UnsyncedWrite& w : n.unsynced) total += w.data.size();
  }
  return total;
}

}  // namespace ringloop::sim
