#pragma once
// The organization's rules for managing accounts, as plain functions: unit-tested without a socket or
// a database; the handlers apply them inside the transaction that locked the rows they read.
#include <optional>

#include "auth/rbac.hpp"
#include "platform/error.hpp"

namespace spectra::identity {

// An account as the rules see it.
struct Account {
  auth::Role role = auth::Role::viewer;
  bool active = true;
  bool service_account = false;  // an API key's: its role is the key's, set when the key is made
};

// What a caller asks to change about an account.
struct AccountChange {
  std::optional<auth::Role> role;
  std::optional<bool> active;
};

enum class Verdict {
  allowed,
  service_account,            // managed through /api/api-keys, never through /api/users
  outranks_caller,            // only an admin manages or grants a role at or above the caller's own
  cannot_deactivate_self,
  last_active_admin,          // an organization always keeps one active admin
};

// May `caller` (with `caller_role`) make `change` to `target`, when the organization has
// `active_admins` active admins (the target included)? Separation of duties: below admin, a caller
// manages only accounts whose role is below their own and grants only such roles (a PI manages
// engineers, technicians and viewers; never a PI or an admin, themselves included).
Verdict judge_account_change(auth::Role caller_role, bool caller_is_target, const Account& target,
                             const AccountChange& change, int active_admins) noexcept;
// May `caller_role` create an account with `role`? The same rule: below admin, only roles below one's own.
Verdict judge_account_creation(auth::Role caller_role, auth::Role role) noexcept;
// The error a refusal answers: 403 or 409, in words.
ApiError refusal(Verdict v);

}  // namespace spectra::identity
