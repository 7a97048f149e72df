#pragma once
// The JSON of runs and results, declared once.
#include <string_view>

#include "kit/data.hpp"

namespace spectra::runs {

inline constexpr std::string_view run_fields[] = {
    "id",          "organization_id", "instrument_id", "sample_id",  "recipe_id",     "sop_id",
    "kind",        "status",          "blocked_reason", "calibration_exempt", "parameters", "note",
    "specification_version_id", "created_by",  "started_at",      "completed_at",  "blocked_at", "extra_metadata", "created_at", "updated_at"};
inline constexpr kit::Shape run_shape{run_fields};

inline constexpr std::string_view result_fields[] = {"id",   "organization_id", "run_id",      "metric",
                                                     "value", "unit",           "data",        "recorded_by",
                                                     "evaluation", "x_mm", "y_mm", "die_x", "die_y", "site",
                                                     "import_id", "recorded_at", "extra_metadata", "created_at", "updated_at"};
inline constexpr kit::Shape result_shape{result_fields};

}  // namespace spectra::runs
