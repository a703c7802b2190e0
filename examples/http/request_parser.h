// examples/http/request_parser.h: HTTP/1.x request heads out of a byte stream,
// incrementally (RFC 9112).
//
// Parse() is given the unconsumed input, which starts at a request boundary, and
// returns a complete request head (request line and header fields, up to and including
// the empty line), or says it is incomplete, or reports an error as the status code
// the server must answer before closing. An incomplete head is resumed where it
// stopped: the next call must pass the same bytes again followed by what arrived since.
// The body is not parsed: Request::content_length says how many bytes follow the head,
// and the caller skips (or reads) them.
//
// Accepted: request-line "method SP request-target SP HTTP/1.x" with the target in
// origin form ("/path?query"), absolute form ("http://host/path") or "*"; header
// fields "name: value"; lines ended by CRLF or a bare LF (RFC 9112 section 2.2); empty
// lines before a request line are skipped (kEmptyLine).
// Refused, with the status to answer:
//   400  malformed request line or header field, whitespace before a colon, obs-fold,
//        control characters, invalid or conflicting Content-Length, no Host (or two) in
//        HTTP/1.1
//   413  Content-Length over max_body_bytes
//   414  request line over max_request_line_bytes
//   417  an Expect other than 100-continue
//   431  head over max_head_bytes, or more than max_header_fields fields
//   501  Transfer-Encoding (chunked request bodies are not supported: with no length
//        to find the next request by, the connection must close)
//   505  a major version other than 1
// Limits are decided on the byte stream alone (the request line when it ends or passes
// its limit, the head likewise, then the fields), so cutting the input into different
// reads never changes the outcome.
//
// Threads: one thread at a time (the connection's).
#ifndef EXAMPLES_HTTP_REQUEST_PARSER_H_
#define EXAMPLES_HTTP_REQUEST_PARSER_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace examples::http {

// ParserLimits: the bounds on one request head and body.
struct ParserLimits {
  size_t max_request_line_bytes = 8 * 1024;  // CR LF excluded
  size_t max_head_bytes = 32 * 1024;         // request line to the empty line, inclusive
  size_t max_header_fields = 100;
  uint64_t max_body_bytes = 1024 * 1024;  // the largest Content-Length accepted
};

// Request: a parsed head. The views point into the input given to Parse and are valid
// until the next Parse call or until that input changes.
struct Request {
  std::string_view method;
  std::string_view target;  // as sent
  std::string_view path;    // the target's path, without the query ("*" for "*")
  int minor_version = 1;    // HTTP/1.0 or HTTP/1.1 (1.2 and up are treated as 1.1)
  bool keep_alive = true;   // after the Connection field and the version's default
  uint64_t content_length = 0;
  bool expect_continue = false;  // Expect: 100-continue
};

// ParseStatus: what Parse found at the front of its input.
enum class ParseStatus {
  kRequest,     // a complete head; request() holds it, consumed says its length
  kEmptyLine,   // an empty line before a request line: drop `consumed` bytes
  kIncomplete,  // more bytes are needed; call again with the same bytes and more
  kError,       // error_status() is the status to answer; then close
};

// ParseResult: a status and, for kRequest and kEmptyLine, how many bytes it took.
struct ParseResult {
  ParseStatus status;
  size_t consumed = 0;
};

// RequestParser: request heads of one connection, one at a time (see above).
class RequestParser {
 public:
  // RequestParser: a parser within `limits`. Requires max_request_line_bytes + 2 <=
  // max_head_bytes, so that an overlong request line is always found first.
  explicit RequestParser(const ParserLimits& limits);

  // Parse: the head at the front of `input` (see the file comment). After kError the
  // stream cannot be resynchronised: the caller answers and closes (Parse may still be
  // called; it starts afresh).
  ParseResult Parse(std::string_view input);

  // request: the head Parse just returned (kRequest).
  const Request& request() const { return request_; }

  // error_status: after kError, the status code to answer (400, 413, ...).
  int error_status() const { return error_status_; }

  // error_is_head: after kError, whether the request line had parsed and named HEAD
  // (so the error response must have no body).
  bool error_is_head() const { return error_is_head_; }

 private:
  // FindLf: the offset of the next '\n' at or after scan_ and before `limit`, or npos.
  size_t FindLf(std::string_view input, size_t limit);
  bool ParseRequestLine(std::string_view line);
  // ParseFields: the header fields between field_start_ and head_end (exclusive).
  int ParseFields(std::string_view input, size_t head_end);
  ParseResult Fail(int status);
  void Reset();

  ParserLimits limits_;
  Request request_;
  // The request line's parts, as (offset, length) from the head's first byte: the
  // input moves between calls, so views are made only once the head is complete.
  struct Span {
    size_t offset = 0;
    size_t length = 0;
  };
  Span method_, target_, path_;
  bool root_path_ = false;  // the path is "/" without being in the target (absolute form)
  // State of the head in progress; offsets count from its first byte.
  size_t scan_ = 0;         // bytes known to hold no '\n' of the current line
  size_t line_start_ = 0;   // first byte of the current line
  size_t field_start_ = 0;  // first byte after the request line; 0 until it is parsed
  size_t field_lines_ = 0;  // complete header field lines so far
  int error_status_ = 0;
  bool error_is_head_ = false;
};

}  // namespace examples::http

#endif  // EXAMPLES_HTTP_REQUEST_PARSER_H_
