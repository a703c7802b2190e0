// ringloop/runtime/tcp_stream.cc: connecting, and the socket calls no op covers.
#include "ringloop/runtime/tcp_stream.h"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "ringloop/runtime/result.h"

namespace ringloop {
namespace internal {

int SetNoDelay(const Loop& loop, int fd) {
  if (!loop.fds_are_real()) return 0;
  const int one = 1;
  return ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == 0 ? 0 : -errno;
}

absl::StatusOr<SocketAddress> SocketName(const Loop* loop, int fd, bool peer) {
  const char* what = peer ? "getpeername" : "getsockname";
  if (loop == nullptr || fd < 0) {
    return absl::FailedPreconditionError(absl::StrCat(what, ": no socket"));
  }
  if (!loop->fds_are_real()) {
    return absl::UnimplementedError(
        absl::StrCat(what, "(fd=", fd, "): the simulated kernel has no such call"));
  }
  sockaddr_in6 storage{};
  socklen_t len = sizeof(storage);
  auto* addr = reinterpret_cast<sockaddr*>(&storage);
  const int rc = peer ? ::getpeername(fd, addr, &len) : ::getsockname(fd, addr, &len);
  if (rc != 0) {
    const int err = errno;
    return absl::Status(ErrnoStatusCode(err),
                        ErrnoMessage(absl::StrCat(what, "(fd=", fd, ")"), err));
  }
  return SocketAddress::FromSockaddr(addr, len);
}

}  // namespace internal

Task<absl::StatusOr<TcpStream>> TcpStream::Connect(SocketAddress address, absl::Duration timeout) {
  Loop& loop = *internal::CurrentPromise()->loop;
  const std::string context = absl::StrCat("connecting to ", address.ToString());
  Result s = co_await Io(ringloop::Socket{address.family(), SOCK_STREAM | SOCK_CLOEXEC, 0});
  if (!s.ok()) co_return WithContext(s.status(), context);
  TcpStream stream(loop, s.value());
  // `address` lives in this frame until the connect's final event.
  Result c =
      co_await Io(ringloop::Connect{stream.fd(), address.sockaddr(), address.size()}, timeout);
  if (!c.ok()) {
    co_await stream.Close();
    co_return WithContext(c.status(), context);
  }
  if (const int err = internal::SetNoDelay(loop, stream.fd()); err != 0) {
    co_await stream.Close();
    co_return WithContext(
        absl::Status(
            ErrnoStatusCode(-err),
            ErrnoMessage(absl::StrCat("setsockopt(fd=", s.value(), ", TCP_NODELAY)"), -err)),
        context);
  }
  co_return stream;
}

Task<absl::StatusOr<TcpStream>> TcpStream::Connect(std::string ip, uint16_t port,
                                                   absl::Duration timeout) {
  absl::StatusOr<SocketAddress> address = SocketAddress::Parse(ip, port);
  if (!address.ok()) co_return address.status();
  co_return co_await Connect(*address, timeout);
}

absl::StatusOr<SocketAddress> TcpStream::PeerAddress() const {
  return internal::SocketName(fd_.loop(), fd_.get(), /*peer=*/true);
}

absl::StatusOr<SocketAddress> TcpStream::LocalAddress() const {
  return internal::SocketName(fd_.loop(), fd_.get(), /*peer=*/false);
}

}  // namespace ringloop
