// Import profiles: how one instrument's files map to results (reading.hpp), validated on save so that
// an import never meets a profile it cannot use. Engineers write them; every role reads them.
#include <boost/json.hpp>

#include "analysis/imports/handlers.hpp"
#include "analysis/imports/reading.hpp"
#include "analysis/imports/shapes.hpp"
#include "kit/data.hpp"
#include "platform/crypto.hpp"
#include "platform/db/sql_error.hpp"
#include "platform/json_text.hpp"

namespace asio = boost::asio;
namespace json = boost::json;

namespace spectra::imports {
namespace {

const std::string profile_json = profile_shape.sql("p");

const kit::List profiles_list{{
    .name = "import_profiles_list",
    .select = profile_json,
    .from = "import_profiles p",
    .alias = "p",
    .where = "($2::uuid IS NULL OR p.instrument_id = $2) AND ($3::text IS NULL OR p.name ILIKE $3)",
    .sorts = {{"name", "p.name", "text"}},
}};
const db::Query get_q{"import_profiles_get",
                      "SELECT " + profile_json + " FROM import_profiles p WHERE p.organization_id = $1 AND p.id = $2"};
// The instrument ($2) is live: 422 naming instrument_id otherwise.
const db::Query instrument_live_q{
    "import_profiles_instrument_live",
    "SELECT app.require_live('public.instruments', $1, $2, 'import_profiles_instrument_live') AS instrument"};
const db::Constraint instrument_deleted{"import_profiles_instrument_live", "instrument_id",
                                        "The instrument does not exist in your organization"};
const db::Constraint instrument_missing{"import_profiles_organization_id_instrument_id_fkey", "instrument_id",
                                        "The instrument does not exist in your organization"};
const db::Constraint name_taken{"import_profiles_name_key", "name", "An import profile of this name exists already"};
const db::Query insert_q{
    "import_profiles_insert",
    "WITH p AS (INSERT INTO import_profiles (organization_id, id, instrument_id, name, format, skip_lines, columns, metric,"
    "                                        unit, unit_scale, decimal_comma, created_by, extra_metadata)"
    "           VALUES ($1, $2, $3, $4, $5, $6::int, $7::jsonb, $8, $9, $10::float8, $11::boolean, $12, $13::jsonb)"
    "           RETURNING *)"
    " SELECT " + profile_json + " FROM p"};
const kit::RowEvents profile_events{"import_profiles_audit_row", profile_shape, "import_profiles p", "p"};
// The profile as it is, locked, with what a change merges into (helper columns).
const db::Query lock_q{
    "import_profiles_lock",
    "SELECT p.instrument_id AS _instrument_id, p.name AS _name, p.format AS _format, p.skip_lines AS _skip_lines,"
    "       p.columns::text AS _columns, p.metric AS _metric, p.unit AS _unit, p.unit_scale AS _unit_scale,"
    "       p.decimal_comma AS _decimal_comma, p.extra_metadata::text AS _extra_metadata, " + profile_json +
        " FROM import_profiles p WHERE p.organization_id = $1 AND p.id = $2 FOR UPDATE"};
struct Stored {
  std::string instrument_id, name, format;
  std::int64_t skip_lines = 0;
  std::string columns;
  std::optional<std::string> metric, unit;
  double unit_scale = 1;
  bool decimal_comma = false;
  std::string extra_metadata;
};
const db::Decoder<Stored> stored{
    lock_q,
    {{"_instrument_id", &Stored::instrument_id}, {"_name", &Stored::name}, {"_format", &Stored::format},
     {"_skip_lines", &Stored::skip_lines}, {"_columns", &Stored::columns}, {"_metric", &Stored::metric},
     {"_unit", &Stored::unit}, {"_unit_scale", &Stored::unit_scale}, {"_decimal_comma", &Stored::decimal_comma},
     {"_extra_metadata", &Stored::extra_metadata}}};
const db::Query update_q{
    "import_profiles_update",
    "WITH p AS (UPDATE import_profiles SET instrument_id = $3, name = $4, format = $5, skip_lines = $6::int,"
    "             columns = $7::jsonb, metric = $8, unit = $9, unit_scale = $10::float8, decimal_comma = $11::boolean,"
    "             extra_metadata = $12::jsonb"
    "           WHERE organization_id = $1 AND id = $2 RETURNING *)"
    " SELECT " + profile_json + " FROM p"};

const std::vector<std::string> formats = {"csv", "tsv"};

// The columns as stored: the given members only.
std::string columns_json(const Columns& c) {
  json::object o;
  for (const auto& [name, member] : column_members)
    if (const auto& header = c.*member) o[name] = *header;
  return json_text(o);
}

Columns columns_of(const ProfileColumns& in) {
  return {in.metric ? in.metric : in.metric_column, in.value, in.unit, in.x_mm, in.y_mm, in.die_x, in.die_y, in.site};
}

void refuse_problems(const Profile& p) {
  auto problems = profile_problems(p);
  if (problems.empty()) return;
  ApiError bad = unprocessable("The import profile cannot read files as given");
  for (auto& [field, message] : problems) bad.with_field(std::move(field), std::move(message));
  throw std::move(bad);
}

}  // namespace

Columns stored_columns(std::string_view text) {
  Columns c;
  const json::value v = json::parse(text);
  for (const auto& [name, member] : column_members)
    if (const auto* header = v.as_object().if_contains(name); header && header->is_string())
      c.*member = std::string(header->as_string());
  return c;
}

kit::Input<ProfileColumns> ProfileColumns::input() {
  auto name = [](const char* n, std::optional<std::string> ProfileColumns::*m, const char* what) {
    return kit::field(n, m).max_length(200).not_blank().describe(std::string("The header name of the column of ") + what);
  };
  kit::Input<ProfileColumns> in{
      "ProfileColumns",
          {name("metric", &ProfileColumns::metric, "the metric (or give the profile's metric)"),
           name("metric_column", &ProfileColumns::metric_column, "the metric (another name of metric)"),
           name("value", &ProfileColumns::value, "the values (required)"),
           name("unit", &ProfileColumns::unit, "the unit"),
           name("x_mm", &ProfileColumns::x_mm, "x in mm from the wafer's centre"),
           name("y_mm", &ProfileColumns::y_mm, "y in mm from the wafer's centre"),
           name("die_x", &ProfileColumns::die_x, "the die's column"),
           name("die_y", &ProfileColumns::die_y, "the die's row"),
           name("site", &ProfileColumns::site, "the site's name")}};
  in.also([](const ProfileColumns& c, kit::Problems& p) {
    if (c.metric && c.metric_column) p.add("metric_column", "names the metric column again: give metric or metric_column");
  });
  return in;
}

kit::Input<NewProfile> NewProfile::input() {
  kit::Input<NewProfile> in{
      "NewProfile",
      {kit::field("name", &NewProfile::name).max_length(200),
       kit::field("instrument_id", &NewProfile::instrument_id).uuid(),
       kit::field("format", &NewProfile::format).one_of(formats),
       kit::field("skip_lines", &NewProfile::skip_lines).or_default().min(0).max(1000)
           .describe("Lines before the header, not read"),
       kit::field("columns", &NewProfile::columns).describe("The header names that map to metric, value, unit and positions"),
       kit::field("metric", &NewProfile::metric).max_length(200).not_blank().describe("One metric per file"),
       kit::field("unit", &NewProfile::unit).max_length(50).not_blank()
           .describe("The unit when no column gives one"),
       kit::field("unit_scale", &NewProfile::unit_scale).or_default().describe("A factor applied to every value"),
       kit::field("decimal_comma", &NewProfile::decimal_comma).or_default()
           .describe("Numbers are written 1,5 (TSV profiles only)"),
       kit::field("extra_metadata", &NewProfile::extra_metadata).object()}};
  in.also([](const NewProfile& n, kit::Problems& p) {
    if (!n.columns && !p.has("columns")) p.add("columns", "is required: at least the value column's header name");
  });
  return in;
}

kit::Input<ProfileChange> ProfileChange::input() {
  return {"ProfileChange",
          {kit::field("name", &ProfileChange::name).max_length(200).not_blank(),
           kit::field("instrument_id", &ProfileChange::instrument_id).uuid(),
           kit::field("format", &ProfileChange::format).one_of(formats),
           kit::field("skip_lines", &ProfileChange::skip_lines).min(0).max(1000),
           kit::field("columns", &ProfileChange::columns).describe("Replaces the columns as a whole"),
           kit::field("metric", &ProfileChange::metric).max_length(200).not_blank(),
           kit::field("unit", &ProfileChange::unit).max_length(50).not_blank(),
           kit::field("unit_scale", &ProfileChange::unit_scale),
           kit::field("decimal_comma", &ProfileChange::decimal_comma),
           kit::field("extra_metadata", &ProfileChange::extra_metadata).object()}};
}

kit::Input<ProfileFilters> ProfileFilters::input() {
  return {"ProfileFilters",
          {kit::field("instrument_id", &ProfileFilters::instrument_id).uuid(),
           kit::field("q", &ProfileFilters::q).max_length(200).describe("Part of the name")}};
}

Reply list_profiles(RequestContext& ctx, QueryString<ProfileFilters> q, PageRequest page) {
  std::optional<std::string> like;
  if (q.q) like = "%" + kit::escape_like(*q.q) + "%";
  return profiles_list.page(ctx, db::Params(q.instrument_id, like), std::move(page));
}

Reply get_profile(RequestContext& ctx, Path<kit::Id> p) {
  return kit::one(ctx, get_q, db::Params(p.id), "No such import profile");
}

Reply create_profile(RequestContext& ctx, Body<NewProfile> in) {
  const Profile profile{in.format, in.skip_lines, columns_of(*in.columns), in.metric, in.unit, in.unit_scale,
                        in.decimal_comma};
  refuse_problems(profile);
  const std::string id = crypto::uuid_v4();
  auto row = co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<std::string> {
    std::vector<db::Statement> checks;
    checks.push_back({&instrument_live_q, db::Params(in.instrument_id)});
    co_return co_await w.create(
        insert_q,
        db::Params(id, in.instrument_id, in.name, in.format, in.skip_lines, columns_json(profile.columns), in.metric,
                   in.unit, in.unit_scale, in.decimal_comma, ctx.principal.user_id, in.extra_metadata),
        {"import_profile.create", "import_profile"}, profile_events, id, std::move(checks));
  });
  co_return http::Response::json(201, std::move(row));
}

Reply update_profile(RequestContext& ctx, Path<kit::Id> p, Body<ProfileChange> in) {
  auto after = co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<std::string> {
    auto before = co_await w.exec(lock_q, db::Params(p.id));
    if (before.empty()) throw not_found("No such import profile");
    const Stored was = stored(before);
    Profile merged{in.format.value_or(was.format),
                   in.skip_lines.value_or(static_cast<int>(was.skip_lines)),
                   in.columns ? columns_of(*in.columns) : stored_columns(was.columns),
                   in.metric.present ? in.metric.value : was.metric,
                   in.unit.present ? in.unit.value : was.unit,
                   in.unit_scale.value_or(was.unit_scale),
                   in.decimal_comma.value_or(was.decimal_comma)};
    refuse_problems(merged);
    const std::string instrument = in.instrument_id.value_or(was.instrument_id);
    std::vector<db::Statement> st;
    if (in.instrument_id) st.push_back({&instrument_live_q, db::Params(instrument)});
    st.push_back({&update_q, db::Params(p.id, instrument, in.name.value_or(was.name), merged.format, merged.skip_lines,
                                        columns_json(merged.columns), merged.metric, merged.unit, merged.unit_scale,
                                        merged.decimal_comma, in.extra_metadata.value_or(was.extra_metadata))});
    auto r = co_await w.exec_all(std::move(st));
    std::string json = db::row_json(r.back());
    w.audit("import_profile.update", "import_profile", p.id, db::row_json(before), json);
    co_return json;
  });
  co_return http::Response::json(200, std::move(after));
}

}  // namespace spectra::imports
