// examples/common/buffers.cc: storage management of InputBuffer and OutputBuffer.
#include "examples/common/buffers.h"

namespace examples {
namespace {

// Release: an empty `s` that grew past kKeepBytes gives its storage back.
void Release(std::string& s) {
  if (s.empty() && s.capacity() > kKeepBytes) std::string().swap(s);
}

}  // namespace

void InputBuffer::Drop(size_t n) {
  RL_CHECK(n <= data_.size());
  data_.erase(0, n);
  Release(data_);
}

void OutputBuffer::Consume(size_t n) {
  RL_CHECK(n <= size());
  head_ += n;
  if (head_ == data_.size()) {
    data_.clear();
    head_ = 0;
    Release(data_);
    return;
  }
  // Move the unwritten tail to the front once the written part dominates, so a
  // client that reads slowly costs O(bytes) in copies, not O(bytes^2).
  if (head_ >= 64 * 1024 && head_ * 2 >= data_.size()) {
    data_.erase(0, head_);
    head_ = 0;
  }
}

}  // namespace examples
