// bench/peers/epoll_echo.cc: the TCP echo server written straight on epoll, the
// floor for ringloop's epoll driver.
//
//   epoll_echo --port=N
//
// Nonblocking sockets, level-triggered: per readable connection one recv and
// one send, no read until EAGAIN (level triggering reports the socket again if
// data is left, so the extra recv that edge triggering needs per wake-up is
// saved). A send that cannot take everything parks the rest and waits for
// EPOLLOUT instead of EPOLLIN until it is gone. epoll_event.data holds the fd.
#include <sys/epoll.h>

#include <cstdint>

#include "bench/peers/echo_common.h"

namespace ringloop::peers {
namespace {

class Server {
 public:
  explicit Server(int listener) : listener_(listener), epfd_(::epoll_create1(EPOLL_CLOEXEC)) {
    if (epfd_ < 0) Die("epoll_create1");
    Control(EPOLL_CTL_ADD, listener_, EPOLLIN);
  }

  [[noreturn]] void Run() {
    epoll_event events[512];
    for (;;) {
      const int n = ::epoll_wait(epfd_, events, 512, -1);
      if (n < 0 && errno != EINTR) Die("epoll_wait");
      for (int i = 0; i < n; ++i) {
        const int fd = events[i].data.fd;
        if (fd == listener_) {
          AcceptAll();
        } else if (events[i].events & EPOLLOUT) {
          SendRest(fd);
        } else {
          Echo(fd);
        }
      }
    }
  }

 private:
  void Control(int op, int fd, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    if (::epoll_ctl(epfd_, op, fd, &ev) != 0) Die("epoll_ctl");
  }

  void AcceptAll() {
    for (;;) {
      const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno != EAGAIN && errno != EINTR) std::perror("accept4");
        return;
      }
      conns_.Open(fd);
      Control(EPOLL_CTL_ADD, fd, EPOLLIN);
    }
  }

  void Echo(int fd) {
    EchoConn& c = conns_[fd];
    const ssize_t n = ::recv(fd, c.buf, kEchoBufferBytes, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {  // the peer's EOF, or an error (close also removes it from the set)
      ::close(fd);
      return;
    }
    c.sent = 0;
    c.len = uint32_t(n);
    Send(fd, c, /*parked=*/false);
  }

  void SendRest(int fd) { Send(fd, conns_[fd], /*parked=*/true); }

  // Send: sends the rest of c.buf; `parked` says the connection waits for EPOLLOUT.
  void Send(int fd, EchoConn& c, bool parked) {
    while (c.sent < c.len) {
      const ssize_t n = ::send(fd, c.buf + c.sent, c.len - c.sent, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) {
          if (!parked) Control(EPOLL_CTL_MOD, fd, EPOLLOUT);
          return;
        }
        ::close(fd);
        return;
      }
      c.sent += uint32_t(n);
    }
    if (parked) Control(EPOLL_CTL_MOD, fd, EPOLLIN);
  }

  const int listener_;
  const int epfd_;
  ConnTable conns_;
};

}  // namespace
}  // namespace ringloop::peers

int main(int argc, char** argv) {
  const int listener = ringloop::peers::ListenFromFlags(argc, argv, /*nonblocking=*/true);
  ringloop::peers::Server server(listener);
  server.Run();
}
