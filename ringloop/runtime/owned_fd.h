// ringloop/runtime/owned_fd.h: OwnedFd, an fd that is closed through its Loop.
//
//   OwnedFd file(loop, fd);
//   ...
//   co_await file.Close();  // or let it go out of scope: the close is started then
//
// An OwnedFd owns one fd used by one Loop and closes it with the Loop's
// orderly close (Loop::Close): new ops on the fd fail at once with EBADF, the
// ops in flight on it are cancelled and end first, and only then does close(2)
// run. A plain close(2) would not stop those ops (Linux keeps the file open
// for them), and the fd number could be handed to the next open while they
// still aim at it. So an fd the loop has seen is never closed any other way:
// the destructor starts the orderly close without waiting for it; Close()
// does the same and lets the task wait for close's result.
//
// The helpers that own fds (TcpStream, TcpListener, File, SignalSet) hold an
// OwnedFd, so they close the same way.
//
// Lifetime and threads: an OwnedFd belongs to its Loop's thread, and must be
// closed, released or destroyed before the Loop is (destroying it on another
// thread, or after its Loop, stops the process with a message naming the
// mistake). It is movable, never copyable.
#ifndef RINGLOOP_RUNTIME_OWNED_FD_H_
#define RINGLOOP_RUNTIME_OWNED_FD_H_

#include <utility>

#include "ringloop/runtime/io.h"
#include "ringloop/runtime/loop.h"

namespace ringloop {
namespace internal {

// CheckOnLoopThread: stops the process, naming `what` (of `fd`) and the
// mistake, unless the calling thread's Loop is `loop` (a closed fd must be
// closed on its Loop's thread, while that Loop exists).
void CheckOnLoopThread(const Loop* loop, const char* what, int fd);

}  // namespace internal

class OwnedFd {
 public:
  // OwnedFd: empty (owns nothing).
  OwnedFd() = default;
  // OwnedFd: owns `fd` (-1: nothing), to be closed through `loop`.
  OwnedFd(Loop& loop, int fd) : loop_(&loop), fd_(fd) {}
  OwnedFd(OwnedFd&& other) noexcept : loop_(other.loop_), fd_(std::exchange(other.fd_, -1)) {}
  // operator=: closes the fd this one owned (as Reset), then takes `other`'s.
  OwnedFd& operator=(OwnedFd&& other) noexcept {
    if (this != &other) {
      Reset();
      loop_ = other.loop_;
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  OwnedFd(const OwnedFd&) = delete;
  OwnedFd& operator=(const OwnedFd&) = delete;
  // ~OwnedFd: Reset.
  ~OwnedFd() { Reset(); }

  // get: the fd, or -1.
  int get() const { return fd_; }
  // valid: whether it owns an fd.
  bool valid() const { return fd_ >= 0; }
  explicit operator bool() const { return valid(); }
  // loop: the Loop it closes through (null for a default-constructed one).
  Loop* loop() const { return loop_; }

  // Release: gives the fd up without closing it (the caller owns it now);
  // returns it, or -1.
  int Release() { return std::exchange(fd_, -1); }

  // Reset: starts the orderly close of the fd, if any, without waiting for it
  // (its result is dropped); the OwnedFd is empty afterwards.
  void Reset();

  // Close: co_await fd.Close(): the orderly close, awaited; close's Result
  // (-EBADF if nothing was owned). The OwnedFd is empty as soon as Close()
  // is called. Like CloseFd (io.h), it runs even if the task is cancelled.
  internal::CloseAwaiter Close();

 private:
  Loop* loop_ = nullptr;
  int fd_ = -1;
};

}  // namespace ringloop

#endif  // RINGLOOP_RUNTIME_OWNED_FD_H_
