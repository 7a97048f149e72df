// Who hears of an event, what it says, how a webhook is signed, and which addresses a webhook may not
// reach: the plain functions the dispatcher and the webhook routes use.
#include <gtest/gtest.h>

#include <algorithm>

#include "lims/notifications/rules.hpp"
#include "platform/crypto.hpp"
#include "platform/outbound.hpp"

using namespace spectra;
using namespace spectra::notifications;

namespace {

std::vector<Person> lab() {
  return {{"a", "admin", "a@x", "Ada", true},    {"p", "pi", "p@x", "Pia", true},
          {"e", "engineer", "e@x", "Eve", true}, {"t", "technician", "t@x", "Tom", true},
          {"v", "viewer", "v@x", "Vic", true},   {"gone", "engineer", "g@x", "Gus", false}};
}

std::vector<std::string> ids(const std::vector<Recipient>& rs) {
  std::vector<std::string> out;
  for (const auto& r : rs) out.push_back(r.user_id);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST(NotificationRules, EachAudienceReachesTheRolesApiMdNames) {
  const auto people = lab();
  using V = std::vector<std::string>;
  EXPECT_EQ(ids(recipients({"calibration.due", Audience::lab_staff, {}, {}}, people, {})), (V{"a", "e", "p"}));
  EXPECT_EQ(ids(recipients({"nonconformance.opened", Audience::quality, {}, {}}, people, {})), (V{"a", "p"}));
  EXPECT_EQ(ids(recipients({"webhook.disabled", Audience::admins, {}, {}}, people, {})), (V{"a"}));
  // Approvers never include the author, whatever their role.
  EXPECT_EQ(ids(recipients({"recipe.submitted", Audience::approvers, std::string("p"), {}}, people, {})), (V{"a"}));
  EXPECT_EQ(ids(recipients({"recipe.submitted", Audience::approvers, std::string("e"), {}}, people, {})), (V{"a", "p"}));
  EXPECT_EQ(ids(recipients({"run.blocked", Audience::creator, std::string("a"), std::string("t")}, people, {})), (V{"t"}));
  EXPECT_TRUE(recipients({"run.blocked", Audience::creator, {}, std::nullopt}, people, {}).empty());
  // A deactivated creator hears nothing.
  EXPECT_TRUE(recipients({"run.blocked", Audience::creator, {}, std::string("gone")}, people, {}).empty());
}

TEST(NotificationRules, PreferencesChooseTheAppAndMailAndNeitherMeansNobody) {
  const auto people = lab();
  const std::vector<Preference> prefs = {{"e", "calibration.due", false, "daily"},
                                         {"p", "calibration.due", false, "off"},
                                         {"a", "spc.alert_opened", true, "immediate"}};
  const auto rs = recipients({"calibration.due", Audience::lab_staff, {}, {}}, people, prefs);
  ASSERT_EQ(ids(rs), (std::vector<std::string>{"a", "e"}));  // the PI wants neither
  for (const auto& r : rs) {
    if (r.user_id == "e") {
      EXPECT_FALSE(r.in_app);
      EXPECT_EQ(r.email, "daily");
    } else {
      EXPECT_TRUE(r.in_app);  // the admin's choice was for another event
      EXPECT_EQ(r.email, "off");
    }
  }
}

TEST(NotificationRules, MessagesNameWhatHappened) {
  auto m = message_of("recipe.submitted", "Recipe submitted", R"({"name":"Anneal","version":3})");
  EXPECT_EQ(m.title, "Recipe submitted: Anneal");
  EXPECT_EQ(m.body, "Anneal (version 3) waits for your approval.");
  m = message_of("calibration.due", "Calibration due",
                 R"({"instrument_name":"Probe","certificate_number":"C-1","expires_at":"2026-12-20T00:00:00+00:00"})");
  EXPECT_EQ(m.title, "Calibration due: Probe");
  EXPECT_EQ(m.body, "Probe (certificate C-1): its calibration expires on 2026-12-20.");
  m = message_of("spc.alert_opened", "SPC alert", R"({"count":10,"alerts":[{"opened":true},{"opened":false},{"opened":true}]})");
  EXPECT_EQ(m.body, "2 SPC alerts opened by a batch of 10 points.");
  EXPECT_TRUE(opens_alert(R"({"alerts":[{"opened":false},{"opened":true}]})"));
  EXPECT_FALSE(opens_alert(R"({"alerts":[{"opened":false}]})"));
  EXPECT_FALSE(opens_alert("not json"));
  // Whatever the audit event holds, a message comes out.
  EXPECT_EQ(message_of("booking.cancelled", "Booking cancelled", "[1,2]").title, "Booking cancelled");
}

TEST(NotificationRules, WebhooksAreSignedAsStandardWebhooksSays) {
  // The example of the Standard Webhooks specification.
  EXPECT_EQ(webhook_signature("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
                              R"({"test": 2432232314})"),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  const auto secret = new_webhook_secret();
  EXPECT_EQ(secret.rfind("whsec_", 0), 0u);
  EXPECT_EQ(crypto::base64_decode(secret.substr(6)).value_or("").size(), 32u);
  EXPECT_NE(secret, new_webhook_secret());
}

TEST(NotificationRules, MailCarriesBothPartsAndItsUnsubscribeLink) {
  const auto mail = immediate_mail({"Recipe submitted: Ätzen", "Ätzen <v2> waits"}, "https://lims.example.org/recipes/1");
  EXPECT_NE(mail.html.find("&lt;v2&gt;"), std::string::npos) << mail.html;
  const auto text = compose_mail("SPECTRA-Lab <lims@example.org>", "Pia Ölund", "pia@example.org", mail,
                                 "https://lims.example.org/notifications", "Mon, 07 Dec 2026 10:00:00 +0000", "m1@spectra-lab");
  EXPECT_NE(text.find("To: =?UTF-8?B?"), std::string::npos) << text;
  EXPECT_NE(text.find("Subject: =?UTF-8?B?"), std::string::npos) << text;
  EXPECT_NE(text.find("List-Unsubscribe: <https://lims.example.org/notifications>\r\n"), std::string::npos);
  EXPECT_NE(text.find("Content-Type: text/plain; charset=utf-8"), std::string::npos);
  EXPECT_NE(text.find("Content-Type: text/html; charset=utf-8"), std::string::npos);
  for (std::size_t at = 0, next; (next = text.find("\r\n", at)) != std::string::npos; at = next + 2)
    EXPECT_LE(next - at, 998u);  // RFC 5322 line length
}

TEST(Outbound, PrivateLoopbackLinkLocalAndMulticastAddressesAreRestricted) {
  for (const char* a : {"127.0.0.1", "10.0.0.8", "172.16.5.4", "172.31.255.255", "192.168.1.1", "169.254.169.254",
                        "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fc00::1",
                        "fd12:3456::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.1.1.1", "64:ff9b::a00:1",
                        "2001:db8::1", "nonsense"})
    EXPECT_TRUE(outbound::is_restricted_address(a)) << a;
  for (const char* a : {"93.184.216.34", "8.8.8.8", "172.32.0.1", "2606:4700::1111", "::ffff:93.184.216.34"})
    EXPECT_FALSE(outbound::is_restricted_address(a)) << a;
}

TEST(Outbound, AWebhookUrlIsHttpOrHttpsWithAHostAndNoCredentials) {
  EXPECT_FALSE(outbound::url_problem("https://example.com/hooks?x=1"));
  EXPECT_FALSE(outbound::url_problem("http://example.com:8080/"));
  for (const char* u : {"ftp://example.com/", "https://user:pw@example.com/", "https://user@example.com/", "example.com",
                        "https:///nohost", "javascript:alert(1)", "https://example.com/#frag"})
    EXPECT_TRUE(outbound::url_problem(u)) << u;
  // A private target is refused after resolution unless allowed.
  EXPECT_FALSE(outbound::resolve("http://127.0.0.1:9/x", false).problem.empty());
  const auto allowed = outbound::resolve("http://127.0.0.1:9/x", true);
  EXPECT_TRUE(allowed.problem.empty()) << allowed.problem;
  EXPECT_EQ(allowed.address, "127.0.0.1");
  EXPECT_EQ(allowed.port, 9);
}
