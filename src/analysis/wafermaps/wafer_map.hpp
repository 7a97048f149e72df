#pragma once
// Wafer maps as plain functions (no database, no HTTP): the statistics of a metric measured at positions
// on a wafer, whether a position lies on the wafer, and the map drawn as a self-contained SVG document
// (hand-written text, no drawing library) that the server sends as image/svg+xml.
//
// Positions are in millimetres from the wafer centre, x to the right and y upwards, with the wafer's
// orientation feature (SEMI M1: a primary flat up to 150 mm, a notch from 200 mm) at 6 o'clock.
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace spectra::wafermaps {

struct Point {
  double x_mm = 0, y_mm = 0;
  std::optional<int> die_x, die_y;
  std::optional<std::string> site;
  double value = 0;
  std::string evaluation;  // pass, warn, fail, below_lod or none (against the specification)
};

struct Summary {
  std::size_t n = 0;
  std::optional<double> mean, stdev, min, max, range, uniformity_pct;
};
// n; mean; sample standard deviation (n − 1, null when n < 2); min, max, range (null when n = 0);
// uniformity_pct = 100 · stdev / mean (null when stdev is null or mean is 0). Welford's running moments,
// so values far from zero (1e9 + small deviations) keep their spread. A value that is not finite is left
// out (and not counted in n): the values are finite by construction, and one NaN must not blank the rest.
Summary summarize(std::span<const Point> points);

struct Figure {
  std::string title;  // the document's <title>; the metric when empty
  std::string metric, unit;
  std::optional<int> diameter_mm;  // 50, 76, 100, 125, 150, 200, 300 or 450; null: outline fitted to the points
  std::vector<Point> points;
  Summary summary;  // shown in the legend as given (normally summarize(points))
};
// A self-contained SVG document (640 × 560, legend at the right): the wafer outline at scale with its flat or
// notch at the bottom, each point a circle coloured by value on the viridis scale (red ring: fail, orange:
// warn), the values written on the points when there are at most 100, a colour bar with min/mid/max and the
// unit, and the summary lines. Every text is escaped for XML; no number written is NaN or infinite; a point
// whose position is not finite is not drawn. Linear in the number of points (10,000 draw in a few ms).
std::string draw_svg(const Figure& f);

// Whether (x, y) lies on a wafer of this diameter: inside the circle, the edge included (to a nanometre, so
// that an edge position computed with cos/sin still counts). False for a non-positive diameter or a
// position that is not finite.
bool on_wafer(double x_mm, double y_mm, int diameter_mm);

}  // namespace spectra::wafermaps
