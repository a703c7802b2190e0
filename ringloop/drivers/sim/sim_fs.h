// ringloop/drivers/sim/sim_fs.h: the simulated machine's file system, in memory.
//
// FileSystem is a tree of inodes (regular files holding bytes, directories
// holding names) with just enough POSIX path semantics for openat, statx,
// unlinkat, mkdirat and renameat2: lookups relative to a directory inode,
// ENOENT/ENOTDIR/EEXIST/EISDIR/ENOTEMPTY where Linux gives them. Inodes are
// never reused (an unlinked file lives on, nameless, while it is open).
//
// Who calls it: the simulated kernel (ringloop/drivers/sim/kernel.h), from one thread.
#ifndef RINGLOOP_DRIVERS_SIM_SIM_FS_H_
#define RINGLOOP_DRIVERS_SIM_SIM_FS_H_

#include <fcntl.h>
#include <sys/stat.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace ringloop::sim {

// kRootInode: the root directory, which is also AT_FDCWD's directory.
inline constexpr uint32_t kRootInode = 0;
inline constexpr uint32_t kNoInode = ~0u;

// Inode: a file or a directory.
struct Inode {
  bool dir = false;
  uint32_t parent = kRootInode;  // directories only
  uint32_t nlink = 1;
  mode_t mode = 0644;
  std::string data;                       // regular files
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

  Inode& inode(uint32_t i) { return inodes_[i]; }
  const Inode& inode(uint32_t i) const { return inodes_[i]; }

 private:
  // Walk: the directory that holds the last component of `path` and that
  // component's name; or a negative errno in `*err`.
  uint32_t Walk(uint32_t base, std::string_view path, std::string* name, int* err) const;
  uint32_t Child(uint32_t dir, const std::string& name) const;
  uint32_t NewInode(bool dir, uint32_t parent, mode_t mode);

  std::vector<Inode> inodes_;
};

}  // namespace ringloop::sim

#endif  // RINGLOOP_DRIVERS_SIM_SIM_FS_H_
