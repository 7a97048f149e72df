#pragma once
// Text written into XML (the SVG of wafer maps, G85 maps), the one way: what XML 1.0 cannot carry even
// escaped (control characters other than TAB, LF and CR, U+FFFE, U+FFFF) and bytes that are not UTF-8
// become U+FFFD, so that no name, label or code from a user can make a document ill-formed.
#include <string>
#include <string_view>

#include "platform/utf8.hpp"

namespace spectra::xml {

enum class Escape {
  cdata,      // inside a CDATA section: nothing escaped (the caller splits "]]>")
  text,       // character data: & < > " ' as entities
  attribute,  // an attribute value: also TAB, LF and CR as character references (normalisation keeps them)
};

inline void append_text(std::string& out, std::string_view text, Escape how) {
  constexpr std::string_view replacement = "\xEF\xBF\xBD";
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      ++i;
      if (how != Escape::cdata) {
        switch (c) {
          case '&': out += "&amp;"; continue;
          case '<': out += "&lt;"; continue;
          case '>': out += "&gt;"; continue;
          case '"': out += "&quot;"; continue;
          case '\'': out += "&apos;"; continue;
          default: break;
        }
      }
      if (how == Escape::attribute) {
        switch (c) {
          case '\t': out += "&#9;"; continue;
          case '\n': out += "&#10;"; continue;
          case '\r': out += "&#13;"; continue;
          default: break;
        }
      }
      if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') out += replacement;
      else out += static_cast<char>(c);
      continue;
    }
    const auto length = utf8::sequence_length(text, i);
    const auto sequence = text.substr(i, length);
    if (length == 0 || sequence == "\xEF\xBF\xBE" || sequence == "\xEF\xBF\xBF") {
      out += replacement;
      i += length == 0 ? 1 : length;
      continue;
    }
    out += sequence;
    i += length;
  }
}

}  // namespace spectra::xml
