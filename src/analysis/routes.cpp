// The Analysis API (port 8001): one route table, read top to bottom.
#include "server/route_tables.hpp"

namespace spectra {

kit::Router analysis_router() {
  std::vector<kit::Route> routes = kit::common_routes("analysis");
  return kit::Router("SPECTRA-Lab Analysis API", std::move(routes));
}

}  // namespace spectra
