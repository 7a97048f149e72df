// Results of a run: one, or a batch of up to 10,000, recorded while the run is RUNNING or COMPLETED.
// A batch is multi-row inserts (db::InsertBatch: one statement per 512 rows) sent with its audit
// entry and COMMIT in one round trip, after the run's row is share-locked (a status change waits).
#include <boost/json.hpp>

#include "analysis/runs/handlers.hpp"
#include "analysis/runs/rules.hpp"
#include "analysis/runs/shapes.hpp"
#include "platform/db/batch.hpp"
#include "platform/json_text.hpp"

namespace asio = boost::asio;
namespace json = boost::json;

namespace spectra::runs {
namespace {

constexpr std::size_t max_batch = 10000;

const kit::List results_list{{
    .name = "results_list",
    .select = result_shape.sql("x"),
    .from = "results x",
    .alias = "x",
    .where = "x.run_id = $2",
    .sorts = {{"metric", "x.metric", "text"}},
    .always_given = 1,
}};
const db::Query run_exists_q{"results_run_exists", "SELECT 1 FROM runs WHERE organization_id = $1 AND id = $2"};
const db::Query lock_run_q{"results_lock_run", "SELECT status FROM runs WHERE organization_id = $1 AND id = $2 FOR SHARE"};
struct RunStatus {
  std::string status;
};
const db::Decoder<RunStatus> run_status{lock_run_q, {{"status", &RunStatus::status}}};
const db::InsertBatch insert_results{
    "results_insert", "INSERT INTO results (organization_id, run_id, metric, value, unit, data, recorded_by, extra_metadata)",
    "($1, ?::uuid, ?, ?::float8, ?, ?::jsonb, ?::uuid, ?::jsonb)"};

const db::Query insert_one_q{
    "results_insert_one",
    "WITH x AS (INSERT INTO results (organization_id, run_id, metric, value, unit, data, recorded_by, extra_metadata)"
    "           VALUES ($1, $2, $3, $4::float8, $5, $6::jsonb, $7, $8::jsonb) RETURNING *)"
    " SELECT " + result_shape.sql("x") + " FROM x"};

std::vector<db::Params> rows_of(const std::string& run, const std::vector<NewResult>& results, const std::string& user) {
  std::vector<db::Params> rows;
  rows.reserve(results.size());
  for (const auto& r : results) rows.push_back(db::Params(run, r.metric, r.value, r.unit, r.data, user, r.extra_metadata));
  return rows;
}

}  // namespace

kit::Input<NewResult> NewResult::input() {
  return {"NewResult",
          {kit::field("metric", &NewResult::metric).max_length(200),
           kit::field("value", &NewResult::value).describe("A finite number"),
           kit::field("unit", &NewResult::unit).max_length(50).not_blank(),
           kit::field("data", &NewResult::data).object(),
           kit::field("extra_metadata", &NewResult::extra_metadata).object()}};
}

kit::Input<ResultBatch> ResultBatch::input() {
  kit::Input<ResultBatch> in{
      "ResultBatch",
      {kit::field("metric", &ResultBatch::metric).max_length(200).not_blank(),
       kit::field("value", &ResultBatch::value).describe("A finite number"),
       kit::field("unit", &ResultBatch::unit).max_length(50).not_blank(),
       kit::field("data", &ResultBatch::data).object(),
       kit::field("extra_metadata", &ResultBatch::extra_metadata).object(),
       kit::field("results", &ResultBatch::results).max_length(max_batch).describe("A batch of up to 10,000 results")}};
  in.also([](const ResultBatch& b, kit::Problems& p) {
    if (b.results) {
      if (b.metric || b.value || b.unit) p.add("results", "give one result or a batch, not both");
      if (b.results->empty()) p.add("results", "must hold at least one result");
    } else {
      if (!b.metric) p.add("metric", "is required");
      if (!b.value) p.add("value", "is required");
    }
  });
  return in;
}

Reply list_results(RequestContext& ctx, Path<kit::Id> p, PageRequest page) {
  auto exists = co_await db::read(ctx.db(), ctx.tenant(), run_exists_q, db::Params(p.id));
  if (exists.empty()) throw not_found("No such run");
  co_return co_await results_list.page(ctx, db::Params(p.id), std::move(page));
}

Reply record_results(RequestContext& ctx, Path<kit::Id> p, Body<ResultBatch> in) {
  std::vector<NewResult> results = in.results ? std::move(*in.results)
                                              : std::vector<NewResult>{{*in.metric, *in.value, in.unit, in.data,
                                                                        in.extra_metadata}};
  const bool batch = in.results.has_value();
  auto answer = co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<std::string> {
    auto run = co_await w.exec(lock_run_q, db::Params(p.id));
    if (run.empty()) throw not_found("No such run");
    const std::string status = run_status(run).status;
    if (!takes_results(status))
      throw conflict("The run is " + status + "; results are recorded on RUNNING or COMPLETED runs");
    json::object summary{{"run_id", p.id}, {"recorded", results.size()}};
    if (!batch) summary["metric"] = results[0].metric;
    w.audit("result.record", "run", p.id, std::nullopt, json_text(summary));  // one entry per batch
    if (!batch) {
      const auto& r = results[0];
      std::vector<db::Statement> one;
      one.push_back({&insert_one_q, db::Params(p.id, r.metric, r.value, r.unit, r.data, ctx.principal.user_id,
                                               r.extra_metadata)});
      auto done = co_await w.commit(std::move(one));
      std::string row = db::row_json(done[0]);
      co_return row;
    }
    co_await w.commit(insert_results.statements(rows_of(p.id, results, ctx.principal.user_id)));
    co_return json_text(summary);
  });
  co_return http::Response::json(201, std::move(answer));
}

}  // namespace spectra::runs
