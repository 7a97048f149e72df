// The LIMS API (port 8002): one route table, read top to bottom. Each route declares its minimum role
// and, for API keys, its scope; /openapi.json is generated from this table.
#include "lims/identity/handlers.hpp"
#include "platform/common_routes.hpp"
#include "services.hpp"

namespace spectra {

Router lims_router() {
  using M = http::Method;
  using auth::Role;
  using auth::minimum;
  namespace id = identity;
  const auth::Guard user_session{true, Role::viewer, {}, false};  // a signed-in user, not an API key
  const auth::Guard team_manager{true, Role::pi, {}, false};

  std::vector<Route> routes = common_routes("lims");
  std::vector<Route> own = {
      {M::POST, "/api/auth/login", id::login, auth::anyone, "Sign in with email and password", Body::json},
      {M::POST, "/api/auth/refresh", id::refresh, auth::anyone, "Rotate a refresh token for a new pair", Body::json},
      {M::POST, "/api/auth/logout", id::logout, user_session, "Revoke the refresh token's family", Body::json, 204},
      {M::GET, "/api/auth/me", id::me, auth::any_role(), "The caller's own user"},

      {M::GET, "/api/users", id::list_users, minimum(Role::pi, "users:read"), "List users (filters role, is_active, q)"},
      {M::POST, "/api/users", id::create_user, team_manager, "Create a user (a PI cannot create admins)", Body::json, 201},
      {M::GET, "/api/users/{id}", id::get_user, minimum(Role::pi, "users:read"), "One user"},
      {M::PATCH, "/api/users/{id}", id::update_user, team_manager, "Change a user's role, name or active state", Body::json},
      {M::DELETE_, "/api/users/{id}", id::deactivate_user, team_manager, "Deactivate a user", Body::none, 204},

      {M::GET, "/api/api-keys", id::list_api_keys, auth::require_admin, "List API keys"},
      {M::POST, "/api/api-keys", id::create_api_key, auth::require_admin, "Create an API key (shown once)", Body::json, 201},
      {M::DELETE_, "/api/api-keys/{id}", id::revoke_api_key, auth::require_admin, "Revoke an API key", Body::none, 204},

      {M::GET, "/api/organization", id::get_organization, auth::any_role(), "The caller's organization"},
      {M::PATCH, "/api/organization", id::update_organization, auth::require_admin, "Change organization settings", Body::json},

      {M::GET, "/api/audit", id::list_audit, minimum(Role::admin, "audit:read"), "The organization's audit trail"},
  };
  for (auto& r : own) routes.push_back(std::move(r));
  return Router("SPECTRA-Lab LIMS API", std::move(routes));
}

}  // namespace spectra
