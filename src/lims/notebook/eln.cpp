// Notebook entries: markdown linked to samples (through eln_entry_samples, whose composite foreign keys
// keep every link inside the organization), shown with their sanitized HTML. Only the author changes
// an entry, and only until it is signed; an amendment is a new entry that names the one it amends.
#include <cctype>
#include <set>

#include "kit/stored_markdown.hpp"
#include "lims/notebook/handlers.hpp"
#include "lims/notebook/rules.hpp"
#include "lims/notebook/shapes.hpp"
#include "platform/crypto.hpp"
#include "platform/db/sql_error.hpp"
#include "platform/db/batch.hpp"

namespace asio = boost::asio;

namespace spectra::notebook {
namespace {

const std::string entry_json = entry_shape.sql("e");
const std::string entry_detail =
    entry_json +
    ", coalesce((SELECT array_agg(a.id ORDER BY a.created_at, a.id) FROM eln_entries a"
    "    WHERE a.organization_id = $1 AND a.amends_entry_id = e.id AND NOT a.is_deleted), '{}') AS amended_by,"
    " (SELECT count(*) FROM signatures g WHERE g.organization_id = $1 AND g.entry_id = e.id) AS signature_count";

const kit::List entries_list{{
    .name = "eln_list",
    .select = entry_json,
    .from = "eln_entries e",
    .alias = "e",
    .where = "NOT e.is_deleted AND ($2::uuid IS NULL OR e.author_id = $2) AND ($3::text IS NULL OR e.tags @> ARRAY[$3::text])"
             " AND ($4::uuid IS NULL OR EXISTS (SELECT 1 FROM eln_entry_samples l WHERE l.organization_id = $1"
             "      AND l.eln_entry_id = e.id AND l.sample_id = $4))"
             " AND ($5::uuid IS NULL OR e.amends_entry_id = $5) AND ($6::text IS NULL OR e.title ILIKE $6)"
             " AND ($7::boolean IS NULL OR e.signed = $7)",
    .sorts = {{"title", "e.title", "text"}, {"updated_at", "e.updated_at", "timestamptz"}},
}};
// The entry, its stored HTML and what its content hash covers (rules.hpp), the last as helper columns.
const db::Query get_q{"eln_get", "SELECT " + entry_detail +
                                 ", e.body_markdown AS _body_markdown, e.body_html AS _body_html,"
                                 " e.render_version AS _render_version, e.title AS _title,"
                                 " coalesce((SELECT string_agg(l.sample_id::text, ',') FROM eln_entry_samples l"
                                 "           WHERE l.organization_id = $1 AND l.eln_entry_id = e.id), '') AS _sample_ids"
                                 " FROM eln_entries e WHERE e.organization_id = $1 AND e.id = $2 AND NOT e.is_deleted"};
// The live samples among $2 (uuid[]): a delete of one waits until this transaction ends.
const db::Query live_samples_q{
    "eln_live_samples",
    "SELECT s.id::text FROM samples s WHERE s.organization_id = $1 AND s.id = ANY($2::uuid[]) AND NOT s.is_deleted"
    " FOR SHARE"};
struct LiveSample {
  std::string id;
};
const db::Decoder<LiveSample> live_sample{live_samples_q, {{"id", &LiveSample::id}}};
const db::Query amended_q{"eln_amended_entry", "SELECT e.id FROM eln_entries e"
                                               " WHERE e.organization_id = $1 AND e.id = $2 AND NOT e.is_deleted FOR SHARE"};
const db::Query insert_q{
    "eln_insert",
    "INSERT INTO eln_entries (organization_id, id, title, body_markdown, tags, author_id, amends_entry_id, extra_metadata,"
    "                         body_html, render_version)"
    " VALUES ($1, $2, $3, $4, $5::text[], $6, $7, $8::jsonb, $9, $10)"};
const db::InsertBatch insert_links{"eln_insert_links", "INSERT INTO eln_entry_samples (organization_id, eln_entry_id, sample_id)",
                                   "($1, ?::uuid, ?::uuid)",
                                   " ON CONFLICT (organization_id, eln_entry_id, sample_id) DO NOTHING"};
const db::Query unlink_q{
    "eln_unlink_samples",
    "DELETE FROM eln_entry_samples WHERE organization_id = $1 AND eln_entry_id = $2 AND NOT (sample_id = ANY($3::uuid[]))"};
const db::Query lock_q{"eln_lock", "SELECT " + entry_json +
                                   ", e.author_id AS _author_id, e.locked_at IS NOT NULL AS _locked"
                                   " FROM eln_entries e WHERE e.organization_id = $1 AND e.id = $2 AND NOT e.is_deleted"
                                   " FOR UPDATE"};
const db::Query update_q{
    "eln_update",
    "UPDATE eln_entries SET title = coalesce($3, title), body_markdown = coalesce($4, body_markdown),"
    " tags = coalesce($5::text[], tags), extra_metadata = coalesce($6::jsonb, extra_metadata), updated_at = now(),"
    " body_html = coalesce($7, body_html), render_version = coalesce($8, render_version)"
    " WHERE organization_id = $1 AND id = $2"};
const db::Query read_q{"eln_read", "SELECT " + entry_json +
                                       " FROM eln_entries e WHERE e.organization_id = $1 AND e.id = $2"};

const db::Constraint body_too_large{"eln_entries_body_size_check", "body_markdown", "The markdown is larger than 1 MiB"};
const db::Constraint sample_missing{"eln_entry_samples_organization_id_sample_id_fkey", "sample_ids",
                                    "A sample does not exist in your organization"};

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// 422 naming every listed sample that is not a live sample of the organization.
void refuse_missing_samples(const std::vector<std::string>& ids, const db::Result& live) {
  std::set<std::string> found;
  for (int i = 0; i < live.rows(); ++i) found.insert(live_sample(live, i).id);
  ApiError e = unprocessable("Some samples do not exist in your organization");
  bool any = false;
  for (std::size_t i = 0; i < ids.size(); ++i)
    if (!found.contains(lower(ids[i]))) {
      e.with_field("sample_ids[" + std::to_string(i) + "]", "does not exist in your organization");
      any = true;
    }
  if (any) throw std::move(e);
}

std::vector<db::Params> link_rows(const std::string& entry_id, const std::vector<std::string>& sample_ids) {
  std::vector<db::Params> rows;
  for (const auto& s : sample_ids) rows.push_back(db::Params(entry_id, s));
  return rows;
}

}  // namespace

kit::Input<NewEntry> NewEntry::input() {
  kit::Input<NewEntry> in{
      "NewEntry",
      {kit::field("title", &NewEntry::title).max_length(500),
       kit::field("body_markdown", &NewEntry::body_markdown).markdown()
           .describe("Markdown (CommonMark with GitHub tables and task lists), at most 1 MiB"),
       kit::field("tags", &NewEntry::tags).or_default().max_length(50),
       kit::field("sample_ids", &NewEntry::sample_ids).or_default().max_length(500).describe("Samples the entry is about"),
       kit::field("amends_entry_id", &NewEntry::amends_entry_id).uuid().describe("The entry this one amends"),
       kit::field("extra_metadata", &NewEntry::extra_metadata).object()}};
  in.also([](const NewEntry& e, kit::Problems& p) { kit::check_id_list("sample_ids", e.sample_ids, p); });
  return in;
}

kit::Input<EntryChange> EntryChange::input() {
  kit::Input<EntryChange> in{
      "EntryChange",
      {kit::field("title", &EntryChange::title).max_length(500).not_blank(),
       kit::field("body_markdown", &EntryChange::body_markdown).markdown(),
       kit::field("tags", &EntryChange::tags).max_length(50),
       kit::field("sample_ids", &EntryChange::sample_ids).max_length(500).describe("Replaces the linked samples"),
       kit::field("extra_metadata", &EntryChange::extra_metadata).object()}};
  in.also([](const EntryChange& e, kit::Problems& p) {
    if (e.sample_ids) kit::check_id_list("sample_ids", *e.sample_ids, p);
  });
  return in;
}

kit::Input<EntryFilters> EntryFilters::input() {
  return {"EntryFilters",
          {kit::field("author_id", &EntryFilters::author_id).uuid(),
           kit::field("tag", &EntryFilters::tag).max_length(200),
           kit::field("sample_id", &EntryFilters::sample_id).uuid().describe("Entries linked to this sample"),
           kit::field("amends_entry_id", &EntryFilters::amends_entry_id).uuid().describe("Amendments of this entry"),
           kit::field("q", &EntryFilters::q).max_length(100).describe("Part of the title"),
           kit::field("signed", &EntryFilters::signed_)}};
}

kit::Input<Preview> Preview::input() {
  return {"Preview",
          {kit::field("body_markdown", &Preview::body_markdown).markdown()}};
}

Reply list_entries(RequestContext& ctx, QueryString<EntryFilters> q, PageRequest page) {
  std::optional<std::string> like;
  if (q.q) like = "%" + kit::escape_like(*q.q) + "%";
  return entries_list.page(ctx, db::Params(q.author_id, q.tag, q.sample_id, q.amends_entry_id, like, q.signed_),
                           std::move(page));
}

Reply get_entry(RequestContext& ctx, Path<kit::Id> p) {
  auto r = co_await db::read(ctx.db(), ctx.tenant(), get_q, db::Params(p.id));
  if (r.empty()) throw not_found("No such notebook entry");
  const std::string markdown(r.get(0, "_body_markdown"));
  auto stored = r.get_optional(0, "_body_html");
  const std::string html =
      co_await kit::stored_html(ctx, std::move(stored), r.get_int(0, "_render_version"), markdown);
  // What a signature binds: the signer sends it back, so a signature covers what was shown.
  const std::string hash = crypto::to_hex(content_sha256(r.get(0, "_title"), markdown,
                                                         kit::split_list(r.get(0, "_sample_ids"))));
  auto json = kit::with_members(db::row_json(r),
                                {{"body_html", kit::json_string(html)}, {"content_sha256", kit::json_string(hash)}});
  co_return http::Response::json(200, std::move(json));
}

Reply preview_entry(RequestContext& ctx, Body<Preview> in) {
  const std::string html = co_await kit::render_for_write(ctx, std::move(in.body_markdown));
  co_return http::Response::json(200, kit::with_members("{}", {{"body_html", kit::json_string(html)}}));
}

Reply create_entry(RequestContext& ctx, Body<NewEntry> in) {
  const std::string id = crypto::uuid_v4();
  const std::string html = co_await kit::render_for_write(ctx, in.body_markdown);
  auto row = co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<std::string> {
    std::vector<db::Statement> checks;
    db::Params ids;
    ids.add_array(in.sample_ids);
    checks.push_back({&live_samples_q, std::move(ids)});
    if (in.amends_entry_id) checks.push_back({&amended_q, db::Params(*in.amends_entry_id)});
    auto c = co_await w.exec_all(std::move(checks));
    refuse_missing_samples(in.sample_ids, c[0]);
    if (in.amends_entry_id && c[1].empty())
      throw std::move(unprocessable("The amended entry does not exist in your organization")
                          .with_field("amends_entry_id", "does not exist in your organization"));

    db::Params insert(id, in.title, in.body_markdown);
    insert.add_array(in.tags);
    insert.add(ctx.principal.user_id).add(in.amends_entry_id).add(in.extra_metadata).add(html).add(kit::renderer_version());
    std::vector<db::Statement> st;
    st.push_back({&insert_q, std::move(insert)});
    for (auto& s : insert_links.statements(link_rows(id, in.sample_ids))) st.push_back(std::move(s));
    st.push_back({&read_q, db::Params(id)});
    auto r = co_await w.exec_all(std::move(st));
    std::string json = db::row_json(r.back());
    w.audit("eln.create", "eln_entry", id, std::nullopt, json);  // an amendment names amends_entry_id
    co_return json;
  });
  co_return http::Response::json(201, std::move(row));
}

Reply update_entry(RequestContext& ctx, Path<kit::Id> p, Body<EntryChange> in) {
  std::optional<std::string> html;
  std::optional<int> version;
  if (in.body_markdown) {
    html = co_await kit::render_for_write(ctx, *in.body_markdown);
    version = kit::renderer_version();
  }
  auto after = co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<std::string> {
    std::vector<db::Statement> read;
    read.push_back({&lock_q, db::Params(p.id)});
    if (in.sample_ids) {
      db::Params ids;
      ids.add_array(*in.sample_ids);
      read.push_back({&live_samples_q, std::move(ids)});
    }
    auto r = co_await w.exec_all(std::move(read));
    const auto& row = r[0];
    if (row.empty()) throw not_found("No such notebook entry");
    if (auto why = edit_refusal(row.get(0, "_author_id"), ctx.principal.user_id,
                                row.get_bool(0, "_locked")))
      throw why->forbidden ? forbidden(why->message) : conflict(why->message);
    if (in.sample_ids) refuse_missing_samples(*in.sample_ids, r[1]);

    db::Params update(p.id, in.title, in.body_markdown);
    if (in.tags) update.add_array(*in.tags); else update.add(std::optional<std::string>());
    update.add(in.extra_metadata).add(html).add(version);
    std::vector<db::Statement> st;
    st.push_back({&update_q, std::move(update)});
    if (in.sample_ids) {
      db::Params keep(p.id);
      keep.add_array(*in.sample_ids);
      st.push_back({&unlink_q, std::move(keep)});
      for (auto& s : insert_links.statements(link_rows(p.id, *in.sample_ids))) st.push_back(std::move(s));
    }
    st.push_back({&read_q, db::Params(p.id)});
    auto done = co_await w.exec_all(std::move(st));
    std::string json = db::row_json(done.back());
    w.audit("eln.update", "eln_entry", p.id, db::row_json(row), json);
    co_return json;
  });
  co_return http::Response::json(200, std::move(after));
}

}  // namespace spectra::notebook
