// examples/echo/echo_service.cc: the echo protocol over the shared server loop.
#include "examples/echo/echo_service.h"

#include <utility>

#include "examples/server/stream_server.h"

namespace examples::echo {

ringloop::Task<void> EchoService::Serve(ringloop::TcpStream stream, server::LoopContext& context) {
  return server::ServeClientStream(std::move(stream), context, *this);
}

}  // namespace examples::echo
