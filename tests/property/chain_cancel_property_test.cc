// tests/property/chain_cancel_property_test.cc: Cancel of every link of a chain,
// in every state, against Engine + SimDriver (rapidcheck).
//
// A case is the simulated kernel's seed (which picks how a cancel races a
// running link); each case runs every chain of 2-4 links, cancelling each
// position in each state that position can be in:
//   queued       it may start but waits in the engine's queue for room (its
//                deadline needs two places; a blocker holds one of the two);
//   not started  the link before it is running in the kernel (for the first
//                link, which never waits for another: queued instead);
//   running      the kernel holds it;
//   done         it has had its final event.
// What must hold (ringloop/core/engine.h, "Chains"): Cancel returns true exactly
// unless the link is done. A queued or not-started link ends -ECANCELED at once,
// with every later link, in order, before any further Poll; a running link ends
// with -ECANCELED or its real result, and every later link -ECANCELED after it;
// a done link's Cancel changes nothing and the chain runs to its end. Links
// before the cancelled one always end well, and no link after it ever reaches
// the kernel.
#include <cerrno>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "rapidcheck.h"
#include "rapidcheck/gtest.h"
#include "ringloop/core/engine.h"
#include "ringloop/drivers/sim/sim_driver.h"

namespace ringloop::prop {
namespace {

constexpr int kMaxPolls = 200;  // every loop below is bounded by this
constexpr uint64_t kBlockerTag = 100;
constexpr uint64_t kFarDeadline = 1'000'000'000'000;

enum class LinkState : uint8_t { kQueued, kNotStarted, kRunning, kDone };

const char* StateName(LinkState s) {
  static constexpr const char* kNames[] = {"queued", "not started", "running", "done"};
  return kNames[static_cast<int>(s)];
}

sim::SimOptions SimOptionsWithSeed(uint64_t seed) {
  sim::SimOptions o;
  o.seed = seed;
  return o;
}

// ChainRun: one case: the engine, the simulated kernel, and what they did.
class ChainRun {
 public:
  ChainRun(uint64_t seed, size_t links, size_t target, LinkState state)
      : engine_(Engine::Options{.max_in_flight = 2}),
        sim_(SimOptionsWithSeed(seed)),
        target_(target),
        state_(state) {
    // Only a queued target has a deadline: it then needs both places.
    for (size_t i = 0; i < links; ++i) {
      const uint64_t deadline =
          i == target && state == LinkState::kQueued ? kFarDeadline : kNoDeadline;
      args_.push_back(SubmitArgs{Nop{}, i, deadline});
    }
    ids_.resize(links);
  }

  // Run: brings the target into its state, cancels it, and runs to the end.
  void Run() {
    if (state_ == LinkState::kQueued && target_ == 0) HoldBlocker();
    engine_.SubmitChain(args_, ids_);
    for (size_t i = 0; i < target_; ++i) {
      if (state_ == LinkState::kNotStarted && i + 1 == target_) {
        Take();  // the link before the target runs; the target waits for it
        break;
      }
      if (state_ == LinkState::kQueued && i + 1 == target_) {
        Take();         // link i runs (the kernel holds it) ...
        HoldBlocker();  // ... and the blocker takes the other place
      }
      Finish(i);
    }
    if (state_ == LinkState::kRunning) Take();
    if (state_ == LinkState::kDone) Finish(target_);
    Collect();
    RC_ASSERT((final_.count(target_) == 1) == (state_ == LinkState::kDone));
    const bool live = engine_.Cancel(ids_[target_]);
    RC_ASSERT(live == (state_ != LinkState::kDone));
    Collect();
    if (state_ == LinkState::kQueued || state_ == LinkState::kNotStarted) {
      // At once, before any Poll: the target and every later link, in order.
      for (size_t i = target_; i < ids_.size(); ++i) {
        RC_ASSERT(final_.count(i) == 1u);
        RC_ASSERT(res_[i] == -ECANCELED);
      }
    }
    ReleaseBlocker();
    for (int i = 0; i < kMaxPolls && !(engine_.Quiescent() && sim_.Idle()); ++i) {
      RC_ASSERT(sim_.Poll(engine_, /*wait=*/true).ok());
      Collect();
    }
    RC_ASSERT(engine_.Quiescent());
    Check();
  }

 private:
  // HoldBlocker: a Nop that takes one of the two places until ReleaseBlocker:
  // the test hands it over and completes it itself (the simulated kernel
  // never sees it).
  void HoldBlocker() {
    RC_ASSERT(engine_.PendingRequests().empty());
    engine_.Submit(SubmitArgs{Nop{}, kBlockerTag});
    const std::span<const Request> pending = engine_.PendingRequests();
    RC_ASSERT(pending.size() == 1u);
    RC_ASSERT(pending[0].kind == RequestKind::kOp);
    blocker_ = pending[0].user_data;
    engine_.ConsumeRequests(1);
  }
  void ReleaseBlocker() {
    if (!blocker_) return;
    RC_ASSERT(engine_.HandleCompletion(*blocker_, 0, 0));
    blocker_.reset();
    Collect();
  }

  // Take: the simulated kernel takes what is pending, and runs none of it.
  void Take() { sim_.TakeRequests(engine_); }

  // Finish: polls until link `i` has had its final event.
  void Finish(size_t i) {
    for (int n = 0; n < kMaxPolls && final_.count(i) == 0; ++n) {
      RC_ASSERT(sim_.Poll(engine_, /*wait=*/true).ok());
      Collect();
    }
    RC_ASSERT(final_.count(i) == 1u);
  }

  void Collect() {
    while (std::optional<Event> e = engine_.PollEvent()) {
      RC_ASSERT(!e->more);
      if (e->tag == kBlockerTag) continue;
      RC_ASSERT(final_.count(e->tag) == 0u);  // exactly once
      final_.insert(e->tag);
      res_[e->tag] = e->res;
      order_.push_back(e->tag);
    }
  }

  void Check() {
    RC_ASSERT(final_.size() == ids_.size());
    // Which links' ops reached the kernel, by slot (user_data kind 0).
    std::set<std::pair<uint32_t, uint32_t>> requested;
    for (const sim::TraceRecord& r : sim_.trace().records()) {
      if (r.type != sim::TraceType::kRequest || r.req_kind != uint8_t(RequestKind::kOp)) continue;
      const UserDataFields d = DecodeUserData(r.user_data);
      requested.insert({d.slot, d.generation});
    }
    for (size_t i = 0; i < ids_.size(); ++i) {
      const bool reached = requested.count({ids_[i].index, ids_[i].generation}) != 0;
      if (i < target_ || state_ == LinkState::kDone) {
        RC_ASSERT(res_[i] == 0);
        RC_ASSERT(reached);
      } else if (i == target_ && state_ == LinkState::kRunning) {
        RC_ASSERT(res_[i] == 0 || res_[i] == -ECANCELED);
        RC_ASSERT(reached);
      } else {
        RC_ASSERT(res_[i] == -ECANCELED);
        RC_ASSERT(!reached);
      }
    }
    // The links the cancel took along ended in chain order.
    std::vector<uint64_t> rest;
    for (uint64_t tag : order_) {
      if (tag > target_) rest.push_back(tag);
    }
    for (size_t i = 1; i < rest.size(); ++i) RC_ASSERT(rest[i - 1] < rest[i]);
  }

  Engine engine_;
  sim::SimDriver sim_;
  size_t target_;
  LinkState state_;
  std::vector<SubmitArgs> args_;
  std::vector<OpId> ids_;
  std::optional<uint64_t> blocker_;
  std::set<uint64_t> final_;
  std::map<uint64_t, int32_t> res_;
  std::vector<uint64_t> order_;
};

// Every chain length, position and state, under a generated kernel seed.
RC_GTEST_PROP(ChainCancelProperty, CancelOfAnyLinkInAnyStateIsExact, ()) {
  const auto seed = *rc::gen::arbitrary<uint64_t>();
  for (size_t links = 2; links <= 4; ++links) {
    for (size_t target = 0; target < links; ++target) {
      for (int s = 0; s < 4; ++s) {
        const auto state = static_cast<LinkState>(s);
        // The first link never waits for another link: no "not started".
        if (target == 0 && state == LinkState::kNotStarted) continue;
        RC_LOG() << links << " links, cancel link " << target << " when " << StateName(state)
                 << "\n";
        ChainRun(seed, links, target, state).Run();
      }
    }
  }
}

}  // namespace
}  // namespace ringloop::prop
