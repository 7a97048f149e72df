#pragma once
// Results into SPC: a series that names a source (a metric, and optionally an instrument and a recipe)
// takes every matching result of a measurement run as a point, in the transaction that records the
// results, judged by the Nelson rules with hold-on-alert as for points sent by hand.
#include <boost/asio/awaitable.hpp>
#include <optional>
#include <string>
#include <vector>

#include "kit/data.hpp"

namespace spectra::spc {

struct FedResult {
  std::string metric;
  double value = 0;
};

// The statement that finds the series taking results of `metrics` recorded on run `run_id` (none for a
// calibration run), in id order: sent with the run's lock, so that a run no series follows costs no
// round trip more.
db::Statement fed_series(const std::string& run_id, const std::vector<std::string>& metrics);

// Adds the results (in the order given) to each series `found` lists, one batch per series, inside
// `w`'s transaction before its COMMIT. Answers the ids of the series fed.
boost::asio::awaitable<std::vector<std::string>> feed_series(kit::RequestContext& ctx, kit::Write& w, db::Result found,
                                                             std::string run_id, std::vector<FedResult> results);

}  // namespace spectra::spc
