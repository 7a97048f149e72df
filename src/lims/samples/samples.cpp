// Samples: create (with its first custody event), read, list (filters, search, barcode scan, CSV
// export), change, soft delete, and printable labels.
#include <algorithm>

#include "lims/samples/handlers.hpp"
#include "lims/samples/labels.hpp"
#include "lims/samples/rules.hpp"
#include "lims/samples/shapes.hpp"
#include "platform/blocking.hpp"
#include "platform/crypto.hpp"
#include "platform/db/sql_error.hpp"

namespace asio = boost::asio;

namespace spectra::samples {
namespace {

const std::string sample_json = sample_shape.sql("s");

// The filters every sample list shares ($3..$7); the barcode ($2) is either a filter or the scan.
constexpr std::string_view shared_filters =
    " AND ($3::uuid IS NULL OR s.material_id = $3) AND ($4::text IS NULL OR s.status = $4)"
    " AND ($5::text IS NULL OR s.sample_type = $5) AND ($6::text IS NULL OR s.location = $6)"
    " AND ($7::text IS NULL OR s.name ILIKE $7 OR s.barcode ILIKE $7)";
// The CSV columns are the create fields (what an import reads back), the id (which links parents
// within a file) and the creation time (for reference).
const std::vector<kit::CsvColumn> csv_columns = {
    {"id", "s.id"},
    {"barcode", "s.barcode"},
    {"name", "s.name"},
    {"sample_type", "s.sample_type"},
    {"material_id", "s.material_id"},
    {"parent_sample_id", "s.parent_sample_id"},
    {"location", "s.location"},
    {"status", "s.status"},
    {"extra_metadata", "s.extra_metadata"},
    {"created_at", "to_jsonb(s.created_at) #>> '{}'"},  // the same text as in the JSON
};
// A list of samples whose barcode filter is `barcode`; every other filter, the sorts and the CSV
// columns are the same for all of them.
kit::List::Spec sample_list(std::string name, std::string_view barcode, int always_given) {
  return {.name = std::move(name),
          .select = sample_json,
          .from = "samples s",
          .alias = "s",
          .where = "NOT s.is_deleted AND " + std::string(barcode) + std::string(shared_filters),
          .sorts = {{"name", "s.name", "text"}, {"updated_at", "s.updated_at", "timestamptz"}},
          .csv = csv_columns,
          .always_given = always_given};
}
const kit::List samples_list{sample_list("samples_list", "($2::text IS NULL OR s.barcode = $2)", 0)};
// A scan (?barcode=) is its own statement, so that its plan is always the barcode index's lookup.
const kit::List samples_scan{sample_list("samples_scan", "s.barcode = $2", 1)};

const db::Query get_q{"samples_get", "SELECT " + sample_json +
                                         " FROM samples s WHERE s.organization_id = $1 AND s.id = $2 AND NOT s.is_deleted"};
// The sample's references ($2 parent, $3 material), when given, are not soft-deleted (the foreign
// keys refuse absent ones): raises 23503 naming the reference otherwise. Each is locked FOR SHARE, so
// that a delete of either waits until this transaction ends, and then sees the sample that now uses it.
const db::Query refs_live_q{"samples_refs_live",
                            "SELECT app.require_live('public.samples', $1, $2, 'samples_parent_live') AS parent,"
                            "       app.require_live('public.materials', $1, $3, 'samples_material_live') AS material"};
// A new sample's audit event: the row as the API shows it.
const kit::RowEvents sample_events{"samples_audit_row", sample_shape, "samples s", "s"};
// The sample and its creation event, the first link of its custody chain ($2 is the new id).
const db::Query insert_q{
    "samples_insert",
    "WITH s AS (INSERT INTO samples (organization_id, id, name, barcode, sample_type, material_id, parent_sample_id,"
    "                                location, status, custody_seq, created_by, extra_metadata)"
    "           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $11::jsonb) RETURNING *),"
    " e AS (INSERT INTO custody_events (organization_id, sample_id, seq, event_type, to_location, actor_id)"
    "       VALUES ($1, $2, 1, 'create', $8, $10))"
    " SELECT " + sample_json + " FROM s"};
const db::Query lock_q{"samples_lock", "SELECT " + sample_json + ", s.status AS _status"
                                           " FROM samples s WHERE s.organization_id = $1 AND s.id = $2 AND NOT s.is_deleted"
                                           " FOR UPDATE"};
// Parent changes in one organization take turns, so that two of them cannot close a cycle together.
const db::Query lineage_lock_q{"samples_lineage_lock",
                               "SELECT pg_advisory_xact_lock(hashtextextended('samples.lineage:' || $1::text, 0))"};
const db::Query would_cycle_q{"samples_would_cycle", "SELECT app.sample_lineage_includes($1, $3, $2) AS would_cycle"};
struct WouldCycle {
  bool would_cycle = false;
};
const db::Decoder<WouldCycle> would_cycle{would_cycle_q, {{"would_cycle", &WouldCycle::would_cycle}}};
const db::Query update_q{
    "samples_update",
    "WITH s AS (UPDATE samples SET name = coalesce($3, name), barcode = coalesce($4, barcode),"
    "             sample_type = coalesce($5, sample_type),"
    "             material_id = CASE WHEN $6 THEN $7::uuid ELSE material_id END,"
    "             parent_sample_id = CASE WHEN $8 THEN $9::uuid ELSE parent_sample_id END,"
    "             extra_metadata = coalesce($10::jsonb, extra_metadata), status = coalesce($11, status)"
    "           WHERE organization_id = $1 AND id = $2 AND NOT is_deleted RETURNING *)"
    " SELECT " + sample_json + " FROM s"};
const db::Query delete_q{"samples_delete", "UPDATE samples SET is_deleted = true, deleted_at = now()"
                                           " WHERE organization_id = $1 AND id = $2 AND NOT is_deleted"};
const db::Query label_q{"samples_label", "SELECT s.name, s.barcode FROM samples s"
                                         " WHERE s.organization_id = $1 AND s.id = $2 AND NOT s.is_deleted"};
const db::Decoder<LabelText> label_text{label_q, {{"name", &LabelText::name}, {"barcode", &LabelText::barcode}}};
const db::Query sheet_q{"samples_label_sheet",
                        "SELECT x.id::text, s.name, s.barcode FROM unnest($2::uuid[]) WITH ORDINALITY AS x(id, n)"
                        " LEFT JOIN samples s ON s.organization_id = $1 AND s.id = x.id AND NOT s.is_deleted"
                        " ORDER BY x.n"};
// A row of sheet_q: name NULL when the sample is absent, barcode "" when it has none.
struct SheetLabel {
  std::optional<std::string> name;
  std::string barcode;
};
const db::Decoder<SheetLabel> sheet_label{sheet_q, {{"name", &SheetLabel::name}, {"barcode", &SheetLabel::barcode}}};

const db::Constraint barcode_taken{"samples_barcode_key", "barcode", "A sample with this barcode already exists"};
const db::Constraint material_missing{"samples_organization_id_material_id_fkey", "material_id",
                                      "The material does not exist in your organization"};
const db::Constraint parent_missing{"samples_organization_id_parent_sample_id_fkey", "parent_sample_id",
                                    "The parent sample does not exist in your organization"};
const db::Constraint parent_deleted{"samples_parent_live", "parent_sample_id",
                                    "A referenced record does not exist in your organization"};
const db::Constraint material_deleted{"samples_material_live", "material_id",
                                      "A referenced record does not exist in your organization"};
const db::Constraint parent_self{"samples_check", "parent_sample_id", "A sample cannot be its own parent",
                                 "cannot be the sample itself"};

const std::vector<std::string> sample_types = {"wafer", "die", "powder", "film", "bulk", "solution", "other"};
const std::vector<std::string> statuses = {"available", "in_use", "checked_out", "consumed", "disposed", "quarantined"};
// A new sample is not checked out: that is a custody move, which names its holder.
const std::vector<std::string> initial_statuses = {"available", "in_use", "quarantined", "consumed", "disposed"};
// What a change may set (a sample at hand, not checked out, consumed or disposed: custody moves do that).
const std::vector<std::string> settable_statuses = {"available", "in_use", "quarantined"};

std::optional<std::string> barcode_rule(const std::string& b) { return barcode_problem(b); }

LabelFormat label_format(const std::string& f) {
  return f == "png" ? LabelFormat::png : f == "zpl" ? LabelFormat::zpl : LabelFormat::svg;
}

}  // namespace

kit::Input<NewSample> NewSample::input() {
  return {"NewSample",
          {kit::field("name", &NewSample::name).max_length(200),
           kit::field("barcode", &NewSample::barcode).max_length(64).rule(barcode_rule)
               .describe("Generated when absent: XXXX-XXXX-C with a check symbol"),
           kit::field("sample_type", &NewSample::sample_type).one_of(sample_types),
           kit::field("material_id", &NewSample::material_id).uuid(),
           kit::field("parent_sample_id", &NewSample::parent_sample_id).uuid(),
           kit::field("location", &NewSample::location).max_length(200).not_blank(),
           kit::field("status", &NewSample::status).or_default().one_of(initial_statuses),
           kit::field("extra_metadata", &NewSample::extra_metadata).object()}};
}

kit::Input<SampleChange> SampleChange::input() {
  return {"SampleChange",
          {kit::field("name", &SampleChange::name).max_length(200).not_blank(),
           kit::field("barcode", &SampleChange::barcode).max_length(64).rule(barcode_rule),
           kit::field("sample_type", &SampleChange::sample_type).one_of(sample_types),
           kit::field("material_id", &SampleChange::material_id).uuid(),
           kit::field("parent_sample_id", &SampleChange::parent_sample_id).uuid(),
           kit::field("status", &SampleChange::status).one_of(settable_statuses)
               .describe("available, in_use or quarantined, for a sample at hand (custody moves do the rest)"),
           kit::field("extra_metadata", &SampleChange::extra_metadata).object()}};
}

kit::Input<SampleFilters> SampleFilters::input() {
  return {"SampleFilters",
          {kit::field("barcode", &SampleFilters::barcode).max_length(64).rule(barcode_rule)
               .describe("Exact barcode (a scan)"),
           kit::field("material_id", &SampleFilters::material_id).uuid(),
           kit::field("status", &SampleFilters::status).one_of(statuses),
           kit::field("sample_type", &SampleFilters::sample_type).one_of(sample_types),
           kit::field("location", &SampleFilters::location).max_length(200),
           kit::field("q", &SampleFilters::q).max_length(100).describe("Part of the name or the barcode"),
           kit::field("format", &SampleFilters::format).one_of({"json", "csv"})
               .describe("csv exports every matching sample (as does Accept: text/csv)")}};
}

kit::Input<LabelOptions> LabelOptions::input() {
  return {"LabelOptions", {kit::field("format", &LabelOptions::format).or_default().one_of({"svg", "png", "zpl"})}};
}

kit::Input<LabelSheet> LabelSheet::input() {
  kit::Input<LabelSheet> in{"LabelSheet",
                            {kit::field("sample_ids", &LabelSheet::sample_ids).max_length(500),
                             kit::field("format", &LabelSheet::format).or_default().one_of({"pdf", "zpl"})}};
  in.also([](const LabelSheet& s, kit::Problems& p) {
    if (s.sample_ids.empty()) p.add("sample_ids", "must name at least one sample");
    kit::check_id_list("sample_ids", s.sample_ids, p);  // each sample once: a sheet is not a print run
  });
  return in;
}

Reply list_samples(RequestContext& ctx, QueryString<SampleFilters> q, PageRequest page) {
  std::optional<std::string> like;
  if (q.q) like = "%" + kit::escape_like(*q.q) + "%";
  const kit::List& list = q.barcode ? samples_scan : samples_list;
  db::Params filters(q.barcode, q.material_id, q.status, q.sample_type, q.location, like);
  const auto accept = ctx.req.header("accept");
  const bool csv = q.format ? *q.format == "csv" : accept && accept->find("text/csv") != std::string_view::npos;
  if (csv) return list.csv(ctx, std::move(filters), page.sort, "samples.csv");
  return list.page(ctx, std::move(filters), std::move(page));
}

Reply get_sample(RequestContext& ctx, Path<kit::Id> p) { return kit::one(ctx, get_q, db::Params(p.id), "No such sample"); }

Reply create_sample(RequestContext& ctx, Body<NewSample> in) {
  const std::string id = crypto::uuid_v4();
  const std::string barcode = in.barcode.value_or(generate_barcode());
  // One round trip: the references' check, the sample with its creation event, its audit event, COMMIT.
  auto row = co_await kit::write(ctx, [&](kit::Write& w) {
    std::vector<db::Statement> checks;
    checks.push_back({&refs_live_q, db::Params(in.parent_sample_id, in.material_id)});
    return w.create(insert_q,
                    db::Params(id, in.name, barcode, in.sample_type, in.material_id, in.parent_sample_id, in.location,
                               in.status, ctx.principal.user_id, in.extra_metadata),
                    {"sample.create", "sample"}, sample_events, id, std::move(checks));
  });
  co_return http::Response::json(201, std::move(row));
}

Reply update_sample(RequestContext& ctx, Path<kit::Id> p, Body<SampleChange> in) {
  auto after = co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<std::string> {
    const bool new_parent = in.parent_sample_id.present && in.parent_sample_id.value;
    std::vector<db::Statement> st;
    if (new_parent) st.push_back({&lineage_lock_q, {}});
    st.push_back({&lock_q, db::Params(p.id)});
    if (new_parent) st.push_back({&would_cycle_q, db::Params(p.id, *in.parent_sample_id.value)});
    auto r = co_await w.exec_all(std::move(st));
    const std::size_t at = new_parent ? 1 : 0;
    if (r[at].empty()) throw not_found("No such sample");
    const std::string now(r[at].get(0, "_status"));
    if (in.status && std::find(settable_statuses.begin(), settable_statuses.end(), now) == settable_statuses.end())
      throw conflict("The sample is " + now + ": its status changes through custody (return it first)");
    if (new_parent && would_cycle(r[at + 1]).would_cycle)
      throw std::move(unprocessable("The parent would make the sample its own ancestor")
                          .with_field("parent_sample_id", "would form a cycle: it descends from this sample"));
    std::vector<db::Statement> change;
    change.push_back({&refs_live_q, db::Params(in.parent_sample_id.value, in.material_id.value)});
    change.push_back({&update_q, db::Params(p.id, in.name, in.barcode, in.sample_type, in.material_id.present,
                                            in.material_id.value, in.parent_sample_id.present,
                                            in.parent_sample_id.value, in.extra_metadata, in.status)});
    auto u = co_await w.exec_all(std::move(change));
    std::string json = db::row_json(u[1]);
    w.audit("sample.update", "sample", p.id, db::row_json(r[at]), json);
    co_return json;
  });
  co_return http::Response::json(200, std::move(after));
}

Reply delete_sample(RequestContext& ctx, Path<kit::Id> p) {
  co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<void> {
    auto before = co_await w.exec(lock_q, db::Params(p.id));
    if (before.empty()) throw not_found("No such sample");
    co_await w.exec(delete_q, db::Params(p.id));
    w.audit("sample.delete", "sample", p.id, db::row_json(before), std::nullopt);
  });
  co_return http::Response::no_content();
}

Reply sample_label(RequestContext& ctx, Path<kit::Id> p, QueryString<LabelOptions> q) {
  auto r = co_await db::read(ctx.db(), ctx.tenant(), label_q, db::Params(p.id));
  if (r.empty()) throw not_found("No such sample");
  const LabelText text = label_text(r);
  if (text.barcode.empty()) throw conflict("The sample has no barcode to print");
  const LabelFormat format = label_format(q.format);
  auto job = [text, format] { return render_label(text, format); };
  http::Response res;
  const WorkShare share = ctx.share();
  res.body = co_await ctx.deps.blocking->run(std::move(job), share);
  res.content_type = content_type(format);
  const std::string ext = q.format;
  res.header("Content-Disposition", "inline; filename=\"" + text.barcode + "." + ext + "\"");
  co_return res;
}

Reply label_sheet(RequestContext& ctx, Body<LabelSheet> in) {
  db::Params params;
  params.add_array(in.sample_ids);
  auto r = co_await db::read(ctx.db(), ctx.tenant(), sheet_q, std::move(params));
  std::vector<LabelText> labels;
  ApiError missing = unprocessable("Some samples cannot be printed");
  bool any_missing = false;
  for (int i = 0; i < r.rows(); ++i) {
    const std::string field = "sample_ids[" + std::to_string(i) + "]";
    const SheetLabel label = sheet_label(r, i);
    if (!label.name) {
      missing.with_field(field, "does not exist in your organization");
      any_missing = true;
    } else if (label.barcode.empty()) {
      missing.with_field(field, "has no barcode to print");
      any_missing = true;
    } else {
      labels.push_back({*label.name, label.barcode});
    }
  }
  if (any_missing) throw std::move(missing);
  const bool pdf = in.format == "pdf";
  auto job = [labels = std::move(labels), pdf] { return pdf ? render_sheet_pdf(labels) : render_zpl(labels); };
  http::Response res;
  const WorkShare share = ctx.share();
  res.body = co_await ctx.deps.blocking->run(std::move(job), share);
  res.content_type = pdf ? "application/pdf" : content_type(LabelFormat::zpl);
  res.header("Content-Disposition", std::string("inline; filename=\"labels.") + (pdf ? "pdf" : "zpl") + "\"");
  co_return res;
}

}  // namespace spectra::samples
