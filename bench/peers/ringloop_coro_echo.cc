// bench/peers/ringloop_coro_echo.cc: the TCP echo server on ringloop's coroutines.
//
//   ringloop_coro_echo --port=N [--driver=uring|epoll]
//
// One task accepts (co_await Io(Accept{...})) and spawns a task per connection,
// which loops co_await Io(Recv{...}) then co_await Io(Send{...}) until the
// peer's EOF, its buffer in its own frame. Only raw ops from io.h: no helper
// layer between the task and the Loop. The loop is set up as in
// ringloop_setup.h.
#include <cstdint>
#include <memory>

#include "bench/peers/echo_common.h"
#include "bench/peers/ringloop_setup.h"
#include "ringloop/runtime/io.h"
#include "ringloop/runtime/loop.h"
#include "ringloop/runtime/task.h"

namespace ringloop::peers {
namespace {

Task<void> Echo(int fd) {
  char buf[kEchoBufferBytes];
  for (;;) {
    const Result r = co_await Io(ringloop::Recv{fd, buf, kEchoBufferBytes});
    if (!r.ok() || r.value() == 0) break;  // an error, or the peer's EOF
    const uint32_t len = uint32_t(r.value());
    uint32_t sent = 0;
    while (sent < len) {
      const Result w = co_await Io(ringloop::Send{fd, buf + sent, len - sent});
      if (!w.ok()) break;
      sent += uint32_t(w.value());
    }
    if (sent < len) break;
  }
  Loop::Current()->Close(fd, nullptr);
}

Task<void> AcceptLoop(int listener) {
  for (;;) {
    const Result r = co_await Io(Accept{.fd = listener});
    if (!r.ok()) {
      std::fprintf(stderr, "%s\n", r.ToString().c_str());
      continue;
    }
    Loop::Current()->Spawn(Echo(r.value()));
  }
}

}  // namespace
}  // namespace ringloop::peers

int main(int argc, char** argv) {
  using namespace ringloop::peers;
  const int listener = ListenFromFlags(argc, argv, /*nonblocking=*/false);
  std::unique_ptr<ringloop::Loop> loop = CreateLoopFromFlags(argc, argv);
  loop->Spawn(AcceptLoop(listener));
  RunLoopOrDie(*loop);
}
