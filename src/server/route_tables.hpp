#pragma once
// The two route tables, where the program is wired together: the LIMS API (lims/routes.cpp) and the
// Analysis API (analysis/routes.cpp).
#include "kit/route.hpp"

namespace spectra {
kit::Router lims_router();
kit::Router analysis_router();
}  // namespace spectra
