// A run's wafer map: the results of one metric that carry a position (x_mm, y_mm), read in one round
// trip with the run's wafer diameter and the metrics that have positions (for a picker); summarized and
// written by the server (JSON rows as they are, wafer_map.hpp for the statistics and the SVG).
#include <boost/json.hpp>

#include "analysis/wafermaps/handlers.hpp"
#include "analysis/wafermaps/wafer_map.hpp"
#include "kit/data.hpp"
#include "platform/db/row_json.hpp"
#include "platform/json_text.hpp"

namespace asio = boost::asio;
namespace json = boost::json;

namespace spectra::wafermaps {
namespace {

// The run ($2), its sample's wafer diameter and the metrics with positions, one per line (a metric is one
// line of text: the inputs refuse line breaks in it), found by one index probe per metric (a loose index
// scan of results_positioned_idx: a DISTINCT over 10,000 rows took 8 ms).
const db::Query run_q{
    "wafer_map_run",
    "WITH RECURSIVE m AS ("
    "  SELECT min(x.metric) AS metric FROM results x WHERE x.organization_id = $1 AND x.run_id = $2 AND x.x_mm IS NOT NULL"
    "  UNION ALL"
    "  SELECT (SELECT min(x.metric) FROM results x WHERE x.organization_id = $1 AND x.run_id = $2 AND x.x_mm IS NOT NULL"
    "            AND x.metric > m.metric) FROM m WHERE m.metric IS NOT NULL)"
    " SELECT (SELECT w.diameter_mm FROM wafers w WHERE w.organization_id = $1 AND w.sample_id = r.sample_id"
    "            AND NOT w.is_deleted) AS diameter_mm,"
    "        (SELECT string_agg(m.metric, E'\\n' ORDER BY m.metric) FROM m WHERE m.metric IS NOT NULL) AS metrics"
    " FROM runs r WHERE r.organization_id = $1 AND r.id = $2"};
struct RunFacts {
  std::optional<std::int64_t> diameter_mm;
  std::optional<std::string> metrics;
};
const db::Decoder<RunFacts> run_facts{run_q, {{"diameter_mm", &RunFacts::diameter_mm}, {"metrics", &RunFacts::metrics}}};
// The points of metric $3 (or, when none is given, of the first metric with positions), as stored (a map
// needs no order; sorting 10,000 rows was a third of the statement's time).
const db::Query points_q{
    "wafer_map_points",
    "SELECT x.x_mm, x.y_mm, x.die_x, x.die_y, x.site, x.value, x.evaluation, x.unit AS _unit, x.metric AS _metric"
    " FROM results x WHERE x.organization_id = $1 AND x.run_id = $2 AND x.x_mm IS NOT NULL"
    "   AND x.metric = coalesce($3, (SELECT min(f.metric) FROM results f WHERE f.organization_id = $1"
    "                                  AND f.run_id = $2 AND f.x_mm IS NOT NULL))"};
struct Row {
  double x_mm = 0, y_mm = 0;
  std::optional<std::int64_t> die_x, die_y;
  std::optional<std::string> site;
  double value = 0;
  std::string evaluation;
};
const db::Decoder<Row> point_row{
    points_q,
    {{"x_mm", &Row::x_mm}, {"y_mm", &Row::y_mm}, {"die_x", &Row::die_x}, {"die_y", &Row::die_y}, {"site", &Row::site},
     {"value", &Row::value}, {"evaluation", &Row::evaluation}}};

json::value optional_number(const std::optional<double>& v) { return v ? json::value(*v) : json::value(nullptr); }

}  // namespace

kit::Input<WaferMapQuery> WaferMapQuery::input() {
  return {"WaferMapQuery",
          {kit::field("metric", &WaferMapQuery::metric).max_length(200).not_blank()
               .describe("The metric (default: the first, by name, that has positions)"),
           kit::field("format", &WaferMapQuery::format).one_of({"json", "svg"})
               .describe("svg draws the map (as does Accept: image/svg+xml)")}};
}

kit::Reply get_wafer_map(kit::RequestContext& ctx, kit::Path<kit::Id> p, kit::QueryString<WaferMapQuery> q) {
  auto read = co_await db::transact(ctx.db(), ctx.tenant(), db::Mode::read_only,
                                    [&](db::Tx& tx) -> asio::awaitable<std::vector<db::Result>> {
                                      std::vector<db::Statement> st;
                                      st.push_back({&run_q, db::Params(p.id)});
                                      st.push_back({&points_q, db::Params(p.id, q.metric)});
                                      co_return co_await tx.commit(std::move(st));
                                    });
  if (read[0].empty()) throw not_found("No such run");
  const RunFacts run = run_facts(read[0]);
  const db::Result& rows = read[1];
  std::optional<std::string> metric = q.metric, unit;
  if (rows.rows() > 0) {  // one metric, and its unit as the first result gives it
    metric = std::string(rows.get(0, rows.column("_metric")));
    unit = rows.get_optional(0, rows.column("_unit"));
  }
  std::optional<int> diameter;
  if (run.diameter_mm) diameter = static_cast<int>(*run.diameter_mm);

  const auto accept = ctx.req.header("accept");
  const bool svg = q.format ? *q.format == "svg" : accept && accept->find("image/svg+xml") != std::string_view::npos;
  if (svg) {
    std::vector<Point> points;
    points.reserve(static_cast<std::size_t>(rows.rows()));
    for (Row& r : point_row.all(rows))
      points.push_back({r.x_mm, r.y_mm, r.die_x ? std::optional<int>(static_cast<int>(*r.die_x)) : std::nullopt,
                        r.die_y ? std::optional<int>(static_cast<int>(*r.die_y)) : std::nullopt, std::move(r.site),
                        r.value, std::move(r.evaluation)});
    const Summary summary = summarize(points);
    Figure figure{metric.value_or(""), metric.value_or(""), unit.value_or(""), diameter, std::move(points), summary};
    http::Response res;
    res.status = 200;
    res.body = draw_svg(figure);
    res.content_type = "image/svg+xml";
    res.header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'");
    res.header("X-Content-Type-Options", "nosniff");
    co_return res;
  }

  // JSON: each point written from the row's text as PostgreSQL sent it (a float8 is the shortest text that
  // reads back, finite by the table's checks; die positions are integers), the members a point lacks left
  // out; only the values are read as numbers, for the summary. A 10,000-point map is 1 MB of JSON: written
  // through a generic row writer it cost the server twice the time.
  const int col_x = rows.column("x_mm"), col_y = rows.column("y_mm"), col_dx = rows.column("die_x"),
            col_dy = rows.column("die_y"), col_site = rows.column("site"), col_value = rows.column("value"),
            col_evaluation = rows.column("evaluation");
  std::vector<Point> values(static_cast<std::size_t>(rows.rows()));
  for (int i = 0; i < rows.rows(); ++i) values[static_cast<std::size_t>(i)].value = rows.get_double(i, col_value);
  const Summary summary = summarize(values);
  json::array metrics;
  if (run.metrics) {
    std::string_view all = *run.metrics;
    for (std::size_t at = 0; at <= all.size();) {
      const auto nl = std::min(all.find('\n', at), all.size());
      metrics.emplace_back(all.substr(at, nl - at));
      at = nl + 1;
    }
  }
  const json::object s{{"n", summary.n},
                       {"mean", optional_number(summary.mean)},
                       {"stdev", optional_number(summary.stdev)},
                       {"min", optional_number(summary.min)},
                       {"max", optional_number(summary.max)},
                       {"range", optional_number(summary.range)},
                       {"uniformity_pct", optional_number(summary.uniformity_pct)}};
  std::string out = "{\"run_id\":";
  db::append_json_string(out, p.id);
  out += ",\"metric\":";
  out += metric ? json_text(json::value(*metric)) : "null";
  out += ",\"unit\":";
  out += unit ? json_text(json::value(*unit)) : "null";
  out += ",\"diameter_mm\":";
  out += diameter ? std::to_string(*diameter) : "null";
  out += ",\"metrics\":" + json_text(metrics);
  out += ",\"summary\":" + json_text(s);
  out += ",\"points\":[";
  out.reserve(out.size() + static_cast<std::size_t>(rows.rows()) * 72);
  for (int i = 0; i < rows.rows(); ++i) {
    out += i > 0 ? ",{\"x_mm\":" : "{\"x_mm\":";
    out += rows.get(i, col_x);
    out += ",\"y_mm\":";
    out += rows.get(i, col_y);
    if (!rows.is_null(i, col_dx)) {
      out += ",\"die_x\":";
      out += rows.get(i, col_dx);
      out += ",\"die_y\":";
      out += rows.get(i, col_dy);
    }
    if (!rows.is_null(i, col_site)) {
      out += ",\"site\":";
      db::append_json_string(out, rows.get(i, col_site));
    }
    out += ",\"value\":";
    out += rows.get(i, col_value);
    out += ",\"evaluation\":\"";
    out += rows.get(i, col_evaluation);  // one of five words (a CHECK constraint)
    out += "\"}";
  }
  out += "]}";
  co_return http::Response::json(200, std::move(out));
}

}  // namespace spectra::wafermaps
