// The organization's audit trail for admins (newest first, with filters), its signed head, and the
// public keys that verify such heads.
#include "kit/data.hpp"
#include "lims/identity/handlers.hpp"

namespace spectra::identity {
namespace {

constexpr std::string_view audit_fields[] = {
    "id",        "organization_id", "seq",        "actor_id",       "actor_type", "action",     "entity_type",
    "entity_id", "before",          "after",      "request_id",     "client_addr", "extra_metadata", "created_at",
    "updated_at", "hash=encode($.hash, 'hex')"};
constexpr kit::Shape audit_shape{audit_fields};

const kit::List audit_list{{
    .name = "audit_list",
    .select = audit_shape.sql("a"),
    .from = "audit_events a",
    .alias = "a",
    .where = "($2::text IS NULL OR a.entity_type = $2) AND ($3::uuid IS NULL OR a.entity_id = $3)"
             " AND ($4::uuid IS NULL OR a.actor_id = $4) AND ($5::text IS NULL OR a.action = $5)"
             " AND ($6::timestamptz IS NULL OR a.created_at >= $6)",
    // Events not linked yet have no seq: they sort as the newest.
    .sorts = {{"seq", "coalesce(a.seq, 9223372036854775807)", "bigint"}},
}};

const db::Query head_q{
    "audit_head",
    "SELECT a.seq, encode(a.hash, 'hex') AS hash FROM audit_events a"
    " WHERE a.organization_id = $1 AND a.seq IS NOT NULL ORDER BY a.seq DESC LIMIT 1"};
struct AuditHead {
  std::int64_t seq = 0;
  std::string hash;  // hex
};
const db::Decoder<AuditHead> audit_head{head_q, {{"seq", &AuditHead::seq}, {"hash", &AuditHead::hash}}};

}  // namespace

kit::Input<AuditFilters> AuditFilters::input() {
  return {"AuditFilters",
          {kit::field("entity_type", &AuditFilters::entity_type).max_length(100),
           kit::field("entity_id", &AuditFilters::entity_id).uuid(),
           kit::field("actor_id", &AuditFilters::actor_id).uuid(),
           kit::field("action", &AuditFilters::action).max_length(100),
           kit::field("since", &AuditFilters::since).timestamp()}};
}

Reply audit_checkpoint(RequestContext& ctx) {
  auto head = co_await db::read(ctx.db(), ctx.tenant(), head_q);
  AuditHead top;  // seq 0 and no hash before the first linked event
  if (!head.empty()) top = audit_head(head);
  const std::int64_t seq = top.seq;
  const std::string hash = top.hash;
  const auto signed_head = ctx.deps.audit_signer->sign(ctx.principal.org_id, seq, hash, audit::utc_now());
  auto res = http::Response::json(200, audit::to_json(signed_head));
  res.header("Cache-Control", "no-store");
  co_return res;
}

Reply audit_keys(RequestContext& ctx) {
  auto res = http::Response::json(200, ctx.deps.audit_signer->keys_json());
  res.header("Cache-Control", "public, max-age=300");
  co_return res;
}

Reply list_audit(RequestContext& ctx, QueryString<AuditFilters> q, PageRequest page) {
  return audit_list.page(ctx, db::Params(q.entity_type, q.entity_id, q.actor_id, q.action, q.since), page);
}

}  // namespace spectra::identity
