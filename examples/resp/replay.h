// examples/resp/replay.h: a client's byte stream through a Connection, the way a
// server loop drives it, with the connection's bounds checked after every step.
//
// For tests and the fuzzer: Replay runs examples::Replay (examples/common/replay.h)
// over a fresh Connection and Store, optionally sweeping expired keys after each read,
// and returns what the client saw. The same input must give the same Transcript
// however it is cut into reads and writes. After every call into the connection it checks
// (RL_CHECK) that the pending output stays within max_output_bytes plus one reply (MaxReplyBytes),
// and that while the connection wants to read, what it keeps is one incomplete
// request within the parser's limits.
#ifndef EXAMPLES_RESP_REPLAY_H_
#define EXAMPLES_RESP_REPLAY_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "examples/resp/connection.h"

namespace examples::resp {

// Transcript: every reply byte the client received, and why the server closed.
struct Transcript {
  std::string replies;
  CloseReason close = CloseReason::kNone;
  bool operator==(const Transcript&) const = default;
};

// ReplayOptions: how the server loop cuts the streams.
struct ReplayOptions {
  ConnectionLimits limits;
  // read_sizes: sizes of successive reads, cycled (zeros are skipped); empty: one read.
  std::span<const size_t> read_sizes;
  // write_size: bytes written per write; 0: all pending output at once.
  size_t write_size = 0;
  // sweep_budget: ActiveExpire budget after each read; 0: never sweep.
  size_t sweep_budget = 0;
  int64_t now_ms = 1'700'000'000'000;
};

// MaxReplyBytes: an upper bound on one reply under `limits` (MGET of as many keys as a
// request can name, each holding the longest value; error replies quote less).
size_t MaxReplyBytes(const ConnectionLimits& limits);

// Replay: `input` through a fresh Connection over a fresh Store (see the file comment).
Transcript Replay(std::string_view input, const ReplayOptions& options);

}  // namespace examples::resp

#endif  // EXAMPLES_RESP_REPLAY_H_
