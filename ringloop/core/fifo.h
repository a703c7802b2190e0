// ringloop/core/fifo.h: the engine's output queues (requests for the driver,
// events for users).
//
// A Fifo empties often: appended at the back, consumed from the front, and
// reset (keeping its memory) whenever drained, so steady state allocates
// nothing and an append is a compare and a store. It lives in a header only so
// that Engine's output getters can be inlined into drivers. Engine holds its
// queues by value, so this header is installed with engine.h; it is no API
// (namespace internal).
#ifndef RINGLOOP_CORE_FIFO_H_
#define RINGLOOP_CORE_FIFO_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace ringloop::internal {

template <class T>
struct Fifo {
  std::unique_ptr<T[]> items;  // items[head, size) are pending; never shrinks
  size_t capacity = 0;
  size_t head = 0;
  size_t size = 0;

  [[gnu::always_inline]] void Append(const T& x) {
    if (__builtin_expect(size == capacity, 0)) Grow(std::max<size_t>(16, 2 * size));
    items[size++] = x;
  }
  // Full: whether the next Append would grow the buffer (the engine's straight
  // paths leave that to the general ones).
  bool Full() const { return size == capacity; }
  // Grow: room for at least `n` items in all (never shrinks).
  [[gnu::noinline]] void Grow(size_t n) {
    if (n <= capacity) return;
    auto bigger = std::make_unique<T[]>(n);
    std::copy_n(items.get(), size, bigger.get());
    items = std::move(bigger);
    capacity = n;
  }
  size_t Pending() const { return size - head; }
  const T* Front() const { return items.get() + head; }
  void Consume(size_t n) {
    head += n;
    if (head == size) head = size = 0;
  }
};

// EngineOutputs: what a driver reads from an Engine on every cycle. The
// engine's state derives from it; Engine keeps a pointer to it so that its
// output getters inline into drivers.
template <class RequestT, class EventT>
struct EngineOutputs {
  Fifo<RequestT> ready;        // requests for the driver
  Fifo<EventT> events;         // events for users
  bool has_deadline = false;   // the timer heap is not empty
  uint64_t next_deadline = 0;  // if so, its earliest deadline
};

}  // namespace ringloop::internal

#endif  // RINGLOOP_CORE_FIFO_H_
