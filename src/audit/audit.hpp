#pragma once
// The audit trail: append-only, hash-chained per organization (the chain is kept by the database's
// trigger app.audit_chain). Writers add an audit statement to their transaction; verify walks a chain.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "platform/db/result.hpp"

namespace spectra {
namespace db {
class BlockingConnection;
}

namespace audit {

// Who acted, and from where.
struct Actor {
  std::optional<std::string> user_id;  // none: the system
  std::string type;                    // user, api_key, system
  std::string request_id;
  std::string client_addr;
};

struct Entry {
  std::string action;       // "login", "user.create", "api_key.revoke", ...
  std::string entity_type;  // "user", "api_key", ...
  std::optional<std::string> entity_id;
  std::optional<std::string> before;  // JSON text
  std::optional<std::string> after;   // JSON text
};

// An INSERT to run in the writing transaction (the organization comes from its tenant context).
db::Statement statement(const Actor& who, Entry e);

struct ChainReport {
  std::string organization_id;
  std::int64_t events = 0;
  bool intact = true;
  std::int64_t broken_seq = 0;  // the first event whose link does not hold
  std::string problem;
};

// Recomputes every chain (or one organization's); run as the owner.
std::vector<ChainReport> verify(db::BlockingConnection& conn, const std::optional<std::string>& organization_id);

}  // namespace audit
}  // namespace spectra
