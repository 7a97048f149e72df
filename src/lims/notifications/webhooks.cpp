// Webhook endpoints (admins): an http(s) URL that resolves to public addresses (unless
// WEBHOOK_ALLOW_PRIVATE), the event types it takes and a signing secret shown once; the delivery log
// with each attempt, and redelivery by hand (the same webhook-id).
#include <boost/json.hpp>
#include <set>

#include "kit/data.hpp"
#include "lims/notifications/handlers.hpp"
#include "lims/notifications/rules.hpp"
#include "platform/blocking.hpp"
#include "platform/json_text.hpp"
#include "platform/outbound.hpp"

namespace asio = boost::asio;
namespace json = boost::json;

namespace spectra::notifications {
namespace {

constexpr std::string_view webhook_fields[] = {"id",          "url",       "events",          "description",
                                               "is_active",   "failures_in_row", "disabled_reason", "created_by",
                                               "extra_metadata", "created_at", "updated_at"};
constexpr kit::Shape webhook_shape{webhook_fields};

const kit::List webhooks_list{{
    .name = "webhooks_list",
    .select = webhook_shape.sql("w"),
    .from = "webhook_endpoints w",
    .alias = "w",
    .where = "NOT w.is_deleted",
    .sorts = {},
}};
const db::Query get_q{"webhooks_get", "SELECT " + webhook_shape.sql("w") +
                                          " FROM webhook_endpoints w WHERE w.organization_id = $1 AND w.id = $2"
                                          " AND NOT w.is_deleted"};
const db::Query insert_q{
    "webhooks_insert",
    "INSERT INTO webhook_endpoints AS w (organization_id, url, events, description, secret, created_by, extra_metadata)"
    " VALUES ($1, $2, $3::text[], $4, $5, $6, $7::jsonb) RETURNING " + webhook_shape.sql("w")};
const db::Query update_q{
    "webhooks_update",
    "WITH old AS (SELECT o.id, " + webhook_shape.jsonb("o") + " AS before FROM webhook_endpoints o"
    "             WHERE o.organization_id = $1 AND o.id = $2 AND NOT o.is_deleted FOR UPDATE),"
    " w AS (UPDATE webhook_endpoints w SET url = coalesce($3, w.url), events = coalesce($4::text[], w.events),"
    "       description = CASE WHEN $5 THEN $6 ELSE w.description END, is_active = coalesce($7, w.is_active),"
    // Switched on again: the count starts over.
    "       failures_in_row = CASE WHEN $7 AND NOT w.is_active THEN 0 ELSE w.failures_in_row END,"
    "       disabled_reason = CASE WHEN $7 THEN NULL ELSE w.disabled_reason END"
    "       FROM old WHERE w.organization_id = $1 AND w.id = old.id RETURNING w.*, old.before)"
    " SELECT w.before AS _before, " + webhook_shape.sql("w") + " FROM w"};
const db::Query delete_q{
    "webhooks_delete",
    "WITH old AS (SELECT o.id, " + webhook_shape.jsonb("o") + " AS before FROM webhook_endpoints o"
    "             WHERE o.organization_id = $1 AND o.id = $2 AND NOT o.is_deleted FOR UPDATE),"
    " w AS (UPDATE webhook_endpoints w SET is_deleted = true, is_active = false"
    "       FROM old WHERE w.organization_id = $1 AND w.id = old.id RETURNING w.*, old.before)"
    " SELECT w.before AS _before, " + webhook_shape.sql("w") + " FROM w"};
const db::Query event_types_q{"webhooks_event_types",
                              "SELECT event FROM directory.notification_event_types WHERE $1::uuid IS NOT NULL"};

constexpr std::string_view delivery_fields[] = {
    "id", "endpoint_id", "message_id", "event", "status", "attempts", "next_attempt_at", "delivered_at", "created_at",
    "attempts_log=(SELECT coalesce(jsonb_agg(jsonb_build_object('status_code', t.status_code, 'duration_ms',"
    " t.duration_ms, 'error', t.error, 'response_excerpt', t.response_excerpt, 'created_at', t.created_at)"
    " ORDER BY t.created_at), '[]'::jsonb) FROM webhook_attempts t WHERE t.organization_id = $1"
    " AND t.delivery_id = $.id)"};
constexpr kit::Shape delivery_shape{delivery_fields};
const kit::List deliveries_list{{
    .name = "webhook_deliveries_list",
    .select = delivery_shape.sql("d"),
    .from = "webhook_deliveries d",
    .alias = "d",
    .where = "d.endpoint_id = $2",
    .sorts = {},
    .always_given = 1,
}};
const db::Query endpoint_exists_q{"webhooks_exists",
                                  "SELECT 1 FROM webhook_endpoints WHERE organization_id = $1 AND id = $2"
                                  " AND NOT is_deleted"};
// Due again now (no RETURNING of the shape: Citus refuses its attempts' JSON there); then the delivery.
const db::Query redeliver_q{"webhook_deliveries_redeliver",
                            "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = now()"
                            " WHERE organization_id = $1 AND id = $2 AND endpoint_id = $3"};
const db::Query delivery_q{"webhook_deliveries_get",
                           "SELECT " + delivery_shape.sql("d") +
                               " FROM webhook_deliveries d WHERE d.organization_id = $1 AND d.id = $2 AND d.endpoint_id = $3"};

// Why the URL's host cannot be a target (resolved and checked on a worker thread: a lookup may take
// seconds); empty when it can.
asio::awaitable<std::string> target_problem(RequestContext& ctx, const std::string& url) {
  const bool allow_private = ctx.deps.config.webhook_allow_private;
  auto job = [url, allow_private] { return outbound::resolve(url, allow_private).problem; };
  const WorkShare share = ctx.share();
  co_return co_await ctx.deps.blocking->run(std::move(job), share);
}

// 422 naming each problem: the URL's target, and every event type that does not exist (a later type is
// a row of directory.notification_event_types).
void refuse_problems(const std::string& url_problem, const db::Result* types, const std::vector<std::string>* events) {
  auto problems = unprocessable("The webhook cannot be registered as given");
  bool bad = false;
  if (!url_problem.empty()) {
    problems.with_field("url", url_problem);
    bad = true;
  }
  if (types && events) {
    std::set<std::string, std::less<>> known;
    for (int i = 0; i < types->rows(); ++i) known.emplace(types->get(i, 0));
    for (std::size_t i = 0; i < events->size(); ++i)
      if (!known.contains((*events)[i])) {
        problems.with_field("events[" + std::to_string(i) + "]", "is not an event type");
        bad = true;
      }
  }
  if (bad) throw problems;
}

std::optional<std::string> url_rule(const std::string& url) { return outbound::url_problem(url); }

}  // namespace

kit::Input<NewWebhook> NewWebhook::input() {
  return {"NewWebhook",
          {kit::field("url", &NewWebhook::url).max_length(2000).rule(url_rule).describe("http(s) URL the events are POSTed to"),
           kit::field("events", &NewWebhook::events).min(1).max_length(50).describe("Event types it takes"),
           kit::field("description", &NewWebhook::description).max_length(500),
           kit::field("extra_metadata", &NewWebhook::extra_metadata).object()}};
}

kit::Input<WebhookChange> WebhookChange::input() {
  return {"WebhookChange",
          {kit::field("url", &WebhookChange::url).max_length(2000).rule(url_rule),
           kit::field("events", &WebhookChange::events).min(1).max_length(50),
           kit::field("description", &WebhookChange::description).max_length(500),
           kit::field("is_active", &WebhookChange::is_active)}};
}

kit::Input<DeliveryPath> DeliveryPath::input() {
  return {"DeliveryPath",
          {kit::field("id", &DeliveryPath::id).uuid(), kit::field("delivery_id", &DeliveryPath::delivery_id).uuid()}};
}

Reply list_webhooks(RequestContext& ctx, PageRequest page) { return webhooks_list.page(ctx, {}, page); }

Reply get_webhook(RequestContext& ctx, Path<kit::Id> p) { return kit::one(ctx, get_q, db::Params(p.id), "No such webhook"); }

Reply create_webhook(RequestContext& ctx, Body<NewWebhook> in) {
  const std::string target = co_await target_problem(ctx, in.url);
  const std::string secret = new_webhook_secret();
  auto created = co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<std::string> {
    const auto types = co_await w.exec(event_types_q);
    refuse_problems(target, &types, &in.events);
    db::Params p(in.url);
    p.add_array(in.events).add(in.description).add(secret).add(ctx.principal.user_id).add(in.extra_metadata);
    auto r = co_await w.exec(insert_q, std::move(p));
    std::string row = db::row_json(r);
    w.audit("webhook.create", "webhook", std::string(r.get(0, "id")), std::nullopt, row);  // never the secret
    co_return row;
  });
  auto obj = json::parse(created).as_object();
  obj["secret"] = secret;
  co_return http::Response::json(201, json_text(obj));
}

Reply update_webhook(RequestContext& ctx, Path<kit::Id> p, Body<WebhookChange> in) {
  std::string target;
  if (in.url) target = co_await target_problem(ctx, *in.url);
  auto after = co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<std::string> {
    if (in.events) {
      const auto types = co_await w.exec(event_types_q);
      refuse_problems(target, &types, &*in.events);
    } else {
      refuse_problems(target, nullptr, nullptr);
    }
    db::Params params(p.id, in.url);
    if (in.events) params.add_array(*in.events); else params.add(std::nullopt);
    params.add(in.description.present).add(in.description.value).add(in.is_active);
    co_return co_await w.change(update_q, std::move(params), {"webhook.update", "webhook"}, "No such webhook");
  });
  co_return http::Response::json(200, std::move(after));
}

Reply delete_webhook(RequestContext& ctx, Path<kit::Id> p) {
  co_await kit::write(ctx, [&](kit::Write& w) {
    return w.change(delete_q, db::Params(p.id), {"webhook.delete", "webhook"}, "No such webhook");
  });
  co_return http::Response::no_content();
}

Reply list_deliveries(RequestContext& ctx, Path<kit::Id> p, PageRequest page) {
  auto exists = co_await db::read(ctx.db(), ctx.tenant(), endpoint_exists_q, db::Params(p.id));
  if (exists.empty()) throw not_found("No such webhook");
  co_return co_await deliveries_list.page(ctx, db::Params(p.id), page);
}

Reply redeliver(RequestContext& ctx, Path<DeliveryPath> p, OptionalBody<kit::Nothing>) {
  auto row = co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<std::string> {
    std::vector<db::Statement> st;
    st.push_back({&redeliver_q, db::Params(p.delivery_id, p.id)});
    st.push_back({&delivery_q, db::Params(p.delivery_id, p.id)});
    auto r = co_await w.exec_all(std::move(st));
    if (r[1].empty()) throw not_found("No such delivery");
    std::string json = db::row_json(r[1]);
    w.audit("webhook.redeliver", "webhook", p.id, std::nullopt, json);
    co_return json;
  });
  co_return http::Response::json(202, std::move(row));
}

}  // namespace spectra::notifications
