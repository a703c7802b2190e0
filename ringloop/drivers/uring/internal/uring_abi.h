// ringloop/drivers/uring/internal/uring_abi.h: io_uring constants newer than the build's headers.
//
// Debian 12 builds against liburing 2.3 with kernel headers 6.1; the machines run
// newer kernels. Constants the driver uses beyond those headers are defined here,
// with the kernel version that added them, and are only ever used after the
// driver's probe (io_uring_get_probe) says the running kernel has them.
//
// Private to ringloop/drivers/uring.
#ifndef RINGLOOP_DRIVERS_URING_INTERNAL_URING_ABI_H_
#define RINGLOOP_DRIVERS_URING_INTERNAL_URING_ABI_H_

#include <liburing.h>

#include <cstdint>

namespace ringloop::uring_abi {

// The opcode enum after IORING_OP_SENDMSG_ZC (48, Linux 6.1), in the kernel's order:
// READ_MULTISHOT 49 (6.7), WAITID 50, FUTEX_WAIT 51, FUTEX_WAKE 52, FUTEX_WAITV 53,
// FIXED_FD_INSTALL 54 (6.8), FTRUNCATE 55 (6.9), BIND 56 (6.11), LISTEN 57 (6.11).
static_assert(IORING_OP_SENDMSG_ZC == 48, "the 6.1 opcode enum this file extends");

// kOpBind: IORING_OP_BIND (Linux 6.11). sqe->addr = sockaddr, sqe->addr2 = addrlen.
inline constexpr uint8_t kOpBind = 56;
// kOpListen: IORING_OP_LISTEN (Linux 6.11). sqe->len = backlog.
inline constexpr uint8_t kOpListen = 57;

}  // namespace ringloop::uring_abi

#endif  // RINGLOOP_DRIVERS_URING_INTERNAL_URING_ABI_H_
