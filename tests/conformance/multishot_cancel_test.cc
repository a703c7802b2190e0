// tests/conformance/multishot_cancel_test.cc: cancelling a multishot accept while its
// results stream in. The kernel may have accepted connections (and posted their
// completions, each with IORING_CQE_F_MORE) before the cancel reaches it; those
// completions arrive after the cancel was asked for and must still be
// intermediate events, the op's one final event coming after all of them.
#include <netinet/in.h>

#include <cerrno>
#include <set>
#include <vector>

#include "tests/conformance/fixture.h"

namespace ringloop::conformance {
namespace {

TEST_P(ConformanceTest, CancelOfAMultishotAcceptWhileConnectionsStreamEndsItOnce) {
  Harness& h = Start();
  sockaddr_in addr{};
  const int listener = env().Listener(&addr);
  ASSERT_GE(listener, 0);
  const OpId a = h.Submit(Accept{.fd = listener, .multishot = true});
  h.Kick();
  if (h.Res(a) == -EINVAL && h.More(a).empty() && env().real_kernel()) {
    GTEST_SKIP() << "this kernel has no multishot accept (Linux 5.19)";
  }
  ASSERT_FALSE(h.Final(a).has_value()) << "multishot accept ended: " << h.Res(a);
  std::vector<int> clients;
  clients.push_back(env().PeerConnect(addr));
  ASSERT_GE(clients.back(), 0);
  ASSERT_TRUE(h.RunUntil([&] { return !h.More(a).empty() || h.Final(a); }, "a first connection"));
  ASSERT_FALSE(h.Final(a).has_value());
  // More connections: a real kernel accepts them (and posts their completions)
  // as they arrive, before the loop reaps; the cancel is asked for first.
  for (int i = 0; i < 5; ++i) {
    clients.push_back(env().PeerConnect(addr));
    ASSERT_GE(clients.back(), 0);
  }
  ASSERT_TRUE(h.Cancel(a));
  for (int i = 0; i < 3; ++i) {
    clients.push_back(env().PeerConnect(addr));
    ASSERT_GE(clients.back(), 0);
  }
  ASSERT_TRUE(h.AwaitFinal({a}));
  EXPECT_EQ(h.Res(a), -ECANCELED);
  const std::vector<Event> more = h.More(a);
  EXPECT_GE(more.size(), 1u);
  EXPECT_LE(more.size(), clients.size());
  std::set<int> fds;
  for (const Event& e : more) {
    EXPECT_GE(e.res, 0);
    env().Adopt(e.res);
    fds.insert(e.res);
  }
  EXPECT_EQ(fds.size(), more.size()) << "an fd was handed out twice";
  // The final event is the op's last: nothing of it comes after.
  const int final_index = h.FinalIndex(a);
  for (size_t i = size_t(final_index) + 1; i < h.events().size(); ++i) {
    EXPECT_NE(h.events()[i].id, a) << "an event of the accept after its final event";
  }
  // Further Polls bring nothing more for it: the stream is over.
  const size_t events = h.events().size();
  for (int i = 0; i < 3; ++i) h.Kick();
  for (size_t i = events; i < h.events().size(); ++i) EXPECT_NE(h.events()[i].id, a);
}

}  // namespace
}  // namespace ringloop::conformance
