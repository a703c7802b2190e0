// ringloop/drivers/testing/unblock_guard.h: a test's proof that the loop's thread never
// blocks in a syscall other than its wait.
//
// UnblockGuard runs `rescue` on a thread of its own if it is not disarmed within a
// bound. The rescue does what ends the syscall the loop's thread could be stuck
// in (writes to the pipe it would read, reads the pipe it would write, shuts
// down the socket it would connect). A test arms a guard around the ops it
// drives, disarms it once they ended, and fails if the rescue had to run: a loop
// stuck in a syscall then fails the test instead of hanging it.
//
// Test-only. Disarm (or the destructor) from the thread that made the guard.
#ifndef RINGLOOP_DRIVERS_TESTING_UNBLOCK_GUARD_H_
#define RINGLOOP_DRIVERS_TESTING_UNBLOCK_GUARD_H_

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>

namespace ringloop::testing {

class UnblockGuard {
 public:
  // kBound: how long the ops may take before the guard concludes the loop is
  // stuck. Every guarded scenario needs well under a second; sanitizers and a
  // loaded machine stretch that, never to this.
  static constexpr std::chrono::seconds kBound{10};

  // UnblockGuard: starts the guard's thread, unless `arm` is false (a simulated
  // kernel cannot block a thread: nothing to guard).
  explicit UnblockGuard(std::function<void()> rescue, bool arm = true)
      : rescue_(std::move(rescue)) {
    if (arm) thread_ = std::thread([this] { Run(); });
  }
  ~UnblockGuard() { Disarm(); }
  UnblockGuard(const UnblockGuard&) = delete;
  UnblockGuard& operator=(const UnblockGuard&) = delete;

  // Disarm: the ops are over; whether the rescue had to run.
  bool Disarm() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    return fired_;  // written by the guard's thread before the join
  }

 private:
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    if (cv_.wait_for(lock, kBound, [this] { return done_; })) return;
    fired_ = true;
    lock.unlock();
    rescue_();
  }

  std::function<void()> rescue_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  bool fired_ = false;
  std::thread thread_;
};

}  // namespace ringloop::testing

#endif  // RINGLOOP_DRIVERS_TESTING_UNBLOCK_GUARD_H_
