// examples/server/connection_set.cc: deadlines and draining of one loop's connections.
#include "examples/server/connection_set.h"

#include <sys/socket.h>

#include <algorithm>

#include "ringloop/core/check.h"

namespace examples::server {
namespace {

uint64_t Nanos(absl::Duration d) {
  if (d == absl::InfiniteDuration()) return kNever;
  RL_CHECK(d > absl::ZeroDuration());
  return uint64_t(absl::ToInt64Nanoseconds(d));
}

uint64_t After(uint64_t now_ns, uint64_t timeout_ns) {
  return timeout_ns == kNever || now_ns > kNever - timeout_ns ? kNever : now_ns + timeout_ns;
}

}  // namespace

ConnectionSet::ConnectionSet(ringloop::Loop& loop, const StreamTimeouts& timeouts)
    : loop_(&loop), idle_ns_(Nanos(timeouts.idle)), request_ns_(Nanos(timeouts.request)) {}

ConnectionSet::~ConnectionSet() {
  RL_CHECK(head_ == nullptr);
  RL_CHECK(size_ == 0);
  *alive_ = nullptr;
}

void ConnectionSet::Drain() {
  if (draining_) return;
  draining_ = true;
  loop_->Sleep(kDrainGrace, [alive = alive_](const ringloop::Event&) {
    if (*alive != nullptr) (*alive)->ShutIdleReaders();
  });
}

void ConnectionSet::ShutIdleReaders() {
  for (ConnectionEntry* e = head_; e != nullptr; e = e->next_) {
    if (e->reading_ && !e->mid_request_) ShutReading(e);
  }
}

size_t ConnectionSet::Sweep(uint64_t now_ns) {
  size_t stopped = 0;
  for (ConnectionEntry* e = head_; e != nullptr; e = e->next_) {
    if (e->reading_ && !e->shut_ && e->read_deadline_ns_ <= now_ns) {
      ShutReading(e);
      ++stopped;
    }
  }
  timed_out_ += stopped;
  return stopped;
}

absl::Duration ConnectionSet::sweep_period() const {
  const uint64_t shortest = std::min(idle_ns_, request_ns_);
  if (shortest == kNever) return absl::InfiniteDuration();
  return std::clamp(absl::Nanoseconds(shortest / 4), absl::Milliseconds(10), absl::Seconds(1));
}

void ConnectionSet::Add(ConnectionEntry* e) {
  RL_CHECK(e->prev_ == nullptr && e->next_ == nullptr);
  e->next_ = head_;
  if (head_ != nullptr) head_->prev_ = e;
  head_ = e;
  ++size_;
}

void ConnectionSet::Remove(ConnectionEntry* e) {
  RL_CHECK(size_ > 0);
  if (e->prev_ != nullptr) {
    e->prev_->next_ = e->next_;
  } else {
    RL_CHECK(head_ == e);
    head_ = e->next_;
  }
  if (e->next_ != nullptr) e->next_->prev_ = e->prev_;
  e->prev_ = e->next_ = nullptr;
  --size_;
}

void ConnectionSet::ShutReading(ConnectionEntry* e) {
  if (e->shut_) return;
  e->shut_ = true;
  // The read in flight then ends with the end of the stream (after any bytes already
  // queued). The fd stays open until the task closes it through the loop, and that
  // close waits for this op: it cannot reach a reused fd number. Its result does not
  // matter: a peer that already went away fails it with ENOTCONN.
  loop_->Submit(ringloop::Shutdown{.fd = e->fd_, .how = SHUT_RD}, [](const ringloop::Event&) {});
}

ConnectionEntry::ConnectionEntry(ConnectionSet& set, int fd) : set_(&set), fd_(fd) {
  set_->Add(this);
}

ConnectionEntry::~ConnectionEntry() { set_->Remove(this); }

bool ConnectionEntry::ShouldStop() const { return shut_ || (set_->draining_ && !mid_request_); }

void ConnectionEntry::BeginRead(uint64_t now_ns) {
  RL_CHECK(!reading_);
  reading_ = true;
  read_deadline_ns_ = mid_request_ ? request_deadline_ns_ : After(now_ns, set_->idle_ns_);
}

bool ConnectionEntry::AfterFeed(bool mid_request, uint64_t now_ns) {
  RL_CHECK(!reading_);
  if (!mid_request) {
    mid_request_ = false;
    return true;
  }
  if (!mid_request_) {
    mid_request_ = true;
    request_deadline_ns_ = After(now_ns, set_->request_ns_);
  }
  return now_ns < request_deadline_ns_;
}

}  // namespace examples::server
