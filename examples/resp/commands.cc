// examples/resp/commands.cc: the command table and each command's semantics.
#include "examples/resp/commands.h"

#include <algorithm>
#include <array>
#include <limits>
#include <utility>

#include "examples/common/ascii.h"
#include "examples/resp/integer.h"
#include "examples/resp/reply.h"
#include "ringloop/core/check.h"

namespace examples::resp {
namespace {

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();

// Redis's shared error replies.
constexpr std::string_view kSyntaxError = "ERR syntax error";
constexpr std::string_view kNotInteger = "ERR value is not an integer or out of range";
constexpr std::string_view kOverflow = "ERR increment or decrement would overflow";

// Call: one request being executed.
struct Call {
  std::span<const std::string_view> args;
  int64_t now_ms;
  Store* store;
  Session* session;
  const ServerConfig* config;
  std::string* out;

  size_t argc() const { return args.size(); }
  void Ok() { out->append("+OK\r\n"); }
  void Error(std::string_view message) { AppendError(message, out); }
  void Integer(int64_t value) { AppendInteger(value, out); }
  void Bulk(std::string_view bytes) { AppendBulk(bytes, out); }
  void Nil() { AppendNil(out); }
  void BulkOrNil(const Store::Entry* entry) {
    if (entry == nullptr) {
      Nil();
    } else {
      Bulk(entry->value);
    }
  }
};

using Handler = void (*)(Call&);

// CommandSpec: one entry of the command table. `arity` is Redis's: n means exactly n
// arguments (the name included), -n at least n.
struct CommandSpec {
  std::string_view name;       // lower case, as clients may spell it in any case
  std::string_view full_name;  // what arity errors quote: "get", "config|get"
  int arity;
  Handler run;                               // null for containers without a bare form
  std::span<const CommandSpec> subcommands;  // empty unless a container
};

// Is: `arg` is the lower-case keyword `word`, in any ASCII case.
constexpr bool Is(std::string_view arg, std::string_view word) { return EqualsLowered(arg, word); }

bool ArityOk(int arity, size_t argc) {
  return arity >= 0 ? argc == static_cast<size_t>(arity) : argc >= static_cast<size_t>(-arity);
}

void WrongArity(Call& c, std::string_view full_name) {
  std::string message = "ERR wrong number of arguments for '";
  message.append(full_name);
  message.append("' command");
  c.Error(message);
}

// ----- keys -------------------------------------------------------------------------

void Get(Call& c) { c.BulkOrNil(c.store->Find(c.args[1], c.now_ms)); }

// ExpireAt: converts the expiry argument of SET into a Unix-ms deadline, replying the
// error and returning false when Redis rejects it. `seconds`: EX/EXAT; `relative`:
// EX/PX.
bool ExpireAt(Call& c, std::string_view arg, bool seconds, bool relative, int64_t* at_ms) {
  int64_t value = 0;
  if (!ParseInt64(arg, &value)) {
    c.Error(kNotInteger);
    return false;
  }
  bool valid = value > 0 && !(seconds && value > kInt64Max / 1000);
  if (valid && seconds) value *= 1000;
  if (valid && relative) valid = !__builtin_add_overflow(value, c.now_ms, &value);
  if (!valid || value <= 0) {
    c.Error("ERR invalid expire time in 'set' command");
    return false;
  }
  *at_ms = value;
  return true;
}

void Set(Call& c) {
  enum : unsigned {
    kNx = 1,
    kXx = 2,
    kGet = 4,
    kKeepTtl = 8,
    kEx = 16,
    kPx = 32,
    kExAt = 64,
    kPxAt = 128,
  };
  // Each option may repeat, but excludes its rivals (EX 1 EX 2 is fine, EX 1 PX 2 not).
  unsigned flags = 0;
  std::string_view expire;
  for (size_t j = 3; j < c.argc(); ++j) {
    const std::string_view opt = c.args[j];
    const bool has_next = j + 1 < c.argc();
    if (Is(opt, "nx") && !(flags & kXx)) {
      flags |= kNx;
    } else if (Is(opt, "xx") && !(flags & kNx)) {
      flags |= kXx;
    } else if (Is(opt, "get")) {
      flags |= kGet;
    } else if (Is(opt, "keepttl") && !(flags & (kEx | kPx | kExAt | kPxAt))) {
      flags |= kKeepTtl;
    } else if (Is(opt, "ex") && !(flags & (kKeepTtl | kPx | kExAt | kPxAt)) && has_next) {
      flags |= kEx;
      expire = c.args[++j];
    } else if (Is(opt, "px") && !(flags & (kKeepTtl | kEx | kExAt | kPxAt)) && has_next) {
      flags |= kPx;
      expire = c.args[++j];
    } else if (Is(opt, "exat") && !(flags & (kKeepTtl | kEx | kPx | kPxAt)) && has_next) {
      flags |= kExAt;
      expire = c.args[++j];
    } else if (Is(opt, "pxat") && !(flags & (kKeepTtl | kEx | kPx | kExAt)) && has_next) {
      flags |= kPxAt;
      expire = c.args[++j];
    } else {
      c.Error(kSyntaxError);
      return;
    }
  }
  const bool has_expire = flags & (kEx | kPx | kExAt | kPxAt);
  int64_t at_ms = kNoExpiry;
  if (has_expire && !ExpireAt(c, expire, flags & (kEx | kExAt), flags & (kEx | kPx), &at_ms)) {
    return;
  }
  const std::string_view key = c.args[1];
  if (flags & (kGet | kNx | kXx)) {
    const Store::Entry* old = c.store->Find(key, c.now_ms);
    if (flags & kGet) c.BulkOrNil(old);  // the reply, whether or not the SET happens
    if (((flags & kNx) && old != nullptr) || ((flags & kXx) && old == nullptr)) {
      if (!(flags & kGet)) c.Nil();
      return;
    }
  }
  bool added = false;
  Store::Entry* entry = c.store->FindOrAdd(key, c.now_ms, &added);
  entry->value.assign(c.args[2]);
  if (has_expire) {
    c.store->SetExpiry(key, entry, at_ms);
  } else if (!(flags & kKeepTtl)) {
    c.store->ClearExpiry(entry);
  }
  if (!(flags & kGet)) c.Ok();
}

void Del(Call& c) {
  int64_t removed = 0;
  for (size_t i = 1; i < c.argc(); ++i) removed += c.store->Remove(c.args[i], c.now_ms);
  c.Integer(removed);
}

void Exists(Call& c) {
  int64_t found = 0;  // a key named twice counts twice, as in Redis
  for (size_t i = 1; i < c.argc(); ++i) found += c.store->Find(c.args[i], c.now_ms) != nullptr;
  c.Integer(found);
}

// IncrBy: adds `delta` to the integer value of args[1] (0 if absent), keeping its TTL.
void IncrBy(Call& c, int64_t delta) {
  const std::string_view key = c.args[1];
  Store::Entry* entry = c.store->Find(key, c.now_ms);
  int64_t value = 0;
  if (entry != nullptr && !ParseInt64(entry->value, &value)) {
    c.Error(kNotInteger);
    return;
  }
  if ((delta < 0 && value < 0 && delta < kInt64Min - value) ||
      (delta > 0 && value > 0 && delta > kInt64Max - value)) {
    c.Error(kOverflow);
    return;
  }
  value += delta;
  if (entry == nullptr) {
    bool added = false;
    entry = c.store->FindOrAdd(key, c.now_ms, &added);
  }
  entry->value.clear();
  AppendInt64(value, &entry->value);
  c.Integer(value);
}

void Incr(Call& c) { IncrBy(c, 1); }
void Decr(Call& c) { IncrBy(c, -1); }

void IncrByCommand(Call& c) {
  int64_t delta = 0;
  if (!ParseInt64(c.args[2], &delta)) return c.Error(kNotInteger);
  IncrBy(c, delta);
}

void DecrByCommand(Call& c) {
  int64_t delta = 0;
  if (!ParseInt64(c.args[2], &delta)) return c.Error(kNotInteger);
  if (delta == kInt64Min) return c.Error("ERR decrement would overflow");
  IncrBy(c, -delta);
}

void MGet(Call& c) {
  AppendArrayHeader(c.argc() - 1, c.out);
  for (size_t i = 1; i < c.argc(); ++i) c.BulkOrNil(c.store->Find(c.args[i], c.now_ms));
}

void MSet(Call& c) {
  if (c.argc() % 2 == 0) return WrongArity(c, "mset");
  for (size_t i = 1; i < c.argc(); i += 2) {
    bool added = false;
    Store::Entry* entry = c.store->FindOrAdd(c.args[i], c.now_ms, &added);
    entry->value.assign(c.args[i + 1]);
    c.store->ClearExpiry(entry);
  }
  c.Ok();
}

void Expire(Call& c) {
  bool nx = false, xx = false, gt = false, lt = false;
  for (size_t j = 3; j < c.argc(); ++j) {
    const std::string_view opt = c.args[j];
    if (Is(opt, "nx")) {
      nx = true;
    } else if (Is(opt, "xx")) {
      xx = true;
    } else if (Is(opt, "gt")) {
      gt = true;
    } else if (Is(opt, "lt")) {
      lt = true;
    } else {
      return c.Error(std::string("ERR Unsupported option ").append(opt));
    }
  }
  if (nx && (xx || gt || lt)) {
    return c.Error("ERR NX and XX, GT or LT options at the same time are not compatible");
  }
  if (gt && lt) return c.Error("ERR GT and LT options at the same time are not compatible");
  int64_t when = 0;
  if (!ParseInt64(c.args[2], &when)) return c.Error(kNotInteger);
  if (when > kInt64Max / 1000 || when < kInt64Min / 1000 ||
      __builtin_add_overflow(when * 1000, c.now_ms, &when)) {
    return c.Error("ERR invalid expire time in 'expire' command");
  }
  const std::string_view key = c.args[1];
  Store::Entry* entry = c.store->Find(key, c.now_ms);
  if (entry == nullptr) return c.Integer(0);
  const bool has_ttl = entry->expire_at_ms != kNoExpiry;
  // A key without a TTL counts as expiring never: GT never applies to it, LT always.
  if ((nx && has_ttl) || (xx && !has_ttl) || (gt && (!has_ttl || when <= entry->expire_at_ms)) ||
      (lt && has_ttl && when >= entry->expire_at_ms)) {
    return c.Integer(0);
  }
  if (when <= c.now_ms) {  // a deadline already passed deletes the key
    c.store->Remove(key, c.now_ms);
  } else {
    c.store->SetExpiry(key, entry, when);
  }
  c.Integer(1);
}

// Ttl: -2 for no key, -1 for no deadline, else the time left (never negative).
void Ttl(Call& c, bool milliseconds) {
  const Store::Entry* entry = c.store->Find(c.args[1], c.now_ms);
  if (entry == nullptr) return c.Integer(-2);
  if (entry->expire_at_ms == kNoExpiry) return c.Integer(-1);
  const int64_t left_ms = std::max<int64_t>(0, entry->expire_at_ms - c.now_ms);
  c.Integer(milliseconds ? left_ms : (left_ms + 500) / 1000);  // TTL rounds to the nearest s
}

void TtlCommand(Call& c) { Ttl(c, false); }
void PTtlCommand(Call& c) { Ttl(c, true); }

// ----- server -----------------------------------------------------------------------

void DbSize(Call& c) { c.Integer(static_cast<int64_t>(c.store->Size(c.now_ms))); }

void FlushAll(Call& c) {
  if (c.argc() > 2 || (c.argc() == 2 && !Is(c.args[1], "sync") && !Is(c.args[1], "async"))) {
    return c.Error(kSyntaxError);
  }
  c.store->Clear();  // ASYNC frees in the background in Redis; the result is the same
  c.Ok();
}

void Select(Call& c) {
  int64_t index = 0;
  if (!ParseInt64(c.args[1], &index)) return c.Error(kNotInteger);
  if (index < std::numeric_limits<int32_t>::min() || index > std::numeric_limits<int32_t>::max()) {
    return c.Error("ERR value is out of range, value must between -2147483648 and 2147483647");
  }
  if (index != 0) return c.Error("ERR DB index is out of range");  // one database
  c.Ok();
}

// ConfigParameter: a setting CONFIG GET reports, in the order it reports them.
struct ConfigParameter {
  std::string_view name;
  std::string (*value)(const ServerConfig&);
};

constexpr std::array<ConfigParameter, 4> kConfigParameters = {{
    {"appendonly", [](const ServerConfig&) { return std::string("no"); }},
    {"databases", [](const ServerConfig&) { return std::string("1"); }},
    {"proto-max-bulk-len",
     [](const ServerConfig& config) {
       std::string value;
       AppendInt64(static_cast<int64_t>(config.proto_max_bulk_len), &value);
       return value;
     }},
    {"save", [](const ServerConfig&) { return std::string(); }},
}};

void ConfigGet(Call& c) {
  // Each parameter once: named exactly (no glob character), it is reported under the
  // name as given; matched by a glob, under its own name.
  std::array<std::string_view, kConfigParameters.size()> shown{};
  size_t matches = 0;
  for (size_t i = 2; i < c.argc(); ++i) {
    const std::string_view pattern = c.args[i];
    const bool glob = pattern.find_first_of("[*?") != std::string_view::npos;
    for (size_t p = 0; p < kConfigParameters.size(); ++p) {
      const std::string_view name = kConfigParameters[p].name;
      if (!shown[p].empty() || !(glob ? GlobMatch(pattern, name) : Is(pattern, name))) continue;
      shown[p] = glob ? name : pattern;
      ++matches;
    }
  }
  AppendArrayHeader(2 * matches, c.out);
  for (size_t p = 0; p < kConfigParameters.size(); ++p) {
    if (shown[p].empty()) continue;
    c.Bulk(shown[p]);
    c.Bulk(kConfigParameters[p].value(*c.config));
  }
}

// COMMAND and COMMAND DOCS reply an empty array: clients (redis-cli's hints,
// redis-benchmark) accept it, and a full command table is out of an example's scope.
void EmptyArray(Call& c) { AppendArrayHeader(0, c.out); }
void CountCommands(Call& c) { c.Integer(static_cast<int64_t>(CommandCount())); }

// ----- connection -------------------------------------------------------------------

void Ping(Call& c) {
  if (c.argc() > 2) return WrongArity(c, "ping");
  if (c.argc() == 2) return c.Bulk(c.args[1]);
  c.out->append("+PONG\r\n");
}

void Echo(Call& c) { c.Bulk(c.args[1]); }

void Quit(Call& c) {
  c.Ok();
  c.session->quit = true;
}

// PrintableName: Redis's rule for client names and library attributes: no spaces,
// newlines or other bytes outside '!'..'~'.
bool PrintableName(std::string_view name) {
  for (char ch : name) {
    if (ch < '!' || ch > '~') return false;
  }
  return true;
}

// kWrongPass: the reply to a user other than "default" (the only one there is).
constexpr std::string_view kWrongPass =
    "WRONGPASS invalid username-password pair or user is disabled.";

// Auth: AUTH [username] password, with no password configured: the default user takes
// any password, as in Redis; AUTH <password> alone is an error there too.
void Auth(Call& c) {
  if (c.argc() > 3) return c.Error(kSyntaxError);
  if (c.argc() == 2) {
    return c.Error(
        "ERR AUTH <password> called without any password configured for the default user. "
        "Are you sure your configuration is correct?");
  }
  if (c.args[1] != "default") return c.Error(kWrongPass);
  c.Ok();
}

constexpr std::string_view kBadClientName =
    "ERR Client names cannot contain spaces, newlines or special characters.";

// Hello: HELLO [protover [AUTH username password] [SETNAME clientname]]. Only RESP2 is
// spoken, so protover 3 gets NOPROTO, which RESP3-capable clients take as "use RESP2".
void Hello(Call& c) {
  size_t next = 1;
  if (c.argc() >= 2) {
    int64_t version = 0;
    if (!ParseInt64(c.args[1], &version)) {
      return c.Error("ERR Protocol version is not an integer or out of range");
    }
    if (version != 2) return c.Error("NOPROTO unsupported protocol version");
    next = 2;
  }
  // Options take effect in order, as in Redis: a bad password or name stops at once.
  std::string_view name;
  bool set_name = false;
  for (size_t j = next; j < c.argc(); ++j) {
    const size_t more = c.argc() - 1 - j;
    if (Is(c.args[j], "auth") && more >= 2) {
      if (c.args[j + 1] != "default") return c.Error(kWrongPass);  // as AUTH
      j += 2;
    } else if (Is(c.args[j], "setname") && more >= 1) {
      name = c.args[++j];
      if (!PrintableName(name)) return c.Error(kBadClientName);
      set_name = true;
    } else {
      return c.Error(std::string("ERR Syntax error in HELLO option '").append(c.args[j]) + "'");
    }
  }
  if (set_name) c.session->name.assign(name);
  AppendArrayHeader(14, c.out);
  c.Bulk("server");
  c.Bulk("redis");
  c.Bulk("version");
  c.Bulk(kRedisVersion);
  c.Bulk("proto");
  c.Integer(2);
  c.Bulk("id");
  c.Integer(c.session->client_id);
  c.Bulk("mode");
  c.Bulk("standalone");
  c.Bulk("role");
  c.Bulk("master");
  c.Bulk("modules");
  AppendArrayHeader(0, c.out);
}

void ClientId(Call& c) { c.Integer(c.session->client_id); }

void ClientGetName(Call& c) {
  if (c.session->name.empty()) return c.Nil();
  c.Bulk(c.session->name);
}

void ClientSetName(Call& c) {
  if (!PrintableName(c.args[2])) return c.Error(kBadClientName);
  c.session->name.assign(c.args[2]);  // an empty name clears it
  c.Ok();
}

// ClientSetInfo: CLIENT SETINFO LIB-NAME|LIB-VER value, as Redis 7.2 has it (7.0 lacks
// it; clients send it on connect and ignore an error).
void ClientSetInfo(Call& c) {
  const std::string_view attribute = c.args[2];
  std::string* target = nullptr;
  if (Is(attribute, "lib-name")) {
    target = &c.session->lib_name;
  } else if (Is(attribute, "lib-ver")) {
    target = &c.session->lib_ver;
  } else {
    return c.Error(std::string("ERR Unrecognized option '").append(attribute) + "'");
  }
  if (!PrintableName(c.args[3])) {
    return c.Error(std::string("ERR ").append(attribute) +
                   " cannot contain spaces, newlines or special characters.");
  }
  target->assign(c.args[3]);
  c.Ok();
}

// ----- the table --------------------------------------------------------------------

constexpr CommandSpec kCommandSubcommands[] = {
    {"count", "command|count", 2, CountCommands, {}},
    {"docs", "command|docs", -2, EmptyArray, {}},
};

constexpr CommandSpec kConfigSubcommands[] = {
    {"get", "config|get", -3, ConfigGet, {}},
};

constexpr CommandSpec kClientSubcommands[] = {
    {"id", "client|id", 2, ClientId, {}},
    {"getname", "client|getname", 2, ClientGetName, {}},
    {"setname", "client|setname", 3, ClientSetName, {}},
    {"setinfo", "client|setinfo", 4, ClientSetInfo, {}},
};

// Most frequent first: lookup is a scan that compares lengths before bytes.
constexpr CommandSpec kCommands[] = {
    {"get", "get", 2, Get, {}},
    {"set", "set", -3, Set, {}},
    {"mget", "mget", -2, MGet, {}},
    {"mset", "mset", -3, MSet, {}},
    {"incr", "incr", 2, Incr, {}},
    {"decr", "decr", 2, Decr, {}},
    {"incrby", "incrby", 3, IncrByCommand, {}},
    {"decrby", "decrby", 3, DecrByCommand, {}},
    {"del", "del", -2, Del, {}},
    {"exists", "exists", -2, Exists, {}},
    {"expire", "expire", -3, Expire, {}},
    {"ttl", "ttl", 2, TtlCommand, {}},
    {"pttl", "pttl", 2, PTtlCommand, {}},
    {"ping", "ping", -1, Ping, {}},
    {"echo", "echo", 2, Echo, {}},
    {"dbsize", "dbsize", 1, DbSize, {}},
    {"flushall", "flushall", -1, FlushAll, {}},
    {"select", "select", 2, Select, {}},
    {"quit", "quit", -1, Quit, {}},
    {"hello", "hello", -1, Hello, {}},
    {"auth", "auth", -2, Auth, {}},
    {"client", "client", -2, nullptr, kClientSubcommands},
    {"command", "command", -1, EmptyArray, kCommandSubcommands},
    {"config", "config", -2, nullptr, kConfigSubcommands},
};

const CommandSpec* Lookup(std::span<const CommandSpec> table, std::string_view name) {
  for (const CommandSpec& spec : table) {
    if (Is(name, spec.name)) return &spec;
  }
  return nullptr;
}

void UnknownCommand(Call& c) {
  // Redis quotes at most 128 bytes of the name and about 128 bytes of arguments.
  std::string message = "ERR unknown command '";
  message.append(c.args[0].substr(0, 128));
  message.append("', with args beginning with: ");
  std::string quoted;
  for (size_t i = 1; i < c.argc() && quoted.size() < 128; ++i) {
    const size_t room = 128 - quoted.size();
    quoted.push_back('\'');
    quoted.append(c.args[i].substr(0, room));
    quoted.append("' ");
  }
  c.Error(message + quoted);
}

void UnknownSubcommand(Call& c) {
  std::string message = "ERR unknown subcommand '";
  message.append(c.args[1].substr(0, 128));
  message.append("'. Try ");
  for (char ch : c.args[0]) message.push_back(AsciiUpper(ch));
  message.append(" HELP.");
  c.Error(message);
}

}  // namespace

void Execute(std::span<const std::string_view> args, int64_t now_ms, Store* store, Session* session,
             const ServerConfig& config, std::string* out) {
  RL_CHECK(!args.empty());
  Call c{args, now_ms, store, session, &config, out};
  const CommandSpec* spec = Lookup(kCommands, args[0]);
  if (spec == nullptr) return UnknownCommand(c);
  // A container with a subcommand runs the subcommand; alone, it runs its bare form
  // (or fails its arity, which asks for a subcommand).
  if (!spec->subcommands.empty() && args.size() >= 2) {
    spec = Lookup(spec->subcommands, args[1]);
    if (spec == nullptr) return UnknownSubcommand(c);
  }
  if (!ArityOk(spec->arity, args.size())) return WrongArity(c, spec->full_name);
  RL_CHECK(spec->run != nullptr);  // every container's arity requires a subcommand
  spec->run(c);
}

size_t CommandCount() { return std::size(kCommands); }

namespace {

// ClassMatches: whether `ch` matches the class pattern[*p..] just after its '['; moves
// *p past the closing ']' (or to the end, which also closes a class, as in Redis).
bool ClassMatches(std::string_view pattern, size_t* p, char ch) {
  const char c = AsciiLower(ch);
  size_t i = *p;
  const bool negate = i < pattern.size() && pattern[i] == '^';
  if (negate) ++i;
  bool match = false;
  while (i < pattern.size() && pattern[i] != ']') {
    if (pattern[i] == '\\' && i + 1 < pattern.size()) {
      ++i;
      match |= AsciiLower(pattern[i]) == c;
    } else if (i + 2 < pattern.size() && pattern[i + 1] == '-') {
      char lo = AsciiLower(pattern[i]);
      char hi = AsciiLower(pattern[i + 2]);
      if (lo > hi) std::swap(lo, hi);
      match |= c >= lo && c <= hi;
      i += 2;
    } else {
      match |= AsciiLower(pattern[i]) == c;
    }
    ++i;
  }
  *p = i < pattern.size() ? i + 1 : i;
  return match != negate;
}

// MatchOne: whether the single-byte element at pattern[*p] (not '*') matches `ch`;
// moves *p past it.
bool MatchOne(std::string_view pattern, size_t* p, char ch) {
  const char pc = pattern[*p];
  ++*p;
  if (pc == '?') return true;
  if (pc == '[') return ClassMatches(pattern, p, ch);
  char literal = pc;
  if (pc == '\\' && *p < pattern.size()) literal = pattern[(*p)++];
  return AsciiLower(literal) == AsciiLower(ch);
}

}  // namespace

bool GlobMatch(std::string_view pattern, std::string_view text) {
  // Linear scan with one backtrack point: the last '*' and where its match ends.
  size_t p = 0, t = 0;
  size_t star = std::string_view::npos, star_text = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_text = t;
      continue;
    }
    size_t next = p;
    if (p < pattern.size() && MatchOne(pattern, &next, text[t])) {
      p = next;
      ++t;
      continue;
    }
    if (star == std::string_view::npos) return false;
    p = star + 1;  // let the last '*' swallow one more byte
    t = ++star_text;
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

}  // namespace examples::resp
