// bench/peers/asio_echo.cc: the TCP echo server on Boost.Asio (1.81), the classic
// async_read_some / async_write session.
//
//   asio_echo --port=N
//
// Built twice (bench/peers/BUILD.bazel): on Asio's default epoll reactor, and
// with BOOST_ASIO_HAS_IO_URING + BOOST_ASIO_DISABLE_EPOLL on its io_uring
// backend. One io_context run by one thread with the concurrency hint that
// drops all of Asio's locking (BOOST_ASIO_CONCURRENCY_HINT_UNSAFE: nothing is
// posted from another thread). Sessions are owned by their pending operation
// (no shared_ptr: no atomic reference counts per op); handlers are small
// lambdas, which Asio's per-thread recycling allocator stores without a malloc.
#include <boost/asio.hpp>
#include <cstdio>
#include <utility>

#include "bench/peers/echo_common.h"

namespace ringloop::peers {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

// Session: one connection; deletes itself when the connection ends.
class Session {
 public:
  explicit Session(tcp::socket socket) : socket_(std::move(socket)) {}

  void Read() {
    socket_.async_read_some(asio::buffer(buf_), [this](boost::system::error_code ec, size_t n) {
      if (ec) {
        delete this;  // the peer's EOF, or an error
        return;
      }
      Write(n);
    });
  }

 private:
  void Write(size_t n) {
    asio::async_write(socket_, asio::buffer(buf_, n),
                      [this](boost::system::error_code ec, size_t /*n*/) {
                        if (ec) {
                          delete this;
                          return;
                        }
                        Read();
                      });
  }

  tcp::socket socket_;
  char buf_[kEchoBufferBytes];
};

class Server {
 public:
  Server(asio::io_context& context, int listener) : acceptor_(context) {
    acceptor_.assign(tcp::v4(), listener);
  }

  void Accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (ec) {
        std::fprintf(stderr, "accept: %s\n", ec.message().c_str());
      } else {
        (new Session(std::move(socket)))->Read();
      }
      Accept();
    });
  }

 private:
  tcp::acceptor acceptor_;
};

}  // namespace
}  // namespace ringloop::peers

int main(int argc, char** argv) {
  const int listener = ringloop::peers::ListenFromFlags(argc, argv, /*nonblocking=*/false);
  boost::asio::io_context context(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE);
  ringloop::peers::Server server(context, listener);
  server.Accept();
  context.run();
}
