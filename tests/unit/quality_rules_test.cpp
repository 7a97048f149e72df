// The quality rules: every boundary of the judgement (a value equal to a limit is inside it), what a
// valid set of limits is, units, the nonconformance's moves and what a disposition does to the sample.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "lims/quality/judging.hpp"
#include "lims/quality/rules.hpp"

using namespace spectra::quality;

namespace {

Limit full() { return {"thickness", "nm", 95, 105, 100, 97, 103, 5}; }

}  // namespace

TEST(QualityJudge, EveryBoundaryOfAFullLimit) {
  const Limit l = full();
  struct Case {
    double value;
    Evaluation expected;
  };
  for (const auto& c : std::vector<Case>{
           {4.999, Evaluation::below_lod}, {5, Evaluation::fail},       {94.999, Evaluation::fail},
           {95, Evaluation::warn},         {96.999, Evaluation::warn},  {97, Evaluation::pass},
           {100, Evaluation::pass},        {103, Evaluation::pass},     {103.001, Evaluation::warn},
           {105, Evaluation::warn},        {105.001, Evaluation::fail}, {1e300, Evaluation::fail},
           {-1e300, Evaluation::below_lod}}) {
    EXPECT_EQ(judge(c.value, l), c.expected) << c.value;
  }
}

TEST(QualityJudge, PartialLimits) {
  Limit upper{"particles", std::nullopt, std::nullopt, 50, std::nullopt, std::nullopt, std::nullopt, std::nullopt};
  EXPECT_EQ(judge(50, upper), Evaluation::pass);
  EXPECT_EQ(judge(50.0001, upper), Evaluation::fail);
  EXPECT_EQ(judge(-3, upper), Evaluation::pass);
  Limit lower{"t", std::nullopt, 10, std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt};
  EXPECT_EQ(judge(10, lower), Evaluation::pass);
  EXPECT_EQ(judge(9.99, lower), Evaluation::fail);
  // A warning band alone warns, never fails.
  Limit warn_only{"t", std::nullopt, std::nullopt, std::nullopt, std::nullopt, 1, 2, std::nullopt};
  EXPECT_EQ(judge(0.5, warn_only), Evaluation::warn);
  EXPECT_EQ(judge(1.5, warn_only), Evaluation::pass);
  // An LOD alone judges nothing but what is below it.
  Limit lod_only{"t", std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt, 0.1};
  EXPECT_EQ(judge(0.05, lod_only), Evaluation::below_lod);
  EXPECT_EQ(judge(0.1, lod_only), Evaluation::none);
  // A target alone judges nothing.
  Limit target_only{"t", std::nullopt, std::nullopt, std::nullopt, 3, std::nullopt, std::nullopt, std::nullopt};
  EXPECT_EQ(judge(300, target_only), Evaluation::none);
}

TEST(QualityJudge, AMetricWithoutALimitIsNone) {
  const std::vector<Limit> limits{full()};
  EXPECT_EQ(judge(1000, "stress", limits), Evaluation::none);
  EXPECT_EQ(judge(1000, "thickness", limits), Evaluation::fail);
  EXPECT_EQ(judge(1000, "thickness", {}), Evaluation::none);
  EXPECT_EQ(to_string(Evaluation::below_lod), "below_lod");
}

TEST(QualityLimits, ValidLimitsHaveNoProblems) {
  EXPECT_TRUE(limit_problems({full()}).empty());
  // The band may touch the limits.
  EXPECT_TRUE(limit_problems({{"t", "µm", 1, 2, std::nullopt, 1, 2, std::nullopt}}).empty());
  EXPECT_TRUE(limit_problems({{"t", std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt, std::nullopt, 0.5}}).empty());
}

TEST(QualityLimits, EachProblemNamesItsField) {
  auto field_of = [](Limit l) {
    auto p = limit_problems({std::move(l)});
    return p.empty() ? std::string("<none>") : p[0].field;
  };
  const auto nan = std::numeric_limits<double>::quiet_NaN();
  const auto inf = std::numeric_limits<double>::infinity();
  Limit l = full();
  l.usl = 95;
  EXPECT_EQ(field_of(l), "limits[0].usl");  // lsl == usl
  l = full();
  l.usl = 90;
  EXPECT_NE(field_of(l), "<none>");
  l = full();
  l.warn_low = 94;
  EXPECT_EQ(field_of(l), "limits[0].warn_low");
  l = full();
  l.warn_high = 106;
  EXPECT_EQ(field_of(l), "limits[0].warn_high");
  l = full();
  l.warn_low = 103;
  l.warn_high = 97;
  EXPECT_EQ(field_of(l), "limits[0].warn_high");
  l = full();
  l.target = 106;
  EXPECT_EQ(field_of(l), "limits[0].target");
  l = full();
  l.lod = 105;
  EXPECT_EQ(field_of(l), "limits[0].lod");
  l = full();
  l.unit = "parsecs";
  EXPECT_EQ(field_of(l), "limits[0].unit");
  l = full();
  l.lsl = nan;
  EXPECT_EQ(field_of(l), "limits[0].lsl");
  l = full();
  l.usl = inf;
  EXPECT_EQ(field_of(l), "limits[0].usl");
  EXPECT_EQ(field_of({"t", std::nullopt, std::nullopt, std::nullopt, 1, std::nullopt, std::nullopt, std::nullopt}),
            "limits[0].lsl");
  auto twice = limit_problems({full(), full()});
  ASSERT_EQ(twice.size(), 1u);
  EXPECT_EQ(twice[0].field, "limits[1].metric");
}

TEST(QualityUnits, KnownUnitsAndMismatches) {
  for (const char* u : {"nm", "µm", "um", "Å", "ohm/sq", "Ω/sq", "ohm·cm", "cm^-3", "%", "V", "A", "sccm", "°C"})
    EXPECT_TRUE(known_unit(u)) << u;
  for (const char* u : {"", "NM", "furlong", "nm ", "mv"}) EXPECT_FALSE(known_unit(u)) << u;
  const Limit l = full();
  EXPECT_EQ(unit_mismatch(std::string("nm"), l), std::nullopt);
  EXPECT_EQ(unit_mismatch(std::nullopt, l), std::nullopt);
  EXPECT_NE(unit_mismatch(std::string("um"), l), std::nullopt);
}

TEST(QualityNonconformance, MovesAndOutcomes) {
  EXPECT_EQ(review_refusal("OPEN", "UNDER_REVIEW"), std::nullopt);
  EXPECT_NE(review_refusal("UNDER_REVIEW", "UNDER_REVIEW"), std::nullopt);
  EXPECT_NE(review_refusal("OPEN", "CLOSED"), std::nullopt);
  EXPECT_EQ(disposition_refusal("OPEN"), std::nullopt);
  EXPECT_EQ(disposition_refusal("UNDER_REVIEW"), std::nullopt);
  EXPECT_NE(disposition_refusal("CLOSED"), std::nullopt);
  EXPECT_EQ(sample_outcome("use_as_is", false), SampleOutcome::release);
  EXPECT_EQ(sample_outcome("rework", false), SampleOutcome::release);
  EXPECT_EQ(sample_outcome("retest", true), SampleOutcome::stay_quarantined);
  EXPECT_EQ(sample_outcome("scrap", true), SampleOutcome::dispose);
}

TEST(QualityLimits, StoredLimitsReadBack) {
  const auto limits = parse_limits(R"([{"metric":"thickness","unit":"nm","lsl":95,"usl":105.5,"lod":5},{"metric":"x"}])");
  ASSERT_EQ(limits.size(), 2u);
  EXPECT_EQ(limits[0].unit, "nm");
  EXPECT_EQ(limits[0].usl, 105.5);
  EXPECT_EQ(limits[0].warn_low, std::nullopt);
  EXPECT_EQ(limits[1].lsl, std::nullopt);
}

TEST(QualityNonconformance, ADispositionSignatureCoversEveryFieldWithoutAmbiguity) {
  const SignedDisposition base{"nc", "run", "sample", "thickness", 2, "rework", "ok", "user", "Pat", "2026-12-07T10:00:00Z"};
  const std::string hash = disposition_signature(base);
  EXPECT_EQ(hash.size(), 32u);
  EXPECT_EQ(disposition_signature(base), hash);
  SignedDisposition other = base;
  other.failures = 3;
  EXPECT_NE(disposition_signature(other), hash);
  // A character moved from one field to the next is another signature.
  other = base;
  other.metric = "thicknes";
  other.disposition = "srework";
  EXPECT_NE(disposition_signature(other), hash);
  other = base;
  other.signer_name = "Pat Investigator";
  EXPECT_NE(disposition_signature(other), hash);
}
