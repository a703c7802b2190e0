// ringloop/runtime/result.h: an op's outcome as users see it.
//
// Result is what a callback gets from an Event, on the hot path: the kernel's
// result (a value, or a negative errno) plus the op and fd it belongs to, so that
// an error can name them. It converts to absl::Status where errors travel further,
// with a message such as "read(fd=7): Connection reset by peer [ECONNRESET]"
// (worded by ErrnoMessage, ringloop/core/errno_message.h).
// -ECANCELED maps to kCancelled and -ETIME (a deadline that passed) to
// kDeadlineExceeded; other errnos use absl::ErrnoToStatusCode.
//
// The stream helpers (stream.h, buffered_reader.h) need one outcome the kernel
// has no errno for: the stream ended (a read returned 0) before the bytes they
// were asked for arrived. They report it as -kEndOfStream (ENODATA, "No data
// available"), which end_of_stream() recognises.
//
// Thread safety: a plain value.
#ifndef RINGLOOP_RUNTIME_RESULT_H_
#define RINGLOOP_RUNTIME_RESULT_H_

#include <cerrno>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "ringloop/core/check.h"
#include "ringloop/core/errno_message.h"
#include "ringloop/core/ops.h"
#include "ringloop/core/request.h"

namespace ringloop {

// kEndOfStream: the errno of a helper that needed more bytes than the stream
// had before its end (see the file comment).
inline constexpr int kEndOfStream = ENODATA;

class [[nodiscard]] Result {
 public:
  // Result: the outcome `res` of an op of `kind` on `fd` (-1 when it names none).
  Result(int32_t res, OpKind kind, int fd) : res_(res), kind_(kind), fd_(fd) {}
  // Result: the outcome an event carries.
  explicit Result(const Event& event) : Result(event.res, event.kind, event.fd) {}

  // ok: whether the op succeeded.
  bool ok() const { return res_ >= 0; }
  // value: the op's value (bytes moved, a new fd, ...). Requires ok().
  int32_t value() const {
    RL_CHECK(ok());
    return res_;
  }
  // error: the positive errno, or 0 when ok().
  int error() const { return ok() ? 0 : -res_; }
  // timed_out: the op's deadline passed first.
  bool timed_out() const { return res_ == -kTimedOut; }
  // cancelled: the op was cancelled (Cancel, Close of its fd, loop shutdown).
  bool cancelled() const { return res_ == -ECANCELED; }
  // end_of_stream: a stream helper's read found the end of the stream first.
  bool end_of_stream() const { return res_ == -kEndOfStream; }

  // status: OK, or the error with a message naming the op and fd.
  absl::Status status() const;
  operator absl::Status() const { return status(); }  // NOLINT: meant to be implicit

  // ToString: "read(fd=7): 12" or the error message.
  std::string ToString() const;

  int32_t raw() const { return res_; }
  OpKind kind() const { return kind_; }
  int fd() const { return fd_; }

 private:
  int32_t res_;
  OpKind kind_;
  int fd_;
};

// ErrnoStatusCode: the absl code for errno `err` (ECANCELED -> kCancelled, ETIME ->
// kDeadlineExceeded, otherwise absl::ErrnoToStatusCode).
absl::StatusCode ErrnoStatusCode(int err);

// OpErrorStatus: the status for op `kind` on `fd` failing with errno `err`.
absl::Status OpErrorStatus(OpKind kind, int fd, int err);

// WithContext: `status` with " (<context>)" appended to its message, e.g.
// "connect(fd=7): Connection refused [ECONNREFUSED] (connecting to 10.0.0.1:80)";
// OK stays OK.
absl::Status WithContext(const absl::Status& status, absl::string_view context);

}  // namespace ringloop

#endif  // RINGLOOP_RUNTIME_RESULT_H_
