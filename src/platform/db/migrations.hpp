#pragma once
// Versioned SQL migrations embedded in the binary (migrations/NNNN_name.{up,down}.sql), each recorded
// with a checksum; verbs after Alembic's: upgrade, downgrade, current, history.
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace spectra::db {

class BlockingConnection;

struct MigrationSource {
  int version;
  const char* name;
  const char* up;
  const char* down;
};

const std::vector<MigrationSource>& embedded_migrations();

struct AppliedMigration {
  int version;
  std::string name;
  std::string checksum;
  std::string applied_at;
};

class Migrator {
 public:
  explicit Migrator(BlockingConnection& conn, const std::vector<MigrationSource>& sources = embedded_migrations());

  int head() const;
  // The applied version, 0 when none (base).
  int current();
  std::vector<AppliedMigration> applied();
  // Resolves "head", "base", a version ("3" or "0003"), or a relative step ("+1", "-1") to a version.
  int resolve(const std::string& target);
  // Applies pending migrations up to target (head by default), each in its own transaction, under an
  // advisory lock so that two servers starting at once do not both migrate. Refuses to run when an
  // applied migration was edited.
  void upgrade(int target, std::ostream& out);
  void downgrade(int target, std::ostream& out);
  // Throws std::runtime_error naming the first applied migration whose SQL differs from the binary's.
  void verify_checksums();

  static std::string checksum(const MigrationSource& m);

 private:
  void ensure_table();
  const MigrationSource* find(int version) const;
  BlockingConnection& conn_;
  const std::vector<MigrationSource>& sources_;
};

// For `serve`: throws std::runtime_error with the command that fixes it when the schema is not at head.
void require_schema_at_head(BlockingConnection& conn);

}  // namespace spectra::db
