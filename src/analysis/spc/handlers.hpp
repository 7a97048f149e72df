#pragma once
// Statistical process control (the Analysis API): series with their chart, spec and control limits;
// points added one at a time or in batches, each judged by the Nelson rules (nelson.hpp) as it
// arrives (ingest.hpp); alerts opened by violations, acknowledged and resolved by engineers; and the
// hold that an open alert of a hold_on_alert series puts on its instrument (instruments/lockout.hpp).
// Each handler's parameters after the context are its declared inputs (kit/route.hpp).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kit/route.hpp"

namespace spectra::spc {

using kit::Body;
using kit::PageRequest;
using kit::Path;
using kit::QueryString;
using kit::Nullable;
using kit::Reply;
using kit::RequestContext;

inline constexpr std::size_t max_points_per_batch = 100000;
inline constexpr std::int64_t max_baseline_points = 10000;

// Where a series takes its points from, besides points sent to it: every result of `metric` recorded on
// a measurement run (on `instrument_id`, following any version of `recipe_id`, when named).
struct SeriesSource {
  std::string metric;
  std::optional<std::string> instrument_id, recipe_id;
  static kit::Input<SeriesSource> input();
};
struct NewSeries {
  std::string name, metric;
  std::optional<std::string> unit;
  std::string chart_type;
  std::optional<std::int64_t> subgroup_size;
  std::optional<double> lsl, usl, target, center_line, ucl, lcl;
  std::optional<std::int64_t> baseline_points;
  std::optional<std::string> instrument_id;
  bool hold_on_alert = false;
  std::optional<SeriesSource> source;
  std::string extra_metadata = "{}";
  static kit::Input<NewSeries> input();
};
// A change of a series: its spec limits, whether an alert holds its instrument, and new control limits
// computed from its latest `rebaseline_points` points.
struct SeriesChange {
  Nullable<double> lsl, usl, target;
  std::optional<bool> hold_on_alert;
  std::optional<std::int64_t> rebaseline_points;
  static kit::Input<SeriesChange> input();
};
struct SeriesFilters {
  std::optional<std::string> instrument_id, chart_type, metric, q;
  static kit::Input<SeriesFilters> input();
};
Reply list_series(RequestContext& ctx, QueryString<SeriesFilters> q, PageRequest page);
Reply create_series(RequestContext& ctx, Body<NewSeries> in);
Reply get_series(RequestContext& ctx, Path<kit::Id> p);
Reply update_series(RequestContext& ctx, Path<kit::Id> p, Body<SeriesChange> in);

struct NewPoint {
  double value = 0;
  std::optional<std::string> measured_at, run_id;
  std::string extra_metadata = "{}";
  static kit::Input<NewPoint> input();
};
// One point, or a batch: {"points": [...]} (up to 100,000).
struct PointBatch {
  std::optional<double> value;
  std::optional<std::string> measured_at, run_id;
  std::string extra_metadata = "{}";
  std::optional<std::vector<NewPoint>> points;
  static constexpr std::size_t max_body_bytes = 64 << 20;  // 100,000 points with their times and runs
  static kit::Input<PointBatch> input();
};
// ?answer=full (the default: every point, each violation with the ids of its window) or summary (the
// counts, by rule too, and the violating points alone, each window as its first and last seq).
struct PointAnswer {
  std::optional<std::string> answer;
  static kit::Input<PointAnswer> input();
};
Reply list_points(RequestContext& ctx, Path<kit::Id> p, PageRequest page);
// The answer streams (chunked) once the batch has committed, so that memory follows a chunk.
Reply add_points(RequestContext& ctx, Path<kit::Id> p, QueryString<PointAnswer> q, Body<PointBatch> in);

struct AlertFilters {
  std::optional<std::string> series_id, status, rule;
  static kit::Input<AlertFilters> input();
};
struct AlertUpdate {
  std::string status;
  std::optional<std::string> note;
  static kit::Input<AlertUpdate> input();
};
Reply list_alerts(RequestContext& ctx, QueryString<AlertFilters> q, PageRequest page);
Reply get_alert(RequestContext& ctx, Path<kit::Id> p);
Reply change_alert(RequestContext& ctx, Path<kit::Id> p, Body<AlertUpdate> in);

}  // namespace spectra::spc
