// ringloop/runtime/callback_slots.h: the Loop's callbacks, by tag.
//
// CallbackSlots keeps the callback of every live op submitted with one, in a
// slot named by the op's tag: index | generation << 32. The generation (31
// bits, so bit 63 of a tag is always clear) changes each time a slot is freed:
// an event whose tag names a free or reused slot is a bug of the engine and
// stops the process. Slots live in chunks that never move, so a callback runs
// where it is stored even when it submits ops (adding slots) while it runs.
// Free slots form a list threaded through the slots themselves, the most
// recently freed first (the one warmest in cache).
//
// Threads: the Loop's thread only; nothing here is thread-safe.
#ifndef RINGLOOP_RUNTIME_CALLBACK_SLOTS_H_
#define RINGLOOP_RUNTIME_CALLBACK_SLOTS_H_

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "ringloop/core/check.h"
#include "ringloop/core/request.h"
#include "ringloop/runtime/inline_function.h"

namespace ringloop {

class CallbackSlots {
 public:
  // Callback: what a slot holds (Loop::Callback).
  using Callback = InlineFunction<void(const Event&)>;

  CallbackSlots() = default;
  CallbackSlots(const CallbackSlots&) = delete;
  CallbackSlots& operator=(const CallbackSlots&) = delete;

  // Add: takes a free slot, builds `callback` in it (anything a Callback can
  // be made from, nullptr included: events then go nowhere) and returns the
  // slot's tag.
  template <class F>
  uint64_t Add(F&& callback) {
    if (__builtin_expect(free_head_ == kNoFreeSlot, 0)) Grow();
    const uint32_t index = free_head_;
    Slot& slot = At(index);
    RL_CHECK(slot.next_free != kLive);
    free_head_ = slot.next_free;
    slot.next_free = kLive;
    slot.callback.Emplace(std::forward<F>(callback));
    return uint64_t(slot.generation) << 32 | index;
  }

  // Deliver: runs the callback of `event.tag`'s slot (which must be live)
  // with `event`, in place; frees the slot after the final event
  // (!event.more), destroying the callback.
  void Deliver(const Event& event) {
    const uint32_t index = uint32_t(event.tag);
    RL_CHECK(index < count_);
    Slot& slot = At(index);
    // The engine returns the tags it was given: a mismatch is a bug, not a race.
    RL_CHECK(slot.next_free == kLive);
    RL_CHECK(slot.generation == uint32_t(event.tag >> 32));
    // The slot stays live (no other op can take it) until the call returns.
    if (slot.callback) slot.callback(event);
    if (event.more) return;
    slot.callback = nullptr;
    slot.generation = (slot.generation + 1) & kGenerationMask;
    slot.next_free = free_head_;
    free_head_ = index;
  }

  // size: how many slots exist (live or free); grows, never shrinks.
  uint32_t size() const { return count_; }

 private:
  // Slot: next_free is kLive while the slot's op is live, else the next free
  // slot's index (kNoFreeSlot at the end of the list).
  struct Slot {
    Callback callback;
    uint32_t generation = 0;
    uint32_t next_free = kLive;
  };
  static constexpr uint32_t kLive = 0xffffffffu;
  static constexpr uint32_t kNoFreeSlot = 0xfffffffeu;
  static constexpr uint32_t kGenerationMask = 0x7fffffffu;
  static constexpr uint32_t kChunkShift = 6;
  static constexpr uint32_t kChunk = 1u << kChunkShift;

  Slot& At(uint32_t index) { return chunks_[index >> kChunkShift][index & (kChunk - 1)]; }
  // Grow: puts one new slot on the (empty) free list. Rare: kept out of Add.
  [[gnu::noinline]] void Grow() {
    RL_CHECK(free_head_ == kNoFreeSlot);
    RL_CHECK(count_ < kNoFreeSlot);
    if ((count_ & (kChunk - 1)) == 0) chunks_.push_back(std::make_unique<Slot[]>(kChunk));
    const uint32_t index = count_++;
    At(index).next_free = kNoFreeSlot;
    free_head_ = index;
  }

  std::vector<std::unique_ptr<Slot[]>> chunks_;
  uint32_t count_ = 0;
  uint32_t free_head_ = kNoFreeSlot;
};

}  // namespace ringloop

#endif  // RINGLOOP_RUNTIME_CALLBACK_SLOTS_H_
