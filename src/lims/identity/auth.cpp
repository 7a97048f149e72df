// Login, refresh-token rotation with reuse detection, logout, and the caller's own user.
#include <boost/json.hpp>

#include "auth/password.hpp"
#include "auth/throttle.hpp"
#include "auth/tokens.hpp"
#include "lims/identity/handlers.hpp"
#include "platform/blocking.hpp"
#include "platform/crypto.hpp"
#include "kit/data.hpp"
#include "lims/identity/shapes.hpp"
#include "platform/json_text.hpp"

namespace asio = boost::asio;
namespace json = boost::json;

namespace spectra::identity {
namespace {

const db::Query find_login{
    "identity_find_login",
    "SELECT organization_id, id, email, full_name, role, password_hash, is_active, is_service_account,"
    " organization_active FROM app.find_login($1)"};
struct LoginAccount {
  std::string organization_id, id, email, role;
  std::optional<std::string> password_hash;  // NULL for a service account
  bool is_active = false;
  bool is_service_account = false;
  bool organization_active = false;
};
const db::Decoder<LoginAccount> login_account{
    find_login,
    {{"organization_id", &LoginAccount::organization_id}, {"id", &LoginAccount::id}, {"email", &LoginAccount::email},
     {"role", &LoginAccount::role}, {"password_hash", &LoginAccount::password_hash},
     {"is_active", &LoginAccount::is_active}, {"is_service_account", &LoginAccount::is_service_account},
     {"organization_active", &LoginAccount::organization_active}}};
// A refresh token names its organization ("<organization id>.<secret>"), so that it is found on one
// shard; tokens issued before revision 6 are the secret alone and are found by their hash everywhere.
const db::Query find_refresh{
    "identity_find_refresh",
    "SELECT organization_id, id, user_id, family_id, expired, used, revoked, role, email, user_active"
    " FROM app.find_refresh_token($1::uuid, $2)"};
const db::Query find_legacy_refresh{
    "identity_find_legacy_refresh",
    "SELECT organization_id, id, user_id, family_id, expired, used, revoked, role, email, user_active"
    " FROM app.find_refresh_token($1)"};
struct FoundRefresh {
  std::string organization_id, id, user_id, family_id;
  bool expired = false;
  bool used = false;
  bool revoked = false;
  std::string role, email;
  bool user_active = false;
};
// The same columns from either lookup.
const db::Decoder<FoundRefresh> found_refresh{
    {&find_refresh, &find_legacy_refresh},
    {{"organization_id", &FoundRefresh::organization_id}, {"id", &FoundRefresh::id},
     {"user_id", &FoundRefresh::user_id}, {"family_id", &FoundRefresh::family_id},
     {"expired", &FoundRefresh::expired}, {"used", &FoundRefresh::used}, {"revoked", &FoundRefresh::revoked},
     {"role", &FoundRefresh::role}, {"email", &FoundRefresh::email}, {"user_active", &FoundRefresh::user_active}}};
// A new session: its family, then its first token (separate statements, in one round trip: Citus runs
// an INSERT … SELECT from a CTE through the coordinator, which row-level security does not allow).
const db::Query insert_family{
    "identity_insert_family", "INSERT INTO refresh_token_families (organization_id, id, user_id) VALUES ($1, $2, $3)"};
const db::Query insert_refresh{
    "identity_insert_refresh",
    "INSERT INTO refresh_tokens (organization_id, user_id, family_id, token_hash, expires_at, client_addr, user_agent)"
    " VALUES ($1, $2, $3, $4, now() + make_interval(days => $5::int), $6, $7)"};
// Rotation: the family row is share-locked and must not be revoked (a revocation for reuse waits for
// this rotation, and a rotation after it finds the family revoked); the token is spent; its successor
// is inserted.
const db::Query lock_family{
    "identity_lock_family",
    "SELECT 1 FROM refresh_token_families WHERE organization_id = $1 AND id = $2 AND revoked_at IS NULL FOR SHARE"};
const db::Query spend_refresh{
    "identity_spend_refresh",
    "UPDATE refresh_tokens t SET used_at = now(), replaced_by = $3 FROM refresh_token_families f"
    " WHERE t.organization_id = $1 AND t.id = $2 AND t.used_at IS NULL AND t.revoked_at IS NULL AND t.expires_at > now()"
    "   AND f.organization_id = $1 AND f.id = t.family_id AND f.revoked_at IS NULL"
    " RETURNING t.user_id, t.family_id, f.created_at"};
struct SpentToken {
  std::string user_id, family_id, created_at;  // created_at: the family's
};
const db::Decoder<SpentToken> spent_token{
    spend_refresh,
    {{"user_id", &SpentToken::user_id}, {"family_id", &SpentToken::family_id},
     {"created_at", &SpentToken::created_at}}};
const db::Query insert_successor{
    "identity_insert_successor",
    "INSERT INTO refresh_tokens (organization_id, id, user_id, family_id, token_hash, expires_at, client_addr, user_agent)"
    // Each rotation extends the session, but never past the family's absolute lifetime ($8 days from the
    // family's own creation: purging its expired tokens must not move the session's start).
    " VALUES ($1, $2, $3, $4, $5,"
    "         least(now() + make_interval(days => $6::int), $7::timestamptz + make_interval(days => $8::int)), $9, $10)"};
const db::Query token_spent{
    "identity_token_spent",
    "SELECT used_at IS NOT NULL AS spent FROM refresh_tokens WHERE organization_id = $1 AND id = $2"};
struct TokenSpent {
  bool spent = false;
};
const db::Decoder<TokenSpent> token_was_spent{token_spent, {{"spent", &TokenSpent::spent}}};
const db::Query revoke_family{"identity_revoke_family", "SELECT app.revoke_refresh_families($1, NULL, $2, $3)"};
const db::Query record_login{
    "identity_record_login",
    "WITH u AS (UPDATE users SET last_login_at = now(), password_hash = coalesce($3, password_hash)"
    "           WHERE organization_id = $1 AND id = $2 RETURNING id, email, full_name, role, organization_id)"
    " SELECT id, email, full_name, role, organization_id FROM u"};
const db::Query select_me{
    "identity_select_me", "SELECT " + user_shape.sql("u") + " FROM users u WHERE u.organization_id = $1 AND u.id = $2"};
// Logout with a refresh token ends that session (none, if the token is not the caller's); without
// one, every session of the caller.
const db::Query logout_one{"identity_logout", "SELECT app.revoke_refresh_session($1, $2, $3, 'logout')"};
const db::Query logout_all{"identity_logout_all", "SELECT app.revoke_refresh_families($1, $2, NULL, 'logout')"};

std::string new_refresh_token(const std::string& org_id) {
  return org_id + "." + crypto::base64url_encode(crypto::random_bytes(32));
}

// The account itself acts in the flows that authenticate it (login, refresh).
audit::Actor account_actor(const http::Request& req, std::string user_id) {
  return audit::Actor{std::move(user_id), "user", req.request_id, req.remote_addr};
}

std::string user_agent(const http::Request& req) {
  auto ua = req.header("user-agent");
  return ua ? http::clean_utf8(*ua, 300) : std::string();
}

ApiError invalid_login() { return unauthorized("Invalid email or password"); }

// The refresh token's cookie: out of reach of scripts (HttpOnly), sent only by this site's own pages
// (SameSite=Strict), only over HTTPS when the server speaks it (Secure), and only to the auth routes
// that read it (refresh and logout).
std::string refresh_cookie(const Config& cfg, const std::string& token, long max_age_seconds) {
  return std::string(refresh_cookie_name) + "=" + token + "; Path=/api/auth; Max-Age=" + std::to_string(max_age_seconds) +
         "; HttpOnly; SameSite=Strict" + (cfg.tls_cert_file.empty() ? "" : "; Secure");
}
std::string refresh_cookie(const Config& cfg, const std::string& token) {
  return refresh_cookie(cfg, token, static_cast<long>(cfg.refresh_token_days) * 86400);
}

// The refresh token of the request's cookie, if any.
std::optional<std::string> cookie_token(const http::Request& req) {
  const auto header = req.header("cookie");
  if (!header) return std::nullopt;
  const std::string_view all = *header;
  const std::string name = std::string(refresh_cookie_name) + "=";
  for (std::size_t at = 0; at < all.size();) {
    while (at < all.size() && (all[at] == ' ' || all[at] == ';')) ++at;
    const auto end = std::min(all.find(';', at), all.size());
    const auto pair = all.substr(at, end - at);
    if (pair.starts_with(name) && pair.size() > name.size() && pair.size() - name.size() <= 200)
      return std::string(pair.substr(name.size()));
    at = end;
  }
  return std::nullopt;
}

// The pair as JSON; the refresh token is left out when it travels in the cookie alone.
std::string token_response(const auth::IssuedToken& access, std::optional<std::string> refresh, std::string_view user_json) {
  json::object o{{"access_token", access.token}, {"token_type", "bearer"}, {"expires_in", access.expires_in}};
  if (refresh) o["refresh_token"] = *refresh;
  o["user"] = json::parse(user_json);
  return json_text(o);
}

}  // namespace

kit::Input<Credentials> Credentials::input() {
  return {"Credentials",
          {kit::field("email", &Credentials::email).max_length(320), kit::field("password", &Credentials::password).max_length(1024).multiline()}};  // what was set, tabs included
}

kit::Input<RefreshToken> RefreshToken::input() {
  return {"RefreshToken", {kit::field("refresh_token", &RefreshToken::refresh_token).max_length(200)}};
}

kit::Input<LogoutRequest> LogoutRequest::input() {
  return {"LogoutRequest",
          {kit::field("refresh_token", &LogoutRequest::refresh_token)
               .max_length(200)
               .describe("Ends this token's session; without it, every session of the caller ends")}};
}

Reply login(RequestContext& ctx, Body<Credentials> in) {
  const std::string& email = in.email;
  const std::string& password = in.password;

  // Credential checks run on connections and threads of their own: a flood of other requests (or of
  // another organization's renders) never keeps a login waiting.
  auto& throttle = *ctx.deps.throttle;
  if (auto wait = co_await throttle.begin(email, ctx.req.remote_addr))
    throw std::move(ApiError(ErrorCode::too_many_requests, "Too many failed logins; try again later")
                        .with_header("Retry-After", std::to_string(*wait)));
  auth::LoginThrottle::Attempt attempt(throttle, email, ctx.req.remote_addr);

  auto found = co_await db::lookup_before_tenant(*ctx.deps.auth_pool, find_login, db::Params(email));
  std::optional<LoginAccount> account;
  if (!found.empty()) account = login_account(found);
  std::optional<std::string> stored;
  if (account) stored = account->password_hash;
  const std::string org = account ? account->organization_id : std::string();
  // Closures that own strings are named locals: GCC 12 destroys such temporaries twice across co_await.
  auto verify = [password, stored] { return auth::verify_password(password, stored); };
  const WorkShare share = {org, http::client_key(ctx.req.remote_addr)};
  auto check = co_await ctx.deps.passwords->run(std::move(verify), share);

  const bool usable = account && account->is_active && !account->is_service_account && account->organization_active;
  if (!check.ok || !usable) {
    // Recorded beside the answer, in the account's organization (an unknown email has none), with the
    // throttle's count in one transaction: a known and an unknown email answer alike.
    std::vector<db::Statement> event;
    if (account) {
      const std::string user_id = account->id;
      const json::object after{{"email", email}, {"reason", !check.ok ? "wrong password" : "account not active"}};
      event.push_back(audit::statement(account_actor(ctx.req, user_id),
                                       audit::Entry{"login_failed", "user", user_id, std::nullopt, json_text(after)}));
    }
    attempt.failed(org, std::move(event));
    throw invalid_login();
  }
  co_await attempt.succeeded();

  auth::Principal who;
  who.org_id = account->organization_id;
  who.user_id = account->id;
  who.email = account->email;
  who.role = auth::parse_role(account->role).value_or(auth::Role::viewer);
  std::optional<std::string> rehash;
  if (check.needs_rehash) {
    auto job = [password] { return auth::hash_password(password); };
    const WorkShare share = {org, who.user_id};
    rehash = co_await ctx.deps.passwords->run(std::move(job), share);
  }

  const std::string refresh_token = new_refresh_token(who.org_id);
  const db::TenantContext tc{who.org_id, who.user_id, std::string(auth::role_name(who.role))};
  const auto actor = account_actor(ctx.req, who.user_id);
  auto user_json = co_await kit::write_as(ctx, tc, actor, [&](kit::Write& w) -> asio::awaitable<std::string> {
    const std::string family = crypto::uuid_v4();
    db::Params ins;
    ins.add(who.user_id).add(family).add_bytea(crypto::sha256(refresh_token));
    ins.add(ctx.deps.config.refresh_token_days).add(ctx.req.remote_addr).add(user_agent(ctx.req));
    w.audit("login", "user", who.user_id, std::nullopt,
            rehash ? std::optional<std::string>("{\"password_rehashed\":true}") : std::nullopt);
    // Named, not braced inside co_await: GCC 12 miscompiles initializer lists of temporaries there.
    std::vector<db::Statement> st;
    st.push_back({&insert_family, db::Params(family, who.user_id)});
    st.push_back({&insert_refresh, std::move(ins)});
    st.push_back({&record_login, db::Params(who.user_id, rehash)});
    auto r = co_await w.exec_all(std::move(st));
    std::string row = db::row_json(r[2]);  // named: GCC 12 mishandles a temporary in co_return
    co_return row;
  });
  auto access = ctx.deps.tokens->issue_access_token(who);
  auto answer = http::Response::json(200, token_response(access, refresh_token, user_json));
  answer.header("Set-Cookie", refresh_cookie(ctx.deps.config, refresh_token));
  co_return answer;
}

Reply refresh(RequestContext& ctx, OptionalBody<RefreshToken> in) {
  const bool from_cookie = !in.refresh_token;
  const auto given = from_cookie ? cookie_token(ctx.req) : in.refresh_token;
  // No credentials at all (a first visit without a session) is a 401, like any missing credential.
  if (!given) throw unauthorized("No refresh token: give it in the body or in the " + std::string(refresh_cookie_name) + " cookie");
  const std::string token = *given;

  db::Params p;
  const auto dot = token.find('.');
  const bool names_org = dot != std::string::npos && crypto::is_uuid(token.substr(0, dot));
  if (names_org) p.add(token.substr(0, dot));
  p.add_bytea(crypto::sha256(token));
  auto found = co_await db::lookup_before_tenant(ctx.db(), names_org ? find_refresh : find_legacy_refresh, std::move(p));
  if (found.empty()) throw unauthorized("Invalid refresh token");
  const FoundRefresh t = found_refresh(found);
  const std::string org = t.organization_id, id = t.id, user = t.user_id, family = t.family_id;
  const bool expired = t.expired, used = t.used, revoked = t.revoked;

  if (used && !revoked) {
    // A spent token came back: someone holds a copy. Revoke the whole family.
    const db::TenantContext system{org, {}, {}};
    const auto actor = account_actor(ctx.req, user);
    co_await kit::write_as(ctx, system, actor, [&](kit::Write& w) -> asio::awaitable<void> {
      w.audit("refresh_token_reuse", "refresh_token_family", family, std::nullopt, std::nullopt);
      co_await w.exec(revoke_family, db::Params(family, "reuse detected"));
    });
    throw unauthorized("This refresh token was already used; its session has been revoked");
  }
  if (revoked || expired || !t.user_active) throw unauthorized("Invalid or expired refresh token");

  auth::Principal who;
  who.org_id = org;
  who.user_id = user;
  who.role = auth::parse_role(t.role).value_or(auth::Role::viewer);
  who.email = t.email;
  const std::string next = new_refresh_token(org);
  const db::TenantContext tc{org, user, std::string(auth::role_name(who.role))};
  const auto actor = account_actor(ctx.req, user);
  // Another request may spend the same token a moment before this one: that is reuse too. The
  // revocation must outlive the refusal, so it commits in a transaction of its own.
  bool reused = false;
  std::string user_json = co_await kit::write_as(ctx, tc, actor, [&](kit::Write& w) -> asio::awaitable<std::string> {
    const std::string next_id = crypto::uuid_v4();
    std::vector<db::Statement> st;  // named: GCC 12 miscompiles braced temporaries inside co_await
    st.push_back({&lock_family, db::Params(family)});
    st.push_back({&spend_refresh, db::Params(id, next_id)});
    auto spent = co_await w.exec_all(std::move(st));
    const auto& rotated = spent[1];
    if (!rotated.empty()) {
      const SpentToken s = spent_token(rotated);
      db::Params ins;
      ins.add(next_id).add(s.user_id).add(s.family_id).add_bytea(crypto::sha256(next));
      ins.add(ctx.deps.config.refresh_token_days).add(s.created_at).add(ctx.deps.config.refresh_session_max_days);
      ins.add(ctx.req.remote_addr).add(user_agent(ctx.req));
      co_await w.exec(insert_successor, std::move(ins));
    }
    if (rotated.empty()) {
      // It expired or was revoked a moment ago: simply invalid.
      const auto spent_before = co_await w.exec(token_spent, db::Params(id));
      if (!token_was_spent(spent_before).spent) throw unauthorized("Invalid or expired refresh token");
      reused = true;
      co_return std::string();
    }
    w.audit("token_refresh", "user", user, std::nullopt, std::nullopt);
    auto me = co_await w.exec(select_me, db::Params(user));
    std::string row = db::row_json(me);  // named: GCC 12 mishandles a temporary in co_return
    co_return row;
  });
  if (reused) {
    const db::TenantContext system{org, {}, {}};
    co_await kit::write_as(ctx, system, actor, [&](kit::Write& w) -> asio::awaitable<void> {
      w.audit("refresh_token_reuse", "refresh_token_family", family, std::nullopt, std::nullopt);
      co_await w.exec(revoke_family, db::Params(family, "reuse detected"));
    });
    throw unauthorized("This refresh token was already used; its session has been revoked");
  }
  auto access = ctx.deps.tokens->issue_access_token(who);
  auto u = json::parse(user_json).as_object();
  json::object small{{"id", u["id"]}, {"email", u["email"]}, {"full_name", u["full_name"]}, {"role", u["role"]},
                     {"organization_id", u["organization_id"]}};
  if (!from_cookie) co_return http::Response::json(200, token_response(access, next, json_text(small)));
  auto answer = http::Response::json(200, token_response(access, std::nullopt, json_text(small)));
  answer.header("Set-Cookie", refresh_cookie(ctx.deps.config, next));
  co_return answer;
}

Reply logout(RequestContext& ctx, OptionalBody<LogoutRequest> in) {
  const auto token = in.refresh_token ? in.refresh_token : cookie_token(ctx.req);
  co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<void> {
    w.audit("logout", "user", ctx.principal.user_id, std::nullopt, std::nullopt);
    if (token)
      co_await w.exec(logout_one, db::Params().add(ctx.principal.user_id).add_bytea(crypto::sha256(*token)));
    else
      co_await w.exec(logout_all, db::Params(ctx.principal.user_id));
  });
  auto answer = http::Response::no_content();
  answer.header("Set-Cookie", refresh_cookie(ctx.deps.config, "", 0));
  co_return answer;
}

Reply me(RequestContext& ctx) {
  auto r = co_await db::read(ctx.db(), ctx.tenant(), select_me, db::Params(ctx.principal.user_id));
  if (r.empty()) throw unauthorized("This account no longer exists");
  co_return http::Response::json(200, db::row_json(r));
}

}  // namespace spectra::identity
