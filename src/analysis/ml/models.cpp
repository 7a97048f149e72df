// Models: a name and version over a feature set of the organization, with an algorithm, metrics and an
// optional artifact (an attachment of the organization). Promotion (pi+) moves a version to none,
// staging, production or archived; promoting one to production archives the version that was in
// production, in the same transaction, with every version of the name locked in id order so that
// concurrent promotions take turns (and a partial unique index backs it). Each change is audited.
#include <boost/json.hpp>

#include "analysis/ml/handlers.hpp"
#include "kit/data.hpp"
#include "platform/crypto.hpp"
#include "platform/db/sql_error.hpp"
#include "platform/json_text.hpp"

namespace asio = boost::asio;

namespace spectra::ml {
namespace {

inline constexpr std::string_view model_fields[] = {
    "id",     "organization_id", "name",       "version",    "feature_set_id", "algorithm",      "metrics",
    "artifact_attachment_id",   "stage",      "created_by", "extra_metadata", "created_at",     "updated_at"};
inline constexpr kit::Shape model_shape{model_fields};
const std::string model_json = model_shape.sql("m");

const kit::List models_list{{
    .name = "ml_models_list",
    .select = model_json,
    .from = "ml_models m",
    .alias = "m",
    .where = "NOT m.is_deleted AND ($2::text IS NULL OR m.name = $2) AND ($3::text IS NULL OR m.stage = $3)"
             " AND ($4::uuid IS NULL OR m.feature_set_id = $4)",
    .sorts = {{"name", "m.name", "text"}, {"updated_at", "m.updated_at", "timestamptz"}},
}};
const db::Query get_q{"ml_models_get",
                      "SELECT " + model_json + " FROM ml_models m WHERE m.organization_id = $1 AND m.id = $2 AND NOT m.is_deleted"};
const db::Query insert_q{
    "ml_models_insert",
    "WITH m AS (INSERT INTO ml_models (organization_id, id, name, version, feature_set_id, algorithm, metrics,"
    "                                  artifact_attachment_id, created_by, extra_metadata)"
    "           VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10::jsonb) RETURNING *)"
    " SELECT " + model_json + " FROM m"};
// Every live version of the model's name, locked in id order: its columns, then its id and stage as
// helpers.
const db::Query lock_name_q{
    "ml_models_lock_name",
    "SELECT " + model_json + ", m.id AS _id, m.stage AS _stage"
    " FROM ml_models m WHERE m.organization_id = $1 AND NOT m.is_deleted"
    " AND m.name = (SELECT x.name FROM ml_models x WHERE x.organization_id = $1 AND x.id = $2 AND NOT x.is_deleted)"
    " ORDER BY m.id FOR UPDATE"};
const db::Query set_stage_q{
    "ml_models_set_stage",
    "WITH m AS (UPDATE ml_models SET stage = $3 WHERE organization_id = $1 AND id = $2 RETURNING *)"
    " SELECT " + model_json + " FROM m"};

const db::Constraint name_version_taken{"ml_models_name_version_key", "version",
                                        "A model with this name and version already exists"};
const db::Constraint feature_set_missing{"ml_models_organization_id_feature_set_id_fkey", "feature_set_id",
                                         "The feature set does not exist in your organization"};
const db::Constraint artifact_missing{"ml_models_organization_id_artifact_attachment_id_fkey", "artifact_attachment_id",
                                      "The artifact is not an attachment of your organization"};
const db::Constraint one_production{"ml_models_production_key", "stage",
                                   "Another version of this model was promoted to production at the same time"};

}  // namespace

kit::Input<NewModel> NewModel::input() {
  return {"NewModel",
          {kit::field("name", &NewModel::name).max_length(200),
           kit::field("version", &NewModel::version).max_length(100),
           kit::field("feature_set_id", &NewModel::feature_set_id).uuid(),
           kit::field("algorithm", &NewModel::algorithm).max_length(200),
           kit::field("metrics", &NewModel::metrics).object().describe("Evaluation metrics, e.g. {\"rmse\": 0.12}"),
           kit::field("artifact_attachment_id", &NewModel::artifact_attachment_id).uuid()
               .describe("An attachment holding the trained model"),
           kit::field("extra_metadata", &NewModel::extra_metadata).object()}};
}

kit::Input<ModelFilters> ModelFilters::input() {
  return {"ModelFilters",
          {kit::field("name", &ModelFilters::name).max_length(200),
           kit::field("stage", &ModelFilters::stage).one_of(stages),
           kit::field("feature_set_id", &ModelFilters::feature_set_id).uuid()}};
}

kit::Input<Promotion> Promotion::input() {
  return {"Promotion", {kit::field("stage", &Promotion::stage).one_of(stages)}};
}

Reply list_models(RequestContext& ctx, QueryString<ModelFilters> q, PageRequest page) {
  return models_list.page(ctx, db::Params(q.name, q.stage, q.feature_set_id), std::move(page));
}

Reply get_model(RequestContext& ctx, Path<kit::Id> p) { return kit::one(ctx, get_q, db::Params(p.id), "No such model"); }

Reply create_model(RequestContext& ctx, Body<NewModel> in) {
  const std::string id = crypto::uuid_v4();
  auto row = co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<std::string> {
    auto ins = co_await w.exec(insert_q, db::Params(id, in.name, in.version, in.feature_set_id, in.algorithm, in.metrics,
                                                    in.artifact_attachment_id, ctx.principal.user_id, in.extra_metadata));
    std::string json = db::row_json(ins);
    w.audit("ml_model.create", "ml_model", id, std::nullopt, json);
    co_return json;
  });
  co_return http::Response::json(201, std::move(row));
}

// The answer is the promoted version; `archived_id` names the version it replaced in production.
Reply promote_model(RequestContext& ctx, Path<kit::Id> p, Body<Promotion> in) {
  auto after = co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<std::string> {
    auto versions = co_await w.exec(lock_name_q, db::Params(p.id));
    const int id_col = versions.column("_id"), stage_col = versions.column("_stage");
    int target = -1;
    std::optional<int> in_production;
    for (int i = 0; i < versions.rows(); ++i) {
      if (versions.get(i, id_col) == p.id) target = i;
      else if (versions.get(i, stage_col) == "production") in_production = i;
    }
    if (target < 0) throw not_found("No such model");
    const std::string before = db::row_json(versions, target);
    if (versions.get(target, stage_col) == in.stage) {  // nothing changes, nothing to audit
      auto out = boost::json::parse(before).as_object();
      out["archived_id"] = nullptr;
      co_return json_text(out);
    }
    std::vector<db::Statement> st;
    std::optional<std::string> archived;
    if (in.stage == "production" && in_production) {
      archived = std::string(versions.get(*in_production, id_col));
      st.push_back({&set_stage_q, db::Params(*archived, "archived")});
    }
    st.push_back({&set_stage_q, db::Params(p.id, in.stage)});
    auto done = co_await w.exec_all(std::move(st));
    if (archived)
      w.audit("ml_model.promote", "ml_model", *archived, db::row_json(versions, *in_production),
              db::row_json(done[0]));
    std::string json = db::row_json(done.back());
    w.audit("ml_model.promote", "ml_model", p.id, before, json);
    auto out = boost::json::parse(json).as_object();
    out["archived_id"] = archived ? boost::json::value(*archived) : boost::json::value(nullptr);
    co_return json_text(out);
  });
  co_return http::Response::json(200, std::move(after));
}

}  // namespace spectra::ml
