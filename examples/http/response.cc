// examples/http/response.cc: status lines, fields and dates.
#include "examples/http/response.h"

#include <charconv>

#include "ringloop/core/check.h"

namespace examples::http {
namespace {

constexpr int64_t kSecondsPerDay = 86400;

// FloorDiv: a / b rounded towards negative infinity (b > 0).
int64_t FloorDiv(int64_t a, int64_t b) { return a / b - (a % b != 0 && a < 0); }

// CivilFromDays: the proleptic Gregorian (year, month 1-12, day 1-31) of `days` since
// 1970-01-01, by counting 400-year eras of 146097 days from 0000-03-01.
void CivilFromDays(int64_t days, int64_t* year, int* month, int* day) {
  days += 719468;  // days from 0000-03-01 to 1970-01-01
  const int64_t era = FloorDiv(days, 146097);
  const int64_t doe = days - era * 146097;                                    // [0, 146096]
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);                // [0, 365]
  const int64_t mp = (5 * doy + 2) / 153;                                     // March = 0
  *day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  *month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  *year = yoe + era * 400 + (*month <= 2);
}

void AppendPadded(int64_t value, int width, std::string* out) {
  char buf[24];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  (void)ec;
  for (int pad = width - static_cast<int>(end - buf); pad > 0; --pad) out->push_back('0');
  out->append(buf, end);
}

}  // namespace

std::string FormatImfFixdate(int64_t unix_seconds) {
  static constexpr std::string_view kDays[] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const int64_t days = FloorDiv(unix_seconds, kSecondsPerDay);
  const int64_t second_of_day = unix_seconds - days * kSecondsPerDay;
  int64_t year = 0;
  int month = 0, day = 0;
  CivilFromDays(days, &year, &month, &day);
  std::string out;
  out.append(kDays[((days % 7) + 7) % 7]);  // 1970-01-01 was a Thursday
  out.append(", ");
  AppendPadded(day, 2, &out);
  out.push_back(' ');
  out.append(kMonths[month - 1]);
  out.push_back(' ');
  AppendPadded(year, 4, &out);
  out.push_back(' ');
  AppendPadded(second_of_day / 3600, 2, &out);
  out.push_back(':');
  AppendPadded(second_of_day / 60 % 60, 2, &out);
  out.push_back(':');
  AppendPadded(second_of_day % 60, 2, &out);
  out.append(" GMT");
  return out;
}

std::string_view DateCache::Get(int64_t now_ms) {
  const int64_t second = FloorDiv(now_ms, 1000);
  if (second != second_) {
    second_ = second;
    text_ = FormatImfFixdate(second);
  }
  return text_;
}

namespace {

// StatusText: each status this server answers, its reason phrase, and the body of
// its error response (the phrase and a newline).
struct StatusText {
  int status;
  std::string_view reason;
  std::string_view body;
};

constexpr StatusText kStatuses[] = {
    {200, "OK", "OK\n"},
    {400, "Bad Request", "Bad Request\n"},
    {404, "Not Found", "Not Found\n"},
    {405, "Method Not Allowed", "Method Not Allowed\n"},
    {413, "Content Too Large", "Content Too Large\n"},
    {414, "URI Too Long", "URI Too Long\n"},
    {417, "Expectation Failed", "Expectation Failed\n"},
    {431, "Request Header Fields Too Large", "Request Header Fields Too Large\n"},
    {501, "Not Implemented", "Not Implemented\n"},
    {505, "HTTP Version Not Supported", "HTTP Version Not Supported\n"},
};

const StatusText& Find(int status) {
  for (const StatusText& s : kStatuses) {
    if (s.status == status) return s;
  }
  RL_CHECK(false && "a status without a reason phrase");
  return kStatuses[0];
}

}  // namespace

std::string_view ReasonPhrase(int status) { return Find(status).reason; }

std::string_view StatusBody(int status) { return Find(status).body; }

void AppendResponse(const Response& response, bool head_request, ConnectionField connection,
                    std::string_view date, std::string* out) {
  out->append("HTTP/1.1 ");
  AppendPadded(response.status, 3, out);
  out->push_back(' ');
  out->append(ReasonPhrase(response.status));
  out->append("\r\nServer: ringloop\r\nDate: ");
  out->append(date);
  out->append("\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ");
  AppendPadded(static_cast<int64_t>(response.body.size()), 1, out);
  if (!response.allow.empty()) {
    out->append("\r\nAllow: ");
    out->append(response.allow);
  }
  switch (connection) {
    case ConnectionField::kNone:
      break;
    case ConnectionField::kKeepAlive:
      out->append("\r\nConnection: keep-alive");
      break;
    case ConnectionField::kClose:
      out->append("\r\nConnection: close");
      break;
  }
  out->append("\r\n\r\n");
  if (!head_request) out->append(response.body);
}

}  // namespace examples::http
