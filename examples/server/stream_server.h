// examples/server/stream_server.h: ServeClientStream, the server loop of one connection
// over a sans-I/O protocol core (examples/common/client_stream.h).
//
// The loop the cores' headers spell out, as one task per connection:
//
//   write the pending output (all of it), then
//   close if the protocol is done (after a lingering close, below), else
//   resume kept requests if the output has drained, else
//   read once (up to 16 KiB) and feed the bytes in.
//
// So every read is answered by one write of all its replies, and while replies are
// waiting to be written nothing is read: a client that sends without reading fills
// its socket buffers, then the protocol's output limit, and then is simply not read
// from (the protocol's WantsRead) until it reads. The read buffer lives in the task's
// frame, the protocol's buffers keep their storage between requests, and no timer is
// armed per read (connection_set.h keeps the deadlines), so a steady stream of
// requests allocates nothing.
//
// Closing: when the server closes first (the protocol closed the connection after
// QUIT, "Connection: close" or a malformed request; a timeout passed; the server is
// draining), the last replies are written, then the sending side is shut and what
// the client still sends is read and dropped for at most kLingerTime (and
// kLingerBytes): closing a socket with unread input makes Linux send a reset, which
// throws away replies still in the socket's send queue. When the client closes or an
// error occurs, the socket is closed at once.
//
// A Protocol has:
//   using Connection = ...;  // the core's connection (a ClientStream)
//   Connection Make();
//   void Feed(Connection&, std::string_view bytes, int64_t now_ms);
//   void Resume(Connection&, int64_t now_ms);
//
// Threads: the loop's thread, in a task.
#ifndef EXAMPLES_SERVER_STREAM_SERVER_H_
#define EXAMPLES_SERVER_STREAM_SERVER_H_

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "absl/time/time.h"
#include "examples/server/connection_set.h"
#include "examples/server/server.h"
#include "ringloop/core/check.h"
#include "ringloop/runtime/result.h"
#include "ringloop/runtime/task.h"
#include "ringloop/runtime/tcp_stream.h"

namespace examples::server {

// kReadBytes: the most one read takes.
inline constexpr size_t kReadBytes = 16 * 1024;
// kLingerTime / kLingerBytes: how long, and how much, a closing connection reads and
// drops after shutting its sending side. The byte bound is large: a client that sent
// without reading can have megabytes in the two sockets' buffers (loopback autotunes
// them to several MiB), and leaving any of it unread resets the connection; the time
// bound is what limits the work.
inline constexpr absl::Duration kLingerTime = absl::Seconds(2);
inline constexpr size_t kLingerBytes = 64 << 20;

// ServeClientStream: see the file comment.
template <class Protocol>
ringloop::Task<void> ServeClientStream(ringloop::TcpStream stream, LoopContext& context,
                                       Protocol& protocol) {
  typename Protocol::Connection c = protocol.Make();
  ConnectionEntry entry(context.connections(), stream.fd());
  const ringloop::Loop& loop = context.loop();
  char buf[kReadBytes];
  bool stop = false;    // a request passed its deadline
  bool linger = false;  // the server closes first: a lingering close
  for (;;) {
    if (!c.Output().empty()) {
      const std::string_view out = c.Output();
      const ringloop::Result w = co_await stream.WriteAll(out.data(), out.size());
      if (!w.ok()) break;  // the client left
      c.ConsumeOutput(out.size());
      continue;
    }
    if (c.ShouldClose()) {
      linger = true;
      break;
    }
    if (c.NeedsResume()) {
      protocol.Resume(c, context.clock().NowMs());
      stop = !entry.AfterFeed(c.WantsRead() && c.buffered_input() > 0, loop.NowNs());
      continue;
    }
    RL_CHECK(c.WantsRead());
    if (stop || entry.ShouldStop()) {
      linger = true;
      break;
    }
    entry.BeginRead(loop.NowNs());
    const ringloop::Result n = co_await stream.Read(buf, sizeof(buf));
    entry.EndRead();
    if (!n.ok() || n.value() == 0) break;  // an error, or the client closed
    protocol.Feed(c, std::string_view(buf, size_t(n.value())), context.clock().NowMs());
    // A request is partly received when the protocol kept input and still wants more
    // (kept input while it does not want to read is whole requests held back).
    stop = !entry.AfterFeed(c.WantsRead() && c.buffered_input() > 0, loop.NowNs());
  }
  if (linger) {
    const ringloop::Result shut = co_await stream.Shutdown(SHUT_WR);
    const uint64_t end_ns = loop.NowNs() + uint64_t(absl::ToInt64Nanoseconds(kLingerTime));
    for (size_t dropped = 0; shut.ok() && dropped < kLingerBytes && loop.NowNs() < end_ns;) {
      const ringloop::Result n =
          co_await stream.Read(buf, sizeof(buf), absl::Nanoseconds(end_ns - loop.NowNs()));
      if (!n.ok() || n.value() == 0) break;
      dropped += size_t(n.value());
    }
  }
  co_await stream.Close();
}

}  // namespace examples::server

#endif  // EXAMPLES_SERVER_STREAM_SERVER_H_
