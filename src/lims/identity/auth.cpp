// Login, refresh-token rotation with reuse detection, logout, and the caller's own user.
#include <boost/json.hpp>

#include "audit/audit.hpp"
#include "auth/password.hpp"
#include "auth/throttle.hpp"
#include "auth/tokens.hpp"
#include "lims/identity/handlers.hpp"
#include "platform/blocking.hpp"
#include "platform/crypto.hpp"
#include "platform/json_body.hpp"

namespace asio = boost::asio;
namespace json = boost::json;

namespace spectra::identity {
namespace {

constexpr db::Query find_login{
    "identity_find_login",
    "SELECT organization_id, id, email, full_name, role, password_hash, is_active, is_service_account,"
    " organization_active FROM app.find_login($1)"};
constexpr db::Query find_refresh{
    "identity_find_refresh",
    "SELECT organization_id, id, user_id, family_id, expired, used, revoked, role, email, user_active"
    " FROM app.find_refresh_token($1)"};
constexpr db::Query insert_refresh{
    "identity_insert_refresh",
    "INSERT INTO refresh_tokens (organization_id, user_id, family_id, token_hash, expires_at, client_addr, user_agent)"
    " VALUES (app.current_org_id(), $1, $2, $3, now() + make_interval(days => $4::int), $5, $6)"};
constexpr db::Query rotate_refresh{
    "identity_rotate_refresh",
    "WITH spent AS ("
    "  UPDATE refresh_tokens SET used_at = now(), replaced_by = $2"
    "   WHERE organization_id = app.current_org_id() AND id = $1 AND used_at IS NULL AND revoked_at IS NULL"
    "     AND expires_at > now()"
    "  RETURNING user_id, family_id)"
    " INSERT INTO refresh_tokens (organization_id, id, user_id, family_id, token_hash, expires_at, client_addr, user_agent)"
    // Each rotation extends the session, but never past the family's absolute lifetime ($7 days).
    " SELECT app.current_org_id(), $2, s.user_id, s.family_id, $3,"
    "   least(now() + make_interval(days => $4::int),"
    "         (SELECT min(f.created_at) FROM refresh_tokens f WHERE f.organization_id = app.current_org_id()"
    "            AND f.family_id = s.family_id) + make_interval(days => $7::int)),"
    "   $5, $6 FROM spent s"
    " RETURNING id"};
constexpr db::Query token_spent{
    "identity_token_spent",
    "SELECT used_at IS NOT NULL FROM refresh_tokens WHERE organization_id = app.current_org_id() AND id = $1"};
constexpr db::Query revoke_family{
    "identity_revoke_family",
    "UPDATE refresh_tokens SET revoked_at = now(), revoked_reason = $2"
    " WHERE organization_id = app.current_org_id() AND family_id = $1 AND revoked_at IS NULL"};
constexpr db::Query record_login{
    "identity_record_login",
    "UPDATE users SET last_login_at = now(), password_hash = coalesce($2, password_hash)"
    " WHERE organization_id = app.current_org_id() AND id = $1"
    " RETURNING jsonb_build_object('id', id, 'email', email, 'full_name', full_name, 'role', role,"
    " 'organization_id', organization_id)"};
constexpr db::Query select_me{
    "identity_select_me",
    "SELECT to_jsonb(u) - 'password_hash' FROM users u WHERE u.organization_id = app.current_org_id() AND u.id = $1"};

std::string user_agent(const http::Request& req) {
  auto ua = req.header("user-agent");
  return ua ? std::string(ua->substr(0, 300)) : std::string();
}

ApiError invalid_login() { return unauthorized("Invalid email or password"); }

std::string token_response(const auth::IssuedToken& access, const std::string& refresh, std::string_view user_json) {
  json::object o{{"access_token", access.token},
                 {"refresh_token", refresh},
                 {"token_type", "bearer"},
                 {"expires_in", access.expires_in}};
  o["user"] = json::parse(user_json);
  return json::serialize(o);
}

}  // namespace

Result login(RequestContext& ctx) {
  auto body = JsonBody::parse(ctx.req);
  body.allow_only({"email", "password"});
  const std::string email = body.required_string("email", 320);
  const std::string password = body.required_string("password", 1024);
  body.finish();

  std::string account = email;
  for (auto& c : account) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto& throttle = *ctx.app.throttle;
  if (auto wait = throttle.begin(account, ctx.req.remote_addr))
    throw std::move(ApiError(ErrorCode::too_many_requests, "Too many failed logins; try again later")
                        .with_header("Retry-After", std::to_string(*wait)));
  auth::LoginThrottle::Attempt attempt(throttle, account, ctx.req.remote_addr);

  auto found = co_await db::lookup(*ctx.app.pool, find_login, db::Params(email));
  std::optional<std::string> stored;
  if (!found.empty()) stored = found.get_optional(0, 5);
  // Closures that own strings are named locals: GCC 12 destroys such temporaries twice across co_await.
  auto verify = [password, stored] { return auth::verify_password(password, stored); };
  auto check = co_await ctx.app.blocking->run(std::move(verify));

  const bool usable = !found.empty() && found.get_bool(0, 6) && !found.get_bool(0, 7) && found.get_bool(0, 8);
  if (!check.ok || !usable) {
    attempt.failed();
    if (!found.empty()) {
      // The failure is recorded in the account's organization (an unknown email has none).
      db::TenantContext system{std::string(found.get(0, 0)), {}, {}};
      co_await db::transact(*ctx.app.pool, system, db::Mode::read_write, [&](db::Tx& tx) -> asio::awaitable<int> {
        json::object after{{"email", email}, {"reason", !check.ok ? "wrong password" : "account not active"}};
        std::vector<db::Statement> st;
        st.push_back(audit::statement(ctx.req, std::string(found.get(0, 1)), "user",
                                      {"login_failed", "user", std::string(found.get(0, 1)), std::nullopt,
                                       json::serialize(after)}));
        co_await tx.exec_all(std::move(st), true);
        co_return 0;
      });
    }
    throw invalid_login();
  }
  attempt.succeeded();

  auth::Principal who;
  who.org_id = found.get(0, 0);
  who.user_id = found.get(0, 1);
  who.email = found.get(0, 2);
  who.role = auth::parse_role(found.get(0, 4)).value_or(auth::Role::viewer);
  std::optional<std::string> rehash;
  if (check.needs_rehash) {
    auto job = [password] { return auth::hash_password(password); };
    rehash = co_await ctx.app.blocking->run(std::move(job));
  }

  const std::string refresh_token = crypto::base64url_encode(crypto::random_bytes(32));
  db::TenantContext tc{who.org_id, who.user_id, std::string(auth::role_name(who.role))};
  auto user_json = co_await db::transact(*ctx.app.pool, tc, db::Mode::read_write, [&](db::Tx& tx) -> asio::awaitable<std::string> {
    std::vector<db::Statement> st;
    db::Params ins;
    ins.add(who.user_id).add(crypto::uuid_v4()).add_bytea(crypto::sha256(refresh_token));
    ins.add(ctx.app.config.refresh_token_days).add(ctx.req.remote_addr).add(user_agent(ctx.req));
    st.push_back({&insert_refresh, std::move(ins)});
    db::Params upd;
    upd.add(who.user_id).add(rehash);
    st.push_back({&record_login, std::move(upd)});
    st.push_back(audit::statement(ctx.req, who.user_id, "user",
                                  {"login", "user", who.user_id, std::nullopt,
                                   rehash ? std::optional<std::string>("{\"password_rehashed\":true}") : std::nullopt}));
    auto r = co_await tx.exec_all(std::move(st), true);
    co_return std::string(r[1].get(0, 0));
  });
  auto access = ctx.app.tokens->issue_access_token(who);
  co_return http::Response::json(200, token_response(access, refresh_token, user_json));
}

Result refresh(RequestContext& ctx) {
  auto body = JsonBody::parse(ctx.req);
  body.allow_only({"refresh_token"});
  const std::string token = body.required_string("refresh_token", 200);
  body.finish();

  db::Params p;
  p.add_bytea(crypto::sha256(token));
  auto found = co_await db::lookup(*ctx.app.pool, find_refresh, std::move(p));
  if (found.empty()) throw unauthorized("Invalid refresh token");
  const std::string org(found.get(0, 0)), id(found.get(0, 1)), user(found.get(0, 2)), family(found.get(0, 3));
  const bool expired = found.get_bool(0, 4), used = found.get_bool(0, 5), revoked = found.get_bool(0, 6);

  if (used && !revoked) {
    // A spent token came back: someone holds a copy. Revoke the whole family.
    db::TenantContext system{org, {}, {}};
    co_await db::transact(*ctx.app.pool, system, db::Mode::read_write, [&](db::Tx& tx) -> asio::awaitable<int> {
      std::vector<db::Statement> st;
      st.push_back({&revoke_family, db::Params(family, "reuse detected")});
      st.push_back(audit::statement(ctx.req, user, "user",
                                    {"refresh_token_reuse", "refresh_token_family", family, std::nullopt, std::nullopt}));
      co_await tx.exec_all(std::move(st), true);
      co_return 0;
    });
    throw unauthorized("This refresh token was already used; its session has been revoked");
  }
  if (revoked || expired || !found.get_bool(0, 9)) throw unauthorized("Invalid or expired refresh token");

  auth::Principal who;
  who.org_id = org;
  who.user_id = user;
  who.role = auth::parse_role(found.get(0, 7)).value_or(auth::Role::viewer);
  who.email = found.get(0, 8);
  const std::string next = crypto::base64url_encode(crypto::random_bytes(32));
  db::TenantContext tc{org, user, std::string(auth::role_name(who.role))};
  auto user_json = co_await db::transact(*ctx.app.pool, tc, db::Mode::read_write, [&](db::Tx& tx) -> asio::awaitable<std::string> {
    db::Params rot;
    rot.add(id).add(crypto::uuid_v4()).add_bytea(crypto::sha256(next));
    rot.add(ctx.app.config.refresh_token_days).add(ctx.req.remote_addr).add(user_agent(ctx.req));
    rot.add(ctx.app.config.refresh_session_max_days);
    auto rotated = co_await tx.exec(rotate_refresh, std::move(rot));
    if (rotated.empty()) {
      // It expired or was revoked a moment ago: simply invalid.
      if (!(co_await tx.exec(token_spent, db::Params(id))).get_bool(0, 0))
        throw unauthorized("Invalid or expired refresh token");
      // Another request spent it a moment ago: the same token presented twice is reuse. Revoke the
      // family, commit that, and refuse.
      std::vector<db::Statement> revoke;
      revoke.push_back({&revoke_family, db::Params(family, "reuse detected")});
      revoke.push_back(audit::statement(ctx.req, user, "user",
                                        {"refresh_token_reuse", "refresh_token_family", family, std::nullopt, std::nullopt}));
      co_await tx.exec_all(std::move(revoke), true);
      throw unauthorized("This refresh token was already used; its session has been revoked");
    }
    std::vector<db::Statement> st;
    st.push_back({&select_me, db::Params(user)});
    st.push_back(audit::statement(ctx.req, user, "user", {"token_refresh", "user", user, std::nullopt, std::nullopt}));
    auto r = co_await tx.exec_all(std::move(st), true);
    co_return std::string(r[0].get(0, 0));
  });
  auto access = ctx.app.tokens->issue_access_token(who);
  auto u = json::parse(user_json).as_object();
  json::object small{{"id", u["id"]}, {"email", u["email"]}, {"full_name", u["full_name"]}, {"role", u["role"]},
                     {"organization_id", u["organization_id"]}};
  co_return http::Response::json(200, token_response(access, next, json::serialize(small)));
}

Result logout(RequestContext& ctx) {
  auto body = JsonBody::parse(ctx.req, true);
  body.allow_only({"refresh_token"});
  auto token = body.optional_string("refresh_token", 200);
  body.finish();
  constexpr static db::Query revoke_own{
      "identity_logout",
      "UPDATE refresh_tokens SET revoked_at = now(), revoked_reason = 'logout'"
      " WHERE organization_id = app.current_org_id() AND user_id = $1 AND revoked_at IS NULL"
      "   AND family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = $2 AND user_id = $1"
      "                     AND organization_id = app.current_org_id())"};
  constexpr static db::Query revoke_all{
      "identity_logout_all",
      "UPDATE refresh_tokens SET revoked_at = now(), revoked_reason = 'logout'"
      " WHERE organization_id = app.current_org_id() AND user_id = $1 AND revoked_at IS NULL"};
  co_await db::transact(ctx.db(), ctx.tenant(), db::Mode::read_write, [&](db::Tx& tx) -> asio::awaitable<int> {
    std::vector<db::Statement> st;
    if (token) {
      db::Params p;
      p.add(ctx.principal.user_id).add_bytea(crypto::sha256(*token));
      st.push_back({&revoke_own, std::move(p)});
    } else {
      // Without a refresh token, logout ends every session of the caller.
      st.push_back({&revoke_all, db::Params(ctx.principal.user_id)});
    }
    st.push_back(audit::statement(ctx, {"logout", "user", ctx.principal.user_id, std::nullopt, std::nullopt}));
    co_await tx.exec_all(std::move(st), true);
    co_return 0;
  });
  co_return http::Response::no_content();
}

Result me(RequestContext& ctx) {
  auto r = co_await db::read(ctx.db(), ctx.tenant(), select_me, db::Params(ctx.principal.user_id));
  if (r.empty()) throw unauthorized("This account no longer exists");
  co_return http::Response::json(200, std::string(r.get(0, 0)));
}

}  // namespace spectra::identity
