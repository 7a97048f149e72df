#pragma once
// Recording results into a run, the one way for the results route and a file's import: the run is
// share-locked (a status change waits), each result is checked (its position on the sample's wafer) and
// judged against the specification version the run bound, failures open their nonconformances, the
// SPC series that follow the results get their points, and the rows are multi-row INSERTs (512 to a
// statement) that the caller commits with its own statements and the audit entry.
#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "analysis/runs/handlers.hpp"
#include "kit/data.hpp"

namespace spectra::runs {

struct Recording {
  // The request's name of result i's member in a 422: results[3].unit, unit, or a file's line and column.
  std::function<std::string(std::size_t index, std::string_view member)> field;
  // The import the results come from (each row names it), or none.
  std::optional<std::string> import_id;
  // A single result answered with its row (POST …/results without a batch): the first statement
  // returns the row's JSON.
  bool answer_row = false;
};

struct Recorded {
  // run_id, recorded, evaluations (each evaluation's count) and specification_version_id when the run
  // bound a specification, spc_series_ids when results fed series.
  boost::json::object summary;
  boost::json::object evaluations;  // always: pass, warn, fail, below_lod, none
  // The INSERTs of the results and the statements of the holds, for the caller to commit.
  std::vector<db::Statement> statements;
};

// Up to this many results are recorded at once by an import (a JSON batch takes 10,000).
inline constexpr std::size_t max_imported_results = 100000;

// Within the caller's write: 404 for a run that is not in the organization, 409 for a run that takes no
// results (neither RUNNING nor COMPLETED), 422 naming `field(i, member)` for a result in another unit
// than its limit or a position off the sample's wafer.
boost::asio::awaitable<Recorded> record(kit::RequestContext& ctx, kit::Write& w, const std::string& run_id,
                                        const std::vector<NewResult>& results, const Recording& how);

}  // namespace spectra::runs
