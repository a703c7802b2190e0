// ringloop/drivers/epoll/internal/fd_table_test.cc: FdTable's lookups, growth and the
// map above the dense limit.
#include "ringloop/drivers/epoll/internal/fd_table.h"

#include <map>

#include "gtest/gtest.h"

namespace ringloop::epoll_internal {
namespace {

struct State {
  int value = 0;
};

TEST(FdTableTest, UnknownAndNegativeFdsAreNotFound) {
  FdTable<State> table(/*dense_limit=*/16);
  EXPECT_EQ(table.Find(0), nullptr);
  EXPECT_EQ(table.Find(-1), nullptr);
  EXPECT_EQ(table.Find(5), nullptr);
  EXPECT_EQ(table.Find(100), nullptr);
  table.Ensure(3).value = 7;
  EXPECT_EQ(table.Find(2), nullptr);
  EXPECT_EQ(table.Find(4), nullptr);
  EXPECT_EQ(table.Find(-1), nullptr);
  ASSERT_NE(table.Find(3), nullptr);
  EXPECT_EQ(table.Find(3)->value, 7);
}

// Lookup answers none() for every fd the table never held (below, inside and
// above the dense range, negative), the state itself for one it holds; Find
// and ForEach never show none().
TEST(FdTableTest, LookupGivesNoneForUnknownFds) {
  FdTable<State> table(/*dense_limit=*/16);
  EXPECT_EQ(table.Lookup(0), table.none());
  table.Ensure(3).value = 7;
  table.Ensure(40).value = 9;  // above the limit: the map
  for (int fd : {-1, 0, 2, 4, 15, 16, 39, 41, 1000}) {
    EXPECT_EQ(table.Lookup(fd), table.none()) << fd;
    EXPECT_EQ(table.Find(fd), nullptr) << fd;
  }
  EXPECT_EQ(table.Lookup(3), table.Find(3));
  EXPECT_EQ(table.Lookup(3)->value, 7);
  EXPECT_EQ(table.Lookup(40)->value, 9);
  EXPECT_EQ(table.none()->value, 0);
  std::map<int, int> seen;
  table.ForEach([&](int fd, const State& s) { seen[fd] = s.value; });
  EXPECT_EQ(seen, (std::map<int, int>{{3, 7}, {40, 9}}));
}

TEST(FdTableTest, StatesNeverMoveWhileTheTableGrows) {
  FdTable<State> table(/*dense_limit=*/1000);
  State& first = table.Ensure(0);
  first.value = 1;
  State* const where = &first;
  // Enough fds to grow the index several times and fill several chunks.
  for (int fd = 1; fd < 900; ++fd) table.Ensure(fd).value = fd + 1;
  EXPECT_EQ(table.Find(0), where);
  EXPECT_EQ(where->value, 1);
  for (int fd = 0; fd < 900; ++fd) {
    ASSERT_NE(table.Find(fd), nullptr);
    EXPECT_EQ(table.Find(fd)->value, fd + 1);
  }
  EXPECT_EQ(&table.Ensure(0), where);  // Ensure finds what is there
}

TEST(FdTableTest, FdsAboveTheDenseLimitUseTheMap) {
  FdTable<State> table(/*dense_limit=*/16);
  State& low = table.Ensure(15);
  State& high = table.Ensure(1 << 20);
  State& next = table.Ensure(16);
  low.value = 1;
  high.value = 2;
  next.value = 3;
  EXPECT_EQ(table.Find(15), &low);
  EXPECT_EQ(table.Find(1 << 20), &high);
  EXPECT_EQ(table.Find(16), &next);
  EXPECT_EQ(table.Find((1 << 20) + 1), nullptr);
  // More high fds do not move the first one.
  for (int fd = 100; fd < 400; ++fd) table.Ensure(fd).value = fd;
  EXPECT_EQ(table.Find(1 << 20), &high);
  EXPECT_EQ(high.value, 2);
}

TEST(FdTableTest, ForEachVisitsEveryStateOnce) {
  FdTable<State> table(/*dense_limit=*/8);
  for (int fd : {0, 3, 7, 8, 50, 1 << 24}) table.Ensure(fd).value = fd;
  std::map<int, int> seen;
  table.ForEach([&](int fd, const State& s) {
    ++seen[fd];
    EXPECT_EQ(s.value, fd);
  });
  EXPECT_EQ(seen, (std::map<int, int>{{0, 1}, {3, 1}, {7, 1}, {8, 1}, {50, 1}, {1 << 24, 1}}));
}

}  // namespace
}  // namespace ringloop::epoll_internal
