// tests/conformance/parked_test.cc: ops that wait for readiness never starve the
// loop: 10,000 recvs parked on idle sockets (twice the fds of a busy server's
// keep-alive connections, forty times the engine's default in-flight bound)
// leave room for new work, and then complete in one burst.
#include <netinet/in.h>

#include <cerrno>
#include <cstdint>
#include <vector>

#include "tests/conformance/fixture.h"

namespace ringloop::conformance {
namespace {

constexpr int kPairs = 5000;
constexpr int kRecvsPerPair = 2;
constexpr uint64_t kRecvTag = 1'000'000;  // recv i has tag kRecvTag + i

TEST_P(ConformanceTest, TenThousandParkedRecvsNeverStarveNewOps) {
  Harness& h = Start();  // default options: a bound of 256
  std::vector<FdPair> pairs;
  pairs.reserve(kPairs);
  for (int i = 0; i < kPairs; ++i) {
    pairs.push_back(env().SocketPair());
    ASSERT_GE(pairs.back().first, 0) << "socketpair " << i << ": " << pairs.back().first;
  }
  constexpr int kRecvs = kPairs * kRecvsPerPair;
  std::vector<char> bufs(kRecvs, 0);
  for (int i = 0; i < kRecvs; ++i) {
    h.Submit(Recv{.fd = pairs[size_t(i / kRecvsPerPair)].first, .buf = &bufs[size_t(i)], .len = 1},
             kRecvTag + uint64_t(i));
  }
  // Every recv reaches the kernel (a driver may take them over several polls).
  for (int i = 0; i < kRecvs && !h.engine().PendingRequests().empty(); ++i) h.Kick();
  ASSERT_TRUE(h.engine().PendingRequests().empty());
  ASSERT_EQ(h.engine().InFlight(), uint32_t(kRecvs));
  ASSERT_EQ(h.engine().BoundedInFlight(), 0u);
  ASSERT_TRUE(h.events().empty()) << "a recv on an idle socket ended";

  // New work completes promptly: a nop, a send, an accept.
  sockaddr_in addr{};
  const int listener = env().Listener(&addr);
  ASSERT_GE(listener, 0);
  const int client = env().PeerConnect(addr);
  ASSERT_GE(client, 0);
  const FdPair other = env().SocketPair();
  ASSERT_GE(other.first, 0);
  const OpId nop = h.Submit(Nop{});
  const OpId send = h.Submit(Send{.fd = other.first, .buf = "s", .len = 1});
  const OpId accept = h.Submit(Accept{.fd = listener});
  ASSERT_TRUE(h.RunUntil(
      [&] {
        return h.FinalIndex(nop) >= 0 && h.FinalIndex(send) >= 0 && h.FinalIndex(accept) >= 0;
      },
      "a nop, a send and an accept behind 10,000 parked recvs", /*max_steps=*/20));
  EXPECT_EQ(h.Res(nop), 0);
  EXPECT_EQ(h.Res(send), 1);
  ASSERT_GE(h.Res(accept), 0);
  env().Adopt(h.Res(accept));
  EXPECT_EQ(h.events().size(), 3u) << "a recv on an idle socket ended";

  // Then every peer writes: the 10,000 recvs complete in one burst (well past
  // any completion queue's size), each with its own byte.
  for (int i = 0; i < kPairs; ++i) {
    ASSERT_EQ(env().PeerWrite(pairs[size_t(i)].second, "ab"), 2) << "pair " << i;
  }
  size_t recvs_done = 0;
  ASSERT_TRUE(h.RunUntil(
      [&] {
        recvs_done = 0;
        for (const Event& e : h.events()) recvs_done += e.tag >= kRecvTag ? 1 : 0;
        return recvs_done == size_t(kRecvs);
      },
      "10,000 recvs after their data came", /*max_steps=*/kRecvs));
  for (const Event& e : h.events()) {
    if (e.tag < kRecvTag) continue;
    ASSERT_EQ(e.res, 1) << "recv " << e.tag - kRecvTag;
  }
  // Each pair's two recvs took its two bytes, one each (which recv gets which
  // byte is the kernel's choice).
  for (int i = 0; i < kPairs; ++i) {
    const char* got = &bufs[size_t(i * kRecvsPerPair)];
    EXPECT_TRUE((got[0] == 'a' && got[1] == 'b') || (got[0] == 'b' && got[1] == 'a'))
        << "pair " << i << ": " << got[0] << got[1];
  }
  h.Drain();
}

}  // namespace
}  // namespace ringloop::conformance
