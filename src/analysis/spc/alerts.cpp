// SPC alerts: opened and extended by points (points.cpp), listed by series and status, acknowledged
// and resolved by engineers with a note: OPEN → ACKNOWLEDGED → RESOLVED, or OPEN → RESOLVED. A resolved
// alert no longer holds its instrument; its runs are unblocked by hand (runs/unblock).
#include "analysis/spc/handlers.hpp"
#include "analysis/spc/shapes.hpp"

namespace asio = boost::asio;

namespace spectra::spc {
namespace {

const std::string alert_json = alert_shape.sql("a");

const kit::List alerts_list{{
    .name = "spc_alerts_list",
    .select = alert_json,
    .from = "spc_alerts a",
    .alias = "a",
    .where = "($2::uuid IS NULL OR a.series_id = $2) AND ($3::text IS NULL OR a.status = $3)"
             " AND ($4::int IS NULL OR a.rule = $4::int)",
    .sorts = {{"updated_at", "a.updated_at", "timestamptz"}},
}};
const db::Query get_q{"spc_alerts_get", "SELECT " + alert_json + " FROM spc_alerts a WHERE a.organization_id = $1 AND a.id = $2"};
const db::Query lock_q{"spc_alerts_lock", "SELECT " + alert_json + ", a.status AS _status FROM spc_alerts a"
                                          " WHERE a.organization_id = $1 AND a.id = $2 FOR UPDATE"};
// (now() stays outside CASE and COALESCE, which Citus refuses in a modification: one statement each.)
const db::Query acknowledge_q{
    "spc_alerts_acknowledge",
    "WITH a AS (UPDATE spc_alerts SET status = 'ACKNOWLEDGED', acknowledged_by = $3, acknowledged_at = now(),"
    "           note = coalesce($4, note) WHERE organization_id = $1 AND id = $2 RETURNING *)"
    " SELECT " + alert_json + " FROM a"};
const db::Query resolve_q{
    "spc_alerts_resolve",
    "WITH a AS (UPDATE spc_alerts SET status = 'RESOLVED', resolved_by = $3, resolved_at = now(),"
    "           note = coalesce($4, note) WHERE organization_id = $1 AND id = $2 RETURNING *)"
    " SELECT " + alert_json + " FROM a"};

}  // namespace

kit::Input<AlertFilters> AlertFilters::input() {
  return {"AlertFilters",
          {kit::field("series_id", &AlertFilters::series_id).uuid(),
           kit::field("status", &AlertFilters::status).one_of({"OPEN", "ACKNOWLEDGED", "RESOLVED"}),
           kit::field("rule", &AlertFilters::rule).one_of({"1", "2", "3", "4", "5", "6", "7", "8"})}};
}

kit::Input<AlertUpdate> AlertUpdate::input() {
  kit::Input<AlertUpdate> in{
      "AlertUpdate",
      {kit::field("status", &AlertUpdate::status).one_of({"ACKNOWLEDGED", "RESOLVED"}),
       kit::field("note", &AlertUpdate::note).max_length(2000).multiline().not_blank()
           .describe("What was found or done (required to resolve)")}};
  in.also([](const AlertUpdate& c, kit::Problems& p) {
    if (c.status == "RESOLVED" && !c.note && !p.has("note")) p.add("note", "is required to resolve an alert");
  });
  return in;
}

Reply list_alerts(RequestContext& ctx, QueryString<AlertFilters> q, PageRequest page) {
  return alerts_list.page(ctx, db::Params(q.series_id, q.status, q.rule), std::move(page));
}

Reply get_alert(RequestContext& ctx, Path<kit::Id> p) { return kit::one(ctx, get_q, db::Params(p.id), "No such alert"); }

Reply change_alert(RequestContext& ctx, Path<kit::Id> p, Body<AlertUpdate> in) {
  auto after = co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<std::string> {
    auto alert = co_await w.exec(lock_q, db::Params(p.id));
    if (alert.empty()) throw not_found("No such alert");
    const std::string status(alert.get(0, "_status"));
    if (status == "RESOLVED") throw conflict("The alert is already RESOLVED");
    if (status == in.status) throw conflict("The alert is already " + status);
    const bool resolve = in.status == "RESOLVED";
    auto changed = co_await w.exec(resolve ? resolve_q : acknowledge_q, db::Params(p.id, ctx.principal.user_id, in.note));
    std::string json = db::row_json(changed);
    w.audit(resolve ? "spc_alert.resolve" : "spc_alert.acknowledge", "spc_alert", p.id, db::row_json(alert), json);
    co_return json;
  });
  co_return http::Response::json(200, std::move(after));
}

}  // namespace spectra::spc
