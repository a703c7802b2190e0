// ringloop/core/errno_message.h: an errno in words, worded one way everywhere.
//
// ErrnoMessage is how every ringloop message about a failed syscall or op
// names its errno: an op's Result (ringloop/runtime/result.h), a driver that
// cannot start or go on, the reason io_uring is not used. Thread-safe.
#ifndef RINGLOOP_CORE_ERRNO_MESSAGE_H_
#define RINGLOOP_CORE_ERRNO_MESSAGE_H_

#include <string>

#include "absl/strings/string_view.h"

namespace ringloop {

// ErrnoMessage: "<what>: <description> [<ENAME>]", e.g.
// "read(fd=7): Connection reset by peer [ECONNRESET]" for ECONNRESET; an errno
// glibc does not know reads "Unknown error [errno N]".
std::string ErrnoMessage(absl::string_view what, int err);

}  // namespace ringloop

#endif  // RINGLOOP_CORE_ERRNO_MESSAGE_H_
