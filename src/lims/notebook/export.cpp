// GET /api/eln/{id}/export: the entry as an .eln file (eln_file.hpp), with its signatures (each checked
// against the entry as it is now) and its attachments. Read in one transaction snapshot; the archive is
// built off the I/O threads.
#include <boost/json.hpp>

#include "kit/data.hpp"
#include "kit/markdown.hpp"
#include "lims/notebook/eln_file.hpp"
#include "lims/notebook/handlers.hpp"
#include "lims/notebook/rules.hpp"
#include "platform/blocking.hpp"
#include "platform/content_store.hpp"
#include "platform/crypto.hpp"

namespace asio = boost::asio;
namespace json = boost::json;

namespace spectra::notebook {
namespace {

const db::Query entry_q{
    "eln_export_entry",
    "SELECT e.id, e.title, e.body_markdown, to_jsonb(e.created_at) #>> '{}', to_jsonb(e.updated_at) #>> '{}',"
    "       to_jsonb(e.tags)::text, coalesce(e.amends_entry_id::text, ''),"
    "       coalesce((SELECT string_agg(l.sample_id::text, ',' ORDER BY l.sample_id) FROM eln_entry_samples l"
    "                 WHERE l.organization_id = $1 AND l.eln_entry_id = e.id), ''),"
    "       u.id, u.full_name"
    " FROM eln_entries e JOIN users u ON u.organization_id = $1 AND u.id = e.author_id"
    " WHERE e.organization_id = $1 AND e.id = $2 AND NOT e.is_deleted"};
const db::Query signatures_q{
    "eln_export_signatures",
    "SELECT s.id, s.signer_id, s.signer_name, s.meaning, encode(s.content_sha256, 'hex'),"
    "       to_jsonb(s.signed_at) #>> '{}'"
    " FROM signatures s WHERE s.organization_id = $1 AND s.entry_id = $2 ORDER BY s.signed_at, s.id"};
const db::Query attachments_q{
    "eln_export_attachments",
    "SELECT a.id, a.filename, a.content_type, encode(a.content, 'hex'), encode(a.sha256, 'hex')"
    " FROM attachment_links l JOIN attachments a ON a.organization_id = $1 AND a.id = l.attachment_id AND NOT a.is_deleted"
    " WHERE l.organization_id = $1 AND l.eln_entry_id = $2 ORDER BY a.created_at, a.id"};

}  // namespace

Reply export_entry(RequestContext& ctx, Path<kit::Id> p) {
  auto r = co_await db::transact(ctx.db(), ctx.tenant(), db::Mode::read_only,
                                 [&](db::Tx& tx) -> asio::awaitable<std::vector<db::Result>> {
                                   std::vector<db::Statement> st;
                                   st.push_back({&entry_q, db::Params(p.id)});
                                   st.push_back({&signatures_q, db::Params(p.id)});
                                   st.push_back({&attachments_q, db::Params(p.id)});
                                   co_return co_await tx.exec_all(std::move(st));
                                 });
  const auto& row = r[0];
  if (row.empty()) throw not_found("No such notebook entry");
  ElnEntry e;
  e.id = row.get(0, 0);
  e.title = row.get(0, 1);
  e.body_markdown = row.get(0, 2);
  e.created_at = row.get(0, 3);
  e.updated_at = row.get(0, 4);
  const json::value tags = json::parse(row.get(0, 5));
  for (const auto& t : tags.as_array()) e.tags.emplace_back(t.as_string());
  e.amends_entry_id = row.get(0, 6);
  e.sample_ids = kit::split_list(row.get(0, 7));
  e.author = {std::string(row.get(0, 8)), std::string(row.get(0, 9)), {}};
  const std::string hash = crypto::to_hex(content_sha256(e.title, e.body_markdown, e.sample_ids));
  for (int i = 0; i < r[1].rows(); ++i) {
    ElnSignature s{std::string(r[1].get(i, 0)), std::string(r[1].get(i, 1)), std::string(r[1].get(i, 2)),
                   std::string(r[1].get(i, 3)), std::string(r[1].get(i, 4)), std::string(r[1].get(i, 5))};
    s.valid = s.content_sha256_hex == hash;
    e.signers.push_back({s.signer_id, s.signer_name, {}});
    e.signatures.push_back(std::move(s));
  }
  // Attachments kept in the table (before revision 10) come with the row; the others are read from
  // the content store with the archive, off the I/O threads.
  std::vector<std::string> stored;  // the SHA-256 of each attachment to read, "" when it came with the row
  for (int i = 0; i < r[2].rows(); ++i) {
    const bool in_row = r[2].get_optional(i, 3).has_value();
    e.attachments.push_back({std::string(r[2].get(i, 0)), std::string(r[2].get(i, 1)), std::string(r[2].get(i, 2)),
                             in_row ? crypto::from_hex(r[2].get(i, 3)).value_or(std::string()) : std::string()});
    stored.push_back(in_row ? std::string() : std::string(r[2].get(i, 4)));
  }

  const std::string version = ctx.deps.version;
  const ContentStore* store = ctx.deps.files;
  auto job = [e = std::move(e), version, stored = std::move(stored), store]() mutable {
    for (std::size_t i = 0; i < stored.size(); ++i)
      if (!stored[i].empty()) e.attachments[i].bytes = store->get(stored[i]).value_or(std::string());
    e.body_html = kit::render_markdown(e.body_markdown);
    return std::make_pair(eln_name(e), build_eln(e, audit::utc_now(), version));
  };
  auto [name, bytes] = co_await ctx.deps.blocking->run(std::move(job));
  http::Response res;
  res.body = std::move(bytes);
  res.content_type = "application/vnd.eln+zip";
  res.header("Content-Disposition", "attachment; filename=\"" + name + ".eln\"");
  co_return res;
}

}  // namespace spectra::notebook
