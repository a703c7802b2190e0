// ringloop/runtime/owned_fd.cc: the orderly close of an owned fd.
#include "ringloop/runtime/owned_fd.h"

#include <cstdio>
#include <cstdlib>

namespace ringloop {

namespace internal {

void CheckOnLoopThread(const Loop* loop, const char* what, int fd) {
  if (Loop::Current() == loop) return;
  // `loop` may be gone: nothing of it is read here.
  std::fprintf(stderr,
               "ringloop: %s of fd %d on a thread whose Loop is not the fd's (the Loop was "
               "destroyed first, or this is another thread); close an fd on its Loop's "
               "thread, before that Loop goes\n",
               what, fd);
  std::abort();
}

}  // namespace internal

void OwnedFd::Reset() {
  if (fd_ < 0) return;
  internal::CheckOnLoopThread(loop_, "OwnedFd::Reset", fd_);
  loop_->Close(std::exchange(fd_, -1), nullptr);
}

internal::CloseAwaiter OwnedFd::Close() {
  if (fd_ >= 0) internal::CheckOnLoopThread(loop_, "OwnedFd::Close", fd_);
  return CloseFd(std::exchange(fd_, -1));
}

}  // namespace ringloop
