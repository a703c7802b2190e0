// ringloop/core/internal/indexed_heap.h: a binary min-heap whose entries know their place.
//
// IndexedHeap<T, Less, Moved> keeps small copyable entries ordered by Less (a
// strict order). Each time an entry is stored at a position, Moved(entry,
// position) is called, so that its owner can find it again and Remove it by
// position in O(log n): a cancelled timer leaves the heap at once instead of
// lingering until its deadline. Both timer heaps use it: the engine's (Timeouts,
// and deadlines of ops still queued) and the epoll driver's (linked timeouts).
#ifndef RINGLOOP_CORE_INTERNAL_INDEXED_HEAP_H_
#define RINGLOOP_CORE_INTERNAL_INDEXED_HEAP_H_

#include <cstddef>
#include <utility>
#include <vector>

#include "ringloop/core/check.h"

namespace ringloop::internal {

template <class T, class Less, class Moved>
class IndexedHeap {
 public:
  IndexedHeap(Less less, Moved moved) : less_(std::move(less)), moved_(std::move(moved)) {}

  bool empty() const { return items_.empty(); }
  size_t size() const { return items_.size(); }
  void reserve(size_t n) { items_.reserve(n); }

  // top: the least entry. at: the entry at `pos`.
  const T& top() const {
    RL_DCHECK(!items_.empty());
    return items_.front();
  }
  const T& at(size_t pos) const {
    RL_DCHECK(pos < items_.size());
    return items_[pos];
  }

  void Push(const T& x) {
    items_.push_back(x);
    SiftUp(items_.size() - 1, x);
  }

  // Remove: takes out the entry at `pos` (the last position Moved gave for it).
  // The entries that move get Moved; the removed one does not.
  void Remove(size_t pos) {
    RL_CHECK(pos < items_.size());
    const T last = items_.back();
    items_.pop_back();
    if (pos == items_.size()) return;  // it was the last
    if (pos > 0 && less_(last, items_[(pos - 1) / 2])) {
      SiftUp(pos, last);
    } else {
      SiftDown(pos, last);
    }
  }

 private:
  void Place(size_t pos, const T& x) {
    items_[pos] = x;
    moved_(x, pos);
  }

  // SiftUp: places `x` at hole `pos` or above, moving parents down.
  void SiftUp(size_t pos, const T& x) {
    while (pos > 0) {
      const size_t parent = (pos - 1) / 2;
      if (!less_(x, items_[parent])) break;
      Place(pos, items_[parent]);
      pos = parent;
    }
    Place(pos, x);
  }

  // SiftDown: places `x` at hole `pos` or below, moving the lesser child up.
  void SiftDown(size_t pos, const T& x) {
    const size_t n = items_.size();
    for (;;) {
      size_t child = 2 * pos + 1;
      if (child >= n) break;
      if (child + 1 < n && less_(items_[child + 1], items_[child])) ++child;
      if (!less_(items_[child], x)) break;
      Place(pos, items_[child]);
      pos = child;
    }
    Place(pos, x);
  }

  std::vector<T> items_;
  Less less_;
  Moved moved_;
};

}  // namespace ringloop::internal

#endif  // RINGLOOP_CORE_INTERNAL_INDEXED_HEAP_H_
