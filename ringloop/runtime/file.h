// ringloop/runtime/file.h: File, a file opened and used through the loop.
//
//   absl::StatusOr<File> f = co_await File::Open("/var/lib/app/log", O_WRONLY | O_CREAT, 0644);
//   if (!f.ok()) co_return f.status();  // "openat: Permission denied [EACCES] (opening ...)"
//   Result w = co_await f->WriteAllAt(record.data(), record.size(), offset);
//   Result s = co_await f->Fsync();
//   absl::StatusOr<struct statx> st = co_await f->Stat();  // st->stx_size
//   co_await f->Close();
//
// Every call is an op of the loop's engine (openat, read, write, fsync, statx,
// close), so a slow disk never blocks the loop's thread: io_uring runs them
// in the kernel; the epoll driver, which cannot wait for regular files, hands
// them to its worker threads. ReadAt and WriteAt are one op each, at an
// offset (pread/pwrite: the file position is neither used nor moved) and may
// move fewer bytes than asked (a read at the end of the file returns what is
// there, 0 past it); ReadExactAt and WriteAllAt loop until done (stream.h:
// -kEndOfStream if the file ends first). Results name the op and the fd.
//
// Closing: a File owns its fd and closes it through the loop's orderly close
// (owned_fd.h), when destroyed or by Close(). One thing more: Stat names the
// fd only as statx's directory fd, which the engine's close protocol does
// not track; so a close waits for the Stats in flight on the File to end
// before it starts (a statx still running on a closed fd number could stat
// whatever file reused it).
//
// Threads: the Loop's thread; Open and the awaits from inside a Task.
#ifndef RINGLOOP_RUNTIME_FILE_H_
#define RINGLOOP_RUNTIME_FILE_H_

#include <fcntl.h>
#include <linux/stat.h>
#include <sys/stat.h>

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>

#include "absl/status/statusor.h"
#include "ringloop/core/ops.h"
#include "ringloop/runtime/handoff.h"
#include "ringloop/runtime/io.h"
#include "ringloop/runtime/loop.h"
#include "ringloop/runtime/result.h"
#include "ringloop/runtime/stream.h"
#include "ringloop/runtime/task.h"

namespace ringloop {
namespace internal {

// FileState: a File's fd, shared with the Stats in flight on it and with its
// close. Reference-counted by hand (loop thread only).
struct FileState {
  FileState(Loop& l, int f) : loop(&l), fd(f) {}

  Loop* loop;
  int fd;
  uint32_t refs = 1;
  uint32_t stats = 0;    // Stats in flight
  bool closing = false;  // a close was asked for; it starts once stats == 0
  HandoffList closers;   // tasks awaiting Close

  // Unref: one holder fewer; the last frees it.
  static void Unref(FileState* s);
  // MaybeClose: starts the close once it was asked for and no Stat runs.
  static void MaybeClose(FileState* s);
};

// StatAwaiter: what co_await file.Stat() does.
class StatAwaiter final : public OpAwaiter {
 public:
  explicit StatAwaiter(FileState* state);
  absl::StatusOr<struct statx> await_resume() const;

 private:
  bool Begin() override;
  bool Next() override;

  FileState* state_;
  struct statx buf_;
};

// FileCloseAwaiter: what co_await file.Close() does.
class FileCloseAwaiter {
 public:
  explicit FileCloseAwaiter(FileState* state);
  FileCloseAwaiter(FileCloseAwaiter&&) = delete;
  ~FileCloseAwaiter();

  bool await_ready() const noexcept { return state_ == nullptr; }
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) {
    static_assert(std::is_base_of_v<PromiseBase, P>,
                  "File::Close can only be awaited from a ringloop Task");
    Start(h.promise());
  }
  Result await_resume() const { return Result(handoff_.result(), OpKind::kClose, fd_); }

 private:
  void Start(PromiseBase& p);

  FileState* state_;
  int fd_;
  Handoff handoff_;
};

}  // namespace internal

class File {
 public:
  // File: no file.
  File() = default;
  File(File&& other) noexcept : state_(std::exchange(other.state_, nullptr)) {}
  File& operator=(File&& other) noexcept;
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  // ~File: starts the orderly close (see the file comment).
  ~File() { Reset(); }

  // Open: openat(AT_FDCWD, path, flags | O_CLOEXEC, mode). Errors name the op
  // and the path.
  static Task<absl::StatusOr<File>> Open(std::string path, int flags = O_RDONLY,
                                         mode_t mode = 0644);

  // ReadAt / WriteAt: one pread / pwrite of up to `n` bytes at `offset`.
  internal::OpAwaiter ReadAt(void* buf, size_t n, uint64_t offset) {
    return Io(Read{.fd = fd(), .buf = buf, .len = internal::OpLength(n), .offset = offset});
  }
  internal::OpAwaiter WriteAt(const void* buf, size_t n, uint64_t offset) {
    return Io(Write{.fd = fd(), .buf = buf, .len = internal::OpLength(n), .offset = offset});
  }
  // ReadExactAt / WriteAllAt: exactly `n` bytes from `offset` on (stream.h).
  internal::TransferAwaiter ReadExactAt(void* buf, size_t n, uint64_t offset) {
    return internal::TransferAwaiter(IoStyle::kReadWrite, /*read=*/true, fd(),
                                     static_cast<char*>(buf), n, offset);
  }
  internal::TransferAwaiter WriteAllAt(const void* buf, size_t n, uint64_t offset) {
    return internal::TransferAwaiter(IoStyle::kReadWrite, /*read=*/false, fd(),
                                     const_cast<char*>(static_cast<const char*>(buf)), n, offset);
  }
  // Fsync: fsync(2), or fdatasync(2) when `datasync`.
  internal::OpAwaiter Fsync(bool datasync = false) { return Io(ringloop::Fsync{fd(), datasync}); }
  // Stat: statx(2) of the open file (STATX_BASIC_STATS).
  internal::StatAwaiter Stat() { return internal::StatAwaiter(state_); }

  // Close: the orderly close, awaited: close's Result (-EBADF if there was no
  // file). It runs even if the task is cancelled.
  internal::FileCloseAwaiter Close() {
    return internal::FileCloseAwaiter(std::exchange(state_, nullptr));
  }
  // Reset: starts the close without waiting for it; the File is empty after.
  void Reset();

  int fd() const { return state_ != nullptr ? state_->fd : -1; }
  bool valid() const { return state_ != nullptr; }

 private:
  File(Loop& loop, int fd);

  internal::FileState* state_ = nullptr;
};

}  // namespace ringloop

#endif  // RINGLOOP_RUNTIME_FILE_H_
