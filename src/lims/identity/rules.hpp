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
  only_admins_manage_admins,  // a PI may manage the team, but neither touch nor make admins
  cannot_deactivate_self,
  last_active_admin,          // an organization always keeps one active admin
};

// May `caller` (with `caller_role`) make `change` to `target`, when the organization has
// `active_admins` active admins (the target included)?
Verdict judge_account_change(auth::Role caller_role, bool caller_is_target, const Account& target,
                             const AccountChange& change, int active_admins) noexcept;
// The error a refusal answers: 403 or 409, in words.
ApiError refusal(Verdict v);

}  // namespace spectra::identity
