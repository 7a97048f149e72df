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
const db::Query find_login_by_email{
    "auth_find_external_user",
    "SELECT organization_id, id, email, role, is_active, organization_active, is_service_account FROM app.find_login($1)"};

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
    Principal who;
    who.org_id = r.get(0, 0);
    who.api_key_id = r.get(0, 1);
    who.user_id = r.get(0, 2);
    who.scopes = parse_text_array(r.get(0, 3));
    who.role = parse_role(r.get(0, 4)).value_or(Role::viewer);
    who.email = r.get(0, 5);
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
    if (r.empty() || !r.get_bool(0, 4) || !r.get_bool(0, 5) || r.get_bool(0, 6))
      throw unauthorized("No active user has this email");
    Principal who;
    who.org_id = r.get(0, 0);
    who.user_id = r.get(0, 1);
    who.email = r.get(0, 2);
    who.role = parse_role(r.get(0, 3)).value_or(Role::viewer);
    who.kind = CredentialKind::external_token;
    co_return who;
  }
  throw unauthorized(std::string(describe(verified.error)));
}

}  // namespace spectra::auth
