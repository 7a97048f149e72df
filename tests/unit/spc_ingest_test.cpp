// Batches of points decided without a database (spc/ingest.hpp), against a small in-memory store that
// does what the points handler does: the answers never depend on how the points are split into
// batches (I-MR and X̄-R, fixed limits and a baseline filling across batches), consecutive firings of a
// rule are one alert across batches, an X̄-R subgroup's answer is carried by the point completing it
// and names every point of the subgroups involved, the running statistics match a direct
// computation, and a broken sensor's outcome is ranges of seqs (each window and each alert's points),
// turned back into ids by PointIds.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <set>
#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "analysis/spc/ingest.hpp"

using namespace spectra::spc;

namespace {

struct StoredAlert {
  std::string id;
  int rule = 0;
  std::int64_t first_seq = 0, last_seq = 0;
  std::set<std::string> points;
  bool resolved = false;
};

// What the database holds for one series, and the handler's reads and writes around ingest().
struct Store {
  explicit Store(SeriesState start) : state(std::move(start)) {}
  SeriesState state;
  std::vector<StoredPoint> points;
  std::vector<std::vector<Fired>> violations;  // by seq − 1
  std::vector<StoredAlert> alerts;
  int next_id = 0;

  void add(const std::vector<double>& values) {
    std::vector<StoredPoint> history;
    const auto keep = std::min<std::size_t>(points.size(), static_cast<std::size_t>(history_points(state)));
    history.assign(points.end() - static_cast<std::ptrdiff_t>(keep), points.end());
    std::vector<double> baseline;
    if (!state.limits && state.baseline_points)
      for (std::size_t i = 0; i < points.size() && static_cast<int>(i) < *state.baseline_points; ++i)
        baseline.push_back(points[i].value);
    std::map<int, OpenAlert> newest;
    for (const auto& a : alerts)
      if (!a.resolved && (!newest.contains(a.rule) || newest[a.rule].last_seq < a.last_seq))
        newest[a.rule] = {a.id, a.rule, a.last_seq};
    std::vector<OpenAlert> open;
    for (auto& [rule, a] : newest) open.push_back(a);
    std::vector<Incoming> incoming;
    for (double v : values) incoming.push_back({"p" + std::to_string(next_id++), v});
    auto out = ingest(state, history, baseline, open, incoming, [this] { return "a" + std::to_string(next_id++); });
    const PointIds ids(history, incoming, state.last_seq + 1);  // as the handler names the rows' points
    for (std::size_t i = 0; i < values.size(); ++i) {
      points.push_back({incoming[i].id, out.points[i].seq, values[i]});
      violations.push_back(out.points[i].violations);
    }
    for (const auto& change : out.alerts) {
      if (change.opened) {
        alerts.push_back({change.id, change.rule, seq_of(ids(change.datapoint_seq)), change.last_seq, {}, false});
      }
      for (auto& a : alerts)
        if (a.id == change.id) {
          a.last_seq = change.last_seq;
          for (auto seq = change.first_seq; seq <= change.last_seq; ++seq) a.points.insert(ids(seq));
        }
    }
    state = out.after;
  }
  // The ids of a violation's window, oldest first.
  std::vector<std::string> ids_of(const Fired& f) const {
    std::vector<std::string> out;
    for (auto seq = f.first_seq; seq <= f.last_seq; ++seq) out.push_back(points.at(static_cast<std::size_t>(seq - 1)).id);
    return out;
  }
  std::int64_t seq_of(const std::string& id) const {
    for (const auto& p : points)
      if (p.id == id) return p.seq;
    return -1;
  }
  // Rules by seq, and alerts as "rule:first-last:points", comparable across stores (ids differ).
  std::map<std::int64_t, std::vector<std::pair<int, std::vector<std::int64_t>>>> answers() const {
    std::map<std::int64_t, std::vector<std::pair<int, std::vector<std::int64_t>>>> out;
    for (std::size_t i = 0; i < violations.size(); ++i)
      for (const auto& f : violations[i]) {
        std::vector<std::int64_t> seqs;
        for (const auto& id : ids_of(f)) seqs.push_back(seq_of(id));
        out[static_cast<std::int64_t>(i + 1)].push_back({f.rule, seqs});
      }
    return out;
  }
  std::vector<std::string> alert_summary() const {
    std::vector<std::string> out;
    for (const auto& a : alerts)
      out.push_back(std::to_string(a.rule) + ":" + std::to_string(a.first_seq) + "-" + std::to_string(a.last_seq) + ":" +
                    std::to_string(a.points.size()));
    std::sort(out.begin(), out.end());
    return out;
  }
};

SeriesState fixed(ChartType chart, int n) {
  SeriesState s;
  s.chart = chart;
  s.subgroup_size = n;
  Limits l;
  l.center = 100;
  l.ucl = 103;
  l.lcl = 97;
  s.limits = l;
  return s;
}

SeriesState baseline(ChartType chart, int n, int points) {
  SeriesState s;
  s.chart = chart;
  s.subgroup_size = n;
  s.baseline_points = points;
  return s;
}

std::vector<double> drifting(unsigned seed, std::size_t count, double sd) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> noise(100, sd);
  std::vector<double> out;
  for (std::size_t i = 0; i < count; ++i) out.push_back(noise(gen) + (i % 400 > 250 ? 1.2 : 0) + (i % 97 == 0 ? 4 : 0));
  return out;
}

void same_whatever_the_split(const SeriesState& start, const std::vector<double>& values, unsigned seed) {
  Store whole{start};
  whole.add(values);
  ASSERT_FALSE(whole.answers().empty()) << "the data should fire some rule";
  std::mt19937_64 gen(seed);
  for (int round = 0; round < 6; ++round) {
    Store split{start};
    std::size_t from = 0;
    while (from < values.size()) {
      const std::size_t size = std::uniform_int_distribution<std::size_t>(1, round % 2 ? 3 : 90)(gen);
      const std::size_t to = std::min(values.size(), from + size);
      split.add(std::vector<double>(values.begin() + static_cast<std::ptrdiff_t>(from),
                                    values.begin() + static_cast<std::ptrdiff_t>(to)));
      from = to;
    }
    EXPECT_EQ(split.answers(), whole.answers()) << "round " << round;
    EXPECT_EQ(split.alert_summary(), whole.alert_summary()) << "round " << round;
    EXPECT_EQ(split.state.stats.n, whole.state.stats.n);
    EXPECT_NEAR(split.state.stats.mean, whole.state.stats.mean, 1e-9);
    EXPECT_NEAR(split.state.stats.m2, whole.state.stats.m2, 1e-6);
    EXPECT_NEAR(split.state.range_sum, whole.state.range_sum, 1e-9);
    EXPECT_EQ(split.state.range_count, whole.state.range_count);
  }
}

}  // namespace

TEST(SpcIngest, IndividualsWithFixedLimitsDoNotDependOnTheSplit) {
  same_whatever_the_split(fixed(ChartType::individuals, 1), drifting(1, 1500, 1), 11);
}

TEST(SpcIngest, IndividualsWithABaselineDoNotDependOnTheSplit) {
  same_whatever_the_split(baseline(ChartType::individuals, 1, 30), drifting(2, 1500, 1), 12);
}

TEST(SpcIngest, SubgroupsWithFixedLimitsDoNotDependOnTheSplit) {
  same_whatever_the_split(fixed(ChartType::xbar_r, 4), drifting(3, 2000, 2), 13);
}

TEST(SpcIngest, SubgroupsWithABaselineDoNotDependOnTheSplit) {
  same_whatever_the_split(baseline(ChartType::xbar_r, 5, 100), drifting(4, 2500, 2), 14);
}

TEST(SpcIngest, TheBaselineIsNotJudgedAndDefinesTheLimits) {
  Store s{baseline(ChartType::individuals, 1, 20)};
  std::vector<double> values = drifting(5, 20, 1);
  values[3] = 130;  // far out, but part of the baseline
  s.add(values);
  EXPECT_TRUE(s.answers().empty());
  ASSERT_TRUE(s.state.limits);
  EXPECT_EQ(s.state.limits->center, individuals_limits(values)->center);
  s.add({s.state.limits->ucl + 0.01});
  EXPECT_EQ(s.answers().begin()->first, 21);
  EXPECT_EQ(s.answers().begin()->second[0].first, 1);
}

TEST(SpcIngest, ABaselineWithoutVariationLeavesTheLimitsUnknown) {
  Store s{baseline(ChartType::individuals, 1, 20)};
  s.add(std::vector<double>(25, 5.0));
  EXPECT_FALSE(s.state.limits);
  EXPECT_TRUE(s.answers().empty());
  EXPECT_EQ(s.state.stats.n, 25);
}

TEST(SpcIngest, ASubgroupsAnswerIsCarriedByItsLastPointAndNamesEveryPoint) {
  Store s{fixed(ChartType::xbar_r, 3)};
  s.add({100, 100, 99});      // subgroup 1: mean 99.67
  s.add({110, 111});          // subgroup 2 still filling
  EXPECT_TRUE(s.violations[3].empty());
  s.add({112});               // subgroup 2 complete: mean 111, beyond 3σ
  ASSERT_EQ(s.violations[5].size(), 1u);
  EXPECT_EQ(s.violations[5][0].rule, 1);
  EXPECT_EQ(s.ids_of(s.violations[5][0]), (std::vector<std::string>{"p3", "p4", "p5"}));
  EXPECT_EQ(s.violations[5][0], (Fired{1, 4, 6}));
  EXPECT_EQ(s.state.range_count, 2);
  EXPECT_DOUBLE_EQ(s.state.range_sum, 1 + 2);  // R of {100, 100, 99} and of {110, 111, 112}
}

TEST(SpcIngest, ConsecutiveFiringsExtendOneAlertUntilItIsResolved) {
  Store s{fixed(ChartType::individuals, 1)};
  s.add({104, 105});  // rule 1 on both: one alert, and rule 5 on the second
  s.add({106});       // rule 1 again, next position: the same alert
  ASSERT_EQ(s.alerts.size(), 2u);
  EXPECT_EQ(s.alerts[0].rule, 1);
  EXPECT_EQ(s.alerts[0].points.size(), 3u);
  EXPECT_EQ(s.alerts[0].last_seq, 3);
  s.alerts[0].resolved = true;
  s.add({107});       // resolved: a new alert opens
  EXPECT_EQ(std::count_if(s.alerts.begin(), s.alerts.end(), [](const StoredAlert& a) { return a.rule == 1; }), 2);
  s.add({100, 108});  // a gap: another new one
  EXPECT_EQ(std::count_if(s.alerts.begin(), s.alerts.end(), [](const StoredAlert& a) { return a.rule == 1; }), 3);
}

TEST(SpcIngest, RunningStatisticsMatchADirectComputation) {
  const auto values = drifting(6, 3000, 3);
  Store s{fixed(ChartType::individuals, 1)};
  for (std::size_t i = 0; i < values.size(); i += 250)
    s.add(std::vector<double>(values.begin() + static_cast<std::ptrdiff_t>(i),
                              values.begin() + static_cast<std::ptrdiff_t>(std::min(values.size(), i + 250))));
  double mean = 0, ss = 0, mr = 0;
  for (double v : values) mean += v / static_cast<double>(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    ss += (values[i] - mean) * (values[i] - mean);
    if (i) mr += std::fabs(values[i] - values[i - 1]);
  }
  EXPECT_NEAR(s.state.stats.mean, mean, 1e-9);
  EXPECT_NEAR(*s.state.stats.stddev(), std::sqrt(ss / (values.size() - 1)), 1e-9);
  EXPECT_NEAR(s.state.range_sum, mr, 1e-6);
  EXPECT_EQ(s.state.range_count, static_cast<std::int64_t>(values.size() - 1));
}

TEST(SpcIngest, PointIdsNameTheStoredTailThenTheNewPoints) {
  const std::vector<StoredPoint> history = {{"h5", 5, 1}, {"h6", 6, 1}, {"h7", 7, 1}};
  const std::vector<Incoming> points = {{"n8", 1}, {"n9", 1}};
  const PointIds ids(history, points, 8);
  EXPECT_EQ(ids(5), "h5");
  EXPECT_EQ(ids(7), "h7");
  EXPECT_EQ(ids(8), "n8");
  EXPECT_EQ(ids(9), "n9");
  EXPECT_THROW(ids(4), std::out_of_range);
  EXPECT_THROW(ids(10), std::out_of_range);
  const std::vector<StoredPoint> none;
  EXPECT_EQ(PointIds(none, points, 1)(2), "n9");
  EXPECT_THROW(PointIds(none, points, 1)(0), std::out_of_range);
}

// A broken sensor: 100,000 points alternating far above the limits (106, 104; σ 1). From the 14th on,
// each fires rules 1, 2, 4, 5, 6 and 8, each naming its whole window; each rule is one alert whose
// points are one range. What ingest answers is a few seqs per rule, whatever the windows.
TEST(SpcIngest, ABrokenSensorIsRangesOfSeqs) {
  std::vector<double> values;
  for (int i = 0; i < 100000; ++i) values.push_back(i % 2 ? 104 : 106);
  std::vector<Incoming> incoming;
  for (std::size_t i = 0; i < values.size(); ++i) incoming.push_back({"p" + std::to_string(i + 1), values[i]});
  int next = 0;
  const auto out = ingest(fixed(ChartType::individuals, 1), {}, {}, {}, incoming, [&] { return "a" + std::to_string(++next); });
  ASSERT_EQ(out.points.size(), values.size());
  for (std::size_t i = 13; i < out.points.size(); ++i) {
    const auto& v = out.points[i].violations;
    ASSERT_EQ(v.size(), 6u) << "seq " << i + 1;
    const std::int64_t seq = out.points[i].seq;
    for (const auto& f : v) {
      EXPECT_EQ(f.last_seq, seq);
      EXPECT_EQ(f.last_seq - f.first_seq + 1, rule_window[static_cast<std::size_t>(f.rule)]) << "rule " << f.rule;
    }
    EXPECT_EQ(v[0].rule, 1);
    EXPECT_EQ(v[2].rule, 4);
  }
  ASSERT_EQ(out.alerts.size(), 6u);
  const std::vector<StoredPoint> none;
  const PointIds ids(none, incoming, 1);
  for (const auto& a : out.alerts) {
    EXPECT_TRUE(a.opened);
    EXPECT_EQ(a.first_seq, 1) << "rule " << a.rule;  // the first window starts at the first point
    EXPECT_EQ(a.last_seq, 100000);
    EXPECT_EQ(a.datapoint_seq, rule_window[static_cast<std::size_t>(a.rule)]);
    EXPECT_EQ(ids(a.datapoint_seq), "p" + std::to_string(a.datapoint_seq));
  }
}
