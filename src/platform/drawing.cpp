#include "platform/drawing.hpp"

#include <algorithm>
#include <vector>

#include "platform/utf8.hpp"

namespace spectra::drawing {

std::vector<std::size_t> character_starts(std::string_view text) {
  std::vector<std::size_t> starts;
  for (std::size_t i = 0; i < text.size(); ++i)
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) starts.push_back(i);
  return starts;
}

std::string printable_utf8(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t n = utf8::sequence_length(text, i);
    const auto c = static_cast<unsigned char>(text[i]);
    if (n == 0 || utf8::is_noncharacter(utf8::decode(text, i, n)))
      out += "\uFFFD";
    else if (n == 1 && (c < 0x20 || c == 0x7F))
      out += ' ';
    else
      out.append(text.substr(i, n));
    i += std::max<std::size_t>(n, 1);
  }
  return out;
}

double advance(cairo_t* cr, const std::string& text) {
  cairo_text_extents_t extents;
  cairo_text_extents(cr, text.c_str(), &extents);
  return extents.x_advance;
}

std::size_t fitting_prefix(cairo_t* cr, const std::string& text, double max_width, std::string_view suffix) {
  std::vector<std::size_t> cuts = character_starts(text);
  cuts.erase(cuts.begin());  // (0: the empty prefix)
  cuts.push_back(text.size());
  const auto fits = [&](std::size_t cut) { return advance(cr, text.substr(0, cut).append(suffix)) <= max_width; };
  const auto first_too_long = std::partition_point(cuts.begin(), cuts.end(), fits);
  return first_too_long == cuts.begin() ? 0 : *(first_too_long - 1);
}

std::string ellipsize(cairo_t* cr, const std::string& text, double max_width) {
  if (advance(cr, text) <= max_width) return text;
  std::string head = text.substr(0, fitting_prefix(cr, text, max_width, ellipsis));
  while (!head.empty() && head.back() == ' ') head.pop_back();
  return head.append(ellipsis);
}

}  // namespace spectra::drawing
