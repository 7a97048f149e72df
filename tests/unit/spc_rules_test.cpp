// The eight Nelson rules (analysis/spc/nelson.hpp) rule by rule, on hand-made sequences: each rule
// tripped exactly at its threshold and missed just short of it (one point too few, a point exactly on
// a zone line, a tie, a zero difference, the newest point not among the extremes, a split across the
// sides). Every test asserts the exact set of rules fired at every index and the window of positions
// each violation lists (oldest first), so a rule firing by accident fails too. Most sequences use center
// 0 and σ 1 (zone lines at ±1, ±2, ±3, all exact in binary); one group uses asymmetric limits and one a
// non-zero center. The last tests number positions through set_first_position and across the ring.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "analysis/spc/nelson.hpp"

using namespace spectra::spc;

namespace {

// How many values each rule reads, written again from Nelson (1984) rather than read from rule_window.
constexpr std::array<int, 9> nelson_window = {0, 1, 9, 6, 14, 3, 5, 15, 8};

const Zones unit{0.0, 1.0, 1.0};

// The positions newest − k + 1 .. newest, oldest first.
std::vector<std::uint64_t> window_ending(std::uint64_t newest, int k) {
  std::vector<std::uint64_t> out;
  for (std::uint64_t p = newest + 1 - k; p <= newest; ++p) out.push_back(p);
  return out;
}

// Adds values one by one to a window whose first position is `first` and checks, at every index, that
// the rules fired are exactly expected[index] (none where the index is absent), in rule order, each
// listing the window of its length ending at the newest position.
void expect_fired(const std::vector<double>& values, const Zones& zones,
                  const std::map<std::size_t, std::vector<int>>& expected, std::uint64_t first = 0) {
  NelsonWindow w(zones);
  w.set_first_position(first);
  for (std::size_t i = 0; i < values.size(); ++i) {
    const std::uint64_t position = first + i;
    ASSERT_EQ(w.next_position(), position);
    const auto got = w.add(values[i]);
    std::vector<int> rules;
    for (const auto& v : got) rules.push_back(v.rule);
    const auto want = expected.find(i);
    EXPECT_EQ(rules, want == expected.end() ? std::vector<int>{} : want->second)
        << "rules fired at index " << i << " (value " << values[i] << ")";
    for (const auto& v : got) {
      ASSERT_GE(v.rule, 1);
      ASSERT_LE(v.rule, 8);
      const int k = nelson_window[v.rule];
      ASSERT_GE(position + 1, static_cast<std::uint64_t>(k)) << "rule " << v.rule << " fired before its window filled";
      EXPECT_EQ(v.points, window_ending(position, k)) << "window of rule " << v.rule << " at index " << i;
    }
  }
}

std::vector<double> repeat(const std::vector<double>& block, int times) {
  std::vector<double> out;
  for (int t = 0; t < times; ++t) out.insert(out.end(), block.begin(), block.end());
  return out;
}

std::vector<double> concat(std::vector<double> a, const std::vector<double>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Within 1σ, never six in one direction, never alternating, never nine on one side.
const std::vector<double> calm = {-0.5, 0.0, 0.5};

}  // namespace

TEST(NelsonRules, WindowLengthsAreNelsons) { EXPECT_EQ(rule_window, nelson_window); }

TEST(NelsonRules, ZonesFromLimitsTakeEachSideSeparately) {
  const Zones z = zones_from_limits(10, 16, 7);
  EXPECT_EQ(z.center, 10);
  EXPECT_EQ(z.sigma_above, 2);  // (16 − 10)/3
  EXPECT_EQ(z.sigma_below, 1);  // (10 − 7)/3
}

// ---- Rule 1: one point beyond 3σ ----

TEST(NelsonRule1, BeyondThreeSigmaEitherSideFires) {
  expect_fired({0.5, 3.01, -3.01, 0.0}, unit, {{1, {1}}, {2, {1}}});
}

TEST(NelsonRule1, FiresOnTheVeryFirstValue) { expect_fired({3.5}, unit, {{0, {1}}}); }

TEST(NelsonRule1, ExactlyThreeSigmaIsNotBeyond) { expect_fired({0.0, 3.0, 0.0, -3.0}, unit, {}); }

// ---- Rule 2: nine in a row on one side of the center line ----

TEST(NelsonRule2, NineAboveFiresOnTheNinthNotBefore) {
  const std::vector<double> v = {-0.5, 0.5, 0.6, 0.4, 0.7, 0.3, 0.5, 0.6, 0.4, 0.5, -0.5};
  expect_fired(v, unit, {{9, {2}}});
  const auto answers = evaluate(v, unit);
  ASSERT_EQ(answers[9].size(), 1u);
  EXPECT_EQ(answers[9][0].points, (std::vector<std::uint64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST(NelsonRule2, NineBelowFires) {
  expect_fired({0.5, -0.5, -0.6, -0.4, -0.7, -0.3, -0.5, -0.6, -0.4, -0.5}, unit, {{9, {2}}});
}

TEST(NelsonRule2, TenInARowFiresOnTheNinthAndTheTenth) {
  expect_fired({0.5, 0.6, 0.4, 0.7, 0.3, 0.5, 0.6, 0.4, 0.5, 0.6}, unit, {{8, {2}}, {9, {2}}});
}

TEST(NelsonRule2, EightOnOneSideDoesNot) {
  expect_fired({0.5, 0.6, 0.4, 0.7, 0.3, 0.5, 0.6, 0.4, -0.3}, unit, {});
}

TEST(NelsonRule2, APointExactlyOnTheCenterLineBreaksTheRun) {
  // Nine points with the fifth on the center line do not fire; the run restarts after it and fires on
  // the ninth point past it.
  expect_fired({0.5, 0.6, 0.4, 0.7, 0.0, 0.5, 0.6, 0.4, 0.5, 0.6, 0.4, 0.7, 0.5, 0.6}, unit, {{13, {2}}});
}

// ---- Rule 3: six in a row steadily increasing or decreasing ----

TEST(NelsonRule3, SixIncreasingFiresOnTheSixthNotBefore) {
  const std::vector<double> v = {0.3, -0.5, -0.3, -0.1, 0.1, 0.3, 0.5};  // 5 increases from index 1
  expect_fired(v, unit, {{6, {3}}});
  const auto answers = evaluate(v, unit);
  ASSERT_EQ(answers[6].size(), 1u);
  EXPECT_EQ(answers[6][0].points, (std::vector<std::uint64_t>{1, 2, 3, 4, 5, 6}));
}

TEST(NelsonRule3, SixDecreasingFires) { expect_fired({-0.3, 0.5, 0.3, 0.1, -0.1, -0.3, -0.5}, unit, {{6, {3}}}); }

TEST(NelsonRule3, SevenIncreasingFiresOnTheSixthAndTheSeventh) {
  expect_fired({-0.6, -0.4, -0.2, 0.0, 0.2, 0.4, 0.6}, unit, {{5, {3}}, {6, {3}}});
}

TEST(NelsonRule3, FiveIncreasingDoesNot) { expect_fired({0.3, -0.5, -0.3, -0.1, 0.1, 0.3, 0.0}, unit, {}); }

TEST(NelsonRule3, ATieBreaksTheRun) {
  // -0.1 twice: no six strictly increasing until the fifth increase after the tie (index 8).
  expect_fired({-0.5, -0.3, -0.1, -0.1, 0.1, 0.3, 0.5, 0.7, 0.9}, unit, {{8, {3}}});
}

// ---- Rule 4: fourteen in a row alternating up and down ----
// Alternating between -0.5 and 1.5 trips nothing else: never two in a row beyond 1σ, never beyond 2σ,
// never nine on one side, and the 1.5s keep rule 7 away.

TEST(NelsonRule4, FourteenAlternatingFiresOnTheFourteenthNotBefore) {
  expect_fired(repeat({-0.5, 1.5}, 7), unit, {{13, {4}}});
}

TEST(NelsonRule4, ThirteenAlternatingDoesNot) {
  // 1.8 → 1.5 → -0.5 goes down twice, so at index 13 only the last 13 values alternate; index 14 makes 14.
  const auto v = concat({1.8}, repeat({1.5, -0.5}, 7));
  expect_fired(v, unit, {{14, {4}}});
}

TEST(NelsonRule4, AZeroDifferenceBreaksIt) {
  // 1.5, 1.5 at indices 5 and 6: every window of 14 holds that zero difference.
  expect_fired({-0.5, 1.5, -0.5, 1.5, -0.5, 1.5, 1.5, -0.5, 1.5, -0.5, 1.5, -0.5, 1.5, -0.5, 1.5}, unit, {});
}

TEST(NelsonRule4, AZeroDifferenceAsTheOldestOfTheThirteenBreaksIt) {
  const auto v = concat({1.5}, concat({1.5}, repeat({-0.5, 1.5}, 6)));  // 14 values, then one more
  expect_fired(concat(v, {-0.5}), unit, {{14, {4}}});
}

// ---- Rule 5: two of three beyond 2σ on one side, the newest among them ----

TEST(NelsonRule5, TwoOfThreeAboveFires) { expect_fired({0.0, 2.5, 0.5, 2.5}, unit, {{3, {5}}}); }

TEST(NelsonRule5, TwoInARowBelowFires) { expect_fired({0.0, -2.5, -2.1}, unit, {{2, {5}}}); }

TEST(NelsonRule5, ThreeInARowFiresOnTheSecondAndTheThird) {
  expect_fired({0.0, 2.5, 2.5, 2.5}, unit, {{2, {5}}, {3, {5}}});
}

TEST(NelsonRule5, NewestNotBeyondDoesNot) {
  // At index 3 the window 2.5, 2.5, 0.5 has two beyond 2σ, but not the newest.
  expect_fired({0.0, 2.5, 2.5, 0.5, 0.5}, unit, {{2, {5}}});
}

TEST(NelsonRule5, TwoOfThreeSplitAcrossSidesDoesNot) { expect_fired({0.0, 2.5, -2.5, 0.0, 2.5}, unit, {}); }

TEST(NelsonRule5, ExactlyTwoSigmaIsNotBeyond) { expect_fired({0.0, 2.0, 2.5, 2.0, -2.0, -2.5}, unit, {}); }

TEST(NelsonRule5, NeedsAWholeWindowOfThree) { expect_fired({2.5, 2.5}, unit, {}); }

// ---- Rule 6: four of five beyond 1σ on one side, the newest among them ----

TEST(NelsonRule6, FourOfFiveAboveFires) { expect_fired({1.5, 0.5, 1.5, 1.5, 1.5}, unit, {{4, {6}}}); }

TEST(NelsonRule6, FourInARowBelowFiresOnlyOnceTheWindowOfFiveIsFull) {
  expect_fired({0.0, -1.5, -1.5, -1.5, -1.5}, unit, {{4, {6}}});
}

TEST(NelsonRule6, ThreeOfFiveDoesNot) { expect_fired({0.0, 1.5, 0.5, 1.5, 1.5}, unit, {}); }

TEST(NelsonRule6, NewestNotBeyondDoesNot) { expect_fired({1.5, 1.5, 1.5, 1.5, 0.5}, unit, {}); }

TEST(NelsonRule6, SplitAcrossSidesDoesNot) { expect_fired({1.5, 1.5, -1.5, -1.5, 1.5}, unit, {}); }

TEST(NelsonRule6, ExactlyOneSigmaIsNotBeyond) {
  expect_fired({0.0, 1.0, 1.5, 1.5, 1.5, -1.0, -1.5, -1.5, -1.5}, unit, {});
}

// ---- Rule 7: fifteen in a row within 1σ ----

TEST(NelsonRule7, FifteenWithinFiresOnTheFifteenthNotBefore) {
  expect_fired(concat({1.5}, repeat(calm, 5)), unit, {{15, {7}}});
}

TEST(NelsonRule7, ExactlyOneSigmaCountsAsWithin) {
  expect_fired(concat({-1.0, 0.0, 1.0}, repeat(calm, 4)), unit, {{14, {7}}});
}

TEST(NelsonRule7, JustBeyondOneSigmaBreaksIt) {
  expect_fired(concat(repeat(calm, 2), concat({-0.5, 0.0, 1.01}, repeat(calm, 2))), unit, {});
}

// ---- Rule 8: eight in a row beyond 1σ, either side ----

TEST(NelsonRule8, EightBeyondFiresOnTheEighthNotBefore) {
  expect_fired(concat({0.5}, repeat({1.5, -1.5}, 4)), unit, {{8, {8}}});
}

TEST(NelsonRule8, SevenBeyondDoesNot) {
  expect_fired({0.5, 1.5, -1.5, 1.5, -1.5, 1.5, -1.5, 1.5, 0.5}, unit, {});
}

TEST(NelsonRule8, ExactlyOneSigmaIsNotBeyond) {
  expect_fired({1.5, -1.5, 1.5, -1.5, 1.0, -1.5, 1.5, -1.5, -1.0, 1.5, -1.5}, unit, {});
}

TEST(NelsonRule8, EightAboveAlsoFiresRule6InRuleOrder) {
  expect_fired(std::vector<double>(8, 1.5), unit, {{4, {6}}, {5, {6}}, {6, {6}}, {7, {6, 8}}});
}

// ---- Several rules at once ----

TEST(NelsonRules, ASteadyClimbFiresEachRuleAsItsThresholdIsReached) {
  // Index 5: six increasing (3). Index 7: also 1.6 → 2.2 → 2.6, two of three beyond 2σ (5), and
  // 0.8 … 2.6 with four of five beyond 1σ (6). Index 8: 3.2 beyond 3σ (1) and nine above (2).
  expect_fired({0.2, 0.4, 0.6, 0.8, 1.2, 1.6, 2.2, 2.6, 3.2}, unit,
               {{5, {3}}, {6, {3}}, {7, {3, 5, 6}}, {8, {1, 2, 3, 5, 6}}});
}

TEST(NelsonRules, EvaluateAnswersAsOneWindowDoes) {
  const std::vector<double> v = {0.2, 0.4, 0.6, 0.8, 1.2, 1.6, 2.2, 2.6, 3.2, -3.5, -2.5, -2.5};
  NelsonWindow w(unit);
  std::vector<std::vector<Violation>> one_by_one;
  for (double x : v) one_by_one.push_back(w.add(x));
  EXPECT_EQ(evaluate(v, unit), one_by_one);
}

// ---- Asymmetric zones: UCL 16, center 10, LCL 7, so σ above = 2 and σ below = 1 ----

namespace {
const Zones lopsided = zones_from_limits(10, 16, 7);
}  // namespace

TEST(NelsonAsymmetricZones, Rule1UsesEachSidesSigma) {
  // 15.9 (d = 5.9) is within 3σ above (6), though a σ of 1 would put it beyond; 6.9 (d = −3.1) is beyond
  // 3σ below (3), though a σ of 2 would not; 16.0 and 7.0 sit exactly on the limits.
  expect_fired({15.9, 10, 10, 16.0, 10, 10, 16.1, 10, 10, 7.0, 10, 10, 6.9}, lopsided, {{6, {1}}, {12, {1}}});
}

TEST(NelsonAsymmetricZones, Rule5UsesEachSidesSigma) {
  // 13.9 is not beyond 2σ above (4); 7.9 is beyond 2σ below (2).
  expect_fired({10, 13.9, 13.9, 10, 7.9, 7.9}, lopsided, {{5, {5}}});
}

TEST(NelsonAsymmetricZones, Rule6UsesEachSidesSigma) {
  // 11.9 is not beyond 1σ above (2); 8.9 is beyond 1σ below (1).
  expect_fired({10, 11.9, 11.9, 11.9, 11.9, 10, 8.9, 8.9, 8.9, 8.9}, lopsided, {{9, {6}}});
}

TEST(NelsonAsymmetricZones, Rule7CountsWithinOnEachSidesSigma) {
  // 11.5 is within 1σ above (2), though it would be beyond a σ of 1.
  expect_fired(repeat({9.5, 10.0, 11.5}, 5), lopsided, {{14, {7}}});
}

TEST(NelsonAsymmetricZones, Rule8CountsBeyondOnEachSidesSigma) {
  // 8.5 is beyond 1σ below (1), though it would be within a σ of 2.
  expect_fired(repeat({12.5, 8.5}, 4), lopsided, {{7, {8}}});
}

// ---- A non-zero center: 100 with limits 98.5 / 101.5 (σ = 0.5) ----

namespace {
const Zones hundred = zones_from_limits(100, 101.5, 98.5);
}  // namespace

TEST(NelsonNonZeroCenter, Rule1MeasuresFromTheCenter) {
  expect_fired({101.5, 100.0, 98.5, 100.0, 101.6, 100.0, 98.4}, hundred, {{4, {1}}, {6, {1}}});
}

TEST(NelsonNonZeroCenter, Rule2SidesAreTakenAboutTheCenter) {
  // Nine above 100 from index 1; 100.0 itself is on the line and fires nothing.
  expect_fired({99.9, 100.2, 100.3, 100.1, 100.4, 100.2, 100.3, 100.1, 100.2, 100.3, 100.0, 100.2}, hundred,
               {{9, {2}}});
}

// ---- Positions ----

TEST(NelsonPositions, CountFromZeroByDefault) {
  NelsonWindow w(unit);
  EXPECT_EQ(w.next_position(), 0u);
  w.add(0.5);
  w.add(-0.5);
  EXPECT_EQ(w.next_position(), 2u);
}

TEST(NelsonPositions, SetFirstPositionNumbersEveryWindow) {
  // Beyond 2^32, so a narrowing anywhere would show.
  const std::uint64_t first = 10'000'000'000ULL;
  expect_fired({0.5, 0.6, 0.4, 0.7, 0.3, 0.5, 0.6, 0.4, 0.5, 0.6}, unit, {{8, {2}}, {9, {2}}}, first);
}

TEST(NelsonPositions, ContinuingStoredHistoryKeepsItsPositions) {
  // Stored history: eight values above the center at positions 500..507. A new window replays them from
  // 500 (their answers ignored), and the next value, the ninth above, fires rule 2 over 500..508.
  NelsonWindow w(unit);
  w.set_first_position(500);
  for (double x : {0.5, 0.6, 0.4, 0.7, 0.3, 0.5, 0.6, 0.4}) w.add(x);
  EXPECT_EQ(w.next_position(), 508u);
  const auto got = w.add(0.5);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].rule, 2);
  EXPECT_EQ(got[0].points, (std::vector<std::uint64_t>{500, 501, 502, 503, 504, 505, 506, 507, 508}));
  EXPECT_EQ(w.next_position(), 509u);
}

TEST(NelsonPositions, WindowsStayRightAfterTheRingWraps) {
  // The window keeps 16 values. Twenty calm values fire rule 7 from index 14 on; a 1.5 at index 20
  // stops it until fifteen calm values follow it (index 35).
  const auto v = concat(repeat(calm, 6), concat({-0.5, 0.0, 1.5}, repeat(calm, 5)));
  std::map<std::size_t, std::vector<int>> expected;
  for (std::size_t i = 14; i <= 19; ++i) expected[i] = {7};
  expected[35] = {7};
  expect_fired(v, unit, expected);
  expect_fired(v, unit, expected, 7);
}
