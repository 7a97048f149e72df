#include "audit/audit.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <condition_variable>
#include <ctime>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "platform/config.hpp"
#include "platform/crypto.hpp"
#include "platform/db/blocking_connection.hpp"
#include "platform/db/sql_error.hpp"

namespace spectra::audit {
namespace {

const db::Query insert_event{
    "audit_insert_event",
    "INSERT INTO audit_events (organization_id, actor_id, actor_type, action, entity_type, entity_id, before, after,"
    " request_id, client_addr) VALUES ($1, $2::uuid, $3, $4, $5, $6::uuid, $7::jsonb, $8::jsonb, $9, $10)"};

// Every field the chain covers, as text, in the order EventFields reads them; then the stored links.
constexpr std::string_view event_columns =
    "a.id, a.seq, a.actor_id, a.actor_type, a.action, a.entity_type, a.entity_id, a.before::text, a.after::text,"
    " a.request_id, a.client_addr, a.extra_metadata::text,"
    " to_char(a.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
    " encode(a.prev_hash, 'hex'), encode(a.hash, 'hex')";

constexpr int batch_size = 1000;

EventFields fields_of(const db::Result& r, int row, const std::string& org) {
  EventFields e;
  e.organization_id = org;
  e.id = r.get(row, 0);
  e.seq = r.is_null(row, 1) ? 0 : r.get_int(row, 1);
  e.actor_id = r.get_optional(row, 2);
  e.actor_type = r.get(row, 3);
  e.action = r.get(row, 4);
  e.entity_type = r.get_optional(row, 5);
  e.entity_id = r.get_optional(row, 6);
  e.before = r.get_optional(row, 7);
  e.after = r.get_optional(row, 8);
  e.request_id = r.get_optional(row, 9);
  e.client_addr = r.get_optional(row, 10);
  e.extra_metadata = r.get(row, 11);
  e.created_at = r.get(row, 12);
  return e;
}

std::string text_array(const std::vector<std::string>& items) {
  std::string out = "{";
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? "," : "") + items[i];
  return out + "}";
}

// Links up to batch_size pending events of one organization after its head; answers how many.
std::int64_t link_batch(db::BlockingConnection& c, std::string_view key, const std::string& org) {
  c.exec("BEGIN");
  try {
    c.exec("SELECT app.begin_request($1::uuid, NULL, NULL)", db::Params(org));
    auto head = c.exec(
        "SELECT seq, hash FROM audit_events WHERE organization_id = $1 AND seq IS NOT NULL ORDER BY seq DESC LIMIT 1",
        db::Params(org));
    std::int64_t seq = head.empty() ? 0 : head.get_int(0, 0);
    std::string prev = head.empty() ? std::string() : db::decode_bytea(head.get(0, 1));
    const std::string prev_hex = crypto::to_hex(prev);
    auto queue = c.exec("SELECT " + std::string(event_columns) +
                            " FROM audit_events a WHERE a.organization_id = $1 AND a.seq IS NULL"
                            " ORDER BY a.created_at, a.id LIMIT " + std::to_string(batch_size),
                        db::Params(org));
    if (queue.empty()) {
      c.exec("COMMIT");
      return 0;
    }
    std::vector<std::string> ids, hashes;
    const std::int64_t first = seq + 1;
    for (int i = 0; i < queue.rows(); ++i) {
      auto e = fields_of(queue, i, org);
      e.seq = ++seq;
      prev = link_hash(key, prev, e);
      ids.push_back(e.id);
      hashes.push_back(crypto::to_hex(prev));
    }
    db::Params p;
    p.add(org).add(text_array(ids)).add(static_cast<long long>(first));
    if (head.empty()) p.add(std::nullopt); else p.add(prev_hex);
    p.add(text_array(hashes));
    c.exec("SELECT app.audit_link($1::uuid, $2::uuid[], $3::bigint, $4::text, $5::text[])", p);
    c.exec("COMMIT");
    return queue.rows();
  } catch (...) {
    try {
      c.exec("ROLLBACK");
    } catch (...) {
    }
    throw;
  }
}

}  // namespace

db::Statement statement(const Actor& who, Entry e) {
  db::Params p;
  p.add(who.user_id);
  p.add(who.type);
  p.add(std::move(e.action));
  p.add(std::move(e.entity_type));
  p.add(e.entity_id);
  p.add(e.before);
  p.add(e.after);
  p.add(who.request_id);
  p.add(who.client_addr);
  return db::Statement{&insert_event, std::move(p)};
}

std::string row_event_sql(std::string_view after, std::string_view from, std::string_view alias) {
  const std::string a(alias);
  // On Citus the INSERT … SELECT stays on the row's shard (one task, no COPY through the coordinator,
  // which forced row-level security refuses) only when the organization is the row's own (not $1)
  // and no column takes a volatile default: the event's id ($9) comes from the server.
  return "INSERT INTO audit_events (organization_id, id, actor_id, actor_type, action, entity_type, entity_id, after,"
         " request_id, client_addr) SELECT " + a + ".organization_id, $9::uuid, $2::uuid, $3, $4, $5, " + a + ".id, " +
         std::string(after) + ", $7, $8 FROM " + std::string(from) + " WHERE " + a + ".organization_id = $1 AND " + a +
         ".id = $6::uuid";
}

db::Statement row_event(const db::Query& q, const Actor& who, std::string_view action, std::string_view entity_type,
                        std::string entity_id) {
  db::Params p;
  p.add(who.user_id);
  p.add(who.type);
  p.add(std::string(action));
  p.add(std::string(entity_type));
  p.add(std::move(entity_id));
  p.add(who.request_id);
  p.add(who.client_addr);
  p.add(crypto::uuid_v4());
  return db::Statement{&q, std::move(p)};
}

std::string utc_now() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::int64_t link_pending(db::BlockingConnection& conn, std::string_view key) {
  std::int64_t linked = 0;
  auto pending = conn.exec("SELECT organization_id FROM app.audit_pending() ORDER BY oldest");
  for (int i = 0; i < pending.rows(); ++i) {
    const std::string org(pending.get(i, 0));
    std::int64_t here = 0;
    for (std::int64_t n = batch_size; n == batch_size;) {
      n = link_batch(conn, key, org);
      here += n;
    }
    // Whoever follows the organization's chain (the notification dispatcher) looks now.
    if (here > 0) conn.exec("SELECT pg_notify('spectra_audit_linked', $1)", db::Params(org));
    linked += here;
  }
  return linked;
}

std::vector<ChainReport> verify(db::BlockingConnection& conn, const std::optional<std::string>& org, std::string_view key,
                                const std::vector<Checkpoint>& checkpoints) {
  std::vector<ChainReport> out;
  const CheckpointSigner signer(key);
  db::Params p;
  p.add(org);
  auto orgs = conn.exec("SELECT id FROM organizations WHERE $1::uuid IS NULL OR id = $1::uuid ORDER BY name", p);
  for (int i = 0; i < orgs.rows(); ++i) {
    ChainReport rep;
    rep.organization_id = orgs.get(i, 0);
    rep.pending = conn.exec("SELECT count(*) FROM audit_events WHERE organization_id = $1 AND seq IS NULL",
                            db::Params(rep.organization_id))
                      .get_int(0, 0);
    auto rows = conn.exec("SELECT " + std::string(event_columns) +
                              " FROM audit_events a WHERE a.organization_id = $1 AND a.seq IS NOT NULL ORDER BY a.seq",
                          db::Params(rep.organization_id));
    std::string prev;
    std::vector<std::string> hash_at;  // hash_at[seq - 1], hex
    auto broken = [&](std::int64_t seq, std::string problem) {
      rep.intact = false;
      rep.broken_seq = seq;
      rep.problem = std::move(problem);
    };
    for (int r = 0; r < rows.rows() && rep.intact; ++r) {
      const auto e = fields_of(rows, r, rep.organization_id);
      const std::int64_t expected = static_cast<std::int64_t>(hash_at.size()) + 1;
      const std::string prev_hex(rows.get(r, 13)), hash_hex(rows.get(r, 14));
      if (e.seq != expected)
        broken(expected, "event " + std::to_string(expected) + " is missing (the chain jumps from " +
                             std::to_string(expected - 1) + " to " + std::to_string(e.seq) + ")");
      else if (prev_hex != crypto::to_hex(prev))
        broken(e.seq, "its prev_hash does not match the previous event's hash");
      else if (!crypto::constant_time_equal(crypto::to_hex(link_hash(key, prev, e)), hash_hex))
        broken(e.seq, "its content does not match its keyed hash (the row was altered or forged)");
      else {
        prev = link_hash(key, prev, e);
        hash_at.push_back(hash_hex);
      }
    }
    rep.events = static_cast<std::int64_t>(hash_at.size());
    for (const auto& cp : checkpoints) {
      if (!rep.intact) break;
      if (cp.organization_id != rep.organization_id) continue;
      if (cp.key_id != signer.key_id() || !checkpoint_signature_valid(cp, signer.public_key())) {
        broken(0, "a checkpoint of " + cp.signed_at + " does not carry a valid signature of this key");
      } else if (cp.seq > rep.events) {
        broken(rep.events + 1, "the chain ends at seq " + std::to_string(rep.events) + " but a checkpoint of " +
                                   cp.signed_at + " saw seq " + std::to_string(cp.seq) +
                                   ": events were deleted from its end");
      } else if (cp.seq > 0 && hash_at[static_cast<std::size_t>(cp.seq - 1)] != cp.hash_hex) {
        broken(cp.seq, "its hash differs from the checkpoint of " + cp.signed_at);
      }
    }
    out.push_back(std::move(rep));
  }
  return out;
}

std::vector<Checkpoint> checkpoints(db::BlockingConnection& conn, const std::optional<std::string>& org,
                                    const CheckpointSigner& signer) {
  std::vector<Checkpoint> out;
  db::Params p;
  p.add(org);
  auto heads = conn.exec(
      "SELECT o.id, coalesce(h.seq, 0), coalesce(encode(h.hash, 'hex'), '') FROM organizations o"
      " LEFT JOIN app.audit_heads() h ON h.organization_id = o.id"
      " WHERE $1::uuid IS NULL OR o.id = $1::uuid ORDER BY o.name",
      p);
  const std::string at = utc_now();
  for (int i = 0; i < heads.rows(); ++i)
    out.push_back(signer.sign(std::string(heads.get(i, 0)), heads.get_int(i, 1), std::string(heads.get(i, 2)), at));
  return out;
}

struct Sequencer::Impl {
  std::string conninfo, user, key, checkpoint_file;
  std::chrono::milliseconds interval;
  std::chrono::seconds checkpoint_interval;
  std::chrono::seconds purge_interval;
  std::atomic<bool> leader{false};
  std::atomic<std::int64_t> pending{0};
  std::atomic<std::int64_t> lag_ms{0};
  std::atomic<std::int64_t> measured_at{0};  // steady clock, milliseconds; 0: never
  std::mutex mutex;
  std::condition_variable wake;
  std::atomic<bool> stopping{false};
  std::thread thread;

  bool sleep_for(std::chrono::milliseconds d) {
    std::unique_lock lock(mutex);
    wake.wait_for(lock, d, [&] { return stopping.load(); });
    return !stopping;
  }

  void append_checkpoints(db::BlockingConnection& c, const CheckpointSigner& signer,
                          std::map<std::string, std::int64_t>& written) {
    auto heads = c.exec("SELECT organization_id, seq, encode(hash, 'hex') FROM app.audit_heads()");
    std::ofstream out(checkpoint_file, std::ios::app);
    if (!out) {
      spdlog::error("audit: cannot append to AUDIT_CHECKPOINT_FILE {}", checkpoint_file);
      return;
    }
    const std::string at = utc_now();
    for (int i = 0; i < heads.rows(); ++i) {
      const std::string org(heads.get(i, 0));
      const auto seq = heads.get_int(i, 1);
      if (written[org] == seq) continue;
      out << to_json(signer.sign(org, seq, std::string(heads.get(i, 2)), at)) << "\n";
      written[org] = seq;
    }
    out.flush();
  }

  static std::int64_t steady_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  void measure(db::BlockingConnection& c) {
    auto p = c.exec("SELECT coalesce(sum(pending), 0), coalesce(extract(epoch FROM now() - min(oldest)), 0)"
                    " FROM app.audit_pending()");
    pending = p.get_int(0, 0);
    lag_ms = static_cast<std::int64_t>(p.get_double(0, 1) * 1000);
    measured_at = steady_ms();
  }

  // At a stop: the events of the requests that just finished are linked before the lock is let go.
  void flush(db::BlockingConnection& c) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    try {
      while (link_pending(c, key) > 0 && std::chrono::steady_clock::now() < deadline) {
      }
    } catch (const std::exception& e) {
      spdlog::warn("audit sequencer: linking at stop failed: {}", e.what());
    }
  }

  void run() {
    const CheckpointSigner signer(key);
    std::map<std::string, std::int64_t> written;
    auto next_checkpoint = std::chrono::steady_clock::now();
    auto next_purge = std::chrono::steady_clock::now();
    auto next_measure = std::chrono::steady_clock::now();
    while (!stopping) {
      try {
        db::BlockingConnection c(conninfo, user);
        // A statement that hangs must not hold the leader (and its lock) forever.
        c.exec("SET statement_timeout = 30000");
        while (true) {
          if (!leader) leader = c.exec("SELECT pg_try_advisory_lock(hashtextextended('spectra-audit-sequencer', 0))").get_bool(0, 0);
          if (leader) {
            link_pending(c, key);
            measure(c);
            if (!checkpoint_file.empty() && std::chrono::steady_clock::now() >= next_checkpoint) {
              append_checkpoints(c, signer, written);
              next_checkpoint = std::chrono::steady_clock::now() + checkpoint_interval;
            }
            // The leader's other periodic duty: expired refresh tokens do not pile up.
            if (std::chrono::steady_clock::now() >= next_purge) {
              next_purge = std::chrono::steady_clock::now() + purge_interval;
              try {
                const auto purged = c.exec("SELECT app.purge_expired_refresh_tokens()").get_int(0, 0);
                if (purged > 0) spdlog::info("purged {} expired refresh tokens", purged);
              } catch (const db::SqlError& e) {
                spdlog::warn("purging expired refresh tokens failed: {}", e.what());  // linking goes on
              }
            }
          } else if (std::chrono::steady_clock::now() >= next_measure) {
            // A standby's readiness still knows whether the trail is being linked.
            measure(c);
            next_measure = std::chrono::steady_clock::now() + std::chrono::seconds(1);
          }
          if (!sleep_for(interval)) {
            if (leader) flush(c);
            return;
          }
        }
      } catch (const std::exception& e) {
        leader = false;  // the session (and its lock) is gone with the connection
        spdlog::warn("audit sequencer: {}; retrying", e.what());
        if (!sleep_for(std::chrono::seconds(1))) return;
      }
    }
  }
};

Sequencer::Sequencer(std::string conninfo, std::string user, const Config& config) : impl_(std::make_unique<Impl>()) {
  auto& s = *impl_;
  s.conninfo = std::move(conninfo);
  s.user = std::move(user);
  s.key = config.audit_key;
  s.checkpoint_file = config.audit_checkpoint_file;
  s.interval = config.audit_sequencer_interval;
  s.checkpoint_interval = config.audit_checkpoint_interval;
  s.purge_interval = config.refresh_token_purge_interval;
  s.thread = std::thread([&s] { s.run(); });
}

Sequencer::~Sequencer() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->wake.notify_all();
  if (impl_->thread.joinable()) impl_->thread.join();
}

Sequencer::Status Sequencer::status() const {
  const auto at = impl_->measured_at.load();
  return Status{impl_->leader.load(), impl_->pending.load(), impl_->lag_ms.load(),
                at == 0 ? -1 : Impl::steady_ms() - at};
}

}  // namespace spectra::audit
