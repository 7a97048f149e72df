// Attachments: an upload (a raw body with its Content-Type, or multipart/form-data with a "file" part)
// is read only after its sender is authenticated (kit::Upload; MAX_UPLOAD_BYTES, else 413), checked
// against the allow-list by its own bytes (415), scanned by clamd when CLAMD_SOCKET is set (422 naming
// the signature, 503 when clamd cannot answer: never an unscanned file), stored by content off the I/O
// threads (507 when the store's disk is full: nothing recorded), and recorded with its link in one
// transaction. Downloads carry their type, a safe Content-Disposition, nosniff and the SHA-256 as ETag.
#include <boost/json.hpp>
#include <memory>

#include "analysis/attachments/handlers.hpp"
#include "analysis/attachments/rules.hpp"
#include "analysis/attachments/store.hpp"
#include "kit/data.hpp"
#include "platform/blocking.hpp"
#include "platform/clamd.hpp"
#include "platform/content_store.hpp"
#include "platform/crypto.hpp"
#include "platform/db/sql_error.hpp"
#include "platform/http/multipart.hpp"
#include "platform/json_text.hpp"

namespace asio = boost::asio;
namespace json = boost::json;

namespace spectra::attachments {
namespace {

constexpr std::string_view attachment_fields[] = {
    "id",           "organization_id", "filename",   "content_type", "size_bytes",
    "sha256=encode($.sha256, 'hex')",  "uploaded_by", "extra_metadata", "created_at", "updated_at",
    "links=(SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object('run_id', l.run_id, 'sample_id', l.sample_id,"
    " 'eln_entry_id', l.eln_entry_id))), '[]'::jsonb) FROM attachment_links l"
    " WHERE l.organization_id = $1 AND l.attachment_id = $.id)"};
constexpr kit::Shape attachment_shape{attachment_fields};
const std::string attachment_json = attachment_shape.sql("a");

const kit::List attachments_list{{
    .name = "attachments_list",
    .select = attachment_json,
    .from = "attachments a",
    .alias = "a",
    .where = "NOT a.is_deleted AND ($2::uuid IS NULL OR EXISTS (SELECT 1 FROM attachment_links l WHERE l.organization_id = $1"
             "   AND l.attachment_id = a.id AND l.run_id = $2))"
             " AND ($3::uuid IS NULL OR EXISTS (SELECT 1 FROM attachment_links l WHERE l.organization_id = $1"
             "   AND l.attachment_id = a.id AND l.sample_id = $3))"
             " AND ($4::uuid IS NULL OR EXISTS (SELECT 1 FROM attachment_links l WHERE l.organization_id = $1"
             "   AND l.attachment_id = a.id AND l.eln_entry_id = $4))",
    .sorts = {{"filename", "a.filename", "text"}},
}};
const db::Query get_q{"attachments_get", "SELECT " + attachment_json +
                                             " FROM attachments a WHERE a.organization_id = $1 AND a.id = $2 AND NOT a.is_deleted"};
const db::Query content_q{"attachments_content",
                          "SELECT a.filename, a.content_type, encode(a.sha256, 'hex') AS content_sha256,"
                          "       a.content IS NOT NULL AS has_content, encode(a.content, 'base64') AS content_base64"
                          " FROM attachments a WHERE a.organization_id = $1 AND a.id = $2 AND NOT a.is_deleted"};
struct Content {
  std::string filename, content_type, content_sha256;
  bool has_content = false;    // kept in the table (before revision 10)
  std::string content_base64;  // "" when not
};
const db::Decoder<Content> stored_file{
    content_q,
    {{"filename", &Content::filename}, {"content_type", &Content::content_type},
     {"content_sha256", &Content::content_sha256}, {"has_content", &Content::has_content},
     {"content_base64", &Content::content_base64}}};
// Whether the target exists in the organization ($2 run, $3 sample, $4 entry; one is given), and
// whether it is a signed (locked) entry.
const db::Query target_q{
    "attachments_target",
    "SELECT coalesce((SELECT true FROM runs WHERE organization_id = $1 AND id = $2),"
    "                (SELECT NOT is_deleted FROM samples WHERE organization_id = $1 AND id = $3),"
    "                (SELECT NOT is_deleted FROM eln_entries WHERE organization_id = $1 AND id = $4), false)"
    "       AS target_exists,"
    "       coalesce((SELECT locked_at IS NOT NULL FROM eln_entries WHERE organization_id = $1 AND id = $4), false)"
    "       AS target_locked"};
struct TargetFacts {
  bool target_exists = false;
  bool target_locked = false;
};
const db::Decoder<TargetFacts> target_facts{
    target_q, {{"target_exists", &TargetFacts::target_exists}, {"target_locked", &TargetFacts::target_locked}}};
const db::Query insert_q{
    "attachments_insert",
    "INSERT INTO attachments (organization_id, id, filename, content_type, size_bytes, sha256, uploaded_by)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7)"};
const db::Query link_q{"attachments_link",
                       "INSERT INTO attachment_links (organization_id, attachment_id, run_id, sample_id, eln_entry_id)"
                       " VALUES ($1, $2, $3, $4, $5)"};

// The bytes, declared type and filename of an upload, from a raw body or a multipart form.
struct Received {
  std::string_view bytes;
  std::string declared_type, filename;
};

std::optional<std::string> header_filename(const http::Request& req) {
  auto cd = req.header("content-disposition");
  if (!cd) return std::nullopt;
  // Reuse the multipart header reading: "attachment; filename=..." has the same parameters.
  const std::string fake = "form-data; name=\"file\"; " + std::string(cd->substr(std::min(cd->find(';') + 1, cd->size())));
  const std::string body = "--b\r\nContent-Disposition: " + fake + "\r\n\r\n\r\n--b--";
  auto parts = http::parse_multipart(body, "b");
  if (!parts || parts->empty()) return std::nullopt;
  return (*parts)[0].filename;
}

Received receive(RequestContext& ctx, const kit::Upload& file, UploadTarget& target) {
  Received r;
  if (auto boundary = http::multipart_boundary(file.content_type)) {
    auto parts = http::parse_multipart(file.bytes, *boundary);
    if (!parts) throw ApiError(ErrorCode::bad_request, "The multipart body is malformed");
    const http::FormPart* found = nullptr;
    for (const auto& p : *parts) {
      if (p.name == "file" && p.filename) found = &p;
      auto set = [&](const char* name, std::optional<std::string>& field) {
        if (p.name == name && !p.filename && !field) field = std::string(p.data);
      };
      set("run_id", target.run_id);
      set("sample_id", target.sample_id);
      set("eln_entry_id", target.eln_entry_id);
    }
    if (!found)
      throw std::move(unprocessable("The form has no file").with_field("file", "is required (a part named file, with a filename)"));
    r.bytes = found->data;
    r.declared_type = found->content_type;
    r.filename = *found->filename;
  } else {
    r.bytes = file.bytes;
    r.declared_type = std::string(file.content_type);
    r.filename = target.filename.value_or(header_filename(ctx.req).value_or("file"));
  }
  return r;
}

}  // namespace

kit::Input<UploadTarget> UploadTarget::input() {
  return {"UploadTarget",
          {kit::field("run_id", &UploadTarget::run_id).uuid(),
           kit::field("sample_id", &UploadTarget::sample_id).uuid(),
           kit::field("eln_entry_id", &UploadTarget::eln_entry_id).uuid(),
           kit::field("filename", &UploadTarget::filename).max_length(255).describe("A raw body's filename")}};
}

kit::Input<AttachmentFilters> AttachmentFilters::input() {
  return {"AttachmentFilters",
          {kit::field("run_id", &AttachmentFilters::run_id).uuid(),
           kit::field("sample_id", &AttachmentFilters::sample_id).uuid(),
           kit::field("eln_entry_id", &AttachmentFilters::eln_entry_id).uuid()}};
}

Reply upload_attachment(RequestContext& ctx, QueryString<UploadTarget> q, kit::Upload file) {
  UploadTarget target = q;
  const Received in = receive(ctx, file, target);
  {
    ApiError bad = unprocessable("The upload cannot be accepted");
    bool refused = false;
    const int targets = (target.run_id ? 1 : 0) + (target.sample_id ? 1 : 0) + (target.eln_entry_id ? 1 : 0);
    if (targets != 1) refused = (bad.with_field("run_id", "name exactly one of run_id, sample_id, eln_entry_id"), true);
    for (const auto* id : {&target.run_id, &target.sample_id, &target.eln_entry_id})
      if (*id && !crypto::is_uuid(**id)) refused = (bad.with_field("run_id", "must be a UUID"), true);
    if (in.bytes.empty()) refused = (bad.with_field("file", "is empty"), true);
    if (refused) throw std::move(bad);
  }
  const auto type = allowed_type(in.declared_type);
  if (!type)
    throw ApiError(ErrorCode::unsupported_media,
                   "Content-Type '" + in.declared_type + "' is not allowed: CSV, text, JSON, PNG, JPEG, PDF or HDF5");
  auto exists = co_await db::read(ctx.db(), ctx.tenant(), target_q,
                                  db::Params(target.run_id, target.sample_id, target.eln_entry_id));
  const TargetFacts facts = target_facts(exists);
  if (!facts.target_exists) {
    const char* field = target.run_id ? "run_id" : target.sample_id ? "sample_id" : "eln_entry_id";
    throw std::move(unprocessable("The target does not exist in your organization")
                        .with_field(field, "does not exist in your organization"));
  }
  // A signed entry is locked for files too (the database refuses the link as well, should a signature
  // land between this check and the insert).
  if (facts.target_locked)
    throw conflict("The notebook entry is signed and locked: attach the file to an amendment instead");

  const std::string id = crypto::uuid_v4();
  const StoredFile stored =
      co_await check_and_store(ctx, std::make_shared<const std::string>(in.bytes), *type, sanitize_filename(in.filename));
  auto row = co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<std::string> {
    std::vector<db::Statement> st = attachment_rows(id, stored, ctx.principal.user_id,
                                                    {target.run_id, target.sample_id, target.eln_entry_id});
    st.push_back({&get_q, db::Params(id)});
    auto r = co_await w.exec_all(std::move(st));
    std::string json = db::row_json(r.back());
    w.audit("attachment.create", "attachment", id, std::nullopt, json);
    co_return json;
  });
  co_return http::Response::json(201, std::move(row));
}

asio::awaitable<StoredFile> check_and_store(RequestContext& ctx, std::shared_ptr<const std::string> bytes, std::string type,
                                            std::string filename) {
  // Off the I/O threads: the bytes are checked against the type, scanned, hashed and stored.
  struct Outcome {
    bool matches = false, scanner_down = false;
    std::optional<clamd::Verdict> verdict;
    std::string sha256_hex;
  };
  const ContentStore* store = ctx.deps.files;
  const std::string socket = ctx.deps.config.clamd_socket;
  const auto timeout = ctx.deps.config.clamd_timeout;
  auto job = [bytes, store, socket, timeout, type] {
    Outcome o;
    o.matches = content_matches(type, *bytes);
    if (!o.matches) return o;
    if (!socket.empty()) {
      try {
        o.verdict = clamd::scan(socket, *bytes, timeout);
      } catch (const std::exception&) {
        o.scanner_down = true;
        return o;
      }
      if (!o.verdict->clean) {
        o.sha256_hex = crypto::to_hex(crypto::sha256(*bytes));
        return o;
      }
    }
    o.sha256_hex = store->put(*bytes);  // a full disk throws ContentStore::Full: 507 (kit/api)
    return o;
  };
  const WorkShare share = ctx.share();
  const Outcome done = co_await ctx.deps.blocking->run(std::move(job), share);
  if (!done.matches) throw ApiError(ErrorCode::unsupported_media, "The file's bytes are not " + type);
  if (done.scanner_down) throw ApiError(ErrorCode::unavailable, "The malware scanner is unavailable; nothing was stored");
  if (done.verdict && !done.verdict->clean) {
    const json::object detail{{"filename", filename}, {"content_type", type}, {"signature", done.verdict->signature},
                              {"sha256", done.sha256_hex}};
    audit::Entry rejected{"attachment.rejected", "attachment", std::nullopt, std::nullopt, json_text(detail)};
    co_await kit::audit_apart(ctx, std::move(rejected));
    throw std::move(unprocessable("The file contains malware: " + done.verdict->signature)
                        .with_field("file", "contains " + done.verdict->signature));
  }
  StoredFile out{std::move(filename), std::move(type), done.sha256_hex, static_cast<std::int64_t>(bytes->size())};
  co_return out;
}

std::vector<db::Statement> attachment_rows(const std::string& id, const StoredFile& file, const std::string& user,
                                           const Link& link) {
  std::vector<db::Statement> st;
  db::Params ins(id, file.filename, file.content_type, file.size_bytes);
  ins.add_bytea(crypto::from_hex(file.sha256_hex).value_or(std::string())).add(user);
  st.push_back({&insert_q, std::move(ins)});
  st.push_back({&link_q, db::Params(id, link.run_id, link.sample_id, link.eln_entry_id)});
  return st;
}

Reply list_attachments(RequestContext& ctx, QueryString<AttachmentFilters> q, PageRequest page) {
  return attachments_list.page(ctx, db::Params(q.run_id, q.sample_id, q.eln_entry_id), std::move(page));
}

Reply get_attachment(RequestContext& ctx, Path<kit::Id> p) {
  return kit::one(ctx, get_q, db::Params(p.id), "No such attachment");
}

Reply download_attachment(RequestContext& ctx, Path<kit::Id> p) {
  auto r = co_await db::read(ctx.db(), ctx.tenant(), content_q, db::Params(p.id));
  if (r.empty()) throw not_found("No such attachment");
  Content stored = stored_file(r);
  const std::string filename = stored.filename, type = stored.content_type, sha = stored.content_sha256;
  const std::string etag = "\"" + sha + "\"";
  http::Response res;
  res.header("ETag", etag);
  res.header("X-Content-Type-Options", "nosniff");
  res.header("Cache-Control", "private, no-cache");
  if (auto inm = ctx.req.header("if-none-match"); inm && *inm == etag) {
    res.status = 304;
    co_return res;
  }
  std::optional<std::string> bytes;
  if (stored.has_content) {
    bytes = crypto::base64_decode([&] {  // kept in the table before revision 10
      std::string b64 = std::move(stored.content_base64);
      std::erase(b64, '\n');
      return b64;
    }());
  } else {
    const ContentStore* store = ctx.deps.files;
    auto get = [store, sha] { return store->get(sha); };
    const WorkShare share = ctx.share();
    bytes = co_await ctx.deps.blocking->run(std::move(get), share);
  }
  if (!bytes) throw ApiError(ErrorCode::unavailable, "The attachment's file is not available", "missing " + sha);
  res.body = std::move(*bytes);
  res.content_type = type;
  // ASCII filename (quotes and non-ASCII replaced) and the exact one, percent-encoded (RFC 6266).
  std::string ascii, encoded;
  for (unsigned char c : filename) {
    ascii.push_back(c >= 0x20 && c < 0x7f && c != '"' && c != '\\' ? static_cast<char>(c) : '_');
    if (std::isalnum(c) || c == '.' || c == '-' || c == '_') {
      encoded.push_back(static_cast<char>(c));
    } else {
      static constexpr char hex[] = "0123456789ABCDEF";
      encoded += '%';
      encoded += hex[c >> 4];
      encoded += hex[c & 15];
    }
  }
  res.header("Content-Disposition", "attachment; filename=\"" + ascii + "\"; filename*=UTF-8''" + encoded);
  co_return res;
}

}  // namespace spectra::attachments
