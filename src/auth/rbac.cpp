#include "auth/rbac.hpp"

#include <algorithm>

namespace spectra::auth {

std::optional<Role> parse_role(std::string_view s) noexcept {
  if (s == "viewer") return Role::viewer;
  if (s == "technician") return Role::technician;
  if (s == "engineer") return Role::engineer;
  if (s == "pi") return Role::pi;
  if (s == "admin") return Role::admin;
  return std::nullopt;
}

std::string_view role_name(Role r) noexcept {
  switch (r) {
    case Role::viewer: return "viewer";
    case Role::technician: return "technician";
    case Role::engineer: return "engineer";
    case Role::pi: return "pi";
    case Role::admin: return "admin";
  }
  return "viewer";
}

const std::vector<std::string_view>& known_scopes() {
  static const std::vector<std::string_view> all = {
      "samples:read",      "samples:write",      "runs:read",       "runs:write",    "results:write",
      "calibrations:read", "calibrations:write", "instruments:read", "instruments:write", "recipes:read",
      "recipes:write",     "sops:read",          "sops:write",        "eln:read",        "eln:write",     "spc:read",
      "spc:write",         "quality:read",       "quality:write",         "ml:read",            "ml:write",        "attachments:read", "attachments:write",
      "users:read",        "audit:read",
  };
  return all;
}

bool scope_allows(const std::vector<std::string>& granted, std::string_view required) noexcept {
  if (required.empty() || required == any_scope) return true;
  if (std::find(granted.begin(), granted.end(), required) != granted.end()) return true;
  // "x:write" implies "x:read".
  if (required.ends_with(":read")) {
    const std::string write = std::string(required.substr(0, required.size() - 5)) + ":write";
    return std::find(granted.begin(), granted.end(), write) != granted.end();
  }
  return false;
}

Decision decide(const Principal& who, const Guard& guard) noexcept {
  if (!guard.authenticated) return Decision::allow;
  if (who.kind == CredentialKind::api_key) {
    if (!guard.api_keys) return Decision::forbidden_api_key;
    // A key with no route scope requirement must still name at least the route's area; routes with no
    // scope (auth/me, organization read) are open to any valid key.
    if (!scope_allows(who.scopes, guard.scope)) return Decision::forbidden_scope;
  }
  if (static_cast<int>(who.role) < static_cast<int>(guard.min_role)) return Decision::forbidden_role;
  return Decision::allow;
}

}  // namespace spectra::auth
