// ringloop/core/request.h: what the engine asks of the kernel, and what it tells users.
//
// Request is an output for drivers: one kernel submission (one SQE for the uring
// driver). Event is an output for users: one result for one op. Both are plain
// values pulled from the Engine (ringloop/core/engine.h).
#ifndef RINGLOOP_CORE_REQUEST_H_
#define RINGLOOP_CORE_REQUEST_H_

#include <cerrno>
#include <cstdint>

#include "ringloop/core/ops.h"

namespace ringloop {

// RequestKind: what a Request asks the kernel to do.
enum class RequestKind : uint8_t {
  // kOp: perform `*op`. Its completion carries `user_data`.
  kOp,
  // kLinkTimeout: a timeout linked to the request right before it in the same
  // chain (IORING_OP_LINK_TIMEOUT): if that op has not completed by the absolute
  // time `deadline_ns` (the driver's clock), cancel it. Completes -ETIME when it
  // fired, -ECANCELED (or -ENOENT) when the op won.
  kLinkTimeout,
  // kCancel: cancel the request whose user_data is `target`
  // (IORING_OP_ASYNC_CANCEL). Completes 0, -ENOENT or -EALREADY.
  kCancel,
  // kShutdown: shutdown(fd, SHUT_RDWR), issued by the close protocol when a
  // socket op on a closing fd could not be cancelled (-EALREADY). Completes
  // with shutdown's result, which the engine only records.
  kShutdown,
};

// RequestKindName: "op", "link_timeout", "cancel" or "shutdown", for traces and
// messages.
constexpr const char* RequestKindName(RequestKind kind) {
  switch (kind) {
    case RequestKind::kOp:
      return "op";
    case RequestKind::kLinkTimeout:
      return "link_timeout";
    case RequestKind::kCancel:
      return "cancel";
    case RequestKind::kShutdown:
      return "shutdown";
  }
  return "?";
}

// Request: one submission. Requests are pulled in order; a run of requests with
// `link` set, plus the request after the last of them, is a chain and is handed
// over whole (never split across two Engine::PendingRequests() spans).
struct Request {
  uint64_t user_data = 0;
  // kOp: the op. Points into the engine's op slot, stable until the op's final
  // completion has been handled.
  const Op* op = nullptr;
  // kLinkTimeout: the absolute deadline, in the driver's clock.
  uint64_t deadline_ns = 0;
  // kCancel: the user_data of the request to cancel.
  uint64_t target = 0;
  // kShutdown: the fd. kOp: FdOf(*op). Otherwise -1.
  int fd = -1;
  RequestKind kind = RequestKind::kOp;
  // link: the next request is linked to this one (IOSQE_IO_LINK): it starts only
  // after this one succeeds, and completes -ECANCELED if this one fails (a short
  // read or write counts as a failure). The op right before a kLinkTimeout
  // always has `link` set (the kernel requires it); the timeout itself has
  // `link` set when the chain goes on after its op.
  bool link = false;
};

// Completion flags, with the kernel's values (IORING_CQE_F_*), so drivers pass
// cqe->flags through unchanged.
inline constexpr uint32_t kCqeFBuffer = 1u << 0;  // upper 16 bits: buffer id
inline constexpr uint32_t kCqeFMore = 1u << 1;    // more events follow
inline constexpr uint32_t kCqeBufferShift = 16;

// Completion: one kernel completion, as Engine::HandleCompletions takes them
// (the fields of an io_uring CQE).
struct Completion {
  uint64_t user_data = 0;
  int32_t res = 0;
  uint32_t flags = 0;
};

// kTimedOut: the errno of an op whose deadline passed first (its linked
// timeout fired and cut it). Users see -kTimedOut.
inline constexpr int kTimedOut = ETIME;

// OpId: a handle to an op, as returned by Engine::Submit. A handle outlives its
// op harmlessly: once the op's slot is reused, the old handle no longer matches.
struct OpId {
  uint32_t index = ~0u;
  uint32_t generation = 0;
  friend bool operator==(OpId, OpId) = default;
};

// Event: a result for a user. Every accepted op yields exactly one event with
// `more == false` (its final event); a multishot op yields any number of events
// with `more == true` before it.
struct Event {
  uint64_t tag = 0;    // the user's tag, as given to Submit
  int32_t res = 0;     // >= 0 the op's value; < 0 a negative errno
  uint32_t flags = 0;  // kCqeFBuffer and the buffer id, as the kernel gave them
  OpId id;             // the op it belongs to
  int fd = -1;         // the fd the op acted on, or -1
  OpKind kind = OpKind::kNop;
  bool more = false;  // a multishot op's intermediate event
};

}  // namespace ringloop

#endif  // RINGLOOP_CORE_REQUEST_H_
