// The process rules without a socket or a database: every decision on a recipe from every state, by
// every role, checked against the rule stated a second way; what an edit of a recipe does; which SOP
// versions are approved and acknowledged.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "lims/process/rules.hpp"

using namespace spectra;
using namespace spectra::process;

namespace {

using K = DecisionVerdict::Kind;

constexpr auth::Role all_roles[] = {auth::Role::viewer, auth::Role::technician, auth::Role::engineer, auth::Role::pi,
                                    auth::Role::admin};
const std::vector<std::string> sop_statuses = {"DRAFT", "EFFECTIVE", "OBSOLETE", "REJECTED"};

const char* kind_name(K k) {
  switch (k) {
    case K::recorded: return "recorded";
    case K::approved: return "approved";
    case K::rejected: return "rejected";
    case K::refused: return "refused";
  }
  return "?";
}

// The rule, stated a second way: first who may decide at all (a PI or an admin who did not write the
// recipe), then whether the recipe is open to this decider (under review, not yet decided by them),
// then what the decision does.
struct Expected {
  K kind;
  ErrorCode code = ErrorCode::conflict;  // when refused
};

Expected oracle(const std::string& status, auth::Role role, bool is_author, bool already_decided, Decision decision,
                int approvals_before, ApprovalPolicy policy, bool admin_approved) {
  const bool senior = role == auth::Role::pi || role == auth::Role::admin;
  const bool may_decide = senior && !is_author;
  if (!may_decide) return {K::refused, ErrorCode::forbidden};
  const bool open = status == "PENDING_APPROVAL";
  if (!open) return {K::refused, ErrorCode::conflict};
  if (already_decided) return {K::refused, ErrorCode::conflict};
  if (decision == Decision::reject) return {K::rejected};
  const int needed = policy.required > 0 ? policy.required : 1;
  const int after = approvals_before + 1;
  if (after < needed) return {K::recorded};
  // This approval is the one that makes the count.
  // Under "final approval by an admin" no recipe completes without an admin's approval.
  if (policy.final_by_admin && role == auth::Role::pi && !admin_approved) return {K::refused, ErrorCode::forbidden};
  return {K::approved};
}

RecipeReview pending(int approvals = 0, std::vector<std::string> deciders = {}) {
  return {"PENDING_APPROVAL", "author", approvals, std::move(deciders), {}, false};
}

const Decider pi1{"pi1", auth::Role::pi};
const Decider pi2{"pi2", auth::Role::pi};
const Decider pi3{"pi3", auth::Role::pi};
const Decider admin1{"admin1", auth::Role::admin};

}  // namespace

TEST(RecipeDecisions, EveryStatusRoleDeciderAndDecisionFollowsTheRule) {
  const ApprovalPolicy policies[] = {{1, false}, {2, false}, {3, false}, {1, true}, {2, true}, {3, true},
                                     {0, false}, {0, true},  {-5, true}};
  int checked = 0;
  for (const char* status : recipe_statuses)
    for (auto decision : {Decision::approve, Decision::reject})
      for (auto role : all_roles)
        for (bool is_author : {false, true})
          for (bool already : {false, true})
            for (int approvals : {0, 1, 2})
              for (bool admin_approved : {false, true})
              for (const auto& policy : policies) {
                if (admin_approved && approvals == 0) continue;  // an admin's approval is one of them
                const std::string me = "u-me";
                RecipeReview recipe{status, is_author ? me : "u-author", approvals, {"u-other"}, {}, admin_approved};
                if (already) recipe.deciders.push_back(me);
                const auto v = judge_decision(recipe, {me, role}, decision, policy);
                const auto want = oracle(status, role, is_author, already, decision, approvals, policy, admin_approved);
                const std::string where = std::string(status) + " " +
                                          (decision == Decision::approve ? "approve" : "reject") + " by " +
                                          std::string(auth::role_name(role)) + (is_author ? " (author)" : "") +
                                          (already ? " (already decided)" : "") + ", " + std::to_string(approvals) +
                                          " approvals, required " + std::to_string(policy.required) +
                                          (policy.final_by_admin ? " final by admin" : "");
                ASSERT_EQ(kind_name(v.kind), std::string(kind_name(want.kind))) << where << ": " << v.message;
                if (want.kind == K::refused) {
                  EXPECT_EQ(v.code, want.code) << where;
                  EXPECT_FALSE(v.message.empty()) << where;
                  EXPECT_EQ(refusal(v).code(), want.code) << where;
                  EXPECT_EQ(refusal(v).detail(), v.message) << where;
                }
                ++checked;
              }
  EXPECT_EQ(checked, 5 * 2 * 5 * 2 * 2 * (3 * 2 - 1) * 9);
}

TEST(RecipeDecisions, OneRequiredApprovalApprovesAtOnce) {
  EXPECT_EQ(judge_decision(pending(), pi1, Decision::approve, {1, false}).kind, K::approved);
  EXPECT_EQ(judge_decision(pending(), admin1, Decision::approve, {1, false}).kind, K::approved);
}

TEST(RecipeDecisions, ThreeRequiredApprovalsRecordTwoThenApproveOnTheThird) {
  const ApprovalPolicy three{3, false};
  EXPECT_EQ(judge_decision(pending(0), pi1, Decision::approve, three).kind, K::recorded);
  EXPECT_EQ(judge_decision(pending(1, {"pi1"}), pi2, Decision::approve, three).kind, K::recorded);
  EXPECT_EQ(judge_decision(pending(2, {"pi1", "pi2"}), pi3, Decision::approve, three).kind, K::approved);
  // The ones who approved do not approve again.
  const auto again = judge_decision(pending(2, {"pi1", "pi2"}), pi1, Decision::approve, three);
  EXPECT_EQ(again.kind, K::refused);
  EXPECT_EQ(again.code, ErrorCode::conflict);
  EXPECT_NE(again.message.find("already"), std::string::npos) << again.message;
}

TEST(RecipeDecisions, WhenTheLastApprovalMustBeAnAdminsAPIsCompletingApprovalIsRefused) {
  const ApprovalPolicy policy{2, true};
  const auto first = judge_decision(pending(0), pi1, Decision::approve, policy);
  EXPECT_EQ(first.kind, K::recorded) << "a PI's approval that does not complete is recorded";
  const auto completing = judge_decision(pending(1, {"pi1"}), pi2, Decision::approve, policy);
  ASSERT_EQ(completing.kind, K::refused);
  EXPECT_EQ(completing.code, ErrorCode::forbidden);
  EXPECT_EQ(http_status(refusal(completing).code()), 403u);
  EXPECT_NE(completing.message.find("admin"), std::string::npos) << completing.message;
  EXPECT_EQ(judge_decision(pending(1, {"pi1"}), admin1, Decision::approve, policy).kind, K::approved);
  // With one approval required, a PI's approval is the last one.
  EXPECT_EQ(judge_decision(pending(), pi1, Decision::approve, {1, true}).code, ErrorCode::forbidden);
  EXPECT_EQ(judge_decision(pending(), admin1, Decision::approve, {1, true}).kind, K::approved);
  // A PI may still reject.
  EXPECT_EQ(judge_decision(pending(1, {"pi1"}), pi2, Decision::reject, policy).kind, K::rejected);
}

TEST(RecipeDecisions, WhoeverChangedTheVersionDoesNotDecideOnIt) {
  RecipeReview recipe = pending();
  recipe.editors = {"pi1"};
  const auto v = judge_decision(recipe, pi1, Decision::approve, {1, false});
  EXPECT_EQ(kind_name(v.kind), std::string("refused"));
  EXPECT_EQ(v.code, ErrorCode::forbidden);
  EXPECT_EQ(kind_name(judge_decision(recipe, pi1, Decision::reject, {1, false}).kind), std::string("refused"));
  EXPECT_EQ(kind_name(judge_decision(recipe, pi2, Decision::approve, {1, false}).kind), std::string("approved"));
}

TEST(RecipeDecisions, AnAdminWhoApprovedEarlyIsNotAskedTwice) {
  // Two approvals, the last an admin's: the organization's only admin approved first.
  RecipeReview recipe = pending(1, {"admin1"});
  recipe.admin_approved = true;
  EXPECT_EQ(kind_name(judge_decision(recipe, pi1, Decision::approve, {2, true}).kind), std::string("approved"));
  recipe.deciders = {"pi2"};  // the first was a PI's: the last must be an admin's
  recipe.admin_approved = false;
  EXPECT_EQ(judge_decision(recipe, pi1, Decision::approve, {2, true}).code, ErrorCode::forbidden);
  EXPECT_EQ(kind_name(judge_decision(recipe, admin1, Decision::approve, {2, true}).kind), std::string("approved"));
}

TEST(RecipeDecisions, ARejectionRejectsWhateverTheCount) {
  for (int approvals = 0; approvals < 5; ++approvals)
    for (const auto& decider : {pi3, admin1})
      EXPECT_EQ(judge_decision(pending(approvals, {"pi1"}), decider, Decision::reject, {5, true}).kind, K::rejected)
          << approvals;
}

TEST(RecipeDecisions, ARequiredCountOfZeroOrLessMeansOne) {
  for (int required : {0, -1, -100}) {
    EXPECT_EQ(judge_decision(pending(), pi1, Decision::approve, {required, false}).kind, K::approved) << required;
    EXPECT_EQ(judge_decision(pending(), pi1, Decision::approve, {required, true}).code, ErrorCode::forbidden)
        << required;
    EXPECT_EQ(judge_decision(pending(), admin1, Decision::approve, {required, true}).kind, K::approved) << required;
  }
}

TEST(RecipeDecisions, ConflictMessagesNameTheState) {
  for (const char* status : recipe_statuses) {
    if (std::string(status) == "PENDING_APPROVAL") continue;
    const auto v = judge_decision({status, "author", 0, {}, {}, false}, pi1, Decision::approve, {});
    ASSERT_EQ(v.kind, K::refused) << status;
    EXPECT_EQ(v.code, ErrorCode::conflict) << status;
    EXPECT_NE(v.message.find(status), std::string::npos) << v.message;
    EXPECT_EQ(http_status(refusal(v).code()), 409u);
  }
}

TEST(RecipeDecisions, TheAuthorAndJuniorRolesAreForbidden) {
  const auto own = judge_decision(pending(), {"author", auth::Role::admin}, Decision::approve, {});
  EXPECT_EQ(own.code, ErrorCode::forbidden);
  EXPECT_NE(own.message.find("author"), std::string::npos) << own.message;
  for (auto role : {auth::Role::viewer, auth::Role::technician, auth::Role::engineer})
    EXPECT_EQ(judge_decision(pending(), {"x", role}, Decision::reject, {}).code, ErrorCode::forbidden);
}

TEST(RecipeEdits, EveryStatusLatestOrNot) {
  using E = EditVerdict::Kind;
  for (const char* status : recipe_statuses) {
    const std::string s = status;
    const auto older = judge_recipe_edit(s, false, 7);
    EXPECT_EQ(older.kind, E::refused) << s;
    EXPECT_NE(older.message.find("7"), std::string::npos) << older.message;

    const auto v = judge_recipe_edit(s, true, 7);
    if (s == "DRAFT") {
      EXPECT_EQ(v.kind, E::in_place);
    } else if (s == "APPROVED" || s == "REJECTED") {
      EXPECT_EQ(v.kind, E::new_version) << s;
    } else {
      EXPECT_EQ(v.kind, E::refused) << s;
      EXPECT_NE(v.message.find(s), std::string::npos) << v.message;
    }
  }
}

TEST(RecipeSubmission, OnlyADraftIsSubmitted) {
  for (const char* status : recipe_statuses) {
    const std::string s = status;
    const auto why = submit_refusal(s);
    if (s == "DRAFT") {
      EXPECT_EQ(why, std::nullopt);
    } else {
      ASSERT_NE(why, std::nullopt) << s;
      EXPECT_NE(why->find(s), std::string::npos) << *why;
    }
  }
}

TEST(SopRules, OnlyADraftIsDecidedOnAndOnlyTheEffectiveVersionIsAcknowledged) {
  const Decider pi{"pi-1", auth::Role::pi};
  for (const auto& s : sop_statuses) {
    const auto decision = draft_decision_refusal("SOP", DraftReview{s, "author-1", {}}, pi);
    const auto acknowledgement = sop_acknowledgement_refusal(s);
    if (s == "DRAFT") {
      EXPECT_EQ(decision, std::nullopt);
    } else {
      ASSERT_NE(decision, std::nullopt) << s;
      EXPECT_EQ(decision->code(), ErrorCode::conflict) << s;
      EXPECT_NE(decision->detail().find(s), std::string::npos) << decision->detail();
    }
    if (s == "EFFECTIVE") {
      EXPECT_EQ(acknowledgement, std::nullopt);
    } else {
      ASSERT_NE(acknowledgement, std::nullopt) << s;
      EXPECT_NE(acknowledgement->find(s), std::string::npos) << *acknowledgement;
    }
  }
}

TEST(SopRules, NobodyDecidesOnTheirOwnVersion) {
  const DraftReview draft{"DRAFT", "author-1", {"editor-1"}};
  for (auto role : {auth::Role::pi, auth::Role::admin}) {
    for (const char* own : {"author-1", "editor-1"}) {
      const auto why = draft_decision_refusal("SOP", draft, Decider{own, role});
      ASSERT_NE(why, std::nullopt) << own;
      EXPECT_EQ(why->code(), ErrorCode::forbidden) << own;
    }
    EXPECT_EQ(draft_decision_refusal("SOP", draft, Decider{"other", role}), std::nullopt);
  }
  // Below PI nobody decides, whoever wrote it; the role is judged before the state.
  for (auto role : {auth::Role::viewer, auth::Role::technician, auth::Role::engineer}) {
    const auto why = draft_decision_refusal("SOP", DraftReview{"EFFECTIVE", "author-1", {}}, Decider{"other", role});
    ASSERT_NE(why, std::nullopt);
    EXPECT_EQ(why->code(), ErrorCode::forbidden);
  }
}

TEST(SeparationOfDuties, TheAuthorAndEveryEditorAreRefusedWithTheirReason) {
  EXPECT_EQ(own_work_refusal("specification", "a", {"e1", "e2"}, "someone"), std::nullopt);
  const auto author = own_work_refusal("specification", "a", {"e1"}, "a");
  ASSERT_NE(author, std::nullopt);
  EXPECT_NE(author->find("author"), std::string::npos) << *author;
  const auto editor = own_work_refusal("specification", "a", {"e1", "e2"}, "e2");
  ASSERT_NE(editor, std::nullopt);
  EXPECT_NE(editor->find("changed"), std::string::npos) << *editor;
}
