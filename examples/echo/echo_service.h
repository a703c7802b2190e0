// examples/echo/echo_service.h: EchoService, the echo protocol for the full echo server
// (echo_server_full.cc): every byte a client sends comes back, in order.
//
// EchoConnection is the protocol core in the shape of the RESP and HTTP cores
// (examples/common/client_stream.h), so that the same server loop serves it
// (examples/server/stream_server.h): what a read brings is the reply, written back
// before the next read. A client that sends without reading is therefore not read
// from once its socket buffers are full: the server holds at most one read.
//
// Threads: a service is shared by the loops of a group; a connection belongs to one.
#ifndef EXAMPLES_ECHO_ECHO_SERVICE_H_
#define EXAMPLES_ECHO_ECHO_SERVICE_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "examples/common/client_stream.h"
#include "examples/server/server.h"

namespace examples::echo {

// EchoConnection: one client of the echo server.
class EchoConnection : public ClientStream {
 public:
  // kMaxOutputBytes: echoed bytes not yet written above which reading stops.
  static constexpr size_t kMaxOutputBytes = 64 * 1024;

  EchoConnection() : ClientStream(kMaxOutputBytes) {}

  // Feed: `bytes` read from the client become output.
  void Feed(std::string_view bytes, int64_t /*now_ms*/) {
    Process(bytes, [this](std::string_view pending) -> size_t {
      if (OutputOverLimit()) {
        Pause();
        return 0;
      }
      out()->append(pending);
      return pending.size();
    });
  }
  // Resume: echoes what was kept while the output was over its limit.
  void Resume(int64_t now_ms) { Feed({}, now_ms); }
};

// EchoService: see the file comment.
class EchoService final : public server::Service {
 public:
  using Connection = EchoConnection;

  const char* name() const override { return "echo_server_full"; }
  ringloop::Task<void> Serve(ringloop::TcpStream stream, server::LoopContext& context) override;

  // The protocol ServeClientStream drives.
  Connection Make() { return Connection(); }
  void Feed(Connection& c, std::string_view bytes, int64_t now_ms) { c.Feed(bytes, now_ms); }
  void Resume(Connection& c, int64_t now_ms) { c.Resume(now_ms); }
};

}  // namespace examples::echo

#endif  // EXAMPLES_ECHO_ECHO_SERVICE_H_
