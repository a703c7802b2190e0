// ringloop/drivers/uring/uring_enter_fault_test.cc: io_uring_enter's error answers, injected.
//
// -EBUSY, -EAGAIN, -EINTR, -EBADR and -EOWNERDEAD cannot be provoked on demand on
// a healthy 6.18 kernel, so this binary is linked with -Wl,--wrap=io_uring_enter2:
// every io_uring_enter the driver makes goes through __wrap_io_uring_enter2 below,
// which answers the next N submitting calls with an injected error instead of
// entering (the SQEs stay in the SQ, as after a real refusal) and passes every
// other call to liburing. No production code knows about it.
#include <liburing.h>

#include <cerrno>
#include <cstdint>
#include <set>

#include "gtest/gtest.h"
#include "ringloop/drivers/uring/uring_test_util.h"

extern "C" int __real_io_uring_enter2(unsigned fd, unsigned to_submit, unsigned min_complete,
                                      unsigned flags, sigset_t* sig, size_t sz);

namespace {

// Fault: answer the next `count` io_uring_enter calls that submit SQEs with -err.
struct Fault {
  int count = 0;
  int err = 0;
  int injected = 0;
};
Fault g_fault;

}  // namespace

extern "C" int __wrap_io_uring_enter2(unsigned fd, unsigned to_submit, unsigned min_complete,
                                      unsigned flags, sigset_t* sig, size_t sz) {
  if (g_fault.count > 0 && to_submit > 0) {
    --g_fault.count;
    ++g_fault.injected;
    return -g_fault.err;
  }
  return __real_io_uring_enter2(fd, to_submit, min_complete, flags, sig, sz);
}

namespace ringloop {
namespace {

using testing::UringHarness;

class EnterFaultTest : public ::testing::Test {
 protected:
  void TearDown() override { g_fault = Fault{}; }

  // Inject: the next `count` submitting enters fail with -err.
  static void Inject(int err, int count) { g_fault = Fault{count, err, 0}; }
  static int Injected() { return g_fault.injected; }
};

// SubmitNops: `n` nops tagged 0..n-1.
void SubmitNops(UringHarness& h, int n) {
  for (int i = 0; i < n; ++i) h.engine().Submit({Nop{}, uint64_t(i)});
}

// FinalTags: the tags of the final events so far, each expected once.
std::multiset<uint64_t> FinalTags(const UringHarness& h) {
  std::multiset<uint64_t> tags;
  for (const Event& e : h.events()) {
    if (!e.more) tags.insert(e.tag);
  }
  return tags;
}

std::multiset<uint64_t> Range(int n) {
  std::multiset<uint64_t> tags;
  for (int i = 0; i < n; ++i) tags.insert(uint64_t(i));
  return tags;
}

// A refused submit (-EBUSY: the CQ is full; -EAGAIN: the kernel is short of
// memory) is not an error: Poll reaps, and the SQEs, still in the SQ, go with the
// next enter. Nothing is lost or doubled.
TEST_F(EnterFaultTest, BusyAndAgainLeaveTheSqesQueuedForTheNextEnter) {
  for (const int err : {EBUSY, EAGAIN}) {
    SCOPED_TRACE(err == EBUSY ? "EBUSY" : "EAGAIN");
    URING_HARNESS_OR_SKIP(h);
    SubmitNops(*h, 10);
    Inject(err, 3);
    for (int step = 0; step < 3; ++step) ASSERT_TRUE(h->Step(/*wait=*/false).ok());
    EXPECT_EQ(Injected(), 3);
    EXPECT_EQ(h->driver().stats().busy, 3u);
    EXPECT_TRUE(FinalTags(*h).empty()) << "an op completed while its SQE was refused";
    ASSERT_TRUE(h->RunUntil([&] { return h->events().size() >= 10; }));
    EXPECT_EQ(FinalTags(*h), Range(10));
    for (const Event& e : h->events()) EXPECT_EQ(e.res, 0);
    EXPECT_TRUE(h->engine().Quiescent());
  }
}

// -EINTR: the enter is retried at once, within the same Poll.
TEST_F(EnterFaultTest, InterruptedEnterIsRetriedInTheSamePoll) {
  URING_HARNESS_OR_SKIP(h);
  SubmitNops(*h, 5);
  Inject(EINTR, 2);
  ASSERT_TRUE(h->Step(/*wait=*/true).ok());
  EXPECT_EQ(Injected(), 2);
  EXPECT_GE(h->driver().stats().eintr, 2u);
  ASSERT_TRUE(h->RunUntil([&] { return h->events().size() >= 5; }));
  EXPECT_EQ(FinalTags(*h), Range(5));
}

// -EBADR (the kernel dropped a completion) and -EOWNERDEAD (the SQPOLL thread is
// gone) are the driver's own failures: Poll says so, by name; it never guesses.
TEST_F(EnterFaultTest, LostCompletionsAndADeadSqpollThreadAreClearErrors) {
  struct Case {
    int err;
    absl::StatusCode code;
    const char* words;
  };
  for (const Case& c : {Case{EBADR, absl::StatusCode::kDataLoss, "dropped a completion"},
                        Case{EOWNERDEAD, absl::StatusCode::kUnavailable, "SQPOLL thread"}}) {
    SCOPED_TRACE(c.words);
    URING_HARNESS_OR_SKIP(h);
    SubmitNops(*h, 1);
    Inject(c.err, 1);
    const absl::Status status = h->Step(/*wait=*/false);
    EXPECT_EQ(status.code(), c.code) << status;
    EXPECT_NE(status.message().find(c.words), absl::string_view::npos) << status;
    EXPECT_NE(status.message().find("io_uring_enter"), absl::string_view::npos) << status;
    // The SQE was never taken: the next Poll submits it, and the nop completes.
    ASSERT_TRUE(h->RunUntil([&] { return h->events().size() >= 1; }));
    EXPECT_EQ(FinalTags(*h), Range(1));
  }
}

}  // namespace
}  // namespace ringloop
