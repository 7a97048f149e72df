#pragma once
// Notebook and SOP documents as stored: their sanitized HTML (kit/markdown.hpp) rendered when written,
// off the I/O threads when large, and rendered again when another renderer version made it.
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "kit/context.hpp"
#include "kit/markdown.hpp"

namespace spectra::db {
class BlockingConnection;
}

namespace spectra::kit {

// The sanitized HTML of `markdown`, rendered for a write: on the blocking pool when the document is
// large, so an I/O thread never renders a long one.
boost::asio::awaitable<std::string> render_for_write(RequestContext& ctx, std::string markdown);

// The stored HTML of a document read from the database: `html` when its render_version is this
// renderer's; else (a row written before this renderer, until `spectra db upgrade` renders it again)
// rendered now, off the I/O threads.
boost::asio::awaitable<std::string> stored_html(RequestContext& ctx, std::optional<std::string> html,
                                                std::int64_t version, std::string markdown);

// Renders again every stored document (notebook entries, SOPs) whose HTML another renderer made, in
// batches; on an owner's connection (`spectra db upgrade`, `spectra seed`). Answers how many.
std::int64_t render_stale_documents(db::BlockingConnection& owner);

}  // namespace spectra::kit
