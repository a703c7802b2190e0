// examples/server/run_server.h: RunServer, the main program of an example server.
//
//   resp_server [--port=N] [--bind=ADDR] [--driver=auto|uring|epoll] [--threads=N]
//               [--shutdown_grace=10s]
//
// RunServer blocks SIGINT and SIGTERM (before any thread starts, so that every thread
// inherits the mask), makes a LoopGroup of --threads loops (ringloop/runtime/
// loop_group.h; the first loop prints which driver it chose and why), binds one
// SO_REUSEPORT listener per loop (ListenOnEachLoop) and serves the Service on each
// (server.h). It prints "NAME: listening on ADDR:PORT (...)" to stderr once every
// listener is bound.
//
// Shutdown: the first SIGINT or SIGTERM, read through loop 0 (a SignalSet), drains
// every loop: no new connection is accepted, each connection finishes the request it
// is in and closes, and the background work ends. RunServer then stops the group
// and returns 0. A connection still open --shutdown_grace after the signal (a client
// that does not read its replies, a request that never completes) is cancelled, and
// closed through the loop, when the group stops.
//
// The flags are absl flags: main calls absl::ParseCommandLine first.
#ifndef EXAMPLES_SERVER_RUN_SERVER_H_
#define EXAMPLES_SERVER_RUN_SERVER_H_

#include <cstdint>

#include "examples/server/server.h"

namespace examples::server {

// RunServer: see the file comment. `default_port` is used when --port is not given.
// Returns the process's exit status: 0 after a clean shutdown, 1 if it could not start.
int RunServer(Service& service, uint16_t default_port);

}  // namespace examples::server

#endif  // EXAMPLES_SERVER_RUN_SERVER_H_
