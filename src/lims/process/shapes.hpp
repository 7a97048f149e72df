#pragma once
// The JSON each process document answers, declared once.
#include <string_view>

#include "kit/data.hpp"

namespace spectra::process {

inline constexpr std::string_view recipe_fields[] = {
    "id",          "organization_id", "name",    "description",
    "instrument_id", "sop_id",        "parameters", "version",
    "root_recipe_id=coalesce($.root_recipe_id, $.id)", "previous_version_id", "status", "author_id",
    "submitted_at", "approved_at",    "rejected_at", "extra_metadata",
    "created_at",  "updated_at"};
inline constexpr kit::Shape recipe_shape{recipe_fields};

inline constexpr std::string_view approval_fields[] = {
    "id",         "recipe_id", "approver_id", "decision", "comment", "decided_at", "extra_metadata",
    "approver_name=(SELECT u.full_name FROM users u WHERE u.organization_id = $1 AND u.id = $.approver_id)"};
inline constexpr kit::Shape approval_shape{approval_fields};

inline constexpr std::string_view sop_fields[] = {
    "id",          "organization_id", "code",       "version",        "title",      "body_markdown", "status",
    "previous_version_id", "approved_by", "approved_at", "rejected_by", "rejected_at", "decision_comment", "created_by",
    "extra_metadata", "created_at", "updated_at"};
inline constexpr kit::Shape sop_shape{sop_fields};

inline constexpr std::string_view acknowledgement_fields[] = {
    "id", "sop_id", "user_id", "acknowledged_at", "extra_metadata",
    "full_name=(SELECT u.full_name FROM users u WHERE u.organization_id = $1 AND u.id = $.user_id)"};
inline constexpr kit::Shape acknowledgement_shape{acknowledgement_fields};

}  // namespace spectra::process
