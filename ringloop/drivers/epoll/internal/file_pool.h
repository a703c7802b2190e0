// ringloop/drivers/epoll/internal/file_pool.h: a few threads that run ops which may sleep.
//
// epoll cannot wait on regular files, and openat/fsync/statx/... have no
// nonblocking form: run on the loop's thread, one slow disk would stall every
// socket. FilePool runs such ops (RunBlocking) on a small set of worker threads,
// started lazily on the first Submit, and hands the results back through a done
// list; it writes `notify_fd` (the driver's eventfd) when that list turns
// non-empty, so the loop thread wakes from epoll_wait and calls TakeDone.
//
// Who calls what: Submit, TryCancel, TakeDone and the destructor are for the one
// thread that owns the driver; workers touch a Work only between taking it from
// the queue and putting it on the done list, both under the pool's mutex (so
// tsan sees every hand-over; std::mutex, not absl::Mutex, which tsan cannot see
// in Debian's uninstrumented Abseil).
#ifndef RINGLOOP_DRIVERS_EPOLL_INTERNAL_FILE_POOL_H_
#define RINGLOOP_DRIVERS_EPOLL_INTERNAL_FILE_POOL_H_

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "ringloop/core/ops.h"

namespace ringloop::epoll_internal {

// PoolWork: one op handed to the pool. Owned by the caller, which must keep it
// (and the op it points to) alive until TakeDone returns it or TryCancel
// succeeds.
struct PoolWork {
  enum class State : uint8_t { kIdle, kQueued, kRunning, kDone };
  const Op* op = nullptr;
  void* context = nullptr;     // the caller's, untouched by the pool
  int result = 0;              // RunBlocking's result; valid once TakeDone returned it
  State state = State::kIdle;  // guarded by FilePool::mu_ while in the pool
};

class FilePool {
 public:
  // FilePool: `workers` threads (at least 1), started on the first Submit.
  FilePool(int workers, int notify_fd);
  ~FilePool();  // drops queued work that never started, joins the workers
  FilePool(const FilePool&) = delete;
  FilePool& operator=(const FilePool&) = delete;

  // Submit: queues `work` (kIdle) to run on a worker.
  void Submit(PoolWork* work);

  // TryCancel: takes `work` back if no worker has started it (returns true; it
  // will never run); false if it is running or done (its result will come).
  bool TryCancel(PoolWork* work);

  // TakeDone: appends every finished work to `out`, in finishing order.
  void TakeDone(std::vector<PoolWork*>* out);

  // Outstanding: works submitted and not yet taken back (owner thread only).
  size_t Outstanding() const { return outstanding_; }

 private:
  void WorkerMain();
  void Notify();

  const int workers_;
  const int notify_fd_;
  size_t outstanding_ = 0;            // owner thread only
  std::vector<std::thread> threads_;  // owner thread only

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<PoolWork*> queue_;  // guarded by mu_
  std::vector<PoolWork*> done_;  // guarded by mu_
  bool stopping_ = false;        // guarded by mu_
};

}  // namespace ringloop::epoll_internal

#endif  // RINGLOOP_DRIVERS_EPOLL_INTERNAL_FILE_POOL_H_
