#include "lims/notifications/rules.hpp"

#include <boost/json.hpp>
#include <map>

#include "platform/crypto.hpp"
#include "platform/xml_text.hpp"

namespace json = boost::json;

namespace spectra::notifications {
namespace {

bool has_role(const Person& p, std::initializer_list<std::string_view> roles) {
  for (auto r : roles)
    if (p.role == r) return true;
  return false;
}

std::string text_of(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (!v) return {};
  if (v->is_string()) return std::string(v->as_string());
  if (v->is_int64()) return std::to_string(v->as_int64());
  if (v->is_double()) return json::serialize(*v);
  return {};
}

}  // namespace

std::optional<Audience> audience_of(std::string_view name) {
  if (name == "lab_staff") return Audience::lab_staff;
  if (name == "quality") return Audience::quality;
  if (name == "creator") return Audience::creator;
  if (name == "approvers") return Audience::approvers;
  if (name == "booking_user") return Audience::booking_user;
  if (name == "admins") return Audience::admins;
  return std::nullopt;
}

std::vector<Recipient> recipients(const Occurrence& o, const std::vector<Person>& people,
                                  const std::vector<Preference>& preferences) {
  std::map<std::string_view, const Preference*> chosen;
  for (const auto& p : preferences)
    if (p.event == o.event) chosen[p.user_id] = &p;
  std::vector<Recipient> out;
  for (const auto& p : people) {
    if (!p.active) continue;
    bool reached = false;
    switch (o.audience) {
      case Audience::lab_staff: reached = has_role(p, {"engineer", "pi", "admin"}); break;
      case Audience::quality: reached = has_role(p, {"pi", "admin"}); break;
      case Audience::admins: reached = has_role(p, {"admin"}); break;
      case Audience::approvers: reached = has_role(p, {"pi", "admin"}) && p.id != o.actor_id; break;
      case Audience::creator:
      case Audience::booking_user: reached = o.subject_user_id && p.id == *o.subject_user_id; break;
    }
    if (!reached) continue;
    Recipient r{p.id, true, "off"};
    if (const auto it = chosen.find(p.id); it != chosen.end()) {
      r.in_app = it->second->in_app;
      r.email = it->second->email;
    }
    if (!r.in_app && r.email == "off") continue;
    out.push_back(std::move(r));
  }
  return out;
}

bool opens_alert(std::string_view after_json) {
  boost::system::error_code ec;
  const auto v = json::parse(after_json, ec);
  if (ec || !v.is_object()) return false;
  const auto* alerts = v.as_object().if_contains("alerts");
  if (!alerts || !alerts->is_array()) return false;
  for (const auto& a : alerts->as_array())
    if (a.is_object())
      if (const auto* opened = a.as_object().if_contains("opened"); opened && opened->is_bool() && opened->as_bool())
        return true;
  return false;
}

Message message_of(std::string_view event, std::string_view type_title, std::string_view after_json) {
  Message m{std::string(type_title), std::string(type_title)};
  boost::system::error_code ec;
  const auto v = json::parse(after_json.empty() ? std::string_view("{}") : after_json, ec);
  const json::object empty;
  const json::object& a = (!ec && v.is_object()) ? v.as_object() : empty;
  const auto name = text_of(a, "name"), version = text_of(a, "version");
  if (event == "calibration.due" || event == "calibration.expired") {
    const auto instrument = text_of(a, "instrument_name"), certificate = text_of(a, "certificate_number"),
               expires = text_of(a, "expires_at");
    const std::string what = (instrument.empty() ? "An instrument" : instrument) +
                             (certificate.empty() ? std::string() : " (certificate " + certificate + ")");
    m.title = std::string(type_title) + (instrument.empty() ? "" : ": " + instrument);
    m.body = event == "calibration.due" ? what + ": its calibration expires " + (expires.empty() ? "soon" : "on " + expires.substr(0, 10)) + "."
                                        : what + ": its calibration has expired; runs on it are locked out until it is calibrated again.";
  } else if (event == "run.blocked") {
    const auto reason = text_of(a, "blocked_reason").empty() ? text_of(a, "reason") : text_of(a, "blocked_reason");
    m.body = "A run of yours was blocked" + (reason.empty() ? std::string(".") : ": " + reason);
  } else if (event == "spc.alert_opened") {
    std::size_t opened = 0;
    if (const auto* alerts = a.if_contains("alerts"); alerts && alerts->is_array())
      for (const auto& x : alerts->as_array())
        if (x.is_object())
          if (const auto* o = x.as_object().if_contains("opened"); o && o->is_bool() && o->as_bool()) ++opened;
    m.body = std::to_string(opened) + (opened == 1 ? " SPC alert opened" : " SPC alerts opened") + " by a batch of " +
             text_of(a, "count") + " points.";
  } else if (event == "nonconformance.opened") {
    const auto metric = text_of(a, "metric"), value = text_of(a, "first_value");
    m.title = std::string(type_title) + (metric.empty() ? "" : ": " + metric);
    m.body = "A result failed its specification" + (metric.empty() ? std::string() : " (" + metric + (value.empty() ? "" : " = " + value) + ")") +
             "; the sample is quarantined until a disposition.";
  } else if (event == "recipe.submitted" || event == "specification.submitted" || event == "sop.submitted") {
    const auto label = event == "sop.submitted" ? text_of(a, "code") + " " + text_of(a, "title") : name;
    m.title = std::string(type_title) + (label.empty() || label == " " ? "" : ": " + label);
    m.body = (label.empty() || label == " " ? std::string("A draft") : label) + (version.empty() ? "" : " (version " + version + ")") +
             " waits for your approval.";
  } else if (!name.empty()) {
    m.body = name;
  }
  return m;
}

namespace {

std::string html_text(std::string_view s) {
  std::string out;
  xml::append_text(out, s, xml::Escape::text);
  return out;
}

// A header value in UTF-8 (RFC 2047) when it is not plain ASCII without line breaks.
std::string header_text(std::string_view s) {
  bool plain = true;
  for (unsigned char c : s) plain = plain && c >= 0x20 && c < 0x7f;
  return plain ? std::string(s) : "=?UTF-8?B?" + crypto::base64_encode(s) + "?=";
}

std::string base64_lines(std::string_view s) {
  const auto b = crypto::base64_encode(s);
  std::string out;
  for (std::size_t i = 0; i < b.size(); i += 76) out.append(b, i, 76).append("\r\n");
  return out;
}

}  // namespace

Mail immediate_mail(const Message& m, std::string_view link) {
  Mail mail;
  mail.subject = "[SPECTRA-Lab] " + m.title;
  mail.text = m.body + "\n\nOpen it in SPECTRA-Lab: " + std::string(link) + "\n";
  mail.html = "<p>" + html_text(m.body) + "</p><p><a href=\"" + html_text(link) + "\">Open it in SPECTRA-Lab</a></p>";
  return mail;
}

Mail digest_mail(std::string_view full_name, const std::vector<DigestItem>& items, std::string_view link) {
  Mail mail;
  mail.subject = "[SPECTRA-Lab] Your daily digest: " + std::to_string(items.size()) +
                 (items.size() == 1 ? " notification" : " notifications");
  mail.text = "Hello " + std::string(full_name) + ",\n\n";
  mail.html = "<p>Hello " + html_text(full_name) + ",</p><ul>";
  for (const auto& i : items) {
    mail.text += "- " + i.title + ": " + i.body + " (" + i.created_at.substr(0, 16) + ")\n";
    mail.html += "<li><strong>" + html_text(i.title) + "</strong>: " + html_text(i.body) + "</li>";
  }
  mail.text += "\nAll of them in SPECTRA-Lab: " + std::string(link) + "\n";
  mail.html += "</ul><p><a href=\"" + html_text(link) + "\">All of them in SPECTRA-Lab</a></p>";
  return mail;
}

std::string compose_mail(std::string_view from, std::string_view to_name, std::string_view to_address, const Mail& mail,
                         std::string_view unsubscribe_url, std::string_view date, std::string_view message_id) {
  const std::string boundary = "spectra-" + crypto::to_hex(crypto::random_bytes(12));
  std::string m;
  m += "From: " + std::string(from) + "\r\n";
  m += "To: " + header_text(to_name) + " <" + std::string(to_address) + ">\r\n";
  m += "Subject: " + header_text(mail.subject) + "\r\n";
  m += "Date: " + std::string(date) + "\r\n";
  m += "Message-ID: <" + std::string(message_id) + ">\r\n";
  m += "MIME-Version: 1.0\r\n";
  m += "List-Unsubscribe: <" + std::string(unsubscribe_url) + ">\r\n";
  m += "Auto-Submitted: auto-generated\r\n";
  m += "Content-Type: multipart/alternative; boundary=\"" + boundary + "\"\r\n\r\n";
  m += "--" + boundary + "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n";
  m += base64_lines(mail.text);
  m += "--" + boundary + "\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n";
  m += base64_lines("<!doctype html><html><body>" + mail.html + "</body></html>");
  m += "--" + boundary + "--\r\n";
  return m;
}

std::string webhook_signature(std::string_view secret, std::string_view message_id, std::int64_t timestamp,
                              std::string_view body) {
  std::string_view encoded = secret;
  if (encoded.substr(0, 6) == "whsec_") encoded.remove_prefix(6);
  const auto key = crypto::base64_decode(encoded).value_or(std::string(encoded));
  std::string signed_content;
  signed_content.reserve(message_id.size() + body.size() + 24);
  signed_content.append(message_id).append(".").append(std::to_string(timestamp)).append(".").append(body);
  return "v1," + crypto::base64_encode(crypto::hmac_sha256(key, signed_content));
}

std::string new_webhook_secret() { return "whsec_" + crypto::base64_encode(crypto::random_bytes(32)); }

}  // namespace spectra::notifications
