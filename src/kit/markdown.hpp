#pragma once
// Notebook markdown to HTML that is safe to show in a browser: CommonMark with GitHub's tables, task
// lists, strikethrough and autolinks (cmark-gfm), rendered in safe mode, so raw HTML never passes
// through; links and images keep only http, https and mailto URLs (and relative ones), so no
// `javascript:`, `vbscript:`, `data:` or `file:` URL survives, however it is spelled. The HTML holds
// no attribute cmark does not write itself: no event handler, no style.
#include <boost/asio/awaitable.hpp>
#include <string>
#include <string_view>

#include "kit/context.hpp"

namespace spectra::kit {


// The sanitized HTML of `markdown` (UTF-8; invalid sequences become U+FFFD). Pure and thread-safe;
// about 10 ms per MiB, so callers run large documents off the I/O threads.
std::string render_markdown(std::string_view markdown);

// Whether a link or image destination is allowed in the HTML: a relative reference, a fragment, or
// an absolute URL whose scheme is http, https or mailto. Browsers ignore ASCII whitespace and control
// characters inside a scheme ("java\tscript:"), so those are dropped before the scheme is read.
bool safe_url(std::string_view url);

// A resource's JSON object (text) with "body_html" added, rendered from `markdown`: on the blocking
// pool when the document is large, so an I/O thread never renders a long one.
boost::asio::awaitable<std::string> with_body_html(RequestContext& ctx, std::string json, std::string markdown);

}  // namespace spectra::kit
