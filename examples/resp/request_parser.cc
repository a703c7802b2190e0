// examples/resp/request_parser.cc: the multibulk and inline request grammars.
#include "examples/resp/request_parser.h"

#include <cstring>

#include "examples/resp/integer.h"
#include "ringloop/core/check.h"

namespace examples::resp {
namespace {

// IsBlank: C's isspace() in the C locale, which Redis uses to skip blanks between
// inline arguments and to check what follows a closing quote.
bool IsBlank(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// EndsToken: the bytes that end an unquoted inline argument (not \v or \f).
bool EndsToken(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Unescape: the byte a backslash escape inside double quotes stands for.
char Unescape(char c) {
  switch (c) {
    case 'n':
      return '\n';
    case 'r':
      return '\r';
    case 't':
      return '\t';
    case 'b':
      return '\b';
    case 'a':
      return '\a';
    default:
      return c;  // \\ and \" and anything else: the byte itself
  }
}

// QuotedArgument: appends the argument whose opening `quote` is at line[*i - 1] to
// *storage and moves *i past its closing quote; false if the quote is unbalanced
// (no closing quote, or one followed by something other than a blank).
bool QuotedArgument(std::string_view line, char quote, size_t* i, std::string* storage) {
  const size_t n = line.size();
  while (*i < n) {
    const char c = line[*i];
    if (c == quote) {
      if (*i + 1 < n && !IsBlank(line[*i + 1])) return false;
      ++*i;
      return true;
    }
    if (c == '\\' && quote == '"') {
      if (*i + 3 < n && line[*i + 1] == 'x' && HexValue(line[*i + 2]) >= 0 &&
          HexValue(line[*i + 3]) >= 0) {
        storage->push_back(static_cast<char>(HexValue(line[*i + 2]) * 16 + HexValue(line[*i + 3])));
        *i += 4;
        continue;
      }
      if (*i + 1 < n) {
        storage->push_back(Unescape(line[*i + 1]));
        *i += 2;
        continue;
      }
    } else if (c == '\\' && *i + 1 < n && line[*i + 1] == '\'') {  // \' in single quotes
      storage->push_back('\'');
      *i += 2;
      continue;
    }
    storage->push_back(c);
    ++*i;
  }
  return false;  // the line ended inside the quotes
}

// SplitInline: the arguments of an inline `line` (CR LF removed), as spans of
// *storage; false on unbalanced quotes. Quotes may start mid-argument (a"b" is ab), as
// in Redis. A NUL byte is an ordinary byte here (Redis's C-string scan stops at it).
bool SplitInline(std::string_view line, std::string* storage,
                 std::vector<std::pair<size_t, size_t>>* spans) {
  storage->clear();
  spans->clear();
  const size_t n = line.size();
  size_t i = 0;
  for (;;) {
    while (i < n && IsBlank(line[i])) ++i;
    if (i == n) return true;
    const size_t start = storage->size();
    while (i < n) {
      const char c = line[i++];
      if (EndsToken(c)) break;
      if (c == '"' || c == '\'') {
        if (!QuotedArgument(line, c, &i, storage)) return false;
        break;  // a closing quote ends the argument
      }
      storage->push_back(c);
    }
    spans->emplace_back(start, storage->size() - start);
  }
}

}  // namespace

RequestParser::RequestParser(const ParserLimits& limits) : limits_(limits) {
  RL_CHECK(limits_.max_line_bytes > 0);
  RL_CHECK(limits_.max_args > 0);
}

ParseResult RequestParser::Parse(std::string_view input) {
  args_.clear();
  if (input.empty()) return {ParseStatus::kIncomplete};
  // The first byte decides; a multibulk request in progress still starts with '*'.
  if (input[0] == '*') return ParseMultibulk(input);
  RL_CHECK(args_expected_ == 0);
  return ParseInline(input);
}

RequestParser::LineStatus RequestParser::FindLineEnd(std::string_view input, size_t start,
                                                     char terminator, size_t* end) {
  RL_CHECK(start <= input.size());
  // The terminator may sit at most max_line_bytes after the line's first byte.
  const size_t limit = start + limits_.max_line_bytes + 1;
  const size_t stop = std::min(input.size(), limit);
  const size_t from = start + scanned_;
  if (from < stop) {
    const void* hit = std::memchr(input.data() + from, terminator, stop - from);
    if (hit != nullptr) {
      *end = static_cast<size_t>(static_cast<const char*>(hit) - input.data());
      scanned_ = *end - start;  // a resumed search finds it again at once
      return LineStatus::kFound;
    }
  }
  scanned_ = std::max(from, stop) - start;
  return input.size() >= limit ? LineStatus::kTooLong : LineStatus::kIncomplete;
}

ParseResult RequestParser::ParseMultibulk(std::string_view input) {
  size_t end = 0;
  if (args_expected_ == 0) {
    switch (FindLineEnd(input, 0, '\r', &end)) {
      case LineStatus::kIncomplete:
        return {ParseStatus::kIncomplete};
      case LineStatus::kTooLong:
        return Fail("Protocol error: too big mbulk count string");
      case LineStatus::kFound:
        break;
    }
    if (end + 1 >= input.size()) return {ParseStatus::kIncomplete};  // the byte after '\r'
    int64_t count = 0;
    if (!ParseInt64(input.substr(1, end - 1), &count) ||
        (count > 0 && static_cast<uint64_t>(count) > limits_.max_args)) {
      return Fail("Protocol error: invalid multibulk length");
    }
    pos_ = end + 2;
    scanned_ = 0;
    if (count <= 0) return Complete({}, pos_);  // "*0", "*-1": an empty request
    args_expected_ = count;
  }
  while (spans_.size() < static_cast<size_t>(args_expected_)) {
    if (bulk_len_ < 0) {
      switch (FindLineEnd(input, pos_, '\r', &end)) {
        case LineStatus::kIncomplete:
          return {ParseStatus::kIncomplete};
        case LineStatus::kTooLong:
          return Fail("Protocol error: too big bulk count string");
        case LineStatus::kFound:
          break;
      }
      if (end + 1 >= input.size()) return {ParseStatus::kIncomplete};
      if (input[pos_] != '$') {
        return Fail(std::string("Protocol error: expected '$', got '") + input[pos_] + "'");
      }
      int64_t length = 0;
      if (!ParseInt64(input.substr(pos_ + 1, end - pos_ - 1), &length) || length < 0 ||
          static_cast<uint64_t>(length) > limits_.max_bulk_bytes) {
        return Fail("Protocol error: invalid bulk length");
      }
      pos_ = end + 2;
      scanned_ = 0;
      if (pos_ + static_cast<size_t>(length) + 2 > limits_.max_request_bytes) return TooLarge();
      bulk_len_ = length;
    }
    const size_t need = static_cast<size_t>(bulk_len_) + 2;  // the payload and its CR LF
    if (input.size() - pos_ < need) return {ParseStatus::kIncomplete};
    spans_.emplace_back(pos_, static_cast<size_t>(bulk_len_));
    pos_ += need;
    bulk_len_ = -1;
  }
  return Complete(input, pos_);
}

ParseResult RequestParser::ParseInline(std::string_view input) {
  size_t end = 0;
  switch (FindLineEnd(input, 0, '\n', &end)) {
    case LineStatus::kIncomplete:
      return {ParseStatus::kIncomplete};
    case LineStatus::kTooLong:
      return Fail("Protocol error: too big inline request");
    case LineStatus::kFound:
      break;
  }
  size_t length = end;
  if (length > 0 && input[length - 1] == '\r') --length;
  if (!SplitInline(input.substr(0, length), &inline_storage_, &spans_)) {
    return Fail("Protocol error: unbalanced quotes in request");
  }
  return Complete(inline_storage_, end + 1);
}

ParseResult RequestParser::Complete(std::string_view base, size_t consumed) {
  args_.clear();
  for (const auto& [offset, length] : spans_) args_.push_back(base.substr(offset, length));
  Reset();
  return {ParseStatus::kRequest, consumed};
}

ParseResult RequestParser::Fail(std::string_view message) {
  error_.assign(message);
  Reset();
  return {ParseStatus::kProtocolError};
}

ParseResult RequestParser::TooLarge() {
  Reset();
  return {ParseStatus::kRequestTooLarge};
}

void RequestParser::Reset() {
  pos_ = 0;
  scanned_ = 0;
  args_expected_ = 0;
  bulk_len_ = -1;
  spans_.clear();
}

}  // namespace examples::resp
