// ringloop/runtime/address.cc: IPv4 and IPv6 addresses.
#include "ringloop/runtime/address.h"

#include <arpa/inet.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace ringloop {

SocketAddress::SocketAddress() {
  std::memset(&u_, 0, sizeof(u_));
  u_.any.sa_family = AF_UNSPEC;
}

namespace {

in_addr V4(uint32_t host_order) {
  in_addr a;
  a.s_addr = htonl(host_order);
  return a;
}

}  // namespace

SocketAddress SocketAddress::V4At(in_addr addr, uint16_t port) {
  SocketAddress a;
  a.u_.v4.sin_family = AF_INET;
  a.u_.v4.sin_addr = addr;
  a.set_port(port);
  return a;
}

SocketAddress SocketAddress::V6At(const in6_addr& addr, uint16_t port) {
  SocketAddress a;
  a.u_.v6.sin6_family = AF_INET6;
  a.u_.v6.sin6_addr = addr;
  a.set_port(port);
  return a;
}

SocketAddress SocketAddress::Loopback(uint16_t port) { return V4At(V4(INADDR_LOOPBACK), port); }
SocketAddress SocketAddress::Loopback6(uint16_t port) { return V6At(in6addr_loopback, port); }
SocketAddress SocketAddress::Any(uint16_t port) { return V4At(V4(INADDR_ANY), port); }
SocketAddress SocketAddress::Any6(uint16_t port) { return V6At(in6addr_any, port); }

absl::StatusOr<SocketAddress> SocketAddress::Parse(std::string_view ip, uint16_t port) {
  const std::string text(ip);  // inet_pton wants a terminated string
  SocketAddress a;
  if (::inet_pton(AF_INET, text.c_str(), &a.u_.v4.sin_addr) == 1) {
    a.u_.v4.sin_family = AF_INET;
  } else if (::inet_pton(AF_INET6, text.c_str(), &a.u_.v6.sin6_addr) == 1) {
    a.u_.v6.sin6_family = AF_INET6;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("SocketAddress::Parse: \"", text, "\" is not a numeric IPv4 or IPv6 address"));
  }
  a.set_port(port);
  return a;
}

absl::StatusOr<SocketAddress> SocketAddress::FromSockaddr(const struct sockaddr* addr,
                                                          socklen_t len) {
  SocketAddress a;
  if (addr != nullptr && addr->sa_family == AF_INET && len >= sizeof(sockaddr_in)) {
    std::memcpy(&a.u_.v4, addr, sizeof(sockaddr_in));
    return a;
  }
  if (addr != nullptr && addr->sa_family == AF_INET6 && len >= sizeof(sockaddr_in6)) {
    std::memcpy(&a.u_.v6, addr, sizeof(sockaddr_in6));
    return a;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("SocketAddress::FromSockaddr: not an IPv4 or IPv6 address (family ",
                   addr != nullptr ? addr->sa_family : -1, ", ", len, " bytes)"));
}

uint16_t SocketAddress::port() const {
  switch (family()) {
    case AF_INET:
      return ntohs(u_.v4.sin_port);
    case AF_INET6:
      return ntohs(u_.v6.sin6_port);
    default:
      return 0;
  }
}

void SocketAddress::set_port(uint16_t port) {
  if (family() == AF_INET) u_.v4.sin_port = htons(port);
  if (family() == AF_INET6) u_.v6.sin6_port = htons(port);
}

socklen_t SocketAddress::size() const {
  switch (family()) {
    case AF_INET:
      return sizeof(sockaddr_in);
    case AF_INET6:
      return sizeof(sockaddr_in6);
    default:
      return sizeof(sa_family_t);
  }
}

std::string SocketAddress::ToString() const {
  char text[INET6_ADDRSTRLEN] = {};
  switch (family()) {
    case AF_INET:
      ::inet_ntop(AF_INET, &u_.v4.sin_addr, text, sizeof(text));
      return absl::StrCat(text, ":", port());
    case AF_INET6:
      ::inet_ntop(AF_INET6, &u_.v6.sin6_addr, text, sizeof(text));
      return absl::StrCat("[", text, "]:", port());
    default:
      return "unspecified";
  }
}

bool operator==(const SocketAddress& a, const SocketAddress& b) {
  if (a.family() != b.family()) return false;
  switch (a.family()) {
    case AF_INET:
      return a.u_.v4.sin_port == b.u_.v4.sin_port &&
             a.u_.v4.sin_addr.s_addr == b.u_.v4.sin_addr.s_addr;
    case AF_INET6:
      return a.u_.v6.sin6_port == b.u_.v6.sin6_port &&
             std::memcmp(&a.u_.v6.sin6_addr, &b.u_.v6.sin6_addr, sizeof(in6_addr)) == 0 &&
             a.u_.v6.sin6_scope_id == b.u_.v6.sin6_scope_id;
    default:
      return true;
  }
}

}  // namespace ringloop
