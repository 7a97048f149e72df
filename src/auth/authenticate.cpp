#include "auth/authenticate.hpp"

#include "auth/api_keys.hpp"
#include "auth/external_keys.hpp"
#include "auth/tokens.hpp"
#include "platform/crypto.hpp"
#include "platform/db/tx.hpp"
#include "platform/error.hpp"

namespace asio = boost::asio;

namespace spectra::auth {
namespace {

const db::Query use_api_key{"auth_use_api_key",
                                "SELECT organization_id, id, user_id, scopes, role, email FROM app.use_api_key($1, $2)"};
struct ApiKeyUse {
  std::string organization_id, id, user_id, scopes, role, email;  // scopes: a text[] literal
};
const db::Decoder<ApiKeyUse> api_key_use{
    use_api_key,
    {{"organization_id", &ApiKeyUse::organization_id}, {"id", &ApiKeyUse::id}, {"user_id", &ApiKeyUse::user_id},
     {"scopes", &ApiKeyUse::scopes}, {"role", &ApiKeyUse::role}, {"email", &ApiKeyUse::email}}};
const db::Query find_login_by_email{
    "auth_find_external_user",
    "SELECT organization_id, id, email, role, is_active, organization_active, is_service_account FROM app.find_login($1)"};
struct ExternalLogin {
  std::string organization_id, id, email, role;
  bool is_active = false;
  bool organization_active = false;
  bool is_service_account = false;
};
const db::Decoder<ExternalLogin> external_login{
    find_login_by_email,
    {{"organization_id", &ExternalLogin::organization_id}, {"id", &ExternalLogin::id}, {"email", &ExternalLogin::email},
     {"role", &ExternalLogin::role}, {"is_active", &ExternalLogin::is_active},
     {"organization_active", &ExternalLogin::organization_active},
     {"is_service_account", &ExternalLogin::is_service_account}}};

std::vector<std::string> parse_text_array(std::string_view lit) {
  // PostgreSQL text[] output for scope names (no quoting needed: scopes are [a-z:_]).
  std::vector<std::string> out;
  if (lit.size() < 2) return out;
  lit = lit.substr(1, lit.size() - 2);
  std::string cur;
  for (char c : lit) {
    if (c == ',') {
      out.push_back(cur);
      cur.clear();
    } else if (c != '"') {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

}  // namespace

std::optional<std::string_view> bearer_credential(const http::Request& req) {
  if (auto h = req.header("authorization")) {
    std::string_view v = *h;
    if (v.size() > 7 && (v.substr(0, 7) == "Bearer " || v.substr(0, 7) == "bearer ")) {
      v.remove_prefix(7);
      while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
      if (!v.empty()) return v;
    }
    return std::nullopt;
  }
  if (auto k = req.header("x-api-key"); k && !k->empty()) return *k;
  return std::nullopt;
}

asio::awaitable<Principal> authenticate(const Verifiers& app, const http::Request& req) {
  auto cred = bearer_credential(req);
  if (!cred) throw unauthorized("Missing credentials: send Authorization: Bearer <token> or X-API-Key");

  if (cred->starts_with("sk_")) {
    auto parsed = parse_api_key(*cred);
    if (!parsed) throw unauthorized("Invalid API key");
    db::Params p;
    p.add(parsed->prefix);
    p.add_bytea(crypto::sha256(*cred));
    auto r = co_await db::lookup_before_tenant(app.pool, use_api_key, std::move(p));
    if (r.empty()) throw unauthorized("Invalid, expired or revoked API key");
    const ApiKeyUse key = api_key_use(r);
    Principal who;
    who.org_id = key.organization_id;
    who.api_key_id = key.id;
    who.user_id = key.user_id;
    who.scopes = parse_text_array(key.scopes);
    who.role = parse_role(key.role).value_or(Role::viewer);
    who.email = key.email;
    who.kind = CredentialKind::api_key;
    co_return who;
  }

  auto verified = app.tokens.verify(*cred);
  if (verified.principal) co_return std::move(*verified.principal);

  // A token of an external OpenID Connect provider: verified against its JWKS, mapped to a user by email.
  if (app.external_keys && app.external_keys->may_handle(*cred)) {
    auto email = co_await app.external_keys->verify(*cred);
    if (!email) throw unauthorized("Invalid or expired token");
    auto r = co_await db::lookup_before_tenant(app.pool, find_login_by_email, db::Params(*email));
    // An API key's service account is never a person an identity provider can sign in.
    if (r.empty()) throw unauthorized("No active user has this email");
    const ExternalLogin user = external_login(r);
    if (!user.is_active || !user.organization_active || user.is_service_account)
      throw unauthorized("No active user has this email");
    Principal who;
    who.org_id = user.organization_id;
    who.user_id = user.id;
    who.email = user.email;
    who.role = parse_role(user.role).value_or(Role::viewer);
    who.kind = CredentialKind::external_token;
    co_return who;
  }
  throw unauthorized(std::string(describe(verified.error)));
}

}  // namespace spectra::auth
