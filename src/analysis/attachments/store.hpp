#pragma once
// The one way a received file becomes an attachment, shared by uploads and instrument imports: its
// bytes checked against its type, scanned by ClamAV when configured, stored by content off the I/O
// threads; then its rows (the attachment and its link), which the caller writes in its transaction.
#include <boost/asio/awaitable.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kit/context.hpp"
#include "platform/db/result.hpp"

namespace spectra::attachments {

struct StoredFile {
  std::string filename, content_type, sha256_hex;
  std::int64_t size_bytes = 0;
};

// Checks, scans and stores `bytes` (an allowed type): 415 when the bytes are not `type`, 422 naming
// `file` when they hold malware (the refusal audited apart), 503 when the scanner cannot answer (never an
// unscanned file), 507 when the store's disk is full. Nothing is recorded in the database.
boost::asio::awaitable<StoredFile> check_and_store(kit::RequestContext& ctx, std::shared_ptr<const std::string> bytes,
                                                   std::string type, std::string filename);

// Where an attachment is linked: one of them.
struct Link {
  std::optional<std::string> run_id, sample_id, eln_entry_id;
};
// The attachment's row and its link's, for the caller's transaction.
std::vector<db::Statement> attachment_rows(const std::string& id, const StoredFile& file, const std::string& user,
                                           const Link& link);

}  // namespace spectra::attachments
