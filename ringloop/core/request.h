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

// --- user_data -------------------------------------------------------------
//
// Every request the engine emits, and so every completion it accepts, carries
// a user_data laid out as (from bit 0):
//
//   slot (32 bits) | generation (28) | attempt (1) | kind (3)
//
// - slot: the op the request belongs to (see "Slots" below).
// - generation: counts the slot's reuses, so a completion for an op that has
//   ended (stale, duplicated) never matches the slot's next op.
// - attempt: flips each time the op is submitted again after -EINTR; an op's
//   request and its linked timeout carry the attempt they belong to, cancels
//   and shutdowns 0.
// - kind: the RequestKind (0-3). Kinds 4-7 (kFirstDriverKind and up) are never
//   the engine's: they are reserved for a driver's own requests (a wake-up
//   read, a MSG_RING), which the driver must filter out (IsDriverUserData)
//   before Engine::HandleCompletion, which would reject them.
//
// Slots: a slot is a small integer (below the largest number of ops live at
// once) that no other live op has. Every request of an op (the op, its linked
// timeout, a cancel or shutdown aimed at it) names the op's slot. A slot is
// reused only once the op's final completion and its linked timeout's
// completion are both in, and an op (with its linked timeout) is submitted
// again after -EINTR only once the previous attempt's completions are in. So a
// driver may keep per-op state that the kernel reads or that waits for a
// completion (a timespec, a msghdr, a parked op) in a table indexed by
// UserDataSlot, and may keep Request::op until the op's final completion: the
// engine changes how it stores ops without touching drivers as long as these
// hold.

// kFirstDriverKind: the first user_data kind reserved for drivers (4-7).
inline constexpr uint8_t kFirstDriverKind = 4;

// kGenerationMask: the generations a user_data can tell apart (28 bits); a
// slot's generation counts modulo this.
inline constexpr uint32_t kGenerationMask = (1u << 28) - 1;

// PackUserData: the user_data of the `kind` request of the op in `slot`, of
// that slot's `generation` (kGenerationMask applies), for attempt `attempt`.
constexpr uint64_t PackUserData(uint32_t slot, uint32_t generation, bool attempt,
                                RequestKind kind) {
  return uint64_t{slot} | (uint64_t{generation & kGenerationMask} << 32) |
         (uint64_t{attempt} << 60) | (uint64_t{static_cast<uint8_t>(kind)} << 61);
}

// UserDataSlot: the slot field of `user_data`.
constexpr uint32_t UserDataSlot(uint64_t user_data) { return static_cast<uint32_t>(user_data); }

// UserDataGeneration: the generation field of `user_data`.
constexpr uint32_t UserDataGeneration(uint64_t user_data) {
  return static_cast<uint32_t>(user_data >> 32) & kGenerationMask;
}

// UserDataAttempt: the attempt bit of `user_data`.
constexpr bool UserDataAttempt(uint64_t user_data) { return ((user_data >> 60) & 1) != 0; }

// UserDataKind: the kind field of `user_data`: a RequestKind (0-3) or a
// driver's own kind (kFirstDriverKind-7).
constexpr uint8_t UserDataKind(uint64_t user_data) { return static_cast<uint8_t>(user_data >> 61); }

// IsDriverUserData: whether `user_data` is a driver's own (kind 4-7), never
// the engine's.
constexpr bool IsDriverUserData(uint64_t user_data) {
  return UserDataKind(user_data) >= kFirstDriverKind;
}

// DriverUserData: a driver's own user_data: `kind` (kFirstDriverKind-7) with
// `id` in the slot field.
constexpr uint64_t DriverUserData(uint8_t kind, uint32_t id) {
  return uint64_t{id} | (uint64_t{kind} << 61);
}

// UserDataFields: a user_data taken apart, for traces and tests.
struct UserDataFields {
  uint32_t slot = 0;
  uint32_t generation = 0;
  uint8_t kind = 0;  // a RequestKind (0-3) or a driver's kind (4-7)
  friend bool operator==(UserDataFields, UserDataFields) = default;
};

// DecodeUserData: the fields of `user_data` (but the attempt bit).
constexpr UserDataFields DecodeUserData(uint64_t user_data) {
  return UserDataFields{UserDataSlot(user_data), UserDataGeneration(user_data),
                        UserDataKind(user_data)};
}

// Request: one submission. Requests are pulled in order. The engine plays
// chains itself (engine.h, "Chains"): the only link it hands over is an op
// with `link` set followed by its kLinkTimeout, and that pair is never split
// across two Engine::PendingRequests() spans.
struct Request {
  // user_data: see above; the completion of this request carries it.
  uint64_t user_data = 0;
  // kOp: the op. Points into the engine's storage, stable until the op's final
  // completion has been handled (see "Slots" above).
  const Op* op = nullptr;
  // kLinkTimeout: the absolute deadline, in the driver's clock.
  uint64_t deadline_ns = 0;
  // kCancel: the user_data of the request to cancel.
  uint64_t target = 0;
  // kShutdown: the fd. kOp: FdOf(*op). Otherwise -1.
  int fd = -1;
  RequestKind kind = RequestKind::kOp;
  // link: set only on a kOp followed by its kLinkTimeout (IOSQE_IO_LINK: the
  // kernel requires it on the op right before a linked timeout). Never set on
  // a kLinkTimeout.
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
