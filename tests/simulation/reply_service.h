// tests/simulation/reply_service.h: a tiny request/reply service, in a correct and a
// buggy variant, to show what the simulator finds that a loopback test does not.
//
// Protocol: the client sends a 4-byte little-endian length n (at most
// kMaxReply); the server answers with n bytes (byte i is 'a' + i % 26) and
// closes the connection.
//
// The buggy variant (ReplyOptions::ignore_short_writes) sends the answer with
// one send(2) and ignores how much it took. On loopback a send of a few KiB
// always takes everything, so a loopback test passes; a kernel may take less
// (memory pressure, a signal), and then the client gets a truncated answer.
#ifndef TESTS_SIMULATION_REPLY_SERVICE_H_
#define TESTS_SIMULATION_REPLY_SERVICE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "ringloop/runtime/address.h"
#include "ringloop/runtime/task.h"
#include "ringloop/runtime/tcp_listener.h"

namespace ringloop::demo {

// kMaxReply: the largest answer the server gives.
inline constexpr uint32_t kMaxReply = 1 << 16;

// ReplyOptions: the server's variant.
struct ReplyOptions {
  bool ignore_short_writes = false;  // the planted bug (see the file comment)
};

// ServeConnections: accepts `count` connections on `listener`, answering each
// in turn; returns the first error.
Task<absl::Status> ServeConnections(TcpListener& listener, int count, ReplyOptions options);

// Fetch: connects to `address`, asks for `n` bytes and returns everything
// the server sent before it closed.
Task<absl::StatusOr<std::string>> Fetch(SocketAddress address, uint32_t n);

// Expected: the answer to a request for `n` bytes.
std::string Expected(uint32_t n);

}  // namespace ringloop::demo

#endif  // TESTS_SIMULATION_REPLY_SERVICE_H_
