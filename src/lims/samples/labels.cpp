#include "lims/samples/labels.hpp"

#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <cairo.h>
#include <zint.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <new>
#include <stdexcept>
#include <string_view>

#include "platform/drawing.hpp"

namespace spectra::samples {
namespace {

// Cairo draws in points on every surface; the label's dimensions are in millimetres.
constexpr double kPointsPerMm = 72.0 / 25.4;
constexpr double kLabelWidthMm = 62, kLabelHeightMm = 29;
// A QR module of 0.5 mm reads from arm's length and leaves the width to the Code 128; smaller when the
// label is too low for it.
constexpr double kQrModuleMm = 0.5;
// A narrower bar than 0.125 mm (one dot of a 203 dpi printer) is beyond ordinary scanners: such a
// Code 128 is left out, and the QR code carries the barcode alone.
constexpr double kMinBarMm = 0.125;
// Quiet zones, in modules, that the two symbologies require around a symbol.
constexpr int kQrQuiet = 4, kBarQuiet = 10;
// At 600 dpi even the narrowest bar allowed is two whole pixels, which zbar and phone cameras read.
constexpr double kPngDpi = 600;

// Avery L7159 and its equivalents: 3 x 8 labels of 63.5 x 33.9 mm on A4.
constexpr double kPageWidthMm = 210, kPageHeightMm = 297;
constexpr double kCellWidthMm = 63.5, kCellHeightMm = 33.9;
constexpr double kSheetLeftMm = 7.2, kSheetTopMm = 12.9, kColumnPitchMm = 66.0;
constexpr int kColumns = 3, kRows = 8;

using drawing::advance;
using drawing::character_starts;
using drawing::Context;
using drawing::ellipsize;
using drawing::printable_utf8;
using drawing::Surface;
using drawing::Symbol;

// ---- Symbols

// The documented alphabet keeps the barcode free of ZPL's and Code 128's control characters.
bool is_barcode_character(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         std::string_view("._/:-").find(c) != std::string_view::npos;
}

void check_barcode(const std::string& barcode) {
  if (barcode.empty() || barcode.size() > 64 || !std::all_of(barcode.begin(), barcode.end(), is_barcode_character))
    throw std::invalid_argument("a label's barcode must be 1 to 64 of A-Z a-z 0-9 . _ / : -");
}

// Null when the data is too long for the symbology.
Symbol encode(int symbology, const std::string& data) {
  Symbol symbol{ZBarcode_Create()};
  if (!symbol) throw std::bad_alloc();
  symbol->symbology = symbology;
  symbol->show_hrt = 0;  // the label draws its own text
  if (symbology == BARCODE_QRCODE) symbol->option_1 = 2;  // level M: a scuffed tube label still reads
  const int status =
      ZBarcode_Encode(symbol.get(), reinterpret_cast<const unsigned char*>(data.data()), static_cast<int>(data.size()));
  if (status == ZINT_ERROR_TOO_LONG) return nullptr;
  if (status >= ZINT_ERROR) throw std::invalid_argument(symbol->errtxt);
  if (ZBarcode_Buffer_Vector(symbol.get(), 0) >= ZINT_ERROR) throw std::runtime_error(symbol->errtxt);
  return symbol;
}

struct Symbols {
  Symbol qr;
  Symbol bars;  // null when zint's Code 128 cannot hold the barcode (60 symbol characters)
};

Symbols encode_symbols(const std::string& barcode) {
  check_barcode(barcode);
  Symbols symbols{encode(BARCODE_QRCODE, barcode), encode(BARCODE_CODE128, barcode)};
  if (!symbols.qr) throw std::invalid_argument("the barcode is too long for a QR code");
  return symbols;
}

// ---- Text

struct Font {
  const char* family;
  cairo_font_weight_t weight;
  double size, min_size;  // shrinks towards min_size before it is ellipsized
};

// Draws one line of text whose top is at `top`; returns the line's bottom.
double draw_line(cairo_t* cr, const std::string& text, const Font& font, double x, double top, double max_width) {
  cairo_select_font_face(cr, font.family, CAIRO_FONT_SLANT_NORMAL, font.weight);
  cairo_set_font_size(cr, font.size);
  const double natural = advance(cr, text);
  if (natural > max_width) cairo_set_font_size(cr, std::max(font.min_size, font.size * max_width / natural));
  cairo_font_extents_t line;
  cairo_font_extents(cr, &line);
  cairo_move_to(cr, x, top + line.ascent);
  cairo_show_text(cr, ellipsize(cr, text, max_width).c_str());
  return top + line.ascent + line.descent;
}

// ---- Drawing

bool is_raster(cairo_t* cr) { return cairo_surface_get_type(cairo_get_target(cr)) == CAIRO_SURFACE_TYPE_IMAGE; }

// On a raster, every module must be the same whole number of pixels, or bars of one width come out
// in two and scanners misread them.
double snap_length(cairo_t* cr, double length) {
  if (!is_raster(cr)) return length;
  double dx = length, dy = 0;
  cairo_user_to_device_distance(cr, &dx, &dy);
  dx = std::max(1.0, std::floor(dx));
  cairo_device_to_user_distance(cr, &dx, &dy);
  return dx;
}

void snap_point(cairo_t* cr, double& x, double& y) {
  if (!is_raster(cr)) return;
  cairo_user_to_device(cr, &x, &y);
  x = std::round(x);
  y = std::round(y);
  cairo_device_to_user(cr, &x, &y);
}

// QR codes and Code 128 come out of zint as rectangles only (no hexagons, circles or strings with show_hrt off).
void draw_symbol(cairo_t* cr, const zint_symbol& symbol, double x, double y, double module, double height) {
  const zint_vector& vector = *symbol.vector;
  const double sx = module * symbol.width / vector.width, sy = height / vector.height;
  cairo_save(cr);
  cairo_set_antialias(cr, CAIRO_ANTIALIAS_NONE);
  for (const zint_vector_rect* r = vector.rectangles; r; r = r->next)
    cairo_rectangle(cr, x + r->x * sx, y + r->y * sy, r->width * sx, r->height * sy);
  cairo_fill(cr);
  cairo_restore(cr);
}

// Draws the QR code, quiet zone included, centred on the left of the box; returns its width.
double draw_qr(cairo_t* cr, const zint_symbol& qr, double x, double y, double h) {
  const int modules = qr.width + 2 * kQrQuiet;
  const double module = snap_length(cr, std::min(kQrModuleMm * kPointsPerMm, h / modules));
  double ox = x + kQrQuiet * module, oy = y + (h - modules * module) / 2 + kQrQuiet * module;
  snap_point(cr, ox, oy);
  draw_symbol(cr, qr, ox, oy, module, qr.rows * module);
  return modules * module;
}

void draw_bars(cairo_t* cr, const zint_symbol& bars, double x, double y, double w, double h) {
  const double fitting = w / (bars.width + 2 * kBarQuiet);
  if (fitting < kMinBarMm * kPointsPerMm) return;
  const double module = snap_length(cr, fitting);
  double ox = x + kBarQuiet * module, oy = y;
  snap_point(cr, ox, oy);
  draw_symbol(cr, bars, ox, oy, module, y + h - oy);
}

// QR on the left; on the right the name, the barcode as text, and the Code 128 below them.
void draw_label(cairo_t* cr, const LabelText& label, double x, double y, double w, double h) {
  const Symbols symbols = encode_symbols(label.barcode);
  const double pad = 0.05 * h;
  cairo_set_source_rgb(cr, 0, 0, 0);
  const double column = x + pad + draw_qr(cr, *symbols.qr, x + pad, y + pad, h - 2 * pad);
  const double column_width = x + w - pad - column;
  double top = draw_line(cr, printable_utf8(label.name), {"DejaVu Sans", CAIRO_FONT_WEIGHT_BOLD, 0.12 * h, 0.09 * h},
                         column, y + pad, column_width);
  top = draw_line(cr, label.barcode, {"DejaVu Sans Mono", CAIRO_FONT_WEIGHT_NORMAL, 0.10 * h, 0.06 * h}, column, top,
                  column_width);
  if (symbols.bars) draw_bars(cr, *symbols.bars, column, top + pad, column_width, y + h - pad - (top + pad));
}

// ---- Surfaces

cairo_status_t append(void* closure, const unsigned char* data, unsigned int length) noexcept {
  try {
    static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
    return CAIRO_STATUS_SUCCESS;
  } catch (...) {
    return CAIRO_STATUS_WRITE_ERROR;
  }
}

void check(cairo_status_t status) {
  if (status != CAIRO_STATUS_SUCCESS) throw std::runtime_error(cairo_status_to_string(status));
}

template <typename Draw>
void draw_on(cairo_surface_t* surface, Draw draw) {
  check(cairo_surface_status(surface));
  const Context cr{cairo_create(surface)};
  draw(cr.get());
  check(cairo_status(cr.get()));
}

// Finishing flushes a stream surface into its string.
void finish(cairo_surface_t* surface) {
  cairo_surface_finish(surface);
  check(cairo_surface_status(surface));
}

std::string render_svg(const LabelText& label) {
  std::string out;
  const Surface surface{cairo_svg_surface_create_for_stream(append, &out, kLabelWidthMm * kPointsPerMm,
                                                            kLabelHeightMm * kPointsPerMm)};
  draw_on(surface.get(), [&](cairo_t* cr) {
    cairo_set_source_rgb(cr, 1, 1, 1);  // quiet zones need contrast on a dark page too
    cairo_paint(cr);
    draw_label(cr, label, 0, 0, kLabelWidthMm * kPointsPerMm, kLabelHeightMm * kPointsPerMm);
  });
  finish(surface.get());
  return out;
}

// An A8 surface is written as an 8-bit grey PNG, which compresses in a third of the time of an RGB one:
// opaque is white, and ink clears it to black.
std::string render_png(const LabelText& label) {
  const double pixels_per_point = kPngDpi / 72;
  const Surface surface{cairo_image_surface_create(
      CAIRO_FORMAT_A8, static_cast<int>(std::lround(kLabelWidthMm * kPointsPerMm * pixels_per_point)),
      static_cast<int>(std::lround(kLabelHeightMm * kPointsPerMm * pixels_per_point)))};
  draw_on(surface.get(), [&](cairo_t* cr) {
    cairo_scale(cr, pixels_per_point, pixels_per_point);
    cairo_paint(cr);
    cairo_set_operator(cr, CAIRO_OPERATOR_CLEAR);
    draw_label(cr, label, 0, 0, kLabelWidthMm * kPointsPerMm, kLabelHeightMm * kPointsPerMm);
  });
  std::string out;
  check(cairo_surface_write_to_png_stream(surface.get(), append, &out));
  return out;
}

void draw_sheet(cairo_t* cr, const std::vector<LabelText>& labels) {
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const std::size_t cell = i % (kColumns * kRows);
    if (i > 0 && cell == 0) cairo_show_page(cr);
    const double x = kSheetLeftMm + static_cast<double>(cell % kColumns) * kColumnPitchMm;
    const double y = kSheetTopMm + static_cast<double>(cell / kColumns) * kCellHeightMm;
    draw_label(cr, labels[i], x * kPointsPerMm, y * kPointsPerMm, kCellWidthMm * kPointsPerMm,
               kCellHeightMm * kPointsPerMm);
  }
}

// ---- ZPL

// ZPL is laid out in dots of a 203 dpi printer (8 dots a millimetre), the common Zebra resolution.
constexpr int kDotsPerMm = 8;
constexpr int kZplWidth = 496, kZplHeight = 232, kZplPad = 12;  // 62 x 29 mm
constexpr int kNameDots = 28, kCodeDots = 22, kLineGap = 6;
constexpr int kQrDots = static_cast<int>(kQrModuleMm * kDotsPerMm);

// Field data for ^FH: ^ and ~ would start commands and _ starts an escape, so these three go as hex.
std::string zpl_field(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    if (c == '^' || c == '~' || c == '_')
      out.append({'_', kHex[(c >> 4) & 0xF], kHex[c & 0xF]});
    else
      out += c;
  }
  return out;
}

// The printer's font 0 cannot be measured here; 0.6 of the height is a generous average advance.
std::string zpl_fit(const std::string& text, int width, int height) {
  const std::size_t budget = std::max(4, width * 10 / (6 * height));
  const std::vector<std::size_t> starts = character_starts(text);
  return starts.size() <= budget ? text : text.substr(0, starts[budget - 3]) + "...";
}

std::string zpl_origin(int x, int y) { return "^FO" + std::to_string(x) + "," + std::to_string(y); }

std::string zpl_text(int x, int y, int height, int width, const std::string& text) {
  const std::string h = std::to_string(height);
  return zpl_origin(x, y) + "^A0N," + h + "," + h + "^FH^FD" + zpl_field(zpl_fit(text, width, height)) + "^FS\n";
}

void append_zpl_label(std::string& out, const LabelText& label) {
  const Symbols symbols = encode_symbols(label.barcode);
  const std::string data = zpl_field(label.barcode);
  const int qr_modules = symbols.qr->width + 2 * kQrQuiet;
  const int magnification = std::clamp((kZplHeight - 2 * kZplPad) / qr_modules, 1, kQrDots);
  const int qr_side = qr_modules * magnification, quiet = kQrQuiet * magnification;
  const int x = kZplPad + qr_side, width = kZplWidth - kZplPad - x;
  out += "^XA^CI28^PW" + std::to_string(kZplWidth) + "^LL" + std::to_string(kZplHeight) + "\n";
  out += zpl_origin(kZplPad + quiet, (kZplHeight - qr_side) / 2 + quiet) + "^BQN,2," + std::to_string(magnification) +
         "^FH^FDMA," + data + "^FS\n";
  const int code_top = kZplPad + kNameDots + kLineGap, bars_top = code_top + kCodeDots + kZplPad;
  out += zpl_text(x, kZplPad, kNameDots, width, printable_utf8(label.name));
  out += zpl_text(x, code_top, kCodeDots, width, label.barcode);
  const int module = symbols.bars ? std::min(10, width / (symbols.bars->width + 2 * kBarQuiet)) : 0;
  if (module >= 1)
    out += zpl_origin(x + kBarQuiet * module, bars_top) + "^BY" + std::to_string(module) + "^BCN," +
           std::to_string(kZplHeight - kZplPad - bars_top) + ",N,N,N,A^FH^FD" + data + "^FS\n";
  out += "^XZ\n";
}

}  // namespace

std::string render_label(const LabelText& label, LabelFormat format) {
  switch (format) {
    case LabelFormat::svg:
      return render_svg(label);
    case LabelFormat::png:
      return render_png(label);
    case LabelFormat::zpl:
      return render_zpl({label});
  }
  throw std::invalid_argument("unknown label format");
}

std::string render_sheet_pdf(const std::vector<LabelText>& labels) {
  std::string out;
  const Surface surface{
      cairo_pdf_surface_create_for_stream(append, &out, kPageWidthMm * kPointsPerMm, kPageHeightMm * kPointsPerMm)};
  // PDF 1.4 has no object streams: the page tree stays plain for old print drivers and simple tools.
  cairo_pdf_surface_restrict_to_version(surface.get(), CAIRO_PDF_VERSION_1_4);
  draw_on(surface.get(), [&](cairo_t* cr) { draw_sheet(cr, labels); });
  finish(surface.get());
  return out;
}

std::string render_zpl(const std::vector<LabelText>& labels) {
  std::string out;
  for (const LabelText& label : labels) append_zpl_label(out, label);
  return out;
}

const char* content_type(LabelFormat format) {
  switch (format) {
    case LabelFormat::svg:
      return "image/svg+xml";
    case LabelFormat::png:
      return "image/png";
    case LabelFormat::zpl:
      return "text/plain; charset=utf-8";
  }
  return "application/octet-stream";
}

}  // namespace spectra::samples
