// examples/resp/store.cc: lazy and active expiry over a flat hash map.
#include "examples/resp/store.h"

#include <algorithm>
#include <functional>

#include "absl/container/flat_hash_set.h"
#include "ringloop/core/check.h"

namespace examples::resp {
namespace {

// Key: `key` as the map's lookup type (Debian's Abseil has its own string_view).
absl::string_view Key(std::string_view key) { return absl::string_view(key.data(), key.size()); }

}  // namespace

Store::Entry* Store::Find(std::string_view key, int64_t now_ms) {
  auto it = map_.find(Key(key));
  if (it == map_.end()) return nullptr;
  if (Expired(it->second, now_ms)) {
    Erase(it);
    return nullptr;
  }
  return &it->second;
}

Store::Entry* Store::FindOrAdd(std::string_view key, int64_t now_ms, bool* added) {
  auto it = map_.find(Key(key));
  if (it == map_.end()) {
    it = map_.emplace(std::string(key), Entry{}).first;
    *added = true;
    return &it->second;
  }
  Entry* entry = &it->second;
  *added = Expired(*entry, now_ms);
  if (*added) {  // an expired key is a new one: reuse its storage
    entry->value.clear();
    ClearExpiry(entry);
  }
  return entry;
}

bool Store::Remove(std::string_view key, int64_t now_ms) {
  auto it = map_.find(Key(key));
  if (it == map_.end()) return false;
  const bool live = !Expired(it->second, now_ms);
  Erase(it);
  return live;
}

void Store::SetExpiry(std::string_view key, Entry* entry, int64_t at_ms) {
  RL_CHECK(at_ms != kNoExpiry);
  if (entry->expire_at_ms == at_ms) return;  // its heap entry is still current
  if (entry->expire_at_ms == kNoExpiry) ++with_expiry_;
  entry->expire_at_ms = at_ms;
  PushDeadline(at_ms, key);
}

void Store::ClearExpiry(Entry* entry) {
  if (entry->expire_at_ms == kNoExpiry) return;
  RL_CHECK(with_expiry_ > 0);
  --with_expiry_;
  entry->expire_at_ms = kNoExpiry;  // its heap entry is now stale
}

size_t Store::Size(int64_t now_ms) {
  ActiveExpire(now_ms, map_.size());
  return map_.size();
}

void Store::Clear() {
  map_.clear();
  heap_.clear();
  with_expiry_ = 0;
}

size_t Store::ActiveExpire(int64_t now_ms, size_t budget) {
  size_t removed = 0;
  while (removed < budget && !heap_.empty() && now_ms > heap_.front().first) {
    std::pop_heap(heap_.begin(), heap_.end(), std::greater<>());
    Deadline due = std::move(heap_.back());
    heap_.pop_back();
    auto it = map_.find(due.second);
    // Stale unless the key still has exactly this deadline.
    if (it == map_.end() || it->second.expire_at_ms != due.first) continue;
    Erase(it);
    ++removed;
  }
  return removed;
}

int64_t Store::NextExpiry() const { return heap_.empty() ? kNoExpiry : heap_.front().first; }

void Store::Erase(Map::iterator it) {
  ClearExpiry(&it->second);
  map_.erase(it);
}

void Store::PushDeadline(int64_t at_ms, std::string_view key) {
  heap_.emplace_back(at_ms, std::string(key));
  std::push_heap(heap_.begin(), heap_.end(), std::greater<>());
  // Each overwrite of a deadline leaves a stale entry behind; rebuilding once stale
  // entries outnumber current ones keeps the heap within 2x + 64 of the keys with
  // expiry.
  if (heap_.size() > 2 * with_expiry_ + 64) RebuildHeap();
}

void Store::RebuildHeap() {
  // Keep each key's current deadline, once (a key removed and set again with the same
  // deadline has two current-looking entries). O(heap size), with at least half of it
  // stale: amortised O(1) per PushDeadline.
  absl::flat_hash_set<absl::string_view> kept;
  std::vector<Deadline> current;
  current.reserve(with_expiry_);
  for (Deadline& due : heap_) {
    auto it = map_.find(due.second);
    if (it == map_.end() || it->second.expire_at_ms != due.first) continue;
    if (!kept.insert(it->first).second) continue;
    current.push_back(std::move(due));
  }
  std::make_heap(current.begin(), current.end(), std::greater<>());
  heap_.swap(current);
  // Every key with a deadline has an entry: SetExpiry pushes on each change and only
  // ActiveExpire (which removes the key) and this function drop current entries.
  RL_CHECK(heap_.size() == with_expiry_);
}

}  // namespace examples::resp
