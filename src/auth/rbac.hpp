#pragma once
// Roles, principals and the access decision: plain functions over plain structs.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace spectra::auth {

// Ordered: a guard "X or above" admits X and every role above it.
enum class Role { viewer = 0, technician = 1, engineer = 2, pi = 3, admin = 4 };

std::optional<Role> parse_role(std::string_view s) noexcept;
std::string_view role_name(Role r) noexcept;
// Every role's name, lowest first: the one list that enums, validation and the CLI use.
inline constexpr std::string_view role_names[] = {"viewer", "technician", "engineer", "pi", "admin"};

enum class CredentialKind { access_token, api_key, external_token };

// Who is calling: established by a verified token or API key.
struct Principal {
  std::string user_id;
  std::string org_id;
  Role role = Role::viewer;
  std::string email;
  CredentialKind kind = CredentialKind::access_token;
  std::vector<std::string> scopes;  // API keys only
  std::string api_key_id;           // API keys only
};

// What a route requires. Scopes apply to API keys; user tokens are limited by role alone.
// A route that admits API keys names its scope; any_scope opens it to every valid key deliberately
// (the caller's own user, the organization).
inline constexpr std::string_view any_scope = "*";

struct Guard {
  bool authenticated = true;
  Role min_role = Role::viewer;
  std::string_view scope;    // e.g. "samples:write", or any_scope
  bool api_keys = true;      // false: an API key may not do this (signing, key management)
};

inline constexpr Guard anyone{false, Role::viewer, {}, true};
inline constexpr Guard any_role(std::string_view scope = {}) { return Guard{true, Role::viewer, scope, true}; }
inline constexpr Guard minimum(Role r, std::string_view scope = {}) { return Guard{true, r, scope, true}; }
// Signed-in users only, never an API key.
inline constexpr Guard users_only(Role r) { return Guard{true, r, {}, false}; }
inline constexpr Guard require_admin = users_only(Role::admin);

enum class Decision { allow, forbidden_role, forbidden_scope, forbidden_api_key };

// The one RBAC decision: role order, then (for API keys) the key's scopes.
Decision decide(const Principal& who, const Guard& guard) noexcept;

// The scopes an API key may carry.
const std::vector<std::string_view>& known_scopes();
bool scope_allows(const std::vector<std::string>& granted, std::string_view required) noexcept;

}  // namespace spectra::auth
