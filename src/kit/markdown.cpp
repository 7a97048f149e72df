#include "kit/markdown.hpp"

#include <cmark-gfm-core-extensions.h>
#include <cmark-gfm-extension_api.h>
#include <cmark-gfm.h>

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <cctype>
#include <memory>
#include <mutex>

#include "platform/blocking.hpp"
#include "platform/db/blocking_connection.hpp"

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

boost::asio::awaitable<std::string> render_for_write(RequestContext& ctx, std::string markdown) {
  if (markdown.size() < 16 * 1024) co_return render_markdown(markdown);
  auto job = [markdown = std::move(markdown)] { return render_markdown(markdown); };
  const WorkShare share = ctx.share();
  co_return co_await ctx.deps.blocking->run(std::move(job), share);
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

boost::asio::awaitable<std::string> stored_html(RequestContext& ctx, std::optional<std::string> html,
                                                std::int64_t version, std::string markdown) {
  if (html && version == renderer_version()) co_return std::move(*html);
  co_return co_await render_for_write(ctx, std::move(markdown));
}

std::int64_t render_stale_documents(db::BlockingConnection& owner) {
  const std::string version = std::to_string(renderer_version());
  std::int64_t done = 0;
  for (const char* table : {"eln_entries", "sops"}) {
    for (;;) {
      // A batch at a time, each in its own transaction: a large notebook is not one long lock.
      auto stale = owner.exec(std::string("SELECT organization_id, id, body_markdown FROM ") + table +
                              " WHERE render_version <> " + version + " ORDER BY organization_id, id LIMIT 200");
      if (stale.empty()) break;
      owner.exec("BEGIN");
      try {
        for (int i = 0; i < stale.rows(); ++i) {
          owner.exec(std::string("UPDATE ") + table + " SET body_html = $3, render_version = " + version +
                         " WHERE organization_id = $1 AND id = $2 AND body_markdown = $4",
                     db::Params(std::string(stale.get(i, 0)), std::string(stale.get(i, 1)),
                                render_markdown(stale.get(i, 2)), std::string(stale.get(i, 2))));
          ++done;
        }
        owner.exec("COMMIT");
      } catch (...) {
        owner.exec("ROLLBACK");
        throw;
      }
    }
  }
  return done;
}

}  // namespace spectra::kit
