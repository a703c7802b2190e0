// examples/http/replay.h: a client's byte stream through an http::Connection, the way
// a server loop drives it, with the connection's bounds checked after every step.
//
// For tests and the fuzzer: Replay runs examples::Replay (examples/common/replay.h)
// over a fresh Connection and returns what the client saw. The same input must give
// the same Transcript however it is cut into reads and writes. After every call into
// the connection it checks (RL_CHECK) that pending output stays within
// max_output_bytes plus one response, and that while the connection wants to read it
// holds less than one head's limit (bodies are skipped, never held).
#ifndef EXAMPLES_HTTP_REPLAY_H_
#define EXAMPLES_HTTP_REPLAY_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "examples/http/connection.h"

namespace examples::http {

// Transcript: every response byte the client received, how many requests were
// answered, and why the server closed.
struct Transcript {
  std::string responses;
  uint64_t requests = 0;
  CloseReason close = CloseReason::kNone;
  bool operator==(const Transcript&) const = default;
};

// ReplayOptions: how the server loop cuts the streams.
struct ReplayOptions {
  ConnectionLimits limits;
  std::span<const size_t> read_sizes;  // cycled; empty: one read
  size_t write_size = 0;               // 0: all pending output at once
  int64_t now_ms = 1'700'000'000'000;
};

// kMaxResponseBytes: an upper bound on one response of this server.
inline constexpr size_t kMaxResponseBytes = 512;

// Replay: `input` through a fresh Connection (see the file comment).
Transcript Replay(std::string_view input, const ReplayOptions& options);

}  // namespace examples::http

#endif  // EXAMPLES_HTTP_REPLAY_H_
