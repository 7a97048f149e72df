#pragma once
// The services a handler can reach, and the context of one request.
#include <memory>
#include <string>

#include "auth/rbac.hpp"
#include "platform/config.hpp"
#include "platform/db/tx.hpp"
#include "platform/http/message.hpp"

namespace spectra {

namespace auth {
class TokenService;
class LoginThrottle;
class ExternalKeys;
}  // namespace auth
class BlockingPool;

struct App {
  Config config;
  std::string version = SPECTRA_VERSION;
  db::Pool* pool = nullptr;
  BlockingPool* blocking = nullptr;
  auth::TokenService* tokens = nullptr;
  auth::LoginThrottle* throttle = nullptr;
  auth::ExternalKeys* external_keys = nullptr;  // null unless JWKS_URL is set
};

class Router;

struct RequestContext {
  const http::Request& req;
  App& app;
  auth::Principal principal;  // set for authenticated routes
  const Router* router = nullptr;

  // The tenant context every statement of this request runs under.
  db::TenantContext tenant() const {
    return {principal.org_id, principal.user_id, std::string(auth::role_name(principal.role))};
  }
  db::Pool& db() const { return *app.pool; }
};

}  // namespace spectra
