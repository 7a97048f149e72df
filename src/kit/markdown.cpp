#include "kit/markdown.hpp"

#include <cmark-gfm-core-extensions.h>
#include <cmark-gfm-extension_api.h>
#include <cmark-gfm.h>

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <cctype>
#include <memory>
#include <mutex>


namespace spectra::kit {
namespace {

// Safe mode is cmark-gfm's default (CMARK_OPT_UNSAFE is never set): raw HTML becomes a comment and
// cmark drops the URLs it knows to be dangerous; safe_url() then narrows links to an allow-list.
constexpr int options = CMARK_OPT_DEFAULT | CMARK_OPT_VALIDATE_UTF8 | CMARK_OPT_GITHUB_PRE_LANG;
constexpr const char* extensions[] = {"table", "tasklist", "strikethrough", "autolink"};

void register_extensions() {
  static std::once_flag once;
  std::call_once(once, [] { cmark_gfm_core_extensions_ensure_registered(); });
}

struct ParserFree {
  void operator()(cmark_parser* p) const { cmark_parser_free(p); }
};
struct NodeFree {
  void operator()(cmark_node* n) const { cmark_node_free(n); }
};
struct IterFree {
  void operator()(cmark_iter* i) const { cmark_iter_free(i); }
};

// Empties every link and image destination that safe_url() refuses (the text stays).
void scrub_urls(cmark_node* root) {
  std::unique_ptr<cmark_iter, IterFree> it(cmark_iter_new(root));
  cmark_event_type ev;
  while ((ev = cmark_iter_next(it.get())) != CMARK_EVENT_DONE) {
    if (ev != CMARK_EVENT_ENTER) continue;
    cmark_node* n = cmark_iter_get_node(it.get());
    const auto type = cmark_node_get_type(n);
    if (type != CMARK_NODE_LINK && type != CMARK_NODE_IMAGE) continue;
    const char* url = cmark_node_get_url(n);
    if (url && !safe_url(url)) cmark_node_set_url(n, "");
  }
}

}  // namespace

bool safe_url(std::string_view url) {
  std::string scheme;
  for (char ch : url) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c == 0x7f) continue;  // what browsers strip or ignore
    if (c == ':') {
      return scheme == "http" || scheme == "https" || scheme == "mailto";
    }
    if (c == '/' || c == '?' || c == '#') return true;  // a path, query or fragment: relative
    scheme.push_back(static_cast<char>(std::tolower(c)));
  }
  return true;  // no scheme at all: relative
}

std::string render_markdown(std::string_view markdown) {
  register_extensions();
  std::unique_ptr<cmark_parser, ParserFree> parser(cmark_parser_new(options));
  for (const char* name : extensions)
    if (auto* ext = cmark_find_syntax_extension(name)) cmark_parser_attach_syntax_extension(parser.get(), ext);
  cmark_parser_feed(parser.get(), markdown.data(), markdown.size());
  std::unique_ptr<cmark_node, NodeFree> doc(cmark_parser_finish(parser.get()));
  scrub_urls(doc.get());
  char* html = cmark_render_html(doc.get(), options, cmark_parser_get_syntax_extensions(parser.get()));
  std::string out(html ? html : "");
  cmark_get_default_mem_allocator()->free(html);
  return out;
}

int renderer_version() noexcept {
  // Raise sanitizing_rules when safe_url(), the options or the extensions change what is written.
  constexpr int sanitizing_rules = 1;
  return (sanitizing_rules << 24) | (cmark_version() & 0xFFFFFF);
}

std::string json_string(std::string_view s) { return boost::json::serialize(boost::json::string(s)); }

std::string with_members(std::string json, const std::vector<std::pair<std::string_view, std::string>>& members) {
  const auto end = json.rfind('}');
  if (end == std::string::npos) return json;
  const auto last = json.find_last_not_of(" \t\r\n", end == 0 ? 0 : end - 1);
  bool empty_object = last == std::string::npos || json[last] == '{';
  std::string tail;
  for (const auto& [name, value] : members) {
    if (!empty_object) tail += ',';
    empty_object = false;
    tail += json_string(name) + ":" + value;
  }
  json.replace(end, 1, tail + "}");
  return json;
}

}  // namespace spectra::kit
