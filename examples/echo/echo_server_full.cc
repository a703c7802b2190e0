// examples/echo/echo_server_full.cc: the TCP echo server with everything a real server
// needs, beside the minimal one of docs/getting-started.md (echo_server.cc):
//
//   echo_server_full [--port=7007] [--bind=127.0.0.1] [--driver=auto|uring|epoll]
//                    [--threads=N] [--shutdown_grace=10s]
//
// One loop per thread, each with its own SO_REUSEPORT listener; every read is echoed
// by one write before the next read (a client that does not read stops being read);
// SIGINT or SIGTERM stop accepting, let each connection write back what it has read,
// close, and exit 0 (examples/server/run_server.h).
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "examples/echo/echo_service.h"
#include "examples/server/run_server.h"

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("a TCP echo server on ringloop (see examples/echo/)");
  absl::ParseCommandLine(argc, argv);
  examples::echo::EchoService service;
  return examples::server::RunServer(service, 7007);
}
