// examples/http/response.h: HTTP/1.1 responses, appended to an output string.
//
// AppendResponse writes a status line, the fields every response of this server
// carries (Server, Date, Content-Type, Content-Length), an optional Allow and the
// Connection field, the empty line, and the body unless the request was HEAD (whose
// Content-Length is still the GET body's, RFC 9110 section 9.3.2). The time is a
// parameter; DateCache formats it as an IMF-fixdate once per second.
#ifndef EXAMPLES_HTTP_RESPONSE_H_
#define EXAMPLES_HTTP_RESPONSE_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace examples::http {

// DateCache: the Date field value for a time, reformatted only when the second changes.
class DateCache {
 public:
  // Get: the IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") of now_ms (Unix ms).
  std::string_view Get(int64_t now_ms);

 private:
  int64_t second_ = INT64_MIN;
  std::string text_;
};

// FormatImfFixdate: the IMF-fixdate of `unix_seconds` (RFC 9110 section 5.6.7).
std::string FormatImfFixdate(int64_t unix_seconds);

// ConnectionField: what the response says about the connection.
enum class ConnectionField {
  kNone,       // HTTP/1.1 default: the connection stays open
  kKeepAlive,  // "Connection: keep-alive" (an HTTP/1.0 client that asked for it)
  kClose,      // "Connection: close": the server closes after this response
};

// Response: what the router decided.
struct Response {
  int status = 200;
  std::string_view body;
  std::string_view allow;  // the Allow field's value, or empty for none
};

// ReasonPhrase: the standard reason phrase of `status` ("OK", "Not Found", ...), one
// of the statuses this server answers.
std::string_view ReasonPhrase(int status);

// StatusBody: the body of a plain response with `status`: its phrase and a newline.
std::string_view StatusBody(int status);

// AppendResponse: `response` as bytes on *out; no body if `head_request`.
void AppendResponse(const Response& response, bool head_request, ConnectionField connection,
                    std::string_view date, std::string* out);

}  // namespace examples::http

#endif  // EXAMPLES_HTTP_RESPONSE_H_
