// A person's notifications, their stream and their preferences. Everything here is the caller's own:
// every statement names the caller's user as well as the organization, so another person's (or
// organization's) notification is a 404.
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <charconv>
#include <map>
#include <set>

#include "kit/data.hpp"
#include "lims/notifications/handlers.hpp"
#include "platform/db/listener.hpp"
#include "platform/json_text.hpp"

namespace asio = boost::asio;
namespace json = boost::json;

namespace spectra::notifications {
namespace {

constexpr std::string_view notification_fields[] = {"id",        "seq",       "event",      "title",   "body",
                                                    "entity_type", "entity_id", "created_at", "read_at"};
constexpr kit::Shape notification_shape{notification_fields};

const kit::List notifications_list{{
    .name = "notifications_list",
    .select = notification_shape.sql("n"),
    .from = "notifications n",
    .alias = "n",
    .where = "n.user_id = $2 AND n.in_app AND (NOT $3::boolean OR n.read_at IS NULL)",
    .sorts = {},
    .always_given = 2,
}};
const db::Query unread_q{"notifications_unread",
                         "SELECT count(*) AS unread FROM notifications WHERE organization_id = $1 AND user_id = $2"
                         " AND in_app AND read_at IS NULL"};
// Read now unless read already (no now() inside a CASE or coalesce: Citus refuses it); then the row.
const db::Query mark_read_q{"notifications_mark_read",
                            "UPDATE notifications SET read_at = now() WHERE organization_id = $1 AND id = $2"
                            " AND user_id = $3 AND in_app AND read_at IS NULL"};
const db::Query own_q{"notifications_own",
                      "SELECT " + notification_shape.sql("n") + " FROM notifications n WHERE n.organization_id = $1"
                      " AND n.id = $2 AND n.user_id = $3 AND n.in_app"};
const db::Query mark_all_q{"notifications_mark_all",
                           "UPDATE notifications SET read_at = now() WHERE organization_id = $1 AND user_id = $2"
                           " AND in_app AND read_at IS NULL"};
// The caller's notifications after a seq, oldest first (a stream's next events).
const db::Query since_q{"notifications_since",
                        "SELECT " + notification_shape.sql("n") + " FROM notifications n WHERE n.organization_id = $1"
                        " AND n.user_id = $2 AND n.in_app AND n.seq > $3 ORDER BY n.seq LIMIT 100"};
const db::Query newest_seq_q{"notifications_newest_seq",
                             "SELECT coalesce(max(seq), 0) AS seq FROM notifications WHERE organization_id = $1"
                             " AND user_id = $2"};

const db::Query event_types_q{"notification_event_types_all",
                              "SELECT event, title, description FROM directory.notification_event_types"
                              " WHERE $1::uuid IS NOT NULL ORDER BY event"};
const db::Query preferences_q{"notification_preferences_of",
                              "SELECT event, in_app, email FROM notification_preferences WHERE organization_id = $1"
                              " AND user_id = $2"};
const db::Query upsert_preference_q{
    "notification_preferences_upsert",
    "INSERT INTO notification_preferences AS p (organization_id, user_id, event, in_app, email)"
    " VALUES ($1, $2, $3, coalesce($4::boolean, true), coalesce($5, 'off'))"
    " ON CONFLICT (organization_id, user_id, event)"
    " DO UPDATE SET in_app = coalesce($4::boolean, p.in_app), email = coalesce($5, p.email)"};

const std::vector<std::string> email_choices = {"off", "immediate", "daily"};

// {"items": [...]}: every event type with the caller's choice (none stored: in the app, no mail).
std::string preferences_json(const db::Result& types, const db::Result& chosen) {
  std::map<std::string, std::pair<bool, std::string>, std::less<>> mine;
  for (int i = 0; i < chosen.rows(); ++i)
    mine[std::string(chosen.get(i, "event"))] = {chosen.get_bool(i, "in_app"), std::string(chosen.get(i, "email"))};
  json::array items;
  for (int i = 0; i < types.rows(); ++i) {
    const std::string event(types.get(i, "event"));
    const auto it = mine.find(event);
    items.push_back(json::object{{"event", event},
                                 {"title", types.get(i, "title")},
                                 {"description", types.get(i, "description")},
                                 {"in_app", it == mine.end() ? true : it->second.first},
                                 {"email", it == mine.end() ? std::string("off") : it->second.second}});
  }
  return json_text(json::object{{"items", std::move(items)}});
}

// The stream of one person's notifications: `event: notification` with the seq as its id, a comment
// every 15 s when nothing happens, and the end when the server stops (with a retry hint: come back in
// 5 s, to this server's successor or another behind the load balancer). Between events it holds no
// database connection: it looks every second whether the listener saw the person's key move, and
// reads only then.
class NotificationStream final : public http::BodyStream {
 public:
  NotificationStream(kit::Dependencies& deps, db::TenantContext tenant, std::int64_t after)
      : deps_(deps), tenant_(std::move(tenant)), after_(after) {}

  asio::awaitable<std::optional<std::string>> next() override {
    if (!started_) {
      started_ = true;
      generation_ = deps_.notifications->generation(tenant_.user_id);
      std::string first = "retry: 3000\n\n";
      first += co_await events();  // what was missed since Last-Event-ID
      co_return first;
    }
    auto last_sent = std::chrono::steady_clock::now();
    asio::steady_timer timer(co_await asio::this_coro::executor);
    while (true) {
      if (deps_.notifications->closed()) {
        if (ended_) co_return std::nullopt;
        ended_ = true;
        co_return std::string("retry: 5000\n: the server is stopping\n\n");
      }
      const auto g = deps_.notifications->generation(tenant_.user_id);
      if (g != generation_) {
        generation_ = g;
        auto text = co_await events();
        if (!text.empty()) co_return text;
      }
      if (std::chrono::steady_clock::now() - last_sent >= std::chrono::seconds(15)) co_return std::string(": keep-alive\n\n");
      timer.expires_after(std::chrono::seconds(1));
      co_await timer.async_wait(asio::use_awaitable);
    }
  }

 private:
  asio::awaitable<std::string> events() {
    auto r = co_await db::read(*deps_.pool, tenant_, since_q, db::Params(tenant_.user_id, static_cast<long long>(after_)));
    std::string out;
    for (int i = 0; i < r.rows(); ++i) {
      after_ = r.get_int(i, "seq");
      out += "id: " + std::to_string(after_) + "\nevent: notification\ndata: " + db::row_json(r, i) + "\n\n";
    }
    co_return out;
  }

  kit::Dependencies& deps_;
  db::TenantContext tenant_;
  std::int64_t after_;
  std::uint64_t generation_ = 0;
  bool started_ = false;
  bool ended_ = false;
};

}  // namespace

kit::Input<NotificationFilters> NotificationFilters::input() {
  return {"NotificationFilters",
          {kit::field("unread", &NotificationFilters::unread).describe("true: the unread ones alone")}};
}

kit::Input<PreferenceInput> PreferenceInput::input() {
  return {"PreferenceInput",
          {kit::field("event", &PreferenceInput::event).max_length(100),
           kit::field("in_app", &PreferenceInput::in_app),
           kit::field("email", &PreferenceInput::email).one_of(email_choices)}};
}

kit::Input<PreferencesChange> PreferencesChange::input() {
  return {"PreferencesChange", {kit::field("preferences", &PreferencesChange::preferences).required()}};
}

Reply list_notifications(RequestContext& ctx, QueryString<NotificationFilters> q, PageRequest page) {
  const bool unread_only = q.unread.value_or(false);
  auto body = co_await notifications_list.page_json(ctx, db::Params(ctx.principal.user_id, unread_only), page);
  auto count = co_await db::read(ctx.db(), ctx.tenant(), unread_q, db::Params(ctx.principal.user_id));
  // The page, and how many of the caller's are unread (the bell's number).
  body.pop_back();
  body += ",\"unread\":" + std::to_string(count.get_int(0, "unread")) + "}";
  co_return http::Response::json(200, std::move(body));
}

Reply mark_read(RequestContext& ctx, Path<kit::Id> p, OptionalBody<kit::Nothing>) {
  auto row = co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<std::string> {
    std::vector<db::Statement> st;
    st.push_back({&mark_read_q, db::Params(p.id, ctx.principal.user_id)});
    st.push_back({&own_q, db::Params(p.id, ctx.principal.user_id)});
    auto r = co_await w.exec_all(std::move(st));
    if (r[1].empty()) throw not_found("No such notification");
    co_return db::row_json(r[1]);
  });
  co_return http::Response::json(200, std::move(row));
}

Reply mark_all_read(RequestContext& ctx, OptionalBody<kit::Nothing>) {
  auto marked = co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<std::int64_t> {
    auto r = co_await w.exec(mark_all_q, db::Params(ctx.principal.user_id));
    co_return r.affected_rows();
  });
  co_return http::Response::json(200, json_text(json::object{{"marked", marked}}));
}

Reply stream_notifications(RequestContext& ctx) {
  if (!ctx.deps.notifications) throw unavailable("Notifications are not served by this process");
  // Last-Event-ID (a seq) resumes after it; without one the stream starts from now.
  std::int64_t after = 0;
  bool resumed = false;
  if (auto last = ctx.req.header("last-event-id"); last && !last->empty()) {
    const auto r = std::from_chars(last->data(), last->data() + last->size(), after);
    if (r.ec != std::errc{} || r.ptr != last->data() + last->size() || after < 0)
      throw bad_request("Last-Event-ID must be the id of an event of this stream (a whole number)");
    resumed = true;
  }
  if (!resumed) {
    auto newest = co_await db::read(ctx.db(), ctx.tenant(), newest_seq_q, db::Params(ctx.principal.user_id));
    after = newest.get_int(0, "seq");
  }
  http::Response r;
  r.content_type = "text/event-stream; charset=utf-8";
  r.header("Cache-Control", "no-store");
  r.header("X-Accel-Buffering", "no");
  r.stream = std::make_shared<NotificationStream>(ctx.deps, ctx.tenant(), after);
  co_return r;
}

Reply get_preferences(RequestContext& ctx) {
  auto rs = co_await db::transact(ctx.db(), ctx.tenant(), db::Mode::read_only,
                                  [&](db::Tx& tx) -> asio::awaitable<std::vector<db::Result>> {
                                    std::vector<db::Statement> st;
                                    st.push_back({&event_types_q, {}});
                                    st.push_back({&preferences_q, db::Params(ctx.principal.user_id)});
                                    co_return co_await tx.commit(std::move(st));
                                  });
  co_return http::Response::json(200, preferences_json(rs[0], rs[1]));
}

Reply update_preferences(RequestContext& ctx, Body<PreferencesChange> in) {
  auto answer = co_await kit::write(ctx, [&](kit::Write& w) -> asio::awaitable<std::string> {
    auto types = co_await w.exec(event_types_q);
    std::set<std::string, std::less<>> known;
    for (int i = 0; i < types.rows(); ++i) known.emplace(types.get(i, "event"));
    auto problems = unprocessable("Some preferences are not valid");
    bool bad = false;
    std::set<std::string, std::less<>> seen;
    const auto& given = *in.preferences;
    if (given.size() > 100) throw unprocessable("Too many preferences").with_field("preferences", "must hold at most 100 items");
    for (std::size_t i = 0; i < given.size(); ++i) {
      const auto& p = given[i];
      const std::string at = "preferences[" + std::to_string(i) + "].event";
      if (!known.contains(p.event)) {
        problems.with_field(at, "is not an event type");
        bad = true;
      } else if (!seen.insert(p.event).second) {
        problems.with_field(at, "is given twice");
        bad = true;
      }
    }
    if (bad) throw problems;
    std::vector<db::Statement> st;
    for (const auto& p : given)
      st.push_back({&upsert_preference_q, db::Params(ctx.principal.user_id, p.event, p.in_app, p.email)});
    st.push_back({&preferences_q, db::Params(ctx.principal.user_id)});
    auto r = co_await w.exec_all(std::move(st));
    std::string json = preferences_json(types, r.back());
    w.audit("notification_preferences.update", "user", ctx.principal.user_id, std::nullopt, json);
    co_return json;
  });
  co_return http::Response::json(200, std::move(answer));
}

}  // namespace spectra::notifications
