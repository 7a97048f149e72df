// Recipes: versioned process parameters that a run may follow once approved. A recipe version is
// written as a DRAFT, submitted, and decided on by PIs and admins under the organization's policy
// (rules.hpp); changing an approved or rejected version opens the next version, so what was approved,
// and every run that used it, stays as it was.
#include <algorithm>

#include "lims/process/handlers.hpp"
#include "lims/process/rules.hpp"
#include "lims/process/shapes.hpp"
#include "platform/crypto.hpp"
#include "platform/db/sql_error.hpp"

namespace asio = boost::asio;

namespace spectra::process {
namespace {

const std::string recipe_json = recipe_shape.sql("r");
// One recipe version with its decisions (oldest first), every version of its recipe, and the policy
// that decides it.
const std::string recipe_detail =
    recipe_json +
    ", coalesce((SELECT jsonb_agg(" + approval_shape.jsonb("a") + " ORDER BY a.decided_at, a.id)"
    "    FROM recipe_approvals a WHERE a.organization_id = $1 AND a.recipe_id = r.id), '[]'::jsonb) AS approvals,"
    " (SELECT jsonb_agg(jsonb_build_object('id', v.id, 'version', v.version, 'status', v.status,"
    "                                      'created_at', v.created_at) ORDER BY v.version)"
    "    FROM recipes v WHERE v.organization_id = $1 AND coalesce(v.root_recipe_id, v.id) = coalesce(r.root_recipe_id, r.id)"
    "     AND NOT v.is_deleted) AS versions,"
    " (SELECT coalesce((o.settings->>'recipe_approvals_required')::int, 1) FROM organizations o WHERE o.id = $1)"
    "    AS approvals_required,"
    " (SELECT coalesce((o.settings->>'final_approval_by_admin')::boolean, false)"
    "    FROM organizations o WHERE o.id = $1) AS final_approval_by_admin";

const kit::List recipes_list{{
    .name = "recipes_list",
    .select = recipe_json,
    .from = "recipes r",
    .alias = "r",
    .where = "NOT r.is_deleted AND ($2::text IS NULL OR r.status = $2) AND ($3::text IS NULL OR r.name ILIKE $3)"
             " AND ($4::uuid IS NULL OR r.instrument_id = $4)"
             " AND ($5::uuid IS NULL OR coalesce(r.root_recipe_id, r.id) = $5)",
    .sorts = {{"name", "r.name", "text"}, {"updated_at", "r.updated_at", "timestamptz"}},
}};
const db::Query get_q{"recipes_get", "SELECT " + recipe_detail +
                                         " FROM recipes r WHERE r.organization_id = $1 AND r.id = $2 AND NOT r.is_deleted"};
// The references ($2 instrument, $3 SOP), when given, are not soft-deleted (the foreign keys refuse
// absent ones): raises 23503 naming the reference otherwise. FOR SHARE: a delete waits for this
// transaction, then sees the recipe.
const db::Query refs_live_q{"recipes_refs_live",
                            "SELECT app.require_live('public.instruments', $1, $2, 'recipes_instrument_live') AS instrument,"
                            "       app.require_live('public.sops', $1, $3, 'recipes_sop_live') AS sop"};
const db::Constraint instrument_deleted{"recipes_instrument_live", "instrument_id",
                                       "A referenced record does not exist in your organization"};
const db::Constraint sop_deleted{"recipes_sop_live", "sop_id", "A referenced record does not exist in your organization"};
const db::Query insert_q{
    "recipes_insert",
    "WITH r AS (INSERT INTO recipes (organization_id, id, name, description, instrument_id, sop_id, parameters, version,"
    "                                root_recipe_id, previous_version_id, status, author_id, extra_metadata)"
    "           VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10, 'DRAFT', $11, $12::jsonb) RETURNING *)"
    " SELECT " + recipe_json + " FROM r"};
const kit::RowEvents recipe_events{"recipes_audit_row", recipe_shape, "recipes r", "r"};
// The version, locked, with what a change or a decision reads of it (helper columns, read by name).
const db::Query lock_q{
    "recipes_lock",
    "SELECT " + recipe_json + ", r.status AS _status, r.author_id AS _author_id, r.name AS _name,"
    "       r.description AS _description, r.instrument_id AS _instrument_id, r.sop_id AS _sop_id,"
    "       r.parameters::text AS _parameters, r.extra_metadata::text AS _extra_metadata, r.version AS _version,"
    "       coalesce(r.root_recipe_id, r.id) AS _lineage"
    " FROM recipes r WHERE r.organization_id = $1 AND r.id = $2 AND NOT r.is_deleted FOR UPDATE"};
struct LockedRecipe {
  std::string status, author_id, name;
  std::optional<std::string> description, instrument_id, sop_id;
  std::string parameters, extra_metadata;
  std::int64_t version = 0;
  std::string lineage;
};
const db::Decoder<LockedRecipe> locked_recipe{
    lock_q,
    {{"_status", &LockedRecipe::status}, {"_author_id", &LockedRecipe::author_id}, {"_name", &LockedRecipe::name},
     {"_description", &LockedRecipe::description}, {"_instrument_id", &LockedRecipe::instrument_id},
     {"_sop_id", &LockedRecipe::sop_id}, {"_parameters", &LockedRecipe::parameters},
     {"_extra_metadata", &LockedRecipe::extra_metadata}, {"_version", &LockedRecipe::version},
     {"_lineage", &LockedRecipe::lineage}}};
// The latest version number of the recipe $2 belongs to.
const db::Query latest_q{
    "recipes_latest_version",
    "SELECT max(v.version) AS latest_version FROM recipes v, recipes r"
    " WHERE r.organization_id = $1 AND r.id = $2 AND v.organization_id = $1"
    "   AND coalesce(v.root_recipe_id, v.id) = coalesce(r.root_recipe_id, r.id) AND NOT v.is_deleted"};
struct LatestVersion {
  std::int64_t latest_version = 0;
};
const db::Decoder<LatestVersion> latest_version{latest_q, {{"latest_version", &LatestVersion::latest_version}}};
const db::Query update_q{
    "recipes_update",
    "WITH r AS (UPDATE recipes SET name = coalesce($3, name),"
    "             description = CASE WHEN $4 THEN $5 ELSE description END,"
    "             instrument_id = CASE WHEN $6 THEN $7::uuid ELSE instrument_id END,"
    "             sop_id = CASE WHEN $8 THEN $9::uuid ELSE sop_id END,"
    "             parameters = coalesce($10::jsonb, parameters), extra_metadata = coalesce($11::jsonb, extra_metadata)"
    "           WHERE organization_id = $1 AND id = $2 RETURNING *)"
    " SELECT " + recipe_json + " FROM r"};
const db::Query submit_q{
    "recipes_submit",
    "WITH r AS (UPDATE recipes SET status = 'PENDING_APPROVAL', submitted_at = now()"
    "           WHERE organization_id = $1 AND id = $2 RETURNING *)"
    " SELECT " + recipe_json + " FROM r"};
// The decisions so far on version $2 (who, how many approvals, whether an admin's is among them), who
// changed the version after it was written (its audit trail), and the organization's policy.
const db::Query decisions_q{
    "recipes_decisions",
    "SELECT coalesce(string_agg(a.approver_id::text, ','), '') AS approver_ids,"
    "       count(*) FILTER (WHERE a.decision = 'APPROVED') AS approvals,"
    "       (SELECT coalesce((o.settings->>'recipe_approvals_required')::int, 1) FROM organizations o WHERE o.id = $1)"
    "         AS approvals_required,"
    "       (SELECT coalesce((o.settings->>'final_approval_by_admin')::boolean, false) FROM organizations o WHERE o.id = $1)"
    "         AS final_approval_by_admin,"
    "       coalesce(bool_or(a.decision = 'APPROVED' AND u.role = 'admin'), false) AS admin_approved,"
    "       (SELECT coalesce(string_agg(DISTINCT ev.actor_id::text, ','), '') FROM audit_events ev"
    "         WHERE ev.organization_id = $1 AND ev.entity_type = 'recipe' AND ev.entity_id = $2"
    "           AND ev.action = 'recipe.update' AND ev.actor_id IS NOT NULL) AS updater_ids"
    " FROM recipe_approvals a JOIN users u ON u.organization_id = $1 AND u.id = a.approver_id"
    " WHERE a.organization_id = $1 AND a.recipe_id = $2"};
struct DecisionsSoFar {
  std::string approver_ids;  // comma-separated
  std::int64_t approvals = 0;
  std::int64_t approvals_required = 1;
  bool final_approval_by_admin = false;
  bool admin_approved = false;
  std::string updater_ids;  // comma-separated
};
const db::Decoder<DecisionsSoFar> decisions_so_far{
    decisions_q,
    {{"approver_ids", &DecisionsSoFar::approver_ids}, {"approvals", &DecisionsSoFar::approvals},
     {"approvals_required", &DecisionsSoFar::approvals_required},
     {"final_approval_by_admin", &DecisionsSoFar::final_approval_by_admin},
     {"admin_approved", &DecisionsSoFar::admin_approved}, {"updater_ids", &DecisionsSoFar::updater_ids}}};
const db::Query insert_decision_q{
    "recipes_insert_decision",
    "INSERT INTO recipe_approvals (organization_id, recipe_id, approver_id, decision, comment) VALUES ($1, $2, $3, $4, $5)"};
// The version approved before ($3 the lineage) is superseded by the one approved now ($2).
const db::Query supersede_q{
    "recipes_supersede",
    "UPDATE recipes SET status = 'SUPERSEDED'"
    " WHERE organization_id = $1 AND coalesce(root_recipe_id, id) = $3 AND status = 'APPROVED' AND id <> $2"};
const db::Query approve_q{
    "recipes_approve",
    "WITH r AS (UPDATE recipes SET status = 'APPROVED', approved_at = now() WHERE organization_id = $1 AND id = $2"
    "           RETURNING *) SELECT " + recipe_json + " FROM r"};
const db::Query reject_q{
    "recipes_reject",
    "WITH r AS (UPDATE recipes SET status = 'REJECTED', rejected_at = now() WHERE organization_id = $1 AND id = $2"
    "           RETURNING *) SELECT " + recipe_json + " FROM r"};

const db::Constraint instrument_missing{"recipes_organization_id_instrument_id_fkey", "instrument_id",
                                        "The instrument does not exist in your organization"};
const db::Constraint sop_missing{"recipes_organization_id_sop_id_fkey", "sop_id",
                                 "The SOP does not exist in your organization"};
const db::Constraint version_taken{"recipes_root_version_key", "version",
                                   "Another version of this recipe was made at the same time; reload it"};
const db::Constraint open_version_exists{"recipes_lineage_open_key", "version",
                                         "This recipe already has a version in draft or under review"};

const std::vector<std::string> statuses(std::begin(recipe_statuses), std::end(recipe_statuses));

// Approve or reject: the version's row is locked, so two deciders at the same moment take turns and the
// second sees the first's decision.
asio::awaitable<std::string> decide(RequestContext& ctx, const std::string& id, Decision decision,
                                    std::optional<std::string> comment) {
  co_return co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<std::string> {
    std::vector<db::Statement> read;
    read.push_back({&lock_q, db::Params(id)});
    read.push_back({&decisions_q, db::Params(id)});
    auto r = co_await w.exec_all(std::move(read));
    const auto& row = r[0];
    if (row.empty()) throw not_found("No such recipe");
    const LockedRecipe locked = locked_recipe(row);
    const DecisionsSoFar so_far = decisions_so_far(r[1]);
    const RecipeReview review{locked.status, locked.author_id, static_cast<int>(so_far.approvals),
                              kit::split_list(so_far.approver_ids), kit::split_list(so_far.updater_ids),
                              so_far.admin_approved};
    const ApprovalPolicy policy{static_cast<int>(so_far.approvals_required), so_far.final_approval_by_admin};
    const auto verdict = judge_decision(review, {ctx.principal.user_id, ctx.principal.role}, decision, policy);
    if (verdict.kind == DecisionVerdict::Kind::refused) throw refusal(verdict);

    const std::string lineage = locked.lineage;
    std::vector<db::Statement> write;
    write.push_back({&insert_decision_q, db::Params(id, ctx.principal.user_id,
                                                    decision == Decision::approve ? "APPROVED" : "REJECTED", comment)});
    if (verdict.kind == DecisionVerdict::Kind::approved) {
      write.push_back({&supersede_q, db::Params(id, lineage)});
      write.push_back({&approve_q, db::Params(id)});
    } else if (verdict.kind == DecisionVerdict::Kind::rejected) {
      write.push_back({&reject_q, db::Params(id)});
    }
    write.push_back({&get_q, db::Params(id)});
    auto done = co_await w.exec_all(std::move(write));
    std::string after = db::row_json(done.back());
    w.audit(decision == Decision::approve ? "recipe.approve" : "recipe.reject", "recipe", id, db::row_json(row),
            after);
    co_return after;
  });
}

}  // namespace

kit::Input<NewRecipe> NewRecipe::input() {
  return {"NewRecipe",
          {kit::field("name", &NewRecipe::name).max_length(200),
           kit::field("description", &NewRecipe::description).max_length(10000).multiline(),
           kit::field("instrument_id", &NewRecipe::instrument_id).uuid(),
           kit::field("sop_id", &NewRecipe::sop_id).uuid().describe("The SOP (a version of it) the recipe follows"),
           kit::field("parameters", &NewRecipe::parameters).object().required().describe("The process parameters"),
           kit::field("extra_metadata", &NewRecipe::extra_metadata).object()}};
}

kit::Input<RecipeChange> RecipeChange::input() {
  return {"RecipeChange",
          {kit::field("name", &RecipeChange::name).max_length(200).not_blank(),
           kit::field("description", &RecipeChange::description).max_length(10000).multiline(),
           kit::field("instrument_id", &RecipeChange::instrument_id).uuid(),
           kit::field("sop_id", &RecipeChange::sop_id).uuid(),
           kit::field("parameters", &RecipeChange::parameters).object(),
           kit::field("extra_metadata", &RecipeChange::extra_metadata).object()}};
}

kit::Input<RecipeFilters> RecipeFilters::input() {
  return {"RecipeFilters",
          {kit::field("status", &RecipeFilters::status).one_of(statuses),
           kit::field("q", &RecipeFilters::q).max_length(100).describe("Part of the name"),
           kit::field("instrument_id", &RecipeFilters::instrument_id).uuid(),
           kit::field("root_recipe_id", &RecipeFilters::root_recipe_id).uuid()
               .describe("Every version of one recipe (its first version's id)")}};
}

kit::Input<Approval> Approval::input() {
  return {"Approval", {kit::field("comment", &Approval::comment).max_length(2000).multiline().not_blank()}};
}

kit::Input<Rejection> Rejection::input() {
  return {"Rejection",
          {kit::field("comment", &Rejection::comment).max_length(2000).multiline().describe("Why: required to reject")}};
}

Reply list_recipes(RequestContext& ctx, QueryString<RecipeFilters> q, PageRequest page) {
  std::optional<std::string> like;
  if (q.q) like = "%" + kit::escape_like(*q.q) + "%";
  return recipes_list.page(ctx, db::Params(q.status, like, q.instrument_id, q.root_recipe_id), std::move(page));
}

Reply get_recipe(RequestContext& ctx, Path<kit::Id> p) { return kit::one(ctx, get_q, db::Params(p.id), "No such recipe"); }

Reply create_recipe(RequestContext& ctx, Body<NewRecipe> in) {
  const std::string id = crypto::uuid_v4();
  auto row = co_await kit::write(ctx, [&](kit::Write& w) {
    std::vector<db::Statement> checks;
    checks.push_back({&refs_live_q, db::Params(in.instrument_id, in.sop_id)});
    return w.create(insert_q,
                    db::Params(id, in.name, in.description, in.instrument_id, in.sop_id, in.parameters, 1,
                               std::optional<std::string>(), std::optional<std::string>(), ctx.principal.user_id,
                               in.extra_metadata),
                    {"recipe.create", "recipe"}, recipe_events, id, std::move(checks));
  });
  co_return http::Response::json(201, std::move(row));
}

// A DRAFT changes in place; an APPROVED or REJECTED version opens the next version (rules.hpp).
Reply update_recipe(RequestContext& ctx, Path<kit::Id> p, Body<RecipeChange> in) {
  auto after = co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<std::string> {
    std::vector<db::Statement> read;
    read.push_back({&lock_q, db::Params(p.id)});
    read.push_back({&latest_q, db::Params(p.id)});
    auto r = co_await w.exec_all(std::move(read));
    const auto& row = r[0];
    if (row.empty()) throw not_found("No such recipe");
    const LockedRecipe locked = locked_recipe(row);
    const int version = static_cast<int>(locked.version);
    const int latest = static_cast<int>(latest_version(r[1]).latest_version);
    const auto verdict = judge_recipe_edit(locked.status, version == latest, latest);
    if (verdict.kind == EditVerdict::Kind::refused) throw conflict(verdict.message);
    const std::string before = db::row_json(row);

    if (verdict.kind == EditVerdict::Kind::in_place) {
      std::vector<db::Statement> change;
      change.push_back({&refs_live_q, db::Params(in.instrument_id.value, in.sop_id.value)});
      change.push_back({&update_q, db::Params(p.id, in.name, in.description.present, in.description.value,
                                              in.instrument_id.present, in.instrument_id.value, in.sop_id.present,
                                              in.sop_id.value, in.parameters, in.extra_metadata)});
      auto u = co_await w.exec_all(std::move(change));
      std::string json = db::row_json(u[1]);
      w.audit("recipe.update", "recipe", p.id, before, json);
      co_return json;
    }
    // The next version: the old one's values, changed by the request; what it carries over must still be live.
    auto pick = [](const Nullable<std::string>& n, const std::optional<std::string>& stored) {
      return n.present ? n.value : stored;
    };
    const std::string next_id = crypto::uuid_v4();
    std::vector<db::Statement> next;
    next.push_back(
        {&refs_live_q, db::Params(pick(in.instrument_id, locked.instrument_id), pick(in.sop_id, locked.sop_id))});
    next.push_back({&insert_q, db::Params(next_id, in.name.value_or(locked.name),
                                          pick(in.description, locked.description),
                                          pick(in.instrument_id, locked.instrument_id), pick(in.sop_id, locked.sop_id),
                                          in.parameters.value_or(locked.parameters), latest + 1, locked.lineage, p.id,
                                          ctx.principal.user_id, in.extra_metadata.value_or(locked.extra_metadata))});
    auto ins = co_await w.exec_all(std::move(next));
    std::string json = db::row_json(ins[1]);
    w.audit("recipe.version", "recipe", next_id, before, json);
    co_return json;
  });
  co_return http::Response::json(200, std::move(after));
}

Reply submit_recipe(RequestContext& ctx, Path<kit::Id> p, OptionalBody<kit::Nothing>) {
  auto after = co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<std::string> {
    auto row = co_await w.exec(lock_q, db::Params(p.id));
    if (row.empty()) throw not_found("No such recipe");
    if (auto why = submit_refusal(locked_recipe(row).status)) throw conflict(*why);
    auto u = co_await w.exec(submit_q, db::Params(p.id));
    std::string json = db::row_json(u);
    w.audit("recipe.submit", "recipe", p.id, db::row_json(row), json);
    co_return json;
  });
  co_return http::Response::json(200, std::move(after));
}

Reply approve_recipe(RequestContext& ctx, Path<kit::Id> p, OptionalBody<Approval> in) {
  auto json = co_await decide(ctx, p.id, Decision::approve, in.comment);
  co_return http::Response::json(200, std::move(json));
}

Reply reject_recipe(RequestContext& ctx, Path<kit::Id> p, OptionalBody<Rejection> in) {
  auto json = co_await decide(ctx, p.id, Decision::reject, in.comment);
  co_return http::Response::json(200, std::move(json));
}

}  // namespace spectra::process
