// examples/server/server.h: the part of an example server that is not its protocol:
// accepting on a listener, one task per connection, periodic work, and the drain at
// shutdown.
//
// A server is a Service (its protocol) served on one or more loops. On each loop,
// ServeListener accepts connections on that loop's listener and spawns
// service.Serve(connection) for each, runs service.Background (periodic work such as
// RESP's active expiry) and, when the service has timeouts, a sweep of the loop's
// ConnectionSet (connection_set.h). A LoopControl is how the outside stops it:
// Drain stops accepting, lets every connection finish the request it is in, and
// ServeListener returns once the last connection has closed and the background work
// has been cancelled and has ended.
//
// run_server.h runs this on a LoopGroup with a signal handler; tests run it on one
// Loop (also on the simulated kernel).
//
// Threads: everything here on the loop's thread.
#ifndef EXAMPLES_SERVER_SERVER_H_
#define EXAMPLES_SERVER_SERVER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>

#include "examples/server/connection_set.h"
#include "examples/server/unix_clock.h"
#include "ringloop/runtime/loop.h"
#include "ringloop/runtime/scope.h"
#include "ringloop/runtime/task.h"
#include "ringloop/runtime/tcp_listener.h"
#include "ringloop/runtime/tcp_stream.h"

namespace examples::server {

// LoopContext: what a service's tasks on one loop share: the loop, its index in the
// group, its connections and the Unix clock.
class LoopContext {
 public:
  // LoopContext: on `loop` (number `index`), with `timeouts` for its connections and a
  // Unix clock anchored at the real time (or at `unix_ms_now`, for tests).
  LoopContext(ringloop::Loop& loop, size_t index, const StreamTimeouts& timeouts,
              std::optional<int64_t> unix_ms_now = std::nullopt);

  ringloop::Loop& loop() const { return *loop_; }
  size_t index() const { return index_; }
  ConnectionSet& connections() { return connections_; }
  const UnixClock& clock() const { return clock_; }

 private:
  ringloop::Loop* loop_;
  size_t index_;
  ConnectionSet connections_;
  UnixClock clock_;
};

// Service: a protocol served by ServeListener.
class Service {
 public:
  virtual ~Service() = default;
  // name: the program's name, for messages ("resp_server").
  virtual const char* name() const = 0;
  // timeouts: the read deadlines of its connections (none by default).
  virtual StreamTimeouts timeouts() const { return {}; }
  // Serve: serves one connection until it closes (and closes it).
  virtual ringloop::Task<void> Serve(ringloop::TcpStream stream, LoopContext& context) = 0;
  // Background: work the loop runs besides its connections until cancelled (nothing
  // by default).
  virtual ringloop::Task<void> Background(LoopContext& context);
};

// LoopControl: stops one loop's ServeListener from outside it (but on its thread).
class LoopControl {
 public:
  LoopControl() = default;
  LoopControl(const LoopControl&) = delete;
  LoopControl& operator=(const LoopControl&) = delete;

  // Drain: stop accepting and stop each connection at its next request boundary
  // (connection_set.h). Before ServeListener starts, it drains as soon as it does.
  // Idempotent.
  void Drain();
  // finished: ServeListener has returned.
  bool finished() const { return finished_; }
  // on_finished: called (on the loop's thread) when ServeListener returns.
  std::function<void()> on_finished;
  // unix_ms_now: fixes the Unix clock's start (tests); unset: the real time.
  std::optional<int64_t> unix_ms_now;

 private:
  friend ringloop::Task<void> ServeListener(ringloop::TcpListener, Service&, LoopControl&, size_t);
  bool drain_ = false;
  bool finished_ = false;
  ringloop::Scope* accepting_ = nullptr;  // while ServeListener accepts
  LoopContext* context_ = nullptr;        // while ServeListener runs
};

// ServeListener: serves `service` on the connections `listener` accepts, on the
// running task's loop (number `index` of its group), until `control` drains it (see
// the file comment).
ringloop::Task<void> ServeListener(ringloop::TcpListener listener, Service& service,
                                   LoopControl& control, size_t index = 0);

}  // namespace examples::server

#endif  // EXAMPLES_SERVER_SERVER_H_
