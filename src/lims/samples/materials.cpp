// Materials: what samples are made of. A material in use by a live sample is not deleted.
#include "lims/samples/handlers.hpp"
#include "lims/samples/shapes.hpp"
#include "platform/crypto.hpp"
#include "platform/db/sql_error.hpp"

namespace asio = boost::asio;

namespace spectra::samples {
namespace {

const std::string material_json = material_shape.sql("m");

const kit::List materials_list{{
    .name = "materials_list",
    .select = material_json,
    .from = "materials m",
    .alias = "m",
    .where = "NOT m.is_deleted AND ($2::text IS NULL OR m.category = $2)"
             " AND ($3::text IS NULL OR m.name ILIKE '%' || $3 || '%' OR m.formula ILIKE '%' || $3 || '%')",
    .sorts = {{"name", "m.name", "text"}},
}};
const db::Query get_q{"materials_get", "SELECT " + material_json +
                                           " FROM materials m WHERE m.organization_id = $1 AND m.id = $2 AND NOT m.is_deleted"};
const db::Query insert_q{
    "materials_insert",
    "WITH m AS (INSERT INTO materials (organization_id, id, name, formula, category, properties, created_by,"
    "                                  extra_metadata)"
    "           VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8::jsonb) RETURNING *)"
    " SELECT " + material_json + " FROM m"};
const kit::RowEvents material_events{"materials_audit_row", material_shape, "materials m", "m"};
const db::Query lock_q{"materials_lock",
                       "SELECT " + material_json + " FROM materials m"
                       " WHERE m.organization_id = $1 AND m.id = $2 AND NOT m.is_deleted FOR UPDATE"};
const db::Query update_q{
    "materials_update",
    "WITH m AS (UPDATE materials SET name = coalesce($3, name),"
    "             formula = CASE WHEN $4 THEN $5 ELSE formula END, category = CASE WHEN $6 THEN $7 ELSE category END,"
    "             properties = coalesce($8::jsonb, properties), extra_metadata = coalesce($9::jsonb, extra_metadata)"
    "           WHERE organization_id = $1 AND id = $2 AND NOT is_deleted RETURNING *)"
    " SELECT " + material_json + " FROM m"};
const db::Query in_use_q{"materials_in_use",
                         "SELECT count(*) AS samples_using FROM samples"
                         " WHERE organization_id = $1 AND material_id = $2 AND NOT is_deleted"};
struct MaterialUse {
  std::int64_t samples_using = 0;
};
const db::Decoder<MaterialUse> material_use{in_use_q, {{"samples_using", &MaterialUse::samples_using}}};
const db::Query delete_q{"materials_delete",
                         "UPDATE materials SET is_deleted = true, deleted_at = now()"
                         " WHERE organization_id = $1 AND id = $2 AND NOT is_deleted"};
const db::Constraint name_taken{"materials_name_key", "name", "A material with this name already exists"};

const std::vector<std::string> categories = {"semiconductor", "metal", "oxide", "nitride", "polymer", "ceramic",
                                             "glass", "organic", "composite", "chemical", "gas", "other"};

}  // namespace

kit::Input<NewMaterial> NewMaterial::input() {
  return {"NewMaterial",
          {kit::field("name", &NewMaterial::name).max_length(200),
           kit::field("formula", &NewMaterial::formula).max_length(100).not_blank(),
           kit::field("category", &NewMaterial::category).one_of(categories),
           kit::field("properties", &NewMaterial::properties).object(),
           kit::field("extra_metadata", &NewMaterial::extra_metadata).object()}};
}

kit::Input<MaterialChange> MaterialChange::input() {
  return {"MaterialChange",
          {kit::field("name", &MaterialChange::name).max_length(200).not_blank(),
           kit::field("formula", &MaterialChange::formula).max_length(100).not_blank(),
           kit::field("category", &MaterialChange::category).one_of(categories),
           kit::field("properties", &MaterialChange::properties).object(),
           kit::field("extra_metadata", &MaterialChange::extra_metadata).object()}};
}

kit::Input<MaterialFilters> MaterialFilters::input() {
  return {"MaterialFilters",
          {kit::field("category", &MaterialFilters::category).one_of(categories),
           kit::field("q", &MaterialFilters::q).max_length(100).describe("Part of the name or the formula")}};
}

Reply list_materials(RequestContext& ctx, QueryString<MaterialFilters> q, PageRequest page) {
  std::optional<std::string> like;
  if (q.q) like = kit::escape_like(*q.q);
  return materials_list.page(ctx, db::Params(q.category, like), page);
}

Reply get_material(RequestContext& ctx, Path<kit::Id> p) {
  return kit::one(ctx, get_q, db::Params(p.id), "No such material");
}

Reply create_material(RequestContext& ctx, Body<NewMaterial> in) {
  const std::string id = crypto::uuid_v4();
  auto row = co_await kit::write(ctx, [&](kit::Write& w) {
    return w.create(insert_q,
                    db::Params(id, in.name, in.formula, in.category, in.properties, ctx.principal.user_id,
                               in.extra_metadata),
                    {"material.create", "material"}, material_events, id);
  });
  co_return http::Response::json(201, std::move(row));
}

Reply update_material(RequestContext& ctx, Path<kit::Id> p, Body<MaterialChange> in) {
  auto after = co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<std::string> {
    auto before = co_await w.exec(lock_q, db::Params(p.id));
    if (before.empty()) throw not_found("No such material");
    auto r = co_await w.exec(update_q, db::Params(p.id, in.name, in.formula.present, in.formula.value, in.category.present,
                                                  in.category.value, in.properties, in.extra_metadata));
    std::string row = db::row_json(r);
    w.audit("material.update", "material", p.id, db::row_json(before), row);
    co_return row;
  });
  co_return http::Response::json(200, std::move(after));
}

Reply delete_material(RequestContext& ctx, Path<kit::Id> p) {
  co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<void> {
    std::vector<db::Statement> read;
    read.push_back({&lock_q, db::Params(p.id)});
    read.push_back({&in_use_q, db::Params(p.id)});
    auto r = co_await w.exec_all(std::move(read));
    if (r[0].empty()) throw not_found("No such material");
    if (const auto n = material_use(r[1]).samples_using; n > 0)
      throw conflict("The material is used by " + std::to_string(n) + " sample" + (n == 1 ? "" : "s") +
                     "; change or delete them first");
    co_await w.exec(delete_q, db::Params(p.id));
    w.audit("material.delete", "material", p.id, db::row_json(r[0]), std::nullopt);
  });
  co_return http::Response::no_content();
}

}  // namespace spectra::samples
