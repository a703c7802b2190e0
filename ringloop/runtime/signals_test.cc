// ringloop/runtime/signals_test.cc: SignalSet on every backend: on the real
// kernels with real signals sent to this process (raise, kill,
// pthread_kill); under the simulator from a pipe that carries signalfd
// records, the simulated kernel having no signals.
#include "ringloop/runtime/signals.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
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

enum class How { kRaise, kKillProcess, kKillThread };

class SignalsTest : public testing::BackendTest {
 public:
  // MakeSet: SIGUSR1, SIGUSR2 and SIGTERM through the loop.
  SignalSet MakeSet() {
    if (simulated()) {
      auto [r, w] = Pipe();
      peer_ = w;
      return SignalSet::FromFd(loop(), Give(r));
    }
    absl::StatusOr<SignalSet> set = SignalSet::Create(loop(), {SIGUSR1, SIGUSR2, SIGTERM});
    EXPECT_TRUE(set.ok()) << set.status();
    return set.ok() ? std::move(*set) : SignalSet();
  }
  // Send: `signo` to this process (under the simulator: its record into the
  // pipe).
  void Send(int signo, How how = How::kRaise) {
    if (simulated()) {
      signalfd_siginfo info;
      std::memset(&info, 0, sizeof(info));
      info.ssi_signo = uint32_t(signo);
      PeerWrite(peer_, std::string(reinterpret_cast<const char*>(&info), sizeof(info)));
      return;
    }
    switch (how) {
      case How::kRaise:
        ASSERT_EQ(::raise(signo), 0);
        return;
      case How::kKillProcess:
        ASSERT_EQ(::kill(::getpid(), signo), 0);
        return;
      case How::kKillThread:
        ASSERT_EQ(::pthread_kill(::pthread_self(), signo), 0);
        return;
    }
  }

 private:
  int peer_ = -1;
};

Task<void> WaitOnce(SignalSet* set, std::optional<Result>* out) {
  out->emplace(co_await set->Wait());
}

TEST_P(SignalsTest, WaitReturnsASignalSentWhileItWaits) {
  SignalSet set = MakeSet();
  std::optional<Result> got;
  Scope scope(loop());
  scope.Spawn(WaitOnce(&set, &got));
  EXPECT_FALSE(got.has_value());
  Send(SIGUSR1);
  RunUntil([&] { return got.has_value(); });
  ASSERT_TRUE(got->ok()) << got->ToString();
  EXPECT_EQ(got->value(), SIGUSR1);
}

TEST_P(SignalsTest, SignalsSentWhileNobodyWaitsAreKeptForTheNextWaits) {
  SignalSet set = MakeSet();
  Send(SIGUSR1, How::kKillProcess);
  Send(SIGUSR2, How::kKillThread);
  std::vector<int> got = loop().BlockOn([](SignalSet* set) -> Task<std::vector<int>> {
    std::vector<int> out;
    for (int i = 0; i < 2; ++i) {
      Result r = co_await set->Wait();
      out.push_back(r.ok() ? r.value() : -r.error());
    }
    co_return out;
  }(&set));
  // The kernel hands thread-directed signals out before process-wide ones.
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<int>{SIGUSR1, SIGUSR2}));
}

TEST_P(SignalsTest, OnSignalCallsTheCallbackOnTheLoopForEachSignal) {
  SignalSet set = MakeSet();
  std::vector<int> got;
  set.OnSignal([&](int signo) { got.push_back(signo); });
  Send(SIGUSR1, How::kKillProcess);
  RunUntil([&] { return got.size() == 1; });
  Send(SIGUSR2, How::kKillThread);
  RunUntil([&] { return got.size() == 2; });
  EXPECT_EQ(got, (std::vector<int>{SIGUSR1, SIGUSR2}));
}

TEST_P(SignalsTest, ACallbackMayStopTheSetThatCalledIt) {
  SignalSet set = MakeSet();
  const int fd = set.fd();
  int calls = 0;
  set.OnSignal([&](int) {
    ++calls;
    set.Stop();
  });
  Send(SIGUSR1);
  RunUntil([&] { return calls == 1; });
  Settle();
  EXPECT_FALSE(set.valid());
  EXPECT_FALSE(FdIsOpen(fd));
}

TEST_P(SignalsTest, StoppingEndsAWaitingWaitAndClosesTheFd) {
  SignalSet set = MakeSet();
  const int fd = set.fd();
  std::optional<Result> got;
  Scope scope(loop());
  scope.Spawn(WaitOnce(&set, &got));
  set.Stop();
  RunUntil([&] { return got.has_value(); });
  EXPECT_TRUE(got->cancelled()) << got->ToString();
  Settle();  // the read was cancelled and the fd closed
  EXPECT_FALSE(FdIsOpen(fd));
}

TEST_P(SignalsTest, ACancelledWaitLeavesTheSignalToTheNextWait) {
  SignalSet set = MakeSet();
  std::optional<Result> cancelled, next;
  {
    Scope scope(loop());
    scope.Spawn(WaitOnce(&set, &cancelled));
    scope.Cancel();
    RunUntil([&] { return cancelled.has_value(); });
  }
  EXPECT_TRUE(cancelled->cancelled());
  Send(SIGUSR2);
  Scope scope(loop());
  scope.Spawn(WaitOnce(&set, &next));
  RunUntil([&] { return next.has_value(); });
  EXPECT_EQ(next->value(), SIGUSR2);
}

// Server: accepts and answers requests ("ping\n" -> "pong\n") until SIGTERM;
// then stops accepting, lets the connections finish, and returns 0.
Task<int> Server(SignalSet* signals, TcpListener* listener, int* served) {
  signals->OnSignal([listener](int signo) {
    if (signo == SIGTERM) listener->Stop();
  });
  Scope connections;
  for (;;) {
    absl::StatusOr<TcpStream> conn = co_await listener->Accept();
    if (!conn.ok()) break;  // stopped by SIGTERM
    connections.Spawn([](TcpStream conn, int* served) -> Task<void> {
      char request[5];
      while ((co_await conn.ReadExact(request, sizeof(request))).ok()) {
        if ((co_await conn.WriteAll("pong\n", 5)).ok()) ++*served;
      }
      co_await conn.Close();
    }(std::move(*conn), served));
  }
  co_await connections.Join();
  co_return 0;
}

TEST_P(SignalsTest, AServerStopsOnSigtermFinishesItsRequestsAndClosesItsFds) {
  SignalSet signals = MakeSet();
  absl::StatusOr<TcpListener> bound =
      loop().BlockOn(TcpListener::Bind(SocketAddress::Loopback(simulated() ? 7100 : 0)));
  ASSERT_TRUE(bound.ok()) << bound.status();
  const SocketAddress address = bound->address();
  int served = 0;
  std::optional<int> exit_code;
  std::optional<absl::StatusOr<TcpStream>> refused;
  Scope scope(loop());
  scope.Spawn([](SignalSet* s, TcpListener* l, int* served, std::optional<int>* out) -> Task<void> {
    out->emplace(co_await Server(s, l, served));
  }(&signals, &*bound, &served, &exit_code));
  // A client with a request in flight when SIGTERM comes.
  absl::StatusOr<TcpStream> client = loop().BlockOn(TcpStream::Connect(address, absl::Seconds(10)));
  ASSERT_TRUE(client.ok()) << client.status();
  std::optional<std::string> answer;
  scope.Spawn([](TcpStream* c, std::optional<std::string>* out) -> Task<void> {
    co_await c->WriteAll("ping\n", 5);
    char reply[5];
    Result r = co_await c->ReadExact(reply, sizeof(reply));
    out->emplace(r.ok() ? std::string(reply, 5) : r.ToString());
    co_await c->Shutdown(SHUT_WR);  // the client is done: the server may finish
  }(&*client, &answer));
  Send(SIGTERM, How::kKillProcess);
  RunUntil([&] { return exit_code.has_value(); });
  EXPECT_EQ(*exit_code, 0);
  EXPECT_EQ(answer, "pong\n");
  EXPECT_EQ(served, 1);
  // Stopped accepting: a new client is refused (or reset).
  refused.emplace(loop().BlockOn(TcpStream::Connect(address, absl::Seconds(10))));
  EXPECT_FALSE(refused->ok());
  *client = TcpStream();
  signals.Stop();
  Settle();  // nothing left running: every fd was closed through the loop
}

INSTANTIATE_TEST_SUITE_P(AllBackends, SignalsTest, ::testing::ValuesIn(Backends()), BackendName);

TEST(SignalsCreateTest, ABadSignalNumberIsAnError) {
  LoopOptions options;
  options.driver = DriverChoice::kEpoll;
  options.log_driver_choice = false;
  auto loop = Loop::Create(options);
  ASSERT_TRUE(loop.ok());
  absl::StatusOr<SignalSet> set = SignalSet::Create(**loop, {SIGUSR1, 1000});
  EXPECT_EQ(set.status().code(), absl::StatusCode::kInvalidArgument) << set.status();
}

}  // namespace
}  // namespace ringloop
