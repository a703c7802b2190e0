// examples/common/buffers.h: the byte buffers between a socket and a sans-I/O protocol core.
//
// InputBuffer holds the bytes a core was given but has not consumed yet: the start of
// an incomplete request, or complete requests it deferred while its output was over
// its limit. OutputBuffer holds the replies not yet written. Neither touches a socket;
// the server loop moves bytes in and out. Both keep their storage from one request to
// the next, so a steady stream of requests allocates nothing here; storage grown past
// kKeepBytes by one large request is released once it is empty again.
//
// Threads: one thread at a time (the connection's).
#ifndef EXAMPLES_COMMON_BUFFERS_H_
#define EXAMPLES_COMMON_BUFFERS_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "ringloop/core/check.h"

namespace examples {

// kKeepBytes: storage an idle buffer keeps for the next request; above it, an empty
// buffer gives its storage back.
inline constexpr size_t kKeepBytes = 256 * 1024;

// InputBuffer: unconsumed input, always starting where the core's next parse starts.
class InputBuffer {
 public:
  // Process: runs `consume` once over the buffered bytes followed by `bytes`, and keeps
  // what it leaves. `consume(std::string_view pending) -> size_t` returns how many bytes
  // it consumed from the front of `pending`. When nothing is buffered, `consume` sees
  // `bytes` itself and only the unconsumed tail is copied, so the common case (whole
  // requests per read) copies nothing.
  template <class Consume>
  void Process(std::string_view bytes, Consume&& consume) {
    if (data_.empty()) {
      const size_t used = consume(bytes);
      RL_CHECK(used <= bytes.size());
      data_.assign(bytes.substr(used));
      return;
    }
    data_.append(bytes);
    const size_t used = consume(std::string_view(data_));
    RL_CHECK(used <= data_.size());
    Drop(used);
  }

  // size: buffered bytes.
  size_t size() const { return data_.size(); }
  // empty: nothing is buffered.
  bool empty() const { return data_.empty(); }
  // view: the buffered bytes (valid until the next Process).
  std::string_view view() const { return data_; }
  // Clear: forgets every buffered byte (a connection that is closing).
  void Clear() { Drop(data_.size()); }

 private:
  void Drop(size_t n);

  std::string data_;
};

// OutputBuffer: replies not yet written, appended at the back, written from the front.
class OutputBuffer {
 public:
  // sink: the string replies are appended to. Only append to it.
  std::string* sink() { return &data_; }
  // Pending: the bytes not yet written (valid until the next append or Consume).
  std::string_view Pending() const { return std::string_view(data_).substr(head_); }
  // size: bytes not yet written.
  size_t size() const { return data_.size() - head_; }
  // Consume: the first `n` pending bytes were written. Requires n <= size().
  void Consume(size_t n);

 private:
  std::string data_;
  size_t head_ = 0;  // bytes of data_ already written
};

}  // namespace examples

#endif  // EXAMPLES_COMMON_BUFFERS_H_
