// examples/echo/echo_server.cc: the TCP echo server of docs/getting-started.md.
//
// Usage: echo_server [PORT]   (default 0: the kernel picks a port)
// Prints "echo: listening on port N" to stderr, serves until SIGINT or SIGTERM, then
// stops accepting, lets the open connections finish, and exits 0.
// [START includes]
#include <csignal>
#include <cstdio>
#include <cstdlib>

#include "ringloop/runtime/scope.h"
#include "ringloop/runtime/signals.h"
#include "ringloop/runtime/tcp_listener.h"

namespace rl = ringloop;
// [END includes]

// [START echo]
// Echo: sends back what the client sends, until it hangs up.
rl::Task<void> Echo(rl::TcpStream conn) {
  char buf[4096];
  for (;;) {
    rl::Result n = co_await conn.Read(buf, sizeof(buf));
    if (!n.ok() || n.value() == 0) break;  // an error, or the client hung up
    if (!(co_await conn.WriteAll(buf, n.value())).ok()) break;
  }
  co_await conn.Close();
}
// [END echo]

// [START serve]
// Serve: accepts connections until SIGINT or SIGTERM, then lets them finish.
rl::Task<absl::Status> Serve(uint16_t port) {
  auto listener = co_await rl::TcpListener::Bind(rl::SocketAddress::Loopback(port));
  if (!listener.ok()) co_return listener.status();
  auto signals = rl::SignalSet::Create({SIGINT, SIGTERM});
  if (!signals.ok()) co_return signals.status();
  signals->OnSignal([&](int) { listener->Stop(); });  // Accept fails from then on
  std::fprintf(stderr, "echo: listening on port %d\n", listener->port());
  rl::Scope connections;
  for (;;) {
    auto conn = co_await listener->Accept();
    if (!conn.ok()) break;
    connections.Spawn(Echo(std::move(*conn)));
  }
  co_await connections.Join();
  co_return absl::OkStatus();
}
// [END serve]

// [START main]
int main(int argc, char** argv) {
  auto loop = rl::Loop::Create();  // io_uring, else epoll; prints which and why
  absl::Status status =
      loop.ok() ? (*loop)->BlockOn(Serve(argc > 1 ? std::atoi(argv[1]) : 0)) : loop.status();
  if (!status.ok()) std::fprintf(stderr, "echo: %s\n", status.ToString().c_str());
  return status.ok() ? 0 : 1;
}
// [END main]
