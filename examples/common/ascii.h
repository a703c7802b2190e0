// examples/common/ascii.h: ASCII case folding for protocol keywords.
//
// Protocol keywords (Redis command names, HTTP field names and tokens) compare without
// regard to ASCII case and with no locale: only 'A'..'Z' fold.
#ifndef EXAMPLES_COMMON_ASCII_H_
#define EXAMPLES_COMMON_ASCII_H_

#include <cstddef>
#include <string_view>

namespace examples {

// AsciiLower: `c` with 'A'..'Z' folded to 'a'..'z'.
constexpr char AsciiLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

// AsciiUpper: `c` with 'a'..'z' folded to 'A'..'Z'.
constexpr char AsciiUpper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c; }

// EqualsLowered: whether `text` equals `lower` (a lower-case keyword) ignoring ASCII case.
constexpr bool EqualsLowered(std::string_view text, std::string_view lower) {
  if (text.size() != lower.size()) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    if (AsciiLower(text[i]) != lower[i]) return false;
  }
  return true;
}

}  // namespace examples

#endif  // EXAMPLES_COMMON_ASCII_H_
