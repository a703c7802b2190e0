// examples/resp/reply.h: RESP2 replies, appended to an output string.
//
// Every function appends one complete reply (or, for AppendArrayHeader, the header of
// an array whose elements the caller appends next) to *out, in the encoding a Redis 7
// server uses with a RESP2 client:
//   simple string "+OK\r\n", error "-ERR msg\r\n", integer ":42\r\n",
//   bulk string "$3\r\nabc\r\n", nil "$-1\r\n", array "*2\r\n" + 2 replies.
#ifndef EXAMPLES_RESP_REPLY_H_
#define EXAMPLES_RESP_REPLY_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace examples::resp {

// AppendSimple: "+text\r\n". `text` must contain neither CR nor LF.
void AppendSimple(std::string_view text, std::string* out);

// AppendError: "-message\r\n". `message` starts with its error code ("ERR syntax
// error", "NOPROTO ..."); any CR or LF in it (it may quote client bytes) becomes a
// space, as Redis does, so the reply stays one line.
void AppendError(std::string_view message, std::string* out);

// AppendInteger: ":value\r\n".
void AppendInteger(int64_t value, std::string* out);

// AppendBulk: "$len\r\nbytes\r\n".
void AppendBulk(std::string_view bytes, std::string* out);

// AppendNil: the RESP2 null bulk string, "$-1\r\n".
void AppendNil(std::string* out);

// AppendArrayHeader: "*count\r\n"; the caller appends `count` replies after it.
void AppendArrayHeader(size_t count, std::string* out);

}  // namespace examples::resp

#endif  // EXAMPLES_RESP_REPLY_H_
