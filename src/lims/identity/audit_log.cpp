// GET /api/audit: the organization's audit trail for admins, newest first, with filters.
#include "lims/identity/handlers.hpp"
#include "platform/json_body.hpp"
#include "platform/pagination.hpp"

namespace spectra::identity {
namespace {

constexpr db::Query list_q{
    "audit_list",
    "SELECT (to_jsonb(a) - 'prev_hash' - 'hash') || jsonb_build_object('hash', encode(a.hash, 'hex')),"
    " a.created_at::text, a.id FROM audit_events a"
    " WHERE a.organization_id = app.current_org_id()"
    "   AND ($1::text IS NULL OR a.entity_type = $1) AND ($2::uuid IS NULL OR a.entity_id = $2)"
    "   AND ($3::uuid IS NULL OR a.actor_id = $3) AND ($4::text IS NULL OR a.action = $4)"
    "   AND ($5::timestamptz IS NULL OR a.created_at >= $5)"
    "   AND ($6::timestamptz IS NULL OR (a.created_at, a.id) < ($6::timestamptz, $7::uuid))"
    " ORDER BY a.created_at DESC, a.id DESC LIMIT $8"};

std::optional<std::string> text_param(const http::Request& req, std::string_view name) {
  auto v = req.query_param(name);
  if (!v || v->empty()) return std::nullopt;
  if (v->size() > 100) throw bad_request(std::string(name) + " is too long");
  return std::string(*v);
}

}  // namespace

Result list_audit(RequestContext& ctx) {
  const auto page = parse_page(ctx.req);
  auto since = text_param(ctx.req, "since");
  if (since && !is_rfc3339(*since))
    throw std::move(bad_request("since must be an RFC 3339 time").with_field("since", "must be RFC 3339"));
  db::Params p;
  p.add(text_param(ctx.req, "entity_type")).add(uuid_param(ctx.req, "entity_id")).add(uuid_param(ctx.req, "actor_id"));
  p.add(text_param(ctx.req, "action")).add(since).add(page.after_created_at).add(page.after_id).add(page.limit + 1);
  auto r = co_await db::read(ctx.db(), ctx.tenant(), list_q, std::move(p));
  co_return http::Response::json(200, page_json(r, page));
}

}  // namespace spectra::identity
