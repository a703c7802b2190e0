// ringloop/core/ops.cc: facts about ops that every layer shares (names, fds, checks).
#include "ringloop/core/ops.h"

#include <limits.h>

#include <cerrno>
#include <type_traits>

namespace ringloop {
namespace {

// HasFd: whether op struct T carries a tracked `fd` member.
template <class T>
concept HasFd = requires(const T& t) {
  { t.fd } -> std::convertible_to<int>;
};

// CheckBuffer: EFAULT for a null buffer with a non-zero length.
int CheckBuffer(const void* buf, uint32_t len) { return buf == nullptr && len > 0 ? -EFAULT : 0; }

int CheckIovecs(const iovec* iov, uint32_t iovcnt) {
  if (iovcnt > IOV_MAX) return -EINVAL;
  if (iov == nullptr && iovcnt > 0) return -EFAULT;
  for (uint32_t i = 0; i < iovcnt; ++i) {
    if (iov[i].iov_base == nullptr && iov[i].iov_len > 0) return -EFAULT;
  }
  return 0;
}

int CheckPath(const char* path) { return path == nullptr ? -EFAULT : 0; }

}  // namespace

std::string_view OpName(OpKind kind) {
  static constexpr std::string_view kNames[kOpKindCount] = {
      "nop",     "read",     "write",    "readv", "writev", "recv",    "send",  "accept",
      "connect", "shutdown", "poll_add", "close", "openat", "fsync",   "statx", "unlinkat",
      "mkdirat", "renameat", "socket",   "bind",  "listen", "timeout",
  };
  const auto i = static_cast<size_t>(kind);
  return i < kOpKindCount ? kNames[i] : std::string_view("unknown");
}

int FdOf(const Op& op) {
  return std::visit(
      [](const auto& o) -> int {
        if constexpr (HasFd<std::decay_t<decltype(o)>>) {
          return o.fd;
        } else {
          return -1;
        }
      },
      op);
}

bool IsSocketOp(const Op& op) {
  switch (KindOf(op)) {
    case OpKind::kRecv:
    case OpKind::kSend:
    case OpKind::kAccept:
    case OpKind::kConnect:
    case OpKind::kListen:
    case OpKind::kBind:
      return true;
    default:
      return false;
  }
}

namespace {

// Check: the argument check of one op struct (see CheckArguments).
int Check(const Nop&) { return 0; }
int Check(const Read& o) { return o.fd < 0 ? -EBADF : CheckBuffer(o.buf, o.len); }
int Check(const Write& o) { return o.fd < 0 ? -EBADF : CheckBuffer(o.buf, o.len); }
int Check(const Readv& o) { return o.fd < 0 ? -EBADF : CheckIovecs(o.iov, o.iovcnt); }
int Check(const Writev& o) { return o.fd < 0 ? -EBADF : CheckIovecs(o.iov, o.iovcnt); }
int Check(const Recv& o) {
  if (o.fd < 0) return -EBADF;
  if (o.multishot && o.buf_group == kNoBufferGroup) return -EINVAL;
  if (o.buf_group != kNoBufferGroup) return o.buf == nullptr ? 0 : -EINVAL;
  return CheckBuffer(o.buf, o.len);
}
int Check(const Send& o) { return o.fd < 0 ? -EBADF : CheckBuffer(o.buf, o.len); }
int Check(const Accept& o) {
  if (o.fd < 0) return -EBADF;
  return (o.addr == nullptr) == (o.addrlen == nullptr) ? 0 : -EFAULT;
}
int Check(const Connect& o) {
  if (o.fd < 0) return -EBADF;
  return o.addr == nullptr ? -EFAULT : 0;
}
int Check(const Shutdown& o) {
  if (o.fd < 0) return -EBADF;
  return o.how == SHUT_RD || o.how == SHUT_WR || o.how == SHUT_RDWR ? 0 : -EINVAL;
}
int Check(const PollAdd& o) { return o.fd < 0 ? -EBADF : 0; }
int Check(const Close& o) { return o.fd < 0 ? -EBADF : 0; }
int Check(const Openat& o) { return CheckPath(o.path); }
int Check(const Fsync& o) { return o.fd < 0 ? -EBADF : 0; }
int Check(const Statx& o) { return o.buf == nullptr ? -EFAULT : CheckPath(o.path); }
int Check(const Unlinkat& o) { return CheckPath(o.path); }
int Check(const Mkdirat& o) { return CheckPath(o.path); }
int Check(const Renameat& o) { return o.oldpath == nullptr || o.newpath == nullptr ? -EFAULT : 0; }
int Check(const Socket&) { return 0; }
int Check(const Bind& o) {
  if (o.fd < 0) return -EBADF;
  return o.addr == nullptr ? -EFAULT : 0;
}
int Check(const Listen& o) { return o.fd < 0 ? -EBADF : 0; }
int Check(const Timeout&) { return 0; }

}  // namespace

namespace {

uint64_t IovBytes(const iovec* iov, uint32_t iovcnt) {
  uint64_t total = 0;
  for (uint32_t i = 0; i < iovcnt; ++i) total += iov[i].iov_len;
  return total;
}

}  // namespace

uint64_t ChainMinimum(const Op& op) {
  switch (KindOf(op)) {
    case OpKind::kRead:
      return std::get<Read>(op).len;
    case OpKind::kWrite:
      return std::get<Write>(op).len;
    case OpKind::kReadv:
      return IovBytes(std::get<Readv>(op).iov, std::get<Readv>(op).iovcnt);
    case OpKind::kWritev:
      return IovBytes(std::get<Writev>(op).iov, std::get<Writev>(op).iovcnt);
    case OpKind::kRecv: {
      const Recv& r = std::get<Recv>(op);
      return (r.flags & MSG_WAITALL) != 0 ? r.len : 0;
    }
    case OpKind::kSend: {
      const Send& s = std::get<Send>(op);
      return (s.flags & MSG_WAITALL) != 0 ? s.len : 0;
    }
    default:
      return 0;
  }
}

bool BreaksChain(const Op& op, int32_t res) { return res < 0 || uint64_t(res) < ChainMinimum(op); }

int CheckArguments(const Op& op) {
  return std::visit([](const auto& o) { return Check(o); }, op);
}

OpFacts Inspect(const Op& op) {
  OpFacts facts;
  facts.kind = KindOf(op);
  std::visit(
      [&facts](const auto& o) {
        using T = std::decay_t<decltype(o)>;
        if constexpr (HasFd<T>) facts.fd = o.fd;
        if constexpr (std::is_same_v<T, Accept> || std::is_same_v<T, Recv>) {
          facts.multishot = o.multishot;
        }
        facts.error = Check(o);
      },
      op);
  return facts;
}

}  // namespace ringloop
