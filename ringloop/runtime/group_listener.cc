// ringloop/runtime/group_listener.cc: a SO_REUSEPORT listener on every loop.
#include "ringloop/runtime/group_listener.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ringloop/runtime/result.h"

namespace ringloop {

absl::StatusOr<uint16_t> ListenOnEachLoop(LoopGroup& group, SocketAddress address,
                                          std::function<Task<void>(TcpListener)> serve,
                                          ListenOptions options) {
  options.reuse_port = true;
  std::vector<TcpListener> listeners;
  for (size_t i = 0; i < group.size(); ++i) {
    absl::StatusOr<TcpListener> bound = group.BlockOn(i, TcpListener::Bind(address, options));
    if (!bound.ok()) {
      // Each listener is closed on its own loop.
      for (size_t j = 0; j < listeners.size(); ++j) {
        group.Post(j, [l = std::move(listeners[j])]() mutable { l.Stop(); });
      }
      return WithContext(bound.status(), absl::StrCat("loop ", i, " of ", group.size()));
    }
    if (i == 0) address.set_port(bound->port());  // the others share its port
    listeners.push_back(std::move(*bound));
  }
  for (size_t i = 0; i < listeners.size(); ++i) {
    group.Spawn(i, serve(std::move(listeners[i])));
  }
  return address.port();
}

}  // namespace ringloop
