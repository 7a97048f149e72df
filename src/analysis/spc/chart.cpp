#include "analysis/spc/chart.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace spectra::spc {
namespace {

// Montgomery, Appendix VI; ASTM E2587 (see chart.hpp).
constexpr Constants table[] = {
    {2, 1.128, 0.853, 1.880, 0.000, 3.267},  {3, 1.693, 0.888, 1.023, 0.000, 2.574},
    {4, 2.059, 0.880, 0.729, 0.000, 2.282},  {5, 2.326, 0.864, 0.577, 0.000, 2.114},
    {6, 2.534, 0.848, 0.483, 0.000, 2.004},  {7, 2.704, 0.833, 0.419, 0.076, 1.924},
    {8, 2.847, 0.820, 0.373, 0.136, 1.864},  {9, 2.970, 0.808, 0.337, 0.184, 1.816},
    {10, 3.078, 0.797, 0.308, 0.223, 1.777},
};

}  // namespace

const Constants& constants(int n) {
  if (n < min_subgroup || n > max_subgroup) throw std::out_of_range("no control-chart constants for this subgroup size");
  return table[n - min_subgroup];
}

std::optional<Limits> individuals_limits(std::span<const double> values) {
  if (values.size() < 2) return std::nullopt;
  double sum = 0, mr = 0;
  for (std::size_t i = 0; i < values.size(); ++i) {
    sum += values[i];
    if (i) mr += std::fabs(values[i] - values[i - 1]);
  }
  const double mean = sum / static_cast<double>(values.size());
  const double mr_bar = mr / static_cast<double>(values.size() - 1);
  if (!(mr_bar > 0)) return std::nullopt;
  const auto& c = constants(2);
  Limits l;
  l.center = mean;
  l.sigma = mr_bar / c.d2;
  l.ucl = mean + 3 * l.sigma;
  l.lcl = mean - 3 * l.sigma;
  l.range_center = mr_bar;
  l.range_ucl = c.D4 * mr_bar;
  l.range_lcl = c.D3 * mr_bar;
  return l;
}

std::optional<Limits> xbar_r_limits(std::span<const double> values, int n) {
  const auto& c = constants(n);
  const std::size_t groups = values.size() / static_cast<std::size_t>(n);
  if (groups == 0 || values.size() % static_cast<std::size_t>(n) != 0) return std::nullopt;
  double means = 0, ranges = 0;
  for (std::size_t g = 0; g < groups; ++g) {
    auto sub = values.subspan(g * n, n);
    double s = 0;
    for (double v : sub) s += v;
    means += s / n;
    const auto [lo, hi] = std::minmax_element(sub.begin(), sub.end());
    ranges += *hi - *lo;
  }
  const double grand = means / static_cast<double>(groups);
  const double r_bar = ranges / static_cast<double>(groups);
  if (!(r_bar > 0)) return std::nullopt;
  Limits l;
  l.center = grand;
  l.sigma = r_bar / c.d2;
  l.ucl = grand + c.A2 * r_bar;
  l.lcl = grand - c.A2 * r_bar;
  l.range_center = r_bar;
  l.range_ucl = c.D4 * r_bar;
  l.range_lcl = c.D3 * r_bar;
  return l;
}

void Moments::add(double x) noexcept {
  ++n;
  const double delta = x - mean;
  mean += delta / static_cast<double>(n);
  m2 += delta * (x - mean);
}

void Moments::merge(const Moments& o) noexcept {
  if (o.n == 0) return;
  if (n == 0) {
    *this = o;
    return;
  }
  const double total = static_cast<double>(n + o.n);
  const double delta = o.mean - mean;
  mean += delta * static_cast<double>(o.n) / total;
  m2 += o.m2 + delta * delta * static_cast<double>(n) * static_cast<double>(o.n) / total;
  n += o.n;
}

std::optional<double> Moments::stddev() const noexcept {
  if (n < 2) return std::nullopt;
  return std::sqrt(std::max(0.0, m2) / static_cast<double>(n - 1));
}

namespace {

struct Index {
  std::optional<double> p, pk;
};

Index index_for(double mean, std::optional<double> sigma, std::optional<double> lsl, std::optional<double> usl) {
  Index out;
  if (!sigma || !(*sigma > 0) || !std::isfinite(*sigma)) return out;
  if (lsl && usl) out.p = (*usl - *lsl) / (6 * *sigma);
  std::optional<double> upper, lower;
  if (usl) upper = (*usl - mean) / (3 * *sigma);
  if (lsl) lower = (mean - *lsl) / (3 * *sigma);
  if (upper && lower) out.pk = std::min(*upper, *lower);
  else if (upper) out.pk = upper;
  else if (lower) out.pk = lower;
  return out;
}

}  // namespace

Capability capability(double mean, std::optional<double> sigma_within, std::optional<double> sigma_overall,
                      std::optional<double> lsl, std::optional<double> usl) noexcept {
  const auto within = index_for(mean, sigma_within, lsl, usl);
  const auto overall = index_for(mean, sigma_overall, lsl, usl);
  return {within.p, within.pk, overall.p, overall.pk};
}

}  // namespace spectra::spc
