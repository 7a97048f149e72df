#include "ops/backup.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "audit/audit.hpp"
#include "platform/config.hpp"
#include "platform/content_store.hpp"
#include "platform/crypto.hpp"
#include "platform/db/blocking_connection.hpp"
#include "platform/process.hpp"

namespace fs = std::filesystem;
namespace json = boost::json;

namespace spectra::ops {
namespace {

constexpr std::string_view kFormat = "spectra-backup/1";
constexpr const char* kDump = "database.dump";
constexpr const char* kCheckpoints = "checkpoints.jsonl";
constexpr const char* kManifest = "manifest.json";
// The roles the schema grants to; a restore makes them when the cluster lacks them.
constexpr const char* kRoles[] = {"spectra_app", "spectra_sequencer"};

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error(what); }

// pg_dump and pg_restore: PG_BINDIR's when it is set, else the PATH's (of the server's major version).
std::string tool(const char* name) {
  if (const char* dir = std::getenv("PG_BINDIR"); dir && *dir) return (fs::path(dir) / name).string();
  return name;
}

// pg_dump and pg_restore report on standard error; a missing one is named with the way to get it.
void run_program_quietly(const std::vector<std::string>& args) {
  try {
    run_program(args, Capture::standard_error);
  } catch (const std::runtime_error& e) {
    if (std::string_view(e.what()).starts_with("cannot run"))
      fail(std::string(e.what()) + " (install PostgreSQL 15's client, or set PG_BINDIR)");
    throw;
  }
}

void fsync_path(const fs::path& p) {
  const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("open " + p.string() + ": " + std::strerror(errno));
  const int rc = ::fsync(fd);
  const int saved = errno;
  ::close(fd);
  if (rc != 0) fail("fsync " + p.string() + ": " + std::strerror(saved));
}

// Reads `from` whole, hashing it, and writes it to `to` on the way when given (folders made, fsynced):
// answers the SHA-256 in hex and the size. Throws "missing" or "unreadable" for `from`.
std::pair<std::string, std::uintmax_t> hash_copying(const fs::path& from, const std::optional<fs::path>& to = {}) {
  std::ifstream in(from, std::ios::binary);
  if (!in) fail("missing");
  std::ofstream out;
  if (to) {
    fs::create_directories(to->parent_path());
    out.open(*to, std::ios::binary | std::ios::trunc);
    if (!out) fail("cannot write " + to->string());
  }
  crypto::Sha256 hash;
  std::uintmax_t size = 0;
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const auto n = static_cast<std::size_t>(in.gcount());
    if (n == 0) break;
    hash.update(std::string_view(buf.data(), n));
    if (to) out.write(buf.data(), static_cast<std::streamsize>(n));
    size += n;
  }
  if (in.bad()) fail("unreadable");
  if (to) {
    out.close();
    if (!out) fail("copying " + from.string() + " to " + to->string() + " failed");
    fsync_path(*to);
  }
  return {hash.hex(), size};
}

// The content store's layout inside a set: files/ab/cd/abcd….
std::string file_part(const std::string& hex) { return "files/" + hex.substr(0, 2) + "/" + hex.substr(2, 2) + "/" + hex; }

bool is_citus(db::BlockingConnection& c) {
  return c.exec("SELECT count(*) FROM pg_extension WHERE extname = 'citus'").get_int(0, 0) > 0;
}

// Rows per base table of the schema's own namespaces, as the connection's transaction sees them.
std::map<std::string, std::int64_t> table_counts(db::BlockingConnection& c) {
  auto tables = c.exec(
      "SELECT format('%I.%I', n.nspname, c.relname), n.nspname || '.' || c.relname FROM pg_class c"
      " JOIN pg_namespace n ON n.oid = c.relnamespace"
      " WHERE n.nspname IN ('public', 'app', 'directory') AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
      " ORDER BY 2");
  std::map<std::string, std::int64_t> counts;
  if (tables.rows() == 0) return counts;
  std::string sql = "SELECT ";
  for (int i = 0; i < tables.rows(); ++i) {
    if (i) sql += ", ";
    sql += "(SELECT count(*) FROM " + std::string(tables.get(i, 0)) + ")";
  }
  auto r = c.exec(sql);
  for (int i = 0; i < tables.rows(); ++i) counts[std::string(tables.get(i, 1))] = r.get_int(0, i);
  return counts;
}

struct Part {
  std::string path;
  std::string sha256;
  std::uintmax_t bytes = 0;
};

json::object read_manifest(const fs::path& dir) {
  std::ifstream in(dir / kManifest);
  if (!in) fail("the backup set has no " + std::string(kManifest) + " (an incomplete or foreign set): " + dir.string());
  std::stringstream text;
  text << in.rdbuf();
  boost::system::error_code ec;
  auto v = json::parse(text.str(), ec);
  if (ec || !v.is_object()) fail(std::string(kManifest) + " is not a JSON object");
  auto& m = v.as_object();
  const auto* format = m.if_contains("format");
  if (!format || !format->is_string() || format->as_string() != kFormat)
    fail(std::string(kManifest) + " is not a " + std::string(kFormat) + " manifest");
  if (!m.contains("parts") || !m.at("parts").is_array()) fail(std::string(kManifest) + " lists no parts");
  return m;
}

std::vector<Part> parts_of(const json::object& manifest) {
  std::vector<Part> parts;
  for (const auto& p : manifest.at("parts").as_array()) {
    const auto* o = p.if_object();
    if (!o || !o->contains("path") || !o->contains("sha256") || !o->contains("bytes"))
      fail(std::string(kManifest) + ": a part lacks path, sha256 or bytes");
    Part part{json::value_to<std::string>(o->at("path")), json::value_to<std::string>(o->at("sha256")),
              json::value_to<std::uintmax_t>(o->at("bytes"))};
    // A part is a plain relative path inside the set.
    const fs::path rel(part.path);
    if (rel.is_absolute() || part.path.find("..") != std::string::npos || part.path.empty())
      fail(std::string(kManifest) + ": the part path " + part.path + " leaves the set");
    parts.push_back(std::move(part));
  }
  return parts;
}

}  // namespace

SetSummary backup(const std::string& conninfo, const Config& config, const fs::path& to, std::ostream& out) {
  if (config.audit_key.empty())
    fail("set AUDIT_KEY or AUDIT_KEY_FILE: a backup carries the audit checkpoints, signed with it");
  if (fs::exists(to) && !fs::is_empty(to)) fail(to.string() + " is not empty: a backup goes into a new folder");
  fs::create_directories(to);
  db::BlockingConnection c(conninfo);
  if (is_citus(c))
    fail("this database is a Citus coordinator: its shards live on the workers, which pg_dump of the coordinator "
         "does not hold; back up every node with its own tools (docs/scale-out.md)");
  // One snapshot for everything: the dump runs in it (pg_dump --snapshot), and the files, counts and
  // checkpoints are read in it, while this transaction stays open.
  c.exec("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
  const std::string snapshot(c.exec("SELECT pg_export_snapshot()").get(0, 0));
  const auto who = c.exec("SELECT current_user, (SELECT coalesce(max(version), 0) FROM spectra_schema_migrations)");
  const std::string owner(who.get(0, 0));
  const auto schema_version = who.get_int(0, 1);
  out << "backing up at snapshot " << snapshot << " (schema " << schema_version << ") into " << to.string() << "\n";

  SetSummary summary;
  summary.counts = table_counts(c);
  const audit::CheckpointSigner signer(config.audit_key);
  const auto checkpoints = audit::checkpoints(c, std::nullopt, signer);
  auto stored = c.exec("SELECT DISTINCT encode(sha256, 'hex') FROM attachments WHERE content IS NULL ORDER BY 1");

  // Row security is forced on the tenant tables (their owner reads them through its own policy).
  run_program_quietly({tool("pg_dump"), "--format=custom", "--enable-row-security", "--snapshot=" + snapshot,
               "--file=" + (to / kDump).string(), "--dbname=" + conninfo});

  std::vector<Part> parts;
  {
    auto [hex, size] = hash_copying(to / kDump);
    fsync_path(to / kDump);
    parts.push_back({kDump, hex, size});
  }
  const ContentStore store(config.data_dir);
  for (int i = 0; i < stored.rows(); ++i) {
    const std::string hex(stored.get(i, 0));
    const std::string rel = file_part(hex);
    const auto from = store.path_of(hex);
    if (!fs::exists(from)) fail("the content store lacks the file of an attachment: " + from.string());
    auto [got, size] = hash_copying(from, to / rel);
    if (got != hex) fail("the content store's file " + from.string() + " does not match its SHA-256 (it is damaged)");
    parts.push_back({rel, got, size});
    ++summary.files;
  }
  {
    std::ofstream f(to / kCheckpoints, std::ios::trunc);
    for (const auto& cp : checkpoints) f << audit::to_json(cp) << "\n";
    f.close();
    if (!f) fail("cannot write " + (to / kCheckpoints).string());
    fsync_path(to / kCheckpoints);
    auto [hex, size] = hash_copying(to / kCheckpoints);
    parts.push_back({kCheckpoints, hex, size});
  }
  c.exec("COMMIT");

  json::array part_list;
  for (const auto& p : parts) {
    part_list.push_back(json::object{{"path", p.path}, {"sha256", p.sha256}, {"bytes", p.bytes}});
    summary.bytes += p.bytes;
  }
  json::object counts;
  for (const auto& [table, n] : summary.counts) counts[table] = n;
  json::object manifest{{"format", kFormat},
                        {"created_at", audit::utc_now()},
                        {"server_version", SPECTRA_VERSION},
                        {"schema_version", schema_version},
                        {"owner_role", owner},
                        {"snapshot", snapshot},
                        {"organizations", static_cast<std::int64_t>(checkpoints.size())},
                        {"counts", std::move(counts)},
                        {"parts", std::move(part_list)}};
  {
    const auto temp = to / (std::string(kManifest) + ".tmp");
    std::ofstream f(temp, std::ios::trunc);
    f << json::serialize(manifest) << "\n";
    f.close();
    if (!f) fail("cannot write the manifest");
    fsync_path(temp);
    fs::rename(temp, to / kManifest);
    fsync_path(to);
  }
  out << "backed up " << summary.counts.size() << " tables, " << summary.files << " stored files and "
      << checkpoints.size() << " audit checkpoints (" << summary.bytes << " bytes)\n";
  return summary;
}

void verify_set(const fs::path& dir) {
  const auto manifest = read_manifest(dir);
  bool has_dump = false;
  for (const auto& p : parts_of(manifest)) {
    has_dump = has_dump || p.path == kDump;
    std::pair<std::string, std::uintmax_t> got;
    try {
      got = hash_copying(dir / p.path);
    } catch (const std::runtime_error& e) {
      fail("the backup set does not verify: " + p.path + " is " + e.what());
    }
    if (got.second != p.bytes)
      fail("the backup set does not verify: " + p.path + " has " + std::to_string(got.second) + " bytes, the manifest says " +
           std::to_string(p.bytes));
    if (got.first != p.sha256) fail("the backup set does not verify: the SHA-256 of " + p.path + " differs from the manifest's");
  }
  if (!has_dump) fail("the backup set does not verify: the manifest lists no " + std::string(kDump));
}

SetSummary restore(const std::string& conninfo, const Config& config, const fs::path& from, std::ostream& out) {
  verify_set(from);
  const auto manifest = read_manifest(from);
  out << "the backup set verifies (" << manifest.at("parts").as_array().size() << " parts)\n";
  db::BlockingConnection c(conninfo);
  if (is_citus(c)) fail("this database is a Citus coordinator: restore into a plain PostgreSQL database");
  const auto present = c.exec(
      "SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
      "         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f'))"
      "     + (SELECT count(*) FROM pg_namespace WHERE nspname IN ('app', 'directory')), current_user");
  if (present.get_int(0, 0) > 0)
    fail("the database is not empty: a restore goes into a new, empty database (createdb, then DATABASE_URL)");
  const std::string owner(present.get(0, 1));
  if (const auto* role = manifest.if_contains("owner_role"); role && role->is_string() && role->as_string() != owner)
    fail("the set was taken as the role " + std::string(role->as_string()) + " and this connection is " + owner +
         ": restore as the same owner role (the tables' policies name it)");
  const fs::path data(config.data_dir);
  if (fs::exists(data) && !fs::is_empty(data))
    fail("DATA_DIR " + data.string() + " is not empty: a restore goes into an empty data directory");

  for (const char* role : kRoles)
    if (c.exec("SELECT count(*) FROM pg_roles WHERE rolname = $1", db::Params(role)).get_int(0, 0) == 0) {
      try {
        c.exec(std::string("CREATE ROLE ") + role + " LOGIN");
      } catch (const std::exception& e) {
        fail(std::string("the cluster has no role ") + role + " and it could not be made (" + e.what() +
             "): create it first");
      }
    }
  run_program_quietly({tool("pg_restore"), "--exit-on-error", "--single-transaction", "--enable-row-security",
               "--dbname=" + conninfo, (from / kDump).string()});
  out << "restored the database\n";

  SetSummary summary;
  const ContentStore store(data);
  for (const auto& p : parts_of(manifest)) {
    if (!p.path.starts_with("files/")) continue;
    auto [hex, size] = hash_copying(from / p.path, store.path_of(p.sha256));
    if (hex != p.sha256) fail("the stored file " + p.path + " changed while it was restored");
    summary.bytes += size;
    ++summary.files;
  }
  out << "restored " << summary.files << " stored files into " << data.string() << "\n";

  c.exec("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
  summary.counts = table_counts(c);
  c.exec("COMMIT");
  for (const auto& [table, n] : manifest.at("counts").as_object()) {
    const auto it = summary.counts.find(std::string(table));
    const auto got = it == summary.counts.end() ? -1 : it->second;
    if (got != n.to_number<std::int64_t>())
      fail("the restored table " + std::string(table) + " has " + std::to_string(got) + " rows, the set " +
           std::to_string(n.to_number<std::int64_t>()));
  }
  ::sync();  // the restored files and their folders, durable before the set is called restored
  out << "every table holds the rows it held at the snapshot (" << summary.counts.size() << " tables)\n"
      << "next: spectra audit verify --checkpoints " << (from / kCheckpoints).string() << "\n";
  return summary;
}

}  // namespace spectra::ops
