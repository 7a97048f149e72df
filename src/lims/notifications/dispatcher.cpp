#include "lims/notifications/dispatcher.hpp"

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <condition_variable>
#include <ctime>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "lims/notifications/rules.hpp"
#include "platform/crypto.hpp"
#include "platform/db/blocking_connection.hpp"
#include "platform/db/sql_error.hpp"
#include "platform/json_text.hpp"
#include "platform/outbound.hpp"

namespace json = boost::json;

namespace spectra::notifications {
namespace {

constexpr int events_per_pass = 500;
constexpr int sends_per_pass = 20;
constexpr int disable_after_failures = 50;

// A transaction in an organization's tenant context (row-level security applies as for a request):
// commits when f returns, rolls back when it throws.
void in_tenant(db::BlockingConnection& c, const std::string& org, const std::function<void()>& f) {
  c.exec("BEGIN");
  try {
    c.exec("SELECT app.begin_request($1::uuid, NULL, NULL)", db::Params(org));
    f();
    c.exec("COMMIT");
  } catch (...) {
    try {
      c.exec("ROLLBACK");
    } catch (...) {
    }
    throw;
  }
}

std::string rfc2822_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

// Where a notification's entity is seen in the web app.
std::string app_path(const std::string& entity_type, const std::string& entity_id) {
  if (entity_id.empty()) return "/notifications";
  if (entity_type == "run") return "/runs/" + entity_id;
  if (entity_type == "recipe") return "/recipes/" + entity_id;
  if (entity_type == "sop") return "/sops/" + entity_id;
  if (entity_type == "specification") return "/quality/specifications/" + entity_id;
  if (entity_type == "nonconformance") return "/quality/nonconformances/" + entity_id;
  if (entity_type == "spc_series") return "/spc/" + entity_id;
  return "/notifications";
}

// Retries: the first within 30 s, then growing, for 24 hours.
long webhook_backoff_seconds(int attempts) {
  static constexpr long steps[] = {5, 30, 120, 600, 1800, 3600, 7200, 14400, 28800};
  const auto i = static_cast<std::size_t>(std::max(attempts - 1, 0));
  return i < std::size(steps) ? steps[i] : steps[std::size(steps) - 1];
}
long mail_backoff_seconds(int attempts) {
  static constexpr long steps[] = {30, 120, 600, 1800, 3600};
  const auto i = static_cast<std::size_t>(std::max(attempts - 1, 0));
  return i < std::size(steps) ? steps[i] : steps[std::size(steps) - 1];
}

}  // namespace

struct Dispatcher::Impl {
  std::string conninfo, user;
  Config config;
  std::string app_url;  // the web app's address, for links in mail
  std::mutex mutex;
  std::condition_variable wake;
  std::atomic<bool> stopping{false};
  std::atomic<std::uint64_t> webhooks_delivered{0}, webhooks_failed{0}, mail_sent{0}, mail_failed{0};
  std::atomic<std::int64_t> organizations_due{0};
  std::atomic<std::int64_t> webhooks_pending{0}, webhooks_due{0}, mail_pending{0}, mail_due{0};
  std::atomic<bool> sending{false};
  std::thread follower, sender;

  bool sleep_for(std::chrono::milliseconds d) {
    std::unique_lock lock(mutex);
    wake.wait_for(lock, d, [&] { return stopping.load(); });
    return !stopping;
  }

  // Runs `pass` as the leader of `lock_name` until stopped: pass(c) does one round and its own waiting;
  // `became_leader(c)` runs first on each connection that takes the lead.
  void lead(const char* lock_name, const std::function<void(db::BlockingConnection&)>& became_leader,
            const std::function<void(db::BlockingConnection&)>& pass) {
    bool leader = false;
    while (!stopping) {
      try {
        db::BlockingConnection c(conninfo, user);
        c.exec("SET statement_timeout = 30000");
        while (!stopping) {
          if (!leader) {
            leader = c.exec("SELECT pg_try_advisory_lock(hashtextextended($1, 0))", db::Params(lock_name)).get_bool(0, 0);
            if (leader) became_leader(c);
          }
          if (leader) pass(c);
          else if (!sleep_for(config.notify_interval)) return;
        }
      } catch (const std::exception& e) {
        leader = false;
        spdlog::warn("{}: {}; retrying", lock_name, e.what());
        if (!sleep_for(std::chrono::seconds(1))) return;
      }
    }
  }

  // f(org) for each organization; one organization's failure does not stop the others.
  void each(const std::vector<std::string>& orgs, const char* what,
            const std::function<void(const std::string&)>& f) {
    for (const auto& org : orgs) {
      if (stopping) return;
      try {
        f(org);
      } catch (const db::SqlError& e) {
        spdlog::warn("{} for organization {}: {}", what, org, e.what());
      }
    }
  }
  static std::vector<std::string> column(const db::Result& r) {
    std::vector<std::string> out;
    for (int i = 0; i < r.rows(); ++i) out.emplace_back(r.get(i, 0));
    return out;
  }

  // The follower: the organizations whose chains the sequencer just linked (it NOTIFYs), at once; every
  // organization every 30th round (calibrations, digests, and anything a lost notification left).
  void follower_loop() {
    long round = 0;
    const auto listen = [&](db::BlockingConnection& c) {
      c.exec("LISTEN spectra_audit_linked");  // only as the leader: a listener that never reads holds the queue
      round = 0;
    };
    lead("spectra-notifications", listen, [&](db::BlockingConnection& c) {
      if (round++ % 30 == 0) {
        const auto all = column(c.exec("SELECT app.notification_organizations()"));
        each(all, "calibration notices", [&](const std::string& org) { calibrations(c, org); });
        each(all, "digests", [&](const std::string& org) { digest(c, org); });
        each(all, "notifications", [&](const std::string& org) { follow(c, org); });
      }
      const auto linked = c.wait_for_notifications(config.notify_interval);
      const std::set<std::string> dirty(linked.begin(), linked.end());
      each({dirty.begin(), dirty.end()}, "notifications", [&](const std::string& org) { follow(c, org); });
    });
  }

  // The sender: the organizations with deliveries or mail due, each round.
  void sender_loop() {
    lead("spectra-deliveries", [](db::BlockingConnection&) {}, [&](db::BlockingConnection& c) {
      const auto due = column(c.exec("SELECT app.notification_sends_due()"));
      sending = true;
      organizations_due = static_cast<std::int64_t>(due.size());
      auto queues = c.exec("SELECT queue, pending, due FROM app.notification_queues()");
      for (int i = 0; i < queues.rows(); ++i) {
        const bool webhook = queues.get(i, 0) == std::string_view("webhook");
        (webhook ? webhooks_pending : mail_pending) = queues.get_int(i, 1);
        (webhook ? webhooks_due : mail_due) = queues.get_int(i, 2);
      }
      bool more = false;  // an organization had a full pass due: go on at once
      each(due, "webhook deliveries", [&](const std::string& org) { more = send_webhooks(c, org) == sends_per_pass || more; });
      each(due, "mail", [&](const std::string& org) { more = send_mail(c, org) == sends_per_pass || more; });
      if (!more) sleep_for(config.notify_interval);
    });
  }

  // ---- The follower ----

  // Follows the organization's chain to its head, events_per_pass at a time (each pass a transaction).
  void follow(db::BlockingConnection& c, const std::string& org) {
    while (!stopping && follow_pass(c, org)) {
    }
  }

  // One pass; answers whether more events may be waiting past it.
  bool follow_pass(db::BlockingConnection& c, const std::string& org) {
    bool full = false;
    in_tenant(c, org, [&] {
      c.exec("INSERT INTO outbox_cursors (organization_id, id) VALUES ($1, 'notifications') ON CONFLICT DO NOTHING",
             db::Params(org));
      const auto last = c.exec("SELECT last_seq FROM outbox_cursors WHERE organization_id = $1 AND id = 'notifications'"
                               " FOR UPDATE",
                               db::Params(org))
                            .get_int(0, 0);
      const auto head = c.exec("SELECT coalesce(max(seq), 0) FROM audit_events WHERE organization_id = $1 AND seq > $2"
                               " AND seq <= $3",
                               db::Params(org, static_cast<long long>(last), static_cast<long long>(last + events_per_pass)))
                            .get_int(0, 0);
      if (head <= last) return;
      full = head == last + events_per_pass;
      auto events = c.exec(
          "SELECT a.seq, a.id, s.event, t.audience, t.title, a.actor_id, coalesce(a.entity_type, ''),"
          " coalesce(a.entity_id::text, ''), coalesce(a.after::text, '{}'),"
          " to_char(a.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
          " FROM audit_events a JOIN directory.notification_event_sources s ON s.audit_action = a.action"
          " JOIN directory.notification_event_types t ON t.event = s.event"
          " WHERE a.organization_id = $1 AND a.seq > $2 AND a.seq <= $3 ORDER BY a.seq",
          db::Params(org, static_cast<long long>(last), static_cast<long long>(head)));
      if (events.rows() > 0) deliver_events(c, org, events);
      c.exec("UPDATE outbox_cursors SET last_seq = $2 WHERE organization_id = $1 AND id = 'notifications'",
             db::Params(org, static_cast<long long>(head)));
    });
    return full;
  }

  void deliver_events(db::BlockingConnection& c, const std::string& org, const db::Result& events) {
    std::vector<Person> people;
    auto users = c.exec("SELECT id, role, email, full_name, is_active FROM users WHERE organization_id = $1"
                        " AND NOT is_service_account",
                        db::Params(org));
    for (int i = 0; i < users.rows(); ++i)
      people.push_back(Person{std::string(users.get(i, 0)), std::string(users.get(i, 1)), std::string(users.get(i, 2)),
                              std::string(users.get(i, 3)), users.get_bool(i, 4)});
    std::map<std::string, const Person*> by_id;
    for (const auto& p : people) by_id[p.id] = &p;
    std::vector<Preference> preferences;
    auto prefs = c.exec("SELECT user_id, event, in_app, email FROM notification_preferences WHERE organization_id = $1",
                        db::Params(org));
    for (int i = 0; i < prefs.rows(); ++i)
      preferences.push_back(Preference{std::string(prefs.get(i, 0)), std::string(prefs.get(i, 1)), prefs.get_bool(i, 2),
                                       std::string(prefs.get(i, 3))});
    // The active endpoints by the event types they take (the database unnests its arrays).
    std::map<std::string, std::vector<std::string>, std::less<>> endpoints_of;
    auto endpoints = c.exec("SELECT e.id, s.event FROM webhook_endpoints e CROSS JOIN LATERAL unnest(e.events) AS s(event)"
                            " WHERE e.organization_id = $1 AND e.is_active AND NOT e.is_deleted",
                            db::Params(org));
    for (int k = 0; k < endpoints.rows(); ++k) endpoints_of[std::string(endpoints.get(k, 1))].emplace_back(endpoints.get(k, 0));
    std::set<std::string> woken;
    for (int i = 0; i < events.rows(); ++i) {
      const auto seq = events.get_int(i, 0);
      const std::string audit_id(events.get(i, 1)), event(events.get(i, 2)), entity_type(events.get(i, 6)),
          entity_id(events.get(i, 7)), after(events.get(i, 8)), at(events.get(i, 9));
      if (event == "spc.alert_opened" && !opens_alert(after)) continue;
      Occurrence o;
      o.event = event;
      o.audience = audience_of(events.get(i, 3)).value_or(Audience::admins);
      o.actor_id = events.get_optional(i, 5);
      if (o.audience == Audience::creator && entity_type == "run" && !entity_id.empty()) {
        auto creator = c.exec("SELECT created_by FROM runs WHERE organization_id = $1 AND id = $2::uuid",
                              db::Params(org, entity_id));
        if (!creator.empty()) o.subject_user_id = creator.get_optional(0, 0);
      }
      const auto message = message_of(event, events.get(i, 4), after);
      const auto path = app_path(entity_type, entity_id);
      for (const auto& r : recipients(o, people, preferences)) {
        std::optional<std::string> email;
        if (r.email == "immediate") email = "queued";
        else if (r.email == "daily") email = "daily";
        db::Params p(org, r.user_id, static_cast<long long>(seq), event, message.title, message.body);
        p.add(entity_type.empty() ? std::nullopt : std::optional(entity_type));
        p.add(entity_id.empty() ? std::nullopt : std::optional(entity_id));
        p.add(r.in_app).add(email);
        c.exec("INSERT INTO notifications (organization_id, user_id, seq, event, title, body, entity_type, entity_id,"
               " in_app, email) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::uuid, $9, $10)"
               " ON CONFLICT (organization_id, user_id, seq) DO NOTHING",
               p);
        if (r.in_app) woken.insert(r.user_id);
        if (r.email == "immediate")
          if (const auto it = by_id.find(r.user_id); it != by_id.end()) {
            const auto mail = immediate_mail(message, app_url + path);
            c.exec("INSERT INTO mail_queue (organization_id, user_id, to_address, subject, text_body, html_body, kind)"
                   " VALUES ($1, $2, $3, $4, $5, $6, 'immediate')",
                   db::Params(org, r.user_id, it->second->email, mail.subject, mail.text, mail.html));
          }
      }
      // The webhooks subscribed to the event: one delivery each, its body fixed now.
      const auto subscribed = endpoints_of.find(event);
      if (subscribed == endpoints_of.end()) continue;
      json::object data{{"organization_id", org},
                        {"audit_event_id", audit_id},
                        {"seq", seq},
                        {"entity_type", entity_type.empty() ? json::value(nullptr) : json::value(entity_type)},
                        {"entity_id", entity_id.empty() ? json::value(nullptr) : json::value(entity_id)},
                        {"title", message.title},
                        {"body", message.body}};
      boost::system::error_code ec;
      if (auto details = json::parse(after, ec); !ec) data["details"] = std::move(details);
      const std::string payload = json_text(json::object{{"type", event}, {"timestamp", at}, {"data", std::move(data)}});
      for (const auto& endpoint : subscribed->second)
        c.exec("INSERT INTO webhook_deliveries (organization_id, endpoint_id, message_id, event, payload)"
               " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
               db::Params(org, endpoint, "msg_" + audit_id, event, payload));
    }
    for (const auto& u : woken) c.exec("SELECT pg_notify($1, $2)", db::Params(channel, u));
  }

  // Calibrations entering the notice window (or created inside it) and calibrations that lapsed in
  // the last day: a notice row each (once), and an audit event each, which the follower then reads.
  // Row by row (a handful at most): on Citus an INSERT … SELECT is a COPY, which row-level security
  // refuses.
  void calibrations(db::BlockingConnection& c, const std::string& org) {
    in_tenant(c, org, [&] {
      const auto days = c.exec("SELECT coalesce((settings->>'calibration_notice_days')::int, 14) FROM organizations"
                               " WHERE id = $1",
                               db::Params(org));
      if (days.empty()) return;
      const auto window = days.get_int(0, 0);
      auto due = c.exec(
          "SELECT c.id, CASE WHEN c.expires_at > now() THEN 'due' ELSE 'expired' END, c.instrument_id, i.name,"
          " c.certificate_number, to_char(c.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
          " FROM calibrations c JOIN instruments i ON i.organization_id = $1 AND i.id = c.instrument_id"
          " WHERE c.organization_id = $1 AND c.status = 'VALID'"
          " AND c.expires_at > now() - interval '1 day' AND c.expires_at <= now() + make_interval(days => $2::int)"
          " AND NOT EXISTS (SELECT 1 FROM calibration_notices n WHERE n.organization_id = $1"
          "                 AND n.calibration_id = c.id AND n.kind = CASE WHEN c.expires_at > now() THEN 'due' ELSE 'expired' END)",
          db::Params(org, static_cast<long long>(window)));
      for (int i = 0; i < due.rows(); ++i) {
        const std::string id(due.get(i, 0)), kind(due.get(i, 1));
        auto noted = c.exec("INSERT INTO calibration_notices (organization_id, calibration_id, kind) VALUES ($1, $2, $3)"
                            " ON CONFLICT DO NOTHING RETURNING calibration_id",
                            db::Params(org, id, kind));
        if (noted.empty()) continue;
        c.exec("INSERT INTO audit_events (organization_id, actor_type, action, entity_type, entity_id, after)"
               " VALUES ($1, 'system', $2, 'calibration', $3::uuid, jsonb_build_object('instrument_id', $4::text,"
               " 'instrument_name', $5::text, 'certificate_number', $6::text, 'expires_at', $7::text, 'notice_days', $8::int))",
               db::Params(org, kind == "due" ? "calibration.due" : "calibration.lapse", id, std::string(due.get(i, 2)),
                          std::string(due.get(i, 3)), std::string(due.get(i, 4)), std::string(due.get(i, 5)),
                          static_cast<long long>(window)));
      }
    });
  }

  // Once a day, from 07:00 in the organization's time zone: each person's notifications kept for the
  // digest, in one mail.
  void digest(db::BlockingConnection& c, const std::string& org) {
    in_tenant(c, org, [&] {
      auto when = c.exec(
          "SELECT (now() AT TIME ZONE tz)::date::text, extract(hour FROM now() AT TIME ZONE tz)::int >= 7"
          " FROM (SELECT coalesce(settings->>'time_zone', 'UTC') AS tz FROM organizations WHERE id = $1) o",
          db::Params(org));
      if (when.empty() || !when.get_bool(0, 1)) return;
      const std::string today(when.get(0, 0));
      auto last = c.exec("SELECT last_day::text FROM outbox_cursors WHERE organization_id = $1 AND id = 'digest'",
                         db::Params(org));
      if (!last.empty() && last.get_optional(0, 0) == today) return;
      auto rows = c.exec(
          "SELECT n.user_id, u.email, u.full_name, n.title, n.body,"
          " to_char(n.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC', n.id"
          " FROM notifications n JOIN users u ON u.organization_id = $1 AND u.id = n.user_id"
          " WHERE n.organization_id = $1 AND n.email = 'daily' ORDER BY n.user_id, n.seq",
          db::Params(org));
      std::map<std::string, std::vector<int>> by_user;
      for (int i = 0; i < rows.rows(); ++i) by_user[std::string(rows.get(i, 0))].push_back(i);
      std::vector<std::string> ids;
      for (const auto& [user_id, list] : by_user) {
        std::vector<DigestItem> items;
        for (int i : list) {
          items.push_back({std::string(rows.get(i, 3)), std::string(rows.get(i, 4)), std::string(rows.get(i, 5))});
          ids.emplace_back(rows.get(i, 6));
        }
        const int first = list.front();
        const auto mail = digest_mail(rows.get(first, 2), items, app_url + "/notifications");
        c.exec("INSERT INTO mail_queue (organization_id, user_id, to_address, subject, text_body, html_body, kind)"
               " VALUES ($1, $2, $3, $4, $5, $6, 'digest')",
               db::Params(org, user_id, std::string(rows.get(first, 1)), mail.subject, mail.text, mail.html));
      }
      if (!ids.empty())
        c.exec("UPDATE notifications SET email = 'digested' WHERE organization_id = $1 AND id = ANY($2::uuid[])",
               db::Params(org).add_array(ids));
      c.exec("INSERT INTO outbox_cursors (organization_id, id, last_day) VALUES ($1, 'digest', $2::date)"
             " ON CONFLICT (organization_id, id) DO UPDATE SET last_day = EXCLUDED.last_day",
             db::Params(org, today));
    });
  }

  // ---- The sender ----

  // Posts the organization's due deliveries (at most sends_per_pass); answers how many were due.
  int send_webhooks(db::BlockingConnection& c, const std::string& org) {
    db::Result due;
    in_tenant(c, org, [&] {
      due = c.exec(
          "SELECT d.id, d.message_id, d.payload, d.attempts, (d.created_at < now() - interval '24 hours'),"
          " e.id, e.url, e.secret"
          " FROM webhook_deliveries d JOIN webhook_endpoints e ON e.organization_id = $1 AND e.id = d.endpoint_id"
          " WHERE d.organization_id = $1 AND d.status = 'pending' AND d.next_attempt_at <= now()"
          " AND e.is_active AND NOT e.is_deleted ORDER BY d.next_attempt_at LIMIT $2",
          db::Params(org, sends_per_pass));
    });
    for (int i = 0; i < due.rows() && !stopping; ++i) {
      const std::string delivery(due.get(i, 0)), message_id(due.get(i, 1)), payload(due.get(i, 2)),
          endpoint(due.get(i, 5)), url(due.get(i, 6)), secret(due.get(i, 7));
      const int attempts = static_cast<int>(due.get_int(i, 3)) + 1;
      const bool past_window = due.get_bool(i, 4);
      const std::int64_t timestamp = std::time(nullptr);
      const std::vector<std::pair<std::string, std::string>> headers = {
          {"Content-Type", "application/json"},
          {"webhook-id", message_id},
          {"webhook-timestamp", std::to_string(timestamp)},
          {"webhook-signature", webhook_signature(secret, message_id, timestamp, payload)}};
      const auto result = outbound::post(url, headers, payload, config.webhook_allow_private,
                                         std::chrono::duration_cast<std::chrono::milliseconds>(config.webhook_timeout));
      const bool ok = result.status && *result.status >= 200 && *result.status < 300;
      (ok ? webhooks_delivered : webhooks_failed).fetch_add(1, std::memory_order_relaxed);
      std::string error = result.error;
      if (!ok && error.empty()) error = "answered " + std::to_string(result.status.value_or(0));
      in_tenant(c, org, [&] {
        db::Params attempt(org, delivery);
        attempt.add(result.status ? std::optional<int>(*result.status) : std::nullopt)
            .add(static_cast<long long>(result.duration_ms))
            .add(ok ? std::nullopt : std::optional(error))
            .add(result.excerpt.empty() ? std::nullopt : std::optional(result.excerpt));
        c.exec("INSERT INTO webhook_attempts (organization_id, delivery_id, status_code, duration_ms, error,"
               " response_excerpt) VALUES ($1, $2, $3::int, $4, $5, $6)",
               attempt);
        if (ok) {
          c.exec("UPDATE webhook_deliveries SET status = 'delivered', attempts = $3, delivered_at = now()"
                 " WHERE organization_id = $1 AND id = $2",
                 db::Params(org, delivery, attempts));
          c.exec("UPDATE webhook_endpoints SET failures_in_row = 0 WHERE organization_id = $1 AND id = $2"
                 " AND failures_in_row <> 0",
                 db::Params(org, endpoint));
          return;
        }
        c.exec("UPDATE webhook_deliveries SET attempts = $3, status = CASE WHEN $4 THEN 'failed' ELSE 'pending' END,"
               " next_attempt_at = now() + make_interval(secs => $5) WHERE organization_id = $1 AND id = $2",
               db::Params(org, delivery, attempts, past_window, static_cast<long long>(webhook_backoff_seconds(attempts))));
        auto failures = c.exec("UPDATE webhook_endpoints SET failures_in_row = failures_in_row + 1"
                               " WHERE organization_id = $1 AND id = $2 RETURNING failures_in_row, url",
                               db::Params(org, endpoint));
        if (!failures.empty() && failures.get_int(0, 0) == disable_after_failures) {
          const std::string reason = std::to_string(disable_after_failures) + " failed deliveries in a row (the last: " +
                                     error + ")";
          c.exec("UPDATE webhook_endpoints SET is_active = false, disabled_reason = $3 WHERE organization_id = $1"
                 " AND id = $2",
                 db::Params(org, endpoint, reason));
          c.exec("INSERT INTO audit_events (organization_id, actor_type, action, entity_type, entity_id, after)"
                 " VALUES ($1, 'system', 'webhook.disable', 'webhook', $2::uuid,"
                 " jsonb_build_object('name', $3::text, 'url', $4::text, 'reason', $5::text))",
                 db::Params(org, endpoint, "Webhook " + std::string(failures.get(0, 1)) + " disabled",
                            std::string(failures.get(0, 1)), reason));
        }
      });
    }
    return due.rows();
  }

  // Sends the organization's due mail (at most sends_per_pass); answers how many were due.
  int send_mail(db::BlockingConnection& c, const std::string& org) {
    if (config.smtp_url.empty()) return 0;  // mail waits in the queue until a server is configured
    db::Result due;
    in_tenant(c, org, [&] {
      due = c.exec(
          "SELECT m.id, m.to_address, u.full_name, m.subject, m.text_body, m.html_body, m.attempts"
          " FROM mail_queue m JOIN users u ON u.organization_id = $1 AND u.id = m.user_id"
          " WHERE m.organization_id = $1 AND m.status = 'pending' AND m.next_attempt_at <= now()"
          " ORDER BY m.next_attempt_at LIMIT $2",
          db::Params(org, sends_per_pass));
    });
    for (int i = 0; i < due.rows() && !stopping; ++i) {
      const std::string id(due.get(i, 0)), to(due.get(i, 1));
      const Mail mail{std::string(due.get(i, 3)), std::string(due.get(i, 4)), std::string(due.get(i, 5))};
      const int attempts = static_cast<int>(due.get_int(i, 6)) + 1;
      const auto message = compose_mail(config.mail_from, due.get(i, 2), to, mail, app_url + "/notifications",
                                        rfc2822_now(), id + "@spectra-lab");
      const auto error = outbound::send_mail(config.smtp_url, config.mail_from, to, message, std::chrono::seconds(30));
      (error.empty() ? mail_sent : mail_failed).fetch_add(1, std::memory_order_relaxed);
      in_tenant(c, org, [&] {
        if (error.empty())
          c.exec("UPDATE mail_queue SET status = 'sent', sent_at = now(), attempts = $3, last_error = NULL"
                 " WHERE organization_id = $1 AND id = $2",
                 db::Params(org, id, attempts));
        else
          c.exec("UPDATE mail_queue SET attempts = $3, last_error = $4,"
                 " status = CASE WHEN $3 >= 20 THEN 'failed' ELSE 'pending' END,"
                 " next_attempt_at = now() + make_interval(secs => $5) WHERE organization_id = $1 AND id = $2",
                 db::Params(org, id, attempts, error, static_cast<long long>(mail_backoff_seconds(attempts))));
      });
      if (!error.empty()) spdlog::warn("mail to {} not sent (attempt {}): {}", to, attempts, error);
    }
    return due.rows();
  }
};

Dispatcher::Dispatcher(std::string conninfo, std::string user, const Config& config) : impl_(std::make_unique<Impl>()) {
  auto& s = *impl_;
  s.conninfo = std::move(conninfo);
  s.user = std::move(user);
  s.config = config;
  s.app_url = config.public_url.empty() ? "http://" + config.host + ":" + std::to_string(config.lims_port) : config.public_url;
  // Both threads yield the processor to the I/O threads (as the bulk work pool does): a burst of
  // deliveries never slows the requests that raised them.
  s.follower = std::thread([&s] {
    (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 10);
    s.follower_loop();
  });
  s.sender = std::thread([&s] {
    (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 10);
    s.sender_loop();
  });
}

Dispatcher::~Dispatcher() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->wake.notify_all();
  if (impl_->follower.joinable()) impl_->follower.join();
  if (impl_->sender.joinable()) impl_->sender.join();
}

Dispatcher::Stats Dispatcher::stats() const {
  const auto& s = *impl_;
  return {s.sending.load(),          s.organizations_due.load(), s.webhooks_delivered.load(), s.webhooks_failed.load(),
          s.mail_sent.load(),        s.mail_failed.load(),       s.webhooks_pending.load(),   s.webhooks_due.load(),
          s.mail_pending.load(),     s.mail_due.load()};
}

}  // namespace spectra::notifications
