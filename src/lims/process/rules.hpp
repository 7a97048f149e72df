#pragma once
// The rules of process documents as plain functions, unit-tested without a socket or a database: who
// may decide on a recipe and when its approvals are enough, what an edit of a recipe does, and what an
// SOP version may do. The handlers apply them inside the transaction that locked the rows they read.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/rbac.hpp"
#include "platform/error.hpp"

namespace spectra::process {

// A recipe version's states: DRAFT → PENDING_APPROVAL (submit) → APPROVED | REJECTED; an approved
// version becomes SUPERSEDED when a later version of the same recipe is approved.
inline constexpr const char* recipe_statuses[] = {"DRAFT", "PENDING_APPROVAL", "APPROVED", "REJECTED", "SUPERSEDED"};

// The organization's approval policy (organizations.settings).
struct ApprovalPolicy {
  int required = 1;             // recipe_approvals_required
  bool final_by_admin = false;  // final_approval_by_admin: no recipe is approved without an admin's approval
};

// A recipe version under review, as its locked row and its approvals say.
struct RecipeReview {
  std::string status;
  std::string author_id;
  int approvals = 0;                  // APPROVED decisions so far
  std::vector<std::string> deciders;  // everyone who has decided (approved or rejected)
  std::vector<std::string> editors;   // everyone who changed this version after it was written
  bool admin_approved = false;        // whether an admin is among the approvals so far
};

struct Decider {
  std::string user_id;
  auth::Role role = auth::Role::viewer;
};

enum class Decision { approve, reject };

struct DecisionVerdict {
  enum class Kind { recorded, approved, rejected, refused } kind = Kind::refused;
  ErrorCode code = ErrorCode::conflict;  // for refused
  std::string message;                   // for refused: why, in words
};

// What `decider`'s `decision` does to `recipe` under `policy`:
//  - only a PENDING_APPROVAL version is decided on (409);
//  - the deciders are PI or admin (403), never the recipe's author or anyone who changed this version
//    (403: nobody approves their own parameters), and decide once each (409);
//  - one rejection rejects;
//  - an approval completes when it brings the count to the policy's number; approvals before that are
//    recorded and the version stays PENDING_APPROVAL;
//  - when the policy wants the final approval from an admin, the approval that completes the count is
//    an admin's, or an admin has approved already: a PI's completing approval without one is refused
//    (403), and an admin gives the last. (An admin who approved early is not asked twice: with one
//    admin, an early approval would otherwise leave the recipe waiting for ever.)
DecisionVerdict judge_decision(const RecipeReview& recipe, const Decider& decider, Decision decision,
                               const ApprovalPolicy& policy);

struct EditVerdict {
  enum class Kind { in_place, new_version, refused } kind = Kind::refused;
  std::string message;  // for refused (409)
};
// What a change to a recipe version does: a DRAFT changes in place; an APPROVED or REJECTED version
// gets a new DRAFT version (the old one stays as it was, and runs keep pointing at it); a version under
// review, superseded, or not the latest of its recipe is not changed.
EditVerdict judge_recipe_edit(const std::string& status, bool latest, int latest_version);

// Submit: only a DRAFT goes to review (409 otherwise, in words); nullopt when allowed.
std::optional<std::string> submit_refusal(const std::string& status);

// Separation of duties: nobody approves their own work. Why `decider` may not decide on a version of
// `what` written by `author_id` and changed by `editors` (nullopt: allowed; the refusal is a 403).
std::optional<std::string> own_work_refusal(std::string_view what, const std::string& author_id,
                                            const std::vector<std::string>& editors, const std::string& decider_id);

// A version that is decided on as a DRAFT (an SOP, a specification), as a decision on it sees it.
struct DraftReview {
  std::string status;
  std::string author_id;
  std::vector<std::string> editors;  // everyone who changed this version after it was written
};
// Why `decider` may not approve or reject `version`, a version of `what` ("SOP", "specification")
// (nullopt: allowed): the deciders are PI or admin (403), never the version's author or an editor of it
// (403); only a DRAFT version is decided on (409).
std::optional<ApiError> draft_decision_refusal(std::string_view what, const DraftReview& version, const Decider& decider);
// SOPs: the EFFECTIVE version is acknowledged.
std::optional<std::string> sop_acknowledgement_refusal(const std::string& status);

ApiError refusal(const DecisionVerdict& v);

}  // namespace spectra::process
