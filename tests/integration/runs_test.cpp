// Runs as their users check them: the calibration lockout on creation (valid, expired, revoked,
// pending, none; calibration runs exempt), approved recipes and effective SOPs, the state machine over
// HTTP with the re-check at start, unblock, an unblock racing an expire, results one and 10,000 at a
// time, roles, another organization's ids, and bad input that writes nothing.
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

std::string iso(int days_from_now, int hours = 0) {
  return db_text("SELECT to_char((now() + make_interval(days => $1::int, hours => $2::int)) AT TIME ZONE 'UTC',"
                 " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')", db::Params(days_from_now, hours));
}

std::string instrument(const std::string& token, const std::string& serial) {
  auto r = analysis("POST", "/api/v1/instruments", token,
                    js(json::object{{"name", "Tool " + serial}, {"vendor", "V"}, {"model", "M"}, {"serial_number", serial}}));
  if (r.status != 201) throw std::runtime_error("creating an instrument failed: " + describe(r));
  return str(r.json(), "id");
}

json::value calibrate(const std::string& token, const std::string& inst, const std::string& cert, int from, int to,
                      const std::string& status = "VALID") {
  auto r = analysis("POST", "/api/v1/calibrations", token,
                    js(json::object{{"instrument_id", inst}, {"certificate_number", cert}, {"calibrated_at", iso(from)},
                                    {"expires_at", iso(to, 12)}, {"status", status}}));
  if (r.status != 201) throw std::runtime_error("calibrating failed: " + describe(r));
  return r.json();
}

std::string sample(const std::string& token) {
  auto r = lims("POST", "/api/samples", token, js(json::object{{"name", "Run sample"}, {"sample_type", "wafer"}}));
  if (r.status != 201) throw std::runtime_error("creating a sample failed: " + describe(r));
  return str(r.json(), "id");
}

HttpResponse create_run(const std::string& token, json::object body) {
  return analysis("POST", "/api/v1/runs", token, js(body));
}

json::value run_on(const std::string& token, const std::string& inst, const std::string& smp, json::object extra = {}) {
  json::object body{{"instrument_id", inst}, {"sample_id", smp}};
  for (auto& [k, v] : extra) body[k] = v;
  auto r = create_run(token, body);
  if (r.status != 201) throw std::runtime_error("creating a run failed: " + describe(r));
  return r.json();
}

HttpResponse set_status(const std::string& token, const std::string& run, const std::string& status) {
  return analysis("PATCH", "/api/v1/runs/" + run + "/status", token, js(json::object{{"status", status}}));
}

std::string run_status(const std::string& run) { return db_text("SELECT status FROM runs WHERE id = $1", db::Params(run)); }

struct World {
  TestOrg org;
  std::string eng, tech, admin, smp, valid_tool;
};

World world() {
  World w{make_org(), {}, {}, {}, {}, {}};
  w.eng = login(w.org.user("engineer"));
  w.tech = login(w.org.user("technician"));
  w.admin = login(w.org.admin());
  w.smp = sample(w.eng);
  w.valid_tool = instrument(w.eng, "VALID-1");
  calibrate(w.eng, w.valid_tool, "C-VALID", -30, 335);
  return w;
}

}  // namespace

TEST(Runs, TheLockoutDecidesOnCreationWithTheReasonInWords) {
  auto w = world();
  const std::string expired = instrument(w.eng, "EXP"), revoked = instrument(w.eng, "REV"),
                    pending = instrument(w.eng, "PEND"), none = instrument(w.eng, "NONE");
  calibrate(w.eng, expired, "C-EXP", -400, -35);
  const std::string rev_cal = str(calibrate(w.eng, revoked, "C-REV", -30, 335), "id");
  ASSERT_EQ(analysis("PATCH", "/api/v1/calibrations/" + rev_cal + "/revoke", w.admin).status, 200u);
  calibrate(w.eng, pending, "C-PEND", -1, 364, "PENDING");

  auto ok = run_on(w.eng, w.valid_tool, w.smp);
  EXPECT_EQ(str(ok, "status"), "QUEUED");
  EXPECT_TRUE(ok.at("blocked_reason").is_null());
  EXPECT_FALSE(ok.at("calibration_exempt").as_bool());
  EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE action = 'run.create' AND entity_id = $1", db::Params(str(ok, "id"))), 1);

  struct Case {
    std::string tool, reason_starts;
  };
  for (const auto& c : std::vector<Case>{{expired, "calibration expired on "},
                                         {revoked, "calibration revoked (certificate C-REV)"},
                                         {pending, "calibration pending (certificate C-PEND)"},
                                         {none, "no calibration on record"}}) {
    auto run = run_on(w.eng, c.tool, w.smp);
    EXPECT_EQ(str(run, "status"), "BLOCKED") << c.reason_starts;
    EXPECT_EQ(str(run, "blocked_reason").rfind(c.reason_starts, 0), 0u) << str(run, "blocked_reason");
    // The reason is the status check's, word for word.
    auto check = analysis("GET", "/api/v1/calibrations/status/check?instrument_id=" + c.tool, w.eng).json();
    EXPECT_EQ(str(run, "blocked_reason"), str(check, "reason"));
    EXPECT_EQ(db_text("SELECT blocked_reason FROM runs WHERE id = $1", db::Params(str(run, "id"))), str(check, "reason"));
    EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE action = 'run.block' AND entity_id = $1",
                    db::Params(str(run, "id"))), 1);
    // A calibration run goes ahead on the same instrument, marked exempt.
    auto cal_run = run_on(w.eng, c.tool, w.smp, json::object{{"kind", "calibration"}});
    EXPECT_EQ(str(cal_run, "status"), "QUEUED");
    EXPECT_TRUE(cal_run.at("calibration_exempt").as_bool());
  }
}

TEST(Runs, RecipesMustBeApprovedAndSopsRecordTheirEffectiveVersion) {
  auto w = world();
  const std::string pi = login(w.org.user("pi"));
  auto draft = lims("POST", "/api/recipes", w.eng, js(json::object{{"name", "R"}, {"parameters", json::object{}}}));
  ASSERT_EQ(draft.status, 201u);
  const std::string recipe = str(draft.json(), "id");
  auto refused = create_run(w.eng, json::object{{"instrument_id", w.valid_tool}, {"sample_id", w.smp}, {"recipe_id", recipe}});
  EXPECT_EQ(refused.status, 422u);
  EXPECT_TRUE(names(refused, "recipe_id")) << describe(refused);
  ASSERT_EQ(lims("POST", "/api/recipes/" + recipe + "/submit", w.eng).status, 200u);
  ASSERT_EQ(lims("POST", "/api/recipes/" + recipe + "/approve", pi).status, 200u);
  auto with_recipe = run_on(w.eng, w.valid_tool, w.smp, json::object{{"recipe_id", recipe}});
  EXPECT_EQ(str(with_recipe, "recipe_id"), recipe);

  auto v1 = lims("POST", "/api/sops", w.eng, js(json::object{{"code", "SOP-RUN"}, {"title", "t"}, {"body_markdown", "v1"}}));
  ASSERT_EQ(v1.status, 201u);
  const std::string v1_id = str(v1.json(), "id");
  auto no_effective = create_run(w.eng, json::object{{"instrument_id", w.valid_tool}, {"sample_id", w.smp}, {"sop_id", v1_id}});
  EXPECT_EQ(no_effective.status, 422u);
  EXPECT_TRUE(names(no_effective, "sop_id"));
  ASSERT_EQ(lims("POST", "/api/sops/" + v1_id + "/approve", pi).status, 200u);
  auto v2 = lims("POST", "/api/sops/" + v1_id + "/versions", w.eng, js(json::object{{"body_markdown", "v2"}}));
  ASSERT_EQ(v2.status, 201u);
  ASSERT_EQ(lims("POST", "/api/sops/" + str(v2.json(), "id") + "/approve", pi).status, 200u);
  // Named by its first version, the run follows the version effective now.
  auto with_sop = run_on(w.eng, w.valid_tool, w.smp, json::object{{"sop_id", v1_id}});
  EXPECT_EQ(str(with_sop, "sop_id"), str(v2.json(), "id"));
  EXPECT_EQ(count("SELECT count(*) FROM runs WHERE organization_id = $1", db::Params(w.org.id)), 2);
}

TEST(Runs, TheStateMachineOverHttp) {
  auto w = world();
  auto fresh = [&] { return str(run_on(w.eng, w.valid_tool, w.smp), "id"); };
  const std::string a = fresh();
  // Not allowed: 409 naming both states, nothing changed.
  auto skip = set_status(w.tech, a, "COMPLETED");
  EXPECT_EQ(skip.status, 409u);
  EXPECT_NE(skip.body.find("QUEUED"), std::string::npos);
  EXPECT_NE(skip.body.find("COMPLETED"), std::string::npos);
  EXPECT_EQ(run_status(a), "QUEUED");
  EXPECT_EQ(set_status(login(w.org.user("viewer")), a, "RUNNING").status, 403u);

  auto started = set_status(w.tech, a, "RUNNING");
  ASSERT_EQ(started.status, 200u) << describe(started);
  EXPECT_FALSE(started.json().at("started_at").is_null());
  auto done = analysis("PATCH", "/api/v1/runs/" + a + "/status", w.tech, js(json::object{{"status", "COMPLETED"}, {"note", "Fine"}}));
  ASSERT_EQ(done.status, 200u);
  EXPECT_FALSE(done.json().at("completed_at").is_null());
  EXPECT_EQ(str(done.json(), "note"), "Fine");
  for (const std::string to : {"RUNNING", "FAILED", "CANCELLED", "COMPLETED"}) EXPECT_EQ(set_status(w.tech, a, to).status, 409u) << to;

  const std::string b = fresh();
  ASSERT_EQ(set_status(w.tech, b, "RUNNING").status, 200u);
  ASSERT_EQ(set_status(w.tech, b, "FAILED").status, 200u);
  EXPECT_EQ(run_status(b), "FAILED");
  const std::string c = fresh();
  ASSERT_EQ(set_status(w.tech, c, "CANCELLED").status, 200u);
  const std::string d = fresh();
  ASSERT_EQ(set_status(w.tech, d, "RUNNING").status, 200u);
  ASSERT_EQ(set_status(w.tech, d, "CANCELLED").status, 200u);
  auto queued = analysis("PATCH", "/api/v1/runs/" + d + "/status", w.tech, js(json::object{{"status", "QUEUED"}}));
  EXPECT_EQ(queued.status, 422u);  // only unblock queues a run
  EXPECT_TRUE(names(queued, "status"));
  for (const auto& [action, run] : std::vector<std::pair<std::string, std::string>>{
           {"run.start", a}, {"run.complete", a}, {"run.fail", b}, {"run.cancel", c}})
    EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE action = $1 AND entity_id = $2", db::Params(action, run)), 1) << action;
}

TEST(Runs, StartingChecksTheCalibrationAgainAndUnblockRechecks) {
  auto w = world();
  const std::string tool = instrument(w.eng, "LATE");
  const std::string cal = str(calibrate(w.eng, tool, "C-LATE", -300, 65), "id");
  const std::string run = str(run_on(w.eng, tool, w.smp), "id");
  ASSERT_EQ(run_status(run), "QUEUED");
  // The certificate runs out while the run waits (behind the application's back, as time would).
  owner().exec("UPDATE calibrations SET expires_at = now() - interval '1 hour' WHERE id = $1", db::Params(cal));
  auto start = set_status(w.tech, run, "RUNNING");
  EXPECT_EQ(start.status, 409u) << describe(start);
  EXPECT_NE(start.body.find("calibration expired on"), std::string::npos);
  EXPECT_EQ(run_status(run), "BLOCKED");
  EXPECT_EQ(db_text("SELECT blocked_reason FROM runs WHERE id = $1", db::Params(run)).rfind("calibration expired on", 0), 0u);
  EXPECT_TRUE(db_text("SELECT started_at::text FROM runs WHERE id = $1", db::Params(run)).empty());

  auto still = analysis("POST", "/api/v1/runs/" + run + "/unblock", w.eng);
  EXPECT_EQ(still.status, 409u);
  EXPECT_NE(still.body.find("calibration expired on"), std::string::npos);
  EXPECT_EQ(set_status(w.tech, run, "RUNNING").status, 409u);  // blocked runs are unblocked, not started
  calibrate(w.eng, tool, "C-NEW", 0, 365);
  EXPECT_EQ(analysis("POST", "/api/v1/runs/" + run + "/unblock", w.tech).status, 403u);  // engineer+
  auto unblocked = analysis("POST", "/api/v1/runs/" + run + "/unblock", w.eng);
  ASSERT_EQ(unblocked.status, 200u) << describe(unblocked);
  EXPECT_EQ(str(unblocked.json(), "status"), "QUEUED");
  EXPECT_TRUE(unblocked.json().at("blocked_reason").is_null());
  EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE action = 'run.unblock' AND entity_id = $1", db::Params(run)), 1);
  EXPECT_EQ(analysis("POST", "/api/v1/runs/" + run + "/unblock", w.eng).status, 409u);  // not blocked any more
  EXPECT_EQ(set_status(w.tech, run, "RUNNING").status, 200u);
}

TEST(Runs, AnUnblockRacingAnExpireAlwaysLeavesAConsistentState) {
  auto w = world();
  const std::string tool = instrument(w.eng, "RACE");
  for (int round = 0; round < 6; ++round) {
    // A blocked run, then a fresh certificate: the run may be unblocked, or the certificate expired.
    const std::string run = str(run_on(w.eng, tool, w.smp), "id");
    ASSERT_EQ(run_status(run), "BLOCKED");
    const std::string cal = str(calibrate(w.eng, tool, "C-RACE-" + std::to_string(round), 0, 365), "id");
    auto answers = concurrently({[&] { return analysis("POST", "/api/v1/runs/" + run + "/unblock", w.eng); },
                                 [&] { return analysis("PATCH", "/api/v1/calibrations/" + cal + "/expire", w.admin); }});
    ASSERT_EQ(answers[1].status, 200u) << describe(answers[1]);
    // Whichever went first, the instrument is not usable now, so the run must be BLOCKED: an unblock that
    // won was undone by the expire, and one that lost was refused.
    EXPECT_TRUE(answers[0].status == 200u || answers[0].status == 409u) << describe(answers[0]);
    EXPECT_EQ(run_status(run), "BLOCKED") << "round " << round << ": unblock answered " << answers[0].status;
    EXPECT_EQ(db_text("SELECT status FROM calibrations WHERE id = $1", db::Params(cal)), "EXPIRED");
  }
}

TEST(Runs, ResultsOneOrTenThousandOnRunningOrCompletedRuns) {
  auto w = world();
  const std::string run = str(run_on(w.eng, w.valid_tool, w.smp), "id");
  auto early = analysis("POST", "/api/v1/runs/" + run + "/results", w.tech, js(json::object{{"metric", "t"}, {"value", 1.5}}));
  EXPECT_EQ(early.status, 409u);
  ASSERT_EQ(set_status(w.tech, run, "RUNNING").status, 200u);
  auto one = analysis("POST", "/api/v1/runs/" + run + "/results", w.tech,
                      js(json::object{{"metric", "thickness"}, {"value", 101.5}, {"unit", "nm"}, {"data", json::object{{"site", 3}}}}));
  ASSERT_EQ(one.status, 201u) << describe(one);
  EXPECT_EQ(str(one.json(), "metric"), "thickness");
  EXPECT_DOUBLE_EQ(one.json().at("value").as_double(), 101.5);

  json::array batch;
  for (int i = 0; i < 10000; ++i) batch.push_back(json::object{{"metric", "site"}, {"value", i * 0.25}, {"unit", "nm"}});
  auto many = analysis("POST", "/api/v1/runs/" + run + "/results", w.tech, js(json::object{{"results", batch}}));
  ASSERT_EQ(many.status, 201u) << describe(many);
  EXPECT_EQ(many.json().at("recorded").as_int64(), 10000);
  EXPECT_EQ(count("SELECT count(*) FROM results WHERE run_id = $1", db::Params(run)), 10001);
  EXPECT_EQ(db_text("SELECT sum(value)::text FROM results WHERE run_id = $1 AND metric = 'site'", db::Params(run)),
            "12498750");  // 0.25 × (0 + … + 9999)
  EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE action = 'result.record' AND entity_id = $1", db::Params(run)), 2);
  auto page = analysis("GET", "/api/v1/runs/" + run + "/results?limit=10", login(w.org.user("viewer")));
  ASSERT_EQ(page.status, 200u);
  EXPECT_EQ(page.json().at("items").as_array().size(), 10u);

  // Over the limit, a bad item, a value that is not a number: nothing is written.
  batch.push_back(json::object{{"metric", "extra"}, {"value", 1}});
  auto over = analysis("POST", "/api/v1/runs/" + run + "/results", w.tech, js(json::object{{"results", batch}}));
  EXPECT_TRUE(over.status == 422u || over.status == 413u) << describe(over);
  if (over.status == 422u) {
    EXPECT_TRUE(names(over, "results"));
  }
  json::array bad{json::object{{"metric", "a"}, {"value", 1}}, json::object{{"metric", "b"}}, json::object{{"metric", "c"}, {"value", "x"}}};
  auto broken = analysis("POST", "/api/v1/runs/" + run + "/results", w.tech, js(json::object{{"results", bad}}));
  EXPECT_EQ(broken.status, 422u);
  EXPECT_TRUE(names(broken, "results[1].value")) << describe(broken);
  EXPECT_TRUE(names(broken, "results[2].value")) << describe(broken);
  auto nan = analysis("POST", "/api/v1/runs/" + run + "/results", w.tech, R"({"metric":"m","value":NaN})");
  EXPECT_EQ(nan.status, 422u);
  EXPECT_TRUE(names(nan, "value")) << describe(nan);
  EXPECT_EQ(analysis("POST", "/api/v1/runs/" + run + "/results", w.tech, R"({"metric":"m","value":1e999})").status / 100, 4u);
  auto no_value = analysis("POST", "/api/v1/runs/" + run + "/results", w.tech, js(json::object{{"metric", "m"}}));
  EXPECT_EQ(no_value.status, 422u);
  EXPECT_TRUE(names(no_value, "value"));
  EXPECT_EQ(count("SELECT count(*) FROM results WHERE run_id = $1", db::Params(run)), 10001);
  EXPECT_EQ(analysis("POST", "/api/v1/runs/" + run + "/results", login(w.org.user("viewer")),
                     js(json::object{{"metric", "m"}, {"value", 1}})).status, 403u);
}

TEST(Runs, BadInputRolesAndAnotherOrganization) {
  auto w = world();
  auto other = world();
  struct Case {
    json::object body;
    std::string field;
  };
  const std::vector<Case> cases = {
      {json::object{{"sample_id", w.smp}}, "instrument_id"},
      {json::object{{"instrument_id", w.valid_tool}}, "sample_id"},
      {json::object{{"instrument_id", w.valid_tool}, {"sample_id", w.smp}, {"kind", "maintenance"}}, "kind"},
      {json::object{{"instrument_id", w.valid_tool}, {"sample_id", w.smp}, {"parameters", "hot"}}, "parameters"},
      {json::object{{"instrument_id", w.valid_tool}, {"sample_id", w.smp}, {"status", "RUNNING"}}, "status"},
      {json::object{{"instrument_id", other.valid_tool}, {"sample_id", w.smp}}, "instrument_id"},
      {json::object{{"instrument_id", w.valid_tool}, {"sample_id", other.smp}}, "sample_id"},
      {json::object{{"instrument_id", 42}, {"sample_id", w.smp}}, "instrument_id"},
  };
  for (const auto& c : cases) {
    auto r = create_run(w.eng, c.body);
    EXPECT_EQ(r.status, 422u) << c.field << " " << describe(r);
    EXPECT_TRUE(names(r, c.field)) << describe(r);
  }
  EXPECT_EQ(count("SELECT count(*) FROM runs WHERE organization_id = $1", db::Params(w.org.id)), 0);

  EXPECT_EQ(create_run(w.tech, json::object{{"instrument_id", w.valid_tool}, {"sample_id", w.smp}}).status, 403u);
  const std::string key = api_key(w.org, {"runs:write"}, "engineer");
  EXPECT_EQ(create_run(key, json::object{{"instrument_id", w.valid_tool}, {"sample_id", w.smp}}).status, 201u);
  EXPECT_EQ(create_run(api_key(w.org, {"runs:read"}, "engineer"),
                       json::object{{"instrument_id", w.valid_tool}, {"sample_id", w.smp}}).status, 403u);

  const std::string theirs = str(run_on(other.eng, other.valid_tool, other.smp), "id");
  EXPECT_EQ(analysis("GET", "/api/v1/runs/" + theirs, w.eng).status, 404u);
  EXPECT_EQ(set_status(w.tech, theirs, "RUNNING").status, 404u);
  EXPECT_EQ(analysis("POST", "/api/v1/runs/" + theirs + "/unblock", w.eng).status, 404u);
  EXPECT_EQ(analysis("GET", "/api/v1/runs/" + theirs + "/results", w.eng).status, 404u);
  EXPECT_EQ(analysis("POST", "/api/v1/runs/" + theirs + "/results", w.tech, js(json::object{{"metric", "m"}, {"value", 1}})).status, 404u);
  EXPECT_EQ(run_status(theirs), "QUEUED");
  auto listed = analysis("GET", "/api/v1/runs", w.eng);
  ASSERT_EQ(listed.status, 200u);
  const auto page = listed.json();
  for (const auto& r : page.at("items").as_array()) EXPECT_NE(str(r, "id"), theirs);
  EXPECT_EQ(analysis("GET", "/api/v1/runs?status=DONE", w.eng).status, 400u);
}
