#pragma once
// A batch of points added to a series, decided without a database: which rules each point fires (with
// the range of points involved), which alerts open or extend, the limits a completed baseline
// yields, and the series' running statistics afterwards. The handler reads the state it needs (the
// series row, the last plotted positions, the first N values while a baseline fills, the newest
// unresolved alert of each rule), calls ingest(), and writes its rows and its answer from the outcome,
// a part at a time. The outcome is compact (seqs, no id strings): what it holds grows with the points,
// not with the windows of the rules they fire.
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

// A rule a point fired, with its window: the points of seqs first_seq..last_seq, oldest first (on an
// X̄-R chart every point of the subgroups involved). Seqs rather than ids: a broken sensor's batch of
// 100,000 points, each firing five rules, would otherwise hold millions of id strings (PointIds turns a
// seq back into its point's id when the answer and the rows are written).
struct Fired {
  int rule = 0;
  std::int64_t first_seq = 0, last_seq = 0;
  bool operator==(const Fired&) const = default;
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
  std::int64_t datapoint_seq = 0;      // opened: the point whose position first fired it
  // The points to link to it: seqs first_seq..last_seq (an extension may repeat linked ones). A run of
  // consecutive firings covers consecutive points, so one range says it.
  std::int64_t first_seq = 0, last_seq = 0;
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

// The id of each point a batch can see, by seq: the stored tail it was given (history), then its new
// points, the first of which has seq first_new (the state's last_seq + 1). Refers to both vectors.
class PointIds {
 public:
  PointIds(const std::vector<StoredPoint>& history, const std::vector<Incoming>& points, std::int64_t first_new) noexcept
      : history_(history), points_(points), first_new_(first_new) {}
  // std::out_of_range for a seq the batch did not see.
  const std::string& operator()(std::int64_t seq) const;

 private:
  const std::vector<StoredPoint>& history_;
  const std::vector<Incoming>& points_;
  std::int64_t first_new_;
};

// A point's violations as its row and the answers hold them, appended to `out`:
// [{"rule": r, "point_ids": ["…", …]}, …], each window's ids oldest first.
void append_violations_json(std::string& out, const std::vector<Fired>& fired, const PointIds& ids);

}  // namespace spectra::spc
