// examples/resp/integer.h: Redis's integer syntax, for arguments and stored values.
//
// Redis takes an integer (INCRBY's increment, EX's seconds, the value INCR reads) only
// in canonical decimal form: an optional '-', then digits with no leading zero ("0"
// alone is fine), nothing else, within int64. So "+1", " 1", "01", "-0", "1.0" and
// "9223372036854775808" are not integers, and INCR on such a value is an error.
#ifndef EXAMPLES_RESP_INTEGER_H_
#define EXAMPLES_RESP_INTEGER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace examples::resp {

// kMaxInt64Chars: the length of the longest canonical form, "-9223372036854775808".
inline constexpr size_t kMaxInt64Chars = 20;

// ParseInt64: `text` as a canonical decimal int64 into *value; false if it is not one.
[[nodiscard]] bool ParseInt64(std::string_view text, int64_t* value);

// AppendInt64: appends the canonical decimal form of `value` to *out.
void AppendInt64(int64_t value, std::string* out);

}  // namespace examples::resp

#endif  // EXAMPLES_RESP_INTEGER_H_
