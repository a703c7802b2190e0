// ringloop/core/engine_chain_test.cc: chains, played by the engine one link at a time.
//
// Each test plays the kernel by hand (engine_test_harness.h). What they pin:
// the driver never sees two links of a chain at once, a link starts only after
// the one before it ended well, and every way a link can end before it starts
// (cancel, close of its fd, its deadline, the chain breaking) is exact: the
// link never reaches the kernel, and the links after it end -ECANCELED, in
// order.
#include <cerrno>
#include <string>
#include <variant>
#include <vector>

#include "gtest/gtest.h"
#include "ringloop/core/engine.h"
#include "ringloop/core/engine_test_harness.h"

namespace ringloop {
namespace {

using testing_internal::Harness;
using testing_internal::ReadArgs;

char data[8] = {};

// Tags: the tags of `events`, in order.
std::vector<uint64_t> Tags(const std::vector<Event>& events) {
  std::vector<uint64_t> out;
  for (const Event& e : events) out.push_back(e.tag);
  return out;
}

TEST(EngineChain, TheDriverGetsOneLinkAtATime) {
  Harness h;
  SubmitArgs chain[] = {{Write{4, data, 8}, 1}, {Fsync{4}, 2}, ReadArgs(4, 3)};
  OpId ids[3];
  h.engine.SubmitChain(chain, ids);
  auto write = h.Take();
  ASSERT_EQ(write.size(), 1u);
  EXPECT_FALSE(write[0].link);  // the kernel never sees a chain
  EXPECT_TRUE(std::holds_alternative<Write>(*write[0].op));
  EXPECT_TRUE(h.Complete(write[0], 8));
  auto fsync = h.Take();
  ASSERT_EQ(fsync.size(), 1u);
  EXPECT_FALSE(fsync[0].link);
  EXPECT_TRUE(std::holds_alternative<Fsync>(*fsync[0].op));
  EXPECT_TRUE(h.Complete(fsync[0], 0));
  auto read = h.Take();
  ASSERT_EQ(read.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<Read>(*read[0].op));
  EXPECT_TRUE(h.Complete(read[0], 64));
  auto events = h.Events();
  EXPECT_EQ(Tags(events), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(events[0].res, 8);
  EXPECT_EQ(events[1].res, 0);
  EXPECT_EQ(events[2].res, 64);
  EXPECT_TRUE(h.engine.Quiescent());
}

// A link with a deadline is emitted with its linked timeout (the only link the
// kernel sees); the next link waits until both of their completions are in.
TEST(EngineChain, ALinkWithADeadlineComesWithItsTimeoutOnly) {
  Harness h;
  SubmitArgs chain[] = {{Write{4, data, 8}, 1, /*deadline=*/500}, {Fsync{4}, 2}};
  OpId ids[2];
  h.engine.SubmitChain(chain, ids);
  auto reqs = h.Take();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].kind, RequestKind::kOp);
  EXPECT_TRUE(reqs[0].link);
  EXPECT_EQ(reqs[1].kind, RequestKind::kLinkTimeout);
  EXPECT_FALSE(reqs[1].link);
  EXPECT_EQ(reqs[1].deadline_ns, 500u);
  h.Complete(reqs[0], 8);
  EXPECT_TRUE(h.Take().empty());  // the write has not had its final event yet
  h.Complete(reqs[1], -ECANCELED);
  auto fsync = h.Take();
  ASSERT_EQ(fsync.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<Fsync>(*fsync[0].op));
}

TEST(EngineChain, AShortWriteBreaksTheChainAndTheRestNeverReachesTheKernel) {
  Harness h;
  SubmitArgs chain[] = {{Write{4, data, 8}, 1}, {Write{4, data, 8}, 2}, {Fsync{4}, 3}};
  OpId ids[3];
  h.engine.SubmitChain(chain, ids);
  h.Complete(h.Take().at(0), 8);
  auto second = h.Take();
  ASSERT_EQ(second.size(), 1u);
  h.Complete(second[0], 3);  // short: the kernel would break the link here
  EXPECT_TRUE(h.Take().empty());
  auto events = h.Events();
  EXPECT_EQ(Tags(events), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(events[1].res, 3);
  EXPECT_EQ(events[2].res, -ECANCELED);
  EXPECT_TRUE(h.engine.Quiescent());
}

TEST(EngineChain, AChainWithAnInvalidLinkIsRefusedWhole) {
  Harness h;
  SubmitArgs chain[] = {{Write{4, data, 8}, 1}, {Read{4, nullptr, 8}, 2}, {Fsync{4}, 3}};
  OpId ids[3];
  h.engine.SubmitChain(chain, ids);
  EXPECT_TRUE(h.Take().empty());
  auto events = h.Events();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].res, -ECANCELED);
  EXPECT_EQ(events[1].res, -EFAULT);
  EXPECT_EQ(events[2].res, -ECANCELED);
  EXPECT_TRUE(h.engine.Quiescent());
}

// The user report: chain [read(empty pipe), write(other pipe), nop], cancel the
// write while the read waits: the write must never run, even once data comes.
TEST(EngineChain, CancelOfALinkNotStartedEndsItAndTheRestAtOnce) {
  Harness h;
  SubmitArgs chain[] = {ReadArgs(3, 1), {Write{5, "w", 1}, 2}, {Nop{}, 3}};
  OpId ids[3];
  h.engine.SubmitChain(chain, ids);
  auto read = h.Take();
  ASSERT_EQ(read.size(), 1u);
  EXPECT_TRUE(h.engine.Cancel(ids[1]));
  auto events = h.Events();
  EXPECT_EQ(Tags(events), (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(events[0].res, -ECANCELED);
  EXPECT_EQ(events[1].res, -ECANCELED);
  EXPECT_TRUE(h.Take().empty());  // nothing to cancel in the kernel
  EXPECT_FALSE(h.engine.Cancel(ids[1]));
  EXPECT_FALSE(h.engine.Cancel(ids[2]));
  h.Complete(read[0], 1);  // the data arrives: the read is unaffected
  EXPECT_TRUE(h.Take().empty());
  events = h.Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].tag, 1u);
  EXPECT_EQ(events[0].res, 1);
  EXPECT_TRUE(h.engine.Quiescent());
}

// Cancel of the running link goes to the kernel; whatever the link ends with
// (here its real result: the cancel lost the race), the rest ends -ECANCELED.
TEST(EngineChain, CancelOfTheRunningLinkEndsTheRestAfterIt) {
  Harness h;
  SubmitArgs chain[] = {ReadArgs(3, 1), {Write{5, "w", 1}, 2}, {Nop{}, 3}};
  OpId ids[3];
  h.engine.SubmitChain(chain, ids);
  auto read = h.Take();
  EXPECT_TRUE(h.engine.Cancel(ids[0]));
  auto cancel = h.Take();
  ASSERT_EQ(cancel.size(), 1u);
  EXPECT_EQ(cancel[0].kind, RequestKind::kCancel);
  EXPECT_TRUE(h.Events().empty());
  h.Complete(read[0], 64);
  h.Complete(cancel[0], -ENOENT);
  EXPECT_TRUE(h.Take().empty());
  auto events = h.Events();
  EXPECT_EQ(Tags(events), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(events[0].res, 64);
  EXPECT_EQ(events[1].res, -ECANCELED);
  EXPECT_EQ(events[2].res, -ECANCELED);
  EXPECT_TRUE(h.engine.Quiescent());
}

TEST(EngineChain, CancelOfALinkThatEndedIsANoOpAndTheChainGoesOn) {
  Harness h;
  SubmitArgs chain[] = {{Nop{}, 1}, {Nop{}, 2}};
  OpId ids[2];
  h.engine.SubmitChain(chain, ids);
  h.Complete(h.Take().at(0), 0);
  EXPECT_FALSE(h.engine.Cancel(ids[0]));
  auto second = h.Take();
  ASSERT_EQ(second.size(), 1u);
  h.Complete(second[0], 0);
  EXPECT_EQ(Tags(h.Events()), (std::vector<uint64_t>{1, 2}));
}

TEST(EngineChain, CloseOfAnFdNamedByALinkNotStartedEndsItWithoutTheKernel) {
  Harness h;
  SubmitArgs chain[] = {ReadArgs(3, 1), ReadArgs(4, 2), {Nop{}, 3}};
  OpId ids[3];
  h.engine.SubmitChain(chain, ids);
  auto read3 = h.Take();
  ASSERT_EQ(read3.size(), 1u);
  h.engine.Close(4, 9);
  auto events = h.Events();
  EXPECT_EQ(Tags(events), (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(events[0].res, -ECANCELED);
  auto close = h.Take();  // nothing of fd 4 is in the kernel: CLOSE at once
  ASSERT_EQ(close.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<Close>(*close[0].op));
  h.Complete(close[0], 0);
  h.Complete(read3[0], 64);  // the link before it, on fd 3, runs on
  events = h.Events();
  EXPECT_EQ(Tags(events), (std::vector<uint64_t>{9, 1}));
  EXPECT_EQ(events[1].res, 64);
  EXPECT_TRUE(h.engine.Quiescent());
}

// A link's deadline is absolute: it passes while the link before it still
// waits, so the link times out then (never before), and the rest with it.
TEST(EngineChain, ALinkNotStartedTimesOutAtItsDeadline) {
  Harness h;
  SubmitArgs chain[] = {ReadArgs(3, 1), ReadArgs(4, 2, /*deadline=*/100), {Nop{}, 3}};
  OpId ids[3];
  h.engine.SubmitChain(chain, ids);
  auto read3 = h.Take();
  ASSERT_EQ(read3.size(), 1u);
  EXPECT_EQ(h.engine.NextDeadline(), 100u);
  h.engine.AdvanceTime(99);
  EXPECT_TRUE(h.Events().empty());
  h.engine.AdvanceTime(100);
  auto events = h.Events();
  EXPECT_EQ(Tags(events), (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(events[0].res, -kTimedOut);
  EXPECT_EQ(events[1].res, -ECANCELED);
  EXPECT_FALSE(h.engine.NextDeadline().has_value());
  h.Complete(read3[0], 64);
  EXPECT_TRUE(h.Take().empty());
  EXPECT_EQ(h.Events().at(0).res, 64);
  EXPECT_TRUE(h.engine.Quiescent());
}

// Once a link starts, its deadline is the kernel's (its linked timeout).
TEST(EngineChain, ALinkThatStartedBeforeItsDeadlineGetsItsLinkedTimeout) {
  Harness h;
  SubmitArgs chain[] = {ReadArgs(3, 1), ReadArgs(4, 2, /*deadline=*/100)};
  OpId ids[2];
  h.engine.SubmitChain(chain, ids);
  h.Complete(h.Take().at(0), 64);
  auto second = h.Take();
  ASSERT_EQ(second.size(), 2u);
  EXPECT_EQ(second[1].kind, RequestKind::kLinkTimeout);
  EXPECT_EQ(second[1].deadline_ns, 100u);
  EXPECT_FALSE(h.engine.NextDeadline().has_value());  // the kernel keeps it now
}

TEST(EngineChain, EintrOnALinkResubmitsItAndTheChainGoesOn) {
  Harness h;
  SubmitArgs chain[] = {{Write{4, data, 8}, 1}, {Fsync{4}, 2}};
  OpId ids[2];
  h.engine.SubmitChain(chain, ids);
  auto first = h.Take();
  h.Complete(first[0], -EINTR);
  auto again = h.Take();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<Write>(*again[0].op));
  EXPECT_NE(again[0].user_data, first[0].user_data);
  h.Complete(again[0], 8);
  auto fsync = h.Take();
  ASSERT_EQ(fsync.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<Fsync>(*fsync[0].op));
  h.Complete(fsync[0], 0);
  auto events = h.Events();
  EXPECT_EQ(Tags(events), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(events[0].res, 8);
  EXPECT_EQ(events[1].res, 0);
}

// A link waiting for room (in the engine's queue) is cancelled at once with the
// links after it; the link before it, which already ended, is unaffected.
TEST(EngineChain, CancelOfAQueuedLinkEndsItAndTheRestAtOnce) {
  Harness h(Engine::Options{.max_in_flight = 2});
  SubmitArgs chain[] = {{Nop{}, 1}, {Nop{}, 2, /*deadline=*/1000}, {Nop{}, 3}};
  OpId ids[3];
  h.engine.SubmitChain(chain, ids);
  auto first = h.Take();
  h.engine.Submit(SubmitArgs{Fsync{7}, 4});  // takes the second place
  auto fsync = h.Take();
  ASSERT_EQ(fsync.size(), 1u);
  h.Complete(first[0], 0);  // link 2 may start, but needs two places
  EXPECT_TRUE(h.Take().empty());
  EXPECT_TRUE(h.engine.Cancel(ids[1]));
  auto events = h.Events();
  EXPECT_EQ(Tags(events), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(events[1].res, -ECANCELED);
  EXPECT_EQ(events[2].res, -ECANCELED);
  h.Complete(fsync[0], 0);
  EXPECT_TRUE(h.Take().empty());
  h.Events();
  EXPECT_TRUE(h.engine.Quiescent());
}

// A chain needs room for one link at a time, so any length fits any bound.
TEST(EngineChain, ALongChainRunsWithinASmallBound) {
  Harness h(Engine::Options{.max_in_flight = 2});
  std::vector<SubmitArgs> chain;
  for (uint64_t tag = 1; tag <= 6; ++tag) chain.push_back(SubmitArgs{Nop{}, tag, 1000});
  std::vector<OpId> ids(chain.size());
  h.engine.SubmitChain(chain, ids);
  for (int link = 0; link < 6; ++link) {
    auto reqs = h.Take();
    ASSERT_EQ(reqs.size(), 2u) << "link " << link;
    EXPECT_LE(h.engine.InFlight(), 2u);
    h.Complete(reqs[0], 0);
    h.Complete(reqs[1], -ECANCELED);
  }
  auto events = h.Events();
  EXPECT_EQ(Tags(events), (std::vector<uint64_t>{1, 2, 3, 4, 5, 6}));
  for (const Event& e : events) EXPECT_EQ(e.res, 0);
  EXPECT_TRUE(h.engine.Quiescent());
}

// Shutdown ends the links that have not started at once; the running one is
// cancelled in the kernel.
TEST(EngineChain, ShutdownEndsTheLinksNotStartedAtOnce) {
  Harness h;
  SubmitArgs chain[] = {ReadArgs(3, 1), {Nop{}, 2}, {Nop{}, 3}};
  OpId ids[3];
  h.engine.SubmitChain(chain, ids);
  auto read = h.Take();
  h.engine.Shutdown();
  EXPECT_EQ(Tags(h.Events()), (std::vector<uint64_t>{2, 3}));
  auto cancel = h.Take();
  ASSERT_EQ(cancel.size(), 1u);
  h.Complete(read[0], 64);
  h.Complete(cancel[0], -ENOENT);
  EXPECT_TRUE(h.Take().empty());
  EXPECT_EQ(h.Events().at(0).res, 64);
  EXPECT_TRUE(h.engine.Quiescent());
}

}  // namespace
}  // namespace ringloop
