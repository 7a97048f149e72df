// API keys: each key acts for its own service account (a user without a password) with a role, and
// carries scopes; a request passes only where both allow it. The key is shown once, stored hashed.
#include <boost/json.hpp>

#include "audit/audit.hpp"
#include "auth/api_keys.hpp"
#include "platform/crypto.hpp"
#include <algorithm>
#include "lims/identity/handlers.hpp"
#include "platform/json_body.hpp"
#include "platform/pagination.hpp"

namespace asio = boost::asio;
namespace json = boost::json;

namespace spectra::identity {
namespace {

constexpr db::Query list_q{
    "api_keys_list",
    "SELECT (to_jsonb(k) - 'key_hash') || jsonb_build_object('role', u.role), k.created_at::text, k.id"
    " FROM api_keys k JOIN users u ON u.organization_id = k.organization_id AND u.id = k.user_id"
    " WHERE k.organization_id = app.current_org_id()"
    "   AND ($1::timestamptz IS NULL OR (k.created_at, k.id) < ($1::timestamptz, $2::uuid))"
    " ORDER BY k.created_at DESC, k.id DESC LIMIT $3"};
constexpr db::Query insert_account_q{
    "api_keys_insert_account",
    "INSERT INTO users (organization_id, id, email, full_name, role, is_service_account)"
    " VALUES (app.current_org_id(), $1, $2, $3, $4, true)"};
constexpr db::Query insert_key_q{
    "api_keys_insert",
    "INSERT INTO api_keys (organization_id, user_id, name, prefix, key_hash, scopes, expires_at, created_by, extra_metadata)"
    " VALUES (app.current_org_id(), $1, $2, $3, $4, $5::text[], $6::timestamptz, $7, $8::jsonb)"
    " RETURNING (to_jsonb(api_keys) - 'key_hash') || jsonb_build_object('role', $9::text), id"};
constexpr db::Query revoke_q{
    "api_keys_revoke",
    "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()), revoked_by = coalesce(revoked_by, $2)"
    " WHERE organization_id = app.current_org_id() AND id = $1 RETURNING to_jsonb(api_keys) - 'key_hash'"};

}  // namespace

Result list_api_keys(RequestContext& ctx) {
  const auto page = parse_page(ctx.req);
  db::Params p;
  p.add(page.after_created_at).add(page.after_id).add(page.limit + 1);
  auto r = co_await db::read(ctx.db(), ctx.tenant(), list_q, std::move(p));
  co_return http::Response::json(200, page_json(r, page));
}

Result create_api_key(RequestContext& ctx) {
  auto body = JsonBody::parse(ctx.req);
  body.allow_only({"name", "scopes", "expires_at", "role", "extra_metadata"});
  const std::string name = body.required_string("name", 200);
  const auto scopes = body.string_list("scopes", true, 50);
  const auto expires_at = body.optional_timestamp("expires_at");
  const std::string role = body.optional_enum("role", {"pi", "engineer", "technician", "viewer"}).value_or("engineer");
  const std::string meta = body.object_json("extra_metadata");
  if (body.has("scopes") && scopes.empty()) body.fail("scopes", "must name at least one scope");
  for (const auto& s : scopes) {
    const auto& known = auth::known_scopes();
    if (std::find(known.begin(), known.end(), s) == known.end()) body.fail("scopes", "unknown scope " + s);
  }
  body.finish();

  auto key = auth::generate_api_key();
  const std::string account_id = crypto::uuid_v4();
  auto created = co_await db::transact(ctx.db(), ctx.tenant(), db::Mode::read_write, [&](db::Tx& tx) -> asio::awaitable<std::string> {
    std::vector<db::Statement> st;
    st.push_back({&insert_account_q,
                  db::Params(account_id, "svc-" + key.prefix + "@api-keys.invalid", "API key: " + name, role)});
    db::Params k;
    k.add(account_id).add(name).add(key.prefix).add_bytea(key.hash).add_array(scopes).add(expires_at);
    k.add(ctx.principal.user_id).add(meta).add(role);
    st.push_back({&insert_key_q, std::move(k)});
    auto r = co_await tx.exec_all(std::move(st));
    if (expires_at) {
      // An expiry in the past makes a key that can never be used.
      static constexpr db::Query past{"api_keys_check_expiry", "SELECT $1::timestamptz <= now()"};
      if ((co_await tx.exec(past, db::Params(*expires_at))).get_bool(0, 0))
        throw std::move(unprocessable("expires_at must be in the future").with_field("expires_at", "must be in the future"));
    }
    const std::string json_text(r[1].get(0, 0));
    std::vector<db::Statement> a;
    a.push_back(audit::statement(ctx, {"api_key.create", "api_key", std::string(r[1].get(0, 1)), std::nullopt, json_text}));
    co_await tx.exec_all(std::move(a), true);
    co_return json_text;
  });
  auto obj = json::parse(created).as_object();
  obj["key"] = key.key;
  co_return http::Response::json(201, json::serialize(obj));
}

Result revoke_api_key(RequestContext& ctx) {
  const auto id = uuid_path_param(ctx.req, "id");
  co_await db::transact(ctx.db(), ctx.tenant(), db::Mode::read_write, [&](db::Tx& tx) -> asio::awaitable<int> {
    auto r = co_await tx.exec(revoke_q, db::Params(id, ctx.principal.user_id));
    if (r.empty()) throw not_found("No such API key");
    std::vector<db::Statement> a;
    a.push_back(audit::statement(ctx, {"api_key.revoke", "api_key", id, std::nullopt, std::string(r.get(0, 0))}));
    co_await tx.exec_all(std::move(a), true);
    co_return 0;
  });
  co_return http::Response::no_content();
}

}  // namespace spectra::identity
