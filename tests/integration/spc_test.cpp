// SPC over HTTP as a lab checks it: series with fixed limits or a baseline (the limits and the
// capability recomputed here from the same values), points one at a time or in batches judged in order
// whatever the split, consecutive violations of one rule as one alert, acknowledging and resolving,
// the hold an open alert puts on its instrument's runs (blocked with the series and the rule named,
// unblocked once resolved), one audit event per batch, roles, another organization's ids, and bad
// input that writes nothing; a broken sensor's largest batch answered in full (streamed, well over
// 100 MB, read here piece by piece) and in summary (?answer=summary), each counted against the rows.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/json/basic_parser_impl.hpp>
#include <chrono>
#include <cmath>
#include <limits>
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

// What a points answer says, tallied as it is parsed (a Boost.JSON SAX handler): a broken sensor's
// full answer is well over 100 MB, more than the test client takes whole or a DOM should hold.
struct Tally {
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);

  std::map<std::string, std::int64_t> top;         // the numbers of the answer's own members
  std::map<std::string, std::int64_t> by_rule;     // violations_by_rule
  std::int64_t alerts = 0, items = 0;               // items: of "items" (full) or "points" (summary)
  std::map<std::int64_t, std::int64_t> rules;      // the items' violations, by rule
  std::int64_t point_ids = 0;                       // named by the items' violations (full)
  std::int64_t window_points = 0;                   // last_seq − first_seq + 1 of each violation (summary)
  std::int64_t last_seq = 0;                        // of the last item
  bool seqs_increase = true;

  // Where the parser is: the containers from the root ("root/items/[]/violations/[]"), the member.
  std::string where;
  std::vector<std::pair<bool, std::size_t>> stack;  // is an array, length of `where` before it
  std::string key;
  std::int64_t first_seq = 0;

  bool in_item() const { return where == "root/items/[]" || where == "root/points/[]"; }
  bool in_violation() const { return where == "root/items/[]/violations/[]" || where == "root/points/[]/violations/[]"; }
  void open(bool array) {
    const std::string name = stack.empty() ? "root" : stack.back().first ? "[]" : key;
    stack.push_back({array, where.size()});
    where += (where.empty() ? "" : "/") + name;
  }
  void close() {
    where.resize(stack.back().second);
    stack.pop_back();
  }
  void number(std::int64_t v) {
    if (where == "root") top[key] = v;
    else if (where == "root/violations_by_rule") by_rule[key] = v;
    else if (in_item() && key == "seq") {
      seqs_increase = seqs_increase && v > last_seq;
      last_seq = v;
    } else if (in_violation() && key == "rule") ++rules[v];
    else if (in_violation() && key == "first_seq") first_seq = v;
    else if (in_violation() && key == "last_seq") window_points += v - first_seq + 1;
  }

  using ec_t = boost::system::error_code;
  bool on_document_begin(ec_t&) { return true; }
  bool on_document_end(ec_t&) { return true; }
  bool on_array_begin(ec_t&) {
    open(true);
    return true;
  }
  bool on_array_end(std::size_t, ec_t&) {
    close();
    return true;
  }
  bool on_object_begin(ec_t&) {
    if (where == "root/alerts") ++alerts;
    if (where == "root/items" || where == "root/points") ++items;
    open(false);
    return true;
  }
  bool on_object_end(std::size_t, ec_t&) {
    close();
    return true;
  }
  bool on_string_part(json::string_view, std::size_t, ec_t&) { return true; }
  bool on_string(json::string_view, std::size_t, ec_t&) {
    if (where == "root/items/[]/violations/[]/point_ids") ++point_ids;
    return true;
  }
  bool on_key_part(json::string_view s, std::size_t n, ec_t&) {
    if (n == s.size()) key.clear();
    key.append(s.data(), s.size());
    return true;
  }
  bool on_key(json::string_view s, std::size_t n, ec_t& ec) { return on_key_part(s, n, ec); }
  bool on_number_part(json::string_view, ec_t&) { return true; }
  bool on_int64(std::int64_t v, json::string_view, ec_t&) {
    number(v);
    return true;
  }
  bool on_uint64(std::uint64_t v, json::string_view, ec_t&) {
    number(static_cast<std::int64_t>(v));
    return true;
  }
  bool on_double(double, json::string_view, ec_t&) { return true; }
  bool on_bool(bool, ec_t&) { return true; }
  bool on_null(ec_t&) { return true; }
  bool on_comment_part(json::string_view, ec_t&) { return true; }
  bool on_comment(json::string_view, ec_t&) { return true; }
};

struct Streamed {
  unsigned status = 0;
  std::string content_type, transfer_encoding;
  std::size_t bytes = 0;
  Tally tally;
};

// POSTs a body to the Analysis API and parses the answer as it arrives, 64 KiB at a time; throws when
// the answer is not one whole JSON document.
Streamed post_streamed(const std::string& target, const std::string& token, std::string body) {
  namespace asio = boost::asio;
  namespace beast = boost::beast;
  namespace bhttp = beast::http;
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.expires_after(std::chrono::minutes(5));
  stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), Harness::get().analysis_port()));
  bhttp::request<bhttp::string_body> req{bhttp::verb::post, target, 11};
  req.set(bhttp::field::host, "127.0.0.1");
  req.set(bhttp::field::authorization, "Bearer " + token);
  req.set(bhttp::field::content_type, "application/json");
  req.body() = std::move(body);
  req.prepare_payload();
  bhttp::write(stream, req);

  Streamed out;
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::buffer_body> parser;
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  bhttp::read_header(stream, buffer, parser);
  out.status = parser.get().result_int();
  out.content_type = std::string(parser.get()[bhttp::field::content_type]);
  out.transfer_encoding = std::string(parser.get()[bhttp::field::transfer_encoding]);
  json::basic_parser<Tally> json_parser{json::parse_options{}};
  std::vector<char> piece(64 << 10);
  boost::system::error_code ec;
  while (!parser.is_done()) {
    parser.get().body().data = piece.data();
    parser.get().body().size = piece.size();
    bhttp::read(stream, buffer, parser, ec);
    if (ec == bhttp::error::need_buffer) ec = {};
    if (ec) throw boost::system::system_error(ec, "reading the answer");
    const std::size_t n = piece.size() - parser.get().body().size;
    out.bytes += n;
    json_parser.write_some(true, piece.data(), n, ec);
    if (ec) throw boost::system::system_error(ec, "parsing the answer");
  }
  json_parser.write_some(false, nullptr, 0, ec);
  if (ec) throw boost::system::system_error(ec, "the answer ended early");
  out.tally = std::move(json_parser.handler());
  return out;
}

// A broken sensor: values alternating far above the upper limit (106, 104; fixed limits 97/100/103,
// σ 1). From the 14th point on, every point fires rules 1, 2, 4, 5, 6 and 8 (windows of 1, 9, 14, 3, 5
// and 8 points). The bench (scripts/bench, BENCH_ONLY=spc) sends the same batch.
std::string broken_sensor_body(std::size_t n) {
  std::string body = "{\"points\":[";
  for (std::size_t i = 0; i < n; ++i) body += (i ? "," : "") + std::string(i % 2 ? "{\"value\":104}" : "{\"value\":106}");
  return body + "]}";
}

// What the rows say: the points that violate, and per rule the points firing it and the ids they name.
struct Stored {
  std::int64_t points = 0, violating = 0, alerts = 0, links = 0;
  std::map<std::string, std::int64_t> by_rule, named_by_rule;
};
Stored stored(const std::string& series_id) {
  Stored s;
  s.points = point_count(series_id);
  s.violating = count("SELECT count(*) FROM spc_datapoints WHERE series_id = $1 AND violations <> '[]'::jsonb",
                      db::Params(series_id));
  s.alerts = count("SELECT count(*) FROM spc_alerts WHERE series_id = $1", db::Params(series_id));
  s.links = count("SELECT count(*) FROM spc_alert_points l JOIN spc_alerts a ON a.organization_id = l.organization_id"
                  " AND a.id = l.alert_id WHERE a.series_id = $1",
                  db::Params(series_id));
  const auto rules = json::parse(db_text(
      "SELECT coalesce(jsonb_object_agg(rule, jsonb_build_array(points, named)), '{}') FROM ("
      " SELECT v->>'rule' AS rule, count(*) AS points, sum(jsonb_array_length(v->'point_ids')) AS named"
      " FROM spc_datapoints d, jsonb_array_elements(d.violations) v WHERE d.series_id = $1 GROUP BY 1) r",
      db::Params(series_id)));
  for (const auto& [rule, v] : rules.as_object()) {
    s.by_rule[std::string(rule)] = v.as_array()[0].to_number<std::int64_t>();
    s.named_by_rule[std::string(rule)] = v.as_array()[1].to_number<std::int64_t>();
  }
  return s;
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

TEST(Spc, ABrokenSensorsLargestBatchAnswersInFullOrInSummaryAsTheRowsSay) {
  auto w = world();
  const std::size_t n = 100000;
  // What the rules must find: rule 1 on every point, the others once their window is full.
  const std::map<std::string, std::int64_t> firing = {{"1", n}, {"2", n - 8}, {"4", n - 13}, {"5", n - 2}, {"6", n - 4},
                                                      {"8", n - 7}};
  const std::map<int, std::int64_t> window = {{1, 1}, {2, 9}, {4, 14}, {5, 3}, {6, 5}, {8, 8}};
  std::int64_t named = 0;
  for (const auto& [rule, points] : firing) named += points * window.at(std::stoi(rule));

  // The summary: the counts, by rule too, and the violating points alone, each window as its seqs.
  const auto summarized = fixed_series(w.eng, "Broken sensor (summary)");
  const auto brief = post_streamed("/api/v1/spc/series/" + summarized + "/points?answer=summary", w.tech,
                                   broken_sensor_body(n));
  ASSERT_EQ(brief.status, 201u);
  EXPECT_EQ(brief.transfer_encoding, "chunked");
  EXPECT_EQ(brief.content_type, "application/json");
  const auto rows = stored(summarized);
  EXPECT_EQ(rows.points, static_cast<std::int64_t>(n));
  EXPECT_EQ(rows.violating, static_cast<std::int64_t>(n));
  EXPECT_EQ(rows.by_rule, firing);
  const auto& t = brief.tally;
  EXPECT_EQ(t.top.at("count"), static_cast<std::int64_t>(n));
  EXPECT_EQ(t.top.at("first_seq"), 1);
  EXPECT_EQ(t.top.at("last_seq"), static_cast<std::int64_t>(n));
  EXPECT_EQ(t.top.at("violating_points"), rows.violating);
  std::map<std::string, std::int64_t> by_rule_given;
  for (const auto& [rule, points] : t.by_rule)
    if (points) by_rule_given[rule] = points;
  EXPECT_EQ(by_rule_given, rows.by_rule);
  EXPECT_EQ(t.by_rule.size(), 8u) << "every rule is counted, with 0 when it never fired";
  EXPECT_EQ(t.items, rows.violating);
  EXPECT_TRUE(t.seqs_increase);
  EXPECT_EQ(t.last_seq, static_cast<std::int64_t>(n));
  std::int64_t listed = 0;
  for (const auto& [rule, points] : t.rules) listed += points;
  EXPECT_EQ(listed, static_cast<std::int64_t>(n - 8 + n - 13 + n - 2 + n - 4 + n - 7 + n));
  EXPECT_EQ(t.window_points, named);  // each window as many points as the row names
  EXPECT_EQ(t.point_ids, 0);
  // One alert per rule, linked to every point since the rule's first window; one audit event.
  EXPECT_EQ(t.alerts, 6);
  EXPECT_EQ(rows.alerts, 6);
  EXPECT_EQ(rows.links, static_cast<std::int64_t>(6 * n));
  EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE action = 'spc_points.add' AND entity_id = $1",
                  db::Params(summarized)), 1);

  // The full answer (the default): every point, each violation with the ids of its window, complete.
  const auto whole = fixed_series(w.eng, "Broken sensor (full)");
  const auto full = post_streamed("/api/v1/spc/series/" + whole + "/points", w.tech, broken_sensor_body(n));
  ASSERT_EQ(full.status, 201u);
  EXPECT_EQ(full.transfer_encoding, "chunked");
  EXPECT_GT(full.bytes, std::size_t{100} << 20) << "the answer the summary spares";
  const auto all = stored(whole);
  EXPECT_EQ(all.by_rule, firing);
  std::int64_t named_rows = 0;
  for (const auto& [rule, ids] : all.named_by_rule) named_rows += ids;
  EXPECT_EQ(named_rows, named);
  EXPECT_EQ(full.tally.top.at("count"), static_cast<std::int64_t>(n));
  EXPECT_EQ(full.tally.top.at("violating_points"), all.violating);
  EXPECT_EQ(full.tally.items, static_cast<std::int64_t>(n));
  EXPECT_TRUE(full.tally.seqs_increase);
  EXPECT_EQ(full.tally.last_seq, static_cast<std::int64_t>(n));
  EXPECT_EQ(full.tally.point_ids, named);
  std::map<std::string, std::int64_t> rules_given;
  for (const auto& [rule, points] : full.tally.rules) rules_given[std::to_string(rule)] = points;
  EXPECT_EQ(rules_given, all.by_rule);
  EXPECT_EQ(full.tally.alerts, 6);
  EXPECT_EQ(all.links, static_cast<std::int64_t>(6 * n));
  // The last point's row names what the answer named for it.
  const auto last_row = json::parse(db_text("SELECT violations FROM spc_datapoints WHERE series_id = $1 AND seq = $2",
                                            db::Params(whole, static_cast<std::int64_t>(n))));
  EXPECT_EQ(last_row.as_array().size(), 6u);
  EXPECT_EQ(last_row.as_array()[2].at("point_ids").as_array().size(), 14u);
}

TEST(Spc, TheSummaryAnswerCountsByRuleAndListsTheViolatingPointsAlone) {
  auto w = world();
  const auto id = fixed_series(w.eng, "Summary");
  auto summary = analysis("POST", "/api/v1/spc/series/" + id + "/points?answer=summary", w.tech,
                          js(json::object{{"points", values_json({100.5, 104, 100.5, 100.2, 96})}}));
  ASSERT_EQ(summary.status, 201) << describe(summary);
  const auto s = summary.json();
  EXPECT_EQ(s.at("count").to_number<int>(), 5);
  EXPECT_EQ(s.at("violating_points").to_number<int>(), 2);
  EXPECT_EQ(s.at("violations_by_rule").at("1").to_number<int>(), 2);
  EXPECT_EQ(s.at("violations_by_rule").at("2").to_number<int>(), 0);
  const auto& points = s.at("points").as_array();
  ASSERT_EQ(points.size(), 2u);
  EXPECT_EQ(points[0].at("seq").to_number<int>(), 2);
  EXPECT_EQ(points[0].at("value").to_number<double>(), 104);
  EXPECT_EQ(points[1].at("seq").to_number<int>(), 5);
  EXPECT_EQ(json::serialize(points[1].at("violations")), R"([{"rule":1,"first_seq":5,"last_seq":5}])");
  EXPECT_EQ(db_text("SELECT id FROM spc_datapoints WHERE series_id = $1 AND seq = 5", db::Params(id)), str(points[1], "id"));
  EXPECT_EQ(s.at("alerts").as_array().size(), 2u);
  EXPECT_FALSE(s.as_object().contains("items"));
  // ?answer=full is the default's answer; one point may ask for the summary too.
  auto full = analysis("POST", "/api/v1/spc/series/" + id + "/points?answer=full", w.tech,
                       js(json::object{{"points", values_json({100.5})}}));
  ASSERT_EQ(full.status, 201) << describe(full);
  EXPECT_EQ(full.json().at("items").as_array()[0].at("seq").to_number<int>(), 6);
  auto one = analysis("POST", "/api/v1/spc/series/" + id + "/points?answer=summary", w.tech, js(json::object{{"value", 99}}));
  ASSERT_EQ(one.status, 201) << describe(one);
  EXPECT_EQ(one.json().at("count").to_number<int>(), 1);
  EXPECT_TRUE(one.json().at("points").as_array().empty());
  // Anything else is refused before anything is written, naming the parameter.
  auto bogus = analysis("POST", "/api/v1/spc/series/" + id + "/points?answer=bogus", w.tech,
                        js(json::object{{"value", 100}}));
  EXPECT_EQ(bogus.status, 400) << describe(bogus);
  EXPECT_TRUE(names(bogus, "answer")) << describe(bogus);
  EXPECT_EQ(point_count(id), 7);
}
