// ringloop/runtime/result.cc: errno -> status and message.
#include "ringloop/runtime/result.h"

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "ringloop/core/check.h"

namespace ringloop {
namespace {

std::string OpLabel(OpKind kind, int fd) {
  const std::string name(OpName(kind));
  if (fd < 0) return name;
  return absl::StrCat(name, "(fd=", fd, ")");
}

}  // namespace

absl::Status Result::status() const {
  if (ok()) return absl::OkStatus();
  return OpErrorStatus(kind_, fd_, -res_);
}

std::string Result::ToString() const {
  if (ok()) return absl::StrCat(OpLabel(kind_, fd_), ": ", res_);
  return ErrnoMessage(OpLabel(kind_, fd_), -res_);
}

absl::StatusCode ErrnoStatusCode(int err) {
  switch (err) {
    case ECANCELED:
      return absl::StatusCode::kCancelled;
    case ETIME:
    case ETIMEDOUT:
      return absl::StatusCode::kDeadlineExceeded;
    default:
      return absl::ErrnoToStatusCode(err);
  }
}

absl::Status OpErrorStatus(OpKind kind, int fd, int err) {
  return absl::Status(ErrnoStatusCode(err), ErrnoMessage(OpLabel(kind, fd), err));
}

absl::Status WithContext(const absl::Status& status, absl::string_view context) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(status.message(), " (", context, ")"));
}

}  // namespace ringloop
