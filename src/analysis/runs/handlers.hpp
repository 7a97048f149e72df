#pragma once
// Runs and their results (the Analysis API): a run is created QUEUED or BLOCKED by the calibration
// lockout, moves through its states (rules.hpp), and records results while RUNNING or COMPLETED.
// Each handler's parameters after the context are its declared inputs (kit/route.hpp).
#include <optional>
#include <string>
#include <vector>

#include "kit/route.hpp"

namespace spectra::runs {

using kit::Body;
using kit::OptionalBody;
using kit::PageRequest;
using kit::Path;
using kit::QueryString;
using kit::Reply;
using kit::RequestContext;

struct NewRun {
  std::string instrument_id, sample_id;
  std::optional<std::string> recipe_id, sop_id;
  std::string kind = "measurement";
  std::string parameters = "{}";
  std::string extra_metadata = "{}";
  static kit::Input<NewRun> input();
};
struct RunFilters {
  std::optional<std::string> status, instrument_id, sample_id, recipe_id, kind, barcode;
  static kit::Input<RunFilters> input();
};
struct StatusChange {
  std::string status;
  std::optional<std::string> note;
  static kit::Input<StatusChange> input();
};
Reply list_runs(RequestContext& ctx, QueryString<RunFilters> q, PageRequest page);
Reply create_run(RequestContext& ctx, Body<NewRun> in);
Reply get_run(RequestContext& ctx, Path<kit::Id> p);
Reply change_run_status(RequestContext& ctx, Path<kit::Id> p, Body<StatusChange> in);
Reply unblock_run(RequestContext& ctx, Path<kit::Id> p, OptionalBody<kit::Nothing> in);

// A result, with where on the wafer it was measured: millimetres from its centre (both or neither),
// the die (both or neither), the site's name.
struct NewResult {
  std::string metric;
  double value = 0;
  std::optional<std::string> unit;
  std::string data = "{}";
  std::string extra_metadata = "{}";
  std::optional<double> x_mm, y_mm;
  std::optional<int> die_x, die_y;
  std::optional<std::string> site;
  static kit::Input<NewResult> input();
};
// One result, or a batch: {"results": [...]} (up to 10,000).
struct ResultBatch {
  std::optional<std::string> metric;
  std::optional<double> value;
  std::optional<std::string> unit;
  std::string data = "{}";
  std::string extra_metadata = "{}";
  std::optional<double> x_mm, y_mm;
  std::optional<int> die_x, die_y;
  std::optional<std::string> site;
  std::optional<std::vector<NewResult>> results;
  static constexpr std::size_t max_body_bytes = 16 << 20;  // 10,000 results with their data
  static kit::Input<ResultBatch> input();
};
Reply list_results(RequestContext& ctx, Path<kit::Id> p, PageRequest page);
Reply record_results(RequestContext& ctx, Path<kit::Id> p, Body<ResultBatch> in);

}  // namespace spectra::runs
