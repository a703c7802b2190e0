// ringloop/runtime/owned_fd.cc: the orderly close of an owned fd.
#include "ringloop/runtime/owned_fd.h"

#include <cstdio>
#include <cstdlib>

namespace ringloop {

void OwnedFd::CheckLoop(const char* method) const {
  if (Loop::Current() == loop_) return;
  // loop_ may be gone: nothing of it is read here.
  std::fprintf(stderr,
               "ringloop: OwnedFd::%s of fd %d on a thread whose Loop is not the fd's (the "
               "Loop was destroyed first, or this is another thread); close an OwnedFd on "
               "its Loop's thread, before that Loop goes\n",
               method, fd_);
  std::abort();
}

void OwnedFd::Reset() {
  if (fd_ < 0) return;
  CheckLoop("Reset");
  loop_->Close(std::exchange(fd_, -1), nullptr);
}

internal::CloseAwaiter OwnedFd::Close() {
  if (fd_ >= 0) CheckLoop("Close");
  return CloseFd(std::exchange(fd_, -1));
}

}  // namespace ringloop
