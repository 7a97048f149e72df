// Platform hardening: each test here failed before its fix. Database roles, input that used to reach
// PostgreSQL as a 500, service accounts, refresh families, failed-login timing, purging, and link
// tables that cannot point into another organization.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <sstream>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <mutex>
#include <thread>

#include "auth/tokens.hpp"
#include "kit/api.hpp"
#include "platform/crypto.hpp"
#include "platform/db/pool.hpp"
#include "platform/http/server.hpp"
#include "platform/db/sql_error.hpp"
#include "server/runtime.hpp"
#include "support/api.hpp"
#include "support/harness.hpp"

using namespace spectra;
using namespace spectra::test;
namespace json = boost::json;

namespace {

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
  holder.exec("SELECT 1 FROM users WHERE organization_id = $1 AND id = $2 FOR UPDATE", db::Params(org.id, u.id));
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

TEST(ConnectionLimits, OneClientCannotTakeEveryConnection) {
  Config cfg = Harness::get().config();
  cfg.max_connections = 100;
  cfg.max_connections_per_client = 2;
  Runtime rt(cfg, ServeOptions{true, false});
  rt.start();
  namespace ip = boost::asio::ip;
  boost::asio::io_context io;
  const ip::tcp::endpoint server{ip::make_address("127.0.0.1"), rt.lims_port()};
  auto connect_from = [&](const char* source) {
    auto s = std::make_unique<ip::tcp::socket>(io);
    s->open(ip::tcp::v4());
    s->bind({ip::make_address(source), 0});
    s->connect(server);
    return s;
  };
  auto ask = [](ip::tcp::socket& s) {
    const std::string req = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
    boost::asio::write(s, boost::asio::buffer(req));
    char buf[2048];
    const auto n = s.read_some(boost::asio::buffer(buf));
    return std::string(buf, n);
  };
  // Two idle keep-alive connections from 127.0.0.1 are its share ...
  auto first = connect_from("127.0.0.1");
  auto second = connect_from("127.0.0.1");
  EXPECT_NE(ask(*first).find("200 OK"), std::string::npos);
  EXPECT_NE(ask(*second).find("200 OK"), std::string::npos);
  // ... a third from it is refused, while another client is served.
  auto third = connect_from("127.0.0.1");
  EXPECT_NE(ask(*third).find("503"), std::string::npos);
  auto other = connect_from("127.0.0.2");
  EXPECT_NE(ask(*other).find("200 OK"), std::string::npos);
  // When one of its connections closes, the client may open another.
  first.reset();
  third.reset();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto again = connect_from("127.0.0.1");
  EXPECT_NE(ask(*again).find("200 OK"), std::string::npos);
  rt.stop();
}

TEST(BlockingWork, AFloodOfPasswordChecksIsRefusedWith503NotQueuedForever) {
  auto org = make_org();
  Config cfg = Harness::get().config();
  cfg.password_threads = 1;  // password checks have a pool of their own
  cfg.password_queue = 1;
  cfg.login_max_failures_per_account = 100;  // the throttle counts attempts in flight: not what this test is about
  Runtime rt(cfg, ServeOptions{true, false});
  rt.start();
  const auto& u = org.user("viewer");
  const std::string body = json::serialize(json::object{{"email", u.email}, {"password", u.password}});
  // Enough at once that they arrive faster than one thread checks them, on any machine.
  constexpr int flood = 40;
  std::vector<std::function<HttpResponse()>> calls(flood, [&] {
    return http_request(rt.lims_port(), "POST", "/api/auth/login", body, {{"Content-Type", "application/json"}});
  });
  int ok = 0, busy = 0;
  for (const auto& a : concurrently(calls)) {
    if (a.status == 200u) ++ok;
    else if (a.status == 503u) {
      ++busy;
      EXPECT_EQ(a.header("retry-after"), "1") << a.body;
    } else {
      ADD_FAILURE() << "every answer is a sign-in or a polite 503, not " << a.status << " " << a.body;
    }
  }
  EXPECT_EQ(ok + busy, flood);
  EXPECT_GE(ok, 1);
  EXPECT_GE(busy, 1) << ok << " sign-ins, none refused";
  rt.stop();
}

namespace {
kit::Reply accept_upload(kit::RequestContext&, kit::Upload up) {
  co_return http::Response::json(201, "{\"bytes\":" + std::to_string(up.bytes.size()) + "}");
}
}  // namespace

TEST(Uploads, ALargeBodyIsReadOnlyAfterItsSenderIsAllowed) {
  auto org = make_org();
  Config cfg = Harness::get().config();
  cfg.body_limit = 64 * 1024;
  cfg.upload_limit = 8 << 20;
  // A service of one upload route, served the way the runtime serves the real ones.
  boost::asio::io_context io;
  db::PoolOptions po;
  po.conninfo = Harness::get().app_dsn();
  db::Pool pool(io.get_executor(), po);
  auth::TokenService tokens(cfg);
  kit::Dependencies deps;
  deps.config = cfg;
  deps.pool = &pool;
  deps.tokens = &tokens;
  kit::Api api(deps, "uploads",
               kit::Router("t", {kit::route(http::Method::POST, "/upload", accept_upload,
                                            auth::minimum(auth::Role::technician, "attachments:write"), "Upload", 201)}));
  HttpServer server(io, api.handler(), deps.config, "127.0.0.1", 0);
  server.start();
  std::thread runner([&] { io.run(); });
  auto token_of = [&](const TestUser& u) {
    auth::Principal p;
    p.org_id = org.id;
    p.user_id = u.id;
    p.email = u.email;
    p.role = *auth::parse_role(u.role);
    return tokens.issue_access_token(p).token;
  };
  namespace ip = boost::asio::ip;
  boost::asio::io_context client_io;
  // Announces 5 MB and sends only the head: the answer must not wait for a body it will not read.
  auto head_only = [&](const std::string& auth_header) {
    ip::tcp::socket s(client_io);
    s.connect({ip::make_address("127.0.0.1"), server.port()});
    const std::string req = "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n" +
                            auth_header + "Content-Length: 5000000\r\n\r\n";
    boost::asio::write(s, boost::asio::buffer(req));
    char buf[4096];
    const auto started = std::chrono::steady_clock::now();
    const auto n = s.read_some(boost::asio::buffer(buf));
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
    return std::string(buf, n);
  };
  EXPECT_NE(head_only("").find("401"), std::string::npos);
  EXPECT_NE(head_only("Authorization: Bearer " + token_of(org.user("viewer")) + "\r\n").find("403"), std::string::npos);
  // An allowed sender's body is read, beyond the JSON limit.
  const std::string bytes(2 << 20, 'x');
  auto ok = http_request(server.port(), "POST", "/upload", bytes,
                         {{"Content-Type", "application/octet-stream"},
                          {"Authorization", "Bearer " + token_of(org.user("technician"))}});
  EXPECT_EQ(ok.status, 201u) << ok.body;
  EXPECT_EQ(ok.body, "{\"bytes\":2097152}");
  server.stop_accepting();
  io.stop();
  runner.join();
  pool.close();
}

namespace {
long cpu_ticks(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(f)), {});
  std::istringstream rest(stat.substr(stat.rfind(')') + 2));
  std::string field;
  long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stol(field);
    if (i == 15) stime = std::stol(field);
  }
  return utime + stime;
}
}  // namespace

TEST(FileDescriptors, AServerOutOfDescriptorsNeitherSpinsNorStopsAnswering) {
  int port = 0;
  {
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor probe(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    port = probe.local_endpoint().port();
  }
  auto& h = Harness::get();
  // A hard limit of 96 open files: the server must fit its connections under it.
  const std::string cmd = "ulimit -n 96 && exec env DATABASE_URL='" + h.owner_dsn() + "' DATABASE_APP_URL='" +
                          h.app_dsn() + "' JWT_SECRET='" + h.config().jwt_secret + "' AUDIT_KEY='" + test_audit_key() +
                          "' LIMS_PORT=" + std::to_string(port) + " LOG_LEVEL=error " + SPECTRA_BINARY +
                          " serve --only lims";
  pid_t server = fork();
  if (server == 0) {
    execl("/bin/bash", "bash", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  bool up = false;
  for (int i = 0; i < 100 && !up; ++i) {
    try {
      up = http_request(static_cast<std::uint16_t>(port), "GET", "/health").status == 200;
    } catch (...) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  ASSERT_TRUE(up);
  // Far more idle connections than the server has descriptors for.
  boost::asio::io_context io;
  std::vector<std::unique_ptr<boost::asio::ip::tcp::socket>> held;
  for (int i = 0; i < 150; ++i) {
    auto s = std::make_unique<boost::asio::ip::tcp::socket>(io);
    boost::system::error_code ec;
    s->connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<std::uint16_t>(port)}, ec);
    if (!ec) held.push_back(std::move(s));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const long before = cpu_ticks(server);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const long used = cpu_ticks(server) - before;
  EXPECT_LT(used, 40) << "the server spent " << used << " of 100 ticks in one idle second";
  held.clear();
  // Once the crowd has gone, it answers again.
  bool answers = false;
  for (int i = 0; i < 50 && !answers; ++i) {
    try {
      answers = http_request(static_cast<std::uint16_t>(port), "GET", "/health").status == 200;
    } catch (...) {
    }
    if (!answers) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(answers);
  kill(server, SIGTERM);
  waitpid(server, nullptr, 0);
}

TEST(ApiKeys, UseIsRecordedAtMostOnceAMinuteWithinTheLookup) {
  auto org = make_org();
  auto created = lims("POST", "/api/api-keys", login(org.admin()), R"({"name":"busy","scopes":["users:read"],"role":"pi"})");
  ASSERT_EQ(created.status, 201u);
  const std::string key = str(created.json(), "key"), id = str(created.json(), "id");
  ASSERT_EQ(lims("GET", "/api/users", key).status, 200u);
  const std::string first(owner().exec("SELECT last_used_at::text FROM api_keys WHERE id = $1", db::Params(id)).get(0, 0));
  EXPECT_FALSE(first.empty());
  for (int i = 0; i < 3; ++i) ASSERT_EQ(lims("GET", "/api/users", key).status, 200u);
  EXPECT_EQ(std::string(owner().exec("SELECT last_used_at::text FROM api_keys WHERE id = $1", db::Params(id)).get(0, 0)), first);
}
