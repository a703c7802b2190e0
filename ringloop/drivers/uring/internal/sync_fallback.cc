// ringloop/drivers/uring/internal/sync_fallback.cc: ops whose opcode the
// kernel lacks (or Options::force_sync_ops names), performed as their syscall
// on the loop's thread and posted as completions. See internal/driver_impl.h.
#include <sys/socket.h>

#include <cerrno>
#include <variant>

#include "ringloop/core/ops.h"
#include "ringloop/drivers/sync_op.h"
#include "ringloop/drivers/uring/internal/driver_impl.h"

namespace ringloop::uring_internal {

// --- Sync fallback -------------------------------------------------------------------

// IsLocal: whether `r` is performed as its syscall on the loop's thread.
bool UringDriverImpl::IsLocal(const Request& r) const {
  switch (r.kind) {
    case RequestKind::kOp:
      return RunsSync(KindOf(*r.op));
    case RequestKind::kShutdown:
      return RunsSync(OpKind::kShutdown);
    case RequestKind::kLinkTimeout:
    case RequestKind::kCancel:
      return false;
  }
  return false;
}

// RunLocal: performs unit[0] as its syscall and posts its result; its linked
// timeout, if any, is posted -ECANCELED after it (the op finished first), as the
// kernel posts a timeout its op beat.
void UringDriverImpl::RunLocal(std::span<const Request> unit) {
  const Request& r = unit[0];
  int32_t res = 0;
  if (r.kind == RequestKind::kOp) {
    if (KindOf(*r.op) == OpKind::kClose) ForgetFd(std::get<Close>(*r.op).fd);
    res = RunSync(*r.op);
  } else {
    res = RunSync(Shutdown{r.fd, SHUT_RDWR});
  }
  ++stats_.sync_ops;
  PostLocal(r.user_data, res);
  if (unit.size() == 2) PostLocal(unit[1].user_data, -ECANCELED);
}

}  // namespace ringloop::uring_internal
