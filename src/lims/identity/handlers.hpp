#pragma once
// Identity and access: authentication, users, API keys, the organization, the audit trail. Each
// handler's parameters after the context are its declared inputs (kit/route.hpp).
#include <optional>
#include <string>
#include <vector>

#include "kit/route.hpp"

namespace spectra::identity {

using kit::Body;
using kit::OptionalBody;
using kit::PageRequest;
using kit::Path;
using kit::QueryString;
using kit::Reply;
using kit::RequestContext;

struct Credentials {
  std::string email, password;
  static kit::Input<Credentials> input();
};
// The refresh token in the body, or (the web app) in the HttpOnly cookie `spectra_refresh`.
inline constexpr const char* refresh_cookie_name = "spectra_refresh";
struct RefreshToken {
  std::optional<std::string> refresh_token;
  static kit::Input<RefreshToken> input();
};
struct LogoutRequest {
  std::optional<std::string> refresh_token;  // none: end every session of the caller
  static kit::Input<LogoutRequest> input();
};
Reply login(RequestContext& ctx, Body<Credentials> in);
Reply refresh(RequestContext& ctx, OptionalBody<RefreshToken> in);
Reply logout(RequestContext& ctx, OptionalBody<LogoutRequest> in);
Reply me(RequestContext& ctx);

struct UserFilters {
  std::optional<std::string> role;
  std::optional<bool> is_active;
  std::optional<std::string> q;  // part of the email or name
  static kit::Input<UserFilters> input();
};
struct NewUser {
  std::string email, full_name, role, password;
  std::string extra_metadata = "{}";
  static kit::Input<NewUser> input();
};
struct UserChange {
  std::optional<std::string> role;
  std::optional<bool> is_active;
  std::optional<std::string> full_name;
  std::optional<std::string> extra_metadata;
  static kit::Input<UserChange> input();
};
Reply list_users(RequestContext& ctx, QueryString<UserFilters> q, PageRequest page);
Reply create_user(RequestContext& ctx, Body<NewUser> in);
Reply get_user(RequestContext& ctx, Path<kit::Id> p);
Reply update_user(RequestContext& ctx, Path<kit::Id> p, Body<UserChange> change);
Reply deactivate_user(RequestContext& ctx, Path<kit::Id> p);

struct NewApiKey {
  std::string name;
  std::vector<std::string> scopes;
  std::optional<std::string> expires_at;
  std::string role = "engineer";
  std::string extra_metadata = "{}";
  static kit::Input<NewApiKey> input();
};
Reply list_api_keys(RequestContext& ctx, PageRequest page);
Reply create_api_key(RequestContext& ctx, Body<NewApiKey> in);
Reply revoke_api_key(RequestContext& ctx, Path<kit::Id> p);

// The settings an organization may change; a PATCH changes only the keys it gives.
struct OrganizationSettings {
  std::optional<std::int64_t> recipe_approvals_required;
  std::optional<bool> final_approval_by_admin;
  std::optional<std::int64_t> calibration_notice_days;  // calibration.due this many days ahead (14)
  std::optional<std::string> time_zone;                 // the daily digest's day (IANA name, UTC)
  static kit::Input<OrganizationSettings> input();
};
struct OrganizationChange {
  std::optional<std::string> name;
  std::optional<OrganizationSettings> settings;
  std::optional<std::string> extra_metadata;
  static kit::Input<OrganizationChange> input();
};
Reply get_organization(RequestContext& ctx);
Reply update_organization(RequestContext& ctx, Body<OrganizationChange> change);

struct AuditFilters {
  std::optional<std::string> entity_type, entity_id, actor_id, action, since;
  static kit::Input<AuditFilters> input();
};
Reply list_audit(RequestContext& ctx, QueryString<AuditFilters> q, PageRequest page);
Reply audit_checkpoint(RequestContext& ctx);
Reply audit_keys(RequestContext& ctx);

}  // namespace spectra::identity
