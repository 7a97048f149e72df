#pragma once
// Notebook markdown to HTML that is safe to show in a browser: CommonMark with GitHub's tables, task
// lists, strikethrough and autolinks (cmark-gfm), rendered in safe mode, so raw HTML never passes
// through; links and images keep only http, https and mailto URLs (and relative ones), so no
// `javascript:`, `vbscript:`, `data:` or `file:` URL survives, however it is spelled. The HTML holds
// no attribute cmark does not write itself: no event handler, no style.
#include <boost/asio/awaitable.hpp>
#include <string>
#include <string_view>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "kit/context.hpp"

namespace spectra::db {
class BlockingConnection;
}

namespace spectra::kit {


// The sanitized HTML of `markdown` (UTF-8; invalid sequences become U+FFFD). Pure and thread-safe;
// about 10 ms per MiB, so callers run large documents off the I/O threads.
std::string render_markdown(std::string_view markdown);

// Whether a link or image destination is allowed in the HTML: a relative reference, a fragment, or
// an absolute URL whose scheme is http, https or mailto. Browsers ignore ASCII whitespace and control
// characters inside a scheme ("java\tscript:"), so those are dropped before the scheme is read.
bool safe_url(std::string_view url);

// The renderer's version: the sanitizing rules' own number with cmark-gfm's. A document's HTML is
// rendered when it is written and stored with this number; one made by another version is stale.
int renderer_version() noexcept;

// The sanitized HTML of `markdown`, rendered for a write: on the blocking pool when the document is
// large, so an I/O thread never renders a long one.
boost::asio::awaitable<std::string> render_for_write(RequestContext& ctx, std::string markdown);

// A JSON object (text) with more members added at its end: each value is a JSON text.
std::string with_members(std::string json, const std::vector<std::pair<std::string_view, std::string>>& members);
// A string as a JSON text.
std::string json_string(std::string_view s);

// The stored HTML of a document read from the database: `html` when its render_version is this
// renderer's; else (a row written before this renderer, until `spectra db upgrade` renders it again)
// rendered now, off the I/O threads.
boost::asio::awaitable<std::string> stored_html(RequestContext& ctx, std::optional<std::string> html,
                                                std::int64_t version, std::string markdown);

// Renders again every stored document (notebook entries, SOPs) whose HTML another renderer made, in
// batches; on an owner's connection (`spectra db upgrade`, `spectra seed`). Answers how many.
std::int64_t render_stale_documents(db::BlockingConnection& owner);

}  // namespace spectra::kit
