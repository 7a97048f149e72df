// Calibration certificates: recorded by engineers, listed, checked (the status-check object), and
// expired or revoked by an admin. Expiring or revoking one re-decides its instrument (rules.hpp) with
// the instrument's row locked, and blocks the instrument's queued runs at once, each with its reason
// and an audit event, in the same transaction.
#include "analysis/instruments/handlers.hpp"
#include "analysis/instruments/lockout.hpp"
#include "analysis/instruments/shapes.hpp"
#include "platform/crypto.hpp"
#include "platform/db/sql_error.hpp"
#include "platform/json_text.hpp"

#include <boost/json.hpp>

namespace asio = boost::asio;
namespace json = boost::json;

namespace spectra::instruments {
namespace {

const std::string calibration_json = calibration_shape.sql("c");

const kit::List calibrations_list{{
    .name = "calibrations_list",
    .select = calibration_json,
    .from = "calibrations c",
    .alias = "c",
    // $2 instrument, $3 status, $4 expiring within N days (valid now, expiring by then)
    .where = "($2::uuid IS NULL OR c.instrument_id = $2) AND ($3::text IS NULL OR c.status = $3)"
             " AND ($4::int IS NULL OR (c.status = 'VALID' AND c.expires_at > now()"
             "      AND c.expires_at <= now() + make_interval(days => $4::int)))",
    .sorts = {{"calibrated_at", "c.calibrated_at", "timestamptz"}, {"expires_at", "c.expires_at", "timestamptz"}},
}};
const db::Query get_q{"calibrations_get",
                      "SELECT " + calibration_json + " FROM calibrations c WHERE c.organization_id = $1 AND c.id = $2"};
const db::Query status_q{"calibrations_status_check",
                         "SELECT " + calibration_status_shape.sql("i") + " FROM instruments i" + latest_calibration_join +
                             " WHERE i.organization_id = $1 AND i.id = $2 AND NOT i.is_deleted"};
// The instrument, locked (runs are created, unblocked and blocked under this lock): whether it is live.
const db::Query lock_instrument_q{"calibrations_lock_instrument",
                                  "SELECT i.is_deleted FROM instruments i WHERE i.organization_id = $1 AND i.id = $2"
                                  " FOR UPDATE"};
struct LockedInstrument {
  bool is_deleted = false;
};
const db::Decoder<LockedInstrument> locked_instrument{lock_instrument_q,
                                                      {{"is_deleted", &LockedInstrument::is_deleted}}};
// Whether the dates are possible: $2 calibrated_at in the future (a minute of clock skew allowed), $3
// expires_at not after it.
const db::Query dates_q{"calibrations_dates",
                        "SELECT $2::timestamptz > now() + interval '1 minute' AS calibrated_in_future,"
                        " $3::timestamptz <= $2::timestamptz AS expires_not_after_calibrated,"
                        " $1::uuid AS organization_id"};  // (every statement names the organization)
struct CalibrationDates {
  bool calibrated_in_future = false;
  bool expires_not_after_calibrated = false;
};
const db::Decoder<CalibrationDates> calibration_dates{
    dates_q,
    {{"calibrated_in_future", &CalibrationDates::calibrated_in_future},
     {"expires_not_after_calibrated", &CalibrationDates::expires_not_after_calibrated}}};
const db::Query insert_q{
    "calibrations_insert",
    "WITH c AS (INSERT INTO calibrations (organization_id, id, instrument_id, certificate_number, calibrated_at,"
    "                                     expires_at, status, provider, created_by, extra_metadata)"
    "           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb) RETURNING *)"
    " SELECT " + calibration_json + " FROM c"};
// The calibration's instrument, locked first, then the calibration.
const db::Query lock_calibration_q{
    "calibrations_lock",
    "SELECT i.id FROM instruments i WHERE i.organization_id = $1"
    " AND i.id = (SELECT instrument_id FROM calibrations WHERE organization_id = $1 AND id = $2) FOR UPDATE"};
const db::Query calibration_for_update_q{
    "calibrations_for_update",
    "SELECT " + calibration_json + ", c.status AS _status, c.instrument_id AS _instrument_id FROM calibrations c"
    " WHERE c.organization_id = $1 AND c.id = $2 FOR UPDATE"};
struct LockedCalibration {
  std::string status, instrument_id;
};
const db::Decoder<LockedCalibration> locked_calibration{
    calibration_for_update_q,
    {{"_status", &LockedCalibration::status}, {"_instrument_id", &LockedCalibration::instrument_id}}};
const db::Query expire_q{
    "calibrations_expire",
    "WITH c AS (UPDATE calibrations SET status = 'EXPIRED', expired_at = now(), expired_by = $3, reason = $4"
    "           WHERE organization_id = $1 AND id = $2 RETURNING *)"
    " SELECT " + calibration_json + " FROM c"};
const db::Query revoke_q{
    "calibrations_revoke",
    "WITH c AS (UPDATE calibrations SET status = 'REVOKED', revoked_at = now(), revoked_by = $3, reason = $4"
    "           WHERE organization_id = $1 AND id = $2 RETURNING *)"
    " SELECT " + calibration_json + " FROM c"};
const db::Constraint certificate_taken{"calibrations_certificate_key", "certificate_number",
                                       "This instrument already has a calibration with this certificate number"};
const db::Constraint instrument_missing{"calibrations_organization_id_instrument_id_fkey", "instrument_id",
                                        "The instrument does not exist in your organization"};
const db::Constraint dates_backwards{"calibrations_expires_after_calibrated_check", "expires_at",
                                     "The calibration must expire after it was calibrated", "must be after calibrated_at"};

enum class Action { expire, revoke };

// Expire or revoke: the instrument is re-decided under its lock, and its queued runs are blocked
// when it is no longer usable.
asio::awaitable<std::string> end_calibration(RequestContext& ctx, std::string id, Action action,
                                             std::optional<std::string> reason) {
  co_return co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<std::string> {
    std::vector<db::Statement> read;
    read.push_back({&lock_calibration_q, db::Params(id)});
    read.push_back({&calibration_for_update_q, db::Params(id)});
    auto r = co_await w.exec_all(std::move(read));
    if (r[1].empty()) throw not_found("No such calibration");
    const auto& calibration = r[1];
    const LockedCalibration locked = locked_calibration(calibration);
    const std::string status = locked.status;
    const std::string instrument = locked.instrument_id;
    if (action == Action::expire && status != "VALID" && status != "PENDING")
      throw conflict("The calibration is " + status + "; only a VALID or PENDING one is expired");
    if (action == Action::revoke && status == "REVOKED") throw conflict("The calibration is already REVOKED");

    std::vector<db::Statement> st;
    st.push_back({action == Action::expire ? &expire_q : &revoke_q, db::Params(id, ctx.principal.user_id, reason)});
    st.push_back({&lockout_q, db::Params(instrument)});
    auto done = co_await w.exec_all(std::move(st));
    std::string after = db::row_json(done[0]);
    w.audit(action == Action::expire ? "calibration.expire" : "calibration.revoke", "calibration", id,
            db::row_json(calibration), after);

    json::array blocked;
    const auto state = lockout_state(done[1]);
    if (!state.usable) {
      auto runs = co_await block_queued_runs(w, instrument, state.reason, "calibration_id", id);
      for (auto& run : runs) blocked.emplace_back(run);
    }
    auto out = json::parse(after).as_object();
    out["blocked_run_ids"] = std::move(blocked);
    co_return json_text(out);
  });
}

}  // namespace

kit::Input<NewCalibration> NewCalibration::input() {
  return {"NewCalibration",
          {kit::field("instrument_id", &NewCalibration::instrument_id).uuid(),
           kit::field("certificate_number", &NewCalibration::certificate_number).max_length(100),
           kit::field("calibrated_at", &NewCalibration::calibrated_at).timestamp(),
           kit::field("expires_at", &NewCalibration::expires_at).timestamp(),
           kit::field("status", &NewCalibration::status).or_default().one_of({"VALID", "PENDING"}),
           kit::field("provider", &NewCalibration::provider).max_length(200).not_blank(),
           kit::field("extra_metadata", &NewCalibration::extra_metadata).object()}};
}

kit::Input<CalibrationFilters> CalibrationFilters::input() {
  return {"CalibrationFilters",
          {kit::field("instrument_id", &CalibrationFilters::instrument_id).uuid(),
           kit::field("status", &CalibrationFilters::status).one_of({"VALID", "PENDING", "EXPIRED", "REVOKED"}),
           kit::field("expiring_within_days", &CalibrationFilters::expiring_within_days).min(0).max(3650)
               .describe("Valid now and expiring within N days")}};
}

kit::Input<StatusCheck> StatusCheck::input() {
  return {"StatusCheck", {kit::field("instrument_id", &StatusCheck::instrument_id).uuid()}};
}

kit::Input<CalibrationAction> CalibrationAction::input() {
  return {"CalibrationAction", {kit::field("reason", &CalibrationAction::reason).max_length(2000).multiline().not_blank()}};
}

Reply list_calibrations(RequestContext& ctx, QueryString<CalibrationFilters> q, PageRequest page) {
  return calibrations_list.page(ctx, db::Params(q.instrument_id, q.status, q.expiring_within_days), std::move(page));
}

Reply get_calibration(RequestContext& ctx, Path<kit::Id> p) {
  return kit::one(ctx, get_q, db::Params(p.id), "No such calibration");
}

Reply check_calibration(RequestContext& ctx, QueryString<StatusCheck> q) {
  return kit::one(ctx, status_q, db::Params(q.instrument_id), "No such instrument");
}

Reply create_calibration(RequestContext& ctx, Body<NewCalibration> in) {
  const std::string id = crypto::uuid_v4();
  auto row = co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<std::string> {
    std::vector<db::Statement> read;
    read.push_back({&lock_instrument_q, db::Params(in.instrument_id)});
    read.push_back({&dates_q, db::Params(in.calibrated_at, in.expires_at)});
    auto r = co_await w.exec_all(std::move(read));
    ApiError bad = unprocessable("The calibration cannot be recorded");
    bool refused = false;
    if (r[0].empty() || locked_instrument(r[0]).is_deleted)
      refused = (bad.with_field("instrument_id", "does not exist in your organization"), true);
    const CalibrationDates dates = calibration_dates(r[1]);
    if (dates.calibrated_in_future) refused = (bad.with_field("calibrated_at", "is in the future"), true);
    if (dates.expires_not_after_calibrated)
      refused = (bad.with_field("expires_at", "must be after calibrated_at"), true);
    if (refused) throw std::move(bad);
    auto ins = co_await w.exec(insert_q, db::Params(id, in.instrument_id, in.certificate_number, in.calibrated_at,
                                                    in.expires_at, in.status, in.provider, ctx.principal.user_id,
                                                    in.extra_metadata));
    std::string json = db::row_json(ins);
    w.audit("calibration.create", "calibration", id, std::nullopt, json);
    co_return json;
  });
  co_return http::Response::json(201, std::move(row));
}

Reply expire_calibration(RequestContext& ctx, Path<kit::Id> p, OptionalBody<CalibrationAction> in) {
  auto json = co_await end_calibration(ctx, p.id, Action::expire, in.reason);
  co_return http::Response::json(200, std::move(json));
}

Reply revoke_calibration(RequestContext& ctx, Path<kit::Id> p, OptionalBody<CalibrationAction> in) {
  auto json = co_await end_calibration(ctx, p.id, Action::revoke, in.reason);
  co_return http::Response::json(200, std::move(json));
}

}  // namespace spectra::instruments
