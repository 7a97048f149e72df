#pragma once
// The integration tests' world: a fresh database in the test cluster (POSTGRES_TEST_DSN), migrated by a
// non-superuser owner role, and the real server started in-process on ephemeral ports. Each test makes
// its own organization, so tests never depend on each other's data.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "platform/config.hpp"
#include "platform/db/blocking_connection.hpp"
#include "support/http_client.hpp"

namespace spectra::test {

struct TestUser {
  std::string id, email, password, role;
};

struct TestOrg {
  std::string id, slug, name;
  std::map<std::string, TestUser> users;  // by role: admin, pi, engineer, technician, viewer
  const TestUser& admin() const { return users.at("admin"); }
  const TestUser& user(const std::string& role) const { return users.at(role); }
};

class Harness {
 public:
  static Harness& get();
  void set_up();
  void tear_down();

  // Connection strings for the test database.
  std::string owner_dsn() const;  // the migrating owner (non-superuser)
  std::string app_dsn() const;    // the application role
  std::string super_dsn(const std::string& database) const;
  std::string database() const { return database_; }
  // A new database owned by the test owner role (dropped first if left over), migrated up to
  // `revision` (0: empty); its DSN.
  std::string scratch_database(const std::string& suffix, int revision = 0);
  void drop_database(const std::string& suffix);
  const Config& config() const { return config_; }
  std::uint16_t lims_port() const;
  std::uint16_t analysis_port() const;
  // Restarts the in-process server (used after configuration changes in a test).
  void restart_server(const Config& config);
  // Stops the shared server (restart_server starts it again).
  void stop_server();
  // Whether the test database is distributed on Citus (make test-citus).
  bool citus() const { return !citus_script_.empty(); }
  // `database` on every Citus node, a Citus database with the workers added (scripts/citus database),
  // where the application role may not fan out; and dropped again on every node.
  void make_citus_database(const std::string& database);
  void drop_citus_database(const std::string& database);

 private:
  std::string conn_base_;  // "host=... port=..."
  std::string superuser_;
  std::string database_;
  std::string citus_script_;
  Config config_;
  struct Server;
  std::unique_ptr<Server> server_;
};

// The audit key the test server links with (also what `spectra audit verify` needs in AUDIT_KEY).
std::string test_audit_key();
// Waits (up to 10 s) until the sequencer has linked every audit event of the organization; false if not.
bool wait_for_audit_links(const std::string& organization_id);

// One owner connection for fixtures and checks.
db::BlockingConnection& owner();
// The number an owner query answers (SELECT count(*) ...).
std::int64_t count(const std::string& sql, const db::Params& params = db::Params());
// A new organization with one user of each role (password "Correct-Horse-42").
TestOrg make_org();
std::string login(const TestUser& u);

HttpResponse lims(const std::string& method, const std::string& path, const std::string& token = {},
                  const std::string& body = {}, Headers headers = {});
HttpResponse analysis(const std::string& method, const std::string& path, const std::string& token = {},
                      const std::string& body = {}, Headers headers = {});

// The test cluster's control script, when the tests started the cluster themselves (empty otherwise).
std::string pg_script();

}  // namespace spectra::test
