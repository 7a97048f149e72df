#include "lims/quality/certificate_pdf.hpp"

#include <cairo-pdf.h>
#include <cairo.h>
#include <zint.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <initializer_list>
#include <memory>
#include <new>
#include <span>
#include <stdexcept>
#include <string_view>

#include "lims/quality/rules.hpp"
#include "platform/drawing.hpp"

namespace spectra::quality {
namespace {

// Cairo draws in points; the page is laid out in millimetres.
constexpr double kPointsPerMm = 72.0 / 25.4;
constexpr double kPageWidth = 210 * kPointsPerMm, kPageHeight = 297 * kPointsPerMm;  // A4
constexpr double kMargin = 15 * kPointsPerMm, kWidth = kPageWidth - 2 * kMargin;
constexpr double kFooterRule = kPageHeight - kMargin - 12, kTableBottom = kFooterRule - 6;
constexpr double kCellPad = 3;
// A result takes three lines: the metric with its value, limits and evaluation; where and when it was
// measured; the calibration and specification behind it. The column titles take one row of the same height.
constexpr double kRowHeight = 34;
// The first page: organization, title and certificate id, then facts on the left and the QR code with
// the verify URL on the right.
constexpr double kTitleBlock = 64, kFactLine = 12, kFactKey = 80;
constexpr std::size_t kFacts = 6, kMaxPropertyRows = 12;  // two properties a row; more are counted, not drawn
constexpr double kQrColumn = 150, kQrBox = 36 * kPointsPerMm, kQrMaxModule = 0.7 * kPointsPerMm;
constexpr int kQrQuiet = 4;
constexpr std::size_t kVerifyLines = 4;
constexpr double kVerifyLine = 9, kQrBlock = kQrBox + 4 + kVerifyLines * kVerifyLine;
constexpr double kNextTableTop = kMargin + 24;  // below the short header of the later pages
constexpr std::string_view kDash = "\u2014";

struct Font {
  const char* family;
  cairo_font_weight_t weight;
  double size;
};
constexpr Font kBody{"DejaVu Sans", CAIRO_FONT_WEIGHT_NORMAL, 8.5}, kBold{"DejaVu Sans", CAIRO_FONT_WEIGHT_BOLD, 8.5};
constexpr Font kSmall{"DejaVu Sans", CAIRO_FONT_WEIGHT_NORMAL, 7},
    kMono{"DejaVu Sans Mono", CAIRO_FONT_WEIGHT_NORMAL, 7};

struct Column {
  std::string_view title;
  double share;  // of the page's width
  bool numeric = false;
};
constexpr Column kResultColumns[] = {{"Metric", 0.30},     {"Value", 0.12, true},   {"Unit", 0.08},
                                     {"LSL", 0.095, true}, {"Target", 0.095, true}, {"USL", 0.095, true},
                                     {"LOD", 0.085, true}, {"Evaluation", 0.13}};
constexpr Column kTraceColumns[] = {{"Run", 0.40}, {"Measured at", 0.27}, {"Instrument", 0.33}};
constexpr Column kBackingColumns[] = {{"Calibration", 0.58}, {"Specification", 0.42}};

using drawing::advance;
using drawing::Context;
using drawing::ellipsize;
using drawing::fitting_prefix;
using drawing::printable_utf8;
using drawing::Surface;
using drawing::Symbol;

void use(cairo_t* cr, const Font& font) {
  cairo_select_font_face(cr, font.family, CAIRO_FONT_SLANT_NORMAL, font.weight);
  cairo_set_font_size(cr, font.size);
}

enum class Align { left, right };

// One line of text on a baseline, cut with an ellipsis to the width.
void show(cairo_t* cr, std::string_view text, const Font& font, double x, double baseline, double width,
          Align align = Align::left) {
  use(cr, font);
  const std::string line = ellipsize(cr, printable_utf8(text), width);
  cairo_move_to(cr, align == Align::right ? x + width - advance(cr, line) : x, baseline);
  cairo_show_text(cr, line.c_str());
}

// A URL has no spaces to break at: it is cut between characters, the last line ellipsized.
std::vector<std::string> wrap(cairo_t* cr, const std::string& text, const Font& font, double width, std::size_t lines) {
  use(cr, font);
  std::vector<std::string> out;
  std::string rest = printable_utf8(text);
  while (out.size() + 1 < lines && advance(cr, rest) > width) {
    const auto starts = drawing::character_starts(rest);  // at least one character a line
    const std::size_t cut = std::max<std::size_t>(fitting_prefix(cr, rest, width), starts.size() > 1 ? starts[1] : rest.size());
    out.push_back(rest.substr(0, cut));
    rest.erase(0, cut);
  }
  out.push_back(ellipsize(cr, rest, width));
  return out;
}

std::string limit(const std::optional<double>& value) { return value ? number_text(*value) : std::string(kDash); }

struct Verdict {
  std::string_view text;
  double red, green, blue;
};

// The evaluation is spelled out, so that it survives a black-and-white print; the colour only helps.
Verdict verdict(std::string_view evaluation) {
  if (evaluation == "pass") return {"PASS", 0.0, 0.45, 0.2};
  if (evaluation == "warn") return {"WARN", 0.7, 0.4, 0.0};
  if (evaluation == "fail") return {"FAIL", 0.8, 0.0, 0.0};
  if (evaluation == "below_lod") return {"BELOW LOD", 0.3, 0.3, 0.3};
  if (evaluation == "none" || evaluation.empty()) return {kDash, 0, 0, 0};
  return {evaluation, 0, 0, 0};
}

// ---- Symbol

Symbol encode_qr(const std::string& url) {
  if (url.empty()) throw std::invalid_argument("the verify URL is empty");
  Symbol symbol{ZBarcode_Create()};
  if (!symbol) throw std::bad_alloc();
  symbol->symbology = BARCODE_QRCODE;
  symbol->option_1 = 2;  // level M: a creased printout still reads
  const int status =
      ZBarcode_Encode(symbol.get(), reinterpret_cast<const unsigned char*>(url.data()), static_cast<int>(url.size()));
  if (status >= ZINT_ERROR)
    throw std::invalid_argument(std::string("the verify URL cannot be encoded: ") + symbol->errtxt);
  if (ZBarcode_Buffer_Vector(symbol.get(), 0) >= ZINT_ERROR) throw std::runtime_error(symbol->errtxt);
  return symbol;
}

// A QR code comes out of zint as rectangles only.
void draw_qr(cairo_t* cr, const zint_symbol& qr, double x, double y) {
  const zint_vector& vector = *qr.vector;
  const double module = std::min(kQrMaxModule, kQrBox / (qr.width + 2 * kQrQuiet));
  const double sx = module * qr.width / vector.width, sy = module * qr.rows / vector.height;
  x += kQrQuiet * module;
  y += kQrQuiet * module;
  for (const zint_vector_rect* r = vector.rectangles; r; r = r->next)
    cairo_rectangle(cr, x + r->x * sx, y + r->y * sy, r->width * sx, r->height * sy);
  cairo_fill(cr);
}

// A link's URI must be ASCII; anything else, and what a PDF string or cairo's attribute syntax would
// have to escape, goes percent-encoded.
std::string link_attributes(std::string_view url, double x, double y, double w, double h) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string uri;
  for (const char ch : url) {
    const auto c = static_cast<unsigned char>(ch);
    if (c > 0x20 && c < 0x7F && std::string_view("()\\'\"<>{}|^`").find(ch) == std::string_view::npos)
      uri += ch;
    else
      uri.append({'%', kHex[c >> 4], kHex[c & 0xF]});
  }
  char rect[96];  // whole points: cairo reads fractions in the current locale
  std::snprintf(rect, sizeof rect, " rect=[%ld %ld %ld %ld]", std::lround(x), std::lround(y), std::lround(w),
                std::lround(h));
  return "uri='" + uri + "'" + rect;
}

// ---- Pages

std::size_t property_rows(const CertificateContent& c) {
  return std::min(kMaxPropertyRows, (c.properties.size() + 1) / 2);
}

double first_table_top(const CertificateContent& c) {
  const std::size_t rows = property_rows(c);
  const double facts = static_cast<double>(kFacts + (rows > 0 ? rows + 1 : 0)) * kFactLine;
  return kMargin + kTitleBlock + std::max(facts, kQrBlock) + 12;
}

std::size_t rows_below(double top) { return static_cast<std::size_t>((kTableBottom - top) / kRowHeight) - 1; }

void rule(cairo_t* cr, double y, double width = 0.5) {
  cairo_set_line_width(cr, width);
  cairo_move_to(cr, kMargin, y);
  cairo_line_to(cr, kMargin + kWidth, y);
  cairo_stroke(cr);
}

void fact(cairo_t* cr, std::string_view key, std::string_view value, double x, double y, double width,
          const Font& font = kBody) {
  cairo_set_source_rgb(cr, 0.35, 0.35, 0.35);
  show(cr, key, kSmall, x, y + 9, kFactKey - kCellPad);
  cairo_set_source_rgb(cr, 0, 0, 0);
  show(cr, value, font, x + kFactKey, y + 9, width - kFactKey - kCellPad);
}

void draw_first_header(cairo_t* cr, const CertificateContent& c, const zint_symbol& qr) {
  show(cr, c.organization, {"DejaVu Sans", CAIRO_FONT_WEIGHT_BOLD, 12}, kMargin, kMargin + 12, kWidth);
  show(cr, "Certificate of Analysis", {"DejaVu Sans", CAIRO_FONT_WEIGHT_BOLD, 20}, kMargin, kMargin + 38, kWidth);
  show(cr, "Certificate " + c.certificate_id, kMono, kMargin, kMargin + 52, kWidth);
  rule(cr, kMargin + kTitleBlock - 6);

  const double top = kMargin + kTitleBlock, left = kWidth - kQrColumn - 10;
  const std::pair<std::string_view, std::string_view> facts[kFacts] = {
      {"Sample", c.sample_name},  {"Barcode", c.sample_barcode},
      {"Type", c.sample_type},    {"Material", c.material ? std::string_view(*c.material) : kDash},
      {"Issued by", c.issued_by}, {"Issued at", c.issued_at}};
  for (std::size_t i = 0; i < kFacts; ++i)
    fact(cr, facts[i].first, facts[i].second, kMargin, top + static_cast<double>(i) * kFactLine, left,
         i == 0 ? kBold : kBody);
  if (const std::size_t rows = property_rows(c); rows > 0) {
    const double y = top + kFacts * kFactLine;
    show(cr, "Properties", kBold, kMargin, y + 9, left);
    const std::size_t shown = c.properties.size() > 2 * rows ? 2 * rows - 1 : c.properties.size();
    const auto cell = [&](std::size_t i, std::string_view key, std::string_view value) {
      fact(cr, key, value, kMargin + static_cast<double>(i % 2) * left / 2,
           y + static_cast<double>(i / 2 + 1) * kFactLine, left / 2);
    };
    for (std::size_t i = 0; i < shown; ++i) cell(i, c.properties[i].first, c.properties[i].second);
    if (shown < c.properties.size()) cell(shown, "", "+ " + std::to_string(c.properties.size() - shown) + " more");
  }

  const double x = kMargin + kWidth - kQrColumn;
  cairo_tag_begin(cr, CAIRO_TAG_LINK, link_attributes(c.verify_url, x, top, kQrColumn, kQrBlock).c_str());
  draw_qr(cr, qr, x, top);
  double baseline = top + kQrBox + 4 + 7;
  for (const std::string& line : wrap(cr, "Verify: " + c.verify_url, kMono, kQrColumn, kVerifyLines)) {
    cairo_move_to(cr, x, baseline);
    cairo_show_text(cr, line.c_str());
    baseline += kVerifyLine;
  }
  cairo_tag_end(cr, CAIRO_TAG_LINK);
}

void draw_next_header(cairo_t* cr, const CertificateContent& c) {
  show(cr, c.organization + " \u00B7 Certificate of Analysis", kBold, kMargin, kMargin + 10, kWidth * 0.55);
  show(cr, c.certificate_id, kMono, kMargin + kWidth * 0.55, kMargin + 10, kWidth * 0.45, Align::right);
  rule(cr, kMargin + 16);
}

// One line of cells: `texts` has one per column, or none for the columns' titles.
void draw_cells(cairo_t* cr, std::span<const Column> columns, const Font& font, double baseline,
                std::initializer_list<std::string> texts = {}) {
  double x = kMargin;
  for (std::size_t i = 0; i < columns.size(); ++i) {
    const double width = columns[i].share * kWidth;
    show(cr, texts.size() == 0 ? columns[i].title : std::string_view(texts.begin()[i]), font, x + kCellPad, baseline,
         width - 2 * kCellPad, columns[i].numeric ? Align::right : Align::left);
    x += width;
  }
}

double draw_column_titles(cairo_t* cr, double top) {
  cairo_set_source_rgb(cr, 0, 0, 0);
  draw_cells(cr, kResultColumns, kBold, top + 11);
  cairo_set_source_rgb(cr, 0.35, 0.35, 0.35);
  draw_cells(cr, kTraceColumns, kSmall, top + 21);
  draw_cells(cr, kBackingColumns, kSmall, top + 30);
  cairo_set_source_rgb(cr, 0, 0, 0);
  rule(cr, top + kRowHeight - 1, 0.8);
  return top + kRowHeight;
}

void draw_result(cairo_t* cr, const CertificateLine& line, double top, bool shaded) {
  if (shaded) {
    cairo_set_source_rgb(cr, 0.94, 0.94, 0.94);
    cairo_rectangle(cr, kMargin, top, kWidth, kRowHeight);
    cairo_fill(cr);
  }
  cairo_set_source_rgb(cr, 0, 0, 0);
  draw_cells(cr, kResultColumns, kBody, top + 11,
             {line.metric, number_text(line.value), line.unit.value_or(""), limit(line.lsl), limit(line.target),
              limit(line.usl), limit(line.lod), ""});
  const Verdict v = verdict(line.evaluation);
  const double evaluation_x = kMargin + (1 - kResultColumns[std::size(kResultColumns) - 1].share) * kWidth;
  cairo_set_source_rgb(cr, v.red, v.green, v.blue);
  show(cr, v.text, kBold, evaluation_x + kCellPad, top + 11, kWidth + kMargin - evaluation_x - 2 * kCellPad);
  cairo_set_source_rgb(cr, 0.25, 0.25, 0.25);
  draw_cells(cr, kTraceColumns, kSmall, top + 21, {line.run_id, line.measured_at, line.instrument});
  draw_cells(cr, kBackingColumns, kSmall, top + 30,
             {line.calibration.value_or("No valid calibration"), line.specification.value_or("No specification")});
}

void draw_footer(cairo_t* cr, const CertificateContent& c, std::size_t page, std::size_t pages) {
  cairo_set_source_rgb(cr, 0, 0, 0);
  rule(cr, kFooterRule);
  const double baseline = kFooterRule + 10;
  show(cr, "Certificate " + c.certificate_id + " \u00B7 issued " + c.issued_at + " by " + c.issued_by, kSmall, kMargin,
       baseline, kWidth * 0.75);
  show(cr, "Page " + std::to_string(page) + " of " + std::to_string(pages), kSmall, kMargin + kWidth * 0.75, baseline,
       kWidth * 0.25, Align::right);
}

// The rows each page holds, worked out before drawing so that every footer knows the page count.
std::vector<std::pair<std::size_t, std::size_t>> paginate(const CertificateContent& c) {
  const std::size_t rows = c.lines.size(), next = rows_below(kNextTableTop);
  std::vector<std::pair<std::size_t, std::size_t>> pages{{0, std::min(rows, rows_below(first_table_top(c)))}};
  while (pages.back().second < rows)
    pages.emplace_back(pages.back().second, std::min(rows, pages.back().second + next));
  return pages;
}

void draw_certificate(cairo_t* cr, const CertificateContent& c, const zint_symbol& qr) {
  const auto pages = paginate(c);
  for (std::size_t p = 0; p < pages.size(); ++p) {
    if (p > 0) cairo_show_page(cr);
    cairo_set_source_rgb(cr, 0, 0, 0);
    if (p == 0)
      draw_first_header(cr, c, qr);
    else
      draw_next_header(cr, c);
    double top = draw_column_titles(cr, p == 0 ? first_table_top(c) : kNextTableTop);
    for (std::size_t i = pages[p].first; i < pages[p].second; ++i, top += kRowHeight)
      draw_result(cr, c.lines[i], top, i % 2 == 1);
    if (c.lines.empty()) show(cr, "No results.", kBody, kMargin + kCellPad, top + 11, kWidth);
    draw_footer(cr, c, p + 1, pages.size());
  }
}

// ---- Surface

// The PDF's creation date is the issue date, so that a certificate renders to the same bytes every time.
// PostgreSQL writes "2024-05-01 10:00:00.123+00"; cairo takes only "2024-05-01T10:00:00+00:00" (and
// leaves the date out otherwise).
std::string pdf_date(std::string_view iso) {
  std::string out;
  for (std::size_t i = 0; i < iso.size(); ++i) {
    if (iso[i] == '.')
      while (i + 1 < iso.size() && iso[i + 1] >= '0' && iso[i + 1] <= '9') ++i;
    else
      out += iso[i] == ' ' ? 'T' : iso[i];
  }
  const std::size_t time = out.find('T'), sign = out.size() - std::min<std::size_t>(out.size(), 3);
  if (time != std::string::npos && sign > time && (out[sign] == '+' || out[sign] == '-')) out += ":00";
  return out;
}

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

}  // namespace

std::string render_certificate_pdf(const CertificateContent& content) {
  const Symbol qr = encode_qr(content.verify_url);
  std::string out;
  const Surface surface{cairo_pdf_surface_create_for_stream(append, &out, kPageWidth, kPageHeight)};
  check(cairo_surface_status(surface.get()));
  // PDF 1.4 has no object streams: the page tree stays plain for old print drivers and simple tools.
  cairo_pdf_surface_restrict_to_version(surface.get(), CAIRO_PDF_VERSION_1_4);
  const std::string title = "Certificate of Analysis " + printable_utf8(content.certificate_id);
  cairo_pdf_surface_set_metadata(surface.get(), CAIRO_PDF_METADATA_TITLE, title.c_str());
  cairo_pdf_surface_set_metadata(surface.get(), CAIRO_PDF_METADATA_AUTHOR,
                                 printable_utf8(content.organization).c_str());
  cairo_pdf_surface_set_metadata(surface.get(), CAIRO_PDF_METADATA_CREATOR, "SPECTRA-Lab");
  cairo_pdf_surface_set_metadata(surface.get(), CAIRO_PDF_METADATA_CREATE_DATE, pdf_date(content.issued_at).c_str());
  {
    const Context cr{cairo_create(surface.get())};
    draw_certificate(cr.get(), content, *qr);
    check(cairo_status(cr.get()));
  }
  cairo_surface_finish(surface.get());  // flushes the last page into `out`
  check(cairo_surface_status(surface.get()));
  return out;
}

}  // namespace spectra::quality
