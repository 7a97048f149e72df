#pragma once
// The audit trail: append-only, linked per organization by a keyed hash (audit/chain.hpp). Writers
// add an unlinked event to their own transaction (statement); the sequencer links events in commit
// order without a lock across writers; verify recomputes every link, and checks signed checkpoints.
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/chain.hpp"
#include "platform/db/result.hpp"

namespace spectra {
struct Config;
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

// The INSERT of an event whose `after` the database reads from the entity's row in the writing
// transaction: `after` is a JSON expression over `from` (the entity's table aliased `alias`, with any
// joins), the row being `alias.id` = the event's entity id. Such an event is queued before the row's
// INSERT has answered, so that the write, its event and COMMIT go out together (kit::RowEvents).
std::string row_event_sql(std::string_view after, std::string_view from, std::string_view alias);
// That INSERT for one row (an event with no `before`).
db::Statement row_event(const db::Query& q, const Actor& who, std::string_view action, std::string_view entity_type,
                        std::string entity_id);


// Links every organization's pending events (as the sequencer does, once); answers how many. Run as
// the application role or the owner.
std::int64_t link_pending(db::BlockingConnection& conn, std::string_view key);

struct ChainReport {
  std::string organization_id;
  std::int64_t events = 0;   // linked
  std::int64_t pending = 0;  // not linked yet
  bool intact = true;
  std::int64_t broken_seq = 0;  // the first event whose link does not hold (0: the chain as a whole)
  std::string problem;
};

// Recomputes every chain (or one organization's) with the key, and checks each checkpoint of
// `checkpoints` against it: a chain shorter than a checkpoint was truncated. Run as the owner.
std::vector<ChainReport> verify(db::BlockingConnection& conn, const std::optional<std::string>& organization_id,
                                std::string_view key, const std::vector<Checkpoint>& checkpoints = {});

// The organizations' current heads, signed (`spectra audit checkpoint`).
std::vector<Checkpoint> checkpoints(db::BlockingConnection& conn, const std::optional<std::string>& organization_id,
                                    const CheckpointSigner& signer);

// Now, as RFC 3339 UTC.
std::string utc_now();

// The sequencer: one thread with a connection of its own. Any number of servers run one; the one
// holding a session advisory lock links, the others wait (and measure the lag). On destruction the
// leader links what is pending (for up to five seconds) before it lets go. The leader also appends periodic
// checkpoints when AUDIT_CHECKPOINT_FILE is set, and purges expired refresh tokens.
class Sequencer {
 public:
  Sequencer(std::string conninfo, std::string user, const Config& config);
  ~Sequencer();
  Sequencer(const Sequencer&) = delete;
  Sequencer& operator=(const Sequencer&) = delete;

  struct Status {
    bool leader = false;
    std::int64_t pending = 0;
    std::int64_t lag_ms = 0;  // the age of the oldest event not linked yet
    // How long ago pending and lag were measured (the leader as it links, a standby every second);
    // -1 before the first measurement.
    std::int64_t measured_ms_ago = -1;
  };
  Status status() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace audit
}  // namespace spectra
