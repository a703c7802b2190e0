// ringloop/runtime/buffered_reader.h: BufferedReader, reads from an fd through a
// buffer of fixed size: lines or other delimited records (ReadUntil), exact
// counts (ReadExact), or whatever is there (Read).
//
//   BufferedReader in(fd);
//   Result r = co_await in.ReadUntil("\r\n", 1024);
//   if (!r.ok()) co_return;  // r.end_of_stream(), EMSGSIZE (no "\r\n" in 1024 bytes), ...
//   std::string_view line = in.Take(r.value());  // with its "\r\n"
//
// The buffer is allocated once, at construction, and never grows: a record
// longer than the limit it is asked for (and every limit is at most the
// capacity) is an error, EMSGSIZE, never unbounded memory. Each read op reads
// as much as fits, so many records may come from one op; records are taken
// from the front with Take, and the buffered rest is kept for the next call.
//
// Results follow stream.h: the value; the error of the read that failed,
// naming the op and fd; -kEndOfStream (Result::end_of_stream()) when the
// stream ended before the record was complete (what did arrive stays
// buffered, see buffered()); -EMSGSIZE when the record cannot fit the limit;
// -ECANCELED when the task was cancelled. Each call is one await and
// allocates nothing; cancelling the task cancels the read in flight.
//
// Lifetime: the reader (and its buffer, the target of the read op in flight)
// must outlive every await on it, as it does when it lives in the task's
// frame. One await at a time. A view returned by Take or buffered() stays
// valid until the next ReadUntil, ReadExact or Read (which may move the
// buffered bytes to the front), or until the reader is destroyed.
//
// Threads: the Loop's thread, from inside a Task.
#ifndef RINGLOOP_RUNTIME_BUFFERED_READER_H_
#define RINGLOOP_RUNTIME_BUFFERED_READER_H_

#include <cstddef>
#include <memory>
#include <string_view>

#include "ringloop/runtime/io.h"
#include "ringloop/runtime/stream.h"

namespace ringloop {

class BufferedReader;

namespace internal {

// ReaderAwaiter: the await behind ReadUntil, ReadExact and Read: reads into
// the reader's buffer until the request is satisfied.
class ReaderAwaiter final : public OpAwaiter {
 public:
  enum class Want : uint8_t { kUntil, kExact, kSome };
  ReaderAwaiter(BufferedReader* reader, Want want, std::string_view delimiter, size_t n, char* dst);

 private:
  bool Begin() override;
  bool Next() override;
  // Satisfied: whether the request can be answered now; if so res_ is set.
  bool Satisfied();
  // PrepareRead: sets args_.op to a read into the free end of the buffer.
  void PrepareRead();

  BufferedReader* reader_;
  std::string_view delimiter_;
  size_t n_;            // the limit (kUntil), the count (kExact), dst's size (kSome)
  char* dst_;           // kSome
  size_t scanned_ = 0;  // kUntil: buffered bytes known not to start the delimiter
  Want want_;
};

}  // namespace internal

class BufferedReader {
 public:
  // kDefaultCapacity: the buffer size when none is given.
  static constexpr size_t kDefaultCapacity = 64 * 1024;

  // BufferedReader: reads `fd` (not owned) with `style`'s ops through a buffer
  // of `capacity` bytes (kept between 1 and 1 GiB).
  explicit BufferedReader(int fd, size_t capacity = kDefaultCapacity,
                          IoStyle style = IoStyle::kReadWrite);
  BufferedReader(BufferedReader&&) = default;
  BufferedReader& operator=(BufferedReader&&) = default;

  // ReadUntil: co_await ReadUntil(delimiter, max): the length of the record
  // up to and including the first `delimiter`, which must end within the
  // first `max` buffered bytes (`max` is capped at the capacity). EMSGSIZE
  // when `max` bytes are buffered without it; EINVAL for an empty delimiter.
  // `delimiter` must stay valid until the await returns.
  internal::ReaderAwaiter ReadUntil(std::string_view delimiter, size_t max) {
    return internal::ReaderAwaiter(this, internal::ReaderAwaiter::Want::kUntil, delimiter, max,
                                   nullptr);
  }

  // ReadExact: co_await ReadExact(n): `n` once n bytes are buffered (EMSGSIZE
  // if `n` exceeds the capacity); take them with Take(n).
  internal::ReaderAwaiter ReadExact(size_t n) {
    return internal::ReaderAwaiter(this, internal::ReaderAwaiter::Want::kExact, {}, n, nullptr);
  }

  // Read: co_await Read(dst, n): copies up to `n` buffered bytes into `dst`
  // (and consumes them), reading once first if nothing is buffered; 0 at the
  // end of the stream, as read(2).
  internal::ReaderAwaiter Read(void* dst, size_t n) {
    return internal::ReaderAwaiter(this, internal::ReaderAwaiter::Want::kSome, {}, n,
                                   static_cast<char*>(dst));
  }

  // Take: the first `n` buffered bytes (n <= buffered().size()), consumed.
  std::string_view Take(size_t n);

  // buffered: the bytes read and not yet consumed.
  std::string_view buffered() const { return {buf_.get() + begin_, end_ - begin_}; }
  size_t capacity() const { return capacity_; }
  int fd() const { return fd_; }

 private:
  friend class internal::ReaderAwaiter;

  std::unique_ptr<char[]> buf_;
  size_t capacity_;
  size_t begin_ = 0;  // buffered bytes are [begin_, end_)
  size_t end_ = 0;
  int fd_;
  IoStyle style_;
};

}  // namespace ringloop

#endif  // RINGLOOP_RUNTIME_BUFFERED_READER_H_
