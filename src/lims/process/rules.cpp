#include "lims/process/rules.hpp"

#include <algorithm>

namespace spectra::process {
namespace {

DecisionVerdict refuse(ErrorCode code, std::string message) {
  return {DecisionVerdict::Kind::refused, code, std::move(message)};
}

}  // namespace

DecisionVerdict judge_decision(const RecipeReview& recipe, const Decider& decider, Decision decision,
                               const ApprovalPolicy& policy) {
  if (decider.role < auth::Role::pi) return refuse(ErrorCode::forbidden, "Only a PI or an admin decides on recipes");
  if (auto why = own_work_refusal("recipe", recipe.author_id, recipe.editors, decider.user_id))
    return refuse(ErrorCode::forbidden, std::move(*why));
  if (recipe.status != "PENDING_APPROVAL")
    return refuse(ErrorCode::conflict, "The recipe is " + recipe.status + ", not PENDING_APPROVAL: submit it first");
  if (std::find(recipe.deciders.begin(), recipe.deciders.end(), decider.user_id) != recipe.deciders.end())
    return refuse(ErrorCode::conflict, "You have already decided on this recipe");
  if (decision == Decision::reject) return {DecisionVerdict::Kind::rejected, {}, {}};
  const int required = std::max(policy.required, 1);
  const bool completes = recipe.approvals + 1 >= required;
  if (!completes) return {DecisionVerdict::Kind::recorded, {}, {}};
  if (policy.final_by_admin && decider.role != auth::Role::admin && !recipe.admin_approved)
    return refuse(ErrorCode::forbidden, "The final approval must come from an admin (" + std::to_string(recipe.approvals) +
                                            " of " + std::to_string(required) + " given)");
  return {DecisionVerdict::Kind::approved, {}, {}};
}

EditVerdict judge_recipe_edit(const std::string& status, bool latest, int latest_version) {
  using K = EditVerdict::Kind;
  if (!latest)
    return {K::refused, "A newer version of this recipe exists (version " + std::to_string(latest_version) +
                            "): change that one"};
  if (status == "DRAFT") return {K::in_place, {}};
  if (status == "APPROVED" || status == "REJECTED") return {K::new_version, {}};
  if (status == "PENDING_APPROVAL") return {K::refused, "The recipe is under review (PENDING_APPROVAL) and cannot change"};
  return {K::refused, "The recipe is " + status + " and cannot change"};
}

std::optional<std::string> submit_refusal(const std::string& status) {
  if (status == "DRAFT") return std::nullopt;
  return "The recipe is " + status + "; only a DRAFT is submitted for approval";
}

std::optional<std::string> own_work_refusal(std::string_view what, const std::string& author_id,
                                            const std::vector<std::string>& editors, const std::string& decider_id) {
  if (decider_id == author_id) return "The author of a " + std::string(what) + " cannot decide on it";
  if (std::find(editors.begin(), editors.end(), decider_id) != editors.end())
    return "You changed this version of the " + std::string(what) + ": someone else decides on it";
  return std::nullopt;
}

std::optional<ApiError> draft_decision_refusal(std::string_view what, const DraftReview& version, const Decider& decider) {
  if (decider.role < auth::Role::pi) return forbidden("Only a PI or an admin decides on " + std::string(what) + "s");
  if (auto why = own_work_refusal(what, version.author_id, version.editors, decider.user_id)) return forbidden(std::move(*why));
  if (version.status != "DRAFT")
    return conflict("This " + std::string(what) + " version is " + version.status +
                    "; only a DRAFT version is approved or rejected");
  return std::nullopt;
}

std::optional<std::string> sop_acknowledgement_refusal(const std::string& status) {
  if (status == "EFFECTIVE") return std::nullopt;
  return "This SOP version is " + status + "; only the EFFECTIVE version is acknowledged";
}

ApiError refusal(const DecisionVerdict& v) { return ApiError(v.code, v.message); }

}  // namespace spectra::process
