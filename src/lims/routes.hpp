#pragma once
// The LIMS API's route table (port 8002), read top to bottom in routes.cpp.
#include "kit/route.hpp"

namespace spectra {
kit::Router lims_router();
}  // namespace spectra
