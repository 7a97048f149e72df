// Scale-out: the schema follows the distribution convention on any PostgreSQL; under `make test-citus`
// the test database is distributed, and these tests check that every statement the server prepares is
// routed to one shard, that row-level security holds on the shards, and that migrations and new
// tables after distribution are placed.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <regex>
#include <sstream>

#include "platform/crypto.hpp"
#include "platform/db/distribute.hpp"
#include "platform/db/migrations.hpp"
#include "platform/db/result.hpp"
#include "platform/db/sql_error.hpp"
#include "seed/seed.hpp"
#include "support/harness.hpp"

using namespace spectra;
using namespace spectra::test;
namespace json = boost::json;

namespace {

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

// Statements that run before a tenant is known (their own parameters, through SECURITY DEFINER
// lookups), and the transaction prologue itself.
bool tenant_statement(const std::string& name) {
  static const char* not_tenant[] = {"auth_use_api_key",           "auth_find_external_user", "identity_find_login",
                                     "identity_find_refresh",      "identity_find_legacy_refresh",
                                     "platform_begin_request",     "platform_ping"};
  for (const char* n : not_tenant)
    if (name == n) return false;
  return name.rfind("test_", 0) != 0;
}

// A literal of a parameter's type for EXPLAIN EXECUTE.
std::string sample_value(const std::string& type, const std::string& org) {
  if (type == "uuid") return "'" + crypto::uuid_v4() + "'::uuid";
  if (type == "uuid[]") return "'{}'::uuid[]";
  if (type == "text[]") return "'{}'::text[]";
  if (type == "text" || type == "character varying" || type == "unknown") return "'x'";
  if (type == "integer" || type == "bigint" || type == "smallint" || type == "numeric") return "1";
  if (type == "double precision" || type == "real") return "1.5";
  if (type == "boolean") return "true";
  if (type == "timestamp with time zone") return "now()";
  if (type == "date") return "current_date";
  if (type == "jsonb" || type == "json") return "'{}'::jsonb";
  if (type == "bytea") return "'\\x00'::bytea";
  (void)org;
  return "NULL";
}

}  // namespace

TEST(ScaleOut, TheSchemaFollowsTheDistributionConvention) {
  // Every unique key of a tenant table includes organization_id, no identity columns, every table is
  // a tenant or a directory table: what Citus needs to distribute it, checked on plain PostgreSQL too.
  EXPECT_EQ(joined(db::schema_rule_violations(owner())), "");
  if (Harness::get().citus()) {
    EXPECT_EQ(joined(db::distribution_problems(owner())), "");
  }
}

TEST(ScaleOut, TheRuleCheckNamesWhatBreaksDistribution) {
  // A scratch database with a table that breaks each rule: the check names the table and the rule.
  const std::string dsn = Harness::get().scratch_database("rules", 6);
  {
    db::BlockingConnection c(dsn);
    c.exec("CREATE TABLE gadgets (organization_id uuid NOT NULL REFERENCES organizations (id),"
           " id uuid NOT NULL DEFAULT gen_random_uuid(), code text NOT NULL,"
           " n bigint GENERATED ALWAYS AS IDENTITY, PRIMARY KEY (organization_id, id), UNIQUE (code))");
    c.exec("CREATE TABLE loose (id uuid PRIMARY KEY)");
    const std::string v = joined(db::schema_rule_violations(c));
    EXPECT_NE(v.find("gadgets: unique key gadgets_code_key leaves out organization_id"), std::string::npos) << v;
    EXPECT_NE(v.find("gadgets: column n is an identity"), std::string::npos) << v;
    EXPECT_NE(v.find("loose: neither a tenant table"), std::string::npos) << v;
    // Without Citus, distribute refuses and says why, changing nothing.
    try {
      std::ostringstream out;
      db::distribute(c, out);
      ADD_FAILURE() << "distribute ran without Citus";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("Citus is not installed"), std::string::npos) << e.what();
    }
  }
  Harness::get().drop_database("rules");
}

TEST(ScaleOut, RowSecurityHoldsWhereTheRowsAre) {
  // The tenant context reaches the node that holds the rows (a worker's shard on Citus): another
  // organization's rows are invisible and cannot be written, even by a statement that names them.
  auto a = make_org();
  auto b = make_org();
  db::BlockingConnection app(Harness::get().app_dsn());
  app.exec("BEGIN");
  app.exec("SELECT app.begin_request($1, NULL, NULL)", db::Params(a.id));
  EXPECT_EQ(app.exec("SELECT count(*) FROM users WHERE organization_id = $1", db::Params(a.id)).get_int(0, 0), 5);
  EXPECT_EQ(app.exec("SELECT count(*) FROM users WHERE organization_id = $1", db::Params(b.id)).get_int(0, 0), 0);
  try {
    app.exec("INSERT INTO materials (organization_id, name) VALUES ($1, 'smuggled')", db::Params(b.id));
    ADD_FAILURE() << "wrote into another organization";
  } catch (const db::SqlError& e) {
    EXPECT_EQ(e.sqlstate(), "42501") << e.what();
  }
  app.exec("ROLLBACK");
  EXPECT_EQ(owner().exec("SELECT count(*) FROM materials WHERE organization_id = $1", db::Params(b.id)).get_int(0, 0), 0);
}

TEST(ScaleOut, TheUpdatedAtTriggerRunsWhereTheRowsAre) {
  auto org = make_org();
  const auto& viewer = org.user("viewer");
  const std::string before(owner().exec("SELECT updated_at::text FROM users WHERE organization_id = $1 AND id = $2",
                                        db::Params(org.id, viewer.id)).get(0, 0));
  auto r = lims("PATCH", "/api/users/" + viewer.id, login(org.admin()), R"({"full_name":"Renamed Viewer"})");
  ASSERT_EQ(r.status, 200u) << r.body;
  auto row = owner().exec("SELECT full_name, updated_at > $3::timestamptz FROM users WHERE organization_id = $1 AND id = $2",
                          db::Params(org.id, viewer.id, before));
  EXPECT_EQ(row.get(0, 0), "Renamed Viewer");
  EXPECT_TRUE(row.get_bool(0, 1));
}

TEST(ScaleOut, ARefreshTokenIssuedBeforeItNamedItsOrganizationStillWorks) {
  // Tokens issued before revision 6 are the secret alone; they are found by their hash and rotated
  // into the new form, which names the organization.
  auto org = make_org();
  const auto& eng = org.user("engineer");
  const std::string legacy = crypto::base64url_encode(crypto::random_bytes(32));
  const std::string family = crypto::uuid_v4();
  owner().exec("INSERT INTO refresh_token_families (organization_id, id, user_id) VALUES ($1, $2, $3)",
               db::Params(org.id, family, eng.id));
  db::Params p(org.id, eng.id, family);
  p.add_bytea(crypto::sha256(legacy));
  owner().exec("INSERT INTO refresh_tokens (organization_id, user_id, family_id, token_hash, expires_at)"
               " VALUES ($1, $2, $3, $4, now() + interval '1 day')",
               p);
  auto r = lims("POST", "/api/auth/refresh", {}, json::serialize(json::object{{"refresh_token", legacy}}));
  ASSERT_EQ(r.status, 200u) << r.body;
  const std::string next(r.json().at("refresh_token").as_string());
  EXPECT_EQ(next.substr(0, next.find('.')), org.id);
  // The new one works the new way, and the old one is spent.
  auto again = lims("POST", "/api/auth/refresh", {}, json::serialize(json::object{{"refresh_token", next}}));
  EXPECT_EQ(again.status, 200u) << again.body;
  // A token naming another organization is not found there.
  const std::string other = make_org().id + next.substr(next.find('.'));
  EXPECT_EQ(lims("POST", "/api/auth/refresh", {}, json::serialize(json::object{{"refresh_token", other}})).status, 401u);
}

TEST(ScaleOut, EveryStatementIsRoutedToOneShard) {
  if (!Harness::get().citus()) GTEST_SKIP() << "runs under make test-citus";
  // Each statement the server prepares, with its organization as $1 and sample values for the rest,
  // planned by the coordinator as the application role: one task (a router plan), never a fan-out.
  auto org = make_org();
  db::BlockingConnection app(Harness::get().app_dsn());
  static const std::regex tasks(R"(Task Count: (\d+))");
  int checked = 0;
  for (const auto& [name, sql] : db::registered_queries()) {
    if (!tenant_statement(name)) continue;
    app.exec("BEGIN");
    app.exec("SELECT app.begin_request($1, NULL, NULL)", db::Params(org.id));
    app.exec("PREPARE probe AS " + sql);
    auto types = app.exec("SELECT unnest(parameter_types)::regtype::text FROM pg_prepared_statements WHERE name = 'probe'");
    std::string args;
    for (int i = 0; i < types.rows(); ++i)
      args += std::string(i ? ", " : "") + (i == 0 ? "'" + org.id + "'::uuid" : sample_value(std::string(types.get(i, 0)), org.id));
    auto plan = app.exec("EXPLAIN EXECUTE probe" + (args.empty() ? std::string() : "(" + args + ")"));
    std::string text;
    for (int i = 0; i < plan.rows(); ++i) text += std::string(plan.get(i, 0)) + "\n";
    app.exec("ROLLBACK");
    app.exec("DEALLOCATE probe");
    EXPECT_GT(types.rows(), 0) << name << " does not name its organization as $1";
    for (auto it = std::sregex_iterator(text.begin(), text.end(), tasks); it != std::sregex_iterator(); ++it)
      EXPECT_EQ((*it)[1].str(), "1") << name << " fans out:\n" << sql << "\n" << text;
    ++checked;
  }
  EXPECT_GT(checked, 20);
}

TEST(ScaleOut, MigrationsAfterDistributionArePlaced) {
  if (!Harness::get().citus()) GTEST_SKIP() << "runs under make test-citus";
  // The test database was distributed at revision 5 and upgraded since: 0006's unique key holds on the
  // shards.
  auto org = make_org();
  auto& c = owner();
  const std::string series(c.exec("INSERT INTO spc_series (organization_id, name, metric, chart_type)"
                                    " VALUES ($1, 'thickness', 'nm', 'I-MR') RETURNING id",
                                    db::Params(org.id)).get(0, 0));
  c.exec("INSERT INTO spc_datapoints (organization_id, series_id, seq, value) VALUES ($1, $2, 1, 10.0)",
         db::Params(org.id, series));
  try {
    c.exec("INSERT INTO spc_datapoints (organization_id, series_id, seq, value) VALUES ($1, $2, 1, 11.0)",
           db::Params(org.id, series));
    ADD_FAILURE() << "a second point with the same seq";
  } catch (const db::SqlError& e) {
    EXPECT_EQ(e.sqlstate(), "23505") << e.what();
  }
  // A later migration's new tenant table is distributed by the upgrade that creates it.
  const std::string name = Harness::get().database() + "_later";
  Harness::get().make_citus_database(name);
  {
    db::BlockingConnection own(Harness::get().super_dsn(name) + " user=spectra_it_owner");
    std::vector<db::MigrationSource> sources = db::embedded_migrations();
    const int head = db::Migrator(own).head();
    sources.push_back({head + 1, "probe",
                       // As docs/adding-a-resource.md says: the table, then its placement, then its keys.
                       "CREATE TABLE probes (organization_id uuid NOT NULL, id uuid NOT NULL DEFAULT gen_random_uuid(),"
                       " user_id uuid, updated_at timestamptz NOT NULL DEFAULT now(),"
                       " CONSTRAINT probes_pkey PRIMARY KEY (organization_id, id));"
                       "SELECT app.distribute_tenant_table('probes');"
                       "SELECT app.apply_tenant_rules('probes', 'SELECT, INSERT, UPDATE');"
                       "ALTER TABLE probes ADD FOREIGN KEY (organization_id) REFERENCES organizations (id);"
                       "ALTER TABLE probes ADD FOREIGN KEY (organization_id, user_id) REFERENCES users (organization_id, id);"
                       // and one the upgrade places by itself (no keys to other tables)
                       "CREATE TABLE probe_notes (organization_id uuid NOT NULL, id uuid NOT NULL,"
                       " CONSTRAINT probe_notes_pkey PRIMARY KEY (organization_id, id));",
                       "DROP TABLE probe_notes; DROP TABLE probes;"});
    db::Migrator m(own, sources);
    std::ostringstream log;
    m.upgrade(head, log);
    // A deployment that moves to Citus has data: the rows move to the shards (row-level security
    // is forced on these tables, which Citus's copy must get past) and stay readable.
    seed::demo(own, log);
    const auto users_before = own.exec("SELECT count(*) FROM users").get_int(0, 0);
    db::distribute(own, log);
    EXPECT_EQ(own.exec("SELECT count(*) FROM users").get_int(0, 0), users_before);
    EXPECT_EQ(own.exec("SELECT count(*) FROM pg_class WHERE relname IN ('users', 'samples') AND relforcerowsecurity")
                  .get_int(0, 0), 2);
    m.upgrade(head + 1, log);
    EXPECT_EQ(joined(db::distribution_problems(own)), "") << log.str();
    EXPECT_NE(log.str().find("probe_notes: distributed by organization_id"), std::string::npos) << log.str();
    EXPECT_EQ(own.exec("SELECT count(*) FROM citus_tables WHERE table_name::text IN ('probes', 'probe_notes')"
                       " AND distribution_column = 'organization_id'").get_int(0, 0), 2);
    // The tenant rules reached the shards: the application role sees only its organization's probes.
    const std::string org(own.exec("SELECT id FROM organizations ORDER BY name LIMIT 1").get(0, 0));
    auto orgs = own.exec("SELECT id FROM organizations");
    for (int i = 0; i < orgs.rows(); ++i)
      own.exec("INSERT INTO probes (organization_id) VALUES ($1)", db::Params(std::string(orgs.get(i, 0))));
    db::BlockingConnection app(Harness::get().super_dsn(name) + " user=spectra_app");
    app.exec("BEGIN");
    app.exec("SELECT app.begin_request($1, NULL, NULL)", db::Params(org));
    EXPECT_EQ(app.exec("SELECT count(*) FROM probes WHERE organization_id = $1", db::Params(org)).get_int(0, 0), 1);
    app.exec("COMMIT");
    // Idempotent: a second run places nothing.
    std::ostringstream again;
    db::distribute(own, again);
    EXPECT_NE(again.str().find("nothing to do"), std::string::npos) << again.str();
  }
  Harness::get().drop_database("later");
}

TEST(ScaleOut, AKeyThatExpiredBeforeItWasMadeCanStillBeRevoked) {
  // Revision 6 refuses new keys that expire before they are made; a key that already did (set by hand
  // before the upgrade) is not re-validated and can still be revoked.
  const std::string dsn = Harness::get().scratch_database("expired_key", 5);
  {
    db::BlockingConnection c(dsn);
    const std::string org(c.exec("INSERT INTO organizations (name, slug) VALUES ('Old', 'old') RETURNING id").get(0, 0));
    const std::string user = crypto::uuid_v4(), key = crypto::uuid_v4();
    c.exec("INSERT INTO directory.user_emails (organization_id, user_id, email) VALUES ($1, $2, 'svc@old.test')",
           db::Params(org, user));
    c.exec("INSERT INTO users (organization_id, id, email, full_name, role, is_service_account)"
           " VALUES ($1, $2, 'svc@old.test', 'svc', 'viewer', true)", db::Params(org, user));
    c.exec("INSERT INTO directory.api_key_prefixes (organization_id, api_key_id, prefix) VALUES ($1, $2, 'oldkey')",
           db::Params(org, key));
    c.exec("INSERT INTO api_keys (organization_id, id, user_id, name, prefix, key_hash, expires_at)"
           " VALUES ($1, $2, $3, 'old', 'oldkey', '\\x00', now() - interval '1 day')", db::Params(org, key, user));
    db::Migrator m(c);
    std::ostringstream log;
    m.upgrade(m.head(), log);
    EXPECT_EQ(c.exec("UPDATE api_keys SET revoked_at = now() WHERE organization_id = $1 AND id = $2",
                     db::Params(org, key)).affected_rows(), 1);
    // A new key like it is refused.
    try {
      c.exec("INSERT INTO directory.api_key_prefixes (organization_id, api_key_id, prefix) VALUES ($1, $2, 'newkey')",
             db::Params(org, crypto::uuid_v4()));
      c.exec("INSERT INTO api_keys (organization_id, user_id, name, prefix, key_hash, expires_at)"
             " VALUES ($1, $2, 'new', 'newkey', '\\x00', now() - interval '1 day')", db::Params(org, user));
      ADD_FAILURE() << "a key that expired before it was made";
    } catch (const db::SqlError& e) {
      EXPECT_EQ(e.sqlstate(), "23514") << e.what();
    }
  }
  Harness::get().drop_database("expired_key");
}
