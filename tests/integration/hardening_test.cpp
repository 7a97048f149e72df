// Platform hardening: each test here failed before its fix. Database roles, input that used to reach
// PostgreSQL as a 500, service accounts, refresh families, failed-login timing, purging, and link
// tables that cannot point into another organization.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <thread>

#include "platform/crypto.hpp"
#include "platform/db/sql_error.hpp"
#include "server/runtime.hpp"
#include "support/harness.hpp"

using namespace spectra;
using namespace spectra::test;
namespace json = boost::json;

namespace {

std::int64_t count(const std::string& sql, const db::Params& p) { return owner().exec(sql, p).get_int(0, 0); }

std::string str(const json::value& v, const char* k) { return std::string(v.at(k).as_string()); }

HttpResponse post_login(const TestUser& u, const std::string& password, Headers headers = {}) {
  return lims("POST", "/api/auth/login", {}, json::serialize(json::object{{"email", u.email}, {"password", password}}),
              std::move(headers));
}

}  // namespace

TEST(DatabaseRoles, TheServerRefusesAnApplicationRoleThatBypassesRowLevelSecurity) {
  Config cfg = Harness::get().config();
  cfg.app_database_url = Harness::get().owner_dsn();  // the owner: its policy admits every row
  try {
    Runtime(cfg, ServeOptions{true, false}).start();
    FAIL() << "the server started as the owner";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("row-level security"), std::string::npos) << e.what();
  }
}

TEST(BadTimes, OffsetsPostgreSqlRefusesAre4xxNot500) {
  auto org = make_org();
  const std::string admin = login(org.admin());
  auto key = lims("POST", "/api/api-keys", admin,
                  R"({"name":"k","scopes":["samples:read"],"expires_at":"2027-01-01T00:00:00+99:00"})");
  EXPECT_EQ(key.status, 422u) << key.body;
  EXPECT_EQ(str(key.json().at("errors").at(0), "field"), "expires_at");
  EXPECT_EQ(lims("GET", "/api/audit?since=2026-01-01T00:00:00%2B99:00", admin).status, 400u);
  EXPECT_EQ(lims("GET", "/api/audit?since=2026-02-30T00:00:00Z", admin).status, 400u);
  // A forged cursor carrying such an offset.
  const std::string forged = crypto::base64url_encode(
      json::serialize(json::array{"-created_at", "2026-11-26 20:41:00+99", crypto::uuid_v4()}));
  EXPECT_EQ(lims("GET", "/api/users?cursor=" + forged, admin).status, 400u);
  EXPECT_EQ(count("SELECT count(*) FROM api_keys WHERE organization_id = $1", db::Params(org.id)), 0);
}

TEST(UserAgent, ALatin1OrLongUserAgentStillSignsIn) {
  auto org = make_org();
  const auto& u = org.user("technician");
  auto latin1 = post_login(u, u.password, {{"User-Agent", "Labor-Client/1.0 (M\xfcnchen)"}});
  EXPECT_EQ(latin1.status, 200u) << latin1.body;
  std::string long_ua;
  for (int i = 0; i < 200; ++i) long_ua += "\xc3\xa9";  // 400 bytes of é: a cut at 300 bytes must not split one
  auto long_one = post_login(u, u.password, {{"User-Agent", long_ua}});
  EXPECT_EQ(long_one.status, 200u) << long_one.body;
  auto stored = owner().exec("SELECT user_agent, octet_length(user_agent) FROM refresh_tokens WHERE user_id = $1"
                             " ORDER BY created_at", db::Params(u.id));
  ASSERT_EQ(stored.rows(), 2);
  EXPECT_EQ(stored.get(0, 0), "Labor-Client/1.0 (M\xef\xbf\xbdnchen)");
  EXPECT_EQ(stored.get_int(1, 1), 300);
}

TEST(ServiceAccounts, AnApiKeysAccountCannotBeEditedAsAUser) {
  auto org = make_org();
  const std::string admin = login(org.admin());
  auto key = lims("POST", "/api/api-keys", admin, R"({"name":"robot","scopes":["samples:read"],"role":"viewer"})");
  ASSERT_EQ(key.status, 201u) << key.body;
  const std::string account = str(key.json(), "user_id");
  EXPECT_EQ(lims("PATCH", "/api/users/" + account, admin, R"({"role":"admin"})").status, 403u);
  EXPECT_EQ(lims("PATCH", "/api/users/" + account, login(org.user("pi")), R"({"role":"pi"})").status, 403u);
  EXPECT_EQ(lims("DELETE", "/api/users/" + account, admin).status, 403u);
  auto row = owner().exec("SELECT role, is_active FROM users WHERE id = $1", db::Params(account));
  EXPECT_EQ(row.get(0, 0), "viewer");
  EXPECT_TRUE(row.get_bool(0, 1));
}

TEST(Timing, AWrongPasswordDoesNotWaitForItsAuditRow) {
  auto org = make_org();
  const auto& u = org.user("viewer");
  // Another transaction holds the user's row: the failed-login event (which references the user)
  // cannot be written until it ends.
  db::BlockingConnection holder(Harness::get().owner_dsn());
  holder.exec("BEGIN");
  holder.exec("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", db::Params(u.id));
  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::seconds(3));
    holder.exec("COMMIT");
  });
  const auto started = std::chrono::steady_clock::now();
  auto r = post_login(u, "wrong-password-123");
  const auto waited = std::chrono::steady_clock::now() - started;
  release.join();
  EXPECT_EQ(r.status, 401u);
  EXPECT_LT(waited, std::chrono::milliseconds(2500)) << "the answer waited for the audit write";
  const std::string failed = "SELECT count(*) FROM audit_events WHERE organization_id = $1 AND action = 'login_failed'";
  for (int i = 0; i < 100 && count(failed, db::Params(org.id)) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(count(failed, db::Params(org.id)), 1);
}

TEST(RefreshFamilies, ARevokedFamilyStopsEveryTokenInIt) {
  auto org = make_org();
  const auto& u = org.user("engineer");
  auto first = post_login(u, u.password);
  ASSERT_EQ(first.status, 200u);
  auto second = lims("POST", "/api/auth/refresh", {}, json::serialize(json::object{{"refresh_token", first.json().at("refresh_token")}}));
  ASSERT_EQ(second.status, 200u) << second.body;
  const std::string token = str(second.json(), "refresh_token");
  // The family was revoked for reuse while this token's own row escaped the sweep (a rotation that
  // committed at that moment).
  owner().exec("UPDATE refresh_token_families SET revoked_at = now(), revoked_reason = 'reuse detected' WHERE user_id = $1",
               db::Params(u.id));
  auto third = lims("POST", "/api/auth/refresh", {}, json::serialize(json::object{{"refresh_token", token}}));
  EXPECT_EQ(third.status, 401u) << third.body;
  EXPECT_EQ(count("SELECT count(*) FROM refresh_tokens WHERE user_id = $1", db::Params(u.id)), 2);
}

TEST(RefreshFamilies, ExpiredTokensArePurged) {
  auto org = make_org();
  const auto& u = org.user("technician");
  ASSERT_EQ(post_login(u, u.password).status, 200u);
  ASSERT_EQ(post_login(u, u.password).status, 200u);
  // One expired two days ago; the other is current.
  owner().exec("UPDATE refresh_tokens SET expires_at = now() - interval '2 days' WHERE id = (SELECT id FROM"
               " refresh_tokens WHERE user_id = $1 ORDER BY created_at LIMIT 1)", db::Params(u.id));
  const std::string remaining = "SELECT count(*) FROM refresh_tokens WHERE user_id = $1";
  for (int i = 0; i < 100 && count(remaining, db::Params(u.id)) == 2; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(count(remaining, db::Params(u.id)), 1);
  EXPECT_EQ(count("SELECT count(*) FROM refresh_tokens WHERE user_id = $1 AND expires_at > now()", db::Params(u.id)), 1);
}

TEST(LinkTables, AReferenceIntoAnotherOrganizationIsRefused) {
  auto a = make_org();
  auto b = make_org();
  auto& c = owner();
  const std::string entry(c.exec("INSERT INTO eln_entries (organization_id, title, body_markdown, author_id)"
                                 " VALUES ($1, 'Notes', 'x', $2) RETURNING id", db::Params(a.id, a.admin().id)).get(0, 0));
  const std::string own(c.exec("INSERT INTO samples (organization_id, name, sample_type) VALUES ($1, 'mine', 'die') RETURNING id",
                               db::Params(a.id)).get(0, 0));
  const std::string theirs(c.exec("INSERT INTO samples (organization_id, name, sample_type) VALUES ($1, 'theirs', 'die')"
                                  " RETURNING id", db::Params(b.id)).get(0, 0));
  c.exec("INSERT INTO eln_entry_samples (organization_id, eln_entry_id, sample_id) VALUES ($1, $2, $3)",
         db::Params(a.id, entry, own));
  try {
    c.exec("INSERT INTO eln_entry_samples (organization_id, eln_entry_id, sample_id) VALUES ($1, $2, $3)",
           db::Params(a.id, entry, theirs));
    FAIL() << "an entry linked another organization's sample";
  } catch (const db::SqlError& e) {
    EXPECT_EQ(e.sqlstate(), "23503");
  }
  try {
    c.exec("INSERT INTO attachment_links (organization_id, attachment_id, sample_id) VALUES ($1, $2, $3)",
           db::Params(a.id, crypto::uuid_v4(), theirs));
    FAIL() << "an attachment link pointed at another organization";
  } catch (const db::SqlError& e) {
    EXPECT_EQ(e.sqlstate(), "23503");
  }
  // The old array columns are gone.
  EXPECT_EQ(count("SELECT count(*) FROM information_schema.columns WHERE table_name IN ('eln_entries', 'spc_alerts',"
                  " 'attachments') AND column_name IN ('sample_ids', 'point_ids', 'entity_id')", {}), 0);
}
