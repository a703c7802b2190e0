// examples/resp/commands_test.cc: every command and every error it can reply, with the
// bytes redis-server 7.0.15 replies to the same requests (except where README.md lists
// a deliberate difference, marked "Differs from Redis" below).
#include "examples/resp/commands.h"

#include <initializer_list>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace examples::resp {
namespace {

using namespace std::string_literals;

constexpr int64_t kNow = 1'700'000'000'000;  // Unix ms

class CommandsTest : public ::testing::Test {
 protected:
  // Run: the reply to one request at now_ms.
  std::string Run(std::initializer_list<std::string_view> args) {
    std::vector<std::string_view> v(args);
    std::string out;
    Execute(v, now_ms, &store, &session, config, &out);
    return out;
  }

  CommandsTest() {
    session.client_id = 7;
    config.proto_max_bulk_len = 8 * 1024 * 1024;
  }

  Store store;
  Session session;
  ServerConfig config;
  int64_t now_ms = kNow;
};

TEST_F(CommandsTest, PingAndEcho) {
  EXPECT_EQ(Run({"PING"}), "+PONG\r\n");
  EXPECT_EQ(Run({"ping", "hi"}), "$2\r\nhi\r\n");
  EXPECT_EQ(Run({"ping", "a\r\nb"}), "$4\r\na\r\nb\r\n");
  EXPECT_EQ(Run({"PING", "a", "b"}), "-ERR wrong number of arguments for 'ping' command\r\n");
  EXPECT_EQ(Run({"echo", "x"}), "$1\r\nx\r\n");
  EXPECT_EQ(Run({"ECHO"}), "-ERR wrong number of arguments for 'echo' command\r\n");
}

TEST_F(CommandsTest, UnknownCommandQuotesNameAndFirstArgumentsLikeRedis) {
  EXPECT_EQ(Run({"foo"}), "-ERR unknown command 'foo', with args beginning with: \r\n");
  EXPECT_EQ(Run({"foo", "a", "b"}),
            "-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n");
  EXPECT_EQ(Run({""}), "-ERR unknown command '', with args beginning with: \r\n");
  EXPECT_EQ(Run({"foo", "a\r\nb"}),
            "-ERR unknown command 'foo', with args beginning with: 'a  b' \r\n");
  // At most 128 bytes of arguments (and of the name) are quoted.
  const std::string a200(200, 'a');
  EXPECT_EQ(Run({"FOO", a200, "b"}), "-ERR unknown command 'FOO', with args beginning with: '" +
                                         std::string(128, 'a') + "' \r\n");
  const std::string n200(200, 'n');
  EXPECT_EQ(Run({n200}),
            "-ERR unknown command '" + std::string(128, 'n') + "', with args beginning with: \r\n");
  const std::string a100(100, 'a');
  EXPECT_EQ(Run({"x", a100, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "c"}),
            "-ERR unknown command 'x', with args beginning with: '" + a100 + "' '" +
                std::string(25, 'b') + "' \r\n");
}

TEST_F(CommandsTest, WrongArityNamesTheCommandInLowerCase) {
  const std::pair<std::vector<std::string_view>, std::string> cases[] = {
      {{"GET"}, "get"},
      {{"get", "a", "b"}, "get"},
      {{"SET"}, "set"},
      {{"set", "a"}, "set"},
      {{"DEL"}, "del"},
      {{"exists"}, "exists"},
      {{"incr", "x", "y"}, "incr"},
      {{"decr"}, "decr"},
      {{"incrby", "x"}, "incrby"},
      {{"decrby", "x", "1", "2"}, "decrby"},
      {{"mget"}, "mget"},
      {{"mset", "a"}, "mset"},
      {{"mset", "a", "1", "b"}, "mset"},
      {{"expire", "e"}, "expire"},
      {{"ttl"}, "ttl"},
      {{"pttl", "a", "b"}, "pttl"},
      {{"dbsize", "x"}, "dbsize"},
      {{"select"}, "select"},
      {{"config"}, "config"},
      {{"config", "get"}, "config|get"},
      {{"client"}, "client"},
      {{"client", "setname"}, "client|setname"},
      {{"client", "setname", "x", "y"}, "client|setname"},
      {{"client", "getname", "x"}, "client|getname"},
      {{"client", "id", "x"}, "client|id"},
      {{"client", "setinfo", "lib-name"}, "client|setinfo"},
      {{"command", "count", "x"}, "command|count"},
  };
  for (const auto& [args, name] : cases) {
    std::string out;
    Execute(args, now_ms, &store, &session, config, &out);
    EXPECT_EQ(out, "-ERR wrong number of arguments for '" + name + "' command\r\n") << name;
  }
}

TEST_F(CommandsTest, CommandNamesIgnoreCase) {
  EXPECT_EQ(Run({"sEt", "k", "v"}), "+OK\r\n");
  EXPECT_EQ(Run({"GeT", "k"}), "$1\r\nv\r\n");
  EXPECT_EQ(Run({"CONFIG", "GET", "SAVE"}), "*2\r\n$4\r\nSAVE\r\n$0\r\n\r\n");
}

TEST_F(CommandsTest, GetAndSetAreBinarySafe) {
  EXPECT_EQ(Run({"get", "k"}), "$-1\r\n");
  EXPECT_EQ(Run({"set", "a\0b"s, "\r\n\0"s}), "+OK\r\n");
  EXPECT_EQ(Run({"get", "a\0b"s}), "$3\r\n\r\n\0\r\n"s);
  EXPECT_EQ(Run({"get", "a"}), "$-1\r\n");
  EXPECT_EQ(Run({"set", "", ""}), "+OK\r\n");
  EXPECT_EQ(Run({"get", ""}), "$0\r\n\r\n");
}

TEST_F(CommandsTest, SetNxXxAndGet) {
  EXPECT_EQ(Run({"set", "k", "v", "get"}), "$-1\r\n");  // set, and the old value (none)
  EXPECT_EQ(Run({"set", "k", "w", "nx"}), "$-1\r\n");   // exists: not set
  EXPECT_EQ(Run({"set", "k", "w", "xx", "get"}), "$1\r\nv\r\n");
  EXPECT_EQ(Run({"set", "z", "w", "xx"}), "$-1\r\n");
  EXPECT_EQ(Run({"set", "k", "x", "nx", "get"}), "$1\r\nw\r\n");  // not set, old value
  EXPECT_EQ(Run({"get", "k"}), "$1\r\nw\r\n");
  EXPECT_EQ(Run({"get", "z"}), "$-1\r\n");
  EXPECT_EQ(Run({"set", "n", "1", "NX", "NX"}), "+OK\r\n");  // repeating an option is fine
  EXPECT_EQ(Run({"set", "n", "2", "GET", "GET"}), "$1\r\n1\r\n");
}

TEST_F(CommandsTest, SetExpiryOptions) {
  EXPECT_EQ(Run({"set", "k", "v", "EX", "10"}), "+OK\r\n");
  EXPECT_EQ(Run({"pttl", "k"}), ":10000\r\n");
  EXPECT_EQ(Run({"set", "k", "v", "px", "1500"}), "+OK\r\n");
  EXPECT_EQ(Run({"pttl", "k"}), ":1500\r\n");
  EXPECT_EQ(Run({"set", "k", "v", "exat", std::to_string(kNow / 1000 + 20)}), "+OK\r\n");
  EXPECT_EQ(Run({"ttl", "k"}), ":20\r\n");
  EXPECT_EQ(Run({"set", "k", "v", "PXAT", std::to_string(kNow + 250)}), "+OK\r\n");
  EXPECT_EQ(Run({"pttl", "k"}), ":250\r\n");
  EXPECT_EQ(Run({"set", "k", "w", "keepttl"}), "+OK\r\n");
  EXPECT_EQ(Run({"pttl", "k"}), ":250\r\n");
  EXPECT_EQ(Run({"set", "k", "w"}), "+OK\r\n");  // a plain SET drops the TTL
  EXPECT_EQ(Run({"ttl", "k"}), ":-1\r\n");
  EXPECT_EQ(Run({"set", "k", "v", "ex", "1", "ex", "2"}), "+OK\r\n");  // the last one wins
  EXPECT_EQ(Run({"ttl", "k"}), ":2\r\n");
  EXPECT_EQ(Run({"set", "k", "v", "KEEPTTL", "KEEPTTL"}), "+OK\r\n");
  EXPECT_EQ(Run({"set", "past", "v", "EXAT", "1"}), "+OK\r\n");  // already expired
  EXPECT_EQ(Run({"get", "past"}), "$-1\r\n");
}

TEST_F(CommandsTest, SetErrors) {
  const std::string invalid = "-ERR invalid expire time in 'set' command\r\n";
  const std::string syntax = "-ERR syntax error\r\n";
  const std::string not_int = "-ERR value is not an integer or out of range\r\n";
  EXPECT_EQ(Run({"set", "k", "v", "EX", "0"}), invalid);
  EXPECT_EQ(Run({"set", "k", "v", "EX", "-1"}), invalid);
  EXPECT_EQ(Run({"set", "k", "v", "px", "-5"}), invalid);
  EXPECT_EQ(Run({"set", "k", "v", "PXAT", "0"}), invalid);
  EXPECT_EQ(Run({"set", "k", "v", "EX", "9223372036854776"}), invalid);  // * 1000 overflows
  EXPECT_EQ(Run({"set", "k", "v", "EX", "9223372036854775"}), invalid);  // + now overflows
  EXPECT_EQ(Run({"set", "k", "v", "PX", "9223372036854775807"}), invalid);
  EXPECT_EQ(Run({"set", "k", "v", "EXAT", "9223372036854776"}), invalid);
  EXPECT_EQ(Run({"set", "k", "v", "EXAT", "9223372036854775"}), "+OK\r\n");  // absolute: fits
  EXPECT_EQ(Run({"set", "k", "v", "EX", "abc"}), not_int);
  EXPECT_EQ(Run({"set", "k", "v", "PX", "1.5"}), not_int);
  EXPECT_EQ(Run({"set", "k", "v", "EX"}), syntax);
  EXPECT_EQ(Run({"set", "k", "v", "EX", "10", "PX", "100"}), syntax);
  EXPECT_EQ(Run({"set", "k", "v", "EX", "1", "PXAT", "5"}), syntax);
  EXPECT_EQ(Run({"set", "k", "v", "KEEPTTL", "EX", "1"}), syntax);
  EXPECT_EQ(Run({"set", "k", "v", "EX", "1", "KEEPTTL"}), syntax);
  EXPECT_EQ(Run({"set", "k", "v", "NX", "XX"}), syntax);
  EXPECT_EQ(Run({"set", "k", "v", "foo"}), syntax);
  EXPECT_EQ(Run({"set", "k", "a b", "px", "1", "ex"}), syntax);
  // A refused SET changes nothing.
  EXPECT_EQ(Run({"get", "k"}), "$1\r\nv\r\n");
  EXPECT_EQ(Run({"ttl", "k"}), ":" + std::to_string(9223372036854775 - kNow / 1000) + "\r\n");
}

TEST_F(CommandsTest, DelAndExistsCountKeys) {
  Run({"set", "a", "1"});
  Run({"set", "b", "2"});
  EXPECT_EQ(Run({"exists", "a", "a", "x"}), ":2\r\n");  // a key named twice counts twice
  EXPECT_EQ(Run({"del", "a", "a", "x", "b"}), ":2\r\n");
  EXPECT_EQ(Run({"exists", "a", "b"}), ":0\r\n");
}

TEST_F(CommandsTest, IncrDecrFamily) {
  EXPECT_EQ(Run({"incr", "n"}), ":1\r\n");
  EXPECT_EQ(Run({"incrby", "n", "41"}), ":42\r\n");
  EXPECT_EQ(Run({"decr", "n"}), ":41\r\n");
  EXPECT_EQ(Run({"decrby", "n", "50"}), ":-9\r\n");
  EXPECT_EQ(Run({"get", "n"}), "$2\r\n-9\r\n");
  EXPECT_EQ(Run({"decrby", "m", "-5"}), ":5\r\n");
}

TEST_F(CommandsTest, IncrRefusesNonIntegersAndOverflowWithRedisWords) {
  const std::string not_int = "-ERR value is not an integer or out of range\r\n";
  const std::string overflow = "-ERR increment or decrement would overflow\r\n";
  for (const char* bad : {"abc", " 1", "01", "-0", "+1", "1.0", "12345678901234567890"}) {
    Run({"set", "n", bad});
    EXPECT_EQ(Run({"incr", "n"}), not_int) << bad;
    EXPECT_EQ(Run({"get", "n"}),
              "$" + std::to_string(std::string_view(bad).size()) + "\r\n" + bad + "\r\n");
  }
  Run({"set", "n", "9223372036854775807"});
  EXPECT_EQ(Run({"incr", "n"}), overflow);
  EXPECT_EQ(Run({"incrby", "n", "-1"}), ":9223372036854775806\r\n");
  EXPECT_EQ(Run({"incrby", "n", "x"}), not_int);
  EXPECT_EQ(Run({"incrby", "q", "9223372036854775808"}), not_int);
  Run({"set", "n", "-9223372036854775808"});
  EXPECT_EQ(Run({"decr", "n"}), overflow);
  EXPECT_EQ(Run({"decrby", "q", "-9223372036854775808"}), "-ERR decrement would overflow\r\n");
  EXPECT_EQ(Run({"get", "q"}), "$-1\r\n");  // refused: no key created
  Run({"set", "n", "-1"});
  EXPECT_EQ(Run({"decrby", "n", "9223372036854775807"}), ":-9223372036854775808\r\n");
  EXPECT_EQ(Run({"decrby", "n", "9223372036854775807"}), overflow);
}

TEST_F(CommandsTest, IncrKeepsTheTtl) {
  Run({"set", "i", "1", "ex", "100"});
  EXPECT_EQ(Run({"incr", "i"}), ":2\r\n");
  EXPECT_EQ(Run({"ttl", "i"}), ":100\r\n");
}

TEST_F(CommandsTest, MgetAndMset) {
  Run({"set", "a", "1"});
  EXPECT_EQ(Run({"mget", "a", "x", "a"}), "*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n1\r\n");
  Run({"set", "t", "v", "ex", "100"});
  EXPECT_EQ(Run({"mset", "a", "3", "c", "4", "t", "5"}), "+OK\r\n");
  EXPECT_EQ(Run({"mget", "a", "c", "t"}), "*3\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n");
  EXPECT_EQ(Run({"ttl", "t"}), ":-1\r\n");  // MSET drops TTLs
  EXPECT_EQ(Run({"mset", "a", "1", "b"}), "-ERR wrong number of arguments for 'mset' command\r\n");
  EXPECT_EQ(Run({"get", "a"}), "$1\r\n3\r\n");
}

TEST_F(CommandsTest, TtlAndPttlReportMissingPersistentAndRemaining) {
  EXPECT_EQ(Run({"ttl", "nope"}), ":-2\r\n");
  EXPECT_EQ(Run({"pttl", "nope"}), ":-2\r\n");
  Run({"set", "k", "v"});
  EXPECT_EQ(Run({"ttl", "k"}), ":-1\r\n");
  EXPECT_EQ(Run({"pttl", "k"}), ":-1\r\n");
  // TTL rounds to the nearest second.
  Run({"set", "k", "v", "px", "1499"});
  EXPECT_EQ(Run({"ttl", "k"}), ":1\r\n");
  Run({"set", "k", "v", "px", "1500"});
  EXPECT_EQ(Run({"ttl", "k"}), ":2\r\n");
  now_ms += 1500;  // at the deadline itself the key is still there, with 0 left
  EXPECT_EQ(Run({"pttl", "k"}), ":0\r\n");
  EXPECT_EQ(Run({"ttl", "k"}), ":0\r\n");
  now_ms += 1;
  EXPECT_EQ(Run({"ttl", "k"}), ":-2\r\n");
  EXPECT_EQ(Run({"get", "k"}), "$-1\r\n");
}

TEST_F(CommandsTest, ExpireSetsDeletesAndRefuses) {
  EXPECT_EQ(Run({"expire", "nope", "10"}), ":0\r\n");
  Run({"set", "e", "v"});
  EXPECT_EQ(Run({"expire", "e", "100"}), ":1\r\n");
  EXPECT_EQ(Run({"ttl", "e"}), ":100\r\n");
  EXPECT_EQ(Run({"expire", "e", "0"}), ":1\r\n");  // a deadline now or past deletes
  EXPECT_EQ(Run({"exists", "e"}), ":0\r\n");
  Run({"set", "e", "v"});
  EXPECT_EQ(Run({"expire", "e", "-1"}), ":1\r\n");
  EXPECT_EQ(Run({"get", "e"}), "$-1\r\n");
  const std::string invalid = "-ERR invalid expire time in 'expire' command\r\n";
  EXPECT_EQ(Run({"expire", "e", "abc"}), "-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(Run({"expire", "nope", "9223372036854775807"}), invalid);
  EXPECT_EQ(Run({"expire", "e", "9223372036854775"}), invalid);
  EXPECT_EQ(Run({"expire", "e", "-9223372036854775808"}), invalid);
  // Options are checked before the number, the number before the key.
  EXPECT_EQ(Run({"expire", "nope", "abc", "FOO"}), "-ERR Unsupported option FOO\r\n");
  EXPECT_EQ(Run({"expire", "p", "10", "a\r\nb"}), "-ERR Unsupported option a  b\r\n");
}

TEST_F(CommandsTest, ExpireConditions) {
  Run({"set", "p", "v"});
  EXPECT_EQ(Run({"expire", "p", "10", "GT"}), ":0\r\n");  // no TTL is "never": nothing is greater
  EXPECT_EQ(Run({"expire", "p", "10", "XX"}), ":0\r\n");
  EXPECT_EQ(Run({"expire", "p", "10", "LT"}), ":1\r\n");  // ... and anything is less
  EXPECT_EQ(Run({"expire", "p", "5", "GT"}), ":0\r\n");
  EXPECT_EQ(Run({"expire", "p", "20", "gt"}), ":1\r\n");
  EXPECT_EQ(Run({"expire", "p", "30", "LT"}), ":0\r\n");
  EXPECT_EQ(Run({"expire", "p", "7", "lt", "lt"}), ":1\r\n");
  EXPECT_EQ(Run({"expire", "p", "9", "NX"}), ":0\r\n");
  EXPECT_EQ(Run({"expire", "p", "8", "xx"}), ":1\r\n");
  EXPECT_EQ(Run({"ttl", "p"}), ":8\r\n");
  Run({"set", "q", "v"});
  EXPECT_EQ(Run({"expire", "q", "9", "nx"}), ":1\r\n");
  const std::string nx = "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n";
  EXPECT_EQ(Run({"expire", "p", "10", "NX", "XX"}), nx);
  EXPECT_EQ(Run({"expire", "p", "10", "NX", "GT"}), nx);
  EXPECT_EQ(Run({"expire", "p", "10", "LT", "NX"}), nx);
  EXPECT_EQ(Run({"expire", "p", "10", "GT", "LT"}),
            "-ERR GT and LT options at the same time are not compatible\r\n");
}

TEST_F(CommandsTest, DbsizeCountsLiveKeysAndFlushallEmpties) {
  Run({"set", "a", "1"});
  Run({"set", "b", "2", "px", "10"});
  EXPECT_EQ(Run({"dbsize"}), ":2\r\n");
  now_ms += 11;
  EXPECT_EQ(Run({"dbsize"}), ":1\r\n");  // Differs from Redis: it counts unswept expired keys
  EXPECT_EQ(Run({"flushall"}), "+OK\r\n");
  EXPECT_EQ(Run({"dbsize"}), ":0\r\n");
  EXPECT_EQ(Run({"flushall", "async"}), "+OK\r\n");
  EXPECT_EQ(Run({"flushall", "SYNC"}), "+OK\r\n");
  EXPECT_EQ(Run({"flushall", "x"}), "-ERR syntax error\r\n");
  EXPECT_EQ(Run({"flushall", "async", "sync"}), "-ERR syntax error\r\n");
}

TEST_F(CommandsTest, SelectOnlyDatabaseZero) {
  EXPECT_EQ(Run({"select", "0"}), "+OK\r\n");
  EXPECT_EQ(Run({"select", "1"}), "-ERR DB index is out of range\r\n");  // Differs: one database
  EXPECT_EQ(Run({"select", "-1"}), "-ERR DB index is out of range\r\n");
  EXPECT_EQ(Run({"select", "x"}), "-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(Run({"select", "2147483648"}),
            "-ERR value is out of range, value must between -2147483648 and 2147483647\r\n");
}

TEST_F(CommandsTest, QuitRepliesOkAndMarksTheSession) {
  EXPECT_EQ(Run({"quit", "x"}), "+OK\r\n");
  EXPECT_TRUE(session.quit);
}

TEST_F(CommandsTest, CommandAndItsSubcommands) {
  EXPECT_EQ(Run({"command"}), "*0\r\n");  // Differs from Redis: no command table
  EXPECT_EQ(Run({"COMMAND", "DOCS"}), "*0\r\n");
  EXPECT_EQ(Run({"command", "docs", "get"}), "*0\r\n");
  EXPECT_EQ(Run({"command", "count"}), ":" + std::to_string(CommandCount()) + "\r\n");
  EXPECT_EQ(Run({"command", "foo"}), "-ERR unknown subcommand 'foo'. Try COMMAND HELP.\r\n");
  EXPECT_EQ(Run({"Command", "info"}), "-ERR unknown subcommand 'info'. Try COMMAND HELP.\r\n");
}

TEST_F(CommandsTest, ConfigGetAnswersWhatRedisBenchmarkAsks) {
  EXPECT_EQ(Run({"config", "get", "save"}), "*2\r\n$4\r\nsave\r\n$0\r\n\r\n");
  EXPECT_EQ(Run({"config", "get", "appendonly"}), "*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n");
  EXPECT_EQ(Run({"config", "get", "save", "appendonly"}),
            "*4\r\n$10\r\nappendonly\r\n$2\r\nno\r\n$4\r\nsave\r\n$0\r\n\r\n");
  EXPECT_EQ(Run({"config", "get", "nosuch"}), "*0\r\n");
  EXPECT_EQ(Run({"config", "get", "proto-max-bulk-len"}),
            "*2\r\n$18\r\nproto-max-bulk-len\r\n$7\r\n8388608\r\n");
  EXPECT_EQ(Run({"config", "get", "APPENDONL?", "[a]ppendonly", "appendonly"}),
            "*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n");  // each parameter once
  EXPECT_EQ(Run({"config", "get", "*"}),
            "*8\r\n$10\r\nappendonly\r\n$2\r\nno\r\n$9\r\ndatabases\r\n$1\r\n1\r\n"
            "$18\r\nproto-max-bulk-len\r\n$7\r\n8388608\r\n$4\r\nsave\r\n$0\r\n\r\n");
  EXPECT_EQ(Run({"config", "foo"}), "-ERR unknown subcommand 'foo'. Try CONFIG HELP.\r\n");
  EXPECT_EQ(Run({"config", "set", "save", ""}),
            "-ERR unknown subcommand 'set'. Try CONFIG HELP.\r\n");  // Differs: read-only
}

TEST(GlobMatchTest, RedisGlobSyntax) {
  EXPECT_TRUE(GlobMatch("*", ""));
  EXPECT_TRUE(GlobMatch("a*c", "abbbc"));
  EXPECT_FALSE(GlobMatch("a*c", "abbb"));
  EXPECT_TRUE(GlobMatch("*-max-*", "proto-max-bulk-len"));
  EXPECT_TRUE(GlobMatch("s?ve", "SAVE"));
  EXPECT_TRUE(GlobMatch("[a-c]x", "bx"));
  EXPECT_TRUE(GlobMatch("[c-a]x", "bx"));  // reversed range
  EXPECT_FALSE(GlobMatch("[^a-c]x", "bx"));
  EXPECT_TRUE(GlobMatch("[^a-c]x", "dx"));
  EXPECT_TRUE(GlobMatch("a\\*", "a*"));
  EXPECT_FALSE(GlobMatch("a\\*", "ab"));
  EXPECT_TRUE(GlobMatch("[\\]]", "]"));
  EXPECT_FALSE(GlobMatch("ab", "abc"));
  EXPECT_TRUE(GlobMatch("*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaab"));
}

TEST_F(CommandsTest, HelloSpeaksOnlyResp2) {
  const std::string hello =
      "*14\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n"
      ":2\r\n$2\r\nid\r\n:7\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n"
      "$7\r\nmodules\r\n*0\r\n";
  EXPECT_EQ(Run({"hello"}), hello);
  EXPECT_EQ(Run({"HELLO", "2"}), hello);
  EXPECT_EQ(Run({"hello", "2", "AUTH", "default", "anything", "SETNAME", "me"}), hello);
  EXPECT_EQ(session.name, "me");
  const std::string noproto = "-NOPROTO unsupported protocol version\r\n";
  EXPECT_EQ(Run({"hello", "3"}), noproto);  // Differs from Redis: no RESP3
  EXPECT_EQ(Run({"hello", "1"}), noproto);
  EXPECT_EQ(Run({"hello", "4"}), noproto);
  EXPECT_EQ(Run({"hello", "2147483648"}), noproto);
  EXPECT_EQ(Run({"hello", "abc"}), "-ERR Protocol version is not an integer or out of range\r\n");
  EXPECT_EQ(Run({"hello", "2", "foo"}), "-ERR Syntax error in HELLO option 'foo'\r\n");
  EXPECT_EQ(Run({"hello", "2", "setname"}), "-ERR Syntax error in HELLO option 'setname'\r\n");
  EXPECT_EQ(Run({"hello", "2", "auth", "default"}), "-ERR Syntax error in HELLO option 'auth'\r\n");
  EXPECT_EQ(Run({"hello", "2", "auth", "bob", "x", "setname", "a b"}),
            "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
  EXPECT_EQ(Run({"hello", "2", "setname", "a b", "auth", "bob", "x"}),
            "-ERR Client names cannot contain spaces, newlines or special characters.\r\n");
  EXPECT_EQ(session.name, "me");  // refused HELLOs change nothing
}

TEST_F(CommandsTest, AuthWithoutAConfiguredPassword) {
  EXPECT_EQ(Run({"auth", "default", "anything"}), "+OK\r\n");
  EXPECT_EQ(Run({"auth", "pw"}),
            "-ERR AUTH <password> called without any password configured for the default "
            "user. Are you sure your configuration is correct?\r\n");
  const std::string wrongpass =
      "-WRONGPASS invalid username-password pair or user is disabled.\r\n";
  EXPECT_EQ(Run({"auth", "bob", "pw"}), wrongpass);
  EXPECT_EQ(Run({"AUTH", "Default", "pw"}), wrongpass);  // user names are case-sensitive
  EXPECT_EQ(Run({"auth", "a", "b", "c"}), "-ERR syntax error\r\n");
  EXPECT_EQ(Run({"auth"}), "-ERR wrong number of arguments for 'auth' command\r\n");
}

TEST_F(CommandsTest, ClientSubcommands) {
  EXPECT_EQ(Run({"client", "id"}), ":7\r\n");
  EXPECT_EQ(Run({"client", "getname"}), "$-1\r\n");
  EXPECT_EQ(Run({"client", "setname", "ok"}), "+OK\r\n");
  EXPECT_EQ(Run({"CLIENT", "GETNAME"}), "$2\r\nok\r\n");
  const std::string bad =
      "-ERR Client names cannot contain spaces, newlines or special characters.\r\n";
  EXPECT_EQ(Run({"client", "setname", "a b"}), bad);
  EXPECT_EQ(Run({"client", "setname", "a\nb"}), bad);
  EXPECT_EQ(Run({"client", "setname", "\x7f"}), bad);
  EXPECT_EQ(Run({"client", "getname"}), "$2\r\nok\r\n");
  EXPECT_EQ(Run({"client", "setname", ""}), "+OK\r\n");  // clears it
  EXPECT_EQ(Run({"client", "getname"}), "$-1\r\n");
  EXPECT_EQ(Run({"client", "foo"}), "-ERR unknown subcommand 'foo'. Try CLIENT HELP.\r\n");
  EXPECT_EQ(Run({"client", "FOO", "bar"}), "-ERR unknown subcommand 'FOO'. Try CLIENT HELP.\r\n");
}

TEST_F(CommandsTest, ClientSetinfoAsRedis72) {
  EXPECT_EQ(Run({"client", "setinfo", "lib-name", "redis-py"}), "+OK\r\n");
  EXPECT_EQ(Run({"CLIENT", "SETINFO", "LIB-VER", "5.0.1"}), "+OK\r\n");
  EXPECT_EQ(session.lib_name, "redis-py");
  EXPECT_EQ(session.lib_ver, "5.0.1");
  EXPECT_EQ(Run({"client", "setinfo", "lib-foo", "x"}), "-ERR Unrecognized option 'lib-foo'\r\n");
  EXPECT_EQ(Run({"client", "setinfo", "Lib-Name", "a b"}),
            "-ERR Lib-Name cannot contain spaces, newlines or special characters.\r\n");
  EXPECT_EQ(session.lib_name, "redis-py");
}

}  // namespace
}  // namespace examples::resp
