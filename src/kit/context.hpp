#pragma once
// What a handler can reach: the process-wide dependencies, and the context of one request.
#include <string>

#include "audit/audit.hpp"
#include "auth/rbac.hpp"
#include "platform/config.hpp"
#include "platform/fair_queue.hpp"
#include "platform/db/tx.hpp"
#include "platform/http/message.hpp"

namespace spectra {

namespace auth {
class TokenService;
class LoginThrottle;
class ExternalKeys;
}  // namespace auth
class BlockingPool;
class ContentStore;
namespace db {
class Listener;
}  // namespace db
namespace metrics {
class Registry;
}  // namespace metrics

namespace kit {

class Router;

// The long-lived parts of the server every request may use; wired once at start-up.
struct Dependencies {
  Config config;
  std::string version = SPECTRA_VERSION;
  db::Pool* pool = nullptr;
  BlockingPool* blocking = nullptr;   // renders, exports, scans: shared fairly across organizations
  BlockingPool* passwords = nullptr;  // password checks and hashes only: never behind a render
  db::Pool* auth_pool = nullptr;      // credential checks and their audit: never behind a flood of requests
  const ContentStore* files = nullptr;  // attachments, by content (DATA_DIR)
  auth::TokenService* tokens = nullptr;
  auth::LoginThrottle* throttle = nullptr;
  auth::ExternalKeys* external_keys = nullptr;  // null unless JWKS_URL is set
  audit::Sequencer* audit_sequencer = nullptr;
  const audit::CheckpointSigner* audit_signer = nullptr;
  db::Listener* notifications = nullptr;  // wake-ups of the notification streams, by user id
  metrics::Registry* metrics = nullptr;    // this process's Prometheus metrics
};

struct RequestContext {
  const http::Request& req;
  Dependencies& deps;
  auth::Principal principal;  // set for authenticated routes
  const Router* router = nullptr;

  // The tenant context every statement of this request runs under.
  db::TenantContext tenant() const {
    return {principal.org_id, principal.user_id, std::string(auth::role_name(principal.role))};
  }
  db::Pool& db() const { return *deps.pool; }
  // Whose blocking work this request's is, for the fair pools: its organization and its user (or key).
  WorkShare share() const {
    return {principal.org_id, principal.user_id.empty() ? principal.api_key_id : principal.user_id};
  }
  // Who the audit trail names for this request.
  audit::Actor actor() const {
    audit::Actor a{std::nullopt, principal.kind == auth::CredentialKind::api_key ? "api_key" : "user", req.request_id,
                   req.remote_addr};
    if (!principal.user_id.empty()) a.user_id = principal.user_id;
    return a;
  }
};

}  // namespace kit
}  // namespace spectra
