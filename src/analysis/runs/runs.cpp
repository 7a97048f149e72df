// Runs: created QUEUED or BLOCKED by the lockout (the instrument's calibration, and any open SPC alert
// of a hold_on_alert series on it: instruments/lockout.hpp), in the transaction that inserts them and
// with the instrument's row locked (FOR KEY SHARE: runs on one instrument go side by side, and an
// expire, a revoke or a new certificate, which lock it FOR UPDATE, take their turn); moved through the state machine (rules.hpp), the lockout checked again when a run starts;
// unblocked only when the instrument is usable again. Creating a run is two round trips: the reads
// and locks, then the insert with its audit entries and COMMIT.
#include <boost/json.hpp>

#include "analysis/instruments/lockout.hpp"
#include "analysis/runs/handlers.hpp"
#include "analysis/runs/rules.hpp"
#include "analysis/runs/shapes.hpp"
#include "platform/crypto.hpp"
#include "platform/db/sql_error.hpp"
#include "platform/json_text.hpp"

namespace asio = boost::asio;
namespace json = boost::json;

namespace spectra::runs {
namespace {

const std::string run_json = run_shape.sql("r");

const kit::List runs_list{{
    .name = "runs_list",
    .select = run_json,
    .from = "runs r",
    .alias = "r",
    .where = "($2::text IS NULL OR r.status = $2) AND ($3::uuid IS NULL OR r.instrument_id = $3)"
             " AND ($4::uuid IS NULL OR r.sample_id = $4) AND ($5::uuid IS NULL OR r.recipe_id = $5)"
             " AND ($6::text IS NULL OR r.kind = $6)"
             " AND ($7::text IS NULL OR r.sample_id = (SELECT s.id FROM samples s WHERE s.organization_id = $1"
             "                                           AND s.barcode = $7 AND NOT s.is_deleted))",
    .sorts = {{"updated_at", "r.updated_at", "timestamptz"}},
}};
const db::Query get_q{"runs_get", "SELECT " + run_json + " FROM runs r WHERE r.organization_id = $1 AND r.id = $2"};
// The instrument, locked against a change of its calibration state (expire, revoke, a new
// certificate and a delete take it FOR UPDATE), but shared by the runs created, started and unblocked
// on it at the same time: whether it is live ($2).
const db::Query lock_instrument_q{"runs_lock_instrument",
                                  "SELECT i.is_deleted FROM instruments i WHERE i.organization_id = $1 AND i.id = $2"
                                  " FOR KEY SHARE"};
struct LockedInstrument {
  bool is_deleted = false;
};
const db::Decoder<LockedInstrument> locked_instrument{lock_instrument_q,
                                                      {{"is_deleted", &LockedInstrument::is_deleted}}};
// What the run names ($2 sample, $3 recipe, $4 SOP): whether the sample is live, the recipe's status,
// and the effective version of the SOP's code (the version the run follows). A reference that is
// absent or of another organization reads as NULL.
const db::Query references_q{
    "runs_references",
    "SELECT (SELECT NOT s.is_deleted FROM samples s WHERE s.organization_id = $1 AND s.id = $2 FOR KEY SHARE)"
    "         AS sample_live,"
    "       (SELECT CASE WHEN p.is_deleted THEN 'DELETED' ELSE p.status END FROM recipes p"
    "         WHERE p.organization_id = $1 AND p.id = $3 FOR KEY SHARE) AS recipe_status,"
    "       (SELECT e.id FROM sops o JOIN sops e ON e.organization_id = $1 AND e.code = o.code AND e.status = 'EFFECTIVE'"
    "         AND NOT e.is_deleted WHERE o.organization_id = $1 AND o.id = $4 AND NOT o.is_deleted) AS effective_sop_id,"
    "       (SELECT 1 FROM sops o WHERE o.organization_id = $1 AND o.id = $4 AND NOT o.is_deleted) AS sop_live"};
// The EFFECTIVE specification that applies to a run of sample $2 following recipe $3, the most specific
// (app.applicable_specification). A statement of its own: on Citus a function that reads distributed
// tables runs on the coordinator only when it is the whole statement.
const db::Query specification_q{"runs_specification",
                                "SELECT app.applicable_specification($1, $2, $3) AS specification_version_id"};
struct Applicable {
  std::optional<std::string> specification_version_id;
};
const db::Decoder<Applicable> applicable{specification_q,
                                         {{"specification_version_id", &Applicable::specification_version_id}}};
struct References {
  bool sample_live = false;  // NULL (no such sample) reads as false
  std::optional<std::string> recipe_status, effective_sop_id;
  std::optional<std::string> sop_live;  // "1", or NULL
};
const db::Decoder<References> references{
    references_q,
    {{"sample_live", &References::sample_live}, {"recipe_status", &References::recipe_status},
     {"effective_sop_id", &References::effective_sop_id}, {"sop_live", &References::sop_live}}};
const db::Query insert_q{
    "runs_insert",
    "WITH r AS (INSERT INTO runs (organization_id, id, instrument_id, sample_id, recipe_id, sop_id, kind, status,"
    "                             blocked_reason, blocked_at, calibration_exempt, parameters, created_by, extra_metadata,"
    "                             specification_version_id)"
    "           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $14::timestamptz, $10, $11::jsonb, $12, $13::jsonb, $15)"
    "           RETURNING *)"
    " SELECT " + run_json + " FROM r"};
// The run's instrument, locked first (shared, as above), then the run.
const db::Query lock_run_instrument_q{
    "runs_lock_run_instrument",
    "SELECT i.id FROM instruments i WHERE i.organization_id = $1"
    " AND i.id = (SELECT instrument_id FROM runs WHERE organization_id = $1 AND id = $2) FOR KEY SHARE"};
const db::Query lock_run_q{"runs_lock", "SELECT " + run_json + ", r.status AS _status, r.instrument_id AS _instrument_id,"
                                        " r.kind AS _kind"
                                        " FROM runs r WHERE r.organization_id = $1 AND r.id = $2 FOR UPDATE"};
struct LockedRun {
  std::string status, instrument_id, kind;
};
const db::Decoder<LockedRun> locked_run{
    lock_run_q,
    {{"_status", &LockedRun::status}, {"_instrument_id", &LockedRun::instrument_id}, {"_kind", &LockedRun::kind}}};
// (now() stays outside CASE and COALESCE, which Citus refuses in a modification.)
const db::Query start_q{
    "runs_start",
    "WITH r AS (UPDATE runs SET status = 'RUNNING', note = coalesce($3, note), started_at = now()"
    "           WHERE organization_id = $1 AND id = $2 RETURNING *)"
    " SELECT " + run_json + " FROM r"};
const db::Query finish_q{
    "runs_finish",
    "WITH r AS (UPDATE runs SET status = $3, note = coalesce($4, note), completed_at = now()"
    "           WHERE organization_id = $1 AND id = $2 RETURNING *)"
    " SELECT " + run_json + " FROM r"};
const db::Query block_q{
    "runs_block",
    "WITH r AS (UPDATE runs SET status = 'BLOCKED', blocked_reason = $3, blocked_at = now()"
    "           WHERE organization_id = $1 AND id = $2 RETURNING *)"
    " SELECT " + run_json + " FROM r"};
const db::Query unblock_q{
    "runs_unblock",
    "WITH r AS (UPDATE runs SET status = 'QUEUED', blocked_reason = NULL, blocked_at = NULL"
    "           WHERE organization_id = $1 AND id = $2 RETURNING *)"
    " SELECT " + run_json + " FROM r"};

const db::Constraint sample_missing{"runs_organization_id_sample_id_fkey", "sample_id",
                                    "The sample does not exist in your organization"};

const std::vector<std::string> statuses(std::begin(run_statuses), std::end(run_statuses));

}  // namespace

kit::Input<NewRun> NewRun::input() {
  return {"NewRun",
          {kit::field("instrument_id", &NewRun::instrument_id).uuid(),
           kit::field("sample_id", &NewRun::sample_id).uuid(),
           kit::field("recipe_id", &NewRun::recipe_id).uuid().describe("An APPROVED recipe version"),
           kit::field("sop_id", &NewRun::sop_id).uuid().describe("An SOP: the run records its effective version"),
           kit::field("kind", &NewRun::kind).or_default().one_of({"measurement", "calibration"})
               .describe("calibration runs are exempt from the lockout (an instrument is calibrated by one)"),
           kit::field("parameters", &NewRun::parameters).object(),
           kit::field("extra_metadata", &NewRun::extra_metadata).object()}};
}

kit::Input<RunFilters> RunFilters::input() {
  return {"RunFilters",
          {kit::field("status", &RunFilters::status).one_of(statuses),
           kit::field("instrument_id", &RunFilters::instrument_id).uuid(),
           kit::field("sample_id", &RunFilters::sample_id).uuid(),
           kit::field("recipe_id", &RunFilters::recipe_id).uuid(),
           kit::field("kind", &RunFilters::kind).one_of({"measurement", "calibration"}),
           kit::field("barcode", &RunFilters::barcode).max_length(64).not_blank()
               .describe("The sample's barcode (the agent finds a file's run by it)")}};
}

kit::Input<StatusChange> StatusChange::input() {
  return {"StatusChange",
          {kit::field("status", &StatusChange::status).one_of({"RUNNING", "COMPLETED", "FAILED", "CANCELLED"}),
           kit::field("note", &StatusChange::note).max_length(2000).multiline().not_blank()}};
}

Reply list_runs(RequestContext& ctx, QueryString<RunFilters> q, PageRequest page) {
  return runs_list.page(ctx, db::Params(q.status, q.instrument_id, q.sample_id, q.recipe_id, q.kind, q.barcode), std::move(page));
}

Reply get_run(RequestContext& ctx, Path<kit::Id> p) { return kit::one(ctx, get_q, db::Params(p.id), "No such run"); }

Reply create_run(RequestContext& ctx, Body<NewRun> in) {
  const std::string id = crypto::uuid_v4();
  auto run = co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<std::string> {
    // Round trip 1: the instrument locked, its latest calibration, and what the run names.
    std::vector<db::Statement> read;
    read.push_back({&lock_instrument_q, db::Params(in.instrument_id)});
    read.push_back({&instruments::lockout_q, db::Params(in.instrument_id)});
    read.push_back({&references_q, db::Params(in.sample_id, in.recipe_id, in.sop_id)});
    read.push_back({&specification_q, db::Params(in.sample_id, in.recipe_id)});
    auto r = co_await w.exec_all(std::move(read));
    ApiError bad = unprocessable("The run names something that cannot be used");
    bool refused = false;
    auto refuse = [&](const char* field, std::string why) { refused = (bad.with_field(field, std::move(why)), true); };
    if (r[0].empty() || locked_instrument(r[0]).is_deleted)
      refuse("instrument_id", "does not exist in your organization");
    const References refs = references(r[2]);
    if (!refs.sample_live) refuse("sample_id", "does not exist in your organization");
    if (in.recipe_id) {
      const auto& status = refs.recipe_status;
      if (!status || *status == "DELETED") refuse("recipe_id", "does not exist in your organization");
      else if (*status != "APPROVED") refuse("recipe_id", "is " + *status + "; a run follows an APPROVED recipe");
    }
    std::optional<std::string> sop_version;
    if (in.sop_id) {
      sop_version = refs.effective_sop_id;
      if (!refs.sop_live) refuse("sop_id", "does not exist in your organization");
      else if (!sop_version) refuse("sop_id", "has no EFFECTIVE version to follow");
    }
    if (refused) throw std::move(bad);

    // The decision: a calibration run is exempt; any other runs only on a usable instrument.
    const bool exempt = in.kind == "calibration";
    const auto state = instruments::lockout_state(r[1]);
    const bool blocked = !exempt && !state.usable;
    std::optional<std::string> reason;
    if (blocked) reason = state.reason;
    const std::string status = blocked ? "BLOCKED" : "QUEUED";

    // Round trip 2: the run, its audit entries and COMMIT.
    json::object after{{"id", id},        {"instrument_id", in.instrument_id}, {"sample_id", in.sample_id},
                       {"kind", in.kind}, {"status", status},                  {"calibration_exempt", exempt}};
    if (in.recipe_id) after["recipe_id"] = *in.recipe_id;
    if (sop_version) after["sop_id"] = *sop_version;
    if (reason) after["blocked_reason"] = *reason;
    // A calibration run measures a reference, not the product: no specification judges it.
    std::optional<std::string> specification;
    if (!exempt) specification = applicable(r[3]).specification_version_id;
    if (specification) after["specification_version_id"] = *specification;
    w.audit("run.create", "run", id, std::nullopt, json_text(after));
    if (blocked) w.audit("run.block", "run", id, std::nullopt,
                         json_text(json::object{{"status", "BLOCKED"}, {"blocked_reason", *reason}}));
    std::vector<db::Statement> insert;
    std::optional<std::string> blocked_at;
    if (blocked) blocked_at = audit::utc_now();
    insert.push_back({&insert_q, db::Params(id, in.instrument_id, in.sample_id, in.recipe_id, sop_version, in.kind, status,
                                            reason, exempt, in.parameters, ctx.principal.user_id, in.extra_metadata,
                                            blocked_at, specification)});
    auto done = co_await w.commit(std::move(insert));
    std::string row = db::row_json(done[0]);  // named: GCC 12 mishandles a temporary in co_return
    co_return row;
  });
  co_return http::Response::json(201, std::move(run));
}

// A status change: the transition table decides; starting a run checks its instrument again, and a
// run whose instrument is no longer usable is BLOCKED instead (409 with the reason).
Reply change_run_status(RequestContext& ctx, Path<kit::Id> p, Body<StatusChange> in) {
  std::optional<std::string> blocked_reason;
  auto after = co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<std::string> {
    std::vector<db::Statement> read;
    read.push_back({&lock_run_instrument_q, db::Params(p.id)});
    read.push_back({&lock_run_q, db::Params(p.id)});
    auto r = co_await w.exec_all(std::move(read));
    const auto& run = r[1];
    if (run.empty()) throw not_found("No such run");
    const LockedRun locked = locked_run(run);
    const std::string from = locked.status, instrument = locked.instrument_id, kind = locked.kind;
    if (auto why = transition_refusal(from, in.status)) throw conflict(*why);
    const std::string before = db::row_json(run);

    if (in.status == "RUNNING" && kind != "calibration") {
      auto latest = co_await w.exec(instruments::lockout_q, db::Params(instrument));
      const auto state = instruments::lockout_state(latest);
      if (!state.usable) {
        auto blocked = co_await w.exec(block_q, db::Params(p.id, state.reason));
        w.audit("run.block", "run", p.id, before, db::row_json(blocked));
        blocked_reason = state.reason;
        co_return std::string();
      }
    }
    // (No co_await inside ?: — GCC 12 miscompiles it.)
    const bool start = in.status == "RUNNING";
    db::Statement move{start ? &start_q : &finish_q,
                       start ? db::Params(p.id, in.note) : db::Params(p.id, in.status, in.note)};
    std::vector<db::Statement> st;
    st.push_back(std::move(move));
    auto moved_all = co_await w.exec_all(std::move(st));
    const auto& moved = moved_all[0];
    std::string json = db::row_json(moved);
    w.audit("run." + std::string(in.status == "RUNNING" ? "start" : in.status == "COMPLETED" ? "complete"
                                 : in.status == "FAILED"  ? "fail" : "cancel"),
            "run", p.id, before, json);
    co_return json;
  });
  if (blocked_reason)
    throw conflict("The run cannot start: its instrument is not usable (" + *blocked_reason + "); it is now BLOCKED");
  co_return http::Response::json(200, std::move(after));
}

Reply unblock_run(RequestContext& ctx, Path<kit::Id> p, OptionalBody<kit::Nothing>) {
  auto after = co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<std::string> {
    std::vector<db::Statement> read;
    read.push_back({&lock_run_instrument_q, db::Params(p.id)});
    read.push_back({&lock_run_q, db::Params(p.id)});
    auto r = co_await w.exec_all(std::move(read));
    const auto& run = r[1];
    if (run.empty()) throw not_found("No such run");
    const LockedRun locked = locked_run(run);
    const std::string from = locked.status, instrument = locked.instrument_id, kind = locked.kind;
    if (auto why = transition_refusal(from, "QUEUED", Via::unblock)) throw conflict(*why);
    if (kind != "calibration") {
      auto latest = co_await w.exec(instruments::lockout_q, db::Params(instrument));
      const auto state = instruments::lockout_state(latest);
      if (!state.usable) throw conflict("The run stays BLOCKED: " + state.reason);
    }
    auto moved = co_await w.exec(unblock_q, db::Params(p.id));
    std::string json = db::row_json(moved);
    w.audit("run.unblock", "run", p.id, db::row_json(run), json);
    co_return json;
  });
  co_return http::Response::json(200, std::move(after));
}

}  // namespace spectra::runs
