// bench/peers/echo_common.h: what every echo server of the side-by-side benchmark
// shares, so that they differ only in their event loop.
//
// Every server is single-threaded, listens on 127.0.0.1:--port (0: a port the
// kernel picks), prints "port=<port>" on stdout once it accepts connections,
// and echoes every byte each connection sends until the peer closes it. A
// server runs until it is killed (SIGTERM or SIGINT, default action): the
// benchmark driver (run_peers.py) measures from outside.
//
// Each connection reads into its own kEchoBufferBytes buffer and sends back
// what one read returned (all of it, resending the rest of a short send)
// before it reads again.
#ifndef RINGLOOP_BENCH_PEERS_ECHO_COMMON_H_
#define RINGLOOP_BENCH_PEERS_ECHO_COMMON_H_

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ringloop::peers {

// kEchoBufferBytes: each connection's read buffer (a server's usual size; the
// benchmark's messages are 64 bytes).
inline constexpr unsigned kEchoBufferBytes = 4096;

// kListenBacklog: enough for the driver's largest burst of connects (512).
inline constexpr int kListenBacklog = 4096;

// EchoConn: one connection's buffer, and how much of what the last read put
// in it has been sent back.
struct EchoConn {
  uint32_t sent = 0;  // bytes of buf[0, len) sent back so far
  uint32_t len = 0;
  char buf[kEchoBufferBytes];
};

// ConnTable: the EchoConn of each connection, by fd (kept for the fd number's
// next connection, so steady state allocates nothing).
class ConnTable {
 public:
  // Open: the EchoConn of a newly accepted `fd`.
  EchoConn& Open(int fd) {
    if (size_t(fd) >= by_fd_.size()) by_fd_.resize(size_t(fd) + 1);
    if (by_fd_[size_t(fd)] == nullptr) by_fd_[size_t(fd)] = std::make_unique<EchoConn>();
    return *by_fd_[size_t(fd)];
  }
  // operator[]: the EchoConn of an open `fd`.
  EchoConn& operator[](int fd) { return *by_fd_[size_t(fd)]; }

 private:
  std::vector<std::unique_ptr<EchoConn>> by_fd_;
};

// Die: prints "<what>: <errno text>" and exits 1.
[[noreturn]] inline void Die(const char* what, int err = errno) {
  std::fprintf(stderr, "%s: %s\n", what, std::strerror(err));
  std::exit(1);
}

// FlagValue: the value of --name=VALUE on the command line, or `fallback`.
inline std::string FlagValue(int argc, char** argv, std::string_view name,
                             std::string_view fallback) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg.size() > name.size() + 3 && arg.substr(0, 2) == "--" &&
        arg.substr(2, name.size()) == name && arg[2 + name.size()] == '=') {
      return std::string(arg.substr(3 + name.size()));
    }
  }
  return std::string(fallback);
}

// FlagInt: FlagValue as a non-negative integer; exits with a message if it is
// not one.
inline long FlagInt(int argc, char** argv, std::string_view name, long fallback) {
  const std::string text = FlagValue(argc, argv, name, "");
  if (text.empty()) return fallback;
  char* end = nullptr;
  errno = 0;
  const long value = std::strtol(text.c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || value < 0) {
    std::fprintf(stderr, "--%.*s=%s: not a non-negative integer\n", int(name.size()), name.data(),
                 text.c_str());
    std::exit(2);
  }
  return value;
}

// ListenOrDie: a listening TCP socket on 127.0.0.1:`port` (0: any free port),
// nonblocking if asked (the readiness loops need it; io_uring does not).
// Prints "port=<port>" on stdout (flushed): the driver waits for that line.
inline int ListenOrDie(int port, bool nonblocking) {
  const int fd =
      ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0) Die("socket");
  const int one = 1;
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0) Die("SO_REUSEADDR");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) Die("bind");
  if (::listen(fd, kListenBacklog) != 0) Die("listen");
  socklen_t len = sizeof(addr);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) Die("getsockname");
  std::printf("port=%d\n", ntohs(addr.sin_port));
  std::fflush(stdout);
  return fd;
}

// ListenFromFlags: ListenOrDie on --port (default 0).
inline int ListenFromFlags(int argc, char** argv, bool nonblocking) {
  const long port = FlagInt(argc, argv, "port", 0);
  if (port > 65535) {
    std::fprintf(stderr, "--port=%ld: not a port\n", port);
    std::exit(2);
  }
  return ListenOrDie(static_cast<int>(port), nonblocking);
}

}  // namespace ringloop::peers

#endif  // RINGLOOP_BENCH_PEERS_ECHO_COMMON_H_
