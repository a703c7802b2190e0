// ringloop/drivers/sim/sim_fs.cc: path walking and the directory operations.
#include "ringloop/drivers/sim/sim_fs.h"

#include <linux/fs.h>

#include <cerrno>
#include <cstring>

namespace ringloop::sim {

FileSystem::FileSystem() { NewInode(/*dir=*/true, kRootInode, 0755); }

uint32_t FileSystem::NewInode(bool dir, uint32_t parent, mode_t mode) {
  Inode node;
  node.dir = dir;
  node.parent = parent;
  node.mode = mode & 07777;
  node.nlink = dir ? 2 : 1;
  inodes_.push_back(std::move(node));
  return static_cast<uint32_t>(inodes_.size() - 1);
}

uint32_t FileSystem::Child(uint32_t dir, const std::string& name) const {
  const Inode& d = inodes_[dir];
  if (name == ".") return dir;
  if (name == "..") return d.parent;
  auto it = d.names.find(name);
  return it == d.names.end() ? kNoInode : it->second;
}

uint32_t FileSystem::Walk(uint32_t base, std::string_view path, std::string* name, int* err) const {
  *err = 0;
  if (path.empty()) {
    *err = -ENOENT;
    return kNoInode;
  }
  uint32_t dir = path.front() == '/' ? kRootInode : base;
  if (!inodes_[dir].dir) {
    *err = -ENOTDIR;
    return kNoInode;
  }
  std::vector<std::string> parts;
  for (size_t at = 0; at < path.size();) {
    size_t end = path.find('/', at);
    if (end == std::string_view::npos) end = path.size();
    if (end > at) parts.emplace_back(path.substr(at, end - at));
    at = end + 1;
  }
  if (parts.empty()) parts.push_back(".");  // "/" names the root itself
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    const uint32_t next = Child(dir, parts[i]);
    if (next == kNoInode) {
      *err = -ENOENT;
      return kNoInode;
    }
    if (!inodes_[next].dir) {
      *err = -ENOTDIR;
      return kNoInode;
    }
    dir = next;
  }
  *name = parts.back();
  return dir;
}

int64_t FileSystem::Open(uint32_t base, std::string_view path, int flags, mode_t mode) {
  std::string name;
  int err = 0;
  const uint32_t dir = Walk(base, path, &name, &err);
  if (err != 0) return err;
  uint32_t node = Child(dir, name);
  const int access = flags & O_ACCMODE;
  if (node == kNoInode) {
    if ((flags & O_CREAT) == 0) return -ENOENT;
    if ((flags & O_DIRECTORY) != 0) return -EINVAL;
    node = NewInode(/*dir=*/false, dir, mode);
    inodes_[dir].names[name] = node;
    return node;
  }
  if ((flags & O_CREAT) != 0 && (flags & O_EXCL) != 0) return -EEXIST;
  Inode& n = inodes_[node];
  if ((flags & O_DIRECTORY) != 0 && !n.dir) return -ENOTDIR;
  if (n.dir && access != O_RDONLY) return -EISDIR;
  if (!n.dir && (flags & O_TRUNC) != 0 && access != O_RDONLY) Truncate(node);
  return node;
}

void FileSystem::StatInode(uint32_t inode, struct statx* out) const {
  const Inode& n = inodes_[inode];
  std::memset(out, 0, sizeof(*out));
  out->stx_mask = STATX_TYPE | STATX_MODE | STATX_NLINK | STATX_INO | STATX_SIZE;
  out->stx_mode = static_cast<uint16_t>((n.dir ? S_IFDIR : S_IFREG) | n.mode);
  out->stx_nlink = n.nlink;
  out->stx_ino = inode + 1;
  out->stx_size = n.dir ? 4096 : n.data.size();
  out->stx_blksize = 4096;
}

int FileSystem::Stat(uint32_t base, std::string_view path, int flags, struct statx* out) const {
  if (path.empty()) {
    if ((flags & AT_EMPTY_PATH) == 0) return -ENOENT;
    StatInode(base, out);
    return 0;
  }
  std::string name;
  int err = 0;
  const uint32_t dir = Walk(base, path, &name, &err);
  if (err != 0) return err;
  const uint32_t node = Child(dir, name);
  if (node == kNoInode) return -ENOENT;
  StatInode(node, out);
  return 0;
}

int FileSystem::Unlink(uint32_t base, std::string_view path, int flags) {
  std::string name;
  int err = 0;
  const uint32_t dir = Walk(base, path, &name, &err);
  if (err != 0) return err;
  if (name == "." || name == "..") return (flags & AT_REMOVEDIR) ? -EINVAL : -EISDIR;
  const uint32_t node = Child(dir, name);
  if (node == kNoInode) return -ENOENT;
  Inode& n = inodes_[node];
  if ((flags & AT_REMOVEDIR) != 0) {
    if (!n.dir) return -ENOTDIR;
    if (!n.names.empty()) return -ENOTEMPTY;
    --inodes_[dir].nlink;
  } else if (n.dir) {
    return -EISDIR;
  }
  n.nlink = 0;
  inodes_[dir].names.erase(name);
  return 0;
}

int FileSystem::Mkdir(uint32_t base, std::string_view path, mode_t mode) {
  std::string name;
  int err = 0;
  const uint32_t dir = Walk(base, path, &name, &err);
  if (err != 0) return err;
  if (Child(dir, name) != kNoInode) return -EEXIST;
  const uint32_t node = NewInode(/*dir=*/true, dir, mode);
  inodes_[dir].names[name] = node;
  ++inodes_[dir].nlink;
  return 0;
}

int FileSystem::Rename(uint32_t old_base, std::string_view old_path, uint32_t new_base,
                       std::string_view new_path, uint32_t flags) {
  if ((flags & ~uint32_t{RENAME_NOREPLACE}) != 0) return -EINVAL;
  std::string old_name, new_name;
  int err = 0;
  const uint32_t old_dir = Walk(old_base, old_path, &old_name, &err);
  if (err != 0) return err;
  const uint32_t new_dir = Walk(new_base, new_path, &new_name, &err);
  if (err != 0) return err;
  if (old_name == "." || old_name == ".." || new_name == "." || new_name == "..") return -EBUSY;
  const uint32_t node = Child(old_dir, old_name);
  if (node == kNoInode) return -ENOENT;
  const uint32_t target = Child(new_dir, new_name);
  if (target == node) return 0;
  if (inodes_[node].dir) {
    // A directory may not move into its own subtree.
    for (uint32_t d = new_dir;; d = inodes_[d].parent) {
      if (d == node) return -EINVAL;
      if (d == kRootInode) break;
    }
  }
  if (target != kNoInode) {
    if ((flags & RENAME_NOREPLACE) != 0) return -EEXIST;
    const Inode& t = inodes_[target];
    if (t.dir && !inodes_[node].dir) return -EISDIR;
    if (!t.dir && inodes_[node].dir) return -ENOTDIR;
    if (t.dir && !t.names.empty()) return -ENOTEMPTY;
    inodes_[target].nlink = 0;
  }
  inodes_[old_dir].names.erase(old_name);
  inodes_[new_dir].names[new_name] = node;
  if (inodes_[node].dir) {
    inodes_[node].parent = new_dir;
    --inodes_[old_dir].nlink;
    ++inodes_[new_dir].nlink;
  }
  return 0;
}

}  // namespace ringloop::sim
