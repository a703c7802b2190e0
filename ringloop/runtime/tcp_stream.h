// ringloop/runtime/tcp_stream.h: TcpStream, a connected TCP socket used from tasks.
//
//   absl::StatusOr<TcpStream> conn =
//       co_await TcpStream::Connect(SocketAddress::Loopback(6379), absl::Seconds(2));
//   if (!conn.ok()) co_return conn.status();  // "connect(fd=7): Connection refused ..."
//   Result w = co_await conn->WriteAll("PING\r\n", 6);
//   char buf[64];
//   Result n = co_await conn->Read(buf, sizeof(buf));  // 0: the peer closed
//   co_await conn->Close();
//
// A TcpStream owns its socket (an OwnedFd, owned_fd.h): destroying it starts
// the loop's orderly close; Close() awaits it. Reads and writes are recv(2)
// and send(2) ops (a peer that is gone is EPIPE, never SIGPIPE), awaited as
// in io.h: Read and Write are one op each (either may move fewer bytes than
// asked), ReadExact and WriteAll loop until done (stream.h), Reader() makes a
// BufferedReader for lines and records. Errors name the op and the fd. The
// buffers must stay valid until the await returns (they do in the task's
// frame).
//
// Connect's `timeout` is the connect op's own deadline in the engine (one
// linked timeout): if the handshake is not done by then, the op is cancelled
// and Connect fails kDeadlineExceeded. Connected and accepted sockets get
// TCP_NODELAY (request/response traffic should not wait for Nagle's
// algorithm); set it back with setsockopt on fd() if you stream bulk data.
//
// Threads: the Loop's thread; Connect and the awaits from inside a Task.
#ifndef RINGLOOP_RUNTIME_TCP_STREAM_H_
#define RINGLOOP_RUNTIME_TCP_STREAM_H_

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ringloop/runtime/address.h"
#include "ringloop/runtime/buffered_reader.h"
#include "ringloop/runtime/io.h"
#include "ringloop/runtime/loop.h"
#include "ringloop/runtime/owned_fd.h"
#include "ringloop/runtime/stream.h"
#include "ringloop/runtime/task.h"

namespace ringloop {

class TcpStream {
 public:
  // TcpStream: no socket.
  TcpStream() = default;
  // TcpStream: adopts the connected socket `fd`, closed through `loop`.
  TcpStream(Loop& loop, int fd) : fd_(loop, fd) {}
  TcpStream(TcpStream&&) = default;
  TcpStream& operator=(TcpStream&&) = default;

  // Connect: a new socket of `address`'s family, connected to it within
  // `timeout` (see the file comment). Errors name the op and fd, and the
  // address.
  static Task<absl::StatusOr<TcpStream>> Connect(SocketAddress address,
                                                 absl::Duration timeout = absl::InfiniteDuration());
  // Connect: the same to the numeric address `ip` (SocketAddress::Parse) and
  // `port`.
  static Task<absl::StatusOr<TcpStream>> Connect(std::string ip, uint16_t port,
                                                 absl::Duration timeout = absl::InfiniteDuration());

  // Read: one recv of up to `n` bytes: the count, 0 when the peer has closed
  // its side, or the error (-ETIME after a finite `timeout`).
  internal::OpAwaiter Read(void* buf, size_t n, absl::Duration timeout = absl::InfiniteDuration()) {
    return Io(Recv{.fd = fd_.get(), .buf = buf, .len = internal::OpLength(n)}, timeout);
  }
  // Write: one send of up to `n` bytes: the count accepted (maybe fewer).
  internal::OpAwaiter Write(const void* buf, size_t n,
                            absl::Duration timeout = absl::InfiniteDuration()) {
    return Io(Send{.fd = fd_.get(), .buf = buf, .len = internal::OpLength(n)}, timeout);
  }
  // ReadExact / WriteAll: exactly `n` bytes (stream.h).
  internal::TransferAwaiter ReadExact(void* buf, size_t n) {
    return ringloop::ReadExact(fd_.get(), buf, n, IoStyle::kRecvSend);
  }
  internal::TransferAwaiter WriteAll(const void* buf, size_t n) {
    return ringloop::WriteAll(fd_.get(), buf, n, IoStyle::kRecvSend);
  }
  internal::TransferAwaiter WriteAll(std::string_view data) {
    return WriteAll(data.data(), data.size());
  }
  // Reader: a BufferedReader on this socket (it must not outlive the
  // TcpStream).
  BufferedReader Reader(size_t capacity = BufferedReader::kDefaultCapacity) const {
    return BufferedReader(fd_.get(), capacity, IoStyle::kRecvSend);
  }

  // Shutdown: shutdown(2) of one direction (SHUT_WR: the peer reads the end
  // of the stream after what was sent) or both.
  internal::OpAwaiter Shutdown(int how = SHUT_WR) { return Io(ringloop::Shutdown{fd_.get(), how}); }
  // Close: the orderly close, awaited (OwnedFd::Close).
  internal::CloseAwaiter Close() { return fd_.Close(); }

  // PeerAddress / LocalAddress: getpeername(2) / getsockname(2). Under the
  // simulated kernel (Loop::fds_are_real() false) they are kUnimplemented.
  absl::StatusOr<SocketAddress> PeerAddress() const;
  absl::StatusOr<SocketAddress> LocalAddress() const;

  int fd() const { return fd_.get(); }
  bool valid() const { return fd_.valid(); }
  Loop* loop() const { return fd_.loop(); }
  // Release: gives the socket up without closing it.
  int Release() { return fd_.Release(); }

 private:
  OwnedFd fd_;
};

namespace internal {

// SetNoDelay: TCP_NODELAY on `fd` when `loop`'s fds are real; 0 or -errno.
int SetNoDelay(const Loop& loop, int fd);

// SocketName: getsockname(2) (peer: getpeername(2)) of a socket of `loop`.
absl::StatusOr<SocketAddress> SocketName(const Loop* loop, int fd, bool peer);

}  // namespace internal

}  // namespace ringloop

#endif  // RINGLOOP_RUNTIME_TCP_STREAM_H_
