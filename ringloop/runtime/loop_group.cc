// ringloop/runtime/loop_group.cc: the group's threads, its shutdown, and RunOn.
#include "ringloop/runtime/loop_group.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "ringloop/core/check.h"

namespace ringloop {

absl::StatusOr<std::unique_ptr<LoopGroup>> LoopGroup::Create(LoopGroupOptions options) {
  size_t n = options.threads;
  if (n == 0) n = std::max(1u, std::thread::hardware_concurrency());
  std::unique_ptr<LoopGroup> group(new LoopGroup(n));
  for (size_t i = 0; i < n; ++i) {
    LoopOptions loop_options = options.loop;
    if (i > 0) loop_options.log_driver_choice = false;
    group->slots_[i].thread =
        std::thread([g = group.get(), i, loop_options] { g->ThreadMain(i, loop_options); });
  }
  std::unique_lock<std::mutex> lock(group->mu_);
  group->cv_.wait(lock, [&] { return group->started_ == n; });
  if (!group->failure_.ok()) {
    const absl::Status failure = group->failure_;
    group->cv_.notify_all();  // the threads with a Loop see the failure and end
    lock.unlock();
    group->Join();
    return failure;
  }
  group->go_ = true;
  group->cv_.notify_all();
  return group;
}

LoopGroup::~LoopGroup() {
  Stop();
  Join();
}

void LoopGroup::ThreadMain(size_t i, LoopOptions options) {
  absl::StatusOr<std::unique_ptr<Loop>> created = Loop::Create(std::move(options));
  std::unique_lock<std::mutex> lock(mu_);
  if (created.ok()) {
    slots_[i].loop = created->get();
    slots_[i].alive = true;
  } else if (failure_.ok()) {
    failure_ = absl::Status(created.status().code(),
                            absl::StrCat("LoopGroup: loop ", i, ": ", created.status().message()));
  }
  ++started_;
  cv_.notify_all();
  if (!created.ok()) return;
  cv_.wait(lock, [this] { return go_ || !failure_.ok(); });
  const bool run = failure_.ok();
  lock.unlock();
  std::unique_ptr<Loop> loop = std::move(*created);
  if (run) {
    if (const absl::Status status = loop->Run(); !status.ok()) {
      std::fprintf(stderr, "ringloop: LoopGroup: loop %zu: the driver failed: %s\n", i,
                   std::string(status.message()).c_str());
      std::abort();
    }
    Drain(*loop);
  }
  lock.lock();
  slots_[i].alive = false;  // WakeAll no longer reaches it
  lock.unlock();
  loop.reset();  // drains the loop's ops
}

void LoopGroup::Drain(Loop& loop) {
  loop.CancelSpawned();
  // This loop counts in busy_ while it has spawned tasks left; it goes on
  // running until nothing is left anywhere (another loop's task may still
  // wait for a RunOn child here, or post here).
  bool counted = true;
  for (;;) {
    const bool idle = loop.SpawnedCount() == 0;
    if (counted && idle) {
      counted = false;
      Release();
    } else if (!counted && !idle) {
      counted = true;
      busy_.fetch_add(1);
    }
    if (!counted && Closed()) return;
    if (const absl::Status status = loop.RunOnce(/*wait=*/true); !status.ok()) {
      std::fprintf(stderr, "ringloop: LoopGroup: the driver failed while stopping: %s\n",
                   std::string(status.message()).c_str());
      std::abort();
    }
  }
}

bool LoopGroup::Acquire() {
  // seq_cst with Closed: either Closed sees this increment, or this sees
  // closed_.
  busy_.fetch_add(1);
  if (!closed_.load()) return true;
  Release();
  return false;
}

void LoopGroup::Release() {
  if (busy_.fetch_sub(1) == 1) WakeAll();
}

bool LoopGroup::Closed() {
  if (!stopping_.load() || busy_.load() != 0) return false;
  closed_.store(true);
  return busy_.load() == 0;  // an Acquire that did not see closed_ shows here
}

void LoopGroup::WakeAll() {
  std::lock_guard<std::mutex> lock(mu_);
  for (Slot& slot : slots_) {
    if (slot.alive) slot.loop->Post([] {});
  }
}

std::optional<size_t> LoopGroup::CurrentIndex() const {
  const Loop* current = Loop::Current();
  for (size_t i = 0; i < slots_.size(); ++i) {
    if (slots_[i].loop == current && current != nullptr) return i;
  }
  return std::nullopt;
}

bool LoopGroup::Post(size_t i, absl::AnyInvocable<void()> fn) {
  RL_CHECK(i < slots_.size());
  if (!Acquire()) return false;
  // The loops live while busy_ > 0, so slots_[i].loop is there until the
  // function has run.
  slots_[i].loop->Post([this, fn = std::move(fn)]() mutable {
    fn();
    Release();
  });
  return true;
}

bool LoopGroup::Spawn(size_t i, Task<void> task) {
  return Post(i, [task = std::move(task)]() mutable { Loop::Current()->Spawn(std::move(task)); });
}

void LoopGroup::Stop() {
  if (stopping_.exchange(true)) return;
  std::lock_guard<std::mutex> lock(mu_);
  for (Slot& slot : slots_) {
    if (slot.alive) slot.loop->Stop();
  }
}

void LoopGroup::Join() {
  CheckOutside("Join");
  for (Slot& slot : slots_) {
    if (slot.thread.joinable()) slot.thread.join();
  }
}

void LoopGroup::Misuse(const char* sentence) {
  std::fprintf(stderr, "ringloop: %s\n", sentence);
  std::abort();
}

void LoopGroup::CheckOutside(const char* method) const {
  if (!CurrentIndex().has_value()) return;
  std::fprintf(stderr,
               "ringloop: LoopGroup::%s called on one of the group's own threads, which would "
               "wait for itself; await RunOn from a task instead\n",
               method);
  std::abort();
}

namespace internal {

void CrossLoopAwaiter::Start(PromiseBase& p) {
  promise_ = &p;
  if (!group_->Acquire()) {
    LoopGroup::Misuse("LoopGroup::RunOn after the group's loops are gone");
  }
  p.AddHold();  // the child's end comes back to this frame
  // A cancel (even one already there) is posted before the start: the child
  // then starts cancelled.
  Register(&p.cancel);
  Loop* const origin = p.loop;
  group_->slots_[index_].loop->Post([call = call_, origin, this] {
    Loop::Current()->Spawn(CrossLoopRunner(call, origin, this));
  });
}

void CrossLoopAwaiter::OnCancel() {
  group_->Post(index_, [call = call_] {
    if (call->child_cancel != nullptr) {
      call->child_cancel->Cancel();
    } else {
      call->cancel_requested = true;
    }
  });
}

void CrossLoopAwaiter::Finish() {
  Unregister();
  PromiseBase* const p = promise_;
  LoopGroup* const group = group_;
  if (p->ReleaseHold()) ResumeTask(*p);
  group->Release();  // only now may the loops go
}

Task<void> CrossLoopRunner(std::shared_ptr<CrossLoopCall> call, Loop* origin,
                           CrossLoopAwaiter* awaiter) {
  call->child_cancel = &CurrentPromise()->cancel;
  if (call->cancel_requested) call->child_cancel->Cancel();
  co_await call->Run();
  call->child_cancel = nullptr;
  origin->Post([awaiter] { awaiter->Finish(); });
}

}  // namespace internal
}  // namespace ringloop
