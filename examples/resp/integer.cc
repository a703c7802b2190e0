// examples/resp/integer.cc: canonical decimal int64 parsing and formatting.
#include "examples/resp/integer.h"

#include <charconv>
#include <limits>

namespace examples::resp {

bool ParseInt64(std::string_view text, int64_t* value) {
  if (text.empty() || text.size() > kMaxInt64Chars) return false;
  size_t i = 0;
  const bool negative = text[0] == '-';
  if (negative) {
    if (text.size() == 1) return false;
    i = 1;
  }
  if (text[i] == '0') {  // only "0" itself may start with a zero ("-0" may not)
    if (text.size() != 1) return false;
    *value = 0;
    return true;
  }
  constexpr uint64_t kLimit = uint64_t{1} << 63;  // the magnitude of INT64_MIN
  uint64_t magnitude = 0;
  for (; i < text.size(); ++i) {
    const unsigned digit = static_cast<unsigned char>(text[i]) - '0';
    if (digit > 9) return false;
    if (magnitude > (kLimit - digit) / 10) return false;  // magnitude * 10 + digit > kLimit
    magnitude = magnitude * 10 + digit;
  }
  if (negative) {
    // -(2^63) is representable; the conversion below wraps it exactly.
    *value = static_cast<int64_t>(0 - magnitude);
    return true;
  }
  if (magnitude > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
  *value = static_cast<int64_t>(magnitude);
  return true;
}

void AppendInt64(int64_t value, std::string* out) {
  char buf[kMaxInt64Chars];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  (void)ec;  // 20 characters always suffice
  out->append(buf, end);
}

}  // namespace examples::resp
