// ringloop/runtime/stream.cc: ReadExact and WriteAll.
#include "ringloop/runtime/stream.h"

#include <algorithm>
#include <cerrno>
#include <limits>

namespace ringloop::internal {
Op ReadOp(IoStyle style, int fd, void* buf, uint32_t len, uint64_t offset) {
  if (style == IoStyle::kRecvSend) return Recv{.fd = fd, .buf = buf, .len = len};
  return Read{.fd = fd, .buf = buf, .len = len, .offset = offset};
}

Op WriteOp(IoStyle style, int fd, const void* buf, uint32_t len, uint64_t offset) {
  if (style == IoStyle::kRecvSend) return Send{.fd = fd, .buf = buf, .len = len};
  return Write{.fd = fd, .buf = buf, .len = len, .offset = offset};
}

TransferAwaiter::TransferAwaiter(IoStyle style, bool read, int fd, char* buf, size_t n,
                                 uint64_t offset)
    : OpAwaiter(StepsTag{}, read ? ReadOp(style, fd, buf, OpLength(n), offset)
                                 : WriteOp(style, fd, buf, OpLength(n), offset)),
      buf_(buf),
      n_(n),
      offset_(offset),
      style_(style),
      read_(read) {}

Op TransferAwaiter::NextOp() const {
  const uint32_t len = OpLength(n_ - done_);
  const uint64_t at = offset_ == kCurrentPosition ? kCurrentPosition : offset_ + done_;
  return read_ ? ReadOp(style_, fd_, buf_ + done_, len, at)
               : WriteOp(style_, fd_, buf_ + done_, len, at);
}

bool TransferAwaiter::Begin() {
  if (n_ == 0) {
    res_ = 0;
    return false;
  }
  if (n_ > size_t(std::numeric_limits<int32_t>::max())) {
    res_ = -EINVAL;
    return false;
  }
  return true;  // args_.op is the first op (the constructor made it)
}

bool TransferAwaiter::Next() {
  if (res_ < 0) return false;
  if (res_ == 0) {
    res_ = read_ ? -kEndOfStream : -EIO;
    return false;
  }
  done_ += size_t(res_);
  if (done_ >= n_) {
    res_ = int32_t(n_);
    return false;
  }
  args_.op = NextOp();
  return true;
}

}  // namespace ringloop::internal
