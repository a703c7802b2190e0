// ringloop/drivers/epoll/internal/file_pool.cc: the epoll driver's worker threads.
#include "ringloop/drivers/epoll/internal/file_pool.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>

#include "ringloop/core/check.h"
#include "ringloop/drivers/epoll/internal/io_syscalls.h"

namespace ringloop::epoll_internal {

FilePool::FilePool(int workers, int notify_fd)
    : workers_(std::max(workers, 1)), notify_fd_(notify_fd) {
  RL_CHECK(notify_fd >= 0);
}

FilePool::~FilePool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    for (PoolWork* w : queue_) w->state = PoolWork::State::kIdle;
    queue_.clear();
  }
  cv_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void FilePool::Submit(PoolWork* work) {
  RL_CHECK(work->state == PoolWork::State::kIdle);
  if (threads_.empty()) {
    threads_.reserve(size_t(workers_));
    for (int i = 0; i < workers_; ++i) threads_.emplace_back([this] { WorkerMain(); });
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    work->state = PoolWork::State::kQueued;
    queue_.push_back(work);
  }
  ++outstanding_;
  cv_.notify_one();
}

bool FilePool::TryCancel(PoolWork* work) {
  std::lock_guard<std::mutex> lock(mu_);
  if (work->state != PoolWork::State::kQueued) return false;
  auto it = std::find(queue_.begin(), queue_.end(), work);
  RL_CHECK(it != queue_.end());
  queue_.erase(it);
  work->state = PoolWork::State::kIdle;
  RL_CHECK(outstanding_ > 0);
  --outstanding_;
  return true;
}

void FilePool::TakeDone(std::vector<PoolWork*>* out) {
  std::lock_guard<std::mutex> lock(mu_);
  for (PoolWork* w : done_) {
    RL_CHECK(w->state == PoolWork::State::kDone);
    w->state = PoolWork::State::kIdle;
    out->push_back(w);
  }
  RL_CHECK(outstanding_ >= done_.size());
  outstanding_ -= done_.size();
  done_.clear();
}

void FilePool::WorkerMain() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    PoolWork* work = queue_.front();
    queue_.pop_front();
    work->state = PoolWork::State::kRunning;
    lock.unlock();
    const int result = RunBlocking(*work->op);
    lock.lock();
    work->result = result;
    work->state = PoolWork::State::kDone;
    done_.push_back(work);
    // One write per batch: the owner empties done_ after reading the eventfd, so
    // an item pushed onto a non-empty list is covered by the earlier write.
    if (done_.size() == 1) {
      lock.unlock();
      Notify();
      lock.lock();
    }
  }
}

void FilePool::Notify() {
  const uint64_t one = 1;
  for (;;) {
    if (::write(notify_fd_, &one, sizeof(one)) == sizeof(one)) return;
    // EAGAIN: the counter is at its maximum, so the owner is woken anyway.
    if (errno != EINTR) return;
  }
}

}  // namespace ringloop::epoll_internal
