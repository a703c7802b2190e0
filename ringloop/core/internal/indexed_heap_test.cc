// ringloop/core/internal/indexed_heap_test.cc: IndexedHeap against a sorted set, with
// every position it reports checked.
#include "ringloop/core/internal/indexed_heap.h"

#include <cstdint>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace ringloop::internal {
namespace {

// Entry: a key and the id whose position is recorded in `where`.
struct Entry {
  uint64_t key;
  uint32_t id;
};

struct ByKeyThenId {
  bool operator()(const Entry& a, const Entry& b) const {
    return a.key != b.key ? a.key < b.key : a.id < b.id;
  }
};

struct Record {
  std::vector<size_t>* where;
  void operator()(const Entry& e, size_t pos) const { (*where)[e.id] = pos; }
};

constexpr size_t kAbsent = ~size_t{0};

TEST(IndexedHeapTest, MatchesASortedSetAndKnowsEveryPosition) {
  std::vector<size_t> where(4000, kAbsent);
  IndexedHeap<Entry, ByKeyThenId, Record> heap(ByKeyThenId{}, Record{&where});
  std::set<std::pair<uint64_t, uint32_t>> model;
  std::mt19937_64 rng(42);
  uint32_t next_id = 0;
  for (int step = 0; step < 20000; ++step) {
    const unsigned what = unsigned(rng() % 3);
    if (what == 0 && next_id < where.size()) {  // push (keys repeat: ties by id)
      const Entry e{rng() % 50, next_id++};
      heap.Push(e);
      model.insert({e.key, e.id});
    } else if (what == 1 && !model.empty()) {  // pop the least
      const Entry top = heap.top();
      ASSERT_EQ(std::make_pair(top.key, top.id), *model.begin());
      heap.Remove(0);
      where[top.id] = kAbsent;
      model.erase(model.begin());
    } else if (!model.empty()) {  // remove one from the middle, found by position
      auto it = model.begin();
      std::advance(it, rng() % model.size());
      const uint32_t id = it->second;
      ASSERT_NE(where[id], kAbsent);
      ASSERT_EQ(heap.at(where[id]).id, id);
      heap.Remove(where[id]);
      where[id] = kAbsent;
      model.erase(it);
    }
    ASSERT_EQ(heap.size(), model.size());
    for (const auto& [key, id] : model) {
      ASSERT_LT(where[id], heap.size());
      ASSERT_EQ(heap.at(where[id]).id, id) << "a position Moved reported is stale";
    }
  }
}

TEST(IndexedHeapTest, RemovingTheLastEntryMovesNothing) {
  std::vector<size_t> where(3, kAbsent);
  int moves = 0;
  auto count = [&](const Entry& e, size_t pos) {
    where[e.id] = pos;
    ++moves;
  };
  IndexedHeap<Entry, ByKeyThenId, decltype(count)> heap(ByKeyThenId{}, count);
  heap.Push({1, 0});
  heap.Push({2, 1});
  heap.Push({3, 2});
  moves = 0;
  heap.Remove(where[2]);
  EXPECT_EQ(moves, 0);
  EXPECT_EQ(heap.size(), 2u);
  EXPECT_EQ(heap.top().id, 0u);
}

}  // namespace
}  // namespace ringloop::internal
