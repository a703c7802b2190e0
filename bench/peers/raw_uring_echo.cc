// bench/peers/raw_uring_echo.cc: the TCP echo server written straight on liburing,
// the floor for ringloop's io_uring paths.
//
//   raw_uring_echo --port=N
//
// One ring with SINGLE_ISSUER + DEFER_TASKRUN (Linux 6.1; completions run only
// when this thread enters the kernel to wait), a multishot accept on the
// listener, and per connection one op at a time: recv, then send what it got,
// then recv again. Each loop turn is one io_uring_enter that submits every SQE
// the previous turn prepared and waits for at least one CQE; then every CQE is
// handled and the CQ advanced once. user_data is fd << 2 | kind.
#include <liburing.h>

#include <cstdint>

#include "bench/peers/echo_common.h"

namespace ringloop::peers {
namespace {

enum Kind : uint64_t { kAccept = 0, kRecv = 1, kSend = 2 };

class Server {
 public:
  explicit Server(int listener) : listener_(listener) {
    io_uring_params params{};
    params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE |
                   IORING_SETUP_SUBMIT_ALL;
    params.cq_entries = 4096;  // one op per connection in flight: never overflows
    if (const int err = io_uring_queue_init_params(1024, &ring_, &params); err < 0) {
      Die("io_uring_queue_init_params", -err);
    }
  }

  [[noreturn]] void Run() {
    ArmAccept();
    for (;;) {
      const int err = io_uring_submit_and_wait(&ring_, 1);
      if (err < 0 && err != -EINTR) Die("io_uring_submit_and_wait", -err);
      unsigned head;
      unsigned seen = 0;
      io_uring_cqe* cqe;
      io_uring_for_each_cqe(&ring_, head, cqe) {
        Handle(cqe->user_data, cqe->res, cqe->flags);
        ++seen;
      }
      io_uring_cq_advance(&ring_, seen);
    }
  }

 private:
  io_uring_sqe* Sqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (sqe != nullptr) return sqe;
    io_uring_submit(&ring_);  // SQ full: hand it over, then there is room
    sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) Die("io_uring_get_sqe", EBUSY);
    return sqe;
  }

  void ArmAccept() {
    io_uring_sqe* sqe = Sqe();
    io_uring_prep_multishot_accept(sqe, listener_, nullptr, nullptr, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, kAccept);
  }

  void Recv(int fd) {
    io_uring_sqe* sqe = Sqe();
    io_uring_prep_recv(sqe, fd, conns_[fd].buf, kEchoBufferBytes, 0);
    io_uring_sqe_set_data64(sqe, uint64_t(fd) << 2 | kRecv);
  }

  void Send(int fd) {
    EchoConn& c = conns_[fd];
    io_uring_sqe* sqe = Sqe();
    io_uring_prep_send(sqe, fd, c.buf + c.sent, c.len - c.sent, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, uint64_t(fd) << 2 | kSend);
  }

  void Handle(uint64_t user_data, int res, unsigned flags) {
    const int fd = int(user_data >> 2);
    switch (user_data & 3) {
      case kAccept:
        if (res >= 0) {
          conns_.Open(res);
          Recv(res);
        } else {
          std::fprintf(stderr, "accept: %s\n", std::strerror(-res));
        }
        if (!(flags & IORING_CQE_F_MORE)) ArmAccept();
        return;
      case kRecv:
        if (res <= 0) {  // the peer's EOF, or an error: this connection is over
          ::close(fd);
          return;
        }
        conns_[fd].sent = 0;
        conns_[fd].len = uint32_t(res);
        Send(fd);
        return;
      case kSend: {
        if (res < 0) {
          ::close(fd);
          return;
        }
        EchoConn& c = conns_[fd];
        c.sent += uint32_t(res);
        if (c.sent < c.len) {
          Send(fd);
        } else {
          Recv(fd);
        }
        return;
      }
    }
  }

  io_uring ring_{};
  const int listener_;
  ConnTable conns_;
};

}  // namespace
}  // namespace ringloop::peers

int main(int argc, char** argv) {
  const int listener = ringloop::peers::ListenFromFlags(argc, argv, /*nonblocking=*/false);
  ringloop::peers::Server server(listener);
  server.Run();
}
