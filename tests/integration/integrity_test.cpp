// Integrity as an auditor and a hostile tenant check it: a signature binds what the signer read,
// nobody approves their own work, a signed entry is locked for files too, failed passwords are always
// audited (even with the request pool exhausted) and throttled across servers, answers stay bounded,
// markdown is rendered once at write time, one organization's flood does not slow another's logins,
// the sequencer alone reaches across organizations, and the contract's small promises hold.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "kit/stored_markdown.hpp"
#include "platform/db/sql_error.hpp"
#include "server/runtime.hpp"
#include "support/api.hpp"
#include "support/harness.hpp"

using namespace spectra;
using namespace spectra::test;
namespace json = boost::json;

namespace {

constexpr const char* password = "Correct-Horse-42";  // every make_org() user's

json::value make_entry(const std::string& token, const std::string& title = "Gate oxide, lot 12") {
  auto r = lims("POST", "/api/eln", token,
                js(json::object{{"title", title}, {"body_markdown", "## Result\n\nAll **nine** sites pass."}}));
  if (r.status != 201) throw std::runtime_error("creating an entry failed: " + describe(r));
  return r.json();
}

HttpResponse sign_with(const std::string& token, const std::string& id, const std::string& meaning,
                       const std::string& hash, const std::string& pw = password) {
  return lims("POST", "/api/eln/" + id + "/sign", token,
              js(json::object{{"password", pw}, {"meaning", meaning}, {"content_sha256", hash}}));
}

std::string hash_of(const std::string& token, const std::string& id) {
  auto r = lims("GET", "/api/eln/" + id, token);
  if (r.status != 200) throw std::runtime_error("reading an entry failed: " + describe(r));
  return str(r.json(), "content_sha256");
}

std::int64_t events(const std::string& action, const std::string& entity_id) {
  return count("SELECT count(*) FROM audit_events WHERE action = $1 AND entity_id = $2", db::Params(action, entity_id));
}

// The events once a record written beside its answer has landed (up to 5 s).
std::int64_t events_soon(const std::string& action, const std::string& entity_id, std::int64_t expected) {
  for (int i = 0; i < 100 && events(action, entity_id) < expected; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  return events(action, entity_id);
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

// ---- What was signed ----

TEST(SignedContent, ASignatureBindsTheHashTheSignerReadAndRefusesAnyOther) {
  auto org = make_org();
  const std::string eng = login(org.user("engineer")), pi = login(org.user("pi"));
  const std::string id = str(make_entry(eng), "id");

  // The reviewer reads the entry: its hash is the hash of its canonical content.
  const std::string read = hash_of(pi, id);
  ASSERT_EQ(read.size(), 64u);
  EXPECT_EQ(read.find_first_not_of("0123456789abcdef"), std::string::npos) << read;

  // No hash: 422 naming the field, nothing signed.
  auto absent = lims("POST", "/api/eln/" + id + "/sign", pi, js(json::object{{"password", password}, {"meaning", "reviewer"}}));
  EXPECT_EQ(absent.status, 422u) << describe(absent);
  EXPECT_TRUE(names(absent, "content_sha256")) << describe(absent);
  auto malformed = sign_with(pi, id, "reviewer", "not-a-hash");
  EXPECT_EQ(malformed.status, 422u) << describe(malformed);
  EXPECT_TRUE(names(malformed, "content_sha256"));

  // The author changes the text after the reviewer read it: the reviewer's signature is refused.
  auto edit = lims("PATCH", "/api/eln/" + id, eng, js(json::object{{"body_markdown", "## Result\n\nSite 4 **fails**."}}));
  ASSERT_EQ(edit.status, 200u) << describe(edit);
  auto stale = sign_with(pi, id, "reviewer", read);
  EXPECT_EQ(stale.status, 409u) << describe(stale);
  EXPECT_NE(stale.json().at("detail").as_string().find("changed"), std::string::npos) << describe(stale);
  EXPECT_EQ(count("SELECT count(*) FROM signatures WHERE entry_id = $1", db::Params(id)), 0);
  EXPECT_EQ(db_text("SELECT (locked_at IS NULL)::text FROM eln_entries WHERE id = $1", db::Params(id)), "true");

  // Read again, signed: the signature stores exactly that hash (and upper-case hex is the same hash).
  const std::string now = hash_of(pi, id);
  EXPECT_NE(now, read);
  std::string upper = now;
  std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return std::toupper(c); });
  auto ok = sign_with(pi, id, "reviewer", upper);
  ASSERT_EQ(ok.status, 201u) << describe(ok);
  EXPECT_EQ(db_text("SELECT encode(content_sha256, 'hex') FROM signatures WHERE entry_id = $1", db::Params(id)), now);
}

TEST(SignedContent, TheAuthorSignsOnlyAsAuthorAndNobodyElseDoes) {
  auto org = make_org();
  const std::string eng = login(org.user("engineer")), tech = login(org.user("technician"));
  const std::string id = str(make_entry(eng), "id");
  const std::string hash = hash_of(eng, id);
  for (const char* meaning : {"approver", "reviewer"}) {
    auto own = sign_with(eng, id, meaning, hash);
    EXPECT_EQ(own.status, 403u) << meaning << " " << describe(own);
  }
  EXPECT_EQ(sign_with(tech, id, "author", hash).status, 403u);
  EXPECT_EQ(count("SELECT count(*) FROM signatures WHERE entry_id = $1", db::Params(id)), 0);
  EXPECT_EQ(sign_with(eng, id, "author", hash).status, 201u);
  EXPECT_EQ(sign_with(tech, id, "reviewer", hash).status, 201u);
}

TEST(SignedContent, ASignedEntryTakesNoMoreFilesNotEvenThroughTheDatabase) {
  auto org = make_org();
  const std::string eng = login(org.user("engineer")), tech = login(org.user("technician"));
  const std::string id = str(make_entry(eng), "id");
  auto before = analysis("POST", "/api/v1/attachments?eln_entry_id=" + id, tech, "x,y\n1,2\n", {{"Content-Type", "text/csv"}});
  ASSERT_EQ(before.status, 201u) << describe(before);
  ASSERT_EQ(sign_with(eng, id, "author", hash_of(eng, id)).status, 201u);

  auto after = analysis("POST", "/api/v1/attachments?eln_entry_id=" + id, tech, "x,y\n3,4\n", {{"Content-Type", "text/csv"}});
  EXPECT_EQ(after.status, 409u) << describe(after);
  EXPECT_EQ(count("SELECT count(*) FROM attachment_links WHERE eln_entry_id = $1", db::Params(id)), 1);
  EXPECT_EQ(count("SELECT count(*) FROM attachments WHERE organization_id = $1", db::Params(org.id)), 1);

  // The database refuses it too, to anyone who writes the tables directly (the owner included).
  const std::string file = str(before.json(), "id");
  try {
    owner().exec("INSERT INTO attachment_links (organization_id, attachment_id, eln_entry_id) VALUES ($1, $2, $3)",
                 db::Params(org.id, file, id));
    ADD_FAILURE() << "a file was linked to a signed entry";
  } catch (const db::SqlError& e) {
    EXPECT_EQ(e.sqlstate(), "55000") << e.what();
  }
  try {
    owner().exec("DELETE FROM attachment_links WHERE eln_entry_id = $1", db::Params(id));
    ADD_FAILURE() << "a file was unlinked from a signed entry";
  } catch (const db::SqlError& e) {
    EXPECT_EQ(e.sqlstate(), "55000") << e.what();
  }
  EXPECT_EQ(count("SELECT count(*) FROM attachment_links WHERE eln_entry_id = $1", db::Params(id)), 1);
}

// ---- Separation of duties ----

TEST(SeparationOfDuties, NobodyApprovesOrRejectsTheirOwnSop) {
  auto org = make_org();
  const auto other_pi = add_user(org, "pi", "second-pi");
  const std::string pi = login(org.user("pi")), pi2 = login(other_pi), eng = login(org.user("engineer"));
  const std::string admin = login(org.admin());

  // A PI's own draft: neither they nor (as an editor) the admin who changed it may decide on it.
  auto made = lims("POST", "/api/sops", pi, js(json::object{{"code", "SOP-SOD"}, {"title", "Wet etch"}, {"body_markdown", "1. Etch"}}));
  ASSERT_EQ(made.status, 201u) << describe(made);
  const std::string id = str(made.json(), "id");
  EXPECT_EQ(lims("PATCH", "/api/sops/" + id, admin, js(json::object{{"title", "Wet etch, BOE 6:1"}})).status, 200u);
  // Who changed the version is shown, so that the app offers the decision to nobody who may not make it.
  auto shown = lims("GET", "/api/sops/" + id, eng);
  ASSERT_EQ(shown.status, 200u);
  EXPECT_EQ(json::serialize(shown.json().at("editors")), "[\"" + org.admin().id + "\"]");
  auto own = lims("POST", "/api/sops/" + id + "/approve", pi, "{}");
  EXPECT_EQ(own.status, 403u) << describe(own);
  auto edited = lims("POST", "/api/sops/" + id + "/approve", admin, "{}");
  EXPECT_EQ(edited.status, 403u) << describe(edited);
  EXPECT_EQ(lims("POST", "/api/sops/" + id + "/reject", pi, js(json::object{{"comment", "mine"}})).status, 403u);
  EXPECT_EQ(lims("POST", "/api/sops/" + id + "/approve", eng, "{}").status, 403u);  // below PI
  EXPECT_EQ(db_text("SELECT status FROM sops WHERE id = $1", db::Params(id)), "DRAFT");

  // Rejecting takes a comment; another PI rejects with one.
  auto bare = lims("POST", "/api/sops/" + id + "/reject", pi2, "{}");
  EXPECT_EQ(bare.status, 422u) << describe(bare);
  EXPECT_TRUE(names(bare, "comment"));
  auto rejected = lims("POST", "/api/sops/" + id + "/reject", pi2, js(json::object{{"comment", "Name the etch rate."}}));
  ASSERT_EQ(rejected.status, 200u) << describe(rejected);
  EXPECT_EQ(str(rejected.json(), "status"), "REJECTED");
  EXPECT_EQ(str(rejected.json(), "decision_comment"), "Name the etch rate.");
  EXPECT_EQ(str(rejected.json(), "rejected_by"), other_pi.id);
  EXPECT_EQ(db_text("SELECT status || ' ' || rejected_by FROM sops WHERE id = $1", db::Params(id)), "REJECTED " + other_pi.id);
  EXPECT_EQ(events("sop.reject", id), 1);
  // A rejected version is decided; a new version is the way on, and another PI approves it with a comment.
  EXPECT_EQ(lims("POST", "/api/sops/" + id + "/approve", pi2, "{}").status, 409u);
  auto next = lims("POST", "/api/sops/" + id + "/versions", pi, js(json::object{{"body_markdown", "1. Etch at 80 nm/min"}}));
  ASSERT_EQ(next.status, 201u) << describe(next);
  const std::string v2 = str(next.json(), "id");
  auto approved = lims("POST", "/api/sops/" + v2 + "/approve", pi2, js(json::object{{"comment", "Clear now."}}));
  ASSERT_EQ(approved.status, 200u) << describe(approved);
  EXPECT_EQ(str(approved.json(), "status"), "EFFECTIVE");
  EXPECT_EQ(str(approved.json(), "decision_comment"), "Clear now.");
  // Listing by the new state works; another organization's SOP is not there.
  EXPECT_EQ(ids_of(all_items("/api/sops?status=REJECTED", eng)), std::set<std::string>{id});
  auto stranger = make_org();
  EXPECT_EQ(lims("POST", "/api/sops/" + id + "/reject", login(stranger.user("pi")), js(json::object{{"comment", "x"}})).status,
            404u);
}

TEST(SeparationOfDuties, APiManagesOnlyEngineersTechniciansAndViewers) {
  auto org = make_org();
  const std::string pi = login(org.user("pi"));
  auto new_user = [&](const std::string& token, const std::string& role, const std::string& tag) {
    return lims("POST", "/api/users", token,
                js(json::object{{"email", tag + "-" + org.slug + "@example.test"}, {"full_name", "New " + role},
                                {"role", role}, {"password", "a-long-and-fine-password"}}));
  };
  for (const char* role : {"pi", "admin"}) {
    auto r = new_user(pi, role, std::string("pi-made-") + role);
    EXPECT_EQ(r.status, 403u) << role << " " << describe(r);
  }
  EXPECT_EQ(count("SELECT count(*) FROM users WHERE organization_id = $1 AND email LIKE 'pi-made-%'", db::Params(org.id)), 0);
  auto eng = new_user(pi, "engineer", "pi-made-engineer");
  ASSERT_EQ(eng.status, 201u) << describe(eng);
  const std::string eng_id = str(eng.json(), "id");
  // Never raises anyone to pi or admin, never edits or deactivates a PI or an admin (themselves included).
  EXPECT_EQ(lims("PATCH", "/api/users/" + eng_id, pi, js(json::object{{"role", "pi"}})).status, 403u);
  EXPECT_EQ(lims("PATCH", "/api/users/" + eng_id, pi, js(json::object{{"role", "admin"}})).status, 403u);
  EXPECT_EQ(db_text("SELECT role FROM users WHERE id = $1", db::Params(eng_id)), "engineer");
  EXPECT_EQ(lims("PATCH", "/api/users/" + eng_id, pi, js(json::object{{"role", "technician"}})).status, 200u);
  const auto second_pi = add_user(org, "pi", "colleague");
  EXPECT_EQ(lims("PATCH", "/api/users/" + second_pi.id, pi, js(json::object{{"full_name", "Renamed"}})).status, 403u);
  EXPECT_EQ(lims("DELETE", "/api/users/" + second_pi.id, pi).status, 403u);
  EXPECT_EQ(lims("PATCH", "/api/users/" + org.user("pi").id, pi, js(json::object{{"role", "admin"}})).status, 403u);
  EXPECT_EQ(db_text("SELECT role || ' ' || is_active FROM users WHERE id = $1", db::Params(second_pi.id)), "pi true");
  // An admin grants any role.
  EXPECT_EQ(lims("PATCH", "/api/users/" + eng_id, login(org.admin()), js(json::object{{"role", "pi"}})).status, 200u);
}

// ---- Failed passwords: always audited, throttled across servers ----

TEST(FailedPasswords, AreAuditedEvenWhileTheRequestPoolIsExhausted) {
  auto org = make_org();
  const std::string eng = login(org.user("engineer"));
  const std::string entry = str(make_entry(eng), "id");
  Config cfg = Harness::get().config();
  cfg.db_pool_size = 2;
  cfg.db_acquire_timeout = std::chrono::milliseconds(300);
  Runtime rt(cfg, ServeOptions{true, false});
  rt.start();
  const std::string token = str(json::parse(http_request(rt.lims_port(), "POST", "/api/auth/login",
                                                         js(json::object{{"email", org.user("engineer").email},
                                                                         {"password", password}}),
                                                         {{"Content-Type", "application/json"}})
                                                .body),
                                "access_token");

  // Every request connection waits on a lock the test holds.
  db::BlockingConnection holder(Harness::get().owner_dsn());
  holder.exec("BEGIN");
  holder.exec("LOCK TABLE samples IN ACCESS EXCLUSIVE MODE");
  std::vector<std::thread> stuck;
  for (int i = 0; i < 2; ++i)
    stuck.emplace_back([&] { http_request(rt.lims_port(), "GET", "/api/samples", {}, {{"Authorization", "Bearer " + token}}); });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto refused = http_request(rt.lims_port(), "GET", "/api/materials", {}, {{"Authorization", "Bearer " + token}});
  EXPECT_EQ(refused.status, 503u) << "the request pool is exhausted: " << refused.status;

  // A wrong login and a wrong signing password are refused, and recorded before the answer.
  auto bad_login = http_request(rt.lims_port(), "POST", "/api/auth/login",
                                js(json::object{{"email", org.user("viewer").email}, {"password", "wrong-guess-1"}}),
                                {{"Content-Type", "application/json"}});
  EXPECT_EQ(bad_login.status, 401u) << bad_login.body;
  EXPECT_EQ(events_soon("login_failed", org.user("viewer").id, 1), 1);
  auto bad_sign = http_request(rt.lims_port(), "POST", "/api/eln/" + entry + "/sign",
                               js(json::object{{"password", "wrong-guess-2"}, {"meaning", "author"},
                                               {"content_sha256", std::string(64, 'a')}}),
                               {{"Content-Type", "application/json"}, {"Authorization", "Bearer " + token}});
  EXPECT_EQ(bad_sign.status, 401u) << bad_sign.body;
  EXPECT_EQ(events_soon("eln.sign_failed", entry, 1), 1);
  holder.exec("COMMIT");
  for (auto& t : stuck) t.join();
  rt.stop();
}

TEST(FailedPasswords, TheThrottleHoldsAcrossServersAndFoldsNonAsciiCase) {
  auto org = make_org();
  // Ü and ü are one account, as PostgreSQL's lower() (and so login) sees them.
  const std::string tag = "uenal" + org.slug.substr(0, 8);
  auto made = lims("POST", "/api/users", login(org.admin()),
                   js(json::object{{"email", "Ünal." + tag + "@example.test"}, {"full_name", "Ünal"},
                                   {"role", "viewer"}, {"password", "a-long-and-fine-password"}}));
  ASSERT_EQ(made.status, 201u) << describe(made);
  Config cfg = Harness::get().config();
  Runtime second(cfg, ServeOptions{true, false});  // another server behind the same load balancer
  second.start();
  auto attempt = [&](std::uint16_t port, const std::string& email, const std::string& pw) {
    return http_request(port, "POST", "/api/auth/login", js(json::object{{"email", email}, {"password", pw}}),
                        {{"Content-Type", "application/json"}});
  };
  const std::string upper = "ÜNAL." + tag + "@EXAMPLE.TEST", lower = "ünal." + tag + "@example.test";
  const std::uint16_t ports[] = {Harness::get().lims_port(), second.lims_port()};
  // Five failures (the limit), alternating servers and spellings.
  for (int i = 0; i < 5; ++i) {
    auto r = attempt(ports[i % 2], i % 2 ? upper : lower, "wrong-" + std::to_string(i));
    ASSERT_EQ(r.status, 401u) << i << " " << r.body;
  }
  for (auto port : ports) {
    auto locked = attempt(port, lower, "a-long-and-fine-password");
    EXPECT_EQ(locked.status, 429u) << locked.body;
    EXPECT_GT(std::stol(locked.header("retry-after")), 0);
  }
  EXPECT_EQ(events_soon("login_failed", str(made.json(), "id"), 5), 5);
  second.stop();
}

TEST(FailedPasswords, ParallelGuessesCannotPassTheLimit) {
  auto org = make_org();
  const auto& u = org.user("viewer");
  std::vector<std::function<HttpResponse()>> calls;
  for (int i = 0; i < 12; ++i)
    calls.push_back([&, i] {
      return lims("POST", "/api/auth/login", {}, js(json::object{{"email", u.email}, {"password", "guess-" + std::to_string(i)}}));
    });
  int refused = 0, throttled = 0;
  for (const auto& r : concurrently(calls)) {
    if (r.status == 401u) ++refused;
    if (r.status == 429u) ++throttled;
  }
  EXPECT_EQ(refused + throttled, 12);
  EXPECT_LE(refused, 5) << "at most the limit of guesses is checked";
  EXPECT_EQ(events_soon("login_failed", u.id, refused), refused);
}

TEST(FailedPasswords, RightAndWrongPasswordsAtOnceAreEachAnsweredAsThemselves) {
  // Sign-ins and wrong guesses of one account from one address, all at once: the throttle's rows are
  // taken in one order by every attempt, so none of them meets another in a deadlock (a 409).
  auto org = make_org();
  const auto& u = org.user("technician");
  Config cfg = Harness::get().config();
  cfg.login_max_failures_per_account = 1000;  // this test is about the locks, not the limit
  cfg.password_queue = 1000;                  // nor about the queue of password checks
  Runtime rt(cfg, ServeOptions{true, false});
  rt.start();
  std::vector<std::function<HttpResponse()>> calls;
  for (int i = 0; i < 48; ++i)
    calls.push_back([&, i] {
      const std::string pw = i % 3 ? password : "wrong-" + std::to_string(i);
      return http_request(rt.lims_port(), "POST", "/api/auth/login", js(json::object{{"email", u.email}, {"password", pw}}),
                          {{"Content-Type", "application/json"}});
    });
  int signed_in = 0, refused = 0;
  for (const auto& r : concurrently(calls)) {
    if (r.status == 200u) ++signed_in;
    else if (r.status == 401u) ++refused;
    else ADD_FAILURE() << r.status << " " << r.body;
  }
  EXPECT_EQ(signed_in, 32);
  EXPECT_EQ(refused, 16);
  rt.stop();
}

// ---- Bounded answers ----

TEST(BoundedAnswers, AThousandProblemsAnswerAHundredAndACount) {
  json::object body{{"email", "someone@example.test"}, {"password", "x"}};
  for (int i = 0; i < 20000; ++i) body["unknown_" + std::to_string(i)] = i;
  auto r = lims("POST", "/api/auth/login", {}, js(body));
  ASSERT_EQ(r.status, 422u) << r.status;
  const auto answer = r.json();
  EXPECT_EQ(answer.at("errors").as_array().size(), 100u);
  EXPECT_EQ(answer.at("errors_truncated").as_int64(), 19900);
  EXPECT_LT(r.body.size(), 16u * 1024) << "the answer is not much larger than a page";

  // A CSV header of unknown columns: the same bound, and nothing imported.
  auto org = make_org();
  std::string csv = "name,sample_type";
  for (int i = 0; i < 5000; ++i) csv += ",column_" + std::to_string(i);
  csv += "\nWafer,wafer" + std::string(5000, ',') + "\n";
  auto imported = lims("POST", "/api/samples/import", login(org.user("engineer")), csv, {{"Content-Type", "text/csv"}});
  ASSERT_EQ(imported.status, 422u) << describe(imported);
  EXPECT_EQ(imported.json().at("errors").as_array().size(), 100u);
  EXPECT_GT(imported.json().at("errors_truncated").as_int64(), 0);
  EXPECT_LT(imported.body.size(), 32u * 1024);
  EXPECT_EQ(count("SELECT count(*) FROM samples WHERE organization_id = $1", db::Params(org.id)), 0);
}

TEST(BoundedAnswers, MarkdownIsRenderedOnceWhenWrittenAndReadsServeTheStoredHtml) {
  auto org = make_org();
  const std::string eng = login(org.user("engineer"));
  const auto entry = make_entry(eng);
  const std::string id = str(entry, "id");
  EXPECT_EQ(db_text("SELECT render_version::text FROM eln_entries WHERE id = $1", db::Params(id)),
            std::to_string(kit::renderer_version()));
  auto read = lims("GET", "/api/eln/" + id, eng);
  ASSERT_EQ(read.status, 200u);
  EXPECT_EQ(str(read.json(), "body_html"), db_text("SELECT body_html FROM eln_entries WHERE id = $1", db::Params(id)));
  EXPECT_NE(str(read.json(), "body_html").find("<strong>nine</strong>"), std::string::npos);

  // A read answers what is stored: it does not render.
  owner().exec("UPDATE eln_entries SET body_html = '<p>stored, not rendered</p>' WHERE id = $1", db::Params(id));
  EXPECT_EQ(str(lims("GET", "/api/eln/" + id, eng).json(), "body_html"), "<p>stored, not rendered</p>");

  // HTML of another renderer version is rendered again by the upgrade, without touching updated_at.
  const std::string updated = db_text("SELECT updated_at::text FROM eln_entries WHERE id = $1", db::Params(id));
  owner().exec("UPDATE eln_entries SET render_version = 0 WHERE id = $1", db::Params(id));
  EXPECT_GE(kit::render_stale_documents(owner()), 1);
  EXPECT_NE(db_text("SELECT body_html FROM eln_entries WHERE id = $1", db::Params(id)).find("<strong>nine</strong>"),
            std::string::npos);
  EXPECT_EQ(db_text("SELECT updated_at::text FROM eln_entries WHERE id = $1", db::Params(id)), updated);

  // An SOP too; an edit renders the new text.
  auto sop = lims("POST", "/api/sops", eng, js(json::object{{"code", "SOP-MD"}, {"title", "Clean"}, {"body_markdown", "*rinse*"}}));
  ASSERT_EQ(sop.status, 201u);
  const std::string sop_id = str(sop.json(), "id");
  ASSERT_EQ(lims("PATCH", "/api/sops/" + sop_id, eng, js(json::object{{"body_markdown", "**dry**"}})).status, 200u);
  EXPECT_EQ(db_text("SELECT body_html FROM sops WHERE id = $1", db::Params(sop_id)), "<p><strong>dry</strong></p>\n");
  EXPECT_EQ(str(lims("GET", "/api/sops/" + sop_id, eng).json(), "body_html"), "<p><strong>dry</strong></p>\n");
}

// ---- Fair sharing ----

TEST(FairSharing, OneOrganizationsFloodOfLabelSheetsDoesNotSlowAnothersLogin) {
  auto flooding = make_org();
  auto other = make_org();
  // 300 samples to put on each sheet.
  std::string csv = "name,sample_type\n";
  for (int i = 0; i < 300; ++i) csv += "Flood " + std::to_string(i) + ",film\n";
  auto imported = lims("POST", "/api/samples/import", login(flooding.user("engineer")), csv, {{"Content-Type", "text/csv"}});
  ASSERT_EQ(imported.status, 201u) << describe(imported);
  const json::array ids = imported.json().at("ids").as_array();
  const std::string sheet = js(json::object{{"sample_ids", ids}, {"format", "pdf"}});
  const std::string viewer = login(flooding.user("viewer"));

  std::atomic<bool> flood{true};
  std::atomic<int> sheets{0}, busy{0};
  std::vector<std::thread> flooders;
  for (int i = 0; i < 24; ++i)
    flooders.emplace_back([&] {
      while (flood) {
        auto r = lims("POST", "/api/samples/labels", viewer, sheet);
        if (r.status == 200u) ++sheets;
        if (r.status == 503u) {  // its own share is full: it waits a little and sends again
          ++busy;
          std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
      }
    });
  std::this_thread::sleep_for(std::chrono::seconds(2));  // the flood is in full swing
  std::vector<double> took;
  for (int i = 0; i < 3; ++i) {
    const auto started = std::chrono::steady_clock::now();
    auto r = lims("POST", "/api/auth/login", {}, js(json::object{{"email", other.user("engineer").email}, {"password", password}}));
    took.push_back(seconds_since(started));
    EXPECT_EQ(r.status, 200u) << describe(r);
  }
  flood = false;
  for (auto& t : flooders) t.join();
  std::sort(took.begin(), took.end());
  std::cout << "[ figures  ] logins during the flood: " << took[0] << " / " << took[1] << " / " << took[2] << " s; "
            << sheets << " sheets rendered, " << busy << " refused with 503\n";
  EXPECT_LT(took[1], 1.0) << "median login " << took[1] << " s while " << sheets << " sheets were rendered";
  EXPECT_GT(sheets + busy, 0);
  // The flooder's own excess waits for itself or is refused politely: never a 500.
  auto one_sample_twice = lims("POST", "/api/samples/labels", viewer,
                               js(json::object{{"sample_ids", json::array{ids[0], ids[0]}}, {"format", "pdf"}}));
  EXPECT_EQ(one_sample_twice.status, 422u) << describe(one_sample_twice);
  EXPECT_TRUE(names(one_sample_twice, "sample_ids[1]"));
}

// ---- The sequencer's own role ----

TEST(AuditSequencer, TheApplicationRoleCannotReachAcrossOrganizations) {
  db::BlockingConnection app(Harness::get().app_dsn());
  for (const char* call : {"SELECT * FROM app.audit_pending()", "SELECT * FROM app.audit_heads()",
                           "SELECT app.audit_link(gen_random_uuid(), ARRAY[]::uuid[], 1, '', ARRAY[]::text[])"}) {
    try {
      app.exec(call);
      ADD_FAILURE() << call << " ran as the application role";
    } catch (const db::SqlError& e) {
      EXPECT_EQ(e.sqlstate(), "42501") << call << ": " << e.what();
    }
  }
  // The sequencer, as its own role, still links every organization's events.
  auto org = make_org();
  login(org.user("viewer"));
  EXPECT_TRUE(wait_for_audit_links(org.id));
}

// ---- The contract's small promises ----

TEST(Contract, UnknownPathsAre404ProblemsOnBothPortsAndOnlyAppPagesAnswerTheApp) {
  for (const char* path : {"/typo", "/api/typo", "/samples/1/2/3", "/admin/nothing-here"}) {
    auto r = lims("GET", path);
    EXPECT_EQ(r.status, 404u) << path;
    EXPECT_EQ(r.header("content-type"), "application/problem+json") << path;
  }
  for (const char* path : {"/", "/samples", "/samples/0f1e2d3c"}) {
    auto r = lims("GET", path);
    EXPECT_EQ(r.status, 200u) << path;
    EXPECT_EQ(r.header("content-type"), "text/html; charset=utf-8") << path;
  }
  auto analysis_typo = analysis("GET", "/typo");
  EXPECT_EQ(analysis_typo.status, 404u);
  EXPECT_EQ(analysis_typo.header("content-type"), "application/problem+json");
}

TEST(Contract, ARefreshWithNoTokenAtAllIs401) {
  auto r = lims("POST", "/api/auth/refresh", {}, "{}");
  EXPECT_EQ(r.status, 401u) << describe(r);
  EXPECT_EQ(r.header("www-authenticate"), "Bearer");
  EXPECT_EQ(lims("POST", "/api/auth/refresh").status, 401u);
}

TEST(Contract, ActionsThatTakeNoBodySayNoInTheirOpenApi) {
  for (auto* service : {&lims, &analysis}) {
    const auto doc = (*service)("GET", "/openapi.json", {}, {}, {}).json();
    const auto& schemas = doc.at("components").at("schemas").as_object();
    int actions = 0;
    for (const auto& [path, item] : doc.at("paths").as_object()) {
      for (const auto& [method, op] : item.as_object()) {
        const std::string p(path);
        // expire and revoke take an optional reason; these take nothing at all.
        const bool action = p.ends_with("/submit") || p.ends_with("/acknowledge") || p.ends_with("/unblock");
        if (!action || (method != "post" && method != "patch")) continue;
        ++actions;
        if (!op.as_object().contains("requestBody")) continue;  // no body at all: fine
        const auto& body = op.at("requestBody");
        EXPECT_FALSE(body.at("required").as_bool()) << p;
        const std::string ref(body.at("content").at("application/json").at("schema").at("$ref").as_string());
        const auto& schema = schemas.at(ref.substr(ref.rfind('/') + 1)).as_object();
        EXPECT_EQ(schema.at("type").as_string(), "object") << p;
        EXPECT_FALSE(schema.at("additionalProperties").as_bool()) << p;
        EXPECT_TRUE(schema.at("properties").as_object().empty()) << p;
      }
    }
    EXPECT_GT(actions, 0);
  }
}
