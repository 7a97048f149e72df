// SPC over HTTP as a lab checks it: series with fixed limits or a baseline (the limits and the
// capability recomputed here from the same values), points one at a time or in batches judged in order
// whatever the split, consecutive violations of one rule as one alert, acknowledging and resolving,
// the hold an open alert puts on its instrument's runs (blocked with the series and the rule named,
// unblocked once resolved), one audit event per batch, roles, another organization's ids, and bad
// input that writes nothing.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "support/api.hpp"
#include "support/harness.hpp"

using namespace spectra;
using namespace spectra::test;
namespace json = boost::json;

namespace {

struct World {
  TestOrg org;
  std::string eng, tech, viewer, pi;
};

World world() {
  World w{make_org(), {}, {}, {}, {}};
  w.eng = login(w.org.user("engineer"));
  w.tech = login(w.org.user("technician"));
  w.viewer = login(w.org.user("viewer"));
  w.pi = login(w.org.user("pi"));
  return w;
}

std::string series(const std::string& token, json::object body) {
  if (!body.contains("metric")) body["metric"] = "thickness_nm";
  if (!body.contains("chart_type")) body["chart_type"] = "I-MR";
  auto r = analysis("POST", "/api/v1/spc/series", token, js(body));
  if (r.status != 201) throw std::runtime_error("creating a series failed: " + describe(r));
  return str(r.json(), "id");
}

// Fixed limits 97 / 100 / 103: σ = 1.
std::string fixed_series(const std::string& token, const std::string& name, json::object extra = {}) {
  json::object body{{"name", name}, {"ucl", 103}, {"lcl", 97}, {"center_line", 100}};
  for (auto& [k, v] : extra) body[k] = v;
  return series(token, body);
}

json::array values_json(const std::vector<double>& values) {
  json::array points;
  for (double v : values) points.emplace_back(json::object{{"value", v}});
  return points;
}

HttpResponse add(const std::string& token, const std::string& id, const std::vector<double>& values) {
  return analysis("POST", "/api/v1/spc/series/" + id + "/points", token, js(json::object{{"points", values_json(values)}}));
}

json::value add_ok(const std::string& token, const std::string& id, const std::vector<double>& values) {
  auto r = add(token, id, values);
  if (r.status != 201) throw std::runtime_error("adding points failed: " + describe(r));
  return r.json();
}

// The rules each point of a series fires, by seq, read from the database.
std::map<std::int64_t, std::vector<int>> rules_by_seq(const std::string& id) {
  std::map<std::int64_t, std::vector<int>> out;
  auto all = json::parse(db_text("SELECT coalesce(jsonb_agg(jsonb_build_array(seq, violations) ORDER BY seq), '[]')"
                                 " FROM spc_datapoints WHERE series_id = $1", db::Params(id)));
  for (const auto& row : all.as_array()) {
    std::vector<int> rules;
    for (const auto& v : row.as_array()[1].as_array()) rules.push_back(static_cast<int>(v.at("rule").to_number<double>()));
    if (!rules.empty()) out[row.as_array()[0].to_number<std::int64_t>()] = rules;
  }
  return out;
}

// The alerts of a series as (rule, first seq, last seq, number of points), oldest first.
std::vector<std::string> alerts_of(const std::string& id) {
  auto all = json::parse(db_text(
      "SELECT coalesce(jsonb_agg(format('%s:%s-%s:%s', a.rule, d.seq, a.last_seq,"
      "  (SELECT count(*) FROM spc_alert_points l WHERE l.organization_id = a.organization_id AND l.alert_id = a.id))"
      " ORDER BY d.seq, a.rule), '[]')"
      " FROM spc_alerts a JOIN spc_datapoints d ON d.organization_id = a.organization_id AND d.id = a.datapoint_id"
      " WHERE a.series_id = $1",
      db::Params(id)));
  std::vector<std::string> out;
  for (const auto& v : all.as_array()) out.emplace_back(v.as_string());
  return out;
}

std::vector<double> random_values(unsigned seed, std::size_t n) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> noise(100, 1);
  std::vector<double> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(noise(gen) + (i > n / 2 ? 1.5 : 0));  // a shift halfway
  return out;
}

// n points above the center line (100, σ 1) that fire rule 2 alone: mostly within 1σ (no rule 6 or 8),
// one in three beyond it (no rule 7), never alternating (no rule 4) nor steadily climbing (no rule 3).
std::vector<double> above(std::size_t n) {
  std::vector<double> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(i % 3 == 2 ? 101.5 : 100.5);
  return out;
}

std::int64_t point_count(const std::string& id) {
  return count("SELECT count(*) FROM spc_datapoints WHERE series_id = $1", db::Params(id));
}

}  // namespace

TEST(Spc, ASeriesWithFixedLimitsJudgesEachPointAndNamesThePointsInvolved) {
  auto w = world();
  const auto id = fixed_series(w.eng, "Fixed");
  // One point: answered as a point, with no violation.
  auto one = analysis("POST", "/api/v1/spc/series/" + id + "/points", w.tech, js(json::object{{"value", 100.5}}));
  ASSERT_EQ(one.status, 201) << describe(one);
  EXPECT_EQ(one.json().at("seq").to_number<std::int64_t>(), 1);
  EXPECT_TRUE(one.json().at("violations").as_array().empty());
  // A point beyond 3σ fires rule 1 naming itself; the row says the same.
  auto out = add(w.tech, id, {99.5, 103.5});
  ASSERT_EQ(out.status, 201) << describe(out);
  const auto items = out.json().at("items").as_array();
  ASSERT_EQ(items.size(), 2u);
  const auto& v = items[1].at("violations").as_array();
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].at("rule").to_number<int>(), 1);
  ASSERT_EQ(v[0].at("point_ids").as_array().size(), 1u);
  EXPECT_EQ(v[0].at("point_ids").as_array()[0].as_string(), str(items[1], "id"));
  EXPECT_EQ(db_text("SELECT violations->0->>'rule' FROM spc_datapoints WHERE id = $1", db::Params(str(items[1], "id"))), "1");
  // Nine on one side: rule 2 on the ninth, naming the nine points oldest first.
  const auto fresh = fixed_series(w.eng, "Nine");
  auto nine = add_ok(w.tech, fresh, std::vector<double>(9, 100.5));
  const auto& last = nine.at("items").as_array()[8];
  ASSERT_EQ(last.at("violations").as_array().size(), 1u);
  EXPECT_EQ(last.at("violations").as_array()[0].at("rule").to_number<int>(), 2);
  std::vector<std::string> expected;
  for (const auto& p : nine.at("items").as_array()) expected.emplace_back(str(p, "id"));
  std::vector<std::string> named;
  for (const auto& p : last.at("violations").as_array()[0].at("point_ids").as_array()) named.emplace_back(p.as_string());
  EXPECT_EQ(named, expected);
  for (std::size_t i = 0; i < 8; ++i) EXPECT_TRUE(nine.at("items").as_array()[i].at("violations").as_array().empty()) << i;
  // The list shows the points newest first.
  auto list = analysis("GET", "/api/v1/spc/series/" + fresh + "/points?limit=3", w.viewer);
  ASSERT_EQ(list.status, 200) << describe(list);
  EXPECT_EQ(list.json().at("items").as_array()[0].at("seq").to_number<int>(), 9);
  EXPECT_EQ(list.json().at("items").as_array()[2].at("seq").to_number<int>(), 7);
}

TEST(Spc, ABatchIsJudgedInOrderWhateverTheSplitWithOneAuditEventPerBatch) {
  auto w = world();
  const auto values = random_values(7, 700);
  const auto whole = series(w.eng, json::object{{"name", "Whole"}, {"baseline_points", 25}});
  const auto split = series(w.eng, json::object{{"name", "Split"}, {"baseline_points", 25}});
  add_ok(w.tech, whole, values);
  // The same values in pieces: across the baseline, single points, and the window carried over.
  const std::vector<std::size_t> cuts = {10, 24, 25, 26, 40, 41, 42, 300, 301, 700};
  std::size_t from = 0;
  for (auto to : cuts) {
    add_ok(w.tech, split, std::vector<double>(values.begin() + static_cast<std::ptrdiff_t>(from),
                                              values.begin() + static_cast<std::ptrdiff_t>(to)));
    from = to;
  }
  const auto a = rules_by_seq(whole), b = rules_by_seq(split);
  EXPECT_FALSE(a.empty()) << "the shifted values should violate some rule";
  EXPECT_EQ(a, b);
  EXPECT_EQ(alerts_of(whole), alerts_of(split));
  // The baseline points are never judged; the limits are the baseline's (center = its mean).
  EXPECT_TRUE(a.empty() || a.begin()->first > 25);
  double mean = 0;
  for (int i = 0; i < 25; ++i) mean += values[i] / 25;
  auto got = analysis("GET", "/api/v1/spc/series/" + split, w.viewer);
  ASSERT_EQ(got.status, 200) << describe(got);
  EXPECT_NEAR(got.json().at("center_line").to_number<double>(), mean, 1e-9);
  EXPECT_EQ(got.json().at("point_count").to_number<int>(), 700);
  // One audit event per batch, not per point.
  EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE action = 'spc_points.add' AND entity_id = $1", db::Params(whole)), 1);
  EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE action = 'spc_points.add' AND entity_id = $1", db::Params(split)),
            static_cast<std::int64_t>(cuts.size()));
}

TEST(Spc, ConsecutiveViolationsOfOneRuleAreOneAlertAcrossBatches) {
  auto w = world();
  const auto id = fixed_series(w.eng, "Run");
  const auto run = above(13);
  add_ok(w.tech, id, std::vector<double>(run.begin(), run.begin() + 10));  // rule 2 fires on 9 and 10
  add_ok(w.tech, id, std::vector<double>(run.begin() + 10, run.begin() + 12));  // and on 11, 12: the same alert
  auto alerts = analysis("GET", "/api/v1/spc/alerts?series_id=" + id, w.viewer);
  ASSERT_EQ(alerts.status, 200) << describe(alerts);
  ASSERT_EQ(alerts.json().at("items").as_array().size(), 1u) << describe(alerts);
  const auto listed = alerts.json();
  const auto& alert = listed.at("items").as_array()[0];
  EXPECT_EQ(alert.at("rule").to_number<int>(), 2);
  EXPECT_EQ(alert.at("status").as_string(), "OPEN");
  EXPECT_EQ(alert.at("point_ids").as_array().size(), 12u);  // the first window of nine and the three after
  EXPECT_EQ(alert.at("last_seq").to_number<int>(), 12);
  // A point on the other side ends the run; the next run of nine opens a second alert.
  add_ok(w.tech, id, {99.5});
  add_ok(w.tech, id, above(9));
  EXPECT_EQ(alerts_of(id), (std::vector<std::string>{"2:9-12:12", "2:22-22:9"}));
  // Resolved, the alert no longer extends: the next violation opens a new one.
  const std::string second = db_text("SELECT id FROM spc_alerts WHERE series_id = $1 AND last_seq = 22", db::Params(id));
  auto resolved = analysis("PATCH", "/api/v1/spc/alerts/" + second, w.eng,
                           js(json::object{{"status", "RESOLVED"}, {"note", "recipe drift corrected"}}));
  ASSERT_EQ(resolved.status, 200) << describe(resolved);
  add_ok(w.tech, id, {100.5});
  EXPECT_EQ(alerts_of(id), (std::vector<std::string>{"2:9-12:12", "2:22-22:9", "2:23-23:9"}));
  EXPECT_EQ(rules_by_seq(id).size(), 6u);  // 9, 10, 11, 12, 22, 23: rule 2 alone
  // Filters: status and series.
  auto open = analysis("GET", "/api/v1/spc/alerts?status=OPEN&series_id=" + id, w.viewer);
  ASSERT_EQ(open.status, 200);
  EXPECT_EQ(open.json().at("items").as_array().size(), 2u);
  auto done = analysis("GET", "/api/v1/spc/alerts?status=RESOLVED&series_id=" + id, w.viewer);
  ASSERT_EQ(done.json().at("items").as_array().size(), 1u);
  EXPECT_EQ(str(done.json().at("items").as_array()[0], "note"), "recipe drift corrected");
}

TEST(Spc, AcknowledgingAndResolvingAlerts) {
  auto w = world();
  const auto id = fixed_series(w.eng, "Ack");
  add_ok(w.tech, id, {110});
  const std::string alert = db_text("SELECT id FROM spc_alerts WHERE series_id = $1", db::Params(id));
  const auto path = "/api/v1/spc/alerts/" + alert;
  auto one = analysis("GET", path, w.viewer);
  ASSERT_EQ(one.status, 200) << describe(one);
  EXPECT_EQ(str(one.json(), "series_name"), "Ack");
  EXPECT_EQ(one.json().at("point_ids").as_array().size(), 1u);
  EXPECT_EQ(str(one.json(), "status"), "OPEN");
  EXPECT_EQ(analysis("PATCH", path, w.tech, js(json::object{{"status", "ACKNOWLEDGED"}})).status, 403);
  EXPECT_EQ(analysis("PATCH", path, w.viewer, js(json::object{{"status", "ACKNOWLEDGED"}})).status, 403);
  auto unknown = analysis("PATCH", path, w.eng, js(json::object{{"status", "CLOSED"}}));
  EXPECT_EQ(unknown.status, 422);
  EXPECT_TRUE(names(unknown, "status")) << describe(unknown);
  auto ack = analysis("PATCH", path, w.eng, js(json::object{{"status", "ACKNOWLEDGED"}, {"note", "looking"}}));
  ASSERT_EQ(ack.status, 200) << describe(ack);
  EXPECT_EQ(str(ack.json(), "acknowledged_by"), w.org.user("engineer").id);
  EXPECT_EQ(analysis("PATCH", path, w.eng, js(json::object{{"status", "ACKNOWLEDGED"}})).status, 409);
  auto no_note = analysis("PATCH", path, w.pi, js(json::object{{"status", "RESOLVED"}}));
  EXPECT_EQ(no_note.status, 422);
  EXPECT_TRUE(names(no_note, "note"));
  EXPECT_EQ(db_text("SELECT status FROM spc_alerts WHERE id = $1", db::Params(alert)), "ACKNOWLEDGED");
  auto resolved = analysis("PATCH", path, w.pi, js(json::object{{"status", "RESOLVED"}, {"note", "tool recalibrated"}}));
  ASSERT_EQ(resolved.status, 200) << describe(resolved);
  EXPECT_EQ(str(resolved.json(), "resolved_by"), w.org.user("pi").id);
  EXPECT_EQ(analysis("PATCH", path, w.pi, js(json::object{{"status", "RESOLVED"}, {"note", "again"}})).status, 409);
  EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE entity_id = $1 AND action IN"
                  " ('spc_alert.acknowledge', 'spc_alert.resolve')", db::Params(alert)), 2);
}

TEST(Spc, BaselineLimitsAndCapabilityMatchTheFormulas) {
  auto w = world();
  // X̄-R, subgroups of 5, a baseline of 4 subgroups (20 points), spec 95..105.
  const std::vector<double> base = {100.2, 99.1, 100.9, 100.4, 99.6,  101.0, 100.1, 99.4, 100.6, 99.9,
                                    99.7,  100.8, 100.3, 99.2, 100.0, 100.5, 99.8, 100.7, 99.5, 100.1};
  const auto id = series(w.eng, json::object{{"name", "XbarR"}, {"chart_type", "XBAR-R"}, {"subgroup_size", 5},
                                             {"baseline_points", 20}, {"lsl", 95}, {"usl", 105}, {"target", 100}});
  auto first = add_ok(w.tech, id, std::vector<double>(base.begin(), base.begin() + 12));
  EXPECT_EQ(first.at("items").as_array()[11].at("subgroup").to_number<int>(), 3);
  EXPECT_FALSE(first.as_object().contains("limits_computed"));
  auto rest = add_ok(w.tech, id, std::vector<double>(base.begin() + 12, base.end()));
  ASSERT_TRUE(rest.as_object().contains("limits_computed")) << json::serialize(rest);
  // x̿ and R̄ of the four subgroups; A2(5) = 0.577, D4(5) = 2.114, d2(5) = 2.326 (Montgomery, App. VI).
  double grand = 0, r_bar = 0;
  for (int g = 0; g < 4; ++g) {
    auto sub = std::vector<double>(base.begin() + g * 5, base.begin() + g * 5 + 5);
    double s = 0;
    for (double v : sub) s += v;
    grand += s / 5 / 4;
    r_bar += (*std::max_element(sub.begin(), sub.end()) - *std::min_element(sub.begin(), sub.end())) / 4;
  }
  auto got = analysis("GET", "/api/v1/spc/series/" + id, w.viewer);
  ASSERT_EQ(got.status, 200) << describe(got);
  const auto s = got.json();
  EXPECT_NEAR(s.at("center_line").to_number<double>(), grand, 1e-9);
  EXPECT_NEAR(s.at("ucl").to_number<double>(), grand + 0.577 * r_bar, 1e-9);
  EXPECT_NEAR(s.at("lcl").to_number<double>(), grand - 0.577 * r_bar, 1e-9);
  EXPECT_NEAR(s.at("range_ucl").to_number<double>(), 2.114 * r_bar, 1e-9);
  EXPECT_EQ(s.at("limits").at("source").as_string(), "baseline");
  // Capability over every value: σ within = R̄/d2, σ overall = the sample standard deviation.
  double mean = 0, ss = 0;
  for (double v : base) mean += v / 20;
  for (double v : base) ss += (v - mean) * (v - mean);
  const double within = r_bar / 2.326, overall = std::sqrt(ss / 19);
  const auto& c = s.at("capability");
  EXPECT_EQ(c.at("n").to_number<int>(), 20);
  EXPECT_NEAR(c.at("mean").to_number<double>(), mean, 1e-9);
  EXPECT_NEAR(c.at("sigma_within").to_number<double>(), within, 1e-9);
  EXPECT_NEAR(c.at("sigma_overall").to_number<double>(), overall, 1e-9);
  EXPECT_NEAR(c.at("cp").to_number<double>(), 10 / (6 * within), 1e-9);
  EXPECT_NEAR(c.at("cpk").to_number<double>(), std::min(105 - mean, mean - 95) / (3 * within), 1e-9);
  EXPECT_NEAR(c.at("pp").to_number<double>(), 10 / (6 * overall), 1e-9);
  EXPECT_NEAR(c.at("ppk").to_number<double>(), std::min(105 - mean, mean - 95) / (3 * overall), 1e-9);
  // Without spec limits the indices are null.
  const auto bare = fixed_series(w.eng, "No spec");
  add_ok(w.tech, bare, {100, 101, 99});
  auto b = analysis("GET", "/api/v1/spc/series/" + bare, w.viewer);
  EXPECT_TRUE(b.json().at("capability").at("cp").is_null());
  EXPECT_TRUE(b.json().at("capability").at("ppk").is_null());
  EXPECT_EQ(b.json().at("capability").at("n").to_number<int>(), 3);
}

TEST(Spc, AnOpenAlertOnAHoldSeriesBlocksItsInstrumentsRunsUntilResolved) {
  auto w = world();
  auto inst = analysis("POST", "/api/v1/instruments", w.eng,
                       js(json::object{{"name", "Probe"}, {"vendor", "V"}, {"model", "M"}, {"serial_number", "HOLD-1"}}));
  ASSERT_EQ(inst.status, 201);
  const std::string tool = str(inst.json(), "id");
  const std::string expires = db_text("SELECT to_char((now() + interval '300 days') AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')");
  const std::string calibrated = db_text("SELECT to_char((now() - interval '1 day') AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')");
  ASSERT_EQ(analysis("POST", "/api/v1/calibrations", w.eng,
                     js(json::object{{"instrument_id", tool}, {"certificate_number", "H-1"}, {"calibrated_at", calibrated},
                                     {"expires_at", expires}})).status, 201);
  auto smp = lims("POST", "/api/samples", w.eng, js(json::object{{"name", "Held"}, {"sample_type", "wafer"}}));
  ASSERT_EQ(smp.status, 201);
  const json::object run_body{{"instrument_id", tool}, {"sample_id", str(smp.json(), "id")}};
  auto queued = analysis("POST", "/api/v1/runs", w.eng, js(run_body));
  ASSERT_EQ(queued.status, 201);
  EXPECT_EQ(str(queued.json(), "status"), "QUEUED");
  const std::string run = str(queued.json(), "id");

  const auto held = fixed_series(w.eng, "Sheet resistance", json::object{{"instrument_id", tool}, {"hold_on_alert", true}});
  const auto watched = fixed_series(w.eng, "Watched only", json::object{{"instrument_id", tool}});
  add_ok(w.tech, watched, {120});  // an alert without hold_on_alert holds nothing
  EXPECT_EQ(db_text("SELECT status FROM runs WHERE id = $1", db::Params(run)), "QUEUED");

  auto out = add_ok(w.tech, held, {100, 96.5});  // rule 1 (below 3σ)
  ASSERT_EQ(out.at("blocked_run_ids").as_array().size(), 1u) << json::serialize(out);
  EXPECT_EQ(out.at("blocked_run_ids").as_array()[0].as_string(), run);
  const std::string reason = db_text("SELECT blocked_reason FROM runs WHERE id = $1", db::Params(run));
  EXPECT_EQ(db_text("SELECT status FROM runs WHERE id = $1", db::Params(run)), "BLOCKED");
  EXPECT_NE(reason.find("Sheet resistance"), std::string::npos) << reason;
  EXPECT_NE(reason.find("rule 1"), std::string::npos) << reason;
  EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE action = 'run.block' AND entity_id = $1", db::Params(run)), 1);
  // A new run is created BLOCKED with the same reason; unblock refuses while the alert is open.
  auto blocked = analysis("POST", "/api/v1/runs", w.eng, js(run_body));
  ASSERT_EQ(blocked.status, 201);
  EXPECT_EQ(str(blocked.json(), "status"), "BLOCKED");
  EXPECT_EQ(str(blocked.json(), "blocked_reason"), reason);
  auto refused = analysis("POST", "/api/v1/runs/" + run + "/unblock", w.eng);
  EXPECT_EQ(refused.status, 409);
  EXPECT_NE(refused.body.find("Sheet resistance"), std::string::npos) << describe(refused);
  // Acknowledged is not resolved: still held.
  const std::string alert = db_text("SELECT id FROM spc_alerts WHERE series_id = $1", db::Params(held));
  ASSERT_EQ(analysis("PATCH", "/api/v1/spc/alerts/" + alert, w.eng, js(json::object{{"status", "ACKNOWLEDGED"}})).status, 200);
  EXPECT_EQ(analysis("POST", "/api/v1/runs/" + run + "/unblock", w.eng).status, 409);
  ASSERT_EQ(analysis("PATCH", "/api/v1/spc/alerts/" + alert, w.eng,
                     js(json::object{{"status", "RESOLVED"}, {"note", "probe cleaned"}})).status, 200);
  auto unblocked = analysis("POST", "/api/v1/runs/" + run + "/unblock", w.eng);
  ASSERT_EQ(unblocked.status, 200) << describe(unblocked);
  EXPECT_EQ(str(unblocked.json(), "status"), "QUEUED");
  auto again = analysis("POST", "/api/v1/runs", w.eng, js(run_body));
  EXPECT_EQ(str(again.json(), "status"), "QUEUED");
}

TEST(Spc, TheLargestBatchIsAcceptedAndOneMoreIsRefused) {
  auto w = world();
  const auto id = series(w.eng, json::object{{"name", "Big"}});
  auto big = add(w.tech, id, random_values(3, 100000));
  ASSERT_EQ(big.status, 201) << describe(big);
  EXPECT_EQ(big.json().at("count").to_number<int>(), 100000);
  EXPECT_EQ(point_count(id), 100000);
  auto over = add(w.tech, id, std::vector<double>(100001, 100));
  EXPECT_EQ(over.status, 422);
  EXPECT_TRUE(names(over, "points")) << describe(over);
  EXPECT_EQ(point_count(id), 100000);
}

TEST(Spc, BadInputIsRefusedNamingTheFieldAndWritesNothing) {
  auto w = world();
  auto refused = [&](json::object body, const std::string& field) {
    if (!body.contains("metric")) body["metric"] = "m";
    if (!body.contains("chart_type")) body["chart_type"] = "I-MR";
    body["name"] = "Refused";
    auto r = analysis("POST", "/api/v1/spc/series", w.eng, js(body));
    EXPECT_EQ(r.status, 422) << field << ": " << describe(r);
    EXPECT_TRUE(names(r, field)) << field << ": " << describe(r);
  };
  refused({{"chart_type", "XBAR-R"}, {"subgroup_size", 1}}, "subgroup_size");
  refused({{"chart_type", "XBAR-R"}, {"subgroup_size", 11}}, "subgroup_size");
  refused({{"chart_type", "XBAR-R"}}, "subgroup_size");
  refused({{"chart_type", "I-MR"}, {"subgroup_size", 5}}, "subgroup_size");
  refused({{"chart_type", "P"}}, "chart_type");
  refused({{"lsl", 10}, {"usl", 10}}, "usl");
  refused({{"lsl", 10}, {"usl", 5}}, "usl");
  refused({{"ucl", 5}, {"lcl", 5}}, "ucl");
  refused({{"ucl", 5}}, "lcl");
  refused({{"ucl", 10}, {"lcl", 0}, {"center_line", 11}}, "center_line");
  refused({{"ucl", 10}, {"lcl", 0}, {"baseline_points", 30}}, "baseline_points");
  refused({{"baseline_points", 19}}, "baseline_points");
  refused({{"chart_type", "XBAR-R"}, {"subgroup_size", 3}, {"baseline_points", 31}}, "baseline_points");
  refused({{"hold_on_alert", true}}, "hold_on_alert");
  refused({{"instrument_id", "00000000-0000-4000-8000-000000000000"}}, "instrument_id");
  refused({{"surprise", 1}}, "surprise");
  EXPECT_EQ(count("SELECT count(*) FROM spc_series WHERE organization_id = $1", db::Params(w.org.id)), 0);

  const auto id = fixed_series(w.eng, "Points");
  auto bad_point = [&](const std::string& body, const std::string& field) {
    auto r = analysis("POST", "/api/v1/spc/series/" + id + "/points", w.tech, body);
    EXPECT_TRUE(r.status == 400 || r.status == 422) << body << ": " << describe(r);
    EXPECT_TRUE(names(r, field)) << body << ": " << describe(r);
  };
  bad_point(R"({"value": NaN})", "value");
  bad_point(R"({"value": Infinity})", "value");
  bad_point(R"({"points": [{"value": 1}, {"value": -Infinity}]})", "points[1].value");
  bad_point(R"({"value": 1e999})", "value");
  bad_point(R"({"value": "100"})", "value");
  bad_point(R"({"points": []})", "points");
  bad_point(R"({"value": 1, "points": [{"value": 1}]})", "points");
  bad_point(R"({"value": 1, "measured_at": "yesterday"})", "measured_at");
  bad_point(R"({"points": [{"value": 1, "run_id": "not-a-uuid"}]})", "points[0].run_id");
  // A run of another organization.
  auto other = world();
  auto o_inst = analysis("POST", "/api/v1/instruments", other.eng,
                         js(json::object{{"name", "O"}, {"vendor", "V"}, {"model", "M"}, {"serial_number", "O-1"}}));
  auto o_smp = lims("POST", "/api/samples", other.eng, js(json::object{{"name", "O"}, {"sample_type", "wafer"}}));
  auto o_run = analysis("POST", "/api/v1/runs", other.eng,
                        js(json::object{{"instrument_id", str(o_inst.json(), "id")}, {"sample_id", str(o_smp.json(), "id")}}));
  ASSERT_EQ(o_run.status, 201) << describe(o_run);
  bad_point(js(json::object{{"points", json::array{json::object{{"value", 100}},
                                                   json::object{{"value", 100}, {"run_id", str(o_run.json(), "id")}}}}}),
            "points[1].run_id");
  EXPECT_EQ(point_count(id), 0);
  EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE action = 'spc_points.add' AND entity_id = $1", db::Params(id)), 0);
  // A run of the organization is accepted and recorded.
  auto smp = lims("POST", "/api/samples", w.eng, js(json::object{{"name", "S"}, {"sample_type", "wafer"}}));
  auto inst = analysis("POST", "/api/v1/instruments", w.eng,
                       js(json::object{{"name", "I"}, {"vendor", "V"}, {"model", "M"}, {"serial_number", "I-1"}}));
  auto run = analysis("POST", "/api/v1/runs", w.eng,
                      js(json::object{{"instrument_id", str(inst.json(), "id")}, {"sample_id", str(smp.json(), "id")}}));
  auto ok = analysis("POST", "/api/v1/spc/series/" + id + "/points", w.tech,
                     js(json::object{{"value", 100}, {"run_id", str(run.json(), "id")}, {"measured_at", "2026-11-01T10:00:00Z"}}));
  ASSERT_EQ(ok.status, 201) << describe(ok);
  EXPECT_EQ(db_text("SELECT run_id::text FROM spc_datapoints WHERE series_id = $1", db::Params(id)), str(run.json(), "id"));
  EXPECT_EQ(db_text("SELECT measured_at = '2026-11-01T10:00:00Z' FROM spc_datapoints WHERE series_id = $1", db::Params(id)), "t");
}

TEST(Spc, RolesAndAnotherOrganization) {
  auto w = world();
  auto other = world();
  const auto id = fixed_series(w.eng, "Mine");
  add_ok(w.tech, id, {110});
  const std::string alert = db_text("SELECT id FROM spc_alerts WHERE series_id = $1", db::Params(id));
  // Who may do what.
  const json::object body{{"name", "Role"}, {"metric", "m"}, {"chart_type", "I-MR"}};
  EXPECT_EQ(analysis("POST", "/api/v1/spc/series", w.tech, js(body)).status, 403);
  EXPECT_EQ(analysis("POST", "/api/v1/spc/series", w.viewer, js(body)).status, 403);
  EXPECT_EQ(analysis("POST", "/api/v1/spc/series", w.pi, js(body)).status, 201);
  EXPECT_EQ(add(w.viewer, id, {100}).status, 403);
  EXPECT_EQ(analysis("GET", "/api/v1/spc/series", w.viewer).status, 200);
  EXPECT_EQ(analysis("GET", "/api/v1/spc/series/" + id, w.viewer).status, 200);
  EXPECT_EQ(analysis("GET", "/api/v1/spc/alerts", w.viewer).status, 200);
  const auto reader = api_key(w.org, {"spc:read"}, "engineer");
  const auto writer = api_key(w.org, {"spc:write"}, "technician");
  EXPECT_EQ(analysis("GET", "/api/v1/spc/series/" + id, reader).status, 200);
  EXPECT_EQ(add(reader, id, {100}).status, 403);
  EXPECT_EQ(add(writer, id, {100}).status, 201);
  EXPECT_EQ(analysis("POST", "/api/v1/spc/series", writer, js(body)).status, 403);  // a technician's key
  // Another organization sees none of it, and its lists are empty of it.
  EXPECT_EQ(analysis("GET", "/api/v1/spc/series/" + id, other.eng).status, 404);
  EXPECT_EQ(analysis("GET", "/api/v1/spc/series/" + id + "/points", other.eng).status, 404);
  EXPECT_EQ(add(other.tech, id, {100}).status, 404);
  EXPECT_EQ(analysis("GET", "/api/v1/spc/alerts/" + alert, other.eng).status, 404);
  EXPECT_EQ(analysis("PATCH", "/api/v1/spc/alerts/" + alert, other.eng,
                     js(json::object{{"status", "RESOLVED"}, {"note", "not mine"}})).status, 404);
  auto theirs = analysis("GET", "/api/v1/spc/alerts?series_id=" + id, other.eng);
  ASSERT_EQ(theirs.status, 200);
  EXPECT_TRUE(theirs.json().at("items").as_array().empty());
  EXPECT_EQ(db_text("SELECT status FROM spc_alerts WHERE id = $1", db::Params(alert)), "OPEN");
  EXPECT_EQ(point_count(id), 2);
}

TEST(Spc, ABrokenSensorIsOneAlertPerRuleNotOnePerPoint) {
  auto w = world();
  const auto id = fixed_series(w.eng, "Broken sensor");
  std::vector<double> stuck;
  for (int i = 0; i < 5000; ++i) stuck.push_back(110 + (i % 3) * 0.1);  // far above, rising 3 at a time
  auto out = add_ok(w.tech, id, stuck);
  EXPECT_EQ(out.at("violating_points").to_number<int>(), 5000);
  // Rules 1 (beyond 3σ), 2 (one side), 5, 6 (beyond 2σ and 1σ on one side) and 8 (none within 1σ):
  // each a single alert that grew with every point; rules 3, 4 and 7 never fire.
  const auto alerts = alerts_of(id);
  EXPECT_EQ(alerts, (std::vector<std::string>{"1:1-5000:5000", "5:3-5000:5000", "6:5-5000:5000", "8:8-5000:5000",
                                              "2:9-5000:5000"}));
}
