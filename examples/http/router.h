// examples/http/router.h: which response each request gets.
//
//   GET or HEAD /         200, kRootBody
//   GET or HEAD /healthz  200, "ok\n"
//   other methods on them 405 Method Not Allowed, "Allow: GET, HEAD"
//   any other path        404 Not Found (whatever the method)
// The path is the request target's, without its query ("/healthz?verbose" is
// /healthz). Bodies are fixed strings: routing allocates nothing.
#ifndef EXAMPLES_HTTP_ROUTER_H_
#define EXAMPLES_HTTP_ROUTER_H_

#include <string_view>

#include "examples/http/request_parser.h"
#include "examples/http/response.h"

namespace examples::http {

// kRootBody: the body served at "/".
inline constexpr std::string_view kRootBody = "Hello from ringloop\n";

// Route: the response to `request`.
Response Route(const Request& request);

// ErrorResponse: the response for an error `status` the parser reported.
Response ErrorResponse(int status);

}  // namespace examples::http

#endif  // EXAMPLES_HTTP_ROUTER_H_
