#include "ringloop/runtime/callback_slots.h"

#include <memory>
#include <set>
#include <vector>

#include "gtest/gtest.h"

namespace ringloop {
namespace {

Event EventFor(uint64_t tag, int32_t res, bool more = false) {
  Event e;
  e.tag = tag;
  e.res = res;
  e.more = more;
  return e;
}

TEST(CallbackSlotsTest, EachEventReachesItsOwnCallback) {
  CallbackSlots slots;
  std::vector<int> got(3, 0);
  std::vector<uint64_t> tags;
  for (int i = 0; i < 3; ++i) {
    tags.push_back(slots.Add([&got, i](const Event& e) { got[i] = e.res; }));
  }
  EXPECT_EQ(std::set<uint64_t>(tags.begin(), tags.end()).size(), 3u);
  slots.Deliver(EventFor(tags[1], 11));
  slots.Deliver(EventFor(tags[0], 10));
  slots.Deliver(EventFor(tags[2], 12));
  EXPECT_EQ(got, (std::vector<int>{10, 11, 12}));
}

TEST(CallbackSlotsTest, FreedSlotIsReusedUnderANewTag) {
  CallbackSlots slots;
  int calls = 0;
  const uint64_t first = slots.Add([&](const Event&) { ++calls; });
  slots.Deliver(EventFor(first, 0));
  const uint64_t second = slots.Add([&](const Event&) { ++calls; });
  EXPECT_EQ(slots.size(), 1u);                   // the same slot...
  EXPECT_EQ(uint32_t(second), uint32_t(first));  // ...at the same index...
  EXPECT_NE(second, first);                      // ...with another generation
  EXPECT_EQ(second >> 63, 0u);                   // bit 63 stays clear (Loop's awaiter tags)
  slots.Deliver(EventFor(second, 0));
  EXPECT_EQ(calls, 2);
}

TEST(CallbackSlotsTest, MoreEventsKeepTheSlotAndTheFinalOneDestroysTheCallback) {
  CallbackSlots slots;
  auto alive = std::make_shared<int>(0);
  std::weak_ptr<int> watch = alive;
  const uint64_t tag = slots.Add([alive](const Event& e) { *alive += e.res; });
  alive.reset();
  slots.Deliver(EventFor(tag, 1, /*more=*/true));
  slots.Deliver(EventFor(tag, 2, /*more=*/true));
  ASSERT_FALSE(watch.expired());
  EXPECT_EQ(*watch.lock(), 3);
  slots.Deliver(EventFor(tag, 4));
  EXPECT_TRUE(watch.expired());
}

TEST(CallbackSlotsTest, CallbackThatAddsManySlotsRunsInPlace) {
  // Adding slots while a callback runs grows the table by whole chunks; the
  // running callback (and its captures) must not move.
  CallbackSlots slots;
  std::vector<uint64_t> added;
  int value = 7;
  bool intact = false;
  const uint64_t tag = slots.Add([&, value](const Event&) {
    for (int i = 0; i < 1000; ++i) added.push_back(slots.Add(nullptr));
    intact = value == 7;
  });
  slots.Deliver(EventFor(tag, 0));
  EXPECT_TRUE(intact);
  EXPECT_EQ(slots.size(), 1001u);
  for (uint64_t t : added) slots.Deliver(EventFor(t, 0));  // nullptr: nothing runs
  // Every slot is free again: adding as many reuses them all.
  for (int i = 0; i < 1001; ++i) (void)slots.Add(nullptr);
  EXPECT_EQ(slots.size(), 1001u);
}

TEST(CallbackSlotsDeathTest, EventWithAStaleTagStopsTheProcess) {
  CallbackSlots slots;
  const uint64_t old_tag = slots.Add(nullptr);
  slots.Deliver(EventFor(old_tag, 0));
  (void)slots.Add(nullptr);  // the slot is live again, under a new generation
  EXPECT_DEATH(slots.Deliver(EventFor(old_tag, 0)), "RL_CHECK failed");
}

TEST(CallbackSlotsDeathTest, EventForAFreeSlotStopsTheProcess) {
  CallbackSlots slots;
  const uint64_t tag = slots.Add(nullptr);
  slots.Deliver(EventFor(tag, 0));
  EXPECT_DEATH(slots.Deliver(EventFor(tag, 0)), "RL_CHECK failed");
}

}  // namespace
}  // namespace ringloop
