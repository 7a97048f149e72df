#pragma once
// Backup and restore of one deployment as one consistent set: the database (pg_dump's custom format,
// taken from a snapshot the backup's own transaction exported), the content store's files that rows of
// that snapshot name, the audit checkpoints of that snapshot (signed with AUDIT_KEY), and a manifest
// holding each part's size and SHA-256. A restore goes only into an empty database and an empty data
// directory, and only from a set whose manifest verifies.
#include <cstdint>
#include <filesystem>
#include <map>
#include <ostream>
#include <string>

namespace spectra {
struct Config;
}

namespace spectra::ops {

struct SetSummary {
  std::int64_t files = 0;                       // content store files carried
  std::uintmax_t bytes = 0;                     // every part
  std::map<std::string, std::int64_t> counts;   // rows per table at the snapshot
};

// `conninfo`: the owner's connection. Throws std::runtime_error naming what failed; `to` must be absent
// or empty. The manifest is written last: a set without one is incomplete.
SetSummary backup(const std::string& conninfo, const Config& config, const std::filesystem::path& to,
                  std::ostream& out);

// Verifies the set, then restores it into the (empty) database of `conninfo` and the (empty) DATA_DIR;
// throws std::runtime_error naming the part that does not verify or what is not empty. Answers the
// counts of the restored database (equal to the manifest's, or it throws).
SetSummary restore(const std::string& conninfo, const Config& config, const std::filesystem::path& from,
                   std::ostream& out);

// Checks every part of a set against its manifest; throws naming the first that does not verify.
void verify_set(const std::filesystem::path& dir);

}  // namespace spectra::ops
