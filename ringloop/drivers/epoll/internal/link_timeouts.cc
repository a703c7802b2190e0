// ringloop/drivers/epoll/internal/link_timeouts.cc: the readiness driver's
// emulation of io_uring's linked timeouts: a timer per deadline, fired from
// Poll. See internal/driver_impl.h.
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "ringloop/core/check.h"
#include "ringloop/core/internal/hot.h"
#include "ringloop/core/ops.h"
#include "ringloop/drivers/epoll/internal/driver_impl.h"
#include "ringloop/drivers/epoll/internal/hot_path.h"
#include "ringloop/drivers/sync_op.h"

namespace ringloop::epoll_internal {

// ---------------------------------------------------------------------------
// Linked timeouts (a binary min-heap of TimerEntry; each armed job knows its
// position, so disarming is O(log n) and allocates nothing).

void EpollDriverImpl::TimerMoved::operator()(const TimerEntry& e, size_t pos) const {
  e.job->timer_index = uint32_t(pos);
}

// TimerRemove: takes entry `i` out of the heap and disarms its job.
void EpollDriverImpl::TimerRemove(size_t i) {
  timers_.at(i).job->timer_index = kNoTimer;
  timers_.Remove(i);
}

void EpollDriverImpl::ArmTimer(Job* job) {
  if (!job->has_timeout) return;
  RL_CHECK(job->timer_index == kNoTimer);
  timers_.Push(TimerEntry{job->deadline_ns, timer_seq_++, job});
  maybe_rare_work_ = true;
}

void EpollDriverImpl::DisarmTimer(Job* job) {
  RL_CHECK(job->timer_index < timers_.size() && timers_.at(job->timer_index).job == job);
  TimerRemove(job->timer_index);
}

void EpollDriverImpl::FireTimers(uint64_t now_ns) {
  while (!timers_.empty() && timers_.top().deadline_ns <= now_ns) {
    Job* job = timers_.top().job;
    TimerRemove(0);
    ++stats_.timeouts_fired;
    if (job->in_pool) {
      if (!pool_->TryCancel(&job->work)) {
        // Too far along: io_uring's link timeout then posts its cancel's result,
        // -EALREADY, and the op later posts its own.
        Emit(job->timeout_user_data, -EALREADY);
        job->has_timeout = false;
        continue;
      }
      job->in_pool = false;
    }
    job->timeout_res = -ETIME;
    Complete(job, -ECANCELED);
  }
}

}  // namespace ringloop::epoll_internal
