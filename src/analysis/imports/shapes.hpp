#pragma once
// The JSON of import profiles and imports, declared once, and a profile's stored columns read back.
#include <string_view>

#include "analysis/imports/reading.hpp"
#include "kit/data.hpp"

namespace spectra::imports {

inline constexpr std::string_view profile_fields[] = {
    "id",        "organization_id", "instrument_id", "name",       "format",         "skip_lines", "columns",
    "metric",    "unit",            "unit_scale",    "decimal_comma", "created_by", "extra_metadata", "created_at",
    "updated_at"};
inline constexpr kit::Shape profile_shape{profile_fields};

inline constexpr std::string_view import_fields[] = {
    "id",       "import_id=$.id", "organization_id", "run_id",      "profile_id",  "attachment_id",
    "sha256=encode($.sha256, 'hex')", "filename", "size_bytes", "results", "evaluations", "imported_by",
    "created_at", "updated_at"};
inline constexpr kit::Shape import_shape{import_fields};

// The columns of a profile as stored (profiles.cpp writes them): the given members only.
Columns stored_columns(std::string_view json_text);

}  // namespace spectra::imports
