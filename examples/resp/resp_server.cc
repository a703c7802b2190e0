// examples/resp/resp_server.cc: a Redis-compatible (RESP2) key-value server on ringloop.
//
//   resp_server [--port=6379] [--bind=127.0.0.1] [--driver=auto|uring|epoll]
//               [--threads=N] [--shutdown_grace=10s] [--max_output=4194304]
//
// Real Redis clients work with it (redis-cli, redis-benchmark -t
// ping,set,get,incr,mset; the commands are in examples/resp/README.md). Each read
// runs every request it completes and their replies go out in one write; a client
// that sends without reading is not read from while --max_output bytes of its
// replies wait; keys with a TTL expire on time (lazily, and actively every 100 ms).
// A malformed request gets Redis's -ERR and its connection is closed. SIGINT or
// SIGTERM stop accepting, let each connection finish its request, and exit 0
// (examples/server/run_server.h).
#include <cstdint>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "examples/resp/resp_service.h"
#include "examples/server/run_server.h"

ABSL_FLAG(uint64_t, max_output, 4 * 1024 * 1024,
          "bytes of replies a client may leave unread before the server stops reading from it");

// Read by RunServer; the service locks its store when there are several loops.
ABSL_DECLARE_FLAG(int, threads);

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("a RESP2 (Redis protocol) key-value server on ringloop");
  absl::ParseCommandLine(argc, argv);
  examples::resp::RespServiceOptions options;
  options.limits.max_output_bytes = absl::GetFlag(FLAGS_max_output);
  options.locked = absl::GetFlag(FLAGS_threads) != 1;
  examples::resp::RespService service(options);
  return examples::server::RunServer(service, 6379);
}
