// Nonconformances: a failed result opens one per run and metric (further failures attach to it) and
// quarantines the sample with a custody event, in the transaction that records the results. An engineer
// takes it under review; a PI or an admin closes it with a disposition, a Part 11 signature (the
// password again, meaning `disposition`): use_as_is, rework and retest release the sample (unless
// another nonconformance holds it), scrap disposes of it, each with its custody event.
#include <boost/json.hpp>

#include "kit/reauth.hpp"
#include "lims/quality/handlers.hpp"
#include "lims/quality/judging.hpp"
#include "lims/quality/rules.hpp"
#include "lims/quality/shapes.hpp"
#include "lims/samples/shapes.hpp"
#include "platform/crypto.hpp"
#include "platform/json_text.hpp"

namespace asio = boost::asio;
namespace json = boost::json;

namespace spectra::quality {
namespace {

const std::string nc_json = nonconformance_shape.sql("n");

const kit::List nonconformances_list{{
    .name = "nonconformances_list",
    .select = nc_json,
    .from = "nonconformances n",
    .alias = "n",
    .where = "($2::text IS NULL OR n.status = $2) AND ($3::uuid IS NULL OR n.sample_id = $3)"
             " AND ($4::uuid IS NULL OR n.run_id = $4)",
    .sorts = {{"updated_at", "n.updated_at", "timestamptz"}},
}};
const db::Query get_q{"nonconformances_get",
                      "SELECT " + nc_json + " FROM nonconformances n WHERE n.organization_id = $1 AND n.id = $2"};
const db::Query lock_q{"nonconformances_lock",
                       "SELECT " + nc_json + ", n.status AS _status, n.sample_id AS _sample_id, n.run_id AS _run_id,"
                       " n.metric AS _metric, n.failures AS _failures"
                       " FROM nonconformances n WHERE n.organization_id = $1 AND n.id = $2 FOR UPDATE"};
struct LockedNc {
  std::string status, sample_id, run_id, metric;
  std::int64_t failures = 0;
};
const db::Decoder<LockedNc> locked_nc{lock_q,
                                      {{"_status", &LockedNc::status}, {"_sample_id", &LockedNc::sample_id},
                                       {"_run_id", &LockedNc::run_id}, {"_metric", &LockedNc::metric},
                                       {"_failures", &LockedNc::failures}}};
const db::Query review_q{
    "nonconformances_review",
    "WITH n AS (UPDATE nonconformances SET status = coalesce($3, status), notes = CASE WHEN $4 THEN $5 ELSE notes END"
    "           WHERE organization_id = $1 AND id = $2 RETURNING *)"
    " SELECT " + nc_json + " FROM n"};
const db::Query close_q{
    "nonconformances_close",
    "WITH n AS (UPDATE nonconformances SET status = 'CLOSED', disposition = $3, disposition_comment = $4,"
    "             disposed_by = $5, disposed_by_name = $6, disposed_at = $7::timestamptz, signature_sha256 = $8"
    "           WHERE organization_id = $1 AND id = $2 RETURNING *)"
    " SELECT " + nc_json + " FROM n"};

// The sample, locked, with what a hold or a release needs; and whether another nonconformance of it is open.
const db::Query lock_sample_q{
    "quality_lock_sample",
    "SELECT s.status AS _status, s.custody_seq AS _custody_seq, s.location AS _location, s.custodian_id AS _custodian_id, " +
        samples::sample_shape.sql("s") +
        " FROM samples s WHERE s.organization_id = $1 AND s.id = $2 FOR UPDATE"};
struct LockedSample {
  std::string status;
  std::int64_t custody_seq = 0;
  std::optional<std::string> location, custodian_id;
};
const db::Decoder<LockedSample> locked_sample{lock_sample_q,
                                              {{"_status", &LockedSample::status},
                                               {"_custody_seq", &LockedSample::custody_seq},
                                               {"_location", &LockedSample::location},
                                               {"_custodian_id", &LockedSample::custodian_id}}};
const db::Query others_open_q{
    "quality_other_open",
    "SELECT count(*) AS open FROM nonconformances WHERE organization_id = $1 AND sample_id = $2 AND id <> $3"
    " AND status <> 'CLOSED'"};
struct OthersOpen {
  std::int64_t open = 0;
};
const db::Decoder<OthersOpen> others_open{others_open_q, {{"open", &OthersOpen::open}}};
// A quality hold or its end: the sample's status and the next link of its custody chain ($4 its seq,
// $5 the event, $6 the location and $7 the custodian it stays with, $8 the actor, $9 the note).
const db::Query hold_q{
    "quality_hold_sample",
    "WITH s AS (UPDATE samples SET status = $3, custody_seq = $4 WHERE organization_id = $1 AND id = $2 RETURNING *),"
    " e AS (INSERT INTO custody_events (organization_id, sample_id, seq, event_type, from_location, to_location,"
    "                                   from_user_id, to_user_id, actor_id, notes)"
    "       VALUES ($1, $2, $4, $5, $6, $6, $7, $7, $8, $9))"
    " SELECT " + samples::sample_shape.sql("s") + " FROM s"};

// A failure of (run, metric) opens the nonconformance or attaches to the open one; `opened` tells which.
const db::Query open_q{
    "nonconformances_open",
    "INSERT INTO nonconformances AS n (organization_id, id, run_id, sample_id, metric, specification_version_id,"
    "                                  failures, first_value, last_value, opened_by)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8::float8, $9::float8, $10)"
    " ON CONFLICT (organization_id, run_id, metric) WHERE status <> 'CLOSED'"
    " DO UPDATE SET failures = n.failures + EXCLUDED.failures, last_value = EXCLUDED.last_value"
    " RETURNING (n.id = $2) AS _opened, " + nc_json};
struct Opened {
  bool opened = false;
};
const db::Decoder<Opened> opened_of{open_q, {{"_opened", &Opened::opened}}};

const std::vector<std::string> statuses = {"OPEN", "UNDER_REVIEW", "CLOSED"};

bool at_hand(std::string_view status) { return status == "available" || status == "in_use" || status == "checked_out"; }

}  // namespace

std::vector<Limit> parse_limits(std::string_view text) {
  std::vector<Limit> out;
  const json::value v = json::parse(text);
  for (const auto& item : v.as_array()) {
    const auto& o = item.as_object();
    Limit l;
    l.metric = std::string(o.at("metric").as_string());
    if (auto* u = o.if_contains("unit"); u && u->is_string()) l.unit = std::string(u->as_string());
    auto num = [&](const char* k) -> std::optional<double> {
      if (auto* x = o.if_contains(k); x && x->is_number()) return x->to_number<double>();
      return std::nullopt;
    };
    l.lsl = num("lsl");
    l.usl = num("usl");
    l.target = num("target");
    l.warn_low = num("warn_low");
    l.warn_high = num("warn_high");
    l.lod = num("lod");
    out.push_back(std::move(l));
  }
  return out;
}

asio::awaitable<std::vector<db::Statement>> open_nonconformances(kit::RequestContext& ctx, kit::Write& w,
                                                                 const JudgedRun& run,
                                                                 const std::vector<Failure>& failures) {
  std::vector<db::Statement> st;
  st.push_back({&lock_sample_q, db::Params(run.sample_id)});
  for (const auto& f : failures)
    st.push_back({&open_q, db::Params(crypto::uuid_v4(), run.run_id, run.sample_id, f.metric, run.specification_version_id,
                                      f.count, f.first, f.last, ctx.principal.user_id)});
  auto r = co_await w.exec_all(std::move(st));
  bool opened_any = false;
  for (std::size_t i = 1; i < r.size(); ++i) {
    if (!opened_of(r[i]).opened) continue;
    opened_any = true;
    std::string json = db::row_json(r[i]);
    w.audit("nonconformance.open", "nonconformance", std::string(r[i].get(0, "id")), std::nullopt, json);
  }
  std::vector<db::Statement> hold;
  if (r[0].empty()) co_return hold;
  const LockedSample sample = locked_sample(r[0]);
  if (!opened_any || !at_hand(sample.status)) co_return hold;
  hold.push_back({&hold_q, db::Params(run.sample_id, "quarantined", sample.custody_seq + 1, "quarantine",
                                      sample.location, sample.custodian_id, ctx.principal.user_id,
                                      "Out of specification: run " + run.run_id)});
  json::object after{{"status", "quarantined"}, {"run_id", run.run_id}};
  w.audit("sample.quarantine", "sample", run.sample_id, db::row_json(r[0]), json_text(after));
  co_return hold;
}

kit::Input<NonconformanceFilters> NonconformanceFilters::input() {
  return {"NonconformanceFilters",
          {kit::field("status", &NonconformanceFilters::status).one_of(statuses),
           kit::field("sample_id", &NonconformanceFilters::sample_id).uuid(),
           kit::field("run_id", &NonconformanceFilters::run_id).uuid()}};
}

kit::Input<NonconformanceChange> NonconformanceChange::input() {
  return {"NonconformanceChange",
          {kit::field("status", &NonconformanceChange::status).one_of({"UNDER_REVIEW"})
               .describe("UNDER_REVIEW (a disposition closes it)"),
           kit::field("notes", &NonconformanceChange::notes).max_length(10000).multiline()}};
}

kit::Input<Disposition> Disposition::input() {
  return {"Disposition",
          {kit::field("disposition", &Disposition::disposition).one_of(dispositions),
           kit::field("comment", &Disposition::comment).max_length(2000).multiline().not_blank(),
           kit::field("password", &Disposition::password).max_length(1024).multiline()
               .describe("The signer's password, again (a Part 11 signature, meaning disposition)")}};
}

Reply list_nonconformances(RequestContext& ctx, QueryString<NonconformanceFilters> q, PageRequest page) {
  return nonconformances_list.page(ctx, db::Params(q.status, q.sample_id, q.run_id), std::move(page));
}

Reply get_nonconformance(RequestContext& ctx, Path<kit::Id> p) {
  return kit::one(ctx, get_q, db::Params(p.id), "No such nonconformance");
}

Reply update_nonconformance(RequestContext& ctx, Path<kit::Id> p, Body<NonconformanceChange> in) {
  auto after = co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<std::string> {
    auto row = co_await w.exec(lock_q, db::Params(p.id));
    if (row.empty()) throw not_found("No such nonconformance");
    const LockedNc nc = locked_nc(row);
    if (nc.status == "CLOSED") throw conflict("The nonconformance is CLOSED and does not change");
    if (in.status && nc.status != *in.status)
      if (auto why = review_refusal(nc.status, *in.status)) throw conflict(*why);
    auto u = co_await w.exec(review_q, db::Params(p.id, in.status, in.notes.present, in.notes.value));
    std::string json = db::row_json(u);
    w.audit("nonconformance.update", "nonconformance", p.id, db::row_json(row), json);
    co_return json;
  });
  co_return http::Response::json(200, std::move(after));
}

Reply dispose_nonconformance(RequestContext& ctx, Path<kit::Id> p, Body<Disposition> in) {
  const json::object detail{{"disposition", in.disposition}, {"reason", "wrong password"}};
  audit::Entry failed{"nonconformance.disposition_failed", "nonconformance", p.id, std::nullopt, json_text(detail)};
  std::string refusal = "The password is not correct; no disposition was recorded";
  const std::string signer = co_await kit::confirm_password(ctx, in.password, std::move(failed), std::move(refusal));
  auto after = co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<std::string> {
    auto row = co_await w.exec(lock_q, db::Params(p.id));
    if (row.empty()) throw not_found("No such nonconformance");
    const LockedNc nc = locked_nc(row);
    if (auto why = disposition_refusal(nc.status)) throw conflict(*why);
    std::vector<db::Statement> read;
    read.push_back({&lock_sample_q, db::Params(nc.sample_id)});
    read.push_back({&others_open_q, db::Params(nc.sample_id, p.id)});
    auto r = co_await w.exec_all(std::move(read));
    const LockedSample sample = locked_sample(r[0]);
    const bool others = others_open(r[1]).open > 0;

    const std::string at = audit::utc_now();
    db::Params close(p.id, in.disposition, in.comment, ctx.principal.user_id, signer, at);
    close.add_bytea(disposition_signature({p.id, nc.run_id, nc.sample_id, nc.metric, nc.failures, in.disposition,
                                           in.comment.value_or(""), ctx.principal.user_id, signer, at}));
    std::vector<db::Statement> st;
    st.push_back({&close_q, std::move(close)});
    const std::string note = "Disposition " + in.disposition + " of nonconformance " + p.id;
    switch (sample_outcome(in.disposition, others)) {
      case SampleOutcome::release:
        if (sample.status == "quarantined") {
          st.push_back({&hold_q, db::Params(nc.sample_id, "available", sample.custody_seq + 1, "release", sample.location,
                                            sample.custodian_id, ctx.principal.user_id, note)});
          w.audit("sample.release", "sample", nc.sample_id, db::row_json(r[0]),
                  json_text(json::object{{"status", "available"}, {"nonconformance_id", p.id}}));
        }
        break;
      case SampleOutcome::dispose:
        if (sample.status != "disposed" && sample.status != "consumed") {
          st.push_back({&hold_q, db::Params(nc.sample_id, "disposed", sample.custody_seq + 1, "dispose", sample.location,
                                            sample.custodian_id, ctx.principal.user_id, note)});
          w.audit("sample.dispose", "sample", nc.sample_id, db::row_json(r[0]),
                  json_text(json::object{{"status", "disposed"}, {"nonconformance_id", p.id}}));
        }
        break;
      case SampleOutcome::stay_quarantined:
        break;
    }
    // The audit entry goes out before the rows answer: it says what was signed.
    w.audit("nonconformance.disposition", "nonconformance", p.id, db::row_json(row),
            json_text(json::object{{"disposition", in.disposition}, {"signer", signer}, {"signed_at", at}}));
    auto done = co_await w.commit(std::move(st));
    std::string json = db::row_json(done[0]);
    co_return json;
  });
  co_return http::Response::json(200, std::move(after));
}

}  // namespace spectra::quality
