// ringloop/runtime/address.h: SocketAddress, an IPv4 or IPv6 address and port.
//
//   SocketAddress local = SocketAddress::Loopback(8080);     // 127.0.0.1:8080
//   SocketAddress any6 = SocketAddress::Any6(0);             // [::]:0, an ephemeral port
//   absl::StatusOr<SocketAddress> a = SocketAddress::Parse("::1", 6379);
//
// A plain value holding a sockaddr_in or sockaddr_in6 (the form bind(2),
// connect(2) and accept(2) take), so an op can point at it: keep it alive
// until the op's final event, as for any buffer (a SocketAddress in the
// task's frame is).
//
// Thread safety: a plain value.
#ifndef RINGLOOP_RUNTIME_ADDRESS_H_
#define RINGLOOP_RUNTIME_ADDRESS_H_

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace ringloop {

class SocketAddress {
 public:
  // SocketAddress: no address (family AF_UNSPEC).
  SocketAddress();

  // Loopback / Loopback6: 127.0.0.1 / ::1 at `port`.
  static SocketAddress Loopback(uint16_t port);
  static SocketAddress Loopback6(uint16_t port);
  // Any / Any6: 0.0.0.0 / :: (every local address) at `port`.
  static SocketAddress Any(uint16_t port);
  static SocketAddress Any6(uint16_t port);
  // Parse: a numeric IPv4 ("10.0.0.1") or IPv6 ("::1", "fe80::1") address at
  // `port`; kInvalidArgument for anything else (no name lookup).
  static absl::StatusOr<SocketAddress> Parse(std::string_view ip, uint16_t port);
  // FromSockaddr: a copy of an AF_INET or AF_INET6 sockaddr of `len` bytes;
  // kInvalidArgument for another family or a short length.
  static absl::StatusOr<SocketAddress> FromSockaddr(const sockaddr* addr, socklen_t len);

  // family: AF_INET, AF_INET6 or AF_UNSPEC.
  int family() const { return u_.any.sa_family; }
  // port: the port, in host order.
  uint16_t port() const;
  void set_port(uint16_t port);

  // sockaddr / size: the address as the kernel takes it.
  const struct sockaddr* sockaddr() const { return &u_.any; }
  socklen_t size() const;

  // ToString: "127.0.0.1:8080", "[::1]:8080", or "unspecified".
  std::string ToString() const;

  friend bool operator==(const SocketAddress& a, const SocketAddress& b);
  friend bool operator!=(const SocketAddress& a, const SocketAddress& b) { return !(a == b); }

 private:
  // V4At / V6At: an address of that family.
  static SocketAddress V4At(in_addr addr, uint16_t port);
  static SocketAddress V6At(const in6_addr& addr, uint16_t port);

  union {
    struct sockaddr any;
    sockaddr_in v4;
    sockaddr_in6 v6;
  } u_;
};

}  // namespace ringloop

#endif  // RINGLOOP_RUNTIME_ADDRESS_H_
