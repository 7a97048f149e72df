#pragma once
// The .eln file of a notebook entry (the ELN Consortium's format, https://github.com/TheELNConsortium/
// TheELNFileFormat): a zip holding one root folder, with ro-crate-metadata.json (RO-Crate 1.1) beside a
// folder for the entry: its markdown, its sanitized HTML, its signatures and its attachments. Pure:
// built from plain structs, so it is unit-tested without a database.
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
  std::string id, filename, content_type, bytes;
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
// The whole .eln file (zip bytes). Throws std::runtime_error when libzip fails.
std::string build_eln(const ElnEntry& e, const std::string& now, const std::string& version);

}  // namespace spectra::notebook
