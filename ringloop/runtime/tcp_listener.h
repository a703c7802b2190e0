// ringloop/runtime/tcp_listener.h: TcpListener, a listening TCP socket and its
// accept queue.
//
//   absl::StatusOr<TcpListener> listener =
//       co_await TcpListener::Bind(SocketAddress::Loopback(0));  // port 0: ephemeral
//   std::printf("port %d\n", listener->port());
//   for (;;) {
//     absl::StatusOr<TcpStream> conn = co_await listener->Accept();
//     if (!conn.ok()) break;  // Stop() was called, the task was cancelled, EMFILE, ...
//     scope.Spawn(Serve(std::move(*conn)));
//   }
//
// Bind makes the socket through the loop (socket, bind and listen ops), with
// SO_REUSEADDR (and SO_REUSEPORT when asked: several listeners, one per
// thread, share the port and the kernel spreads connections among them).
//
// Accepting: the first Accept starts one multishot accept (io_uring posts a
// completion per connection without a new submission; the epoll driver and
// the simulator play it the same way). Connections the kernel hands over
// while no Accept waits are queued, up to ListenOptions::max_pending; at
// that bound the multishot accept is cancelled, and the kernel's backlog
// holds the rest until Accepts drain the queue. A kernel without multishot
// accept (before Linux 5.19) fails it with EINVAL: the listener then issues
// one accept per waiting Accept. An accept that fails (EMFILE, ENFILE, ...)
// is handed to the waiting Accept, or the next one, and accepting resumes
// only at the following Accept: a server that runs out of fds decides when to
// retry, instead of spinning.
//
// Accept's result is a TcpStream (with TCP_NODELAY, tcp_stream.h) or the
// error, naming the accept op and the listening fd: -ECANCELED when the
// listener was stopped or the awaiting task cancelled. Several tasks may
// await Accept at once; connections go to them in the order they came.
//
// Stop (and the destructor) stop accepting: the listening socket is closed
// through the loop (the accept in flight ends first), connections queued and
// not yet accepted are closed, and every waiting and later Accept fails
// -ECANCELED. Close does the same and waits for the socket's close. A server
// stops accepting with Stop, then waits for its connections to finish.
//
// Threads: the Loop's thread; Bind and Accept from inside a Task.
#ifndef RINGLOOP_RUNTIME_TCP_LISTENER_H_
#define RINGLOOP_RUNTIME_TCP_LISTENER_H_

#include <cerrno>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <type_traits>

#include "absl/status/statusor.h"
#include "ringloop/core/request.h"
#include "ringloop/runtime/address.h"
#include "ringloop/runtime/handoff.h"
#include "ringloop/runtime/io.h"
#include "ringloop/runtime/loop.h"
#include "ringloop/runtime/owned_fd.h"
#include "ringloop/runtime/task.h"
#include "ringloop/runtime/tcp_stream.h"

namespace ringloop {

// ListenOptions: how TcpListener::Bind sets the socket up.
struct ListenOptions {
  // backlog: listen(2)'s backlog (the kernel caps it at net.core.somaxconn).
  int backlog = 1024;
  // reuse_address: SO_REUSEADDR (bind while old connections are in TIME_WAIT).
  bool reuse_address = true;
  // reuse_port: SO_REUSEPORT (several sockets share the address; see the file
  // comment).
  bool reuse_port = false;
  // no_delay: TCP_NODELAY on accepted connections.
  bool no_delay = true;
  // max_pending: connections accepted ahead of Accept calls, at most.
  size_t max_pending = 64;
};

class TcpListener;

namespace internal {

// AcceptQueue: a listener's accepting state. It outlives the TcpListener
// while an accept op is in flight (that op's callback names it), and deletes
// itself at the op's final event.
class AcceptQueue {
 public:
  AcceptQueue(Loop& loop, int fd, const ListenOptions& options);
  AcceptQueue(const AcceptQueue&) = delete;
  AcceptQueue& operator=(const AcceptQueue&) = delete;

  // Take: a queued connection (or a recorded accept error), if any.
  bool Take(int32_t* res);
  // Wait: `waiter` (of the task `p`) waits for the next connection.
  void Wait(Handoff& waiter, PromiseBase& p);
  // Stop: closes queued connections, fails the waiters with -ECANCELED, and
  // deletes this now, or at the final event of the accept in flight.
  void Stop();

  Loop& loop() const { return *loop_; }
  int fd() const { return fd_; }

 private:
  ~AcceptQueue();
  // Arm: starts the accept op if something wants connections and none runs.
  void Arm();
  void OnEvent(const Event& event);
  // OnConnection: one accepted fd.
  void OnConnection(int fd);

  Loop* loop_;
  int fd_;
  ListenOptions options_;
  std::deque<int32_t> pending_;  // accepted fds, or one error last
  HandoffList waiters_;
  OpId op_;
  bool armed_ = false;           // an accept op is in flight
  bool multishot_ = true;        // multishot accept works here (until EINVAL says not)
  bool multishot_seen_ = false;  // a multishot accept has delivered a connection
  bool throttled_ = false;       // this queue cancelled its own op (backpressure)
  bool started_ = false;         // an Accept has been awaited
  bool stopped_ = false;
};

// AcceptAwaiter: what co_await listener.Accept() does.
class AcceptAwaiter {
 public:
  // AcceptAwaiter: waits on `queue`; without one, ends with `no_queue_res`.
  AcceptAwaiter(AcceptQueue* queue, int listen_fd, int32_t no_queue_res);
  AcceptAwaiter(AcceptAwaiter&&) = delete;

  bool await_ready() const noexcept { return false; }
  template <class P>
  bool await_suspend(std::coroutine_handle<P> h) {
    static_assert(std::is_base_of_v<PromiseBase, P>,
                  "TcpListener::Accept can only be awaited from a ringloop Task");
    return Start(h.promise());
  }
  absl::StatusOr<TcpStream> await_resume();

 private:
  bool Start(PromiseBase& p);

  AcceptQueue* queue_;
  Loop* loop_ = nullptr;
  int listen_fd_;
  Handoff handoff_;
};

}  // namespace internal

class TcpListener {
 public:
  // TcpListener: no socket.
  TcpListener() = default;
  TcpListener(TcpListener&& other) noexcept;
  TcpListener& operator=(TcpListener&& other) noexcept;
  // ~TcpListener: Stop.
  ~TcpListener() { Stop(); }

  // Bind: a socket of `address`'s family, bound to it and listening (see the
  // file comment). Errors name the op (socket, setsockopt, bind, listen), the
  // fd and the address.
  static Task<absl::StatusOr<TcpListener>> Bind(SocketAddress address,
                                                ListenOptions options = ListenOptions());

  // Accept: co_await Accept(): the next connection (see the file comment).
  internal::AcceptAwaiter Accept() {
    return internal::AcceptAwaiter(queue_, fd_.get(), stopped_ ? -ECANCELED : -EBADF);
  }

  // Stop: stops accepting and closes the socket, without waiting.
  void Stop();
  // Close: Stop, awaiting the socket's close: close's Result.
  internal::CloseAwaiter Close();

  // address: the bound address; port: its port (the ephemeral one the kernel
  // chose for port 0). Under the simulated kernel, which has no getsockname,
  // they are the address asked for: bind a fixed port there.
  const SocketAddress& address() const { return address_; }
  uint16_t port() const { return address_.port(); }
  int fd() const { return fd_.get(); }
  bool valid() const { return fd_.valid(); }

 private:
  TcpListener(OwnedFd fd, const SocketAddress& address, const ListenOptions& options);

  OwnedFd fd_;
  SocketAddress address_;
  internal::AcceptQueue* queue_ = nullptr;  // owned (see AcceptQueue)
  bool stopped_ = false;
};

}  // namespace ringloop

#endif  // RINGLOOP_RUNTIME_TCP_LISTENER_H_
