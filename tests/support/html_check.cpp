#include "support/html_check.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <set>

namespace spectra::test {
namespace {

using Attributes = std::set<std::string, std::less<>>;

// The tags cmark-gfm writes (with its table, tasklist, strikethrough and autolink extensions), each
// with the attributes it gives them: `<pre lang>` for code blocks (CMARK_OPT_GITHUB_PRE_LANG),
// `<code class="language-x">` without that option, `align` on table cells, `<ol start>`, and
// `<input type="checkbox" checked="" disabled="" />` for task list items. sup and section are
// footnote markup; footnotes are off, so their `id`/`data-footnote*` attributes are not allowed.
const std::map<std::string, Attributes, std::less<>> allowed_tags = {
    {"p", {}},      {"h1", {}},       {"h2", {}},     {"h3", {}},    {"h4", {}},    {"h5", {}},
    {"h6", {}},     {"em", {}},       {"strong", {}}, {"del", {}},   {"hr", {}},    {"br", {}},
    {"ul", {}},     {"li", {}},       {"blockquote", {}},            {"table", {}}, {"thead", {}},
    {"tbody", {}},  {"tr", {}},       {"sup", {}},    {"section", {}},
    {"a", {"href", "title"}},         {"img", {"src", "alt", "title"}},
    {"code", {"class"}},              {"pre", {"lang"}},             {"ol", {"start"}},
    {"th", {"align"}},                {"td", {"align"}},             {"input", {"type", "checked", "disabled"}},
};
const Attributes no_attributes;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

void append_utf8(std::string& out, unsigned long cp) {
  if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;  // what browsers do
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Named references that matter for reading a URL's scheme. Only the legacy four (amp, lt, gt, quot)
// work without the semicolon; an unknown reference stays as it is (and then fails the scheme check).
const std::pair<std::string_view, std::string_view> named_references[] = {
    {"amp;", "&"},   {"amp", "&"},   {"lt;", "<"},       {"lt", "<"},       {"gt;", ">"},
    {"gt", ">"},     {"quot;", "\""}, {"quot", "\""},    {"apos;", "'"},    {"colon;", ":"},
    {"Tab;", "\t"},  {"NewLine;", "\n"}, {"sol;", "/"},  {"quest;", "?"},   {"num;", "#"},
};

// An attribute value as the browser reads it: character references decoded, numeric ones
// (&#106; &#x6A; &#0000106) with or without the semicolon.
std::string decode_references(std::string_view v) {
  std::string out;
  size_t i = 0;
  while (i < v.size()) {
    if (v[i] != '&') {
      out += v[i++];
      continue;
    }
    size_t j = i + 1;
    if (j < v.size() && v[j] == '#') {
      const bool hex = j + 1 < v.size() && (v[j + 1] == 'x' || v[j + 1] == 'X');
      j += hex ? 2 : 1;
      const size_t digits = j;
      unsigned long cp = 0;
      while (j < v.size() && (hex ? std::isxdigit(static_cast<unsigned char>(v[j]))
                                  : std::isdigit(static_cast<unsigned char>(v[j])))) {
        const int d = std::isdigit(static_cast<unsigned char>(v[j])) ? v[j] - '0' : std::tolower(v[j]) - 'a' + 10;
        cp = std::min(cp * (hex ? 16 : 10) + d, 0x110000UL);  // saturate: any overflow is invalid anyway
        ++j;
      }
      if (j == digits) {  // "&#" without digits is plain text
        out += v[i++];
        continue;
      }
      if (j < v.size() && v[j] == ';') ++j;
      append_utf8(out, cp);
      i = j;
      continue;
    }
    bool matched = false;
    for (const auto& [name, text] : named_references) {
      if (v.substr(j).starts_with(name)) {
        out += text;
        i = j + name.size();
        matched = true;
        break;
      }
    }
    if (!matched) out += v[i++];
  }
  return out;
}

// Whether a (decoded) href or src value is empty, relative, a fragment, or http(s)/mailto. Browsers
// ignore ASCII whitespace and control characters in a scheme, so all go before the scheme is read.
bool url_allowed(std::string_view value) {
  std::string url;
  for (char c : value)
    if (static_cast<unsigned char>(c) > 0x20 && c != 0x7f) url += c;
  const size_t end = url.find_first_of(":/?#");
  if (end == std::string::npos || url[end] != ':') return true;  // no scheme: relative or fragment
  const std::string scheme = lower(url.substr(0, end));
  return scheme == "http" || scheme == "https" || scheme == "mailto";
}

}  // namespace

std::vector<std::string> html_problems(std::string_view html) {
  std::vector<std::string> problems;
  auto report = [&](size_t at, const std::string& what) {
    problems.push_back("at " + std::to_string(at) + ": " + what);
  };
  size_t i = 0;
  while ((i = html.find('<', i)) != std::string_view::npos) {
    const size_t at = i;
    if (html.substr(i).starts_with("<!--")) {  // cmark's "<!-- raw HTML omitted -->"
      const size_t end = html.find("-->", i + 4);
      if (end == std::string_view::npos) {
        report(at, "unterminated comment");
        return problems;
      }
      i = end + 3;
      continue;
    }
    ++i;
    const bool closing = i < html.size() && html[i] == '/';
    if (closing) ++i;
    // cmark writes text's '<' as &lt;, so a raw one that does not open a tag (`<!x`, `<?x`, `< `) is odd.
    if (i >= html.size() || !std::isalpha(static_cast<unsigned char>(html[i]))) {
      report(at, "raw '<' that opens no allowed tag: " + std::string(html.substr(at, 20)));
      continue;
    }
    // The tag name runs to whitespace, '/' or '>', as in the HTML tokenizer.
    const size_t name_start = i;
    while (i < html.size() && !is_space(html[i]) && html[i] != '/' && html[i] != '>') ++i;
    const std::string tag = lower(html.substr(name_start, i - name_start));
    const auto found = allowed_tags.find(tag);
    if (found == allowed_tags.end()) report(at, "tag <" + std::string(closing ? "/" : "") + tag + "> is not allowed");
    // A closing tag takes no attributes; an unknown tag's attributes are all reported too.
    const Attributes& allowed = closing || found == allowed_tags.end() ? no_attributes : found->second;

    // Attributes: name, optionally = and a value quoted with " or ', or unquoted up to space or '>'.
    for (;;) {
      while (i < html.size() && (is_space(html[i]) || html[i] == '/')) ++i;
      if (i >= html.size()) {
        report(at, "unterminated tag <" + tag + ">");
        return problems;
      }
      if (html[i] == '>') {
        ++i;
        break;
      }
      const size_t attr_start = i;
      do ++i;  // the first character may be '=' (`<a =x>`); the others end at '='
      while (i < html.size() && !is_space(html[i]) && html[i] != '/' && html[i] != '>' && html[i] != '=');
      const std::string name = lower(html.substr(attr_start, i - attr_start));
      std::string value;
      size_t j = i;
      while (j < html.size() && is_space(html[j])) ++j;
      if (j < html.size() && html[j] == '=') {
        i = j + 1;
        while (i < html.size() && is_space(html[i])) ++i;
        if (i < html.size() && (html[i] == '"' || html[i] == '\'')) {
          const size_t end = html.find(html[i], i + 1);
          if (end == std::string_view::npos) {
            report(at, "unterminated attribute value in <" + tag + ">");
            return problems;
          }
          value = decode_references(html.substr(i + 1, end - i - 1));
          i = end + 1;
        } else {
          const size_t value_start = i;
          while (i < html.size() && !is_space(html[i]) && html[i] != '>') ++i;
          value = decode_references(html.substr(value_start, i - value_start));
        }
      }
      if (!allowed.contains(name)) {
        report(at, "attribute " + name + " on <" + std::string(closing ? "/" : "") + tag + "> is not allowed");
      } else if ((name == "href" || name == "src") && !url_allowed(value)) {
        report(at, name + "=\"" + value + "\" on <" + tag + "> has a scheme that is not allowed");
      } else if (tag == "input" && name == "type" && lower(value) != "checkbox") {
        report(at, "<input type=\"" + value + "\"> is not a task list checkbox");
      }
    }
  }
  return problems;
}

std::vector<std::string> xss_corpus() {
  constexpr std::string_view separator = "-----8<-----";
  std::ifstream in(SPECTRA_SOURCE_DIR "/tests/data/xss-corpus.txt", std::ios::binary);
  std::vector<std::string> vectors;
  bool in_header = true;
  std::string current;
  for (std::string line; std::getline(in, line);) {
    if (line == separator) {
      if (!in_header && !current.empty()) vectors.push_back(current);
      in_header = false;
      current.clear();
    } else if (!in_header) {
      current += line + "\n";
    }
  }
  if (!in_header && !current.empty()) vectors.push_back(current);
  return vectors;
}

}  // namespace spectra::test
