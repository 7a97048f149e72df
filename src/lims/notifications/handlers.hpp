#pragma once
// Notifications and webhooks (the LIMS API): each person's notifications (a list, marked read one or
// all at once, and a stream of Server-Sent Events), their preferences per event type, and the admin's
// webhook endpoints with their delivery log. What writes notifications and sends deliveries is the
// dispatcher (dispatcher.hpp). Each handler's parameters after the context are its declared inputs.
#include <optional>
#include <string>
#include <vector>

#include "kit/route.hpp"

namespace spectra::notifications {

using kit::Body;
using kit::Nullable;
using kit::OptionalBody;
using kit::PageRequest;
using kit::Path;
using kit::QueryString;
using kit::Reply;
using kit::RequestContext;

struct NotificationFilters {
  std::optional<bool> unread;
  static kit::Input<NotificationFilters> input();
};
Reply list_notifications(RequestContext& ctx, QueryString<NotificationFilters> q, PageRequest page);
Reply mark_read(RequestContext& ctx, Path<kit::Id> p, OptionalBody<kit::Nothing> none);
Reply mark_all_read(RequestContext& ctx, OptionalBody<kit::Nothing> none);
Reply stream_notifications(RequestContext& ctx);

struct PreferenceInput {
  std::string event;
  std::optional<bool> in_app;
  std::optional<std::string> email;
  static kit::Input<PreferenceInput> input();
};
struct PreferencesChange {
  std::optional<std::vector<PreferenceInput>> preferences;  // required
  static kit::Input<PreferencesChange> input();
};
Reply get_preferences(RequestContext& ctx);
Reply update_preferences(RequestContext& ctx, Body<PreferencesChange> in);

struct NewWebhook {
  std::string url;
  std::vector<std::string> events;
  std::optional<std::string> description;
  std::string extra_metadata = "{}";
  static kit::Input<NewWebhook> input();
};
struct WebhookChange {
  std::optional<std::string> url;
  std::optional<std::vector<std::string>> events;
  Nullable<std::string> description;
  std::optional<bool> is_active;
  static kit::Input<WebhookChange> input();
};
struct DeliveryPath {
  std::string id, delivery_id;
  static kit::Input<DeliveryPath> input();
};
Reply list_webhooks(RequestContext& ctx, PageRequest page);
Reply create_webhook(RequestContext& ctx, Body<NewWebhook> in);
Reply get_webhook(RequestContext& ctx, Path<kit::Id> p);
Reply update_webhook(RequestContext& ctx, Path<kit::Id> p, Body<WebhookChange> in);
Reply delete_webhook(RequestContext& ctx, Path<kit::Id> p);
Reply list_deliveries(RequestContext& ctx, Path<kit::Id> p, PageRequest page);
Reply redeliver(RequestContext& ctx, Path<DeliveryPath> p, OptionalBody<kit::Nothing> none);

}  // namespace spectra::notifications
