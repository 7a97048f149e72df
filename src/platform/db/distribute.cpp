#include "platform/db/distribute.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>

#include "platform/db/blocking_connection.hpp"
#include "platform/db/sql_error.hpp"

namespace spectra::db {
namespace {

constexpr const char* tenant_column = "organization_id";
constexpr const char* anchor = "users";  // the colocation group every tenant table joins

// "Table c has an organization_id column", for the catalog queries below.
const std::string has_tenant_column =
    "EXISTS (SELECT 1 FROM pg_attribute t WHERE t.attrelid = c.oid AND t.attname = 'organization_id'"
    " AND NOT t.attisdropped)";
// Tables of `public` with an organization_id column (regclass text: unqualified in public).
const std::string tenant_tables_sql =
    "SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND " + has_tenant_column +
    " ORDER BY 1";
// organizations and the directory.
const char* reference_tables_sql =
    "SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition"
    "   AND ((n.nspname = 'public' AND c.relname = 'organizations') OR n.nspname = 'directory')"
    " ORDER BY 1";

// Functions that read every organization by design, off the request path: the audit sequencer's queue,
// the refresh-token purge, and tokens issued before revision 6 (which do not name their organization).
// They are allowed to fan out even where the application role may not (citus.multi_task_query_log_level,
// which the test lane sets to error).
constexpr const char* fan_out_functions[] = {"app.audit_pending()", "app.purge_expired_refresh_tokens()",
                                             "app.find_refresh_token(bytea)", "app.notification_sends_due()",
                                             "app.notification_queues()"};

std::vector<std::string> column(const Result& r) {
  std::vector<std::string> out;
  for (int i = 0; i < r.rows(); ++i) out.emplace_back(r.get(i, 0));
  return out;
}

}  // namespace

bool citus_installed(BlockingConnection& conn) {
  return !conn.exec("SELECT 1 FROM pg_extension WHERE extname = 'citus'").empty();
}

bool is_distributed(BlockingConnection& conn) {
  return citus_installed(conn) &&
         !conn.exec("SELECT 1 FROM pg_dist_partition WHERE logicalrelid = to_regclass('public.organizations')").empty();
}

std::vector<std::string> schema_rule_violations(BlockingConnection& conn) {
  std::vector<std::string> out;
  // Unique keys (constraints and unique indexes, the primary key included) of a tenant table must
  // contain organization_id: a shard can only enforce uniqueness within itself.
  auto unique = conn.exec(
      "SELECT c.oid::regclass::text, i.indexrelid::regclass::text FROM pg_index i"
      " JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
      " WHERE n.nspname = 'public' AND i.indisunique"
      "   AND " + has_tenant_column +
      "   AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'organization_id'"
      "                   AND a.attnum = ANY (i.indkey::int2[]))"
      " ORDER BY 1, 2");
  for (int i = 0; i < unique.rows(); ++i)
    out.push_back(std::string(unique.get(i, 0)) + ": unique key " + std::string(unique.get(i, 1)) +
                  " leaves out organization_id (make it unique within the organization, or move the global "
                  "lookup to a directory table)");
  // Identity and serial columns are cluster-wide counters a distributed table cannot have.
  auto identity = conn.exec(
      "SELECT c.oid::regclass::text, a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
      " JOIN pg_namespace n ON n.oid = c.relnamespace"
      " WHERE n.nspname IN ('public', 'directory') AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped"
      "   AND (a.attidentity <> '' OR pg_get_expr((SELECT d.adbin FROM pg_attrdef d WHERE d.adrelid = c.oid"
      "                                            AND d.adnum = a.attnum), c.oid) LIKE 'nextval(%')"
      " ORDER BY 1, 2");
  for (int i = 0; i < identity.rows(); ++i)
    out.push_back(std::string(identity.get(i, 0)) + ": column " + std::string(identity.get(i, 1)) +
                  " is an identity or serial (use a uuid, or a number its writer assigns)");
  // A tenant table's primary key starts with organization_id.
  auto pkey = conn.exec(
      "SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
      " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
      "   AND " + has_tenant_column +
      "   AND NOT EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = c.oid"
      "                   AND a.attnum = i.indkey[0] AND a.attname = 'organization_id'"
      "                   WHERE i.indrelid = c.oid AND i.indisprimary)"
      " ORDER BY 1");
  for (int i = 0; i < pkey.rows(); ++i)
    out.push_back(std::string(pkey.get(i, 0)) + ": the primary key must be (organization_id, id)");
  // Every other table of public breaks the convention: it would stay on the coordinator alone.
  auto stray = conn.exec(
      "SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
      " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
      "   AND c.relname NOT IN ('organizations', 'spectra_schema_migrations')"
      "   AND NOT " + has_tenant_column +
      "   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid"
      "                   AND d.deptype = 'e')"
      " ORDER BY 1");
  for (int i = 0; i < stray.rows(); ++i)
    out.push_back(std::string(stray.get(i, 0)) +
                  ": neither a tenant table (no organization_id) nor a directory table (schema directory)");
  return out;
}

std::vector<std::string> distribution_problems(BlockingConnection& conn) {
  std::vector<std::string> out;
  std::map<std::string, std::pair<std::string, std::string>> placed;  // table → (type, column)
  std::string anchor_group;
  auto r = conn.exec(
      "SELECT table_name::text, citus_table_type, coalesce(distribution_column, ''), colocation_id::text"
      " FROM citus_tables");
  for (int i = 0; i < r.rows(); ++i) {
    const std::string name(r.get(i, 0));
    placed[name] = {std::string(r.get(i, 1)), std::string(r.get(i, 2)) + "@" + std::string(r.get(i, 3))};
    if (name == anchor) anchor_group = std::string(r.get(i, 2)) + "@" + std::string(r.get(i, 3));
  }
  for (const auto& t : column(conn.exec(reference_tables_sql))) {
    auto it = placed.find(t);
    if (it == placed.end() || it->second.first != "reference")
      out.push_back(t + ": should be a reference table, is " + (it == placed.end() ? "local" : it->second.first));
  }
  for (const auto& t : column(conn.exec(tenant_tables_sql))) {
    auto it = placed.find(t);
    if (it == placed.end() || it->second.first != "distributed")
      out.push_back(t + ": should be distributed by organization_id, is " +
                    (it == placed.end() ? "local" : it->second.first));
    else if (it->second.second != anchor_group)
      out.push_back(t + ": distributed by " + it->second.second + ", not colocated with users by organization_id");
  }
  return out;
}

void distribute(BlockingConnection& conn, std::ostream& out) {
  if (!citus_installed(conn))
    throw std::runtime_error(
        "Citus is not installed in this database. On the coordinator, as a superuser: CREATE EXTENSION citus; "
        "then add the workers (SELECT citus_add_node(host, port)) and run this again (docs/scale-out.md)");
  if (auto v = schema_rule_violations(conn); !v.empty()) {
    std::string all;
    for (const auto& line : v) all += "\n  " + line;
    throw std::runtime_error("the schema cannot be distributed:" + all);
  }
  std::set<std::string> placed;
  for (const auto& t : column(conn.exec("SELECT table_name::text FROM citus_tables"))) placed.insert(t);
  const auto references = column(conn.exec(reference_tables_sql));
  const auto tenants = column(conn.exec(tenant_tables_sql));
  // Foreign keys between these tables: a table is distributed after the ones it references.
  std::multimap<std::string, std::string> refers_to;
  auto fk = conn.exec(
      "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint"
      " WHERE contype = 'f' AND conrelid <> confrelid");
  for (int i = 0; i < fk.rows(); ++i) refers_to.emplace(std::string(fk.get(i, 0)), std::string(fk.get(i, 1)));

  // Tables in an order where each comes after the ones it references (among those being placed).
  std::set<std::string> done(placed);
  auto in_fk_order = [&](std::vector<std::string> left) {
    std::vector<std::string> order;
    while (!left.empty()) {
      auto ready = std::find_if(left.begin(), left.end(), [&](const std::string& t) {
        auto [b, e] = refers_to.equal_range(t);
        return std::all_of(b, e, [&](const auto& kv) { return done.count(kv.second) > 0; });
      });
      if (ready == left.end()) throw std::runtime_error("the foreign keys form a cycle through " + left.front());
      order.push_back(*ready);
      done.insert(*ready);
      left.erase(ready);
    }
    return order;
  };
  std::vector<std::string> new_references, new_tenants;
  for (const auto& t : references)
    if (!placed.count(t)) new_references.push_back(t);
  for (const auto& t : tenants)
    if (!placed.count(t)) new_tenants.push_back(t);
  // The anchor goes first so that every other tenant table can colocate with it.
  std::stable_partition(new_tenants.begin(), new_tenants.end(), [](const std::string& t) { return t == anchor; });
  const auto reference_order = in_fk_order(new_references);
  const auto order = in_fk_order(new_tenants);

  std::size_t made = 0;
  conn.exec("BEGIN");
  try {
    // Foreign keys from reference tables to local ones must not turn the coordinator's tables into
    // Citus-managed local tables; triggers (updated_at, audit, signed-entry guards) only touch their
    // own row or rows of the same organization, which share its shard group.
    conn.exec("SET LOCAL citus.enable_local_reference_table_foreign_keys = off");
    conn.exec("SET LOCAL citus.enable_unsafe_triggers = on");
    conn.exec("SET LOCAL citus.multi_shard_modify_mode = 'sequential'");
    // Citus copies a table's rows to its shards with COPY, which row-level security forbids even to
    // the owner when it is forced: lift FORCE for the copy, inside this transaction, and put it back.
    std::set<std::string> forced;
    for (const auto& t : column(conn.exec("SELECT oid::regclass::text FROM pg_class WHERE relforcerowsecurity")))
      forced.insert(t);
    for (const auto* list : {&reference_order, &order})
      for (const auto& t : *list)
        if (forced.count(t)) conn.exec("ALTER TABLE " + t + " NO FORCE ROW LEVEL SECURITY");
    for (const auto& t : reference_order) {
      conn.exec("SELECT create_reference_table($1::regclass)", Params(t));
      out << t << ": reference table\n";
      ++made;
    }
    for (const auto& t : order) {
      if (t == anchor)
        conn.exec("SELECT create_distributed_table($1::regclass, $2)", Params(t, tenant_column));
      else
        conn.exec("SELECT create_distributed_table($1::regclass, $2, colocate_with => $3)",
                  Params(t, tenant_column, anchor));
      out << t << ": distributed by " << tenant_column << "\n";
      ++made;
    }
    // Citus leaves the rows it copied to the shards in the coordinator's own files; drop them.
    for (const auto& t : reference_order)
      conn.exec("SELECT truncate_local_data_after_distributing_table($1::regclass)", Params(t));
    for (const auto& t : order)
      conn.exec("SELECT truncate_local_data_after_distributing_table($1::regclass)", Params(t));
    for (const auto* list : {&reference_order, &order})
      for (const auto& t : *list)
        if (forced.count(t)) conn.exec("ALTER TABLE " + t + " FORCE ROW LEVEL SECURITY");
    // The server's tenant context (SET LOCAL app.org_id) must reach the workers, where row-level
    // security is enforced on the shards; later migrations may create triggers on distributed tables.
    // Statements are planned with their values each time (a prepared statement's generic plan, which
    // PostgreSQL may switch to after five runs, cannot always be pruned to one shard; Citus's fast path
    // plans simple statements cheaply either way).
    conn.exec(
        "DO $$ BEGIN"
        " EXECUTE format('ALTER DATABASE %I SET citus.propagate_set_commands = %L', current_database(), 'local');"
        " EXECUTE format('ALTER DATABASE %I SET citus.enable_unsafe_triggers = on', current_database());"
        " EXECUTE format('ALTER DATABASE %I SET plan_cache_mode = force_custom_plan', current_database());"
        " END $$");
    // The workers' sessions too (Citus does not carry ALTER DATABASE there): a foreign-key check runs on
    // the worker, and a plan it kept from when a table was small would read every row a batch inserts.
    conn.exec("SELECT run_command_on_workers(format('ALTER DATABASE %I SET plan_cache_mode = force_custom_plan',"
              " current_database()))");
    for (const char* f : fan_out_functions)
      if (!conn.exec("SELECT to_regprocedure($1)", Params(f)).is_null(0, 0))
        conn.exec(std::string("ALTER FUNCTION ") + f + " SET citus.multi_task_query_log_level = 'off'");
    conn.exec("COMMIT");
  } catch (const SqlError& e) {
    conn.exec("ROLLBACK");
    throw std::runtime_error(std::string("distribute failed, nothing changed: ") + e.what());
  }
  // Writers may insert only some columns of an audit event (migration 0014), a column privilege the
  // coordinator checks; Citus gives new shards the table's privileges alone, so the shards get the
  // table's INSERT back (the application reaches them only through the coordinator).
  if (made > 0 && !conn.exec("SELECT 1 FROM pg_dist_partition WHERE logicalrelid = 'audit_events'::regclass").empty())
    conn.exec("SELECT run_command_on_shards('audit_events', 'GRANT INSERT ON %s TO spectra_app')");
  if (auto problems = distribution_problems(conn); !problems.empty()) {
    std::string all;
    for (const auto& line : problems) all += "\n  " + line;
    throw std::runtime_error("tables left misplaced:" + all);
  }
  if (made == 0) out << "every table is already placed: nothing to do\n";
  else out << made << " tables placed; " << tenants.size() << " tenant tables colocated with " << anchor << "\n";
}

}  // namespace spectra::db
