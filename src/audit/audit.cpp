#include "audit/audit.hpp"

#include "platform/crypto.hpp"
#include "platform/db/blocking_connection.hpp"

namespace spectra::audit {
namespace {

const db::Query insert_event{
    "audit_insert_event",
    "INSERT INTO audit_events (organization_id, actor_id, actor_type, action, entity_type, entity_id, before, after,"
    " request_id, client_addr) VALUES (app.current_org_id(), $1::uuid, $2, $3, $4, $5::uuid, $6::jsonb, $7::jsonb, $8, $9)"};

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

std::vector<ChainReport> verify(db::BlockingConnection& conn, const std::optional<std::string>& org) {
  std::vector<ChainReport> out;
  db::Params p;
  p.add(org);
  auto orgs = conn.exec("SELECT id FROM organizations WHERE $1::uuid IS NULL OR id = $1::uuid ORDER BY name", p);
  for (int i = 0; i < orgs.rows(); ++i) {
    ChainReport rep;
    rep.organization_id = orgs.get(i, 0);
    auto rows = conn.exec(
        "SELECT a.seq, a.prev_hash, a.hash, app.audit_payload(a) FROM audit_events a "
        "WHERE a.organization_id = $1 ORDER BY a.seq",
        db::Params(rep.organization_id));
    std::string prev;
    std::int64_t expected_seq = 1;
    for (int r = 0; r < rows.rows(); ++r) {
      ++rep.events;
      const auto seq = rows.get_int(r, 0);
      const std::string prev_hash = rows.is_null(r, 1) ? std::string() : db::decode_bytea(rows.get(r, 1));
      const std::string hash = db::decode_bytea(rows.get(r, 2));
      const std::string payload(rows.get(r, 3));
      std::string problem;
      if (seq != expected_seq) problem = "sequence jumps from " + std::to_string(expected_seq - 1) + " to " + std::to_string(seq);
      else if (prev_hash != prev) problem = "its prev_hash does not match the previous event's hash";
      else if (!crypto::constant_time_equal(crypto::sha256(prev + payload), hash))
        problem = "its content does not match its hash (the row was altered)";
      if (!problem.empty()) {
        rep.intact = false;
        rep.broken_seq = seq;
        rep.problem = problem;
        break;
      }
      prev = hash;
      ++expected_seq;
    }
    out.push_back(std::move(rep));
  }
  return out;
}

}  // namespace spectra::audit
