#include "platform/db/migrations.hpp"

#include <algorithm>
#include <charconv>
#include <stdexcept>

#include "platform/crypto.hpp"
#include "platform/db/blocking_connection.hpp"
#include "platform/db/distribute.hpp"
#include "platform/db/sql_error.hpp"

namespace spectra::db {
namespace {

constexpr const char* kLockKey = "727274001";  // pg_advisory_lock key for migrations

struct AdvisoryLock {
  BlockingConnection& c;
  explicit AdvisoryLock(BlockingConnection& conn) : c(conn) { c.exec(std::string("SELECT pg_advisory_lock(") + kLockKey + ")"); }
  ~AdvisoryLock() {
    try {
      c.exec(std::string("SELECT pg_advisory_unlock(") + kLockKey + ")");
    } catch (...) {
    }
  }
};

}  // namespace

Migrator::Migrator(BlockingConnection& conn, const std::vector<MigrationSource>& sources) : conn_(conn), sources_(sources) {}

std::string Migrator::checksum(const MigrationSource& m) { return crypto::to_hex(crypto::sha256(m.up)); }

int Migrator::head() const {
  int h = 0;
  for (const auto& m : sources_) h = std::max(h, m.version);
  return h;
}

const MigrationSource* Migrator::find(int version) const {
  for (const auto& m : sources_)
    if (m.version == version) return &m;
  return nullptr;
}

void Migrator::ensure_table() {
  conn_.exec(
      "CREATE TABLE IF NOT EXISTS spectra_schema_migrations ("
      " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
      " applied_at timestamptz NOT NULL DEFAULT now())");
}

std::vector<AppliedMigration> Migrator::applied() {
  auto exists = conn_.exec("SELECT to_regclass('spectra_schema_migrations') IS NOT NULL");
  if (!exists.get_bool(0, 0)) return {};
  auto r = conn_.exec(
      "SELECT version, name, checksum, to_char(applied_at, 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
      "FROM spectra_schema_migrations ORDER BY version");
  std::vector<AppliedMigration> out;
  for (int i = 0; i < r.rows(); ++i)
    out.push_back({static_cast<int>(r.get_int(i, 0)), std::string(r.get(i, 1)), std::string(r.get(i, 2)),
                   std::string(r.get(i, 3))});
  return out;
}

int Migrator::current() {
  auto a = applied();
  return a.empty() ? 0 : a.back().version;
}

int Migrator::resolve(const std::string& target) {
  if (target == "head" || target == "heads") return head();
  if (target == "base") return 0;
  auto parse = [&](std::string_view s) {
    int v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || p != s.data() + s.size() || s.empty())
      throw std::runtime_error("unknown revision '" + target + "' (use head, base, a version, +N or -N)");
    return v;
  };
  std::vector<int> versions{0};
  for (const auto& m : sources_) versions.push_back(m.version);
  std::sort(versions.begin(), versions.end());
  if (target.starts_with('+') || target.starts_with('-')) {
    const int step = parse(std::string_view(target).substr(1)) * (target[0] == '-' ? -1 : 1);
    const auto at = std::find(versions.begin(), versions.end(), current());
    const long idx = (at - versions.begin()) + step;
    if (at == versions.end() || idx < 0 || idx >= static_cast<long>(versions.size()))
      throw std::runtime_error("relative revision '" + target + "' is out of range");
    return versions[static_cast<std::size_t>(idx)];
  }
  const int v = parse(target);
  if (std::find(versions.begin(), versions.end(), v) == versions.end())
    throw std::runtime_error("unknown revision '" + target + "'");
  return v;
}

void Migrator::verify_checksums() {
  for (const auto& a : applied()) {
    const auto* m = find(a.version);
    if (!m)
      throw std::runtime_error("the database has migration " + std::to_string(a.version) + " (" + a.name +
                               ") which this binary does not know: it is newer than this build");
    if (checksum(*m) != a.checksum)
      throw std::runtime_error("migration " + std::to_string(a.version) + " (" + a.name +
                               ") was edited after it was applied: its checksum differs from the database's. "
                               "Restore the original file and add a new migration instead");
  }
}

void Migrator::upgrade(int target, std::ostream& out) {
  AdvisoryLock lock(conn_);
  ensure_table();
  verify_checksums();
  std::vector<const MigrationSource*> todo;
  const int cur = current();
  for (const auto& m : sources_)
    if (m.version > cur && m.version <= target) todo.push_back(&m);
  std::sort(todo.begin(), todo.end(), [](auto* a, auto* b) { return a->version < b->version; });
  if (todo.empty()) {
    out << "database is at " << cur << ", nothing to upgrade\n";
    return;
  }
  // On Citus, DDL reaches the shards; sequential mode lets a migration mix DDL and writes on
  // distributed tables in its one transaction.
  const bool distributed = is_distributed(conn_);
  for (const auto* m : todo) {
    conn_.exec("BEGIN");
    try {
      if (distributed) {
        conn_.exec("SET LOCAL citus.multi_shard_modify_mode = 'sequential'");
        conn_.exec("SET LOCAL citus.enable_unsafe_triggers = on");  // see db::distribute
      }
      conn_.exec_script(m->up);
      Params p(m->version, m->name, checksum(*m));
      conn_.exec("INSERT INTO spectra_schema_migrations (version, name, checksum) VALUES ($1, $2, $3)", p);
      conn_.exec("COMMIT");
    } catch (const SqlError& e) {
      conn_.exec("ROLLBACK");
      throw std::runtime_error("migration " + std::to_string(m->version) + " (" + m->name + ") failed: " + e.what());
    }
    out << "upgraded to " << m->version << " (" << m->name << ")\n";
  }
  // Tables a migration created are placed like the others.
  if (distributed) distribute(conn_, out);
}

void Migrator::downgrade(int target, std::ostream& out) {
  AdvisoryLock lock(conn_);
  ensure_table();
  verify_checksums();
  auto done = applied();
  std::reverse(done.begin(), done.end());
  bool any = false;
  for (const auto& a : done) {
    if (a.version <= target) break;
    const auto* m = find(a.version);
    conn_.exec("BEGIN");
    try {
      conn_.exec_script(m->down);
      conn_.exec("DELETE FROM spectra_schema_migrations WHERE version = $1", Params(a.version));
      conn_.exec("COMMIT");
    } catch (const SqlError& e) {
      conn_.exec("ROLLBACK");
      throw std::runtime_error("downgrade of " + std::to_string(m->version) + " (" + m->name + ") failed: " + e.what());
    }
    out << "downgraded " << m->version << " (" << m->name << ")\n";
    any = true;
  }
  if (!any) out << "database is at " << current() << ", nothing to downgrade\n";
}

void require_schema_at_head(BlockingConnection& conn) {
  Migrator m(conn);
  int cur = 0;
  try {
    m.verify_checksums();
    cur = m.current();
  } catch (const SqlError& e) {
    // Before migration 2 the application role may not read the version table: the schema is behind.
    throw std::runtime_error("cannot read the schema version (" + std::string(e.what()) +
                             "): the database is not migrated; run `spectra db upgrade` (or `make migrate`) first");
  }
  if (cur < m.head())
    throw std::runtime_error("the database schema is at revision " + std::to_string(cur) + " but this build needs " +
                             std::to_string(m.head()) + ": run `spectra db upgrade` (or `make migrate`) first");
}

}  // namespace spectra::db
