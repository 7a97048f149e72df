// SOPs: versioned procedures. A new version is a new row after the latest one of its code; approving a
// DRAFT (PI or admin) makes it EFFECTIVE and the version effective before it OBSOLETE in one
// transaction, with every version of the code locked, so there is only ever one effective version
// (sops_effective_code_key is the backstop). Readers acknowledge the effective version.
#include "kit/stored_markdown.hpp"
#include "lims/process/drafts.hpp"
#include "lims/process/handlers.hpp"
#include "lims/process/rules.hpp"
#include "lims/process/shapes.hpp"
#include "platform/crypto.hpp"
#include "platform/db/sql_error.hpp"

namespace asio = boost::asio;

namespace spectra::process {
namespace {

const std::string sop_json = sop_shape.sql("s");
// One version with the history of its code (oldest first), who has acknowledged it, and who changed it
// after it was written (its editors: like its author, they never decide on it).
const std::string sop_detail =
    sop_json +
    ", (SELECT coalesce(array_agg(DISTINCT ev.actor_id), '{}') FROM audit_events ev"
    "    WHERE ev.organization_id = $1 AND ev.entity_type = 'sop' AND ev.entity_id = s.id"
    "      AND ev.action = 'sop.update' AND ev.actor_id IS NOT NULL) AS editors,"
    " (SELECT jsonb_agg(jsonb_build_object('id', v.id, 'version', v.version, 'status', v.status,"
    "                 'title', v.title, 'previous_version_id', v.previous_version_id, 'approved_by', v.approved_by,"
    "                 'approved_at', v.approved_at, 'created_at', v.created_at) ORDER BY v.version)"
    "    FROM sops v WHERE v.organization_id = $1 AND v.code = s.code AND NOT v.is_deleted) AS versions,"
    " coalesce((SELECT jsonb_agg(" + acknowledgement_shape.jsonb("a") + " ORDER BY a.acknowledged_at, a.id)"
    "    FROM sop_acknowledgements a WHERE a.organization_id = $1 AND a.sop_id = s.id), '[]'::jsonb)"
    " AS acknowledgements";

const kit::List sops_list{{
    .name = "sops_list",
    .select = sop_json,
    .from = "sops s",
    .alias = "s",
    .where = "NOT s.is_deleted AND ($2::text IS NULL OR s.code = $2) AND ($3::text IS NULL OR s.status = $3)"
             " AND ($4::text IS NULL OR s.title ILIKE $4 OR s.code ILIKE $4)",
    .sorts = {{"code", "s.code", "text"}, {"title", "s.title", "text"}, {"updated_at", "s.updated_at", "timestamptz"}},
}};
const db::Query get_q{"sops_get", "SELECT " + sop_detail + ", s.body_html AS _body_html,"
                                  " s.render_version AS _render_version"
                                  " FROM sops s WHERE s.organization_id = $1 AND s.id = $2 AND NOT s.is_deleted"};
const db::Query insert_q{
    "sops_insert",
    "WITH s AS (INSERT INTO sops (organization_id, id, code, version, title, body_markdown, status, previous_version_id,"
    "                             created_by, extra_metadata, body_html, render_version)"
    "           VALUES ($1, $2, $3, $4, $5, $6, 'DRAFT', $7, $8, $9::jsonb, $10, $11) RETURNING *)"
    " SELECT " + sop_json + " FROM s"};
const kit::RowEvents sop_events{"sops_audit_row", sop_shape, "sops s", "s"};
// Every live version of the code of version $2, locked in version order (so that two writers of one
// code take turns, and never deadlock): id, version, status, title, extra_metadata and code (helper
// columns), then the version's shape.
const db::Query lock_code_q{
    "sops_lock_code",
    "SELECT s.id AS _id, s.version AS _version, s.status AS _status, s.title AS _title,"
    "       s.extra_metadata::text AS _extra_metadata, s.code AS _code,"
    "       coalesce(s.created_by::text, '') AS _author_id, " + sop_json +
        " FROM sops s WHERE s.organization_id = $1 AND NOT s.is_deleted"
        "   AND s.code = (SELECT c.code FROM sops c WHERE c.organization_id = $1 AND c.id = $2 AND NOT c.is_deleted)"
        " ORDER BY s.version FOR UPDATE"};
// A row of lock_code_q, by its helper columns.
struct LockedVersion {
  std::string id;
  std::int64_t version = 0;
  std::string status, title, extra_metadata, code;
};
const db::Decoder<LockedVersion> locked_version{
    lock_code_q,
    {{"_id", &LockedVersion::id}, {"_version", &LockedVersion::version}, {"_status", &LockedVersion::status},
     {"_title", &LockedVersion::title}, {"_extra_metadata", &LockedVersion::extra_metadata},
     {"_code", &LockedVersion::code}}};
const db::Query update_q{
    "sops_update",
    "WITH s AS (UPDATE sops SET title = coalesce($3, title), body_markdown = coalesce($4, body_markdown),"
    "             extra_metadata = coalesce($5::jsonb, extra_metadata), body_html = coalesce($6, body_html),"
    "             render_version = coalesce($7, render_version)"
    "           WHERE organization_id = $1 AND id = $2 RETURNING *)"
    " SELECT " + sop_json + " FROM s"};
const db::Query obsolete_q{
    "sops_obsolete",
    "WITH s AS (UPDATE sops SET status = 'OBSOLETE' WHERE organization_id = $1 AND id = $2 RETURNING *)"
    " SELECT " + sop_json + " FROM s"};
const db::Query effective_q{
    "sops_effective",
    "WITH s AS (UPDATE sops SET status = 'EFFECTIVE', approved_by = $3, approved_at = now(), decision_comment = $4"
    "           WHERE organization_id = $1 AND id = $2 RETURNING *)"
    " SELECT " + sop_json + " FROM s"};
const db::Query reject_q{
    "sops_reject",
    "WITH s AS (UPDATE sops SET status = 'REJECTED', rejected_by = $3, rejected_at = now(), decision_comment = $4"
    "           WHERE organization_id = $1 AND id = $2 RETURNING *)"
    " SELECT " + sop_json + " FROM s"};
// Who changed version $2 after it was written (its audit trail): like its author, they never decide on it.
const db::Query editors_q{
    "sops_editors",
    "SELECT coalesce(string_agg(DISTINCT ev.actor_id::text, ','), '') AS editor_ids FROM audit_events ev"
    " WHERE ev.organization_id = $1 AND ev.entity_type = 'sop' AND ev.entity_id = $2"
    "   AND ev.action = 'sop.update' AND ev.actor_id IS NOT NULL"};
const DraftDocument sop_document{"SOP", "sop", lock_code_q, editors_q, obsolete_q, effective_q, reject_q, "sop.effective"};
const db::Query status_q{"sops_status_for_share",
                         "SELECT s.status FROM sops s WHERE s.organization_id = $1 AND s.id = $2 AND NOT s.is_deleted FOR SHARE"};
struct SopStatus {
  std::string status;
};
const db::Decoder<SopStatus> sop_status{status_q, {{"status", &SopStatus::status}}};
// A second acknowledgement of the same version by the same person changes nothing.
const db::Query acknowledge_q{
    "sops_acknowledge",
    "WITH a AS (INSERT INTO sop_acknowledgements (organization_id, sop_id, user_id) VALUES ($1, $2, $3)"
    "           ON CONFLICT (organization_id, sop_id, user_id) DO NOTHING RETURNING *)"
    " SELECT " + acknowledgement_shape.sql("a") + " FROM a"};
const db::Query acknowledgement_q{
    "sops_acknowledgement",
    "SELECT " + acknowledgement_shape.sql("a") + " FROM sop_acknowledgements a"
    " WHERE a.organization_id = $1 AND a.sop_id = $2 AND a.user_id = $3"};

const db::Constraint code_taken{"sops_code_version_key", "code",
                                "An SOP with this code exists: add a version to it (POST /api/sops/{id}/versions)"};
const db::Constraint draft_exists{"sops_draft_code_key", "code", "This SOP already has a draft version"};

// Rows of lock_code_q.
std::vector<LockedVersion> versions_of(const db::Result& r) {
  std::vector<LockedVersion> out;
  for (int i = 0; i < r.rows(); ++i) out.push_back(locked_version(r, i));
  return out;
}
int row_of(const db::Result& r, const std::string& id) {
  for (int i = 0; i < r.rows(); ++i)
    if (locked_version(r, i).id == id) return i;
  return -1;
}

}  // namespace

kit::Input<NewSop> NewSop::input() {
  return {"NewSop",
          {kit::field("code", &NewSop::code).max_length(64).pattern("[A-Za-z0-9][A-Za-z0-9._/-]*")
               .describe("The SOP's code, shared by its versions (SOP-001)"),
           kit::field("title", &NewSop::title).max_length(300),
           kit::field("body_markdown", &NewSop::body_markdown).markdown(),
           kit::field("extra_metadata", &NewSop::extra_metadata).object()}};
}

kit::Input<NewSopVersion> NewSopVersion::input() {
  return {"NewSopVersion",
          {kit::field("title", &NewSopVersion::title).max_length(300).not_blank().describe("The latest version's when absent"),
           kit::field("body_markdown", &NewSopVersion::body_markdown).markdown(),
           kit::field("extra_metadata", &NewSopVersion::extra_metadata).object()}};
}

kit::Input<SopChange> SopChange::input() {
  return {"SopChange",
          {kit::field("title", &SopChange::title).max_length(300).not_blank(),
           kit::field("body_markdown", &SopChange::body_markdown).markdown(),
           kit::field("extra_metadata", &SopChange::extra_metadata).object()}};
}

kit::Input<SopFilters> SopFilters::input() {
  return {"SopFilters",
          {kit::field("code", &SopFilters::code).max_length(64),
           kit::field("status", &SopFilters::status).one_of({"DRAFT", "EFFECTIVE", "OBSOLETE", "REJECTED"}),
           kit::field("q", &SopFilters::q).max_length(100).describe("Part of the title or the code")}};
}

Reply list_sops(RequestContext& ctx, QueryString<SopFilters> q, PageRequest page) {
  std::optional<std::string> like;
  if (q.q) like = "%" + kit::escape_like(*q.q) + "%";
  return sops_list.page(ctx, db::Params(q.code, q.status, like), std::move(page));
}

Reply get_sop(RequestContext& ctx, Path<kit::Id> p) {
  auto r = co_await db::read(ctx.db(), ctx.tenant(), get_q, db::Params(p.id));
  if (r.empty()) throw not_found("No such SOP");
  auto stored = r.get_optional(0, "_body_html");
  const std::string markdown(r.get(0, "body_markdown"));
  const std::string html =
      co_await kit::stored_html(ctx, std::move(stored), r.get_int(0, "_render_version"), markdown);
  co_return http::Response::json(200, kit::with_members(db::row_json(r), {{"body_html", kit::json_string(html)}}));
}

Reply create_sop(RequestContext& ctx, Body<NewSop> in) {
  const std::string id = crypto::uuid_v4();
  const std::string html = co_await kit::render_for_write(ctx, in.body_markdown);
  auto row = co_await kit::write(ctx, [&](kit::Write& w) {
    return w.create(insert_q,
                    db::Params(id, in.code, 1, in.title, in.body_markdown, std::optional<std::string>(),
                               ctx.principal.user_id, in.extra_metadata, html, kit::renderer_version()),
                    {"sop.create", "sop"}, sop_events, id);
  });
  co_return http::Response::json(201, std::move(row));
}

// A DRAFT version changes; an effective or obsolete one is what people followed, and stays.
Reply update_sop(RequestContext& ctx, Path<kit::Id> p, Body<SopChange> in) {
  std::optional<std::string> html;
  std::optional<int> version;
  if (in.body_markdown) {
    html = co_await kit::render_for_write(ctx, *in.body_markdown);
    version = kit::renderer_version();
  }
  auto after = co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<std::string> {
    auto code = co_await w.exec(lock_code_q, db::Params(p.id));
    const int at = row_of(code, p.id);
    if (at < 0) throw not_found("No such SOP");
    const std::string status = locked_version(code, at).status;
    if (status != "DRAFT") throw conflict("This SOP version is " + status + "; only a DRAFT changes (add a version instead)");
    auto u = co_await w.exec(update_q, db::Params(p.id, in.title, in.body_markdown, in.extra_metadata, html, version));
    std::string json = db::row_json(u);
    w.audit("sop.update", "sop", p.id, db::row_json(code, at), json);
    co_return json;
  });
  co_return http::Response::json(200, std::move(after));
}

Reply create_sop_version(RequestContext& ctx, Path<kit::Id> p, Body<NewSopVersion> in) {
  const std::string id = crypto::uuid_v4();
  const std::string html = co_await kit::render_for_write(ctx, in.body_markdown);
  auto row = co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<std::string> {
    auto code = co_await w.exec(lock_code_q, db::Params(p.id));
    if (row_of(code, p.id) < 0) throw not_found("No such SOP");
    for (const auto& v : versions_of(code))
      if (v.status == "DRAFT")
        throw conflict("Version " + std::to_string(v.version) + " of this SOP is still a draft: change or approve it first");
    const int latest = code.rows() - 1;  // in version order
    const LockedVersion last = locked_version(code, latest);
    db::Params next(id, last.code, last.version + 1, in.title.value_or(last.title), in.body_markdown, last.id,
                    ctx.principal.user_id, in.extra_metadata.value_or(last.extra_metadata), html,
                    kit::renderer_version());
    auto ins = co_await w.exec(insert_q, std::move(next));
    std::string json = db::row_json(ins);
    w.audit("sop.version", "sop", id, db::row_json(code, latest), json);
    co_return json;
  });
  co_return http::Response::json(201, std::move(row));
}

// The DRAFT becomes EFFECTIVE and the version effective until now OBSOLETE (drafts.hpp).
Reply approve_sop(RequestContext& ctx, Path<kit::Id> p, OptionalBody<Approval> in) {
  auto after = co_await kit::write(
      ctx, [&](kit::Write& w) { return approve_draft(ctx, w, sop_document, p.id, in.comment); });
  co_return http::Response::json(200, std::move(after));
}

// A DRAFT is rejected with a comment; the effective version stays effective.
Reply reject_sop(RequestContext& ctx, Path<kit::Id> p, Body<Rejection> in) {
  auto after = co_await kit::write(
      ctx, [&](kit::Write& w) { return reject_draft(ctx, w, sop_document, p.id, in.comment); });
  co_return http::Response::json(200, std::move(after));
}

Reply acknowledge_sop(RequestContext& ctx, Path<kit::Id> p, OptionalBody<kit::Nothing>) {
  bool created = false;
  auto ack = co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<std::string> {
    auto status = co_await w.exec(status_q, db::Params(p.id));
    if (status.empty()) throw not_found("No such SOP");
    if (auto why = sop_acknowledgement_refusal(sop_status(status).status)) throw conflict(*why);
    auto ins = co_await w.exec(acknowledge_q, db::Params(p.id, ctx.principal.user_id));
    if (!ins.empty()) {
      created = true;
      std::string json = db::row_json(ins);
      w.audit("sop.acknowledge", "sop", p.id, std::nullopt, json);
      co_return json;
    }
    auto existing = co_await w.exec(acknowledgement_q, db::Params(p.id, ctx.principal.user_id));
    std::string row = db::row_json(existing);  // named: GCC 12 mishandles a temporary in co_return
    co_return row;
  });
  co_return http::Response::json(created ? 201 : 200, std::move(ack));
}

}  // namespace spectra::process
