// The LIMS API (port 8002): one route table, read top to bottom. Each route declares its guard (minimum
// role and, for API keys, its scope); its inputs come from its handler's parameters, and
// /openapi.json is generated from this table.
#include "lims/identity/handlers.hpp"
#include "server/route_tables.hpp"

namespace spectra {

kit::Router lims_router() {
  using M = http::Method;
  using auth::Role;
  using auth::minimum;
  using kit::route;
  namespace id = identity;
  constexpr auto signed_in = auth::users_only(Role::viewer);  // a signed-in user, not an API key
  constexpr auto team_manager = auth::users_only(Role::pi);

  std::vector<kit::Route> routes = kit::common_routes("lims");
  std::vector<kit::Route> own = {
      route(M::POST, "/api/auth/login", id::login, auth::anyone, "Sign in with email and password"),
      route(M::POST, "/api/auth/refresh", id::refresh, auth::anyone, "Rotate a refresh token for a new pair"),
      route(M::POST, "/api/auth/logout", id::logout, signed_in, "Revoke the refresh token's family", 204),
      route(M::GET, "/api/auth/me", id::me, auth::any_role(auth::any_scope), "The caller's own user"),

      route(M::GET, "/api/users", id::list_users, minimum(Role::pi, "users:read"), "List users (filters role, is_active, q)"),
      route(M::POST, "/api/users", id::create_user, team_manager, "Create a user (a PI cannot create admins)", 201),
      route(M::GET, "/api/users/{id}", id::get_user, minimum(Role::pi, "users:read"), "One user"),
      route(M::PATCH, "/api/users/{id}", id::update_user, team_manager, "Change a user's role, name or active state"),
      route(M::DELETE_, "/api/users/{id}", id::deactivate_user, team_manager, "Deactivate a user", 204),

      route(M::GET, "/api/api-keys", id::list_api_keys, auth::require_admin, "List API keys"),
      route(M::POST, "/api/api-keys", id::create_api_key, auth::require_admin, "Create an API key (shown once)", 201),
      route(M::DELETE_, "/api/api-keys/{id}", id::revoke_api_key, auth::require_admin, "Revoke an API key", 204),

      route(M::GET, "/api/organization", id::get_organization, auth::any_role(auth::any_scope), "The caller's organization"),
      route(M::PATCH, "/api/organization", id::update_organization, auth::require_admin, "Change organization settings"),

      route(M::GET, "/api/audit", id::list_audit, minimum(Role::admin, "audit:read"), "The organization's audit trail"),
      route(M::GET, "/api/audit/checkpoint", id::audit_checkpoint, minimum(Role::admin, "audit:read"),
            "The organization's audit head, signed (Ed25519), to keep outside the database"),
      route(M::GET, "/.well-known/audit-keys.json", id::audit_keys, auth::anyone,
            "Public keys that verify audit checkpoints"),
  };
  for (auto& r : own) routes.push_back(std::move(r));
  return kit::Router("SPECTRA-Lab LIMS API", std::move(routes));
}

}  // namespace spectra
