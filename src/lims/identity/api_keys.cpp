// API keys: each key acts for its own service account (a user without a password) with a role, and
// carries scopes; a request passes only where both allow it. The key is shown once, stored hashed.
#include <boost/json.hpp>

#include "auth/api_keys.hpp"
#include "kit/data.hpp"
#include "lims/identity/handlers.hpp"
#include "platform/crypto.hpp"
#include "platform/db/sql_error.hpp"
#include "platform/json_text.hpp"

namespace asio = boost::asio;
namespace json = boost::json;

namespace spectra::identity {
namespace {

constexpr std::string_view api_key_fields[] = {
    "id",           "organization_id", "user_id",    "name",           "prefix",     "scopes",    "expires_at",
    "revoked_at",   "revoked_by",      "last_used_at", "created_by",   "extra_metadata", "created_at", "updated_at"};
constexpr kit::Shape api_key_shape{api_key_fields};

const kit::List api_keys_list{{
    .name = "api_keys_list",
    .select = api_key_shape.sql("k") + ", u.role AS role",
    .from = "api_keys k JOIN users u ON u.organization_id = k.organization_id AND u.id = k.user_id",
    .alias = "k",
    .where = "",
    .sorts = {{"name", "k.name", "text"}},
}};
// A key's service account, with its email's directory entry.
const db::Query insert_account_q{
    "api_keys_insert_account",
    "WITH entry AS (INSERT INTO directory.user_emails (organization_id, user_id, email) VALUES ($1, $2, $3))"
    " INSERT INTO users (organization_id, id, email, full_name, role, is_service_account)"
    " VALUES ($1, $2, $3, $4, $5, true)"};
// The key ($2 its id), with its prefix's directory entry (prefixes name keys across organizations).
const db::Query insert_key_q{
    "api_keys_insert",
    "WITH entry AS (INSERT INTO directory.api_key_prefixes (organization_id, api_key_id, prefix) VALUES ($1, $2, $5)),"
    " k AS (INSERT INTO api_keys (organization_id, id, user_id, name, prefix, key_hash, scopes, expires_at, created_by,"
    "                             extra_metadata)"
    "       VALUES ($1, $2, $3, $4, $5, $6, $7::text[], $8::timestamptz, $9, $10::jsonb) RETURNING *)"
    " SELECT " + api_key_shape.sql("k") + ", $11::text AS role FROM k"};
// An expiry in the past would make a key that can never be used.
const db::Constraint expired_at_birth{"api_keys_expires_after_created_check", "expires_at",
                                     "expires_at must be in the future", "must be in the future"};
// Revokes a key not revoked yet (answers nothing for one already revoked: see revoke_api_key).
const db::Query revoke_q{
    "api_keys_revoke",
    "WITH old AS (SELECT o.id, " + api_key_shape.jsonb("o") + " AS before FROM api_keys o"
    "             WHERE o.organization_id = $1 AND o.id = $2 AND o.revoked_at IS NULL FOR UPDATE),"
    " k AS (UPDATE api_keys k SET revoked_at = now(), revoked_by = $3"
    "       FROM old WHERE k.organization_id = $1 AND k.id = old.id RETURNING k.*, old.before)"
    " SELECT k.before AS _before, " + api_key_shape.sql("k") + " FROM k"};
const db::Query exists_q{"api_keys_exists", "SELECT 1 FROM api_keys WHERE organization_id = $1 AND id = $2"};

}  // namespace

kit::Input<NewApiKey> NewApiKey::input() {
  return {"NewApiKey",
          {kit::field("name", &NewApiKey::name).max_length(200),
           kit::field("scopes", &NewApiKey::scopes).one_of(auth::known_scopes()).max_length(50).min(1),
           kit::field("expires_at", &NewApiKey::expires_at).timestamp(),
           kit::field("role", &NewApiKey::role).or_default().one_of({"pi", "engineer", "technician", "viewer"}),
           kit::field("extra_metadata", &NewApiKey::extra_metadata).object()}};
}

Reply list_api_keys(RequestContext& ctx, PageRequest page) { return api_keys_list.page(ctx, {}, page); }

Reply create_api_key(RequestContext& ctx, Body<NewApiKey> in) {
  auto key = auth::generate_api_key();
  const std::string account_id = crypto::uuid_v4();
  auto created = co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<std::string> {
    db::Params k;
    k.add(crypto::uuid_v4()).add(account_id).add(in.name).add(key.prefix).add_bytea(key.hash).add_array(in.scopes);
    k.add(in.expires_at).add(ctx.principal.user_id).add(in.extra_metadata).add(in.role);
    std::vector<db::Statement> st;  // named: GCC 12 miscompiles braced temporaries inside co_await
    st.push_back({&insert_account_q,
                  db::Params(account_id, "svc-" + key.prefix + "@api-keys.invalid", "API key: " + in.name, in.role)});
    st.push_back({&insert_key_q, std::move(k)});
    auto r = co_await w.exec_all(std::move(st));
    std::string row = db::row_json(r[1]);
    w.audit("api_key.create", "api_key", std::string(r[1].get(0, "id")), std::nullopt, row);
    co_return row;
  });
  auto obj = json::parse(created).as_object();
  obj["key"] = key.key;
  co_return http::Response::json(201, json_text(obj));
}

Reply revoke_api_key(RequestContext& ctx, Path<kit::Id> p) {
  co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<void> {
    auto r = co_await w.exec(revoke_q, db::Params(p.id, ctx.principal.user_id));
    if (!r.empty()) {
      w.audit("api_key.revoke", "api_key", std::string(r.get(0, "id")),
              std::string(r.get(0, "_before")), db::row_json(r));
      co_return;
    }
    // Revoking a revoked key changes nothing (and is no error); an unknown one is 404.
    if ((co_await w.exec(exists_q, db::Params(p.id))).empty()) throw not_found("No such API key");
  });
  co_return http::Response::no_content();
}

}  // namespace spectra::identity
