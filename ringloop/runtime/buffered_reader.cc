// ringloop/runtime/buffered_reader.cc: the buffer and the await that fills it.
#include "ringloop/runtime/buffered_reader.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "ringloop/core/check.h"

namespace ringloop {
namespace {

constexpr size_t kMaxCapacity = size_t{1} << 30;  // every count fits a Result

}  // namespace

BufferedReader::BufferedReader(int fd, size_t capacity, IoStyle style)
    : capacity_(std::clamp<size_t>(capacity, 1, kMaxCapacity)), fd_(fd), style_(style) {
  buf_.reset(new char[capacity_]);
}

std::string_view BufferedReader::Take(size_t n) {
  RL_CHECK(n <= end_ - begin_);
  const std::string_view taken(buf_.get() + begin_, n);
  begin_ += n;
  return taken;
}

namespace internal {

ReaderAwaiter::ReaderAwaiter(BufferedReader* reader, Want want, std::string_view delimiter,
                             size_t n, char* dst)
    : OpAwaiter(StepsTag{}, ReadOp(reader->style_, reader->fd_, nullptr, 0)),
      reader_(reader),
      delimiter_(delimiter),
      n_(n),
      dst_(dst),
      want_(want) {}

bool ReaderAwaiter::Begin() {
  if (want_ == Want::kUntil) {
    if (delimiter_.empty()) {
      res_ = -EINVAL;
      return false;
    }
    n_ = std::min(n_, reader_->capacity_);
  }
  if (want_ == Want::kExact && n_ > reader_->capacity_) {
    res_ = -EMSGSIZE;
    return false;
  }
  if (Satisfied()) return false;
  PrepareRead();
  return true;
}

bool ReaderAwaiter::Next() {
  if (res_ < 0) return false;
  if (res_ == 0) {  // the end of the stream
    if (want_ != Want::kSome) res_ = -kEndOfStream;
    return false;
  }
  reader_->end_ += size_t(res_);
  RL_CHECK(reader_->end_ <= reader_->capacity_);
  if (Satisfied()) return false;
  PrepareRead();
  return true;
}

bool ReaderAwaiter::Satisfied() {
  const std::string_view data = reader_->buffered();
  switch (want_) {
    case Want::kUntil: {
      const std::string_view window = data.substr(0, std::min(data.size(), n_));
      const size_t at = window.find(delimiter_, scanned_);
      if (at != std::string_view::npos) {
        res_ = int32_t(at + delimiter_.size());
        return true;
      }
      // A match may still start in the last delimiter_.size() - 1 bytes.
      if (window.size() >= delimiter_.size()) scanned_ = window.size() - delimiter_.size() + 1;
      if (window.size() < n_) return false;
      res_ = -EMSGSIZE;
      return true;
    }
    case Want::kExact:
      if (data.size() < n_) return false;
      res_ = int32_t(n_);
      return true;
    case Want::kSome: {
      if (data.empty() && n_ > 0) return false;
      const size_t k = std::min(data.size(), n_);
      if (k > 0) std::memcpy(dst_, reader_->Take(k).data(), k);
      res_ = int32_t(k);
      return true;
    }
  }
  return true;
}

void ReaderAwaiter::PrepareRead() {
  BufferedReader& r = *reader_;
  if (r.begin_ == r.end_) {
    r.begin_ = r.end_ = 0;
  } else if (r.end_ == r.capacity_ || r.begin_ >= r.capacity_ / 2) {
    // Room at the end by moving the buffered bytes to the front. A request
    // that is not satisfied is smaller than the capacity, so room is made.
    std::memmove(r.buf_.get(), r.buf_.get() + r.begin_, r.end_ - r.begin_);
    r.end_ -= r.begin_;
    r.begin_ = 0;
  }
  RL_CHECK(r.end_ < r.capacity_);
  args_.op = ReadOp(r.style_, r.fd_, r.buf_.get() + r.end_, uint32_t(r.capacity_ - r.end_));
}

}  // namespace internal
}  // namespace ringloop
