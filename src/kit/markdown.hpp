#pragma once
// Notebook markdown to HTML that is safe to show in a browser: CommonMark with GitHub's tables, task
// lists, strikethrough and autolinks (cmark-gfm), rendered in safe mode, so raw HTML never passes
// through; links and images keep only http, https and mailto URLs (and relative ones), so no
// `javascript:`, `vbscript:`, `data:` or `file:` URL survives, however it is spelled. The HTML holds
// no attribute cmark does not write itself: no event handler, no style.
// Pure: the documents as stored are kit/stored_markdown.hpp.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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

// A JSON object (text) with more members added at its end: each value is a JSON text.
std::string with_members(std::string json, const std::vector<std::pair<std::string_view, std::string>>& members);
// A string as a JSON text.
std::string json_string(std::string_view s);

}  // namespace spectra::kit
