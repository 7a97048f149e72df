#pragma once
// What every printed document shares (labels, certificates): owners of cairo's and zint's objects, and
// text as cairo can draw it. Pure: no I/O.
#include <cairo.h>
#include <zint.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace spectra::drawing {

struct SymbolDeleter {
  void operator()(zint_symbol* s) const { ZBarcode_Delete(s); }
};
using Symbol = std::unique_ptr<zint_symbol, SymbolDeleter>;

struct CairoDeleter {
  void operator()(cairo_t* cr) const { cairo_destroy(cr); }
  void operator()(cairo_surface_t* s) const { cairo_surface_destroy(s); }
};
using Surface = std::unique_ptr<cairo_surface_t, CairoDeleter>;
using Context = std::unique_ptr<cairo_t, CairoDeleter>;

inline constexpr std::string_view ellipsis = "\u2026";

// Cairo refuses a whole string for one malformed byte or one noncharacter, and control characters have
// no glyph: those become U+FFFD and spaces.
std::string printable_utf8(std::string_view text);
// Byte offsets at which the characters of valid UTF-8 text begin.
std::vector<std::size_t> character_starts(std::string_view text);
// The width the text advances with the current font.
double advance(cairo_t* cr, const std::string& text);
// The byte length of the longest prefix of `text` (valid UTF-8) that fits in `max_width` followed by
// `suffix`, cut between characters (0 when not even one character fits).
std::size_t fitting_prefix(cairo_t* cr, const std::string& text, double max_width, std::string_view suffix = {});
// The text, or its longest prefix that fits in `max_width` with an ellipsis, cut between characters
// (trailing spaces dropped). `text` is valid UTF-8 (printable_utf8).
std::string ellipsize(cairo_t* cr, const std::string& text, double max_width);

}  // namespace spectra::drawing
