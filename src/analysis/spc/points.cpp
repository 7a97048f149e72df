// Points of a series: one, or a batch of up to 100,000, judged in order by the Nelson rules as they
// arrive (ingest.hpp), the window continuing from the stored history. A batch is two round trips: the
// series locked with what the rules need (its last positions, its baseline while it fills, its open
// alerts, the runs the points name), then the points (db::InsertBatch: 512 rows a statement), the
// alerts and their links, the series' running statistics, one audit event and COMMIT. When an alert
// opens on a hold_on_alert series, its instrument is locked and its queued runs are blocked through the
// lockout (instruments/lockout.hpp) before that, in the same transaction.
#include <algorithm>
#include <boost/json.hpp>
#include <unordered_map>

#include "analysis/instruments/lockout.hpp"
#include "analysis/spc/handlers.hpp"
#include "analysis/spc/ingest.hpp"
#include "analysis/spc/shapes.hpp"
#include "platform/crypto.hpp"
#include "platform/db/batch.hpp"
#include "platform/json_text.hpp"

namespace asio = boost::asio;
namespace json = boost::json;

namespace spectra::spc {
namespace {

const kit::List points_list{{
    .name = "spc_points_list",
    .select = point_shape.sql("p"),
    .from = "spc_datapoints p",
    .alias = "p",
    .where = "p.series_id = $2",
    .sorts = {{"seq", "p.seq", "bigint"}, {"measured_at", "p.measured_at", "timestamptz"}},
    .default_sort = "-seq",
    .always_given = 1,
}};
const db::Query series_exists_q{"spc_points_series_exists",
                                "SELECT 1 FROM spc_series WHERE organization_id = $1 AND id = $2 AND NOT is_deleted"};

// The series, locked: points of one series are judged one batch at a time, in order.
const db::Query lock_series_q{
    "spc_points_lock_series",
    "SELECT chart_type, subgroup_size, center_line, ucl, lcl, baseline_points, range_center, range_ucl, range_lcl,"
    " stat_count, stat_mean, stat_m2, range_sum, range_count, hold_on_alert, instrument_id, name,"
    " to_jsonb(now()) #>> '{}'"
    " FROM spc_series WHERE organization_id = $1 AND id = $2 AND NOT is_deleted FOR UPDATE"};
// The newest points (enough for 15 positions of the largest subgroups and a partial one: 160).
const db::Query history_q{
    "spc_points_history",
    "SELECT id, seq, value FROM spc_datapoints WHERE organization_id = $1 AND series_id = $2 ORDER BY seq DESC LIMIT 160"};
// While the baseline fills: the stored points of it, oldest first.
const db::Query baseline_q{
    "spc_points_baseline",
    "SELECT value FROM spc_datapoints WHERE organization_id = $1 AND series_id = $2 AND seq <= ("
    " SELECT baseline_points FROM spc_series WHERE organization_id = $1 AND id = $2 AND limits_computed_at IS NULL"
    " AND center_line IS NULL AND stat_count < baseline_points) ORDER BY seq"};
// The newest unresolved alert of each rule.
const db::Query open_alerts_q{
    "spc_points_open_alerts",
    "SELECT DISTINCT ON (rule) id, rule, last_seq FROM spc_alerts"
    " WHERE organization_id = $1 AND series_id = $2 AND status <> 'RESOLVED' ORDER BY rule, last_seq DESC"};
// Which of the runs ($2, a uuid[]) exist in the organization.
const db::Query runs_q{"spc_points_runs", "SELECT id FROM runs WHERE organization_id = $1 AND id = ANY($2::uuid[])"};
const db::Query lock_instrument_q{"spc_points_lock_instrument",
                                  "SELECT 1 FROM instruments WHERE organization_id = $1 AND id = $2 FOR UPDATE"};

const db::InsertBatch insert_points{
    "spc_points_insert",
    "INSERT INTO spc_datapoints (organization_id, id, series_id, seq, value, measured_at, run_id, subgroup, violations,"
    " recorded_by, extra_metadata)",
    "($1, ?::uuid, ?::uuid, ?::bigint, ?::float8, ?::timestamptz, ?::uuid, ?::int, ?::jsonb, ?::uuid, ?::jsonb)"};
const db::InsertBatch insert_alerts{
    "spc_alerts_insert", "INSERT INTO spc_alerts (organization_id, id, series_id, datapoint_id, rule, last_seq)",
    "($1, ?::uuid, ?::uuid, ?::uuid, ?::int, ?::bigint)"};
const db::InsertBatch insert_links{
    "spc_alert_points_insert", "INSERT INTO spc_alert_points (organization_id, alert_id, datapoint_id)",
    "($1, ?::uuid, ?::uuid)", " ON CONFLICT (organization_id, alert_id, datapoint_id) DO NOTHING"};
const db::Query extend_alert_q{"spc_alerts_extend",
                               "UPDATE spc_alerts SET last_seq = $3 WHERE organization_id = $1 AND id = $2"};
const db::Query update_stats_q{
    "spc_series_update_stats",
    "UPDATE spc_series SET stat_count = $3, stat_mean = $4::float8, stat_m2 = $5::float8, range_sum = $6::float8,"
    " range_count = $7 WHERE organization_id = $1 AND id = $2"};
const db::Query set_limits_q{
    "spc_series_set_limits",
    "UPDATE spc_series SET center_line = $3::float8, ucl = $4::float8, lcl = $5::float8, range_center = $6::float8,"
    " range_ucl = $7::float8, range_lcl = $8::float8, limits_computed_at = now() WHERE organization_id = $1 AND id = $2"};

SeriesState state_of(const db::Result& s) {
  SeriesState st;
  st.chart = s.get(0, 0) == "XBAR-R" ? ChartType::xbar_r : ChartType::individuals;
  st.subgroup_size = st.chart == ChartType::xbar_r ? static_cast<int>(s.get_int(0, 1)) : 1;
  const auto center = s.get_optional_double(0, 2), ucl = s.get_optional_double(0, 3), lcl = s.get_optional_double(0, 4);
  if (center && ucl && lcl) {
    Limits l;
    l.center = *center;
    l.ucl = *ucl;
    l.lcl = *lcl;
    l.sigma = (*ucl - *center) / 3;
    l.range_center = s.get_optional_double(0, 6).value_or(0);
    l.range_ucl = s.get_optional_double(0, 7).value_or(0);
    l.range_lcl = s.get_optional_double(0, 8).value_or(0);
    st.limits = l;
  }
  if (!s.is_null(0, 5)) st.baseline_points = static_cast<int>(s.get_int(0, 5));
  st.stats = Moments{s.get_int(0, 9), s.get_double(0, 10), s.get_double(0, 11)};
  st.range_sum = s.get_double(0, 12);
  st.range_count = s.get_int(0, 13);
  st.last_seq = st.stats.n;  // (the caller takes the newest stored point's seq when there is one)
  return st;
}

json::array violations_json(const std::vector<Fired>& fired) {
  json::array out;
  for (const auto& f : fired) {
    json::array ids;
    ids.reserve(f.point_ids.size());
    for (const auto& id : f.point_ids) ids.emplace_back(id);
    out.emplace_back(json::object{{"rule", f.rule}, {"point_ids", std::move(ids)}});
  }
  return out;
}

json::value json_or_null(const std::optional<std::string>& s) {
  if (!s) return nullptr;
  return json::value(*s);
}

}  // namespace

kit::Input<NewPoint> NewPoint::input() {
  return {"NewPoint",
          {kit::field("value", &NewPoint::value).describe("A finite number"),
           kit::field("measured_at", &NewPoint::measured_at).timestamp().describe("Default: now"),
           kit::field("run_id", &NewPoint::run_id).uuid().describe("A run of your organization"),
           kit::field("extra_metadata", &NewPoint::extra_metadata).object()}};
}

kit::Input<PointBatch> PointBatch::input() {
  kit::Input<PointBatch> in{
      "PointBatch",
      {kit::field("value", &PointBatch::value).describe("A finite number"),
       kit::field("measured_at", &PointBatch::measured_at).timestamp().describe("Default: now"),
       kit::field("run_id", &PointBatch::run_id).uuid().describe("A run of your organization"),
       kit::field("extra_metadata", &PointBatch::extra_metadata).object(),
       kit::field("points", &PointBatch::points).max_length(max_points_per_batch)
           .describe("A batch of up to 100,000 points, judged in order")}};
  in.also([](const PointBatch& b, kit::Problems& p) {
    if (b.points) {
      if (b.value || b.measured_at || b.run_id) p.add("points", "give one point or a batch, not both");
      if (b.points->empty() && !p.has("points")) p.add("points", "must hold at least one point");
    } else if (!b.value && !p.has("value")) {
      p.add("value", "is required");
    }
  });
  return in;
}

Reply list_points(RequestContext& ctx, Path<kit::Id> p, PageRequest page) {
  auto exists = co_await db::read(ctx.db(), ctx.tenant(), series_exists_q, db::Params(p.id));
  if (exists.empty()) throw not_found("No such series");
  co_return co_await points_list.page(ctx, db::Params(p.id), std::move(page));
}

Reply add_points(RequestContext& ctx, Path<kit::Id> p, Body<PointBatch> in) {
  const bool batch = in.points.has_value();
  std::vector<NewPoint> given = batch ? std::move(*in.points)
                                           : std::vector<NewPoint>{{*in.value, in.measured_at, in.run_id,
                                                                         in.extra_metadata}};
  std::vector<Incoming> points;
  points.reserve(given.size());
  for (const auto& g : given) points.push_back({crypto::uuid_v4(), g.value});
  // The runs the points name, each once.
  std::vector<std::string> run_ids;
  {
    std::unordered_map<std::string, bool> seen;
    for (const auto& g : given)
      if (g.run_id && seen.emplace(*g.run_id, true).second) run_ids.push_back(*g.run_id);
  }

  auto answer = co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<std::string> {
    // Round trip 1: the series locked, and what the rules and the checks need.
    std::vector<db::Statement> read;
    read.push_back({&lock_series_q, db::Params(p.id)});
    read.push_back({&history_q, db::Params(p.id)});
    read.push_back({&baseline_q, db::Params(p.id)});
    read.push_back({&open_alerts_q, db::Params(p.id)});
    if (!run_ids.empty()) {
      db::Params runs;
      runs.add_array(run_ids);
      read.push_back({&runs_q, std::move(runs)});
    }
    auto r = co_await w.exec_all(std::move(read));
    const auto& series = r[0];
    if (series.empty()) throw not_found("No such series");
    if (!run_ids.empty()) {
      std::unordered_map<std::string, bool> known;
      for (int i = 0; i < r[4].rows(); ++i) known.emplace(std::string(r[4].get(i, 0)), true);
      ApiError bad = unprocessable("A point names a run that does not exist in your organization");
      bool refused = false;
      for (std::size_t i = 0; i < given.size(); ++i)
        if (given[i].run_id && !known.contains(*given[i].run_id)) {
          bad.with_field(batch ? "points[" + std::to_string(i) + "].run_id" : "run_id",
                         "does not exist in your organization");
          refused = true;
        }
      if (refused) throw std::move(bad);
    }

    SeriesState before = state_of(series);
    if (r[1].rows() > 0) before.last_seq = r[1].get_int(0, 1);  // the newest stored point, whatever wrote it
    std::vector<StoredPoint> history;
    const int keep = std::min(history_points(before), r[1].rows());
    for (int i = keep - 1; i >= 0; --i)
      history.push_back({std::string(r[1].get(i, 0)), r[1].get_int(i, 1), r[1].get_double(i, 2)});
    std::vector<double> baseline;
    for (int i = 0; i < r[2].rows(); ++i) baseline.push_back(r[2].get_double(i, 0));
    std::vector<OpenAlert> open;
    for (int i = 0; i < r[3].rows(); ++i)
      open.push_back({std::string(r[3].get(i, 0)), static_cast<int>(r[3].get_int(i, 1)), r[3].get_int(i, 2)});
    const Outcome out = ingest(before, history, baseline, open, points, [] { return crypto::uuid_v4(); });
    const std::string now(series.get(0, 17));
    const std::string user = ctx.principal.user_id;

    // A new alert on a hold_on_alert series holds its instrument: its queued runs are blocked now.
    json::array blocked;
    const auto opened = std::find_if(out.alerts.begin(), out.alerts.end(), [](const AlertChange& a) { return a.opened; });
    if (opened != out.alerts.end() && series.get_bool(0, 14) && !series.is_null(0, 15)) {
      const std::string instrument(series.get(0, 15));
      co_await w.exec(lock_instrument_q, db::Params(instrument));
      auto lockout = co_await w.exec(instruments::lockout_q, db::Params(instrument));
      const instruments::SpcHold hold{p.id, std::string(series.get(0, 16)), opened->id, opened->rule};
      const auto state = instruments::lockout_state(lockout, hold);
      if (!state.usable) {
        auto runs = co_await instruments::block_queued_runs(w, instrument, state.reason, "spc_series_id", p.id);
        for (auto& run : runs) blocked.emplace_back(run);
      }
    }

    // The last round trip: points, alerts, links, the series, the audit event and COMMIT.
    std::vector<db::Params> rows;
    rows.reserve(points.size());
    // The answer is written as text as it goes (a batch of 100,000 points is tens of MB): a single
    // point answers its whole row; a batch item names what differs from point to point.
    std::string items = "[";
    std::string single;
    std::size_t violating = 0;
    for (std::size_t i = 0; i < points.size(); ++i) {
      const auto& o = out.points[i];
      const auto& g = given[i];
      violating += o.violations.empty() ? 0 : 1;
      const std::string measured = g.measured_at.value_or(now);
      std::string violations = json_text(violations_json(o.violations));
      if (!batch) {
        single = json_text(json::object{
            {"id", points[i].id},
            {"organization_id", ctx.tenant().org_id},
            {"series_id", p.id},
            {"seq", o.seq},
            {"value", g.value},
            {"measured_at", measured},
            {"run_id", json_or_null(g.run_id)},
            {"subgroup", o.subgroup ? json::value(*o.subgroup) : json::value(nullptr)},
            {"violations", json::parse(violations)},
            {"recorded_by", user},
            {"extra_metadata", json::parse(g.extra_metadata)},
            {"created_at", now},
            {"updated_at", now}});
      } else {
        if (i) items += ',';
        items += "{\"id\":\"" + points[i].id + "\",\"seq\":" + std::to_string(o.seq);
        if (o.subgroup) items += ",\"subgroup\":" + std::to_string(*o.subgroup);
        items += ",\"value\":" + json_text(json::value(g.value)) + ",\"measured_at\":" + json_text(json::value(measured));
        if (g.run_id) items += ",\"run_id\":\"" + *g.run_id + "\"";
        items += ",\"violations\":" + violations + "}";
      }
      rows.push_back(db::Params(points[i].id, p.id, o.seq, g.value, measured, g.run_id, o.subgroup, std::move(violations),
                                user, g.extra_metadata));
    }
    items += "]";
    std::vector<db::Statement> last = insert_points.statements(rows);
    std::vector<db::Params> alert_rows, link_rows;
    json::array alerts;
    for (const auto& a : out.alerts) {
      if (a.opened) alert_rows.push_back(db::Params(a.id, p.id, a.datapoint_id, a.rule, a.last_seq));
      for (const auto& point : a.point_ids) link_rows.push_back(db::Params(a.id, point));
      alerts.emplace_back(json::object{{"id", a.id}, {"rule", a.rule}, {"opened", a.opened}, {"last_seq", a.last_seq}});
    }
    for (auto& s : insert_alerts.statements(alert_rows)) last.push_back(std::move(s));
    for (const auto& a : out.alerts)
      if (!a.opened) last.push_back({&extend_alert_q, db::Params(a.id, a.last_seq)});
    for (auto& s : insert_links.statements(link_rows)) last.push_back(std::move(s));
    const auto& after = out.after;
    last.push_back({&update_stats_q, db::Params(p.id, after.stats.n, after.stats.mean, after.stats.m2, after.range_sum,
                                                 after.range_count)});
    if (out.limits_computed) {
      const auto& l = *after.limits;
      last.push_back({&set_limits_q, db::Params(p.id, l.center, l.ucl, l.lcl, l.range_center, l.range_ucl, l.range_lcl)});
    }

    json::object summary{{"series_id", p.id},
                         {"count", points.size()},
                         {"first_seq", out.points.front().seq},
                         {"last_seq", out.points.back().seq},
                         {"violating_points", violating},
                         {"alerts", alerts},
                         {"blocked_run_ids", blocked}};
    if (out.limits_computed) {
      const auto& l = *after.limits;
      summary["limits_computed"] = json::object{{"center_line", l.center}, {"ucl", l.ucl}, {"lcl", l.lcl}};
    }
    w.audit("spc_points.add", "spc_series", p.id, std::nullopt, json_text(summary));  // one per batch
    co_await w.commit(std::move(last));
    if (!batch) co_return single;
    std::string text = json_text(summary);
    text.pop_back();  // the closing brace: the items follow
    co_return text + ",\"items\":" + items + "}";
  });
  co_return http::Response::json(201, std::move(answer));
}

}  // namespace spectra::spc
