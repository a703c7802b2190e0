// ringloop/drivers/sim/sim_fs.h: the simulated machine's file system, in memory.
//
// FileSystem is a tree of inodes (regular files holding bytes, directories
// holding names) with just enough POSIX path semantics for openat, statx,
// unlinkat, mkdirat and renameat2: lookups relative to a directory inode,
// ENOENT/ENOTDIR/EEXIST/EISDIR/ENOTEMPTY where Linux gives them. Inodes are
// never reused (an unlinked file lives on, nameless, while it is open).
//
// Durability: file data lives in a page cache. Writes change a file at once
// (every reader sees them) and are remembered, with the process that made
// them, until fsync(2) of the file (Sync) makes its data durable. When a
// process crashes (Crash), the writes it made since its file's last fsync are
// lost, except for a prefix of them that the crash leaves (as writeback may
// have flushed some already). Names (create, unlink, rename, mkdir) are
// durable at once: only file data is modelled.
//
// Who calls it: the simulated kernel (ringloop/drivers/sim/kernel.h), from one thread.
#ifndef RINGLOOP_DRIVERS_SIM_SIM_FS_H_
#define RINGLOOP_DRIVERS_SIM_SIM_FS_H_

#include <fcntl.h>
#include <sys/stat.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace ringloop::sim {

// kRootInode: the root directory, which is also AT_FDCWD's directory.
inline constexpr uint32_t kRootInode = 0;
inline constexpr uint32_t kNoInode = ~0u;

// UnsyncedWrite: a change to a file's data not yet made durable by fsync.
struct UnsyncedWrite {
  uint32_t process = 0;
  bool truncate = false;  // O_TRUNC: the data became empty
  uint64_t offset = 0;
  std::string data;
};

// Inode: a file or a directory.
struct Inode {
  bool dir = false;
  uint32_t parent = kRootInode;  // directories only
  uint32_t nlink = 1;
  mode_t mode = 0644;
  std::string data;                       // regular files: what readers see
  std::string durable;                    // regular files: the data as of the last fsync
  std::vector<UnsyncedWrite> unsynced;    // changes since, in order
  std::map<std::string, uint32_t> names;  // directories: name -> inode
};

// FileSystem: the tree.
class FileSystem {
 public:
  FileSystem();

  // Open: openat(2) relative to directory `base`: the inode opened, or a
  // negative errno. Honours O_CREAT, O_EXCL, O_TRUNC, O_DIRECTORY and the
  // access mode (writing a directory is EISDIR).
  int64_t Open(uint32_t base, std::string_view path, int flags, mode_t mode);

  // Stat: statx(2) of `path` relative to `base` (AT_EMPTY_PATH with an empty
  // path stats `base` itself) into `out`; 0 or a negative errno.
  int Stat(uint32_t base, std::string_view path, int flags, struct statx* out) const;
  // StatInode: statx of an inode already known.
  void StatInode(uint32_t inode, struct statx* out) const;

  // Unlink: unlinkat(2) (AT_REMOVEDIR removes an empty directory).
  int Unlink(uint32_t base, std::string_view path, int flags);
  // Mkdir: mkdirat(2).
  int Mkdir(uint32_t base, std::string_view path, mode_t mode);
  // Rename: renameat2(2) with flags 0 or RENAME_NOREPLACE.
  int Rename(uint32_t old_base, std::string_view old_path, uint32_t new_base,
             std::string_view new_path, uint32_t flags);

  // --- Data and durability (sim_fs_durability.cc) ---------------------------
  // set_current_process: the process later writes are attributed to.
  void set_current_process(uint32_t process) { current_process_ = process; }
  // Write: writes `len` bytes at `offset` of regular file `inode` (extending
  // it), remembered until Sync.
  void Write(uint32_t inode, uint64_t offset, const void* buf, uint32_t len);
  // Truncate: empties regular file `inode` (O_TRUNC), remembered until Sync.
  void Truncate(uint32_t inode);
  // Sync: fsync(2): the file's data as it is now is durable.
  void Sync(uint32_t inode);
  // Crash: `process` crashed: in every file, of the writes it made since the
  // last Sync, only the first keep(n) survive (n: how many it made; keep
  // returns 0..n); the others' writes stay. Returns how many writes were lost.
  uint64_t Crash(uint32_t process, const std::function<uint32_t(uint32_t n)>& keep);
  // UnsyncedBytes: bytes written and not yet durable, over every file.
  uint64_t UnsyncedBytes() const;

  Inode& inode(uint32_t i) { return inodes_[i]; }
  const Inode& inode(uint32_t i) const { return inodes_[i]; }

 private:
  // Walk: the directory that holds the last component of `path` and that
  // component's name; or a negative errno in `*err`.
  uint32_t Walk(uint32_t base, std::string_view path, std::string* name, int* err) const;
  uint32_t Child(uint32_t dir, const std::string& name) const;
  uint32_t NewInode(bool dir, uint32_t parent, mode_t mode);

  std::vector<Inode> inodes_;
  uint32_t current_process_ = 0;
};

}  // namespace ringloop::sim

#endif  // RINGLOOP_DRIVERS_SIM_SIM_FS_H_
