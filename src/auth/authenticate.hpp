#pragma once
// Establishes who is calling from the request's credentials: an access JWT (no database), an external
// OIDC token (one lookup to map its email to a user), or an API key (one lookup by prefix and hash).
#include <boost/asio/awaitable.hpp>

#include "auth/rbac.hpp"
#include "platform/http/message.hpp"

namespace spectra::db {
class Pool;
}

namespace spectra::auth {

class TokenService;
class ExternalKeys;

// What checks a credential: our own tokens, an external OIDC provider (optional), and the database
// (API keys, and mapping an external token's email to a user).
struct Verifiers {
  db::Pool& pool;
  TokenService& tokens;
  ExternalKeys* external_keys = nullptr;
};

// Throws ApiError 401 (with WWW-Authenticate: Bearer) when there are no valid credentials.
boost::asio::awaitable<Principal> authenticate(const Verifiers& verifiers, const http::Request& req);

// The credential of a request: "Authorization: Bearer x" or "X-API-Key: x".
std::optional<std::string_view> bearer_credential(const http::Request& req);

}  // namespace spectra::auth
