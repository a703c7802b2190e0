// examples/common/client_stream.h: the byte-stream side of one client connection, shared
// by the protocol cores: buffers, backpressure and closing.
//
// A protocol connection (examples::resp::Connection, examples::http::Connection)
// derives from ClientStream, so a server loop sees the same surface for either:
// Output/ConsumeOutput for writing, WantsRead/NeedsResume for when to read or resume,
// ShouldClose for when to close. The protocol runs its requests inside Process and
// calls Pause when the output passes its limit with input left, and MarkClosing once
// it will answer nothing more; from then on input is dropped, and ShouldClose turns
// true once the output is written.
//
// Threads: one thread at a time (the server's).
#ifndef EXAMPLES_COMMON_CLIENT_STREAM_H_
#define EXAMPLES_COMMON_CLIENT_STREAM_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

#include "examples/common/buffers.h"
#include "ringloop/core/check.h"

namespace examples {

// ClientStream: the buffers, backpressure and close state of one client (see above).
class ClientStream {
 public:
  // Output: bytes not yet written (valid until the next call into the connection).
  std::string_view Output() const { return output_.Pending(); }

  // ConsumeOutput: the first `n` bytes of Output() were written. Requires n <= size.
  void ConsumeOutput(size_t n) { output_.Consume(n); }

  // WantsRead: the server may read from the client: open, not over the output limit,
  // and no kept request waiting for Resume.
  bool WantsRead() const { return !closing_ && !paused_ && !OutputOverLimit(); }

  // NeedsResume: requests are kept and the output has drained to its limit: the
  // server calls the connection's Resume before reading again.
  bool NeedsResume() const { return !closing_ && paused_ && !OutputOverLimit(); }

  // Closing: the connection will answer nothing more.
  bool Closing() const { return closing_; }

  // ShouldClose: closing, and every byte is written: close the socket now.
  bool ShouldClose() const { return closing_ && output_.size() == 0; }

  // buffered_input: bytes fed but not yet run (an incomplete request, or kept ones).
  size_t buffered_input() const { return input_.size(); }

 protected:
  // ClientStream: a stream that pauses above `max_output_bytes` of unwritten output.
  explicit ClientStream(size_t max_output_bytes) : max_output_bytes_(max_output_bytes) {}

  // Process: unless closing, runs `run(std::string_view pending) -> size_t consumed`
  // over the kept input followed by `bytes` (InputBuffer::Process), and keeps what it
  // leaves; input is dropped once closing.
  template <class Run>
  void Process(std::string_view bytes, Run&& run) {
    if (closing_) return;
    paused_ = false;
    input_.Process(bytes, std::forward<Run>(run));
    if (closing_) input_.Clear();
  }

  // OutputOverLimit: the unwritten output passed max_output_bytes: run no more.
  bool OutputOverLimit() const { return output_.size() > max_output_bytes_; }

  // Pause: run stopped at the output limit with input left.
  void Pause() {
    RL_CHECK(OutputOverLimit());
    paused_ = true;
  }

  // MarkClosing: nothing more will be answered.
  void MarkClosing() {
    RL_CHECK(!closing_);
    closing_ = true;
    paused_ = false;
  }

  // out: where responses are appended.
  std::string* out() { return output_.sink(); }

 private:
  size_t max_output_bytes_;
  InputBuffer input_;
  OutputBuffer output_;
  bool paused_ = false;
  bool closing_ = false;
};

}  // namespace examples

#endif  // EXAMPLES_COMMON_CLIENT_STREAM_H_
