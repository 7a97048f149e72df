// Recipes and SOPs as their users check them: the approval workflow under the organization's policy
// (also with two approvers at the same moment), versions that leave what was approved untouched, SOP
// versions with one effective version per code (also under concurrent approvals), acknowledgements,
// the role matrix and API keys, another organization's ids, and bad input that writes nothing.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "support/api.hpp"
#include "support/harness.hpp"

using namespace spectra;
using namespace spectra::test;
namespace json = boost::json;

namespace {

json::value make_recipe(const std::string& token, const std::string& name, json::object extra = {}) {
  json::object body{{"name", name}, {"parameters", json::object{{"temperature_c", 450}, {"time_s", 30}}}};
  for (auto& [k, v] : extra) body[k] = v;
  auto r = lims("POST", "/api/recipes", token, js(body));
  if (r.status != 201) throw std::runtime_error("creating a recipe failed: " + describe(r));
  return r.json();
}

// A recipe written by `author` and submitted for approval: its id.
std::string submitted_recipe(const std::string& author, const std::string& name) {
  const std::string id = str(make_recipe(author, name), "id");
  auto r = lims("POST", "/api/recipes/" + id + "/submit", author);
  if (r.status != 200) throw std::runtime_error("submitting a recipe failed: " + describe(r));
  return id;
}

HttpResponse approve(const std::string& token, const std::string& id) {
  return lims("POST", "/api/recipes/" + id + "/approve", token);
}

std::string recipe_status(const std::string& id) { return db_text("SELECT status FROM recipes WHERE id = $1", db::Params(id)); }

void set_policy(const TestOrg& org, int required, bool final_by_admin) {
  auto r = lims("PATCH", "/api/organization", login(org.admin()),
                js(json::object{{"settings", json::object{{"recipe_approvals_required", required},
                                                          {"final_approval_by_admin", final_by_admin}}}}));
  ASSERT_EQ(r.status, 200u) << describe(r);
}

std::int64_t audits(const std::string& org_id, const std::string& action, const std::string& entity) {
  return count("SELECT count(*) FROM audit_events WHERE organization_id = $1 AND action = $2 AND entity_id = $3",
               db::Params(org_id, action, entity));
}

json::value make_sop(const std::string& token, const std::string& code, const std::string& body = "# Steps\n\n1. Do it.") {
  auto r = lims("POST", "/api/sops", token, js(json::object{{"code", code}, {"title", "Procedure " + code}, {"body_markdown", body}}));
  if (r.status != 201) throw std::runtime_error("creating an SOP failed: " + describe(r));
  return r.json();
}

}  // namespace

// ---- Recipes ----

TEST(Recipes, DraftSubmitApproveIsRecordedAndAudited) {
  auto org = make_org();
  const std::string eng = login(org.user("engineer")), pi = login(org.user("pi"));
  auto created = make_recipe(eng, "Dry oxidation", json::object{{"description", "Wet clean first.\nThen oxidize."}});
  const std::string id = str(created, "id");
  EXPECT_EQ(str(created, "status"), "DRAFT");
  EXPECT_EQ(created.at("version").as_int64(), 1);
  EXPECT_EQ(str(created, "author_id"), org.user("engineer").id);
  EXPECT_EQ(str(created, "root_recipe_id"), id);
  EXPECT_EQ(db_text("SELECT parameters->>'temperature_c' FROM recipes WHERE id = $1", db::Params(id)), "450");

  // Not under review yet: nobody decides on a draft.
  EXPECT_EQ(approve(pi, id).status, 409u);
  auto submitted = lims("POST", "/api/recipes/" + id + "/submit", eng);
  ASSERT_EQ(submitted.status, 200u) << describe(submitted);
  EXPECT_EQ(str(submitted.json(), "status"), "PENDING_APPROVAL");
  EXPECT_EQ(lims("POST", "/api/recipes/" + id + "/submit", eng).status, 409u);  // once

  auto approved = lims("POST", "/api/recipes/" + id + "/approve", pi, js(json::object{{"comment", "Looks right"}}));
  ASSERT_EQ(approved.status, 200u) << describe(approved);
  auto body = approved.json();
  EXPECT_EQ(str(body, "status"), "APPROVED");
  ASSERT_EQ(body.at("approvals").as_array().size(), 1u);
  EXPECT_EQ(str(body.at("approvals").at(0), "approver_id"), org.user("pi").id);
  EXPECT_EQ(str(body.at("approvals").at(0), "comment"), "Looks right");
  EXPECT_EQ(body.at("approvals_required").as_int64(), 1);
  EXPECT_EQ(recipe_status(id), "APPROVED");
  EXPECT_EQ(count("SELECT count(*) FROM recipe_approvals WHERE recipe_id = $1 AND decision = 'APPROVED'", db::Params(id)), 1);

  // GET shows the recipe with its approvals; the list has it.
  auto got = lims("GET", "/api/recipes/" + id, login(org.user("viewer")));
  ASSERT_EQ(got.status, 200u);
  EXPECT_EQ(got.json().at("approvals").as_array().size(), 1u);
  EXPECT_EQ(ids_of(all_items("/api/recipes?status=APPROVED", eng)), std::set<std::string>{id});

  EXPECT_EQ(audits(org.id, "recipe.create", id), 1);
  EXPECT_EQ(audits(org.id, "recipe.submit", id), 1);
  EXPECT_EQ(audits(org.id, "recipe.approve", id), 1);
}

TEST(Recipes, TheAuthorNeverApprovesAndEachApproverDecidesOnce) {
  auto org = make_org();
  const std::string pi = login(org.user("pi")), admin = login(org.admin());
  set_policy(org, 2, false);
  const std::string id = submitted_recipe(pi, "PI's own recipe");  // a PI may write recipes too
  auto own = approve(pi, id);
  EXPECT_EQ(own.status, 403u) << describe(own);
  EXPECT_EQ(count("SELECT count(*) FROM recipe_approvals WHERE recipe_id = $1", db::Params(id)), 0);

  auto first = approve(admin, id);
  ASSERT_EQ(first.status, 200u) << describe(first);
  EXPECT_EQ(str(first.json(), "status"), "PENDING_APPROVAL");  // 1 of 2
  auto again = approve(admin, id);
  EXPECT_EQ(again.status, 409u) << describe(again);
  auto reject_again = lims("POST", "/api/recipes/" + id + "/reject", admin, js(json::object{{"comment", "Changed my mind"}}));
  EXPECT_EQ(reject_again.status, 409u);
  EXPECT_EQ(count("SELECT count(*) FROM recipe_approvals WHERE recipe_id = $1", db::Params(id)), 1);
  EXPECT_EQ(recipe_status(id), "PENDING_APPROVAL");

  const auto second_pi = add_user(org, "pi", "pi2");
  auto second = approve(login(second_pi), id);
  ASSERT_EQ(second.status, 200u) << describe(second);
  EXPECT_EQ(str(second.json(), "status"), "APPROVED");
  EXPECT_EQ(second.json().at("approvals").as_array().size(), 2u);
}

TEST(Recipes, TheOrganizationsPolicyDecidesHowManyApprovalsAndWhetherAnAdminGivesTheLast) {
  auto org = make_org();
  set_policy(org, 3, true);
  const std::string eng = login(org.user("engineer"));
  const std::string id = submitted_recipe(eng, "Three approvals");
  const auto pi2 = add_user(org, "pi", "second-pi");
  const auto pi3 = add_user(org, "pi", "third-pi");

  ASSERT_EQ(approve(login(org.user("pi")), id).status, 200u);
  ASSERT_EQ(approve(login(pi2), id).status, 200u);
  EXPECT_EQ(recipe_status(id), "PENDING_APPROVAL");
  // The third would complete it, and the policy wants an admin's.
  auto third_pi = approve(login(pi3), id);
  EXPECT_EQ(third_pi.status, 403u) << describe(third_pi);
  EXPECT_NE(third_pi.body.find("admin"), std::string::npos);
  EXPECT_EQ(count("SELECT count(*) FROM recipe_approvals WHERE recipe_id = $1", db::Params(id)), 2);
  auto by_admin = approve(login(org.admin()), id);
  ASSERT_EQ(by_admin.status, 200u) << describe(by_admin);
  EXPECT_EQ(str(by_admin.json(), "status"), "APPROVED");
  EXPECT_EQ(by_admin.json().at("approvals_required").as_int64(), 3);
  EXPECT_TRUE(by_admin.json().at("final_approval_by_admin").as_bool());
}

TEST(Recipes, NobodyApprovesParametersTheyChangedAndAnEarlyAdminApprovalCounts) {
  auto org = make_org();
  const std::string eng = login(org.user("engineer")), pi = login(org.user("pi"));
  const std::string id = str(make_recipe(eng, "Edited by the PI"), "id");
  ASSERT_EQ(lims("PATCH", "/api/recipes/" + id, pi, js(json::object{{"parameters", json::object{{"time_s", 99}}}})).status, 200u);
  ASSERT_EQ(lims("POST", "/api/recipes/" + id + "/submit", eng).status, 200u);
  auto own_change = approve(pi, id);
  EXPECT_EQ(own_change.status, 403u) << describe(own_change);
  EXPECT_EQ(recipe_status(id), "PENDING_APPROVAL");
  ASSERT_EQ(approve(login(org.admin()), id).status, 200u);
  EXPECT_EQ(recipe_status(id), "APPROVED");

  // Two approvals, the last an admin's: the organization's one admin approved first, so a PI completes.
  set_policy(org, 2, true);
  const std::string early = submitted_recipe(eng, "Admin first");
  ASSERT_EQ(approve(login(org.admin()), early).status, 200u);
  EXPECT_EQ(recipe_status(early), "PENDING_APPROVAL");
  auto completing = approve(pi, early);
  ASSERT_EQ(completing.status, 200u) << describe(completing);
  EXPECT_EQ(recipe_status(early), "APPROVED");
}

TEST(Recipes, OneRejectionRejectsAndNeedsAComment) {
  auto org = make_org();
  set_policy(org, 2, false);
  const std::string eng = login(org.user("engineer")), pi = login(org.user("pi"));
  const std::string id = submitted_recipe(eng, "To reject");
  ASSERT_EQ(approve(login(org.admin()), id).status, 200u);

  for (const std::string body : {"", "{}", R"({"comment":""})", R"({"comment":"   "})"}) {
    auto r = lims("POST", "/api/recipes/" + id + "/reject", pi, body);
    EXPECT_EQ(r.status, 422u) << body << " " << describe(r);
    EXPECT_TRUE(names(r, "comment")) << describe(r);
  }
  EXPECT_EQ(count("SELECT count(*) FROM recipe_approvals WHERE recipe_id = $1 AND decision = 'REJECTED'", db::Params(id)), 0);
  EXPECT_EQ(recipe_status(id), "PENDING_APPROVAL");

  auto rejected = lims("POST", "/api/recipes/" + id + "/reject", pi, js(json::object{{"comment", "Temperature too high"}}));
  ASSERT_EQ(rejected.status, 200u) << describe(rejected);
  EXPECT_EQ(str(rejected.json(), "status"), "REJECTED");
  EXPECT_EQ(recipe_status(id), "REJECTED");
  EXPECT_EQ(db_text("SELECT comment FROM recipe_approvals WHERE recipe_id = $1 AND decision = 'REJECTED'", db::Params(id)),
            "Temperature too high");
  EXPECT_EQ(audits(org.id, "recipe.reject", id), 1);
  // Rejected is final for this version: a change opens the next one.
  EXPECT_EQ(approve(login(add_user(org, "pi", "late")), id).status, 409u);
  auto next = lims("PATCH", "/api/recipes/" + id, eng, js(json::object{{"parameters", json::object{{"temperature_c", 400}}}}));
  ASSERT_EQ(next.status, 200u) << describe(next);
  EXPECT_EQ(next.json().at("version").as_int64(), 2);
  EXPECT_EQ(str(next.json(), "status"), "DRAFT");
}

TEST(Recipes, ChangingAnApprovedRecipeMakesANewVersionAndRunsKeepTheirs) {
  auto org = make_org();
  const std::string eng = login(org.user("engineer")), pi = login(org.user("pi"));
  const std::string v1 = submitted_recipe(eng, "Anneal");
  ASSERT_EQ(approve(pi, v1).status, 200u);
  // A run that followed version 1 (runs arrive with the analysis service).
  const std::string instrument = db_text(
      "INSERT INTO instruments (organization_id, name, vendor, model, serial_number) VALUES ($1, 'Furnace', 'Tystar', 'T1', "
      "'SN-' || gen_random_uuid()) RETURNING id", db::Params(org.id));
  const std::string sample = str(lims("POST", "/api/samples", eng, js(json::object{{"name", "W1"}, {"sample_type", "wafer"}})).json(), "id");
  const std::string run = db_text(
      "INSERT INTO runs (organization_id, instrument_id, sample_id, recipe_id, status) VALUES ($1, $2, $3, $4, 'QUEUED') RETURNING id",
      db::Params(org.id, instrument, sample, v1));

  auto changed = lims("PATCH", "/api/recipes/" + v1, eng,
                      js(json::object{{"parameters", json::object{{"temperature_c", 500}}}, {"description", "Hotter"}}));
  ASSERT_EQ(changed.status, 200u) << describe(changed);
  auto v2 = changed.json();
  const std::string v2_id = str(v2, "id");
  EXPECT_NE(v2_id, v1);
  EXPECT_EQ(v2.at("version").as_int64(), 2);
  EXPECT_EQ(str(v2, "status"), "DRAFT");
  EXPECT_EQ(str(v2, "previous_version_id"), v1);
  EXPECT_EQ(str(v2, "root_recipe_id"), v1);
  EXPECT_EQ(str(v2, "name"), "Anneal");
  EXPECT_EQ(v2.at("parameters").at("temperature_c").as_int64(), 500);
  EXPECT_EQ(audits(org.id, "recipe.version", v2_id), 1);

  // Version 1 is as it was approved, and the run still points at it.
  auto old = lims("GET", "/api/recipes/" + v1, eng).json();
  EXPECT_EQ(str(old, "status"), "APPROVED");
  EXPECT_EQ(old.at("parameters").at("temperature_c").as_int64(), 450);
  EXPECT_TRUE(old.at("description").is_null());
  EXPECT_EQ(old.at("versions").as_array().size(), 2u);
  EXPECT_EQ(db_text("SELECT recipe_id FROM runs WHERE id = $1", db::Params(run)), v1);

  // Only the latest version changes; the draft changes in place.
  auto stale = lims("PATCH", "/api/recipes/" + v1, eng, js(json::object{{"name", "Stale"}}));
  EXPECT_EQ(stale.status, 409u) << describe(stale);
  auto in_place = lims("PATCH", "/api/recipes/" + v2_id, eng, js(json::object{{"name", "Anneal, hot"}}));
  ASSERT_EQ(in_place.status, 200u);
  EXPECT_EQ(str(in_place.json(), "id"), v2_id);
  EXPECT_EQ(count("SELECT count(*) FROM recipes WHERE organization_id = $1", db::Params(org.id)), 2);

  // Approving version 2 supersedes version 1.
  ASSERT_EQ(lims("POST", "/api/recipes/" + v2_id + "/submit", eng).status, 200u);
  EXPECT_EQ(lims("PATCH", "/api/recipes/" + v2_id, eng, js(json::object{{"name", "x"}})).status, 409u);  // under review
  ASSERT_EQ(approve(pi, v2_id).status, 200u);
  EXPECT_EQ(recipe_status(v2_id), "APPROVED");
  EXPECT_EQ(recipe_status(v1), "SUPERSEDED");
  EXPECT_EQ(db_text("SELECT recipe_id FROM runs WHERE id = $1", db::Params(run)), v1);
  EXPECT_EQ(ids_of(all_items("/api/recipes?root_recipe_id=" + v1, eng)), (std::set<std::string>{v1, v2_id}));
}

TEST(Recipes, TwoApproversAtTheSameMomentNeverLoseADecision) {
  auto org = make_org();
  const std::string eng = login(org.user("engineer"));
  const std::string pi1 = login(org.user("pi")), pi2 = login(add_user(org, "pi", "racer")), admin = login(org.admin());
  // One approval needed: exactly one of two simultaneous approvals wins, the other is told so.
  for (int round = 0; round < 4; ++round) {
    const std::string id = submitted_recipe(eng, "Race " + std::to_string(round));
    auto answers = concurrently({[&] { return approve(pi1, id); }, [&] { return approve(pi2, id); }});
    int ok = 0;
    for (const auto& a : answers) {
      if (a.status == 200u) ++ok;
      else EXPECT_EQ(a.status, 409u) << describe(a);
    }
    EXPECT_EQ(ok, 1) << "round " << round;
    EXPECT_EQ(recipe_status(id), "APPROVED");
    EXPECT_EQ(count("SELECT count(*) FROM recipe_approvals WHERE recipe_id = $1", db::Params(id)), 1);
  }
  // Two needed: both simultaneous approvals count, and the recipe ends APPROVED.
  set_policy(org, 2, false);
  for (int round = 0; round < 4; ++round) {
    const std::string id = submitted_recipe(eng, "Pair " + std::to_string(round));
    auto answers = concurrently({[&] { return approve(pi1, id); }, [&] { return approve(pi2, id); }});
    for (const auto& a : answers) EXPECT_EQ(a.status, 200u) << describe(a);
    EXPECT_EQ(recipe_status(id), "APPROVED");
    EXPECT_EQ(count("SELECT count(*) FROM recipe_approvals WHERE recipe_id = $1 AND decision = 'APPROVED'", db::Params(id)), 2);
  }
  // An approval and a rejection at once: one decides, and the state matches it.
  set_policy(org, 1, false);
  const std::string id = submitted_recipe(eng, "Split");
  auto answers = concurrently({[&] { return approve(pi1, id); },
                               [&] { return lims("POST", "/api/recipes/" + id + "/reject", admin, js(json::object{{"comment", "No"}})); }});
  const bool approved_first = answers[0].status == 200u;
  EXPECT_NE(answers[0].status == 200u, answers[1].status == 200u) << describe(answers[0]) << " / " << describe(answers[1]);
  EXPECT_EQ(recipe_status(id), approved_first ? "APPROVED" : "REJECTED");
  EXPECT_EQ(count("SELECT count(*) FROM recipe_approvals WHERE recipe_id = $1", db::Params(id)), 1);
}

TEST(Recipes, BadInputIsRefusedNamingTheFieldAndWritesNothing) {
  auto org = make_org();
  auto other = make_org();
  const std::string eng = login(org.user("engineer"));
  const std::string foreign_instrument = db_text(
      "INSERT INTO instruments (organization_id, name, vendor, model, serial_number) VALUES ($1, 'Theirs', 'V', 'M', 'S1')"
      " RETURNING id", db::Params(other.id));
  struct Case {
    std::string body, field;
  };
  const std::vector<Case> cases = {
      {R"({"parameters":{}})", "name"},
      {R"({"name":"x"})", "parameters"},
      {R"({"name":"x","parameters":[1,2]})", "parameters"},
      {R"({"name":"x","parameters":{},"colour":"red"})", "colour"},
      {R"({"name":"x","parameters":{},"instrument_id":"not-a-uuid"})", "instrument_id"},
      {R"({"name":"x","parameters":{},"instrument_id":")" + foreign_instrument + R"("})", "instrument_id"},
      {R"({"name":"x","parameters":{},"sop_id":"00000000-0000-4000-8000-000000000000"})", "sop_id"},
      {R"({"name":"","parameters":{}})", "name"},
      {R"({"name":"x","parameters":{},"extra_metadata":"text"})", "extra_metadata"},
  };
  for (const auto& c : cases) {
    auto r = lims("POST", "/api/recipes", eng, c.body);
    EXPECT_EQ(r.status, 422u) << c.body << " " << describe(r);
    EXPECT_TRUE(names(r, c.field)) << c.body << " " << describe(r);
  }
  EXPECT_EQ(lims("POST", "/api/recipes", eng, "{not json").status, 400u);
  EXPECT_EQ(count("SELECT count(*) FROM recipes WHERE organization_id = $1", db::Params(org.id)), 0);
  EXPECT_EQ(lims("GET", "/api/recipes?status=DONE", eng).status, 400u);
  EXPECT_EQ(lims("GET", "/api/recipes/not-a-uuid", eng).status, 400u);
}

TEST(Recipes, AnotherOrganizationsRecipeIs404AndNothingChanges) {
  auto a = make_org();
  auto b = make_org();
  const std::string id = submitted_recipe(login(a.user("engineer")), "Ours");
  const std::string their_eng = login(b.user("engineer")), their_pi = login(b.user("pi"));
  EXPECT_EQ(lims("GET", "/api/recipes/" + id, their_eng).status, 404u);
  EXPECT_EQ(lims("PATCH", "/api/recipes/" + id, their_eng, js(json::object{{"name", "Mine"}})).status, 404u);
  EXPECT_EQ(lims("POST", "/api/recipes/" + id + "/submit", their_eng).status, 404u);
  EXPECT_EQ(approve(their_pi, id).status, 404u);
  EXPECT_EQ(lims("POST", "/api/recipes/" + id + "/reject", their_pi, js(json::object{{"comment", "no"}})).status, 404u);
  EXPECT_TRUE(all_items("/api/recipes", their_eng).empty());
  EXPECT_EQ(recipe_status(id), "PENDING_APPROVAL");
  EXPECT_EQ(db_text("SELECT name FROM recipes WHERE id = $1", db::Params(id)), "Ours");
  EXPECT_EQ(count("SELECT count(*) FROM recipe_approvals WHERE recipe_id = $1", db::Params(id)), 0);
  EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE organization_id = $1 AND entity_id = $2", db::Params(b.id, id)), 0);
}

TEST(Recipes, EachRouteAdmitsItsRolesAndScopes) {
  auto org = make_org();
  const std::string eng = login(org.user("engineer"));
  const std::string id = str(make_recipe(eng, "Matrix"), "id");
  const std::vector<std::string> roles = {"viewer", "technician", "engineer", "pi", "admin"};
  for (const auto& role : roles) {
    const std::string t = login(org.user(role));
    const bool writer = role == "engineer" || role == "pi" || role == "admin";
    const bool decider = role == "pi" || role == "admin";
    EXPECT_EQ(lims("GET", "/api/recipes", t).status, 200u) << role;
    EXPECT_EQ(lims("GET", "/api/recipes/" + id, t).status, 200u) << role;
    auto created = lims("POST", "/api/recipes", t, js(json::object{{"name", "By " + role}, {"parameters", json::object{}}}));
    EXPECT_EQ(created.status, writer ? 201u : 403u) << role << " " << describe(created);
    const std::string draft = str(make_recipe(eng, "Draft for " + role), "id");
    EXPECT_EQ(lims("POST", "/api/recipes/" + draft + "/submit", t).status, writer ? 200u : 403u) << role;
    const std::string pending = submitted_recipe(eng, "Pending for " + role);
    EXPECT_EQ(approve(t, pending).status, decider ? 200u : 403u) << role;
    EXPECT_EQ(recipe_status(pending), decider ? "APPROVED" : "PENDING_APPROVAL") << role;
  }
  // API keys: the scope decides for a writer's key; approving is a person's decision.
  const std::string writer_key = api_key(org, {"recipes:write"}, "engineer");
  const std::string reader_key = api_key(org, {"recipes:read"}, "engineer");
  const std::string pi_key = api_key(org, {"recipes:write"}, "pi");
  EXPECT_EQ(lims("POST", "/api/recipes", writer_key, js(json::object{{"name", "By key"}, {"parameters", json::object{}}})).status, 201u);
  EXPECT_EQ(lims("POST", "/api/recipes", reader_key, js(json::object{{"name", "By key"}, {"parameters", json::object{}}})).status, 403u);
  EXPECT_EQ(lims("GET", "/api/recipes", reader_key).status, 200u);
  const std::string other = submitted_recipe(eng, "Key approval");
  EXPECT_EQ(approve(pi_key, other).status, 403u);
  EXPECT_EQ(recipe_status(other), "PENDING_APPROVAL");
  EXPECT_EQ(lims("GET", "/api/recipes", "").status, 401u);
}

// ---- SOPs ----

TEST(Sops, VersionsBecomeEffectiveOneAtATimeAndAreAcknowledged) {
  auto org = make_org();
  const std::string eng = login(org.user("engineer")), pi = login(org.user("pi")), tech = login(org.user("technician"));
  auto v1 = make_sop(eng, "SOP-CLEAN", "# Clean\n\n- [ ] Rinse\n<script>alert(1)</script>");
  const std::string v1_id = str(v1, "id");
  EXPECT_EQ(str(v1, "status"), "DRAFT");
  EXPECT_EQ(v1.at("version").as_int64(), 1);

  // A draft is not acknowledged; a technician and a viewer read it.
  EXPECT_EQ(lims("POST", "/api/sops/" + v1_id + "/acknowledge", tech).status, 409u);
  auto read = lims("GET", "/api/sops/" + v1_id, login(org.user("viewer")));
  ASSERT_EQ(read.status, 200u);
  EXPECT_EQ(str(read.json(), "body_html").find("<script"), std::string::npos);
  EXPECT_NE(str(read.json(), "body_html").find("<h1>Clean</h1>"), std::string::npos);

  auto effective = lims("POST", "/api/sops/" + v1_id + "/approve", pi);
  ASSERT_EQ(effective.status, 200u) << describe(effective);
  EXPECT_EQ(str(effective.json(), "status"), "EFFECTIVE");
  EXPECT_EQ(str(effective.json(), "approved_by"), org.user("pi").id);
  EXPECT_EQ(audits(org.id, "sop.effective", v1_id), 1);

  auto ack = lims("POST", "/api/sops/" + v1_id + "/acknowledge", tech);
  ASSERT_EQ(ack.status, 201u) << describe(ack);
  EXPECT_EQ(lims("POST", "/api/sops/" + v1_id + "/acknowledge", tech, "{}").status, 200u);  // once is enough
  EXPECT_EQ(count("SELECT count(*) FROM sop_acknowledgements WHERE sop_id = $1", db::Params(v1_id)), 1);
  EXPECT_EQ(audits(org.id, "sop.acknowledge", v1_id), 1);
  auto acks = lims("GET", "/api/sops/" + v1_id, eng).json().at("acknowledgements").as_array();
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(str(acks.at(0), "user_id"), org.user("technician").id);
  EXPECT_EQ(str(acks.at(0), "full_name"), str(lims("GET", "/api/auth/me", tech).json(), "full_name"));

  // The next version follows the latest; one draft at a time.
  auto v2 = lims("POST", "/api/sops/" + v1_id + "/versions", eng, js(json::object{{"body_markdown", "# Clean, v2"}}));
  ASSERT_EQ(v2.status, 201u) << describe(v2);
  const std::string v2_id = str(v2.json(), "id");
  EXPECT_EQ(v2.json().at("version").as_int64(), 2);
  EXPECT_EQ(str(v2.json(), "previous_version_id"), v1_id);
  EXPECT_EQ(str(v2.json(), "code"), "SOP-CLEAN");
  EXPECT_EQ(str(v2.json(), "title"), "Procedure SOP-CLEAN");
  EXPECT_EQ(audits(org.id, "sop.version", v2_id), 1);
  EXPECT_EQ(lims("POST", "/api/sops/" + v1_id + "/versions", eng, js(json::object{{"body_markdown", "v3"}})).status, 409u);
  EXPECT_EQ(lims("PATCH", "/api/sops/" + v1_id, eng, js(json::object{{"title", "Rewritten"}})).status, 409u);
  ASSERT_EQ(lims("PATCH", "/api/sops/" + v2_id, eng, js(json::object{{"title", "Cleaning"}})).status, 200u);

  ASSERT_EQ(lims("POST", "/api/sops/" + v2_id + "/approve", pi).status, 200u);
  EXPECT_EQ(db_text("SELECT status FROM sops WHERE id = $1", db::Params(v1_id)), "OBSOLETE");
  EXPECT_EQ(db_text("SELECT status FROM sops WHERE id = $1", db::Params(v2_id)), "EFFECTIVE");
  EXPECT_EQ(audits(org.id, "sop.obsolete", v1_id), 1);
  EXPECT_EQ(lims("POST", "/api/sops/" + v1_id + "/acknowledge", tech).status, 409u);  // obsolete now
  auto history = lims("GET", "/api/sops/" + v1_id, tech).json().at("versions").as_array();
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(str(history.at(0), "status"), "OBSOLETE");
  EXPECT_EQ(str(history.at(1), "status"), "EFFECTIVE");
  EXPECT_EQ(str(history.at(1), "title"), "Cleaning");
  EXPECT_EQ(ids_of(all_items("/api/sops?code=SOP-CLEAN&status=EFFECTIVE", tech)), std::set<std::string>{v2_id});
}

TEST(Sops, ConcurrentApprovalsLeaveExactlyOneEffectiveVersion) {
  auto org = make_org();
  const std::string eng = login(org.user("engineer"));
  const std::string pi1 = login(org.user("pi")), pi2 = login(add_user(org, "pi", "sop-racer")), admin = login(org.admin());
  const std::string v1 = str(make_sop(eng, "SOP-RACE"), "id");
  std::string latest = v1;
  for (int round = 0; round < 5; ++round) {
    if (round > 0) {
      auto next = lims("POST", "/api/sops/" + v1 + "/versions", eng, js(json::object{{"body_markdown", "round " + std::to_string(round)}}));
      ASSERT_EQ(next.status, 201u) << describe(next);
      latest = str(next.json(), "id");
    }
    auto answers = concurrently({[&] { return lims("POST", "/api/sops/" + latest + "/approve", pi1); },
                                 [&] { return lims("POST", "/api/sops/" + latest + "/approve", pi2); },
                                 [&] { return lims("POST", "/api/sops/" + latest + "/approve", admin); }});
    int ok = 0;
    for (const auto& a : answers) {
      if (a.status == 200u) ++ok;
      else EXPECT_EQ(a.status, 409u) << describe(a);
    }
    EXPECT_EQ(ok, 1) << "round " << round;
    EXPECT_EQ(count("SELECT count(*) FROM sops WHERE organization_id = $1 AND code = 'SOP-RACE' AND status = 'EFFECTIVE'",
                    db::Params(org.id)), 1);
    EXPECT_EQ(db_text("SELECT status FROM sops WHERE id = $1", db::Params(latest)), "EFFECTIVE");
  }
  EXPECT_EQ(count("SELECT count(*) FROM sops WHERE organization_id = $1 AND code = 'SOP-RACE' AND status = 'OBSOLETE'",
                  db::Params(org.id)), 4);
}

TEST(Sops, RolesBadInputAndAnotherOrganization) {
  auto org = make_org();
  auto other = make_org();
  const std::string eng = login(org.user("engineer"));
  const std::string id = str(make_sop(eng, "SOP-R"), "id");
  for (const std::string role : {"viewer", "technician"}) {
    const std::string t = login(org.user(role));
    EXPECT_EQ(lims("GET", "/api/sops", t).status, 200u) << role;
    EXPECT_EQ(lims("GET", "/api/sops/" + id, t).status, 200u) << role;
    EXPECT_EQ(lims("POST", "/api/sops", t, js(json::object{{"code", "X"}, {"title", "t"}, {"body_markdown", "b"}})).status, 403u);
    EXPECT_EQ(lims("POST", "/api/sops/" + id + "/versions", t, js(json::object{{"body_markdown", "b"}})).status, 403u);
    EXPECT_EQ(lims("POST", "/api/sops/" + id + "/approve", t).status, 403u);
  }
  EXPECT_EQ(lims("POST", "/api/sops/" + id + "/approve", eng).status, 403u);
  const std::string key = api_key(org, {"sops:write"}, "pi");
  EXPECT_EQ(lims("POST", "/api/sops/" + id + "/approve", key).status, 403u);  // a person approves
  EXPECT_EQ(lims("POST", "/api/sops", key, js(json::object{{"code", "SOP-KEY"}, {"title", "t"}, {"body_markdown", "b"}})).status, 201u);
  EXPECT_EQ(db_text("SELECT status FROM sops WHERE id = $1", db::Params(id)), "DRAFT");

  // The same code again is a conflict naming it; bad values name their field.
  auto dup = lims("POST", "/api/sops", eng, js(json::object{{"code", "SOP-R"}, {"title", "t"}, {"body_markdown", "b"}}));
  EXPECT_EQ(dup.status, 409u);
  EXPECT_TRUE(names(dup, "code")) << describe(dup);
  const std::string big(1048577, 'a');
  struct Case {
    std::string body, field;
  };
  const std::vector<Case> cases = {
      {js(json::object{{"title", "t"}, {"body_markdown", "b"}}), "code"},
      {js(json::object{{"code", "has space"}, {"title", "t"}, {"body_markdown", "b"}}), "code"},
      {js(json::object{{"code", "C1"}, {"title", "t"}}), "body_markdown"},
      {js(json::object{{"code", "C1"}, {"title", "t"}, {"body_markdown", big}}), "body_markdown"},
      {js(json::object{{"code", "C1"}, {"title", "t"}, {"body_markdown", "b"}, {"version", 3}}), "version"},
  };
  for (const auto& c : cases) {
    auto r = lims("POST", "/api/sops", eng, c.body);
    EXPECT_EQ(r.status, 422u) << c.field << " " << describe(r);
    EXPECT_TRUE(names(r, c.field)) << describe(r);
  }
  EXPECT_EQ(count("SELECT count(*) FROM sops WHERE organization_id = $1", db::Params(org.id)), 2);

  const std::string theirs = login(other.user("pi"));
  EXPECT_EQ(lims("GET", "/api/sops/" + id, theirs).status, 404u);
  EXPECT_EQ(lims("POST", "/api/sops/" + id + "/approve", theirs).status, 404u);
  EXPECT_EQ(lims("POST", "/api/sops/" + id + "/versions", theirs, js(json::object{{"body_markdown", "b"}})).status, 404u);
  EXPECT_EQ(lims("POST", "/api/sops/" + id + "/acknowledge", theirs).status, 404u);
  EXPECT_EQ(lims("PATCH", "/api/sops/" + id, theirs, js(json::object{{"title", "x"}})).status, 404u);
  EXPECT_EQ(count("SELECT count(*) FROM sops WHERE organization_id = $1 AND code = 'SOP-R'", db::Params(org.id)), 1);
  EXPECT_EQ(db_text("SELECT status FROM sops WHERE id = $1", db::Params(id)), "DRAFT");
}
