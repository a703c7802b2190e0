// examples/resp/request_parser.h: RESP2 requests out of a byte stream, incrementally.
//
// A request is a multibulk array of bulk strings ("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"), or,
// when its first byte is not '*', an inline line ("GET k\r\n") split into arguments
// with Redis's quoting rules ("double quotes" with \n \r \t \b \a \\ \" \xHH escapes,
// 'single quotes' with \' only; a closing quote must be followed by a space or the end
// of the line). "*0", "*-1" and blank lines are empty requests (no arguments), which
// Redis skips without a reply.
//
// Parse() is given the unconsumed input, which starts at a request boundary. It
// returns one complete request (its arguments and its length in bytes), or says the
// request is incomplete, or reports a protocol error. An incomplete request is resumed
// where it stopped: the next call must pass the same bytes again, followed by what
// arrived since, so a request split over many reads is scanned once.
//
// Limits (ParserLimits) are decided on the byte stream alone, so splitting the same
// input into different reads never changes the outcome:
//   - a line (inline request, "*N" or "$N" header) longer than max_line_bytes:
//     "Protocol error: too big inline request" / "too big mbulk count string" /
//     "too big bulk count string";
//   - "*N" that is not an integer, or N > max_args: "invalid multibulk length";
//   - "$N" that is not an integer, N < 0, or N > max_bulk_bytes: "invalid bulk length";
//   - a header that is not "$...": "expected '$', got 'X'";
//   - unbalanced quotes in an inline line: "unbalanced quotes in request";
//   - a multibulk request whose announced size passes max_request_bytes:
//     kRequestTooLarge, which has no reply (Redis closes such a client silently).
// The bytes of a pending request are therefore at most max_request_bytes plus one
// header line. Redis itself parses a few things more loosely than it checks: the byte
// after a header's '\r' and the two bytes after a bulk's payload are skipped unread;
// this parser does the same, so that its replies match Redis's byte for byte.
//
// Threads: one thread at a time (the connection's).
#ifndef EXAMPLES_RESP_REQUEST_PARSER_H_
#define EXAMPLES_RESP_REQUEST_PARSER_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace examples::resp {

// ParserLimits: the bounds on one request (see the file comment).
struct ParserLimits {
  // max_line_bytes: the longest inline request or "*N"/"$N" header line, CR and LF
  // excluded (Redis's PROTO_INLINE_MAX_SIZE, 64 KiB).
  size_t max_line_bytes = 64 * 1024;
  // max_bulk_bytes: the longest argument. Redis's proto-max-bulk-len is 512 MiB; an
  // example server that holds everything in memory takes 8 MiB.
  size_t max_bulk_bytes = 8 * 1024 * 1024;
  // max_args: the most arguments in one request, command name included (Redis takes up
  // to INT_MAX; 1 Mi is Redis 2's old limit, ample for MSET and MGET).
  size_t max_args = 1024 * 1024;
  // max_request_bytes: the largest multibulk request in bytes, headers included
  // (Redis's client-query-buffer-limit is 1 GiB).
  size_t max_request_bytes = 64 * 1024 * 1024;
};

// ParseStatus: what Parse found at the front of its input.
enum class ParseStatus {
  kRequest,          // a complete request; args() holds it (empty for "*0" or a blank line)
  kIncomplete,       // more bytes are needed; call again with the same bytes and more
  kProtocolError,    // malformed or over a limit; error() is the reply text
  kRequestTooLarge,  // over max_request_bytes; close without a reply
};

// ParseResult: a status and, for kRequest, how many input bytes the request took.
struct ParseResult {
  ParseStatus status;
  size_t consumed = 0;
};

// RequestParser: requests of one connection, one at a time (see above).
class RequestParser {
 public:
  // RequestParser: a parser that holds requests within `limits`.
  explicit RequestParser(const ParserLimits& limits);

  // Parse: the request at the front of `input` (see the file comment). After
  // kIncomplete, the next call's input must begin with the same bytes. After
  // kProtocolError or kRequestTooLarge the stream cannot be resynchronised: the caller
  // closes the connection (Parse may still be called; it starts afresh).
  ParseResult Parse(std::string_view input);

  // args: the arguments of the request Parse just returned; they point into that
  // input or into the parser, and stay valid until the next Parse call.
  std::span<const std::string_view> args() const { return args_; }

  // error: after kProtocolError, Redis's wording without the "ERR " code, e.g.
  // "Protocol error: invalid bulk length".
  std::string_view error() const { return error_; }

  // limits: the bounds this parser enforces.
  const ParserLimits& limits() const { return limits_; }

 private:
  // Where a line (from `start` to its '\r' or '\n') stands in the input.
  enum class LineStatus { kFound, kIncomplete, kTooLong };

  ParseResult ParseMultibulk(std::string_view input);
  ParseResult ParseInline(std::string_view input);
  // FindLineEnd: the position of `terminator` ending the line that starts at `start`,
  // into *end; resumes the scan where the last call stopped (scanned_).
  LineStatus FindLineEnd(std::string_view input, size_t start, char terminator, size_t* end);
  ParseResult Complete(std::string_view base, size_t consumed);
  ParseResult Fail(std::string_view message);
  ParseResult TooLarge();
  void Reset();

  ParserLimits limits_;
  // State of the request in progress; offsets count from the request's first byte.
  size_t pos_ = 0;             // multibulk: bytes parsed so far
  size_t scanned_ = 0;         // bytes of the current line known to hold no terminator
  int64_t args_expected_ = 0;  // multibulk: N of "*N"; 0 until the header is parsed
  int64_t bulk_len_ = -1;      // multibulk: the current argument's length; -1 before "$N"
  std::vector<std::pair<size_t, size_t>> spans_;  // (offset, length) of arguments parsed so far
  // Output of the last Parse.
  std::vector<std::string_view> args_;
  std::string inline_storage_;  // unquoted inline arguments
  std::string error_;
};

}  // namespace examples::resp

#endif  // EXAMPLES_RESP_REQUEST_PARSER_H_
