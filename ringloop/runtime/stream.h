// ringloop/runtime/stream.h: ReadExact and WriteAll, the loops over short reads
// and writes that users otherwise write by hand (and get wrong).
//
//   char header[16];
//   Result r = co_await ReadExact(fd, header, sizeof(header));  // all 16, or an error
//   if (r.end_of_stream()) { /* the peer hung up first */ }
//   Result w = co_await WriteAll(fd, reply.data(), reply.size());
//
// ReadExact reads until exactly `n` bytes are in `buf`. Its Result is `n`; or
// the error of the read that failed, naming that op and the fd; or, if the
// stream ends (a read returns 0) before `n` bytes arrived, -kEndOfStream
// (Result::end_of_stream(), result.h): the bytes that did arrive are at the
// front of `buf`. WriteAll writes until the kernel has accepted all `n` bytes,
// going on from where a short write (a full socket buffer, a signal) stopped.
// Its Result is `n`, or the error of the write that failed (the bytes written
// before it stay written); a write that accepts nothing fails it with EIO
// (repeating it would spin). `n` == 0 completes at once with 0; more than
// INT32_MAX bytes (a Result's range) is EINVAL.
//
// Each is one await, one resumption of the task however many ops it takes, and
// allocates nothing. They follow io.h: cancelling the task cancels the op in
// flight through the engine and ends the await -ECANCELED (a cancelled read
// may already have consumed bytes, as in the kernel); `buf` must stay valid
// until the await returns, which it does when it lives in the task's frame.
//
// IoStyle picks the ops: read(2)/write(2) work on any fd; recv(2)/send(2) only
// on sockets, where a send to a peer that is gone fails EPIPE without raising
// SIGPIPE under every driver (MSG_NOSIGNAL).
//
// Threads: the Loop's thread, from inside a Task.
#ifndef RINGLOOP_RUNTIME_STREAM_H_
#define RINGLOOP_RUNTIME_STREAM_H_

#include <cstddef>
#include <cstdint>

#include "ringloop/core/ops.h"
#include "ringloop/runtime/io.h"

namespace ringloop {

// IoStyle: the ops a stream helper uses (see the file comment).
enum class IoStyle : uint8_t { kReadWrite, kRecvSend };

namespace internal {

// OpLength: the part of `n` bytes one op carries (at most 1 GiB, so that
// every result fits a Result).
inline uint32_t OpLength(size_t n) {
  return n > (size_t{1} << 30) ? uint32_t{1} << 30 : uint32_t(n);
}

// ReadOp / WriteOp: one read or write of `len` bytes in `style`, at `offset`
// (kReadWrite only; kCurrentPosition: the file position).
Op ReadOp(IoStyle style, int fd, void* buf, uint32_t len, uint64_t offset = kCurrentPosition);
Op WriteOp(IoStyle style, int fd, const void* buf, uint32_t len,
           uint64_t offset = kCurrentPosition);

// TransferAwaiter: ReadExact's and WriteAll's await: ops in a row until `n`
// bytes have moved.
class TransferAwaiter final : public OpAwaiter {
 public:
  // TransferAwaiter: at the file position, or at `offset` onwards when it is
  // not kCurrentPosition (kReadWrite only).
  TransferAwaiter(IoStyle style, bool read, int fd, char* buf, size_t n,
                  uint64_t offset = kCurrentPosition);

 private:
  bool Begin() override;
  bool Next() override;
  // NextOp: the op that moves the rest, from done_ on.
  Op NextOp() const;

  char* buf_;
  size_t n_;
  size_t done_ = 0;
  uint64_t offset_;
  IoStyle style_;
  bool read_;
};

}  // namespace internal

// ReadExact: co_await ReadExact(fd, buf, n): exactly `n` bytes (see the file
// comment).
inline internal::TransferAwaiter ReadExact(int fd, void* buf, size_t n,
                                           IoStyle style = IoStyle::kReadWrite) {
  return internal::TransferAwaiter(style, /*read=*/true, fd, static_cast<char*>(buf), n);
}

// WriteAll: co_await WriteAll(fd, buf, n): all `n` bytes (see the file comment).
inline internal::TransferAwaiter WriteAll(int fd, const void* buf, size_t n,
                                          IoStyle style = IoStyle::kReadWrite) {
  // The buffer is only read: the awaiter's one pointer type is char*.
  return internal::TransferAwaiter(style, /*read=*/false, fd,
                                   const_cast<char*>(static_cast<const char*>(buf)), n);
}

}  // namespace ringloop

#endif  // RINGLOOP_RUNTIME_STREAM_H_
