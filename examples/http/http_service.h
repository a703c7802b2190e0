// examples/http/http_service.h: HttpService, the HTTP/1.1 protocol (connection.h) as a
// server::Service, for http_server.cc.
//
// Connections have two deadlines (examples/server/connection_set.h): a keep-alive
// connection is closed after `idle` without a new request, and a request whose head
// has begun to arrive must be complete within `request` (a client that trickles its
// head cannot hold the connection longer; it holds at most max_head_bytes meanwhile).
//
// Threads: the service is shared by the group's loops (it holds only options); a
// Connection belongs to the loop of its connection.
#ifndef EXAMPLES_HTTP_HTTP_SERVICE_H_
#define EXAMPLES_HTTP_HTTP_SERVICE_H_

#include <cstdint>
#include <string_view>

#include "absl/time/time.h"
#include "examples/http/connection.h"
#include "examples/server/server.h"

namespace examples::http {

// HttpServiceOptions: how the service runs.
struct HttpServiceOptions {
  ConnectionLimits limits;
  // idle: how long a keep-alive connection may wait for its next request.
  absl::Duration idle = absl::Seconds(60);
  // request: how long a request head may take to arrive, from its first byte.
  absl::Duration request = absl::Seconds(10);
};

// HttpService: see the file comment.
class HttpService final : public server::Service {
 public:
  using Connection = http::Connection;

  explicit HttpService(const HttpServiceOptions& options) : options_(options) {}

  const char* name() const override { return "http_server"; }
  server::StreamTimeouts timeouts() const override { return {options_.idle, options_.request}; }
  ringloop::Task<void> Serve(ringloop::TcpStream stream, server::LoopContext& context) override;

  // The protocol ServeClientStream drives.
  Connection Make() { return Connection(options_.limits); }
  void Feed(Connection& c, std::string_view bytes, int64_t now_ms) { c.Feed(bytes, now_ms); }
  void Resume(Connection& c, int64_t now_ms) { c.Resume(now_ms); }

 private:
  const HttpServiceOptions options_;
};

}  // namespace examples::http

#endif  // EXAMPLES_HTTP_HTTP_SERVICE_H_
