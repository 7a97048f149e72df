#pragma once
// The Analysis API's route table (port 8001), read top to bottom in routes.cpp.
#include "kit/route.hpp"

namespace spectra {
kit::Router analysis_router();
}  // namespace spectra
