// Results of a run: one, or a batch of up to 10,000, recorded while the run is RUNNING or COMPLETED
// (recording.hpp: the run share-locked, each result judged, failures held, SPC series fed). A batch is
// multi-row inserts (db::InsertBatch: one statement per 512 rows) sent with its audit entry and COMMIT.
#include <boost/json.hpp>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "analysis/runs/handlers.hpp"
#include "analysis/runs/recording.hpp"
#include "analysis/runs/rules.hpp"
#include "analysis/runs/shapes.hpp"
#include "analysis/spc/feed.hpp"
#include "analysis/wafermaps/wafer_map.hpp"
#include "lims/quality/judging.hpp"
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
// The run, share-locked (a status change waits), with what recording its results needs: the limits of
// the specification version it bound when it was created (NULL: none) and the sample's wafer diameter
// (NULL: the sample has no wafer properties).
const db::Query lock_run_q{
    "results_lock_run",
    "SELECT r.status, r.kind, r.sample_id, r.instrument_id, r.recipe_id, r.specification_version_id, s.limits::text AS limits,"
    "       (SELECT w.diameter_mm FROM wafers w WHERE w.organization_id = $1 AND w.sample_id = r.sample_id"
    "           AND NOT w.is_deleted) AS diameter_mm"
    " FROM runs r LEFT JOIN specifications s ON s.organization_id = $1 AND s.id = r.specification_version_id"
    " WHERE r.organization_id = $1 AND r.id = $2 FOR SHARE OF r"};
struct LockedRun {
  std::string status, kind, sample_id, instrument_id;
  std::optional<std::string> recipe_id, specification_version_id, limits;
  std::optional<std::int64_t> diameter_mm;
};
const db::Decoder<LockedRun> locked_run{
    lock_run_q,
    {{"status", &LockedRun::status}, {"kind", &LockedRun::kind}, {"sample_id", &LockedRun::sample_id},
     {"instrument_id", &LockedRun::instrument_id}, {"recipe_id", &LockedRun::recipe_id},
     {"specification_version_id", &LockedRun::specification_version_id}, {"limits", &LockedRun::limits},
     {"diameter_mm", &LockedRun::diameter_mm}}};
// Each row carries its judgement (quality/rules.hpp), decided by the server from the run's limits.
const db::InsertBatch insert_results{
    "results_insert",
    "INSERT INTO results (organization_id, run_id, metric, value, unit, data, recorded_by, extra_metadata, evaluation,"
    "                     x_mm, y_mm, die_x, die_y, site, import_id)",
    "($1, ?::uuid, ?, ?::float8, ?, ?::jsonb, ?::uuid, ?::jsonb, ?, ?::float8, ?::float8, ?::int, ?::int, ?, ?::uuid)"};

const db::Query insert_one_q{
    "results_insert_one",
    "WITH x AS (INSERT INTO results (organization_id, run_id, metric, value, unit, data, recorded_by, extra_metadata,"
    "                                evaluation, x_mm, y_mm, die_x, die_y, site, import_id)"
    "           VALUES ($1, $2, $3, $4::float8, $5, $6::jsonb, $7, $8::jsonb, $9, $10::float8, $11::float8, $12::int,"
    "                   $13::int, $14, $15) RETURNING *)"
    " SELECT " + result_shape.sql("x") + " FROM x"};

db::Params row_of(const std::string& run, const NewResult& r, quality::Evaluation judged, const std::string& user,
                  const std::optional<std::string>& import_id) {
  std::optional<std::int64_t> die_x, die_y;
  if (r.die_x) die_x = *r.die_x;
  if (r.die_y) die_y = *r.die_y;
  return db::Params(run, r.metric, r.value, r.unit, r.data, user, r.extra_metadata, quality::to_string(judged), r.x_mm,
                    r.y_mm, die_x, die_y, r.site, import_id);
}

// Each result judged against the limits; a result in another unit than its metric's limit is refused
// (422 naming it): its value would be compared with limits of another scale. A position off the
// sample's wafer is refused too.
std::vector<quality::Evaluation> judge_all(const std::vector<NewResult>& results, const std::vector<quality::Limit>& limits,
                                           std::optional<std::int64_t> diameter_mm, const Recording& how) {
  std::vector<quality::Evaluation> judged;
  judged.reserve(results.size());
  ApiError bad = unprocessable("A result cannot be recorded as given");
  bool refused = false;
  for (std::size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    if (diameter_mm && r.x_mm && r.y_mm && !wafermaps::on_wafer(*r.x_mm, *r.y_mm, static_cast<int>(*diameter_mm))) {
      bad.with_field(how.field(i, "x_mm"), "(" + quality::number_text(*r.x_mm) + ", " + quality::number_text(*r.y_mm) +
                                               ") mm is off the sample's " + std::to_string(*diameter_mm) + " mm wafer");
      refused = true;
    }
    const quality::Limit* limit = limits.empty() ? nullptr : quality::limit_of(r.metric, limits);
    if (!limit) {
      judged.push_back(quality::Evaluation::none);
      continue;
    }
    if (auto why = quality::unit_mismatch(r.unit, *limit)) {
      bad.with_field(how.field(i, "unit"), std::move(*why));
      refused = true;
    }
    judged.push_back(quality::judge(r.value, *limit));
  }
  if (refused) throw std::move(bad);
  return judged;
}

// The failures of a batch, by metric in the order they first fail.
std::vector<quality::Failure> failures_of(const std::vector<NewResult>& results,
                                          const std::vector<quality::Evaluation>& judged) {
  std::vector<quality::Failure> out;
  std::unordered_map<std::string_view, std::size_t> at;  // metric → its place in out
  for (std::size_t i = 0; i < results.size(); ++i) {
    if (judged[i] != quality::Evaluation::fail) continue;
    const auto [it, first] = at.emplace(results[i].metric, out.size());
    if (first) {
      out.push_back({results[i].metric, 1, results[i].value, results[i].value});
    } else {
      ++out[it->second].count;
      out[it->second].last = results[i].value;
    }
  }
  return out;
}

// The position's members, declared once for a result and for a batch's single result.
template <class T>
void position_fields(std::vector<kit::Field<T>>& fields) {
  fields.push_back(kit::field("x_mm", &T::x_mm).describe("Millimetres from the wafer's centre, with y_mm"));
  fields.push_back(kit::field("y_mm", &T::y_mm).describe("Millimetres from the wafer's centre, with x_mm"));
  fields.push_back(kit::field("die_x", &T::die_x).min(-100000).max(100000).describe("The die's column, with die_y"));
  fields.push_back(kit::field("die_y", &T::die_y).min(-100000).max(100000).describe("The die's row, with die_x"));
  fields.push_back(kit::field("site", &T::site).max_length(100).not_blank().describe("The site's name"));
}
template <class T>
void position_pairs(const T& r, kit::Problems& p, const std::string& prefix) {
  if (r.x_mm.has_value() != r.y_mm.has_value()) p.add(prefix + (r.x_mm ? "y_mm" : "x_mm"), "x_mm and y_mm go together");
  if (r.die_x.has_value() != r.die_y.has_value()) p.add(prefix + (r.die_x ? "die_y" : "die_x"), "die_x and die_y go together");
}

}  // namespace

kit::Input<NewResult> NewResult::input() {
  std::vector<kit::Field<NewResult>> fields{kit::field("metric", &NewResult::metric).max_length(200),
                                            kit::field("value", &NewResult::value).describe("A finite number"),
                                            kit::field("unit", &NewResult::unit).max_length(50).not_blank(),
                                            kit::field("data", &NewResult::data).object(),
                                            kit::field("extra_metadata", &NewResult::extra_metadata).object()};
  position_fields(fields);
  kit::Input<NewResult> in{"NewResult", std::move(fields)};
  in.also([](const NewResult& r, kit::Problems& p) { position_pairs(r, p, ""); });
  return in;
}

kit::Input<ResultBatch> ResultBatch::input() {
  std::vector<kit::Field<ResultBatch>> fields{
      kit::field("metric", &ResultBatch::metric).max_length(200).not_blank(),
      kit::field("value", &ResultBatch::value).describe("A finite number"),
      kit::field("unit", &ResultBatch::unit).max_length(50).not_blank(),
      kit::field("data", &ResultBatch::data).object(),
      kit::field("extra_metadata", &ResultBatch::extra_metadata).object(),
      kit::field("results", &ResultBatch::results).max_length(max_batch).describe("A batch of up to 10,000 results")};
  position_fields(fields);
  kit::Input<ResultBatch> in{"ResultBatch", std::move(fields)};
  in.also([](const ResultBatch& b, kit::Problems& p) {
    if (b.results) {
      if (b.metric || b.value || b.unit || b.x_mm || b.y_mm || b.die_x || b.die_y || b.site)
        p.add("results", "give one result or a batch, not both");
      if (b.results->empty()) p.add("results", "must hold at least one result");
    } else {
      if (!b.metric) p.add("metric", "is required");
      if (!b.value) p.add("value", "is required");
      position_pairs(b, p, "");
    }
  });
  return in;
}

asio::awaitable<Recorded> record(RequestContext& ctx, kit::Write& w, const std::string& run_id,
                                 const std::vector<NewResult>& results, const Recording& how) {
  std::vector<std::string> metrics;  // each once (a batch may name 10,000)
  std::unordered_set<std::string_view> seen;
  for (const auto& r : results)
    if (seen.insert(r.metric).second) metrics.push_back(r.metric);
  std::vector<db::Statement> read;
  read.push_back({&lock_run_q, db::Params(run_id)});
  read.push_back(spc::fed_series(run_id, metrics));
  auto first = co_await w.exec_all(std::move(read));
  const auto& row = first[0];
  if (row.empty()) throw not_found("No such run");
  const LockedRun run = locked_run(row);
  if (!takes_results(run.status))
    throw conflict("The run is " + run.status + "; results are recorded on RUNNING or COMPLETED runs");
  const std::vector<quality::Limit> limits = run.limits ? quality::parse_limits(*run.limits) : std::vector<quality::Limit>{};
  const std::vector<quality::Evaluation> judged = judge_all(results, limits, run.diameter_mm, how);
  const std::vector<quality::Failure> failures = failures_of(results, judged);

  Recorded out;
  out.evaluations = json::object{{"pass", 0}, {"warn", 0}, {"fail", 0}, {"below_lod", 0}, {"none", 0}};
  for (auto e : judged) out.evaluations[quality::to_string(e)] = out.evaluations[quality::to_string(e)].as_int64() + 1;
  out.summary = json::object{{"run_id", run_id}, {"recorded", results.size()}};
  if (run.specification_version_id) {
    out.summary["specification_version_id"] = *run.specification_version_id;
    out.summary["evaluations"] = out.evaluations;
  }
  // A failure opens its nonconformance and quarantines the sample, in this transaction.
  std::vector<db::Statement> holds;
  if (!failures.empty()) {
    const quality::JudgedRun judged_run{run_id, run.sample_id, run.specification_version_id};
    holds = co_await quality::open_nonconformances(ctx, w, judged_run, failures);
  }
  // Results feed the SPC series that follow them (below-LOD values are not measurements of the quantity).
  if (first[1].rows() > 0) {
    std::vector<spc::FedResult> fed;
    for (std::size_t i = 0; i < results.size(); ++i)
      if (judged[i] != quality::Evaluation::below_lod) fed.push_back({results[i].metric, results[i].value});
    auto series = co_await spc::feed_series(ctx, w, std::move(first[1]), run_id, std::move(fed));
    json::array ids;
    for (auto& id : series) ids.emplace_back(id);
    if (!ids.empty()) out.summary["spc_series_ids"] = std::move(ids);
  }
  const std::string& user = ctx.principal.user_id;
  if (how.answer_row) {
    out.statements.push_back({&insert_one_q, row_of(run_id, results[0], judged[0], user, how.import_id)});
  } else {
    std::vector<db::Params> rows;
    rows.reserve(results.size());
    for (std::size_t i = 0; i < results.size(); ++i) rows.push_back(row_of(run_id, results[i], judged[i], user, how.import_id));
    out.statements = insert_results.statements(std::move(rows));
  }
  for (auto& h : holds) out.statements.push_back(std::move(h));
  co_return out;
}

Reply list_results(RequestContext& ctx, Path<kit::Id> p, PageRequest page) {
  auto exists = co_await db::read(ctx.db(), ctx.tenant(), run_exists_q, db::Params(p.id));
  if (exists.empty()) throw not_found("No such run");
  co_return co_await results_list.page(ctx, db::Params(p.id), std::move(page));
}

Reply record_results(RequestContext& ctx, Path<kit::Id> p, Body<ResultBatch> in) {
  const bool batch = in.results.has_value();
  const std::vector<NewResult> results =
      batch ? std::move(*in.results)
            : std::vector<NewResult>{{*in.metric, *in.value, in.unit, in.data, in.extra_metadata, in.x_mm, in.y_mm,
                                      in.die_x, in.die_y, in.site}};
  Recording how;
  how.field = [batch](std::size_t i, std::string_view member) {
    return batch ? "results[" + std::to_string(i) + "]." + std::string(member) : std::string(member);
  };
  how.answer_row = !batch;
  auto answer = co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<std::string> {
    Recorded done = co_await record(ctx, w, p.id, results, how);
    w.audit("result.record", "run", p.id, std::nullopt, json_text(done.summary));  // one entry per batch
    auto committed = co_await w.commit(std::move(done.statements));
    std::string answer_text = batch ? json_text(done.summary) : db::row_json(committed[0]);  // named: GCC 12
    co_return answer_text;
  });
  co_return http::Response::json(201, std::move(answer));
}

}  // namespace spectra::runs
