// Specifications: limits per metric for a material, a recipe or a sample type, versioned like SOPs. A
// version is written as a DRAFT and changes in place; a PI or an admin who neither wrote nor changed it
// approves it (it becomes EFFECTIVE and the lineage's effective version OBSOLETE, in one transaction
// with every version of the lineage locked) or rejects it. A change to an EFFECTIVE or REJECTED version
// makes the next version, a DRAFT: what a run was judged against never changes (a trigger backs it).
#include <boost/json.hpp>

#include "lims/process/drafts.hpp"
#include "lims/quality/handlers.hpp"
#include "lims/quality/rules.hpp"
#include "lims/quality/shapes.hpp"
#include "platform/crypto.hpp"
#include "platform/db/sql_error.hpp"
#include "platform/json_text.hpp"

namespace asio = boost::asio;
namespace json = boost::json;

namespace spectra::quality {
namespace {

const std::string spec_json = specification_shape.sql("s");
// One version with its lineage's versions (oldest first) and who changed it after it was written.
const std::string spec_detail =
    spec_json +
    ", (SELECT coalesce(array_agg(DISTINCT ev.actor_id), '{}') FROM audit_events ev"
    "    WHERE ev.organization_id = $1 AND ev.entity_type = 'specification' AND ev.entity_id = s.id"
    "      AND ev.action = 'specification.update' AND ev.actor_id IS NOT NULL) AS editors,"
    " (SELECT jsonb_agg(jsonb_build_object('id', v.id, 'version', v.version, 'status', v.status, 'name', v.name,"
    "                 'author_id', v.author_id, 'approved_by', v.approved_by, 'approved_at', v.approved_at,"
    "                 'created_at', v.created_at) ORDER BY v.version)"
    "    FROM specifications v WHERE v.organization_id = $1 AND v.lineage_id = s.lineage_id) AS versions";

const kit::List specifications_list{{
    .name = "specifications_list",
    .select = spec_json,
    .from = "specifications s",
    .alias = "s",
    .where = "($2::text IS NULL OR s.status = $2) AND ($3::text IS NULL OR s.name ILIKE $3)"
             " AND ($4::uuid IS NULL OR s.material_id = $4) AND ($5::uuid IS NULL OR s.recipe_id = $5)"
             " AND ($6::text IS NULL OR s.sample_type = $6) AND ($7::uuid IS NULL OR s.lineage_id = $7)",
    .sorts = {{"name", "s.name", "text"}, {"updated_at", "s.updated_at", "timestamptz"}},
}};
const db::Query get_q{"specifications_get",
                      "SELECT " + spec_detail + " FROM specifications s WHERE s.organization_id = $1 AND s.id = $2"};
// The references ($2 material, $3 recipe) are live: 23503 naming the field otherwise.
const db::Query refs_live_q{"specifications_refs_live",
                            "SELECT app.require_live('public.materials', $1, $2, 'specifications_material_live') AS material,"
                            "       app.require_live('public.recipes', $1, $3, 'specifications_recipe_live') AS recipe"};
const db::Constraint material_deleted{"specifications_material_live", "applies_to.material_id",
                                      "A referenced record does not exist in your organization"};
const db::Constraint recipe_deleted{"specifications_recipe_live", "applies_to.recipe_id",
                                    "A referenced record does not exist in your organization"};
const db::Constraint material_missing{"specifications_organization_id_material_id_fkey", "applies_to.material_id",
                                      "The material does not exist in your organization"};
const db::Constraint recipe_missing{"specifications_organization_id_recipe_id_fkey", "applies_to.recipe_id",
                                    "The recipe does not exist in your organization"};
const db::Constraint draft_exists{"specifications_draft_key", "version",
                                  "This specification has a DRAFT version already: change that one"};
const db::Constraint version_taken{"specifications_lineage_version_key", "version",
                                   "Another version of this specification was made at the same time; reload it"};

const db::Query insert_q{
    "specifications_insert",
    "WITH s AS (INSERT INTO specifications (organization_id, id, lineage_id, version, name, description, material_id,"
    "                                       recipe_id, sample_type, limits, previous_version_id, author_id, extra_metadata)"
    "           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11, $12, $13::jsonb) RETURNING *)"
    " SELECT " + spec_json + " FROM s"};
const kit::RowEvents spec_events{"specifications_audit_row", specification_shape, "specifications s", "s"};
// Every version of the lineage of version $2, locked in version order (two writers take turns, never
// deadlock), with what a change or a decision reads (helper columns), then the version's shape.
const db::Query lock_lineage_q{
    "specifications_lock_lineage",
    "SELECT s.id AS _id, s.version AS _version, s.status AS _status, s.lineage_id AS _lineage,"
    "       coalesce(s.author_id::text, '') AS _author_id, s.name AS _name, s.description AS _description,"
    "       s.material_id AS _material_id, s.recipe_id AS _recipe_id, s.sample_type AS _sample_type,"
    "       s.limits::text AS _limits, s.extra_metadata::text AS _extra_metadata, " + spec_json +
        " FROM specifications s WHERE s.organization_id = $1"
        "   AND s.lineage_id = (SELECT c.lineage_id FROM specifications c WHERE c.organization_id = $1 AND c.id = $2)"
        " ORDER BY s.version FOR UPDATE"};
struct LockedVersion {
  std::string id;
  std::int64_t version = 0;
  std::string status, lineage, author_id, name;
  std::optional<std::string> description, material_id, recipe_id, sample_type;
  std::string limits, extra_metadata;
};
const db::Decoder<LockedVersion> locked_version{
    lock_lineage_q,
    {{"_id", &LockedVersion::id}, {"_version", &LockedVersion::version}, {"_status", &LockedVersion::status},
     {"_lineage", &LockedVersion::lineage}, {"_author_id", &LockedVersion::author_id}, {"_name", &LockedVersion::name},
     {"_description", &LockedVersion::description}, {"_material_id", &LockedVersion::material_id},
     {"_recipe_id", &LockedVersion::recipe_id}, {"_sample_type", &LockedVersion::sample_type},
     {"_limits", &LockedVersion::limits}, {"_extra_metadata", &LockedVersion::extra_metadata}}};
// Who changed version $2 after it was written (its audit trail): like its author, they never decide on it.
const db::Query editors_q{
    "specifications_editors",
    "SELECT coalesce(string_agg(DISTINCT ev.actor_id::text, ','), '') AS editor_ids FROM audit_events ev"
    " WHERE ev.organization_id = $1 AND ev.entity_type = 'specification' AND ev.entity_id = $2"
    "   AND ev.action = 'specification.update' AND ev.actor_id IS NOT NULL"};
const db::Query update_q{
    "specifications_update",
    "WITH s AS (UPDATE specifications SET name = $3, description = $4, material_id = $5, recipe_id = $6,"
    "             sample_type = $7, limits = $8::jsonb, extra_metadata = $9::jsonb"
    "           WHERE organization_id = $1 AND id = $2 RETURNING *)"
    " SELECT " + spec_json + " FROM s"};
const db::Query obsolete_q{
    "specifications_obsolete",
    "WITH s AS (UPDATE specifications SET status = 'OBSOLETE' WHERE organization_id = $1 AND id = $2 RETURNING *)"
    " SELECT " + spec_json + " FROM s"};
const db::Query effective_q{
    "specifications_effective",
    "WITH s AS (UPDATE specifications SET status = 'EFFECTIVE', approved_by = $3, approved_at = now(),"
    "             decision_comment = $4 WHERE organization_id = $1 AND id = $2 RETURNING *)"
    " SELECT " + spec_json + " FROM s"};
const db::Query reject_q{
    "specifications_reject",
    "WITH s AS (UPDATE specifications SET status = 'REJECTED', rejected_by = $3, rejected_at = now(),"
    "             decision_comment = $4 WHERE organization_id = $1 AND id = $2 RETURNING *)"
    " SELECT " + spec_json + " FROM s"};

const process::DraftDocument specification_document{"specification", "specification", lock_lineage_q, editors_q,
                                                     obsolete_q, effective_q, reject_q, "specification.approve"};

const std::vector<std::string> statuses = {"DRAFT", "EFFECTIVE", "OBSOLETE", "REJECTED"};
const std::vector<std::string> sample_types = {"wafer", "die", "powder", "film", "bulk", "solution", "other"};

std::vector<Limit> limits_of(const std::vector<LimitInput>& in) {
  std::vector<Limit> out;
  out.reserve(in.size());
  for (const auto& l : in) out.push_back({l.metric, l.unit, l.lsl, l.usl, l.target, l.warn_low, l.warn_high, l.lod});
  return out;
}

// The limits as stored: each limit's given members, in a fixed order.
std::string limits_json(const std::vector<LimitInput>& in) {
  json::array a;
  for (const auto& l : in) {
    json::object o{{"metric", l.metric}};
    if (l.unit) o["unit"] = *l.unit;
    for (auto [name, v] : {std::pair{"lsl", l.lsl}, {"usl", l.usl}, {"target", l.target}, {"warn_low", l.warn_low},
                           {"warn_high", l.warn_high}, {"lod", l.lod}})
      if (v) o[name] = *v;
    a.push_back(std::move(o));
  }
  return json_text(a);
}

void check_limits(const std::optional<std::vector<LimitInput>>& limits, kit::Problems& p) {
  if (!limits) return;
  if (limits->empty() && !p.has("limits")) p.add("limits", "must hold at least one limit");
  for (auto& problem : limit_problems(limits_of(*limits))) p.add(std::move(problem.field), std::move(problem.message));
}

void check_applies_to(const std::optional<AppliesTo>& a, kit::Problems& p) {
  if (a && !a->material_id && !a->recipe_id && !a->sample_type)
    p.add("applies_to", "name at least one of material_id, recipe_id and sample_type");
}

// The lineage's rows, and the row of version `id` among them (-1: none).
int row_of(const db::Result& r, const std::string& id) {
  for (int i = 0; i < r.rows(); ++i)
    if (locked_version(r, i).id == id) return i;
  return -1;
}

}  // namespace

kit::Input<AppliesTo> AppliesTo::input() {
  return {"AppliesTo",
          {kit::field("material_id", &AppliesTo::material_id).uuid(),
           kit::field("recipe_id", &AppliesTo::recipe_id).uuid().describe("A recipe (a version of it)"),
           kit::field("sample_type", &AppliesTo::sample_type).one_of(sample_types)}};
}

kit::Input<LimitInput> LimitInput::input() {
  return {"Limit",
          {kit::field("metric", &LimitInput::metric).max_length(200),
           kit::field("unit", &LimitInput::unit).max_length(50).not_blank().describe("A known unit: nm, µm, V, ohm/sq, %, ..."),
           kit::field("lsl", &LimitInput::lsl).describe("Lower specification limit (a value equal to it passes)"),
           kit::field("usl", &LimitInput::usl).describe("Upper specification limit (a value equal to it passes)"),
           kit::field("target", &LimitInput::target),
           kit::field("warn_low", &LimitInput::warn_low).describe("Below it (inside the limits) a result warns"),
           kit::field("warn_high", &LimitInput::warn_high).describe("Above it (inside the limits) a result warns"),
           kit::field("lod", &LimitInput::lod).describe("Limit of detection: below it a result is below_lod")}};
}

kit::Input<NewSpecification> NewSpecification::input() {
  kit::Input<NewSpecification> in{
      "NewSpecification",
      {kit::field("name", &NewSpecification::name).max_length(200),
       kit::field("description", &NewSpecification::description).max_length(10000).multiline(),
       kit::field("applies_to", &NewSpecification::applies_to)
           .describe("What it applies to: material_id, recipe_id and/or sample_type (at least one)"),
       kit::field("limits", &NewSpecification::limits).max_length(200).describe("The limits, one per metric"),
       kit::field("extra_metadata", &NewSpecification::extra_metadata).object()}};
  in.also([](const NewSpecification& s, kit::Problems& p) {
    if (!s.applies_to && !p.has("applies_to")) p.add("applies_to", "is required");
    if (!s.limits && !p.has("limits")) p.add("limits", "is required");
    check_applies_to(s.applies_to, p);
    check_limits(s.limits, p);
  });
  return in;
}

kit::Input<SpecificationChange> SpecificationChange::input() {
  kit::Input<SpecificationChange> in{
      "SpecificationChange",
      {kit::field("name", &SpecificationChange::name).max_length(200).not_blank(),
       kit::field("description", &SpecificationChange::description).max_length(10000).multiline(),
       kit::field("applies_to", &SpecificationChange::applies_to),
       kit::field("limits", &SpecificationChange::limits).max_length(200),
       kit::field("extra_metadata", &SpecificationChange::extra_metadata).object()}};
  in.also([](const SpecificationChange& s, kit::Problems& p) {
    check_applies_to(s.applies_to, p);
    check_limits(s.limits, p);
  });
  return in;
}

kit::Input<SpecificationFilters> SpecificationFilters::input() {
  return {"SpecificationFilters",
          {kit::field("status", &SpecificationFilters::status).one_of(statuses),
           kit::field("q", &SpecificationFilters::q).max_length(100).describe("Part of the name"),
           kit::field("material_id", &SpecificationFilters::material_id).uuid(),
           kit::field("recipe_id", &SpecificationFilters::recipe_id).uuid(),
           kit::field("sample_type", &SpecificationFilters::sample_type).one_of(sample_types),
           kit::field("lineage_id", &SpecificationFilters::lineage_id).uuid()
               .describe("Every version of one specification (its first version's id)")}};
}

kit::Input<Decision> Decision::input() {
  return {"SpecificationDecision",
          {kit::field("comment", &Decision::comment).max_length(2000).multiline().not_blank()}};
}

Reply list_specifications(RequestContext& ctx, QueryString<SpecificationFilters> q, PageRequest page) {
  std::optional<std::string> like;
  if (q.q) like = "%" + kit::escape_like(*q.q) + "%";
  return specifications_list.page(
      ctx, db::Params(q.status, like, q.material_id, q.recipe_id, q.sample_type, q.lineage_id), std::move(page));
}

Reply get_specification(RequestContext& ctx, Path<kit::Id> p) {
  return kit::one(ctx, get_q, db::Params(p.id), "No such specification");
}

Reply create_specification(RequestContext& ctx, Body<NewSpecification> in) {
  const std::string id = crypto::uuid_v4();
  const AppliesTo& to = *in.applies_to;
  auto row = co_await kit::write(ctx, [&](kit::Write& w) {
    std::vector<db::Statement> checks;
    checks.push_back({&refs_live_q, db::Params(to.material_id, to.recipe_id)});
    return w.create(insert_q,
                    db::Params(id, id, 1, in.name, in.description, to.material_id, to.recipe_id, to.sample_type,
                               limits_json(*in.limits), std::optional<std::string>(), ctx.principal.user_id,
                               in.extra_metadata),
                    {"specification.create", "specification"}, spec_events, id, std::move(checks));
  });
  co_return http::Response::json(201, std::move(row));
}

// A DRAFT changes in place; the latest EFFECTIVE or REJECTED version gets the next version, a DRAFT
// (one DRAFT per lineage); an OBSOLETE version, or one with a newer version, does not change.
Reply update_specification(RequestContext& ctx, Path<kit::Id> p, Body<SpecificationChange> in) {
  auto after = co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<std::string> {
    auto lineage = co_await w.exec(lock_lineage_q, db::Params(p.id));
    const int at = row_of(lineage, p.id);
    if (at < 0) throw not_found("No such specification");
    const LockedVersion v = locked_version(lineage, at);
    const LockedVersion latest = locked_version(lineage, lineage.rows() - 1);
    const std::string before = db::row_json(lineage, at);
    // The values after the change: the request's, else the version's.
    std::optional<std::string> material = v.material_id, recipe = v.recipe_id, sample_type = v.sample_type;
    if (in.applies_to) {
      material = in.applies_to->material_id;
      recipe = in.applies_to->recipe_id;
      sample_type = in.applies_to->sample_type;
    }
    const std::string name = in.name.value_or(v.name);
    const auto description = in.description.present ? in.description.value : v.description;
    const std::string limits = in.limits ? limits_json(*in.limits) : v.limits;
    const std::string extra = in.extra_metadata.value_or(v.extra_metadata);
    std::vector<db::Statement> st;
    st.push_back({&refs_live_q, db::Params(material, recipe)});
    if (v.status == "DRAFT") {
      st.push_back({&update_q, db::Params(p.id, name, description, material, recipe, sample_type, limits, extra)});
      auto u = co_await w.exec_all(std::move(st));
      std::string json = db::row_json(u[1]);
      w.audit("specification.update", "specification", p.id, before, json);
      co_return json;
    }
    if (latest.id != v.id)
      throw conflict("A newer version of this specification exists (version " + std::to_string(latest.version) +
                     ", " + latest.status + "): change that one");
    if (v.status != "EFFECTIVE" && v.status != "REJECTED")
      throw conflict("This specification version is " + v.status + " and does not change");
    const std::string next_id = crypto::uuid_v4();
    st.push_back({&insert_q, db::Params(next_id, v.lineage, v.version + 1, name, description, material, recipe,
                                        sample_type, limits, p.id, ctx.principal.user_id, extra)});
    auto ins = co_await w.exec_all(std::move(st));
    std::string json = db::row_json(ins[1]);
    w.audit("specification.version", "specification", next_id, before, json);
    co_return json;
  });
  co_return http::Response::json(200, std::move(after));
}

Reply approve_specification(RequestContext& ctx, Path<kit::Id> p, OptionalBody<Decision> in) {
  auto after = co_await kit::write(
      ctx, [&](kit::Write& w) { return process::approve_draft(ctx, w, specification_document, p.id, in.comment); });
  co_return http::Response::json(200, std::move(after));
}

Reply reject_specification(RequestContext& ctx, Path<kit::Id> p, OptionalBody<Decision> in) {
  if (!in.comment) throw unprocessable("Say why the specification is rejected").with_field("comment", "is required");
  auto after = co_await kit::write(
      ctx, [&](kit::Write& w) { return process::reject_draft(ctx, w, specification_document, p.id, in.comment); });
  co_return http::Response::json(200, std::move(after));
}

}  // namespace spectra::quality
