// Signatures, 21 CFR Part 11 style: the signer gives their password again (checked with Argon2id off
// the I/O threads, throttled with the logins of the same account and address) and a meaning; the
// signature records who, when, what for, and the SHA-256 of the entry's canonical content (rules.hpp),
// and locks the entry. Listing signatures recomputes the hash from the entry as it is now.
#include <boost/json.hpp>

#include "kit/reauth.hpp"
#include "lims/notebook/handlers.hpp"
#include "lims/notebook/rules.hpp"
#include "lims/notebook/shapes.hpp"
#include "platform/crypto.hpp"
#include "platform/db/sql_error.hpp"
#include "platform/json_text.hpp"

namespace asio = boost::asio;
namespace json = boost::json;

namespace spectra::notebook {
namespace {

const std::string signature_json = signature_shape.sql("s");

// The entry's author (no row when there is no such entry).
const db::Query author_q{"eln_author",
                         "SELECT e.author_id FROM eln_entries e WHERE e.organization_id = $1 AND e.id = $2 AND NOT e.is_deleted"};
struct Author {
  std::optional<std::string> author_id;
};
const db::Decoder<Author> author_row{author_q, {{"author_id", &Author::author_id}}};
// What a signature covers: the title, the markdown and the linked samples (comma-separated).
const std::string content_columns =
    "e.title, e.body_markdown, coalesce((SELECT string_agg(l.sample_id::text, ',') FROM eln_entry_samples l"
    " WHERE l.organization_id = $1 AND l.eln_entry_id = e.id), '') AS sample_ids";
struct EntryContent {
  std::string title, body_markdown, sample_ids;
};
const db::Query lock_content_q{"eln_lock_content", "SELECT " + content_columns +
                                                       " FROM eln_entries e WHERE e.organization_id = $1 AND e.id = $2"
                                                       " AND NOT e.is_deleted FOR UPDATE"};
const db::Decoder<EntryContent> locked_content{
    lock_content_q,
    {{"title", &EntryContent::title}, {"body_markdown", &EntryContent::body_markdown},
     {"sample_ids", &EntryContent::sample_ids}}};
const db::Query content_q{"eln_content", "SELECT " + content_columns +
                                             " FROM eln_entries e WHERE e.organization_id = $1 AND e.id = $2"
                                             " AND NOT e.is_deleted"};
const db::Decoder<EntryContent> entry_content{
    content_q,
    {{"title", &EntryContent::title}, {"body_markdown", &EntryContent::body_markdown},
     {"sample_ids", &EntryContent::sample_ids}}};
const db::Query insert_q{
    "eln_insert_signature",
    "WITH s AS (INSERT INTO signatures (organization_id, entry_id, signer_id, signer_name, meaning, content_sha256)"
    "           VALUES ($1, $2, $3, $4, $5, $6) RETURNING *)"
    " SELECT " + signature_json + ", true AS valid FROM s"};
const db::Query lock_entry_q{
    "eln_lock_signed",
    "UPDATE eln_entries SET locked_at = now(), signed = true"
    " WHERE organization_id = $1 AND id = $2 AND locked_at IS NULL"};  // the first signature locks it
// Each signature with "valid": whether its hash is the content's hash now ($3).
const kit::List signatures_list{{
    .name = "eln_signatures",
    .select = signature_json + ", (s.content_sha256 = $3::bytea) AS valid",
    .from = "signatures s",
    .alias = "s",
    .where = "s.entry_id = $2 AND $3::bytea IS NOT NULL",
    .sorts = {},
    .always_given = 2,
}};
const db::Constraint signed_before{"signatures_entry_signer_meaning_key", "meaning",
                                   "You have already signed this entry with this meaning"};

std::string hash_of(const EntryContent& content) {
  return content_sha256(content.title, content.body_markdown, kit::split_list(content.sample_ids));
}

}  // namespace

kit::Input<Signing> Signing::input() {
  return {"Signing",
          {kit::field("password", &Signing::password).max_length(1024).multiline().describe("The signer's password, again"),
           kit::field("meaning", &Signing::meaning).one_of({"author", "reviewer", "approver"}),
           kit::field("content_sha256", &Signing::content_sha256)
               .pattern("[0-9a-fA-F]{64}")
               .describe("The entry's content_sha256 as the signer read it (GET /api/eln/{id}); 409 when the entry "
                         "has changed since")}};
}

Reply sign_entry(RequestContext& ctx, Path<kit::Id> p, Body<Signing> in) {
  // On the credential checks' own connections, as the password check: a wrong password is answered and
  // recorded even while the request pool is exhausted.
  auto author = co_await db::read(*ctx.deps.auth_pool, ctx.tenant(), author_q, db::Params(p.id));
  if (author.empty()) throw not_found("No such notebook entry");
  if (auto why = meaning_refusal(in.meaning, author_row(author).author_id.value_or(""), ctx.principal.user_id)) throw forbidden(*why);
  const json::object detail{{"meaning", in.meaning}, {"reason", "wrong password"}};
  audit::Entry failed{"eln.sign_failed", "eln_entry", p.id, std::nullopt, json_text(detail)};
  std::string refusal = "The password is not correct; the entry was not signed";
  const std::string signer_name = co_await kit::confirm_password(ctx, in.password, std::move(failed), std::move(refusal));

  auto signature = co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<std::string> {
    auto content = co_await w.exec(lock_content_q, db::Params(p.id));
    if (content.empty()) throw not_found("No such notebook entry");
    const std::string hash = hash_of(locked_content(content));
    if (auto why = stale_content_refusal(in.content_sha256, crypto::to_hex(hash))) throw conflict(*why);
    db::Params sig(p.id, ctx.principal.user_id, signer_name, in.meaning);
    sig.add_bytea(hash);
    std::vector<db::Statement> st;
    st.push_back({&insert_q, std::move(sig)});
    st.push_back({&lock_entry_q, db::Params(p.id)});
    auto r = co_await w.exec_all(std::move(st));
    std::string json = db::row_json(r[0]);
    w.audit("eln.sign", "eln_entry", p.id, std::nullopt, json);
    co_return json;
  });
  co_return http::Response::json(201, std::move(signature));
}

Reply list_signatures(RequestContext& ctx, Path<kit::Id> p, PageRequest page) {
  auto content = co_await db::read(ctx.db(), ctx.tenant(), content_q, db::Params(p.id));
  if (content.empty()) throw not_found("No such notebook entry");
  db::Params filters(p.id);
  filters.add_bytea(hash_of(entry_content(content)));
  co_return co_await signatures_list.page(ctx, std::move(filters), std::move(page));
}

}  // namespace spectra::notebook
