// examples/server/server_sim_test.cc: the RESP and HTTP services, server loop and drain
// included, on the simulated kernel (ringloop/drivers/sim) with injected faults:
// EINTR, short reads and writes, CQ overflow, refused submissions and duplicated
// completions (which a correct server never notices), then connection resets and
// broken pipes (which it must survive). Clients are tasks on the same loop; time is
// virtual, so expiry and timeouts are tested in milliseconds of real time, and a
// failing seed replays exactly.
#include <sys/socket.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "examples/http/http_service.h"
#include "examples/resp/resp_service.h"
#include "examples/server/server.h"
#include "gtest/gtest.h"
#include "ringloop/drivers/sim/sim_driver.h"
#include "ringloop/runtime/io.h"
#include "ringloop/runtime/loop.h"
#include "ringloop/runtime/scope.h"
#include "ringloop/runtime/tcp_listener.h"
#include "ringloop/runtime/tcp_stream.h"
#include "ringloop/testing/sim_test.h"

namespace examples::server {
namespace {

using ringloop::Result;
using ringloop::Scope;
using ringloop::SocketAddress;
using ringloop::Task;
using ringloop::TcpStream;

constexpr uint16_t kPort = 6379;
constexpr int64_t kUnixMs = 1'700'000'000'000;

// Faults a correct program never sees, and faults that end connections.
ringloop::sim::FaultPlan Invisible() {
  ringloop::sim::FaultPlan plan;
  plan[ringloop::sim::Fault::kEintr] = 50;
  plan[ringloop::sim::Fault::kShortIo] = 300;
  plan[ringloop::sim::Fault::kCqOverflow] = 50;
  plan[ringloop::sim::Fault::kSubmitBusy] = 50;
  plan[ringloop::sim::Fault::kDuplicateCqe] = 20;
  return plan;
}
ringloop::sim::FaultPlan Breaking() {
  ringloop::sim::FaultPlan plan = Invisible();
  plan[ringloop::sim::Fault::kConnReset] = 5;
  plan[ringloop::sim::Fault::kEpipe] = 5;
  return plan;
}

// Command: `args` as a RESP multibulk request.
std::string Command(const std::vector<std::string>& args) {
  std::string out = absl::StrCat("*", args.size(), "\r\n");
  for (const std::string& a : args) absl::StrAppend(&out, "$", a.size(), "\r\n", a, "\r\n");
  return out;
}

// ConnectClient: a client connection to the server. An injected EINTR that lands on a
// connect after its SYN went out makes the engine's retry fail with EISCONN (the
// runtime's concern, not the server's): the client then tries again, a few times.
Task<absl::StatusOr<TcpStream>> ConnectClient() {
  absl::StatusOr<TcpStream> s;
  for (int attempt = 0; attempt < 5; ++attempt) {
    s = co_await TcpStream::Connect(SocketAddress::Loopback(kPort), absl::Seconds(10));
    if (s.ok() || !absl::StrContains(s.status().message(), "EISCONN")) break;
  }
  co_return s;
}

// Exchange: a client that connects, sends `request` in pieces of `piece` bytes while
// reading, and returns what it reads until `reply_bytes` have come or the stream
// ends or fails; then closes. When either direction ends (the reads are done, or a
// write failed: an injected EPIPE or reset), the client shuts the socket down, which
// ends the other direction's pending op; a cancel alone might not (a recv past
// cancelling answers -EALREADY and stays blocked until its socket is shut down).
Task<std::string> Exchange(std::string request, size_t piece, size_t reply_bytes) {
  absl::StatusOr<TcpStream> s = co_await ConnectClient();
  if (!s.ok()) co_return "connect failed: " + s.status().ToString();
  std::string reply;
  co_await ringloop::WithScope([&](Scope& scope) -> Task<void> {
    scope.Spawn([](TcpStream& s, std::string& request, size_t piece) -> Task<void> {
      for (size_t at = 0; at < request.size(); at += piece) {
        const size_t n = std::min(piece, request.size() - at);
        const Result w = co_await s.WriteAll(request.data() + at, n);
        if (!w.ok()) {
          (void)co_await s.Shutdown(SHUT_RDWR);  // gives up: ends the reads
          co_return;
        }
      }
    }(*s, request, piece));
    scope.Spawn([](TcpStream& s, std::string& reply, size_t reply_bytes) -> Task<void> {
      char buf[4096];
      while (reply.size() < reply_bytes) {
        const Result r = co_await s.Read(buf, std::min(sizeof(buf), reply_bytes - reply.size()));
        if (!r.ok() || r.value() == 0) break;
        reply.append(buf, size_t(r.value()));
      }
      (void)co_await s.Shutdown(SHUT_RDWR);  // ends the writes, if the server stopped reading
    }(*s, reply, reply_bytes));
    co_return;
  });
  co_await s->Close();
  co_return reply;
}

class ServerSimTest : public ::testing::TestWithParam<uint64_t> {
 protected:
  // MakeLoop: a Loop on a simulated kernel with `faults`, seeded by the parameter.
  void MakeLoop(const ringloop::sim::FaultPlan& faults) {
    ringloop::LoopOptions options;
    options.log_driver_choice = false;
    options.driver = ringloop::DriverChoice::kEpoll;
    options.factories.epoll = [this,
                               faults]() -> absl::StatusOr<std::unique_ptr<ringloop::Driver>> {
      ringloop::sim::SimOptions so;
      so.seed = GetParam();
      so.faults = faults;
      auto driver = std::make_unique<ringloop::sim::SimDriver>(so);
      sim_ = driver.get();
      return std::unique_ptr<ringloop::Driver>(std::move(driver));
    };
    auto loop = ringloop::Loop::Create(options);
    ASSERT_TRUE(loop.ok()) << loop.status();
    loop_ = std::move(*loop);
    fds_at_start_ = sim_->OpenFds().size();
  }

  // Serve: binds the simulated port and serves `service` on it.
  void Serve(Service& service) {
    control_.unix_ms_now = kUnixMs;
    absl::StatusOr<ringloop::TcpListener> listener =
        loop_->BlockOn(ringloop::TcpListener::Bind(SocketAddress::Loopback(kPort)));
    ASSERT_TRUE(listener.ok()) << listener.status();
    loop_->Spawn(ServeListener(std::move(*listener), service, control_));
  }

  // RunClients: runs `clients` to its end, bounded by two minutes of virtual time (a
  // client waiting for a reply that never comes fails the test instead of hanging it).
  // Returns false if they did not end; the loop is then destroyed, which cancels and
  // ends the clients and the server while the test's locals they use still exist.
  [[nodiscard]] bool RunClients(Task<void> clients) {
    clients_done_ = false;
    loop_->Spawn([](Task<void> clients, bool* done) -> Task<void> {
      co_await std::move(clients);
      *done = true;
    }(std::move(clients), &clients_done_));
    const absl::Status status = loop_->RunUntil([&] { return clients_done_; }, absl::Minutes(2));
    if (status.ok()) return true;
    ADD_FAILURE() << "the clients did not finish: " << status
                  << "; in flight: " << sim_->DescribeInFlight();
    loop_.reset();
    return false;
  }

  // DrainAndCheck: drains the server and checks that it finishes with no fd left open.
  void DrainAndCheck() {
    control_.Drain();
    if (!loop_->RunUntil([&] { return control_.finished(); }, absl::Seconds(60)).ok()) {
      ADD_FAILURE() << "the server did not finish draining; in flight: "
                    << sim_->DescribeInFlight();
      loop_.reset();  // ends the server while the service it uses still exists
      return;
    }
    EXPECT_EQ(sim_->OpenFds().size(), fds_at_start_)
        << "fds left open: "
        << absl::StrJoin(sim_->OpenFds(), ",",
                         [&](std::string* out, int fd) {
                           absl::StrAppend(out, fd, "/", int(*sim_->FdType(fd)));
                         })
        << "; in flight: " << sim_->DescribeInFlight();
  }

  ringloop::sim::SimDriver* sim_ = nullptr;
  std::unique_ptr<ringloop::Loop> loop_;
  LoopControl control_;
  size_t fds_at_start_ = 0;
  bool clients_done_ = false;
};

// Differ: where two replies first differ, for messages.
std::string Differ(const std::string& got, const std::string& want) {
  size_t i = 0;
  while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
  return absl::StrCat("got ", got.size(), " bytes, want ", want.size(), "; first difference at ", i,
                      ": ", got.substr(i, 200));
}

// RespScript: `n` pipelined requests of client `id` on its own keys, and their replies.
std::pair<std::string, std::string> RespScript(int id, int n) {
  std::string requests, replies;
  const std::string value(3000, char('a' + id));  // replies outgrow the output limit
  for (int i = 0; i < n; ++i) {
    const std::string key = absl::StrCat("c", id, ":", i % 7);
    requests += Command({"SET", key, value});
    replies += "+OK\r\n";
    requests += absl::StrCat("GET ", key, "\r\n");
    replies += absl::StrCat("$", value.size(), "\r\n", value, "\r\n");
    requests += Command({"INCR", absl::StrCat("n", id)});
    replies += absl::StrCat(":", i + 1, "\r\n");
  }
  return {requests, replies};
}

// SpawnRespClients: `got.size()` clients on `scope`, client i running RespScript(i +
// `first_id`, `commands`) in pieces of `piece` bytes into got[i]; want[i] is what it
// should read.
void SpawnRespClients(Scope& scope, int commands, size_t piece, std::vector<std::string>& got,
                      std::vector<std::string>& want, int first_id = 0) {
  want.resize(got.size());
  for (size_t id = 0; id < got.size(); ++id) {
    auto [requests, replies] = RespScript(int(id) + first_id, commands);
    want[id] = replies;
    scope.Spawn([](std::string* out, std::string req, size_t piece, size_t n) -> Task<void> {
      *out = co_await Exchange(std::move(req), piece, n);
    }(&got[id], std::move(requests), piece, replies.size()));
  }
}

TEST_P(ServerSimTest, RespClientsGetEveryReplyUnderFaultsAndKeysExpireOnVirtualTime) {
  MakeLoop(Invisible());
  resp::RespServiceOptions options;
  options.limits.max_output_bytes = 8 * 1024;  // backpressure on every client
  resp::RespService service(options);
  Serve(service);
  std::vector<std::string> got(4), want;
  std::string expiry;
  ASSERT_TRUE(RunClients(ringloop::WithScope([&](Scope& scope) -> Task<void> {
    SpawnRespClients(scope, 60, 1000, got, want);
    // Keys that expire and are never read again: the active expiry reclaims them.
    std::string volatile_keys;
    for (int i = 0; i < 50; ++i)
      volatile_keys += Command({"SET", absl::StrCat("v", i), "x", "PX", "20"});
    expiry = co_await Exchange(volatile_keys, 4096, 50 * 5);
    co_return;
  })));
  for (int id = 0; id < 4; ++id) {
    EXPECT_TRUE(got[id] == want[id]) << "client " << id << ": " << Differ(got[id], want[id]);
  }
  EXPECT_EQ(expiry.size(), 250u);
  EXPECT_EQ(service.keys_with_expiry(), 50u);
  ASSERT_TRUE(loop_->RunFor(absl::Milliseconds(500)).ok());  // virtual time
  EXPECT_EQ(service.keys_with_expiry(), 0u);
  EXPECT_EQ(service.expired_actively(), 50u);
  DrainAndCheck();
}

TEST_P(ServerSimTest, ADrainingRespServerAnswersTheRequestInFlight) {
  MakeLoop(Invisible());
  resp::RespService service(resp::RespServiceOptions{});
  Serve(service);
  std::string reply;
  bool idle_closed = false;
  ASSERT_TRUE(RunClients(ringloop::WithScope([&](Scope& scope) -> Task<void> {
    // An idle client: the drain closes it.
    scope.Spawn([](bool* closed) -> Task<void> {
      absl::StatusOr<TcpStream> s = co_await ConnectClient();
      if (!s.ok()) co_return;
      char c;
      const Result r = co_await s->Read(&c, 1);
      *closed = r.ok() && r.value() == 0;
    }(&idle_closed));
    absl::StatusOr<TcpStream> s = co_await ConnectClient();
    if (!s.ok()) co_return;
    const std::string request = Command({"ECHO", "in flight"});
    (void)co_await s->WriteAll(request.data(), 10);  // half of it
    co_await ringloop::Sleep(absl::Milliseconds(5));
    control_.Drain();
    co_await ringloop::Sleep(absl::Milliseconds(5));
    (void)co_await s->WriteAll(request.data() + 10, request.size() - 10);
    char buf[64];
    for (;;) {
      const Result r = co_await s->Read(buf, sizeof(buf));
      if (!r.ok() || r.value() == 0) break;
      reply.append(buf, size_t(r.value()));
    }
  })));
  EXPECT_EQ(reply, "$9\r\nin flight\r\n");
  EXPECT_TRUE(idle_closed);
  DrainAndCheck();
}

TEST_P(ServerSimTest, HttpPipelinesAndTimesOutIdleClientsUnderFaults) {
  MakeLoop(Invisible());
  http::HttpServiceOptions options;
  options.limits.max_output_bytes = 4096;
  options.idle = absl::Seconds(5);
  options.request = absl::Seconds(2);
  http::HttpService service(options);
  Serve(service);
  std::string pipelined, idle, trickled;
  const std::string request = "GET / HTTP/1.1\r\nHost: sim\r\n\r\n";
  std::string requests;
  for (int i = 0; i < 200; ++i) requests += request;
  requests += "GET /healthz HTTP/1.1\r\nHost: sim\r\nConnection: close\r\n\r\n";
  const uint64_t start_ns = loop_->NowNs();
  uint64_t idle_ns = 0;
  ASSERT_TRUE(RunClients(ringloop::WithScope([&](Scope& scope) -> Task<void> {
    scope.Spawn([](std::string* out, std::string req) -> Task<void> {
      *out = co_await Exchange(std::move(req), 777, 1 << 20);  // until the server closes
    }(&pipelined, requests));
    scope.Spawn([](std::string* out, ringloop::Loop* loop, uint64_t* at) -> Task<void> {
      *out = co_await Exchange("", 1, 1);  // sends nothing: closed after the idle timeout
      *at = loop->NowNs();
    }(&idle, loop_.get(), &idle_ns));
    scope.Spawn([](std::string* out) -> Task<void> {
      *out = co_await Exchange("GET / HTTP/1.1\r\nHost", 1, 1);  // never finished
    }(&trickled));
    co_return;
  })));
  size_t responses = 0;
  for (size_t at = pipelined.find("HTTP/1.1 200 OK"); at != std::string::npos;
       at = pipelined.find("HTTP/1.1 200 OK", at + 1)) {
    ++responses;
  }
  EXPECT_EQ(responses, 201u);
  EXPECT_TRUE(pipelined.ends_with("Connection: close\r\n\r\nok\n"));
  EXPECT_EQ(idle, "");
  EXPECT_EQ(trickled, "");
  EXPECT_GE(idle_ns - start_ns, 5'000'000'000u);
  EXPECT_LT(idle_ns - start_ns, 7'000'000'000u);
  DrainAndCheck();
}

TEST_P(ServerSimTest, ResetsAndBrokenPipesEndOnlyTheirConnections) {
  MakeLoop(Breaking());
  resp::RespServiceOptions options;
  options.limits.max_output_bytes = 8 * 1024;
  resp::RespService service(options);
  Serve(service);
  std::vector<std::string> got(8), want;
  ASSERT_TRUE(RunClients(ringloop::WithScope([&](Scope& scope) -> Task<void> {
    SpawnRespClients(scope, 30, 500, got, want);
    co_return;
  })));
  // A connection a fault ended got a part of its replies; the others all of them.
  for (int id = 0; id < 8; ++id) {
    EXPECT_TRUE(want[id].starts_with(got[id]))
        << "client " << id << ": " << Differ(got[id], want[id]);
  }
  DrainAndCheck();
}

// The RESP server and its clients as two programs on one simulated machine, through
// the simulation harness (ringloop/testing/sim_test.h): each seed draws its own
// subset of the kernel's faults and partitions between the programs. During the
// fault phase every client must read a prefix of its replies (a reset may end it
// early, nothing may come wrong or out of order); once faults stop, a new client
// must get every reply, and the drained server must leave no fd open (the harness's
// leak check) and no op stuck (its liveness check).
TEST(ServerSeedsTest, RespServesCorrectlyThroughSwarmFaultsAndPartitions) {
  ringloop::testing::SimTestOptions options;
  options.faults[ringloop::sim::Fault::kPartition] = 100;
  ringloop::testing::ForEachSeed(
      [](ringloop::testing::SimRun& run) -> Task<void> {
        resp::RespServiceOptions service_options;
        service_options.limits.max_output_bytes = 8 * 1024;  // backpressure on every client
        resp::RespService service(service_options);
        LoopControl control;
        control.unix_ms_now = kUnixMs;
        co_await ringloop::WithScope([&](Scope& scope) -> Task<void> {
          scope.Spawn(run.RunProgram("server", [&](ringloop::Loop&, int) -> Task<void> {
            // Binding may meet a drawn ENOBUFS: a supervisor would start it again.
            absl::StatusOr<ringloop::TcpListener> listener = absl::UnavailableError("unbound");
            for (int attempt = 0; attempt < 100 && !listener.ok(); ++attempt) {
              listener = co_await ringloop::TcpListener::Bind(SocketAddress::Loopback(kPort));
              if (!listener.ok()) co_await ringloop::Sleep(absl::Milliseconds(10));
            }
            if (!listener.ok()) {
              ADD_FAILURE() << "bind: " << listener.status();
              co_return;
            }
            co_await ServeListener(std::move(*listener), service, control);
          }));
          std::vector<std::string> got(3), want;
          co_await run.RunProgram("clients", [&](ringloop::Loop&, int) -> Task<void> {
            co_await ringloop::WithScope([&](Scope& clients) -> Task<void> {
              SpawnRespClients(clients, 20, 500, got, want);
              co_return;
            });
          });
          for (size_t id = 0; id < got.size(); ++id) {
            // A connect a fault failed reads nothing ("connect failed" is no prefix).
            if (got[id].starts_with("connect failed")) continue;
            EXPECT_TRUE(want[id].starts_with(got[id]))
                << "client " << id << ": " << Differ(got[id], want[id]);
          }
          while (run.faulting()) co_await ringloop::Sleep(absl::Milliseconds(100));
          std::vector<std::string> late(1), late_want;
          co_await run.RunProgram("late client", [&](ringloop::Loop&, int) -> Task<void> {
            co_await ringloop::WithScope([&](Scope& clients) -> Task<void> {
              SpawnRespClients(clients, 20, 500, late, late_want, /*first_id=*/3);
              co_return;
            });
          });
          EXPECT_TRUE(late[0] == late_want[0])
              << "after the faults: " << Differ(late[0], late_want[0]);
          control.Drain();  // the scope waits for the server to finish
        });
      },
      options);
}

INSTANTIATE_TEST_SUITE_P(Seeds, ServerSimTest, ::testing::Range<uint64_t>(1, 65),
                         [](const ::testing::TestParamInfo<uint64_t>& info) {
                           return absl::StrCat("seed", info.param);
                         });

}  // namespace
}  // namespace examples::server
