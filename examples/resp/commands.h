// examples/resp/commands.h: the commands, answered as Redis 7.0 answers a RESP2 client.
//
// Execute runs one parsed request against the Store and appends its reply. Supported:
//   keys:        GET, SET [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL], DEL, EXISTS,
//                INCR, DECR, INCRBY, DECRBY, MGET, MSET, EXPIRE [NX|XX|GT|LT], TTL, PTTL
//   server:      DBSIZE, FLUSHALL [ASYNC|SYNC], SELECT 0, CONFIG GET, COMMAND,
//                COMMAND COUNT, COMMAND DOCS
//   connection:  PING, ECHO, QUIT, HELLO [2 [AUTH default pw] [SETNAME n]], AUTH,
//                CLIENT ID | GETNAME | SETNAME | SETINFO
// Errors carry Redis's exact wording: unknown commands and subcommands, wrong
// arities (named as Redis names them, 'get' or 'config|get'), syntax errors, non-
// integers, overflow, invalid expire times. Where this core answers differently from
// Redis on purpose, examples/resp/README.md lists it.
//
// Threads: one thread at a time (the server's).
#ifndef EXAMPLES_RESP_COMMANDS_H_
#define EXAMPLES_RESP_COMMANDS_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "examples/resp/store.h"

namespace examples::resp {

// kRedisVersion: the Redis release whose replies this core reproduces; HELLO reports it,
// and clients read it to decide which features they may use.
inline constexpr std::string_view kRedisVersion = "7.0.15";

// Session: what a connection's commands remember between requests.
struct Session {
  int64_t client_id = 0;  // CLIENT ID and HELLO's "id"
  std::string name;       // CLIENT SETNAME / HELLO SETNAME; empty: none
  std::string lib_name;   // CLIENT SETINFO LIB-NAME
  std::string lib_ver;    // CLIENT SETINFO LIB-VER
  bool quit = false;      // QUIT ran: close once its reply is written
};

// ServerConfig: the settings CONFIG GET reports.
struct ServerConfig {
  size_t proto_max_bulk_len = 0;  // the parser's max_bulk_bytes
};

// Execute: runs the request `args` (args[0] is the command name; args is not empty)
// at now_ms (Unix ms) and appends its reply to *out.
void Execute(std::span<const std::string_view> args, int64_t now_ms, Store* store, Session* session,
             const ServerConfig& config, std::string* out);

// CommandCount: the number of top-level commands (what COMMAND COUNT replies).
size_t CommandCount();

// GlobMatch: Redis's glob (*, ?, [a-z], [^x], \x), case-insensitive, as CONFIG GET
// matches parameter names.
bool GlobMatch(std::string_view pattern, std::string_view text);

}  // namespace examples::resp

#endif  // EXAMPLES_RESP_COMMANDS_H_
