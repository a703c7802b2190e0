// ringloop/drivers/epoll/internal/fd_table.h: per-fd state, found by fd number in a few
// instructions.
//
// FdTable<State> holds one State per fd number the driver has seen. Below
// `dense_limit` (65536 by default) an fd indexes a vector of pointers, so a
// lookup on the per-op path is a bounds check and a load; above it (rare: dup2
// to a high number under a raised RLIMIT_NOFILE) a hash map, so one high fd
// does not cost a vector entry for every number below it. States live in fixed
// chunks (or, above the limit, one allocation each) and never move: a reference
// stays valid while more states are made (the driver's epoll registrations and
// parked ops point at states).
//
// Not thread-safe: the driver's thread only.
#ifndef RINGLOOP_DRIVERS_EPOLL_INTERNAL_FD_TABLE_H_
#define RINGLOOP_DRIVERS_EPOLL_INTERNAL_FD_TABLE_H_

#include <algorithm>
#include <cstddef>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "ringloop/core/check.h"

namespace ringloop::epoll_internal {

template <typename State>
class FdTable {
 public:
  explicit FdTable(int dense_limit = 1 << 16) : dense_limit_(dense_limit) {
    RL_CHECK(dense_limit > 0);
  }
  FdTable(const FdTable&) = delete;
  FdTable& operator=(const FdTable&) = delete;

  // Find: the state of `fd`, or nullptr if the table never held it (or fd < 0).
  // The map is looked at only above the limit.
  State* Find(int fd) {
    State* s = Lookup(fd);
    return s != &none_ ? s : nullptr;
  }
  // Lookup: as Find, but an fd the table never held gives none(), a
  // value-initialised state, instead of nullptr: a caller that only reads (the
  // driver's per-op path asks whether an fd is a known pollable one) tests no
  // pointer. Nobody may write through none(). Inline: one bounds check, one load.
  [[gnu::always_inline]] State* Lookup(int fd) {
    if (__builtin_expect(unsigned(fd) < dense_count_, 1)) return dense_[size_t(fd)];
    if (fd < dense_limit_) return &none_;
    State* s = FindSparse(fd);
    return s != nullptr ? s : &none_;
  }
  const State* none() const { return &none_; }
  const State* Find(int fd) const { return const_cast<FdTable*>(this)->Find(fd); }

  // Ensure: the state of `fd` (>= 0), made (value-initialised) if absent.
  State& Ensure(int fd) {
    RL_CHECK(fd >= 0);
    if (State* s = Find(fd); s != nullptr) return *s;
    if (fd >= dense_limit_) {
      std::unique_ptr<State>& slot = sparse_[fd];
      slot = std::make_unique<State>();
      return *slot;
    }
    if (size_t(fd) >= dense_.size()) {
      const size_t grown = std::max(size_t(fd) + 1, dense_.size() * 2);
      dense_.resize(std::min(grown, size_t(dense_limit_)), &none_);
      dense_count_ = unsigned(dense_.size());
    }
    State* s = NewDenseState();
    dense_[size_t(fd)] = s;
    return *s;
  }

  // ForEach: calls f(fd, state) for every state the table holds (dense fds in
  // increasing order, then the others).
  template <typename F>
  void ForEach(F f) const {
    for (size_t fd = 0; fd < dense_.size(); ++fd) {
      if (dense_[fd] != &none_) f(int(fd), *dense_[fd]);
    }
    for (const auto& [fd, state] : sparse_) f(fd, *state);
  }

 private:
  static constexpr size_t kChunk = 64;

  [[gnu::noinline]] State* FindSparse(int fd) {
    const auto it = sparse_.find(fd);
    return it == sparse_.end() ? nullptr : it->second.get();
  }

  State* NewDenseState() {
    if (chunk_used_ == kChunk) {
      chunks_.push_back(std::make_unique<State[]>(kChunk));
      chunk_used_ = 0;
    }
    return &chunks_.back()[chunk_used_++];
  }

  const int dense_limit_;
  // none_: what dense_ holds for an fd never seen, and what Lookup answers for it.
  State none_{};
  std::vector<State*> dense_;  // by fd; &none_: never seen
  // dense_count_: dense_.size(), kept so that Find compares with one load rather
  // than computing (end - begin) / 8 on every lookup.
  unsigned dense_count_ = 0;
  absl::flat_hash_map<int, std::unique_ptr<State>> sparse_;
  std::vector<std::unique_ptr<State[]>> chunks_;  // the dense states' storage
  size_t chunk_used_ = kChunk;                    // states taken from chunks_.back()
};

}  // namespace ringloop::epoll_internal

#endif  // RINGLOOP_DRIVERS_EPOLL_INTERNAL_FD_TABLE_H_
