#pragma once
// The .eln file of a notebook entry (the ELN Consortium's format, https://github.com/TheELNConsortium/
// TheELNFileFormat): a zip holding one root folder, with ro-crate-metadata.json (RO-Crate 1.1) beside a
// folder for the entry: its markdown, its sanitized HTML, its signatures and its attachments. Built
// from plain structs (and the attachments' files), so it is unit-tested without a database. The zip is
// written by libarchive as it is sent: attachments stored (not compressed) with data descriptors and
// Zip64, so no part of the archive needs to be held, and no attachment needs to be read twice.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace spectra::notebook {

struct ElnPerson {
  std::string id, name, email;
};
struct ElnSignature {
  std::string id, signer_id, signer_name, meaning, content_sha256_hex, signed_at;
  bool valid = false;
};
struct ElnAttachment {
  std::string id, filename, content_type;
  std::string bytes;               // the bytes, when they are at hand (kept in the table before revision 10)
  std::filesystem::path file{};    // else the file that holds them (the content store's), read as the zip is sent,
  std::uint64_t size = 0;          // with the size and SHA-256 (hex) the crate states: a file that turns out
  std::string sha256_hex{};        // otherwise stops the archive rather than contradict it
};
struct ElnEntry {
  std::string id, title, body_markdown, body_html, created_at, updated_at;
  std::vector<std::string> tags, sample_ids;
  std::string amends_entry_id;  // "" when it amends none
  ElnPerson author;
  std::vector<ElnPerson> signers;  // everyone who signed, the author included if they did
  std::vector<ElnSignature> signatures;
  std::vector<ElnAttachment> attachments;
};

// The archive's name without ".eln" (also its root folder): "eln-entry-<id>".
std::string eln_name(const ElnEntry& e);
// The RO-Crate metadata of the entry (JSON text), `now` the export time (RFC 3339).
std::string ro_crate_metadata(const ElnEntry& e, const std::string& now, const std::string& version);

// The .eln file, piece by piece: each next() answers the next bytes of the zip (about `piece` of them),
// nullopt after the last, reading attachments' files `piece` bytes at a time, so memory follows the
// piece, not the archive.
// Blocking (it reads files): call it off the I/O threads, one call at a time. Throws std::runtime_error
// when libarchive fails or a file is missing or differs from its stated size or SHA-256; the bytes
// answered before are then not a whole archive.
class ElnWriter {
 public:
  ElnWriter(ElnEntry e, const std::string& now, const std::string& version, std::size_t piece = std::size_t{1} << 20);
  ~ElnWriter();
  ElnWriter(const ElnWriter&) = delete;
  ElnWriter& operator=(const ElnWriter&) = delete;
  std::optional<std::string> next();

 private:
  struct State;
  std::unique_ptr<State> s_;
};

// The whole .eln file at once (every piece of an ElnWriter): for small entries and tests.
std::string build_eln(const ElnEntry& e, const std::string& now, const std::string& version);

}  // namespace spectra::notebook
