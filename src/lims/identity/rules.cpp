#include "lims/identity/rules.hpp"

namespace spectra::identity {

using auth::Role;

Verdict judge_account_change(Role caller_role, bool caller_is_target, const Account& target, const AccountChange& change,
                             int active_admins) noexcept {
  if (target.service_account) return Verdict::service_account;
  if (caller_role != Role::admin && (target.role >= caller_role || (change.role && *change.role >= caller_role)))
    return Verdict::outranks_caller;
  if (change.active == false && caller_is_target) return Verdict::cannot_deactivate_self;
  const bool loses_admin =
      target.role == Role::admin && target.active && ((change.role && *change.role != Role::admin) || change.active == false);
  if (loses_admin && active_admins <= 1) return Verdict::last_active_admin;
  return Verdict::allowed;
}

Verdict judge_account_creation(Role caller_role, Role role) noexcept {
  if (caller_role != Role::admin && role >= caller_role) return Verdict::outranks_caller;
  return Verdict::allowed;
}

ApiError refusal(Verdict v) {
  switch (v) {
    case Verdict::service_account:
      return forbidden("This is an API key's account: revoke or create keys through /api/api-keys");
    case Verdict::outranks_caller:
      return forbidden("Only an admin manages accounts with a role at or above your own, or grants such a role");
    case Verdict::cannot_deactivate_self: return conflict("You cannot deactivate your own account");
    case Verdict::last_active_admin:
      return conflict("This is the organization's last active admin: make another admin first");
    case Verdict::allowed: break;
  }
  return ApiError(ErrorCode::internal, "Internal server error", "refusal() of an allowed change");
}

}  // namespace spectra::identity
