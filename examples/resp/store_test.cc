// examples/resp/store_test.cc: lazy and active expiry at their boundaries, and the
// deadline heap staying bounded.
#include "examples/resp/store.h"

#include <string>

#include "gtest/gtest.h"

namespace examples::resp {
namespace {

constexpr int64_t kNow = 1'700'000'000'000;  // Unix ms

Store::Entry* Put(Store& store, std::string_view key, std::string_view value, int64_t now_ms) {
  bool added = false;
  Store::Entry* entry = store.FindOrAdd(key, now_ms, &added);
  entry->value.assign(value);
  return entry;
}

TEST(StoreTest, KeyLivesThroughItsDeadlineMillisecondAndGoesAfter) {
  Store store;
  Store::Entry* e = Put(store, "k", "v", kNow);
  store.SetExpiry("k", e, kNow + 10);
  ASSERT_NE(store.Find("k", kNow + 10), nullptr);  // live while now <= deadline
  EXPECT_EQ(store.Find("k", kNow + 11), nullptr);
  EXPECT_EQ(store.keys_with_expiry(), 0u);  // removed by the lookup that found it expired
  EXPECT_EQ(store.Size(kNow + 11), 0u);
}

TEST(StoreTest, FindOrAddTreatsAnExpiredKeyAsNew) {
  Store store;
  Store::Entry* e = Put(store, "k", "old", kNow);
  store.SetExpiry("k", e, kNow);
  bool added = false;
  e = store.FindOrAdd("k", kNow + 1, &added);
  EXPECT_TRUE(added);
  EXPECT_EQ(e->value, "");
  EXPECT_EQ(e->expire_at_ms, kNoExpiry);
  e = store.FindOrAdd("k", kNow + 1, &added);
  EXPECT_FALSE(added);
}

TEST(StoreTest, RemoveReportsOnlyLiveKeys) {
  Store store;
  Put(store, "live", "v", kNow);
  Store::Entry* e = Put(store, "dead", "v", kNow);
  store.SetExpiry("dead", e, kNow - 1);
  EXPECT_TRUE(store.Remove("live", kNow));
  EXPECT_FALSE(store.Remove("dead", kNow));
  EXPECT_FALSE(store.Remove("never", kNow));
  EXPECT_EQ(store.Size(kNow), 0u);
}

TEST(StoreTest, ActiveExpireRemovesDueKeysEarliestFirstWithinBudget) {
  Store store;
  for (int i = 0; i < 5; ++i) {
    const std::string key = "k" + std::to_string(i);
    store.SetExpiry(key, Put(store, key, "v", kNow), kNow + 100 - i);  // k4 is due first
  }
  Put(store, "forever", "v", kNow);
  EXPECT_EQ(store.ActiveExpire(kNow + 96, 10), 0u);  // nothing is past its deadline yet
  EXPECT_EQ(store.NextExpiry(), kNow + 96);
  EXPECT_EQ(store.ActiveExpire(kNow + 200, 2), 2u);
  EXPECT_EQ(store.Find("k4", kNow), nullptr);  // gone, even when asked with an earlier time
  EXPECT_EQ(store.Find("k3", kNow), nullptr);
  EXPECT_NE(store.Find("k2", kNow), nullptr);
  EXPECT_EQ(store.ActiveExpire(kNow + 200, 10), 3u);
  EXPECT_EQ(store.Size(kNow + 200), 1u);
  EXPECT_EQ(store.NextExpiry(), kNoExpiry);
}

TEST(StoreTest, ActiveExpireSkipsDeadlinesThatWereChangedOrCleared) {
  Store store;
  Store::Entry* a = Put(store, "a", "v", kNow);
  store.SetExpiry("a", a, kNow + 1);
  store.SetExpiry("a", a, kNow + 1000);  // moved later: the first deadline is stale
  Store::Entry* b = Put(store, "b", "v", kNow);
  store.SetExpiry("b", b, kNow + 1);
  store.ClearExpiry(b);  // persisted: stale too
  EXPECT_EQ(store.ActiveExpire(kNow + 500, 10), 0u);
  EXPECT_NE(store.Find("a", kNow + 500), nullptr);
  EXPECT_NE(store.Find("b", kNow + 500), nullptr);
  EXPECT_EQ(store.ActiveExpire(kNow + 1001, 10), 1u);
  EXPECT_EQ(store.Find("a", kNow), nullptr);
}

TEST(StoreTest, RecreatedKeyWithTheSameDeadlineExpiresOnce) {
  Store store;
  store.SetExpiry("k", Put(store, "k", "v", kNow), kNow + 5);
  ASSERT_TRUE(store.Remove("k", kNow));
  store.SetExpiry("k", Put(store, "k", "w", kNow), kNow + 5);
  EXPECT_EQ(store.ActiveExpire(kNow + 6, 10), 1u);
  EXPECT_EQ(store.Size(kNow + 6), 0u);
}

TEST(StoreTest, DeadlineHeapStaysBoundedUnderRepeatedExpiryChanges) {
  Store store;
  Store::Entry* e = Put(store, "hot", "v", kNow);
  for (int i = 1; i <= 10000; ++i) {
    e = store.Find("hot", kNow);
    ASSERT_NE(e, nullptr);
    store.SetExpiry("hot", e, kNow + 1000 + i);
    ASSERT_LE(store.heap_size(), 2 * store.keys_with_expiry() + 64 + 1);
  }
  EXPECT_EQ(store.ActiveExpire(kNow + 1000 + 10001, 100), 1u);
}

TEST(StoreTest, SizeCountsOnlyLiveKeysAndClearEmpties) {
  Store store;
  Put(store, "a", "1", kNow);
  store.SetExpiry("b", Put(store, "b", "2", kNow), kNow + 1);
  EXPECT_EQ(store.Size(kNow + 1), 2u);
  EXPECT_EQ(store.Size(kNow + 2), 1u);
  store.Clear();
  EXPECT_EQ(store.Size(kNow), 0u);
  EXPECT_EQ(store.keys_with_expiry(), 0u);
  EXPECT_EQ(store.heap_size(), 0u);
}

}  // namespace
}  // namespace examples::resp
