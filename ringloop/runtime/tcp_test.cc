// ringloop/runtime/tcp_test.cc: TcpListener and TcpStream on every backend:
// clients and servers are tasks on the same loop.
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "ringloop/runtime/address.h"
#include "ringloop/runtime/loop.h"
#include "ringloop/runtime/scope.h"
#include "ringloop/runtime/task.h"
#include "ringloop/runtime/tcp_listener.h"
#include "ringloop/runtime/tcp_stream.h"
#include "ringloop/runtime/testing/backends.h"

namespace ringloop {
namespace {

using testing::BackendName;
using testing::Backends;

class TcpTest : public testing::BackendTest {
 public:
  // ServerAddress: where a test listens: port 0 (the kernel picks) on real
  // kernels; a fixed port under the simulator, which cannot say which port
  // it picked.
  SocketAddress ServerAddress(bool v6 = false) {
    const uint16_t port = simulated() ? uint16_t(7000 + next_port_++) : 0;
    return v6 ? SocketAddress::Loopback6(port) : SocketAddress::Loopback(port);
  }
  // Listen: a bound listener (the test fails if Bind does).
  TcpListener Listen(SocketAddress address, ListenOptions options = ListenOptions()) {
    absl::StatusOr<TcpListener> l = loop().BlockOn(TcpListener::Bind(address, options));
    EXPECT_TRUE(l.ok()) << l.status();
    return l.ok() ? std::move(*l) : TcpListener();
  }
  // ConnectTo: a connected client of `listener`.
  TcpStream ConnectTo(const TcpListener& listener) {
    absl::StatusOr<TcpStream> s =
        loop().BlockOn(TcpStream::Connect(Target(listener), absl::Seconds(10)));
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? std::move(*s) : TcpStream();
  }
  // Target: the address a client uses to reach `listener`.
  static SocketAddress Target(const TcpListener& listener) { return listener.address(); }

 private:
  int next_port_ = 0;
};

// Echo: the server side of one connection: echoes until the end of the stream.
Task<void> Echo(TcpStream conn) {
  char buf[256];
  for (;;) {
    Result n = co_await conn.Read(buf, sizeof(buf));
    if (!n.ok() || n.value() == 0) break;
    if (!(co_await conn.WriteAll(buf, size_t(n.value()))).ok()) break;
  }
  co_await conn.Close();
}

// ServeOne: accepts one connection and echoes on it.
Task<void> ServeOne(TcpListener* listener) {
  absl::StatusOr<TcpStream> conn = co_await listener->Accept();
  EXPECT_TRUE(conn.ok()) << conn.status();
  if (conn.ok()) co_await Echo(std::move(*conn));
}

// RoundTrip: connects to `to`, sends `text`, reads it back, half-closes and
// waits for the server's end of stream.
Task<std::string> RoundTrip(SocketAddress to, std::string text) {
  absl::StatusOr<TcpStream> c = co_await TcpStream::Connect(to, absl::Seconds(10));
  if (!c.ok()) co_return c.status().ToString();
  Result w = co_await c->WriteAll(text);
  if (!w.ok()) co_return w.ToString();
  std::string back(text.size(), '\0');
  Result r = co_await c->ReadExact(back.data(), back.size());
  if (!r.ok()) co_return r.ToString();
  Result shut = co_await c->Shutdown(SHUT_WR);
  if (!shut.ok()) co_return shut.ToString();
  char end;
  Result eof = co_await c->Read(&end, 1);
  if (!eof.ok() || eof.value() != 0) co_return absl::StrCat("no end of stream: ", eof.ToString());
  Result closed = co_await c->Close();
  if (!closed.ok()) co_return closed.ToString();
  co_return back;
}

TEST_P(TcpTest, AClientAndAServerTaskRoundTripOverIpv4Loopback) {
  TcpListener listener = Listen(ServerAddress());
  std::string got;
  loop().BlockOn(WithScope([&](Scope& s) -> Task<void> {
    s.Spawn(ServeOne(&listener));
    got = co_await RoundTrip(Target(listener), "hello, ringloop");
  }));
  EXPECT_EQ(got, "hello, ringloop");
}

TEST_P(TcpTest, AClientAndAServerTaskRoundTripOverIpv6Loopback) {
  absl::StatusOr<TcpListener> bound = loop().BlockOn(TcpListener::Bind(ServerAddress(true)));
  if (!bound.ok() && !simulated() && absl::StrContains(bound.status().message(), "EADDRNOTAVAIL")) {
    GTEST_SKIP() << "no IPv6 loopback here: " << bound.status();
  }
  ASSERT_TRUE(bound.ok()) << bound.status();
  EXPECT_EQ(bound->address().family(), AF_INET6);
  std::string got;
  loop().BlockOn(WithScope([&](Scope& s) -> Task<void> {
    s.Spawn(ServeOne(&*bound));
    got = co_await RoundTrip(Target(*bound), "over v6");
  }));
  EXPECT_EQ(got, "over v6");
}

TEST_P(TcpTest, PortZeroGivesAnEphemeralPortThatTheListenerKnows) {
  if (simulated()) GTEST_SKIP() << "the simulated kernel has no getsockname";
  TcpListener listener = Listen(SocketAddress::Loopback(0));
  EXPECT_NE(listener.port(), 0);
  TcpStream client = ConnectTo(listener);
  absl::StatusOr<SocketAddress> peer = client.PeerAddress();
  ASSERT_TRUE(peer.ok()) << peer.status();
  EXPECT_EQ(*peer, listener.address());
  EXPECT_EQ(peer->ToString(), absl::StrCat("127.0.0.1:", listener.port()));
}

TEST_P(TcpTest, BindingAPortInUseNamesTheOpTheFdAndTheAddress) {
  TcpListener first = Listen(ServerAddress());
  absl::StatusOr<TcpListener> second = loop().BlockOn(TcpListener::Bind(first.address()));
  ASSERT_FALSE(second.ok());
  const std::string message(second.status().message());
  EXPECT_TRUE(absl::StartsWith(message, "bind(fd=")) << message;
  EXPECT_TRUE(absl::StrContains(message, "[EADDRINUSE]")) << message;
  EXPECT_TRUE(absl::StrContains(message, absl::StrCat("listening on ", first.address().ToString())))
      << message;
}

TEST_P(TcpTest, ConnectingWhereNobodyListensIsRefusedWithTheAddressInTheMessage) {
  SocketAddress nobody;
  {
    TcpListener gone = Listen(ServerAddress());
    nobody = gone.address();
  }  // stopped: its port refuses connections now
  Settle();
  absl::StatusOr<TcpStream> c = loop().BlockOn(TcpStream::Connect(nobody, absl::Seconds(10)));
  ASSERT_FALSE(c.ok());
  const std::string message(c.status().message());
  EXPECT_TRUE(absl::StartsWith(message, "connect(fd=")) << message;
  EXPECT_TRUE(absl::StrContains(message, "[ECONNREFUSED]")) << message;
  EXPECT_TRUE(absl::StrContains(message, nobody.ToString())) << message;
}

TEST_P(TcpTest, ConnectTimesOutAtItsDeadline) {
  absl::Duration timeout = absl::Milliseconds(200);
  SocketAddress target;
  int raw_listener = -1, raw_client = -1;
  if (simulated()) {
    // The handshake takes a round trip of the virtual network (100 us).
    timeout = absl::Microseconds(20);
    TcpListener kept = Listen(ServerAddress());
    target = kept.address();
    const uint64_t start = loop().NowNs();
    absl::StatusOr<TcpStream> c = loop().BlockOn(TcpStream::Connect(target, timeout));
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.status().code(), absl::StatusCode::kDeadlineExceeded) << c.status();
    EXPECT_GE(loop().NowNs() - start, uint64_t(absl::ToInt64Nanoseconds(timeout)));
    return;
  }
  // A real listener whose accept queue is full (backlog 0 holds one
  // connection) drops further SYNs: the next connect waits for a retry (1 s).
  raw_listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(raw_listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(raw_listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(raw_listener, 0), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::getsockname(raw_listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  target = SocketAddress::Loopback(ntohs(addr.sin_port));
  raw_client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(::connect(raw_client, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  const uint64_t start = loop().NowNs();
  absl::StatusOr<TcpStream> c = loop().BlockOn(TcpStream::Connect(target, timeout));
  const uint64_t took = loop().NowNs() - start;
  ::close(raw_client);
  ::close(raw_listener);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kDeadlineExceeded) << c.status();
  EXPECT_GE(took, uint64_t(absl::ToInt64Nanoseconds(timeout)));
  EXPECT_LT(took, uint64_t(absl::ToInt64Nanoseconds(absl::Seconds(5))));
}

// Client: connects to `to` (counted in `*connected`), then round-trips
// `text` (the answer waits until a server accepts); records the answer.
Task<void> Client(SocketAddress to, std::string text, int* connected,
                  std::vector<std::string>* answers) {
  absl::StatusOr<TcpStream> c = co_await TcpStream::Connect(to, absl::Seconds(10));
  if (!c.ok()) {
    answers->push_back(c.status().ToString());
    co_return;
  }
  ++*connected;
  co_await c->WriteAll(text);
  std::string back(text.size(), '\0');
  Result r = co_await c->ReadExact(back.data(), back.size());
  answers->push_back(r.ok() ? back : r.ToString());
  co_await c->Close();
}

TEST_P(TcpTest, ConnectionsWaitingForAcceptAreBoundedAndNoneIsLost) {
  ListenOptions options;
  options.max_pending = 2;
  TcpListener listener = Listen(ServerAddress(), options);
  constexpr int kClients = 6;
  std::vector<std::string> answers;
  int connected = 0;
  const uint64_t cancels = loop().engine_stats().cancels_sent;
  Scope scope(loop());
  // The first Accept starts accepting; every client then connects, and waits
  // in the listener's queue or the kernel's backlog, before any other Accept.
  scope.Spawn(ServeOne(&listener));
  for (int i = 0; i < kClients; ++i) {
    scope.Spawn(Client(Target(listener), absl::StrCat("client ", i), &connected, &answers));
  }
  RunUntil([&] { return connected == kClients; });
  for (int i = 1; i < kClients; ++i) scope.Spawn(ServeOne(&listener));
  RunUntil([&] { return scope.size() == 0; });
  ASSERT_EQ(answers.size(), size_t(kClients));
  std::sort(answers.begin(), answers.end());
  for (int i = 0; i < kClients; ++i) EXPECT_EQ(answers[size_t(i)], absl::StrCat("client ", i));
  // The queue filled up: accepting was paused (the multishot accept
  // cancelled) and resumed.
  EXPECT_GT(loop().engine_stats().cancels_sent, cancels);
}

TEST_P(TcpTest, StoppingFailsWaitingAndLaterAccepts) {
  TcpListener listener = Listen(ServerAddress());
  std::optional<absl::StatusOr<TcpStream>> waiting;
  Scope scope(loop());
  scope.Spawn([](TcpListener* l, auto* out) -> Task<void> { out->emplace(co_await l->Accept()); }(
                                                &listener, &waiting));
  EXPECT_FALSE(waiting.has_value());
  listener.Stop();
  RunUntil([&] { return waiting.has_value(); });
  ASSERT_FALSE(waiting->ok());
  EXPECT_EQ(waiting->status().code(), absl::StatusCode::kCancelled) << waiting->status();
  EXPECT_TRUE(absl::StartsWith(waiting->status().message(), "accept(fd=")) << waiting->status();
  absl::StatusOr<TcpStream> late =
      loop().BlockOn([](TcpListener* l) -> Task<absl::StatusOr<TcpStream>> {
        co_return co_await l->Accept();
      }(&listener));
  EXPECT_EQ(late.status().code(), absl::StatusCode::kCancelled);
  Settle();  // the accept op and the socket's close ended
}

TEST_P(TcpTest, StoppingClosesConnectionsQueuedForAccept) {
  TcpListener listener = Listen(ServerAddress());
  // One connection accepted; the multishot accept goes on and queues the
  // second, which nobody accepts.
  std::optional<Result> queued_end;
  Scope scope(loop());
  scope.Spawn(ServeOne(&listener));
  TcpStream a = ConnectTo(listener);
  const uint64_t more = loop().engine_stats().more_events;
  TcpStream b = ConnectTo(listener);
  RunUntil([&] { return loop().engine_stats().more_events > more; });
  listener.Stop();
  scope.Spawn([](TcpStream* b, std::optional<Result>* out) -> Task<void> {
    char c;
    out->emplace(co_await b->Read(&c, 1, absl::Seconds(10)));
  }(&b, &queued_end));
  RunUntil([&] { return queued_end.has_value(); });
  // The listener closed it: b sees the end of the stream (or a reset), not
  // its read's timeout.
  EXPECT_TRUE((queued_end->ok() && queued_end->value() == 0) || queued_end->error() == ECONNRESET)
      << queued_end->ToString();
  a = TcpStream();
  b = TcpStream();
  RunUntil([&] { return scope.size() == 0; });
}

TEST_P(TcpTest, ACancelledAcceptLeavesTheListenerWorking) {
  TcpListener listener = Listen(ServerAddress());
  std::optional<absl::StatusOr<TcpStream>> cancelled;
  {
    Scope scope(loop());
    scope.Spawn([](TcpListener* l, auto* out) -> Task<void> { out->emplace(co_await l->Accept()); }(
                                                  &listener, &cancelled));
    scope.Cancel();
    RunUntil([&] { return cancelled.has_value(); });
  }
  EXPECT_EQ(cancelled->status().code(), absl::StatusCode::kCancelled);
  std::string got;
  loop().BlockOn(WithScope([&](Scope& s) -> Task<void> {
    s.Spawn(ServeOne(&listener));
    got = co_await RoundTrip(Target(listener), "still there");
  }));
  EXPECT_EQ(got, "still there");
}

// The Loop's shutdown cancels the listener's accept op: that -ECANCELED ends the
// waiting Accept instead of re-arming an op the shutting engine cancels again at
// once (which spun forever inside ~Loop).
TEST_P(TcpTest, DestroyingTheLoopWhileAnAcceptWaitsEndsTheAccept) {
  std::optional<absl::StatusOr<TcpStream>> accepted;
  // The task owns the listener: it closes with the task, while the Loop ends.
  loop().Spawn([](TcpListener l, auto* out) -> Task<void> { out->emplace(co_await l.Accept()); }(
                                                Listen(ServerAddress()), &accepted));
  const uint64_t before = loop().engine_stats().submitted;
  RunUntil([&] { return loop().engine_stats().submitted > before; });  // the accept is out
  DestroyLoop();
  ASSERT_TRUE(accepted.has_value());
  EXPECT_FALSE(accepted->ok());
  EXPECT_EQ(accepted->status().code(), absl::StatusCode::kCancelled) << accepted->status();
}

TEST_P(TcpTest, AnAcceptErrorReachesTheAcceptAndAcceptingResumesAtTheNextOne) {
  if (simulated()) GTEST_SKIP() << "the simulated kernel has no fd limit";
  TcpListener listener = Listen(ServerAddress());
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  // A client connects while the process may open no more fds.
  int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(client, 0);
  ASSERT_EQ(::connect(client, listener.address().sockaddr(), listener.address().size()), 0);
  rlimit tight = saved;
  tight.rlim_cur = rlim_t(client);  // every fd number from `client` up is refused
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &tight), 0);
  auto accept_once = [](TcpListener* l) -> Task<absl::StatusOr<TcpStream>> {
    co_return co_await l->Accept();
  };
  absl::StatusOr<TcpStream> failed = loop().BlockOn(accept_once(&listener));
  // No accept is retried behind the program's back (it would fail again, at
  // once, forever).
  const uint64_t submitted = loop().engine_stats().submitted;
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(loop().RunOnce(/*wait=*/false).ok());
  EXPECT_EQ(loop().engine_stats().submitted, submitted);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
  ASSERT_FALSE(failed.ok());
  EXPECT_TRUE(absl::StrContains(failed.status().message(), "[EMFILE]")) << failed.status();
  EXPECT_TRUE(absl::StartsWith(failed.status().message(), "accept(fd=")) << failed.status();
  // The connection waited in the kernel's backlog.
  absl::StatusOr<TcpStream> conn = loop().BlockOn(accept_once(&listener));
  EXPECT_TRUE(conn.ok()) << conn.status();
  ::close(client);
}

INSTANTIATE_TEST_SUITE_P(AllBackends, TcpTest, ::testing::ValuesIn(Backends()), BackendName);

TEST(SocketAddressTest, ParsesAndPrintsBothFamilies) {
  absl::StatusOr<SocketAddress> v4 = SocketAddress::Parse("10.1.2.3", 80);
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->family(), AF_INET);
  EXPECT_EQ(v4->ToString(), "10.1.2.3:80");
  absl::StatusOr<SocketAddress> v6 = SocketAddress::Parse("::1", 6379);
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(*v6, SocketAddress::Loopback6(6379));
  EXPECT_EQ(v6->ToString(), "[::1]:6379");
  EXPECT_EQ(SocketAddress::Any(0).ToString(), "0.0.0.0:0");
  EXPECT_EQ(SocketAddress::Loopback(1).size(), sizeof(sockaddr_in));
  absl::StatusOr<SocketAddress> bad = SocketAddress::Parse("localhost", 1);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SocketAddress().ToString(), "unspecified");
}

}  // namespace
}  // namespace ringloop
