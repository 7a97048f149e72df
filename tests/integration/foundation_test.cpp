// The platform: health, request ids, the OpenAPI document, bad HTTP input, migrations, row-level
// security and composite foreign keys.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>
#include <sstream>

#include "platform/db/migrations.hpp"
#include "platform/db/sql_error.hpp"
#include "server/runtime.hpp"
#include "support/harness.hpp"

using namespace spectra;
using namespace spectra::test;
namespace json = boost::json;

TEST(Health, BothServicesReportTheDatabase) {
  auto l = lims("GET", "/health");
  ASSERT_EQ(l.status, 200u) << l.body;
  EXPECT_EQ(l.json().at("status"), "ok");
  EXPECT_EQ(l.json().at("service"), "lims");
  EXPECT_EQ(l.json().at("database"), "ok");
  EXPECT_TRUE(l.json().at("version").is_string());
  auto a = analysis("GET", "/health");
  ASSERT_EQ(a.status, 200u);
  EXPECT_EQ(a.json().at("service"), "analysis");
}

TEST(RequestId, EchoesAValidIdAndMakesOneOtherwise) {
  auto r = lims("GET", "/health", {}, {}, {{"X-Request-Id", "client-abc.123"}});
  EXPECT_EQ(r.header("x-request-id"), "client-abc.123");
  auto bad = lims("GET", "/health", {}, {}, {{"X-Request-Id", "has spaces and $ymbols"}});
  EXPECT_NE(bad.header("x-request-id"), "has spaces and $ymbols");
  EXPECT_EQ(bad.header("x-request-id").size(), 36u);
  auto missing = lims("GET", "/api/nowhere");  // (other paths are pages of the web app)
  EXPECT_EQ(std::string(missing.json().at("request_id").as_string()), missing.header("x-request-id"));
}

TEST(OpenApi, DocumentIsGeneratedFromTheRouteTable) {
  auto r = lims("GET", "/openapi.json");
  ASSERT_EQ(r.status, 200u);
  auto doc = r.json().as_object();
  EXPECT_EQ(doc.at("openapi"), "3.1.0");
  const auto& paths = doc.at("paths").as_object();
  ASSERT_TRUE(paths.contains("/api/auth/login"));
  ASSERT_TRUE(paths.contains("/api/users/{id}"));
  const auto& patch = paths.at("/api/users/{id}").at("patch").as_object();
  EXPECT_EQ(patch.at("x-minimum-role"), "pi");
  EXPECT_EQ(patch.at("parameters").as_array().at(0).at("name"), "id");
  EXPECT_TRUE(paths.at("/api/audit").at("get").as_object().contains("security"));
  auto a = analysis("GET", "/openapi.json");
  ASSERT_EQ(a.status, 200u);
  EXPECT_TRUE(a.json().at("paths").as_object().contains("/health"));
  EXPECT_FALSE(a.json().at("paths").as_object().contains("/api/auth/login"));
}

TEST(BadInput, UnknownPathIs404ProblemJson) {
  auto r = lims("GET", "/api/definitely-not-here");
  EXPECT_EQ(r.status, 404u);
  EXPECT_EQ(r.header("content-type"), "application/problem+json");
  auto p = r.json().as_object();
  EXPECT_EQ(p.at("status"), 404);
  EXPECT_EQ(p.at("title"), "Not Found");
  EXPECT_TRUE(p.at("detail").is_string());
  EXPECT_TRUE(p.at("type").is_string());
}

TEST(BadInput, WrongMethodIs405WithAllow) {
  auto r = lims("DELETE", "/api/auth/login");
  EXPECT_EQ(r.status, 405u);
  EXPECT_EQ(r.header("allow"), "POST");
  EXPECT_EQ(r.header("content-type"), "application/problem+json");
}

TEST(BadInput, WrongContentTypeIs415) {
  auto r = lims("POST", "/api/auth/login", {}, R"({"email":"a@b.c","password":"x"})", {{"Content-Type", "text/plain"}});
  EXPECT_EQ(r.status, 415u);
  EXPECT_EQ(r.json().at("status"), 415);
}

TEST(BadInput, MalformedJsonIs400) {
  auto r = lims("POST", "/api/auth/login", {}, R"({"email": )");
  EXPECT_EQ(r.status, 400u);
  auto arr = lims("POST", "/api/auth/login", {}, R"([1,2])");
  EXPECT_EQ(arr.status, 400u);
}

TEST(BadInput, OversizedBodyIs413AndServerStaysUp) {
  // Four times the limit: the client is still sending when the answer comes, and must still read it.
  std::string big(Harness::get().config().body_limit * 4, 'a');
  auto r = lims("POST", "/api/auth/login", {}, big);
  EXPECT_EQ(r.status, 413u);
  EXPECT_EQ(lims("GET", "/health").status, 200u);
}

TEST(BadInput, MalformedHttpIs400AndServerStaysUp) {
  auto raw = raw_request(Harness::get().lims_port(), "NOT HTTP AT ALL\r\n\r\n");
  EXPECT_NE(raw.find("400"), std::string::npos) << raw;
  auto bad_len = raw_request(Harness::get().lims_port(), "POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n");
  EXPECT_NE(bad_len.find("400"), std::string::npos) << bad_len;
  EXPECT_EQ(lims("GET", "/health").status, 200u);
}

TEST(BadInput, HugeHeadersAre431) {
  const std::string big(20 * 1024, 'x');
  auto raw = raw_request(Harness::get().lims_port(), "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + big + "\r\n\r\n");
  EXPECT_NE(raw.find("HTTP/1.1 431"), std::string::npos) << raw.substr(0, 200);
  EXPECT_NE(raw.find("\"status\":431"), std::string::npos);
}

TEST(BadInput, ExpectContinueIsAnsweredBeforeTheBody) {
  // Headers only: the server must say "100 Continue" before the client sends the body.
  auto raw = raw_request(Harness::get().lims_port(),
                         "POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         "Expect: 100-continue\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
  const auto cont = raw.find("HTTP/1.1 100 Continue");
  const auto final_answer = raw.find("HTTP/1.1 422");
  EXPECT_NE(cont, std::string::npos) << raw;
  EXPECT_NE(final_answer, std::string::npos) << raw;
  EXPECT_LT(cont, final_answer);
}

TEST(BadInput, ConnectionsBeyondTheLimitGet503) {
  Config cfg = Harness::get().config();
  cfg.max_connections = 1;
  Runtime rt(cfg, ServeOptions{true, false});
  rt.start();
  // Hold one connection open (keep-alive), then try a second.
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket held(io);
  held.connect({boost::asio::ip::make_address("127.0.0.1"), rt.lims_port()});
  const std::string req = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
  boost::asio::write(held, boost::asio::buffer(req));
  char buf[512];
  EXPECT_GT(held.read_some(boost::asio::buffer(buf)), 0u);
  auto second = http_request(rt.lims_port(), "GET", "/health");
  EXPECT_EQ(second.status, 503u);
  EXPECT_EQ(second.header("content-type"), "application/problem+json");
  held.close();
  rt.stop();
}

TEST(BadInput, KeepAliveServesSeveralRequestsOnOneConnection) {
  auto raw = raw_request(Harness::get().lims_port(),
                         "GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  std::size_t count = 0;
  for (auto pos = raw.find("HTTP/1.1 200"); pos != std::string::npos; pos = raw.find("HTTP/1.1 200", pos + 1)) ++count;
  EXPECT_EQ(count, 2u) << raw;
}

namespace {

// A description of the schema that changes when any table, column, index, constraint, policy,
// trigger or function changes.
std::string schema_snapshot(db::BlockingConnection& c) {
  std::ostringstream out;
  auto add = [&](const char* sql) {
    auto r = c.exec(sql);
    for (int i = 0; i < r.rows(); ++i) {
      for (int j = 0; j < r.columns(); ++j) out << r.get(i, j) << '|';
      out << '\n';
    }
  };
  add("SELECT table_name, column_name, data_type, is_nullable, coalesce(column_default, '') FROM information_schema.columns"
      " WHERE table_schema IN ('public', 'app') ORDER BY 1, 2");
  add("SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1, 2");
  add("SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint"
      " WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2");
  add("SELECT tablename, policyname, cmd, qual, with_check FROM pg_policies ORDER BY 1, 2");
  add("SELECT tgrelid::regclass::text, tgname FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1, 2");
  add("SELECT p.proname, pg_get_function_identity_arguments(p.oid), md5(p.prosrc) FROM pg_proc p"
      " WHERE p.pronamespace = 'app'::regnamespace ORDER BY 1, 2");
  add("SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class WHERE relnamespace = 'public'::regnamespace"
      " AND relkind = 'r' ORDER BY 1");
  return out.str();
}

}  // namespace

TEST(Migrations, UpDownUpLeavesTheSameSchema) {
  auto& h = Harness::get();
  const std::string dsn = h.scratch_database("mig");
  {
    db::BlockingConnection c(dsn);
    db::Migrator m(c);
    std::ostringstream log;
    EXPECT_EQ(m.current(), 0);
    m.upgrade(m.head(), log);
    EXPECT_EQ(m.current(), m.head());
    const auto first = schema_snapshot(c);
    EXPECT_NE(first.find("audit_events"), std::string::npos);
    m.downgrade(0, log);
    EXPECT_EQ(m.current(), 0);
    EXPECT_TRUE(c.exec("SELECT 1 FROM pg_tables WHERE schemaname = 'public' AND tablename = 'samples'").empty());
    m.upgrade(m.head(), log);
    EXPECT_EQ(schema_snapshot(c), first);
    // Relative steps, as Alembic takes them.
    m.downgrade(m.resolve("-1"), log);
    EXPECT_EQ(m.current(), m.head() - 1);
    m.upgrade(m.resolve("+1"), log);
    EXPECT_EQ(m.current(), m.head());
  }
  h.drop_database("mig");
}

TEST(Migrations, AnEditedAppliedMigrationIsRefused) {
  auto& h = Harness::get();
  {
    db::BlockingConnection c(h.scratch_database("edited", db::Migrator(owner()).head()));
    db::Migrator m(c);
    std::ostringstream log;
    EXPECT_NO_THROW(db::require_schema_at_head(c));
    // Pretend the file of migration 1 changed after it was applied: the recorded checksum differs.
    c.exec("UPDATE spectra_schema_migrations SET checksum = 'deadbeef' WHERE version = 1");
    try {
      m.upgrade(m.head(), log);
      ADD_FAILURE() << "an edited migration was accepted";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("was edited"), std::string::npos) << e.what();
    }
    EXPECT_THROW(db::require_schema_at_head(c), std::runtime_error);
  }
  h.drop_database("edited");
}

TEST(Migrations, ServerRefusesASchemaThatIsBehind) {
  auto& h = Harness::get();
  const std::string dsn = h.scratch_database("behind", 1);
  Config cfg = h.config();
  cfg.database_url = dsn;
  Runtime rt(cfg, ServeOptions{});
  try {
    rt.start();
    ADD_FAILURE() << "the server served a database whose schema is behind";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("spectra db upgrade"), std::string::npos) << e.what();
  }
  h.drop_database("behind");
}

TEST(Schema, EveryTableHasForcedRowLevelSecurity) {
  auto r = owner().exec(
      "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'"
      " AND relname <> 'spectra_schema_migrations' AND NOT (relrowsecurity AND relforcerowsecurity)");
  std::string missing;
  for (int i = 0; i < r.rows(); ++i) missing += std::string(r.get(i, 0)) + " ";
  EXPECT_TRUE(r.empty()) << "tables without forced RLS: " << missing;
  auto count = owner().exec("SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'");
  EXPECT_GE(count.get_int(0, 0), 27);  // every table of the data model, plus the migrations table
}

TEST(Schema, AppRoleCannotAlterTheAuditTrail) {
  auto org = make_org();
  db::BlockingConnection app(Harness::get().app_dsn());
  app.exec("BEGIN");
  app.exec("SELECT app.begin_request($1, NULL, NULL)", db::Params(org.id));
  app.exec("INSERT INTO audit_events (organization_id, action) VALUES ($1, 'test.event')", db::Params(org.id));
  try {
    app.exec("UPDATE audit_events SET action = 'forged' WHERE organization_id = $1", db::Params(org.id));
    ADD_FAILURE() << "the application role updated an audit event";
  } catch (const db::SqlError& e) {
    EXPECT_EQ(e.sqlstate(), "42501");
  }
  app.exec("ROLLBACK");
  // Nor can it write an event already linked, or backdated: those columns are the sequencer's and
  // the clock's.
  for (const char* column : {"seq", "hash", "prev_hash", "created_at"}) {
    SCOPED_TRACE(column);
    app.exec("BEGIN");
    app.exec("SELECT app.begin_request($1, NULL, NULL)", db::Params(org.id));
    const std::string value = std::string(column) == "seq" ? "1" : std::string(column) == "created_at" ? "'2000-01-01'" : "'\\x00'";
    try {
      app.exec("INSERT INTO audit_events (organization_id, action, " + std::string(column) + ") VALUES ($1, 'test.event', " +
                   value + ")",
               db::Params(org.id));
      ADD_FAILURE() << "the application role set " << column;
    } catch (const db::SqlError& e) {
      EXPECT_EQ(e.sqlstate(), "42501");
    }
    app.exec("ROLLBACK");
  }
  // What it may write arrives unlinked, stamped now.
  app.exec("BEGIN");
  app.exec("SELECT app.begin_request($1, NULL, NULL)", db::Params(org.id));
  const std::string id(
      app.exec("INSERT INTO audit_events (organization_id, action) VALUES ($1, 'test.event') RETURNING id", db::Params(org.id))
          .get(0, 0));
  // (On Citus the shard's own transaction stamps it, a moment after the coordinator's now().)
  auto r = app.exec("SELECT seq IS NULL AND hash IS NULL AND prev_hash IS NULL,"
                    " abs(extract(epoch FROM created_at - now())) < 60 FROM audit_events"
                    " WHERE organization_id = $1 AND id = $2",
                    db::Params(org.id, id));
  EXPECT_TRUE(r.get_bool(0, 0));
  EXPECT_TRUE(r.get_bool(0, 1));
  app.exec("ROLLBACK");
}

TEST(RowLevelSecurity, AnUnscopedQueryAsTheAppRoleSeesOnlyItsOrganization) {
  auto a = make_org();
  auto b = make_org();
  db::BlockingConnection app(Harness::get().app_dsn());
  // On Citus the application role may not fan out (make test-citus): allowed here, to show that every
  // shard applies the policy too.
  if (Harness::get().citus()) app.exec("SET citus.multi_task_query_log_level = 'off'");
  // No tenant context at all: nothing.
  EXPECT_EQ(app.exec("SELECT count(*) FROM users").get_int(0, 0), 0);
  app.exec("BEGIN");
  app.exec("SELECT app.begin_request($1, NULL, NULL)", db::Params(a.id));
  // A query that forgot its organization filter still sees only org A.
  auto r = app.exec("SELECT DISTINCT organization_id FROM users");
  ASSERT_EQ(r.rows(), 1);
  EXPECT_EQ(r.get(0, 0), a.id);
  EXPECT_TRUE(app.exec("SELECT 1 FROM users WHERE id = $1", db::Params(b.admin().id)).empty());
  EXPECT_EQ(app.exec("UPDATE users SET full_name = 'x' WHERE id = $1", db::Params(b.admin().id)).affected_rows(), 0);
  app.exec("ROLLBACK");
  // And after the transaction the context is gone again.
  EXPECT_EQ(app.exec("SELECT count(*) FROM users").get_int(0, 0), 0);
  EXPECT_EQ(owner().exec("SELECT full_name FROM users WHERE id = $1", db::Params(b.admin().id)).get(0, 0), "Test admin");
}

TEST(RowLevelSecurity, CompositeForeignKeyRefusesACrossOrganizationReference) {
  auto a = make_org();
  auto b = make_org();
  auto& c = owner();
  const std::string material_b =
      std::string(c.exec("INSERT INTO materials (organization_id, name) VALUES ($1, 'B silicon') RETURNING id",
                         db::Params(b.id)).get(0, 0));
  try {
    c.exec("INSERT INTO samples (organization_id, name, sample_type, material_id) VALUES ($1, 'x', 'wafer', $2)",
           db::Params(a.id, material_b));
    ADD_FAILURE() << "a sample of org A referenced org B's material";
  } catch (const db::SqlError& e) {
    EXPECT_EQ(e.sqlstate(), "23503");
  }
  EXPECT_EQ(c.exec("SELECT count(*) FROM samples WHERE organization_id = $1", db::Params(a.id)).get_int(0, 0), 0);
}
