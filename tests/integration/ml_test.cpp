// The ML model registry as its users check it (the Analysis API): feature sets versioned by name
// (the next version unless one is given, a name and version once) with their features checked (each
// named once, a known dtype, at least one); models over a feature set of the organization, with their
// metrics and an artifact attachment of the organization; lists filtered by name, stage and feature
// set; promotion by a pi (or a key with ml:write) that archives the version in production in the same
// request and audits both, changes nothing for the current stage, and leaves exactly one production
// version however many promotions race; roles, another organization's ids, and bad input that writes
// nothing.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "support/api.hpp"
#include "support/harness.hpp"

using namespace spectra;
using namespace spectra::test;
namespace json = boost::json;

namespace {

json::array two_features() {
  return json::array{json::object{{"name", "thickness_nm"}, {"dtype", "float64"}, {"description", "Film thickness"}},
                     json::object{{"name", "site"}, {"dtype", "int32"}}};
}

HttpResponse create_feature_set(const std::string& token, const json::object& body) {
  return analysis("POST", "/api/v1/ml/feature-sets", token, js(body));
}

json::value feature_set(const std::string& token, const std::string& name, json::object extra = {}) {
  json::object body{{"name", name}, {"features", two_features()}};
  for (auto& [k, v] : extra) body[k] = v;
  auto r = create_feature_set(token, body);
  if (r.status != 201) throw std::runtime_error("creating a feature set failed: " + describe(r));
  return r.json();
}

HttpResponse create_model(const std::string& token, const json::object& body) {
  return analysis("POST", "/api/v1/ml/models", token, js(body));
}

json::object model_body(const std::string& name, const std::string& version, const std::string& fs) {
  return json::object{{"name", name}, {"version", version}, {"feature_set_id", fs}, {"algorithm", "gradient_boosting"}};
}

json::value model(const std::string& token, const std::string& name, const std::string& version, const std::string& fs,
                  json::object extra = {}) {
  json::object body = model_body(name, version, fs);
  for (auto& [k, v] : extra) body[k] = v;
  auto r = create_model(token, body);
  if (r.status != 201) throw std::runtime_error("creating a model failed: " + describe(r));
  return r.json();
}

HttpResponse promote(const std::string& token, const std::string& id, const std::string& stage) {
  return analysis("POST", "/api/v1/ml/models/" + id + "/promote", token, js(json::object{{"stage", stage}}));
}

std::string stage_of(const std::string& id) { return db_text("SELECT stage FROM ml_models WHERE id = $1", db::Params(id)); }

std::int64_t promotions_of(const std::string& id) {
  return count("SELECT count(*) FROM audit_events WHERE action = 'ml_model.promote' AND entity_id = $1", db::Params(id));
}

std::int64_t models_named(const std::string& org, const std::string& name) {
  return std::stoll(db_text("SELECT count(*) FROM ml_models WHERE organization_id = $1 AND name = $2", db::Params(org, name)));
}

std::int64_t feature_sets_of(const std::string& org) {
  return count("SELECT count(*) FROM feature_sets WHERE organization_id = $1", db::Params(org));
}

// One whole list (a single page of up to 500), as the API answers it.
std::vector<json::value> listed(const std::string& path, const std::string& token) {
  const std::string sep = path.find('?') == std::string::npos ? "?" : "&";
  auto r = analysis("GET", path + sep + "limit=500", token);
  if (r.status != 200) throw std::runtime_error("GET " + path + " failed: " + describe(r));
  const auto b = r.json();
  if (!b.at("next_cursor").is_null()) throw std::runtime_error("GET " + path + " has more than one page");
  return std::vector<json::value>(b.at("items").as_array().begin(), b.at("items").as_array().end());
}

// An attachment of the organization (on a new sample), to be a model's artifact.
std::string artifact(const std::string& token) {
  auto s = lims("POST", "/api/samples", token, js(json::object{{"name", "Training wafer"}, {"sample_type", "wafer"}}));
  if (s.status != 201) throw std::runtime_error("creating a sample failed: " + describe(s));
  auto r = analysis("POST", "/api/v1/attachments?sample_id=" + str(s.json(), "id") + "&filename=model.json", token,
                    R"({"trees":[{"split":"thickness_nm","at":101.5}]})", {{"Content-Type", "application/json"}});
  if (r.status != 201) throw std::runtime_error("uploading an artifact failed: " + describe(r));
  return str(r.json(), "id");
}

struct World {
  TestOrg org;
  std::string admin, pi, eng, tech, viewer;
  std::string fs;        // a feature set
  std::string artifact;  // an attachment
};

World world() {
  World w{make_org(), {}, {}, {}, {}, {}, {}, {}};
  w.admin = login(w.org.admin());
  w.pi = login(w.org.user("pi"));
  w.eng = login(w.org.user("engineer"));
  w.tech = login(w.org.user("technician"));
  w.viewer = login(w.org.user("viewer"));
  w.fs = str(feature_set(w.eng, "wafer-features"), "id");
  w.artifact = artifact(w.eng);
  return w;
}

}  // namespace

TEST(MlRegistry, FeatureSetsAreVersionedByNameAndKeepTheirFeatures) {
  auto w = world();
  auto first = create_feature_set(w.eng, json::object{{"name", "ellipsometry"}, {"features", two_features()},
                                                      {"description", "Inputs of the thickness model"}});
  ASSERT_EQ(first.status, 201u) << describe(first);
  const auto v1 = first.json();
  const std::string v1_id = str(v1, "id");
  EXPECT_EQ(str(v1, "name"), "ellipsometry");
  EXPECT_EQ(v1.at("version").as_int64(), 1);
  EXPECT_EQ(str(v1, "organization_id"), w.org.id);
  EXPECT_EQ(str(v1, "created_by"), w.org.user("engineer").id);
  EXPECT_EQ(str(v1, "description"), "Inputs of the thickness model");
  const auto& features = v1.at("features").as_array();
  ASSERT_EQ(features.size(), 2u);
  EXPECT_EQ(str(features[0], "name"), "thickness_nm");
  EXPECT_EQ(str(features[0], "dtype"), "float64");
  EXPECT_EQ(str(features[0], "description"), "Film thickness");
  EXPECT_EQ(str(features[1], "name"), "site");
  EXPECT_EQ(str(features[1], "dtype"), "int32");
  EXPECT_FALSE(features[1].as_object().contains("description"));  // not given, not invented
  EXPECT_EQ(db_text("SELECT version::text FROM feature_sets WHERE id = $1", db::Params(v1_id)), "1");
  EXPECT_EQ(db_text("SELECT jsonb_array_length(features)::text FROM feature_sets WHERE id = $1", db::Params(v1_id)), "2");
  EXPECT_EQ(db_text("SELECT features->1->>'dtype' FROM feature_sets WHERE id = $1", db::Params(v1_id)), "int32");
  EXPECT_EQ(db_text("SELECT organization_id::text FROM feature_sets WHERE id = $1", db::Params(v1_id)), w.org.id);
  EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE action = 'feature_set.create' AND entity_id = $1", db::Params(v1_id)), 1);

  // The same name again: the next version.
  const auto v2 = feature_set(w.eng, "ellipsometry");
  EXPECT_EQ(v2.at("version").as_int64(), 2);
  EXPECT_NE(str(v2, "id"), v1_id);
  EXPECT_EQ(db_text("SELECT version::text FROM feature_sets WHERE id = $1", db::Params(str(v2, "id"))), "2");
  // A version given is kept; the next one follows the highest.
  const auto v7 = feature_set(w.eng, "ellipsometry", json::object{{"version", 7}});
  EXPECT_EQ(v7.at("version").as_int64(), 7);
  EXPECT_EQ(feature_set(w.eng, "ellipsometry").at("version").as_int64(), 8);
  // Another name starts at 1, and so does the same name in another organization.
  EXPECT_EQ(feature_set(w.eng, "xrd").at("version").as_int64(), 1);
  auto other = world();
  EXPECT_EQ(feature_set(other.eng, "ellipsometry").at("version").as_int64(), 1);

  // Read back as created, by any role.
  auto got = analysis("GET", "/api/v1/ml/feature-sets/" + v1_id, w.viewer);
  ASSERT_EQ(got.status, 200u) << describe(got);
  EXPECT_EQ(got.json(), v1);
}

TEST(MlRegistry, BadFeatureSetsAreRefusedNamingTheFieldAndWriteNothing) {
  auto w = world();
  feature_set(w.eng, "profilometry");
  feature_set(w.eng, "profilometry");
  const auto before = feature_sets_of(w.org.id);

  // A name and version exist once.
  auto taken = create_feature_set(w.eng, json::object{{"name", "profilometry"}, {"version", 2}, {"features", two_features()}});
  EXPECT_EQ(taken.status, 409u) << describe(taken);
  EXPECT_TRUE(names(taken, "version")) << describe(taken);
  EXPECT_EQ(taken.header("content-type"), "application/problem+json");

  struct Case {
    std::string what;
    json::object body;
    std::string field;
  };
  const std::vector<Case> cases = {
      {"a feature named twice",
       json::object{{"name", "dup"},
                    {"features", json::array{json::object{{"name", "site"}, {"dtype", "int32"}},
                                             json::object{{"name", "site"}, {"dtype", "float32"}}}}},
       "features[1].name"},
      {"an unknown dtype",
       json::object{{"name", "bad-dtype"}, {"features", json::array{json::object{{"name", "x"}, {"dtype", "complex128"}}}}},
       "features[0].dtype"},
      {"a feature without a dtype",
       json::object{{"name", "no-dtype"}, {"features", json::array{json::object{{"name", "x"}}}}}, "features[0].dtype"},
      {"no feature", json::object{{"name", "empty"}, {"features", json::array{}}}, "features"},
      {"no features at all", json::object{{"name", "missing"}}, "features"},
      {"features that are not a list", json::object{{"name", "scalar"}, {"features", "thickness"}}, "features"},
      {"version 0", json::object{{"name", "zero"}, {"version", 0}, {"features", two_features()}}, "version"},
      {"no name", json::object{{"features", two_features()}}, "name"},
      {"an unknown field", json::object{{"name", "extra"}, {"features", two_features()}, {"owner", "me"}}, "owner"},
  };
  for (const auto& c : cases) {
    auto r = create_feature_set(w.eng, c.body);
    EXPECT_EQ(r.status, 422u) << c.what << ": " << describe(r);
    EXPECT_TRUE(names(r, c.field)) << c.what << " should name " << c.field << ": " << describe(r);
  }
  EXPECT_EQ(feature_sets_of(w.org.id), before);
  EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE organization_id = $1 AND action = 'feature_set.create'",
                  db::Params(w.org.id)),
            before);
}

TEST(MlRegistry, FeatureSetListsFilterByNameAndStayInTheirOrganization) {
  auto w = world();
  auto other = world();
  const std::string a1 = str(feature_set(w.eng, "spectra-a"), "id");
  const std::string a2 = str(feature_set(w.eng, "spectra-a"), "id");
  const std::string b1 = str(feature_set(w.eng, "spectra-b"), "id");
  const std::string theirs = str(feature_set(other.eng, "spectra-a"), "id");

  const auto named = listed("/api/v1/ml/feature-sets?name=spectra-a", w.viewer);
  EXPECT_EQ(ids_of(named), (std::set<std::string>{a1, a2}));
  for (const auto& f : named) EXPECT_EQ(str(f, "name"), "spectra-a");
  EXPECT_EQ(ids_of(listed("/api/v1/ml/feature-sets", w.eng)), (std::set<std::string>{w.fs, a1, a2, b1}));
  EXPECT_TRUE(listed("/api/v1/ml/feature-sets?name=nothing-by-this-name", w.eng).empty());

  // A page at a time, newest first, with a cursor to the next.
  auto page1 = analysis("GET", "/api/v1/ml/feature-sets?name=spectra-a&limit=1", w.eng);
  ASSERT_EQ(page1.status, 200u) << describe(page1);
  const auto p1 = page1.json();
  ASSERT_EQ(p1.at("items").as_array().size(), 1u);
  EXPECT_EQ(str(p1.at("items").at(0), "id"), a2);
  ASSERT_TRUE(p1.at("next_cursor").is_string()) << page1.body;
  auto page2 = analysis("GET", "/api/v1/ml/feature-sets?name=spectra-a&limit=1&cursor=" + str(p1, "next_cursor"), w.eng);
  ASSERT_EQ(page2.status, 200u) << describe(page2);
  const auto p2 = page2.json();
  ASSERT_EQ(p2.at("items").as_array().size(), 1u);
  EXPECT_EQ(str(p2.at("items").at(0), "id"), a1);
  EXPECT_TRUE(p2.at("next_cursor").is_null());

  // Another organization's feature set is not found, nor listed.
  auto foreign = analysis("GET", "/api/v1/ml/feature-sets/" + theirs, w.eng);
  EXPECT_EQ(foreign.status, 404u) << describe(foreign);
  EXPECT_EQ(foreign.body.find("spectra-a"), std::string::npos);
  EXPECT_EQ(analysis("GET", "/api/v1/ml/feature-sets/" + a1, other.eng).status, 404u);
  EXPECT_EQ(analysis("GET", "/api/v1/ml/feature-sets/00000000-0000-4000-8000-000000000000", w.eng).status, 404u);
  EXPECT_EQ(ids_of(listed("/api/v1/ml/feature-sets?name=spectra-a", other.eng)), (std::set<std::string>{theirs}));
  EXPECT_EQ(analysis("GET", "/api/v1/ml/feature-sets/not-a-uuid", w.eng).status / 100, 4u);
}

TEST(MlRegistry, AModelIsRegisteredOverAFeatureSetWithItsMetricsAndArtifact) {
  auto w = world();
  auto r = create_model(w.eng, json::object{{"name", "thickness-predictor"},
                                            {"version", "1.0.0"},
                                            {"feature_set_id", w.fs},
                                            {"algorithm", "xgboost"},
                                            {"metrics", json::object{{"rmse", 0.12}, {"r2", 0.97}}},
                                            {"artifact_attachment_id", w.artifact}});
  ASSERT_EQ(r.status, 201u) << describe(r);
  const auto m = r.json();
  const std::string id = str(m, "id");
  EXPECT_EQ(str(m, "name"), "thickness-predictor");
  EXPECT_EQ(str(m, "version"), "1.0.0");
  EXPECT_EQ(str(m, "feature_set_id"), w.fs);
  EXPECT_EQ(str(m, "algorithm"), "xgboost");
  EXPECT_DOUBLE_EQ(m.at("metrics").at("rmse").as_double(), 0.12);
  EXPECT_DOUBLE_EQ(m.at("metrics").at("r2").as_double(), 0.97);
  EXPECT_EQ(str(m, "artifact_attachment_id"), w.artifact);
  EXPECT_EQ(str(m, "stage"), "none");  // registered, not promoted
  EXPECT_EQ(str(m, "organization_id"), w.org.id);
  EXPECT_EQ(str(m, "created_by"), w.org.user("engineer").id);
  EXPECT_EQ(stage_of(id), "none");
  EXPECT_EQ(db_text("SELECT metrics->>'rmse' FROM ml_models WHERE id = $1", db::Params(id)), "0.12");
  EXPECT_EQ(db_text("SELECT artifact_attachment_id::text FROM ml_models WHERE id = $1", db::Params(id)), w.artifact);
  EXPECT_EQ(db_text("SELECT feature_set_id::text FROM ml_models WHERE id = $1", db::Params(id)), w.fs);
  EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE action = 'ml_model.create' AND entity_id = $1", db::Params(id)), 1);

  // Metrics and the artifact are optional: {} and null.
  const auto bare = model(w.eng, "thickness-predictor", "1.1.0", w.fs);
  EXPECT_TRUE(bare.at("metrics").is_object());
  EXPECT_TRUE(bare.at("metrics").as_object().empty());
  EXPECT_TRUE(bare.at("artifact_attachment_id").is_null());
  EXPECT_EQ(db_text("SELECT metrics::text FROM ml_models WHERE id = $1", db::Params(str(bare, "id"))), "{}");
  EXPECT_EQ(models_named(w.org.id, "thickness-predictor"), 2);

  auto got = analysis("GET", "/api/v1/ml/models/" + id, w.viewer);
  ASSERT_EQ(got.status, 200u) << describe(got);
  EXPECT_EQ(got.json(), m);
}

TEST(MlRegistry, AModelRefusesAnotherOrganizationsReferencesAndBadInput) {
  auto w = world();
  auto other = world();
  model(w.eng, "classifier", "1", w.fs);

  // Another organization's feature set or artifact: 422 naming it, no row.
  auto foreign_fs = create_model(w.eng, model_body("leaky", "1", other.fs));
  EXPECT_EQ(foreign_fs.status, 422u) << describe(foreign_fs);
  EXPECT_TRUE(names(foreign_fs, "feature_set_id")) << describe(foreign_fs);
  EXPECT_EQ(models_named(w.org.id, "leaky"), 0);
  EXPECT_EQ(models_named(other.org.id, "leaky"), 0);
  auto no_fs = create_model(w.eng, model_body("leaky", "1", "00000000-0000-4000-8000-000000000000"));
  EXPECT_EQ(no_fs.status, 422u) << describe(no_fs);
  EXPECT_TRUE(names(no_fs, "feature_set_id")) << describe(no_fs);
  json::object foreign_artifact_body = model_body("leaky", "1", w.fs);
  foreign_artifact_body["artifact_attachment_id"] = other.artifact;
  auto foreign_artifact = create_model(w.eng, foreign_artifact_body);
  EXPECT_EQ(foreign_artifact.status, 422u) << describe(foreign_artifact);
  EXPECT_TRUE(names(foreign_artifact, "artifact_attachment_id")) << describe(foreign_artifact);
  EXPECT_EQ(models_named(w.org.id, "leaky"), 0);
  // Neither message gives away what the other organization holds.
  EXPECT_EQ(foreign_fs.body.find("wafer-features"), std::string::npos);
  EXPECT_EQ(foreign_artifact.body.find("model.json"), std::string::npos);

  // A name and version exist once.
  auto taken = create_model(w.eng, model_body("classifier", "1", w.fs));
  EXPECT_EQ(taken.status, 409u) << describe(taken);
  EXPECT_TRUE(names(taken, "version")) << describe(taken);
  EXPECT_EQ(models_named(w.org.id, "classifier"), 1);
  // ... per organization: the same name and version elsewhere is fine.
  EXPECT_EQ(str(model(other.eng, "classifier", "1", other.fs), "version"), "1");

  struct Case {
    std::string what;
    json::object body;
    std::string field;
  };
  auto with = [&](const std::string& key, json::value v) {
    json::object b = model_body("broken", "1", w.fs);
    b[key] = std::move(v);
    return b;
  };
  auto without = [&](const std::string& key) {
    json::object b = model_body("broken", "1", w.fs);
    b.erase(key);
    return b;
  };
  const std::vector<Case> cases = {
      {"metrics that are a string", with("metrics", "excellent"), "metrics"},
      {"metrics that are a list", with("metrics", json::array{0.1, 0.2}), "metrics"},
      {"metrics that are a number", with("metrics", 0.12), "metrics"},
      {"a feature set id that is not a UUID", with("feature_set_id", "wafer-features"), "feature_set_id"},
      {"an artifact id that is not a UUID", with("artifact_attachment_id", "model.json"), "artifact_attachment_id"},
      {"no feature set", without("feature_set_id"), "feature_set_id"},
      {"no algorithm", without("algorithm"), "algorithm"},
      {"no version", without("version"), "version"},
      {"a blank name", with("name", "  "), "name"},
      {"a stage on creation", with("stage", "production"), "stage"},
  };
  for (const auto& c : cases) {
    auto r = create_model(w.eng, c.body);
    EXPECT_EQ(r.status, 422u) << c.what << ": " << describe(r);
    EXPECT_TRUE(names(r, c.field)) << c.what << " should name " << c.field << ": " << describe(r);
  }
  EXPECT_EQ(models_named(w.org.id, "broken"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM ml_models WHERE organization_id = $1", db::Params(w.org.id)), 1);
}

TEST(MlRegistry, ModelListsFilterByNameStageAndFeatureSet) {
  auto w = world();
  auto other = world();
  const std::string fs2 = str(feature_set(w.eng, "wafer-features"), "id");  // version 2 of the world's set
  const std::string a1 = str(model(w.eng, "alpha", "1", w.fs), "id");
  const std::string a2 = str(model(w.eng, "alpha", "2", fs2), "id");
  const std::string b1 = str(model(w.eng, "beta", "1", w.fs), "id");
  const std::string theirs = str(model(other.eng, "alpha", "1", other.fs), "id");
  ASSERT_EQ(promote(w.pi, a2, "staging").status, 200u);

  using Ids = std::set<std::string>;
  EXPECT_EQ(ids_of(listed("/api/v1/ml/models", w.viewer)), (Ids{a1, a2, b1}));
  EXPECT_EQ(ids_of(listed("/api/v1/ml/models?name=alpha", w.viewer)), (Ids{a1, a2}));
  EXPECT_EQ(ids_of(listed("/api/v1/ml/models?stage=staging", w.viewer)), (Ids{a2}));
  EXPECT_EQ(ids_of(listed("/api/v1/ml/models?stage=none", w.viewer)), (Ids{a1, b1}));
  EXPECT_TRUE(listed("/api/v1/ml/models?stage=production", w.viewer).empty());
  EXPECT_EQ(ids_of(listed("/api/v1/ml/models?feature_set_id=" + w.fs, w.viewer)), (Ids{a1, b1}));
  EXPECT_EQ(ids_of(listed("/api/v1/ml/models?feature_set_id=" + fs2, w.viewer)), (Ids{a2}));
  EXPECT_EQ(ids_of(listed("/api/v1/ml/models?name=alpha&feature_set_id=" + w.fs, w.viewer)), (Ids{a1}));
  EXPECT_TRUE(listed("/api/v1/ml/models?name=beta&stage=staging", w.viewer).empty());
  // Another organization's feature set filters to nothing here.
  EXPECT_TRUE(listed("/api/v1/ml/models?feature_set_id=" + other.fs, w.viewer).empty());
  for (const auto& m : listed("/api/v1/ml/models?name=alpha", w.viewer)) {
    EXPECT_EQ(str(m, "name"), "alpha");
    EXPECT_EQ(str(m, "organization_id"), w.org.id);
  }
  // Bad filters are 400, not an empty list.
  EXPECT_EQ(analysis("GET", "/api/v1/ml/models?stage=retired", w.viewer).status, 400u);
  EXPECT_EQ(analysis("GET", "/api/v1/ml/models?feature_set_id=wafer-features", w.viewer).status, 400u);

  // Another organization's model: 404, never listed.
  auto foreign = analysis("GET", "/api/v1/ml/models/" + theirs, w.eng);
  EXPECT_EQ(foreign.status, 404u) << describe(foreign);
  EXPECT_EQ(foreign.header("content-type"), "application/problem+json");
  EXPECT_EQ(analysis("GET", "/api/v1/ml/models/" + a1, other.eng).status, 404u);
  EXPECT_EQ(ids_of(listed("/api/v1/ml/models?name=alpha", other.eng)), (Ids{theirs}));
}

TEST(MlRegistry, PromotingToProductionArchivesThePreviousVersionInTheSameRequest) {
  auto w = world();
  const std::string pi_id = w.org.user("pi").id;
  const std::string v1 = str(model(w.eng, "yield-model", "1", w.fs), "id");
  const std::string v2 = str(model(w.eng, "yield-model", "2", w.fs), "id");
  const std::string v3 = str(model(w.eng, "yield-model", "3", w.fs), "id");
  const std::string unrelated = str(model(w.eng, "defect-model", "1", w.fs), "id");
  ASSERT_EQ(promote(w.pi, unrelated, "production").status, 200u);

  // The first production version replaces nothing.
  auto first = promote(w.pi, v1, "production");
  ASSERT_EQ(first.status, 200u) << describe(first);
  EXPECT_EQ(str(first.json(), "id"), v1);
  EXPECT_EQ(str(first.json(), "stage"), "production");
  EXPECT_TRUE(first.json().at("archived_id").is_null()) << first.body;
  EXPECT_EQ(stage_of(v1), "production");
  EXPECT_EQ(promotions_of(v1), 1);
  EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE action = 'ml_model.promote' AND entity_id = $1 AND actor_id = $2"
                  " AND before->>'stage' = 'none' AND after->>'stage' = 'production'",
                  db::Params(v1, pi_id)),
            1);

  // The second archives the first, in the same request: both audited under its request id.
  auto second = promote(w.pi, v2, "production");
  ASSERT_EQ(second.status, 200u) << describe(second);
  EXPECT_EQ(str(second.json(), "id"), v2);
  EXPECT_EQ(str(second.json(), "stage"), "production");
  EXPECT_EQ(str(second.json(), "archived_id"), v1);
  EXPECT_EQ(stage_of(v2), "production");
  EXPECT_EQ(stage_of(v1), "archived");
  EXPECT_EQ(stage_of(unrelated), "production");  // another name's production version is its own
  EXPECT_EQ(promotions_of(v2), 1);
  EXPECT_EQ(promotions_of(v1), 2);
  EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE action = 'ml_model.promote' AND entity_id = $1 AND actor_id = $2"
                  " AND before->>'stage' = 'production' AND after->>'stage' = 'archived'",
                  db::Params(v1, pi_id)),
            1);
  const std::string request = second.header("x-request-id");
  ASSERT_FALSE(request.empty());
  EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE organization_id = $1 AND action = 'ml_model.promote'"
                  " AND request_id = $2 AND entity_id IN ($3, $4)",
                  db::Params(w.org.id, request, v1, v2)),
            2);
  EXPECT_EQ(count("SELECT count(*) FROM ml_models WHERE organization_id = $1 AND name = 'yield-model' AND stage = 'production'"
                  " AND NOT is_deleted",
                  db::Params(w.org.id)),
            1);

  // The current stage again: 200, nothing changes, nothing is audited.
  auto again = promote(w.pi, v2, "production");
  ASSERT_EQ(again.status, 200u) << describe(again);
  EXPECT_EQ(str(again.json(), "stage"), "production");
  EXPECT_TRUE(again.json().at("archived_id").is_null()) << again.body;
  EXPECT_EQ(stage_of(v2), "production");
  EXPECT_EQ(stage_of(v1), "archived");
  EXPECT_EQ(promotions_of(v2), 1);
  EXPECT_EQ(promotions_of(v1), 2);

  // Staging leaves production alone.
  auto staged = promote(w.pi, v3, "staging");
  ASSERT_EQ(staged.status, 200u) << describe(staged);
  EXPECT_EQ(str(staged.json(), "stage"), "staging");
  EXPECT_TRUE(staged.json().at("archived_id").is_null());
  EXPECT_EQ(stage_of(v3), "staging");
  EXPECT_EQ(stage_of(v2), "production");
  EXPECT_EQ(promotions_of(v3), 1);

  // An archived version may come back (a rollback), archiving the one in production.
  auto rollback = promote(w.admin, v1, "production");
  ASSERT_EQ(rollback.status, 200u) << describe(rollback);
  EXPECT_EQ(str(rollback.json(), "archived_id"), v2);
  EXPECT_EQ(stage_of(v1), "production");
  EXPECT_EQ(stage_of(v2), "archived");
  EXPECT_EQ(stage_of(v3), "staging");
  EXPECT_EQ(promotions_of(v1), 3);
  EXPECT_EQ(promotions_of(v2), 2);

  // Out of production by hand: none left there, and the next promotion archives nothing.
  auto down = promote(w.pi, v1, "none");
  ASSERT_EQ(down.status, 200u) << describe(down);
  EXPECT_EQ(stage_of(v1), "none");
  auto up = promote(w.pi, v3, "production");
  ASSERT_EQ(up.status, 200u) << describe(up);
  EXPECT_TRUE(up.json().at("archived_id").is_null()) << up.body;
  EXPECT_EQ(stage_of(v3), "production");
  EXPECT_EQ(stage_of(v1), "none");
  EXPECT_EQ(stage_of(v2), "archived");

  // What GET answers agrees with the database.
  EXPECT_EQ(str(analysis("GET", "/api/v1/ml/models/" + v2, w.viewer).json(), "stage"), "archived");
}

TEST(MlRegistry, PromotionIsForPisAndKeysWithMlWriteAndTakesKnownStagesOnly) {
  auto w = world();
  auto other = world();
  const std::string v1 = str(model(w.eng, "drift-model", "1", w.fs), "id");
  const std::string v2 = str(model(w.eng, "drift-model", "2", w.fs), "id");
  const std::string theirs = str(model(other.eng, "drift-model", "1", other.fs), "id");

  // An unknown stage, or none at all: 422 naming stage, nothing changes.
  auto unknown = promote(w.pi, v1, "retired");
  EXPECT_EQ(unknown.status, 422u) << describe(unknown);
  EXPECT_TRUE(names(unknown, "stage")) << describe(unknown);
  auto upper = promote(w.pi, v1, "PRODUCTION");
  EXPECT_EQ(upper.status, 422u) << describe(upper);
  EXPECT_TRUE(names(upper, "stage")) << describe(upper);
  auto empty = analysis("POST", "/api/v1/ml/models/" + v1 + "/promote", w.pi, "{}");
  EXPECT_EQ(empty.status, 422u) << describe(empty);
  EXPECT_TRUE(names(empty, "stage")) << describe(empty);
  EXPECT_EQ(stage_of(v1), "none");
  EXPECT_EQ(promotions_of(v1), 0);

  // Below pi: 403, nothing changes.
  for (const auto& [role, token] : std::vector<std::pair<std::string, std::string>>{
           {"engineer", w.eng}, {"technician", w.tech}, {"viewer", w.viewer}}) {
    auto r = promote(token, v1, "production");
    EXPECT_EQ(r.status, 403u) << role << ": " << describe(r);
  }
  EXPECT_EQ(stage_of(v1), "none");
  EXPECT_EQ(promotions_of(v1), 0);
  EXPECT_EQ(promote("", v1, "production").status, 401u);

  // A key of role pi needs ml:write; ml:read is not enough, nor is an engineer's key with ml:write.
  auto read_only = promote(api_key(w.org, {"ml:read"}, "pi"), v1, "production");
  EXPECT_EQ(read_only.status, 403u) << describe(read_only);
  auto engineer_key = promote(api_key(w.org, {"ml:write"}, "engineer"), v1, "production");
  EXPECT_EQ(engineer_key.status, 403u) << describe(engineer_key);
  EXPECT_EQ(stage_of(v1), "none");
  const std::string key = api_key(w.org, {"ml:write"}, "pi");
  auto by_key = promote(key, v1, "production");
  ASSERT_EQ(by_key.status, 200u) << describe(by_key);
  EXPECT_EQ(stage_of(v1), "production");
  EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE action = 'ml_model.promote' AND entity_id = $1"
                  " AND actor_type = 'api_key'",
                  db::Params(v1)),
            1);
  auto by_key_again = promote(key, v2, "production");
  ASSERT_EQ(by_key_again.status, 200u) << describe(by_key_again);
  EXPECT_EQ(str(by_key_again.json(), "archived_id"), v1);
  EXPECT_EQ(stage_of(v1), "archived");

  // Another organization's model: 404 (not 403, not a change), whoever asks.
  auto foreign = promote(w.pi, theirs, "production");
  EXPECT_EQ(foreign.status, 404u) << describe(foreign);
  EXPECT_EQ(promote(key, theirs, "archived").status, 404u);
  EXPECT_EQ(promote(w.pi, "00000000-0000-4000-8000-000000000000", "production").status, 404u);
  EXPECT_EQ(stage_of(theirs), "none");
  EXPECT_EQ(promotions_of(theirs), 0);
  EXPECT_EQ(stage_of(v2), "production");  // this organization's same name is untouched by it
}

TEST(MlRegistry, ConcurrentPromotionsLeaveExactlyOneProductionVersion) {
  auto w = world();
  const std::string name = "racing-model";
  std::vector<std::string> versions;
  for (int v = 1; v <= 4; ++v) versions.push_back(str(model(w.eng, name, std::to_string(v) + ".0", w.fs), "id"));
  const std::string promotions = "SELECT count(*) FROM audit_events WHERE organization_id = $1 AND action = 'ml_model.promote'";
  auto in_stage = [&](const std::string& stage) {
    return count("SELECT count(*) FROM ml_models WHERE organization_id = $1 AND name = $2 AND stage = $3 AND NOT is_deleted",
                 db::Params(w.org.id, name, stage));
  };

  for (int round = 0; round < 5; ++round) {
    const auto audited_before = count(promotions, db::Params(w.org.id));
    std::vector<std::function<HttpResponse()>> calls;
    for (const auto& id : versions) calls.push_back([&w, id] { return promote(w.pi, id, "production"); });
    const auto answers = concurrently(calls);

    // Every version was promoted one after another, so each but the last was archived by the next.
    EXPECT_EQ(in_stage("production"), 1) << "round " << round;
    EXPECT_EQ(in_stage("archived"), 3) << "round " << round;
    bool all_ok = true;
    std::int64_t archived = 0, replaced_nothing = 0;
    for (std::size_t i = 0; i < answers.size(); ++i) {
      EXPECT_NE(answers[i].status / 100, 5u) << "round " << round << ": " << describe(answers[i]);
      EXPECT_NE(answers[i].status, 0u) << "round " << round << ": " << answers[i].body;
      // The versions are locked in id order, so the promotions take turns: none should lose a race.
      EXPECT_EQ(answers[i].status, 200u) << "round " << round << ", version " << i + 1 << ": " << describe(answers[i]);
      if (answers[i].status != 200u) {
        all_ok = false;
        continue;
      }
      const auto body = answers[i].json();
      EXPECT_EQ(str(body, "id"), versions[i]);
      EXPECT_EQ(str(body, "stage"), "production");
      if (body.at("archived_id").is_null()) {
        ++replaced_nothing;
      } else {
        ++archived;
        EXPECT_NE(str(body, "archived_id"), versions[i]);
      }
    }
    if (!all_ok) continue;
    // Taking turns, each found the one before it in production: only the first of the first round found
    // none, and in a later round only the first may find its own version there (and change nothing).
    if (round == 0) EXPECT_EQ(replaced_nothing, 1);
    else EXPECT_LE(replaced_nothing, 1) << "round " << round;
    // One audit event per change, and one more per version archived.
    const std::int64_t changed = round == 0 ? 4 : archived;
    EXPECT_EQ(count(promotions, db::Params(w.org.id)) - audited_before, changed + archived) << "round " << round;
  }
  EXPECT_EQ(in_stage("production"), 1);
}

TEST(MlRegistry, AnyRoleReadsEngineersAndUpCreate) {
  auto w = world();
  const std::string m = str(model(w.eng, "role-model", "1", w.fs), "id");
  const std::string reader_key = api_key(w.org, {"ml:read"}, "engineer");

  for (const auto& [who, token] : std::vector<std::pair<std::string, std::string>>{
           {"viewer", w.viewer}, {"technician", w.tech}, {"engineer", w.eng}, {"pi", w.pi}, {"ml:read key", reader_key}}) {
    auto fs_list = analysis("GET", "/api/v1/ml/feature-sets", token);
    EXPECT_EQ(fs_list.status, 200u) << who << ": " << describe(fs_list);
    EXPECT_EQ(analysis("GET", "/api/v1/ml/feature-sets/" + w.fs, token).status, 200u) << who;
    EXPECT_EQ(ids_of(listed("/api/v1/ml/models", token)), (std::set<std::string>{m})) << who;
    EXPECT_EQ(analysis("GET", "/api/v1/ml/models/" + m, token).status, 200u) << who;
  }

  // Creating is for engineers and up (and keys with ml:write).
  const auto feature_sets_before = feature_sets_of(w.org.id);
  for (const auto& [who, token] : std::vector<std::pair<std::string, std::string>>{
           {"viewer", w.viewer}, {"technician", w.tech}, {"ml:read key", reader_key}}) {
    auto fs = create_feature_set(token, json::object{{"name", "refused"}, {"features", two_features()}});
    EXPECT_EQ(fs.status, 403u) << who << ": " << describe(fs);
    auto md = create_model(token, model_body("refused", "1", w.fs));
    EXPECT_EQ(md.status, 403u) << who << ": " << describe(md);
  }
  EXPECT_EQ(feature_sets_of(w.org.id), feature_sets_before);
  EXPECT_EQ(models_named(w.org.id, "refused"), 0);
  EXPECT_EQ(analysis("GET", "/api/v1/ml/models", "").status, 401u);
  EXPECT_EQ(create_model("", model_body("refused", "1", w.fs)).status, 401u);

  const std::string eng_fs = str(feature_set(w.eng, "by-engineer"), "id");
  EXPECT_EQ(str(model(w.eng, "by-engineer", "1", eng_fs), "created_by"), w.org.user("engineer").id);
  EXPECT_EQ(str(model(w.pi, "by-pi", "1", w.fs), "created_by"), w.org.user("pi").id);
  auto by_key = create_model(api_key(w.org, {"ml:write"}, "engineer"), model_body("by-key", "1", w.fs));
  EXPECT_EQ(by_key.status, 201u) << describe(by_key);
  EXPECT_EQ(models_named(w.org.id, "by-engineer") + models_named(w.org.id, "by-pi") + models_named(w.org.id, "by-key"), 3);
}

TEST(MlRegistry, FeatureSetsCreatedAtTheSameMomentTakeTheNextVersionsInTurn) {
  auto w = world();
  const json::object body{{"name", "simultaneous"}, {"features", two_features()}};
  std::vector<std::function<HttpResponse()>> calls(4, [&] { return create_feature_set(w.eng, body); });
  std::set<std::int64_t> versions;
  for (const auto& r : concurrently(calls)) {
    ASSERT_EQ(r.status, 201u) << describe(r);
    versions.insert(r.json().at("version").to_number<std::int64_t>());
  }
  EXPECT_EQ(versions, (std::set<std::int64_t>{1, 2, 3, 4}));
}
