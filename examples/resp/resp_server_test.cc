// examples/resp/resp_server_test.cc: resp_server as a process, driven by real Redis
// clients (redis-cli) and raw sockets, on each driver: every command, expiry on time,
// pipelining, inline commands, malformed input, a client that never reads, several
// threads, and SIGTERM with replies in flight.
//
// Tests that need redis-cli skip when it is not installed (tools/setup.sh installs it).
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "examples/server/testing/process.h"
#include "gtest/gtest.h"

namespace examples::resp {
namespace {

using examples::testing::Connect;
using examples::testing::FindProgram;
using examples::testing::ReadExactly;
using examples::testing::ReadToEnd;
using examples::testing::ReadUntil;
using examples::testing::RunProgram;
using examples::testing::RunResult;
using examples::testing::SendAll;
using examples::testing::ServerProcess;
using examples::testing::WaitForEof;

std::string g_server;  // the resp_server binary (the test's first argument)

// Command: `args` as a RESP multibulk request.
std::string Command(const std::vector<std::string>& args) {
  std::string out = absl::StrCat("*", args.size(), "\r\n");
  for (const std::string& a : args) absl::StrAppend(&out, "$", a.size(), "\r\n", a, "\r\n");
  return out;
}

// Bulk: `s` as a RESP bulk string reply.
std::string Bulk(const std::string& s) { return absl::StrCat("$", s.size(), "\r\n", s, "\r\n"); }

class RespServerTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { StartServer({}); }

  // StartServer: resp_server on this test's driver with `flags` added.
  void StartServer(std::vector<std::string> flags) {
    if (GetParam() == "uring" && !examples::testing::UringUsable()) {
      GTEST_SKIP() << "io_uring is not usable here";
    }
    flags.push_back("--port=0");
    flags.push_back("--driver=" + GetParam());
    server_ = std::make_unique<ServerProcess>();
    ASSERT_TRUE(server_->Start(g_server, flags)) << server_->log();
    port_ = server_->WaitForPort();
    ASSERT_NE(port_, 0) << "no port in its stderr:\n" << server_->log();
    EXPECT_TRUE(absl::StrContains(server_->log(), "driver=" + GetParam())) << server_->log();
  }

  // Cli: runs redis-cli (formatted replies) with `script` on stdin; skips without it.
  std::string Cli(const std::string& script) {
    const std::string cli = FindProgram("redis-cli");
    if (cli.empty()) return "";
    RunResult r = RunProgram({cli, "--no-raw", "-p", std::to_string(port_)}, script);
    EXPECT_EQ(r.status, 0) << r.err;
    return r.out;
  }
  bool HaveCli() const { return !FindProgram("redis-cli").empty(); }

  // Exchange: sends `request` on `fd` and reads exactly `reply_bytes` back.
  static std::string Exchange(int fd, const std::string& request, size_t reply_bytes) {
    if (!SendAll(fd, request)) return "send failed";
    return ReadExactly(fd, reply_bytes);
  }

  // StopAndExpectZero: SIGTERM, then the exit status must be 0.
  void StopAndExpectZero() {
    server_->Signal(SIGTERM);
    EXPECT_EQ(server_->WaitForExit(), 0) << server_->log();
  }

  std::unique_ptr<ServerProcess> server_;
  int port_ = 0;
};

// What redis-server 7.0.15 answers to each command below through redis-cli --no-raw
// (which prints nothing for QUIT), except where examples/resp/README.md lists a
// deliberate difference (SELECT 1, "databases", CLIENT SETINFO, HELLO 3, COMMAND).
// Time-dependent replies are checked in the next test.
constexpr char kScript[] = R"(PING
PING hello
ECHO "two words"
SET k1 v1
GET k1
GET missing
SET k1 v2 XX GET
SET k1 v3 NX
SET k2 v NX
SET k3 10 EX 100
SET k3 11 KEEPTTL
SET k6 x PXAT 4102444800000
EXISTS k1 k2 missing k1
DEL k2 missing
INCR counter
INCRBY counter 41
DECR counter
DECRBY counter 2
INCR k1
MSET a 1 b 2 c 3
MGET a b nope c
EXPIRE a 100
EXPIRE a 50 GT
EXPIRE a 50 LT
EXPIRE a 200 NX
EXPIRE b 200 XX
EXPIRE b 200 NX
TTL nope
PTTL nope
TTL c
DBSIZE
SELECT 0
SELECT 1
CONFIG GET save
CONFIG GET appendonly
CONFIG GET databases
CLIENT SETNAME tester
CLIENT GETNAME
CLIENT SETINFO LIB-NAME mylib
AUTH default anything
AUTH someone pw
HELLO 3
HELLO 2 SETNAME again
CLIENT GETNAME
COMMAND COUNT
COMMAND
COMMAND DOCS
NOSUCH a b
GET
SET k v EX 0
SET k v EX 10 PX 10
FLUSHALL
DBSIZE
SET z 1
FLUSHALL ASYNC
FLUSHALL SYNC
DBSIZE
QUIT
)";

constexpr char kTranscript[] = R"(PONG
"hello"
"two words"
OK
"v1"
(nil)
"v1"
(nil)
OK
OK
OK
OK
(integer) 3
(integer) 1
(integer) 1
(integer) 42
(integer) 41
(integer) 39
(error) ERR value is not an integer or out of range
OK
1) "1"
2) "2"
3) (nil)
4) "3"
(integer) 1
(integer) 0
(integer) 1
(integer) 0
(integer) 0
(integer) 1
(integer) -2
(integer) -2
(integer) -1
(integer) 7
OK
(error) ERR DB index is out of range
1) "save"
2) ""
1) "appendonly"
2) "no"
1) "databases"
2) "1"
OK
"tester"
OK
OK
(error) WRONGPASS invalid username-password pair or user is disabled.
(error) NOPROTO unsupported protocol version
 1) "server"
 2) "redis"
 3) "version"
 4) "7.0.15"
 5) "proto"
 6) (integer) 2
 7) "id"
 8) (integer) 1
 9) "mode"
10) "standalone"
11) "role"
12) "master"
13) "modules"
14) (empty array)
"again"
(integer) 24
(empty array)
(empty array)
(error) ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b' 
(error) ERR wrong number of arguments for 'get' command
(error) ERR invalid expire time in 'set' command
(error) ERR syntax error
OK
(integer) 0
OK
OK
OK
(integer) 0
)";

TEST_P(RespServerTest, RedisCliGetsRedisRepliesToEveryCommand) {
  if (!HaveCli()) GTEST_SKIP() << "redis-cli is not installed (tools/setup.sh installs it)";
  // HELLO's "id" is the connection's number: this is the server's first.
  EXPECT_EQ(Cli(kScript), kTranscript);
  StopAndExpectZero();
}

TEST_P(RespServerTest, TtlsCountDownAndAKeyExpiresOnTimeNeverEarly) {
  if (!HaveCli()) GTEST_SKIP() << "redis-cli is not installed (tools/setup.sh installs it)";
  EXPECT_EQ(Cli("SET long x EX 1000\nSET exat x EXAT 4102444800\n"), "OK\nOK\n");
  const std::string ttls = Cli("TTL long\nPTTL long\n");
  int64_t ttl = 0, pttl = 0;
  ASSERT_EQ(std::sscanf(ttls.c_str(), "(integer) %ld\n(integer) %ld", &ttl, &pttl), 2) << ttls;
  EXPECT_GE(ttl, 990);
  EXPECT_LE(ttl, 1000);
  EXPECT_GT(pttl, 990'000);
  EXPECT_LE(pttl, 1'000'000);
  const std::string exat = Cli("TTL exat\n");
  EXPECT_TRUE(absl::StartsWith(exat, "(integer) ")) << exat;
  EXPECT_GT(std::atoll(exat.c_str() + 10), (4102444800 - absl::ToUnixSeconds(absl::Now())) - 60);

  // A short real expiry, waited for with a bounded poll: the key is there until its
  // deadline, gone after it.
  const int fd = Connect(port_);
  ASSERT_GE(fd, 0);
  const absl::Time set_at = absl::Now();
  ASSERT_EQ(Exchange(fd, Command({"SET", "soon", "v", "PX", "300"}), 5), "+OK\r\n");
  const std::string exists = Command({"EXISTS", "soon"});
  absl::Time gone_at = absl::InfinitePast();
  for (int i = 0; i < 2000; ++i) {  // 2000 x 5 ms bounds the wait at 10 s
    if (Exchange(fd, exists, 4) == ":0\r\n") {
      gone_at = absl::Now();
      break;
    }
    ::poll(nullptr, 0, 5);
  }
  ASSERT_NE(gone_at, absl::InfinitePast()) << "the key did not expire within 10 s";
  EXPECT_GE(gone_at - set_at, absl::Milliseconds(300));
  EXPECT_EQ(Exchange(fd, Command({"GET", "soon"}), 5), "$-1\r\n");
  ::close(fd);
  StopAndExpectZero();
}

TEST_P(RespServerTest, RedisCliPipeModeGetsEveryReply) {
  if (!HaveCli()) GTEST_SKIP() << "redis-cli is not installed (tools/setup.sh installs it)";
  constexpr int kKeys = 20'000;
  std::string input;
  for (int i = 0; i < kKeys; ++i) {
    input += Command({"SET", absl::StrCat("key:", i), absl::StrCat("value:", i)});
  }
  RunResult r =
      RunProgram({FindProgram("redis-cli"), "-p", std::to_string(port_), "--pipe"}, input);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, absl::StrCat("errors: 0, replies: ", kKeys))) << r.out;
  EXPECT_EQ(Cli("DBSIZE\nGET key:12345\n"),
            absl::StrCat("(integer) ", kKeys, "\n\"value:12345\"\n"));
  StopAndExpectZero();
}

TEST_P(RespServerTest, PipelinedAndInlineRequestsInOneWriteGetEveryReplyInOrder) {
  std::string requests, replies;
  for (int i = 0; i < 2000; ++i) {
    const std::string key = absl::StrCat("k", i), value = absl::StrCat("v", i);
    requests += Command({"SET", key, value});
    replies += "+OK\r\n";
    requests += absl::StrCat("GET ", key, "\r\n");  // inline
    replies += Bulk(value);
    requests += Command({"INCR", "n"});
    replies += absl::StrCat(":", i + 1, "\r\n");
  }
  requests += "ECHO \"quoted \\x41\" 'and'\r\n";  // an inline request with quotes: 3 args
  replies += "-ERR wrong number of arguments for 'echo' command\r\n";
  requests += "ECHO \"quoted \\x41\"\n";  // bare LF ends an inline request too
  replies += Bulk("quoted A");
  const int fd = Connect(port_);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(Exchange(fd, requests, replies.size()), replies);
  ::close(fd);
  StopAndExpectZero();
}

TEST_P(RespServerTest, MalformedInputGetsErrAndClosesThatClientOnly) {
  const int good = Connect(port_);
  ASSERT_GE(good, 0);
  ASSERT_EQ(Exchange(good, Command({"SET", "g", "1"}), 5), "+OK\r\n");
  struct Bad {
    std::string input, reply;
  };
  const std::vector<Bad> bad = {
      {"*1\r\n$x\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
      {"*x\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
      {"*1\r\n+PING\r\n", "-ERR Protocol error: expected '$', got '+'\r\n"},
      {"ECHO \"unbalanced\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n"},
      {"PING\r\n*2\r\n$-1\r\n", "+PONG\r\n-ERR Protocol error: invalid bulk length\r\n"},
      {std::string(70'000, 'a'), "-ERR Protocol error: too big inline request\r\n"},
      {"QUIT\r\nPING\r\n", "+OK\r\n"},
  };
  for (const Bad& b : bad) {
    const int fd = Connect(port_);
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(SendAll(fd, b.input));
    bool closed = false;
    EXPECT_EQ(ReadToEnd(fd, &closed), b.reply) << b.input.substr(0, 40);
    EXPECT_TRUE(closed) << "still open after " << b.input.substr(0, 40);
    ::close(fd);
    // The other client is still served, with its state.
    EXPECT_EQ(Exchange(good, Command({"INCR", "g"}), 4), ":2\r\n")
        << "after " << b.input.substr(0, 40);
    ASSERT_EQ(Exchange(good, Command({"SET", "g", "1"}), 5), "+OK\r\n");
  }
  ::close(good);
  StopAndExpectZero();
}

TEST_P(RespServerTest, AClientThatNeverReadsStopsBeingReadAndHoldsBoundedMemory) {
  server_.reset();
  StartServer({"--max_output=1048576"});
  if (port_ == 0) return;
  const int slow = Connect(port_);
  ASSERT_GE(slow, 0);
  const std::string value(64 * 1024, 'v');
  ASSERT_EQ(Exchange(slow, Command({"SET", "big", value}), 5), "+OK\r\n");
  const int64_t rss_before_kb = server_->RssKb();
  ASSERT_GT(rss_before_kb, 0);

  // Pipeline GETs of the 64 KiB value without ever reading a reply, until the server
  // stops taking them (no progress for 1 s) or 256 MiB have gone in. The replies would
  // be 7,000 times the requests' size: a server that kept reading and running them
  // would hold gigabytes.
  std::string batch;
  for (int i = 0; i < 1024; ++i) batch += "GET big\r\n";
  constexpr size_t kMaxSent = size_t{256} << 20;
  size_t sent = 0;
  bool stalled = false;
  while (sent < kMaxSent) {
    const ssize_t n = ::send(slow, batch.data(), batch.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      sent += size_t(n);
      continue;
    }
    ASSERT_TRUE(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) << std::strerror(errno);
    pollfd p{slow, POLLOUT, 0};
    if (::poll(&p, 1, 1000) == 0) {
      stalled = true;
      break;
    }
  }
  EXPECT_TRUE(stalled) << "the server kept reading: " << sent << " bytes of requests taken";
  // What the server holds: at most --max_output plus one reply, its 16 KiB read, and
  // what the kernel buffers.
  const int64_t rss_after_kb = server_->RssKb();
  EXPECT_LT(rss_after_kb - rss_before_kb, 32 * 1024)
      << "RSS " << rss_before_kb << " KiB -> " << rss_after_kb << " KiB";

  // Meanwhile another client is served at once.
  const int other = Connect(port_);
  ASSERT_GE(other, 0);
  EXPECT_EQ(Exchange(other, Command({"PING"}), 7), "+PONG\r\n");
  ::close(other);
  ::close(slow);
  StopAndExpectZero();
}

TEST_P(RespServerTest, SigtermAnswersTheRequestsInFlightThenClosesAndExitsZero) {
  const int fd = Connect(port_);
  ASSERT_GE(fd, 0);
  const std::string value(1 << 20, 'x');
  ASSERT_EQ(Exchange(fd, Command({"SET", "big", value}), 5), "+OK\r\n");
  const int idle = Connect(port_);
  ASSERT_GE(idle, 0);
  ASSERT_EQ(Exchange(idle, Command({"PING"}), 7), "+PONG\r\n");

  // 16 MiB of replies: more than the socket buffers and the 4 MiB output limit hold,
  // so the server is still writing them (and holding requests back) at the signal.
  std::string gets;
  for (int i = 0; i < 16; ++i) gets += Command({"GET", "big"});
  ASSERT_TRUE(SendAll(fd, gets));
  ASSERT_EQ(ReadExactly(fd, 1), "$");  // the server is answering
  server_->Signal(SIGTERM);
  ASSERT_TRUE(server_->WaitForLog("SIGTERM: draining")) << server_->log();

  // The idle connection is closed at once; the busy one gets every reply, then the end.
  EXPECT_TRUE(WaitForEof(idle));
  bool closed = false;
  const std::string rest = ReadToEnd(fd, &closed);
  std::string expected;
  for (int i = 0; i < 16; ++i) expected += Bulk(value);
  EXPECT_EQ(rest.size(), expected.size() - 1);
  EXPECT_TRUE(rest == expected.substr(1)) << "the replies differ";
  EXPECT_TRUE(closed);
  ::close(fd);  // the server lingers until the client closes too
  ::close(idle);
  EXPECT_EQ(server_->WaitForExit(), 0) << server_->log();
  EXPECT_LT(Connect(port_), 0) << "still accepting after it exited";
}

TEST_P(RespServerTest, SeveralThreadsShareOneKeyspace) {
  server_.reset();
  StartServer({"--threads=2"});
  if (port_ == 0) return;
  EXPECT_TRUE(absl::StrContains(server_->log(), "2 threads")) << server_->log();
  constexpr int kClients = 16;
  std::vector<int> fds;
  for (int i = 0; i < kClients; ++i) {
    fds.push_back(Connect(port_));
    ASSERT_GE(fds.back(), 0);
    ASSERT_EQ(Exchange(fds.back(), Command({"SET", absl::StrCat("c", i), absl::StrCat(i)}), 5),
              "+OK\r\n");
  }
  for (int i = 0; i < kClients; ++i) {
    const std::string other = absl::StrCat((i + 1) % kClients);
    EXPECT_EQ(Exchange(fds[i], Command({"GET", "c" + other}), Bulk(other).size()), Bulk(other));
    EXPECT_EQ(Exchange(fds[i], Command({"INCR", "shared"}), 4 + (i >= 9)),
              absl::StrCat(":", i + 1, "\r\n"));
  }
  for (int fd : fds) ::close(fd);
  StopAndExpectZero();
}

INSTANTIATE_TEST_SUITE_P(Drivers, RespServerTest, ::testing::Values("uring", "epoll"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
}  // namespace examples::resp

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc < 2) {
    std::fprintf(stderr, "usage: resp_server_test PATH_TO_RESP_SERVER\n");
    return 2;
  }
  examples::resp::g_server = argv[1];
  return RUN_ALL_TESTS();
}
