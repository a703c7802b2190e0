// examples/http/connection.h: one HTTP/1.x client, as a sans-I/O state machine.
//
// The same contract as examples/resp/connection.h: the server feeds what it reads
// (Feed), writes Output() and reports it (ConsumeOutput), and calls Resume when the
// output has drained after backpressure; the time comes in with each call. Feed
// answers every request the bytes complete, pipelined or not, in order, into one
// output buffer. Nothing here reads a clock or a socket.
//
//   for (;;) {                                       // the server's loop, in outline
//     if (!c.Output().empty()) c.ConsumeOutput(write(fd, c.Output()));
//     if (c.ShouldClose()) break;                    // shutdown(SHUT_WR), drain, close
//     if (c.NeedsResume()) { c.Resume(now_ms()); continue; }
//     if (c.WantsRead()) { n = read(fd, buf); if (n == 0) break; c.Feed({buf, n}, now_ms()); }
//   }
//
// Persistence (RFC 9112 section 9.3): an HTTP/1.1 connection stays open unless the
// request says "Connection: close"; an HTTP/1.0 one closes unless it says
// "Connection: keep-alive", which the response then echoes. A response that ends the
// connection says "Connection: close", and nothing after that request is answered.
// Malformed or oversized requests get their error status (request_parser.h) with
// "Connection: close". A request body (Content-Length) is skipped as it arrives, never
// held. A request with "Expect: 100-continue" and a body is answered at once and the
// connection closes, since the client may or may not then send the body.
//
// Bounds: pending output is at most max_output_bytes plus one response; while the
// connection wants to read, it holds at most one incomplete request head
// (ParserLimits::max_head_bytes). Bytes fed while WantsRead() is false are kept.
//
// Threads: one thread at a time (the server's).
#ifndef EXAMPLES_HTTP_CONNECTION_H_
#define EXAMPLES_HTTP_CONNECTION_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "examples/common/client_stream.h"
#include "examples/http/request_parser.h"
#include "examples/http/response.h"

namespace examples::http {

// ConnectionLimits: the bounds of one client.
struct ConnectionLimits {
  ParserLimits parser;
  // max_output_bytes: pending responses above which requests stop being answered and
  // the server must stop reading.
  size_t max_output_bytes = 1024 * 1024;
};

// CloseReason: why a connection is closing.
enum class CloseReason {
  kNone,           // open
  kNotPersistent,  // "Connection: close", HTTP/1.0 without keep-alive, or Expect with a body
  kBadRequest,     // a request the parser refused; its error status was answered
};

// Connection: one client (the ClientStream surface is the server loop's).
class Connection : public ClientStream {
 public:
  explicit Connection(const ConnectionLimits& limits);

  // Feed: `bytes` read from the client; answers the requests they complete. Ignored
  // once the connection is closing.
  void Feed(std::string_view bytes, int64_t now_ms) {
    Process(bytes, [&](std::string_view pending) { return Run(pending, now_ms); });
  }

  // Resume: answers the requests kept while the output was over its limit.
  void Resume(int64_t now_ms) { Feed({}, now_ms); }

  // close_reason: why the connection is closing, or kNone.
  CloseReason close_reason() const { return close_reason_; }

  // requests: requests answered so far (error answers included).
  uint64_t requests() const { return requests_; }

 private:
  size_t Run(std::string_view pending, int64_t now_ms);
  void Close(CloseReason reason);

  RequestParser parser_;
  DateCache date_;
  uint64_t body_left_ = 0;  // bytes of the current request's body still to skip
  uint64_t requests_ = 0;
  CloseReason close_reason_ = CloseReason::kNone;
};

}  // namespace examples::http

#endif  // EXAMPLES_HTTP_CONNECTION_H_
