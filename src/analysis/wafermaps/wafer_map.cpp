#include "analysis/wafermaps/wafer_map.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <string_view>

#include "platform/xml_text.hpp"

namespace spectra::wafermaps {

Summary summarize(std::span<const Point> points) {
  Summary s;
  // Welford's running moments over the values shifted by the first one. Welford takes deviations from the
  // running mean, so a sum of squares never cancels (Σx² − (Σx)²/n loses everything at 1e9 + 0.001 steps);
  // the shift keeps the running mean small too: near 1e9 its own rounding (6e-8 a step) would add up.
  double shift = 0, mean = 0, m2 = 0, lo = 0, hi = 0;
  for (const auto& p : points) {
    if (!std::isfinite(p.value)) continue;
    if (++s.n == 1) shift = lo = hi = p.value;
    const double x = p.value - shift;  // exact for values within a factor of two of the first (Sterbenz)
    const double delta = x - mean;
    mean += delta / static_cast<double>(s.n);
    m2 += delta * (x - mean);
    lo = std::min(lo, p.value);
    hi = std::max(hi, p.value);
  }
  if (s.n == 0) return s;
  mean += shift;
  s.mean = mean;
  s.min = lo;
  s.max = hi;
  s.range = hi - lo;
  if (s.n >= 2) s.stdev = std::sqrt(std::max(0.0, m2) / static_cast<double>(s.n - 1));
  if (s.stdev && mean != 0) {
    const double u = 100 * *s.stdev / mean;
    if (std::isfinite(u)) s.uniformity_pct = u;
  }
  return s;
}

bool on_wafer(double x_mm, double y_mm, int diameter_mm) {
  if (diameter_mm <= 0 || !std::isfinite(x_mm) || !std::isfinite(y_mm)) return false;
  return std::hypot(x_mm, y_mm) <= diameter_mm / 2.0 + 1e-6;
}

namespace {

// ---- layout (SVG user units; the wafer sits in the left 520 × 520, the legend in the right 120) ----
constexpr int kWidth = 640, kHeight = 560;
constexpr double kCx = 265, kCy = 300, kRadiusPx = 220;    // the wafer (or the fitted outline) on the canvas
constexpr double kBarX = 528, kBarTop = 90, kBarHeight = 240, kBarWidth = 16;
constexpr double kLegendX = 520, kSummaryTop = 372, kLineStep = 18;
constexpr double kMinDot = 1.5, kMaxDot = 14;              // point radius bounds, px
constexpr std::size_t kMaxLabelled = 100;                  // values written on the points up to this many
constexpr std::size_t kMaxTooltips = 1000;                 // per-point <title>s would double a 10,000-point map
constexpr std::size_t kSpacingSample = 200;                // points whose nearest neighbour is looked up
constexpr double kNotchDrawnPx = 8;                        // see outline()

// SEMI M1 primary flat lengths (mm) by diameter; 200 mm and larger wafers have a notch instead.
struct Flat {
  int diameter;
  double length;
};
constexpr Flat kFlats[] = {{50, 15.88}, {76, 22.22}, {100, 32.5}, {125, 42.5}, {150, 57.5}};

// viridis (matplotlib's perceptually uniform map) sampled at 9 even stops, as viridisLite::viridis(9) prints it.
struct Rgb {
  double r, g, b;
};
constexpr std::array<Rgb, 9> kViridis = {{{0x44, 0x01, 0x54},
                                          {0x47, 0x2D, 0x7B},
                                          {0x3B, 0x52, 0x8B},
                                          {0x2C, 0x72, 0x8E},
                                          {0x21, 0x90, 0x8C},
                                          {0x27, 0xAD, 0x81},
                                          {0x5D, 0xC8, 0x63},
                                          {0xAA, 0xDC, 0x32},
                                          {0xFD, 0xE7, 0x25}}};

Rgb viridis(double t) {
  if (!(t > 0)) t = 0;  // also NaN
  if (t > 1) t = 1;
  const double at = t * (kViridis.size() - 1);
  const std::size_t i = std::min<std::size_t>(static_cast<std::size_t>(at), kViridis.size() - 2);
  const double f = at - static_cast<double>(i);
  const auto &a = kViridis[i], &b = kViridis[i + 1];
  return {a.r + (b.r - a.r) * f, a.g + (b.g - a.g) * f, a.b + (b.b - a.b) * f};
}

void append_hex(std::string& out, const Rgb& c) {
  static constexpr char digits[] = "0123456789abcdef";
  out += '#';
  for (double v : {c.r, c.g, c.b}) {
    const int byte = static_cast<int>(std::lround(std::clamp(v, 0.0, 255.0)));
    out += digits[byte >> 4];
    out += digits[byte & 15];
  }
}

// Dark text on the bright end of the scale, white on the dark end (relative luminance, sRGB weights).
bool is_light(const Rgb& c) { return 0.2126 * c.r + 0.7152 * c.g + 0.0722 * c.b > 140; }

// A coordinate in px with one decimal by default (a tenth of a pixel is finer than any screen); never NaN or
// inf. std::to_chars, unlike snprintf, does not depend on the locale's decimal point.
void px(std::string& out, double v, int decimals = 1) {
  if (!std::isfinite(v)) v = 0;
  char buf[48];
  const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, decimals);
  if (r.ec == std::errc{}) out.append(buf, r.ptr);
  else out += '0';
}

// A measured value with 4 significant digits ("12.35", "1.235e+09"); "–" for one that is not finite.
std::string sig4(double v) {
  if (!std::isfinite(v)) return "\u2013";
  char buf[48];
  const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general, 4);
  return r.ec == std::errc{} ? std::string(buf, r.ptr) : std::string("\u2013");
}

std::string sig4(const std::optional<double>& v) { return v ? sig4(*v) : std::string("\u2013"); }

// Text escaped for XML character data and attribute values (platform/xml_text.hpp).
void append_escaped(std::string& out, std::string_view text) { xml::append_text(out, text, xml::Escape::text); }

std::optional<double> flat_length(int diameter) {
  for (const auto& f : kFlats)
    if (f.diameter == diameter) return f.length;
  return std::nullopt;
}

bool drawable(const Point& p) {
  return std::isfinite(p.x_mm) && std::isfinite(p.y_mm) && std::isfinite(std::hypot(p.x_mm, p.y_mm));
}

// The points' typical spacing in mm: the lower quartile of nearest-neighbour distances over an even sample
// of up to kSpacingSample points (against all points, so linear in n). The lower quartile, not the mean, so
// that the dense parts of a map (the edge rings of a polar pattern) do not overlap; coincident points are
// ignored, so one repeated site does not shrink every dot. Nullopt with fewer than two distinct positions.
std::optional<double> typical_spacing(const std::vector<const Point*>& pts) {
  if (pts.size() < 2) return std::nullopt;
  const std::size_t stride = (pts.size() + kSpacingSample - 1) / kSpacingSample;
  std::vector<double> nearest;
  nearest.reserve(kSpacingSample);
  for (std::size_t i = 0; i < pts.size(); i += stride) {
    double best = INFINITY;
    for (std::size_t j = 0; j < pts.size(); ++j) {
      const double dx = pts[j]->x_mm - pts[i]->x_mm, dy = pts[j]->y_mm - pts[i]->y_mm;
      const double d2 = dx * dx + dy * dy;
      if (d2 > 1e-12 && d2 < best) best = d2;
    }
    if (std::isfinite(best)) nearest.push_back(std::sqrt(best));
  }
  if (nearest.empty()) return std::nullopt;
  auto quartile = nearest.begin() + static_cast<std::ptrdiff_t>(nearest.size() / 4);
  std::nth_element(nearest.begin(), quartile, nearest.end());
  return *quartile;
}

// The wafer outline at scale (px per mm), centred on the canvas, the orientation feature at 6 o'clock.
// The outline is traced from the feature's right end over the top (the large arc, counter-clockwise on
// screen) to its left end; closing the path draws the flat, or the two sides of the notch via its tip.
void outline(std::string& out, std::optional<int> diameter, double radius_mm, double scale) {
  const double r = radius_mm * scale;
  auto arc_path = [&](const char* cls, double half_width_px, double end_y_px, std::optional<double> tip_y_px) {
    out += "<path class=\"";
    out += cls;
    out += "\" d=\"M";
    px(out, kCx + half_width_px);
    out += ' ';
    px(out, end_y_px);
    out += " A";
    px(out, r);
    out += ' ';
    px(out, r);
    out += " 0 1 0 ";
    px(out, kCx - half_width_px);
    out += ' ';
    px(out, end_y_px);
    if (tip_y_px) {
      out += " L";
      px(out, kCx);
      out += ' ';
      px(out, *tip_y_px);
    }
    out += " Z\"/>\n";
  };
  if (diameter && *diameter >= 200) {
    // SEMI M1 notch: about 1 mm deep with a 90° opening. At true scale that is 1.5–2.4 px here, which no
    // one would see, so it is drawn kNotchDrawnPx deep (still 90°); the rest of the outline is at scale.
    const double depth = std::max(1.0 * scale, kNotchDrawnPx);
    const double tip = r - depth;  // distance of the tip from the centre
    // Where the 45° sides meet the circle: (t, tip + t) on x² + y² = r².
    const double t = (-tip + std::sqrt(2 * r * r - tip * tip)) / 2;
    arc_path("wafer notch", t, kCy + tip + t, kCy + tip);
  } else if (const auto flat = diameter ? flat_length(*diameter) : std::nullopt) {
    const double half = *flat / 2 * scale;
    arc_path("wafer flat", half, kCy + std::sqrt(r * r - half * half), std::nullopt);
  } else {
    // No diameter (or one SEMI gives no flat for): a plain circle; dashed when fitted to the points, since
    // it is not the wafer's edge.
    out += "<circle class=\"wafer\" cx=\"";
    px(out, kCx);
    out += "\" cy=\"";
    px(out, kCy);
    out += "\" r=\"";
    px(out, r);
    out += diameter ? "\"/>\n" : "\" stroke-dasharray=\"6 4\"/>\n";
  }
}

void text(std::string& out, double x, double y, std::string_view attrs, std::string_view content) {
  out += "<text x=\"";
  px(out, x);
  out += "\" y=\"";
  px(out, y);
  out += '"';
  if (!attrs.empty()) {
    out += ' ';
    out += attrs;
  }
  out += '>';
  append_escaped(out, content);
  out += "</text>\n";
}

std::string with_unit(const std::string& value, const std::string& unit) {
  return unit.empty() || value == "\u2013" ? value : value + " " + unit;
}

void tooltip(std::string& out, const Point& p, const std::string& unit) {
  std::string t = "x " + sig4(p.x_mm) + " mm, y " + sig4(p.y_mm) + " mm";
  if (p.die_x && p.die_y) t += ", die (" + std::to_string(*p.die_x) + ", " + std::to_string(*p.die_y) + ")";
  if (p.site) t += ", site " + *p.site;
  t += ": " + with_unit(sig4(p.value), unit);
  if (!p.evaluation.empty()) t += " (" + p.evaluation + ")";
  out += "<title>";
  append_escaped(out, t);
  out += "</title>";
}

}  // namespace

std::string draw_svg(const Figure& f) {
  std::vector<const Point*> pts;
  pts.reserve(f.points.size());
  double far = 0, lo = INFINITY, hi = -INFINITY;
  for (const auto& p : f.points) {
    if (!drawable(p)) continue;
    pts.push_back(&p);
    far = std::max(far, std::hypot(p.x_mm, p.y_mm));
    if (std::isfinite(p.value)) lo = std::min(lo, p.value), hi = std::max(hi, p.value);
  }
  const bool has_values = lo <= hi;
  const std::optional<int> diameter = f.diameter_mm && *f.diameter_mm > 0 ? f.diameter_mm : std::nullopt;
  // Without a diameter the outline is fitted around the points (+5 %); with one, the canvas still widens
  // to any point off the wafer rather than drawing it outside the picture.
  const double radius_mm = diameter ? *diameter / 2.0 : (far > 0 ? far * 1.05 : 1.0);
  const double scale = kRadiusPx / std::max(radius_mm, far);
  const auto spacing = typical_spacing(pts);
  const double dot = spacing ? std::clamp(0.45 * *spacing * scale, kMinDot, kMaxDot) : kMaxDot;
  const std::string title = f.title.empty() ? "Wafer map: " + f.metric : f.title;

  std::string out;
  out.reserve(4096 + pts.size() * (pts.size() <= kMaxTooltips ? 200 : 90));
  out += "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 ";
  out += std::to_string(kWidth) + " " + std::to_string(kHeight) + "\" width=\"" + std::to_string(kWidth) +
         "\" height=\"" + std::to_string(kHeight) + "\" role=\"img\" aria-label=\"";
  append_escaped(out, title + ": " + std::to_string(f.summary.n) + " points, mean " +
                          with_unit(sig4(f.summary.mean), f.unit) + ", uniformity " +
                          with_unit(sig4(f.summary.uniformity_pct), "%"));
  out += "\" font-family=\"system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif\">\n<title>";
  append_escaped(out, title);
  out += "</title>\n";
  out += "<defs><linearGradient id=\"wafer-map-viridis\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">";
  for (std::size_t i = 0; i < kViridis.size(); ++i) {
    out += "<stop offset=\"";
    px(out, static_cast<double>(i) / (kViridis.size() - 1), 3);
    out += "\" stop-color=\"";
    append_hex(out, kViridis[i]);
    out += "\"/>";
  }
  out += "</linearGradient></defs>\n";
  out += "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n";

  // Heading: the title, then what is measured and on which wafer.
  text(out, 16, 26, "font-size=\"16\" font-weight=\"600\" fill=\"#222\"", title);
  std::string sub = f.metric;
  if (!f.unit.empty()) sub += " [" + f.unit + "]";
  sub += diameter ? " \u00b7 \u2300 " + std::to_string(*diameter) + " mm wafer"
                  : " \u00b7 wafer size unknown (outline fitted to the points)";
  text(out, 16, 46, "font-size=\"12\" fill=\"#555\"", sub);

  // The wafer, with faint axes through the centre.
  out += "<g fill=\"#f3f3f3\" stroke=\"#555\" stroke-width=\"1.5\">\n";
  outline(out, diameter, radius_mm, scale);
  out += "</g>\n<g stroke=\"#ccc\" stroke-width=\"0.75\" stroke-dasharray=\"3 3\">";
  const double axis = radius_mm * scale;
  out += "<line x1=\"";
  px(out, kCx - axis);
  out += "\" y1=\"";
  px(out, kCy);
  out += "\" x2=\"";
  px(out, kCx + axis);
  out += "\" y2=\"";
  px(out, kCy);
  out += "\"/><line x1=\"";
  px(out, kCx);
  out += "\" y1=\"";
  px(out, kCy - axis);
  out += "\" x2=\"";
  px(out, kCx);
  out += "\" y2=\"";
  px(out, kCy + axis);
  out += "\"/></g>\n";
  if (pts.empty()) text(out, kCx, kCy, "font-size=\"14\" fill=\"#777\" text-anchor=\"middle\"", "no measurements");

  // The points. SVG's y grows downwards, the wafer's upwards: flip.
  const double span = hi - lo;
  auto colour_of = [&](double v) -> Rgb {
    if (!std::isfinite(v)) return {0x99, 0x99, 0x99};
    return viridis(span > 0 ? (v - lo) / span : 0.5);  // all one value: the middle of the scale
  };
  const bool tooltips = pts.size() <= kMaxTooltips;
  bool any_fail = false, any_warn = false;
  out += "<g class=\"points\">\n";
  for (const Point* p : pts) {
    out += "<circle cx=\"";
    px(out, kCx + p->x_mm * scale);
    out += "\" cy=\"";
    px(out, kCy - p->y_mm * scale);
    out += "\" r=\"";
    px(out, dot);
    out += "\" fill=\"";
    append_hex(out, colour_of(p->value));
    out += '"';
    if (p->evaluation == "fail") {
      out += " stroke=\"#d62728\" stroke-width=\"2.5\"";
      any_fail = true;
    } else if (p->evaluation == "warn") {
      out += " stroke=\"#ff7f0e\" stroke-width=\"2\"";
      any_warn = true;
    }
    if (tooltips) {
      out += '>';
      tooltip(out, *p, f.unit);
      out += "</circle>\n";
    } else {
      out += "/>\n";
    }
  }
  out += "</g>\n";

  // The values on the points, in one size for the whole map (about 0.6 em a character): inside the dots when
  // the longest label fits at a readable size; else beside them with a white halo when the gap to the next
  // point holds it; else still inside, as small as it must be not to overlap (the SVG zooms; every point
  // also has its value in its tooltip).
  if (!pts.empty() && pts.size() <= kMaxLabelled) {
    std::vector<std::string> labels;
    labels.reserve(pts.size());
    std::size_t longest = 1;
    for (const Point* p : pts) {
      labels.push_back(std::isfinite(p->value) ? sig4(p->value) : std::string());
      longest = std::max(longest, labels.back().size());
    }
    const double em_per_label = 0.6 * static_cast<double>(longest);
    const double fits = 2 * dot * 0.9 / em_per_label;
    const double gap = spacing ? *spacing * scale - 2 * dot - 3 : INFINITY;
    const bool inside = fits >= 7 || gap < 8 * em_per_label;
    out += "<g class=\"values\" font-size=\"";
    px(out, inside ? std::clamp(fits, 1.0, 11.0) : 8.0);
    out += inside ? "\" text-anchor=\"middle\">\n"
                  : "\" fill=\"#222\" stroke=\"#fff\" stroke-width=\"2\" paint-order=\"stroke\">\n";
    for (std::size_t i = 0; i < pts.size(); ++i) {
      if (labels[i].empty()) continue;
      const Point* p = pts[i];
      const double x = kCx + p->x_mm * scale, y = kCy - p->y_mm * scale;
      // dy centres the digits on the dot (dy is not inherited from the group, unlike the font size).
      const bool light = is_light(colour_of(p->value));
      if (inside) text(out, x, y, light ? R"(dy=".35em" fill="#111")" : R"(dy=".35em" fill="#fff")", labels[i]);
      else text(out, x + dot + 2, y, "dy=\".35em\"", labels[i]);
    }
    out += "</g>\n";
  }

  // Legend: the colour bar (max at the top) with its labels, then the summary as given.
  out += "<g class=\"legend\" font-size=\"11\" fill=\"#222\">\n";
  text(out, kBarX, kBarTop - 12, "", f.unit.empty() ? f.metric : f.unit);
  if (has_values) {
    out += "<rect x=\"";
    px(out, kBarX);
    out += "\" y=\"";
    px(out, kBarTop);
    out += "\" width=\"";
    px(out, kBarWidth);
    out += "\" height=\"";
    px(out, kBarHeight);
    if (span > 0) {
      out += "\" fill=\"url(#wafer-map-viridis)\" stroke=\"#555\" stroke-width=\"0.5\"/>\n";
      text(out, kBarX + kBarWidth + 5, kBarTop, "dy=\"0.35em\"", sig4(hi));
      text(out, kBarX + kBarWidth + 5, kBarTop + kBarHeight / 2, "dy=\"0.35em\"", sig4(lo + span / 2));
      text(out, kBarX + kBarWidth + 5, kBarTop + kBarHeight, "dy=\"0.35em\"", sig4(lo));
    } else {
      out += "\" fill=\"";
      append_hex(out, colour_of(lo));
      out += "\" stroke=\"#555\" stroke-width=\"0.5\"/>\n";
      text(out, kBarX + kBarWidth + 5, kBarTop + kBarHeight / 2, "dy=\"0.35em\"", sig4(lo));
    }
  }
  const Summary& s = f.summary;
  const std::string lines[] = {
      "n " + std::to_string(s.n),
      "mean " + with_unit(sig4(s.mean), f.unit),
      "\u03c3 " + with_unit(sig4(s.stdev), f.unit),
      "uniformity " + with_unit(sig4(s.uniformity_pct), "%"),
  };
  double y = kSummaryTop;
  for (const auto& line : lines) {
    text(out, kLegendX, y, "", line);
    y += kLineStep;
  }
  y += kLineStep / 2;
  auto ring_key = [&](const char* colour, const char* width, std::string_view label) {
    out += "<circle cx=\"";
    px(out, kLegendX + 6);
    out += "\" cy=\"";
    px(out, y - 4);
    out += "\" r=\"5\" fill=\"#fff\" stroke=\"";
    out += colour;
    out += "\" stroke-width=\"";
    out += width;
    out += "\"/>\n";
    text(out, kLegendX + 16, y, "", label);
    y += kLineStep;
  };
  if (any_fail) ring_key("#d62728", "2.5", "fail");
  if (any_warn) ring_key("#ff7f0e", "2", "warn");
  out += "</g>\n</svg>\n";
  return out;
}

}  // namespace spectra::wafermaps
