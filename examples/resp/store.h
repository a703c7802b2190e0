// examples/resp/store.h: the keyspace: string keys to string values with optional expiry.
//
// Time is a parameter, never read: every call that can see a key takes now_ms, Unix
// time in milliseconds (Redis expresses expiry in that clock, which EXAT and PXAT
// expose). A key whose expiry is E is live while now_ms <= E and gone once now_ms > E,
// as in Redis. Expired keys are removed lazily, by the call that finds them, and
// actively by ActiveExpire, which the server calls periodically so that keys nobody
// reads again do not hold memory forever; calling it or not never changes what a
// command observes.
//
// Entries live in a hash map keyed by the key bytes; lookups take a string_view and
// copy nothing. Expiry deadlines also sit in a min-heap of (deadline, key) that
// ActiveExpire pops; a heap entry whose key has since changed deadline is stale and
// skipped, and the heap is rebuilt when stale entries outnumber live ones.
//
// Threads: one thread at a time (the server's; connections share one Store).
#ifndef EXAMPLES_RESP_STORE_H_
#define EXAMPLES_RESP_STORE_H_

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace examples::resp {

// kNoExpiry: the expire_at_ms of a key without a deadline.
inline constexpr int64_t kNoExpiry = std::numeric_limits<int64_t>::min();

// Store: the keyspace all connections share (see above).
class Store {
 public:
  // Entry: one key's value and deadline (Unix ms, or kNoExpiry). Commands change
  // `value` directly; the deadline only through SetExpiry and ClearExpiry.
  struct Entry {
    std::string value;
    int64_t expire_at_ms = kNoExpiry;
  };

  // Find: the live entry of `key` at now_ms, or nullptr. An expired entry found here
  // is removed. The pointer is valid until the next call that adds or removes a key.
  Entry* Find(std::string_view key, int64_t now_ms);

  // FindOrAdd: the live entry of `key`, or a new empty one without expiry (*added tells
  // which). An expired entry counts as absent and is reset. Same validity as Find.
  Entry* FindOrAdd(std::string_view key, int64_t now_ms, bool* added);

  // Remove: removes `key`; true if it was live at now_ms.
  bool Remove(std::string_view key, int64_t now_ms);

  // SetExpiry: `entry` (of `key`) expires after at_ms.
  void SetExpiry(std::string_view key, Entry* entry, int64_t at_ms);

  // ClearExpiry: `entry` no longer expires.
  void ClearExpiry(Entry* entry);

  // Size: the number of keys live at now_ms (expired ones are removed first).
  size_t Size(int64_t now_ms);

  // Clear: removes every key.
  void Clear();

  // ActiveExpire: removes up to `budget` keys that expired by now_ms, earliest deadline
  // first; returns how many it removed.
  size_t ActiveExpire(int64_t now_ms, size_t budget);

  // NextExpiry: the earliest deadline a key may still have (a hint for scheduling
  // ActiveExpire: it may be stale), or kNoExpiry when no key expires.
  int64_t NextExpiry() const;

  // keys_with_expiry: how many keys have a deadline (including expired, unremoved ones).
  size_t keys_with_expiry() const { return with_expiry_; }
  // heap_size: deadlines queued for ActiveExpire, stale ones included (for tests).
  size_t heap_size() const { return heap_.size(); }

 private:
  using Map = absl::flat_hash_map<std::string, Entry>;
  using Deadline = std::pair<int64_t, std::string>;  // (expire_at_ms, key)

  static bool Expired(const Entry& entry, int64_t now_ms) {
    return entry.expire_at_ms != kNoExpiry && now_ms > entry.expire_at_ms;
  }
  void Erase(Map::iterator it);
  void PushDeadline(int64_t at_ms, std::string_view key);
  void RebuildHeap();

  Map map_;
  std::vector<Deadline> heap_;  // min-heap on the deadline (std::push_heap with greater<>)
  size_t with_expiry_ = 0;      // entries whose expire_at_ms != kNoExpiry
};

}  // namespace examples::resp

#endif  // EXAMPLES_RESP_STORE_H_
