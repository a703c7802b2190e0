// ringloop/runtime/loop_group_test.cc: LoopGroup on io_uring and epoll (and,
// for what needs no blocking across threads, the simulator), with real
// threads: run under tsan (tag "threads").
#include "ringloop/runtime/loop_group.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "ringloop/runtime/group_listener.h"
#include "ringloop/runtime/io.h"
#include "ringloop/runtime/loop.h"
#include "ringloop/runtime/scope.h"
#include "ringloop/runtime/task.h"
#include "ringloop/runtime/tcp_listener.h"
#include "ringloop/runtime/tcp_stream.h"
#include "ringloop/runtime/testing/backends.h"
#include "ringloop/runtime/timeout.h"

namespace ringloop {
namespace {

using testing::Backend;
using testing::BackendName;

class LoopGroupTest : public ::testing::TestWithParam<Backend> {
 public:
  // MakeGroup: `n` loops on the backend (each simulated loop is a machine of
  // its own).
  std::unique_ptr<LoopGroup> MakeGroup(size_t n, bool msg_ring_wake = true) {
    LoopGroupOptions options;
    options.threads = n;
    sim::SimDriver* unused = nullptr;
    options.loop = testing::MakeLoopOptions(GetParam(), &unused);
    if (simulated()) {
      // One simulated kernel per loop, made on the loop's own thread.
      options.loop.factories.epoll =
          [seed = GetParam().seed]() -> absl::StatusOr<std::unique_ptr<Driver>> {
        sim::SimOptions so;
        so.seed = seed;
        return std::unique_ptr<Driver>(std::make_unique<sim::SimDriver>(so));
      };
    }
    options.loop.msg_ring_wake = msg_ring_wake;
    auto group = LoopGroup::Create(options);
    if (!group.ok() && GetParam().name == "uring") return nullptr;
    EXPECT_TRUE(group.ok()) << group.status();
    return group.ok() ? std::move(*group) : nullptr;
  }
  bool simulated() const { return GetParam().seed != 0; }
};

// SKIP_IF_SIMULATED: a simulated loop cannot block waiting for another
// thread (its Poll reports a deadlock: nothing in its machine can move).
#define SKIP_IF_SIMULATED() \
  if (simulated()) GTEST_SKIP() << "blocks on another thread: not for the simulator"

#define MAKE_GROUP(var, ...)                                                            \
  std::unique_ptr<LoopGroup> var = MakeGroup(__VA_ARGS__);                              \
  if (var == nullptr && GetParam().name == "uring") GTEST_SKIP() << "no io_uring here"; \
  ASSERT_NE(var, nullptr)

TEST_P(LoopGroupTest, PostRunsOnTheChosenLoopsOwnThread) {
  MAKE_GROUP(group, 3);
  std::vector<std::promise<std::pair<std::thread::id, std::optional<size_t>>>> where(3);
  for (size_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(group->Post(i, [&, i] {
      where[i].set_value({std::this_thread::get_id(), group->CurrentIndex()});
    }));
  }
  std::set<std::thread::id> threads;
  for (size_t i = 0; i < 3; ++i) {
    auto [thread, index] = where[i].get_future().get();
    EXPECT_EQ(index, i);
    EXPECT_NE(thread, std::this_thread::get_id());
    threads.insert(thread);
  }
  EXPECT_EQ(threads.size(), 3u);
  EXPECT_FALSE(group->CurrentIndex().has_value());
}

Task<size_t> WhereAmI(LoopGroup* group, absl::Duration nap) {
  co_await Sleep(nap);  // an op of that loop
  co_return *group->CurrentIndex();
}

TEST_P(LoopGroupTest, BlockOnRunsATaskOnTheChosenLoop) {
  MAKE_GROUP(group, 2);
  EXPECT_EQ(group->BlockOn(0, WhereAmI(group.get(), absl::Milliseconds(1))), 0u);
  EXPECT_EQ(group->BlockOn(1, WhereAmI(group.get(), absl::Milliseconds(1))), 1u);
}

Task<std::string> Throws() {
  co_await Yield();
  throw std::runtime_error("from the other loop");
}

// Hops: on loop 0, runs children on loops 1 and 2 (one of them through
// loop 1), checking it is back on loop 0 after each.
Task<std::vector<size_t>> Hops(LoopGroup* group) {
  std::vector<size_t> seen;
  seen.push_back(co_await group->RunOn(1, WhereAmI(group, absl::Milliseconds(1))));
  seen.push_back(*group->CurrentIndex());
  seen.push_back(co_await group->RunOn(1, [](LoopGroup* g) -> Task<size_t> {
    co_return co_await g->RunOn(2, WhereAmI(g, absl::ZeroDuration()));
  }(group)));
  seen.push_back(*group->CurrentIndex());
  seen.push_back(co_await group->RunOn(0, WhereAmI(group, absl::ZeroDuration())));  // here
  try {
    co_await group->RunOn(2, Throws());
  } catch (const std::runtime_error& e) {
    seen.push_back(std::string(e.what()) == "from the other loop" ? 100 : 0);
  }
  co_return seen;
}

TEST_P(LoopGroupTest, RunOnRunsAChildOnTheOtherLoopAndBringsItsValueBack) {
  MAKE_GROUP(group, 3);
  EXPECT_EQ(group->BlockOn(0, Hops(group.get())), (std::vector<size_t>{1, 0, 2, 0, 0, 100}));
}

// Blocked: a read on loop 1 that nothing will satisfy; records how it ended.
// `reading`, if given, is set when the read is about to be submitted (the
// submission happens before the loop's thread does anything else).
Task<int> Blocked(int fd, std::atomic<int>* child_result, std::promise<void>* reading = nullptr) {
  char c;
  if (reading != nullptr) reading->set_value();
  Result r = co_await Io(Read{fd, &c, 1});
  child_result->store(r.raw());
  co_return r.raw();
}

TEST_P(LoopGroupTest, CancellingTheAwaitingTaskCancelsTheChildOnTheOtherLoop) {
  SKIP_IF_SIMULATED();
  MAKE_GROUP(group, 2);
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  std::atomic<int> child_result{1};
  std::optional<int> got = group->BlockOn(
      0, WithTimeout(absl::Milliseconds(20), group->RunOn(1, Blocked(p[0], &child_result))));
  EXPECT_FALSE(got.has_value());  // the timeout came first
  EXPECT_EQ(child_result.load(), -ECANCELED);
  group.reset();
  ::close(p[0]);
  ::close(p[1]);
}

TEST_P(LoopGroupTest, StopCancelsSpawnedTasksAndWaitsForChildrenOnOtherLoops) {
  SKIP_IF_SIMULATED();
  MAKE_GROUP(group, 2);
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  std::atomic<int> child_result{1};
  std::atomic<int> parent_saw{1};
  std::promise<void> reading;
  ASSERT_TRUE(group->Spawn(0,
                           [](LoopGroup* g, int fd, std::atomic<int>* child,
                              std::atomic<int>* parent, std::promise<void>* reading) -> Task<void> {
                             parent->store(co_await g->RunOn(1, Blocked(fd, child, reading)));
                           }(group.get(), p[0], &child_result, &parent_saw, &reading)));
  reading.get_future().wait();  // the child's read is in loop 1's kernel
  group->Stop();
  group->Join();
  // The task on loop 0 was cancelled; it waited for its child on loop 1,
  // whose read was cancelled, before the loops went.
  EXPECT_EQ(child_result.load(), -ECANCELED);
  EXPECT_EQ(parent_saw.load(), -ECANCELED);
  EXPECT_FALSE(group->Post(0, [] {}));
  ::close(p[0]);
  ::close(p[1]);
}

// PingPong: `rounds` posts from loop 0 to loop 1 and back.
void PingPong(LoopGroup* group, int rounds) {
  std::promise<void> done;
  std::function<void(int)> ping = [&](int left) {
    if (left == 0) {
      done.set_value();
      return;
    }
    group->Post(1, [&, left] { group->Post(0, [&, left] { ping(left - 1); }); });
  };
  group->Post(0, [&] { ping(rounds); });
  done.get_future().wait();
}

TEST_P(LoopGroupTest, PostsBetweenIoUringLoopsWakeWithMsgRing) {
  MAKE_GROUP(group, 2);
  PingPong(group.get(), 100);
  const WakeupStats one = group->loop(1).wakeups();
  if (GetParam().name == "uring") {
    EXPECT_GT(one.msg_ring, 0u);  // each loop woke the other through its ring
  } else {
    EXPECT_EQ(one.msg_ring, 0u);
  }
}

TEST_P(LoopGroupTest, PostsWakeThroughTheEventfdWhenMsgRingIsOff) {
  MAKE_GROUP(group, 2, /*msg_ring_wake=*/false);
  PingPong(group.get(), 100);
  EXPECT_EQ(group->loop(1).wakeups().msg_ring, 0u);
}

// EchoOnce: serves connections on one listener until stopped, recording the
// loop that served each.
Task<void> ServeRecording(TcpListener listener, LoopGroup* group, std::mutex* mu,
                          std::vector<size_t>* served_by) {
  Scope connections;
  for (;;) {
    absl::StatusOr<TcpStream> conn = co_await listener.Accept();
    if (!conn.ok()) break;
    {
      std::lock_guard<std::mutex> lock(*mu);
      served_by->push_back(*group->CurrentIndex());
    }
    connections.Spawn([](TcpStream c) -> Task<void> {
      char buf[64];
      Result n = co_await c.Read(buf, sizeof(buf));
      if (n.ok() && n.value() > 0) co_await c.WriteAll(buf, size_t(n.value()));
      co_await c.Close();
    }(std::move(*conn)));
  }
  co_await connections.Join();
}

TEST_P(LoopGroupTest, ListenOnEachLoopSpreadsConnectionsOverTheLoops) {
  SKIP_IF_SIMULATED();
  MAKE_GROUP(group, 2);
  std::mutex mu;
  std::vector<size_t> served_by;
  absl::StatusOr<uint16_t> port = ListenOnEachLoop(
      *group, SocketAddress::Loopback(0),
      [&](TcpListener l) { return ServeRecording(std::move(l), group.get(), &mu, &served_by); });
  ASSERT_TRUE(port.ok()) << port.status();
  EXPECT_NE(*port, 0);
  // Clients on a loop of this thread.
  LoopOptions client_options = testing::MakeLoopOptions(GetParam(), nullptr);
  auto client = Loop::Create(client_options);
  ASSERT_TRUE(client.ok()) << client.status();
  constexpr int kClients = 32;
  int echoed = 0;
  for (int i = 0; i < kClients; ++i) {
    const std::string text = absl::StrCat("hello ", i);
    std::string back = (*client)->BlockOn([](uint16_t port, std::string text) -> Task<std::string> {
      absl::StatusOr<TcpStream> c =
          co_await TcpStream::Connect(SocketAddress::Loopback(port), absl::Seconds(10));
      if (!c.ok()) co_return c.status().ToString();
      co_await c->WriteAll(text);
      std::string back(text.size(), '\0');
      Result r = co_await c->ReadExact(back.data(), back.size());
      co_await c->Close();
      co_return r.ok() ? back : r.ToString();
    }(*port, text));
    if (back == text) ++echoed;
  }
  EXPECT_EQ(echoed, kClients);
  group->Stop();
  group->Join();
  std::set<size_t> loops(served_by.begin(), served_by.end());
  EXPECT_EQ(served_by.size(), size_t(kClients));
  EXPECT_EQ(loops, (std::set<size_t>{0, 1}));  // both loops accepted some
}

std::vector<Backend> GroupBackends() { return {{"uring"}, {"epoll"}, {"sim_seed1", 1}}; }

INSTANTIATE_TEST_SUITE_P(Drivers, LoopGroupTest, ::testing::ValuesIn(GroupBackends()), BackendName);

TEST(LoopGroupDeathTest, BlockOnFromTheGroupsOwnThreadNamesTheMistake) {
  LoopGroupOptions options;
  options.threads = 1;
  options.loop.driver = DriverChoice::kEpoll;
  options.loop.log_driver_choice = false;
  EXPECT_DEATH(
      {
        auto group = LoopGroup::Create(options);
        LoopGroup* g = group->get();
        std::promise<void> never;
        g->Post(0, [g] { g->BlockOn(0, []() -> Task<int> { co_return 1; }()); });
        never.get_future().wait();
      },
      "LoopGroup::BlockOn called on one of the group's own threads");
}

}  // namespace
}  // namespace ringloop
