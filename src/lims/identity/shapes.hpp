#pragma once
// The JSON each identity resource answers, declared once. Secret columns (password_hash, key_hash,
// token hashes) are simply not listed.
#include <string_view>

#include "kit/data.hpp"

namespace spectra::identity {

inline constexpr std::string_view user_fields[] = {
    "id",        "organization_id",     "email",          "full_name",  "role",      "is_active",
    "is_service_account", "last_login_at", "password_changed_at", "extra_metadata", "created_at", "updated_at"};
inline constexpr kit::Shape user_shape{user_fields};

}  // namespace spectra::identity
