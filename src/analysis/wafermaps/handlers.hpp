#pragma once
// Wafer maps (the Analysis API): a run's results of one metric by their position on the wafer, with
// their evaluations and summary, as JSON or drawn on the server as SVG (wafer_map.hpp).
#include <optional>
#include <string>

#include "kit/route.hpp"

namespace spectra::wafermaps {

struct WaferMapQuery {
  std::optional<std::string> metric, format;
  static kit::Input<WaferMapQuery> input();
};
kit::Reply get_wafer_map(kit::RequestContext& ctx, kit::Path<kit::Id> p, kit::QueryString<WaferMapQuery> q);

}  // namespace spectra::wafermaps
