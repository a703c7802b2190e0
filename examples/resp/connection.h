// examples/resp/connection.h: one client of the RESP server, as a sans-I/O state machine.
//
// The server reads bytes from the socket and hands them to Feed, writes Output() to
// the socket and reports what it wrote with ConsumeOutput. Feed runs every complete
// request the bytes finish, pipelined or not, in order, and appends all their replies
// to one output buffer, so one read costs one write. Time comes in with each call
// (now_ms, Unix ms); nothing here reads a clock or a socket.
//
//   for (;;) {                                       // the server's loop, in outline
//     if (!c.Output().empty()) c.ConsumeOutput(write(fd, c.Output()));
//     if (c.ShouldClose()) break;                    // close the socket
//     if (c.NeedsResume()) { c.Resume(now_ms()); continue; }
//     if (c.WantsRead()) { n = read(fd, buf); if (n == 0) break; c.Feed({buf, n}, now_ms()); }
//   }
//
// Backpressure: when the replies not yet written exceed max_output_bytes, Feed stops
// running requests (it keeps the rest of the input) and WantsRead() turns false: the
// server stops reading from this client until its output drains, then calls Resume,
// which runs the kept requests. Pending output is therefore at most max_output_bytes
// plus one reply, and kept input is at most what the server fed while WantsRead() was
// true, plus one incomplete request (RequestParser's limits bound it). Bytes fed while
// WantsRead() is false are kept, not run: a server that keeps reading then defeats the
// backpressure.
//
// Closing: after QUIT's "+OK", after a protocol error's "-ERR Protocol error: ..." and,
// without a reply, after a request over max_request_bytes (as Redis closes a client
// over its query buffer limit), the connection runs nothing more and discards further
// input; ShouldClose() turns true once the output is written.
//
// Threads: one thread at a time (the server's; the Store is shared between connections).
#ifndef EXAMPLES_RESP_CONNECTION_H_
#define EXAMPLES_RESP_CONNECTION_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "examples/common/client_stream.h"
#include "examples/resp/commands.h"
#include "examples/resp/request_parser.h"
#include "examples/resp/store.h"

namespace examples::resp {

// ConnectionLimits: the bounds of one client.
struct ConnectionLimits {
  ParserLimits parser;
  // max_output_bytes: pending replies above which requests stop running and the server
  // must stop reading (Redis leaves normal clients unlimited; an example server should
  // not hold a slow reader's replies without bound).
  size_t max_output_bytes = 4 * 1024 * 1024;
};

// CloseReason: why a connection is closing.
enum class CloseReason {
  kNone,             // open
  kQuit,             // the client sent QUIT
  kProtocolError,    // malformed request or over a limit; the error was replied
  kRequestTooLarge,  // a request over max_request_bytes; no reply
};

// Connection: one client (the ClientStream surface is the server loop's).
class Connection : public ClientStream {
 public:
  // Connection: client number `client_id` (CLIENT ID), over the shared `store`, which
  // must outlive it.
  Connection(Store* store, const ConnectionLimits& limits, int64_t client_id);

  // Feed: `bytes` read from the client; runs the requests they complete (see the file
  // comment for when it stops). Ignored once the connection is closing.
  void Feed(std::string_view bytes, int64_t now_ms) {
    Process(bytes, [&](std::string_view pending) { return Run(pending, now_ms); });
  }

  // Resume: runs the requests kept while the output was over its limit.
  void Resume(int64_t now_ms) { Feed({}, now_ms); }

  // close_reason: why the connection is closing, or kNone.
  CloseReason close_reason() const { return close_reason_; }

  // session: what the client's commands have set (name, library, id).
  const Session& session() const { return session_; }

 private:
  // Run: runs requests from the front of `pending`; returns the bytes it consumed.
  size_t Run(std::string_view pending, int64_t now_ms);
  void Close(CloseReason reason);

  Store* store_;
  ServerConfig config_;
  Session session_;
  RequestParser parser_;
  CloseReason close_reason_ = CloseReason::kNone;
};

}  // namespace examples::resp

#endif  // EXAMPLES_RESP_CONNECTION_H_
