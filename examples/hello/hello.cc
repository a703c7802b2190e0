// examples/hello/hello.cc: the README's first example: a task that reads from a
// pipe with a timeout, on whichever driver the Loop picked. `make test` runs it.
// [START hello]
#include <unistd.h>

#include <cstdio>

#include "ringloop/runtime/io.h"
#include "ringloop/runtime/loop.h"

using ringloop::Io;
using ringloop::Result;
using ringloop::Task;

// Greet: writes a greeting into the pipe, then reads it back; the read gives
// up after one second.
Task<int> Greet(int read_fd, int write_fd) {
  Result w = co_await Io(ringloop::Write{write_fd, "hello", 5});
  if (!w.ok()) co_return w.error();
  char buf[16];
  Result r = co_await Io(ringloop::Read{read_fd, buf, sizeof(buf)}, absl::Seconds(1));
  if (!r.ok()) {
    std::fprintf(stderr, "%s\n", r.ToString().c_str());  // e.g. "read(fd=3): Timer expired [ETIME]"
    co_return r.error();
  }
  std::printf("read %d bytes: %.*s\n", r.value(), r.value(), buf);
  co_return 0;
}

int main() {
  auto loop = ringloop::Loop::Create();  // io_uring, else epoll; prints which and why
  if (!loop.ok()) {
    std::fprintf(stderr, "%s\n", loop.status().ToString().c_str());
    return 1;
  }
  int fds[2];
  if (::pipe(fds) != 0) return 1;
  const int err = (*loop)->BlockOn(Greet(fds[0], fds[1]));
  (*loop)->Close(fds[0], nullptr);  // orderly close through the loop
  (*loop)->Close(fds[1], nullptr);
  return err;
}  // ~Loop drains: the closes finish before it returns
// [END hello]
