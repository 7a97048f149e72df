// The Analysis API (port 8001): one route table, read top to bottom.
#include "platform/common_routes.hpp"
#include "services.hpp"

namespace spectra {

Router analysis_router() {
  std::vector<Route> routes = common_routes("analysis");
  return Router("SPECTRA-Lab Analysis API", std::move(routes));
}

}  // namespace spectra
