// GET /api/audit: the organization's audit trail for admins, newest first, with filters.
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
    .where = "($1::text IS NULL OR a.entity_type = $1) AND ($2::uuid IS NULL OR a.entity_id = $2)"
             " AND ($3::uuid IS NULL OR a.actor_id = $3) AND ($4::text IS NULL OR a.action = $4)"
             " AND ($5::timestamptz IS NULL OR a.created_at >= $5)",
    .sorts = {{"seq", "a.seq", "bigint"}},
}};

}  // namespace

kit::Input<AuditFilters> AuditFilters::input() {
  return {"AuditFilters",
          {kit::field("entity_type", &AuditFilters::entity_type).max_length(100),
           kit::field("entity_id", &AuditFilters::entity_id).uuid(),
           kit::field("actor_id", &AuditFilters::actor_id).uuid(),
           kit::field("action", &AuditFilters::action).max_length(100),
           kit::field("since", &AuditFilters::since).timestamp()}};
}

Reply list_audit(RequestContext& ctx, QueryString<AuditFilters> q, PageRequest page) {
  return audit_list.page(ctx, db::Params(q.entity_type, q.entity_id, q.actor_id, q.action, q.since), page);
}

}  // namespace spectra::identity
