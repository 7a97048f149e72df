#pragma once
// The two route tables: the LIMS API (lims/routes.cpp) and the Analysis API (analysis/routes.cpp).
#include "platform/http/router.hpp"

namespace spectra {
Router lims_router();
Router analysis_router();
}  // namespace spectra
