// ringloop/runtime/group_listener.h: ListenOnEachLoop, one listening socket per
// loop of a LoopGroup on one address (SO_REUSEPORT).
//
//   absl::StatusOr<uint16_t> port = ListenOnEachLoop(
//       group, SocketAddress::Any(8080), [](TcpListener listener) -> Task<void> {
//         Scope connections;
//         for (;;) {
//           absl::StatusOr<TcpStream> conn = co_await listener.Accept();
//           if (!conn.ok()) break;
//           connections.Spawn(Serve(std::move(*conn)));
//         }
//         co_await connections.Join();
//       });
//
// Each loop gets its own listener, bound with SO_REUSEPORT to the same
// address, and the kernel spreads incoming connections over them (by a hash
// of each connection's addresses and ports), so each connection is accepted,
// served and closed on one loop's thread, with no hand-off between threads.
// With port 0 the first listener picks an ephemeral port and the others bind
// that one. `serve(listener)` then runs as a task spawned on each loop
// (LoopGroup::Spawn): the group's Stop cancels it.
//
// Needs the real kernels (the simulated kernel has no SO_REUSEPORT).
//
// Threads: from a thread outside the group (it waits for each bind).
#ifndef RINGLOOP_RUNTIME_GROUP_LISTENER_H_
#define RINGLOOP_RUNTIME_GROUP_LISTENER_H_

#include <cstdint>
#include <functional>

#include "absl/status/statusor.h"
#include "ringloop/runtime/address.h"
#include "ringloop/runtime/loop_group.h"
#include "ringloop/runtime/task.h"
#include "ringloop/runtime/tcp_listener.h"

namespace ringloop {

// ListenOnEachLoop: see the file comment. Returns the port; if a bind fails,
// the listeners bound so far are closed and the error (naming the loop) is
// returned. `options.reuse_port` is forced on.
absl::StatusOr<uint16_t> ListenOnEachLoop(LoopGroup& group, SocketAddress address,
                                          std::function<Task<void>(TcpListener)> serve,
                                          ListenOptions options = ListenOptions());

}  // namespace ringloop

#endif  // RINGLOOP_RUNTIME_GROUP_LISTENER_H_
