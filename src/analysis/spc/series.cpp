// SPC series: a chart (I-MR, or X̄-R with subgroups of 2..10), spec limits, and control limits that are
// either fixed or computed from a baseline of the first N points; linked to an instrument, which an
// open alert holds when hold_on_alert is set. One series answers its capability (chart.hpp) from the
// running statistics its points keep on its row: no read rescans the history.
#include <boost/json.hpp>
#include <cmath>

#include "analysis/spc/chart.hpp"
#include "analysis/spc/handlers.hpp"
#include "analysis/spc/shapes.hpp"
#include "platform/crypto.hpp"
#include "platform/db/sql_error.hpp"
#include "platform/json_text.hpp"

namespace asio = boost::asio;
namespace json = boost::json;

namespace spectra::spc {
namespace {

const std::string series_json = series_shape.sql("s");

const kit::List series_list{{
    .name = "spc_series_list",
    .select = series_json,
    .from = "spc_series s",
    .alias = "s",
    .where = "NOT s.is_deleted AND ($2::uuid IS NULL OR s.instrument_id = $2) AND ($3::text IS NULL OR s.chart_type = $3)"
             " AND ($4::text IS NULL OR s.metric = $4) AND ($5::text IS NULL OR s.name ILIKE $5 OR s.metric ILIKE $5)",
    .sorts = {{"name", "s.name", "text"}},
}};
const db::Query get_q{
    "spc_series_get",
    "SELECT " + series_json + ", s.chart_type AS _chart_type, s.subgroup_size AS _subgroup_size, s.lsl AS _lsl,"
    " s.usl AS _usl, s.stat_count AS _stat_count, s.stat_mean AS _stat_mean, s.stat_m2 AS _stat_m2,"
    " s.range_sum AS _range_sum, s.range_count AS _range_count, s.center_line AS _center_line, s.ucl AS _ucl,"
    " s.lcl AS _lcl, s.baseline_points AS _baseline_points,"
    " (SELECT count(*) FROM spc_alerts a WHERE a.organization_id = $1 AND a.series_id = s.id AND a.status <> 'RESOLVED')"
    " AS _open_alerts"
    " FROM spc_series s WHERE s.organization_id = $1 AND s.id = $2 AND NOT s.is_deleted"};
// get_q's helper columns.
struct SeriesFacts {
  std::string chart_type;
  std::optional<std::int64_t> subgroup_size;  // NULL for I-MR
  std::optional<double> lsl, usl;
  std::int64_t stat_count = 0;
  double stat_mean = 0, stat_m2 = 0, range_sum = 0;
  std::int64_t range_count = 0;
  std::optional<double> center_line, ucl, lcl;
  std::optional<std::int64_t> baseline_points;  // NULL when the limits are fixed
  std::int64_t open_alerts = 0;
};
const db::Decoder<SeriesFacts> series_facts{
    get_q,
    {{"_chart_type", &SeriesFacts::chart_type}, {"_subgroup_size", &SeriesFacts::subgroup_size},
     {"_lsl", &SeriesFacts::lsl}, {"_usl", &SeriesFacts::usl}, {"_stat_count", &SeriesFacts::stat_count},
     {"_stat_mean", &SeriesFacts::stat_mean}, {"_stat_m2", &SeriesFacts::stat_m2},
     {"_range_sum", &SeriesFacts::range_sum}, {"_range_count", &SeriesFacts::range_count},
     {"_center_line", &SeriesFacts::center_line}, {"_ucl", &SeriesFacts::ucl}, {"_lcl", &SeriesFacts::lcl},
     {"_baseline_points", &SeriesFacts::baseline_points}, {"_open_alerts", &SeriesFacts::open_alerts}}};
// $2 the instrument: whether it is live (no row when absent or of another organization).
const db::Query instrument_q{"spc_series_instrument",
                             "SELECT NOT is_deleted AS live FROM instruments WHERE organization_id = $1 AND id = $2"};
struct LiveInstrument {
  bool live = false;
};
const db::Decoder<LiveInstrument> live_instrument{instrument_q, {{"live", &LiveInstrument::live}}};
const db::Query insert_q{
    "spc_series_insert",
    "WITH s AS (INSERT INTO spc_series (organization_id, id, name, metric, unit, chart_type, subgroup_size, lsl, usl,"
    "                                   target, center_line, ucl, lcl, baseline_points, instrument_id, hold_on_alert,"
    "                                   created_by, extra_metadata, source_metric, source_instrument_id, source_recipe_id)"
    "           VALUES ($1, $2, $3, $4, $5, $6, $7::int, $8::float8, $9::float8, $10::float8, $11::float8, $12::float8,"
    "                   $13::float8, $14::int, $15, $16, $17, $18::jsonb, $19, $20, $21) RETURNING *)"
    " SELECT " + series_json + " FROM s"};

const db::Constraint source_instrument_missing{"spc_series_organization_id_source_instrument_id_fkey",
                                               "source.instrument_id", "The instrument does not exist in your organization"};
const db::Constraint source_recipe_missing{"spc_series_organization_id_source_recipe_id_fkey", "source.recipe_id",
                                           "The recipe does not exist in your organization"};
// A change: the series locked, with its values and the newest point's seq.
const db::Query lock_q{
    "spc_series_lock",
    "SELECT " + series_json + ", s.lsl AS _lsl, s.usl AS _usl, s.target AS _target, s.hold_on_alert AS _hold,"
    " s.instrument_id AS _instrument_id, s.chart_type AS _chart_type, s.subgroup_size AS _subgroup_size,"
    " (SELECT coalesce(max(d.seq), 0) FROM spc_datapoints d WHERE d.organization_id = $1 AND d.series_id = s.id)"
    " AS _last_seq"
    " FROM spc_series s WHERE s.organization_id = $1 AND s.id = $2 AND NOT s.is_deleted FOR UPDATE"};
struct LockedSeries {
  std::optional<double> lsl, usl, target;
  bool hold = false;
  std::optional<std::string> instrument_id;
  std::string chart_type;
  std::optional<std::int64_t> subgroup_size;
  std::int64_t last_seq = 0;
};
const db::Decoder<LockedSeries> locked_series{
    lock_q,
    {{"_lsl", &LockedSeries::lsl}, {"_usl", &LockedSeries::usl}, {"_target", &LockedSeries::target},
     {"_hold", &LockedSeries::hold}, {"_instrument_id", &LockedSeries::instrument_id},
     {"_chart_type", &LockedSeries::chart_type}, {"_subgroup_size", &LockedSeries::subgroup_size},
     {"_last_seq", &LockedSeries::last_seq}}};
// The values of points seq $3 < seq <= $4, oldest first: a new baseline.
const db::Query window_q{"spc_series_window",
                         "SELECT value FROM spc_datapoints WHERE organization_id = $1 AND series_id = $2"
                         " AND seq > $3 AND seq <= $4 ORDER BY seq"};
const db::Query change_q{
    "spc_series_change",
    "WITH s AS (UPDATE spc_series SET lsl = $3::float8, usl = $4::float8, target = $5::float8, hold_on_alert = $6"
    "           WHERE organization_id = $1 AND id = $2 RETURNING *)"
    " SELECT " + series_json + " FROM s"};
const db::Query rebaseline_q{
    "spc_series_rebaseline",
    "WITH s AS (UPDATE spc_series SET center_line = $3::float8, ucl = $4::float8, lcl = $5::float8,"
    "             range_center = $6::float8, range_ucl = $7::float8, range_lcl = $8::float8, baseline_points = $9::int,"
    "             limits_computed_at = now() WHERE organization_id = $1 AND id = $2 RETURNING *)"
    " SELECT " + series_json + " FROM s"};

json::value number_or_null(std::optional<double> v) {
  if (!v || !std::isfinite(*v)) return nullptr;
  return *v;
}

}  // namespace

kit::Input<NewSeries> NewSeries::input() {
  kit::Input<NewSeries> in{
      "NewSeries",
      {kit::field("name", &NewSeries::name).max_length(200),
       kit::field("metric", &NewSeries::metric).max_length(200).describe("What the series measures (a run result's metric)"),
       kit::field("unit", &NewSeries::unit).max_length(50).not_blank(),
       kit::field("chart_type", &NewSeries::chart_type).one_of({"I-MR", "XBAR-R"}),
       kit::field("subgroup_size", &NewSeries::subgroup_size).min(min_subgroup).max(max_subgroup)
           .describe("XBAR-R only: the points of one subgroup"),
       kit::field("lsl", &NewSeries::lsl).describe("Lower spec limit"),
       kit::field("usl", &NewSeries::usl).describe("Upper spec limit (above lsl)"),
       kit::field("target", &NewSeries::target).describe("Target value (within the spec limits)"),
       kit::field("center_line", &NewSeries::center_line).describe("Fixed limits: the center line (default: midway)"),
       kit::field("ucl", &NewSeries::ucl).describe("Fixed limits: the upper control limit"),
       kit::field("lcl", &NewSeries::lcl).describe("Fixed limits: the lower control limit (below ucl)"),
       kit::field("baseline_points", &NewSeries::baseline_points).min(20).max(max_baseline_points)
           .describe("Limits from the first N points (default 20 for I-MR, 20 subgroups for XBAR-R; a whole number of"
                     " subgroups)"),
       kit::field("instrument_id", &NewSeries::instrument_id).uuid(),
       kit::field("hold_on_alert", &NewSeries::hold_on_alert).or_default()
           .describe("While the series has an alert not yet resolved, its instrument's runs are blocked"),
       kit::field("source", &NewSeries::source)
           .describe("Feed the series from results: {metric, instrument_id?, recipe_id?} (measurement runs only)"),
       kit::field("extra_metadata", &NewSeries::extra_metadata).object()}};
  in.also([](const NewSeries& s, kit::Problems& p) {
    if (s.chart_type == "XBAR-R" && !s.subgroup_size && !p.has("subgroup_size"))
      p.add("subgroup_size", "is required for an XBAR-R chart (2 to 10)");
    if (s.chart_type == "I-MR" && s.subgroup_size) p.add("subgroup_size", "is only for XBAR-R charts");
    if (s.lsl && s.usl && !(*s.usl > *s.lsl)) p.add("usl", "must be greater than lsl");
    if (s.target && ((s.lsl && *s.target < *s.lsl) || (s.usl && *s.target > *s.usl)))
      p.add("target", "must be within the spec limits");
    const bool fixed = s.ucl || s.lcl || s.center_line;
    if (fixed) {
      if (!s.ucl) p.add("ucl", "is required with fixed limits");
      if (!s.lcl) p.add("lcl", "is required with fixed limits");
      if (s.ucl && s.lcl && !(*s.ucl > *s.lcl)) p.add("ucl", "must be greater than lcl");
      else if (s.ucl && s.lcl && s.center_line && !(*s.center_line > *s.lcl && *s.center_line < *s.ucl))
        p.add("center_line", "must be between lcl and ucl");
      if (s.baseline_points) p.add("baseline_points", "give fixed limits or a baseline, not both");
    }
    if (s.baseline_points && s.subgroup_size && s.chart_type == "XBAR-R" && *s.baseline_points % *s.subgroup_size != 0)
      p.add("baseline_points", "must be a whole number of subgroups (a multiple of subgroup_size)");
    if (s.hold_on_alert && !s.instrument_id) p.add("hold_on_alert", "needs an instrument_id to hold");
  });
  return in;
}

kit::Input<SeriesSource> SeriesSource::input() {
  return {"SeriesSource",
          {kit::field("metric", &SeriesSource::metric).max_length(200).describe("The results' metric"),
           kit::field("instrument_id", &SeriesSource::instrument_id).uuid().describe("Only results measured on it"),
           kit::field("recipe_id", &SeriesSource::recipe_id).uuid()
               .describe("Only results of runs following this recipe (any version)")}};
}

kit::Input<SeriesChange> SeriesChange::input() {
  return {"SeriesChange",
          {kit::field("lsl", &SeriesChange::lsl).describe("Lower spec limit (null: none)"),
           kit::field("usl", &SeriesChange::usl).describe("Upper spec limit (null: none)"),
           kit::field("target", &SeriesChange::target),
           kit::field("hold_on_alert", &SeriesChange::hold_on_alert),
           kit::field("rebaseline_points", &SeriesChange::rebaseline_points).min(20).max(max_baseline_points)
               .describe("New control limits from the latest N points (whole subgroups for XBAR-R)")}};
}

kit::Input<SeriesFilters> SeriesFilters::input() {
  return {"SeriesFilters",
          {kit::field("instrument_id", &SeriesFilters::instrument_id).uuid(),
           kit::field("chart_type", &SeriesFilters::chart_type).one_of({"I-MR", "XBAR-R"}),
           kit::field("metric", &SeriesFilters::metric).max_length(200),
           kit::field("q", &SeriesFilters::q).max_length(200).describe("Part of the name or metric")}};
}

Reply list_series(RequestContext& ctx, QueryString<SeriesFilters> q, PageRequest page) {
  std::optional<std::string> like;
  if (q.q) like = "%" + kit::escape_like(*q.q) + "%";
  return series_list.page(ctx, db::Params(q.instrument_id, q.chart_type, q.metric, like), std::move(page));
}

Reply create_series(RequestContext& ctx, Body<NewSeries> in) {
  const std::string id = crypto::uuid_v4();
  const bool fixed = in.ucl.has_value();
  std::optional<double> center = in.center_line;
  if (fixed && !center) center = (*in.ucl + *in.lcl) / 2;
  std::optional<std::int64_t> baseline = in.baseline_points;
  if (!fixed && !baseline) baseline = in.chart_type == "XBAR-R" ? 20 * *in.subgroup_size : 20;
  std::optional<std::string> source_metric, source_instrument, source_recipe;
  if (in.source) {
    source_metric = in.source->metric;
    source_instrument = in.source->instrument_id;
    source_recipe = in.source->recipe_id;
  }
  auto row = co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<std::string> {
    if (in.instrument_id) {
      auto live = co_await w.exec(instrument_q, db::Params(in.instrument_id));
      if (live.empty() || !live_instrument(live).live)
        throw unprocessable("The series names an instrument that cannot be used")
            .with_field("instrument_id", "does not exist in your organization");
    }
    auto ins = co_await w.exec(insert_q, db::Params(id, in.name, in.metric, in.unit, in.chart_type, in.subgroup_size,
                                                    in.lsl, in.usl, in.target, center, in.ucl, in.lcl, baseline,
                                                    in.instrument_id, in.hold_on_alert, ctx.principal.user_id,
                                                    in.extra_metadata, source_metric, source_instrument, source_recipe));
    std::string json = db::row_json(ins);
    w.audit("spc_series.create", "spc_series", id, std::nullopt, json);
    co_return json;
  });
  co_return http::Response::json(201, std::move(row));
}

// The series with its current limits, its capability and how many alerts are open.
Reply get_series(RequestContext& ctx, Path<kit::Id> p) {
  auto r = co_await db::read(ctx.db(), ctx.tenant(), get_q, db::Params(p.id));
  if (r.empty()) throw not_found("No such series");
  auto out = json::parse(db::row_json(r)).as_object();
  const SeriesFacts f = series_facts(r);
  const bool xbar = f.chart_type == "XBAR-R";
  // (an X-bar/R series always has a subgroup size: a check constraint)
  const int n = xbar ? static_cast<int>(f.subgroup_size.value()) : 2;  // I-MR: moving ranges of 2
  Moments m{f.stat_count, f.stat_mean, f.stat_m2};
  const std::int64_t ranges = f.range_count;
  std::optional<double> within, overall = m.stddev();
  if (ranges > 0) within = f.range_sum / static_cast<double>(ranges) / constants(n).d2;
  const auto lsl = f.lsl, usl = f.usl;
  std::optional<double> mean;
  if (m.n > 0) mean = m.mean;
  Capability c;
  if (m.n >= 2) c = capability(m.mean, within, overall, lsl, usl);
  out["capability"] = json::object{{"n", m.n},
                                   {"mean", number_or_null(mean)},
                                   {"sigma_within", number_or_null(within)},
                                   {"sigma_overall", number_or_null(overall)},
                                   {"cp", number_or_null(c.cp)},
                                   {"cpk", number_or_null(c.cpk)},
                                   {"pp", number_or_null(c.pp)},
                                   {"ppk", number_or_null(c.ppk)}};
  const auto center = f.center_line, ucl = f.ucl, lcl = f.lcl;
  json::object limits{{"center_line", number_or_null(center)}, {"ucl", number_or_null(ucl)}, {"lcl", number_or_null(lcl)}};
  const bool from_baseline = f.baseline_points.has_value();
  limits["source"] = from_baseline ? "baseline" : "fixed";
  if (from_baseline) limits["baseline_remaining"] = std::max<std::int64_t>(0, *f.baseline_points - m.n);
  limits["sigma"] = number_or_null(center && ucl ? std::optional<double>((*ucl - *center) / 3) : std::nullopt);
  out["limits"] = std::move(limits);
  out["open_alerts"] = f.open_alerts;
  co_return http::Response::json(200, json_text(out));
}

// Spec limits and hold_on_alert change in place; a re-baseline computes the control limits from the
// latest points (the rules judge later points against them). Audited with the row before and after.
Reply update_series(RequestContext& ctx, Path<kit::Id> p, Body<SeriesChange> in) {
  auto after = co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<std::string> {
    auto row = co_await w.exec(lock_q, db::Params(p.id));
    if (row.empty()) throw not_found("No such series");
    const LockedSeries s = locked_series(row);
    const auto lsl = in.lsl.present ? in.lsl.value : s.lsl;
    const auto usl = in.usl.present ? in.usl.value : s.usl;
    const auto target = in.target.present ? in.target.value : s.target;
    const bool hold = in.hold_on_alert.value_or(s.hold);
    ApiError bad = unprocessable("The series cannot take these values");
    bool refused = false;
    auto refuse = [&](const char* field, std::string why) { refused = (bad.with_field(field, std::move(why)), true); };
    if (lsl && usl && !(*usl > *lsl)) refuse(in.usl.present ? "usl" : "lsl", "usl must be greater than lsl");
    if (target && ((lsl && *target < *lsl) || (usl && *target > *usl))) refuse("target", "must be within the spec limits");
    if (hold && !s.instrument_id) refuse("hold_on_alert", "needs the series' instrument to hold");
    if (refused) throw std::move(bad);

    std::vector<db::Statement> st;
    st.push_back({&change_q, db::Params(p.id, lsl, usl, target, hold)});
    if (in.rebaseline_points) {
      const bool xbar = s.chart_type == "XBAR-R";
      const std::int64_t n = xbar ? s.subgroup_size.value_or(2) : 1;
      const std::int64_t points = *in.rebaseline_points;
      if (points % n != 0)
        throw unprocessable("A baseline is whole subgroups")
            .with_field("rebaseline_points", "must be a multiple of the subgroup size (" + std::to_string(n) + ")");
      const std::int64_t end = s.last_seq / n * n;  // the last complete subgroup
      if (end < points)
        throw conflict("The series has " + std::to_string(end) + " points in whole subgroups; a baseline of " +
                       std::to_string(points) + " needs more");
      auto values = co_await w.exec(window_q, db::Params(p.id, end - points, end));
      std::vector<double> v;
      for (int i = 0; i < values.rows(); ++i) v.push_back(values.get_double(i, 0));
      const auto limits = xbar ? xbar_r_limits(v, static_cast<int>(n)) : individuals_limits(v);
      if (!limits) throw conflict("The latest points show no variation: no control limits can be computed from them");
      st.push_back({&rebaseline_q, db::Params(p.id, limits->center, limits->ucl, limits->lcl, limits->range_center,
                                              limits->range_ucl, limits->range_lcl, points)});
    }
    auto done = co_await w.exec_all(std::move(st));
    std::string json = db::row_json(done.back());
    w.audit(in.rebaseline_points ? "spc_series.rebaseline" : "spc_series.update", "spc_series", p.id,
            db::row_json(row), json);
    co_return json;
  });
  co_return http::Response::json(200, std::move(after));
}

}  // namespace spectra::spc
