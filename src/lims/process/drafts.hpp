#pragma once
// Versioned documents decided as DRAFTs (SOPs, specifications): approving makes the DRAFT EFFECTIVE
// and the lineage's effective version OBSOLETE, rejecting makes it REJECTED; both with every version
// of the lineage locked in version order (two decisions at the same moment take turns, and the second
// finds no draft), never by the version's author or an editor of it (rules.hpp), audited. One way for
// every such document; each gives its statements.
#include <boost/asio/awaitable.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "kit/data.hpp"

namespace spectra::process {

struct DraftDocument {
  std::string_view what;    // in messages: "SOP", "specification"
  std::string_view entity;  // the audit trail's entity type: "sop", "specification"
  // Every version of the lineage of version $2, locked in version order, each with `_id`, `_status`
  // and `_author_id` (helper columns) and the document's shape.
  const db::Query& lock;
  // Who changed version $2 after it was written: `editor_ids`, comma-separated.
  const db::Query& editors;
  const db::Query& obsolete;   // $2 the version; answers its shape
  const db::Query& effective;  // $2 the version, $3 the approver, $4 the comment; answers its shape
  const db::Query& reject;     // $2 the version, $3 the decider, $4 the comment; answers its shape
  std::string_view approved_action;  // "sop.effective", "specification.approve"
};

// Each answers the decided version's JSON; 404, 403 or 409 as rules.hpp says.
boost::asio::awaitable<std::string> approve_draft(kit::RequestContext& ctx, kit::Write& w, const DraftDocument& doc,
                                                  std::string id, std::optional<std::string> comment);
boost::asio::awaitable<std::string> reject_draft(kit::RequestContext& ctx, kit::Write& w, const DraftDocument& doc,
                                                 std::string id, std::optional<std::string> comment);

}  // namespace spectra::process
