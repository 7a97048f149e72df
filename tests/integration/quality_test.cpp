// Quality as a lab checks it: a specification written, refused when its limits are inverted or
// overlapping or name an unknown unit, approved by a PI who did not write it (never its author), changed
// into a new DRAFT version while the effective one stays; a run binding the most specific EFFECTIVE
// version when it is created, and keeping it after a later approval; results judged pass / warn / fail
// / below_lod / none at every boundary, in one result and in a batch of 10,000, a failure opening one
// nonconformance per run and metric and quarantining the sample with a custody event; the disposition
// signed with the password (refused without it, with a wrong one, with an API key), releasing or
// disposing of the sample; a certificate refused while a nonconformance is open, issued once it is
// closed, its PDF's SHA-256 verified without credentials; results feeding an SPC series and its rules;
// another organization's ids answered 404, and a non-finite value in a batch writing nothing.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include "platform/crypto.hpp"
#include "support/api.hpp"
#include "support/harness.hpp"

using namespace spectra;
using namespace spectra::test;
namespace json = boost::json;

namespace {

std::string iso(int days_from_now) {
  const auto t = std::chrono::system_clock::now() + std::chrono::hours(24 * days_from_now);
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&tt));
  return buf;
}

struct Lab {
  TestOrg org;
  std::string admin, pi, eng, tech, viewer;
  std::string tool, material;
};

Lab lab() {
  Lab l{make_org(), {}, {}, {}, {}, {}, {}, {}};
  l.admin = login(l.org.admin());
  l.pi = login(l.org.user("pi"));
  l.eng = login(l.org.user("engineer"));
  l.tech = login(l.org.user("technician"));
  l.viewer = login(l.org.user("viewer"));
  auto i = analysis("POST", "/api/v1/instruments", l.eng,
                    js(json::object{{"name", "Ellipsometer"}, {"vendor", "V"}, {"model", "M"}, {"serial_number", "E-1"}}));
  if (i.status != 201) throw std::runtime_error(describe(i));
  l.tool = str(i.json(), "id");
  auto c = analysis("POST", "/api/v1/calibrations", l.eng,
                    js(json::object{{"instrument_id", l.tool}, {"certificate_number", "CAL-77"},
                                    {"calibrated_at", iso(-30)}, {"expires_at", iso(300)}}));
  if (c.status != 201) throw std::runtime_error(describe(c));
  auto m = lims("POST", "/api/materials", l.eng, js(json::object{{"name", "Thermal oxide"}}));
  if (m.status != 201) throw std::runtime_error(describe(m));
  l.material = str(m.json(), "id");
  return l;
}

json::object thickness_limit() {
  return {{"metric", "thickness"}, {"unit", "nm"}, {"lsl", 95}, {"usl", 105}, {"target", 100},
          {"warn_low", 97}, {"warn_high", 103}, {"lod", 5}};
}

HttpResponse create_spec(const std::string& token, json::object body) {
  if (!body.contains("name")) body["name"] = "Oxide thickness";
  if (!body.contains("limits")) body["limits"] = json::array{thickness_limit()};
  return lims("POST", "/api/specifications", token, js(body));
}

// A specification written by the engineer and approved by the PI: its EFFECTIVE version's id.
std::string effective_spec(const Lab& l, json::object applies_to, json::array limits = {thickness_limit()},
                           const std::string& name = "Oxide thickness") {
  auto r = create_spec(l.eng, {{"name", name}, {"applies_to", applies_to}, {"limits", limits}});
  if (r.status != 201) throw std::runtime_error(describe(r));
  const std::string id = str(r.json(), "id");
  auto a = lims("POST", "/api/specifications/" + id + "/approve", l.pi);
  if (a.status != 200) throw std::runtime_error(describe(a));
  return id;
}

std::string sample(const Lab& l, const std::string& name, std::optional<std::string> material = std::nullopt) {
  json::object body{{"name", name}, {"sample_type", "wafer"}, {"barcode", "W-" + crypto::to_hex(crypto::random_bytes(4))}};
  if (material) body["material_id"] = *material;
  auto r = lims("POST", "/api/samples", l.eng, js(body));
  if (r.status != 201) throw std::runtime_error(describe(r));
  return str(r.json(), "id");
}

json::value running_run(const Lab& l, const std::string& smp, json::object extra = {}) {
  json::object body{{"instrument_id", l.tool}, {"sample_id", smp}};
  for (auto& [k, v] : extra) body[k] = v;
  auto r = analysis("POST", "/api/v1/runs", l.eng, js(body));
  if (r.status != 201) throw std::runtime_error(describe(r));
  const std::string id = str(r.json(), "id");
  auto s = analysis("PATCH", "/api/v1/runs/" + id + "/status", l.eng, js(json::object{{"status", "RUNNING"}}));
  if (s.status != 200) throw std::runtime_error(describe(s));
  return r.json();
}

HttpResponse record(const std::string& token, const std::string& run, json::object result) {
  return analysis("POST", "/api/v1/runs/" + run + "/results", token, js(result));
}

}  // namespace

TEST(Quality, ASpecificationIsValidatedApprovedByAnotherAndVersioned) {
  Lab l = lab();
  // Bad limits: each problem names its field, and nothing is written.
  const std::string before = db_text("SELECT count(*) FROM specifications WHERE organization_id = $1", db::Params(l.org.id));
  struct Bad {
    json::object limit;
    std::string field;
  };
  for (const auto& b : std::vector<Bad>{
           {{{"metric", "t"}, {"lsl", 10}, {"usl", 5}}, "limits[0].usl"},
           {{{"metric", "t"}, {"lsl", 10}, {"usl", 10}}, "limits[0].usl"},
           {{{"metric", "t"}, {"lsl", 0}, {"usl", 10}, {"warn_low", -1}}, "limits[0].warn_low"},
           {{{"metric", "t"}, {"lsl", 0}, {"usl", 10}, {"warn_high", 11}}, "limits[0].warn_high"},
           {{{"metric", "t"}, {"lsl", 0}, {"usl", 10}, {"warn_low", 6}, {"warn_high", 4}}, "limits[0].warn_high"},
           {{{"metric", "t"}, {"lsl", 0}, {"usl", 10}, {"target", 12}}, "limits[0].target"},
           {{{"metric", "t"}, {"unit", "furlongs"}, {"lsl", 0}}, "limits[0].unit"},
           {{{"metric", "t"}, {"target", 3}}, "limits[0].lsl"},
       }) {
    auto r = create_spec(l.eng, {{"applies_to", json::object{{"sample_type", "wafer"}}}, {"limits", json::array{b.limit}}});
    EXPECT_EQ(r.status, 422u) << js(b.limit) << " " << describe(r);
    EXPECT_TRUE(names(r, b.field)) << b.field << " " << describe(r);
  }
  auto dup = create_spec(l.eng, {{"applies_to", json::object{{"sample_type", "wafer"}}},
                                 {"limits", json::array{thickness_limit(), thickness_limit()}}});
  EXPECT_EQ(dup.status, 422u);
  EXPECT_TRUE(names(dup, "limits[1].metric")) << describe(dup);
  auto nothing = create_spec(l.eng, {{"applies_to", json::object{}}});
  EXPECT_EQ(nothing.status, 422u);
  EXPECT_TRUE(names(nothing, "applies_to")) << describe(nothing);
  EXPECT_EQ(db_text("SELECT count(*) FROM specifications WHERE organization_id = $1", db::Params(l.org.id)), before);

  // Written by the engineer: a technician may not write one, the author and a viewer may not approve it.
  EXPECT_EQ(create_spec(l.tech, {{"applies_to", json::object{{"sample_type", "wafer"}}}}).status, 403u);
  auto made = create_spec(l.eng, {{"applies_to", json::object{{"material_id", l.material}}}});
  ASSERT_EQ(made.status, 201u) << describe(made);
  const std::string v1 = str(made.json(), "id");
  EXPECT_EQ(str(made.json(), "status"), "DRAFT");
  EXPECT_EQ(str(made.json().at("applies_to"), "material_id"), l.material);
  EXPECT_EQ(lims("POST", "/api/specifications/" + v1 + "/approve", l.eng).status, 403u);
  // A PI who changed the draft is its editor: someone else approves it.
  auto edited = lims("PATCH", "/api/specifications/" + v1, l.pi, js(json::object{{"description", "Gate oxide"}}));
  ASSERT_EQ(edited.status, 200u) << describe(edited);
  auto own = lims("POST", "/api/specifications/" + v1 + "/approve", l.pi);
  EXPECT_EQ(own.status, 403u) << describe(own);
  auto approved = lims("POST", "/api/specifications/" + v1 + "/approve", l.admin);
  ASSERT_EQ(approved.status, 200u) << describe(approved);
  EXPECT_EQ(str(approved.json(), "status"), "EFFECTIVE");
  EXPECT_EQ(lims("POST", "/api/specifications/" + v1 + "/approve", l.admin).status, 409u);

  // A change of the effective version is the next version, a DRAFT; the effective one is unchanged.
  json::object tighter = thickness_limit();
  tighter["usl"] = 104;
  auto v2r = lims("PATCH", "/api/specifications/" + v1, l.eng, js(json::object{{"limits", json::array{tighter}}}));
  ASSERT_EQ(v2r.status, 200u) << describe(v2r);
  const std::string v2 = str(v2r.json(), "id");
  EXPECT_NE(v2, v1);
  EXPECT_EQ(v2r.json().at("version").as_int64(), 2);
  EXPECT_EQ(str(v2r.json(), "status"), "DRAFT");
  EXPECT_EQ(db_text("SELECT limits->0->>'usl' FROM specifications WHERE organization_id = $1 AND id = $2",
                  db::Params(l.org.id, v1)),
            "105");
  // One DRAFT per lineage: a second change of the effective version is refused.
  EXPECT_EQ(lims("PATCH", "/api/specifications/" + v1, l.eng, js(json::object{{"name", "X"}})).status, 409u);
  // Rejecting needs a comment; approving v2 makes v1 OBSOLETE.
  EXPECT_EQ(lims("POST", "/api/specifications/" + v2 + "/reject", l.pi).status, 422u);
  ASSERT_EQ(lims("POST", "/api/specifications/" + v2 + "/approve", l.pi).status, 200u);
  auto got = lims("GET", "/api/specifications/" + v1, l.viewer);
  ASSERT_EQ(got.status, 200u);
  EXPECT_EQ(str(got.json(), "status"), "OBSOLETE");
  EXPECT_EQ(got.json().at("versions").as_array().size(), 2u);
  // The database refuses a change of a decided version's limits, whoever writes it.
  EXPECT_EQ(db_text("SELECT count(*) FROM specifications WHERE organization_id = $1 AND lineage_id = $2 AND status = 'EFFECTIVE'",
                  db::Params(l.org.id, v1)),
            "1");
  for (const char* action : {"specification.create", "specification.update", "specification.approve",
                             "specification.version", "specification.obsolete"})
    EXPECT_NE(db_text("SELECT count(*) FROM audit_events WHERE organization_id = $1 AND action = $2",
                    db::Params(l.org.id, std::string(action))),
              "0")
        << action;

  // Another organization sees none of it.
  Lab other = lab();
  EXPECT_EQ(lims("GET", "/api/specifications/" + v1, other.eng).status, 404u);
  EXPECT_EQ(lims("POST", "/api/specifications/" + v2 + "/approve", other.pi).status, 404u);
  EXPECT_EQ(lims("PATCH", "/api/specifications/" + v2, other.eng, js(json::object{{"name", "Mine"}})).status, 404u);
}

TEST(Quality, ARunBindsTheMostSpecificEffectiveVersionAndKeepsIt) {
  Lab l = lab();
  const std::string by_type = effective_spec(l, {{"sample_type", "wafer"}}, {thickness_limit()}, "Any wafer");
  const std::string by_material = effective_spec(l, {{"material_id", l.material}}, {thickness_limit()}, "Oxide");
  const std::string plain = sample(l, "Plain wafer");
  const std::string oxide = sample(l, "Oxide wafer", l.material);
  EXPECT_EQ(str(running_run(l, plain), "specification_version_id"), by_type);
  const json::value bound = running_run(l, oxide);
  EXPECT_EQ(str(bound, "specification_version_id"), by_material);
  // A calibration run is judged by none.
  auto cal = analysis("POST", "/api/v1/runs", l.eng,
                      js(json::object{{"instrument_id", l.tool}, {"sample_id", oxide}, {"kind", "calibration"}}));
  ASSERT_EQ(cal.status, 201u);
  EXPECT_TRUE(cal.json().at("specification_version_id").is_null());

  // A later version with other limits: the earlier run is still judged by the version it bound.
  json::object strict = thickness_limit();
  strict["lsl"] = 99.5;
  strict["warn_low"] = 99.8;
  auto next = lims("PATCH", "/api/specifications/" + by_material, l.eng, js(json::object{{"limits", json::array{strict}}}));
  ASSERT_EQ(next.status, 200u);
  ASSERT_EQ(lims("POST", "/api/specifications/" + str(next.json(), "id") + "/approve", l.pi).status, 200u);
  auto r = record(l.eng, str(bound, "id"), {{"metric", "thickness"}, {"value", 98}, {"unit", "nm"}});
  ASSERT_EQ(r.status, 201u) << describe(r);
  EXPECT_EQ(str(r.json(), "evaluation"), "pass");
  EXPECT_EQ(str(running_run(l, oxide), "specification_version_id"), str(next.json(), "id"));
}

TEST(Quality, ResultsAreJudgedAtEveryBoundaryAndAFailureHoldsTheSample) {
  Lab l = lab();
  effective_spec(l, {{"material_id", l.material}},
                 {thickness_limit(), json::object{{"metric", "sheet_resistance"}, {"unit", "ohm/sq"}, {"usl", 50}}});
  const std::string smp = sample(l, "Judged wafer", l.material);
  const std::string run = str(running_run(l, smp), "id");
  struct Case {
    double value;
    std::string metric, evaluation;
  };
  for (const auto& c : std::vector<Case>{{95, "thickness", "warn"},      {105, "thickness", "warn"},
                                         {97, "thickness", "pass"},      {103, "thickness", "pass"},
                                         {100, "thickness", "pass"},     {96.9, "thickness", "warn"},
                                         {4.9, "thickness", "below_lod"}, {5, "thickness", "fail"},
                                         {50, "sheet_resistance", "pass"}, {1.5, "stress", "none"}}) {
    json::object body{{"metric", c.metric}, {"value", c.value}};
    auto r = record(l.tech, run, body);
    ASSERT_EQ(r.status, 201u) << describe(r);
    EXPECT_EQ(str(r.json(), "evaluation"), c.evaluation) << c.metric << " " << c.value;
    EXPECT_EQ(db_text("SELECT evaluation FROM results WHERE organization_id = $1 AND id = $2",
                    db::Params(l.org.id, str(r.json(), "id"))),
              c.evaluation);
  }
  // 5 nm failed (below lsl 95, at the LOD): one nonconformance, the sample quarantined with a custody event.
  auto ncs = all_items("/api/nonconformances?run_id=" + run, l.viewer);
  ASSERT_EQ(ncs.size(), 1u);
  EXPECT_EQ(str(ncs[0], "metric"), "thickness");
  EXPECT_EQ(str(ncs[0], "status"), "OPEN");
  EXPECT_EQ(ncs[0].at("failures").as_int64(), 1);
  EXPECT_EQ(str(lims("GET", "/api/samples/" + smp, l.viewer).json(), "status"), "quarantined");
  EXPECT_EQ(db_text("SELECT event_type FROM custody_events WHERE organization_id = $1 AND sample_id = $2 ORDER BY seq DESC LIMIT 1",
                  db::Params(l.org.id, smp)),
            "quarantine");
  // A unit other than the limit's is refused, naming the field; nothing is written.
  auto wrong_unit = record(l.tech, run, {{"metric", "thickness"}, {"value", 0.1}, {"unit", "um"}});
  EXPECT_EQ(wrong_unit.status, 422u);
  EXPECT_TRUE(names(wrong_unit, "unit")) << describe(wrong_unit);

  // A batch of 10,000 with failures of two metrics: judged in the same statements, each failure
  // attached to the open nonconformance of its metric or opening one, the sample held once.
  json::array batch;
  for (int i = 0; i < 10000; ++i) {
    const bool bad = i % 1000 >= 998;  // 998: sheet resistance, 999: thickness
    batch.push_back(json::object{{"metric", i % 2 ? "thickness" : "sheet_resistance"},
                                 {"value", i % 2 ? (bad ? 120.0 : 100.0) : (bad ? 60.0 : 40.0)}});
  }
  auto b = analysis("POST", "/api/v1/runs/" + run + "/results", l.tech, js(json::object{{"results", batch}}));
  ASSERT_EQ(b.status, 201u) << describe(b);
  EXPECT_EQ(b.json().at("evaluations").at("fail").as_int64(), 20);
  EXPECT_EQ(b.json().at("evaluations").at("pass").as_int64(), 9980);
  EXPECT_EQ(db_text("SELECT count(*) FROM results WHERE organization_id = $1 AND run_id = $2 AND evaluation = 'fail'",
                  db::Params(l.org.id, run)),
            "21");
  EXPECT_EQ(db_text("SELECT string_agg(metric || ':' || failures, ',' ORDER BY metric) FROM nonconformances"
                  " WHERE organization_id = $1 AND run_id = $2",
                  db::Params(l.org.id, run)),
            "sheet_resistance:10,thickness:11");
  EXPECT_EQ(db_text("SELECT count(*) FROM custody_events WHERE organization_id = $1 AND sample_id = $2 AND event_type = 'quarantine'",
                  db::Params(l.org.id, smp)),
            "1");
  EXPECT_EQ(db_text("SELECT count(*) FROM audit_events WHERE organization_id = $1 AND action = 'nonconformance.open'",
                  db::Params(l.org.id)),
            "2");

  // A batch with one value that is not finite: 422 naming the item, nothing written.
  const std::string results_before =
      db_text("SELECT count(*) FROM results WHERE organization_id = $1 AND run_id = $2", db::Params(l.org.id, run));
  auto inf = analysis("POST", "/api/v1/runs/" + run + "/results", l.tech,
                      R"({"results":[{"metric":"thickness","value":100},{"metric":"thickness","value":1e999}]})");
  EXPECT_EQ(inf.status, 422u);
  EXPECT_TRUE(names(inf, "results[1].value")) << describe(inf);
  EXPECT_EQ(db_text("SELECT count(*) FROM results WHERE organization_id = $1 AND run_id = $2", db::Params(l.org.id, run)),
            results_before);
}

TEST(Quality, ADispositionIsSignedAndReleasesOrDisposesOfTheSample) {
  Lab l = lab();
  effective_spec(l, {{"material_id", l.material}});
  const std::string smp = sample(l, "Held wafer", l.material);
  const std::string run = str(running_run(l, smp), "id");
  ASSERT_EQ(record(l.tech, run, {{"metric", "thickness"}, {"value", 120}}).status, 201u);
  const std::string nc = str(all_items("/api/nonconformances?sample_id=" + smp, l.viewer).at(0), "id");

  // A certificate waits for the disposition.
  auto early = lims("POST", "/api/samples/" + smp + "/certificates", l.pi,
                    js(json::object{{"password", l.org.user("pi").password}}));
  EXPECT_EQ(early.status, 409u) << describe(early);

  // Under review (an engineer), then the disposition: a PI with the password again.
  auto review = lims("PATCH", "/api/nonconformances/" + nc, l.eng,
                     js(json::object{{"status", "UNDER_REVIEW"}, {"notes", "Re-measure at 5 sites"}}));
  ASSERT_EQ(review.status, 200u) << describe(review);
  EXPECT_EQ(str(review.json(), "status"), "UNDER_REVIEW");
  EXPECT_EQ(lims("PATCH", "/api/nonconformances/" + nc, l.eng, js(json::object{{"status", "CLOSED"}})).status, 422u);
  auto no_password = lims("POST", "/api/nonconformances/" + nc + "/disposition", l.pi,
                          js(json::object{{"disposition", "use_as_is"}}));
  EXPECT_EQ(no_password.status, 422u);
  EXPECT_TRUE(names(no_password, "password")) << describe(no_password);
  auto wrong = lims("POST", "/api/nonconformances/" + nc + "/disposition", l.pi,
                    js(json::object{{"disposition", "use_as_is"}, {"password", "not-it"}}));
  EXPECT_EQ(wrong.status, 401u);
  EXPECT_EQ(lims("POST", "/api/nonconformances/" + nc + "/disposition", l.eng,
                 js(json::object{{"disposition", "use_as_is"}, {"password", l.org.user("engineer").password}}))
                .status,
            403u);
  const std::string key = api_key(l.org, {"quality:read", "quality:write"}, "pi");
  EXPECT_EQ(lims("POST", "/api/nonconformances/" + nc + "/disposition", key,
                 js(json::object{{"disposition", "use_as_is"}, {"password", "x"}}))
                .status,
            403u);
  EXPECT_EQ(db_text("SELECT status FROM nonconformances WHERE organization_id = $1 AND id = $2", db::Params(l.org.id, nc)),
            "UNDER_REVIEW");
  Lab other = lab();
  EXPECT_EQ(lims("POST", "/api/nonconformances/" + nc + "/disposition", other.pi,
                 js(json::object{{"disposition", "scrap"}, {"password", other.org.user("pi").password}}))
                .status,
            404u);

  auto done = lims("POST", "/api/nonconformances/" + nc + "/disposition", l.pi,
                   js(json::object{{"disposition", "use_as_is"}, {"comment", "Within the customer's tolerance"},
                                   {"password", l.org.user("pi").password}}));
  ASSERT_EQ(done.status, 200u) << describe(done);
  EXPECT_EQ(str(done.json(), "status"), "CLOSED");
  EXPECT_EQ(str(done.json(), "disposition"), "use_as_is");
  EXPECT_EQ(str(done.json(), "signature_sha256").size(), 64u);
  EXPECT_FALSE(str(done.json(), "disposed_by_name").empty());
  EXPECT_EQ(str(lims("GET", "/api/samples/" + smp, l.viewer).json(), "status"), "available");
  EXPECT_EQ(db_text("SELECT event_type FROM custody_events WHERE organization_id = $1 AND sample_id = $2 ORDER BY seq DESC LIMIT 1",
                  db::Params(l.org.id, smp)),
            "release");
  EXPECT_EQ(lims("POST", "/api/nonconformances/" + nc + "/disposition", l.admin,
                 js(json::object{{"disposition", "scrap"}, {"password", l.org.admin().password}}))
                .status,
            409u);

  // A new failure after the disposition opens the next nonconformance; scrap disposes of the sample.
  ASSERT_EQ(record(l.tech, run, {{"metric", "thickness"}, {"value", 130}}).status, 201u);
  auto open = all_items("/api/nonconformances?status=OPEN&sample_id=" + smp, l.viewer);
  ASSERT_EQ(open.size(), 1u);
  auto scrap = lims("POST", "/api/nonconformances/" + str(open[0], "id") + "/disposition", l.admin,
                    js(json::object{{"disposition", "scrap"}, {"password", l.org.admin().password}}));
  ASSERT_EQ(scrap.status, 200u) << describe(scrap);
  EXPECT_EQ(str(lims("GET", "/api/samples/" + smp, l.viewer).json(), "status"), "disposed");
  EXPECT_EQ(db_text("SELECT event_type FROM custody_events WHERE organization_id = $1 AND sample_id = $2 ORDER BY seq DESC LIMIT 1",
                  db::Params(l.org.id, smp)),
            "dispose");
  EXPECT_EQ(db_text("SELECT count(*) FROM audit_events WHERE organization_id = $1 AND action = 'nonconformance.disposition'",
                  db::Params(l.org.id)),
            "2");
}

TEST(Quality, ACertificateIsIssuedSignedAndVerifiedByItsHash) {
  Lab l = lab();
  const std::string spec = effective_spec(l, {{"material_id", l.material}});
  const std::string smp = sample(l, "Certified wafer", l.material);
  ASSERT_EQ(lims("POST", "/api/wafers", l.eng,
                 js(json::object{{"sample_id", smp}, {"diameter_mm", 150}, {"orientation", "<100>"}, {"doping_type", "p"}}))
                .status,
            201u);
  const std::string run = str(running_run(l, smp), "id");
  ASSERT_EQ(analysis("POST", "/api/v1/runs/" + run + "/results", l.tech,
                     js(json::object{{"results", json::array{json::object{{"metric", "thickness"}, {"value", 100.2}},
                                                             json::object{{"metric", "thickness"}, {"value", 98.5}}}}}))
                .status,
            201u);
  const std::string path = "/api/samples/" + smp + "/certificates";
  EXPECT_EQ(lims("POST", path, l.eng, js(json::object{{"password", l.org.user("engineer").password}})).status, 403u);
  auto wrong = lims("POST", path, l.pi, js(json::object{{"password", "wrong"}}));
  EXPECT_EQ(wrong.status, 401u);
  auto bad_run = lims("POST", path, l.pi,
                      js(json::object{{"password", l.org.user("pi").password}, {"run_ids", json::array{smp}}}));
  EXPECT_EQ(bad_run.status, 422u);
  EXPECT_TRUE(names(bad_run, "run_ids[0]")) << describe(bad_run);
  Lab other = lab();
  EXPECT_EQ(lims("POST", path, other.pi, js(json::object{{"password", other.org.user("pi").password}})).status, 404u);
  EXPECT_EQ(db_text("SELECT count(*) FROM certificates WHERE organization_id = $1", db::Params(l.org.id)), "0");

  auto issued = lims("POST", path, l.pi, js(json::object{{"password", l.org.user("pi").password}}));
  ASSERT_EQ(issued.status, 201u) << describe(issued);
  const std::string id = str(issued.json(), "id");
  const json::value issued_json = issued.json();
  const auto& content = issued_json.at("content");
  ASSERT_EQ(content.at("lines").as_array().size(), 2u);
  EXPECT_EQ(str(content.at("lines").at(0), "calibration").rfind("CAL-77", 0), 0u);
  EXPECT_EQ(str(content.at("lines").at(0), "specification"), "Oxide thickness v1");
  EXPECT_NE(str(content, "verify_url").find("/verify/" + id), std::string::npos);
  (void)spec;

  auto pdf = lims("GET", "/api/certificates/" + id + "/pdf", l.viewer);
  ASSERT_EQ(pdf.status, 200u);
  EXPECT_EQ(pdf.header("content-type"), "application/pdf");
  EXPECT_EQ(pdf.body.rfind("%PDF-", 0), 0u);
  const std::string sha = crypto::to_hex(crypto::sha256(pdf.body));
  EXPECT_EQ(str(issued.json(), "sha256"), sha);
  EXPECT_EQ(db_text("SELECT encode(sha256, 'hex') FROM certificates WHERE organization_id = $1 AND id = $2",
                  db::Params(l.org.id, id)),
            sha);
  EXPECT_EQ(db_text("SELECT count(*) FROM audit_events WHERE organization_id = $1 AND action = 'certificate.issue'"
                  " AND after->>'sha256' = $2",
                  db::Params(l.org.id, sha)),
            "1");

  // Verified without credentials: the PDF as issued is valid; one changed byte is not, and says nothing.
  auto valid = lims("GET", "/api/certificates/" + id + "/verify?sha256=" + sha);
  ASSERT_EQ(valid.status, 200u) << describe(valid);
  EXPECT_TRUE(valid.json().at("valid").as_bool());
  EXPECT_FALSE(str(valid.json(), "issued_by").empty());
  std::string changed = pdf.body;
  changed[changed.size() / 2] ^= 1;
  auto invalid = lims("GET", "/api/certificates/" + id + "/verify?sha256=" + crypto::to_hex(crypto::sha256(changed)));
  ASSERT_EQ(invalid.status, 200u);
  EXPECT_FALSE(invalid.json().at("valid").as_bool());
  EXPECT_TRUE(invalid.json().at("issued_by").is_null());
  auto malformed = lims("GET", "/api/certificates/" + id + "/verify?sha256=xyz");
  EXPECT_EQ(malformed.status, 400u);
  EXPECT_TRUE(names(malformed, "sha256")) << describe(malformed);
  EXPECT_EQ(lims("GET", "/api/certificates/" + crypto::uuid_v4() + "/verify?sha256=" + sha).status, 404u);
  EXPECT_EQ(lims("GET", "/api/certificates/" + id, other.eng).status, 404u);
  EXPECT_EQ(lims("GET", "/api/certificates/" + id + "/pdf", other.eng).status, 404u);
}

TEST(Quality, ResultsFeedTheSeriesThatFollowTheirMetric) {
  Lab l = lab();
  const std::string smp = sample(l, "Fed wafer");
  auto bad = analysis("POST", "/api/v1/spc/series", l.eng,
                      js(json::object{{"name", "Bad source"}, {"metric", "thickness"}, {"chart_type", "I-MR"},
                                      {"ucl", 103}, {"lcl", 97},
                                      {"source", json::object{{"metric", "thickness"}, {"instrument_id", smp}}}}));
  EXPECT_EQ(bad.status, 422u);
  EXPECT_TRUE(names(bad, "source.instrument_id")) << describe(bad);
  auto s = analysis("POST", "/api/v1/spc/series", l.eng,
                    js(json::object{{"name", "Oxide thickness"}, {"metric", "thickness"}, {"chart_type", "I-MR"},
                                    {"ucl", 103}, {"lcl", 97}, {"center_line", 100}, {"instrument_id", l.tool},
                                    {"source", json::object{{"metric", "thickness"}, {"instrument_id", l.tool}}}}));
  ASSERT_EQ(s.status, 201u) << describe(s);
  const std::string series = str(s.json(), "id");
  EXPECT_EQ(str(s.json().at("source"), "metric"), "thickness");

  const std::string run = str(running_run(l, smp), "id");
  json::array batch;
  for (double v : {100.0, 100.5, 99.5, 104.0, 100.0}) batch.push_back(json::object{{"metric", "thickness"}, {"value", v}});
  batch.push_back(json::object{{"metric", "stress"}, {"value", 7}});
  auto r = analysis("POST", "/api/v1/runs/" + run + "/results", l.tech, js(json::object{{"results", batch}}));
  ASSERT_EQ(r.status, 201u) << describe(r);
  ASSERT_TRUE(r.json().as_object().contains("spc_series_ids")) << describe(r);
  EXPECT_EQ(r.json().at("spc_series_ids").at(0).as_string(), series);
  EXPECT_EQ(db_text("SELECT count(*) FROM spc_datapoints WHERE organization_id = $1 AND series_id = $2 AND run_id = $3",
                  db::Params(l.org.id, series, run)),
            "5");
  // 104 is beyond the UCL: rule 1 opened an alert.
  EXPECT_EQ(db_text("SELECT count(*) FROM spc_alerts WHERE organization_id = $1 AND series_id = $2 AND rule = 1",
                  db::Params(l.org.id, series)),
            "1");
  // A calibration run feeds nothing.
  auto cal = analysis("POST", "/api/v1/runs", l.eng,
                      js(json::object{{"instrument_id", l.tool}, {"sample_id", smp}, {"kind", "calibration"}}));
  const std::string cal_run = str(cal.json(), "id");
  ASSERT_EQ(analysis("PATCH", "/api/v1/runs/" + cal_run + "/status", l.eng, js(json::object{{"status", "RUNNING"}})).status,
            200u);
  ASSERT_EQ(record(l.tech, cal_run, {{"metric", "thickness"}, {"value", 100}}).status, 201u);
  EXPECT_EQ(db_text("SELECT count(*) FROM spc_datapoints WHERE organization_id = $1 AND series_id = $2",
                  db::Params(l.org.id, series)),
            "5");

  // PATCH: spec limits (validated), hold_on_alert, and a new baseline from the latest points.
  auto inverted = analysis("PATCH", "/api/v1/spc/series/" + series, l.eng, js(json::object{{"lsl", 110}, {"usl", 90}}));
  EXPECT_EQ(inverted.status, 422u);
  auto changed = analysis("PATCH", "/api/v1/spc/series/" + series, l.eng,
                          js(json::object{{"lsl", 95}, {"usl", 105}, {"hold_on_alert", true}}));
  ASSERT_EQ(changed.status, 200u) << describe(changed);
  EXPECT_TRUE(changed.json().at("hold_on_alert").as_bool());
  EXPECT_EQ(analysis("PATCH", "/api/v1/spc/series/" + series, l.eng, js(json::object{{"rebaseline_points", 20}})).status,
            409u);
  json::array more;
  for (int i = 0; i < 20; ++i) more.push_back(json::object{{"value", 100 + (i % 5) * 0.2}});
  ASSERT_EQ(analysis("POST", "/api/v1/spc/series/" + series + "/points", l.tech, js(json::object{{"points", more}})).status,
            201u);
  auto rebased = analysis("PATCH", "/api/v1/spc/series/" + series, l.eng, js(json::object{{"rebaseline_points", 20}}));
  ASSERT_EQ(rebased.status, 200u) << describe(rebased);
  EXPECT_NEAR(rebased.json().at("center_line").to_number<double>(), 100.4, 1e-9);
  EXPECT_EQ(db_text("SELECT count(*) FROM audit_events WHERE organization_id = $1 AND action = 'spc_series.rebaseline'",
                  db::Params(l.org.id)),
            "1");
  Lab other = lab();
  EXPECT_EQ(analysis("PATCH", "/api/v1/spc/series/" + series, other.eng, js(json::object{{"lsl", 1}})).status, 404u);
}
