#pragma once
// A batch of points added to a series, decided without a database: which rules each point fires (with
// the ids of the points involved), which alerts open or extend, the limits a completed baseline
// yields, and the series' running statistics afterwards. The handler reads the state it needs (the
// series row, the last plotted positions, the first N values while a baseline fills, the newest
// unresolved alert of each rule), calls ingest(), and writes what it answers in one round trip.
//
// Positions: on an I-MR chart every point is plotted (position = seq − 1); on an X̄-R chart subgroups
// of n consecutive points are (position = subgroup − 1, subgroup = (seq − 1)/n + 1), and the rules'
// answer for a subgroup is carried by the point that completes it.
//
// Limits from a baseline of the first N points are computed when point N arrives; the baseline's own
// points are not judged (they define the limits), and every later point is, with the window of the
// rules continuing across batches. So the answers never depend on how the points were split into
// batches (a test checks it).
//
// Alerts: a rule firing on a position opens an alert, unless the same rule fired on the position just
// before and its alert is not resolved: then that alert extends (its last_seq moves on, its point set
// grows). Consecutive firings of one rule are one alert.
#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "analysis/spc/chart.hpp"
#include "analysis/spc/nelson.hpp"

namespace spectra::spc {

enum class ChartType { individuals, xbar_r };

struct SeriesState {
  ChartType chart = ChartType::individuals;
  int subgroup_size = 1;                 // n for X̄-R, 1 for I-MR
  std::optional<Limits> limits;          // known: fixed, or computed from a completed baseline
  std::optional<int> baseline_points;    // N: limits come from the first N points (pending while !limits)
  Moments stats;                         // every value
  double range_sum = 0;                  // moving ranges (I-MR) or subgroup ranges (X̄-R)
  std::int64_t range_count = 0;
  std::int64_t last_seq = 0;             // the newest stored point's seq (0: none); seqs are 1, 2, …
};

struct StoredPoint {
  std::string id;
  std::int64_t seq = 0;
  double value = 0;
};
struct OpenAlert {
  std::string id;
  int rule = 0;
  std::int64_t last_seq = 0;
};
struct Incoming {
  std::string id;
  double value = 0;
};

struct Fired {
  int rule = 0;
  std::vector<std::string> point_ids;  // the rule's window, oldest first (every point of each subgroup)
};
struct PointOutcome {
  std::int64_t seq = 0;
  std::optional<int> subgroup;         // X̄-R only
  std::vector<Fired> violations;
};
struct AlertChange {
  std::string id;
  int rule = 0;
  bool opened = false;                 // opened by this batch (else an unresolved alert extended)
  std::string datapoint_id;            // opened: the point whose position first fired it
  std::int64_t last_seq = 0;
  std::vector<std::string> point_ids;  // points to link to it (each once; an extension may repeat linked ones)
};
struct Outcome {
  std::vector<PointOutcome> points;    // one per new point, in order
  std::vector<AlertChange> alerts;     // in the order they were first touched
  bool limits_computed = false;        // the baseline completed in this batch: after.limits is new
  SeriesState after;
};

// How many of the newest stored points the rules need: 15 positions and a partial subgroup.
int history_points(const SeriesState& s) noexcept;

// history: the newest stored points, oldest first (at most history_points()); baseline: the first
// min(N, last_seq) stored values, oldest first, while a baseline is pending (else empty); open: the
// newest unresolved alert of each rule; new_id: a fresh alert id.
Outcome ingest(const SeriesState& before, const std::vector<StoredPoint>& history, const std::vector<double>& baseline,
               const std::vector<OpenAlert>& open, const std::vector<Incoming>& points,
               const std::function<std::string()>& new_id);

}  // namespace spectra::spc
