// Identity and access: login, tokens, refresh rotation, API keys, the role matrix, tenant scoping,
// throttling and the audit trail — each checked through the API and in the database.
#include <crypt.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <boost/json.hpp>
#include <cstdio>
#include <fstream>
#include <set>
#include <thread>

#include "audit/audit.hpp"
#include "platform/crypto.hpp"
#include "support/command.hpp"
#include "support/harness.hpp"

using namespace spectra;
using namespace spectra::test;
namespace json = boost::json;

namespace {

json::object login_body(const TestUser& u) { return json::object{{"email", u.email}, {"password", u.password}}; }

HttpResponse post_login(const TestUser& u) { return lims("POST", "/api/auth/login", {}, json::serialize(login_body(u))); }

std::string str(const json::value& v, const char* k) { return std::string(v.at(k).as_string()); }

}  // namespace

TEST(Login, AnswersTokensAndTheUserAndRecordsIt) {
  auto org = make_org();
  const auto& eng = org.user("engineer");
  auto r = post_login(eng);
  ASSERT_EQ(r.status, 200u) << r.body;
  auto b = r.json();
  EXPECT_EQ(b.at("token_type"), "bearer");
  EXPECT_EQ(b.at("expires_in"), 900);
  EXPECT_EQ(str(b.at("user"), "id"), eng.id);
  EXPECT_EQ(str(b.at("user"), "organization_id"), org.id);
  EXPECT_EQ(str(b.at("user"), "role"), "engineer");
  EXPECT_FALSE(b.at("user").as_object().contains("password_hash"));
  // The refresh token is stored only as its hash.
  const std::string refresh = str(b, "refresh_token");
  EXPECT_EQ(count("SELECT count(*) FROM refresh_tokens WHERE user_id = $1", db::Params(eng.id)), 1);
  EXPECT_EQ(count("SELECT count(*) FROM refresh_tokens WHERE token_hash = $1::bytea",
                  db::Params().add_bytea(crypto::sha256(refresh))), 1);
  EXPECT_EQ(count("SELECT count(*) FROM refresh_tokens WHERE encode(token_hash, 'escape') LIKE '%' || $1 || '%'",
                  db::Params(refresh)), 0);
  EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE organization_id = $1 AND action = 'login' AND actor_id = $2",
                  db::Params(org.id, eng.id)), 1);
  EXPECT_FALSE(owner().exec("SELECT last_login_at FROM users WHERE id = $1", db::Params(eng.id)).is_null(0, 0));
  // The access token's claims.
  auto me = lims("GET", "/api/auth/me", str(b, "access_token"));
  ASSERT_EQ(me.status, 200u);
  EXPECT_EQ(str(me.json(), "email"), eng.email);
}

TEST(Login, UnknownEmailAndWrongPasswordAnswerTheSame) {
  auto org = make_org();
  auto wrong = lims("POST", "/api/auth/login", {},
                    json::serialize(json::object{{"email", org.user("viewer").email}, {"password", "nope-nope-nope"}}));
  auto unknown = lims("POST", "/api/auth/login", {},
                      json::serialize(json::object{{"email", "ghost@nowhere.test"}, {"password", "nope-nope-nope"}}));
  EXPECT_EQ(wrong.status, 401u);
  EXPECT_EQ(unknown.status, 401u);
  EXPECT_EQ(wrong.json().at("detail"), unknown.json().at("detail"));
  EXPECT_EQ(wrong.header("www-authenticate"), "Bearer");
  // The failure is in the audit trail of the account's organization (recorded just after the answer).
  const std::string failed = "SELECT count(*) FROM audit_events WHERE organization_id = $1 AND action = 'login_failed'";
  for (int i = 0; i < 100 && count(failed, db::Params(org.id)) == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(count(failed, db::Params(org.id)), 1);
}

TEST(Login, MissingFieldsAre422) {
  auto r = lims("POST", "/api/auth/login", {}, R"({"email":"a@b.c"})");
  EXPECT_EQ(r.status, 422u);
  EXPECT_EQ(r.json().at("errors").as_array().at(0).at("field"), "password");
}

TEST(Login, BcryptHashIsAcceptedAndUpgradedToArgon2id) {
  auto org = make_org();
  const auto& u = org.user("technician");
  // A "$2b$" (bcrypt) hash made by libcrypt, as an older system would have stored it.
  char salt[64];
  ASSERT_NE(crypt_gensalt_rn("$2b$", 10, nullptr, 0, salt, sizeof salt), nullptr);
  crypt_data data{};
  const std::string hash = crypt_r(u.password.c_str(), salt, &data);
  ASSERT_TRUE(hash.starts_with("$2b$")) << hash;
  owner().exec("UPDATE users SET password_hash = $2 WHERE id = $1", db::Params(u.id, hash));
  ASSERT_EQ(post_login(u).status, 200u);
  auto stored = std::string(owner().exec("SELECT password_hash FROM users WHERE id = $1", db::Params(u.id)).get(0, 0));
  EXPECT_TRUE(stored.starts_with("$argon2id$")) << stored;
  EXPECT_EQ(post_login(u).status, 200u);
}

TEST(Throttle, RepeatedFailuresLockTheAccountWith429AndRetryAfter) {
  auto org = make_org();
  const auto& u = org.user("viewer");
  const std::string bad = json::serialize(json::object{{"email", u.email}, {"password", "wrong-password-x"}});
  for (int i = 0; i < Harness::get().config().login_max_failures_per_account; ++i)
    EXPECT_EQ(lims("POST", "/api/auth/login", {}, bad).status, 401u);
  auto locked = lims("POST", "/api/auth/login", {}, bad);
  EXPECT_EQ(locked.status, 429u);
  EXPECT_FALSE(locked.header("retry-after").empty());
  EXPECT_GT(std::stol(locked.header("retry-after")), 0);
  // Even the right password waits until the lockout ends.
  EXPECT_EQ(post_login(u).status, 429u);
  // Other accounts are unaffected.
  EXPECT_EQ(post_login(org.user("pi")).status, 200u);
}

TEST(Refresh, RotatesAndSpendsTheOldToken) {
  auto org = make_org();
  auto first = post_login(org.user("engineer")).json();
  const std::string r1 = str(first, "refresh_token");
  auto second = lims("POST", "/api/auth/refresh", {}, json::serialize(json::object{{"refresh_token", r1}}));
  ASSERT_EQ(second.status, 200u) << second.body;
  const std::string r2 = str(second.json(), "refresh_token");
  EXPECT_NE(r1, r2);
  EXPECT_EQ(lims("GET", "/api/auth/me", str(second.json(), "access_token")).status, 200u);
  auto rows = owner().exec("SELECT used_at IS NOT NULL, replaced_by IS NOT NULL FROM refresh_tokens WHERE token_hash = $1",
                           db::Params().add_bytea(crypto::sha256(r1)));
  EXPECT_TRUE(rows.get_bool(0, 0));
  EXPECT_TRUE(rows.get_bool(0, 1));
  EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE organization_id = $1 AND action = 'token_refresh'",
                  db::Params(org.id)), 1);
}

TEST(Refresh, RotationNeverOutlivesTheSessionsAbsoluteLifetime) {
  auto org = make_org();
  const std::string r1 = str(post_login(org.user("pi")).json(), "refresh_token");
  // Pretend the session began 29 days ago: the next token may live one more day, not seven.
  owner().exec("UPDATE refresh_tokens SET created_at = now() - interval '29 days' WHERE organization_id = $1",
               db::Params(org.id));
  owner().exec("UPDATE refresh_token_families SET created_at = now() - interval '29 days' WHERE organization_id = $1",
               db::Params(org.id));
  auto next = lims("POST", "/api/auth/refresh", {}, json::serialize(json::object{{"refresh_token", r1}}));
  ASSERT_EQ(next.status, 200u) << next.body;
  auto days = owner().exec("SELECT extract(epoch FROM expires_at - now()) / 86400 FROM refresh_tokens"
                           " WHERE token_hash = $1",
                           db::Params().add_bytea(crypto::sha256(str(next.json(), "refresh_token"))));
  EXPECT_LT(days.get_double(0, 0), 1.01);
  EXPECT_GT(days.get_double(0, 0), 0.9);
}

TEST(Refresh, ReusingASpentTokenRevokesTheWholeFamily) {
  auto org = make_org();
  auto first = post_login(org.user("engineer")).json();
  const std::string r1 = str(first, "refresh_token");
  auto second = lims("POST", "/api/auth/refresh", {}, json::serialize(json::object{{"refresh_token", r1}})).json();
  const std::string r2 = str(second, "refresh_token");
  auto reuse = lims("POST", "/api/auth/refresh", {}, json::serialize(json::object{{"refresh_token", r1}}));
  EXPECT_EQ(reuse.status, 401u);
  // The legitimate holder's newer token is dead too.
  EXPECT_EQ(lims("POST", "/api/auth/refresh", {}, json::serialize(json::object{{"refresh_token", r2}})).status, 401u);
  EXPECT_EQ(count("SELECT count(*) FROM refresh_tokens WHERE organization_id = $1 AND revoked_at IS NULL", db::Params(org.id)), 0);
  EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE organization_id = $1 AND action = 'refresh_token_reuse'",
                  db::Params(org.id)), 1);
}

// Whichever way the two requests interleave (both in flight, or one after the other), the outcome
// must be the same: one pair issued, then the whole family revoked.
TEST(Refresh, TheSameTokenPresentedTwiceAtOnceRevokesTheFamily) {
  auto org = make_org();
  const std::string r1 = str(post_login(org.user("technician")).json(), "refresh_token");
  const std::string body = json::serialize(json::object{{"refresh_token", r1}});
  HttpResponse a, b;
  std::thread t1([&] { a = lims("POST", "/api/auth/refresh", {}, body); });
  std::thread t2([&] { b = lims("POST", "/api/auth/refresh", {}, body); });
  t1.join();
  t2.join();
  // At most one wins, and whichever way the race went the family ends revoked.
  EXPECT_EQ((a.status == 200) + (b.status == 200), 1) << a.status << " " << b.status;
  const auto& winner = a.status == 200 ? a : b;
  const std::string r2 = str(winner.json(), "refresh_token");
  EXPECT_EQ(lims("POST", "/api/auth/refresh", {}, json::serialize(json::object{{"refresh_token", r2}})).status, 401u);
  EXPECT_EQ(count("SELECT count(*) FROM refresh_tokens WHERE organization_id = $1 AND revoked_at IS NULL", db::Params(org.id)), 0);
}

TEST(Refresh, GarbageAndMissingTokensAreRefused) {
  EXPECT_EQ(lims("POST", "/api/auth/refresh", {}, R"({"refresh_token":"not-a-token"})").status, 401u);
  EXPECT_EQ(lims("POST", "/api/auth/refresh", {}, R"({})").status, 401u);  // no token at all: no credentials
}

TEST(Logout, RevokesTheFamily) {
  auto org = make_org();
  auto b = post_login(org.user("pi")).json();
  const std::string access = str(b, "access_token"), refresh = str(b, "refresh_token");
  auto out = lims("POST", "/api/auth/logout", access, json::serialize(json::object{{"refresh_token", refresh}}));
  EXPECT_EQ(out.status, 204u) << out.body;
  EXPECT_EQ(lims("POST", "/api/auth/refresh", {}, json::serialize(json::object{{"refresh_token", refresh}})).status, 401u);
  EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE organization_id = $1 AND action = 'logout'", db::Params(org.id)), 1);
  EXPECT_EQ(lims("POST", "/api/auth/logout", {}, "{}").status, 401u);
}

TEST(Tokens, RejectedTokensAnswer401) {
  auto org = make_org();
  const std::string good = login(org.user("viewer"));
  auto parts_end = good.rfind('.');
  std::string tampered = good;
  tampered[parts_end - 3] = tampered[parts_end - 3] == 'A' ? 'B' : 'A';
  const std::string header_none = crypto::base64url_encode(R"({"alg":"none","typ":"JWT"})");
  const std::string payload = good.substr(good.find('.') + 1, parts_end - good.find('.') - 1);
  for (const std::string& bad : {std::string("garbage"), tampered, header_none + "." + payload + ".",
                                 good.substr(0, parts_end) + ".", std::string("a.b.c")}) {
    auto r = lims("GET", "/api/auth/me", bad);
    EXPECT_EQ(r.status, 401u) << bad;
    EXPECT_EQ(r.header("www-authenticate"), "Bearer");
  }
  EXPECT_EQ(lims("GET", "/api/auth/me").status, 401u);
  EXPECT_EQ(lims("GET", "/api/auth/me", {}, {}, {{"Authorization", "Basic abc"}}).status, 401u);
}

TEST(Tokens, ADeactivatedUsersValidTokenIsRefused) {
  auto org = make_org();
  const std::string token = login(org.user("technician"));
  ASSERT_EQ(lims("GET", "/api/auth/me", token).status, 200u);
  auto d = lims("DELETE", "/api/users/" + org.user("technician").id, login(org.admin()));
  ASSERT_EQ(d.status, 204u) << d.body;
  EXPECT_FALSE(owner().exec("SELECT is_active FROM users WHERE id = $1", db::Params(org.user("technician").id)).get_bool(0, 0));
  auto r = lims("GET", "/api/auth/me", token);
  EXPECT_EQ(r.status, 401u);
  EXPECT_EQ(post_login(org.user("technician")).status, 401u);
}

TEST(Tokens, ADeactivatedUsersRefreshTokenIsRefused) {
  auto org = make_org();
  const std::string refresh = str(post_login(org.user("engineer")).json(), "refresh_token");
  ASSERT_EQ(lims("DELETE", "/api/users/" + org.user("engineer").id, login(org.admin())).status, 204u);
  EXPECT_EQ(lims("POST", "/api/auth/refresh", {}, json::serialize(json::object{{"refresh_token", refresh}})).status, 401u);
  EXPECT_EQ(count("SELECT count(*) FROM refresh_tokens WHERE user_id = $1 AND revoked_at IS NULL",
                  db::Params(org.user("engineer").id)), 0);
}

TEST(Tokens, ADeletedOrganizationIsLockedOut) {
  auto org = make_org();
  auto b = post_login(org.user("pi")).json();
  owner().exec("UPDATE organizations SET is_deleted = true, deleted_at = now() WHERE id = $1", db::Params(org.id));
  EXPECT_EQ(lims("GET", "/api/auth/me", str(b, "access_token")).status, 401u);
  EXPECT_EQ(lims("POST", "/api/auth/refresh", {}, json::serialize(json::object{{"refresh_token", b.at("refresh_token")}})).status, 401u);
  EXPECT_EQ(post_login(org.user("pi")).status, 401u);
}

TEST(Tokens, ARoleChangeStopsRefreshTokensAndOldAccessTokens) {
  auto org = make_org();
  auto b = post_login(org.user("engineer")).json();
  auto p = lims("PATCH", "/api/users/" + org.user("engineer").id, login(org.admin()), R"({"role":"viewer"})");
  ASSERT_EQ(p.status, 200u) << p.body;
  EXPECT_EQ(str(p.json(), "role"), "viewer");
  EXPECT_EQ(lims("POST", "/api/auth/refresh", {}, json::serialize(json::object{{"refresh_token", b.at("refresh_token")}})).status, 401u);
  EXPECT_EQ(lims("GET", "/api/auth/me", str(b, "access_token")).status, 401u);
  EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE organization_id = $1 AND action = 'user.role_change'",
                  db::Params(org.id)), 1);
}

TEST(Tokens, TokenFromTheLimsIsAcceptedByTheAnalysisService) {
  auto org = make_org();
  const std::string token = login(org.user("viewer"));
  auto r = analysis("GET", "/openapi.json", token);
  EXPECT_EQ(r.status, 200u);
}

TEST(Interop, PyJwtTokenIsAcceptedAndOursVerifiesInPyJwt) {
  auto org = make_org();
  const auto& u = org.user("engineer");
  const auto& cfg = Harness::get().config();
  const std::string script_path = "/tmp/spectra_pyjwt_" + std::to_string(::getpid()) + ".py";
  {
    std::ofstream f(script_path);
    f << "import jwt, sys, time\n"
         "secret, sub, org, iss, aud = sys.argv[2:7]\n"
         "if sys.argv[1] == 'sign':\n"
         "    now = int(time.time())\n"
         "    print(jwt.encode({'sub': sub, 'org': org, 'role': 'engineer', 'email': 'x@example.test', 'iat': now,\n"
         "                      'exp': now + 300, 'iss': iss, 'aud': aud, 'jti': 'py'}, secret, algorithm='HS256'))\n"
         "else:\n"
         "    claims = jwt.decode(sys.argv[7], secret, algorithms=['HS256'], audience=aud, issuer=iss)\n"
         "    print(claims['sub'], claims['role'])\n";
  }
  const std::string args = " '" + cfg.jwt_secret + "' " + u.id + " " + org.id + " " + cfg.jwt_issuer + " " + cfg.jwt_audience;
  int st = 0;
  std::string token = run_command("/usr/bin/python3 " + script_path + " sign" + args, &st);
  ASSERT_EQ(st, 0) << token;
  while (!token.empty() && token.back() == '\n') token.pop_back();
  auto me = lims("GET", "/api/auth/me", token);
  EXPECT_EQ(me.status, 200u) << me.body;
  EXPECT_EQ(str(me.json(), "id"), u.id);

  const std::string ours = login(u);
  auto decoded = run_command("/usr/bin/python3 " + script_path + " verify" + args + " " + ours, &st);
  EXPECT_EQ(st, 0) << decoded;
  EXPECT_EQ(decoded, u.id + " engineer\n");
  std::remove(script_path.c_str());
}

TEST(RoleMatrix, EachRoleAgainstRoutesOfEachMinimumRole) {
  auto org = make_org();
  struct Probe {
    const char* method;
    std::string path;
    int min_rank;  // viewer 0 .. admin 4
  };
  const std::vector<Probe> probes = {
      {"GET", "/api/auth/me", 0},
      {"GET", "/api/organization", 0},
      {"GET", "/api/users", 3},
      {"GET", "/api/users/" + org.user("viewer").id, 3},
      {"GET", "/api/api-keys", 4},
      {"GET", "/api/audit", 4},
  };
  const std::vector<std::string> roles = {"viewer", "technician", "engineer", "pi", "admin"};
  for (std::size_t rank = 0; rank < roles.size(); ++rank) {
    const std::string token = login(org.user(roles[rank]));
    for (const auto& p : probes) {
      auto r = lims(p.method, p.path, token);
      const unsigned expected = static_cast<int>(rank) >= p.min_rank ? 200u : 403u;
      EXPECT_EQ(r.status, expected) << roles[rank] << " " << p.method << " " << p.path << " " << r.body;
    }
  }
}

TEST(Users, AdminCreatesAUserWithAPolicyCheckedPassword) {
  auto org = make_org();
  const std::string admin = login(org.admin());
  auto weak = lims("POST", "/api/users", admin,
                   R"({"email":"weak@example.test","full_name":"Weak","role":"viewer","password":"short"})");
  EXPECT_EQ(weak.status, 422u);
  EXPECT_EQ(weak.json().at("errors").as_array().at(0).at("field"), "password");
  auto unknown = lims("POST", "/api/users", admin,
                      R"({"email":"u@example.test","full_name":"U","role":"viewer","password":"long-enough-pass","bogus":1})");
  EXPECT_EQ(unknown.status, 422u);
  EXPECT_EQ(count("SELECT count(*) FROM users WHERE email IN ('weak@example.test', 'u@example.test')", {}), 0);

  const std::string email = "new-" + org.slug + "@example.test";
  auto ok = lims("POST", "/api/users", admin,
                 json::serialize(json::object{{"email", email}, {"full_name", "New Person"}, {"role", "technician"},
                                              {"password", "a-long-and-fine-password"}}));
  ASSERT_EQ(ok.status, 201u) << ok.body;
  EXPECT_FALSE(ok.json().as_object().contains("password_hash"));
  auto row = owner().exec("SELECT organization_id, role, password_hash FROM users WHERE email = $1", db::Params(email));
  ASSERT_EQ(row.rows(), 1);
  EXPECT_EQ(row.get(0, 0), org.id);
  EXPECT_EQ(row.get(0, 1), "technician");
  EXPECT_TRUE(std::string(row.get(0, 2)).starts_with("$argon2id$"));
  TestUser created{str(ok.json(), "id"), email, "a-long-and-fine-password", "technician"};
  EXPECT_EQ(post_login(created).status, 200u);
  auto dup = lims("POST", "/api/users", admin,
                  json::serialize(json::object{{"email", email}, {"full_name", "Again"}, {"role", "viewer"},
                                               {"password", "a-long-and-fine-password"}}));
  EXPECT_EQ(dup.status, 409u);
  EXPECT_NE(dup.body.find("\"email\""), std::string::npos) << dup.body;
  // Emails are unique across organizations too (login is by email alone).
  auto other = make_org();
  auto elsewhere = lims("POST", "/api/users", login(other.admin()),
                        json::serialize(json::object{{"email", email}, {"full_name", "Elsewhere"}, {"role", "viewer"},
                                                     {"password", "a-long-and-fine-password"}}));
  EXPECT_EQ(elsewhere.status, 409u);
  EXPECT_NE(elsewhere.body.find("\"email\""), std::string::npos) << elsewhere.body;
  EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE organization_id = $1 AND action = 'user.create'", db::Params(org.id)), 1);
}

TEST(Users, APiManagesTheTeamButNotAdmins) {
  auto org = make_org();
  const std::string pi = login(org.user("pi"));
  auto admin_attempt = lims("POST", "/api/users", pi,
                            json::serialize(json::object{{"email", "boss-" + org.slug + "@example.test"}, {"full_name", "Boss"},
                                                         {"role", "admin"}, {"password", "a-long-and-fine-password"}}));
  EXPECT_EQ(admin_attempt.status, 403u);
  EXPECT_EQ(lims("PATCH", "/api/users/" + org.admin().id, pi, R"({"is_active":false})").status, 403u);
  EXPECT_EQ(lims("PATCH", "/api/users/" + org.user("viewer").id, pi, R"({"role":"admin"})").status, 403u);
  auto ok = lims("PATCH", "/api/users/" + org.user("viewer").id, pi, R"({"role":"technician"})");
  EXPECT_EQ(ok.status, 200u);
  EXPECT_EQ(owner().exec("SELECT role FROM users WHERE id = $1", db::Params(org.user("viewer").id)).get(0, 0), "technician");
}

TEST(Users, TheLastAdminCanBeNeitherDemotedNorDeactivated) {
  auto org = make_org();
  const std::string admin = login(org.admin());
  EXPECT_EQ(lims("PATCH", "/api/users/" + org.admin().id, admin, R"({"role":"pi"})").status, 409u);
  EXPECT_EQ(lims("DELETE", "/api/users/" + org.admin().id, admin).status, 409u);
  EXPECT_EQ(owner().exec("SELECT role FROM users WHERE id = $1", db::Params(org.admin().id)).get(0, 0), "admin");
  // With a second admin, the first may step down.
  ASSERT_EQ(lims("PATCH", "/api/users/" + org.user("pi").id, admin, R"({"role":"admin"})").status, 200u);
  EXPECT_EQ(lims("PATCH", "/api/users/" + org.admin().id, admin, R"({"role":"pi"})").status, 200u);
}

TEST(Users, InvalidFiltersAndIdsAreClearErrors) {
  auto org = make_org();
  const std::string admin = login(org.admin());
  EXPECT_EQ(lims("GET", "/api/users?role=wizard", admin).status, 400u);
  EXPECT_EQ(lims("GET", "/api/users?limit=0", admin).status, 400u);
  EXPECT_EQ(lims("GET", "/api/users?limit=abc", admin).status, 400u);
  EXPECT_EQ(lims("GET", "/api/users?cursor=zzz", admin).status, 400u);
  const std::string forged = crypto::base64url_encode("not a time at all|" + org.admin().id);
  EXPECT_EQ(lims("GET", "/api/users?cursor=" + forged, admin).status, 400u);
  EXPECT_EQ(lims("GET", "/api/users/not-a-uuid", admin).status, 400u);
  EXPECT_EQ(lims("PATCH", "/api/users/" + org.user("viewer").id, admin, R"({"role":"wizard"})").status, 422u);
}

TEST(Users, ListsPageWithACursor) {
  auto org = make_org();
  const std::string admin = login(org.admin());
  std::set<std::string> seen;
  std::string cursor;
  int pages = 0;
  do {
    auto r = lims("GET", "/api/users?limit=2" + (cursor.empty() ? "" : "&cursor=" + cursor), admin);
    ASSERT_EQ(r.status, 200u) << r.body;
    auto b = r.json().as_object();
    for (const auto& u : b.at("items").as_array()) seen.insert(str(u, "id"));
    cursor = b.at("next_cursor").is_null() ? "" : std::string(b.at("next_cursor").as_string());
    ++pages;
  } while (!cursor.empty() && pages < 10);
  EXPECT_EQ(seen.size(), 5u);
  EXPECT_EQ(pages, 3);
}

TEST(TenantScoping, AnotherOrganizationsIdsAnswer404AndChangeNothing) {
  auto a = make_org();
  auto b = make_org();
  const std::string admin_b = login(b.admin());
  const std::string target = a.user("engineer").id;
  EXPECT_EQ(lims("GET", "/api/users/" + target, admin_b).status, 404u);
  EXPECT_EQ(lims("PATCH", "/api/users/" + target, admin_b, R"({"role":"viewer"})").status, 404u);
  EXPECT_EQ(lims("DELETE", "/api/users/" + target, admin_b).status, 404u);
  auto row = owner().exec("SELECT role, is_active FROM users WHERE id = $1", db::Params(target));
  EXPECT_EQ(row.get(0, 0), "engineer");
  EXPECT_TRUE(row.get_bool(0, 1));
  auto list = lims("GET", "/api/users?limit=500", admin_b).json();
  for (const auto& u : list.at("items").as_array()) EXPECT_EQ(str(u, "organization_id"), b.id);
  // Another org's API key cannot be revoked either.
  auto key = lims("POST", "/api/api-keys", login(a.admin()), R"({"name":"a-key","scopes":["samples:read"]})");
  ASSERT_EQ(key.status, 201u);
  EXPECT_EQ(lims("DELETE", "/api/api-keys/" + str(key.json(), "id"), admin_b).status, 404u);
  EXPECT_TRUE(owner().exec("SELECT revoked_at FROM api_keys WHERE id = $1", db::Params(str(key.json(), "id"))).is_null(0, 0));
  // The organization and audit routes show only the caller's own.
  EXPECT_EQ(str(lims("GET", "/api/organization", admin_b).json(), "id"), b.id);
  auto trail = lims("GET", "/api/audit?limit=500", admin_b).json();
  for (const auto& e : trail.at("items").as_array()) EXPECT_EQ(str(e, "organization_id"), b.id);
}

TEST(ApiKeys, ShownOnceStoredHashedAndScopedByBothScopesAndRole) {
  auto org = make_org();
  const std::string admin = login(org.admin());
  auto created = lims("POST", "/api/api-keys", admin, R"({"name":"lims robot","scopes":["users:read"],"role":"pi"})");
  ASSERT_EQ(created.status, 201u) << created.body;
  const std::string key = str(created.json(), "key");
  EXPECT_TRUE(key.starts_with("sk_"));
  const std::string id = str(created.json(), "id");
  EXPECT_EQ(count("SELECT count(*) FROM api_keys WHERE id = $1 AND key_hash = $2::bytea",
                  db::Params(id).add_bytea(crypto::sha256(key))), 1);
  // Never shown again.
  auto list = lims("GET", "/api/api-keys", admin);
  ASSERT_EQ(list.status, 200u);
  EXPECT_EQ(list.body.find(key), std::string::npos);
  EXPECT_EQ(list.body.find("key_hash"), std::string::npos);

  // Scope and role both allow: 200, as Bearer and as X-API-Key.
  EXPECT_EQ(lims("GET", "/api/users", key).status, 200u);
  EXPECT_EQ(lims("GET", "/api/users", {}, {}, {{"X-API-Key", key}}).status, 200u);
  EXPECT_FALSE(owner().exec("SELECT last_used_at FROM api_keys WHERE id = $1", db::Params(id)).is_null(0, 0));
  // Scope missing: 403. Key management is never open to a key.
  EXPECT_EQ(lims("GET", "/api/audit", key).status, 403u);
  EXPECT_EQ(lims("GET", "/api/api-keys", key).status, 403u);
  // Scope present but the service account's role is too low: 403.
  auto low = lims("POST", "/api/api-keys", admin, R"({"name":"low","scopes":["users:read"],"role":"viewer"})");
  EXPECT_EQ(lims("GET", "/api/users", str(low.json(), "key")).status, 403u);
  // Revoked: 401.
  EXPECT_EQ(lims("DELETE", "/api/api-keys/" + id, admin).status, 204u);
  EXPECT_EQ(lims("GET", "/api/users", key).status, 401u);
  // Revoking it again changes nothing and records nothing.
  const std::string revoked_at(owner().exec("SELECT revoked_at::text FROM api_keys WHERE id = $1", db::Params(id)).get(0, 0));
  EXPECT_EQ(lims("DELETE", "/api/api-keys/" + id, admin).status, 204u);
  EXPECT_EQ(owner().exec("SELECT revoked_at::text FROM api_keys WHERE id = $1", db::Params(id)).get(0, 0), revoked_at);
  EXPECT_EQ(count("SELECT count(*) FROM audit_events WHERE organization_id = $1 AND action IN ('api_key.create', 'api_key.revoke')",
                  db::Params(org.id)), 3);
}

TEST(ApiKeys, BadRequestsAreRefused) {
  auto org = make_org();
  const std::string admin = login(org.admin());
  EXPECT_EQ(lims("POST", "/api/api-keys", admin, R"({"name":"x","scopes":["root:all"]})").status, 422u);
  EXPECT_EQ(lims("POST", "/api/api-keys", admin, R"({"name":"x","scopes":[]})").status, 422u);
  EXPECT_EQ(lims("POST", "/api/api-keys", admin, R"({"name":"x","scopes":["samples:read"],"role":"admin"})").status, 422u);
  auto past = lims("POST", "/api/api-keys", admin, R"({"name":"x","scopes":["samples:read"],"expires_at":"2001-01-01T00:00:00Z"})");
  EXPECT_EQ(past.status, 422u);
  EXPECT_NE(past.body.find(R"({"field":"expires_at","message":"must be in the future"})"), std::string::npos) << past.body;
  EXPECT_EQ(lims("POST", "/api/api-keys", admin, R"({"name":"x","scopes":["samples:read"],"expires_at":"tomorrow"})").status, 422u);
  EXPECT_EQ(count("SELECT count(*) FROM api_keys WHERE organization_id = $1", db::Params(org.id)), 0);
  auto expiring = lims("POST", "/api/api-keys", admin, R"({"name":"soon","scopes":["users:read"],"role":"pi","expires_at":"2099-01-01T00:00:00Z"})");
  EXPECT_EQ(expiring.status, 201u);
  // A key made two days ago that expired a minute ago.
  owner().exec("UPDATE api_keys SET created_at = now() - interval '2 days', expires_at = now() - interval '1 minute'"
               " WHERE id = $1", db::Params(str(expiring.json(), "id")));
  EXPECT_EQ(lims("GET", "/api/users", str(expiring.json(), "key")).status, 401u);
  EXPECT_EQ(lims("GET", "/api/users", "sk_notarealkey").status, 401u);
}

TEST(Organization, AdminChangesSettingsOthersRead) {
  auto org = make_org();
  EXPECT_EQ(lims("GET", "/api/organization", login(org.user("viewer"))).status, 200u);
  EXPECT_EQ(lims("PATCH", "/api/organization", login(org.user("pi")), R"({"settings":{"recipe_approvals_required":2}})").status, 403u);
  const std::string admin = login(org.admin());
  EXPECT_EQ(lims("PATCH", "/api/organization", admin, R"({"settings":{"recipe_approvals_required":0}})").status, 422u);
  EXPECT_EQ(lims("PATCH", "/api/organization", admin, R"({"settings":{"colour":"red"}})").status, 422u);
  auto ok = lims("PATCH", "/api/organization", admin, R"({"settings":{"recipe_approvals_required":2,"final_approval_by_admin":true}})");
  ASSERT_EQ(ok.status, 200u) << ok.body;
  auto s = owner().exec("SELECT settings->>'recipe_approvals_required', settings->>'final_approval_by_admin' FROM organizations WHERE id = $1",
                        db::Params(org.id));
  EXPECT_EQ(s.get(0, 0), "2");
  EXPECT_EQ(s.get(0, 1), "true");
}

TEST(Audit, ListFiltersAndTheChainDetectsAnEditedRow) {
  auto org = make_org();
  const std::string admin = login(org.admin());
  lims("PATCH", "/api/users/" + org.user("viewer").id, admin, R"({"full_name":"Renamed Viewer"})");
  auto list = lims("GET", "/api/audit?action=user.update&entity_id=" + org.user("viewer").id, admin);
  ASSERT_EQ(list.status, 200u) << list.body;
  const auto trail = list.json();
  const auto& items = trail.at("items").as_array();
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(str(items[0], "actor_id"), org.admin().id);
  EXPECT_EQ(str(items[0].at("before"), "full_name"), "Test viewer");
  EXPECT_EQ(str(items[0].at("after"), "full_name"), "Renamed Viewer");
  EXPECT_EQ(lims("GET", "/api/audit?since=yesterday", admin).status, 400u);
  EXPECT_EQ(lims("GET", "/api/audit?actor_id=123", admin).status, 400u);

  auto& c = owner();
  ASSERT_TRUE(wait_for_audit_links(org.id));
  auto before = audit::verify(c, org.id, test_audit_key());
  ASSERT_EQ(before.size(), 1u);
  EXPECT_TRUE(before[0].intact);
  EXPECT_GE(before[0].events, 2);

  // The CLI agrees, then someone with database access edits a row.
  const std::string cli = std::string(SPECTRA_BINARY) + " audit verify --org " + org.id;
  const std::string env = "DATABASE_URL='" + Harness::get().owner_dsn() + "' AUDIT_KEY='" + test_audit_key() + "' ";
  int st = 0;
  run_command(env + cli, &st);
  EXPECT_EQ(st, 0);
  c.exec("UPDATE audit_events SET action = 'user.view' WHERE organization_id = $1 AND seq = 2", db::Params(org.id));
  auto after = audit::verify(c, org.id, test_audit_key());
  EXPECT_FALSE(after[0].intact);
  EXPECT_EQ(after[0].broken_seq, 2);
  auto out = run_command(env + cli, &st);
  EXPECT_NE(st, 0);
  EXPECT_NE(out.find("BROKEN at seq 2"), std::string::npos) << out;
}
