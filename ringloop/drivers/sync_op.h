// ringloop/drivers/sync_op.h: performing an op as a plain syscall, for every driver.
//
// When the running kernel's io_uring lacks an opcode (IORING_OP_BIND and _LISTEN
// arrived in 6.11, _SOCKET in 5.19, ...), the uring driver performs that op with the
// ordinary syscall on the loop's thread and posts its result as the op's completion;
// the epoll driver performs its socket-setup ops here, and its file and metadata
// ops here on its worker pool. Only ops that never wait for a peer may run so: a
// blocking read on the loop's thread would stall every other op.
//
// Thread safety: free functions; the caller owns the op's memory.
#ifndef RINGLOOP_DRIVERS_SYNC_OP_H_
#define RINGLOOP_DRIVERS_SYNC_OP_H_

#include <cstdint>

#include "ringloop/core/ops.h"

namespace ringloop {

// CanRunSync: whether an op of `kind` may be performed synchronously (it does not
// wait for another party): Nop, Shutdown, Close, Openat, Fsync, Statx, Unlinkat,
// Mkdirat, Renameat, Socket, Bind, Listen.
bool CanRunSync(OpKind kind);

// kSyncCapableMask: the OpKinds for which CanRunSync is true, as a bit mask
// (bit i = OpKind value i).
uint32_t SyncCapableMask();

// RunSync: performs `op` with its syscall and returns what io_uring would have
// posted: the value, or a negative errno. Retries EINTR, except for close, whose
// EINTR still frees the fd on Linux (reported as 0). Requires CanRunSync.
int32_t RunSync(const Op& op);

}  // namespace ringloop

#endif  // RINGLOOP_DRIVERS_SYNC_OP_H_
