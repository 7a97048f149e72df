#pragma once
// Attachments (the Analysis API): files linked to a run, a sample or a notebook entry of the caller's
// organization, checked against an allow-list by their own bytes, scanned by ClamAV when configured,
// and stored by content under DATA_DIR. Each handler's parameters after the context are its declared
// inputs (kit/route.hpp).
#include <optional>
#include <string>

#include "kit/route.hpp"

namespace spectra::attachments {

using kit::PageRequest;
using kit::Path;
using kit::QueryString;
using kit::Reply;
using kit::RequestContext;

// Where an upload goes (exactly one target) and, for a raw body, its filename.
struct UploadTarget {
  std::optional<std::string> run_id, sample_id, eln_entry_id, filename;
  static kit::Input<UploadTarget> input();
};
struct AttachmentFilters {
  std::optional<std::string> run_id, sample_id, eln_entry_id;
  static kit::Input<AttachmentFilters> input();
};
Reply upload_attachment(RequestContext& ctx, QueryString<UploadTarget> q, kit::Upload file);
Reply list_attachments(RequestContext& ctx, QueryString<AttachmentFilters> q, PageRequest page);
Reply get_attachment(RequestContext& ctx, Path<kit::Id> p);
Reply download_attachment(RequestContext& ctx, Path<kit::Id> p);

}  // namespace spectra::attachments
