// examples/consumer/echo.cc: a one-connection TCP echo server on ringloop's Loop.
//
//   echo [PORT]
//
// Listens on 127.0.0.1:PORT (PORT 0 or none: a port the kernel picks), prints
// "echo: listening on 127.0.0.1:<port>" on stdout, accepts one connection, sends back
// every byte it receives until the peer closes its side, closes the connection and
// exits 0. Any error is printed (naming the op and fd) and the exit status is 1.
//
// The same file is built by every recipe in README.md ("Use it in your project"):
// CMake (add_subdirectory or find_package), pkg-config and Bazel. round_trip.sh
// drives one round trip through it.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ringloop/runtime/loop.h"

namespace {

// EchoServer: accept, then recv and send until EOF, then close; each step is the
// previous op's callback. Keeps the first error in `status`.
class EchoServer {
 public:
  EchoServer(ringloop::Loop& loop, int listener) : loop_(loop), listener_(listener) {}

  // Start: submits the accept; the loop runs the rest.
  void Start() {
    loop_.Submit(ringloop::Accept{.fd = listener_},
                 [this](const ringloop::Event& event) { OnAccept(event); });
  }

  const absl::Status& status() const { return status_; }

 private:
  void OnAccept(const ringloop::Event& event) {
    ringloop::Result result(event);
    // One connection only: the listener goes whatever the accept's outcome.
    loop_.Close(listener_, [this](const ringloop::Event& e) { Check(ringloop::Result(e)); });
    if (!Check(result)) return;
    connection_ = result.value();
    Receive();
  }

  void Receive() {
    loop_.Submit(ringloop::Recv{.fd = connection_, .buf = buffer_, .len = sizeof(buffer_)},
                 [this](const ringloop::Event& event) { OnReceive(event); });
  }

  void OnReceive(const ringloop::Event& event) {
    ringloop::Result result(event);
    if (!Check(result) || result.value() == 0) {  // an error, or the peer's EOF
      Finish();
      return;
    }
    Send(0, static_cast<uint32_t>(result.value()));
  }

  // Send: sends buffer_[sent, end); a short send sends the rest.
  void Send(uint32_t sent, uint32_t end) {
    loop_.Submit(ringloop::Send{.fd = connection_, .buf = buffer_ + sent, .len = end - sent},
                 [this, sent, end](const ringloop::Event& event) {
                   ringloop::Result result(event);
                   if (!Check(result)) {
                     Finish();
                   } else if (sent + result.value() < end) {
                     Send(sent + result.value(), end);
                   } else {
                     Receive();
                   }
                 });
  }

  void Finish() {
    loop_.Close(connection_, [this](const ringloop::Event& e) { Check(ringloop::Result(e)); });
  }

  // Check: whether `result` is a success; keeps the first failure.
  bool Check(const ringloop::Result& result) {
    if (!result.ok() && status_.ok()) status_ = result.status();
    return result.ok();
  }

  ringloop::Loop& loop_;
  const int listener_;
  int connection_ = -1;
  char buffer_[4096];
  absl::Status status_;
};

// ParsePort: the port named by `arg`, or -1.
int ParsePort(const char* arg) {
  char* end = nullptr;
  errno = 0;
  long port = std::strtol(arg, &end, 10);
  if (errno != 0 || end == arg || *end != '\0' || port < 0 || port > 65535) return -1;
  return static_cast<int>(port);
}

// Listen: a listening socket on 127.0.0.1:`port`, and the port it got. Plain syscalls:
// the Loop is for the I/O that waits.
int Listen(int port, int* bound_port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
      bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0 || listen(fd, 1) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
  }
  *bound_port = ntohs(addr.sin_port);
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  int port = argc > 1 ? ParsePort(argv[1]) : 0;
  if (argc > 2 || port < 0) {
    std::fprintf(stderr, "usage: %s [PORT]   (0 or none: any free port)\n", argv[0]);
    return 2;
  }

  absl::StatusOr<std::unique_ptr<ringloop::Loop>> loop = ringloop::Loop::Create();
  if (!loop.ok()) {
    std::fprintf(stderr, "echo: %s\n", std::string(loop.status().message()).c_str());
    return 1;
  }
  int bound_port = 0;
  int listener = Listen(port, &bound_port);
  if (listener < 0) {
    std::fprintf(stderr, "echo: listen on 127.0.0.1:%d: %s\n", port, std::strerror(errno));
    return 1;
  }
  std::printf("echo: listening on 127.0.0.1:%d\n", bound_port);
  std::fflush(stdout);

  EchoServer server(**loop, listener);
  server.Start();
  absl::Status run = (*loop)->RunUntilIdle();  // until both closes have completed
  // After a driver failure ops may be left: the Loop's destructor ends them and runs
  // their callbacks, so it runs here, while `server` is alive.
  loop->reset();
  absl::Status status = run.ok() ? server.status() : run;
  if (!status.ok()) {
    std::fprintf(stderr, "echo: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  return 0;
}
