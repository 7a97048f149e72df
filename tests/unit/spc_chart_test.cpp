// Control-chart arithmetic (analysis/spc/chart.hpp) without a database: the constants table against
// d2 and d3 recomputed by numerical integration; individuals and X̄-R limits on small hand-computed
// data; running moments, added and merged, against a two-pass computation; the capability formulas and
// their null cases; and two published textbook examples (Montgomery's piston-ring inside diameters and
// aircraft primer paint viscosity, as shipped and printed by the R package qcc) checked to the
// published precision.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "analysis/spc/chart.hpp"

using namespace spectra::spc;

namespace {

// ---- d2 and d3 by numerical integration ----
//
// For n standard normal values with min m and max M, R = M − m:
//   d2 = E[R]  = ∫ 1 − Φ(x)^n − (1 − Φ(x))^n dx
//   E[R²]      = 2 ∫∫_{x<y} P(m ≤ x, M > y) dx dy   (since (M − m)² = 2 · the area of {m ≤ x < y < M}),
//                with P(m ≤ x, M > y) = 1 − (1 − Φ(x))^n − Φ(y)^n + (Φ(y) − Φ(x))^n;  d3 = √(E[R²] − d2²).
// x runs over [−9, 9] with the trapezoidal rule (the integrands vanish smoothly at both ends, where
// the rule converges very fast) and w = y − x over [0, 18] with Simpson's rule, step 0.02 for both:
// the results agree with a step of 0.01 to 1e-6 and with the closed forms for n = 2 (test below).

constexpr double grid_step = 0.02;
constexpr int half_width = 450;  // 9 / 0.02: x from −9 to 9
constexpr int w_steps = 900;     // 18 / 0.02: w from 0 to 18 (an even count, for Simpson)

double power(double base, int n) {
  double r = 1;
  for (int i = 0; i < n; ++i) r *= base;
  return r;
}

struct RangeMoments {
  double d2, d3;
};

RangeMoments range_moments(int n) {
  // Φ at x = −9 + i·h for i up to the largest x + w (27).
  std::vector<double> phi(2 * half_width + w_steps + 1);
  for (std::size_t i = 0; i < phi.size(); ++i)
    phi[i] = 0.5 * std::erfc(-(-half_width + static_cast<double>(i)) * grid_step / std::sqrt(2.0));
  const int xs = 2 * half_width;  // x indices 0..xs
  double d2 = 0;
  for (int i = 0; i <= xs; ++i) {
    const double f = 1 - power(phi[i], n) - power(1 - phi[i], n);
    d2 += (i == 0 || i == xs ? 0.5 : 1.0) * f * grid_step;
  }
  double er2 = 0;
  for (int j = 0; j <= w_steps; ++j) {
    double inner = 0;
    for (int i = 0; i <= xs; ++i) {
      const double fx = phi[i], fy = phi[i + j];
      const double p = 1 - power(1 - fx, n) - power(fy, n) + power(fy - fx, n);
      inner += (i == 0 || i == xs ? 0.5 : 1.0) * p * grid_step;
    }
    const double simpson = (j == 0 || j == w_steps) ? 1 : (j % 2 ? 4 : 2);
    er2 += simpson * grid_step / 3 * inner;
  }
  er2 *= 2;
  return {d2, std::sqrt(er2 - d2 * d2)};
}

const std::vector<RangeMoments>& integrated() {  // [n − 2] for n = 2..10
  static const std::vector<RangeMoments> all = [] {
    std::vector<RangeMoments> out;
    for (int n = min_subgroup; n <= max_subgroup; ++n) out.push_back(range_moments(n));
    return out;
  }();
  return all;
}

// ---- deterministic pseudo-random numbers (mt19937_64's output is fixed by the standard; the
// distributions are not, so uniforms are made from its bits here) ----

struct Rng {
  std::mt19937_64 engine;
  explicit Rng(std::uint64_t seed) : engine(seed) {}
  double uniform() { return static_cast<double>(engine() >> 11) * 0x1.0p-53; }  // [0, 1)
  std::size_t below(std::size_t n) { return static_cast<std::size_t>(uniform() * static_cast<double>(n)); }
};

// Mean and sum of squared deviations by two passes in long double: the reference for Moments.
struct TwoPass {
  long double mean, m2;
};
TwoPass two_pass(const std::vector<double>& v, double offset = 0) {
  long double s = 0;
  for (double x : v) s += static_cast<long double>(x - offset);
  const long double mean = s / static_cast<long double>(v.size());
  long double m2 = 0;
  for (double x : v) {
    const long double d = static_cast<long double>(x - offset) - mean;
    m2 += d * d;
  }
  return {mean + offset, m2};
}

double relative(double got, long double want) { return static_cast<double>(std::fabs((got - want) / want)); }

Moments moments_of(const std::vector<double>& v, std::size_t from, std::size_t to) {
  Moments m;
  for (std::size_t i = from; i < to; ++i) m.add(v[i]);
  return m;
}

}  // namespace

// ---- The constants table ----

TEST(SpcConstants, IntegratorReproducesTheClosedFormsForPairs) {
  // For n = 2, R = √2·|Z|: E[R] = 2/√π and E[R²] = 2, so d3 = √(2 − 4/π).
  const double pi = std::acos(-1.0);
  EXPECT_NEAR(integrated()[0].d2, 2 / std::sqrt(pi), 1e-6);
  EXPECT_NEAR(integrated()[0].d3, std::sqrt(2 - 4 / pi), 1e-6);
}

TEST(SpcConstants, D2AndD3MatchNumericalIntegrationToThreeDecimals) {
  for (int n = min_subgroup; n <= max_subgroup; ++n) {
    SCOPED_TRACE("n = " + std::to_string(n));
    const Constants& c = constants(n);
    const RangeMoments& exact = integrated()[n - min_subgroup];
    EXPECT_EQ(c.n, n);
    EXPECT_NEAR(c.d2, exact.d2, 0.0006);
    EXPECT_NEAR(c.d3, exact.d3, 0.0006);
  }
}

TEST(SpcConstants, A2D3D4FollowFromD2AndD3) {
  // A2 = 3/(d2·√n), D3 = max(0, 1 − 3·d3/d2), D4 = 1 + 3·d3/d2, from the integrated d2 and d3. (Fed
  // the table's own 3-decimal d2 and d3, the formulas move by up to 0.0016: for n = 2 they give
  // D4 = 1 + 3·0.853/1.128 = 3.2686 against the printed 3.267, which is the exact 3.26653 rounded.)
  for (int n = min_subgroup; n <= max_subgroup; ++n) {
    SCOPED_TRACE("n = " + std::to_string(n));
    const Constants& c = constants(n);
    const RangeMoments& exact = integrated()[n - min_subgroup];
    EXPECT_NEAR(c.A2, 3 / (exact.d2 * std::sqrt(static_cast<double>(n))), 0.0015);
    EXPECT_NEAR(c.D3, std::max(0.0, 1 - 3 * exact.d3 / exact.d2), 0.0015);
    EXPECT_NEAR(c.D4, 1 + 3 * exact.d3 / exact.d2, 0.0015);
  }
}

TEST(SpcConstants, SubgroupSizesOutsideTwoToTenThrow) {
  EXPECT_THROW(constants(1), std::out_of_range);
  EXPECT_THROW(constants(11), std::out_of_range);
}

// ---- Limits on hand-computed data ----

TEST(SpcIndividualsLimits, HandComputedExample) {
  // Values 10, 12, 11, 15, 12: mean 60/5 = 12; moving ranges 2, 1, 4, 3, MR̄ = 10/4 = 2.5.
  // σ̂ = 2.5/1.128 = 2.21631205…; limits 12 ± 3·2.5/1.128 = 12 ± 6.64893617… = 18.64893617…/5.35106382…
  // MR chart: center 2.5, UCL D4(2)·2.5 = 3.267·2.5 = 8.1675, LCL D3(2)·2.5 = 0.
  const std::vector<double> v = {10, 12, 11, 15, 12};
  const auto l = individuals_limits(v);
  ASSERT_TRUE(l);
  EXPECT_NEAR(l->center, 12, 1e-12);
  EXPECT_NEAR(l->sigma, 2.5 / 1.128, 1e-12);
  EXPECT_NEAR(l->sigma, 2.2163120567, 1e-9);
  EXPECT_NEAR(l->ucl, 18.6489361702, 1e-9);
  EXPECT_NEAR(l->lcl, 5.3510638298, 1e-9);
  EXPECT_NEAR(l->range_center, 2.5, 1e-12);
  EXPECT_NEAR(l->range_ucl, 8.1675, 1e-12);
  EXPECT_EQ(l->range_lcl, 0);
}

TEST(SpcIndividualsLimits, NoVariationOrTooFewValuesGiveNothing) {
  EXPECT_EQ(individuals_limits(std::vector<double>{}), std::nullopt);
  EXPECT_EQ(individuals_limits(std::vector<double>{5}), std::nullopt);
  EXPECT_EQ(individuals_limits(std::vector<double>{3, 3, 3, 3}), std::nullopt);
}

TEST(SpcXbarRLimits, HandComputedSubgroupsOfThree) {
  // Subgroups {1,2,3}, {2,4,6}, {3,3,6}: means 2, 4, 4 → x̿ = 10/3 = 3.33333…; ranges 2, 4, 3 → R̄ = 3.
  // σ̂ = 3/1.693 = 1.77200236…; limits 10/3 ± A2(3)·3 = 10/3 ± 1.023·3 = 6.40233333…/0.26433333…
  // R chart: center 3, UCL D4(3)·3 = 2.574·3 = 7.722, LCL D3(3)·3 = 0.
  const std::vector<double> v = {1, 2, 3, 2, 4, 6, 3, 3, 6};
  const auto l = xbar_r_limits(v, 3);
  ASSERT_TRUE(l);
  EXPECT_NEAR(l->center, 3.3333333333, 1e-9);
  EXPECT_NEAR(l->sigma, 1.7720023627, 1e-9);
  EXPECT_NEAR(l->ucl, 6.4023333333, 1e-9);
  EXPECT_NEAR(l->lcl, 0.2643333333, 1e-9);
  EXPECT_NEAR(l->range_center, 3, 1e-12);
  EXPECT_NEAR(l->range_ucl, 7.722, 1e-12);
  EXPECT_EQ(l->range_lcl, 0);
}

TEST(SpcXbarRLimits, HandComputedSubgroupOfSevenHasAPositiveRangeLcl) {
  // One subgroup {6,0,5,1,4,2,3} (unsorted): mean 21/7 = 3, range 6 − 0 = 6.
  // σ̂ = 6/2.704 = 2.21893491…; limits 3 ± 0.419·6 = 3 ± 2.514 = 5.514/0.486.
  // R chart: center 6, UCL 1.924·6 = 11.544, LCL 0.076·6 = 0.456.
  const std::vector<double> v = {6, 0, 5, 1, 4, 2, 3};
  const auto l = xbar_r_limits(v, 7);
  ASSERT_TRUE(l);
  EXPECT_NEAR(l->center, 3, 1e-12);
  EXPECT_NEAR(l->sigma, 2.2189349112, 1e-9);
  EXPECT_NEAR(l->ucl, 5.514, 1e-12);
  EXPECT_NEAR(l->lcl, 0.486, 1e-12);
  EXPECT_NEAR(l->range_center, 6, 1e-12);
  EXPECT_NEAR(l->range_ucl, 11.544, 1e-12);
  EXPECT_NEAR(l->range_lcl, 0.456, 1e-12);
}

TEST(SpcXbarRLimits, NoWholeSubgroupOrNoVariationGiveNothing) {
  EXPECT_EQ(xbar_r_limits(std::vector<double>{}, 3), std::nullopt);
  EXPECT_EQ(xbar_r_limits(std::vector<double>{1, 2, 3, 4, 5, 6, 7}, 3), std::nullopt);  // 7 is not 3·k
  // Means differ but every subgroup is constant: R̄ = 0.
  EXPECT_EQ(xbar_r_limits(std::vector<double>{1, 1, 1, 5, 5, 5}, 3), std::nullopt);
}

// ---- Moments ----

TEST(SpcMoments, AddedAndMergedRandomSplitsMatchTwoPass) {
  Rng rng(20240611);
  std::vector<double> v;
  for (int i = 0; i < 2000; ++i) v.push_back(50 + 6 * (rng.uniform() + rng.uniform() + rng.uniform() - 1.5));
  const TwoPass ref = two_pass(v);

  const Moments all = moments_of(v, 0, v.size());
  EXPECT_EQ(all.n, 2000);
  EXPECT_LT(relative(all.mean, ref.mean), 1e-12);
  EXPECT_LT(relative(all.m2, ref.m2), 1e-12);

  for (int trial = 0; trial < 50; ++trial) {
    SCOPED_TRACE("trial " + std::to_string(trial));
    // 1 to 8 random cuts (coinciding cuts make empty chunks, which merge as nothing).
    std::vector<std::size_t> cuts = {0, v.size()};
    const std::size_t count = 1 + rng.below(8);
    for (std::size_t c = 0; c < count; ++c) cuts.push_back(rng.below(v.size() + 1));
    std::sort(cuts.begin(), cuts.end());
    std::vector<Moments> chunks;
    for (std::size_t c = 0; c + 1 < cuts.size(); ++c) chunks.push_back(moments_of(v, cuts[c], cuts[c + 1]));

    Moments forward, backward;
    for (const auto& m : chunks) forward.merge(m);                                     // oldest batch first
    for (auto it = chunks.rbegin(); it != chunks.rend(); ++it) backward.merge(*it);  // newest first
    for (const Moments* m : {&forward, &backward}) {
      EXPECT_EQ(m->n, 2000);
      EXPECT_LT(relative(m->mean, ref.mean), 1e-12);
      EXPECT_LT(relative(m->m2, ref.m2), 1e-12);
      ASSERT_TRUE(m->stddev());
      EXPECT_LT(relative(*m->stddev(), std::sqrt(ref.m2 / 1999)), 1e-12);
    }
  }
}

TEST(SpcMoments, LargeOffsetStaysPrecise) {
  // Values around 1e9 spread over about ±1: a sum of squares (Σx² − (Σx)²/n) would lose every digit
  // (Σx² ≈ 5e21, where a double's spacing is about 1e6). The reference subtracts 1e9 exactly first.
  Rng rng(7);
  std::vector<double> v;
  for (int i = 0; i < 10000; ++i) v.push_back(1e9 + 2 * rng.uniform() - 1);
  const TwoPass ref = two_pass(v, 1e9);
  const long double sd = std::sqrt(ref.m2 / (v.size() - 1));

  Moments added = moments_of(v, 0, v.size());
  Moments merged = moments_of(v, 0, 3333);
  merged.merge(moments_of(v, 3333, 7000));
  merged.merge(moments_of(v, 7000, v.size()));
  for (const Moments* m : {&added, &merged}) {
    // The running mean is a double near 1e9 (spacing 1.2e-7): within 1e-5 is 1e-14 relative.
    EXPECT_LT(std::fabs(static_cast<double>(m->mean - ref.mean)), 1e-5);
    ASSERT_TRUE(m->stddev());
    EXPECT_LT(relative(*m->stddev(), sd), 1e-6);
  }
}

TEST(SpcMoments, StddevNeedsTwoValues) {
  Moments m;
  EXPECT_EQ(m.stddev(), std::nullopt);
  m.add(5);
  EXPECT_EQ(m.stddev(), std::nullopt);
  m.add(7);  // mean 6, squared deviations 1 + 1 = 2, over n − 1 = 1
  ASSERT_TRUE(m.stddev());
  EXPECT_DOUBLE_EQ(*m.stddev(), std::sqrt(2.0));
}

TEST(SpcMoments, MergingWithEmptyChangesNothing) {
  Moments a;
  for (double x : {1.0, 4.0, 2.0}) a.add(x);
  Moments with_empty = a;
  with_empty.merge(Moments{});
  Moments into_empty;
  into_empty.merge(a);
  for (const Moments* m : {&with_empty, &into_empty}) {
    EXPECT_EQ(m->n, a.n);
    EXPECT_EQ(m->mean, a.mean);
    EXPECT_EQ(m->m2, a.m2);
  }
}

// ---- Capability ----

TEST(SpcCapability, BothSpecLimits) {
  // Mean 10, σ within 0.5, σ overall 1, spec 7..14:
  // Cp = 7/(6·0.5) = 7/3; Cpk = min(14 − 10, 10 − 7)/(3·0.5) = 3/1.5 = 2;
  // Pp = 7/6;            Ppk = min(4, 3)/3 = 1.
  const auto c = capability(10, 0.5, 1.0, 7, 14);
  ASSERT_TRUE(c.cp && c.cpk && c.pp && c.ppk);
  EXPECT_DOUBLE_EQ(*c.cp, 7.0 / 3);
  EXPECT_DOUBLE_EQ(*c.cpk, 2);
  EXPECT_DOUBLE_EQ(*c.pp, 7.0 / 6);
  EXPECT_DOUBLE_EQ(*c.ppk, 1);
}

TEST(SpcCapability, MeanOutsideTheSpecGivesNegativeCpk) {
  // Mean 15 above USL 14: Cpk = min(14 − 15, 15 − 7)/1.5 = −2/3; Ppk = −1/3. Cp and Pp ignore the mean.
  const auto c = capability(15, 0.5, 1.0, 7, 14);
  ASSERT_TRUE(c.cp && c.cpk && c.pp && c.ppk);
  EXPECT_DOUBLE_EQ(*c.cp, 7.0 / 3);
  EXPECT_DOUBLE_EQ(*c.cpk, -2.0 / 3);
  EXPECT_DOUBLE_EQ(*c.pp, 7.0 / 6);
  EXPECT_DOUBLE_EQ(*c.ppk, -1.0 / 3);
}

TEST(SpcCapability, OneSidedSpecUsesThatSide) {
  const auto upper = capability(10, 0.5, 1.0, std::nullopt, 14);  // (14 − 10)/1.5, (14 − 10)/3
  EXPECT_EQ(upper.cp, std::nullopt);
  EXPECT_EQ(upper.pp, std::nullopt);
  ASSERT_TRUE(upper.cpk && upper.ppk);
  EXPECT_DOUBLE_EQ(*upper.cpk, 8.0 / 3);
  EXPECT_DOUBLE_EQ(*upper.ppk, 4.0 / 3);

  const auto lower = capability(10, 0.5, 1.0, 7, std::nullopt);  // (10 − 7)/1.5, (10 − 7)/3
  EXPECT_EQ(lower.cp, std::nullopt);
  EXPECT_EQ(lower.pp, std::nullopt);
  ASSERT_TRUE(lower.cpk && lower.ppk);
  EXPECT_DOUBLE_EQ(*lower.cpk, 2);
  EXPECT_DOUBLE_EQ(*lower.ppk, 1);
}

TEST(SpcCapability, NoSpecLimitsGiveNothing) {
  const auto c = capability(10, 0.5, 1.0, std::nullopt, std::nullopt);
  EXPECT_EQ(c.cp, std::nullopt);
  EXPECT_EQ(c.cpk, std::nullopt);
  EXPECT_EQ(c.pp, std::nullopt);
  EXPECT_EQ(c.ppk, std::nullopt);
}

TEST(SpcCapability, SigmaMissingOrNotPositiveNullsItsOwnIndicesOnly) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (const std::optional<double> bad : {std::optional<double>{}, std::optional<double>{0.0},
                                          std::optional<double>{-1.0}, std::optional<double>{nan}}) {
    SCOPED_TRACE(bad ? std::to_string(*bad) : "missing");
    const auto within_bad = capability(10, bad, 1.0, 7, 14);
    EXPECT_EQ(within_bad.cp, std::nullopt);
    EXPECT_EQ(within_bad.cpk, std::nullopt);
    ASSERT_TRUE(within_bad.pp && within_bad.ppk);
    EXPECT_DOUBLE_EQ(*within_bad.pp, 7.0 / 6);
    EXPECT_DOUBLE_EQ(*within_bad.ppk, 1);

    const auto overall_bad = capability(10, 0.5, bad, 7, 14);
    EXPECT_EQ(overall_bad.pp, std::nullopt);
    EXPECT_EQ(overall_bad.ppk, std::nullopt);
    ASSERT_TRUE(overall_bad.cp && overall_bad.cpk);
    EXPECT_DOUBLE_EQ(*overall_bad.cp, 7.0 / 3);
    EXPECT_DOUBLE_EQ(*overall_bad.cpk, 2);
  }
}

// ---- Textbook example 1: piston-ring inside diameters (X̄-R chart and capability) ----
//
// Data: D. C. Montgomery, "Introduction to Statistical Quality Control", the piston-ring inside
// diameters in mm, 25 preliminary samples of 5 (Table 6.3, as the book's exercises cite it with
// specifications 74.000 ± 0.05 mm; 2nd ed. 1991, pp. 206–213, per qcc's man/pistonrings.Rd). Copied
// from the R package qcc, github.com/luca-scr/qcc, data/pistonrings.txt (rows with trial = TRUE).
//
// Published figures: qcc's own printed output (pkgdown site, docs/reference/qcc.html and
// docs/articles/qcc.html in the same repository) for qcc(diameter[1:25,], type = "xbar") / "R":
//   Center of group statistics = 74.00118   Standard deviation = 0.009785039   LCL 73.98805  UCL 74.0143
//   R chart: Center 0.02276, LCL 0, UCL 0.04812533
// and for processCapability(q, spec.limits = …) (3 decimals):
//   73.95..74.05: Cp 1.703, Cp_l 1.743, Cp_u 1.663, Cp_k 1.663
//   73.99..74.01: Cp 0.341, Cp_k 0.301
//   73.99..74.1:  Cp 1.874, Cp_l 0.381, Cp_u 3.367, Cp_k 0.381
// and describe(pistonrings, by = trial) (docs/reference/pistonrings.html): StdDev of the 125 = 0.01007.
//
// qcc's σ̂ is R̄/d2 with d2 = 2.326 from its own 3-decimal table (R/utilities.R, exp.R.unscaled), as
// here, so σ̂ and the capability indices fed with it agree to the printed digits. Its X̄ limits are
// x̿ ± 3σ̂/√5 where ours are x̿ ± A2·R̄ with A2 = 0.577, and its R-chart UCL is R̄ + 3·d3·σ̂ with
// d3 = 0.8640855 where ours is D4·R̄ with D4 = 2.114: the tolerances below add, to half a unit of the
// last printed digit, the effect of A2 and D4 being printed to 3 decimals.

namespace {

const std::vector<double> piston_rings = {
    74.030, 74.002, 74.019, 73.992, 74.008,  // sample 1
    73.995, 73.992, 74.001, 74.011, 74.004,  // sample 2
    73.988, 74.024, 74.021, 74.005, 74.002,  // sample 3
    74.002, 73.996, 73.993, 74.015, 74.009,  // sample 4
    73.992, 74.007, 74.015, 73.989, 74.014,  // sample 5
    74.009, 73.994, 73.997, 73.985, 73.993,  // sample 6
    73.995, 74.006, 73.994, 74.000, 74.005,  // sample 7
    73.985, 74.003, 73.993, 74.015, 73.988,  // sample 8
    74.008, 73.995, 74.009, 74.005, 74.004,  // sample 9
    73.998, 74.000, 73.990, 74.007, 73.995,  // sample 10
    73.994, 73.998, 73.994, 73.995, 73.990,  // sample 11
    74.004, 74.000, 74.007, 74.000, 73.996,  // sample 12
    73.983, 74.002, 73.998, 73.997, 74.012,  // sample 13
    74.006, 73.967, 73.994, 74.000, 73.984,  // sample 14
    74.012, 74.014, 73.998, 73.999, 74.007,  // sample 15
    74.000, 73.984, 74.005, 73.998, 73.996,  // sample 16
    73.994, 74.012, 73.986, 74.005, 74.007,  // sample 17
    74.006, 74.010, 74.018, 74.003, 74.000,  // sample 18
    73.984, 74.002, 74.003, 74.005, 73.997,  // sample 19
    74.000, 74.010, 74.013, 74.020, 74.003,  // sample 20
    73.988, 74.001, 74.009, 74.005, 73.996,  // sample 21
    74.004, 73.999, 73.990, 74.006, 74.009,  // sample 22
    74.010, 73.989, 73.990, 74.009, 74.014,  // sample 23
    74.015, 74.008, 73.993, 74.000, 74.010,  // sample 24
    73.982, 73.984, 73.995, 74.017, 74.013,  // sample 25
};

// Half a unit of a figure's last printed digit, plus room for binary rounding.
double half_unit(double unit) { return unit / 2 + 1e-12; }

}  // namespace

TEST(SpcTextbookPistonRings, XbarAndRChartMatchQcc) {
  ASSERT_EQ(piston_rings.size(), 125u);
  const auto l = xbar_r_limits(piston_rings, 5);
  ASSERT_TRUE(l);
  const double r_bar = l->range_center;
  EXPECT_NEAR(l->center, 74.00118, half_unit(1e-5));
  EXPECT_NEAR(l->sigma, 0.009785039, half_unit(1e-9));
  // A2 = 0.577 against qcc's 3/(2.326·√5) = 0.576804: |Δ|·R̄ ≈ 4.5e-6.
  const double a2_effect = std::fabs(0.577 - 3 / (2.326 * std::sqrt(5.0))) * r_bar;
  EXPECT_NEAR(l->lcl, 73.98805, half_unit(1e-5) + a2_effect);
  EXPECT_NEAR(l->ucl, 74.0143, half_unit(1e-5) + a2_effect);
  EXPECT_NEAR(r_bar, 0.02276, half_unit(1e-8));
  EXPECT_EQ(l->range_lcl, 0);
  // D4 printed to 3 decimals: within 0.0005 of its value, so within 0.0005·R̄ ≈ 1.14e-5 of qcc's UCL.
  EXPECT_NEAR(l->range_ucl, 0.04812533, half_unit(1e-8) + 0.0005 * r_bar);
}

TEST(SpcTextbookPistonRings, OverallStandardDeviationMatchesQcc) {
  Moments m;
  for (double x : piston_rings) m.add(x);
  ASSERT_TRUE(m.stddev());
  EXPECT_NEAR(*m.stddev(), 0.01007, half_unit(1e-5));
}

TEST(SpcTextbookPistonRings, CapabilityMatchesQcc) {
  // capability() fed qcc's σ̂ (R̄/2.326, checked above) and x̿; no σ overall (qcc prints no Pp here).
  const auto l = xbar_r_limits(piston_rings, 5);
  ASSERT_TRUE(l);
  const double tol = half_unit(1e-3);
  auto cap = [&](std::optional<double> lsl, std::optional<double> usl) {
    return capability(l->center, l->sigma, std::nullopt, lsl, usl);
  };

  const auto wide = cap(73.95, 74.05);
  ASSERT_TRUE(wide.cp && wide.cpk);
  EXPECT_NEAR(*wide.cp, 1.703, tol);
  EXPECT_NEAR(*wide.cpk, 1.663, tol);

  const auto narrow = cap(73.99, 74.01);
  ASSERT_TRUE(narrow.cp && narrow.cpk);
  EXPECT_NEAR(*narrow.cp, 0.341, tol);
  EXPECT_NEAR(*narrow.cpk, 0.301, tol);

  const auto skewed = cap(73.99, 74.1);
  ASSERT_TRUE(skewed.cp && skewed.cpk);
  EXPECT_NEAR(*skewed.cp, 1.874, tol);
  EXPECT_NEAR(*skewed.cpk, 0.381, tol);

  // One side alone: Cpk is that side's index, as qcc prints it (Cp_l, Cp_u).
  const auto lower_only = cap(73.95, std::nullopt);
  ASSERT_TRUE(lower_only.cpk);
  EXPECT_NEAR(*lower_only.cpk, 1.743, tol);
  const auto upper_only = cap(std::nullopt, 74.05);
  ASSERT_TRUE(upper_only.cpk);
  EXPECT_NEAR(*upper_only.cpk, 1.663, tol);
  const auto far_upper_only = cap(std::nullopt, 74.1);
  ASSERT_TRUE(far_upper_only.cpk);
  EXPECT_NEAR(*far_upper_only.cpk, 3.367, tol);
}

// ---- Textbook example 2: aircraft primer paint viscosity (individuals chart) ----
//
// Data: D. C. Montgomery, "Introduction to Statistical Quality Control", 5th ed. (2005), pp. 232–235:
// viscosity of 20 batches (phase I), as shipped in qcc, github.com/luca-scr/qcc, data/viscosity.txt
// (rows with trial = TRUE; reference in man/viscosity.Rd). Published figures: qcc's printed output in
// docs/articles/qcc.html for qcc(viscosity[trial], type = "xbar.one"):
//   all 20:             Center 34.088     Standard deviation 0.5076521  LCL 32.56504  UCL 35.61096
//   batch 4 removed:    Center 33.98947   Standard deviation 0.4117415  LCL 32.75425  UCL 35.2247
// qcc's σ̂ there is MR̄/d2(2) with d2 = 1.128 and its limits center ± 3σ̂, exactly our method, so the
// tolerance is half a unit of the last printed digit.

TEST(SpcTextbookViscosity, IndividualsChartMatchesQcc) {
  std::vector<double> viscosity = {34.05, 34.40, 33.59, 35.96, 34.70, 33.51, 33.79, 34.04, 34.52, 33.75,
                                   33.27, 33.71, 34.03, 34.58, 34.02, 33.97, 34.05, 34.04, 33.73, 34.05};
  const auto all = individuals_limits(viscosity);
  ASSERT_TRUE(all);
  EXPECT_NEAR(all->center, 34.088, half_unit(1e-5));
  EXPECT_NEAR(all->sigma, 0.5076521, half_unit(1e-7));
  EXPECT_NEAR(all->lcl, 32.56504, half_unit(1e-5));
  EXPECT_NEAR(all->ucl, 35.61096, half_unit(1e-5));

  viscosity.erase(viscosity.begin() + 3);  // batch 4, 35.96
  const auto without_4 = individuals_limits(viscosity);
  ASSERT_TRUE(without_4);
  EXPECT_NEAR(without_4->center, 33.98947, half_unit(1e-5));
  EXPECT_NEAR(without_4->sigma, 0.4117415, half_unit(1e-7));
  EXPECT_NEAR(without_4->lcl, 32.75425, half_unit(1e-5));
  EXPECT_NEAR(without_4->ucl, 35.2247, half_unit(1e-5));
}
