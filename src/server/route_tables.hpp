#pragma once
// The two route tables, where the program is wired together: the LIMS API (lims/routes.cpp) and the
// Analysis API (analysis/routes.cpp).
#include "analysis/routes.hpp"
#include "lims/routes.hpp"
