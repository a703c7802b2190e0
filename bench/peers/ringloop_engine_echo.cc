// bench/peers/ringloop_engine_echo.cc: the TCP echo server on ringloop's Engine and
// UringDriver directly, without the Loop: what the runtime itself pays per op.
//
//   ringloop_engine_echo --port=N
//
// The same program as raw_uring_echo.cc, op for op: the same ring
// (ringloop_setup.h), a multishot accept, and per
// connection recv, then send, then recv again. Each loop turn is one
// UringDriver::Poll (submit, wait, reap into the engine) and then every event
// the engine has, dispatched by tag (fd << 2 | kind). Connections end through
// Engine::Close.
#include <cstdint>
#include <memory>
#include <string>

#include "bench/peers/echo_common.h"
#include "bench/peers/ringloop_setup.h"
#include "ringloop/core/engine.h"
#include "ringloop/drivers/uring/uring_driver.h"

namespace ringloop::peers {
namespace {

enum Kind : uint64_t { kAccept = 0, kRecv = 1, kSend = 2, kClose = 3 };

class Server {
 public:
  Server(std::unique_ptr<UringDriver> driver, int listener)
      : driver_(std::move(driver)), engine_(PeerEngineOptions()), listener_(listener) {}

  [[noreturn]] void Run() {
    ArmAccept();
    Event events[64];
    for (;;) {
      if (const absl::Status status = driver_->Poll(engine_, /*wait=*/true); !status.ok()) {
        std::fprintf(stderr, "Poll: %s\n", std::string(status.message()).c_str());
        std::exit(1);
      }
      while (const size_t n = engine_.PollEvents(events)) {
        for (size_t i = 0; i < n; ++i) Handle(events[i]);
      }
    }
  }

 private:
  void ArmAccept() { engine_.Submit({Accept{.fd = listener_, .multishot = true}, kAccept}); }

  void Recv(int fd) {
    engine_.Submit(
        {ringloop::Recv{fd, conns_[fd].buf, kEchoBufferBytes}, uint64_t(fd) << 2 | kRecv});
  }

  void Send(int fd) {
    EchoConn& c = conns_[fd];
    engine_.Submit({ringloop::Send{fd, c.buf + c.sent, c.len - c.sent}, uint64_t(fd) << 2 | kSend});
  }

  void Handle(const Event& e) {
    const int fd = int(e.tag >> 2);
    switch (e.tag & 3) {
      case kAccept:
        if (e.res >= 0) {
          conns_.Open(e.res);
          Recv(e.res);
        } else {
          std::fprintf(stderr, "accept: %s\n", std::strerror(-e.res));
        }
        if (!e.more) ArmAccept();
        return;
      case kRecv:
        if (e.res <= 0) {  // the peer's EOF, or an error: this connection is over
          engine_.Close(fd, kClose);
          return;
        }
        conns_[fd].sent = 0;
        conns_[fd].len = uint32_t(e.res);
        Send(fd);
        return;
      case kSend: {
        if (e.res < 0) {
          engine_.Close(fd, kClose);
          return;
        }
        EchoConn& c = conns_[fd];
        c.sent += uint32_t(e.res);
        if (c.sent < c.len) {
          Send(fd);
        } else {
          Recv(fd);
        }
        return;
      }
      case kClose:
        return;
    }
  }

  std::unique_ptr<UringDriver> driver_;
  Engine engine_;
  const int listener_;
  ConnTable conns_;
};

}  // namespace
}  // namespace ringloop::peers

int main(int argc, char** argv) {
  using namespace ringloop::peers;
  const int listener = ListenFromFlags(argc, argv, /*nonblocking=*/false);
  Server server(CreateUringDriverOrDie(), listener);
  server.Run();
}
