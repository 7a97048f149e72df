#include "support/harness.hpp"

#include <filesystem>
#include "support/command.hpp"

#include <thread>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <mutex>
#include <sstream>
#include <stdexcept>

#include "auth/password.hpp"
#include "platform/crypto.hpp"
#include "platform/db/distribute.hpp"
#include "platform/db/migrations.hpp"
#include "seed/seed.hpp"
#include "server/runtime.hpp"

namespace spectra::test {

std::string test_audit_key() { return "integration-test-audit-key-0123456789-abcdefghij"; }

bool wait_for_audit_links(const std::string& organization_id) {
  for (int i = 0; i < 200; ++i) {
    if (owner().exec("SELECT count(*) FROM audit_events WHERE organization_id = $1 AND seq IS NULL",
                     db::Params(organization_id)).get_int(0, 0) == 0)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

struct Harness::Server {
  std::unique_ptr<Runtime> runtime;
};

Harness& Harness::get() {
  static Harness h;
  return h;
}

std::string Harness::owner_dsn() const { return conn_base_ + " dbname=" + database_ + " user=spectra_it_owner"; }
std::string Harness::app_dsn() const { return conn_base_ + " dbname=" + database_ + " user=spectra_app"; }
std::string Harness::super_dsn(const std::string& db) const {
  return conn_base_ + " dbname=" + db + " user=" + superuser_;
}
std::uint16_t Harness::lims_port() const { return server_->runtime->lims_port(); }
std::uint16_t Harness::analysis_port() const { return server_->runtime->analysis_port(); }

void Harness::set_up() {
  const char* dsn = std::getenv("POSTGRES_TEST_DSN");
  if (!dsn || !*dsn) throw std::runtime_error("POSTGRES_TEST_DSN is not set: run the tests with `make test`");
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(dsn, &err);
  if (!opts) throw std::runtime_error(std::string("POSTGRES_TEST_DSN is invalid: ") + (err ? err : ""));
  for (auto* o = opts; o->keyword; ++o) {
    if (!o->val || !*o->val) continue;
    const std::string k = o->keyword;
    if (k == "host" || k == "port" || k == "hostaddr" || k == "password" || k == "sslmode")
      conn_base_ += k + "='" + o->val + "' ";
    if (k == "user") superuser_ = o->val;
  }
  PQconninfoFree(opts);
  if (superuser_.empty()) superuser_ = "postgres";
  database_ = "spectra_it_" + std::to_string(getpid());
  // make test-citus: the script that prepares a database on the Citus clusters (scripts/citus).
  if (const char* c = std::getenv("SPECTRA_TEST_CITUS_SCRIPT"); c && *c) citus_script_ = c;
  {
    db::BlockingConnection su(super_dsn("postgres"));
    auto exists = su.exec("SELECT 1 FROM pg_roles WHERE rolname = 'spectra_it_owner'");
    if (exists.empty()) su.exec("CREATE ROLE spectra_it_owner LOGIN CREATEROLE");
    if (su.exec("SELECT 1 FROM pg_roles WHERE rolname = 'spectra_app'").empty()) su.exec("CREATE ROLE spectra_app LOGIN");
    su.exec("DROP DATABASE IF EXISTS " + database_);
    su.exec("CREATE DATABASE " + database_ + " OWNER spectra_it_owner");
  }
  if (citus()) make_citus_database(database_);
  {
    db::BlockingConnection own(owner_dsn());
    db::Migrator m(own);
    std::ostringstream log;
    if (citus()) {
      // Distributed at revision 5 (the first distributable one): every later migration runs on the
      // distributed schema, as it would in a deployment that scaled out earlier.
      m.upgrade(5, log);
      db::distribute(own, log);
    }
    m.upgrade(m.head(), log);
  }
  config_ = Config{};
  config_.database_url = owner_dsn();
  config_.app_database_user = "spectra_app";
  config_.lims_port = 0;
  config_.analysis_port = 0;
  config_.jwt_secret = "integration-test-secret-0123456789-abcdefghijklmnop";
  config_.audit_key = test_audit_key();
  config_.audit_sequencer_interval = std::chrono::milliseconds(50);
  config_.refresh_token_purge_interval = std::chrono::seconds(1);
  config_.io_threads = 2;
  config_.db_pool_size = 8;
  // Under the sanitizers everything is 5 to 10 times slower than a release build: a 100,000-point batch
  // takes 20 to 30 s here (the broken sensor's, 100 s), a round trip of it a few seconds. The deadline
  // that guards a deployment against a stalled database (15 s + 5 s; the server logs a round trip past a
  // quarter of it) gets three times as long. (Round trips of 48 s and more, once, were foreign-key checks
  // planned while their tables were tiny: db::Tx::replan, and Pool.ReplanMakesForeignKeyChecks….)
  config_.db_statement_timeout = std::chrono::seconds(45);
  config_.login_max_failures_per_address = 100000;  // every test logs in from 127.0.0.1
  config_.notify_interval = std::chrono::milliseconds(200);  // notifications within a second
  config_.cors_origins = {"http://app.test"};       // the web app's origin, as the CORS tests send it
  config_.web_root = std::string(SPECTRA_SOURCE_DIR) + "/tests/data/web";  // a small built app
  config_.log_level = "warn";
  // Attachments go to a folder of this run's own (removed with the test database's folder by the OS).
  config_.data_dir = (std::filesystem::temp_directory_path() / ("spectra-test-data-" + std::to_string(::getpid()))).string();
  spdlog::set_level(std::getenv("TEST_LOG") ? spdlog::level::info : spdlog::level::warn);
  restart_server(config_);
}

void Harness::make_citus_database(const std::string& database) {
  int status = 0;
  const auto out = run_command(citus_script_ + " database " + database + " spectra_it_owner 2>&1", &status);
  if (status != 0) throw std::runtime_error("scripts/citus database " + database + " failed: " + out);
  // The application may not fan out: a statement that reaches more than one shard is an error, so the
  // suite fails on any request that is not routed to one node.
  db::BlockingConnection(super_dsn(database))
      .exec("ALTER ROLE spectra_app IN DATABASE " + database + " SET citus.multi_task_query_log_level = 'error'");
}

void Harness::drop_citus_database(const std::string& database) {
  if (citus()) run_command(citus_script_ + " drop " + database + " 2>&1");
}

std::string Harness::scratch_database(const std::string& suffix, int revision) {
  const std::string name = database_ + "_" + suffix;
  {
    db::BlockingConnection su(super_dsn("postgres"));
    su.exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
    su.exec("CREATE DATABASE " + name + " OWNER spectra_it_owner");
  }
  const std::string dsn = super_dsn(name) + " user=spectra_it_owner";
  if (revision > 0) {
    db::BlockingConnection c(dsn);
    db::Migrator m(c);
    std::ostringstream log;
    m.upgrade(revision, log);
  }
  return dsn;
}

void Harness::drop_database(const std::string& suffix) {
  db::BlockingConnection su(super_dsn("postgres"));
  su.exec("DROP DATABASE IF EXISTS " + database_ + "_" + suffix + " WITH (FORCE)");
  drop_citus_database(database_ + "_" + suffix);
}

void Harness::restart_server(const Config& config) {
  if (server_) server_->runtime->stop();
  server_ = std::make_unique<Server>();
  server_->runtime = std::make_unique<Runtime>(config, ServeOptions{});
  server_->runtime->start();
}

void Harness::stop_server() {
  if (server_) server_->runtime->stop();
  server_.reset();
}

void Harness::tear_down() {
  if (server_) server_->runtime->stop();
  server_.reset();
  try {
    db::BlockingConnection su(super_dsn("postgres"));
    su.exec("DROP DATABASE IF EXISTS " + database_ + " WITH (FORCE)");
    drop_citus_database(database_);
  } catch (...) {
  }
}

std::int64_t count(const std::string& sql, const db::Params& params) { return owner().exec(sql, params).get_int(0, 0); }

db::BlockingConnection& owner() {
  static thread_local std::unique_ptr<db::BlockingConnection> c;
  if (!c) c = std::make_unique<db::BlockingConnection>(Harness::get().owner_dsn());
  return *c;
}

namespace {
constexpr const char* kPassword = "Correct-Horse-42";
const std::string& password_hash() {
  static const std::string h = auth::hash_password(kPassword);
  return h;
}
}  // namespace

TestOrg make_org() {
  TestOrg org;
  const std::string tag = crypto::to_hex(crypto::random_bytes(5));
  org.slug = "org-" + tag;
  org.name = "Test Org " + tag;
  auto& c = owner();
  org.id = c.exec("INSERT INTO organizations (name, slug) VALUES ($1, $2) RETURNING id", db::Params(org.name, org.slug))
               .get(0, 0);
  for (const char* role : {"admin", "pi", "engineer", "technician", "viewer"}) {
    TestUser u;
    u.role = role;
    u.email = std::string(role) + "-" + tag + "@example.test";
    u.password = kPassword;
    u.id = seed::insert_user(c, org.id, u.email, std::string("Test ") + role, role, password_hash());
    org.users[role] = u;
  }
  return org;
}

std::string login(const TestUser& u) {
  boost::json::object body{{"email", u.email}, {"password", u.password}};
  auto r = lims("POST", "/api/auth/login", {}, boost::json::serialize(body));
  if (r.status != 200) throw std::runtime_error("login of " + u.email + " failed: " + std::to_string(r.status) + " " + r.body);
  return std::string(r.json().at("access_token").as_string());
}

static HttpResponse call(std::uint16_t port, const std::string& method, const std::string& path, const std::string& token,
                         const std::string& body, Headers headers) {
  if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + token);
  return http_request(port, method, path, body, headers);
}

HttpResponse lims(const std::string& method, const std::string& path, const std::string& token, const std::string& body,
                  Headers headers) {
  return call(Harness::get().lims_port(), method, path, token, body, std::move(headers));
}

HttpResponse analysis(const std::string& method, const std::string& path, const std::string& token,
                      const std::string& body, Headers headers) {
  return call(Harness::get().analysis_port(), method, path, token, body, std::move(headers));
}

std::string pg_script() {
  const char* s = std::getenv("SPECTRA_TEST_PG_SCRIPT");
  return s ? s : "";
}

}  // namespace spectra::test
