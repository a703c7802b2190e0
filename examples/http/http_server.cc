// examples/http/http_server.cc: an HTTP/1.1 server on ringloop.
//
//   http_server [--port=8080] [--bind=127.0.0.1] [--driver=auto|uring|epoll]
//               [--threads=N] [--shutdown_grace=10s] [--idle_timeout=60s]
//               [--request_timeout=10s]
//
// Serves a fixed body at / and "ok" at /healthz (the routes are in
// examples/http/README.md), with keep-alive and pipelining: each read is answered by
// one write of every response it completes. A malformed request gets its error
// status (400, 413, 431, ...) and the connection closes after it. A keep-alive
// connection idle for --idle_timeout is closed, and so is one whose request head has
// not arrived --request_timeout after its first byte. SIGINT or SIGTERM stop
// accepting, let each connection finish its request, and exit 0
// (examples/server/run_server.h).
#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "examples/http/http_service.h"
#include "examples/server/run_server.h"

ABSL_FLAG(absl::Duration, idle_timeout, absl::Seconds(60),
          "close a keep-alive connection that sends no new request for this long");
ABSL_FLAG(absl::Duration, request_timeout, absl::Seconds(10),
          "close a connection whose request head is not complete this long after its first "
          "byte");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("an HTTP/1.1 server on ringloop (see examples/http/)");
  absl::ParseCommandLine(argc, argv);
  examples::http::HttpServiceOptions options;
  options.idle = absl::GetFlag(FLAGS_idle_timeout);
  options.request = absl::GetFlag(FLAGS_request_timeout);
  if (options.idle <= absl::ZeroDuration() || options.request <= absl::ZeroDuration()) {
    std::fprintf(stderr, "http_server: --idle_timeout and --request_timeout must be positive\n");
    return 1;
  }
  examples::http::HttpService service(options);
  return examples::server::RunServer(service, 8080);
}
