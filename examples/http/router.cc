// examples/http/router.cc: the fixed routes.
#include "examples/http/router.h"

namespace examples::http {

Response Route(const Request& request) {
  std::string_view body;
  if (request.path == "/") {
    body = kRootBody;
  } else if (request.path == "/healthz") {
    body = "ok\n";
  } else {
    return {404, StatusBody(404), {}};
  }
  // Methods are case-sensitive (RFC 9110 section 9.1): "get" is not GET.
  if (request.method != "GET" && request.method != "HEAD") {
    return {405, StatusBody(405), "GET, HEAD"};
  }
  return {200, body, {}};
}

Response ErrorResponse(int status) { return {status, StatusBody(status), {}}; }

}  // namespace examples::http
