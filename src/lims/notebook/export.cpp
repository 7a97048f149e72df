// GET /api/eln/{id}/export: the entry as an .eln file (eln_file.hpp), with its signatures (each checked
// against the entry as it is now) and its attachments. The rows are read in one transaction snapshot;
// the zip is streamed: each piece is written off the I/O threads when the previous one was sent, and
// the attachments are read from the content store as they are written out, so the server's memory
// follows the piece, not the number or size of the attachments.
#include <boost/json.hpp>
#include <memory>
#include <system_error>

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
    "SELECT e.id AS entry_id, e.title, e.body_markdown, to_jsonb(e.created_at) #>> '{}' AS created_at,"
    "       to_jsonb(e.updated_at) #>> '{}' AS updated_at,"
    "       to_jsonb(e.tags)::text AS tags, coalesce(e.amends_entry_id::text, '') AS amends_entry_id,"
    "       coalesce((SELECT string_agg(l.sample_id::text, ',' ORDER BY l.sample_id) FROM eln_entry_samples l"
    "                 WHERE l.organization_id = $1 AND l.eln_entry_id = e.id), '') AS sample_ids,"
    "       u.id AS author_id, u.full_name AS author_name, e.body_html, e.render_version"
    " FROM eln_entries e JOIN users u ON u.organization_id = $1 AND u.id = e.author_id"
    " WHERE e.organization_id = $1 AND e.id = $2 AND NOT e.is_deleted"};
struct ExportedEntry {
  std::string entry_id, title, body_markdown, created_at, updated_at, tags, amends_entry_id, sample_ids, author_id,
      author_name;
  std::optional<std::string> body_html;
  std::int64_t render_version = 0;
};
const db::Decoder<ExportedEntry> exported_entry{
    entry_q,
    {{"entry_id", &ExportedEntry::entry_id}, {"title", &ExportedEntry::title},
     {"body_markdown", &ExportedEntry::body_markdown}, {"created_at", &ExportedEntry::created_at},
     {"updated_at", &ExportedEntry::updated_at}, {"tags", &ExportedEntry::tags},
     {"amends_entry_id", &ExportedEntry::amends_entry_id}, {"sample_ids", &ExportedEntry::sample_ids},
     {"author_id", &ExportedEntry::author_id}, {"author_name", &ExportedEntry::author_name},
     {"body_html", &ExportedEntry::body_html}, {"render_version", &ExportedEntry::render_version}}};
const db::Query signatures_q{
    "eln_export_signatures",
    "SELECT s.id, s.signer_id, s.signer_name, s.meaning, encode(s.content_sha256, 'hex') AS content_sha256_hex,"
    "       to_jsonb(s.signed_at) #>> '{}' AS signed_at"
    " FROM signatures s WHERE s.organization_id = $1 AND s.entry_id = $2 ORDER BY s.signed_at, s.id"};
// Straight into the archive's signature (valid is set after, against the entry's hash).
const db::Decoder<ElnSignature> exported_signature{
    signatures_q,
    {{"id", &ElnSignature::id}, {"signer_id", &ElnSignature::signer_id}, {"signer_name", &ElnSignature::signer_name},
     {"meaning", &ElnSignature::meaning}, {"content_sha256_hex", &ElnSignature::content_sha256_hex},
     {"signed_at", &ElnSignature::signed_at}}};
const db::Query attachments_q{
    "eln_export_attachments",
    "SELECT a.id, a.filename, a.content_type, encode(a.content, 'hex') AS content_hex,"
    "       encode(a.sha256, 'hex') AS content_sha256, a.size_bytes"
    " FROM attachment_links l JOIN attachments a ON a.organization_id = $1 AND a.id = l.attachment_id AND NOT a.is_deleted"
    " WHERE l.organization_id = $1 AND l.eln_entry_id = $2 ORDER BY a.created_at, a.id"};
struct ExportedAttachment {
  std::string id, filename, content_type;
  std::optional<std::string> content_hex;  // NULL when the bytes are in the content store
  std::string content_sha256;
  std::int64_t size_bytes = 0;
};
const db::Decoder<ExportedAttachment> exported_attachment{
    attachments_q,
    {{"id", &ExportedAttachment::id}, {"filename", &ExportedAttachment::filename},
     {"content_type", &ExportedAttachment::content_type}, {"content_hex", &ExportedAttachment::content_hex},
     {"content_sha256", &ExportedAttachment::content_sha256}, {"size_bytes", &ExportedAttachment::size_bytes}}};

// The rest of the zip, a piece at a time, each written on the blocking pool when the server asks for it.
class ElnStream final : public http::BodyStream {
 public:
  ElnStream(std::shared_ptr<ElnWriter> writer, BlockingPool& pool, WorkShare share, std::optional<std::string> first)
      : writer_(std::move(writer)), pool_(pool), share_(std::move(share)), first_(std::move(first)) {}

  asio::awaitable<std::optional<std::string>> next() override {
    if (first_) co_return std::exchange(first_, std::nullopt);
    // The job shares the writer: it outlives this stream if the connection goes while a piece is read.
    auto piece = [writer = writer_] { return writer->next(); };
    co_return co_await pool_.run(std::move(piece), share_);
  }

 private:
  std::shared_ptr<ElnWriter> writer_;
  BlockingPool& pool_;
  WorkShare share_;  // the requester's: an export waits behind its own organization's work
  std::optional<std::string> first_;
};

// The writer and its first piece: made before the head is sent, so a failure then is still a 500.
struct Started {
  std::shared_ptr<ElnWriter> writer;
  std::optional<std::string> first;
};

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
  if (r[0].empty()) throw not_found("No such notebook entry");
  const ExportedEntry row = exported_entry(r[0]);
  ElnEntry e;
  e.id = row.entry_id;
  e.title = row.title;
  e.body_markdown = row.body_markdown;
  e.created_at = row.created_at;
  e.updated_at = row.updated_at;
  const json::value tags = json::parse(row.tags);
  for (const auto& t : tags.as_array()) e.tags.emplace_back(t.as_string());
  e.amends_entry_id = row.amends_entry_id;
  e.sample_ids = kit::split_list(row.sample_ids);
  e.author = {row.author_id, row.author_name, {}};
  // The HTML stored when the entry was written; rendered here only for a row another renderer made.
  const bool rendered = row.body_html && row.render_version == kit::renderer_version();
  if (rendered) e.body_html = *row.body_html;
  const std::string hash = crypto::to_hex(content_sha256(e.title, e.body_markdown, e.sample_ids));
  for (int i = 0; i < r[1].rows(); ++i) {
    ElnSignature s = exported_signature(r[1], i);
    s.valid = s.content_sha256_hex == hash;
    e.signers.push_back({s.signer_id, s.signer_name, {}});
    e.signatures.push_back(std::move(s));
  }
  // Attachments kept in the table (before revision 10) come with the row; the others stay in the
  // content store, read while the archive is sent.
  struct Stored {
    std::size_t index;
    std::string sha256_hex;
    std::uint64_t size;
  };
  std::vector<Stored> stored;
  for (int i = 0; i < r[2].rows(); ++i) {
    const ExportedAttachment a = exported_attachment(r[2], i);
    const bool in_row = a.content_hex.has_value();
    std::string bytes = in_row ? crypto::from_hex(*a.content_hex).value_or(std::string()) : std::string();
    e.attachments.push_back({a.id, a.filename, a.content_type, std::move(bytes)});
    if (!in_row)
      stored.push_back({e.attachments.size() - 1, a.content_sha256, static_cast<std::uint64_t>(a.size_bytes)});
  }

  const std::string version = ctx.deps.version;
  const std::string name = eln_name(e);
  const ContentStore* store = ctx.deps.files;
  auto start = [e = std::move(e), version, stored = std::move(stored), store, rendered]() mutable {
    for (const auto& s : stored) {
      auto& a = e.attachments[s.index];
      const auto path = store->path_of(s.sha256_hex);
      std::error_code missing;
      const auto size = std::filesystem::file_size(path, missing);
      // A file gone from the store is exported empty, as the archive always did; one of another size
      // than its row says is refused before anything is sent.
      if (missing) continue;
      if (size != s.size) throw std::runtime_error("eln export: the stored file of attachment " + a.id + " has another size");
      a.file = path;
      a.size = s.size;
      a.sha256_hex = s.sha256_hex;
    }
    if (!rendered) e.body_html = kit::render_markdown(e.body_markdown);
    Started out;
    out.writer = std::make_shared<ElnWriter>(std::move(e), audit::utc_now(), version);
    out.first = out.writer->next();
    return out;
  };
  const WorkShare share = ctx.share();
  Started started = co_await ctx.deps.blocking->run(std::move(start), share);
  http::Response res;
  res.content_type = "application/vnd.eln+zip";
  res.header("Content-Disposition", "attachment; filename=\"" + name + ".eln\"");
  res.stream = std::make_shared<ElnStream>(std::move(started.writer), *ctx.deps.blocking, share, std::move(started.first));
  co_return res;
}

}  // namespace spectra::notebook
