#pragma once
// Establishes who is calling from the request's credentials: an access JWT (no database), an external
// OIDC token (one lookup to map its email to a user), or an API key (one lookup by prefix and hash).
#include <boost/asio/awaitable.hpp>

#include "auth/rbac.hpp"
#include "platform/http/message.hpp"

namespace spectra {
struct App;
}

namespace spectra::auth {

// Throws ApiError 401 (with WWW-Authenticate: Bearer) when there are no valid credentials.
boost::asio::awaitable<Principal> authenticate(App& app, const http::Request& req);

// The credential of a request: "Authorization: Bearer x" or "X-API-Key: x".
std::optional<std::string_view> bearer_credential(const http::Request& req);

}  // namespace spectra::auth
