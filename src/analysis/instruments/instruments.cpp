// Instruments: registered with their serial number (unique per organization among live instruments),
// each answered with its calibration status, and listed by it (valid, expiring within N days, expired,
// none). An instrument with queued or running runs is not deleted.
#include "analysis/instruments/handlers.hpp"
#include "analysis/instruments/shapes.hpp"
#include "platform/crypto.hpp"
#include "platform/db/sql_error.hpp"

namespace asio = boost::asio;

namespace spectra::instruments {
namespace {

const kit::List instruments_list{{
    .name = "instruments_list",
    .select = instrument_json,
    .from = "instruments i" + latest_calibration_join,
    .alias = "i",
    // $2 calibration state, $3 status, $4 q, $5 expiring within N days (valid now, expiring by then)
    .where = "NOT i.is_deleted AND ($2::text IS NULL OR lower(" + lc_status_sql + ") = $2"
             "   OR ($2 = 'expiring' AND lc.status = 'VALID' AND lc.expires_at > now()"
             "       AND lc.expires_at <= now() + make_interval(days => coalesce($5::int, 30))))"
             " AND ($3::text IS NULL OR i.status = $3)"
             " AND ($4::text IS NULL OR i.name ILIKE $4 OR i.serial_number ILIKE $4 OR i.model ILIKE $4)"
             " AND ($5::int IS NULL OR $2 IS NOT NULL"
             "   OR (lc.status = 'VALID' AND lc.expires_at > now() AND lc.expires_at <= now() + make_interval(days => $5::int)))",
    .sorts = {{"name", "i.name", "text"}, {"serial_number", "i.serial_number", "text"}},
}};
const db::Query get_q{"instruments_get", "SELECT " + instrument_json + " FROM instruments i" + latest_calibration_join +
                                             " WHERE i.organization_id = $1 AND i.id = $2 AND NOT i.is_deleted"};
const db::Query insert_q{
    "instruments_insert",
    "INSERT INTO instruments (organization_id, id, name, vendor, model, serial_number, location,"
    " calibration_interval_days, status, created_by, extra_metadata)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb)"};
const db::Query lock_q{"instruments_lock", "SELECT " + instrument_json + " FROM instruments i" + latest_calibration_join +
                                               " WHERE i.organization_id = $1 AND i.id = $2 AND NOT i.is_deleted"
                                               " FOR UPDATE OF i"};
const db::Query update_q{
    "instruments_update",
    "UPDATE instruments SET name = coalesce($3, name), vendor = coalesce($4, vendor), model = coalesce($5, model),"
    " serial_number = coalesce($6, serial_number), location = CASE WHEN $7 THEN $8 ELSE location END,"
    " calibration_interval_days = CASE WHEN $9 THEN $10::int ELSE calibration_interval_days END,"
    " status = coalesce($11, status), extra_metadata = coalesce($12::jsonb, extra_metadata)"
    " WHERE organization_id = $1 AND id = $2"};
const db::Query active_runs_q{
    "instruments_active_runs",
    "SELECT count(*) AS active_runs FROM runs"
    " WHERE organization_id = $1 AND instrument_id = $2 AND status IN ('QUEUED', 'RUNNING')"};
struct ActiveRuns {
  std::int64_t active_runs = 0;
};
const db::Decoder<ActiveRuns> active_runs{active_runs_q, {{"active_runs", &ActiveRuns::active_runs}}};
const db::Query delete_q{"instruments_delete", "UPDATE instruments SET is_deleted = true, deleted_at = now()"
                                               " WHERE organization_id = $1 AND id = $2"};

const db::Constraint serial_taken{"instruments_serial_number_key", "serial_number",
                                  "An instrument with this serial number already exists"};

const std::vector<std::string> statuses = {"active", "maintenance", "retired"};

}  // namespace

kit::Input<NewInstrument> NewInstrument::input() {
  return {"NewInstrument",
          {kit::field("name", &NewInstrument::name).max_length(200),
           kit::field("vendor", &NewInstrument::vendor).max_length(200),
           kit::field("model", &NewInstrument::model).max_length(200),
           kit::field("serial_number", &NewInstrument::serial_number).max_length(100),
           kit::field("location", &NewInstrument::location).max_length(200).not_blank(),
           kit::field("calibration_interval_days", &NewInstrument::calibration_interval_days).min(1).max(3650),
           kit::field("status", &NewInstrument::status).or_default().one_of(statuses),
           kit::field("extra_metadata", &NewInstrument::extra_metadata).object()}};
}

kit::Input<InstrumentChange> InstrumentChange::input() {
  return {"InstrumentChange",
          {kit::field("name", &InstrumentChange::name).max_length(200).not_blank(),
           kit::field("vendor", &InstrumentChange::vendor).max_length(200).not_blank(),
           kit::field("model", &InstrumentChange::model).max_length(200).not_blank(),
           kit::field("serial_number", &InstrumentChange::serial_number).max_length(100).not_blank(),
           kit::field("location", &InstrumentChange::location).max_length(200).not_blank(),
           kit::field("calibration_interval_days", &InstrumentChange::calibration_interval_days).min(1).max(3650),
           kit::field("status", &InstrumentChange::status).one_of(statuses),
           kit::field("extra_metadata", &InstrumentChange::extra_metadata).object()}};
}

kit::Input<InstrumentFilters> InstrumentFilters::input() {
  return {"InstrumentFilters",
          {kit::field("calibration", &InstrumentFilters::calibration)
               .one_of({"valid", "expiring", "expired", "revoked", "pending", "none"})
               .describe("The calibration state; expiring: valid now and expiring within expiring_within_days (30)"),
           kit::field("expiring_within_days", &InstrumentFilters::expiring_within_days).min(0).max(3650),
           kit::field("status", &InstrumentFilters::status).one_of(statuses),
           kit::field("q", &InstrumentFilters::q).max_length(100).describe("Part of the name, serial number or model")}};
}

Reply list_instruments(RequestContext& ctx, QueryString<InstrumentFilters> q, PageRequest page) {
  std::optional<std::string> like;
  if (q.q) like = "%" + kit::escape_like(*q.q) + "%";
  return instruments_list.page(ctx, db::Params(q.calibration, q.status, like, q.expiring_within_days), std::move(page));
}

Reply get_instrument(RequestContext& ctx, Path<kit::Id> p) {
  return kit::one(ctx, get_q, db::Params(p.id), "No such instrument");
}

Reply create_instrument(RequestContext& ctx, Body<NewInstrument> in) {
  const std::string id = crypto::uuid_v4();
  auto row = co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<std::string> {
    std::vector<db::Statement> st;
    st.push_back({&insert_q, db::Params(id, in.name, in.vendor, in.model, in.serial_number, in.location,
                                        in.calibration_interval_days, in.status, ctx.principal.user_id, in.extra_metadata)});
    st.push_back({&get_q, db::Params(id)});
    auto r = co_await w.exec_all(std::move(st));
    std::string json = db::row_json(r[1]);
    w.audit("instrument.create", "instrument", id, std::nullopt, json);
    co_return json;
  });
  co_return http::Response::json(201, std::move(row));
}

Reply update_instrument(RequestContext& ctx, Path<kit::Id> p, Body<InstrumentChange> in) {
  auto after = co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<std::string> {
    auto before = co_await w.exec(lock_q, db::Params(p.id));
    if (before.empty()) throw not_found("No such instrument");
    std::vector<db::Statement> st;
    st.push_back({&update_q, db::Params(p.id, in.name, in.vendor, in.model, in.serial_number, in.location.present,
                                        in.location.value, in.calibration_interval_days.present,
                                        in.calibration_interval_days.value, in.status, in.extra_metadata)});
    st.push_back({&get_q, db::Params(p.id)});
    auto r = co_await w.exec_all(std::move(st));
    std::string json = db::row_json(r[1]);
    w.audit("instrument.update", "instrument", p.id, db::row_json(before), json);
    co_return json;
  });
  co_return http::Response::json(200, std::move(after));
}

Reply delete_instrument(RequestContext& ctx, Path<kit::Id> p) {
  co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<void> {
    std::vector<db::Statement> read;
    read.push_back({&lock_q, db::Params(p.id)});
    read.push_back({&active_runs_q, db::Params(p.id)});
    auto r = co_await w.exec_all(std::move(read));
    if (r[0].empty()) throw not_found("No such instrument");
    if (const auto n = active_runs(r[1]).active_runs; n > 0)
      throw conflict("The instrument has " + std::to_string(n) + " queued or running run" + (n == 1 ? "" : "s") +
                     "; finish or cancel them first");
    co_await w.exec(delete_q, db::Params(p.id));
    w.audit("instrument.delete", "instrument", p.id, db::row_json(r[0]), std::nullopt);
  });
  co_return http::Response::no_content();
}

}  // namespace spectra::instruments
