#pragma once
// Control-chart arithmetic as plain functions (no database): the standard constants, control limits
// from a baseline, running moments that merge batch by batch, and process capability.
//
// Constants (d2, d3, A2, D3, D4 for subgroups of n = 2..10) are the usual table, as printed in
// D. C. Montgomery, "Introduction to Statistical Quality Control" (Appendix VI, "Factors for
// Constructing Variables Control Charts") and ASTM E2587: d2 is the mean of the relative range
// R/σ of n normal values, d3 its standard deviation, A2 = 3/(d2·√n), D3 = max(0, 1 − 3·d3/d2),
// D4 = 1 + 3·d3/d2. The unit tests recompute d2 and d3 by numerical integration and the others from
// them, so a typo in the table fails a test.
//
//   I-MR (individuals, moving range of 2):  σ̂ = MR̄/d2(2);  limits x̄ ± 3σ̂ (= x̄ ± 2.660·MR̄);
//                                             MR chart: center MR̄, UCL D4(2)·MR̄, LCL 0.
//   X̄-R (subgroups of n):                   σ̂ = R̄/d2(n);  limits x̿ ± A2(n)·R̄;
//                                             R chart: center R̄, UCL D4(n)·R̄, LCL D3(n)·R̄.
//   Capability (σ within = σ̂ above, σ overall = the sample standard deviation of every value):
//     Cp = (USL − LSL)/6σw,  Cpk = min(USL − μ, μ − LSL)/3σw,  Pp and Ppk the same with σo.
//   Cp and Pp need both spec limits; Cpk and Ppk use the sides given (one side: that side alone);
//   each is null when its σ is not positive or there are fewer than two values.
#include <cstdint>
#include <optional>
#include <span>

namespace spectra::spc {

inline constexpr int min_subgroup = 2;
inline constexpr int max_subgroup = 10;

struct Constants {
  int n;
  double d2, d3, A2, D3, D4;
};
// The constants for subgroups of n (2..10); n outside that range is a programming error (throws).
const Constants& constants(int n);

struct Limits {
  double center = 0, ucl = 0, lcl = 0;  // the chart of individuals or subgroup means
  double sigma = 0;                     // σ̂ within (of individual values)
  double range_center = 0, range_ucl = 0, range_lcl = 0;  // the MR or R chart
};
// From a baseline of individual values (at least 2): nullopt when they show no variation (MR̄ = 0).
std::optional<Limits> individuals_limits(std::span<const double> values);
// From a baseline of whole subgroups of n (values.size() a multiple of n, at least one subgroup):
// nullopt when they show no variation (R̄ = 0).
std::optional<Limits> xbar_r_limits(std::span<const double> values, int n);

// Count, mean and sum of squared deviations (Welford), merged batch by batch (Chan et al.), so that a
// series' σ overall never rescans its history and does not lose precision to a sum of squares.
struct Moments {
  std::int64_t n = 0;
  double mean = 0;
  double m2 = 0;
  void add(double x) noexcept;
  void merge(const Moments& other) noexcept;
  // The sample standard deviation (n − 1); nullopt below two values.
  std::optional<double> stddev() const noexcept;
};

struct Capability {
  std::optional<double> cp, cpk, pp, ppk;
};
Capability capability(double mean, std::optional<double> sigma_within, std::optional<double> sigma_overall,
                      std::optional<double> lsl, std::optional<double> usl) noexcept;

}  // namespace spectra::spc
