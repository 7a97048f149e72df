#pragma once
// The JSON each sample-side resource answers, declared once.
#include <string_view>

#include "kit/data.hpp"

namespace spectra::samples {

inline constexpr std::string_view material_fields[] = {"id",         "organization_id", "name",           "formula",
                                                       "category",   "properties",      "created_by",     "extra_metadata",
                                                       "created_at", "updated_at"};
inline constexpr kit::Shape material_shape{material_fields};

inline constexpr std::string_view sample_fields[] = {
    "id",        "organization_id", "name",         "barcode",    "sample_type",    "material_id",
    "parent_sample_id", "location", "status",       "custodian_id", "created_by",   "extra_metadata",
    "created_at", "updated_at"};
inline constexpr kit::Shape sample_shape{sample_fields};

inline constexpr std::string_view custody_fields[] = {
    "id",          "organization_id", "sample_id", "seq",          "event_type", "from_location", "to_location",
    "from_user_id", "to_user_id",     "actor_id",  "notes",        "occurred_at", "extra_metadata", "created_at"};
inline constexpr kit::Shape custody_shape{custody_fields};

inline constexpr std::string_view wafer_fields[] = {
    "id",          "organization_id",    "sample_id",    "barcode=s.barcode", "name=s.name", "diameter_mm",
    "orientation", "doping_type",        "dopant",       "resistivity_ohm_cm", "thickness_um", "created_by",
    "extra_metadata", "created_at",      "updated_at"};
inline constexpr kit::Shape wafer_shape{wafer_fields};

inline constexpr std::string_view device_fields[] = {"id",       "organization_id", "wafer_id",   "name",
                                                     "device_type", "die_x",        "die_y",      "layout",
                                                     "created_by", "extra_metadata", "created_at", "updated_at"};
inline constexpr kit::Shape device_shape{device_fields};

}  // namespace spectra::samples
