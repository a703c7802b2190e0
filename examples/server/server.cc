// examples/server/server.cc: the accept loop, the sweep and the drain of one loop.
#include "examples/server/server.h"

#include <cstdio>
#include <utility>

#include "absl/status/status.h"
#include "ringloop/runtime/io.h"
#include "ringloop/runtime/scope.h"

namespace examples::server {
namespace {

// Sweeper: runs the connections' sweep every sweep_period until cancelled.
ringloop::Task<void> Sweeper(LoopContext& context) {
  const absl::Duration period = context.connections().sweep_period();
  for (;;) {
    if (!(co_await ringloop::Sleep(period)).ok()) co_return;  // cancelled
    context.connections().Sweep(context.loop().NowNs());
  }
}

}  // namespace

LoopContext::LoopContext(ringloop::Loop& loop, size_t index, const StreamTimeouts& timeouts,
                         std::optional<int64_t> unix_ms_now)
    : loop_(&loop),
      index_(index),
      connections_(loop, timeouts),
      clock_(unix_ms_now ? UnixClock(loop, *unix_ms_now) : UnixClock(loop)) {}

ringloop::Task<void> Service::Background(LoopContext&) { co_return; }

void LoopControl::Drain() {
  drain_ = true;
  if (accepting_ != nullptr) accepting_->Cancel();  // the Accept waiting fails: kCancelled
  if (context_ != nullptr) context_->connections().Drain();
}

namespace {

// AcceptLoop: accepts on `listener` and spawns service.Serve for each connection in
// `connections`, until cancelled (the drain) or the listener stops.
ringloop::Task<void> AcceptLoop(ringloop::TcpListener& listener, Service& service,
                                LoopContext& context, ringloop::Scope& connections) {
  uint64_t accept_errors = 0;
  for (;;) {
    absl::StatusOr<ringloop::TcpStream> conn = co_await listener.Accept();
    if (conn.ok()) {
      connections.Spawn(service.Serve(std::move(*conn), context));
      continue;
    }
    if (conn.status().code() == absl::StatusCode::kCancelled) co_return;  // drained
    // Out of fds (EMFILE, ENFILE) or memory: say so (the first time), wait a little for
    // connections to close, and accept again.
    if (accept_errors++ == 0) {
      std::fprintf(stderr, "%s: %s (retrying every 100 ms)\n", service.name(),
                   conn.status().ToString().c_str());
    }
    if (!(co_await ringloop::Sleep(absl::Milliseconds(100))).ok()) co_return;
  }
}

}  // namespace

ringloop::Task<void> ServeListener(ringloop::TcpListener listener, Service& service,
                                   LoopControl& control, size_t index) {
  LoopContext context(*ringloop::Loop::Current(), index, service.timeouts(), control.unix_ms_now);
  // The accept loop runs in its own scope, which the drain cancels: the listening
  // socket stays ours, so that it is closed (not only asked to close) before finished().
  ringloop::Scope accepting;
  control.accepting_ = &accepting;
  control.context_ = &context;
  if (control.drain_) control.Drain();
  ringloop::Scope background;
  background.Spawn(service.Background(context));
  if (context.connections().sweep_period() != absl::InfiniteDuration()) {
    background.Spawn(Sweeper(context));
  }
  ringloop::Scope connections;
  accepting.Spawn(AcceptLoop(listener, service, context, connections));
  co_await accepting.Join();
  control.accepting_ = nullptr;
  // A restarted server can bind the port at once, and no fd outlives the drain.
  (void)co_await listener.Close();
  co_await connections.Join();
  background.Cancel();
  co_await background.Join();
  control.context_ = nullptr;
  control.finished_ = true;
  if (control.on_finished) control.on_finished();
}

}  // namespace examples::server
