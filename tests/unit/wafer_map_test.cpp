// Wafer maps (analysis/wafermaps/wafer_map.hpp) without a server: the summary statistics on hand-computed
// data and on values far from zero; which positions lie on a wafer; and the SVG as a reader of the picture
// would check it: well-formed XML, the flat or notch of the wafer size at scale, one dot per point, its
// colour and ring, values written on small maps only, names that cannot inject markup, and the time 10,000
// points take.
#include "analysis/wafermaps/wafer_map.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numbers>
#include <string>
#include <vector>

namespace wm = spectra::wafermaps;

namespace {

// (Assignments rather than designated initializers: GCC's -Wmissing-field-initializers flags those.)
wm::Point at(double x_mm, double y_mm, double value, std::string evaluation = "pass") {
  wm::Point p;
  p.x_mm = x_mm;
  p.y_mm = y_mm;
  p.value = value;
  p.evaluation = std::move(evaluation);
  return p;
}

std::vector<wm::Point> with_values(const std::vector<double>& values) {
  std::vector<wm::Point> out;
  for (double v : values) out.push_back(at(0, 0, v));
  return out;
}

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++n;
  return n;
}

// The text of the first <g class="..."> group (which holds no nested groups), or "" when there is none.
std::string group(const std::string& svg, const std::string& cls) {
  const auto start = svg.find("<g class=\"" + cls + "\"");
  if (start == std::string::npos) return "";
  return svg.substr(start, svg.find("</g>", start) - start);
}

// A small well-formedness check that needs no XML library: one root element, every tag closed in order,
// attribute quotes paired, no '<' inside a tag, every '&' the start of one of the five entities or a
// character reference, no comment or processing instruction left open.
std::string xml_problem(const std::string& s) {
  std::vector<std::string> open;
  int roots = 0;
  std::size_t i = 0;
  while ((i = s.find_first_of("<&", i)) != std::string::npos) {
    if (s[i] == '&') {
      const auto semi = s.find(';', i);
      if (semi == std::string::npos || semi - i > 8) return "bare & at " + std::to_string(i);
      const std::string name = s.substr(i + 1, semi - i - 1);
      if (name != "amp" && name != "lt" && name != "gt" && name != "quot" && name != "apos" &&
          (name.empty() || name[0] != '#'))
        return "unknown entity &" + name + ";";
      i = semi + 1;
      continue;
    }
    if (s.compare(i, 4, "<!--") == 0 || s.compare(i, 2, "<?") == 0) {
      const auto end = s.find(s[i + 1] == '?' ? "?>" : "-->", i);
      if (end == std::string::npos) return "unterminated comment or declaration";
      i = end + 2;
      continue;
    }
    const auto end = s.find('>', i);
    if (end == std::string::npos) return "unterminated tag";
    const std::string tag = s.substr(i + 1, end - i - 1);
    if (tag.find('<') != std::string::npos) return "< inside tag " + tag;
    if (count(tag, "\"") % 2 != 0) return "unpaired quote in tag " + tag;
    if (tag.empty()) return "empty tag";
    if (tag[0] == '/') {
      if (open.empty() || open.back() != tag.substr(1)) return "</" + tag.substr(1) + "> does not close the open tag";
      open.pop_back();
    } else {
      const std::string name = tag.substr(0, tag.find_first_of(" \n/"));
      if (open.empty() && ++roots > 1) return "more than one root element";
      if (tag.back() != '/') open.push_back(name);
    }
    i = end + 1;
  }
  if (!open.empty()) return "<" + open.back() + "> never closed";
  if (roots != 1) return "no root element";
  return "";
}

// xmllint (libxml2) as a second opinion when the machine has it; true when it is absent.
bool xmllint_accepts(const std::string& svg) {
  if (!std::filesystem::exists("/usr/bin/xmllint")) return true;
  const auto path = std::filesystem::temp_directory_path() / ("wafer_map_test_" + std::to_string(::getpid()) + ".svg");
  std::ofstream(path, std::ios::binary) << svg;
  const int rc = std::system(("/usr/bin/xmllint --noout " + path.string() + " 2>/dev/null").c_str());
  std::filesystem::remove(path);
  return rc == 0;
}

// A 49-site map as a metrology tool measures it: the centre, then rings of 8, 16 and 24 sites.
std::vector<wm::Point> polar_49(double radius_mm) {
  std::vector<wm::Point> out{at(0, 0, 100)};
  const int per_ring[] = {8, 16, 24};
  for (int ring = 1; ring <= 3; ++ring) {
    const double r = radius_mm * ring / 3;
    for (int k = 0; k < per_ring[ring - 1]; ++k) {
      const double a = 2 * std::numbers::pi * k / per_ring[ring - 1];
      out.push_back(at(r * std::cos(a), r * std::sin(a), 100 + ring + 0.1 * k));
    }
  }
  return out;
}

// A die grid of `pitch` mm covering a wafer of this diameter, value rising left to right.
std::vector<wm::Point> die_grid(int diameter, double pitch) {
  std::vector<wm::Point> out;
  const int half = static_cast<int>(diameter / 2 / pitch);
  for (int j = -half; j <= half; ++j)
    for (int i = -half; i <= half; ++i) {
      const double x = i * pitch, y = j * pitch;
      if (!wm::on_wafer(x, y, diameter)) continue;
      auto p = at(x, y, 5 + 0.01 * i);
      p.die_x = i;
      p.die_y = j;
      out.push_back(p);
    }
  return out;
}

wm::Figure figure_of(std::vector<wm::Point> points, std::optional<int> diameter, std::string metric = "thickness") {
  wm::Figure f;
  f.title = "Run 42: " + metric;
  f.metric = metric;
  f.unit = "nm";
  f.diameter_mm = diameter;
  f.points = std::move(points);
  f.summary = wm::summarize(f.points);
  return f;
}

// The x coordinates of the path's start (M) and of the arc's end, in px.
std::pair<double, double> outline_ends(const std::string& svg, const std::string& cls) {
  const auto at = svg.find("<path class=\"" + cls + "\" d=\"");
  if (at == std::string::npos) return {0, 0};
  double mx = 0, my = 0, rx = 0, ry = 0, ex = 0, ey = 0;
  int rot = 0, large = 0, sweep = 0;
  std::sscanf(svg.c_str() + svg.find("d=\"", at) + 3, "M%lf %lf A%lf %lf %d %d %d %lf %lf", &mx, &my, &rx, &ry, &rot,
              &large, &sweep, &ex, &ey);
  return {mx, ex};
}

}  // namespace

// ---- summary ----

TEST(WaferMapSummary, KnownValues) {
  const auto points = with_values({1, 2, 3, 4});
  const auto s = wm::summarize(points);
  EXPECT_EQ(s.n, 4u);
  EXPECT_DOUBLE_EQ(*s.mean, 2.5);
  EXPECT_NEAR(*s.stdev, std::sqrt(5.0 / 3), 1e-12);  // 1.2910
  EXPECT_NEAR(*s.stdev, 1.2910, 1e-4);
  EXPECT_DOUBLE_EQ(*s.min, 1);
  EXPECT_DOUBLE_EQ(*s.max, 4);
  EXPECT_DOUBLE_EQ(*s.range, 3);
  EXPECT_NEAR(*s.uniformity_pct, 51.64, 0.005);
}

TEST(WaferMapSummary, NoValuesGiveOnlyACount) {
  const auto s = wm::summarize({});
  EXPECT_EQ(s.n, 0u);
  EXPECT_FALSE(s.mean || s.stdev || s.min || s.max || s.range || s.uniformity_pct);
}

TEST(WaferMapSummary, OneValueHasNoSpread) {
  const auto points = with_values({7.5});
  const auto s = wm::summarize(points);
  EXPECT_EQ(s.n, 1u);
  EXPECT_DOUBLE_EQ(*s.mean, 7.5);
  EXPECT_DOUBLE_EQ(*s.min, 7.5);
  EXPECT_DOUBLE_EQ(*s.max, 7.5);
  EXPECT_DOUBLE_EQ(*s.range, 0);
  EXPECT_FALSE(s.stdev);
  EXPECT_FALSE(s.uniformity_pct);
}

TEST(WaferMapSummary, ZeroMeanHasNoUniformity) {
  const auto points = with_values({-2, 2, -1, 1});
  const auto s = wm::summarize(points);
  EXPECT_DOUBLE_EQ(*s.mean, 0);
  EXPECT_NEAR(*s.stdev, std::sqrt(10.0 / 3), 1e-12);
  EXPECT_FALSE(s.uniformity_pct);
}

TEST(WaferMapSummary, IdenticalValuesHaveZeroSpread) {
  const auto points = with_values({3, 3, 3});
  const auto s = wm::summarize(points);
  EXPECT_DOUBLE_EQ(*s.stdev, 0);
  EXPECT_DOUBLE_EQ(*s.uniformity_pct, 0);
  EXPECT_DOUBLE_EQ(*s.range, 0);
}

TEST(WaferMapSummary, ValuesFarFromZeroKeepTheirSpread) {
  // Σx² − (Σx)²/n in doubles loses everything here (x² ≈ 1e18, the spread's square ≈ 30).
  auto s = wm::summarize(with_values({1e9 + 4, 1e9 + 7, 1e9 + 13, 1e9 + 16}));
  EXPECT_DOUBLE_EQ(*s.mean, 1e9 + 10);
  EXPECT_NEAR(*s.stdev, std::sqrt(30.0), 1e-9);
  EXPECT_DOUBLE_EQ(*s.range, 12);

  // 1,000 steps of 0.001 on top of 1e9, against a two-pass computation over the same doubles.
  std::vector<double> values;
  for (int i = 0; i < 1000; ++i) values.push_back(1e9 + 0.001 * i);
  double mean = 0;
  for (double v : values) mean += v - 1e9;
  mean = mean / values.size();
  double ss = 0;
  for (double v : values) ss += (v - 1e9 - mean) * (v - 1e9 - mean);
  s = wm::summarize(with_values(values));
  EXPECT_NEAR(*s.mean - 1e9, mean, 1e-6);
  EXPECT_NEAR(*s.stdev, std::sqrt(ss / 999), 1e-7);
  EXPECT_NEAR(*s.stdev, 0.001 * std::sqrt(1000.0 * 1001 / 12), 1e-6);  // the uniform sequence's σ
}

TEST(WaferMapSummary, ValuesThatAreNotFiniteAreLeftOut) {
  const auto points = with_values({1, std::numeric_limits<double>::quiet_NaN(), 3, INFINITY});
  const auto s = wm::summarize(points);
  EXPECT_EQ(s.n, 2u);
  EXPECT_DOUBLE_EQ(*s.mean, 2);
  EXPECT_DOUBLE_EQ(*s.max, 3);
}

// ---- positions ----

TEST(WaferMapPositions, TheEdgeIsOnTheWafer) {
  EXPECT_TRUE(wm::on_wafer(0, 0, 150));
  EXPECT_TRUE(wm::on_wafer(75, 0, 150));
  EXPECT_TRUE(wm::on_wafer(0, -75, 150));
  const double d = 150 * std::cos(std::numbers::pi / 4);  // the 300 mm edge at 45°, computed with rounding
  EXPECT_TRUE(wm::on_wafer(d, d, 300));
  EXPECT_TRUE(wm::on_wafer(-d, -d, 300));
}

TEST(WaferMapPositions, BeyondTheEdgeIsOff) {
  EXPECT_FALSE(wm::on_wafer(75.001, 0, 150));
  EXPECT_FALSE(wm::on_wafer(0, -75.01, 150));
  EXPECT_FALSE(wm::on_wafer(106.1, 106.1, 300));  // 150.05 mm from the centre
  EXPECT_FALSE(wm::on_wafer(60, 60, 150));        // inside the square, outside the circle
  EXPECT_FALSE(wm::on_wafer(std::numeric_limits<double>::quiet_NaN(), 0, 300));
  EXPECT_FALSE(wm::on_wafer(INFINITY, 0, 300));
  EXPECT_FALSE(wm::on_wafer(0, 0, 0));
  EXPECT_FALSE(wm::on_wafer(0, 0, -100));
}

// ---- the drawing ----

TEST(WaferMapSvg, IsWellFormedAndAccessible) {
  for (const std::optional<int> diameter : {std::optional<int>(150), std::optional<int>(300), std::optional<int>()}) {
    const auto svg = wm::draw_svg(figure_of(polar_49(60), diameter));
    EXPECT_EQ(xml_problem(svg), "");
    EXPECT_TRUE(xmllint_accepts(svg));
    EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 640 560\"", 0), 0u);
    EXPECT_NE(svg.find("role=\"img\""), std::string::npos);
    EXPECT_NE(svg.find("aria-label=\"Run 42: thickness: 49 points, mean "), std::string::npos);
    EXPECT_NE(svg.find("<title>Run 42: thickness</title>"), std::string::npos);
  }
}

TEST(WaferMapSvg, SmallWafersHaveAFlatAtScale) {
  const auto svg = wm::draw_svg(figure_of(polar_49(60), 150));
  EXPECT_NE(svg.find("<path class=\"wafer flat\""), std::string::npos);
  EXPECT_EQ(svg.find("notch"), std::string::npos);
  // 57.5 mm of flat on a 150 mm wafer drawn 440 px across.
  const auto [right, left] = outline_ends(svg, "wafer flat");
  EXPECT_NEAR(right - left, 57.5 * 440 / 150, 0.2);

  const auto svg76 = wm::draw_svg(figure_of(polar_49(30), 76));
  const auto [right76, left76] = outline_ends(svg76, "wafer flat");
  EXPECT_NEAR(right76 - left76, 22.22 * 440 / 76, 0.2);
}

TEST(WaferMapSvg, LargeWafersHaveANotch) {
  for (int diameter : {200, 300, 450}) {
    const auto svg = wm::draw_svg(figure_of(polar_49(diameter / 2.5), diameter));
    EXPECT_NE(svg.find("<path class=\"wafer notch\""), std::string::npos) << diameter;
    EXPECT_EQ(svg.find("flat"), std::string::npos) << diameter;
    // The notch's tip (the path's L) sits on the vertical axis, just above the bottom of the circle.
    const auto d = svg.substr(svg.find("<path class=\"wafer notch\""));
    double tip_x = 0, tip_y = 0;
    ASSERT_EQ(std::sscanf(d.c_str() + d.find(" L") + 2, "%lf %lf", &tip_x, &tip_y), 2);
    EXPECT_NEAR(tip_x, 265, 0.05);
    EXPECT_GT(tip_y, 300 + 220 - 12);
    EXPECT_LT(tip_y, 300 + 220 - 4);
  }
}

TEST(WaferMapSvg, WithoutADiameterTheOutlineIsFittedToThePoints) {
  const auto svg = wm::draw_svg(figure_of(polar_49(60), std::nullopt));
  EXPECT_NE(svg.find("<circle class=\"wafer\" cx=\"265.0\" cy=\"300.0\" r=\"220.0\" stroke-dasharray"),
            std::string::npos);
  EXPECT_EQ(svg.find("flat"), std::string::npos);
  EXPECT_EQ(svg.find("notch"), std::string::npos);
  // The farthest point (60 mm out) lands 220 / 1.05 px from the centre: the outline is 5 % beyond it.
  EXPECT_NE(svg.find("<circle cx=\"474.5\" cy=\"300.0\""), std::string::npos);
}

TEST(WaferMapSvg, OneCirclePerPoint) {
  const auto points = die_grid(150, 10);
  const auto svg = wm::draw_svg(figure_of(points, 150));
  EXPECT_EQ(count(group(svg, "points"), "<circle "), points.size());
  const auto fitted = wm::draw_svg(figure_of(polar_49(60), std::nullopt));
  EXPECT_EQ(count(group(fitted, "points"), "<circle "), 49u);
}

TEST(WaferMapSvg, YGrowsUpwards) {
  std::vector<wm::Point> points = {at(0, 50, 1), at(0, -50, 2)};
  const auto svg = wm::draw_svg(figure_of(points, 150));
  // 220 px for 75 mm: 50 mm up is 146.7 px above the centre (y = 300).
  EXPECT_NE(svg.find("<circle cx=\"265.0\" cy=\"153.3\""), std::string::npos);
  EXPECT_NE(svg.find("<circle cx=\"265.0\" cy=\"446.7\""), std::string::npos);
}

TEST(WaferMapSvg, ColoursFollowTheValueOnViridis) {
  std::vector<wm::Point> points = {at(-20, 0, 1), at(0, 0, 2), at(20, 0, 3)};
  const auto svg = wm::draw_svg(figure_of(points, 100));
  const auto dots = group(svg, "points");
  EXPECT_NE(dots.find("fill=\"#440154\""), std::string::npos);  // min: viridis' dark end
  EXPECT_NE(dots.find("fill=\"#21908c\""), std::string::npos);  // mid
  EXPECT_NE(dots.find("fill=\"#fde725\""), std::string::npos);  // max: the bright end
  // The colour bar is the gradient, labelled max, mid and min.
  const auto legend = group(svg, "legend");
  EXPECT_NE(legend.find("fill=\"url(#wafer-map-viridis)\""), std::string::npos);
  EXPECT_NE(svg.find("<stop offset=\"0.125\" stop-color=\"#472d7b\"/>"), std::string::npos);
  EXPECT_NE(legend.find(">3</text>"), std::string::npos);
  EXPECT_NE(legend.find(">2</text>"), std::string::npos);
  EXPECT_NE(legend.find(">1</text>"), std::string::npos);
}

TEST(WaferMapSvg, OneValueEverywhereIsOneColour) {
  std::vector<wm::Point> points = {at(-20, 0, 4), at(0, 0, 4), at(20, 0, 4)};
  const auto svg = wm::draw_svg(figure_of(points, 100));
  EXPECT_EQ(count(group(svg, "points"), "fill=\"#21908c\""), 3u);
  EXPECT_EQ(group(svg, "legend").find("url(#wafer-map-viridis)"), std::string::npos);
}

TEST(WaferMapSvg, FailHasARedRingAndWarnAnOrangeOne) {
  auto points = polar_49(60);
  points[3].evaluation = "fail";
  points[7].evaluation = "warn";
  points[8].evaluation = "below_lod";
  const auto svg = wm::draw_svg(figure_of(points, 150));
  const auto dots = group(svg, "points");
  EXPECT_EQ(count(dots, "stroke=\"#d62728\""), 1u);
  EXPECT_EQ(count(dots, "stroke=\"#ff7f0e\""), 1u);
  EXPECT_NE(group(svg, "legend").find(">fail</text>"), std::string::npos);
  EXPECT_NE(group(svg, "legend").find(">warn</text>"), std::string::npos);
  // The ring belongs to the failing point's own circle (third site of the first ring).
  const auto fail_at = dots.find("stroke=\"#d62728\"");
  const auto circle_at = dots.rfind("<circle ", fail_at);
  EXPECT_EQ(count(dots.substr(0, circle_at), "<circle "), 3u);

  const auto clean = wm::draw_svg(figure_of(polar_49(60), 150));
  EXPECT_EQ(clean.find("#d62728"), std::string::npos);
  EXPECT_EQ(clean.find(">fail</text>"), std::string::npos);
}

TEST(WaferMapSvg, ValuesAreWrittenOnSmallMapsOnly) {
  std::vector<wm::Point> points;
  for (int i = 0; i < 100; ++i)
    points.push_back(at(-45 + 10.0 * (i % 10), -45 + 10.0 * (i / 10), 12.3456 + i));
  auto svg = wm::draw_svg(figure_of(points, 150));
  const auto values = group(svg, "values");
  EXPECT_EQ(count(values, "<text "), 100u);
  EXPECT_NE(values.find(">12.35</text>"), std::string::npos);  // 4 significant digits
  EXPECT_NE(values.find(">111.3</text>"), std::string::npos);

  points.push_back(at(50, 50, 1));
  svg = wm::draw_svg(figure_of(points, 150));
  EXPECT_EQ(svg.find("class=\"values\""), std::string::npos);
  EXPECT_EQ(svg.find(">12.35</text>"), std::string::npos);
  EXPECT_EQ(xml_problem(svg), "");
}

TEST(WaferMapSvg, NamesCannotInjectMarkup) {
  std::vector<wm::Point> points = {at(1, 0, 1, "fail"), at(2, 0, 2, "<b>")};
  points[1].site = "A<1>&\"'";
  wm::Figure f = figure_of(points, 100, "<script>alert('x')</script> & co");
  f.unit = "\"µm\"";
  f.title = "bad \x01 control and \xff\xfe bytes";
  const auto svg = wm::draw_svg(f);
  EXPECT_EQ(svg.find("<script"), std::string::npos);
  EXPECT_NE(svg.find("&lt;script&gt;alert(&apos;x&apos;)&lt;/script&gt; &amp; co"), std::string::npos);
  EXPECT_NE(svg.find("&quot;µm&quot;"), std::string::npos);
  EXPECT_NE(svg.find("site A&lt;1&gt;&amp;&quot;&apos;"), std::string::npos);
  EXPECT_EQ(svg.find('\x01'), std::string::npos);
  EXPECT_EQ(svg.find('\xff'), std::string::npos);
  EXPECT_EQ(xml_problem(svg), "");
  EXPECT_TRUE(xmllint_accepts(svg));
}

TEST(WaferMapSvg, NoNumberIsNaNOrInfinite) {
  std::vector<wm::Point> points = polar_49(60);
  points.push_back(at(1, 2, std::numeric_limits<double>::quiet_NaN()));
  points.push_back(at(INFINITY, 0, 3));
  points.push_back(at(0, std::numeric_limits<double>::quiet_NaN(), 3));
  wm::Figure f = figure_of(points, 150);
  f.summary.uniformity_pct = INFINITY;  // a summary not from summarize() still draws nothing infinite
  const auto svg = wm::draw_svg(f);
  for (const char* bad : {"nan", "NaN", "inf", "Inf"}) EXPECT_EQ(svg.find(bad), std::string::npos) << bad;
  EXPECT_EQ(count(group(svg, "points"), "<circle "), 50u);  // the NaN value is drawn grey; off-canvas ones are not
  EXPECT_NE(group(svg, "points").find("fill=\"#999999\""), std::string::npos);
  EXPECT_EQ(xml_problem(svg), "");
}

TEST(WaferMapSvg, AnEmptyMapStillDraws) {
  const auto svg = wm::draw_svg(figure_of({}, 200));
  EXPECT_EQ(xml_problem(svg), "");
  EXPECT_NE(svg.find(">no measurements</text>"), std::string::npos);
  EXPECT_NE(svg.find("class=\"wafer notch\""), std::string::npos);
  EXPECT_NE(svg.find(">n 0</text>"), std::string::npos);
  EXPECT_EQ(xml_problem(wm::draw_svg(figure_of({}, std::nullopt))), "");
}

TEST(WaferMapSvg, TheLegendShowsTheSummary) {
  const auto svg = wm::draw_svg(figure_of(with_values({1, 2, 3, 4}), 150));
  const auto legend = group(svg, "legend");
  EXPECT_NE(legend.find(">n 4</text>"), std::string::npos);
  EXPECT_NE(legend.find(">mean 2.5 nm</text>"), std::string::npos);
  EXPECT_NE(legend.find(">\u03c3 1.291 nm</text>"), std::string::npos);
  EXPECT_NE(legend.find(">uniformity 51.64 %</text>"), std::string::npos);
  EXPECT_NE(legend.find(">nm</text>"), std::string::npos);
}

TEST(WaferMapSvg, TenThousandPointsDrawQuickly) {
  // A 300 mm wafer on a 2.6 mm grid is about 10,000 sites.
  const auto points = die_grid(300, 2.6);
  ASSERT_GT(points.size(), 10000u);
  const auto f = figure_of(points, 300);
  const auto start = std::chrono::steady_clock::now();
  const auto svg = wm::draw_svg(f);
  const auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(count(group(svg, "points"), "<circle "), points.size());
  EXPECT_EQ(xml_problem(svg), "");
  // Well under 50 ms in a release build; the bound is loose for unoptimised and sanitizer builds, and still
  // fails anything quadratic in the number of points.
  EXPECT_LT(ms, 500) << ms << " ms";
  RecordProperty("draw_ms", std::to_string(ms));
}
