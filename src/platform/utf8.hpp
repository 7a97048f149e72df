#pragma once
// UTF-8 as RFC 3629 defines it: the one check of the codebase (readers of CSV, G85 and uploads, the
// escaping of drawings and SVG). The narrowed second-byte ranges rule out overlong forms, surrogates
// and code points above U+10FFFF.
#include <cstddef>
#include <string_view>

namespace spectra::utf8 {

// The length (1 to 4) of the well-formed sequence at s[i], or 0 (i < s.size()).
inline std::size_t sequence_length(std::string_view s, std::size_t i) noexcept {
  const auto b = static_cast<unsigned char>(s[i]);
  std::size_t length = 0;
  unsigned char low = 0x80, high = 0xBF;
  if (b < 0x80) return 1;
  if (b >= 0xC2 && b <= 0xDF) length = 2;
  else if (b == 0xE0) length = 3, low = 0xA0;
  else if (b == 0xED) length = 3, high = 0x9F;
  else if (b >= 0xE1 && b <= 0xEF) length = 3;
  else if (b == 0xF0) length = 4, low = 0x90;
  else if (b >= 0xF1 && b <= 0xF3) length = 4;
  else if (b == 0xF4) length = 4, high = 0x8F;
  else return 0;
  if (s.size() - i < length) return 0;
  const auto second = static_cast<unsigned char>(s[i + 1]);
  if (second < low || second > high) return 0;
  for (std::size_t k = 2; k < length; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  return length;
}

// The code point of the well-formed sequence of `length` bytes at s[i].
inline char32_t decode(std::string_view s, std::size_t i, std::size_t length) noexcept {
  const auto b = static_cast<unsigned char>(s[i]);
  char32_t code_point = length == 1 ? b : b & (0x7F >> length);
  for (std::size_t k = 1; k < length; ++k) code_point = code_point << 6 | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  return code_point;
}

// Unicode's 66 noncharacters (U+FDD0..U+FDEF and the last two code points of every plane): valid
// UTF-8, but cairo refuses a string that holds one.
inline bool is_noncharacter(char32_t c) noexcept { return (c >= 0xFDD0 && c <= 0xFDEF) || (c & 0xFFFE) == 0xFFFE; }

// The offset of the first byte that does not begin a well-formed sequence, or npos.
inline std::size_t first_invalid(std::string_view s) noexcept {
  for (std::size_t i = 0; i < s.size();) {
    const auto length = sequence_length(s, i);
    if (length == 0) return i;
    i += length;
  }
  return std::string_view::npos;
}

}  // namespace spectra::utf8
