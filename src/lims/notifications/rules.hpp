#pragma once
// Who hears of an event and what they read: plain functions of the event and the organization's people
// and preferences (no database), shared by the dispatcher and the unit tests. The rules are API.md's:
// calibration and SPC events reach engineers, PIs and admins; run.blocked the run's creator;
// nonconformance.opened PIs and admins; *.submitted those who may approve it, never its author;
// booking.cancelled the booking's user; webhook.disabled the admins.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace spectra::notifications {

enum class Audience { lab_staff, quality, creator, approvers, booking_user, admins };
std::optional<Audience> audience_of(std::string_view name);

struct Person {
  std::string id, role, email, full_name;
  bool active = true;
};
// A person's choice for one event type; none: in the app, no mail.
struct Preference {
  std::string user_id, event;
  bool in_app = true;
  std::string email = "off";  // off, immediate, daily
};
struct Recipient {
  std::string user_id;
  bool in_app = true;
  std::string email;  // off, immediate, daily
};

struct Occurrence {
  std::string event;
  Audience audience = Audience::lab_staff;
  std::optional<std::string> actor_id;  // who caused it (an author is never asked to approve their own)
  std::optional<std::string> subject_user_id;  // the run's creator, the booking's user
};

// The people `o` reaches, each with what their preference makes of it; those who want neither the app
// nor mail for it are left out, and so are deactivated people.
std::vector<Recipient> recipients(const Occurrence& o, const std::vector<Person>& people,
                                  const std::vector<Preference>& preferences);

// What a notification says, from its event type's title and the audit event's entity and `after` (JSON).
struct Message {
  std::string title, body;
};
Message message_of(std::string_view event, std::string_view type_title, std::string_view after_json);

// Whether an spc_points.add event opened an alert (others are not notified: one per batch that did).
bool opens_alert(std::string_view after_json);

// A mail: its subject, plain text and HTML. One notification, or a day's digest of several.
struct Mail {
  std::string subject, text, html;
};
struct DigestItem {
  std::string title, body, created_at;
};
Mail immediate_mail(const Message& m, std::string_view link);
Mail digest_mail(std::string_view full_name, const std::vector<DigestItem>& items, std::string_view link);
// The message as sent (RFC 5322, multipart/alternative, UTF-8 parts in base64), with List-Unsubscribe
// naming the preferences page.
std::string compose_mail(std::string_view from, std::string_view to_name, std::string_view to_address, const Mail& mail,
                         std::string_view unsubscribe_url, std::string_view date, std::string_view message_id);

// Standard Webhooks: the signature header's value for a message ("v1,<base64 HMAC-SHA256 of
// id.timestamp.body>" keyed with the secret's bytes, the base64 after "whsec_").
std::string webhook_signature(std::string_view secret, std::string_view message_id, std::int64_t timestamp,
                              std::string_view body);
// A new endpoint secret: "whsec_" and the base64 of 32 random bytes.
std::string new_webhook_secret();

}  // namespace spectra::notifications
