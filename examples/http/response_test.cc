// examples/http/response_test.cc: dates, status lines and fields, byte for byte.
#include "examples/http/response.h"

#include <string>

#include "examples/http/router.h"
#include "gtest/gtest.h"

namespace examples::http {
namespace {

TEST(FormatImfFixdateTest, KnownDates) {
  EXPECT_EQ(FormatImfFixdate(0), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(FormatImfFixdate(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");  // RFC 9110's
  EXPECT_EQ(FormatImfFixdate(951782400), "Tue, 29 Feb 2000 00:00:00 GMT");
  EXPECT_EQ(FormatImfFixdate(-1), "Wed, 31 Dec 1969 23:59:59 GMT");
  EXPECT_EQ(FormatImfFixdate(4102444800), "Fri, 01 Jan 2100 00:00:00 GMT");
  EXPECT_EQ(FormatImfFixdate(1700000000), "Tue, 14 Nov 2023 22:13:20 GMT");
  EXPECT_EQ(FormatImfFixdate(253402300799), "Fri, 31 Dec 9999 23:59:59 GMT");
}

TEST(DateCacheTest, ChangesWithTheSecond) {
  DateCache cache;
  EXPECT_EQ(cache.Get(1700000000999), "Tue, 14 Nov 2023 22:13:20 GMT");
  EXPECT_EQ(cache.Get(1700000001000), "Tue, 14 Nov 2023 22:13:21 GMT");
  EXPECT_EQ(cache.Get(-1), "Wed, 31 Dec 1969 23:59:59 GMT");  // floor, not truncation
}

constexpr std::string_view kDate = "Tue, 14 Nov 2023 22:13:20 GMT";

TEST(AppendResponseTest, FieldsAndBody) {
  std::string out;
  AppendResponse({200, "hi\n", {}}, false, ConnectionField::kNone, kDate, &out);
  EXPECT_EQ(out,
            "HTTP/1.1 200 OK\r\nServer: ringloop\r\nDate: Tue, 14 Nov 2023 22:13:20 GMT\r\n"
            "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 3\r\n\r\nhi\n");
}

TEST(AppendResponseTest, HeadKeepsTheLengthAndDropsTheBody) {
  std::string out;
  AppendResponse({405, StatusBody(405), "GET, HEAD"}, true, ConnectionField::kClose, kDate, &out);
  EXPECT_EQ(out,
            "HTTP/1.1 405 Method Not Allowed\r\nServer: ringloop\r\n"
            "Date: Tue, 14 Nov 2023 22:13:20 GMT\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: 19\r\nAllow: GET, HEAD\r\nConnection: close\r\n\r\n");
}

TEST(AppendResponseTest, KeepAliveFieldForHttp10) {
  std::string out;
  AppendResponse({404, StatusBody(404), {}}, false, ConnectionField::kKeepAlive, kDate, &out);
  EXPECT_NE(out.find("\r\nContent-Length: 10\r\nConnection: keep-alive\r\n\r\nNot Found\n"),
            std::string::npos);
}

TEST(ReasonPhraseTest, EveryStatusTheServerAnswers) {
  for (int status : {200, 400, 404, 405, 413, 414, 417, 431, 501, 505}) {
    EXPECT_FALSE(ReasonPhrase(status).empty()) << status;
    EXPECT_EQ(StatusBody(status), std::string(ReasonPhrase(status)) + "\n");
  }
  EXPECT_EQ(ReasonPhrase(431), "Request Header Fields Too Large");
}

TEST(RouterTest, FixedRoutes) {
  auto route = [](std::string_view method, std::string_view path) {
    Request r;
    r.method = method;
    r.path = path;
    return Route(r);
  };
  EXPECT_EQ(route("GET", "/").status, 200);
  EXPECT_EQ(route("GET", "/").body, kRootBody);
  EXPECT_EQ(route("HEAD", "/healthz").status, 200);
  EXPECT_EQ(route("GET", "/healthz").body, "ok\n");
  EXPECT_EQ(route("GET", "/healthz/").status, 404);
  EXPECT_EQ(route("GET", "/index.html").status, 404);
  EXPECT_EQ(route("POST", "/nope").status, 404);
  EXPECT_EQ(route("GET", "*").status, 404);
  const Response post = route("POST", "/");
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(post.allow, "GET, HEAD");
  EXPECT_EQ(route("get", "/healthz").status, 405);  // methods are case-sensitive
  EXPECT_EQ(route("OPTIONS", "/healthz").status, 405);
}

}  // namespace
}  // namespace examples::http
