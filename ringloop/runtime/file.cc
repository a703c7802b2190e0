// ringloop/runtime/file.cc: opening, stat and closing a File.
#include "ringloop/runtime/file.h"

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "ringloop/core/check.h"
#include "ringloop/runtime/owned_fd.h"

namespace ringloop {
namespace internal {

void FileState::Unref(FileState* s) {
  RL_CHECK(s->refs > 0);
  if (--s->refs == 0) delete s;
}

void FileState::MaybeClose(FileState* s) {
  if (!s->closing || s->stats > 0 || s->fd < 0) return;
  ++s->refs;  // the close's callback names it
  s->loop->Close(std::exchange(s->fd, -1), [s](const Event& event) {
    s->closers.HandAll(event.res);
    Unref(s);
  });
}

StatAwaiter::StatAwaiter(FileState* state)
    : OpAwaiter(StepsTag{}, ringloop::Statx{.dirfd = state != nullptr ? state->fd : -1,
                                            .path = "",
                                            .flags = AT_EMPTY_PATH,
                                            .mask = STATX_BASIC_STATS,
                                            .buf = nullptr}),
      state_(state) {
  std::memset(&buf_, 0, sizeof(buf_));
  std::get<ringloop::Statx>(args_.op).buf = &buf_;
  fd_ = state != nullptr ? state->fd : -1;
}

bool StatAwaiter::Begin() {
  if (state_ == nullptr || state_->fd < 0) {
    res_ = -EBADF;
    return false;
  }
  ++state_->refs;
  ++state_->stats;
  return true;
}

bool StatAwaiter::Next() {
  // The statx no longer names the fd: a close waiting for it may start.
  --state_->stats;
  FileState::MaybeClose(state_);
  FileState::Unref(state_);
  return false;
}

absl::StatusOr<struct statx> StatAwaiter::await_resume() const {
  if (res_ < 0) return Result(res_, kind_, fd_).status();
  return buf_;
}

FileCloseAwaiter::FileCloseAwaiter(FileState* state)
    : state_(state), fd_(state != nullptr ? state->fd : -1) {
  handoff_.set_result(-EBADF);  // the result without a file
}

FileCloseAwaiter::~FileCloseAwaiter() {
  if (state_ == nullptr) return;  // awaited (or there was no file)
  // Never awaited: the close still happens.
  state_->closing = true;
  FileState::MaybeClose(state_);
  FileState::Unref(state_);
}

void FileCloseAwaiter::Start(PromiseBase& p) {
  CheckOnLoopThread(state_->loop, "File::Close", fd_);
  FileState* const s = std::exchange(state_, nullptr);
  s->closing = true;
  // Closing is cleanup: cancelling the task does not stop it, or the wait.
  handoff_.Wait(p, s->closers, /*cancellable=*/false);
  FileState::MaybeClose(s);
  FileState::Unref(s);
}

}  // namespace internal

File::File(Loop& loop, int fd) : state_(new internal::FileState(loop, fd)) {}

File& File::operator=(File&& other) noexcept {
  if (this != &other) {
    Reset();
    state_ = std::exchange(other.state_, nullptr);
  }
  return *this;
}

void File::Reset() {
  internal::FileState* const s = std::exchange(state_, nullptr);
  if (s == nullptr) return;
  internal::CheckOnLoopThread(s->loop, "File::Reset", s->fd);
  s->closing = true;
  internal::FileState::MaybeClose(s);
  internal::FileState::Unref(s);
}

Task<absl::StatusOr<File>> File::Open(std::string path, int flags, mode_t mode) {
  Loop& loop = *internal::CurrentPromise()->loop;
  // `path` lives in this frame until the openat's final event.
  Result r = co_await Io(ringloop::Openat{AT_FDCWD, path.c_str(), flags | O_CLOEXEC, mode});
  if (!r.ok()) co_return WithContext(r.status(), absl::StrCat("opening ", path));
  co_return File(loop, r.value());
}

}  // namespace ringloop
