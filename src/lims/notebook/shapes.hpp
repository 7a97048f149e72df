#pragma once
// The JSON each notebook resource answers, declared once.
#include <string_view>

#include "kit/data.hpp"

namespace spectra::notebook {

inline constexpr std::string_view entry_fields[] = {
    "id",
    "organization_id",
    "title",
    "body_markdown",
    "tags",
    "sample_ids=coalesce((SELECT array_agg(l.sample_id ORDER BY l.sample_id) FROM eln_entry_samples l"
    " WHERE l.organization_id = $1 AND l.eln_entry_id = $.id), '{}')",
    "author_id",
    "author_name=(SELECT u.full_name FROM users u WHERE u.organization_id = $1 AND u.id = $.author_id)",
    "amends_entry_id",
    "locked_at",
    "signed",
    "extra_metadata",
    "created_at",
    "updated_at"};
inline constexpr kit::Shape entry_shape{entry_fields};

inline constexpr std::string_view signature_fields[] = {
    "id",      "organization_id", "entry_id", "signer_id",  "signer_name", "meaning",
    "content_sha256=encode($.content_sha256, 'hex')", "signed_at", "extra_metadata", "created_at"};
inline constexpr kit::Shape signature_shape{signature_fields};

}  // namespace spectra::notebook
