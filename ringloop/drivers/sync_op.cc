// ringloop/drivers/sync_op.cc: ops performed as their plain syscalls.
#include "ringloop/drivers/sync_op.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <type_traits>
#include <variant>

#include "ringloop/core/check.h"

namespace ringloop {
namespace {

// Result: what the kernel would post for a syscall that returned `ret`.
int32_t Result(long ret) { return ret < 0 ? -errno : static_cast<int32_t>(ret); }

template <typename Call>
int32_t Retrying(Call call) {
  long ret;
  do {
    ret = call();
  } while (ret < 0 && errno == EINTR);
  return Result(ret);
}

}  // namespace

bool CanRunSync(OpKind kind) {
  switch (kind) {
    case OpKind::kNop:
    case OpKind::kShutdown:
    case OpKind::kClose:
    case OpKind::kOpenat:
    case OpKind::kFsync:
    case OpKind::kStatx:
    case OpKind::kUnlinkat:
    case OpKind::kMkdirat:
    case OpKind::kRenameat:
    case OpKind::kSocket:
    case OpKind::kBind:
    case OpKind::kListen:
      return true;
    default:
      return false;
  }
}

uint32_t SyncCapableMask() {
  uint32_t mask = 0;
  for (size_t i = 0; i < kOpKindCount; ++i) {
    if (CanRunSync(static_cast<OpKind>(i))) mask |= 1u << i;
  }
  return mask;
}

int32_t RunSync(const Op& op) {
  RL_CHECK(CanRunSync(KindOf(op)));
  return std::visit(
      [](const auto& o) -> int32_t {
        using T = std::decay_t<decltype(o)>;
        if constexpr (std::is_same_v<T, Nop>) {
          return 0;
        } else if constexpr (std::is_same_v<T, Shutdown>) {
          return Retrying([&] { return ::shutdown(o.fd, o.how); });
        } else if constexpr (std::is_same_v<T, Close>) {
          // Linux frees the descriptor even when close reports EINTR: never retry.
          const int ret = ::close(o.fd);
          return ret < 0 && errno == EINTR ? 0 : Result(ret);
        } else if constexpr (std::is_same_v<T, Openat>) {
          return Retrying([&] { return ::openat(o.dirfd, o.path, o.flags, o.mode); });
        } else if constexpr (std::is_same_v<T, Fsync>) {
          return Retrying([&] { return o.datasync ? ::fdatasync(o.fd) : ::fsync(o.fd); });
        } else if constexpr (std::is_same_v<T, Statx>) {
          return Retrying([&] { return ::statx(o.dirfd, o.path, o.flags, o.mask, o.buf); });
        } else if constexpr (std::is_same_v<T, Unlinkat>) {
          return Retrying([&] { return ::unlinkat(o.dirfd, o.path, o.flags); });
        } else if constexpr (std::is_same_v<T, Mkdirat>) {
          return Retrying([&] { return ::mkdirat(o.dirfd, o.path, o.mode); });
        } else if constexpr (std::is_same_v<T, Renameat>) {
          return Retrying(
              [&] { return ::renameat2(o.olddirfd, o.oldpath, o.newdirfd, o.newpath, o.flags); });
        } else if constexpr (std::is_same_v<T, Socket>) {
          return Retrying([&] { return ::socket(o.domain, o.type, o.protocol); });
        } else if constexpr (std::is_same_v<T, Bind>) {
          return Retrying([&] { return ::bind(o.fd, o.addr, o.addrlen); });
        } else if constexpr (std::is_same_v<T, Listen>) {
          return Retrying([&] { return ::listen(o.fd, o.backlog); });
        } else {
          RL_CHECK(false && "RunSync on an op that may block");
          return -EINVAL;
        }
      },
      op);
}

}  // namespace ringloop
