// examples/http/request_parser.cc: request-line and header-field grammar (RFC 9112,
// RFC 9110 section 5).
#include "examples/http/request_parser.h"

#include <cstring>

#include "examples/common/ascii.h"
#include "ringloop/core/check.h"

namespace examples::http {
namespace {

constexpr size_t kNpos = std::string_view::npos;

// IsTchar: a byte of a token (method, field name): RFC 9110 section 5.6.2.
bool IsTchar(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return c != '\0' && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!IsTchar(c)) return false;
  }
  return true;
}

// IsFieldByte: a byte allowed in a field value: HTAB, SP, VCHAR, obs-text; no other
// control character (a bare CR included).
bool IsFieldByte(char c) {
  const unsigned char u = static_cast<unsigned char>(c);
  return u == '\t' || (u >= 0x20 && u != 0x7f);
}

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool StartsWithLowered(std::string_view text, std::string_view lower) {
  return text.size() >= lower.size() && EqualsLowered(text.substr(0, lower.size()), lower);
}

// PathOf: where the path of a request target starts and how long it is; false if the
// target has no form this server takes. An absolute-form target without a path has
// the path "/": *start is then npos.
bool PathOf(std::string_view target, size_t* start, size_t* length) {
  *start = 0;
  if (target == "*") {
    *length = 1;
    return true;
  }
  if (target.front() != '/') {  // absolute form: scheme "://" authority [path]
    size_t scheme = 0;
    if (StartsWithLowered(target, "http://")) {
      scheme = 7;
    } else if (StartsWithLowered(target, "https://")) {
      scheme = 8;
    } else {
      return false;
    }
    const size_t slash = target.find_first_of("/?", scheme);
    if (slash == scheme) return false;  // no authority
    if (slash == kNpos || target[slash] == '?') {
      *start = kNpos;
      *length = 1;
      return true;
    }
    *start = slash;
  }
  const size_t query = target.find('?', *start);
  *length = (query == kNpos ? target.size() : query) - *start;
  return true;
}

// ParseContentLength: 1*DIGIT, saturated just above `max`.
bool ParseContentLength(std::string_view value, uint64_t max, uint64_t* length) {
  if (value.empty()) return false;
  uint64_t n = 0;
  for (char c : value) {
    if (c < '0' || c > '9') return false;
    if (n <= max) n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  *length = n;
  return true;
}

}  // namespace

RequestParser::RequestParser(const ParserLimits& limits) : limits_(limits) {
  RL_CHECK(limits_.max_request_line_bytes + 2 <= limits_.max_head_bytes);
}

ParseResult RequestParser::Parse(std::string_view input) {
  if (field_start_ == 0 && scan_ == 0) {  // nothing of this request seen yet
    error_is_head_ = false;
    if (input.empty()) return {ParseStatus::kIncomplete};
    if (input[0] == '\n') return {ParseStatus::kEmptyLine, 1};
    if (input[0] == '\r') {
      if (input.size() < 2) return {ParseStatus::kIncomplete};
      if (input[1] == '\n') return {ParseStatus::kEmptyLine, 2};
    }
  }
  if (field_start_ == 0) {
    const size_t limit = limits_.max_request_line_bytes + 2;  // the line, CR and LF
    const size_t lf = FindLf(input, limit);
    if (lf == kNpos) {
      return input.size() >= limit ? Fail(414) : ParseResult{ParseStatus::kIncomplete};
    }
    size_t length = lf;
    if (length > 0 && input[length - 1] == '\r') --length;
    if (length > limits_.max_request_line_bytes) return Fail(414);
    if (!ParseRequestLine(input.substr(0, length))) return Fail(error_status_);
    field_start_ = line_start_ = scan_ = lf + 1;
  }
  size_t head_end = 0;
  for (;;) {  // find the empty line that ends the head
    const size_t lf = FindLf(input, limits_.max_head_bytes);
    if (lf == kNpos) {
      return input.size() >= limits_.max_head_bytes ? Fail(431)
                                                    : ParseResult{ParseStatus::kIncomplete};
    }
    size_t length = lf - line_start_;
    if (length > 0 && input[lf - 1] == '\r') --length;
    line_start_ = scan_ = lf + 1;
    if (length == 0) {
      head_end = lf + 1;
      break;
    }
    ++field_lines_;
  }
  if (field_lines_ > limits_.max_header_fields) return Fail(431);
  const int status = ParseFields(input, head_end);
  if (status != 0) return Fail(status);
  request_.method = input.substr(method_.offset, method_.length);
  request_.target = input.substr(target_.offset, target_.length);
  request_.path = root_path_ ? std::string_view("/") : input.substr(path_.offset, path_.length);
  Reset();
  return {ParseStatus::kRequest, head_end};
}

size_t RequestParser::FindLf(std::string_view input, size_t limit) {
  const size_t stop = std::min(input.size(), limit);
  if (scan_ >= stop) return kNpos;
  const void* hit = std::memchr(input.data() + scan_, '\n', stop - scan_);
  if (hit == nullptr) {
    scan_ = stop;
    return kNpos;
  }
  return static_cast<size_t>(static_cast<const char*>(hit) - input.data());
}

bool RequestParser::ParseRequestLine(std::string_view line) {
  error_status_ = 400;
  const size_t sp1 = line.find(' ');
  if (sp1 == kNpos) return false;
  const std::string_view method = line.substr(0, sp1);
  if (!IsToken(method)) return false;
  request_ = Request{};
  method_ = {0, sp1};
  error_is_head_ = method == "HEAD";  // from here on, an error answer has no body
  const size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == kNpos) return false;
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (target.empty()) return false;
  for (char c : target) {
    if (c <= ' ' || c >= '\x7f') return false;  // visible ASCII only (char may be signed)
  }
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' ||
      version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9') {
    return false;
  }
  if (version[5] != '1') {
    error_status_ = 505;
    return false;
  }
  size_t path_start = 0, path_length = 0;
  if (!PathOf(target, &path_start, &path_length)) return false;
  target_ = {sp1 + 1, target.size()};
  root_path_ = path_start == kNpos;
  path_ = {root_path_ ? 0 : target_.offset + path_start, path_length};
  request_.minor_version = version[7] == '0' ? 0 : 1;
  error_status_ = 0;
  return true;
}

int RequestParser::ParseFields(std::string_view input, size_t head_end) {
  int hosts = 0;
  bool have_length = false, chunked = false, close = false, keep_alive = false;
  bool expect_other = false;
  uint64_t length = 0;
  for (size_t pos = field_start_; pos < head_end;) {
    const size_t lf = input.find('\n', pos);
    RL_CHECK(lf != kNpos && lf < head_end);
    std::string_view line = input.substr(pos, lf - pos);
    pos = lf + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;                            // the head's end
    if (line[0] == ' ' || line[0] == '\t') return 400;  // obs-fold
    const size_t colon = line.find(':');
    if (colon == kNpos) return 400;
    const std::string_view name = line.substr(0, colon);  // no space before the colon
    if (!IsToken(name)) return 400;
    for (char c : line.substr(colon + 1)) {
      if (!IsFieldByte(c)) return 400;
    }
    const std::string_view value = TrimOws(line.substr(colon + 1));
    if (EqualsLowered(name, "content-length")) {
      uint64_t n = 0;
      if (!ParseContentLength(value, limits_.max_body_bytes, &n)) return 400;
      if (have_length && n != length) return 400;  // conflicting lengths
      have_length = true;
      length = n;
    } else if (EqualsLowered(name, "transfer-encoding")) {
      chunked = true;
    } else if (EqualsLowered(name, "host")) {
      ++hosts;
    } else if (EqualsLowered(name, "connection")) {
      for (std::string_view rest = value; !rest.empty();) {
        const size_t comma = rest.find(',');
        const std::string_view option = TrimOws(rest.substr(0, comma));
        close |= EqualsLowered(option, "close");
        keep_alive |= EqualsLowered(option, "keep-alive");
        rest = comma == kNpos ? std::string_view() : rest.substr(comma + 1);
      }
    } else if (EqualsLowered(name, "expect")) {
      if (EqualsLowered(value, "100-continue")) {
        request_.expect_continue = true;
      } else {
        expect_other = true;
      }
    }
  }
  if (hosts > 1 || (request_.minor_version >= 1 && hosts == 0)) return 400;
  if (chunked) return 501;
  if (length > limits_.max_body_bytes) return 413;
  if (expect_other) return 417;
  request_.content_length = length;
  request_.keep_alive = request_.minor_version == 0 ? keep_alive && !close : !close;
  return 0;
}

ParseResult RequestParser::Fail(int status) {
  RL_CHECK(status >= 400 && status <= 599);
  error_status_ = status;
  Reset();
  return {ParseStatus::kError};
}

void RequestParser::Reset() {
  scan_ = 0;
  line_start_ = 0;
  field_start_ = 0;
  field_lines_ = 0;
}

}  // namespace examples::http
