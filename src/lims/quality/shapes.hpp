#pragma once
// The JSON of specifications, nonconformances and certificates, declared once.
#include <string_view>

#include "kit/data.hpp"

namespace spectra::quality {

inline constexpr std::string_view specification_fields[] = {
    "id", "organization_id", "lineage_id", "version", "name", "description",
    "applies_to=jsonb_strip_nulls(jsonb_build_object('material_id', $.material_id, 'recipe_id', $.recipe_id,"
    " 'sample_type', $.sample_type))",
    "limits", "status", "previous_version_id", "author_id", "approved_by", "approved_at", "rejected_by", "rejected_at",
    "decision_comment", "extra_metadata", "created_at", "updated_at"};
inline constexpr kit::Shape specification_shape{specification_fields};

inline constexpr std::string_view nonconformance_fields[] = {
    "id", "organization_id", "run_id", "sample_id", "metric", "specification_version_id", "status", "failures",
    "first_value", "last_value", "opened_by", "notes", "disposition", "disposition_comment", "disposed_by",
    "disposed_by_name", "disposed_at", "signature_sha256=encode($.signature_sha256, 'hex')", "extra_metadata",
    "created_at", "updated_at"};
inline constexpr kit::Shape nonconformance_shape{nonconformance_fields};

inline constexpr std::string_view certificate_fields[] = {
    "id", "organization_id", "sample_id", "run_ids", "content", "sha256=encode($.sha256, 'hex')",
    "byte_size=length($.pdf)", "issued_by", "issued_by_name", "issued_at", "created_at"};
inline constexpr kit::Shape certificate_shape{certificate_fields};

}  // namespace spectra::quality
