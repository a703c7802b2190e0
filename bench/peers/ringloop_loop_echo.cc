// bench/peers/ringloop_loop_echo.cc: the TCP echo server on ringloop's Loop with
// callbacks, on io_uring or on epoll.
//
//   ringloop_loop_echo --port=N [--driver=uring|epoll]
//
// A multishot accept whose callback starts a connection; per connection recv,
// then send, then recv again, each the previous op's callback (capturing only
// the connection: stored inline, no allocation). Connections end with
// Loop::Close. The loop is set up as in ringloop_setup.h.
#include <cstdint>
#include <memory>

#include "bench/peers/echo_common.h"
#include "bench/peers/ringloop_setup.h"
#include "ringloop/runtime/loop.h"

namespace ringloop::peers {
namespace {

// Conn: one connection; deletes itself once it is closed.
class Conn {
 public:
  Conn(Loop& loop, int fd) : loop_(loop), fd_(fd) {}

  void Receive() {
    loop_.Submit(ringloop::Recv{fd_, buf_, kEchoBufferBytes}, [this](const Event& e) {
      if (e.res <= 0) {  // the peer's EOF, or an error
        Finish();
        return;
      }
      sent_ = 0;
      len_ = uint32_t(e.res);
      SendRest();
    });
  }

 private:
  void SendRest() {
    loop_.Submit(ringloop::Send{fd_, buf_ + sent_, len_ - sent_}, [this](const Event& e) {
      if (e.res < 0) {
        Finish();
        return;
      }
      sent_ += uint32_t(e.res);
      if (sent_ < len_) {
        SendRest();
      } else {
        Receive();
      }
    });
  }

  void Finish() {
    loop_.Close(fd_, [this](const Event&) { delete this; });
  }

  Loop& loop_;
  const int fd_;
  uint32_t sent_ = 0;  // bytes of buf_[0, len_) sent back so far
  uint32_t len_ = 0;
  char buf_[kEchoBufferBytes];
};

void AcceptAll(Loop& loop, int listener) {
  loop.Submit(Accept{.fd = listener, .multishot = true}, [&loop, listener](const Event& e) {
    if (e.res >= 0) {
      (new Conn(loop, e.res))->Receive();
    } else {
      std::fprintf(stderr, "accept: %s\n", std::strerror(-e.res));
    }
    if (!e.more) AcceptAll(loop, listener);
  });
}

}  // namespace
}  // namespace ringloop::peers

int main(int argc, char** argv) {
  using namespace ringloop::peers;
  const int listener = ListenFromFlags(argc, argv, /*nonblocking=*/false);
  std::unique_ptr<ringloop::Loop> loop = CreateLoopFromFlags(argc, argv);
  AcceptAll(*loop, listener);
  RunLoopOrDie(*loop);
}
