// examples/http/http_service.cc: the HTTP core over the shared server loop.
#include "examples/http/http_service.h"

#include <utility>

#include "examples/server/stream_server.h"

namespace examples::http {

ringloop::Task<void> HttpService::Serve(ringloop::TcpStream stream, server::LoopContext& context) {
  return server::ServeClientStream(std::move(stream), context, *this);
}

}  // namespace examples::http
