// libFuzzer: notebook markdown to the HTML a browser shows. Whatever the input, the HTML holds no
// element but those cmark-gfm writes for CommonMark and GitHub's extensions (raw HTML becomes a
// comment), no attribute but theirs (no event handler, no style), and no href or src a browser would
// read as a javascript:, vbscript:, data: or file: URL (or any scheme but http, https, mailto).
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "kit/markdown.hpp"

using namespace spectra;

namespace {

const std::set<std::string, std::less<>> kElements{
    "p", "h1", "h2", "h3", "h4", "h5", "h6", "a", "img", "em", "strong", "code", "pre", "ul", "ol", "li",
    "blockquote", "hr", "br", "table", "thead", "tbody", "tr", "th", "td", "del", "input"};
const std::set<std::string, std::less<>> kAttributes{"href", "src", "alt", "title", "class", "align",
                                                      "type", "checked", "disabled", "start", "lang"};

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The text of an attribute value as a browser reads it: cmark writes &amp; &quot; &lt; &gt; &#x27;
// and &#x2F; for what it escapes; those are undone before the URL is judged.
std::string unescape(std::string_view v) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i] != '&') {
      out += v[i];
      continue;
    }
    const auto semi = v.find(';', i);
    if (semi == std::string_view::npos) std::abort();  // cmark never writes a bare &
    const auto entity = v.substr(i + 1, semi - i - 1);
    if (entity == "amp") out += '&';
    else if (entity == "quot") out += '"';
    else if (entity == "lt") out += '<';
    else if (entity == "gt") out += '>';
    else if (entity == "#39" || entity == "#x27") out += '\'';
    else if (entity == "#x2F") out += '/';
    else std::abort();  // a reference the sanitizer would have to reason about
    i = semi;
  }
  return out;
}

// Whether a browser would follow this href or src to a scheme other than http, https or mailto: the
// WHATWG URL parser strips leading C0 controls and spaces, removes every tab and newline, then reads a
// scheme as a letter followed by letters, digits, + - . up to a colon; anything else is relative.
bool browser_safe(std::string_view url) {
  std::string s;
  bool leading = true;
  for (const char ch : url) {
    const auto c = static_cast<unsigned char>(ch);
    if (leading && c <= 0x20) continue;
    leading = false;
    if (c == '\t' || c == '\n' || c == '\r') continue;
    s += ch;
  }
  if (s.empty() || !std::isalpha(static_cast<unsigned char>(s[0]))) return true;
  std::size_t i = 1;
  while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '+' || s[i] == '-' || s[i] == '.')) ++i;
  if (i == s.size() || s[i] != ':') return true;
  const std::string scheme = lower(s.substr(0, i));
  return scheme == "http" || scheme == "https" || scheme == "mailto";
}

// Every tag of the HTML, checked; comments must be cmark's own placeholder.
void check(std::string_view html) {
  for (std::size_t at = html.find('<'); at != std::string_view::npos; at = html.find('<', at + 1)) {
    std::string_view rest = html.substr(at + 1);
    if (rest.starts_with("!--")) {
      if (!rest.starts_with("!-- raw HTML omitted -->")) std::abort();
      continue;
    }
    if (rest.starts_with("/")) rest.remove_prefix(1);
    std::size_t n = 0;
    while (n < rest.size() && std::isalnum(static_cast<unsigned char>(rest[n]))) ++n;
    if (!kElements.contains(lower(rest.substr(0, n)))) std::abort();
    const auto end = rest.find('>');
    if (end == std::string_view::npos) std::abort();
    std::string_view attrs = rest.substr(n, end - n);
    // name="value" pairs, or bare names (checked, disabled), or the closing / of <br />.
    while (!attrs.empty()) {
      while (!attrs.empty() && (attrs.front() == ' ' || attrs.front() == '/')) attrs.remove_prefix(1);
      if (attrs.empty()) break;
      std::size_t k = 0;
      while (k < attrs.size() && (std::isalnum(static_cast<unsigned char>(attrs[k])) || attrs[k] == '-')) ++k;
      const std::string name = lower(attrs.substr(0, k));
      if (!kAttributes.contains(name)) std::abort();
      attrs.remove_prefix(k);
      if (attrs.starts_with("=\"")) {
        const auto close = attrs.find('"', 2);
        if (close == std::string_view::npos) std::abort();
        const std::string value = unescape(attrs.substr(2, close - 2));
        if ((name == "href" || name == "src") && !browser_safe(value)) std::abort();
        attrs.remove_prefix(close + 1);
      } else if (!attrs.empty() && attrs.front() != ' ' && attrs.front() != '/') {
        std::abort();
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view markdown(reinterpret_cast<const char*>(data), size);
  check(kit::render_markdown(markdown));
  return 0;
}
